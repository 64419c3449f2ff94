"""notebooks/curation.ipynb runs top to bottom (a real kernel, nbclient), so it never goes stale."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "curation.ipynb"


def test_curation_notebook_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nbformat = pytest.importorskip("nbformat", reason="pip install 'notus-data[notebook]'")
    nbclient = pytest.importorskip("nbclient", reason="pip install 'notus-data[notebook]'")
    pytest.importorskip("ipykernel", reason="pip install 'notus-data[notebook]'")
    from jupyter_client.kernelspec import NATIVE_KERNEL_NAME

    monkeypatch.setenv("NOTUS_NOTEBOOK_OUT", str(tmp_path / "out"))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=300,
        kernel_name=NATIVE_KERNEL_NAME,  # python3; jupyter_client starts it with this interpreter (the venv's)
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    client.execute()  # raises CellExecutionError, with the cell and its traceback, if any cell fails

    outputs = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 4  # rating distributions, agreement heat map, funnel, pair scores
    folder = tmp_path / "out" / "notus-cleaned"
    assert (folder / "README.md").is_file() and list((folder / "data").glob("train-*.parquet"))


def test_the_notebook_extra_installs_what_the_readme_runs() -> None:
    """The README says `pip install -e '.[notebook]'`, then `jupyter lab ...`: the extra must bring JupyterLab."""
    import re

    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    names = {re.split(r"[<>=\[ ]", req)[0].lower() for req in extras["notebook"]}
    readme = (ROOT / "README.md").read_text()
    assert "pip install -e '.[notebook]'" in readme and "jupyter lab notebooks/curation.ipynb" in readme
    assert {"jupyterlab", "ipykernel"} <= names
