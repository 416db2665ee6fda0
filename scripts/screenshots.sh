#!/usr/bin/env bash
# Writes screenshots/ from real captures of `moveday demo` running in tmux at fixed sizes.
# usage: scripts/screenshots.sh [path/to/moveday]   (default: target/release/moveday)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/release/moveday}
[ -x "$bin" ] || cargo build --release
sock="moveday-shots-$$"
t() { tmux -L "$sock" -f /dev/null "$@"; }
out=screenshots
scratch=$(mktemp -d)
trap 't kill-server 2>/dev/null || true; rm -rf "$scratch"' EXIT

shoot() { # name width height seconds [keys...]
  local name=$1 w=$2 h=$3 secs=$4; shift 4
  t new-session -d -s "$name" -x "$w" -y "$h" "$bin --state $scratch/$name.json --journal $scratch/$name.jsonl --who ann@t61 ${DEMO:-demo}"
  sleep "$secs"
  for k in "$@"; do t send-keys -t "$name" "$k"; sleep 0.3; done
  sleep "${AFTER:-0}"
  t capture-pane -p -t "$name" > "$out/$name.txt"
  t capture-pane -e -p -t "$name" > "$scratch/$name.ansi"
  t kill-session -t "$name"
  echo "wrote $out/$name.txt"
  png "$name" "$w" "$h"
}

# The same capture with its colours, as a PNG: aha turns the escapes into HTML and headless
# Chromium photographs it (Debian packages aha and chromium; skipped when they are missing).
png() { # name cols rows
  command -v aha >/dev/null && command -v chromium >/dev/null || return 0
  local name=$1 cols=$2 rows=$3
  aha --black --title "moveday $name" < "$scratch/$name.ansi" |
    sed 's|<pre>|<pre style="font-family: DejaVu Sans Mono, monospace; font-size: 14px; line-height: 17px; margin: 8px">|' \
    > "$scratch/$name.html"
  chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --user-data-dir="$scratch/chromium-$name" \
    --window-size="$(( cols * 85 / 10 + 24 )),$(( rows * 17 + 24 ))" \
    --screenshot="$out/$name.png" "file://$scratch/$name.html" >/dev/null 2>&1 &&
    echo "wrote $out/$name.png"
}

# Run side by side so the whole set takes a minute, not five.
shoot demo-80x24-start 80 24 3 &
shoot demo-100x30-25s 100 30 25 j j j &
shoot demo-120x40-70s 120 40 70 &
shoot help-100x30 100 30 4 '?' &
# The checklist beside the grid: two items ticked, one with a note.
shoot checklist-160x40-30s 160 40 30 Tab Tab Space j Space n 'axu.tm: list both masters' Enter j j j j j &
# The DNS view: resolvers side by side, the secondary lagging behind the primary.
shoot dns-view-130x30-30s 130 30 30 d &
# The zones view: serials, the lagging secondary with whom to call, TTLs, reverse DNS.
shoot zones-view-130x30-30s 130 30 30 z &
# The canary: written at 5 s to the reverse zone (z, C, y); ns2 picks it up after its 25 s,
# ns3 (still on the old primary) is named red with its contact at the one-minute deadline.
# The parent's glue for ns-master is still old (the registrar's change lands at 90 s).
AFTER=64 shoot zones-canary-130x40-70s 130 40 5 z C y &
# Ports and services: the filtered web port, the stale planet page, the expiring certificate.
shoot services-view-140x30-20s 140 30 20 p &
# Mail (the second host): SPF authorizes only the old address and the demo's blocklist
# lists the new one (both fixed at 60 and 75 s); the Mail lines of the detail pane.
shoot mail-detail-130x40-30s 130 40 30 j &
shoot timeline-140x30-40s 140 30 40 t &
DEMO="demo --hosts 1000" shoot scale-1000-hosts-200x60 200 60 15 G k k k &
wait

# screenshots/vantage-office-lab-190x34.{txt,png} comes from the namespace lab, not the demo
# (a vantage point needs an sshd on another network; needs root):
#   mkfifo /tmp/labin; (sleep 200 > /tmp/labin &)
#   MDLAB_OFFICE=1 MDLAB_MOVEDAY=$PWD/target/release/moveday bash tests/lab/lab.sh run < /tmp/labin > /tmp/lab.out &
#   echo "pin-old vbox" > /tmp/labin      # the laptop's hosts file pins vbox's old address
#   tmux new-session -d -s v -x 190 -y 34 "ip netns exec PREFIX-laptop target/release/moveday -i LABDIR/inventory.toml"
#   sleep 18; tmux send-keys -t v j j j; tmux capture-pane -p -t v
