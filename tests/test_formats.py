"""Output formats: every trainer's columns, multi-turn prompts, and each format read by the tool it is for.

TRL's formats are checked with TRL's own data utilities (and DPOTrainer's dataset preparation with a tiny model
built here); LLaMA-Factory is not installed here (its package pulls a web UI and pinned training stacks), so its
format is checked against its documented schema (data/README.md of hiyouga/LLaMA-Factory: ShareGPT preference
data, ``dataset_info.json`` with ``"ranking": true``), rule by rule.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from ufrows import rated, write_parquet

from notus_data.formats import FORMATS, MESSAGES_TYPE, SCHEMAS, build, kto_order
from notus_data.jobs.binarize import binarize
from notus_data.normalize import normalize_batch
from notus_data.schema import check_raw_schema
from notus_data.steps.binarize import BinarizeOptions, binarize_table
from notus_data.steps.score import score_table


def msg(role, content):
    return {"content": content, "role": role}


def rows_for_all_pairs():
    return [
        rated("What is 2+2?", [5, 3, 4]),
        rated("Name a colour.", [2, 4, 4, 1], source="sharegpt"),
        rated("Say hi.", [3, 3]),  # a tie: no pair
        rated("Repeat.", [5, 1, 3], texts=["same", "same", "other"]),  # a text both chosen and rejected
    ]


def canonical(rows):
    table = pa.Table.from_pylist(rows)
    out, _ = normalize_batch(table, check_raw_schema(table.schema, "memory"))
    return out


def pairs(rows, fmt, strategy="all-pairs", prompt_messages=None):
    scored = score_table(canonical(rows))
    if prompt_messages is not None:
        scored = scored.append_column("prompt_messages", pa.array(prompt_messages, MESSAGES_TYPE))
    return binarize_table(scored, BinarizeOptions(format=fmt, strategy=strategy))


# ------------------------------------------------------------------------------------ prompt_messages keyword


MULTI = [
    [msg("system", "Be brief."), msg("user", "Hi"), msg("assistant", "Hello!"), msg("user", "What is 2+2?")],
    None,  # one user turn from the instruction
    [],  # no turns: the same
    [msg("user", "Earlier question"), msg("assistant", "Earlier answer"), msg("user", "Repeat.")],
]


@pytest.mark.parametrize("fmt", FORMATS)
def test_null_prompt_messages_give_the_single_turn_output(fmt):
    rows = rows_for_all_pairs()
    plain, plain_out = pairs(rows, fmt)
    nulls, nulls_out = pairs(rows, fmt, prompt_messages=[None] * len(rows))
    assert plain.schema == SCHEMAS[fmt]
    assert plain.equals(nulls) and plain_out.equals(nulls_out)


@pytest.mark.parametrize("fmt", ["cleaned", "h4"])
def test_multi_turn_message_lists_are_the_prompt_turns_then_the_answer(fmt):
    table, _ = pairs(rows_for_all_pairs(), fmt, strategy="best-vs-worst", prompt_messages=MULTI)
    by_prompt = {r["prompt"]: r for r in table.to_pylist()}
    first = by_prompt["What is 2+2?"]
    assert first["chosen"] == [*MULTI[0], msg("assistant", "What is 2+2? answer 0")]
    assert first["rejected"] == [*MULTI[0], msg("assistant", "What is 2+2? answer 1")]
    assert by_prompt["Name a colour."]["chosen"] == [
        msg("user", "Name a colour."),
        msg("assistant", "Name a colour. answer 1"),
    ]
    assert by_prompt["Repeat."]["chosen"][:3] == MULTI[3]


def test_trl_prompt_is_the_turns_and_answers_one_assistant_message():
    table, _ = pairs(rows_for_all_pairs(), "trl", strategy="best-vs-worst", prompt_messages=MULTI)
    rows = table.to_pylist()
    assert rows[0]["prompt"] == MULTI[0]
    assert rows[0]["chosen"] == [msg("assistant", "What is 2+2? answer 0")]
    assert rows[1]["prompt"] == [msg("user", "Name a colour.")]
    assert all(len(r["chosen"]) == len(r["rejected"]) == 1 for r in rows)


# --------------------------------------------------------------------------------------------------- TRL


@pytest.fixture(scope="module")
def chat_tokenizer(tmp_path_factory):
    pytest.importorskip("trl", reason="needs notus-data[train]")
    from test_train import build_tiny_model

    folder = build_tiny_model(tmp_path_factory.mktemp("tiny"), [f"q{i} a b c answer" for i in range(40)])
    from transformers import AutoTokenizer

    from notus_data.train.template import ZEPHYR_CHAT_TEMPLATE

    tokenizer = AutoTokenizer.from_pretrained(folder)
    tokenizer.chat_template = ZEPHYR_CHAT_TEMPLATE
    return folder, tokenizer


def test_trl_rows_are_explicit_prompt_conversational_for_trl(chat_tokenizer):
    import datasets
    from trl.data_utils import is_conversational, maybe_apply_chat_template, maybe_extract_prompt

    _, tokenizer = chat_tokenizer
    table, _ = pairs(rows_for_all_pairs(), "trl", prompt_messages=MULTI)
    ds = datasets.Dataset(table)
    for example in ds:
        assert is_conversational(example)
        assert maybe_extract_prompt(example) == example  # the prompt is explicit already
        text = maybe_apply_chat_template(example, tokenizer)
        whole = tokenizer.apply_chat_template(example["prompt"] + example["chosen"], tokenize=False)
        assert text["prompt"] + text["chosen"] == whole
        assert ("Be brief." in text["prompt"]) == (example["prompt"][0]["role"] == "system")


def test_trl_output_goes_through_dpo_trainer_dataset_preparation(chat_tokenizer, tmp_path):
    import datasets
    from transformers import AutoModelForCausalLM
    from trl import DPOConfig, DPOTrainer

    folder, tokenizer = chat_tokenizer
    rows = [rated(f"q{i} a b", [5, 3, 4]) for i in range(6)]
    out = tmp_path / "trl.parquet"
    binarize(write_parquet(tmp_path / "in.parquet", rows), out, format="trl")
    ds = datasets.load_dataset("parquet", data_files=str(out), split="train")
    trainer = DPOTrainer(
        model=AutoModelForCausalLM.from_pretrained(folder),
        args=DPOConfig(
            output_dir=str(tmp_path / "run"),
            report_to=[],
            max_steps=1,
            per_device_train_batch_size=2,
            bf16=False,
            use_cpu=True,
        ),
        train_dataset=ds,
        processing_class=tokenizer,
    )
    prepared = trainer.train_dataset
    assert len(prepared) == 6
    assert {"prompt_ids", "chosen_ids", "rejected_ids"} <= set(prepared.column_names) or {
        "prompt_input_ids",
        "chosen_input_ids",
    } <= set(prepared.column_names)


def test_kto_is_trl_unpaired_preference_deduplicated():
    import datasets
    from trl.data_utils import is_conversational, unpair_preference_dataset

    rows = rows_for_all_pairs()
    trl_pairs, _ = pairs(rows, "trl")
    kto, outcomes = pairs(rows, "kto")
    theirs = unpair_preference_dataset(datasets.Dataset(trl_pairs.select(["prompt", "chosen", "rejected"])))
    seen = {(json.dumps(r["prompt"]), json.dumps(r["completion"])) for r in theirs}
    ours = kto.to_pylist()
    assert all(is_conversational(r) for r in ours)
    got = Counter((json.dumps(r["prompt"]), json.dumps(r["completion"])) for r in ours)
    assert set(got) == seen and max(got.values()) == 1  # TRL's rows, each (prompt, completion) once
    assert sum(outcomes.column("n_pairs").to_pylist()) == kto.num_rows
    # "Repeat.": pairs same>same, same>other, other>same: rows same (True, first), other (False, first)
    labels = {(r["prompt"][0]["content"], r["completion"][0]["content"]): r["label"] for r in ours}
    assert labels["Repeat.", "same"] is True and labels["Repeat.", "other"] is False


def test_kto_keeps_the_first_copy_in_pair_order():
    # pairs (a>b), (a>c), (b>c) of one prompt: rows a+, b-, c-; b's later True copy is a duplicate of b-
    at = kto_order([7, 7, 7], pa.array(["a", "a", "b"]), pa.array(["b", "c", "c"]))
    assert at.tolist() == [0, 1, 3]
    # another prompt with the same texts is another group
    assert kto_order([1, 2], pa.array(["a", "a"]), pa.array(["b", "b"])).tolist() == [0, 1, 2, 3]


def test_kto_binarize_report_counts_the_rows_written(tmp_path):
    out = tmp_path / "kto.parquet"
    report = binarize(
        write_parquet(tmp_path / "in.parquet", rows_for_all_pairs()), out, format="kto", strategy="all-pairs"
    )
    written = pq.read_table(out)
    assert report.rows_out == written.num_rows
    assert written.column("label").to_pylist().count(True) >= 1
    keys = [
        (p, c[0]["content"])
        for p, c in zip(
            written.column("prompt_id").to_pylist(), written.column("completion").to_pylist(), strict=True
        )
    ]
    assert len(keys) == len(set(keys))


# ---------------------------------------------------------------------------------------------- OpenRLHF


def test_openrlhf_margin_is_chosen_minus_rejected_and_chat_template_renders(chat_tokenizer):
    _, tokenizer = chat_tokenizer
    table, _ = pairs(rows_for_all_pairs(), "openrlhf")
    h4, _ = pairs(rows_for_all_pairs(), "h4")
    assert table.column("margin").to_pylist() == [
        c - r
        for c, r in zip(
            h4.column("score_chosen").to_pylist(), h4.column("score_rejected").to_pylist(), strict=True
        )
    ]
    assert min(table.column("margin").to_pylist()) > 0
    # OpenRLHF with --apply_chat_template: prompt rendered with a generation prompt, chosen = the rest
    for r in table.to_pylist():
        prompt = tokenizer.apply_chat_template(r["prompt"], tokenize=False, add_generation_prompt=True)
        full = tokenizer.apply_chat_template(r["prompt"] + r["chosen"], tokenize=False)
        assert full.startswith(prompt) and r["chosen"][0]["content"] in full[len(prompt) :]


# ------------------------------------------------------------------------------------------ LLaMA-Factory


def check_llama_factory_row(row):
    """The documented ShareGPT preference rules: an optional system turn first, then human turns at odd
    positions and gpt turns at even ones, ending with a human turn; chosen and rejected one gpt turn each."""
    turns = row["conversations"]
    if turns and turns[0]["from"] == "system":
        turns = turns[1:]
    assert len(turns) % 2 == 1, turns
    for i, turn in enumerate(turns):
        assert turn["from"] == ("human" if i % 2 == 0 else "gpt"), turns
        assert isinstance(turn["value"], str)
    for side in ("chosen", "rejected"):
        assert row[side]["from"] == "gpt" and isinstance(row[side]["value"], str)


@pytest.mark.parametrize("suffix", ["parquet", "jsonl"])
def test_llama_factory_output_follows_its_documented_schema(tmp_path, suffix):
    import datasets

    (tmp_path / "dataset_info.json").write_text(json.dumps({"other": {"file_name": "x.json"}}))
    out = tmp_path / f"uf_pairs.{suffix}"
    binarize(write_parquet(tmp_path / "in.parquet", rows_for_all_pairs()), out, format="llama-factory")
    info = json.loads((tmp_path / "dataset_info.json").read_text())
    assert info["other"] == {"file_name": "x.json"}  # other entries kept
    entry = info["uf_pairs"]
    assert entry == {
        "file_name": out.name,
        "formatting": "sharegpt",
        "ranking": True,
        "columns": {"messages": "conversations", "chosen": "chosen", "rejected": "rejected"},
    }
    # LLaMA-Factory loads the file named there with datasets, by its extension
    ds = datasets.load_dataset(
        suffix.replace("jsonl", "json"), data_files=str(tmp_path / entry["file_name"]), split="train"
    )
    assert len(ds) == 3  # "Say hi." is a tie
    for row in ds:
        check_llama_factory_row(
            {
                k: row[v]
                for k, v in [
                    ("conversations", "conversations"),
                    ("chosen", "chosen"),
                    ("rejected", "rejected"),
                ]
            }
        )


def test_llama_factory_multi_turn_and_system_turns():
    table, _ = pairs(rows_for_all_pairs(), "llama-factory", strategy="best-vs-worst", prompt_messages=MULTI)
    rows = table.to_pylist()
    assert rows[0]["conversations"] == [
        {"from": "system", "value": "Be brief."},
        {"from": "human", "value": "Hi"},
        {"from": "gpt", "value": "Hello!"},
        {"from": "human", "value": "What is 2+2?"},
    ]
    for row in rows:
        check_llama_factory_row(row)


def test_build_checks_every_format_has_its_schema():
    n = 2
    text = pa.array(["x", "y"])
    score = pa.array([2.0, 1.0])
    for fmt in FORMATS:
        table = build(fmt, source=text, prompt=text, prompt_id=text, chosen=text, rejected=pa.array(["r", "s"]),
                      chosen_model=text, rejected_model=text, chosen_avg_rating=score, rejected_avg_rating=score,
                      chosen_score=score, rejected_score=score)  # fmt: skip
        assert table.schema == SCHEMAS[fmt]
        assert table.num_rows == (2 * n if fmt == "kto" else n)


def test_the_formats_are_documented(tmp_path):
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    for fmt in FORMATS:
        assert f"`{fmt}`" in readme, fmt


@pytest.mark.parametrize("fmt", ["trl", "kto", "openrlhf", "llama-factory"])
def test_a_recipe_writes_every_new_format(tmp_path, fmt):
    from notus_data.recipes.runner import run

    rows = [rated(f"question {i}?", [5, 2, 4]) for i in range(8)]
    out = tmp_path / fmt
    report = run("notus-v1", input=str(write_parquet(tmp_path / "in.parquet", rows)), output=out, plots=False,
                 format=fmt, decontaminate=False, splits="train")  # fmt: skip
    data = pq.read_table(sorted((out / "data").glob("*.parquet")))
    assert data.schema == SCHEMAS[fmt] and report.rows_out == data.num_rows
    assert report.rows_out == (16 if fmt == "kto" else 8)
    assert "README.md" in {p.name for p in out.iterdir()}
