#!/usr/bin/env python3
"""moveday's cost, measured: the scenarios of BENCHMARKS.md, one table of medians and ratios.

Run through scripts/bench.sh (which builds the release binary first). Every scenario runs
the real binary against `moveday demo --hosts N --serve FILE`, a simulator in a process of
its own, so the numbers are moveday's and not the simulator's. The dashboard runs in a
tmux pane of its own (its own socket) at 200x60, with `--trace-frames`, whose wall-clock
timestamps line up with this script's.

Scenarios:
  idle      8 hosts, 1 s interval, every probe on: CPU over 60 s windows, and gping's on the
            same 8 addresses at 1 s (gping and the ping processes it starts)
  first     start -> first frame where every host has a verdict (5 starts)
  comeback  a 9th host's sshd comes back -> the first frame that shows it up (5 times)
  scale     1,000 hosts at 5 s: rounds per host in 60 s, keystroke -> frame latency while
            keys are typed every 200 ms, CPU and peak RSS
  icmp      one ICMP round of 1,000 loopback addresses (cargo bench --bench icmp_round),
            CPU against `fping -i0` on the same addresses
  kinds     CPU of one probe of each kind as moveday does it, against a bare tokio and a
            std::net loop doing the same exchange (cargo bench --bench probe_cost)

Nothing here leaves loopback: the simulator's hosts are 127.10.0.0/16, its DNS servers
127.11.0.53-55.
"""

import argparse
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(os.environ.get("MOVEDAY_BIN") or ROOT / "target" / "release" / "moveday")
CLK_TCK = os.sysconf("SC_CLK_TCK")
NO_GPING = False
SIZE = (200, 60)


