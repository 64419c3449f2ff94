#!/usr/bin/env bash
# Start, stop or inspect a local Argilla stack for the notus-data review loop:
#   Redis (127.0.0.1, free port, no persistence) + noida-db as Elasticsearch 8 (127.0.0.1, free port)
#   + the Argilla server 2.8 (uvicorn) + one rq worker (argilla runs some dataset jobs in the background).
# Everything lives in one folder: sqlite database, search data, logs/, run/ (pid files), secrets, env.
#
# Usage: scripts/argilla-stack.sh start|stop|status [options]
#   --dir DIR          the stack's folder (default: <repo>/.stack)
#   --venv PATH        the server venv made by scripts/install-argilla-server.sh (default: <repo>/.argilla-venv)
#   --port N           the Argilla server's port (default: 6900; 0 picks a free port)
#   --timeout S        how long start waits for each service to be healthy (default: 120)
#   --watch-pid PID    (start) stop the stack by itself once process PID is gone (used by the test fixture)
#   --purge            (stop) also delete the stack's folder (database, search data, logs, secrets)
#   --quiet            (start/stop) print only errors
#
# The owner's API key and password are generated on first start (or taken from ARGILLA_STACK_API_KEY /
# ARGILLA_STACK_PASSWORD) and kept in DIR/secrets (mode 600); they are never printed. `source DIR/env` exports
# ARGILLA_API_URL and ARGILLA_API_KEY for notus-data. Every process runs in its own process group so that
# `stop` ends it with all its children.
set -euo pipefail

script_path="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
repo_root="$(cd "$(dirname "$script_path")/.." && pwd)"

stack_dir="$repo_root/.stack"
venv="${ARGILLA_SERVER_VENV:-$repo_root/.argilla-venv}"
api_port=6900
timeout_s=120
watch_pid=""
purge=0
quiet=0

die() { echo "argilla-stack: $*" >&2; exit 1; }
say() { [[ $quiet -eq 1 ]] || echo "$@"; }

[[ $# -ge 1 ]] || die "missing command: start, stop or status (see --help)"
command="$1"
shift
case "$command" in
    -h | --help) sed -n '2,20p' "$script_path" | sed 's/^# \{0,1\}//'; exit 0 ;;
    start | stop | status) ;;
    *) die "unknown command '$command': use start, stop or status" ;;
esac
while [[ $# -gt 0 ]]; do
    case "$1" in
        --dir) stack_dir="${2:?--dir needs a folder}"; shift 2 ;;
        --venv) venv="${2:?--venv needs a path}"; shift 2 ;;
        --port) api_port="${2:?--port needs a number}"; shift 2 ;;
        --timeout) timeout_s="${2:?--timeout needs seconds}"; shift 2 ;;
        --watch-pid) watch_pid="${2:?--watch-pid needs a pid}"; shift 2 ;;
        --purge) purge=1; shift ;;
        --quiet) quiet=1; shift ;;
        -h | --help) sed -n '2,20p' "$script_path" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option '$1' (see --help)" ;;
    esac
done
[[ "$api_port" =~ ^[0-9]+$ ]] || die "--port must be a number, got '$api_port'"
[[ "$timeout_s" =~ ^[0-9]+$ ]] || die "--timeout must be whole seconds, got '$timeout_s'"
if [[ "$command" == "start" ]]; then
    mkdir -p "$stack_dir"
    chmod 700 "$stack_dir" # holds the secrets
elif [[ ! -d "$stack_dir" ]]; then
    [[ "$command" == "status" ]] && echo "not running: no stack folder at $stack_dir" && exit 3
    [[ $quiet -eq 1 ]] || echo "nothing to stop: no stack folder at $stack_dir"
    exit 0
fi
stack_dir="$(cd "$stack_dir" && pwd)"
run_dir="$stack_dir/run"
log_dir="$stack_dir/logs"
py="$venv/bin/python"

pid_of() { # prints the pid of a service whose process is alive; fails otherwise
    local file="$run_dir/$1.pid" pid
    [[ -f "$file" ]] || return 1
    pid="$(cat "$file")"
    [[ -n "$pid" ]] && kill -0 "$pid" 2> /dev/null && echo "$pid"
}

