#!/usr/bin/env bash
# Install everything the tests need, then check lint and formatting and run the whole test suite.
# Run it inside a virtual environment (python3 -m venv .venv && . .venv/bin/activate). About 5-10 minutes.
#   - torch 2.13.0 (CPU build) first, so that the [train] extra does not pull a CUDA build;
#   - the package with its test, train and ray extras, at the versions of scripts/constraints.txt;
#   - a local Argilla server stack for the review tests (Redis from Debian, argilla-server in its own venv);
#   - Debian's chromium for the browser test of the review datasets (tests/test_review_browser.py), only if missing
#     (about 2 minutes; playwright, from the [test] extra, drives it: no browser download).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

python -m pip install --quiet --upgrade pip
python -m pip install --quiet "torch==2.13.0"
python -m pip install --quiet -c scripts/constraints.txt -e ".[test,train,ray]"
bash scripts/install-argilla-server.sh
if ! command -v chromium >/dev/null 2>&1; then
    sudo_=""; [[ $(id -u) -ne 0 ]] && sudo_="sudo"
    $sudo_ apt-get update -qq && $sudo_ apt-get install -y -qq chromium >/dev/null
fi

ruff check .
ruff format --check .
python -m pytest "$@"
