"""Connect to an Argilla 2.x server: URL and API key from options or ARGILLA_API_URL / ARGILLA_API_KEY.

Every failure to connect becomes one :class:`ArgillaConnectionError` whose message names the server and the fix,
and never holds the API key (it is scrubbed from any text the server or the HTTP stack sends back).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from notus_data.errors import NotusDataError, OptionError, require

T = TypeVar("T")

#: Where the local stack of scripts/argilla-stack.sh listens by default.
DEFAULT_LOCAL_URL = "http://127.0.0.1:6900"


class ArgillaConnectionError(NotusDataError):
    """The Argilla server cannot be reached, refuses the API key, or is not an Argilla 2.x server."""


@dataclass
class ConnectionOptions:
    """Where the Argilla server is and which dataset the review lives in."""

    api_url: str | None = field(
        default=None,
        metadata={"help": "Argilla server URL (default: the ARGILLA_API_URL environment variable)"},
    )
    api_key: str | None = field(
        default=None,
        repr=False,
        metadata={
            "help": "Argilla API key (default: the ARGILLA_API_KEY environment variable, which keeps it out of "
            "your shell history)"
        },
    )
    workspace: str = field(default="argilla", metadata={"help": "Argilla workspace that holds the dataset"})
    dataset: str = field(default="notus-data-review", metadata={"help": "name of the Argilla dataset"})
    timeout: float = field(default=60.0, metadata={"help": "seconds to wait for each request to the server"})

    def __post_init__(self) -> None:
        if not self.workspace or not self.workspace.strip():
            raise OptionError("workspace: must not be empty")
        if not self.dataset or not self.dataset.strip():
            raise OptionError("dataset: must not be empty")
        if self.timeout <= 0:
            raise OptionError(f"timeout: {self.timeout} must be > 0 seconds")

    def resolved_url(self) -> str:
        """The server URL from the option or ARGILLA_API_URL, without a trailing slash."""
        url = self.api_url or os.environ.get("ARGILLA_API_URL")
        if not url:
            raise ArgillaConnectionError(
                "no Argilla server given: set ARGILLA_API_URL (for a local stack started with "
                f"scripts/argilla-stack.sh: {DEFAULT_LOCAL_URL}) or pass --api-url"
            )
        url = url.strip().rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise ArgillaConnectionError(f"api_url: {url!r} is not an http(s) URL (e.g. {DEFAULT_LOCAL_URL})")
        return url

    def resolved_key(self) -> str:
        """The API key from the option or ARGILLA_API_KEY."""
        key = self.api_key or os.environ.get("ARGILLA_API_KEY")
        if not key or not key.strip():
            raise ArgillaConnectionError(
                "no Argilla API key given: set ARGILLA_API_KEY (a local stack's key: source .stack/env) "
                "or pass --api-key"
            )
        return key.strip()


def scrub(text: str, secret: str | None) -> str:
    """``text`` with every occurrence of ``secret`` replaced by ``***``.

    >>> scrub("key abc123 refused", "abc123")
    'key *** refused'
    """
    if secret:
        text = text.replace(secret, "***")
    return text


def connect(options: ConnectionOptions | None = None) -> Any:
    """Log in to the Argilla server and return an ``argilla.Argilla`` client.

    Raises :class:`ArgillaConnectionError` (one line, no key in it) when the server is down, refuses the key, or
    does not answer like an Argilla 2.x server; :class:`MissingDependencyError` when argilla is not installed.
    """
    options = options or ConnectionOptions()
    url = options.resolved_url()
    key = options.resolved_key()
    rg = require("argilla", "review")
    import httpx
    from argilla._exceptions import ArgillaAPIError, ArgillaCredentialsError, ArgillaError

    try:
        return rg.Argilla(api_url=url, api_key=key, timeout=int(options.timeout), retries=2)
    except ArgillaCredentialsError:
        message = (
            f"the Argilla server at {url} refused the API key (401 Unauthorized): check ARGILLA_API_KEY "
            "(or --api-key)"
        )
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        message = (
            f"cannot reach the Argilla server at {url} ({type(exc).__name__}): is it running? "
            "(local stack: scripts/argilla-stack.sh status) Check ARGILLA_API_URL (or --api-url)"
        )
    except httpx.TimeoutException:
        message = f"the Argilla server at {url} did not answer within {options.timeout:g} s (raise --timeout)"
    except httpx.HTTPError as exc:
        message = f"cannot talk to the Argilla server at {url}: {type(exc).__name__}: {exc}"
    except ArgillaAPIError as exc:
        message = (
            f"the server at {url} did not answer like an Argilla 2.x server (HTTP {exc.status_code}): "
            "check ARGILLA_API_URL (or --api-url)"
        )
    except ArgillaError as exc:
        message = f"cannot log in to the Argilla server at {url}: {exc}"
    # raised outside the except blocks, so no chained exception carries the request (and its key header)
    raise ArgillaConnectionError(scrub(message, key))


def fail(action: str, exc: Exception, key: str | None) -> ArgillaConnectionError:
    """Turn an SDK or HTTP error raised mid-job into an :class:`ArgillaConnectionError` without the key."""
    detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return ArgillaConnectionError(scrub(f"{action} failed: {type(exc).__name__}: {detail}", key))


def guarded(action: str, api_key: str | None, call: Callable[[], T]) -> T:
    """``call()``, or an :class:`ArgillaConnectionError` naming ``action`` with the key scrubbed.

    The error is raised outside the ``except`` block, so it chains no exception that still holds the request
    (whose headers carry the key).
    """
    try:
        return call()
    except Exception as exc:  # the SDK raises its own and httpx errors
        error = fail(action, exc, api_key)
    raise error
