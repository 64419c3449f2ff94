"""``convert`` and the ``pairs`` source: any pairs format to any other, every row counted."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from ufrows import rated, write_parquet

from notus_data.cli import main
from notus_data.formats import FORMATS, MESSAGES_TYPE
from notus_data.io.pairs import load_pairs
from notus_data.jobs.binarize import binarize
from notus_data.jobs.convert import convert
from notus_data.sources.pairs import PAIRS_SCHEMA, read_pairs

PAIR_FORMATS = [f for f in FORMATS if f != "kto"]


def msg(role, content):
    return {"content": content, "role": role}


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sample")
    rows = [rated(f"question {i}?", [5, 2, 4], source=("sharegpt" if i % 3 else "flan")) for i in range(12)]
    rows.append(rated("a tie", [3, 3]))
    return write_parquet(folder / "in.parquet", rows)


def triples(table: pa.Table) -> list[tuple]:
    """(prompt turns, chosen text, rejected text) of each row, read by the pairs source."""
    pairs = read_pairs(table, load_pairs(table).format)
    return [
        (json.dumps(r["prompt_messages"]), r["chosen"], r["rejected"], r["problem"])
        for r in pairs.to_pylist()
    ]


@pytest.mark.parametrize("target", FORMATS)
@pytest.mark.parametrize("start", PAIR_FORMATS)
def test_every_pairs_format_converts_to_every_other(sample, tmp_path, start, target):
    first = tmp_path / f"a.{start}.parquet"
    binarize(sample, first, format=start)
    out = tmp_path / f"b.{target}.parquet"
    report = convert(first, out, format=target)
    written = pq.read_table(out)
    assert report.rows_in == 12 and report.rows_with_pairs == 12 and not report.dropped
    assert report.rows_out == written.num_rows
    if target == "kto":
        assert written.num_rows == 24 and written.column("label").to_pylist().count(True) == 12
        return
    direct = tmp_path / f"direct.{target}.parquet"
    binarize(sample, direct, format=target)
    # the same prompts and texts as binarizing straight to the target
    assert triples(written) == triples(pq.read_table(direct))
    # where the start keeps all the target needs (source, scores; ratings and models for notus / cleaned), the
    # conversion is byte for byte the direct binarization
    keeps_all = start == "notus" or (
        start in ("trl", "llama-factory") and target in ("trl", "llama-factory", "openrlhf", "h4")
    )
    if keeps_all:
        assert written.equals(pq.read_table(direct))


def test_same_format_in_and_out_is_identical(sample, tmp_path):
    for fmt in ("trl", "llama-factory", "notus", "h4"):
        first = tmp_path / f"a.{fmt}.parquet"
        binarize(sample, first, format=fmt)
        again = tmp_path / f"b.{fmt}.parquet"
        convert(first, again, format=fmt)
        assert pq.read_table(again).equals(pq.read_table(first)), fmt


def test_multi_turn_prompts_survive_a_round_trip(tmp_path):
    prompt = [msg("system", "Be brief."), msg("user", "Hi"), msg("assistant", "Hello!"), msg("user", "2+2?")]
    trl = pa.table(
        {
            "prompt": pa.array([prompt], MESSAGES_TYPE),
            "chosen": pa.array([[msg("assistant", "4")]], MESSAGES_TYPE),
            "rejected": pa.array([[msg("assistant", "5")]], MESSAGES_TYPE),
        }
    )
    h4, _ = convert(trl, format="h4")
    assert h4[0]["chosen"] == [*prompt, msg("assistant", "4")] and h4[0]["prompt"] == "2+2?"
    lf, _ = convert(h4.data.table, format="llama-factory")
    assert [t["from"] for t in lf[0]["conversations"]] == ["system", "human", "gpt", "human"]
    back, _ = convert(lf.data.table, format="trl")
    assert back[0]["prompt"] == prompt and back[0]["chosen"] == [msg("assistant", "4")]


def test_rows_that_are_no_pair_are_counted_with_their_reason(tmp_path):
    conv = [
        [msg("user", "q1"), msg("assistant", "good")],
        [msg("user", "q2"), msg("assistant", "good")],
        [msg("user", "q3"), msg("assistant", None)],
        [msg("user", "q4")],
        None,
    ]
    rej = [
        [msg("user", "q1"), msg("assistant", "bad")],
        [msg("user", "other"), msg("assistant", "bad")],  # not the same prompt
        [msg("user", "q3"), msg("assistant", "bad")],
        [msg("user", "q4"), msg("user", "again")],
        [msg("user", "q5"), msg("assistant", "bad")],
    ]
    table = pa.table({"chosen": pa.array(conv, MESSAGES_TYPE), "rejected": pa.array(rej, MESSAGES_TYPE),
                      "source": ["s"] * 5})  # fmt: skip
    path = tmp_path / "bad.parquet"
    pq.write_table(table, path)
    out = tmp_path / "out.jsonl"
    report = convert(path, out, format="trl")
    assert report.rows_in == 5 and report.rows_with_pairs == 1 and report.rows_out == 1
    assert dict(report.dropped) == {
        "prompt_mismatch": 1,
        "null_text": 1,
        "last_turn_not_assistant": 1,
        "empty_conversation": 1,
    }
    saved = json.loads((tmp_path / "out.report.json").read_text())
    assert saved["rows_in"] == 5 and saved["dropped"]["prompt_mismatch"] == 1
    assert [json.loads(line)["chosen"][0]["content"] for line in out.read_text().splitlines()] == ["good"]


def test_argilla_flat_and_trl_standard_inputs(tmp_path):
    flat = pa.table(
        {
            "source": ["evol_instruct"],
            "instruction": ["Name a prime."],
            "chosen_response": ["7"],
            "rejected_response": ["8"],
            "chosen_avg_rating": [5.0],
            "rejected_avg_rating": [2.0],
            "chosen_model": ["gpt-4"],
        }
    )
    h4, report = convert(flat, format="h4")
    assert h4[0]["score_chosen"] == 5.0 and h4[0]["score_rejected"] == 2.0
    assert h4[0]["prompt_id"] == read_pairs(flat, "notus").column("prompt_id")[0].as_py()
    lf, _ = convert(flat, format="openrlhf")
    assert lf[0]["margin"] == 3.0
    standard = pa.table({"prompt": ["Name a prime."], "chosen": ["7"], "rejected": ["8"]})
    trl, _ = convert(standard, format="trl")
    assert trl[0]["prompt"] == [msg("user", "Name a prime.")] and trl[0]["rejected"] == [
        msg("assistant", "8")
    ]
    assert trl[0]["score_chosen"] is None  # not in the input: null, never made up


def test_output_is_the_same_whatever_the_batch_size(sample, tmp_path):
    first = tmp_path / "a.h4.parquet"
    binarize(sample, first, format="h4")
    outs = []
    for batch_size in (1, 5, 1000):
        out = tmp_path / f"kto-{batch_size}.parquet"
        convert(first, out, format="kto", batch_size=batch_size)
        outs.append(out.read_bytes())
    assert outs[0] == outs[1] == outs[2]


def test_pairs_source_schema_and_unknown_columns(tmp_path):
    source = load_pairs(pa.table({"prompt": ["p"], "chosen": ["c"], "rejected": ["r"]}))
    assert source.format == "standard" and source.schema == PAIRS_SCHEMA
    path = tmp_path / "x.parquet"
    pq.write_table(pa.table({"question": ["q"], "answer": ["a"]}), path)
    result = CliRunner().invoke(main, ["convert", str(path), str(tmp_path / "y.parquet"), "--format", "trl"])
    assert result.exit_code != 0 and "cannot tell the pair format" in result.output


def test_cli_convert_names_the_same_options(sample, tmp_path):
    first = tmp_path / "a.parquet"
    binarize(sample, first, format="notus")
    out = tmp_path / "lf" / "uf.jsonl"
    result = CliRunner().invoke(
        main, ["convert", str(first), str(out), "--format", "llama-factory", "--quiet"]
    )
    assert result.exit_code == 0, result.output
    assert "12 rows written" in result.output
    info = json.loads((out.parent / "dataset_info.json").read_text())
    assert info["uf"]["file_name"] == "uf.jsonl" and info["uf"]["ranking"] is True
