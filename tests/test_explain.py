"""``explain``: published-style sets built from generated data with a known rule and rows removed on purpose;
explain must attribute every row, say why, and name the rule.

The expectations are computed here, independently of explain: the prompts each set lost are known from how the
set was made, the tie structure of each input row is recomputed in plain Python from the raw ratings, and pair
equality is read from the texts.
"""

from __future__ import annotations

import json
import unicodedata
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import notus_data
from notus_data import synthetic
from notus_data.cli import main
from notus_data.errors import NotusDataError, OptionError, SchemaError
from notus_data.jobs.explain import explain

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ROOT / "data" / "truthfulqa-questions.jsonl"
ROWS = 1200
ASPECTS = ("instruction_following", "honesty", "truthfulness", "helpfulness")
MATCHED = ("same_pair", "same_chosen_different_draw", "different_chosen")


def norm(text):
    """The documented join normalization, in plain Python."""
    text = unicodedata.normalize("NFKC", text or "")
    text = text.translate({0x2018: "'", 0x2019: "'", 0x201C: '"', 0x201D: '"'})
    return " ".join(text.split())


def mean_rating(c):
    if c is None or c.get("response") is None:
        return None
    values = []
    for aspect in ASPECTS:
        a = c["annotations"][aspect]
        a = a[0] if isinstance(a, list) else a
        try:
            v = float(a["Rating"])
        except (TypeError, ValueError):
            continue
        if 1 <= v <= 5:
            values.append(v)
    return sum(values) / len(values) if values else None


def tie_class(row):
    scores = [s for s in (mean_rating(c) for c in row["completions"] or []) if s is not None]
    if len(scores) < 2:
        return None
    t, k = scores.count(max(scores)) - 1, len(scores) - 1
    return "no_lower" if t == k else ("tie_partner" if t else "no_tie")


def texts(table, fmt):
    """(prompt, chosen, rejected) texts of a pairs table in format ``fmt``."""
    rows = table.to_pylist()
    if fmt == "notus":
        return [(r["instruction"], r["chosen_response"], r["rejected_response"]) for r in rows]
    return [(r["prompt"], r["chosen"][-1]["content"], r["rejected"][-1]["content"]) for r in rows]


@pytest.fixture(scope="module")
def gen(tmp_path_factory):
    folder = tmp_path_factory.mktemp("explain")
    path = folder / "input.parquet"
    synthetic.write_parquet(path, ROWS, seed=23)
    synthetic.write_parquet(folder / "other.parquet", 40, seed=99, edge_cases=False)
    raw = pq.read_table(path).to_pylist()
    edge = {i for rows in synthetic.edge_case_rows(ROWS).values() for i in rows}
    by_prompt = Counter(norm(r["instruction"]) for r in raw)
    ordinary = {
        norm(r["instruction"]): r
        for i, r in enumerate(raw)
        if i not in edge and by_prompt[norm(r["instruction"])] == 1
    }
    ours, report = notus_data.binarize(path, strategy="notus", seed=42)
    return {"folder": folder, "path": path, "raw": raw, "ordinary": ordinary, "ours": ours.data.table,
            "report": report, "by_prompt": by_prompt}  # fmt: skip


