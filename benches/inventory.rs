//! Reading an inventory: TOML parse and validation (`Inventory::parse`, what `load` does
//! after reading the file) for 8 and 1,000 hosts. `cargo bench --bench inventory`.

// Benchmark set-up may unwrap: a failure is the benchmark failing.
#![allow(clippy::unwrap_used, clippy::too_many_lines)]

mod common;

use std::hint::black_box;
use std::path::Path;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

use moveday::config::Inventory;

fn parse(c: &mut Criterion) {
    let mut g = c.benchmark_group("inventory_parse");
    for n in [8, 1_000] {
        let source = common::inventory_toml(n);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), &source, |b, source| {
            b.iter(|| {
                Inventory::parse(Path::new("inventory.toml"), black_box(source))
                    .expect("a valid inventory")
            })
        });
    }
    g.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
