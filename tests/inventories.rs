//! The shipped inventory and every theme parse. (Invalid inventories are tested through the
//! binary in `tests/cli.rs`.)

use std::path::Path;

use moveday::config::Inventory;

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
