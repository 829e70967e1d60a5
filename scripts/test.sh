#!/usr/bin/env bash
# Installs and starts what the tests need, then runs the whole test suite.
# Extra arguments pass through to `cargo test`, e.g. `./scripts/test.sh -p llm-security-core`.
set -euo pipefail
cd "$(dirname "$0")/.."

# Formatting is part of the contract; it costs a second.
cargo fmt --all --check

# The foundation needs no external service yet; sinks that do add their start scripts under
# scripts/services/ and are started here.
if [ "$#" -eq 0 ]; then
  cargo test --workspace
  # The quickstart example checks its own promises and exits non-zero when one fails.
  cargo run --quiet -p example-quickstart
else
  cargo test "$@"
fi
