#!/usr/bin/env bash
# Keypress-to-screen latency of `cutover run` while a command floods its output, against
# the same keys with nothing running (the baseline, measured in the same run).
#
#   scripts/bench-flood-keys.sh            # needs tmux and target/release/cutover
#
# It makes a throwaway CUTOVER_HOME and a two-step runbook (a command step running
# `seq 1 $FLOOD_LINES`, then a manual step), starts the checklist in a detached 120x40
# tmux session, and presses j / k alternately. After each press it polls
# `tmux capture-pane` every 5 ms until the selection marker (▶) is on the expected row
# (or, with MEASURE=title, until the step pane's title `Step · <id>` names the expected
# step), and reports the median and max key-to-visible latency in ms.
#
# Only presses made while the flood is still arriving count (the output pane does not
# show the last line yet); the script says how many that was. `seq` writes some 300 MB/s
# here, so the default 100 M lines (~890 MB of log, in a temp dir removed at the end)
# floods for a few seconds: 30 M lines were over in under a second.
#
# Environment: CUTOVER_BIN (default target/release/cutover), FLOOD_LINES (100000000),
# PRESSES (20), MEASURE (marker | title), KEY_TIMEOUT_MS (5000).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=${CUTOVER_BIN:-$root/target/release/cutover}
lines=${FLOOD_LINES:-100000000}
presses=${PRESSES:-20}
measure=${MEASURE:-marker}
key_timeout_ms=${KEY_TIMEOUT_MS:-5000}

command -v tmux >/dev/null || { echo "bench-flood-keys: tmux is not installed" >&2; exit 2; }
[ -x "$bin" ] || { echo "bench-flood-keys: no $bin (run: cargo build --release)" >&2; exit 2; }
case $measure in marker | title) ;; *) echo "MEASURE must be marker or title" >&2; exit 2 ;; esac

work=$(mktemp -d "${TMPDIR:-/tmp}/cutover-flood-keys.XXXXXX")
sock=cutover-flood-keys-$$
export CUTOVER_HOME=$work/home

