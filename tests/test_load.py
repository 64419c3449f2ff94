"""Loading UltraFeedback-shaped data: every input kind, the known variants, bad rows and bad files."""

from __future__ import annotations

import json

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from ufrows import completion, rated, row, write_jsonl, write_parquet

from notus_data.errors import NotusDataError, SchemaError
from notus_data.io import DEFAULT_REVISION, from_hub, load_ultrafeedback, read_table


def canonical(source, batch_size=4096):
    return pa.concat_tables(list(source.iter_batches(batch_size)))


ROWS = [
    rated("What is 2+2?", [5, 3, 4]),
    rated("Écris un poème 🌸 日本語", [4, None, 2], source="sharegpt"),
    row("One completion only", [completion()]),
]


@pytest.fixture
def parquet_input(tmp_path):
    return write_parquet(tmp_path / "uf.parquet", ROWS)


def test_every_local_kind_loads_to_the_same_canonical_table(tmp_path, parquet_input):
    expected = canonical(load_ultrafeedback(parquet_input))
    jsonl = write_jsonl(tmp_path / "uf.jsonl", ROWS)
    array_json = tmp_path / "uf.json"
    array_json.write_text(json.dumps(ROWS, ensure_ascii=False))
    folder = tmp_path / "shards"
    folder.mkdir()
    pq.write_table(pa.Table.from_pylist(ROWS[:2]), folder / "train-00000-of-00002.parquet")
    pq.write_table(pa.Table.from_pylist(ROWS[2:]), folder / "train-00001-of-00002.parquet")
    saved = tmp_path / "saved"
    datasets.Dataset.from_list(ROWS).save_to_disk(str(saved))
    for path in (jsonl, array_json, folder, saved):
        got = canonical(load_ultrafeedback(path))
        assert got.to_pylist() == expected.to_pylist(), path


def test_canonical_values(parquet_input):
    table = canonical(load_ultrafeedback(parquet_input))
    rows = table.to_pylist()
    assert [r["row_index"] for r in rows] == [0, 1, 2]
    assert rows[0]["source"] == "evol_instruct"
    import hashlib

    assert rows[1]["prompt_id"] == hashlib.sha256("Écris un poème 🌸 日本語".encode()).hexdigest()
    first = rows[0]["completions"][0]
    assert first["response"] == "What is 2+2? answer 0"
    assert first["model"] == "model-0"
    assert first["overall_score"] == 5.0
    assert [first[a] for a in ("instruction_following", "honesty", "truthfulness", "helpfulness")] == [
        5.0
    ] * 4
    # "N/A" ratings are null, not zero
    assert rows[1]["completions"][1]["honesty"] is None
    # the critique is read only when asked for
    assert first["critique"] is None


def test_critique_is_read_when_asked(parquet_input):
    table = canonical(load_ultrafeedback(parquet_input, with_critique=True))
    assert table.to_pylist()[0]["completions"][0]["critique"] == "Good answer."


def test_parquet_reads_only_the_needed_nested_columns(tmp_path):
    rows = [rated("q", [5, 3])]
    rows[0]["completions"][0]["critique"] = "x" * 100_000
    path = write_parquet(tmp_path / "big.parquet", rows)
    source = load_ultrafeedback(path)
    from notus_data.io import TableSource, projected_paths
    from notus_data.schema import needed_columns

    pf = pq.ParquetFile(path)
    paths = projected_paths(pf, needed_columns())
    assert not any("critique" in p or "Rationale" in p or "correct_answers" in p for p in paths)
    assert any(p.endswith("honesty.Rating") for p in paths)
    assert canonical(source).num_rows == 1
    assert TableSource(path).kind == "parquet"


def test_aspect_as_one_item_list_and_missing_fine_grained(tmp_path):
    plain = [row("q", [completion(ratings=("5", "N/A", "3", "4"), fine=False)])]
    listed = [row("q", [completion(ratings=("5", "N/A", "3", "4"), fine=False, aspect_as_list=True)])]
    a = canonical(load_ultrafeedback(write_parquet(tmp_path / "a.parquet", plain)))
    b = canonical(load_ultrafeedback(write_parquet(tmp_path / "b.parquet", listed)))
    assert a.to_pylist() == b.to_pylist()
    comp = a.to_pylist()[0]["completions"][0]
    assert comp["honesty"] is None
    # fine-grained_score absent from the input: recomputed as the mean of the usable ratings
    assert comp["fine_grained_score"] == pytest.approx(4.0)


def test_bad_values_are_reported_with_row_and_field(tmp_path):
    rows = [
        rated("fine", [5, 3]),
        row(
            "bad rating",
            [completion(ratings=("seven", "4", "4", "4")), completion(ratings=("11", "", "2", "2"))],
        ),
        row("null completion", [None, completion()]),
        row("null response", [completion(response=None), completion()]),
        row(None, [completion(), completion()]),
        row("null list", None),
        row("bad overall", [completion(overall=42.0), completion()]),
    ]
    source = load_ultrafeedback(write_jsonl(tmp_path / "bad.jsonl", rows))
    table = canonical(source)
    assert table.num_rows == len(rows)
    counts = source.problems.counts
    assert counts == {
        "invalid_rating": 3,
        "null_completion": 1,
        "null_response": 1,
        "null_instruction": 1,
        "null_completions": 1,
        "invalid_overall_score": 1,
    }
    first = source.problems.examples[0]
    assert first["row_index"] == 1
    assert first["field"] == "completions[0].annotations.instruction_following.Rating"
    assert first["value"] == "seven"
    assert "ignored" in first["rule"]
    bad = table.to_pylist()[1]["completions"]
    assert bad[0]["instruction_following"] is None and bad[0]["honesty"] == 4.0
    assert bad[1]["instruction_following"] is None and bad[1]["honesty"] is None


