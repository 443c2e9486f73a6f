//! Every config in configs/warn/ is accepted with exactly one warning, at the right line and column, naming the
//! right field, with a hint; `image-builder check` prints it and still succeeds.

use std::fs;
use std::process::Command;

use image_builder::guests::GuestCatalog;
use image_builder::pipeline::check_with;
use image_builder::workspace_root;

#[path = "support/warning_expectations.rs"]
mod warning_expectations;
use warning_expectations::EXPECTED;

#[test]
fn each_warning_config_is_accepted_with_its_one_warning() {
    let dir = workspace_root().join("configs/warn");
    let guests = GuestCatalog::scan(&workspace_root());
    for &(file, line, col, field, words) in EXPECTED {
        let checked = check_with(&dir.join(file), &guests).unwrap_or_else(|e| panic!("{file}: refused:\n{e}"));
        let report = &checked.report;
        let warnings: Vec<_> = report.warnings().collect();
        assert_eq!(warnings.len(), 1, "{file}: expected one warning, got:\n{}", report.render());
        assert_eq!(report.errors().count(), 0, "{file}");
        let d = warnings[0];
        assert_eq!(report.line_col(d.span.start), (line, col), "{file}: position of `{}`", d.message);
        assert_eq!(d.field, field, "{file}");
        assert!(d.message.contains(words), "{file}: `{}` should contain `{words}`", d.message);
        assert!(d.hint.as_deref().is_some_and(|h| !h.is_empty()), "{file}: no hint");
    }
}

#[test]
fn every_warning_config_is_covered_and_check_succeeds_on_it() {
    let mut files: Vec<String> = fs::read_dir(workspace_root().join("configs/warn"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".toml"))
        .collect();
    files.sort();
    assert_eq!(files.len(), EXPECTED.len(), "configs/warn/*.toml and tests/support/warning_expectations.rs differ");
    for name in files {
        let &(_, line, col, field, _) = EXPECTED
            .iter()
            .find(|e| e.0 == name)
            .unwrap_or_else(|| panic!("{name} has no expectation in tests/support/warning_expectations.rs"));
        let config = format!("configs/warn/{name}");
        let out = Command::new(env!("CARGO_BIN_EXE_image-builder"))
            .args(["check", &config])
            .current_dir(workspace_root())
            .output()
            .expect("image-builder runs");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{config}:\n{err}");
        assert!(err.contains("warning: "), "{config}:\n{err}");
        assert!(err.contains(&format!("{config}:{line}:{col}")), "{config}:\n{err}");
        assert!(err.contains(&format!("= field: {field}")), "{config}:\n{err}");
    }
}
