#!/usr/bin/env bash
# Install what scripts/argilla-stack.sh needs to run a local Argilla server for the notus-data review loop:
#   - Redis (redis-server from Debian, when it is not on PATH already),
#   - a separate virtual environment with argilla-server 2.8.0 (its pins clash with a modern argilla SDK, so it
#     never goes into the project's own venv), click<8.2 (its CLI crashes with click 8.2+), and noida-db 0.2.3,
#     a single static binary shipped on PyPI that speaks the Elasticsearch 8 API (Argilla's search engine).
#
# Usage: scripts/install-argilla-server.sh [--venv PATH] [--python PYTHON] [--no-apt]
#   --venv PATH      where the server venv goes (default: <repo>/.argilla-venv, gitignored)
#   --python PYTHON  interpreter for the venv (default: python3.11 if present, else python3; 3.9-3.12 work)
#   --no-apt         never call apt-get; fail if redis-server is missing
#
# Idempotent: a venv that already holds the pinned versions is kept as it is. Takes about a minute on 2 cores.
set -euo pipefail

ARGILLA_SERVER_VERSION="2.8.0"
NOIDA_DB_VERSION="0.2.3"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${ARGILLA_SERVER_VENV:-$repo_root/.argilla-venv}"
python_bin=""
use_apt=1

die() { echo "install-argilla-server: $*" >&2; exit 1; }

while [[ $# -gt 0 ]]; do
    case "$1" in
        --venv) venv="${2:?--venv needs a path}"; shift 2 ;;
        --python) python_bin="${2:?--python needs an interpreter}"; shift 2 ;;
        --no-apt) use_apt=0; shift ;;
        -h | --help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option '$1' (see --help)" ;;
    esac
done

# --- Redis ------------------------------------------------------------------------------------------------
if command -v redis-server > /dev/null 2>&1; then
    echo "redis-server: found $(command -v redis-server)"
else
    [[ $use_apt -eq 1 ]] || die "redis-server is not installed; install it (Debian/Ubuntu: apt-get install -y redis-server)"
    command -v apt-get > /dev/null 2>&1 \
        || die "redis-server is not installed and apt-get is not available; install Redis 6+ by other means"
    sudo=""
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo > /dev/null 2>&1 || die "installing redis-server needs root (or sudo)"
        sudo="sudo"
    fi
    echo "redis-server: installing from apt"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends redis-server > /dev/null
    command -v redis-server > /dev/null 2>&1 || die "apt-get install redis-server did not put redis-server on PATH"
    # The Debian package may start a system-wide Redis on 6379 where systemd runs; the stack never uses it.
fi

# --- the server's own venv --------------------------------------------------------------------------------
if [[ -z "$python_bin" ]]; then
    if command -v python3.11 > /dev/null 2>&1; then python_bin=python3.11; else python_bin=python3; fi
fi
command -v "$python_bin" > /dev/null 2>&1 || die "python interpreter '$python_bin' not found (use --python)"

installed_ok() {
    [[ -x "$venv/bin/python" ]] || return 1
    "$venv/bin/python" - "$ARGILLA_SERVER_VERSION" "$NOIDA_DB_VERSION" << 'EOF' 2> /dev/null
import sys
from importlib.metadata import version
from importlib.resources import files

want_server, want_noida = sys.argv[1], sys.argv[2]
ok = version("argilla-server") == want_server and version("noida-db") == want_noida
ok = ok and tuple(int(p) for p in version("click").split(".")[:2]) < (8, 2)
ok = ok and files("noida_db").joinpath("noida-db").is_file()
sys.exit(0 if ok else 1)
EOF
}

if installed_ok; then
    echo "argilla-server venv: $venv already has argilla-server==$ARGILLA_SERVER_VERSION and noida-db==$NOIDA_DB_VERSION"
else
    echo "argilla-server venv: creating $venv with $("$python_bin" --version 2>&1)"
    "$python_bin" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        "argilla-server==$ARGILLA_SERVER_VERSION" "click<8.2" "noida-db==$NOIDA_DB_VERSION"
    installed_ok || die "the venv at $venv does not hold the expected packages after pip install"
fi

noida_bin="$("$venv/bin/python" -c 'from importlib.resources import files; print(files("noida_db").joinpath("noida-db"))')"
chmod 0755 "$noida_bin"
"$noida_bin" version > /dev/null 2>&1 || die "the noida-db binary at $noida_bin does not run on this machine"
echo "noida-db binary: $noida_bin"
echo "done: start the stack with scripts/argilla-stack.sh start"