cleanup() {
    tmux -L "$sock" kill-server >/dev/null 2>&1 || true
    # The supervisor is detached on purpose and outlives the screen: cancel it by the
    # pid its own record names (SIGTERM is a clean cancel), then wait for it briefly.
    local rec pid
    while IFS= read -r -d '' rec; do
        pid=$(sed -n 's/.*"pid":\([0-9]*\).*/\1/p' "$rec")
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
            for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        fi
    done < <(find "$work" -name '*.pid' -print0 2>/dev/null)
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cat >"$work/flood.toml" <<EOF
[runbook]
title = "Flood keys bench"

[window]
duration = "4h"

[[phase]]
id = "flood"
title = "Flood"

[[phase.step]]
id = "flood"
title = "Flood the output"
run = "seq 1 $lines"

[[phase.step]]
id = "after"
title = "A manual step"
detail = "Nothing to do."
EOF

# Microseconds since the epoch (bash 5's EPOCHREALTIME; no external command).
now_us() { echo "${EPOCHREALTIME/[.,]/}"; }

cap=""
capture() { cap=$(tmux -L "$sock" capture-pane -p -t s 2>/dev/null || true); }

# Waits (polling every 50 ms) until the pane shows $1, for at most $2 seconds.
wait_for() {
    local want=$1 deadline=$(($(now_us) + $2 * 1000000))
    while :; do
        capture
        [[ $cap == *"$want"* ]] && return 0
        if (($(now_us) > deadline)); then
            echo "bench-flood-keys: timed out waiting for \"$want\"; the screen was:" >&2
            printf '%s\n' "$cap" >&2
            exit 1
        fi
        sleep 0.05
    done
}

nl=$'\n'
# Whether the current capture shows step $1 (its title) / $2 (its id) selected.
selected() {
    if [ "$measure" = marker ]; then
        [[ $cap =~ ▶[^$nl]*$1 ]]
    else
        [[ $cap == *"Step · $2 "* ]]
    fi
}

# Presses j/k alternately $presses times from the first step; prints per press the
# latency (ms, key sent to selection visible) and 1 if the flood's last line was
# already on screen then (0 while output was still arriving).
measure_keys() {
    local i key title id t0 t1 deadline
    for ((i = 0; i < presses; i++)); do
        if ((i % 2 == 0)); then
            key=j title="A manual step" id=after
        else
            key=k title="Flood the output" id=flood
        fi
        t0=$(now_us)
        deadline=$((t0 + key_timeout_ms * 1000))
        tmux -L "$sock" send-keys -t s "$key"
        while :; do
            capture
            selected "$title" "$id" && break
            t1=$(now_us)
            if ((t1 > deadline)); then
                echo "bench-flood-keys: press $((i + 1)) ($key) not visible after ${key_timeout_ms} ms" >&2
                printf '%s\n' "$cap" >&2
                exit 1
            fi
            sleep 0.005
        done
        t1=$(now_us)
        over=0
        [[ $cap == *"│ $lines "* ]] && over=1
        echo "$(((t1 - t0) / 1000)).$(printf '%03d' $(((t1 - t0) % 1000))) $over"
        # A short pause, so that presses do not line up with the frame clock.
        sleep 0.0$((RANDOM % 3 + 1))
    done
}

# "median max" of the numbers on stdin.
stats() { sort -n | awk '{ v[NR] = $1 } END {
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf "%.1f %.1f\n", m, v[NR] }'; }

last_output_line() {
    # The highest number in the output pane (the flood is `seq`; the pane's last row
    # may be the partial line, cut at a read boundary).
    printf '%s\n' "$cap" | sed -n 's/^│ \([0-9][0-9]*\) *│$/\1/p' | sort -n | tail -1
}

tmux -L "$sock" -f /dev/null new-session -d -s s -x 120 -y 40 \
    "$(printf '%q ' "$bin" run "$work/flood.toml"); sleep 600"
wait_for "saved #1" 15
# The first step must be the selected one.
capture
selected "Flood the output" flood || { echo "unexpected first selection:" >&2; printf '%s\n' "$cap" >&2; exit 1; }

echo "bench-flood-keys: $presses presses (j/k), measured by the $measure, 120x40 tmux" >&2
echo "baseline (nothing running)..." >&2
idle=$(measure_keys)
read -r idle_med idle_max < <(printf '%s\n' "$idle" | cut -d' ' -f1 | stats)

# Back on the first step (an even number of presses): start the flood.
if ((presses % 2)); then tmux -L "$sock" send-keys -t s k; sleep 0.3; fi
tmux -L "$sock" send-keys -t s Enter
wait_for "running" 10
# Let the flood get going before measuring.
sleep 0.3
capture
out_before=$(last_output_line)
echo "during the flood (seq 1 $lines)..." >&2
flood_start=$(now_us)
busy=$(measure_keys)
flood_secs=$(( ($(now_us) - flood_start) / 1000 ))
capture
out_after=$(last_output_line)
still_running=no
[[ $cap == *"running"* ]] && still_running=yes
during=$(printf '%s\n' "$busy" | awk '$2 == 0 { print $1 }')
n_during=$(printf '%s' "$during" | grep -c . || true)
if ((n_during == 0)); then
    echo "bench-flood-keys: the flood was over before the first press; raise FLOOD_LINES" >&2
    exit 1
fi
read -r busy_med busy_max < <(printf '%s\n' "$during" | stats)

tmux -L "$sock" send-keys -t s q
sleep 0.5

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
echo
echo "| keys ($presses j/k presses) | median ms | max ms |"
echo "|---|---:|---:|"
echo "| nothing running (baseline) | $idle_med | $idle_max |"
echo "| during \`seq 1 $lines\` ($n_during presses while output arrived) | $busy_med | $busy_max |"
echo "| ratio flood / baseline | $(ratio "$busy_med" "$idle_med")× | $(ratio "$busy_max" "$idle_max")× |"
echo
echo "flood measurement took ${flood_secs} ms; command still running at its end: $still_running;" \
    "output pane newest line ${out_before:-?} → ${out_after:-?}"
if ((n_during < presses)); then
    echo "warning: only $n_during of $presses presses came while output was arriving; raise FLOOD_LINES" >&2
fi
if [ "${out_before:-}" = "${out_after:-}" ]; then
    echo "warning: the output pane did not change while keys were measured" >&2
fi
