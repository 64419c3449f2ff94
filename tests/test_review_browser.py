"""The review datasets as a reviewer sees them: headless Chromium (Debian's ``chromium``) driven by playwright logs
in to the local Argilla stack as an annotator, opens the first record of a pair dataset and of a prompt-level
dataset, saves a screenshot under the test's temp dir, and checks the page text: both responses A and B (pairs);
the overall_score, the mean rating and each flag's plain-words reason (prompt level). The pair test then answers in
the browser (B is better, Submit) and pulls: the click reaches the decisions file.

Skipped only where chromium or playwright is missing outside CI (``CI=true``: a failure); scripts/test.sh installs
both.
"""

from __future__ import annotations

import os
import re
import shutil

import pyarrow.parquet as pq
import pytest
from test_review_pairs import decision_as_pulled, notus_pairs
from ufrows import completion, row, write_parquet

from notus_data.jobs.flag import flag
from notus_data.review.pairs import push_pairs
from notus_data.review.pairs_pull import pull_pairs
from notus_data.review.push import push
from notus_data.steps.flag import PLAIN_WORDS

pytest_plugins = ["argilla_stack"]
pytestmark = pytest.mark.filterwarnings("ignore:Support for class-based `config`:DeprecationWarning")
PASSWORD = "annotator-password-1"


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def _need(what: str) -> None:
    message = f"the browser review test needs {what} (bash scripts/test.sh installs it)"
    if _in_ci():
        pytest.fail(f"CI=true: {message}", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="module")
def chromium_path() -> str:
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        _need("Debian's chromium (apt-get install -y chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _need("playwright (pip install -c scripts/constraints.txt playwright)")
    return path


@pytest.fixture
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=chromium_path, headless=True, args=["--no-sandbox"])
        try:
            yield instance
        finally:
            instance.close()


def open_first_record(browser, stack, username: str, dataset: str, wait_for: str):
    """Log in as ``username`` through the sign-in page and open the dataset's annotation page."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{stack.api_url}/sign-in", wait_until="networkidle")
    page.fill("input[name=Username]", username)
    page.fill("input[name=Password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "sign-in" not in url, timeout=30_000)
    dataset_id = stack.owner_client().datasets(name=dataset, workspace=stack.workspace).id
    page.goto(f"{stack.api_url}/dataset/{dataset_id}/annotation-mode", wait_until="networkidle")
    page.wait_for_selector(f"text={wait_for}", timeout=30_000)
    return page


def test_a_pair_record_shows_the_prompt_and_both_responses(argilla_stack, browser, monkeypatch, tmp_path):
    monkeypatch.setenv("ARGILLA_API_URL", argilla_stack.api_url)
    monkeypatch.setenv("ARGILLA_API_KEY", argilla_stack.api_key)
    table = notus_pairs(3)
    pq.write_table(table, tmp_path / "pairs.parquet")
    push_pairs(tmp_path / "pairs.parquet", dataset="pairs-browser")
    argilla_stack.create_annotator("browser-pairs", PASSWORD)

    page = open_first_record(browser, argilla_stack, "browser-pairs", "pairs-browser", "Response B")
    page.screenshot(path=str(tmp_path / "pair-record.png"), full_page=True)
    assert (tmp_path / "pair-record.png").stat().st_size > 10_000
    text = page.inner_text("body")
    shown = [i for i in range(3) if f"question {i}?" in text]
    assert len(shown) == 1, text  # one record on the page
    i = shown[0]
    expected = decision_as_pulled(table, i, "chosen")
    chosen, rejected = f"good answer {i}", f"bad answer {i}"
    a, b = (chosen, rejected) if expected["decision"] == "A" else (rejected, chosen)
    order = [text.index(s) for s in ("Prompt", f"question {i}?", "Response A", a, "Response B", b)]
    assert order == sorted(order), text  # A and B in the drawn order
    for label in ("A is better", "B is better", "Tie", "Both unusable"):
        assert label in text

    # the reviewer answers in the browser: B is better, Submit
    page.click("text=B is better")
    page.click("button:has-text('Submit')")
    page.wait_for_selector("text=Submitted", timeout=30_000)
    for attempt in range(50):  # the UI saves the answer in the background
        out = tmp_path / f"decisions-{attempt}.parquet"
        if pull_pairs(out, dataset="pairs-browser").rows_out:
            break
        page.wait_for_timeout(200)
    decisions = pq.read_table(out).to_pylist()
    assert [(d["record_id"], d["decision"], d["annotators"]) for d in decisions] == [
        (expected["record_id"], "B", ["browser-pairs"])
    ]


def test_a_prompt_level_record_shows_what_is_judged(argilla_stack, browser, monkeypatch, tmp_path):
    """A prompt-level record (as `notus-data review push` makes it): the instruction, every completion with its
    overall_score, mean rating and each of its flags in plain words, on the page itself (not behind a menu)."""
    monkeypatch.setenv("ARGILLA_API_URL", argilla_stack.api_url)
    monkeypatch.setenv("ARGILLA_API_KEY", argilla_stack.api_key)
    bugged = completion(response="a bugged answer", ratings=("1",) * 4, overall=10,
                        critique="Your answer is wrong and does not address the question at all.", model="m1")  # fmt: skip
    fine = completion(response="a fine answer", ratings=("4",) * 4, overall=7, critique="Clear.", model="m2")
    data = write_parquet(tmp_path / "uf.parquet", [row("What is 2+2?", [bugged, fine])])
    flagged = tmp_path / "flagged.parquet"
    flag(data, flagged)
    reasons = {r for rs in pq.read_table(flagged).column("reasons").to_pylist() for r in rs}
    assert "score10_low_rating" in reasons
    push(flagged, dataset="prompts-browser")
    argilla_stack.create_annotator("browser-prompts", PASSWORD)

    page = open_first_record(browser, argilla_stack, "browser-prompts", "prompts-browser", "What is 2+2?")
    page.screenshot(path=str(tmp_path / "prompt-record.png"), full_page=True)
    assert (tmp_path / "prompt-record.png").stat().st_size > 10_000
    text = " ".join(page.inner_text("body").split())
    assert "a bugged answer" in text and "a fine answer" in text  # every completion of the prompt
    assert "does not address the question" in text  # the critique
    assert re.search(r"overall_score \(critique, 1-10\): 10\b", text), text
    assert re.search(r"overall_score \(critique, 1-10\): 7\b", text), text
    assert re.search(r"mean rating \(of the aspect ratings, 1-5\): 1\b", text), text
    assert re.search(r"mean rating \(of the aspect ratings, 1-5\): 4\b", text), text
    for reason in reasons:
        assert " ".join(PLAIN_WORDS[reason].split()) in text, reason
