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
    for cmd in ["check", "inspect", "build", "run", "boards", "completions", "man"] {
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

fn json(out: &Output) -> serde_json::Value {
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{text}"))
}

#[test]
fn check_json_reports_diagnostics_with_positions_and_fails() {
    let out = image_builder(&["check", "--format", "json", "configs/bad/cpu-in-two-pools.toml"]);
    assert_eq!(out.status.code(), Some(1));
    let doc = json(&out);
    assert_eq!((doc["command"].as_str(), doc["ok"].as_bool()), (Some("check"), Some(false)), "{doc}");
    assert_eq!(doc["config"], "configs/bad/cpu-in-two-pools.toml");
    let d = &doc["diagnostics"][0];
    assert_eq!(d["severity"], "error");
    assert!(d["message"].as_str().unwrap().starts_with("CPU 1 is in two pools"), "{d}");
    assert_eq!(d["field"], "pool[1].cpus[0]");
    assert_eq!(d["file"], "configs/bad/cpu-in-two-pools.toml");
    assert_eq!((d["line"].as_u64(), d["column"].as_u64()), (Some(11), Some(9)), "{d}");
    assert!(d["end_line"].as_u64() >= d["line"].as_u64() && d["hint"].is_string(), "{d}");
    assert!(d["related"][0]["line"].is_u64(), "{d}");
    // People still get the rendered diagnostics, on stderr.
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("error: CPU 1 is in two pools"), "{err}");
}

#[test]
fn check_json_succeeds_on_the_demo_and_fails_on_a_missing_file() {
    let out = image_builder(&["check", "--format", "json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc = json(&out);
    assert_eq!((doc["ok"].as_bool(), doc["summary"].as_str()), (Some(true), Some("no problems")), "{doc}");
    assert_eq!(doc["diagnostics"], serde_json::json!([]));

    let out = image_builder(&["check", "--format=json", "configs/does-not-exist.toml"]);
    assert_eq!(out.status.code(), Some(1));
    let doc = json(&out);
    assert_eq!(doc["ok"], false);
    assert!(doc["error"].as_str().unwrap().starts_with("cannot read configs/does-not-exist.toml"), "{doc}");
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: cannot read"));
}

#[test]
fn inspect_json_has_the_layout_and_inspect_prints_the_same_map() {
    let out = image_builder(&["inspect", "--quiet", "--format", "json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc = json(&out);
    let l = &doc["layout"];
    assert_eq!(l["system"], "qemu-aarch64-demo");
    let names: Vec<&str> = l["partitions"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["hello0", "hello1"]);
    let text = image_builder(&["inspect", "--quiet"]);
    let text = String::from_utf8_lossy(&text.stdout);
    for row in l["memory"].as_array().unwrap() {
        assert!(text.contains(row["description"].as_str().unwrap()), "{row}\n{text}");
    }
    let out = image_builder(&["inspect", "--format", "json", "configs/bad/cpu-in-two-pools.toml"]);
    assert_eq!(out.status.code(), Some(1));
    let doc = json(&out);
    assert!(doc["layout"].is_null() && doc["diagnostics"][0]["line"] == 11, "{doc}");
}

#[test]
fn boards_lists_every_board() {
    let out = image_builder(&["boards"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    for b in board_support::BOARDS {
        assert!(text.lines().any(|l| l.starts_with(b.name)), "{text}");
    }
    let doc = json(&image_builder(&["boards", "--format", "json"]));
    assert_eq!(doc["boards"].as_array().unwrap().len(), board_support::BOARDS.len());
}

#[test]
fn version_completions_and_man_page() {
    let out = image_builder(&["--version"]);
    let v = String::from_utf8_lossy(&out.stdout);
    assert!(v.starts_with(&format!("image-builder {} (git ", env!("CARGO_PKG_VERSION"))) && v.ends_with(")\n"), "{v}");
    let out = image_builder(&["completions", "bash"]);
    let script = String::from_utf8_lossy(&out.stdout);
    for cmd in ["check", "inspect", "build", "run", "boards", "completions", "man"] {
        assert!(script.contains(cmd), "{script}");
    }
    let out = image_builder(&["man"]);
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(page.contains(".SH NAME") && page.contains(".SH SYNOPSIS"), "{page}");
    assert_eq!(image_builder(&["completions", "tcsh"]).status.code(), Some(2));
}

#[test]
fn secure_accepts_only_what_its_help_shows() {
    let out = image_builder(&["run", "--secure", "yes"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("[possible values: on, off]"), "{err}");
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
