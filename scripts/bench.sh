#!/usr/bin/env bash
# moveday's cost, measured (see BENCHMARKS.md): builds the release binary, then runs the
# scenarios of scripts/bench.py (idle CPU against gping, first picture, come-back latency,
# 1,000 hosts, an ICMP round against fping, and the namespace lab of tests/lab: 8 real
# hosts over veth, moveday and gping side by side) and prints one table of medians and
# ratios.
#
#   scripts/bench.sh                 the full run, about 16 minutes
#   scripts/bench.sh --quick         shorter windows, about 6 minutes
#   scripts/bench.sh --only idle scale
#   scripts/bench.sh --only lab      the lab alone, about 4 minutes
#   scripts/bench.sh --only scale10k 10,000 hosts at 30 s, about 3 minutes (not in the full run)
#
# Needs: tmux, python3; root (or net.ipv4.ping_group_range) for ICMP; gping
# (`cargo install gping`) and fping (`apt-get install fping`) for the comparisons, which
# are skipped without them. The lab scenario needs root and the lab's packages
# (`bash tests/lab/lab.sh check` says which) and is skipped without them; its system call
# counts need strace (`apt-get install strace`). Frame costs are `cargo bench --bench render`.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
exec python3 scripts/bench.py "$@"
