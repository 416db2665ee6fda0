//! `C` in the zones view: asks which zone's canary to write (only zones with a
//! `canary_key`, and none whose run is still going), then hands the choice to the app loop.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::Effect;
use crate::store::{self, State};
use crate::ui::state::{CanaryAsk, Mode, Screen, UiState};

/// `C`: opens the question, or says why not.
pub(super) fn ask(ui: &mut UiState, state: &State) {
    if ui.screen != Some(Screen::Zones) {
        ui.set_message("C writes a zone's canary: open the zones view (z) first");
        return;
    }
    if ui.who.trim().is_empty() {
        ui.set_message("who is writing the canary? press w, type your name, then C again");
        return;
    }
    let inv = &state.inventory;
    let keyed: Vec<usize> = store::canary_zones(inv)
        .filter(|&z| !inv.zones[z].secondaries.is_empty())
        .collect();
    if keyed.is_empty() {
        ui.set_message(
            "no zone with secondaries has a canary_key: moveday writes to a zone only with a TSIG key the inventory names",
        );
        return;
    }
    let zones: Vec<(usize, String, String)> = keyed
        .into_iter()
        .filter(|&z| store::canary(state, z).is_none_or(|v| v.run.over()))
        .map(|z| {
            (
                z,
                inv.zones[z].name.clone(),
                inv.zones[z].primary.to_string(),
            )
        })
        .collect();
    if zones.is_empty() {
        ui.set_message("a canary run is still going: wait for it to end");
        return;
    }
    ui.mode = Mode::ConfirmCanary(CanaryAsk { zones });
}

/// A key while the question is open: `y` (one zone) or its number (several) writes.
pub(super) fn confirm_key(ui: &mut UiState, ask: &CanaryAsk, key: KeyEvent) -> Effect {
    let plain = (key.modifiers - KeyModifiers::SHIFT).is_empty();
    let chosen = match key.code {
        KeyCode::Char('y' | 'Y') if plain && ask.zones.len() == 1 => ask.zones.first(),
        KeyCode::Char(c @ '1'..='9') if plain => {
            c.to_digit(10).and_then(|n| ask.zones.get(n as usize - 1))
        }
        _ => None,
    };
    match chosen {
        Some((zone, name, _)) => {
            ui.set_message(format!("writing the canary to {name}…"));
            Effect::Canary(*zone)
        }
        None => {
            ui.set_message("no canary written");
            Effect::None
        }
    }
}
