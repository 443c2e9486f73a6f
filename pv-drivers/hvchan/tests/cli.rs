//! The `hvchan` binary over a fake `/proc/device-tree` and sysfs: its output lines and exit statuses. (No GPIO
//! chip on the build host: the doorbell lines are missing there.)

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn prop(node: &Path, name: &str, value: &[u8]) {
    fs::create_dir_all(node).unwrap();
    fs::write(node.join(name), value).unwrap();
}

fn cells(values: &[u32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_be_bytes()).collect()
}

/// A partition's tree with channel `label` at 0x1000_0000 (4 KiB, member 0), and its zeroed sram file.
fn system(what: &str, label: &str, access: &str) -> Dir {
    let dir = Dir(std::env::temp_dir().join(format!("hvchan-cli-{what}-{}", std::process::id())));
    let _ = fs::remove_dir_all(&dir.0);
    let root = dir.0.join("dt");
    prop(&root, "#address-cells", &cells(&[2]));
    prop(&root, "#size-cells", &cells(&[2]));
    let node = root.join("sram@10000000");
    prop(&node, "compatible", b"mmio-sram\0");
    prop(&node, "reg", &cells(&[0, 0x1000_0000, 0, 0x1000]));
    prop(&node, "#address-cells", &cells(&[1]));
    prop(&node, "#size-cells", &cells(&[1]));
    let child = node.join("channel@0");
    prop(&child, "reg", &cells(&[0, 0x1000]));
    prop(&child, "label", format!("{label}\0").as_bytes());
    prop(&child, "hv-static,access", format!("{access}\0").as_bytes());
    prop(&child, "hv-static,member", &cells(&[0]));
    prop(&dir.0.join("sys/bus/platform/devices/10000000.sram"), "10000000.sram", &[0; 0x1000]);
    dir
}

fn hvchan(dir: &Dir, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hvchan"))
        .arg("--device-tree")
        .arg(dir.0.join("dt"))
        .arg("--sysfs")
        .arg(dir.0.join("sys"))
        .args(args)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn list_prints_one_line_per_channel() {
    let dir = system("list", "ping", "rw");
    let out = hvchan(&dir, &["list"]);
    assert!(out.status.success());
    let stdout = text(&out.stdout);
    let want = "hvchan: channel ping access=rw member=0 size=0x1000 at=0x10000000 doorbell=";
    assert!(stdout.starts_with(want), "{stdout}");
    assert!(stdout.trim_end().ends_with("/sys/bus/platform/devices/10000000.sram/10000000.sram"), "{stdout}");
}

#[test]
fn an_empty_tree_has_no_channels() {
    let dir = system("empty", "ping", "rw");
    fs::remove_dir_all(dir.0.join("dt/sram@10000000")).unwrap();
    let out = hvchan(&dir, &["list"]);
    assert!(out.status.success());
    assert!(text(&out.stdout).starts_with("hvchan: no channels in "));
}

#[test]
fn failures_are_one_line_and_a_non_zero_status() {
    let dir = system("fail", "ping", "r");
    let out = hvchan(&dir, &["ping", "pong", "--count", "1"]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.starts_with("hvchan: ping error: no channel labelled `pong` in "), "{stderr}");
    let dir = system("nogpio", "ping", "rw");
    let out = hvchan(&dir, &["send", "ping", "hello"]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.starts_with("hvchan: channel `ping`: no GPIO line named `ping.ring` ("), "{stderr}");
    let dir = system("readonly", "ping", "r");
    let out = hvchan(&dir, &["send", "ping", "hello"]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.starts_with("hvchan: channel `ping` is mapped read-only here"), "{stderr}");
}
