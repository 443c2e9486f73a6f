//! Persistent disks (`backing = "host"`): slices of the board's own virtio-blk disk, a file on the host that
//! hv-static drives itself, keep what a partition wrote across a reboot of the whole system, on both architectures.
//!
//! `configs/qemu-*-persist.toml`: `keeper` writes a pattern on its host-backed disk `keep` when the disk is blank and
//! only checks it when it holds the pattern already; `volatile` does the same on a RAM-backed disk; `reader` finds
//! the host-backed `label` (created from `configs/disks/persist-label.raw`) read-only. Boot 1 runs on a new board
//! disk, boot 2 on the same file: `keeper` finds its data, `volatile` a zeroed disk again. Between and after the
//! boots the test reads the file itself: the pattern at `keep`'s slice, `label`'s image at its slice, zeroes
//! everywhere else.

use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use hv_tests::{all_of, boot_until_with, lines_of};
use image_builder::RunOutcome;

const SECTOR: usize = 512;
const MIB: usize = 1 << 20;
/// `keeper`'s `sectors=` and `pattern=`.
const KEEP_SECTORS: usize = 256;
const KEEP_PATTERN: u8 = 0x5a;
/// Where the layout puts the slices (in file order, 1 MiB-aligned): `keep` (1 MiB) at 0, `label` (one sector) at
/// 1 MiB; the file is created with room for both, rounded up to 1 MiB.
const KEEP_AT: usize = 0;
const LABEL_AT: usize = MIB;
const FILE_LEN: usize = 2 * MIB;

#[test]
fn a_host_backed_disk_keeps_its_data_across_a_reboot_and_a_ram_disk_does_not() {
    persist("qemu-aarch64-persist.toml");
}

#[test]
fn a15_a_host_backed_disk_keeps_its_data_across_a_reboot_and_a_ram_disk_does_not() {
    persist("qemu-a15-persist.toml");
}

fn persist(config: &str) {
    let disk = std::env::temp_dir().join(format!("hv-{}-{}.img", config.trim_end_matches(".toml"), std::process::id()));
    let _ = fs::remove_file(&disk);
    let until =
        all_of(&[r"\[keeper\] diskprobe: done", r"\[volatile\] diskprobe: done", r"\[reader\] diskprobe: done"]);
    let boot = |disk: &PathBuf| {
        boot_until_with(config, &until, Duration::from_secs(120), |o| o.host_disk = Some(disk.clone()))
    };

    let first = boot(&disk);
    common(&first);
    let keeper = lines_of(&first, "keeper");
    let wrote = format!("disk: blank; wrote and verified {KEEP_SECTORS} sectors (pattern {KEEP_PATTERN:#04x})");
    assert!(keeper.contains(&wrote.as_str()), "boot 1: keeper did not find a blank disk: {keeper:?}");
    let after_first = fs::read(&disk).unwrap_or_else(|e| panic!("{}: {e}", disk.display()));
    check_file(&after_first);

    let second = boot(&disk);
    common(&second);
    let keeper = lines_of(&second, "keeper");
    let found =
        format!("disk: verified {KEEP_SECTORS} sectors (pattern {KEEP_PATTERN:#04x}), written before this boot");
    assert!(keeper.contains(&found.as_str()), "boot 2: keeper did not find its data: {keeper:?}\n{}", second.output);
    let after_second = fs::read(&disk).unwrap();
    assert!(after_second == after_first, "boot 2 only read the board disk, yet the file changed");
    let _ = fs::remove_file(&disk);
}

/// What both boots print: the board disk found, the RAM-backed disk blank (zeroed at every boot), `label`
/// read-only, and no failure anywhere.
fn common(out: &RunOutcome) {
    let hv = lines_of(out, "hv");
    let found = "board disk: virtio-blk at 0xa003e00, 2048 KiB; host-backed disks use its bytes 0..0x100200";
    assert!(hv.contains(&found), "hv-static did not find the board disk: {hv:?}");
    let volatile = lines_of(out, "volatile");
    let blank = "disk: blank; wrote and verified 256 sectors (pattern 0xa5)";
    assert!(volatile.contains(&blank), "the RAM-backed disk was not blank: {volatile:?}");
    let reader = lines_of(out, "reader");
    for want in ["disk: virtio-blk at 0xa000000 capacity 1 sectors, ro", "disk: read-only as expected; write refused"] {
        assert!(reader.contains(&want), "reader: missing {want:?} in {reader:?}");
    }
    for bad in ["mismatch", "failed", " fault", "IOERR", "PANIC"] {
        assert!(!out.output.contains(bad), "`{bad}` on the console:\n{}", out.output);
    }
}

/// The board disk after boot 1 (and 2): `keep`'s slice holds the pattern over its first sectors and zeroes after
/// them, `label`'s slice its image then zeroes, and the rest of the file (the gap between the slices, the room up
/// to the file's end) zeroes.
fn check_file(bytes: &[u8]) {
    assert_eq!(bytes.len(), FILE_LEN);
    let written = KEEP_AT + KEEP_SECTORS * SECTOR;
    for (i, &b) in bytes[KEEP_AT..written].iter().enumerate() {
        let (sector, offset) = ((i / SECTOR) as u64, i % SECTOR);
        let want = pattern_byte(KEEP_PATTERN, sector, offset);
        assert_eq!(b, want, "keep: byte {offset} of sector {sector} (file offset {:#x})", KEEP_AT + i);
    }
    assert!(bytes[written..LABEL_AT].iter().all(|&b| b == 0), "keep: nothing past the written sectors");
    let label = fs::read(image_builder::workspace_root().join("configs/disks/persist-label.raw")).unwrap();
    assert_eq!(&bytes[LABEL_AT..LABEL_AT + label.len()], &label[..], "label's slice holds its image");
    assert!(bytes[LABEL_AT + label.len()..].iter().all(|&b| b == 0), "nothing written outside the slices");
}

/// diskprobe's pattern (`tests/guests/diskprobe/src/pattern.rs`, `byte`): the byte at `offset` of `sector` of a
/// disk written with `pattern`. Pinned there and here (`the_pattern_is_diskprobe_s`).
fn pattern_byte(pattern: u8, sector: u64, offset: usize) -> u8 {
    const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;
    let position = sector.wrapping_mul(SECTOR as u64).wrapping_add(offset as u64);
    let mut x = position.wrapping_mul(GOLDEN);
    x ^= x >> 31;
    x = x.wrapping_mul(GOLDEN);
    x ^= x >> 29;
    pattern ^ x.to_le_bytes()[0]
}

#[test]
fn the_pattern_is_diskprobe_s() {
    // The values diskprobe's `values_are_stable` pins.
    let sector0: Vec<u8> = (0..8).map(|o| pattern_byte(0, 0, o)).collect();
    assert_eq!(sector0, [0x00, 0x4d, 0x63, 0x18, 0xf7, 0xb4, 0xa8, 0x7c]);
    assert_eq!(pattern_byte(0x5a, 0, 1), 0x17);
    assert_eq!(pattern_byte(0x00, 7, 511), 0xa3);
    assert_eq!(pattern_byte(0x00, 1 << 40, 3), 0x9b);
}