def published_set(gen, name, *, strategy, seed, fmt, drop_every=29, spaces=False, **options):
    """A published-style set: our binarize with a known rule, then every ``drop_every``-th pair of an ordinary
    prompt removed on purpose, 5 pairs of prompts absent from the input appended, and one pair copied."""
    table = notus_data.binarize(gen["path"], strategy=strategy, seed=seed, format=fmt, **options)[
        0
    ].data.table
    made = texts(table, fmt)
    removed = [i for i, (p, _, _) in enumerate(made) if i % drop_every == 3 and norm(p) in gen["ordinary"]]
    keep = [i for i in range(table.num_rows) if i not in set(removed)]
    extra = notus_data.binarize(gen["folder"] / "other.parquet", format=fmt, seed=1)[0].data.table.slice(0, 5)
    duplicate = table.slice(keep[10], 1)
    out = pa.concat_tables([table.take(keep), extra, duplicate])
    if spaces:  # a copy whose prompts gained white space: the join must see through it
        column = out.column("instruction").to_pylist()
        column = [f"  {p.replace(' ', '   ')}\n" if i % 5 == 0 else p for i, p in enumerate(column)]
        out = out.set_column(out.schema.get_field_index("instruction"), "instruction", pa.array(column))
    path = gen["folder"] / f"{name}.parquet"
    pq.write_table(out, path)
    return {
        "path": path,
        "rows": out.num_rows,
        "made": {norm(p) for p, _, _ in made},
        "removed": {norm(made[i][0]) for i in removed},
        "extra": {norm(p) for p, _, _ in texts(extra, fmt)},
        "duplicate": norm(texts(duplicate, fmt)[0][0]),
        "pairs": {norm(p): (c, r) for p, c, r in texts(out, fmt)},
        "copies": [norm(p) for p, _, _ in texts(out, fmt)],
    }


def check_every_row_once(result, gen, pub):
    att = result.attribution.to_pylist()
    published = sorted(a["published_row"] for a in att if a["published_row"] is not None)
    assert published == list(range(pub["rows"]))  # every published row exactly once
    assert {a["ours_row"] for a in att if a["ours_row"] is not None} == set(range(ROWS))  # every input row
    ours_side = [a for a in att if a["category"] in (*MATCHED, "only_ours")]
    assert len(ours_side) == gen["report"].rows_out  # every pair of ours once
    unpaired = Counter(a["our_reason"] for a in att if a["our_step"] is not None)
    assert unpaired == gen["report"].dropped  # every input row without a pair once, with our reason
    assert sum(sum(c.values()) for c in result.counts.values()) == len(att)
    return att


def check_known_losses(att, gen, pub):
    """Rows removed on purpose, rows the published rule dropped, rows it never had, the copied pair."""
    ours_only = [(norm(a["prompt"]), a["reason"]) for a in att if a["category"] == "only_ours"]
    reason_of = dict(ours_only)
    for prompt in pub["removed"]:
        expected = "tie_partner" if tie_class(gen["ordinary"][prompt]) == "tie_partner" else "no_rule"
        assert reason_of[prompt] == expected
    ours = Counter(norm(p) for p in gen["ours"].column("instruction").to_pylist())
    published = Counter(pub["copies"])
    dropped_by_rule = set(ours) - pub["made"]
    for prompt in dropped_by_rule:
        assert reason_of[prompt] == "tie_partner"
        if prompt in gen["ordinary"]:
            assert tie_class(gen["ordinary"][prompt]) == "tie_partner"
    fewer = {p for p in ours if 0 < published[p] < ours[p]}
    assert {p for p, r in ours_only if r == "duplicate_prompt"} == fewer
    assert {p for p, _ in ours_only} == pub["removed"] | dropped_by_rule | fewer
    only_published = Counter(
        (norm(a["prompt"]), a["reason"]) for a in att if a["category"] == "only_published"
    )
    more = Counter(
        {(p, "duplicate_prompt"): n - ours[p] for p, n in published.items() if ours[p] and n > ours[p]}
    )
    assert only_published == Counter((p, "absent_from_our_input") for p in pub["extra"]) + more
    assert (pub["duplicate"], "duplicate_prompt") in more
    return dropped_by_rule


def check_matched(att, gen, pub):
    ours = {norm(p): (c, r) for p, c, r in texts(gen["ours"], "notus")}
    expected = Counter()
    for prompt, (chosen, rejected) in pub["pairs"].items():
        if prompt in ours and gen["by_prompt"][prompt] == 1:
            same = ours[prompt] == (chosen, rejected)
            expected["same_pair" if same else "same_chosen_different_draw"] += ours[prompt][0] == chosen
            expected["different_chosen"] += ours[prompt][0] != chosen
    got = Counter(
        a["category"] for a in att if a["category"] in MATCHED and gen["by_prompt"][norm(a["prompt"])] == 1
    )
    assert got == +expected


