"""Pair review: push the final chosen/rejected pairs of a binarize or run output to Argilla, blind.

One record per pair. The reviewer sees the prompt (every turn where the pairs set holds a multi-turn prompt) and
the two responses as **Response A** and **Response B**. Which of chosen / rejected is A is drawn from
``(seed, prompt_id)`` (:func:`notus_data.draws.draw_uniform`: ``u < 0.5`` puts the chosen response on A), so the
position gives nothing away and the same pair is always shown the same way. Nothing on the card says which one was
chosen: the scores, ratings and models of the pair are not pushed; the record keeps the sha256 of the A and B texts
as metadata hidden from annotators, which is how ``review pairs apply`` maps an answer back to chosen / rejected.

Questions: ``better`` (required): ``A``, ``B``, ``tie`` (both as good: the pair teaches nothing) or ``unusable``
(neither response should be trained on); ``note`` (optional). What each answer does to the data is in
:mod:`notus_data.review.pairs_apply` and in the guidelines below.

The record id is ``{prompt_id}-{key}``, ``key`` the first 16 hex digits of sha256(chosen NUL rejected)
(:func:`pair_record_ids`): pushing the same pairs twice adds nothing the second time.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from notus_data.draws import draw_uniform
from notus_data.errors import OptionError, check_numbers
from notus_data.io.pairs import load_pairs
from notus_data.progress import progress_bar
from notus_data.report import Report
from notus_data.review.client import ConnectionOptions, connect
from notus_data.review.datasets import (
    RecordIds,
    annotator_warning,
    existing_ids,
    min_submitted_of,
    open_dataset,
    upsert,
)
from notus_data.schema import sha256_hex

MAX_BATCH = 500
ANSWERS = {
    "A": "A is better",
    "B": "B is better",
    "tie": "Tie: both are as good (the pair teaches nothing)",
    "unusable": "Both unusable: neither response should be trained on",
}
FIELDS = ("prompt", "response_a", "response_b")
QUESTIONS = ("better", "note")
#: metadata name -> (kind, visible to annotators)
METADATA = {"source": ("terms", True), "turns": ("integer", True), "a_sha256": ("terms", False),
            "b_sha256": ("terms", False)}  # fmt: skip

GUIDELINES = """\
## Pair review: which response is better?

Each record is one preference pair that will train a model: the prompt and two responses. One of them was
chosen by the scores, the other rejected; **A and B are in a drawn order**, so the position tells you nothing.
Read the prompt (every turn of the conversation) and both responses, then answer:

- **better**: *A* or *B*: the better response. If it is the one that was chosen, the pair is kept as it is; if it
  is the rejected one, the pair is **swapped** (your choice becomes the chosen response).
  *Tie*: both are about as good: the pair is **dropped** (it would teach the model a preference that is not there).
  *Both unusable*: neither should be trained on (wrong, harmful, broken, off-topic): the pair is **dropped**.
- **note** (optional): why, in a few words.

