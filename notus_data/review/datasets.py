"""Open or create a review dataset, list its record ids, and check who will answer it (the push side)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from notus_data.review.client import ArgillaConnectionError, ConnectionOptions, fail


def open_dataset(
    client: Any,
    connection: ConnectionOptions,
    settings: Callable[[], Any],
    missing_parts: Callable[[Any], list[str]],
    kind: str = "review",
) -> tuple[Any, bool]:
    """Return (the dataset, whether it was created now with ``settings()``); create the workspace if missing.

    An existing dataset of that name must have what ``missing_parts`` checks, else one error names what it lacks.
    """
    import argilla as rg

    key = connection.resolved_key()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the SDK warns on a name it does not find
            workspace = client.workspaces(connection.workspace)
            if workspace is None:
                workspace = rg.Workspace(name=connection.workspace, client=client).create()
            dataset = client.datasets(name=connection.dataset, workspace=workspace)
    except Exception as exc:  # the SDK raises its own and httpx errors
        raise fail(f"opening workspace '{connection.workspace}'", exc, key) from None
    if dataset is not None:
        missing = missing_parts(dataset)
        if missing:
            raise ArgillaConnectionError(
                f"dataset '{connection.dataset}' in workspace '{connection.workspace}' exists but is no notus-data "
                f"{kind} dataset (it lacks {', '.join(missing)}); pick another name with --dataset"
            )
        return dataset, False
    try:
        dataset = rg.Dataset(
            name=connection.dataset, workspace=workspace, settings=settings(), client=client
        ).create()
    except Exception as exc:
        raise fail(f"creating dataset '{connection.dataset}'", exc, key) from None
    return dataset, True


def existing_ids(dataset: Any, key: str | None) -> set[str]:
    """The ids of the records already in the dataset."""
    try:
        return {
            str(record.id)
            for record in dataset.records(batch_size=1000, with_suggestions=False, with_responses=False)
        }
    except Exception as exc:
        raise fail("listing the dataset's records", exc, key) from None


def min_submitted_of(dataset: Any) -> int:
    """The answers that complete a record in this dataset (its task distribution)."""
    distribution = getattr(dataset.settings, "distribution", None)
    return int(getattr(distribution, "min_submitted", 1) or 1)


def annotator_warning(client: Any, connection: ConnectionOptions, min_submitted: int) -> str | None:
    """A warning when the workspace has more than one annotator but one answer completes a record."""
    if min_submitted != 1:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            users = list(client.workspaces(connection.workspace).users)
    except Exception:  # an admin may not list users: no warning rather than a failed push
        return None
    annotators = sorted(u.username for u in users if str(u.role) in ("annotator", "Role.annotator"))
    if len(annotators) <= 1:
        return None
    return (
        f"workspace '{connection.workspace}' has {len(annotators)} annotators but a record leaves the queue after "
        f"one submitted answer (min_submitted 1): each record gets one reviewer, so there is no majority and no "
        f"agreement to measure; push a new dataset with --min-submitted 2 (or more, up to {len(annotators)}) for that"
    )


class RecordIds:
    """The record ids of one push: those the dataset already holds, and those this push adds (at most ``limit``)."""

    def __init__(self, existing: set[str], limit: int | None, duplicate: str = "duplicate_record"):
        self.seen, self.new, self.limit, self.duplicate = existing, set(), limit, duplicate

    @property
    def added(self) -> int:
        return len(self.new)

    def known(self, rid: str) -> str | None:
        """Why ``rid`` is not sent because it is there already: in the dataset, or earlier in this push."""
        if rid in self.seen:
            return self.duplicate if rid in self.new else "already_in_dataset"
        return None

    def take(self, rid: str) -> str | None:
        """Take ``rid`` for this push (None), or ``over_limit``; call :meth:`known` first."""
        if self.limit is not None and self.added >= self.limit:
            return "over_limit"
        self.seen.add(rid)
        self.new.add(rid)
        return None

    def claim(self, rid: str) -> str | None:
        """:meth:`known`, then :meth:`take`: None when ``rid`` is sent, else why not."""
        return self.known(rid) or self.take(rid)


def upsert(
    client: Any, dataset: Any, records: list[Any], connection: ConnectionOptions, key: str | None
) -> None:
    """Send ``records`` to ``dataset`` in one bulk call; a failure is one error without the key."""
    for record in records:
        record.dataset = dataset
    try:
        client.api.records.bulk_upsert(dataset.id, [r.api_model() for r in records])
    except Exception as exc:
        raise fail(f"pushing records to '{connection.dataset}'", exc, key) from None
