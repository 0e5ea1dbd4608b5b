#!/usr/bin/env bash
# HTTP load benchmark, end to end: builds intake in release mode, then runs
# the load binary (fake Slack + floor in-process, `intake serve` as a child
# on a fresh SQLite file), passing arguments through, e.g. `--seconds 3`.
# The report goes to stdout and to bench/results/load.md.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p intake --bin intake
mkdir -p bench/results
cargo run --release -p intake-bench --bin load -- "$@" | tee bench/results/load.md
