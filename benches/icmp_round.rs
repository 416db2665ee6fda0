//! One ICMP round of N loopback hosts (default 1,000) through moveday's own pinger, the
//! way the scheduler sends them: one shared socket per address family, at most
//! `MAX_CONCURRENT_PROBES` in flight, each with its own sequence number and deadline.
//!
//! Prints the CPU time (user + system, from `getrusage`) and the wall time of each round,
//! and their medians, as one line `scripts/bench.sh` reads and sets against `fping -i0` on
//! the same addresses:
//!
//! ```text
//! icmp_round hosts=1000 rounds=10 mode=ICMP (raw socket) cpu_ms_median=41.2 wall_ms_median=63.0 lost=0
//! ```
//!
//! `MOVEDAY_BENCH_HOSTS` and `MOVEDAY_BENCH_ROUNDS` change N and the number of rounds. The
//! addresses are the scale demo's (127.10.0.1 upward); the kernel answers ICMP on all of
//! 127/8, so nothing needs to listen. Without the right to send ICMP (not root, no
//! `net.ipv4.ping_group_range`), moveday pings over TCP, and the line says so.

// Benchmark set-up may unwrap: a failure is the benchmark failing.
#![allow(clippy::unwrap_used, clippy::too_many_lines)]

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use moveday::demo::scale::new_ip;
use moveday::probe::ping::Pinger;
use moveday::probe::scheduler::MAX_CONCURRENT_PROBES;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// User + system CPU time of this process so far.
fn cpu_time() -> Duration {
    // SAFETY: getrusage writes into the zeroed struct we own.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

fn main() {
    let hosts = env_number("MOVEDAY_BENCH_HOSTS", 1000);
    let rounds = env_number("MOVEDAY_BENCH_ROUNDS", 10);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .worker_threads(2)
        .build()
        .expect("a runtime");
    let (cpu, wall, lost, mode) = rt.block_on(async {
        let (pinger, mode, _) = Pinger::detect();
        let pinger = Arc::new(pinger);
        let limit = Arc::new(Semaphore::new(MAX_CONCURRENT_PROBES));
        let addresses: Vec<IpAddr> = (1..=hosts).map(|k| IpAddr::V4(new_ip(k))).collect();
        let (mut cpu, mut wall, mut lost) = (Vec::new(), Vec::new(), 0usize);
        // One round to open the sockets and warm up; not counted.
        for round in 0..=rounds {
            let (cpu0, wall0) = (cpu_time(), Instant::now());
            let mut set = JoinSet::new();
            for &ip in &addresses {
                let (pinger, limit) = (pinger.clone(), limit.clone());
                set.spawn(async move {
                    let _permit = limit.acquire_owned().await;
                    pinger.ping(ip, None, Duration::from_secs(1)).await
                });
            }
            let mut failed = 0;
            while let Some(outcome) = set.join_next().await {
                if !outcome.is_ok_and(|o| o.result.is_ok()) {
                    failed += 1;
                }
            }
            if round > 0 {
                cpu.push((cpu_time() - cpu0).as_secs_f64() * 1000.0);
                wall.push(wall0.elapsed().as_secs_f64() * 1000.0);
                lost += failed;
            }
        }
        (cpu, wall, lost, mode)
    });
    println!("per round: cpu_ms {cpu:.1?} wall_ms {wall:.1?}");
    println!(
        "icmp_round hosts={hosts} rounds={rounds} mode={mode} cpu_ms_median={:.1} \
         wall_ms_median={:.1} lost={lost}",
        median(cpu),
        median(wall)
    );
}
