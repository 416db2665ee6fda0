//! Configuration files: the inventory of the move and the colour themes.
//!
//! Every file is parsed with `deny_unknown_fields` and every error names `path:line:col`.

mod error;
pub mod inventory;
pub mod limits;
pub mod service;
pub mod theme;
pub mod tsig_key;

pub use error::{ConfigError, MAX_CONFIG_BYTES, read_config, read_stdin};
pub use inventory::{
    CheckLink, ChecklistItem, DEFAULT_DNSBL, DEFAULT_DNSBL_EVERY, HostConfig, Inventory,
    LinkedProbe, LinkedZoneCheck, MAIL_ROLES, MailSettings, NotifyConfig, NotifyOn, NotifyTarget,
    Origin, ProbeSettings, ResolverConfig, ResolverKind, SecondaryConfig, ServerRef, SshSettings,
    VantageConfig, ZoneConfig, load_ca_file,
};
pub use service::{
    BodyMatch, Damping, Freshness, HttpService, Pattern, ServiceConfig, ServiceKind, SmtpService,
    TcpService, TlsService,
};
pub use theme::Theme;
pub use tsig_key::{LoadedKey, TsigAlgorithm, TsigKey, load_tsig_key};

impl Inventory {
    /// The zone named `name` (any case, with or without the final dot).
    pub fn zone_named(&self, name: &str) -> Option<usize> {
        zone_named(&self.zones, name)
    }

    /// The inventory zone that holds `fqdn` (the longest matching zone name).
    pub fn zone_of(&self, fqdn: &str) -> Option<usize> {
        self.zones
            .iter()
            .enumerate()
            .filter(|(_, z)| {
                fqdn.strip_suffix(z.name.as_str())
                    .is_some_and(|rest| rest.is_empty() || rest.ends_with('.'))
            })
            .max_by_key(|(_, z)| z.name.len())
            .map(|(i, _)| i)
    }
}

/// The zone of `zones` named `name` (any case, with or without the final dot): the one
/// rule for a zone named on the command line or in a checklist link.
pub fn zone_named(zones: &[ZoneConfig], name: &str) -> Option<usize> {
    let wanted = name.trim().trim_end_matches('.');
    zones
        .iter()
        .position(|z| z.name.eq_ignore_ascii_case(wanted))
}