def test_a_rule_b_set_with_rows_removed_on_purpose(gen):
    pub = published_set(gen, "rule-b", strategy="notus-drawties", seed=7, fmt="cleaned")
    result = explain(gen["path"], pub["path"])
    att = check_every_row_once(result, gen, pub)
    dropped = check_known_losses(att, gen, pub)
    check_matched(att, gen, pub)
    assert len(dropped) > 20 and len(pub["removed"]) > 10  # the test has something to find
    test = result.rule_test
    assert test.verdict == "b" and test.log_likelihood_ratio > 10
    tie = test.classes["tie_partner"]
    # the prompts rule (b) dropped are all missing ones of the tie class; the removed ones add a few
    assert (
        len(dropped & {p for p in gen["ordinary"] if tie_class(gen["ordinary"][p]) == "tie_partner"})
        <= tie["missing"]
    )
    assert test.explained["b"] - test.explained["a"] == tie["missing"]
    assert result.counts["different_chosen"] == {}


def test_a_rule_a_set_in_notus_columns_with_extra_white_space(gen):
    pub = published_set(gen, "rule-a", strategy="notus", seed=5, fmt="notus", spaces=True)
    result = explain(gen["path"], pub["path"])
    att = check_every_row_once(result, gen, pub)
    dropped = check_known_losses(att, gen, pub)
    check_matched(att, gen, pub)
    assert dropped == set()  # rule (a) with the same chosen rule loses nothing but what was removed
    assert result.rule_test.verdict == "a" and result.rule_test.log_likelihood_ratio < -10
    assert result.rule_test.published_ties == 0


def test_a_set_binarized_on_overall_score_keeps_ties_and_changes_the_chosen(gen):
    table = notus_data.binarize(gen["path"], strategy="zephyr", seed=3, format="h4")[0].data.table
    folder = gen["folder"] / "zephyr-hub"  # laid out as on the Hub: read with datasets.load_dataset
    (folder / "data").mkdir(parents=True)
    pq.write_table(table.slice(0, 900), folder / "data" / "train_prefs-00000-of-00001.parquet")
    pq.write_table(table.slice(900), folder / "data" / "test_prefs-00000-of-00001.parquet")
    pq.write_table(table.slice(0, 10), folder / "data" / "train_gen-00000-of-00001.parquet")
    result = explain(gen["path"], folder)
    assert result.published["splits"] == {"train_prefs": 900, "test_prefs": table.num_rows - 900}
    assert result.rule_test.verdict == "neither" and result.rule_test.published_ties > 0.01 * table.num_rows
    att = result.attribution.to_pylist()
    raw = {norm(r["instruction"]): r for r in gen["raw"]}
    differ = [
        a for a in att if a["category"] == "different_chosen" and gen["by_prompt"][norm(a["prompt"])] == 1
    ]
    assert len(differ) > 100
    published_chosen = {norm(p): c for p, c, _ in texts(table, "h4")}
    for a in differ:
        row = raw[norm(a["prompt"])]
        chosen = norm(published_chosen[norm(a["prompt"])])
        ours = [mean_rating(c) for c in row["completions"] if c and norm(c["response"]) == chosen]
        if ours[0] is None:  # no usable rating: zephyr ranks by overall_score, we cannot
            assert (a["published_chosen_our_score"], a["reason"]) == (None, "unscored_by_us")
            continue
        assert a["published_chosen_our_score"] == pytest.approx(ours[0])
        assert a["reason"] == ("tied_top" if ours[0] == a["ours_chosen_score"] else "lower_by_our_score")
    assert {a["reason"] for a in differ} >= {"tied_top", "lower_by_our_score"}
    only = explain(gen["path"], folder, published_split="test_prefs")
    assert only.published["splits"] == {"test_prefs": table.num_rows - 900}