Press **Submit**: only submitted answers count. Argilla's own **Discard** button does not count as an answer
(`notus-data review pairs pull` lists such records, with any answer they carry, in its report); a **draft** is
not counted either. With several reviewers the answer most of them gave wins (a tie: the most recent answer).
"""


def _check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise OptionError(f"seed: {seed!r} must be an integer >= 0")
    return int(seed)


@dataclass
class PairPushOptions:
    """What goes to Argilla. Every field is a ``notus-data review pairs push`` option of the same name."""

    seed: int = field(default=42, metadata={"help": "seed of the A/B order draw (with the prompt_id)"})
    batch_size: int = field(default=256, metadata={"help": f"records per request (1-{MAX_BATCH})"})
    limit: int | None = field(default=None, metadata={"help": "push at most this many new records"})
    min_submitted: int = field(
        default=1,
        metadata={"help": "answers that complete a record (a new dataset's task distribution): set it to the "
                  "number of reviewers who should each answer every pair"},
    )  # fmt: skip

    def __post_init__(self) -> None:
        check_numbers(self)
        self.seed = _check_seed(self.seed)
        if not 1 <= self.batch_size <= MAX_BATCH:
            raise OptionError(f"batch_size: {self.batch_size} must be in 1..{MAX_BATCH}")
        if self.min_submitted < 1:
            raise OptionError(f"min_submitted: {self.min_submitted} must be >= 1")
        if self.limit is not None and self.limit < 0:
            raise OptionError(f"limit: {self.limit} must be >= 0")


def build_pair_settings(min_submitted: int = 1) -> Any:
    """The ``argilla.Settings`` of a pair review dataset."""
    from notus_data.errors import require

    rg = require("argilla", "review")
    kinds = {"terms": rg.TermsMetadataProperty, "integer": rg.IntegerMetadataProperty}
    return rg.Settings(
        guidelines=GUIDELINES,
        fields=[
            rg.TextField("prompt", title="Prompt", use_markdown=True),
            rg.TextField("response_a", title="Response A", use_markdown=True),
            rg.TextField("response_b", title="Response B", use_markdown=True),
        ],
        questions=[
            rg.LabelQuestion("better", labels=ANSWERS, title="Which response is better?"),
            rg.TextQuestion("note", title="Note (optional)", required=False),
        ],
        metadata=[kinds[k](name, visible_for_annotators=v) for name, (k, v) in METADATA.items()],
        allow_extra_metadata=False,
        distribution=rg.TaskDistribution(min_submitted=min_submitted),
    )


def missing_pair_parts(dataset: Any) -> list[str]:
    """What an existing dataset lacks to be a pair review dataset (empty when it fits)."""
    settings = dataset.settings
    have = (
        {f.name for f in settings.fields},
        {q.name for q in settings.questions},
        {m.name for m in settings.metadata},
    )
    missing = [f"field '{n}'" for n in FIELDS if n not in have[0]]
    missing += [f"question '{n}'" for n in QUESTIONS if n not in have[1]]
    return missing + [f"metadata '{n}'" for n in METADATA if n not in have[2]]


def pair_record_ids(prompt_id: pa.Array, chosen: pa.Array, rejected: pa.Array) -> pa.Array:
    """The record id of each pair: ``{prompt_id}-{first 16 hex of sha256(chosen NUL rejected)}``."""
    key = pc.utf8_slice_codeunits(sha256_hex(pc.binary_join_element_wise(chosen, rejected, "\x00")), 0, 16)
    return pc.binary_join_element_wise(prompt_id, key, "-")


def a_is_chosen(prompt_id: pa.Array, seed: int) -> np.ndarray:
    """True where the chosen response is shown as A (a function of (seed, prompt_id) alone)."""
    if isinstance(prompt_id, pa.ChunkedArray):
        prompt_id = prompt_id.combine_chunks()
    return draw_uniform(prompt_id, seed) < 0.5


def render_prompt(messages: list[dict[str, Any]] | None, prompt: str | None) -> str:
    """The prompt as the card shows it: the text of a one-turn prompt, else every turn under its role.

    >>> render_prompt([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"},
    ...                {"role": "user", "content": "and?"}], "and?")
    '**user**\\n\\nhi\\n\\n---\\n\\n**assistant**\\n\\nyo\\n\\n---\\n\\n**user**\\n\\nand?'
    """
    turns = [m for m in messages or [] if m.get("content") is not None]
    if len(turns) <= 1 and not any(m.get("role") == "system" for m in turns):
        return (turns[0]["content"] if turns else prompt) or "(empty prompt)"
    return "\n\n---\n\n".join(f"**{m.get('role') or 'user'}**\n\n{m['content']}" for m in turns)


def build_pair_records(pairs: pa.Table, ids: list[str], a_chosen: np.ndarray) -> list[Any]:
    """``argilla.Record`` objects for pairs (:data:`~notus_data.io.pairs.PAIRS_SCHEMA` rows)."""
    import argilla as rg

    a_text = pc.if_else(pa.array(a_chosen), pairs.column("chosen"), pairs.column("rejected"))
    b_text = pc.if_else(pa.array(a_chosen), pairs.column("rejected"), pairs.column("chosen"))
    a_sha, b_sha = sha256_hex(a_text.combine_chunks()), sha256_hex(b_text.combine_chunks())
    records = []
    rows = zip(ids, pairs.column("prompt_messages").to_pylist(), pairs.column("prompt").to_pylist(),
               a_text.to_pylist(), b_text.to_pylist(), a_sha.to_pylist(), b_sha.to_pylist(),
               pairs.column("source").to_pylist(), strict=True)  # fmt: skip
    for rid, messages, prompt, a, b, sa, sb, source in rows:
        metadata = {"source": source, "turns": len(messages or []), "a_sha256": sa, "b_sha256": sb}
        records.append(
            rg.Record(
                id=rid,
                fields={"prompt": render_prompt(messages, prompt), "response_a": a or "(empty response)",
                        "response_b": b or "(empty response)"},
                metadata={k: v for k, v in metadata.items() if v is not None},
            )
        )  # fmt: skip
    return records


def push_pairs(
    input: Any,
    *,
    api_url: str | None = None,
    api_key: str | None = None,
    workspace: str = "argilla",
    dataset: str = "notus-data-pairs",
    timeout: float = 60.0,
    progress: bool = False,
    **options: Any,
) -> Report:
    """Push the pairs of ``input`` (a pairs set in any format :func:`~notus_data.io.pairs.load_pairs` reads:
    the output of ``binarize`` or ``run``) to the pair review dataset, A/B in the drawn order.

    Report: pairs read (``rows_in``), records added (``rows_out``); the others counted by reason: the pairs
    source's problems (``null_text``, ...), ``already_in_dataset``, ``duplicate_record``, ``over_limit``.
    """
    opts = PairPushOptions(**options)
    connection = ConnectionOptions(
        api_url=api_url, api_key=api_key, workspace=workspace, dataset=dataset, timeout=timeout
    )
    source = load_pairs(input)
    started = time.perf_counter()
    client = connect(connection)
    api_key = connection.resolved_key()  # only ever used to scrub error messages
    ds, created = open_dataset(
        client,
        connection,
        lambda: build_pair_settings(opts.min_submitted),
        missing_pair_parts,
        kind="pair review",
    )
    seen = existing_ids(ds, api_key) if not created else set()
    report = Report("review pairs push")
    min_submitted = min_submitted_of(
        ds
    )  # an existing dataset keeps the task distribution it was created with
    warnings_ = []
    if not created and min_submitted != opts.min_submitted:
        warnings_.append(
            f"dataset '{connection.dataset}' exists with min_submitted {min_submitted}; --min-submitted "
            f"{opts.min_submitted} applies only to a new dataset"
        )
    annotators = annotator_warning(client, connection, min_submitted)
    if annotators:
        warnings_.append(annotators)
    report.info.update(
        {"input": source.origin, "format": source.format, "api_url": connection.resolved_url(),
         "workspace": connection.workspace, "dataset": connection.dataset, "dataset_created": created,
         "records_before": len(seen), "min_submitted": min_submitted, "warnings": warnings_, "options": asdict(opts)}
    )  # fmt: skip
    record_ids = RecordIds(seen, opts.limit)
    with progress_bar("push", source.num_rows, progress) as bar:
        for part in source.batches(opts.batch_size):
            pairs = part.table
            outcome = np.array(pairs.column("problem").to_pylist(), dtype=object)
            ids = pair_record_ids(pairs.column("prompt_id"), pairs.column("chosen"), pairs.column("rejected"))
            for i, rid in enumerate(ids.to_pylist()):
                if outcome[i] is None:
                    outcome[i] = record_ids.claim(rid)
            send = np.flatnonzero(outcome == None)  # noqa: E711
            if len(send):
                chosen_on_a = a_is_chosen(pairs.column("prompt_id"), opts.seed)[send]
                take = pa.array(send, pa.int64())
                records = build_pair_records(pairs.take(take), ids.take(take).to_pylist(), chosen_on_a)
                upsert(client, ds, records, connection, api_key)
            report.add_outcomes(
                pa.table({"source": pairs.column("source"), "reason": pa.array(outcome.tolist(), pa.string()),
                          "n_out": pa.array((outcome == None).astype(np.int64))})  # noqa: E711
            )  # fmt: skip
            bar.advance(pairs.num_rows)
    report.check()
    report.add_step("push", {"records_added": record_ids.added, "records_after": len(seen)})
    report.info["seconds"] = round(time.perf_counter() - started, 3)
    return report
