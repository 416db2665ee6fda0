//! Reports per second through the reducer: `store::reduce` alone, and `journal::reduce`
//! (the event loop's call, which also derives the journal entries of what changed).
//!
//! The stream is four probe rounds of a move of 100 or 1,000 hosts whose first rounds have already
//! been applied: mostly steady-state repeats, with hosts going down and coming back (up →
//! down → up) and the degraded ones staying degraded. `cargo bench --bench reducer`.

// Benchmark set-up may unwrap: a failure is the benchmark failing.
#![allow(clippy::unwrap_used, clippy::too_many_lines)]

mod common;

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

use moveday::journal;
use moveday::probe::ProbeReport;
use moveday::store::{self, State};

/// Moves of 100 and 1,000 hosts: reports per second should not depend on the size.
const SIZES: [usize; 2] = [100, 1_000];
const STREAM_ROUNDS: u32 = 4;

/// The state after the first rounds, and the rounds that follow.
fn setup(hosts: usize) -> (State, Vec<ProbeReport>) {
    let state = common::state(hosts);
    let stream = (0..STREAM_ROUNDS)
        .flat_map(|k| {
            let r = common::ROUNDS + k;
            common::round(&state.inventory, r, u64::from(r + 1) * common::ROUND_SECS)
        })
        .collect();
    (state, stream)
}

fn reducer(c: &mut Criterion) {
    let mut g = c.benchmark_group("reduce");
    g.sample_size(20);
    for hosts in SIZES {
        let (state, stream) = setup(hosts);
        g.throughput(Throughput::Elements(stream.len() as u64));
        g.bench_function(format!("store/{hosts}"), |b| {
            b.iter_batched(
                || (state.clone(), stream.clone()),
                |(mut state, stream)| {
                    for report in stream {
                        black_box(store::reduce(&mut state, report));
                    }
                    state
                },
                BatchSize::LargeInput,
            )
        });
        g.bench_function(format!("journal/{hosts}"), |b| {
            b.iter_batched(
                || (state.clone(), stream.clone()),
                |(mut state, stream)| {
                    let mut entries = 0;
                    for report in stream {
                        let (changed, made) = journal::reduce(&mut state, report);
                        entries += made.len();
                        black_box(changed);
                    }
                    (state, entries)
                },
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, reducer);
criterion_main!(benches);
