//! A move of 1,000 hosts on a 200×60 terminal: the grid draws only the rows on screen, and
//! those must be the right ones — the window that keeps the selection visible, moved by the
//! keys as the app moves it. The same for the resolver matrix and the timeline, whose
//! lines are built only for the window shown. (Timings are for `cargo bench`; nothing here
//! measures time.)

#[path = "../../benches/common/mod.rs"]
mod scale;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;

use moveday::config::Theme;
use moveday::journal::{Entry, Timeline};
use moveday::store::State;
use moveday::ui::{self, Screen, UiState};

const HOSTS: usize = 1_000;
const WIDTH: u16 = 200;
const HEIGHT: u16 = 60;

fn theme() -> Theme {
    Theme::by_name("dark").unwrap()
}

fn draw(state: &State, timeline: &Timeline, ui: &UiState) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(WIDTH, HEIGHT)).unwrap();
    terminal
        .draw(|frame| {
            ui::render_with_timeline(frame, state, ui, &theme(), scale::now(), Some(timeline))
        })
        .unwrap();
    terminal
}

fn press(ui: &mut UiState, state: &State, code: KeyCode) {
    ui::on_key(
        ui,
        KeyEvent::new(code, KeyModifiers::NONE),
        state,
        scale::now(),
    );
}

fn row_text(buf: &Buffer, y: u16) -> String {
    (0..buf.area.width)
        .map(|x| buf[(x, y)].symbol())
        .collect::<String>()
}

/// The first `hNNNN` in `text`.
fn host_in(text: &str) -> Option<String> {
    let chars: Vec<char> = text.chars().collect();
    chars.windows(5).find_map(|w| {
        (w[0] == 'h' && w[1..].iter().all(char::is_ascii_digit)).then(|| w.iter().collect())
    })
}

/// The grid as drawn: (line of its header, the host names of its rows, top to bottom, and
/// the index among them of the highlighted row).
fn grid_rows(buf: &Buffer) -> (u16, Vec<String>, Option<usize>) {
    let header = (0..buf.area.height)
        .find(|&y| {
            let text = row_text(buf, y);
            text.trim_start().starts_with("Health") && text.contains("Host")
        })
        .expect("a grid header");
    let selected_bg = theme().selected().bg;
    let mut names = Vec::new();
    let mut highlighted = None;
    for y in header + 1..buf.area.height {
        // Only the grid's own columns: the checklist stands at the right.
        let text: String = row_text(buf, y).chars().take(100).collect();
        let Some(name) = text
            .split_whitespace()
            .nth(2)
            .filter(|w| host_in(w).as_deref() == Some(*w))
        else {
            break;
        };
        if buf[(0, y)].bg == selected_bg.unwrap() {
            assert!(highlighted.is_none(), "one row is highlighted");
            highlighted = Some(names.len());
        }
        names.push(name.to_string());
    }
    (header, names, highlighted)
}

fn names(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(scale::host_name).collect()
}

#[test]
fn grid_window_follows_the_selection_over_1000_hosts() {
    let (state, timeline) = scale::state_and_timeline(HOSTS);
    assert_eq!(state.hosts.len(), HOSTS);
    let mut ui = UiState::default();

    // The first frame: the top of the grid, the first host selected.
    let terminal = draw(&state, &timeline, &ui);
    let rows = ui.drawn.get().grid_rows;
    assert!(rows > 10 && rows < HOSTS, "{rows} rows");
    let (header, shown, highlighted) = grid_rows(terminal.backend().buffer());
    assert_eq!(shown, names(0..rows));
    assert_eq!(highlighted, Some(0));
    let title = row_text(terminal.backend().buffer(), header - 1);
    assert!(title.contains(&format!(" 1–{rows} of {HOSTS} ")), "{title}");

    // End: the last host, at the bottom of the window.
    press(&mut ui, &state, KeyCode::End);
    assert_eq!(ui.selected, HOSTS - 1);
    let terminal = draw(&state, &timeline, &ui);
    let (_, shown, highlighted) = grid_rows(terminal.backend().buffer());
    assert_eq!(shown, names(HOSTS - rows..HOSTS));
    assert_eq!(highlighted, Some(rows - 1));
    let screen = terminal.backend().to_string();
    assert!(
        screen.contains(&format!(" {}–{HOSTS} of {HOSTS} ", HOSTS - rows + 1)),
        "{screen}"
    );
    // The detail pane is about the selected host.
    assert!(screen.contains("h0999 · h0999.example.org"), "{screen}");

    // Up a few rows: the window stays, the highlight moves.
    for _ in 0..5 {
        press(&mut ui, &state, KeyCode::Up);
    }
    let terminal = draw(&state, &timeline, &ui);
    let (_, shown, highlighted) = grid_rows(terminal.backend().buffer());
    assert_eq!(shown, names(HOSTS - rows..HOSTS));
    assert_eq!(highlighted, Some(rows - 6));

    // Up past the top of the window: it scrolls by one row.
    for _ in 0..rows - 5 {
        press(&mut ui, &state, KeyCode::Up);
    }
    assert_eq!(ui.selected, HOSTS - rows - 1);
    let terminal = draw(&state, &timeline, &ui);
    let (_, shown, highlighted) = grid_rows(terminal.backend().buffer());
    assert_eq!(shown, names(HOSTS - rows - 1..HOSTS - 1));
    assert_eq!(highlighted, Some(0));

    // Home, then two pages down: the selection at the bottom of the second window.
    press(&mut ui, &state, KeyCode::Home);
    press(&mut ui, &state, KeyCode::PageDown);
    press(&mut ui, &state, KeyCode::PageDown);
    assert_eq!(ui.selected, 2 * rows);
    let terminal = draw(&state, &timeline, &ui);
    let (_, shown, highlighted) = grid_rows(terminal.backend().buffer());
    assert_eq!(shown, names(rows + 1..2 * rows + 1));
    assert_eq!(highlighted, Some(rows - 1));
}

