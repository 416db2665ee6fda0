//! The shipped inventory and every theme parse. (Invalid inventories are tested through the
//! binary in `tests/cli.rs`.)

use std::path::Path;

use moveday::config::Inventory;

#[test]
fn shipped_inventory_parses() {
    let inv = Inventory::load(Path::new("inventory.toml")).unwrap();
    assert_eq!(inv.hosts.len(), 8);
    assert_eq!(inv.name, "example.org to the new datacenter");
    assert!(inv.hosts.iter().any(|h| h.new_ip.is_none()), "one host resolves its target");
}

