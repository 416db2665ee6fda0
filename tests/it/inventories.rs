//! The shipped inventory and every theme parse. (Invalid inventories are tested through the
//! binary in `tests/it/cli.rs`.)

use std::path::Path;
use std::time::Duration;

use moveday::config::{BodyMatch, Damping, Inventory, ServiceKind};

#[test]
fn shipped_inventory_parses() {
    let inv = Inventory::load(Path::new("inventory.toml")).unwrap();
    assert_eq!(inv.hosts.len(), 8);
    assert_eq!(inv.name, "example.org to the new datacenter");
    assert!(
        inv.hosts.iter().any(|h| h.new_ip.is_none()),
        "one host resolves its target"
    );
}

/// The shipped inventory shows the post-mortem's failures as services and ports.
#[test]
fn shipped_inventory_has_the_post_mortem_services() {
    let inv = Inventory::load(Path::new("inventory.toml")).unwrap();
    let host = |name: &str| &inv.hosts[inv.host_index(name).unwrap()];
    let service = |host_name: &str, name: &str| {
        host(host_name)
            .services
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("{host_name} has no service {name}"))
            .kind
            .clone()
    };
    assert_eq!(inv.probe.damping, Damping::default());
    assert!(!inv.probe.probe_old);

    // www: the firewall ACL forgot port 80.
    assert_eq!(host("www").ports, [80, 443]);
    let ServiceKind::Http(site) = service("www", "site") else {
        panic!("www.site is not http");
    };
    assert!(site.url.starts_with("https://"));
    assert!(site.contains.is_some());
    let fresh = site.freshness.expect("site has max_age");
    assert!(fresh.fresh_regex.is_none(), "site reads Last-Modified");

    // planet: a stale lock file stopped updates; the page's own time says so.
    let ServiceKind::Http(planet) = service("www", "planet") else {
        panic!("www.planet is not http");
    };
    assert!(matches!(planet.contains, Some(BodyMatch::Regex(_))));
    let fresh = planet.freshness.expect("planet has max_age");
    assert_eq!(fresh.max_age, Duration::from_secs(6 * 3600));
    let re = fresh.fresh_regex.expect("planet has fresh_regex").regex;
    let caps = re.captures("Last updated: 2024-03-09 17:05").unwrap();
    assert_eq!(&caps[1], "2024-03-09 17:05");
    assert_eq!(fresh.fresh_format.as_deref(), Some("%Y-%m-%d %H:%M"));

    // mail: SMTP and submission, and the old server watched too.
    assert_eq!(host("mail").ports, [25, 587]);
    assert!(host("mail").probe_old);
    assert!(matches!(service("mail", "smtp"), ServiceKind::Smtp(s) if s.port == 25));

    // jabber: client and server ports, and a stream the server must answer.
    assert_eq!(host("jabber").ports, [5222, 5269]);
    let ServiceKind::Tcp(c2s) = service("jabber", "jabber-c2s") else {
        panic!("jabber.jabber-c2s is not tcp");
    };
    assert_eq!(c2s.port, 5222);
    assert!(c2s.send.is_some_and(|s| s.contains("jabber:client")));
    assert!(
        c2s.expect
            .is_some_and(|e| e.is_match("<stream:stream from='example.org'>"))
    );

    // build: buildbot's worker port, and a host with its own damping.
    assert!(host("build").ports.contains(&9989));
    assert_eq!(host("build").damping.fail_after, 3);
    assert_eq!(host("build").damping.recover_after, 1);

    // Every kind is shown somewhere.
    let mut kinds: Vec<&str> = inv
        .hosts
        .iter()
        .flat_map(|h| h.services.iter().map(|s| s.kind.word()))
        .collect();
    kinds.sort_unstable();
    kinds.dedup();
    assert_eq!(kinds, ["http", "https", "smtp", "tcp", "tls"]);
}

#[test]
fn every_theme_file_parses_and_is_built_in() {
    let mut names = Vec::new();
    for entry in std::fs::read_dir("themes").unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            moveday::config::Theme::load(&path).unwrap_or_else(|e| panic!("{e}"));
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            // What ships in themes/ is what `--theme NAME` offers.
            moveday::config::Theme::by_name(&name).unwrap_or_else(|e| panic!("{e}"));
            names.push(name);
        }
    }
    names.sort();
    assert_eq!(names, ["dark", "high-contrast", "light"]);
}
