//! The command line as a user runs it.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use image_builder::{qemu, workspace_root, RunOptions};

fn image_builder(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_image-builder"))
        .args(args)
        .current_dir(workspace_root())
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .expect("image-builder runs")
}

#[test]
fn check_accepts_the_demo_by_default() {
    let out = image_builder(&["check"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("configs/qemu-aarch64-demo.toml: ok"), "{err}");
}

#[test]
fn check_reports_errors_rustc_style_and_fails() {
    let out = image_builder(&["check", "configs/bad/cpu-in-two-pools.toml"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("error: CPU 1 is in two pools"), "{err}");
    assert!(err.contains("configs/bad/cpu-in-two-pools.toml:11:9"), "{err}");
    assert!(err.contains("= field: pool[1].cpus[0]"), "{err}");
    assert!(err.contains("= help: "), "{err}");
    // Not a terminal: no colour codes.
    assert!(!err.contains('\u{1b}'), "{err}");
}

#[test]
fn missing_config_is_an_error_not_a_panic() {
    let out = image_builder(&["check", "configs/does-not-exist.toml"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(err.starts_with("error: cannot read configs/does-not-exist.toml"), "{err}");
}

#[test]
fn usage() {
    let out = image_builder(&["--help"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for cmd in ["check", "inspect", "build", "run"] {
        assert!(text.contains(cmd), "{text}");
    }
    let out = image_builder(&["run", "--help"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("--timeout <SECS>") && text.contains("--until <REGEX>") && text.contains("--quiet"),
        "{text}"
    );
    assert_eq!(image_builder(&["frobnicate"]).status.code(), Some(2));
}

/// Builds the guests and hv-static and boots the demo in QEMU: slow, and needs the guests and the hypervisor to
/// build. Run with `cargo test -p image-builder -- --ignored`.
#[test]
#[ignore]
fn demo_boots_in_qemu() {
    let outcome = qemu::run(&RunOptions {
        config: workspace_root().join("configs/qemu-aarch64-demo.toml"),
        timeout: Some(Duration::from_secs(120)),
        until: Some(r"\[hello1\] .*\n(.*\n)*.*\[hello0\] |\[hello0\] .*\n(.*\n)*.*\[hello1\] ".into()),
        quiet: true,
        echo: false,
        secure: None,
        icount: false,
        host_disk: None,
    })
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(outcome.matched, "{outcome:?}");
    assert!(Path::new(&workspace_root().join("out/qemu-aarch64-demo/layout.txt")).is_file());
}
