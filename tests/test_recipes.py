"""Recipes: loading and validating YAML, overrides, the pipeline's accounting, splits and determinism."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from notus_data.errors import NotusDataError, OptionError
from notus_data.io import OUTPUT_MARKER
from notus_data.jobs.binarize import binarize
from notus_data.recipes import bundled_recipes, load_recipe, resolve_recipe, run
from notus_data.recipes.splits import LAYOUT_SPLITS, split_keys, split_sizes

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "ultrafeedback-sample.parquet"


def read_split(folder: Path, split: str) -> pa.Table:
    files = sorted((folder / "data").glob(f"{split}-*.parquet"))
    return pa.concat_tables([pq.read_table(f) for f in files])


def folder_digest(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


# ---------------------------------------------------------------------------------------------- the recipes


def test_bundled_recipes_are_the_published_sets() -> None:
    assert bundled_recipes() == [
        "armorm-ultrafeedback",
        "helpsteer2",
        "hh-rlhf-helpful",
        "multi-binarized",
        "nectar",
        "notus-chat-clean",
        "notus-cleaned",
        "notus-v1",
        "notus-v1-drawties",
        "zephyr",
    ]
    notus = load_recipe("notus-v1")
    assert (notus.binarize.strategy, notus.binarize.score, notus.binarize.format) == (
        "notus",
        "avg-rating",
        "notus",
    )
    assert notus.decontaminate is None and notus.split.splits == "train"
    assert notus.load.revision == "40b436560ca83a8dba36114c22ab3c66e43f6d5e"
    zephyr = load_recipe("zephyr")
    assert (zephyr.binarize.strategy, zephyr.binarize.score, zephyr.binarize.format) == (
        "zephyr",
        "overall-score",
        "h4",
    )
    assert (zephyr.split.splits, zephyr.split.test_size, zephyr.split.test_sft_size) == ("h4", 2000, 1000)
    assert zephyr.binarize.drop_ties is False
    assert load_recipe("multi-binarized").binarize.strategy == "best-vs-all"
    chat = load_recipe("notus-chat-clean")  # the chat preset; notus-cleaned keeps TruthfulQA only
    assert chat.decontaminate.benchmark == ("chat",)
    assert load_recipe("notus-cleaned").decontaminate.benchmark == ("truthfulqa",)
    cleaned = resolve_recipe("notus-cleaned", decontaminate=False)
    assert cleaned.binarize.format == "cleaned"


def test_unknown_keys_are_errors_that_name_them(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text("name: mine\nbinarise: {strategy: notus}\n")
    with pytest.raises(OptionError, match=r"unknown key\(s\) binarise; valid keys: name, description, input"):
        load_recipe(path)
    path.write_text("binarize:\n  stratgy: notus\n  min_margin: 1\n")
    with pytest.raises(OptionError, match=r"binarize: unknown key\(s\) stratgy; valid keys: strategy, score"):
        load_recipe(path)
    path.write_text("flag:\n  rule: chosen_mismatch\n")
    with pytest.raises(OptionError, match=r"flag: unknown key\(s\) rule; valid keys: rules"):
        load_recipe(path)
    path.write_text("split:\n  test_size: many\n")
    with pytest.raises(OptionError, match=r"split.test_size: 'many' is not an integer"):
        load_recipe(path)
    path.write_text("binarize: {strategy: best}\n")
    with pytest.raises(OptionError, match=r"binarize: strategy: 'best' is not a strategy"):
        load_recipe(path)
    path.write_text("binarize: [1, 2\n")
    with pytest.raises(OptionError, match=r"not valid YAML \(line 2"):
        load_recipe(path)
    with pytest.raises(OptionError, match=r"neither a bundled recipe \(armorm-ultrafeedback, helpsteer2"):
        load_recipe("notus-v2")
    with pytest.raises(OptionError, match=r"unknown option\(s\) min_margn for recipe notus-v1"):
        resolve_recipe("notus-v1", min_margn=1)
    with pytest.raises(OptionError, match="splits: h4 needs format: h4"):
        resolve_recipe("notus-v1", splits="h4")


def test_a_file_starts_from_a_bundled_recipe_and_overrides_win(tmp_path: Path) -> None:
    path = tmp_path / "strict-zephyr.yaml"
    path.write_text(
        "base: zephyr\nbinarize:\n  min_margin: 1\n  drop_ties: true\ncard: {license: apache-2.0}\n"
    )
    recipe = load_recipe(path)
    assert recipe.name == "strict-zephyr"
    assert (recipe.binarize.strategy, recipe.binarize.min_margin, recipe.binarize.drop_ties) == (
        "zephyr",
        1.0,
        True,
    )
    assert recipe.split.splits == "h4" and recipe.card.license == "apache-2.0"
    overridden = resolve_recipe(
        path, min_margin=2, flag=False, tags="a,b", input="x.parquet", test_size=10, test_sft_size=5
    )
    assert overridden.binarize.min_margin == 2.0 and overridden.flag is None
    assert overridden.card.tags == ("a", "b") and overridden.input == "x.parquet"
    assert overridden.split.test_size == 10
    # the resolved recipe round-trips through its YAML
    saved = tmp_path / "saved.yaml"
    saved.write_text(overridden.to_yaml())
    assert load_recipe(saved) == overridden


# ---------------------------------------------------------------------------------------------- the runs


@pytest.fixture(scope="module")
def notus_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("recipes") / "notus-v1"
    report = run("notus-v1", input=str(SAMPLE), output=out, plots=False)
    return out, report


def test_notus_v1_run_is_the_core_binarizer_plus_accounting(notus_run, tmp_path: Path) -> None:
    folder, report = notus_run
    expected = tmp_path / "pairs.parquet"
    binarize(SAMPLE, expected, strategy="notus", score="avg-rating", format="notus", seed=42)
    assert read_split(folder, "train").equals(pq.read_table(expected))
    assert report.rows_in == 400
    assert report.rows_with_pairs + sum(report.dropped.values()) == report.rows_in
    assert report.rows_out == read_split(folder, "train").num_rows
    assert (
        report.steps["flag"]["completions_flagged"]
        == pq.read_metadata(folder / "evidence/flags.parquet").num_rows
    )
    assert report.steps["split"]["rows"] == {"train": report.rows_out}
    assert sorted(p.name for p in folder.iterdir() if p.name != OUTPUT_MARKER) == [
        "README.md",
        "data",
        "evidence",
        "recipe.yaml",
        "report.json",
    ]
    assert (folder.parent / "notus-v1.run.json").is_file()  # the run's timings beside; the report is inside
    assert not (folder.parent / "notus-v1.report.json").exists()
    assert load_recipe(folder / "recipe.yaml").binarize == load_recipe("notus-v1").binarize


def test_same_recipe_same_bytes_whatever_the_batch_size(notus_run, tmp_path: Path) -> None:
    folder, _ = notus_run
    again = tmp_path / "again"
    run("notus-v1", input=str(SAMPLE), output=again, plots=False, batch_size=37)
    digest, other = folder_digest(folder), folder_digest(again)
    assert digest.keys() == other.keys()
    # every file is the same, byte for byte: the batch size changes no data, so the saved recipe leaves it out
    assert [k for k in digest if digest[k] != other[k]] == []
    assert "batch_size" not in (again / "recipe.yaml").read_text()
    sharded = tmp_path / "sharded"
    run("notus-v1", input=str(SAMPLE), output=sharded, plots=False, shard_rows=150)
    assert sorted(p.name for p in (sharded / "data").iterdir()) == [
        "train-00000-of-00003.parquet",
        "train-00001-of-00003.parquet",
        "train-00002-of-00003.parquet",
    ]
    assert read_split(sharded, "train").equals(read_split(folder, "train"))


def test_zephyr_six_splits_by_prompt_hash(tmp_path: Path) -> None:
    folder = tmp_path / "zephyr"
    report = run("zephyr", input=str(SAMPLE), output=folder, decontaminate=False, plots=False, compare=False)
    splits = {name: read_split(folder, name) for name in LAYOUT_SPLITS["h4"]}
    n_prompts = report.steps["split"]["prompts"]
    n_test, n_sft = split_sizes(n_prompts, load_recipe("zephyr").split)
    assert (n_test, n_sft) == (n_prompts // 10, n_prompts // 20)
    ids = {name: set(t.column("prompt_id").to_pylist()) for name, t in splits.items()}
    assert len(ids["test_prefs"]) == n_test and len(ids["test_sft"]) == n_sft
    assert not ids["train_prefs"] & ids["test_prefs"]
    assert ids["test_sft"] <= ids["test_prefs"] and ids["test_gen"] == ids["test_sft"]
    assert splits["train_prefs"].num_rows + splits["test_prefs"].num_rows == report.rows_out
    assert splits["train_sft"].equals(splits["train_prefs"])
    # the test prompts are those with the smallest keys
    keys = split_keys(pa.array(sorted(ids["train_prefs"] | ids["test_prefs"])), 42)
    test_keys = split_keys(pa.array(sorted(ids["test_prefs"])), 42)
    assert sorted(keys.tolist())[:n_test] == sorted(test_keys.tolist())
    # *_gen: messages without the last assistant turn; the rest as in *_sft
    gen, sft = splits["test_gen"], splits["test_sft"]
    assert gen.drop_columns("messages").equals(sft.drop_columns("messages"))
    for g, s in zip(gen.column("messages").to_pylist(), sft.column("messages").to_pylist(), strict=True):
        assert g == s[:-1] and s[-1]["role"] == "assistant" and [m["role"] for m in g] == ["user"]
    # ties kept, as H4's fixed script
    train = splits["train_prefs"]
    assert pc.sum(pc.equal(train.column("score_chosen"), train.column("score_rejected"))).as_py() > 0


def test_splits_do_not_depend_on_row_order(tmp_path: Path) -> None:
    table = pq.read_table(SAMPLE)
    reversed_input = tmp_path / "reversed.parquet"
    pq.write_table(table.take(pa.array(range(table.num_rows - 1, -1, -1))), reversed_input)
    tests = []
    for name, path in (("a", SAMPLE), ("b", reversed_input)):
        folder = tmp_path / name
        run(
            "notus-v1",
            input=str(path),
            output=folder,
            splits="train-test",
            plots=False,
            compare=False,
            flag=False,
        )
        tests.append(set(read_split(folder, "test").column("prompt_id").to_pylist()))
    assert tests[0] == tests[1] and len(tests[0]) == 39


def test_multi_binarized_keeps_every_lower_completion_and_prompts_whole(tmp_path: Path) -> None:
    folder = tmp_path / "multi"
    report = run("multi-binarized", input=str(SAMPLE), output=folder, splits="train-test", plots=False)
    train, test = read_split(folder, "train"), read_split(folder, "test")
    assert train.num_rows + test.num_rows == report.rows_out > report.rows_with_pairs
    assert not set(train.column("prompt_id").to_pylist()) & set(test.column("prompt_id").to_pylist())
    both = pa.concat_tables([train, test])
    assert pc.all(pc.greater(both.column("chosen_score"), both.column("rejected_score"))).as_py()


def test_review_decisions_apply_before_scoring(tmp_path: Path, notus_run) -> None:
    folder, _ = notus_run
    pairs = read_split(folder, "train").slice(0, 2).to_pylist()
    canonical = pq.read_table(SAMPLE, columns=["instruction"]).column("instruction").to_pylist()
    decisions = []
    for pair in pairs:
        row = canonical.index(pair["instruction"])
        models = [c["model"] for c in pq.read_table(SAMPLE).slice(row, 1).column("completions")[0].as_py()]
        decisions.append(
            {
                "prompt_id": pair["prompt_id"],
                "completion_index": models.index(pair["chosen_model"]),
                "decision": "discard",
                "corrected_score": None,
            }
        )
    path = tmp_path / "decisions.parquet"
    pq.write_table(pa.Table.from_pylist(decisions), path)
    out = tmp_path / "reviewed"
    report = run("notus-v1", input=str(SAMPLE), output=out, decisions=str(path), plots=False, compare=False)
    assert report.steps["review"]["discarded"] == 2
    assert pq.read_metadata(out / "evidence/review_changes.parquet").num_rows == 2
    new = {p["prompt_id"]: p for p in read_split(out, "train").to_pylist()}
    for pair in pairs:
        assert new[pair["prompt_id"]]["chosen_response"] != pair["chosen_response"]
    assert "Review decisions applied before scoring: 2 decisions" in (out / "README.md").read_text()


def test_output_folder_rules(tmp_path: Path) -> None:
    precious = tmp_path / "home"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    with pytest.raises(OptionError, match="an existing folder not written by notus-data"):
        run("notus-v1", input=str(SAMPLE), output=precious, plots=False)
    assert (precious / "thesis.tex").exists()
    with pytest.raises(OptionError, match="looks like a file"):
        run("notus-v1", input=str(SAMPLE), output=tmp_path / "pairs.parquet")
    with pytest.raises(NotusDataError, match="no such file"):
        run("notus-v1", input=str(tmp_path / "missing.parquet"), output=tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_cli_runs_a_recipe_and_reports_errors_in_one_line(tmp_path: Path) -> None:
    from notus_data.cli.run import run_command

    out = tmp_path / "cli"
    result = CliRunner().invoke(
        run_command,
        [
            "notus-v1",
            "--input",
            str(SAMPLE),
            "--output",
            str(out),
            "--no-plots",
            "--min-margin",
            "1",
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    assert f"written to {out}" in result.output
    assert load_recipe(out / "recipe.yaml").binarize.min_margin == 1.0
    bad = tmp_path / "bad.yaml"
    bad.write_text("base: notus-v1\nsplit: {shards: 2}\n")
    result = CliRunner().invoke(run_command, [str(bad), "--input", str(SAMPLE)])
    assert result.exit_code == 1
    assert "Error: " in result.output and "split: unknown key(s) shards; valid keys: splits" in result.output
    assert "Traceback" not in result.output


def test_missing_matplotlib_fails_first_with_the_install_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    from notus_data.errors import MissingDependencyError

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name, *a)
    )
    with pytest.raises(
        MissingDependencyError, match=r"pip install 'notus-data\[notebook\]' \(or run without plots"
    ):
        run("notus-v1", input=str(SAMPLE), output=tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_a_saved_recipe_runs_again_from_any_folder_with_the_same_bytes(tmp_path: Path, monkeypatch) -> None:
    """The card, the file's header and the README give one command; from where the first run stood, from inside
    the folder and from an unrelated folder, it makes the same folder."""
    import shutil

    from notus_data.recipes.config import RERUN

    home = tmp_path / "project"
    (home / "data").mkdir(parents=True)
    shutil.copy(SAMPLE, home / "data" / SAMPLE.name)
    shutil.copy(ROOT / "data" / "truthfulqa-questions.jsonl", home / "data" / "truthfulqa-questions.jsonl")
    monkeypatch.chdir(home)
    run("notus-cleaned", input=f"data/{SAMPLE.name}", benchmark_file="data/truthfulqa-questions.jsonl",
        output="out/first", plots=False)  # fmt: skip
    saved = (home / "out" / "first" / "recipe.yaml").read_text()
    assert RERUN in saved and RERUN in (home / "out" / "first" / "README.md").read_text()
    assert f"input: ../../data/{SAMPLE.name}" in saved and "revision: null" in saved
    run("out/first/recipe.yaml", output="out/second")
    monkeypatch.chdir(home / "out" / "first")
    run("recipe.yaml", output="../third")
    monkeypatch.chdir(tmp_path)
    run(home / "out" / "first" / "recipe.yaml", output=home / "out" / "fourth")
    first = folder_digest(home / "out" / "first")
    for other in ("second", "third", "fourth"):
        assert folder_digest(home / "out" / other) == first, other
    readme = (ROOT / "README.md").read_text()
    assert "notus-data run out/notus-cleaned/recipe.yaml --output out/notus-cleaned-again" in readme
