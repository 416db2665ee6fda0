//! Issue 19's commands run on the hosts, in the lab (`tests/lab/lab.sh`): `kind =
//! "command"` services over the real OpenSSH client to the lab hosts' own sshd, as root
//! with the lab's admin key (`keys/ssh-admin`), from the laptop namespace; the destination
//! is the host's fqdn, resolved by ssh through the laptop's resolver.
//!
//! - mail's queue (a file of the lab's directory: the namespaces share the file system) is
//!   counted against `max`: 1203 lines are degraded with the number, 37 are ok;
//! - a sweep (`grep -rIl 198.51.100. DIR` with `expect_empty`) on www finds a planted file
//!   that names an old address, and clears once the file is fixed.
//!
//! Both through `moveday check --json` on the laptop. Needs root and the lab's packages:
//! ignored by a plain `cargo test`, run by `cargo test -- --include-ignored`.

use std::path::Path;

use crate::lab::{self, Lab};
use serde_json::Value;

/// An inventory of the lab's mail and www with the two command services (and the lab's
/// resolver only: nothing is asked outside the lab).
fn inventory(lab: &Lab, queue: &Path, etc: &Path) -> String {
    let keys = lab.dir.join("keys");
    format!(
        r#"hosts_file = "/etc/hosts"
[probe]
interval = "1s"
timeout = "1s"
fail_after = 1
[ssh]
options = ["-F", "/dev/null", "-i", "{key}", "-o", "IdentitiesOnly=yes", "-o", "UserKnownHostsFile={known}", "-o", "StrictHostKeyChecking=accept-new"]
[[resolver]]
name = "system"
system = true
[[host]]
name = "mail"
fqdn = "mail.example.org"
new_ip = "203.0.113.11"
ping = false
[[host.service]]
name = "mail-queue"
kind = "command"
run = "wc -l < {queue}"
ssh = "root@mail.example.org"
max = 1000
every = "1m"
[[host]]
name = "www"
fqdn = "www.example.org"
new_ip = "203.0.113.15"
ping = false
[[host.service]]
name = "old-address-sweep"
kind = "command"
run = "grep -rIl 198.51.100. {etc}"
ssh = "root@www.example.org"
expect_empty = true
"#,
        key = keys.join("ssh-admin").display(),
        known = lab.dir.join("known_hosts").display(),
        queue = queue.display(),
        etc = etc.display(),
    )
}

/// `check --json` on the laptop with `inventory`: the services of mail and www.
fn check(lab: &Lab, inventory: &Path, when: &str) -> (Value, Value) {
    let out = lab
        .on_laptop(&[env!("CARGO_BIN_EXE_moveday")])
        .args(["check", "--json", "--inventory"])
        .arg(inventory)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("ip netns exec moveday");
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "check --json {when}: {e}\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let queue = lab::service(lab::host(&json, "mail"), "mail-queue").clone();
    let sweep = lab::service(lab::host(&json, "www"), "old-address-sweep").clone();
    eprintln!("--- check --json {when}:\n    mail-queue: {queue}\n    sweep: {sweep}");
    (queue, sweep)
}

#[test]
#[ignore = "needs root, network namespaces and the lab's packages (tests/lab)"]
fn lab_command_services_count_a_queue_and_sweep_for_old_addresses() {
    let lab = Lab::start(&[("MDLAB_MAIL_FAULTS", "0")]);
    let queue = lab.dir.join("hosts/mail/queue");
    let etc = lab.dir.join("hosts/www/etc");
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::write(etc.join("nginx.conf"), "listen 203.0.113.15:80;\n").unwrap();
    let planted = etc.join("upstream.conf");
    std::fs::write(&planted, "proxy_pass http://198.51.100.16:8010;\n").unwrap();
    std::fs::write(&queue, "queued\n".repeat(1203)).unwrap();
    let path = lab.dir.join("commands.toml");
    std::fs::write(&path, inventory(&lab, &queue, &etc)).unwrap();

    let (q, sweep) = check(&lab, &path, "with a backlog and a planted file");
    assert_eq!(q["kind"], "command", "{q:#}");
    assert_eq!(q["state"], "warn", "{q:#}");
    assert_eq!(q["error"], "1203 above max 1000", "{q:#}");
    assert_eq!(
        (&q["exit_status"], &q["output"]),
        (&Value::from(0), &Value::from("1203"))
    );
    assert_eq!(sweep["state"], "fail", "{sweep:#}");
    let planted_text = planted.display().to_string();
    assert_eq!(
        sweep["error"],
        format!("output not empty (1 line): {planted_text}"),
        "{sweep:#}"
    );
    assert_eq!(sweep["output"], planted_text.as_str());

    // The queue drains and the file is fixed: both clear.
    std::fs::write(&queue, "queued\n".repeat(37)).unwrap();
    std::fs::write(&planted, "proxy_pass http://203.0.113.16:8010;\n").unwrap();
    let (q, sweep) = check(&lab, &path, "drained and fixed");
    assert_eq!(
        (&q["state"], &q["error"]),
        (&Value::from("ok"), &Value::Null),
        "{q:#}"
    );
    assert_eq!(q["detail"], "exit 0 · 1 line · 37");
    assert_eq!(
        (&sweep["state"], &sweep["error"]),
        (&Value::from("ok"), &Value::Null),
        "{sweep:#}"
    );
    assert_eq!(sweep["detail"], "exit 1 · no output");
    assert_eq!(sweep["exit_status"], 1, "grep's exit 1: nothing found");
    let ended = lab.close();
    assert_eq!(ended.code, Some(0), "lab.sh: {}", ended.stderr);
}
