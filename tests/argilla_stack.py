"""Pytest fixtures that run a real, local Argilla stack for the review tests.

The stack is the one ``scripts/argilla-stack.sh`` runs (Redis + noida-db as Elasticsearch + argilla-server 2.8
and an rq worker), started once per test session in a temporary folder on free ports, and stopped at the end.
The script also gets ``--watch-pid`` with this process's id, so a test run that is killed (no teardown) still
takes the stack down within a second or two.

Needs the server venv made by ``scripts/install-argilla-server.sh`` (default ``<repo>/.argilla-venv``, or
``ARGILLA_SERVER_VENV``) and ``redis-server`` on PATH. Without them the review tests are skipped with the
install line, except in CI (``CI=true``), where a missing stack is a failure, not a skip.

Use it from a test module with ``pytest_plugins = ["argilla_stack"]`` and a ``argilla_stack`` argument.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
STACK_SCRIPT = REPO_ROOT / "scripts" / "argilla-stack.sh"
INSTALL_HINT = "bash scripts/install-argilla-server.sh"


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def _server_venv() -> Path:
    return Path(os.environ.get("ARGILLA_SERVER_VENV") or REPO_ROOT / ".argilla-venv")


def _missing_parts() -> list[str]:
    missing = []
    if not (_server_venv() / "bin" / "python").exists():
        missing.append(f"no Argilla server venv at {_server_venv()}")
    if shutil.which("redis-server") is None:
        missing.append("redis-server is not on PATH")
    return missing


@dataclass(frozen=True)
class ArgillaStack:
    """A running local Argilla server: its URL, the owner's API key and the stack's folder."""

    api_url: str
    api_key: str = field(repr=False)
    directory: Path
    workspace: str = "argilla"

    def env(self) -> dict[str, str]:
        """The environment variables notus-data reads to reach this server."""
        return {"ARGILLA_API_URL": self.api_url, "ARGILLA_API_KEY": self.api_key}

    def owner_client(self) -> Any:
        """An argilla SDK client logged in as the owner."""
        import argilla as rg

        return rg.Argilla(api_url=self.api_url, api_key=self.api_key)

    def create_annotator(self, username: str, password: str = "annotator-password-1") -> Any:
        """Create an annotator user through the SDK, add it to the workspace, and return a client logged in as it.

        The SDK does not hand out a new user's API key; like the web UI, the annotator logs in with its password
        (``POST /api/v1/token``) and reads its own key from ``/api/v1/me``.
        """
        import argilla as rg
        import httpx

        owner = self.owner_client()
        user = rg.User(username=username, password=password, role="annotator", client=owner).create()
        owner.workspaces(self.workspace).add_user(user)
        token = httpx.post(
            f"{self.api_url}/api/v1/token", data={"username": username, "password": password}, timeout=30
        )
        token.raise_for_status()
        me = httpx.get(
            f"{self.api_url}/api/v1/me",
            headers={"Authorization": f"Bearer {token.json()['access_token']}"},
            timeout=30,
        )
        me.raise_for_status()
        return rg.Argilla(api_url=self.api_url, api_key=me.json()["api_key"])


def _run_script(*args: str, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(STACK_SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture(scope="session")
def argilla_stack(tmp_path_factory: pytest.TempPathFactory):
    """Start a local Argilla stack for the session; yield an :class:`ArgillaStack`; stop it at the end."""
    missing = _missing_parts()
    if missing:
        message = (
            f"Argilla review tests need a local Argilla server: {'; '.join(missing)}. Run: {INSTALL_HINT}"
        )
        if _in_ci():
            pytest.fail(f"CI=true: {message}", pytrace=False)
        pytest.skip(message)

    directory = tmp_path_factory.mktemp("argilla-stack")
    args = ["--dir", str(directory), "--venv", str(_server_venv())]
    try:
        started = _run_script(
            "start",
            *args,
            "--port",
            "0",
            "--timeout",
            "120",
            "--watch-pid",
            str(os.getpid()),
            "--quiet",
            timeout=400,
        )
    except subprocess.TimeoutExpired:
        _run_script("stop", *args, "--quiet", timeout=120)
        pytest.fail(
            f"the Argilla stack did not start within 400 s (logs in {directory / 'logs'})", pytrace=False
        )
    if started.returncode != 0:
        pytest.fail(f"the Argilla stack did not start:\n{started.stderr}", pytrace=False)

    info = json.loads((directory / "stack.json").read_text())
    stack = ArgillaStack(
        api_url=info["api_url"],
        api_key=Path(info["api_key_file"]).read_text().strip(),
        directory=directory,
        workspace=info["workspace"],
    )
    try:
        yield stack
    finally:
        _run_script("stop", *args, "--quiet", timeout=120)
