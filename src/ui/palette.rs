//! The theme's styles for the model's states: a host's health, a resolver's verdict, the
//! hosts-file flag, a checklist item and its linked probe.
//!
//! They sit in the UI, not in `config::theme`, because they name model types
//! (`store`, `checklist`) and config is a layer below the model. The colours and the
//! state-free styles (`ok`, `failed`, `warn`, `muted`, ...) stay with [`Theme`].

use ratatui::style::{Modifier, Style};

use crate::checklist::ItemStatus;
use crate::config::Theme;
use crate::store::LinkState;
use crate::store::{Health, HostsFlag, Verdict};

impl Theme {
    /// A host's overall health.
    pub fn health(&self, health: Health) -> Style {
        match health {
            Health::Up => self.fg(self.up),
            Health::Degraded => self.fg(self.degraded).add_modifier(Modifier::BOLD),
            Health::Down => self.fg(self.down).add_modifier(Modifier::BOLD),
            Health::Unknown => {
                if self.monochrome {
                    Style::new().add_modifier(Modifier::DIM)
                } else {
                    self.fg(self.unknown)
                }
            }
        }
    }

    /// One resolver's verdict.
    pub fn verdict(&self, verdict: Verdict) -> Style {
        match verdict {
            Verdict::New => self.fg(self.verdict_new),
            Verdict::Old => self.loud(self.verdict_old),
            Verdict::Other => self.fg(self.verdict_other),
            Verdict::Timeout => self.warn(),
            Verdict::NxDomain | Verdict::NoData | Verdict::Refused | Verdict::Error => {
                self.failed()
            }
        }
    }

    /// The hosts-file flag; `OLD IP` is the loudest thing on the screen.
    pub fn hosts_flag(&self, flag: HostsFlag) -> Style {
        match flag {
            HostsFlag::Old => {
                let style = self.fg(self.verdict_old).add_modifier(Modifier::BOLD);
                if self.monochrome {
                    style.add_modifier(Modifier::UNDERLINED | Modifier::REVERSED)
                } else {
                    style.add_modifier(Modifier::REVERSED)
                }
            }
            HostsFlag::Disagrees | HostsFlag::Unreadable => self.warn(),
            HostsFlag::Agrees => self.fg(self.verdict_new),
            HostsFlag::Absent => self.muted(),
        }
    }

    /// A checklist item's state. The symbol and word tell them apart; colour helps.
    pub fn item(&self, status: ItemStatus) -> Style {
        match status {
            ItemStatus::Open => Style::new(),
            ItemStatus::Ready => self.fg(self.key).add_modifier(Modifier::BOLD),
            ItemStatus::Done => self.fg(self.up),
            ItemStatus::DoneByCheck => self.fg(self.up).add_modifier(Modifier::BOLD),
        }
    }

    /// The live state of the probe a checklist item is linked to.
    pub fn link(&self, link: &LinkState) -> Style {
        match link {
            LinkState::Green(_) => self.ok(),
            LinkState::Red(_) => self.failed(),
            LinkState::Pending => self.muted(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monochrome_has_no_colour_but_keeps_states_apart() {
        let m = Theme::monochrome();
        let styles = [
            m.health(Health::Up),
            m.health(Health::Degraded),
            m.health(Health::Down),
            m.health(Health::Unknown),
            m.hosts_flag(HostsFlag::Old),
            m.verdict(Verdict::Old),
            m.item(ItemStatus::Ready),
            m.item(ItemStatus::DoneByCheck),
            m.link(&LinkState::Red(String::new())),
        ];
        for s in styles {
            assert!(s.fg.is_none() && s.bg.is_none(), "{s:?}");
        }
        assert_ne!(m.health(Health::Up), m.health(Health::Down));
        assert_ne!(m.health(Health::Unknown), m.health(Health::Up));
        assert_ne!(m.item(ItemStatus::Ready), m.item(ItemStatus::Open));
    }

    #[test]
    fn health_up_is_the_ok_style() {
        let dark = Theme::by_name("dark").unwrap();
        assert_eq!(dark.health(Health::Up), dark.ok());
    }
}