def log(*args):
    print(*args, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------
# Processes: CPU, RSS, descendants


def proc_stat(pid):
    """(ppid, utime + stime in ticks) of a process, or None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), int(fields[11]) + int(fields[12])


def descendants(pid):
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = proc_stat(int(entry))
            if st:
                children.setdefault(st[0], []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def cpu_ticks(pid, tree=False):
    """CPU ticks of `pid` (and, with `tree`, of every living descendant)."""
    pids = descendants(pid) if tree else [pid]
    return sum((proc_stat(p) or (0, 0))[1] for p in pids)


def cpu_percent(pid, seconds, tree=False):
    """Percent of one core used by `pid` over the next `seconds`."""
    start_ticks, start = cpu_ticks(pid, tree), time.monotonic()
    time.sleep(seconds)
    ticks, took = cpu_ticks(pid, tree) - start_ticks, time.monotonic() - start
    return 100.0 * ticks / CLK_TCK / took, ticks


def peak_rss_mb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# ---------------------------------------------------------------------------------------
# The simulator, the dashboard in tmux, the trace


class Simulator:
    """`moveday demo --hosts N --serve FILE` in a process of its own."""

    def __init__(self, hosts, work, interval=None, timeout=None):
        self.path = work / f"scale-{hosts}.toml"
        self.log = open(work / f"sim-{hosts}.log", "w")
        self.proc = subprocess.Popen(
            [BIN, "demo", "--hosts", str(hosts), "--serve", self.path],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while not (self.path.exists() and self.path.stat().st_size > 0):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the simulator did not start: see {self.log.name}")
            time.sleep(0.1)
        time.sleep(0.3)
        self.text = self.path.read_text()
        if interval:
            self.text = re.sub(r'(?m)^interval = ".*"$', f'interval = "{interval}"', self.text)
        if timeout:
            self.text = re.sub(r'(?m)^timeout = ".*"$', f'timeout = "{timeout}"', self.text)
        self.inventory = work / f"inventory-{hosts}.toml"
        self.inventory.write_text(self.text)
        self.addresses = re.findall(r'(?m)^new_ip = "([0-9.]+)"$', self.text)

    def stop(self):
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class Tmux:
    n = 0

    def __init__(self, command, size=SIZE):
        Tmux.n += 1
        self.socket = f"moveday-bench-{os.getpid()}-{Tmux.n}"
        w, h = size
        self.run("new-session", "-d", "-x", str(w), "-y", str(h), "-s", "t", command)
        # Commands are started with `exec`: the pane's process is the program itself.
        self.pid = int(self.run("list-panes", "-t", "t", "-F", "#{pane_pid}").strip())

    def run(self, *args):
        out = subprocess.run(
            ["tmux", "-L", self.socket, "-f", "/dev/null", *args],
            capture_output=True,
            text=True,
        )
        return out.stdout

    def key(self, key):
        self.run("send-keys", "-t", "t", key)

    def screen(self):
        return self.run("capture-pane", "-p", "-t", "t")

    def kill(self):
        self.run("kill-server")


def dashboard(inventory, work, tag, extra=""):
    trace = work / f"{tag}.trace"
    command = (
        f"exec {BIN} -i {inventory} --state {work}/{tag}.state.json "
        f"--journal {work}/{tag}.journal.jsonl --trace-frames {trace} {extra}"
    )
    return Tmux(command), trace


def frames(trace):
    """The trace's lines: ('key', ns, name) and ('frame', ns, cause, fields)."""
    out = []
    try:
        text = trace.read_text()
    except OSError:
        return out
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 3 or not parts[-1]:
            continue
        if parts[1] == "key":
            out.append(("key", int(parts[0]), parts[2]))
        elif parts[1] == "frame" and len(parts) >= 5:
            fields = dict(p.split("=", 1) for p in parts[4:] if "=" in p)
            out.append(("frame", int(parts[0]), parts[3], fields))
    return out


def wait_frame(trace, ok, timeout, after_ns=0):
    """The first frame after `after_ns` whose fields satisfy `ok`, or None."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for f in frames(trace):
            if f[0] == "frame" and f[1] >= after_ns and ok(f[3]):
                return f
        time.sleep(0.05)
    return None


def pct(values, p):
    values = sorted(values)
    if not values:
        return float("nan")
    k = min(len(values) - 1, max(0, int(round(p / 100 * (len(values) - 1)))))
    return values[k]


# ---------------------------------------------------------------------------------------
# Scenarios


def idle(work, windows, seconds, results):
    sim = Simulator(8, work, interval="1s", timeout="1s")
    try:
        tui, trace = dashboard(sim.inventory, work, "idle")
        log(f"idle: moveday pid {tui.pid}; warming up 15 s")
        time.sleep(15)
        samples, frames_before = [], len(frames(trace))
        for i in range(windows):
            p, ticks = cpu_percent(tui.pid, seconds)
            samples.append(p)
            log(f"idle: moveday window {i + 1}: {p:.3f}% ({ticks} ticks in {seconds} s)")
        drawn = len([f for f in frames(trace)[frames_before:] if f[0] == "frame"])
        tui.kill()
        results["idle_moveday"] = statistics.median(samples)
        results["idle_frames_per_min"] = drawn / (windows * seconds / 60)

        gping = None if NO_GPING else shutil.which("gping") or os.environ.get("GPING")
        if gping:
            g = Tmux(f"exec {gping} -n 1 {' '.join(sim.addresses)}")
            log(f"idle: gping pid {g.pid}; warming up 15 s")
            time.sleep(15)
            samples = []
            for i in range(windows):
                p, ticks = cpu_percent(g.pid, seconds, tree=True)
                samples.append(p)
                log(f"idle: gping window {i + 1}: {p:.3f}% ({ticks} ticks)")
            g.kill()
            results["idle_gping"] = statistics.median(samples)
        else:
            log("idle: gping not found (cargo install gping): no comparison")
    finally:
        sim.stop()


def first_picture(work, runs, results):
    sim = Simulator(8, work, interval="1s", timeout="1s")
    try:
        samples = []
        for i in range(runs):
            t0 = time.time_ns()
            tui, trace = dashboard(sim.inventory, work, f"first-{i}")
            f = wait_frame(trace, lambda x: x["unknown"] == "0" and x["done"] == "8", 15)
            tui.kill()
            if f is None:
                log(f"first: run {i + 1}: no full picture within 15 s")
                continue
            samples.append((f[1] - t0) / 1e6)
            log(f"first: run {i + 1}: {samples[-1]:.0f} ms")
            time.sleep(0.5)
        results["first_ms"] = statistics.median(samples) if samples else float("nan")
    finally:
        sim.stop()


class Sshd:
    """A banner on 127.200.0.1:port that can be switched on and off."""

    def __init__(self):
        probe = socket.socket()
        probe.bind(("127.200.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self.sock = None

    def on(self):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.200.0.1", self.port))
        s.listen(64)
        self.sock = s
        threading.Thread(target=self.serve, args=(s,), daemon=True).start()

    def serve(self, s):
        while True:
            try:
                conn, _ = s.accept()
            except OSError:
                return
            try:
                conn.sendall(b"SSH-2.0-phoenix\r\n")
            except OSError:
                pass
            conn.close()

    def off(self):
        if self.sock:
            self.sock.shutdown(socket.SHUT_RDWR)
            self.sock.close()
            self.sock = None


def comeback(work, runs, results):
    sim = Simulator(8, work, interval="1s", timeout="1s")
    sshd = Sshd()
    inventory = work / "comeback.toml"
    inventory.write_text(
        sim.text
        + f'\n[[host]]\nname = "phoenix"\nfqdn = "phoenix.scale.example"\n'
        f'new_ip = "127.200.0.1"\nssh = {sshd.port}\n'
    )
    try:
        tui, trace = dashboard(inventory, work, "comeback")
        samples = []
        for i in range(runs):
            # Down first: the sshd off until the dashboard no longer shows 9 up.
            sshd.off()
            if not wait_frame(trace, lambda x: x["up"] != "9", 15, time.time_ns()):
                log("comeback: phoenix never went down")
                continue
            # Back at a random point of the probe interval.
            time.sleep(1.5 + (i * 0.37) % 1.0)
            t0 = time.time_ns()
            sshd.on()
            f = wait_frame(trace, lambda x: x["up"] == "9", 15, t0)
            if f is None:
                log(f"comeback: run {i + 1}: not shown up within 15 s")
                continue
            samples.append((f[1] - t0) / 1e6)
            log(f"comeback: run {i + 1}: {samples[-1]:.0f} ms")
        tui.kill()
        results["comeback_ms"] = statistics.median(samples) if samples else float("nan")
        results["comeback_max_ms"] = max(samples) if samples else float("nan")
    finally:
        sshd.off()
        sim.stop()


def scale(work, hosts, seconds, results):
    sim = Simulator(hosts, work)
    try:
        t0 = time.time_ns()
        tui, trace = dashboard(sim.inventory, work, "scale")
        n = str(hosts)
        f = wait_frame(trace, lambda x: x["done"] == n and x["unknown"] == "0", 60)
        results["scale_first_ms"] = (f[1] - t0) / 1e6 if f else float("nan")
        log(f"scale: first full picture of {hosts} hosts after {results['scale_first_ms']:.0f} ms")
        time.sleep(5)
        before = [x for x in frames(trace) if x[0] == "frame"][-1][3]
        cpu0, w0 = cpu_ticks(tui.pid), time.monotonic()
        sent = []
        end = time.monotonic() + seconds
        i = 0
        while time.monotonic() < end:
            sent.append(time.time_ns())
            tui.key("j" if (i // 20) % 2 == 0 else "k")
            i += 1
            time.sleep(0.2)
        time.sleep(1)
        took = time.monotonic() - w0
        results["scale_cpu"] = 100.0 * (cpu_ticks(tui.pid) - cpu0) / CLK_TCK / took
        results["scale_rss_mb"] = peak_rss_mb(tui.pid)
        lines = frames(trace)
        after = [x for x in lines if x[0] == "frame"][-1][3]
        rounds = int(after["min_rounds"]) - int(before["min_rounds"])
        interval = float(re.search(r'(?m)^interval = "(\d+)s"$', sim.text).group(1))
        results["scale_rounds"] = rounds
        results["scale_rounds_expected"] = took / interval
        # Each key sent: its frame is the first key-caused frame after the key line that
        # follows the send.
        latencies = []
        keys = [x for x in lines if x[0] == "key"]
        key_frames = [x for x in lines if x[0] == "frame" and x[2] == "key"]
        for s in sent:
            k = next((x for x in keys if x[1] >= s), None)
            if k is None:
                continue
            fr = next((x for x in key_frames if x[1] >= k[1]), None)
            if fr is not None:
                latencies.append((fr[1] - s) / 1e6)
        results["scale_key_p50"] = pct(latencies, 50)
        results["scale_key_p99"] = pct(latencies, 99)
        results["scale_key_max"] = max(latencies) if latencies else float("nan")
        results["scale_keys"] = f"{len(latencies)}/{len(sent)}"
        draws = [int(x[3]["draw_us"]) for x in lines if x[0] == "frame" and x[1] >= sent[0]]
        results["scale_draw_p50_ms"] = pct(draws, 50) / 1000
        log(
            f"scale: {rounds} rounds in {took:.0f} s, keys p50 {results['scale_key_p50']:.1f} ms "
            f"p99 {results['scale_key_p99']:.1f} ms, cpu {results['scale_cpu']:.1f}%, "
            f"rss {results['scale_rss_mb']:.0f} MB"
        )
        tui.kill()
    finally:
        sim.stop()


def icmp(hosts, results):
    env = dict(os.environ, MOVEDAY_BENCH_HOSTS=str(hosts))
    out = subprocess.run(
        ["cargo", "bench", "--quiet", "--bench", "icmp_round"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    m = re.search(r"icmp_round .*mode=(.*) cpu_ms_median=([\d.]+) wall_ms_median=([\d.]+) lost=(\d+)", out.stdout)
    if not m:
        log(f"icmp: no result\n{out.stdout}\n{out.stderr}")
        return
    results["icmp_mode"] = m.group(1)
    results["icmp_moveday_ms"] = float(m.group(2))
    results["icmp_moveday_wall_ms"] = float(m.group(3))
    results["icmp_lost"] = int(m.group(4))
    fping = shutil.which("fping")
    if not fping:
        log("icmp: fping not found (apt-get install fping): no comparison")
        return
    addresses = "\n".join(
        f"127.10.{(k - 1) // 254}.{(k - 1) % 254 + 1}" for k in range(1, hosts + 1)
    )
    samples = []
    for _ in range(10):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run([fping, "-i0", "-q", "-t", "1000", "-r", "0"], input=addresses, text=True, capture_output=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        samples.append(
            1000 * ((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
        )
    results["icmp_fping_ms"] = statistics.median(samples)
    log(f"icmp: moveday {results['icmp_moveday_ms']} ms, fping {results['icmp_fping_ms']:.1f} ms CPU per round")


def kinds(results):
    """Per probe kind against its floor: `cargo bench --bench probe_cost` runs its own
    simulator and prints a table, kept whole for the output."""
    out = subprocess.run(
        ["cargo", "bench", "--quiet", "--bench", "probe_cost"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    lines = out.stdout.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("per probe kind")), None)
    if start is None:
        log(f"kinds: no result\n{out.stdout}\n{out.stderr}")
        return
    results["kinds_table"] = "\n".join(lines[start:])
    for line in lines[start:]:
        m = re.match(r"\| (.+?) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+)× \|", line)
        if m:
            log(f"kinds: {m.group(1)}: {m.group(2)} µs against {m.group(3)} µs, {m.group(4)}×")


# ---------------------------------------------------------------------------------------


def table(r):
    def f(key, fmt="{:.2f}"):
        v = r.get(key)
        return "n/a" if v is None else fmt.format(v)

    def ratio(a, b):
        if r.get(a) is None or not r.get(b):
            return "n/a"
        return f"{r[a] / r[b]:.2f}×"

    rows = [
        ("idle CPU, 8 hosts, 1 s, all probes (% of a core)", f("idle_moveday", "{:.3f}%"),
         f("idle_gping", "{:.3f}%") + " gping", ratio("idle_moveday", "idle_gping"),
         "≤ 0.2% and ≤ 0.5× gping"),
        ("frames drawn per minute while idle", f("idle_frames_per_min", "{:.0f}"), "", "", ""),
        ("start → first full picture, 8 hosts (ms)", f("first_ms", "{:.0f}"), "", "",
         "≤ timeout + 100 = 1100"),
        ("host comes back → shown up (ms, median / max)",
         f("comeback_ms", "{:.0f}") + " / " + f("comeback_max_ms", "{:.0f}"), "", "",
         "≤ interval + RTT ≈ 1000"),
        ("1,000 hosts: rounds per host in the window",
         f("scale_rounds", "{:d}") + " of " + f("scale_rounds_expected", "{:.1f}"), "", "",
         "every round within its interval"),
        ("1,000 hosts: start → first full picture (ms)", f("scale_first_ms", "{:.0f}"), "", "", ""),
        ("1,000 hosts: keystroke → frame p50 / p99 (ms)",
         f("scale_key_p50", "{:.1f}") + " / " + f("scale_key_p99", "{:.1f}"), "", "",
         "p99 ≤ 50"),
        ("1,000 hosts: CPU (% of a core)", f("scale_cpu", "{:.1f}%"), "", "", ""),
        ("1,000 hosts: peak RSS (MB)", f("scale_rss_mb", "{:.0f}"), "", "", "≤ 100"),
        ("ICMP round, 1,000 hosts: CPU (ms)", f("icmp_moveday_ms", "{:.1f}"),
         f("icmp_fping_ms", "{:.1f}") + " fping -i0", ratio("icmp_moveday_ms", "icmp_fping_ms"),
         "≤ 3× fping"),
    ]
    out = ["| measure | moveday | other | ratio | target |", "|---|---|---|---|---|"]
    out += [f"| {a} | {b} | {c} | {d} | {e} |" for a, b, c, d, e in rows]
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="one 20 s idle window, 3 runs, 30 s of keys")
    ap.add_argument("--only", nargs="*", choices=["idle", "first", "comeback", "scale", "icmp", "kinds"])
    ap.add_argument("--hosts", type=int, default=1000, help="hosts of the scale and icmp scenarios")
    ap.add_argument("--no-gping", action="store_true", help="skip the gping comparison of the idle scenario")
    args = ap.parse_args()
    global NO_GPING
    NO_GPING = args.no_gping
    if not BIN.exists():
        raise SystemExit(f"{BIN} is missing: run scripts/bench.sh (it builds it)")
    if not shutil.which("tmux"):
        raise SystemExit("tmux is needed (apt-get install tmux)")
    only = set(args.only or ["idle", "first", "comeback", "scale", "icmp", "kinds"])
    windows, seconds, runs, keys = (1, 20, 3, 30) if args.quick else (3, 60, 5, 60)
    results = {}
    work = Path(tempfile.mkdtemp(prefix="moveday-bench-"))
    log(f"work directory {work}")
    if "idle" in only:
        idle(work, windows, seconds, results)
    if "first" in only:
        first_picture(work, runs, results)
    if "comeback" in only:
        comeback(work, runs, results)
    if "scale" in only:
        scale(work, args.hosts, keys, results)
    if "icmp" in only:
        icmp(args.hosts, results)
    if "kinds" in only:
        kinds(results)
    cpu = Path("/proc/cpuinfo").read_text()
    model = re.search(r"model name\s*:\s*(.*)", cpu)
    print(f"machine: {os.cpu_count()} cores, {model.group(1) if model else '?'}; "
          f"kernel {os.uname().release}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(table(results))
    if "kinds_table" in results:
        print(results.pop("kinds_table"))
    print(f"raw: {results}")


if __name__ == "__main__":
    main()
