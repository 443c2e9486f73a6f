//! Every config in configs/bad/ is refused with exactly one error, at the right line and column, naming the right
//! field; every config in configs/ is accepted.

use std::fs;
use std::path::PathBuf;

use image_builder::guests::GuestCatalog;
use image_builder::pipeline::check_with;
use image_builder::{workspace_root, Error};

#[path = "support/bad_expectations.rs"]
mod bad_expectations;
use bad_expectations::EXPECTED;

fn guests() -> GuestCatalog {
    // The guests of tests/guests, as `check` sees them: shipped configs may name any of them.
    GuestCatalog::scan(&image_builder::workspace_root())
}

fn configs(dir: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(workspace_root().join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    v.sort();
    v
}

#[test]
fn each_bad_config_names_its_line_and_field() {
    let dir = workspace_root().join("configs/bad");
    for &(file, line, col, field, words) in EXPECTED {
        let path = dir.join(file);
        let report = match check_with(&path, &guests()) {
            Err(Error::Config(r)) => r,
            Err(e) => panic!("{file}: expected config errors, got {e}"),
            Ok(_) => panic!("{file}: accepted"),
        };
        let errors: Vec<_> = report.errors().collect();
        assert_eq!(errors.len(), 1, "{file}: expected one error, got:\n{report}");
        let d = errors[0];
        assert_eq!(report.line_col(d.span.start), (line, col), "{file}: position of `{}`", d.message);
        assert_eq!(d.field, field, "{file}");
        assert!(d.message.contains(words), "{file}: `{}` should contain `{words}`", d.message);
        assert!(d.hint.as_deref().is_some_and(|h| !h.is_empty()), "{file}: no hint");
        // The rendered text carries file:line:column and the field, as a user sees it.
        let text = report.render();
        assert!(text.contains(&format!("{file}:{line}:{col}")), "{file}: rendered without position:\n{text}");
        assert!(text.contains(&format!("field: {field}")), "{file}:\n{text}");
        assert!(text.contains("help: "), "{file}:\n{text}");
    }
}

#[test]
fn every_bad_config_is_covered() {
    for path in configs("configs/bad") {
        let name = path.file_name().unwrap().to_str().unwrap();
        assert!(EXPECTED.iter().any(|e| e.0 == name), "{name} has no expectation in tests/bad_configs.rs");
    }
}

/// Configs that boot Linux need `tests/fixtures/fetch-linux.sh ARCH` to have run; without its files they are
/// refused, every error saying how to get them.
#[test]
fn shipped_configs_are_accepted_without_warnings() {
    let found = configs("configs");
    assert!(found.len() >= 4, "{found:?}");
    for path in found {
        match check_with(&path, &guests()) {
            Ok(c) => assert_eq!(c.report.diags, [], "{}:\n{}", path.display(), c.report.render()),
            Err(Error::Config(r)) if fetched_files_missing(&r) => {
                eprintln!("{}: not checked, tests/fixtures/fetch-linux.sh has not run", path.display())
            }
            Err(e) => panic!("{}: {e}", path.display()),
        }
    }
}

fn fetched_files_missing(r: &image_builder::diag::Report) -> bool {
    r.errors().all(|d| d.hint.as_deref().is_some_and(|h| h.contains("run `tests/fixtures/fetch-linux.sh ")))
}

#[test]
fn linux_configs_name_the_fetched_kernel_and_initramfs() {
    let cache = workspace_root().join("tests/fixtures/cache/arm64");
    for name in ["qemu-aarch64-linux.toml", "qemu-aarch64-linux-gicv2.toml"] {
        let path = workspace_root().join("configs").join(name);
        let fetched = cache.join("Image").is_file() && cache.join("initramfs.cpio.gz").is_file();
        match check_with(&path, &guests()) {
            Ok(c) => {
                assert!(fetched, "{name} accepted without the fetched files");
                let linux = &c.system.partitions[1];
                assert_eq!(linux.name, "linux");
                assert_eq!(linux.vcpus, [1, 2]);
                assert_eq!(linux.ramdisk.as_ref().unwrap().path.file_name().unwrap(), "initramfs.cpio.gz");
                assert!(linux.bootargs.contains("hvname=linux"), "{}", linux.bootargs);
            }
            Err(Error::Config(r)) => {
                assert!(!fetched, "{name}:\n{r}");
                assert!(fetched_files_missing(&r), "{name}:\n{r}");
            }
            Err(e) => panic!("{name}: {e}"),
        }
    }
}

#[test]
fn the_default_config_is_the_demo() {
    let d = image_builder::default_config();
    assert!(d.ends_with("configs/qemu-aarch64-demo.toml"));
    assert!(d.is_file());
}
