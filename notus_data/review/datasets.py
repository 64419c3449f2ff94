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