def test_rows_our_decontamination_removed_are_named(gen):
    pub = published_set(gen, "plain", strategy="notus", seed=42, fmt="notus", drop_every=10**9)
    result = explain(gen["path"], pub["path"], benchmark_file=str(QUESTIONS))
    _, report = notus_data.decontaminate(gen["path"], benchmark_file=str(QUESTIONS))
    evidence = set(report.tables["evidence"]["prompt_id"])
    att = result.attribution.to_pylist()
    named = {a["prompt_id"] for a in att if a["our_step"] == "decontaminate"}
    assert named == evidence and len(evidence) >= 10
    published_prompts = {norm(p) for p in pub["pairs"]}
    for a in att:
        if a["our_step"] == "decontaminate":
            in_published = norm(a["prompt"]) in published_prompts
            assert (a["category"], a["reason"]) == (("only_published", "removed_by_ours") if in_published
                                                    else ("neither", "removed_by_ours"))  # fmt: skip


def test_ours_as_a_run_folder_and_as_a_pairs_file(gen, tmp_path):
    pub = published_set(gen, "for-run", strategy="notus-drawties", seed=9, fmt="h4")
    run = tmp_path / "run"
    notus_data.run("notus-cleaned", input=str(gen["path"]), output=run, benchmark_file=str(QUESTIONS),
                   plots=False, compare=False)  # fmt: skip
    result = explain(run, pub["path"])
    assert result.ours["kind"] == "run" and result.ours["report"]["rows_in"] == ROWS
    assert result.rule_test is None
    att = result.attribution.to_pylist()
    evidence = set(pq.read_table(run / "evidence" / "decontamination.parquet")["prompt_id"].to_pylist())
    ours_rows = pq.read_table(run / "data" / "train-00000-of-00001.parquet").num_rows
    assert sorted(a["ours_row"] for a in att if a["ours_row"] is not None) == list(range(ours_rows))
    assert sorted(a["published_row"] for a in att if a["published_row"] is not None) == list(
        range(pub["rows"])
    )
    for a in att:
        if a["category"] == "only_published" and a["reason"] != "duplicate_prompt":
            gone = a["prompt_id"] in evidence
            assert a["reason"] == ("removed_by_ours" if gone else "absent_from_our_output")
            if norm(a["prompt"]) in pub["extra"]:
                assert a["reason"] == "absent_from_our_output"
    assert {a["reason"] for a in att if a["category"] == "only_ours"} <= {
        "not_in_published",
        "duplicate_prompt",
    }
    with pytest.raises(OptionError, match="seed: these say how to binarize OURS"):
        explain(run, pub["path"], seed=3)
    pairs = tmp_path / "pairs.jsonl"
    notus_data.binarize(gen["path"], pairs, format="cleaned")
    again = explain(pairs, pub["path"]).attribution.to_pylist()
    assert sorted(a["ours_row"] for a in again if a["ours_row"] is not None) == list(
        range(gen["report"].rows_out)
    )
    assert sorted(a["published_row"] for a in again if a["published_row"] is not None) == list(
        range(pub["rows"])
    )
    assert {a["reason"] for a in again if a["category"] == "only_published"} == {
        "absent_from_our_output",
        "duplicate_prompt",
    }  # no evidence beside this file: nothing is known to be removed by us


def test_output_is_atomic_and_the_same_bytes_whatever_the_batch_size(gen, tmp_path):
    pub = published_set(gen, "bytes", strategy="notus-drawties", seed=11, fmt="notus")
    one = explain(gen["path"], pub["path"], tmp_path / "a.parquet")
    explain(gen["path"], pub["path"], tmp_path / "b.parquet", batch_size=97)
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()
    assert pq.read_table(tmp_path / "a.parquet").equals(one.attribution)
    saved = json.loads((tmp_path / "a.report.json").read_text())
    assert (
        saved["rule_test"]["verdict"] == one.rule_test.verdict and saved["rows"] == one.attribution.num_rows
    )
    explain(gen["path"], pub["path"], tmp_path / "c.jsonl")
    assert len((tmp_path / "c.jsonl").read_text().splitlines()) == one.attribution.num_rows
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary file left
    with pytest.raises(OptionError, match="is the input"):
        explain(gen["path"], pub["path"], pub["path"])


