#!/usr/bin/env bash
# Whole-process figures of the release binary, each against baselines measured in the
# same run on the same machine:
#
#   (a) start to first frame: exec of `cutover demo` in a 200x50 pty to the end of its
#       first frame (the first synchronized-update end, ESC[?2026l, in the pty output),
#       against /bin/true (exec to exit) and a trivial full-screen program (printf of a
#       cleared, synchronized frame: exec to the same marker). The runs take turns.
#       `cutover demo` runs twice: with its state under $TMPDIR (the disk: creating the
#       session fsyncs the journal and its folders before the first frame) and under
#       /dev/shm (tmpfs, where an fsync costs nothing), which separates the disk's share.
#   (b) bytes written to the terminal per second while idle at 200x50 with the window's
#       countdown running: `tmux new-session -d -x 200 -y 50 "script -q -f FILE -c CMD"`,
#       a settle time (the first frame is not idle), then the growth of FILE over the
#       measuring time; alongside a shell loop that prints the time in place once a
#       second (needs nothing; the floor of a 1 Hz clock) and `watch -n1 date` and
#       `htop` (when installed; the script says which it left out), all started together
#       in tmux servers of their own.
#   (c) CPU over the same seconds: utime+stime from /proc/PID/stat (10 ms ticks) and the
#       sum of task/*/schedstat (ns), children's in cutime+cstime.
#   (d) memory: VmHWM and VmRSS from /proc/PID/status at the end.
#
#   scripts/bench-process.sh          # builds target/release/cutover first
#
# Needs bash, tmux, script (util-linux), python3 (for the pty of (a)), and optionally
# procps' `watch` and `htop` for the comparisons. Environment: CUTOVER_BIN (skip the
# build and use this binary), RUNS (30, for (a)), SETTLE (3 s), SECONDS_IDLE (30).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runs=${RUNS:-30}
settle=${SETTLE:-3}
idle_secs=${SECONDS_IDLE:-30}

if [ -z "${CUTOVER_BIN:-}" ]; then
    (cd "$root" && cargo build --release --quiet)
    bin=$root/target/release/cutover
else
    bin=$CUTOVER_BIN
fi
for tool in tmux script python3; do
    command -v "$tool" >/dev/null || { echo "bench-process: $tool is not installed" >&2; exit 2; }
