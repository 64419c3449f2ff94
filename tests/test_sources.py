"""Sources beyond UltraFeedback: each format's rules, checked pair by pair against a plain-Python reading of the
rules in the issue, on every batch size and through real files (parquet, JSON lines)."""

from __future__ import annotations

import json
import os
from itertools import groupby

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from notus_data import binarize
from notus_data.cli import main
from notus_data.errors import NotusDataError, OptionError
from notus_data.sources import detect, turns

HS_ASPECTS = ("helpfulness", "correctness", "coherence", "complexity", "verbosity")


def helpsteer2_rows() -> list[dict]:
    rows = []
    ratings = [(4, 4, 4), (2, 3, 3), (3, 3, 3), (1, 0, 2), (4, 4, 3), (2, 2, 2), (0, 0, 0), (3, 4, 4)]
    prompts = ["Explain gravity.", "Write a haiku.", "Explain gravity.", "Sum 2 and 2.", "Write a haiku.",
               "Sum 2 and 2.", "Alone prompt.", "Write a haiku."]  # fmt: skip
    for i, (prompt, (h, c, co)) in enumerate(zip(prompts, ratings, strict=True)):
        rows.append({"prompt": prompt, "response": f"answer {i}", "helpfulness": h, "correctness": c,
                     "coherence": co, "complexity": i % 5, "verbosity": (i * 3) % 5})  # fmt: skip
    rows.append({**rows[1], "response": "bad rating", "correctness": 7})  # invalid: no score
    rows.append({**rows[0], "response": "tied top", "helpfulness": 4, "correctness": 4, "coherence": 4})
    return rows


def reference_helpsteer2(rows: list[dict], weights: dict[str, float] | None = None) -> list[tuple]:
    """best-vs-all pairs by the issue's rules, written plainly: (prompt, chosen, rejected, chosen score)."""
    weights = weights or {"helpfulness": 1, "correctness": 1, "coherence": 1}
    groups: dict[str, list] = {}
    for row in rows:
        values = [row[a] for a in weights]
        if all(isinstance(v, int) and 0 <= v <= 4 for v in values):
            score = sum(w * row[a] for a, w in weights.items()) / sum(weights.values())
        else:
            score = None
        groups.setdefault(row["prompt"], []).append((row["response"], score))
    pairs = []
    for prompt, responses in groups.items():
        scored = [(r, s) for r, s in responses if s is not None]
        if len(scored) < 2:
            continue
        best = max(s for _, s in scored)
        chosen = next(r for r, s in scored if s == best)
        pairs += [(prompt, chosen, r, round(best, 9)) for r, s in scored if s < best - 1e-12]
    return pairs


def got_pairs(pairs) -> list[tuple]:
    return [
        (p["instruction"], p["chosen_response"], p["rejected_response"], round(p["chosen_score"], 9))
        for p in pairs
    ]


@pytest.mark.parametrize("batch_size", [1, 3, 4096])
def test_helpsteer2_groups_by_prompt_in_input_order_on_any_batch_size(batch_size):
    rows = helpsteer2_rows()
    pairs, report = binarize(pa.Table.from_pylist(rows), strategy="best-vs-all", batch_size=batch_size)
    expected = reference_helpsteer2(rows)
    assert got_pairs(pairs.to_list()) == expected and expected
    assert report.rows_in == 4  # four prompts
    assert report.to_dict()["problems"]["counts"] == {"invalid_rating": 1}
    assert report.to_dict()["dropped"] == {"too_few_completions": 1}
    assert report.info["source_format"] == "helpsteer2"


