"""Preference pairs for DPO: load what notus-data publishes and convert it to TRL's conversational format.

In: a parquet/jsonl/json file, a folder (parquet shards per split such as ``data/train-*.parquet``, or a
``save_to_disk`` folder) or a Hub id, in one of these formats (detected from the columns):

- ``h4`` / ``cleaned`` / ``conversational``: ``chosen`` and ``rejected`` are message lists
  (``list<struct<content, role>>``) that share every turn but the last, an assistant turn. The prompt is those
  shared turns (any ``prompt`` string column is ignored).
- ``notus``: flat strings ``instruction``, ``chosen_response``, ``rejected_response``.
- ``standard``: flat strings ``prompt``, ``chosen``, ``rejected`` (as in trl-lib/ultrafeedback_binarized).
- ``trl``: ``prompt`` is a message list and ``chosen`` / ``rejected`` hold the assistant turns.

Out: a :class:`datasets.Dataset` with ``prompt``, ``chosen``, ``rejected`` as message lists, e.g.
``prompt=[{"content": "Hi", "role": "user"}]``, ``chosen=[{"content": "Hello", "role": "assistant"}]``.
Rows that cannot become a pair are dropped and counted by reason with example row numbers (:class:`DataSummary`);
every input row is either in the output or counted.

Conversion runs on Arrow columns (offsets and flattened values), never a Python loop over rows.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from notus_data.errors import NotusDataError, SchemaError

MESSAGE = pa.struct([("content", pa.string()), ("role", pa.string())])
CONVERSATION = pa.list_(MESSAGE)
TRAIN_SPLITS = ("train", "train_prefs")
TEST_SPLITS = ("test", "test_prefs", "validation", "eval")
MAX_EXAMPLES = 5

#: Columns each format needs; only these are read.
FORMAT_COLUMNS = {
    "notus": ("instruction", "chosen_response", "rejected_response"),
    "standard": ("prompt", "chosen", "rejected"),
    "trl": ("prompt", "chosen", "rejected"),
    "h4": ("chosen", "rejected"),
    "cleaned": ("chosen", "rejected"),
    "conversational": ("chosen", "rejected"),
}

#: Why a row was dropped, in the words of the report.
REASONS = {
    "empty_conversation": "chosen or rejected is null or has no turns",
    "last_turn_not_assistant": "the last turn of chosen or rejected is not an assistant turn",
    "no_prompt": "no prompt: empty prompt text, or chosen/rejected hold only the response",
    "prompt_mismatch": "chosen and rejected do not share the same prompt turns",
    "null_text": "a prompt or response text is null",
    "prompt_too_long": "the rendered prompt is longer than max_prompt_length tokens",
    "beyond_max_train_rows": "not used: beyond max_train_rows",
    "prompt_fills_max_length": "dropped by TRL: the tokenized prompt alone fills max_length",
}


@dataclass
class DataSummary:
    """Where each input row went. ``rows_in`` = ``train_rows + eval_rows + sum(dropped.values())``."""

    source: str
    format: str = ""
    splits: dict[str, str] = field(default_factory=dict)
    eval_rule: str = ""
    rows_in: dict[str, int] = field(default_factory=dict)
    dropped: Counter = field(default_factory=Counter)
    dropped_by_split: dict[str, Counter] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)
    train_rows: int = 0
    eval_rows: int = 0

    def drop(self, split: str, reason: str, count: int, rows: list[int] | np.ndarray = ()) -> None:
        """Count ``count`` rows of ``split`` dropped for ``reason``; keep a few row numbers as examples."""
        if count <= 0:
            return
        self.dropped[reason] += int(count)
        self.dropped_by_split.setdefault(split, Counter())[reason] += int(count)
        kept = self.examples.setdefault(reason, [])
        for row in list(rows)[: max(0, MAX_EXAMPLES - len(kept))]:
            kept.append(f"{split} row {int(row)}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "format": self.format,
            "splits": dict(self.splits),
            "eval_rule": self.eval_rule,
            "rows_in": dict(self.rows_in),
            "train_rows": self.train_rows,
            "eval_rows": self.eval_rows,
            "dropped": {k: {"rows": v, "why": REASONS.get(k, k)} for k, v in sorted(self.dropped.items())},
            "dropped_by_split": {s: dict(sorted(c.items())) for s, c in self.dropped_by_split.items()},
            "examples": {k: list(v) for k, v in sorted(self.examples.items())},
        }


# --------------------------------------------------------------------------------------------------- loading


@dataclass
class PairSource:
    """The raw splits of a pair dataset: ``train`` and, when the dataset has one, ``test``."""

    location: str
    local: bool
    train: Any
    test: Any | None
    split_names: dict[str, str]


HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


def load_pairs(dataset: str | Path, *, revision: str | None = None) -> PairSource:
    """Load a pair dataset from a local file or folder, or from the Hub.

    A ``.parquet``/``.jsonl``/``.json`` file is one ``train`` split. A folder is read with
    :func:`datasets.load_from_disk` when it was written by ``save_to_disk``, else with
    :func:`datasets.load_dataset` (which finds ``data/train-*.parquet`` and ``data/test-*.parquet``). Anything else
    shaped like ``owner/name`` is a Hub id. The train split is ``train`` (or ``train_prefs``, or the only split);
    the test split is ``test``/``test_prefs``/``validation``/``eval`` when present.
    """
    import datasets

    text = str(dataset)
    path = Path(text).expanduser()
    local = path.exists()
    try:
        if local and path.is_file():
            builder = {".parquet": "parquet", ".jsonl": "json", ".json": "json"}.get(path.suffix.lower())
            if builder is None:
                raise SchemaError(
                    f"{path}: unsupported file type {path.suffix!r}; use .parquet, .jsonl or .json"
                )
            loaded = datasets.load_dataset(builder, data_files={"train": str(path)})
        elif local:
            if (path / "dataset_dict.json").exists() or (path / "state.json").exists():
                loaded = datasets.load_from_disk(str(path))
            else:
                loaded = datasets.load_dataset(str(path))
        else:
            if not HUB_ID.match(text) or text.endswith((".parquet", ".jsonl", ".json")):
                raise NotusDataError(f"dataset {text!r}: no such file or folder")
            loaded = datasets.load_dataset(text, revision=revision)
    except NotusDataError:
        raise
    except (
        Exception
    ) as exc:  # datasets raises many types; the user needs the source and the cause on one line
        where = "local dataset" if local else "Hub dataset (no local file or folder has that name)"
        raise NotusDataError(f"could not load {where} {text!r}: {type(exc).__name__}: {exc}") from exc

    if isinstance(loaded, datasets.Dataset):
        loaded = datasets.DatasetDict({"train": loaded})
    names = list(loaded.keys())
    train_name = next((s for s in TRAIN_SPLITS if s in loaded), names[0] if len(names) == 1 else None)
    if train_name is None:
        raise SchemaError(
            f"dataset {text!r} has splits {names} but none named {' or '.join(TRAIN_SPLITS)}; "
            "rename the training split to 'train'"
        )
    test_name = next((s for s in TEST_SPLITS if s in loaded and s != train_name), None)
    split_names = {"train": train_name}
    if test_name:
        split_names["test"] = test_name
    return PairSource(
        location=text,
        local=local,
        train=loaded[train_name],
        test=loaded[test_name] if test_name else None,
        split_names=split_names,
    )


# ------------------------------------------------------------------------------------------------ conversion


def detect_format(schema: pa.Schema, where: str = "dataset") -> str:
    """Name the pair format of a table from its columns (see the module docstring).

    >>> detect_format(pa.schema([("instruction", pa.string()), ("chosen_response", pa.string()),
    ...                          ("rejected_response", pa.string())]))
    'notus'
    >>> detect_format(pa.schema([("prompt", pa.string()), ("chosen", CONVERSATION), ("rejected", CONVERSATION),
    ...                          ("messages", CONVERSATION)]))
    'h4'
    """
    names = set(schema.names)

    def is_list(name: str) -> bool:
        return name in names and (
            pa.types.is_list(schema.field(name).type) or pa.types.is_large_list(schema.field(name).type)
        )

    def is_text(name: str) -> bool:
        return name in names and (
            pa.types.is_string(schema.field(name).type) or pa.types.is_large_string(schema.field(name).type)
        )

    if {"instruction", "chosen_response", "rejected_response"} <= names:
        return "notus"
    if is_list("chosen") and is_list("rejected"):
        if is_list("prompt"):
            return "trl"
        if "chosen-rating" in names:
            return "cleaned"
        if "messages" in names or "score_chosen" in names:
            return "h4"
        return "conversational"
    if is_text("prompt") and is_text("chosen") and is_text("rejected"):
        return "standard"
    raise SchemaError(
        f"{where}: cannot tell the pair format from the columns {sorted(names)}. Expected one of: "
        "h4/cleaned (chosen and rejected as message lists list<struct<content, role>>), "
        "notus (instruction, chosen_response, rejected_response), "
        "standard (prompt, chosen, rejected as strings), "
        "trl (prompt, chosen, rejected as message lists). Publish the pairs with notus-data or rename the columns."
    )


def _messages(flat: pa.Array, column: str) -> pa.StructArray:
    """Flattened turns as ``struct<content: string, role: string>`` (other fields dropped)."""
    if not pa.types.is_struct(flat.type) or not {"content", "role"} <= {f.name for f in flat.type}:
        raise SchemaError(
            f"column {column!r}: expected a list of messages with 'content' and 'role', got {flat.type}"
        )
    content = flat.field("content").cast(pa.string())
    role = flat.field("role").cast(pa.string())
    return pa.StructArray.from_arrays([content, role], names=["content", "role"])


def _conversation(column: pa.ChunkedArray | pa.Array, name: str) -> tuple[np.ndarray, pa.StructArray]:
    """(turns per row, flattened turns) of a message-list column; null rows have 0 turns."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    lengths = pc.list_value_length(array).fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
    return lengths, _messages(pc.list_flatten(array), name)


