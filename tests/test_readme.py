"""The README's examples run as written (from a scratch folder holding the bundled data/)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
# Lines that reach the network or a service the README sets up elsewhere are marked with a comment.
SKIP_MARKERS = ("# needs the Hub", "# needs a server", "# needs a GPU", "# needs a model")


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def commands() -> list[str]:
    out = []
    for block in blocks("bash"):
        for line in block.splitlines():
            line = line.strip()
            if line.startswith("notus-data ") and not any(m in line for m in SKIP_MARKERS):
                out.append(line)
            elif line.startswith("pip install -e . && notus-data "):
                out.append(line.split("&& ", 1)[1])
    return out


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """One folder for the whole README, as a user working through it top to bottom (a later command may use
    what an earlier one wrote, such as a run's recipe.yaml)."""
    folder = tmp_path_factory.mktemp("readme")
    (folder / "data").symlink_to(ROOT / "data")
    return folder


@pytest.mark.parametrize("command", commands())
def test_readme_command_runs(workdir, command):
    argv = shlex.split(command.split("  #")[0])
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "notus_data.cli", *argv[1:]],
        cwd=workdir,
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]


@pytest.mark.parametrize("index", range(len(blocks("python"))))
def test_readme_python_block_runs(workdir, index, monkeypatch):
    monkeypatch.chdir(workdir)
    exec(compile(blocks("python")[index], f"README.md python block {index}", "exec"), {})


def test_readme_has_the_two_setup_commands():
    setup = README.split("## Set up", 1)[1].split("\n## ", 1)[0]
    bash = re.findall(r"```bash\n(.*?)```", setup, flags=re.S)
    assert len(bash) == 2
    assert bash[0].startswith("pip install -e . && notus-data ")
    assert bash[1].strip() == "bash scripts/test.sh"
    assert "bash scripts/test.sh" in (ROOT / ".ci" / "run").read_text()
