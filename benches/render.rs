//! One frame of the dashboard, drawn the way the app draws it (`Terminal::draw` with
//! `ui::render` / `ui::render_with_timeline`) onto ratatui's `TestBackend`, for moves of 8,
//! 100 and 1,000 hosts: the main screen, the resolver matrix (`d`), the timeline (`t`) and
//! the ports and services (`p`). Issue 8's targets: ≤ 1 ms for 8 hosts at 200×60, ≤ 5 ms for 1,000.
//!
//! `cargo bench --bench render` (add `-- --warm-up-time 1 --measurement-time 3` to be quick,
//! or a filter such as `-- main/1000`).

// Benchmark set-up may unwrap: a failure is the benchmark failing.
#![allow(clippy::unwrap_used, clippy::too_many_lines)]

mod common;

use std::hint::black_box;

use chrono::FixedOffset;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use moveday::config::Theme;
use moveday::ui::{self, Screen, UiState};

const SIZES: [usize; 3] = [8, 100, 1_000];
const WIDTH: u16 = 200;
const HEIGHT: u16 = 60;

fn ui_state(hosts: usize, screen: Option<Screen>) -> UiState {
    let mut ui = UiState::new(FixedOffset::east_opt(0).expect("UTC"));
    // The middle of the move, so a large grid is scrolled.
    ui.selected = hosts / 2;
    ui.screen = screen;
    ui
}

/// What every frame costs before anything is drawn: the terminal's buffer reset and diff
/// of 200×60 cells.
fn empty_frame(c: &mut Criterion) {
    let mut terminal = Terminal::new(TestBackend::new(WIDTH, HEIGHT)).expect("a test terminal");
    c.bench_function("empty_frame", |b| {
        b.iter(|| {
            terminal
                .draw(|frame| {
                    black_box(frame);
                })
                .expect("drawn");
        })
    });
}

fn screens(c: &mut Criterion) {
    let theme = Theme::by_name("dark").expect("the dark theme");
    let now = common::now();
    for (group, screen) in [
        ("main", None),
        ("resolvers", Some(Screen::Resolvers)),
        ("timeline", Some(Screen::Timeline)),
        ("services", Some(Screen::Services)),
    ] {
        let mut g = c.benchmark_group(group);
        for n in SIZES {
            let (state, timeline) = common::state_and_timeline(n);
            let ui = ui_state(n, screen);
            let mut terminal =
                Terminal::new(TestBackend::new(WIDTH, HEIGHT)).expect("a test terminal");
            g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
                b.iter(|| {
                    terminal
                        .draw(|frame| {
                            ui::render_with_timeline(
                                frame,
                                black_box(&state),
                                &ui,
                                &theme,
                                now,
                                Some(&timeline),
                            )
                        })
                        .expect("drawn");
                })
            });
        }
        g.finish();
    }
}

criterion_group!(benches, empty_frame, screens);
criterion_main!(benches);
