"""The DPO training stage, on the CPU and offline: a tiny Llama and a byte-level BPE tokenizer built here.

Real parts: real TRL DPOTrainer runs, real datasets/pyarrow loading, real pairs from ../shared/data (skipped with
a message where that folder is absent). Nothing is downloaded.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from notus_data.errors import NotusDataError, OptionError, SchemaError
from notus_data.train.config import RECIPES, TrainConfig, resolve_config
from notus_data.train.data import (
    CONVERSATION,
    DataSummary,
    convert_split,
    detect_format,
    eval_rows_for,
    extract_funnel,
    prepare_pairs,
    to_conversational,
)
from notus_data.train.template import ZEPHYR_CHAT_TEMPLATE, prepare_tokenizer, render_zephyr

pytest.importorskip("torch", reason="the train tests need notus-data[train] (torch, transformers, trl, peft)")
pytest.importorskip("trl", reason="the train tests need notus-data[train] (torch, transformers, trl, peft)")

ROOT = Path(__file__).resolve().parents[1]
REAL_PAIRS = ROOT.parent / "shared" / "data" / "ultrafeedback-pairs" / "train_clean.jsonl"
GOOD, BAD = "good yes good", "bad no bad"


def msg(role: str, content: str | None) -> dict:
    return {"content": content, "role": role}


# ------------------------------------------------------------------------------------------------- fixtures


def h4_table(questions: list[str], chosen: list[str], rejected: list[str]) -> pa.Table:
    """Pairs in the h4 format notus-data publishes."""
    rows = [
        {
            "prompt": q,
            "prompt_id": f"{i:04d}",
            "chosen": [msg("user", q), msg("assistant", c)],
            "rejected": [msg("user", q), msg("assistant", r)],
            "messages": [msg("user", q), msg("assistant", c)],
            "score_chosen": 8.0,
            "score_rejected": 3.0,
        }
        for i, (q, c, r) in enumerate(zip(questions, chosen, rejected, strict=True))
    ]
    schema = pa.schema(
        [
            ("prompt", pa.string()),
            ("prompt_id", pa.string()),
            ("chosen", CONVERSATION),
            ("rejected", CONVERSATION),
            ("messages", CONVERSATION),
            ("score_chosen", pa.float64()),
            ("score_rejected", pa.float64()),
        ]
    )
    return pa.Table.from_pylist(rows, schema=schema)


def toy_questions(n: int) -> list[str]:
    animals = ["cat", "dog", "owl", "fox", "elk"]
    return [f"question {i} about the {animals[i % 5]}?" for i in range(n)]


def build_tiny_model(folder: Path, texts: list[str]) -> Path:
    """A 2-layer Llama (hidden 32) and a byte-level BPE tokenizer trained on ``texts`` (the product's builder)."""
    from notus_data.train.tiny import make_tiny_model

    return make_tiny_model(folder, texts=texts)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    texts = [f"{q} {GOOD} {BAD}" for q in toy_questions(50)]
    if REAL_PAIRS.is_file():
        texts += [
            json.loads(line)["chosen"][:2000] for line in REAL_PAIRS.open(encoding="utf-8").readlines()[:200]
        ]
    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"), texts)


@pytest.fixture(scope="module")
def toy_pairs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 h4 pairs where chosen and rejected differ plainly."""
    path = tmp_path_factory.mktemp("toy") / "pairs.parquet"
    qs = toy_questions(40)
    pq.write_table(h4_table(qs, [GOOD] * 40, [BAD] * 40), path)
    return path


TINY = dict(
    per_device_train_batch_size=4,
    per_device_eval_batch_size=4,
    global_batch_size=4,
    max_length=96,
    max_prompt_length=48,
    warmup_ratio=0.0,
    logging_steps=1,
)


@pytest.fixture(scope="module")
def trained(tiny_model: Path, toy_pairs: Path, tmp_path_factory: pytest.TempPathFactory):
    """One real DPO run: 8 steps at a high learning rate on the toy pairs."""
    from notus_data.train import train

    out = tmp_path_factory.mktemp("run") / "dpo"
    return train(toy_pairs, tiny_model, output_dir=out, max_steps=8, learning_rate=1e-2, **TINY)


# --------------------------------------------------------------------------------------------------- recipes


def test_recipes_hold_the_published_values():
    notus, zephyr = RECIPES["notus-v1"], RECIPES["zephyr"]
    assert (notus.beta, notus.learning_rate, notus.lr_scheduler_type, notus.warmup_ratio) == (
        0.1,
        5e-7,
        "linear",
        0.1,
    )
    assert (
        notus.num_train_epochs,
        notus.optim,
        notus.per_device_train_batch_size,
        notus.global_batch_size,
    ) == (
        3.0,
        "rmsprop",
        8,
        64,
    )
    assert (notus.max_length, notus.max_prompt_length, notus.seed, notus.eval_size) == (1024, 512, 42, 2000)
    assert (notus.lora_r, notus.lora_alpha, notus.lora_dropout) == (64, 16, 0.1)
    assert notus.target_modules == ["q_proj", "k_proj", "v_proj", "o_proj"]
    assert (zephyr.beta, zephyr.num_train_epochs, zephyr.optim, zephyr.lr_scheduler_type) == (
        0.01,
        1.0,
        "adamw_torch",
        "cosine",
    )
    assert zephyr.learning_rate == notus.learning_rate and zephyr.max_prompt_length == 512


def test_every_field_has_help_text():
    import dataclasses

    missing = [f.name for f in dataclasses.fields(TrainConfig) if not f.metadata.get("help")]
    assert missing == []


def test_resolve_config_overrides_yaml_and_errors(tmp_path: Path):
    assert resolve_config("zephyr", beta=0.05).beta == 0.05
    assert resolve_config("zephyr", beta=None).beta == 0.01  # None = keep the recipe's value
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        "recipe: zephyr\nlearning_rate: 1e-6\nlora: true\nlora_target_modules: [q_proj, v_proj]\n"
    )
    config = resolve_config(recipe)
    assert (config.beta, config.learning_rate, config.lora, config.lora_target_modules) == (
        0.01,
        1e-6,
        True,
        "q_proj,v_proj",
    )
    with pytest.raises(OptionError, match="unknown training option.*betta"):
        resolve_config("notus-v1", betta=0.1)
    recipe.write_text("max_prompt_lenght: 100\n")
    with pytest.raises(OptionError, match="max_prompt_lenght"):
        resolve_config(recipe)
    with pytest.raises(OptionError, match="neither a known recipe"):
        resolve_config("notus-v2")
    with pytest.raises(OptionError, match=r"max_length=256.*greater than max_prompt_length=512"):
        TrainConfig(max_length=256)
    with pytest.raises(OptionError, match=r"global_batch_size=10.*multiple of per_device_train_batch_size=8"):
        TrainConfig(global_batch_size=10)


def test_importing_the_stage_does_not_import_torch():
    code = (
        "import sys, notus_data, notus_data.train, notus_data.cli.train; "
        "notus_data.train.resolve_config('zephyr'); "
        "print('torch' in sys.modules, 'trl' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.split() == ["False", "False"]


# ---------------------------------------------------------------------------------------------------- data


def _expected_pair(q: str, c: str, r: str) -> dict:
    return {"prompt": [msg("user", q)], "chosen": [msg("assistant", c)], "rejected": [msg("assistant", r)]}


def test_every_published_format_converts_to_the_same_pairs():
    qs, cs, rs = ["2+2?", "Capital of France?"], ["4", "Paris"], ["5", "Lyon"]
    h4 = h4_table(qs, cs, rs)
    cleaned = pa.table(
        {
            "source": ["a", "b"],
            "prompt": qs,
            "chosen": h4.column("chosen"),
            "chosen-rating": [5.0, 4.5],
            "rejected": h4.column("rejected"),
            "rejected-rating": [1.0, 2.0],
        }
    )
    notus = pa.table(
        {"instruction": qs, "chosen_response": cs, "rejected_response": rs, "chosen_score": [5.0, 4.0]}
    )
    standard = pa.table({"prompt": qs, "chosen": cs, "rejected": rs})
    trl = pa.table(
        {
            "prompt": pa.array([[msg("user", q)] for q in qs], CONVERSATION),
            "chosen": pa.array([[msg("assistant", c)] for c in cs], CONVERSATION),
            "rejected": pa.array([[msg("assistant", r)] for r in rs], CONVERSATION),
        }
    )
    expected = [_expected_pair(*t) for t in zip(qs, cs, rs, strict=True)]
    for table, name in (
        (h4, "h4"),
        (cleaned, "cleaned"),
        (notus, "notus"),
        (standard, "standard"),
        (trl, "trl"),
    ):
        assert detect_format(table.schema) == name
        pairs, dropped = to_conversational(table, name)
        assert pairs.select(["prompt", "chosen", "rejected"]).to_pylist() == expected, name
        assert pairs.column("row_index").to_pylist() == [0, 1] and dropped == {}


def test_multi_turn_prompt_keeps_all_shared_turns():
    turns = [msg("user", "hi"), msg("assistant", "hello"), msg("user", "and 2+2?")]
    table = pa.table(
        {
            "chosen": pa.array([turns + [msg("assistant", "4")]], CONVERSATION),
            "rejected": pa.array([turns + [msg("assistant", "5")]], CONVERSATION),
        }
    )
    pairs, _ = to_conversational(table, detect_format(table.schema))
    assert pairs.column("prompt").to_pylist() == [turns]
    assert pairs.column("rejected").to_pylist() == [[msg("assistant", "5")]]


def test_rows_that_are_not_pairs_are_dropped_with_their_reason():
    good = [msg("user", "q"), msg("assistant", "a")]
    chosen = [good, None, [msg("user", "q"), msg("user", "a")], [msg("assistant", "a")], good, good]
    rejected = [
        [msg("user", "q"), msg("assistant", "b")],
        good,
        [msg("user", "q"), msg("assistant", "b")],
        [msg("assistant", "b")],
        [msg("user", "other q"), msg("assistant", "b")],
        [msg("user", "q"), msg("assistant", None)],
    ]
    table = pa.table({"chosen": pa.array(chosen, CONVERSATION), "rejected": pa.array(rejected, CONVERSATION)})
    pairs, dropped = to_conversational(table, "conversational")
    assert pairs.column("row_index").to_pylist() == [0]
    assert {k: v.tolist() for k, v in dropped.items()} == {
        "empty_conversation": [1],
        "last_turn_not_assistant": [2],
        "no_prompt": [3],
        "prompt_mismatch": [4],
        "null_text": [5],
    }


def test_unknown_columns_raise_a_schema_error_naming_them():
    with pytest.raises(
        SchemaError, match=r"cannot tell the pair format from the columns \['answer', 'question'\]"
    ):
        detect_format(pa.schema([("question", pa.string()), ("answer", pa.string())]))


def test_eval_split_rule():
    assert [eval_rows_for(n, 2000) for n in (63_000, 20_000, 5_000, 50, 9)] == [2000, 2000, 500, 5, 0]


def test_hub_ready_folder_uses_its_test_split_and_card_funnel(tiny_model: Path, tmp_path: Path):
    from transformers import AutoTokenizer

    folder = tmp_path / "pairs"
    (folder / "data").mkdir(parents=True)
    qs = toy_questions(30)
    pq.write_table(
        h4_table(qs[:24], [GOOD] * 24, [BAD] * 24), folder / "data" / "train-00000-of-00001.parquet"
    )
    pq.write_table(h4_table(qs[24:], [GOOD] * 6, [BAD] * 6), folder / "data" / "test-00000-of-00001.parquet")
    (folder / "README.md").write_text(
        "---\nlicense: mit\n---\n# Pairs\n\n## Data funnel\n\n| step | rows |\n|---|---|\n| loaded | 30 |\n\n"
        "## License\nMIT\n"
    )
    tokenizer = prepare_tokenizer(AutoTokenizer.from_pretrained(tiny_model))
    prepared = prepare_pairs(folder, tokenizer, max_prompt_length=512)
    summary = prepared.summary
    assert (prepared.train.num_rows, prepared.eval.num_rows) == (24, 6)
    assert summary.splits == {"train": "train", "test": "test"} and "'test' split" in summary.eval_rule
    from notus_data.train.data import card_funnel

    no_eval = prepare_pairs(folder, tokenizer, max_prompt_length=512, eval_size=0)
    assert no_eval.eval is None and no_eval.summary.rows_in == {"train": 24}
    assert "'test' split is not read" in no_eval.summary.eval_rule
    assert card_funnel(folder) == "## Data funnel\n\n| step | rows |\n|---|---|\n| loaded | 30 |"


def _long_prompt_pairs(tmp_path: Path) -> tuple[Path, list[str]]:
    qs = toy_questions(20)
    qs[3] = qs[7] = " ".join(["about the owl"] * 40) + " so which bird hoots?"
    path = tmp_path / "pairs.jsonl"
    pa_rows = h4_table(qs, [GOOD] * 20, [BAD] * 20).to_pylist()
    path.write_text("".join(json.dumps(r) + "\n" for r in pa_rows))
    return path, qs


def test_long_prompts_are_truncated_keeping_their_end(tiny_model: Path, tmp_path: Path):
    from transformers import AutoTokenizer

    from notus_data.train.prompts import prompt_token_lengths

    tokenizer = prepare_tokenizer(AutoTokenizer.from_pretrained(tiny_model))
    path, qs = _long_prompt_pairs(tmp_path)
    prepared = prepare_pairs(path, tokenizer, max_prompt_length=40, eval_size=0)
    summary = prepared.summary
    assert summary.dropped == {} and summary.truncated_by_split == {"train": 2}
    assert summary.examples["prompt_truncated"] == ["train row 3", "train row 7"]
    assert prepared.train.num_rows == summary.train_rows == 20
    lengths = prompt_token_lengths(prepared.train, tokenizer)
    assert lengths.max() <= 40 and lengths[3] >= 30  # cut to fit, not emptied
    cut = prepared.train[3]["prompt"][-1]["content"]
    assert cut.endswith("so which bird hoots?") and len(cut) < len(qs[3])
    assert prepared.train[4]["prompt"][-1]["content"] == qs[4]  # short prompts are untouched
    assert summary.to_dict()["prompts_truncated"] == {"train": 2}


def test_long_prompts_can_be_dropped_and_counted(tiny_model: Path, tmp_path: Path):
    from transformers import AutoTokenizer

    tokenizer = prepare_tokenizer(AutoTokenizer.from_pretrained(tiny_model))
    path, _ = _long_prompt_pairs(tmp_path)
    prepared = prepare_pairs(path, tokenizer, max_prompt_length=40, long_prompts="drop", eval_size=0)
    summary = prepared.summary
    assert summary.dropped == {"prompt_too_long": 2}
    assert summary.examples["prompt_too_long"] == ["train row 3", "train row 7"]
    assert prepared.train.num_rows == summary.train_rows == 18 and prepared.eval is None
    assert summary.rows_in["train"] == summary.train_rows + summary.eval_rows + sum(summary.dropped.values())


def test_a_prompt_that_cannot_fit_is_not_truncated(tiny_model: Path):
    from transformers import AutoTokenizer

    from notus_data.train.prompts import truncate_prompt

    tokenizer = prepare_tokenizer(AutoTokenizer.from_pretrained(tiny_model))
    # The Zephyr template around an empty user turn is more than 5 tokens: nothing fits, the row is dropped.
    assert truncate_prompt([{"role": "user", "content": "a long question " * 20}], tokenizer, 5) is None
    assert truncate_prompt([{"role": "assistant", "content": "no user turn"}], tokenizer, 50) is None
    turns = [{"role": "user", "content": "first turn kept whole"}, {"role": "assistant", "content": "ok"}]
    fitted = truncate_prompt(turns + [{"role": "user", "content": "owl " * 60 + "end?"}], tokenizer, 60)
    assert fitted is not None and fitted[:2] == turns and fitted[2]["content"].endswith("end?")


def test_missing_local_dataset_is_a_clear_error(tiny_model: Path):
    from transformers import AutoTokenizer

    tokenizer = prepare_tokenizer(AutoTokenizer.from_pretrained(tiny_model))
    with pytest.raises(NotusDataError, match=r"'\./nowhere/pairs\.parquet': no such file or folder"):
        prepare_pairs("./nowhere/pairs.parquet", tokenizer, max_prompt_length=512)


def test_missing_model_folder_is_a_clear_error(toy_pairs: Path, tmp_path: Path):
    from notus_data.train import train

    with pytest.raises(NotusDataError, match=r"model '.*/no/model': no such folder"):
        train(toy_pairs, tmp_path / "no" / "model", output_dir=tmp_path / "out")


def test_real_pairs_convert_and_split_like_notus(tiny_model: Path):
    if not REAL_PAIRS.is_file():
        pytest.skip(f"real pairs not found at {REAL_PAIRS} (the team's shared data folder)")
    import datasets

    summary = DataSummary(source=str(REAL_PAIRS))
    pairs = convert_split(datasets.Dataset.from_json(str(REAL_PAIRS)), "train", summary)
    assert summary.format == "standard" and pairs.num_rows == 1000 and summary.dropped == {}
    first = json.loads(REAL_PAIRS.open(encoding="utf-8").readline())
    assert pairs[0]["prompt"] == [msg("user", first["prompt"])]
    assert pairs[0]["chosen"] == [msg("assistant", first["chosen"])]
    # 10% held out (min(2000, 1000 // 10)), with the seed: the same rows every time.
    a = pairs.train_test_split(test_size=eval_rows_for(pairs.num_rows, 2000), seed=42)["test"]["row_index"]
    b = pairs.train_test_split(test_size=eval_rows_for(pairs.num_rows, 2000), seed=42)["test"]["row_index"]
    assert len(a) == 100 and a == b


def test_extract_funnel_stops_at_the_next_heading_of_its_level():
    card = "# T\n## Funnel\nrows\n### detail\nmore\n## Next\nno"
    assert extract_funnel(card) == "## Funnel\nrows\n### detail\nmore"
    assert extract_funnel("# T\nno section") is None


# ------------------------------------------------------------------------------------------------ template


def test_zephyr_template_renders_the_notus_prompt_exactly(tiny_model: Path):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    assert not tokenizer.chat_template
    prepare_tokenizer(tokenizer)
    prompt = [msg("user", "What is 2+2?")]
    expected = "<|system|>\n</s>\n<|user|>\nWhat is 2+2?</s>\n<|assistant|>\n"
    assert tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True) == expected
    assert render_zephyr(prompt, add_generation_prompt=True) == expected
    full = tokenizer.apply_chat_template(prompt + [msg("assistant", "4")], tokenize=False)
    assert full == expected + "4</s>\n"
    with pytest.raises(OptionError, match="no chat template"):
        prepare_tokenizer(AutoTokenizer.from_pretrained(tiny_model), "model")


# ------------------------------------------------------------------------------------------------ training


def test_trainer_sees_the_zephyr_prompt(trained, tiny_model: Path):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(trained.output_dir)
    assert (
        tokenizer.chat_template == ZEPHYR_CHAT_TEMPLATE
    )  # saved with the model, so inference matches training
    question = toy_questions(40)[0]
    ids = tokenizer.apply_chat_template([msg("user", question)], tokenize=True, add_generation_prompt=True)
    ids = ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids
    assert tokenizer.decode(ids) == f"<|system|>\n</s>\n<|user|>\n{question}</s>\n<|assistant|>\n"


def test_first_step_is_ln2_with_zero_rewards_and_metrics_are_logged(trained):
    first = trained.metrics["train_first_log"]
    assert first["step"] == 1
    assert first["loss"] == pytest.approx(math.log(2), abs=1e-6)
    assert first["rewards/chosen"] == pytest.approx(0.0, abs=1e-6)
    assert first["rewards/rejected"] == pytest.approx(0.0, abs=1e-6)
    for key in (
        "rewards/accuracies",
        "rewards/margins",
        "logps/chosen",
        "logps/rejected",
        "tokens_per_second",
    ):
        assert key in first and key in trained.metrics["train_last_log"]
    assert "eval_rewards/accuracies" in trained.metrics["eval"]


def test_reward_accuracy_and_margin_rise_on_plain_pairs(trained):
    first, last = trained.metrics["train_first_log"], trained.metrics["train_last_log"]
    assert last["step"] == 8
    assert first["rewards/margins"] == pytest.approx(0.0, abs=1e-6) and last["rewards/margins"] > 1.0
    assert first["rewards/accuracies"] == 0.0 and last["rewards/accuracies"] == 1.0
    assert last["loss"] < 0.3
    assert trained.metrics["eval"]["eval_rewards/accuracies"] == 1.0
    assert trained.metrics["eval"]["eval_rewards/margins"] > 1.0


def test_report_accounts_for_every_row_and_measures_the_run(trained):
    report = json.loads(trained.report_json.read_text())
    data = report["data"]
    assert data["format"] == "h4" and data["rows_in"] == {"train": 40}
    assert (data["train_rows"], data["eval_rows"], data["dropped"]) == (36, 4, {})
    assert "4 rows held out" in data["eval_rule"]
    perf = report["performance"]
    assert perf["tokens"] > 0 and perf["tokens_per_second"] > 0 and perf["peak_memory_bytes"] > 0
    assert 0 < perf["step_seconds"] <= perf["train_seconds"]
    assert perf["peak_memory_kind"] == "peak RSS"
    run = report["run"]
    assert (run["device"], run["bf16"], run["gradient_checkpointing"], run["global_step"]) == (
        "cpu",
        False,
        False,
        8,
    )
    assert report["recipe"] == "notus-v1" and report["config"]["learning_rate"] == 1e-2
    md = trained.report_md.read_text()
    assert "tokens/s" in md and "| rewards/accuracies |" in md and "notus-v1" in md


def test_report_page_has_one_funnel_heading():
    from notus_data.train.report import render_markdown

    card = "## Data funnel\n\n| step | rows |\n|---|---|\n| loaded | 30 |\n### by source\n| a | 1 |"
    md = render_markdown({"dataset_card_funnel": card, "data": {"prompts_truncated": {"train": 3}}})
    headings = [line for line in md.splitlines() if line.startswith("#") and "funnel" in line.lower()]
    assert headings == ["## Dataset card funnel"]
    assert 'From the dataset card\'s section "Data funnel":' in md and "### by source" in md
    assert "truncated to fit (last user turn cut from its start): train 3" in md
    assert "- Review decisions: none applied" in md


def test_report_page_says_which_review_decisions_were_applied():
    from notus_data.card.review import review_sentence
    from notus_data.train.report import render_markdown

    counts = {"decisions": 4, "decisions_matched": 4, "confirmed": 1, "score_corrected": 2, "discarded": 1}
    pulled = {
        "command": "review pull",
        "info": {"level": "prompt", "agreement": {"verdict": {"items": 3, "reviewers": 2, "share_agreeing": 0.6667,
                                                            "krippendorff_alpha": 0.41, "cohen_kappa": 0.4}}},
    }  # fmt: skip
    card = f"## Funnel\n\n| step | rows |\n\n{review_sentence(counts, pulled)}\n"
    md = render_markdown({"dataset_card_funnel": card, "data": {}})
    line = next(x for x in md.splitlines() if x.startswith("- Review decisions applied before scoring"))
    assert "4 decisions" in line and "2 score corrected" in line and "1 excluded from pairing" in line
    assert "Reviewed by 2 reviewers in a prompt-level Argilla review" in line
    assert "67% of the 3 completions answered by two or more agree" in line and "Cohen's kappa 0.40" in line
    assert "not known" in render_markdown({"data": {}})


def test_saved_model_loads_back_and_generates(trained, tiny_model: Path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(trained.output_dir)
    tokenizer = AutoTokenizer.from_pretrained(trained.output_dir)
    before = AutoModelForCausalLM.from_pretrained(tiny_model)
    assert not torch.equal(model.lm_head.weight, before.lm_head.weight)  # it trained
    text = tokenizer.apply_chat_template(
        [msg("user", toy_questions(1)[0])], tokenize=False, add_generation_prompt=True
    )
    inputs = tokenizer(text, return_tensors="pt", add_special_tokens=False)
    out = model.generate(**inputs, max_new_tokens=6, do_sample=False, pad_token_id=tokenizer.eos_token_id)
    assert out.shape[1] > inputs["input_ids"].shape[1]

    # The trained policy prefers the chosen answer over the rejected one.
    def logp(answer: str) -> float:
        ids = tokenizer(text + answer + "</s>\n", return_tensors="pt", add_special_tokens=False)["input_ids"]
        n_prompt = inputs["input_ids"].shape[1]
        with torch.no_grad():
            logits = model(ids).logits[0, n_prompt - 1 : -1]
        return torch.log_softmax(logits, -1).gather(1, ids[0, n_prompt:, None]).sum().item()

    assert logp(GOOD) > logp(BAD)
    assert (trained.output_dir / "checkpoint-8").is_dir()


def test_resume_continues_from_the_last_checkpoint(tiny_model: Path, toy_pairs: Path, tmp_path: Path):
    from notus_data.train import train

    out = tmp_path / "dpo"
    options = dict(TINY, learning_rate=1e-2, save_steps=2, eval_size=0)
    first = train(toy_pairs, tiny_model, output_dir=out, max_steps=2, **options)
    assert first.report["run"]["global_step"] == 2 and (out / "checkpoint-2").is_dir()
    with pytest.raises(OptionError, match="already holds checkpoints.*--resume"):
        train(toy_pairs, tiny_model, output_dir=out, max_steps=4, **options)
    with pytest.raises(OptionError, match="beta: was 0.1, now 0.5"):
        train(toy_pairs, tiny_model, output_dir=out, resume=True, max_steps=4, **dict(options, beta=0.5))
    second = train(toy_pairs, tiny_model, output_dir=out, resume=True, max_steps=4, **options)
    assert second.report["run"]["global_step"] == 4
    assert Path(second.report["run"]["resumed_from"]).name == "checkpoint-2"
    state = json.loads((out / "trainer_state.json").read_text())
    steps = [h["step"] for h in state["log_history"] if "loss" in h]
    assert steps == [1, 2, 3, 4]  # the first run's logs come back with the checkpoint
    assert (out / "checkpoint-4").is_dir() and not (out / "checkpoint-2").is_dir()  # save_total_limit=1
    with pytest.raises(OptionError, match="no checkpoint-N folder"):
        train(toy_pairs, tiny_model, output_dir=tmp_path / "empty", resume=True, **options)


def test_lora_trains_an_adapter(tiny_model: Path, toy_pairs: Path, tmp_path: Path):
    from notus_data.train import train

    out = tmp_path / "lora"
    result = train(
        toy_pairs,
        tiny_model,
        output_dir=out,
        max_steps=2,
        lora=True,
        lora_r=4,
        learning_rate=1e-2,
        eval_size=0,
        **TINY,
    )
    config = json.loads((out / "adapter_config.json").read_text())
    assert (config["r"], config["lora_alpha"]) == (4, 16)
    assert sorted(config["target_modules"]) == ["k_proj", "o_proj", "q_proj", "v_proj"]
    assert result.report["run"]["saved"] == "LoRA adapter"
    assert result.metrics["train_first_log"]["loss"] == pytest.approx(math.log(2), abs=1e-6)


def test_same_seed_gives_the_same_weights(tiny_model: Path, toy_pairs: Path, tmp_path: Path):
    from safetensors.torch import load_file

    from notus_data.train import train

    options = dict(TINY, max_steps=2, learning_rate=1e-2, eval_size=0)
    for name in ("a", "b"):
        train(toy_pairs, tiny_model, output_dir=tmp_path / name, **options)
    a, b = (load_file(tmp_path / name / "model.safetensors") for name in ("a", "b"))
    assert a.keys() == b.keys() and all(a[k].equal(b[k]) for k in a)
    initial = load_file(tiny_model / "model.safetensors")
    assert not all(a[k].equal(initial[k]) for k in a)


# ---------------------------------------------------------------------------------------------------- CLI


def test_cli_trains_end_to_end_on_an_h4_parquet(tiny_model: Path, tmp_path: Path):
    from click.testing import CliRunner

    from notus_data.cli.train import train_command

    if REAL_PAIRS.is_file():
        rows = [json.loads(line) for line in REAL_PAIRS.open(encoding="utf-8").readlines()[:24]]
        table = h4_table(
            [r["prompt"] for r in rows], [r["chosen"] for r in rows], [r["rejected"] for r in rows]
        )
    else:
        table = h4_table(toy_questions(24), [GOOD] * 24, [BAD] * 24)
    pairs = tmp_path / "h4.parquet"
    pq.write_table(table, pairs)
    out = tmp_path / "cli-run"
    args = [
        "--dataset",
        str(pairs),
        "--model",
        str(tiny_model),
        "--output-dir",
        str(out),
        "--recipe",
        "zephyr",
    ]
    args += ["--max-steps", "2", "--per-device-train-batch-size", "2", "--global-batch-size", "4"]
    args += ["--max-length", "256", "--max-prompt-length", "128", "--logging-steps", "1"]
    result = CliRunner().invoke(train_command, args)
    assert result.exit_code == 0, result.output
    assert "tokens/s" in result.output and "training_report.md" in result.output
    report = json.loads((out / "training_report.json").read_text())
    # zephyr's values, except what the command line set
    assert (report["recipe"], report["config"]["beta"], report["config"]["optim"]) == (
        "zephyr",
        0.01,
        "adamw_torch",
    )
    assert report["config"]["max_length"] == 256 and report["run"]["gradient_accumulation_steps"] == 2
    data = report["data"]
    dropped = sum(v["rows"] for v in data["dropped"].values())
    assert data["rows_in"]["train"] == 24 == data["train_rows"] + data["eval_rows"] + dropped
    assert (out / "model.safetensors").is_file()

    bad = CliRunner().invoke(train_command, args[:6] + ["--global-batch-size", "3"])
    assert bad.exit_code == 1
    assert (
        bad.output.strip().splitlines()[-1].startswith("Error: invalid training options: global_batch_size=3")
    )


def test_train_command_is_registered():
    from notus_data.cli import COMMANDS

    assert COMMANDS.get("train", ())[:2] == ("notus_data.cli.train", "train_command")