def _offsets(lengths: np.ndarray) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)


def _single_turns(text: pa.Array, role: str) -> pa.ListArray:
    """One-turn message lists from a string column."""
    n = len(text)
    roles = pa.repeat(pa.scalar(role, pa.string()), n)
    turns = pa.StructArray.from_arrays([text.cast(pa.string()), roles], names=["content", "role"])
    return pa.ListArray.from_arrays(pa.array(np.arange(n + 1, dtype=np.int32)), turns)


def _null_mask(array: pa.Array) -> np.ndarray:
    return array.is_null().to_numpy(zero_copy_only=False)


def _texts_equal(a: pa.Array, b: pa.Array) -> np.ndarray:
    eq = pc.equal(a, b).fill_null(False).to_numpy(zero_copy_only=False)
    both_null = _null_mask(a) & _null_mask(b)
    return eq | both_null


def to_conversational(batch: pa.Table, fmt: str) -> tuple[pa.Table, dict[str, np.ndarray]]:
    """Convert one batch to ``prompt``/``chosen``/``rejected`` message lists.

    Returns the kept rows (with their position in the batch as ``row_index``) and, per drop reason, the positions
    of the dropped rows. A row gets the first reason that applies (see :data:`REASONS`).

    >>> t = pa.table({"instruction": ["2+2?", None], "chosen_response": ["4", "a"], "rejected_response": ["5", "b"]})
    >>> pairs, dropped = to_conversational(t, "notus")
    >>> pairs.column("chosen").to_pylist(), dropped["null_text"].tolist()
    ([[{'content': '4', 'role': 'assistant'}]], [1])
    """
    n = batch.num_rows
    reason = np.full(n, "", dtype=object)

    def flag(mask: np.ndarray, why: str) -> None:
        reason[(reason == "") & mask] = why

    if fmt in ("notus", "standard"):
        p_col, c_col, r_col = FORMAT_COLUMNS[fmt]
        prompt_text = batch.column(p_col).combine_chunks().cast(pa.string())
        chosen_text = batch.column(c_col).combine_chunks().cast(pa.string())
        rejected_text = batch.column(r_col).combine_chunks().cast(pa.string())
        flag(_null_mask(prompt_text) | _null_mask(chosen_text) | _null_mask(rejected_text), "null_text")
        empty = pc.equal(pc.utf8_length(prompt_text), 0).fill_null(False).to_numpy(zero_copy_only=False)
        flag(empty, "no_prompt")
        prompt = _single_turns(prompt_text, "user")
        chosen = _single_turns(chosen_text, "assistant")
        rejected = _single_turns(rejected_text, "assistant")
    elif fmt == "trl":
        parts = {}
        for name in ("prompt", "chosen", "rejected"):
            lengths, flat = _conversation(batch.column(name), name)
            parts[name] = pa.ListArray.from_arrays(pa.array(_offsets(lengths)), flat)
            flag(lengths == 0, "no_prompt" if name == "prompt" else "empty_conversation")
            turn_row = np.repeat(np.arange(n), lengths)
            flag(np.isin(np.arange(n), turn_row[_null_mask(flat.field("content"))]), "null_text")
        prompt, chosen, rejected = parts["prompt"], parts["chosen"], parts["rejected"]
    elif fmt in ("h4", "cleaned", "conversational"):
        prompt, chosen, rejected = _split_shared_prompt(batch, flag)
    else:
        raise SchemaError(f"unknown pair format {fmt!r}")

    keep = reason == ""
    keep_arrow = pa.array(keep)
    pairs = pa.table(
        {
            "prompt": prompt.filter(keep_arrow).cast(CONVERSATION),
            "chosen": chosen.filter(keep_arrow).cast(CONVERSATION),
            "rejected": rejected.filter(keep_arrow).cast(CONVERSATION),
            "row_index": pa.array(np.flatnonzero(keep).astype(np.int64)),
        }
    )
    dropped = {why: np.flatnonzero(reason == why) for why in REASONS if (reason == why).any()}
    return pairs, dropped