def test_problem_row_numbers_do_not_depend_on_batch_size(tmp_path):
    rows = [rated(f"q{i}", [5, 3]) for i in range(10)]
    rows[7] = row("bad", [completion(ratings=("seven", "4", "4", "4")), completion()])
    path = write_parquet(tmp_path / "x.parquet", rows)
    for batch_size in (1, 3, 100):
        source = load_ultrafeedback(path)
        canonical(source, batch_size)
        assert [e["row_index"] for e in source.problems.examples] == [7]


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (pa.table({"prompt": ["x"]}), "field 'instruction' is missing"),
        (pa.table({"instruction": [1]}), "field 'instruction' has type int64"),
        (pa.table({"instruction": ["x"]}), "field 'completions' is missing"),
        (
            pa.table({"instruction": ["x"], "completions": [["a"]]}),
            "field 'completions' has type list<element: string>",
        ),
        (pa.table({"instruction": ["x"], "completions": [[{"text": "a"}]]}), "completions[].response"),
        (
            pa.table(
                {"instruction": ["x"], "completions": [[{"response": "a", "annotations": {"honesty": "5"}}]]}
            ),
            "completions[].annotations.honesty",
        ),
    ],
)
def test_not_ultrafeedback_shaped_fails_with_one_clear_error(tmp_path, table, message):
    path = tmp_path / "wrong.parquet"
    pq.write_table(table, path)
    with pytest.raises(SchemaError) as err:
        load_ultrafeedback(path)
    assert message in str(err.value)
    assert str(path) in str(err.value)


def test_bad_files(tmp_path):
    with pytest.raises(NotusDataError, match="no such file"):
        load_ultrafeedback(tmp_path / "missing.parquet")
    junk = tmp_path / "junk.parquet"
    junk.write_bytes(b"not parquet at all")
    with pytest.raises(SchemaError, match="not a readable parquet file"):
        load_ultrafeedback(junk)
    text = tmp_path / "data.txt"
    text.write_text("x")
    with pytest.raises(NotusDataError, match="unknown file type"):
        load_ultrafeedback(text)
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"instruction": "x", "completions": [}\n')
    with pytest.raises(SchemaError, match="broken.jsonl"):
        list(load_ultrafeedback(broken).iter_batches())


def test_hub_code_path_on_a_local_repository_layout(tmp_path):
    """from_hub runs datasets.load_dataset exactly as for a Hub id; here on a local folder laid out like the repo."""
    repo = tmp_path / "UltraFeedback"
    repo.mkdir()
    write_parquet(repo / "train.parquet", ROWS)
    expected = canonical(load_ultrafeedback(repo / "train.parquet")).to_pylist()
    for streaming in (False, True):
        source = from_hub(str(repo), split="train", streaming=streaming)
        assert canonical(source, batch_size=2).to_pylist() == expected
        assert source.num_rows == (None if streaming else 3)


def test_default_hub_revision_is_the_fixed_one(monkeypatch):
    seen = {}

    def fake_load_dataset(path, **kwargs):  # the Hub is unreachable here: capture the call instead
        seen.update(kwargs, path=path)
        raise ConnectionError("offline")

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    # else the unreachable Hub is found before load_dataset is called
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(NotusDataError, match="could not load 'openbmb/UltraFeedback'"):
        load_ultrafeedback()
    assert seen == {
        "path": "openbmb/UltraFeedback",
        "revision": DEFAULT_REVISION,
        "split": "train",
        "streaming": False,
    }


def test_read_table_names_a_missing_column(tmp_path):
    path = write_parquet(tmp_path / "p.parquet", [{"prompt": "x"}])
    assert read_table(path, ["prompt"]).to_pylist() == [{"prompt": "x"}]
    with pytest.raises(SchemaError, match=r"missing column\(s\) \['chosen'\]"):
        read_table(path, ["chosen"])


def test_prefetch_keeps_order_raises_in_place_and_stops_early():
    import threading

    from notus_data.io import prefetch

    assert list(prefetch(iter(range(100)), depth=3)) == list(range(100))

    def failing():
        yield 1
        yield 2
        raise ValueError("bad batch")

    got = []
    with pytest.raises(ValueError, match="bad batch"):
        for item in prefetch(failing()):
            got.append(item)
    assert got == [1, 2]

    produced = []

    def endless():
        i = 0
        while True:
            produced.append(i)
            yield i
            i += 1

    stream = prefetch(endless(), depth=2)
    assert [next(stream) for _ in range(5)] == [0, 1, 2, 3, 4]
    stream.close()
    assert len(produced) <= 5 + 2 + 1  # the reader stopped, at most `depth` items ahead
    assert not any(t.name == "notus-data-prefetch" for t in threading.enumerate())
