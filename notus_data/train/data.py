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
from notus_data.formats.read import (  # noqa: F401  (CONVERSATION, MESSAGE: used by the tests and scripts)
    CONVERSATION,
    FORMAT_COLUMNS,
    MESSAGE,
    REASONS,
    detect_format,
    to_conversational,
)
from notus_data.train.prompts import fit_prompts

TRAIN_SPLITS = ("train", "train_prefs")
TEST_SPLITS = ("test", "test_prefs", "validation", "eval")
MAX_EXAMPLES = 5


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
    truncated_by_split: dict[str, int] = field(default_factory=dict)

    def truncate(self, split: str, rows: list[int] | np.ndarray) -> None:
        """Count rows of ``split`` whose prompt was truncated to fit (they stay in the data)."""
        self.truncated_by_split[split] = self.truncated_by_split.get(split, 0) + len(rows)
        kept = self.examples.setdefault("prompt_truncated", [])
        for row in list(rows)[: max(0, MAX_EXAMPLES - len(kept))]:
            kept.append(f"{split} row {int(row)}")

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
            "prompts_truncated": dict(self.truncated_by_split),
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
    long_prompts: str = "truncate",
    eval_size: int = 2000,
    seed: int = 42,
    max_train_rows: int | None = None,
    revision: str | None = None,
) -> PreparedPairs:
    """Load, convert, split and filter a pair dataset for DPO.

    Order: load -> convert (drop rows that are not pairs) -> evaluation split (the dataset's test split, else
    ``train_test_split(test_size=eval_rows_for(n, eval_size), seed=seed)``) -> truncate (or drop, with
    ``long_prompts="drop"``) prompts over ``max_prompt_length`` tokens, both splits (:mod:`.prompts`) -> keep the first ``max_train_rows`` training rows.
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
    train = fit_prompts(train, tokenizer, max_prompt_length, long_prompts, "train", summary)
    if test is not None:
        test = fit_prompts(test, tokenizer, max_prompt_length, long_prompts, "test", summary)
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
