//! Files a config names are read by `build` a while after `check` looked at them: each read refuses what is not
//! (or no longer) a regular file before opening it, and says so on the config key that names it.

use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use image_builder::guests::GuestCatalog;
use image_builder::pipeline::{check_with, load_disk_images, load_ramdisks};
use image_builder::Error;

const CONFIG: &str = r#"
[board]
name = "qemu-virt-aarch64"

[[pool]]
name = "rt"
cpus = [0]

[[partition]]
name = "hello0"
pool = "rt"
vcpus = [0]
memory = { size = "64MiB" }
kernel = "hello"
ramdisk = "rd.cpio"
disks = [{ disk = "d" }]

[[disk]]
name = "d"
image = "disk.img"
"#;

fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ib-inputs-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn mkfifo(path: &std::path::Path) {
    let _ = fs::remove_file(path);
    let made = Command::new("mkfifo").arg(path).status().is_ok_and(|s| s.success());
    assert!(made, "mkfifo {}", path.display());
}

/// The one diagnostic of a config error: (field, message).
fn diag(e: Error) -> (String, String) {
    match e {
        Error::Config(r) => {
            let d = r.errors().next().expect("an error");
            (d.field.clone(), d.message.clone())
        }
        other => panic!("expected a config error, got {other}"),
    }
}

#[test]
fn files_replaced_by_special_ones_after_check_are_refused_before_reading() {
    let dir = scratch("swap");
    let config = dir.join("sys.toml");
    fs::write(&config, CONFIG).unwrap();
    fs::write(dir.join("rd.cpio"), b"070701").unwrap();
    fs::write(dir.join("disk.img"), vec![0u8; 1024]).unwrap();
    let guests = GuestCatalog::with_names(["hello"]);
    let checked = check_with(&config, &guests).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(load_ramdisks(&checked).unwrap()[0].as_deref(), Some(&b"070701"[..]));
    assert_eq!(load_disk_images(&checked).unwrap()[0].as_ref().map(Vec::len), Some(1024));

    // Replaced by FIFOs: reading one would wait for a writer forever.
    mkfifo(&dir.join("rd.cpio"));
    mkfifo(&dir.join("disk.img"));
    let start = Instant::now();
    let (field, message) = diag(load_ramdisks(&checked).unwrap_err());
    assert_eq!(field, "partition[0].ramdisk");
    assert!(message.ends_with("cannot be used: it is a named pipe (FIFO), not a regular file"), "{message}");
    let (field, message) = diag(load_disk_images(&checked).unwrap_err());
    assert_eq!(field, "disk[0].image");
    assert!(message.contains("named pipe (FIFO)"), "{message}");
    assert!(start.elapsed() < Duration::from_secs(5));

    // Replaced by a directory; gone.
    fs::remove_file(dir.join("rd.cpio")).unwrap();
    fs::create_dir(dir.join("rd.cpio")).unwrap();
    let (_, message) = diag(load_ramdisks(&checked).unwrap_err());
    assert!(message.ends_with("cannot be used: it is a directory, not a file"), "{message}");
    fs::remove_dir(dir.join("rd.cpio")).unwrap();
    let (_, message) = diag(load_ramdisks(&checked).unwrap_err());
    assert!(message.ends_with("is missing: no such file"), "{message}");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn check_refuses_a_kernel_that_is_a_fifo_instead_of_waiting_for_it() {
    let dir = scratch("fifo-kernel");
    let config = dir.join("sys.toml");
    fs::write(
        &config,
        CONFIG
            .replace("kernel = \"hello\"", "kernel = \"./Image\"")
            .replace("ramdisk = \"rd.cpio\"\n", "")
            .replace("disks = [{ disk = \"d\" }]\n", "")
            .replace("[[disk]]\nname = \"d\"\nimage = \"disk.img\"\n", ""),
    )
    .unwrap();
    mkfifo(&dir.join("Image"));
    let start = Instant::now();
    let (field, message) = diag(check_with(&config, &GuestCatalog::with_names(["hello"])).unwrap_err());
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(field, "partition[0].kernel");
    assert_eq!(message, "kernel `./Image` cannot be used: it is a named pipe (FIFO), not a regular file");
    fs::remove_dir_all(&dir).unwrap();
}