def test_helpsteer2_nvidia_preset_and_chosen_aspects(tmp_path):
    rows = helpsteer2_rows()
    path = tmp_path / "helpsteer2.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    pairs, _ = binarize(str(path), strategy="best-vs-all", weights="nvidia-340b")
    nvidia = dict(zip(HS_ASPECTS, (0.3, 0.74, 0.46, 0.47, -0.33), strict=True))
    assert got_pairs(pairs.to_list()) == reference_helpsteer2(rows, nvidia)
    pairs, _ = binarize(str(path), strategy="best-vs-all", aspects="helpfulness,verbosity", weights="1,2")
    assert got_pairs(pairs.to_list()) == reference_helpsteer2(rows, {"helpfulness": 1, "verbosity": 2})
    with pytest.raises(OptionError, match="not HelpSteer2 aspects"):
        binarize(str(path), aspects="honesty")


def test_helpsteer2_preference_file(tmp_path):
    rows = [
        {"prompt": "a", "response_1": "one", "response_2": "two", "preference_strength": -2},
        {"prompt": "b", "response_1": "one", "response_2": "two", "preference_strength": 3},
        {"prompt": "c", "response_1": "one", "response_2": "two", "preference_strength": 0},
        {"prompt": "d", "response_1": "one", "response_2": "two", "preference_strength": 9},
    ]
    path = tmp_path / "preference.jsonl.gz"  # the file as HelpSteer2 ships it
    import gzip

    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write("".join(json.dumps(r) + "\n" for r in rows))
    pairs, report = binarize(str(path), min_margin=2)
    got = [(p["instruction"], p["chosen_response"], p["rejected_response"]) for p in pairs.to_list()]
    assert got == [("a", "one", "two"), ("b", "two", "one")]
    assert report.to_dict()["dropped"] == {"tie": 1, "too_few_completions": 1}
    assert report.to_dict()["problems"]["counts"] == {"invalid_score": 1}


NECTAR = [
    {"prompt": "\n\nHuman: What is 2+2?\n\nAssistant:",
     "answers": [{"answer": "4", "model": "a", "rank": 1}, {"answer": "5", "model": "b", "rank": 3},
                 {"answer": "Four.", "model": "c", "rank": 2}]},
    {"prompt": "\n\nHuman: Hi\n\nAssistant: Hello!\n\nHuman: Tell a joke.\n\nAssistant:",
     "answers": [{"answer": "Why did...\n\nHuman: ha", "model": "a", "rank": 1},
                 {"answer": "A joke.", "model": "b", "rank": 2}, {"answer": "No.", "model": "c", "rank": 7}]},
    {"prompt": "no turns at all", "answers": [{"answer": "x", "model": "a", "rank": 1}]},
    {"prompt": "\n\nHuman: Tie?\n\nAssistant:",
     "answers": [{"answer": "t1", "model": "a", "rank": 1}, {"answer": "t2", "model": "b", "rank": 1}]},
]  # fmt: skip


def reference_nectar(rows):
    pairs = []
    for row in rows:
        conv = turns.parse_prompt(row["prompt"])
        if conv is None:
            continue
        ok = [(a["answer"], 8 - a["rank"]) for a in row["answers"] if "Human:" not in a["answer"]
              and "Assistant:" not in a["answer"]]  # fmt: skip
        if len(ok) < 2:
            continue
        best = max(s for _, s in ok)
        chosen = next(a for a, s in ok if s == best)
        pairs += [(conv, chosen, a) for a, s in ok if s < best]
    return pairs


@pytest.mark.parametrize("batch_size", [1, 4096])
def test_nectar_turns_ranks_and_excluded_answers(tmp_path, batch_size):
    path = tmp_path / "nectar.parquet"
    pq.write_table(pa.Table.from_pylist(NECTAR), path, row_group_size=2)
    pairs, report = binarize(str(path), strategy="best-vs-all", format="cleaned", batch_size=batch_size)
    got = [
        (p["chosen"][:-1], p["chosen"][-1]["content"], p["rejected"][-1]["content"]) for p in pairs.to_list()
    ]
    assert got == reference_nectar(NECTAR)
    assert pairs.to_list()[2]["prompt"] == "Tell a joke."  # instruction: the last user turn
    counts = report.to_dict()
    assert counts["problems"]["counts"] == {"answer_has_turns": 1, "unparsable_turns": 1}
    assert counts["dropped"] == {"invalid_row": 1, "tie": 1}