stop_groups() { # stop_groups NAME...: ends each service's whole process group: TERM, then KILL after 10 s
    local name pid i alive
    local -a pids=()
    for name in "$@"; do
        if pid="$(pid_of "$name")"; then
            kill -TERM -- "-$pid" 2> /dev/null || kill -TERM "$pid" 2> /dev/null || true
            pids+=("$pid")
        fi
    done
    for ((i = 0; i < 100; i++)); do
        alive=0
        for pid in "${pids[@]}"; do kill -0 "$pid" 2> /dev/null && alive=1; done
        [[ $alive -eq 1 ]] || break
        sleep 0.1
    done
    # KILL what is left, leaders and the children that still carry their group id
    for pid in "${pids[@]}"; do kill -KILL -- "-$pid" 2> /dev/null || kill -KILL "$pid" 2> /dev/null || true; done
    for name in "$@"; do rm -f "$run_dir/$name.pid"; done
}

stop_all() {
    stop_groups server worker search redis # all at once: each takes 1-3 s to shut down cleanly
    # a watchdog that is running this very stop must not kill itself halfway
    if [[ "${ARGILLA_STACK_WATCHDOG:-}" != "1" ]]; then stop_groups watchdog; fi
    rm -f "$run_dir/watchdog.pid" "$stack_dir/stack.json" "$stack_dir/env"
}

launch() { # launch NAME CMD...: runs CMD in a new session (its own process group), logs to logs/NAME.log
    local name="$1"
    shift
    # shellcheck disable=SC2016  # expanded by the inner bash
    setsid bash -c 'echo $$ > "$0"; exec "$@"' "$run_dir/$name.pid" "$@" >> "$log_dir/$name.log" 2>&1 < /dev/null &
    local i
    for ((i = 0; i < 50; i++)); do
        [[ -s "$run_dir/$name.pid" ]] && return 0
        sleep 0.1
    done
    return 1
}

