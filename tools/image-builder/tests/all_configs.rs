//! `image-builder check` on every config of the repository, as a user runs it: each `configs/*.toml` is accepted
//! without a warning (a Linux config whose kernel and initramfs have not been fetched may only fail for that, every
//! error saying how to fetch them), each `configs/bad/*.toml` is refused with its one expected error, rendered with
//! its position, field and hint. Also: every checked-in compiled overlay (`.dtbo`) under configs/ is what dtc makes
//! of the `.dts` beside it (this needs Debian's device-tree-compiler).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use image_builder::workspace_root;

#[path = "support/bad_expectations.rs"]
mod bad_expectations;
use bad_expectations::EXPECTED;

fn image_builder(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_image-builder"))
        .args(args)
        .current_dir(workspace_root())
        .output()
        .expect("image-builder runs")
}

/// `dir`'s files ending in `.ext`, sorted, as paths relative to the workspace.
fn files(dir: &str, ext: &str) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(workspace_root().join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .map(|p| format!("{dir}/{}", p.file_name().unwrap().to_str().unwrap()))
        .collect();
    v.sort();
    v
}

/// The diagnostics of `check`'s output: each starts with `error:` or `warning:` and ends before the next one (the
/// summary line `error: FILE: N errors` is not one).
fn diagnostics(stderr: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in stderr.lines() {
        let starts = line.starts_with("error: ") || line.starts_with("warning: ");
        let summary = line.starts_with("error: configs/");
        if starts && !summary {
            out.push(String::new());
        }
        if let Some(d) = out.last_mut().filter(|_| !summary) {
            d.push_str(line);
            d.push('\n');
        }
    }
    out
}

#[test]
fn every_config_passes_check() {
    let configs = files("configs", "toml");
    assert!(configs.len() >= 8, "{configs:?}");
    for config in configs {
        let out = image_builder(&["check", &config]);
        let err = String::from_utf8_lossy(&out.stderr);
        if out.status.success() {
            assert!(err.contains(&format!("{config}: ok (no problems)")), "{config}: warnings or no verdict:\n{err}");
            continue;
        }
        // Only the files tests/fixtures/fetch-linux.sh makes may be missing.
        let diags = diagnostics(&err);
        assert!(!diags.is_empty(), "{config}: failed without a diagnostic:\n{err}");
        for d in &diags {
            assert!(d.starts_with("error: ") && d.contains("run `tests/fixtures/fetch-linux.sh "), "{config}:\n{d}");
            // ... and only when that architecture's cache is incomplete.
            let arch = d.split("run `tests/fixtures/fetch-linux.sh ").nth(1).and_then(|r| r.split('`').next());
            let cache = workspace_root().join("tests/fixtures/cache").join(arch.unwrap_or_default());
            let complete = ["initramfs.cpio.gz", if arch == Some("arm64") { "Image" } else { "zImage" }]
                .iter()
                .all(|f| cache.join(f).is_file());
            assert!(!complete, "{config}: {} holds the files:\n{d}", cache.display());
        }
        eprintln!("{config}: refused only for want of tests/fixtures/fetch-linux.sh's files");
    }
}

#[test]
fn every_bad_config_fails_check_with_its_message() {
    let bad = files("configs/bad", "toml");
    assert_eq!(bad.len(), EXPECTED.len(), "configs/bad/*.toml and tests/support/bad_expectations.rs differ");
    for config in bad {
        let name = Path::new(&config).file_name().unwrap().to_str().unwrap();
        let &(_, line, col, field, words) = EXPECTED
            .iter()
            .find(|e| e.0 == name)
            .unwrap_or_else(|| panic!("{name} has no expectation in tests/support/bad_expectations.rs"));
        let out = image_builder(&["check", &config]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{config}:\n{err}");
        let errors: Vec<String> = diagnostics(&err).into_iter().filter(|d| d.starts_with("error: ")).collect();
        assert_eq!(errors.len(), 1, "{config}: expected one error:\n{err}");
        let d = &errors[0];
        let first = d.lines().next().unwrap();
        assert!(first.contains(words), "{config}: `{first}` should contain `{words}`");
        assert!(d.contains(&format!("┌─ {config}:{line}:{col}\n")), "{config}: not at {line}:{col}:\n{d}");
        assert!(d.contains(&format!("= field: {field}\n")), "{config}:\n{d}");
        assert!(d.contains("= help: "), "{config}:\n{d}");
        // Warnings may come with it (a CPU left idle by the mistake, for example).
        assert!(err.contains(&format!("\nerror: {config}: 1 error")), "{config}:\n{err}");
    }
}

/// Makes sure dtc is installed: on first use when the tests run as root, otherwise the test fails naming the
/// command to run.
fn require_dtc() {
    if let Err(e) = provision::packages::ensure(&[provision::packages::DTC]) {
        panic!("{e}");
    }
}

#[test]
fn checked_in_overlays_match_their_sources() {
    require_dtc();
    let root = workspace_root();
    let mut sources: Vec<String> = ["configs/overlays", "configs/bad"].iter().flat_map(|d| files(d, "dts")).collect();
    sources.sort();
    assert!(sources.len() >= 3, "{sources:?}");
    let scratch = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("all-configs-dtc");
    fs::create_dir_all(&scratch).unwrap();
    for dts in sources {
        let dtbo = root.join(&dts).with_extension("dtbo");
        let out = scratch.join(dtbo.file_name().unwrap());
        let res = Command::new("dtc")
            .args(["-q", "-@", "-I", "dts", "-O", "dtb", "-o"])
            .arg(&out)
            .arg(root.join(&dts))
            .output()
            .expect("running dtc");
        assert!(res.status.success(), "dtc {dts}: {}", String::from_utf8_lossy(&res.stderr));
        // Compared as parsed overlays (or refusals): dtc versions may lay the bytes out differently.
        let compiled = dom0_less::Overlay::parse(&fs::read(&out).unwrap());
        let checked_in = dom0_less::Overlay::parse(&fs::read(&dtbo).unwrap());
        assert_eq!(
            compiled,
            checked_in,
            "{} is out of date: dtc -@ -I dts -O dtb -o {} {dts}",
            dtbo.display(),
            dtbo.strip_prefix(&root).unwrap().display()
        );
    }
}