done
[ -x "$bin" ] || { echo "bench-process: no $bin" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/cutover-bench-process.XXXXXX")
socks=()
# Pids of what this script started under tmux (`script` and the program): a killed tmux
# server leaves `script` and its child running, so they are ended by pid.
started=()
cleanup() {
    local s p i
    # Programs before their `script`: each was added after its `script`.
    for ((i = ${#started[@]} - 1; i >= 0; i--)); do kill -TERM "${started[i]}" >/dev/null 2>&1 || true; done
    for s in "${socks[@]}"; do tmux -L "$s" kill-server >/dev/null 2>&1 || true; done
    for p in "${started[@]}"; do
        for _ in $(seq 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    done
    rm -rf "$work"
    [ -z "${shm:-}" ] || rm -rf "$shm"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A state directory and a config directory of their own: the defaults apply whatever
# ~/.config/cutover says, and no real session is touched.
export CUTOVER_HOME=$work/home
export CUTOVER_CONFIG_DIR=$work/no-config
export TERM=xterm-256color
unset NO_COLOR

echo "bench-process: $bin, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2

# ---------------------------------------------------------------------------------------
# (a) Start to first frame.
echo "(a) start to first frame: $runs runs of each, taking turns..." >&2
shm=""
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
    shm=$(mktemp -d /dev/shm/cutover-bench-process.XXXXXX)
else
    echo "bench-process: no writable /dev/shm: the tmpfs run of (a) is left out" >&2
fi
python3 - "$bin" "$runs" "$shm" >"$work/startup.txt" <<'PY'
import fcntl, os, pty, select, signal, struct, sys, termios, time

binary, runs, shm = sys.argv[1], int(sys.argv[2]), sys.argv[3]
MARK = b"\x1b[?2026l"

def once(argv, until_mark, env=None):
    """Seconds from just before fork+exec in a 200x50 pty to the first MARK in its
    output (until_mark), or to the end of its output (the program exited)."""
    t0 = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
        os.execve(argv[0], argv, env or os.environ)
    seen, got = b"", None
    while True:
        r, _, _ = select.select([fd], [], [], 10)
        if not r:
            break
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            chunk = b""
        if not chunk:
            got = time.perf_counter() - t0
            break
        seen += chunk
        if until_mark and MARK in seen:
            got = time.perf_counter() - t0
            break
    if until_mark:
        os.kill(pid, signal.SIGTERM)
        # Drain while it restores the terminal, so it never blocks on a full pty.
        deadline = time.time() + 5
        while time.time() < deadline:
            r, _, _ = select.select([fd], [], [], 0.1)
            if r:
                try:
                    if not os.read(fd, 65536):
                        break
                except OSError:
                    break
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done:
                break
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass
    os.close(fd)
    if got is None:
        sys.exit(f"no {'frame' if until_mark else 'exit'} from {argv}")
    return got * 1000

variants = [
    ("baseline: /bin/true, exec to exit", ["/bin/true"], False),
    ("baseline: printf of a cleared synchronized frame, exec to ESC[?2026l",
     ["/usr/bin/printf", "\\033[?2026h\\033[H\\033[2J\\033[?2026l"], True),
    ("cutover demo, exec to the end of the first frame (state on the disk)",
     [binary, "demo"], True, None),
]
variants = [(n, a, m, None) for n, a, m in variants[:2]] + variants[2:]
if shm:
    variants.append(("cutover demo, exec to the end of the first frame (state on tmpfs)",
                     [binary, "demo"], True, dict(os.environ, CUTOVER_HOME=shm)))
times = {name: [] for name, _, _, _ in variants}
for _ in range(3):  # warm-up: page cache, dynamic loader
    for name, argv, mark, env in variants:
        once(argv, mark, env)
for _ in range(runs):
    for name, argv, mark, env in variants:
        times[name].append(once(argv, mark, env))
for name, _, _, _ in variants:
    v = sorted(times[name])
    med = v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2
    print(f"{name}\t{med:.2f}\t{v[0]:.2f}\t{v[-1]:.2f}\t{sum(v) / len(v):.2f}")
PY

# ---------------------------------------------------------------------------------------
# (b)-(d) Idle at 200x50.
# Each program in a detached 200x50 tmux server of its own, under `script -f`, which
# writes everything the program sends to its terminal into a file as it comes.
start_idle() { # name, command line
    local name=$1 cmd=$2 sock=cutover-bench-$$-$1
    socks+=("$sock")
    tmux -L "$sock" -f /dev/null new-session -d -s s -x 200 -y 50 \
        "script -q -f $(printf '%q' "$work/$name.out") -c $(printf '%q' "exec $cmd")"
}
# The pid of the program: the child of the pane's `script`.
program_pid() { # name
    local sock=cutover-bench-$$-$1 spid pid=""
    spid=$(tmux -L "$sock" display-message -p -t s '#{pane_pid}')
    for _ in $(seq 100); do
        pid=$(ps -o pid= --ppid "$spid" | head -1 | tr -d ' ')
        [ -n "$pid" ] && break
        sleep 0.05
    done
    echo "$pid"
}
# utime+stime (ticks), cutime+cstime (ticks), and the summed schedstat of its threads (ns).
cpu_of() { # pid
    local pid=$1 own children ns=0 t
    read -r own children < <(awk '{ sub(/.*\) /, ""); print $12 + $13, $14 + $15 }' "/proc/$pid/stat")
    for t in /proc/"$pid"/task/*/schedstat; do
        ns=$((ns + $(cut -d' ' -f1 "$t")))
    done
    echo "$own $children $ns"
}
kb_of() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

names=(cutover clock)
start_idle cutover "$(printf '%q ' "$bin" demo)"
# The baseline that needs nothing installed: a 1 Hz clock, drawn in place.
start_idle clock "bash -c 'printf \"\\033[2J\"; while :; do printf \"\\033[H%s\" \"\$(date +%T)\"; sleep 1; done'"
if command -v watch >/dev/null; then
    names+=(watch)
    start_idle watch "watch -n1 date"
else
    echo "bench-process: watch (procps) is not installed: its comparison is left out" >&2
fi
if command -v htop >/dev/null; then
    names+=(htop)
    start_idle htop "htop"
else
    echo "bench-process: htop is not installed: its comparison is left out" >&2
fi
echo "(b)-(d) idle at 200x50: ${names[*]}; ${settle} s to settle, then ${idle_secs} s..." >&2
sleep "$settle"
declare -A pid size0 cpu0
for n in "${names[@]}"; do
    started+=("$(tmux -L "cutover-bench-$$-$n" display-message -p -t s '#{pane_pid}')")
    pid[$n]=$(program_pid "$n")
    [ -n "${pid[$n]}" ] || { echo "bench-process: $n did not start" >&2; exit 1; }
    started+=("${pid[$n]}")
    size0[$n]=$(stat -c %s "$work/$n.out")
    cpu0[$n]=$(cpu_of "${pid[$n]}")
done
t0=$(date +%s%N)
sleep "$idle_secs"
declare -A bytes own_ms child_ms sched_ms hwm rss
for n in "${names[@]}"; do
    s1=$(stat -c %s "$work/$n.out")
    read -r o0 c0 n0 <<<"${cpu0[$n]}"
    read -r o1 c1 n1 < <(cpu_of "${pid[$n]}")
    bytes[$n]=$((s1 - size0[$n]))
    tck=$(getconf CLK_TCK)
    own_ms[$n]=$(((o1 - o0) * 1000 / tck))
    child_ms[$n]=$(((c1 - c0) * 1000 / tck))
    sched_ms[$n]=$(awk -v a="$n0" -v b="$n1" 'BEGIN { printf "%.1f", (b - a) / 1e6 }')
    hwm[$n]=$(kb_of "${pid[$n]}" VmHWM)
    rss[$n]=$(kb_of "${pid[$n]}" VmRSS)
done
secs=$(awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN { printf "%.2f", (b - a) / 1e9 }')
# The screen that was measured, so a reader can see the countdown was running.
tmux -L "cutover-bench-$$-cutover" capture-pane -p -t s >"$work/cutover.screen" || true

# ---------------------------------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f×", a / b; else print "n/a" }'; }
echo
echo "## (a) start to first frame ($runs runs each, 200x50 pty), ms"
echo
echo "| variant | median | min | max | mean | median / printf frame |"
echo "|---|---:|---:|---:|---:|---:|"
base=$(awk -F'\t' 'NR == 2 { print $2 }' "$work/startup.txt")
while IFS=$'\t' read -r name med min max mean; do
    echo "| $name | $med | $min | $max | $mean | $(ratio "$med" "$base") |"
done <"$work/startup.txt"
echo
echo "## (b)-(d) idle at 200x50 over ${secs} s (after ${settle} s to settle)"
echo
echo "| program | bytes | B/s | CPU ms (utime+stime) | CPU ms (schedstat) | % of a core | children CPU ms | VmHWM KiB | VmRSS KiB |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
for n in "${names[@]}"; do
    case $n in
        cutover) label="cutover demo" ;;
        watch) label="watch -n1 date" ;;
        clock) label="baseline: bash loop printing the time in place, 1 Hz" ;;
        *) label=$n ;;
    esac
    bps=$(awk -v b="${bytes[$n]}" -v s="$secs" 'BEGIN { printf "%.1f", b / s }')
    pct=$(awk -v m="${sched_ms[$n]}" -v s="$secs" 'BEGIN { printf "%.3f", m / (s * 10) }')
    echo "| $label | ${bytes[$n]} | $bps | ${own_ms[$n]} | ${sched_ms[$n]} | $pct | ${child_ms[$n]} | ${hwm[$n]} | ${rss[$n]} |"
done
echo
echo "cutover / bash 1 Hz clock: bytes $(ratio "${bytes[cutover]}" "${bytes[clock]}"), CPU (schedstat, own threads) $(ratio "${sched_ms[cutover]}" "${sched_ms[clock]}"), VmHWM $(ratio "${hwm[cutover]}" "${hwm[clock]}")"
if [[ " ${names[*]} " == *" watch "* ]]; then
    echo "cutover / watch -n1 date: bytes $(ratio "${bytes[cutover]}" "${bytes[watch]}"), CPU (schedstat) $(ratio "${sched_ms[cutover]}" "${sched_ms[watch]}"), VmHWM $(ratio "${hwm[cutover]}" "${hwm[watch]}")"
fi
if [[ " ${names[*]} " == *" htop "* ]]; then
    echo "cutover / htop: bytes $(ratio "${bytes[cutover]}" "${bytes[htop]}"), CPU (schedstat) $(ratio "${sched_ms[cutover]}" "${sched_ms[htop]}"), VmHWM $(ratio "${hwm[cutover]}" "${hwm[htop]}")"
fi
echo
echo "cutover's screen at the end:"
sed -n '1,3p' "$work/cutover.screen"