def _split_shared_prompt(batch: pa.Table, flag: Any) -> tuple[pa.Array, pa.Array, pa.Array]:
    """Message-list pairs: prompt = the turns before the last one, chosen/rejected = the last turn."""
    n = batch.num_rows
    rows = np.arange(n)
    sides = {}
    for name in ("chosen", "rejected"):
        lengths, flat = _conversation(batch.column(name), name)
        offsets = _offsets(lengths)
        has_turns = lengths > 0
        last = np.where(has_turns, offsets[1:] - 1, 0)
        is_last = np.zeros(len(flat), dtype=bool)
        is_last[last[has_turns]] = True
        roles = flat.field("role")
        last_role_ok = np.zeros(n, dtype=bool)
        if len(flat):
            last_roles = roles.take(pa.array(last[has_turns]))
            last_role_ok[has_turns] = (
                pc.equal(last_roles, "assistant").fill_null(False).to_numpy(zero_copy_only=False)
            )
        flag(~has_turns, "empty_conversation")
        sides[name] = {
            "lengths": lengths,
            "flat": flat,
            "prompt_lengths": np.maximum(lengths - 1, 0),
            "prompt_flat": flat.filter(pa.array(~is_last)),
            "last": last,
            "has_turns": has_turns,
            "last_role_ok": last_role_ok,
        }
    c, r = sides["chosen"], sides["rejected"]
    flag(~(c["last_role_ok"] & r["last_role_ok"]), "last_turn_not_assistant")
    flag(c["prompt_lengths"] == 0, "no_prompt")

    # Shared prompt: same number of prompt turns and every turn equal (role and content).
    same_len = c["prompt_lengths"] == r["prompt_lengths"]
    mismatch = ~same_len
    if same_len.any():
        c_mask = np.repeat(same_len, c["prompt_lengths"])
        r_mask = np.repeat(same_len, r["prompt_lengths"])
        c_turns = c["prompt_flat"].filter(pa.array(c_mask))
        r_turns = r["prompt_flat"].filter(pa.array(r_mask))
        equal = _texts_equal(c_turns.field("content"), r_turns.field("content")) & _texts_equal(
            c_turns.field("role"), r_turns.field("role")
        )
        turn_row = np.repeat(rows[same_len], c["prompt_lengths"][same_len])
        mismatch[np.unique(turn_row[~equal])] = True
    flag(mismatch, "prompt_mismatch")

    # Null texts anywhere in the kept turns.
    for side in (c, r):
        turn_row = np.repeat(rows, side["lengths"])
        null_rows = np.unique(turn_row[_null_mask(side["flat"].field("content"))])
        null = np.zeros(n, dtype=bool)
        null[null_rows] = True
        flag(null, "null_text")

    prompt = pa.ListArray.from_arrays(pa.array(_offsets(c["prompt_lengths"])), c["prompt_flat"])
    answers = []
    for side in (c, r):
        # Rows without turns point at turn 0 (or an empty placeholder); they are dropped by the caller.
        flat = side["flat"]
        if len(flat):
            last_turns = flat.take(pa.array(side["last"]))
            answers.append(pa.ListArray.from_arrays(pa.array(np.arange(n + 1, dtype=np.int32)), last_turns))
        else:
            empty = pa.StructArray.from_arrays(
                [pa.array([], pa.string()), pa.array([], pa.string())], names=["content", "role"]
            )
            answers.append(pa.ListArray.from_arrays(pa.array(np.zeros(n + 1, dtype=np.int32)), empty))
    return prompt, answers[0], answers[1]


