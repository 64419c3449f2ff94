"""The Hub-ready folder: loaded back with `datasets`, its card parsed with huggingface_hub, its prose checked
against the run and against independent computations (core compare, the input's own bytes)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from notus_data.formats import SCHEMAS
from notus_data.jobs.compare import compare
from notus_data.recipes import run

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "ultrafeedback-sample.parquet"
TRUTHFULQA_COPIES = (
    ROOT / "data" / "truthfulqa-questions.jsonl",
    ROOT.parent / "shared" / "data" / "truthfulqa" / "questions.jsonl",
)
TRUTHFULQA = next((p for p in TRUTHFULQA_COPIES if p.exists()), None)
needs_truthfulqa = pytest.mark.skipif(
    TRUTHFULQA is None,
    reason=f"no offline copy of the TruthfulQA questions at {[str(p) for p in TRUTHFULQA_COPIES]}",
)


@pytest.fixture(scope="module")
def zephyr(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("card") / "zephyr"
    report = run("zephyr", input=str(SAMPLE), output=folder, decontaminate=False)
    return folder, report


@pytest.fixture(scope="module")
def notus(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("card") / "notus-v1"
    report = run("notus-v1", input=str(SAMPLE), output=folder, plots=False)
    return folder, report


def test_the_folder_loads_with_datasets(zephyr, tmp_path: Path) -> None:
    import datasets

    folder, report = zephyr
    ds = datasets.load_dataset(str(folder), cache_dir=str(tmp_path / "cache"))
    assert list(ds) == ["train_prefs", "train_sft", "train_gen", "test_prefs", "test_sft", "test_gen"]
    expected = datasets.Features.from_arrow_schema(SCHEMAS["h4"])
    rows = report.steps["split"]["rows"]
    for name, split in ds.items():
        assert split.features == expected
        assert split.num_rows == rows[name] > 0
    assert rows["train_prefs"] + rows["test_prefs"] == report.rows_out
    gen = ds["test_gen"][0]
    assert [m["role"] for m in gen["messages"]] == ["user"] and gen["messages"][0]["content"] == gen["prompt"]


def test_card_metadata_parses_with_huggingface_hub(zephyr) -> None:
    from huggingface_hub import DatasetCard, DatasetCardData

    folder, report = zephyr
    card = DatasetCard.load(folder / "README.md")
    data = card.data
    assert isinstance(data, DatasetCardData)
    assert data.license == "mit" and data.language == ["en"]
    assert data.task_categories == ["text-generation"] and "zephyr" in data.tags
    assert sum(report.steps["split"]["rows"].values()) > 1000  # rows of all six splits, as H4's card counts
    assert data.size_categories == ["1K<n<10K"]
    assert data.pretty_name == "UltraFeedback binarized by overall_score (Zephyr recipe)"
    (config,) = data.configs
    assert config["config_name"] == "default"
    assert config["data_files"] == [
        {"split": name, "path": f"data/{name}-*"} for name in report.steps["split"]["rows"]
    ]
    info = data.dataset_info
    assert {s["name"]: s["num_examples"] for s in info["splits"]} == report.steps["split"]["rows"]
    assert [f["name"] for f in info["features"]] == SCHEMAS["h4"].names
    assert info["download_size"] == sum(p.stat().st_size for p in (folder / "data").iterdir())
    # the card round-trips through huggingface_hub's own YAML writer unchanged
    assert DatasetCardData(**data.to_dict()).to_dict() == data.to_dict()


def test_card_prose_tells_the_run(notus) -> None:
    folder, report = notus
    text = (folder / "README.md").read_text()
    assert (
        f"`{hashlib.sha256(SAMPLE.read_bytes()).hexdigest()}`" in text
    )  # the input's revision: its content hash
    assert "recipe **notus-v1**" in text and "[`recipe.yaml`](recipe.yaml)" in text
    assert f"| rows in | {report.rows_in:,} | 100% |" in text
    for reason, count in report.dropped.items():
        assert re.search(rf"\| no pair: {reason} \| {count:,} \|", text)
    assert f"| pairs out | {report.rows_out:,} | - |" in text
    flagged = pq.read_metadata(folder / "evidence" / "flags.parquet").num_rows
    assert f"{flagged:,} completions look mis-scored" in text


def test_chosen_differs_rate_is_the_core_comparison(notus) -> None:
    folder, _ = notus
    expected = compare(SAMPLE, a="notus", b="zephyr", seed=42)
    text = (folder / "README.md").read_text()
    rate = f"{expected.chosen_differs / expected.both:.1%}"
    assert f"**{expected.chosen_differs:,} of {expected.both:,} prompts ({rate})**" in text


def test_plots_are_in_the_folder_and_the_same_every_run(zephyr, tmp_path: Path) -> None:
    folder, _ = zephyr
    text = (folder / "README.md").read_text()
    linked = re.findall(r"!\[[^\]]*\]\((plots/[^)]+\.png)\)", text)
    assert linked == [
        "plots/completion_scores.png",
        "plots/pair_scores.png",
        "plots/agreement.png",
        "plots/funnel.png",
        "plots/length.png",
    ]
    for path in linked:
        assert (folder / path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    again = tmp_path / "zephyr"
    run("zephyr", input=str(SAMPLE), output=again, decontaminate=False, batch_size=64)
    for path in linked:
        assert (again / path).read_bytes() == (folder / path).read_bytes()
    assert (again / "README.md").read_text() == text


@needs_truthfulqa
def test_decontamination_evidence_is_summarized(tmp_path: Path) -> None:
    folder = tmp_path / "cleaned"
    report = run(
        "notus-cleaned", input=str(SAMPLE), output=folder, benchmark_file=str(TRUTHFULQA), plots=False
    )
    evidence = pq.read_table(folder / "evidence" / "decontamination.parquet")
    removed = report.dropped["decontaminated"]
    assert removed == evidence.num_rows > 0
    assert "truthful_qa" in evidence.column("source").to_pylist()
    text = (folder / "README.md").read_text()
    assert f"Rows removed: **{removed:,}**" in text
    assert f"| removed: decontaminated | {removed:,} |" in text
    assert "[`evidence/decontamination.parquet`](evidence/decontamination.parquet)" in text
    kept = pq.read_table(folder / "data").column("prompt")
    assert not set(kept.to_pylist()) & set(evidence.column("text").to_pylist())
