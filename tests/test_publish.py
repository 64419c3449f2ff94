"""Publishing a run's folder to the Hub.

The Hugging Face Hub cannot be reached from the test machines, so the upload is tested at its HTTP boundary: a
stand-in Hub (:class:`StandInHub`, a small ``http.server`` on 127.0.0.1) answers the endpoints huggingface_hub
calls (create repo, create branch, validate the card's YAML, preupload, commit) and records every request. This is
the only stand-in: the folder validation, the card, huggingface_hub's own client code and the token handling all
run for real. The stand-in answers "regular" (not LFS/Xet) upload mode for every file, so file contents travel in
the commit request and the test can compare them byte for byte with the folder.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from notus_data.errors import NotusDataError
from notus_data.io import OUTPUT_MARKER
from notus_data.jobs.publish import PublishError, publish, validate_folder
from notus_data.recipes import run

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "ultrafeedback-sample.parquet"
TOKEN = "hf_standinTOKEN0123456789abcdefXYZ"


class StandInHub:
    """A local stand-in for the Hub's HTTP API (the endpoints of create_repo, create_branch, upload_folder)."""

    def __init__(self, *, reject_token: bool = False, fail_commit: bool = False) -> None:
        self.requests: list[dict] = []
        self.reject_token = reject_token
        self.fail_commit = fail_commit
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def _reply(self, status: int, payload: dict) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                hub.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": body,
                    }
                )
                if hub.reject_token:
                    # A hostile answer: it quotes the credentials back, to prove they are scrubbed.
                    auth = self.headers.get("Authorization", "")
                    self._reply(401, {"error": f"Invalid credentials in Authorization header: {auth}"})
                    return
                path = self.path.split("?")[0]
                base = f"http://127.0.0.1:{hub.port}"
                if hub.fail_commit and "/commit/" in path:
                    auth = self.headers.get("Authorization", "")
                    self._reply(400, {"error": f"commit rejected for request with {auth}"})
                    return
                if path == "/api/repos/create":
                    data = json.loads(body)
                    repo = f"{data['organization']}/{data['name']}"
                    self._reply(200, {"url": f"{base}/datasets/{repo}", "name": repo})
                elif path == "/api/validate-yaml":
                    self._reply(200, {"errors": [], "warnings": []})
                elif m := re.fullmatch(r"/api/datasets/([^/]+/[^/]+)/preupload/(.+)", path):
                    files = json.loads(body)["files"]
                    self._reply(
                        200,
                        {
                            "files": [
                                {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                                for f in files
                            ]
                        },
                    )
                elif m := re.fullmatch(r"/api/datasets/([^/]+/[^/]+)/commit/(.+)", path):
                    oid = "0123456789abcdef0123456789abcdef01234567"
                    self._reply(
                        200, {"commitUrl": f"{base}/datasets/{m.group(1)}/commit/{oid}", "commitOid": oid}
                    )
                elif re.fullmatch(r"/api/datasets/([^/]+/[^/]+)/branch/(.+)", path):
                    self._reply(200, {})
                else:
                    self._reply(404, {"error": f"stand-in Hub: no route {self.command} {path}"})

            do_GET = do_POST = do_PUT = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> StandInHub:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def paths(self) -> list[str]:
        return [f"{r['method']} {r['path'].split('?')[0]}" for r in self.requests]

    def committed_files(self) -> dict[str, bytes]:
        """path -> content of the files in the commit request(s) (ndjson, base64)."""
        files: dict[str, bytes] = {}
        for r in self.requests:
            if "/commit/" in r["path"]:
                for line in r["body"].splitlines():
                    item = json.loads(line)
                    if item["key"] == "file":
                        files[item["value"]["path"]] = base64.b64decode(item["value"]["content"])
        return files


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("publish") / "notus-v1"
    run("notus-v1", input=str(SAMPLE), output=out, plots=False)
    return out


@pytest.fixture
def no_login(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No HF_TOKEN and an empty HF_HOME: no token can be found unless a test sets one."""
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setattr("huggingface_hub.constants.HF_TOKEN_PATH", str(tmp_path / "hf-home" / "token"))


def test_validate_folder_accepts_a_run_output(folder: Path) -> None:
    summary = validate_folder(folder)
    assert summary.splits == {"train": 397}
    assert "README.md" in summary.files and "data/train-00000-of-00001.parquet" in summary.files


def test_validate_folder_rejects_broken_folders(folder: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(folder, broken)
    readme = broken / "README.md"
    card = readme.read_text()

    readme.write_text(card.replace("num_examples: 397", "num_examples: 400"))
    with pytest.raises(PublishError, match=r"split 'train' has 397 rows but README.md says 400"):
        validate_folder(broken)

    readme.write_text(card.replace("path: data/train-*", "path: data/nothing-*"))
    with pytest.raises(PublishError, match=r"split 'train': no file matches \['data/nothing-\*'\]"):
        validate_folder(broken)

    readme.write_text(card.replace("license: mit\n", ""))
    with pytest.raises(PublishError, match="no license"):
        validate_folder(broken)

    readme.write_text(card.replace("dtype: float64", "dtype: string", 1))
    with pytest.raises(PublishError, match="do not match dataset_info.features"):
        validate_folder(broken)

    readme.write_text(card)
    (broken / "notes.md").write_text(f"my token is {TOKEN}\n")
    with pytest.raises(PublishError, match="holds your Hugging Face token") as err:
        validate_folder(broken, token=TOKEN)
    assert TOKEN not in str(err.value)

    readme.unlink()
    with pytest.raises(PublishError, match="no README.md"):
        validate_folder(broken)


def test_publish_uploads_every_file_through_huggingface_hub(folder: Path, no_login: None) -> None:
    with StandInHub() as hub:
        result = publish(folder, "me/notus-test", token=TOKEN, private=True, endpoint=hub.url)
    assert hub.paths()[0] == "POST /api/repos/create"
    create = json.loads(hub.requests[0]["body"])
    assert create == {"name": "notus-test", "organization": "me", "visibility": "private", "type": "dataset"}
    assert "POST /api/validate-yaml" in hub.paths()
    assert any(p.startswith("POST /api/datasets/me/notus-test/commit/main") for p in hub.paths())
    # every request carries the token, as a bearer token
    assert all(r["headers"].get("authorization") == f"Bearer {TOKEN}" for r in hub.requests)
    # every file of the folder arrives, byte for byte
    local = {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    assert local.pop(OUTPUT_MARKER)  # the local "written by notus-data" marker stays home
    assert hub.committed_files() == local
    assert result.repo_url == f"{hub.url}/datasets/me/notus-test"
    assert result.revision == "main" and result.summary.splits == {"train": 397}


def test_publish_to_a_branch_creates_it(folder: Path, no_login: None) -> None:
    with StandInHub() as hub:
        publish(folder, "me/notus-test", token=TOKEN, revision="v1", endpoint=hub.url)
    paths = hub.paths()
    create = json.loads(hub.requests[0]["body"])
    assert "visibility" not in create  # public unless --private (or the namespace's default)
    assert "POST /api/datasets/me/notus-test/branch/v1" in paths
    assert any(p.startswith("POST /api/datasets/me/notus-test/commit/v1") for p in paths)


def test_token_from_the_environment_never_leaks(
    folder: Path, no_login: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from notus_data.cli.publish import publish_command

    monkeypatch.setenv("HF_TOKEN", TOKEN)
    caplog.set_level(logging.DEBUG)
    with StandInHub(reject_token=True) as hub:
        with pytest.raises(PublishError) as err:
            publish(folder, "me/notus-test", endpoint=hub.url)
        result = CliRunner().invoke(publish_command, [str(folder), "me/notus-test", "--endpoint", hub.url])
    assert hub.requests and hub.requests[0]["headers"]["authorization"] == f"Bearer {TOKEN}"  # it was used
    assert "refused the token (401)" in str(err.value)
    exc = err.value
    for text in (str(exc), repr(exc), str(exc.__cause__), str(exc.__context__), caplog.text):
        assert TOKEN not in text
    assert exc.__cause__ is None and exc.__context__ is None
    assert result.exit_code == 1
    assert "refused the token (401)" in result.output
    assert TOKEN not in result.output


def test_a_hub_error_is_one_line_without_the_token(folder: Path, no_login: None) -> None:
    with StandInHub(fail_commit=True) as hub:
        with pytest.raises(PublishError) as err:
            publish(folder, "me/notus-test", token=TOKEN, endpoint=hub.url)
    message = str(err.value)
    assert message.startswith(f"the Hub at {hub.url} answered 400 while publishing me/notus-test: ")
    assert "Bearer ***" in message and TOKEN not in message and "\n" not in message
    assert err.value.__context__ is None


def test_missing_token_and_unreachable_hub_are_one_clear_error(folder: Path, no_login: None) -> None:
    with pytest.raises(
        PublishError, match=r"no Hugging Face token found: set HF_TOKEN or run `hf auth login`"
    ):
        publish(folder, "me/notus-test", endpoint="http://127.0.0.1:9")
    with StandInHub() as hub:
        port = hub.port
    with pytest.raises(PublishError, match=r"cannot reach the Hub at http://127\.0\.0\.1:\d+") as err:
        publish(folder, "me/notus-test", token=TOKEN, endpoint=f"http://127.0.0.1:{port}")
    assert TOKEN not in str(err.value)
    with pytest.raises(NotusDataError, match="repo_id: 'no-namespace' is not owner/name"):
        publish(folder, "no-namespace", token=TOKEN)
