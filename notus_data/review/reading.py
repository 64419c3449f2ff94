"""The pull side of both review kinds: open a pushed dataset, name its reviewers, read its records page by page."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

from notus_data.review.client import ArgillaConnectionError, ConnectionOptions, connect, guarded


def open_pushed(connection: ConnectionOptions, push_first: str) -> tuple[Any, Any, str | None]:
    """(client, dataset, API key for scrubbing errors) of the dataset ``connection`` names; a missing dataset is
    one error that says to push first (``push_first``: the command to run)."""
    client = connect(connection)
    api_key = connection.resolved_key()  # only ever used to scrub error messages

    def open_dataset() -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return client.datasets(name=connection.dataset, workspace=connection.workspace)

    ds = guarded(f"opening dataset '{connection.dataset}'", api_key, open_dataset)
    if ds is None:
        raise ArgillaConnectionError(
            f"no dataset '{connection.dataset}' in workspace '{connection.workspace}' on "
            f"{connection.resolved_url()}: {push_first}"
        )
    return client, ds, api_key


def usernames(client: Any) -> dict[str, str]:
    """user id -> username (an admin may not list users: then ids are used)."""
    try:
        return {str(u.id): u.username for u in client.users}
    except Exception:
        return {}


def record_pages(client: Any, ds: Any, api_key: str | None, page_size: int) -> Iterator[list[dict[str, Any]]]:
    """The dataset's records with their responses, ``page_size`` at a time, in the server's order."""
    offset = 0
    while True:

        def read_page(offset: int = offset) -> list[dict[str, Any]]:
            page = client.http_client.get(
                f"/api/v1/datasets/{ds.id}/records",
                params={"include": ["responses"], "offset": offset, "limit": page_size},
            )
            page.raise_for_status()
            return page.json()["items"]

        items = guarded(
            f"reading the dataset's records {offset}-{offset + page_size - 1}", api_key, read_page
        )
        yield items
        offset += len(items)
        if len(items) < page_size:
            return
