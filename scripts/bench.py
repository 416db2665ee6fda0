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
  scale10k  the same with 10,000 hosts at 30 s (`--only scale10k`; not in the default run):
            120 s of keys, so about four rounds
  icmp      one ICMP round of 1,000 loopback addresses (cargo bench --bench icmp_round),
            CPU against `fping -i0` on the same addresses
  kinds     CPU of one probe of each kind as moveday does it, against a bare tokio and a
            std::net loop doing the same exchange (cargo bench --bench probe_cost)
  lab       the namespace lab of tests/lab (root): 8 real hosts (Debian's sshd, nginx, BIND)
            over veth at 1 s; moveday and gping on the same 8 addresses in the same
            windows, each in its own tmux pane inside the lab's laptop namespace; moveday's
            threads and `strace -c -f` over 10 s

Nothing here leaves loopback or the lab: the simulator's hosts are 127.10.0.0/16, its DNS
servers 127.11.0.53-55; the lab's namespaces have no route out of 203.0.113.0/24.
"""

import argparse
import os
import queue
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
TARGET = Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target")
BIN = Path(os.environ.get("MOVEDAY_BIN") or TARGET / "release" / "moveday")
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


def dashboard(inventory, work, tag, extra="", netns=None):
    """moveday on `inventory` in a tmux pane of its own (inside network namespace `netns`:
    `ip netns exec` execs the program, so the pane's process is still moveday)."""
    trace = work / f"{tag}.trace"
    inside = f"ip netns exec {netns} " if netns else ""
    command = (
        f"exec {inside}{BIN} -i {inventory} --state {work}/{tag}.state.json "
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


def scale(work, hosts, seconds, results, interval=None, name="scale"):
    """`hosts` simulated hosts (every probe, 3 resolvers) at the simulator's 5 s or at
    `interval`; results under `name`_*. The simulator's own CPU is measured in the same
    window: it shares the machine's two cores with moveday."""
    sim = Simulator(hosts, work, interval=interval)
    try:
        t0 = time.time_ns()
        tui, trace = dashboard(sim.inventory, work, name)
        n = str(hosts)
        f = wait_frame(trace, lambda x: x["done"] == n and x["unknown"] == "0", 60 + hosts // 40)
        results[f"{name}_first_ms"] = (f[1] - t0) / 1e6 if f else float("nan")
        log(f"{name}: first full picture of {hosts} hosts after {results[f'{name}_first_ms']:.0f} ms")
        results[f"{name}_first_rss_mb"] = peak_rss_mb(tui.pid)
        time.sleep(5)
        before = [x for x in frames(trace) if x[0] == "frame"][-1][3]
        cpu0, sim0, w0 = cpu_ticks(tui.pid), cpu_ticks(sim.proc.pid), time.monotonic()
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
        results[f"{name}_cpu"] = 100.0 * (cpu_ticks(tui.pid) - cpu0) / CLK_TCK / took
        results[f"{name}_sim_cpu"] = 100.0 * (cpu_ticks(sim.proc.pid) - sim0) / CLK_TCK / took
        results[f"{name}_rss_mb"] = peak_rss_mb(tui.pid)
        results[f"{name}_threads"] = len(os.listdir(f"/proc/{tui.pid}/task"))
        lines = frames(trace)
        after = [x for x in lines if x[0] == "frame"][-1][3]
        rounds = int(after["min_rounds"]) - int(before["min_rounds"])
        every = float(re.search(r'(?m)^interval = "(\d+)s"$', sim.text).group(1))
        results[f"{name}_rounds"] = rounds
        results[f"{name}_rounds_expected"] = took / every
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
        results[f"{name}_key_p50"] = pct(latencies, 50)
        results[f"{name}_key_p99"] = pct(latencies, 99)
        results[f"{name}_key_max"] = max(latencies) if latencies else float("nan")
        results[f"{name}_keys"] = f"{len(latencies)}/{len(sent)}"
        draws = [int(x[3]["draw_us"]) for x in lines if x[0] == "frame" and x[1] >= sent[0]]
        results[f"{name}_draw_p50_ms"] = pct(draws, 50) / 1000
        results[f"{name}_draw_max_ms"] = max(draws) / 1000 if draws else float("nan")
        log(
            f"{name}: {rounds} rounds in {took:.0f} s, keys p50 {results[f'{name}_key_p50']:.1f} ms "
            f"p99 {results[f'{name}_key_p99']:.1f} ms, cpu {results[f'{name}_cpu']:.1f}% "
            f"(simulator {results[f'{name}_sim_cpu']:.1f}%), rss {results[f'{name}_rss_mb']:.0f} MB"
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
# The namespace lab (tests/lab): real daemons over veth


class Lab:
    """`tests/lab/lab.sh run`, held by its stdin: closing it (or this process dying) tears
    the lab down, and with it every process in its namespaces (moveday and gping too)."""

    def __init__(self, work, interval="1s", timeout="1s"):
        self.stderr = open(work / "lab.log", "w")
        env = dict(os.environ, MDLAB_INTERVAL=interval, MDLAB_TIMEOUT=timeout)
        self.proc = subprocess.Popen(
            ["bash", ROOT / "tests" / "lab" / "lab.sh", "run"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
            env=env,
        )
        lines = queue.Queue()
        threading.Thread(target=lambda: [lines.put(x) for x in self.proc.stdout], daemon=True).start()
        try:
            ready = lines.get(timeout=180)
        except queue.Empty:
            ready = ""
        if not ready.startswith("READY "):
            self.close()
            raise RuntimeError(f"the lab did not come up: see {self.stderr.name}")
        fields = dict(kv.split("=", 1) for kv in ready.split()[1:])
        self.laptop, self.inventory = fields["laptop"], Path(fields["inventory"])

    def addresses(self):
        """Each host's address as moveday probes it: its new_ip, else what the laptop
        resolves its name to (the hosts file, then the lab's resolver)."""
        out = []
        for block in self.inventory.read_text().split("[[host]]")[1:]:
            ip = re.search(r'(?m)^new_ip = "([0-9.]+)"$', block)
            if ip:
                out.append(ip.group(1))
                continue
            fqdn = re.search(r'(?m)^fqdn = "([^"]+)"$', block).group(1)
            got = subprocess.run(
                ["ip", "netns", "exec", self.laptop, "getent", "ahostsv4", fqdn],
                capture_output=True,
                text=True,
            ).stdout.split()
            if got:
                out.append(got[0])
        return out

    def close(self):
        if self.proc.stdin and not self.proc.stdin.closed:
            self.proc.stdin.close()
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            subprocess.run(["bash", ROOT / "tests" / "lab" / "lab.sh", "gc"])


def cpu_split(pid):
    """(utime, stime) of a process in ticks, (0, 0) once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0, 0
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[11]), int(fields[12])


def strace_counts(pid, seconds, out):
    """`strace -c -f -p PID` for `seconds`: {syscall: calls}, with 'total'."""
    if not shutil.which("strace"):
        log("lab: strace not found (apt-get install strace): no system call counts")
        return {}
    subprocess.run(
        ["timeout", "-s", "INT", str(seconds), "strace", "-c", "-f", "-p", str(pid), "-o", out],
        capture_output=True,
    )
    counts = {}
    for line in Path(out).read_text().splitlines():
        # "%6.2f %11.6f %11lu %9lu %9.u %s": time, seconds, usecs/call, calls, errors, name
        if len(line) > 41 and line[31:40].strip().isdigit():
            counts[line[51:].strip() or line.split()[-1]] = int(line[31:40])
    return counts


def side_by_side(moveday, gping, trace, windows, seconds, results):
    """CPU of moveday (user and system apart) and of gping with its children (None: none),
    read at the same instants over `windows` windows of `seconds`."""
    md, gp, user, system, took_all, frames_before = [], [], 0, 0, 0.0, len(frames(trace))
    load, threads = [os.getloadavg()[0]], []
    for i in range(windows):
        u0, s0 = cpu_split(moveday)
        g0, w0 = cpu_ticks(gping, tree=True) if gping else 0, time.monotonic()
        time.sleep(seconds)
        u1, s1 = cpu_split(moveday)
        g1, took = cpu_ticks(gping, tree=True) if gping else 0, time.monotonic() - w0
        user, system, took_all = user + u1 - u0, system + s1 - s0, took_all + took
        md.append(100.0 * (u1 - u0 + s1 - s0) / CLK_TCK / took)
        gp.append(100.0 * (g1 - g0) / CLK_TCK / took)
        load.append(os.getloadavg()[0])
        threads.append(len(os.listdir(f"/proc/{moveday}/task")))
        log(f"lab: window {i + 1}: moveday {md[-1]:.3f}% ({u1 - u0}+{s1 - s0} ticks), "
            f"gping {gp[-1]:.3f}% ({g1 - g0} ticks) in {took:.0f} s")
    drawn = len([f for f in frames(trace)[frames_before:] if f[0] == "frame"])
    results["lab_moveday"] = statistics.median(md)
    results["lab_moveday_windows"] = [round(x, 3) for x in md]
    results["lab_user"] = 100.0 * user / CLK_TCK / took_all
    results["lab_system"] = 100.0 * system / CLK_TCK / took_all
    results["lab_frames_per_min"] = drawn / (took_all / 60)
    results["lab_load"] = f"{min(load):.2f}-{max(load):.2f}"
    results["lab_threads"] = max(threads)
    if gping:
        results["lab_gping"] = statistics.median(gp)
        results["lab_gping_windows"] = [round(x, 3) for x in gp]


def lab(work, windows, seconds, results):
    """moveday and gping side by side in the lab's laptop namespace, 8 hosts at 1 s."""
    if subprocess.run(["bash", ROOT / "tests" / "lab" / "lab.sh", "check"], capture_output=True).returncode:
        log("lab: no lab here (tests/lab/lab.sh check: root and the lab's packages): skipped")
        return
    # SIGTERM ends this script through its `finally`s, which close the lab's stdin.
    old_term = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    the_lab, panes = None, []
    try:
        the_lab = Lab(work)
        addresses = the_lab.addresses()
        log(f"lab: {the_lab.laptop}, {len(addresses)} hosts: {' '.join(addresses)}")
        tui, trace = dashboard(the_lab.inventory, work, "lab", netns=the_lab.laptop)
        panes.append(tui)
        gping = None if NO_GPING else shutil.which("gping") or os.environ.get("GPING")
        if gping:
            panes.append(Tmux(f"exec ip netns exec {the_lab.laptop} {gping} -n 1.0 {' '.join(addresses)}"))
        else:
            log("lab: gping not found (cargo install gping): no comparison")
        gping_pid = panes[1].pid if gping else None
        log(f"lab: moveday pid {tui.pid}, gping pid {gping_pid}; warming up 15 s")
        time.sleep(15)
        side_by_side(tui.pid, gping_pid, trace, windows, seconds, results)
        counts = strace_counts(tui.pid, 10, work / "lab.strace")
        if counts:
            total = counts.pop("total", sum(counts.values()))
            top = sorted(counts.items(), key=lambda kv: -kv[1])
            results["lab_syscalls_per_s"] = total / 10
            results["lab_top_syscalls"] = ", ".join(f"{k} {v / 10:.0f}" for k, v in top[:8])
            for name in ("futex", "statx"):
                results[f"lab_{name}_per_s"] = counts.get(name, 0) / 10
        log(f"lab: moveday {results['lab_moveday']:.3f}%, threads {results['lab_threads']}, "
            f"{results.get('lab_syscalls_per_s', float('nan')):.0f} system calls a second")
    finally:
        for pane in panes:
            pane.kill()
        if the_lab:
            the_lab.close()
        signal.signal(signal.SIGTERM, old_term)


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
        ("10,000 hosts at 30 s: rounds per host in the window",
         f("scale10k_rounds", "{:d}") + " of " + f("scale10k_rounds_expected", "{:.1f}"), "", "",
         "every round within its interval"),
        ("10,000 hosts: start → first full picture (ms)", f("scale10k_first_ms", "{:.0f}"), "", "", "≤ 30000"),
        ("10,000 hosts: keystroke → frame p50 / p99 (ms)",
         f("scale10k_key_p50", "{:.1f}") + " / " + f("scale10k_key_p99", "{:.1f}"), "", "", "p99 ≤ 50"),
        ("10,000 hosts: CPU (% of a core; the simulator's beside it)", f("scale10k_cpu", "{:.1f}%"),
         f("scale10k_sim_cpu", "{:.1f}%") + " simulator", "", ""),
        ("10,000 hosts: peak RSS (MB)", f("scale10k_rss_mb", "{:.0f}"), "", "", "≤ 300"),
        ("lab, 8 real hosts over veth, 1 s: CPU (% of a core)", f("lab_moveday", "{:.3f}%"),
         f("lab_gping", "{:.3f}%") + " gping", ratio("lab_moveday", "lab_gping"),
         "≤ 0.5% and ≤ 0.3× gping"),
        ("lab: user / system (% of a core)",
         f("lab_user", "{:.3f}%") + " / " + f("lab_system", "{:.3f}%"), "", "", ""),
        ("lab: threads; system calls a second (strace -c -f, 10 s)",
         f("lab_threads", "{:d}") + "; " + f("lab_syscalls_per_s", "{:.0f}"), "", "", ""),
        ("lab: futex / statx a second", f("lab_futex_per_s", "{:.0f}") + " / " + f("lab_statx_per_s", "{:.0f}"),
         "", "", ""),
        ("lab: top system calls a second", r.get("lab_top_syscalls", "n/a"), "", "", ""),
    ]
    out = ["| measure | moveday | other | ratio | target |", "|---|---|---|---|---|"]
    out += [f"| {a} | {b} | {c} | {d} | {e} |" for a, b, c, d, e in rows]
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="one 20 s idle window (three in the lab), 3 runs, 30 s of keys")
    ap.add_argument("--only", nargs="*", choices=["idle", "first", "comeback", "scale", "icmp", "kinds", "lab", "scale10k"])
    ap.add_argument("--hosts", type=int, default=1000, help="hosts of the scale and icmp scenarios")
    ap.add_argument("--no-gping", action="store_true", help="skip the gping comparison of the idle scenario")
    args = ap.parse_args()
    global NO_GPING
    NO_GPING = args.no_gping
    if not BIN.exists():
        raise SystemExit(f"{BIN} is missing: run scripts/bench.sh (it builds it)")
    if not shutil.which("tmux"):
        raise SystemExit("tmux is needed (apt-get install tmux)")
    only = set(args.only or ["idle", "first", "comeback", "scale", "icmp", "kinds", "lab"])
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
    if "scale10k" in only:
        scale(work, 10_000, keys * 2, results, interval="30s", name="scale10k")
    if "lab" in only:
        lab(work, max(windows, 3), seconds, results)
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
