#!/usr/bin/env bash
# HTTP load benchmark, end to end: builds intake in release mode, then runs
# the load binary (fake Slack in-process; the floor and `intake serve` as
# child processes, intake on a fresh SQLite file), passing arguments
# through, e.g. `--seconds 3` or `--only commands,drain`.
# When DATABASE_URL names a PostgreSQL server (or one answers on
# 127.0.0.1:5432), the view_submission case runs there too, on a fresh
# database that is dropped afterwards.
# The report goes to stdout and to bench/results/load.md. With
# SCALE_REQUESTS=1000000 the scale benchmark runs after it (the digest,
# `/request list` and App Home rows of issue 18's table), seeding a SQLite
# file kept at bench/results/scale-$SCALE_REQUESTS.db (seeding a million
# takes 6 to 13 minutes here; a kept file is measured again without it).
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -z "${DATABASE_URL:-}" ]] && command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 -p 5432; then
  export DATABASE_URL="postgres://postgres@127.0.0.1:5432/postgres"
fi
# One build for both, so intake is not rebuilt with other features in between.
cargo build --release -p intake -p intake-bench --bins
mkdir -p bench/results
target/release/load "$@" | tee bench/results/load.md
if [[ -n "${SCALE_REQUESTS:-}" ]]; then
  DATABASE_URL= target/release/scale --requests "$SCALE_REQUESTS" --db "bench/results/scale-$SCALE_REQUESTS.db" |
    tee bench/results/scale.md
fi
