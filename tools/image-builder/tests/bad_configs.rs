//! Every config in configs/bad/ is refused with exactly one error, at the right line and column, naming the right
//! field; every config in configs/ is accepted.

use std::fs;
use std::path::PathBuf;

use image_builder::guests::GuestCatalog;
use image_builder::pipeline::check_with;
use image_builder::{workspace_root, Error};

/// (file, line, column, field, words the message contains)
const EXPECTED: &[(&str, usize, usize, &str, &str)] = &[
    ("bad-size.toml", 13, 19, "partition[0].memory.size", "bad size \"64 megs\""),
    ("cpu-beyond-board.toml", 7, 12, "pool[0].cpus[1]", "CPU 8 is beyond the board's CPU count"),
    ("cpu-in-two-pools.toml", 11, 9, "pool[1].cpus[0]", "CPU 1 is in two pools"),
    ("duplicate-partition.toml", 17, 8, "partition[1].name", "duplicate partition name `hello0`"),
    ("kernel-missing.toml", 14, 10, "partition[0].kernel", "kernel missing: cannot read `./Image`"),
    ("kernel-not-image.toml", 14, 10, "partition[0].kernel", "is not an arm64 Image or ELF"),
    ("kernel-unknown-guest.toml", 14, 10, "partition[0].kernel", "kernel missing: no guest named `helo`"),
    ("memory-beyond-ram.toml", 13, 33, "partition[0].memory.pa", "lies beyond board RAM"),
    ("memory-exhausted.toml", 21, 19, "partition[1].memory.size", "memory of partition `big1` lies beyond board RAM"),
    ("memory-misaligned.toml", 13, 19, "partition[0].memory.size", "misaligned memory"),
    ("memory-overlaps-hypervisor.toml", 13, 33, "partition[0].memory.pa", "overlaps the hypervisor"),
    ("memory-overlaps-partition.toml", 20, 33, "partition[1].memory.pa", "overlaps partition `hello0`"),
    ("memory-overlaps-payload.toml", 13, 33, "partition[0].memory.pa", "overlaps the hypervisor's payload"),
    (
        "passthrough-claimed-twice.toml",
        23,
        34,
        "partition[1].passthrough[1]",
        "device `/pl031@9010000` is given to two partitions: `hello0` and `hello1`",
    ),
    (
        "passthrough-console.toml",
        16,
        16,
        "partition[0].passthrough[0]",
        "cannot be passed through: it is the hypervisor's console UART (`uart0`)",
    ),
    (
        "passthrough-gic.toml",
        15,
        34,
        "partition[0].passthrough[1]",
        "device `/intc@8000000` cannot be passed through: it is the GIC",
    ),
    (
        "passthrough-unknown-device.toml",
        15,
        16,
        "partition[0].passthrough[0]",
        "no device `/pl031@9000000` on board `qemu-virt-aarch64`",
    ),
    (
        "ramdisk-does-not-fit.toml",
        14,
        19,
        "partition[0].memory.size",
        "the kernel, ramdisk and device tree of partition `linux` do not fit its RAM: they need 32.1 MiB, it has 32 MiB",
    ),
    ("ramdisk-missing.toml", 15, 11, "partition[0].ramdisk", "ramdisk missing: cannot read `./initramfs.cpio.gz`"),
    ("scheduler-cyclic.toml", 8, 13, "pool[0].scheduler", "not yet supported"),
    ("unknown-board.toml", 3, 8, "board.name", "unknown board `qemu-virt`"),
    ("unknown-key.toml", 12, 1, "partition[0].vcpu", "unknown key `vcpu`"),
    ("unknown-pool.toml", 11, 8, "partition[0].pool", "unknown pool `realtime`"),
    ("vcpu-outside-pool.toml", 19, 13, "partition[1].vcpus[1]", "pinned to CPU 2, outside its pool `rt`"),
    ("vcpus-share-cpu.toml", 20, 10, "partition[1].vcpus[0]", "two vCPUs are pinned to CPU 0"),
];

fn guests() -> GuestCatalog {
    // Independent of which guests tests/guests holds today.
    GuestCatalog::with_names(["hello", "probe"])
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