def test_the_command_prints_the_tables_and_writes_the_attribution(gen, tmp_path):
    pub = published_set(gen, "cli", strategy="notus-drawties", seed=13, fmt="cleaned")
    out = tmp_path / "why.parquet"
    result = CliRunner().invoke(
        main, ["explain", str(gen["path"]), str(pub["path"]), "--output", str(out), "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    assert "where every prompt went" in result.output and "draw rule: b" in result.output
    assert pq.read_table(out).num_rows == explain(gen["path"], pub["path"]).attribution.num_rows
    seeded = CliRunner().invoke(main, ["explain", str(gen["path"]), str(pub["path"]), "--seed", "13",
                                       "--strategy", "notus-drawties", "--quiet"])  # fmt: skip
    assert seeded.exit_code == 0 and "draw rule: b" in seeded.output
    bad = CliRunner().invoke(main, ["explain", str(gen["path"]), str(gen["path"]), "--quiet"])
    assert bad.exit_code == 1 and bad.output.startswith("Error: ") and "Traceback" not in bad.output
    assert len(bad.output.strip().splitlines()) == 1


def test_bad_published_sets_fail_in_one_line(gen, tmp_path, monkeypatch):
    path = tmp_path / "scores.jsonl"
    path.write_text(json.dumps({"prompt": "q", "chosen": "a", "rejected": "b", "score_chosen": "high",
                                "score_rejected": "low"}) + "\n")  # fmt: skip
    with pytest.raises(SchemaError, match="column 'score_chosen': scores must be numbers"):
        explain(gen["path"], path)
    with pytest.raises(NotusDataError, match="no such file or folder"):
        explain(gen["path"], tmp_path / "missing" / "pairs.parquet")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # a closed local port: the Hub path, offline
    with pytest.raises(NotusDataError, match="the Hugging Face Hub cannot be reached"):
        explain(gen["path"], "someone/published-pairs")


def test_unreadable_published_rows_are_attributed_not_lost(gen, tmp_path):
    table = notus_data.binarize(gen["path"], format="notus", seed=42)[0].data.table.slice(0, 50)
    column = table.column("chosen_response").to_pylist()
    column[4] = None
    table = table.set_column(
        table.schema.get_field_index("chosen_response"), "chosen_response", pa.array(column)
    )
    path = tmp_path / "holes.parquet"
    pq.write_table(table, path)
    att = explain(gen["path"], path).attribution
    row = att.filter(pc.equal(att["published_row"], 4)).to_pylist()
    assert [(r["category"], r["reason"], r["problem"]) for r in row] == [
        ("only_published", "unreadable_pair", "null_text")
    ]
    assert att.filter(pc.is_valid(att["published_row"])).num_rows == 50


def test_each_reason_on_a_hand_made_set(tmp_path):
    from ufrows import rated, write_parquet

    rows = [rated("lower", [5, 3]), rated("tie", [5, 5, 3]), rated("flat", [4, 4]), rated("few", [5]),
            rated("chosen differs", [5, 4, 3]), rated("draw", [5, 4, 3, 2])]  # fmt: skip
    path = write_parquet(tmp_path / "in.parquet", rows)
    ours = {r["instruction"]: r["rejected_response"] for r in notus_data.binarize(path, seed=42)[0].to_list()}
    other = next(t for t in ("draw answer 1", "draw answer 2") if t != ours["draw"])

    def pair(prompt, chosen, rejected, scores=(None, None)):
        return {"instruction": prompt, "chosen_response": chosen, "rejected_response": rejected,
                "chosen_avg_rating": scores[0], "rejected_avg_rating": scores[1]}  # fmt: skip

    published = [
        pair("lower", "lower answer 0", "lower answer 1"),
        pair("flat", "flat answer 0", "flat answer 1", (4.0, 4.0)),
        pair("chosen  differs ", "chosen differs answer 1", "chosen differs answer 2"),
        pair("draw", "draw answer 0", other),
        pair("never seen", "a", "b"),
        pair("lower", None, "lower answer 1"),
    ]
    pub = tmp_path / "published.jsonl"
    pub.write_text("".join(json.dumps(p) + "\n" for p in published))
    got = {(a["prompt"].strip(), a["category"], a["reason"], a["our_step"], a["our_reason"], a["problem"])
           for a in explain(path, pub).attribution.to_pylist()}  # fmt: skip
    assert got == {
        ("lower", "same_pair", "same_pair", None, None, None),
        ("tie", "only_ours", "tie_partner", None, None, None),
        ("flat", "only_published", "removed_by_ours", "binarize", "tie", None),
        ("few", "neither", "removed_by_ours", "binarize", "too_few_completions", None),
        ("chosen differs", "different_chosen", "lower_by_our_score", None, None, None),  # our prompt text
        ("draw", "same_chosen_different_draw", "another_candidate", None, None, None),
        ("never seen", "only_published", "absent_from_our_input", None, None, None),
        ("lower", "only_published", "unreadable_pair", None, None, "null_text"),
    }
    att = {a["prompt"].strip(): a for a in explain(path, pub).attribution.to_pylist() if a["problem"] is None}
    assert (
        att["chosen differs"]["published_chosen_our_score"],
        att["chosen differs"]["ours_chosen_score"],
    ) == (4, 5)
    assert att["flat"]["published_chosen_our_score"] == att["flat"]["published_rejected_our_score"] == 4
    assert (att["tie"]["tie_partners"], att["tie"]["others"]) == (1, 2)
    keeps_ties = explain(path, pub, strategy="zephyr", score="avg-rating")  # the flat prompt pairs now
    flat = [a for a in keeps_ties.attribution.to_pylist() if a["prompt"] == "flat"]
    assert [(a["category"], a["reason"]) for a in flat] == [("same_pair", "same_pair")]  # its only draw
    pub.write_text("".join(json.dumps(p) + "\n" for p in published if p["instruction"] != "flat"))
    flat = [a for a in explain(path, pub, strategy="zephyr", score="avg-rating").attribution.to_pylist()
            if a["prompt"] == "flat"]  # fmt: skip
    assert [(a["category"], a["reason"]) for a in flat] == [("only_ours", "no_lower")]


def test_every_option_is_a_library_keyword_or_a_recipe_field():
    import inspect

    from notus_data.cli.explain import explain_command
    from notus_data.recipes.config import override_names

    keywords = set(inspect.signature(explain).parameters) - {"overrides"}
    options = {p.name for p in explain_command.params} - {"quiet", "ours", "published"}
    assert options - keywords <= set(override_names())
    assert {"recipe", "published_split", "published_revision", "output", "batch_size"} <= options & keywords
    assert {"strategy", "seed", "score", "decisions", "benchmark_file", "decontaminate"} <= options


def test_a_source_the_published_set_dropped_whole_is_named(gen, tmp_path):
    table = notus_data.binarize(gen["path"], strategy="notus", seed=42, format="cleaned")[0].data.table
    path = tmp_path / "no-truthfulqa.parquet"
    pq.write_table(table.filter(pc.not_equal(table["source"], "truthful_qa")), path)
    elsewhere = {norm(r["instruction"]) for r in gen["raw"] if r["source"] != "truthful_qa"}
    att = explain(gen["path"], path).attribution.to_pylist()
    lost = [a for a in att if a["category"] == "only_ours" and a["source"] == "truthful_qa"]
    assert len(lost) == Counter(table["source"].to_pylist())["truthful_qa"] > 5
    for a in lost:  # a copy in another source keeps the prompt in the published set
        assert a["reason"] == ("duplicate_prompt" if norm(a["prompt"]) in elsewhere else "source_absent")
    assert {a["reason"] for a in att if a["category"] == "only_ours" and a["source"] != "truthful_qa"} <= {
        "duplicate_prompt"
    }