def test_turn_parsing_rules():
    assert turns.parse("\n\nHuman: a\n\nHuman: b") is None  # roles must alternate
    assert turns.parse("preamble\n\nHuman: a") is None
    assert (
        turns.parse_prompt("\n\nHuman: a\n\nAssistant: b\n\nAssistant:") is None
    )  # must end with a user turn
    assert turns.parse_prompt("Human: a\n\nAssistant:") == [{"content": "a", "role": "user"}]
    prompt, chosen, rejected = turns.split_pair(
        "\n\nHuman: q\n\nAssistant: Sure, here it is", "\n\nHuman: q\n\nAssistant: Sure, no"
    )
    assert (prompt, chosen, rejected) == ([{"content": "q", "role": "user"}], "Sure, here it is", "Sure, no")
    assert (
        turns.split_pair(
            "\n\nHuman: a\n\nAssistant: b\n\nHuman: c\n\nAssistant: d", "\n\nHuman: a\n\nAssistant: x"
        )
        is None
    )


def test_hh_rlhf_pairs_pass_through_unchanged(tmp_path):
    rows = [
        {"chosen": "\n\nHuman: Hi\n\nAssistant: Hello, how can I help?", "rejected": "\n\nHuman: Hi\n\nAssistant: Go."},
        {"chosen": "\n\nHuman: q\n\nAssistant: a\n\nHuman: more\n\nAssistant: good", "rejected":
         "\n\nHuman: q\n\nAssistant: a\n\nHuman: more\n\nAssistant: bad"},
        {"chosen": "\n\nHuman: s\n\nAssistant: same", "rejected": "\n\nHuman: s\n\nAssistant: same"},
        {"chosen": "\n\nHuman: e\n\nAssistant:  ", "rejected": "\n\nHuman: e\n\nAssistant: fine"},
        {"chosen": "no transcript", "rejected": "at all"},
    ]  # fmt: skip
    path = tmp_path / "hh.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    for strategy in ("notus", "zephyr", "best-vs-worst", "all-pairs"):
        pairs, report = binarize(str(path), strategy=strategy, format="h4")
        got = pairs.to_list()
        assert [(p["chosen"][-1]["content"], p["rejected"][-1]["content"]) for p in got] == [
            ("Hello, how can I help?", "Go."),
            ("good", "bad"),
        ]
        assert got[1]["chosen"][:3] == [{"content": "q", "role": "user"}, {"content": "a", "role": "assistant"},
                                        {"content": "more", "role": "user"}]  # fmt: skip
        problems = report.to_dict()["problems"]["counts"]
        assert problems == {"identical_pair": 1, "empty_turn": 1, "unparsable_turns": 1}
        assert report.to_dict()["dropped"] == {"invalid_row": 3}


def test_multi_turn_prompt_id_hashes_the_conversation():
    rows = [
        {"chosen": "\n\nHuman: a\n\nAssistant: b\n\nHuman: end\n\nAssistant: x", "rejected":
         "\n\nHuman: a\n\nAssistant: b\n\nHuman: end\n\nAssistant: y"},
        {"chosen": "\n\nHuman: other\n\nAssistant: c\n\nHuman: end\n\nAssistant: x", "rejected":
         "\n\nHuman: other\n\nAssistant: c\n\nHuman: end\n\nAssistant: y"},
        {"chosen": "\n\nHuman: end\n\nAssistant: x", "rejected": "\n\nHuman: end\n\nAssistant: y"},
    ]  # fmt: skip
    pairs, _ = binarize(pa.Table.from_pylist(rows), format="h4")
    ids = [p["prompt_id"] for p in pairs.to_list()]
    import hashlib

    assert len(set(ids)) == 3
    assert (
        ids[2] == hashlib.sha256(b"end").hexdigest()
    )  # one turn: the sha256 of the instruction, as UltraFeedback


