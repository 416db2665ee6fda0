//! Flap damping: one lost ping or one slow handshake must not paint a host red at 3 a.m.
//!
//! Each check of a host (ping, SSH, HTTP, every expected port, every service) has a
//! [`Damper`]. A check turns red only after `fail_after` consecutive failures and green
//! again after `recover_after` consecutive successes; in between it is amber, with the count
//! ("1 of 2 failed", "1 of 2 ok"). A failure that clears at the next probe leaves a note,
//! "recovered after retry", until the probe after that.

use crate::config::Damping;

/// Where a check stands after damping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Damped {
    /// Not probed yet.
    #[default]
    Unknown,
    Up,
    /// Failing, but fewer than `fail_after` times in a row: amber.
    Suspect {
        failed: u32,
    },
    /// `fail_after` failures in a row: red.
    Down,
    /// Red, now succeeding, fewer than `recover_after` times in a row: amber.
    Recovering {
        ok: u32,
    },
}

/// One check's recent history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Damper {
    pub state: Damped,
    /// The check failed once or more and then passed before turning red (shown as
    /// "recovered after retry" until the next observation).
    pub recovered: bool,
}

impl Damper {
    /// Takes one result of the check into account.
    pub fn observe(&mut self, ok: bool, cfg: Damping) -> Damped {
        let fail_after = cfg.fail_after.max(1);
        let recover_after = cfg.recover_after.max(1);
        self.recovered = false;
        self.state = match (self.state, ok) {
            (Damped::Unknown | Damped::Up, true) => Damped::Up,
            (Damped::Suspect { .. }, true) => {
                self.recovered = true;
                Damped::Up
            }
            (Damped::Down, true) if recover_after <= 1 => Damped::Up,
            (Damped::Down, true) => Damped::Recovering { ok: 1 },
            (Damped::Recovering { ok }, true) if ok + 1 >= recover_after => Damped::Up,
            (Damped::Recovering { ok }, true) => Damped::Recovering { ok: ok + 1 },
            (Damped::Unknown | Damped::Up, false) if fail_after <= 1 => Damped::Down,
            (Damped::Unknown | Damped::Up, false) => Damped::Suspect { failed: 1 },
            (Damped::Suspect { failed }, false) if failed + 1 >= fail_after => Damped::Down,
            (Damped::Suspect { failed }, false) => Damped::Suspect { failed: failed + 1 },
            // A recovering check that fails again is red again at once: it was red.
            (Damped::Down | Damped::Recovering { .. }, false) => Damped::Down,
        };
        self.state
    }

    /// The amber text, or the note: `1 of 2 failed`, `recovering: 1 of 2 ok`,
    /// `recovered after retry`; `None` when there is nothing to say.
    pub fn note(&self, cfg: Damping) -> Option<String> {
        match self.state {
            Damped::Suspect { failed } => Some(format!("{failed} of {} failed", cfg.fail_after)),
            Damped::Recovering { ok } => {
                Some(format!("recovering: {ok} of {} ok", cfg.recover_after))
            }
            Damped::Up if self.recovered => Some("recovered after retry".into()),
            _ => None,
        }
    }

    /// Amber: failing but not yet red, or red and not yet green.
    pub fn is_amber(&self) -> bool {
        matches!(
            self.state,
            Damped::Suspect { .. } | Damped::Recovering { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(cfg: Damping, results: &[bool]) -> Vec<Damped> {
        let mut d = Damper::default();
        results.iter().map(|&ok| d.observe(ok, cfg)).collect()
    }

    const DEFAULT: Damping = Damping {
        fail_after: 2,
        recover_after: 1,
    };

    #[test]
    fn one_failure_is_amber_two_are_red_one_success_is_green() {
        use Damped::*;
        assert_eq!(
            run(DEFAULT, &[true, false, false, true]),
            [Up, Suspect { failed: 1 }, Down, Up]
        );
    }

    #[test]
    fn a_blip_recovers_after_retry_and_says_so_once() {
        let mut d = Damper::default();
        d.observe(true, DEFAULT);
        d.observe(false, DEFAULT);
        assert_eq!(d.note(DEFAULT).as_deref(), Some("1 of 2 failed"));
        assert!(d.is_amber());
        assert_eq!(d.observe(true, DEFAULT), Damped::Up);
        assert_eq!(d.note(DEFAULT).as_deref(), Some("recovered after retry"));
        d.observe(true, DEFAULT);
        assert_eq!(d.note(DEFAULT), None);
    }

    #[test]
    fn flapping_never_turns_red_below_the_threshold() {
        let cfg = Damping {
            fail_after: 3,
            recover_after: 1,
        };
        let states = run(cfg, &[false, false, true, false, false, true, false]);
        assert!(!states.contains(&Damped::Down), "{states:?}");
        assert_eq!(states[1], Damped::Suspect { failed: 2 });
    }

    #[test]
    fn recovery_needs_recover_after_successes_and_a_relapse_is_red_again() {
        use Damped::*;
        let cfg = Damping {
            fail_after: 1,
            recover_after: 3,
        };
        assert_eq!(
            run(cfg, &[false, true, true, false, true, true, true]),
            [
                Down,
                Recovering { ok: 1 },
                Recovering { ok: 2 },
                Down,
                Recovering { ok: 1 },
                Recovering { ok: 2 },
                Up
            ]
        );
        let mut d = Damper::default();
        d.observe(false, cfg);
        d.observe(true, cfg);
        assert_eq!(d.note(cfg).as_deref(), Some("recovering: 1 of 3 ok"));
    }

    #[test]
    fn fail_after_one_is_undamped() {
        use Damped::*;
        let cfg = Damping {
            fail_after: 1,
            recover_after: 1,
        };
        assert_eq!(run(cfg, &[false, true, false]), [Down, Up, Down]);
    }

    #[test]
    fn the_first_result_failing_is_amber_not_red() {
        assert_eq!(run(DEFAULT, &[false]), [Damped::Suspect { failed: 1 }]);
    }
}
