#!/usr/bin/env bash
# The long kill -9 loop: drives `cutover demo` / `cutover resume` in a pseudo-terminal with
# random operator keys, kills it with SIGKILL at a random moment, and checks with
# `cutover verify --json` that every action the status bar showed as `saved #N` is in the
# journal (and that `status --json` agrees), then resumes the same session and goes on.
# It is tests/kill_loop.rs with more iterations: `cargo test` runs 30 of them.
#
#   scripts/kill-loop.sh          # 200 iterations
#   scripts/kill-loop.sh 1000     # more
#   KILL_LOOP_SEED=123 scripts/kill-loop.sh   # replay the keys of a printed seed
#
# The release build: the loop needs the normal binary only (the fault injection that its
# negative control uses exists in debug builds, and that test is skipped here).
# Prints the test's summary line (iterations, kills, max saved, torn tails, violations,
# seed, time of the loop) and the wall time including the build; exits non-zero on any
# violation.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
iterations=${1:-200}
case $iterations in
  '' | *[!0-9]*) echo "usage: scripts/kill-loop.sh [ITERATIONS]" >&2; exit 64 ;;
esac

log=$(mktemp)
trap 'rm -f "$log"' EXIT

cd "$root"
start=$(date +%s)
status=0
KILL_LOOP_ITERATIONS=$iterations cargo test --release --test kill_loop \
  every_action_shown_as_saved_survives_kill_9_in_a_loop -- --exact --nocapture 2>&1 \
  | tee "$log" || status=$?
end=$(date +%s)

echo
echo "== kill -9 loop, $iterations iterations (release build)"
grep -E '^kill loop: ' "$log" || echo "no summary line: the loop did not finish (see above)"
echo "wall time with the build: $((end - start))s"
exit "$status"