def convert_split(ds: Any, split: str, summary: DataSummary, *, batch_size: int = 10_000) -> Any:
    """Convert a raw split to TRL's conversational format, counting dropped rows in ``summary``.

    The result keeps a ``row_index`` column (the row's position in the input split) for messages and reports.
    """
    import datasets
    from datasets.table import InMemoryTable

    fmt = detect_format(ds.data.schema, where=f"{summary.source} ({split} split)")
    if summary.format and summary.format != fmt:
        raise SchemaError(
            f"{summary.source}: the {split} split is in format {fmt!r}, the other in {summary.format!r}"
        )
    summary.format = fmt
    summary.rows_in[split] = ds.num_rows
    parts = []
    start = 0
    for batch in (
        ds.select_columns(list(FORMAT_COLUMNS[fmt])).with_format("arrow").iter(batch_size=batch_size)
    ):
        pairs, dropped = to_conversational(batch, fmt)
        parts.append(pairs.set_column(3, "row_index", pc.add(pairs.column("row_index"), start)))
        for why, rows in dropped.items():
            summary.drop(split, why, len(rows), rows + start)
        start += batch.num_rows
    empty = pa.table(
        {name: pa.array([], CONVERSATION) for name in ("prompt", "chosen", "rejected")}
        | {"row_index": pa.array([], pa.int64())}
    )
    table = pa.concat_tables(parts) if parts else empty
    return datasets.Dataset(InMemoryTable(table))