#[test]
fn resolver_matrix_shows_the_selected_host_of_1000() {
    let (state, timeline) = scale::state_and_timeline(HOSTS);
    let mut ui = UiState::default();
    draw(&state, &timeline, &ui);
    press(&mut ui, &state, KeyCode::End);
    press(&mut ui, &state, KeyCode::Char('d'));
    assert_eq!(ui.screen, Some(Screen::Resolvers));
    let terminal = draw(&state, &timeline, &ui);
    let buf = terminal.backend().buffer();
    let rows: Vec<(u16, String)> = (0..buf.area.height)
        .filter_map(|y| {
            let text = row_text(buf, y);
            let name = text.split_whitespace().next()?.to_string();
            name.ends_with(".example.org").then_some((y, name))
        })
        .collect();
    // The window ends at the selected (last) host, in inventory order.
    let last = rows.last().expect("matrix rows");
    assert_eq!(last.1, "h0999.example.org");
    assert_eq!(buf[(0, last.0)].bg, theme().selected().bg.unwrap());
    let first = HOSTS - rows.len();
    let expected: Vec<String> = (first..HOSTS)
        .map(|i| format!("{}.example.org", scale::host_name(i)))
        .collect();
    assert_eq!(
        rows.iter().map(|(_, n)| n.clone()).collect::<Vec<_>>(),
        expected
    );
}

/// The timeline line shows the entry: its host and the start of its summary.
fn assert_shows(line: &str, entry: &Entry) {
    let summary: String = entry.summary().chars().take(40).collect();
    assert!(
        line.contains(entry.host().unwrap_or("")) && line.contains(&summary),
        "{line}\nis not {:?}: {summary}",
        entry.host()
    );
}

#[test]
fn timeline_window_newest_first_and_scrolled_to_the_oldest() {
    let (state, timeline) = scale::state_and_timeline(HOSTS);
    assert!(timeline.len() > 2_000, "{} entries", timeline.len());
    let mut ui = UiState::default();
    draw(&state, &timeline, &ui);
    press(&mut ui, &state, KeyCode::Char('t'));
    assert_eq!(ui.screen, Some(Screen::Timeline));

    // Newest first: the top line is the newest entry.
    let newest = timeline.entries().last().unwrap();
    let terminal = draw(&state, &timeline, &ui);
    let screen = terminal.backend().to_string();
    let drawn = ui.drawn.get();
    assert!(drawn.screen_rows > 10);
    // The screen shows the newest 2,000 entries at most: that is how far it scrolls.
    assert_eq!(drawn.screen_max_scroll, 2_000 - drawn.screen_rows);
    let lines: Vec<&str> = screen.lines().collect();
    let first_entry = lines
        .iter()
        .position(|l| l.contains("Timeline"))
        .expect("the timeline's title")
        + 1;
    assert_shows(lines[first_entry], newest);

    // End: the last line is the 2,000th newest entry.
    press(&mut ui, &state, KeyCode::End);
    assert_eq!(ui.screen_scroll, drawn.screen_max_scroll);
    let terminal = draw(&state, &timeline, &ui);
    let screen = terminal.backend().to_string();
    let lines: Vec<&str> = screen.lines().collect();
    let oldest_shown = timeline.get(timeline.len() - 2_000).unwrap();
    let last_entry = first_entry + drawn.screen_rows - 1;
    assert_shows(lines[last_entry], oldest_shown);
    let one_before = timeline.get(timeline.len() - 2_000 + 1).unwrap();
    assert_shows(lines[last_entry - 1], one_before);

    // A filter narrows the lines to one host's, and the window to them.
    ui.timeline_filter = "h0999".into();
    ui.screen_scroll = 0;
    let terminal = draw(&state, &timeline, &ui);
    let screen = terminal.backend().to_string();
    let shown: Vec<&str> = screen
        .lines()
        .skip(first_entry)
        .take(drawn.screen_rows)
        .map(|l| l.trim_matches('"').trim())
        .filter(|l| !l.is_empty())
        .collect();
    let expected = timeline.newest_first("h0999").count();
    assert!(expected > 0);
    assert_eq!(shown.len(), expected.min(drawn.screen_rows), "{screen}");
    assert!(shown.iter().all(|l| l.contains("h0999")), "{screen}");
}