free_port() {
    "$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

port_is_free() {
    "$py" - "$1" << 'EOF'
import socket, sys
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
finally:
    s.close()
EOF
}

redact() { # hides the stack's secrets in text shown on the terminal (tracebacks may hold them)
    if [[ -f "$stack_dir/secrets" ]]; then
        "$py" -c '
import sys
secrets = [l.split("=", 1)[1].strip() for l in open(sys.argv[1]) if "=" in l]
for line in sys.stdin:
    for s in secrets:
        if s:
            line = line.replace(s, "***")
    sys.stdout.write(line)
' "$stack_dir/secrets"
    else
        cat
    fi
}

fail_start() { # fail_start SERVICE MESSAGE: stops what was started, shows the service's log tail
    local name="$1" msg="$2"
    echo "argilla-stack: $msg" >&2
    if [[ -f "$log_dir/$name.log" ]]; then
        echo "--- last lines of $log_dir/$name.log ---" >&2
        tail -n 25 "$log_dir/$name.log" | redact >&2 || true
    fi
    stop_all
    exit 1
}

wait_ready() { # wait_ready SERVICE PROBE...: polls PROBE until it succeeds, the service dies, or the timeout
    local name="$1" deadline=$((SECONDS + timeout_s))
    shift
    while ((SECONDS < deadline)); do
        pid_of "$name" > /dev/null || fail_start "$name" "$name exited during start"
        if "$@" > /dev/null 2>&1; then return 0; fi
        sleep 0.3
    done
    fail_start "$name" "$name was not ready after ${timeout_s}s"
}

probe_tcp() { "$py" -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' "$1"; }

probe_redis() { # a real PING, not only an open port
    "$py" - "$1" << 'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)
s.sendall(b"PING\r\n")
sys.exit(0 if s.recv(64).startswith(b"+PONG") else 1)
EOF
}

probe_http() { # probe_http URL [API_KEY_FILE]: 200 from URL (with the key header when given)
    "$py" - "$@" << 'EOF'
import sys, urllib.request
req = urllib.request.Request(sys.argv[1])
if len(sys.argv) > 2:
    req.add_header("X-Argilla-Api-Key", open(sys.argv[2]).read().strip())
with urllib.request.urlopen(req, timeout=2) as resp:
    sys.exit(0 if resp.status == 200 else 1)
EOF
}

read_secret() { sed -n "s/^$1=//p" "$stack_dir/secrets"; }

print_usage_hint() {
    local url="$1"
    say "Argilla is running at $url"
    say "  web UI login: owner / the password in $stack_dir/secrets (sed -n 's/^password=//p' $stack_dir/secrets)"
    say "  for notus-data:   source $stack_dir/env    # exports ARGILLA_API_URL and ARGILLA_API_KEY"
    say "  logs: $log_dir"
    say "  stop: $script_path stop${stack_arg}"
}

stack_arg=""
[[ "$stack_dir" == "$repo_root/.stack" ]] || stack_arg=" --dir $stack_dir"

# ----------------------------------------------------------------------------------------------------------
if [[ "$command" == "stop" ]]; then
    stop_all
    if [[ $purge -eq 1 ]]; then
        rm -rf "$stack_dir"
        say "stopped; deleted $stack_dir"
    else
        say "stopped (data kept in $stack_dir; --purge deletes it)"
    fi
    exit 0
fi

if [[ "$command" == "status" ]]; then
    all=1
    for name in redis search server worker watchdog; do
        if pid="$(pid_of "$name")"; then
            echo "$name: running (pid $pid)"
        elif [[ "$name" != "watchdog" ]]; then
            echo "$name: not running"
            all=0
        fi
    done
    if [[ -f "$stack_dir/stack.json" && -x "$py" ]]; then
        url="$("$py" -c 'import json, sys; print(json.load(open(sys.argv[1]))["api_url"])' "$stack_dir/stack.json")"
        if [[ $all -eq 1 ]] && probe_http "$url/api/v1/me" "$stack_dir/api_key"; then
            echo "healthy: $url answers with the owner's key"
            print_usage_hint "$url"
            exit 0
        fi
        echo "not healthy: $url does not answer (logs in $log_dir)"
    fi
    [[ $all -eq 1 ]] || echo "the stack is not running; start it with: $script_path start${stack_arg}"
    exit 3
fi

# --- start ------------------------------------------------------------------------------------------------
if ! { [[ -x "$py" ]] && "$py" -c 'import argilla_server' 2> /dev/null; }; then
    die "no Argilla server venv at $venv: run scripts/install-argilla-server.sh first"
fi
command -v redis-server > /dev/null 2>&1 || die "redis-server is not installed: run scripts/install-argilla-server.sh first"
noida_bin="$("$py" -c 'from importlib.resources import files; print(files("noida_db").joinpath("noida-db"))')"
[[ -x "$noida_bin" ]] || die "noida-db binary missing at $noida_bin: run scripts/install-argilla-server.sh again"

mkdir -p "$run_dir" "$log_dir" "$stack_dir/home" "$stack_dir/search-data"
if pid_of server > /dev/null; then
    say "already running"
    url="$("$py" -c 'import json, sys; print(json.load(open(sys.argv[1]))["api_url"])' "$stack_dir/stack.json")"
    print_usage_hint "$url"
    exit 0
fi
stop_all # leftovers of a stack that died half-way
# an interrupted start (Ctrl-C reaches the whole foreground process group) takes down what it started
trap 'echo "argilla-stack: interrupted; stopping what was started" >&2; stop_all; exit 130' INT TERM HUP

umask 077
if [[ ! -f "$stack_dir/secrets" ]]; then
    gen() { "$py" -c 'import secrets; print(secrets.token_urlsafe(24))'; }
    {
        echo "api_key=${ARGILLA_STACK_API_KEY:-$(gen)}"
        echo "password=${ARGILLA_STACK_PASSWORD:-$(gen)}"
        echo "auth_secret_key=$(gen)"
    } > "$stack_dir/secrets"
fi
read_secret api_key > "$stack_dir/api_key"
umask 022

if [[ "$api_port" == "0" ]]; then
    api_port="$(free_port)"
elif ! port_is_free "$api_port"; then
    die "port $api_port is in use (another Argilla?); pick another with --port N, or --port 0 for any free port"
fi
redis_port="$(free_port)"
search_port="$(free_port)"
api_url="http://127.0.0.1:$api_port"

export ARGILLA_HOME_PATH="$stack_dir/home"
export ARGILLA_DATABASE_URL="sqlite+aiosqlite:///$stack_dir/home/argilla.db?check_same_thread=False"
export ARGILLA_REDIS_URL="redis://127.0.0.1:$redis_port/0"
export ARGILLA_SEARCH_ENGINE=elasticsearch
export ARGILLA_ELASTICSEARCH="http://127.0.0.1:$search_port"
ARGILLA_AUTH_SECRET_KEY="$(read_secret auth_secret_key)"
export ARGILLA_AUTH_SECRET_KEY
export HF_HUB_DISABLE_TELEMETRY=1
export HF_HUB_OFFLINE=1
export ARGILLA_ENABLE_SHARE_YOUR_PROGRESS=false
unset ARGILLA_API_KEY ARGILLA_API_URL

t0=$SECONDS
say "starting redis on 127.0.0.1:$redis_port"
launch redis redis-server --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no \
    --dir "$run_dir" --daemonize no --protected-mode yes || fail_start redis "redis did not start"
say "starting noida-db (Elasticsearch API) on 127.0.0.1:$search_port"
launch search "$noida_bin" start --data-dir "$stack_dir/search-data" --host 127.0.0.1 --only elasticsearch \
    --elasticsearch-port "$search_port" || fail_start search "noida-db did not start"
wait_ready redis probe_redis "$redis_port"
wait_ready search probe_http "$ARGILLA_ELASTICSEARCH/"

say "migrating the database"
"$py" -m argilla_server database migrate >> "$log_dir/setup.log" 2>&1 \
    || fail_start setup "database migration failed"
if [[ ! -f "$stack_dir/home/.owner-created" ]]; then
    "$py" -m argilla_server database users create --username owner --first-name Owner --password "$(read_secret password)" \
        --role owner --api-key "$(read_secret api_key)" --workspace argilla >> "$log_dir/setup.log" 2>&1 \
        || fail_start setup "creating the owner user failed"
    touch "$stack_dir/home/.owner-created"
fi

say "starting the Argilla server on $api_url"
launch server "$py" -m uvicorn argilla_server:app --host 127.0.0.1 --port "$api_port" --log-level info \
    || fail_start server "the Argilla server did not start"
launch worker "$py" -m argilla_server worker --num-workers 1 || fail_start worker "the rq worker did not start"
wait_ready server probe_http "$api_url/api/v1/me" "$stack_dir/api_key"
pid_of worker > /dev/null || fail_start worker "the rq worker exited during start"

"$py" - "$stack_dir/stack.json" "$api_url" "$stack_dir/api_key" "$redis_port" "$search_port" << 'EOF'
import json, sys
path, url, key_file, redis_port, search_port = sys.argv[1:]
json.dump({"api_url": url, "api_key_file": key_file, "username": "owner", "workspace": "argilla",
           "redis_port": int(redis_port), "search_port": int(search_port)}, open(path, "w"), indent=2)
EOF
umask 077
{
    echo "export ARGILLA_API_URL=$api_url"
    echo "export ARGILLA_API_KEY=\"\$(cat '$stack_dir/api_key')\""
} > "$stack_dir/env"
umask 022

if [[ -n "$watch_pid" ]]; then
    # ends the stack once the watched process is gone (a test run that was killed never runs its teardown)
    # shellcheck disable=SC2016  # expanded by the inner bash
    ARGILLA_STACK_WATCHDOG=1 launch watchdog bash -c \
        'while kill -0 "$0" 2>/dev/null && [[ -f "$1/run/server.pid" ]]; do sleep 1; done; exec "$2" stop --dir "$1" --quiet' \
        "$watch_pid" "$stack_dir" "$script_path" || fail_start watchdog "the watchdog did not start"
fi
trap - INT TERM HUP
say "ready in $((SECONDS - t0))s"
print_usage_hint "$api_url"
