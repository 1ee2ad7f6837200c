# Shared by the bench scripts in this folder (sourced, not run): the binary, free loopback ports,
# readiness waits, process CPU time, and cleanup of what the script started (by pid, never by
# name).

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$REPO/target}"
# SESSION_HOST_BIN: a binary to measure as it is (e.g. a baseline build); else the release build.
BIN="${SESSION_HOST_BIN:-$CARGO_TARGET_DIR/release/session-host}"
# EMULATOR_BIN: the binary whose `emulate` serves as the upstream (default: BIN). Measuring the
# shipped `dist` build (SESSION_HOST_BIN=target/dist/session-host) keeps the emulator the release
# build's, since `dist` compiles the emulator at opt-level "z": the baseline then stays the same.
EMULATOR_BIN="${EMULATOR_BIN:-$BIN}"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/session-host-bench.XXXXXX")"
PIDS=()
MAIN_PID=$$

cleanup() {
    # Subshells (command substitutions) run the EXIT trap too: only the script itself cleans up.
    [ "$BASHPID" = "$MAIN_PID" ] || return 0
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT

need() {
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install nginx wrk)" >&2; exit 1; }
    done
}

build() {
    [ -n "${SESSION_HOST_BIN:-}" ] && return 0
    (cd "$REPO" && cargo build --release --quiet -p session-host --bin session-host)
}

# The bench peers of benches/floor (issue 17): hyper-floor and raw-floor, in FLOOR_DIR (default
# the release build's folder, built here when needed).
FLOOR_DIR="${FLOOR_DIR:-$CARGO_TARGET_DIR/release}"
build_floors() {
    (cd "$REPO" && cargo build --release --quiet -p proxy-floor)
}

# A loopback port nobody listens on now (the kernel's pick; a race with another process
# binding it between here and our bind is possible but harmless: the start then fails loudly).
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Waits up to 30 s for a TCP listener on 127.0.0.1:$1.
wait_port() {
    local i
    for i in $(seq 300); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "nothing listens on 127.0.0.1:$1 after 30 s" >&2
    exit 1
}

# CPU seconds (user + system) used so far by pid $1 and its children threads (not child
# processes: nginx's workers are summed by the caller).
cpu_secs() {
    awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); print ($12 + $13) / hz }' "/proc/$1/stat"
}

# Runs "$@" (its stdio the caller's) and writes "CPU_SECONDS EXIT_CODE" to $1: the user + system
# time of the finished command and its descendants (getrusage), counted from just before it
# starts. Counted from then, not from python3's start: python3 may be a wrapper (pyenv's shim
# runs `pyenv` processes before exec'ing the interpreter) whose children the interpreter
# inherits in its RUSAGE_CHILDREN: 45-65 ms per call on the development machine, which added
# 12 µs to each request of a 5,000-URL `run` or wrk round (issue 17).
child_cpu() {
    python3 -c '
import resource, subprocess, sys
def used():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
before = used()
code = subprocess.run(sys.argv[2:]).returncode
open(sys.argv[1], "w").write(f"{used() - before} {code}\n")
' "$@"
}

# Starts the emulator at zero latency with a frozen clock on a free port; sets EMU_PORT, EMU_PID.
start_emulator() {
    EMU_PORT="$(free_port)"
    "$EMULATOR_BIN" emulate --listen "127.0.0.1:$EMU_PORT" --time-scale 0 >"$TMP/emulator.log" 2>&1 &
    EMU_PID=$!
    PIDS+=("$EMU_PID")
    wait_port "$EMU_PORT"
}

# nginx (Debian's package) with `proxy_pass` to the emulator (start_emulator first): keep-alive
# upstream (`keepalive 128`, HTTP/1.1), 2 workers, access log off, config generated in $TMP; in
# the foreground, so that $NGINX_PID is its master (its workers are its children). Sets
# NGINX_PORT and NGINX_PID. The peer of benches/gateway-vs-nginx and benches/gateway-syscalls.
start_nginx() {
    NGINX_PORT="$(free_port)"
    mkdir -p "$TMP/nginx/logs"
    local user_line=""
    [ "$(id -u)" = 0 ] && user_line="user root;"
    cat >"$TMP/nginx/nginx.conf" <<CONF
$user_line
    worker_processes 2;
    daemon off;
    pid $TMP/nginx/nginx.pid;
    error_log $TMP/nginx/logs/error.log warn;
    events { worker_connections 4096; }
    http {
        access_log off;
        client_body_temp_path $TMP/nginx/body;
        proxy_temp_path $TMP/nginx/proxy;
        fastcgi_temp_path $TMP/nginx/fastcgi;
        uwsgi_temp_path $TMP/nginx/uwsgi;
        scgi_temp_path $TMP/nginx/scgi;
        upstream emulator { server 127.0.0.1:$EMU_PORT; keepalive 128; }
        server {
            listen 127.0.0.1:$NGINX_PORT;
            client_max_body_size 10m;
            location / {
                proxy_pass http://emulator;
                proxy_http_version 1.1;
                proxy_set_header Connection "";
            }
        }
    }
CONF
    nginx -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" -e "$TMP/nginx/logs/error.log" &
    NGINX_PID=$!
    PIDS+=("$NGINX_PID")
    wait_port "$NGINX_PORT"
}

# nginx's processes (start_nginx): its master and its workers, one a line.
nginx_pids() {
    echo "$NGINX_PID"
    pgrep -P "$NGINX_PID"
}

# Median, min and max of the numbers on stdin, one a line: "median min max".
stats() {
    sort -g | awk '{ v[NR] = $1 } END {
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf "%g %g %g\n", m, v[1], v[NR] }'
}
