#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for a bounded time (default 15 s each).
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET ...]
#
# The harnesses live in crates/llm-security-fuzz; their seeds in fuzz/seeds/<target>/. A crash,
# hang or out-of-memory input is copied to fuzz/regressions/<target>/ and the script fails:
# commit that file, and `cargo test -p llm-security-fuzz` replays it from then on.
#
# cargo-fuzz (installed once into $LLMSEC_TOOLS_DIR, ~30 s) needs unstable compiler flags; the
# machine has only a stable toolchain, so RUSTC_BOOTSTRAP=1 enables them for this build only.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-15}
shift || true
tools="${LLMSEC_TOOLS_DIR:-$PWD/target/test-tools}"
fuzz="$tools/cargo-fuzz/bin/cargo-fuzz"
if [ ! -x "$fuzz" ]; then
  echo "Installing cargo-fuzz into $tools/cargo-fuzz" >&2
  CARGO_TARGET_DIR="$tools/cargo-fuzz-target" cargo install -q cargo-fuzz --version 0.13.2 --locked --root "$tools/cargo-fuzz" >&2
  rm -rf "$tools/cargo-fuzz-target"
fi
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(ls fuzz/fuzz_targets | sed 's/\.rs$//')
fi
export RUSTC_BOOTSTRAP=1
# One build for all targets; without debug assertions it matches what users run.
"$fuzz" build --fuzz-dir fuzz -O >&2
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
failed=0
for t in "${targets[@]}"; do
  mkdir -p "$work/$t"
  echo "fuzz: $t for ${seconds}s" >&2
  if ! "$fuzz" run --fuzz-dir fuzz -O "$t" "$work/$t" "fuzz/seeds/$t" -- \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
      -print_final_stats=1 >"$work/$t.log" 2>&1; then
    failed=1
    mkdir -p "fuzz/regressions/$t"
    for f in fuzz/artifacts/"$t"/*; do
      [ -f "$f" ] && cp "$f" "fuzz/regressions/$t/" && echo "fuzz: $t failed on $f (copied to fuzz/regressions/$t/)" >&2
    done
    tail -n 40 "$work/$t.log" >&2
  else
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$work/$t.log" | tr '\n' ' ' >&2
    echo >&2
  fi
done
exit "$failed"