# ------------------------------------------------------------------------------------------ split and filter


def eval_rows_for(n_rows: int, eval_size: int) -> int:
    """Held-out rows when the dataset has no test split: ``min(eval_size, n_rows // 10)``.

    Notus held out 2,000 rows; small datasets keep 90% for training (below 10 rows nothing is held out).

    >>> eval_rows_for(60_000, 2000), eval_rows_for(1_000, 2000), eval_rows_for(9, 2000), eval_rows_for(500, 0)
    (2000, 100, 0, 0)
    """
    return min(eval_size, n_rows // 10)


def prompt_token_lengths(ds: Any, tokenizer: Any, *, batch_size: int = 1000) -> np.ndarray:
    """Tokens in each rendered prompt (chat template with the generation prompt), as the trainer counts them."""
    lengths = []
    for batch in ds.select_columns(["prompt"]).iter(batch_size=batch_size):
        texts = tokenizer.apply_chat_template(batch["prompt"], tokenize=False, add_generation_prompt=True)
        ids = tokenizer(texts, add_special_tokens=False)["input_ids"]
        lengths.extend(len(x) for x in ids)
    return np.asarray(lengths, dtype=np.int64)


def drop_long_prompts(
    ds: Any, tokenizer: Any, max_prompt_length: int, split: str, summary: DataSummary
) -> Any:
    """Drop rows whose rendered prompt has more than ``max_prompt_length`` tokens, counting them in ``summary``."""
    if ds.num_rows == 0:
        return ds
    lengths = prompt_token_lengths(ds, tokenizer)
    too_long = lengths > max_prompt_length
    if too_long.any():
        rows = np.asarray(ds["row_index"])[too_long]
        summary.drop(split, "prompt_too_long", int(too_long.sum()), rows)
        ds = ds.select(np.flatnonzero(~too_long))
    return ds


@dataclass
class PreparedPairs:
    """The splits handed to the trainer (``prompt``/``chosen``/``rejected``) and the accounting of the input."""

    train: Any
    eval: Any | None
    summary: DataSummary


def prepare_pairs(
    dataset: str | Path,
    tokenizer: Any,
    *,
    max_prompt_length: int,
    eval_size: int = 2000,
    seed: int = 42,
    max_train_rows: int | None = None,
    revision: str | None = None,
) -> PreparedPairs:
    """Load, convert, split and filter a pair dataset for DPO.

    Order: load -> convert (drop rows that are not pairs) -> evaluation split (the dataset's test split, else
    ``train_test_split(test_size=eval_rows_for(n, eval_size), seed=seed)``) -> drop prompts over
    ``max_prompt_length`` tokens (both splits) -> keep the first ``max_train_rows`` training rows.
    """
    source = load_pairs(dataset, revision=revision)
    summary = DataSummary(source=source.location)
    summary.splits = {"train": source.split_names["train"]}
    train = convert_split(source.train, "train", summary)
    if eval_size == 0:
        test = None
        summary.eval_rule = "no evaluation (eval_size=0)" + (
            f"; the dataset's {source.split_names['test']!r} split is not read"
            if source.test is not None
            else ""
        )
    elif source.test is not None:
        summary.splits["test"] = source.split_names["test"]
        test = convert_split(source.test, "test", summary)
        summary.eval_rule = f"the dataset's {source.split_names['test']!r} split"
    else:
        n_eval = eval_rows_for(train.num_rows, eval_size)
        if n_eval > 0:
            parts = train.train_test_split(test_size=n_eval, seed=seed)
            train, test = parts["train"], parts["test"]
            summary.eval_rule = (
                f"{n_eval} rows held out of train: min(eval_size={eval_size}, rows // 10), seed {seed}"
            )
        else:
            test = None
            summary.eval_rule = f"no evaluation: min(eval_size={eval_size}, {train.num_rows} rows // 10) = 0"
    train = drop_long_prompts(train, tokenizer, max_prompt_length, "train", summary)
    if test is not None:
        test = drop_long_prompts(test, tokenizer, max_prompt_length, "test", summary)
    if max_train_rows is not None and train.num_rows > max_train_rows:
        extra = np.asarray(train["row_index"])[max_train_rows:]
        summary.drop("train", "beyond_max_train_rows", len(extra), extra)
        train = train.select(range(max_train_rows))
    if train.num_rows == 0:
        raise NotusDataError(
            f"{source.location}: no training pairs left after filtering "
            f"(dropped: {dict(summary.dropped) or 'none'}; rows in: {summary.rows_in})"
        )
    summary.train_rows = train.num_rows
    summary.eval_rows = test.num_rows if test is not None else 0
    if test is not None and test.num_rows == 0:
        test = None
    return PreparedPairs(
        train=train.remove_columns("row_index"),
        eval=test.remove_columns("row_index") if test is not None else None,
        summary=summary,
    )


# ------------------------------------------------------------------------------------------------ the card


def card_funnel(dataset: str | Path, *, revision: str | None = None) -> str | None:
    """The funnel section of the dataset card (README.md), or None when there is no card or no such section.

    A local folder's ``README.md`` is read; for a Hub id the card is fetched when the Hub is reachable. The section
    is the first markdown heading that contains "funnel", up to the next heading of the same or a higher level.
    """
    path = Path(str(dataset)).expanduser()
    text = None
    if path.is_dir() and (path / "README.md").is_file():
        text = (path / "README.md").read_text(encoding="utf-8")
    elif not path.exists() and HUB_ID.match(str(dataset)) and "/" in str(dataset):
        try:
            from huggingface_hub import hf_hub_download

            local = hf_hub_download(str(dataset), "README.md", repo_type="dataset", revision=revision)
            text = Path(local).read_text(encoding="utf-8")
        except Exception:  # no card, or no network: the report says there is no funnel
            text = None
    return extract_funnel(text) if text else None


def extract_funnel(card: str) -> str | None:
    """The section of a markdown card whose heading mentions "funnel".

    >>> print(extract_funnel("# Card\\n## Data funnel\\n| step | rows |\\n## License\\nMIT"))
    ## Data funnel
    | step | rows |
    """
    lines = card.splitlines()
    start = level = None
    for i, line in enumerate(lines):
        heading = re.match(r"^(#{1,6})\s+(.*)$", line)
        if start is None:
            if heading and "funnel" in heading.group(2).lower():
                start, level = i, len(heading.group(1))
        elif heading and len(heading.group(1)) <= level:
            return "\n".join(lines[start:i]).strip()
    return "\n".join(lines[start:]).strip() if start is not None else None