def test_rm_scored_and_columns():
    rm = pa.table({"prompt": ["p", "q", "r"], "all_generated_responses": [["a", "b", "c"], ["d"], ["e", "f"]],
                   "all_rm_scores": [[0.1, 0.5, 0.3], [1.0, 2.0], [None, 0.2]]})  # fmt: skip
    pairs, report = binarize(rm, strategy="best-vs-worst")
    assert [(p["instruction"], p["chosen_response"], p["rejected_response"]) for p in pairs.to_list()] == [
        ("p", "b", "a")
    ]
    assert report.to_dict()["problems"]["counts"] == {"invalid_score": 1, "lengths_differ": 1}
    ranked = pa.table({"q": ["p", "p", "p", "r"], "a": ["x", "y", "z", "w"], "rank": [2, 1, 3, 1]})
    pairs, _ = binarize(ranked, columns="prompt=q,response=a,score=rank", higher_is_better=False,
                        strategy="best-vs-worst")  # fmt: skip
    assert [(p["chosen_response"], p["rejected_response"]) for p in pairs.to_list()] == [("y", "z")]
    lists = pa.table({"question": ["p"], "answers": [["x", "y"]], "ratings": [[3, 9]], "who": [["m1", "m2"]]})
    pairs, _ = binarize(lists, columns="prompt=question,responses=answers,scores=ratings,models=who")
    assert pairs.to_list()[0]["chosen_model"] == "m2"
    with pytest.raises(OptionError, match="KEY=COLUMN"):
        binarize(lists, columns="prompt")


def test_detection_and_one_line_errors():
    assert detect({"prompt", "response", "helpfulness", "correctness", "coherence"}) == "helpsteer2"
    assert detect({"prompt", "all_generated_responses", "all_rm_scores", "chosen", "rejected"}) == "rm-scored"
    assert detect({"source", "instruction", "completions"}) == "ultrafeedback"
    with pytest.raises(NotusDataError, match="--source-format"):
        binarize(pa.table({"x": [1]}))
    with pytest.raises(NotusDataError, match="column 'answers' is missing"):
        binarize(pa.table({"prompt": ["p"]}), source_format="nectar")
    with pytest.raises(NotusDataError, match="source-score"):
        binarize(pa.Table.from_pylist(NECTAR), score="overall-score")


def test_cli_source_options(tmp_path):
    path = tmp_path / "ranks.parquet"
    pq.write_table(pa.table({"q": ["p", "p"], "a": ["x", "y"], "rank": [2, 1]}), path)
    out = tmp_path / "pairs.parquet"
    result = CliRunner().invoke(
        main,
        ["binarize", str(path), str(out), "--columns", "prompt=q,response=a,score=rank", "--lower-is-better",
         "--quiet", "--no-progress"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert pq.read_table(out).column("chosen_response").to_pylist() == ["y"]
    report = json.loads((tmp_path / "pairs.report.json").read_text())
    assert report["info"]["source"] == {"source_format": "columns", "columns": "prompt=q,response=a,score=rank",
                                        "higher_is_better": False}  # fmt: skip
    assert os.path.exists(out)


def test_grouped_rows_far_apart_still_one_prompt():
    rows = [{"prompt": f"p{i % 3}", "response": f"r{i}", "helpfulness": i % 5, "correctness": 2, "coherence": 2}
            for i in range(30)]  # fmt: skip
    a, _ = binarize(pa.Table.from_pylist(rows), strategy="all-pairs", batch_size=4)
    b, _ = binarize(pa.Table.from_pylist(rows), strategy="all-pairs", batch_size=1000)
    assert a.to_list() == b.to_list()
    assert [k for k, _ in groupby(p["instruction"] for p in a.to_list())] == ["p0", "p1", "p2"]
