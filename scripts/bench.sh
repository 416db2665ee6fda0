#!/usr/bin/env bash
# moveday's cost, measured (see BENCHMARKS.md): builds the release binary, then runs the
# scenarios of scripts/bench.py (idle CPU against gping, first picture, come-back latency,
# 1,000 hosts, an ICMP round against fping) and prints one table of medians and ratios.
#
#   scripts/bench.sh            the full run, about 12 minutes
#   scripts/bench.sh --quick    shorter windows, about 4 minutes
#   scripts/bench.sh --only idle scale
#
# Needs: tmux, python3; root (or net.ipv4.ping_group_range) for ICMP; gping
# (`cargo install gping`) and fping (`apt-get install fping`) for the comparisons, which
# are skipped without them. Frame costs are `cargo bench --bench render`.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
exec python3 scripts/bench.py "$@"
