//! Every board description agrees with the device tree its boot loader hands over (`board_support::tree::check`):
//! the tree QEMU builds for the machine (`-M ...,dumpdtb=FILE`), or the one QEMU is given for boards whose model
//! builds none (Debian's, from the arm64 kernel fixture). A fact written wrongly in `board-support/` fails here,
//! naming it, before any partition boots on it.
//!
//! Boards whose loader passes no tree QEMU can show are left out: `vexpress-a15` (ATAGs) and `orangepi-pc` (U-Boot's
//! own tree, built into the binary on the card).

use std::path::PathBuf;
use std::process::Command;

use board_support::{Board, GicVersion, QemuRun};

/// The tree `board` boots with under QEMU with a GIC of `gic`: dumped by the same QEMU the runs use.
fn qemu_tree(board: &Board, gic: GicVersion) -> Vec<u8> {
    // One file per call: tests run in parallel, and two may dump the same board.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = format!("board-tree-{}-v{}-{}-{call}.dtb", board.name, gic.number(), std::process::id());
    let out = std::env::temp_dir().join(name);
    let _ = std::fs::remove_file(&out);
    let run = QemuRun { gic, cpus: board.max_cpus, ram_size: board.ram_size, kernel: "" };
    let mut args = board.qemu_args(&run).unwrap();
    args.truncate(args.len() - 2); // no -kernel
    let m = args.iter().position(|a| a == "-M").unwrap() + 1;
    args[m] = format!("{},dumpdtb={}", args[m], out.display());
    image_builder::needs::ensure_qemu(board, false).unwrap();
    image_builder::needs::complete_qemu_command(board, &mut args);
    let status = Command::new(&args[0]).args(&args[1..]).output().unwrap();
    assert!(out.exists(), "{}: {:?} wrote no tree: {}", board.name, args, String::from_utf8_lossy(&status.stderr));
    let tree = std::fs::read(&out).unwrap();
    let _ = std::fs::remove_file(&out);
    tree
}

/// The tree file itself, for boards given one.
fn given_tree(board: &Board) -> Option<PathBuf> {
    image_builder::needs::qemu_dtb(board)
}

fn check(name: &str) {
    let board = Board::by_name(name).unwrap();
    for gic in board.gic.versions() {
        let tree = qemu_tree(board, gic);
        let wrong = board_support::tree::check(board, &tree);
        assert!(wrong.is_empty(), "{name} (GICv{}): {wrong:#?}", gic.number());
    }
    if let Some(path) = given_tree(board) {
        // The file as Debian ships it agrees too (on a real board the firmware passes it without QEMU's edits).
        let wrong = board_support::tree::check(board, &std::fs::read(&path).unwrap());
        assert!(wrong.is_empty(), "{name} ({}): {wrong:#?}", path.display());
    }
}

#[test]
fn qemu_virt_aarch64() {
    check("qemu-virt-aarch64");
}

#[test]
fn qemu_virt_a15() {
    check("qemu-virt-a15");
}

#[test]
fn xlnx_zcu102() {
    check("xlnx-zcu102");
}

#[test]
fn xlnx_versal_virt() {
    check("xlnx-versal-virt");
}

#[test]
fn rpi4() {
    check("rpi4");
}

/// The check is not blind: a board with a wrong console address, a wrong device interrupt and a spin table at the
/// wrong place is caught on each count.
#[test]
fn a_wrong_fact_is_named() {
    let board = Board::by_name("rpi4").unwrap();
    let tree = qemu_tree(board, GicVersion::V2);
    let mut wrong = *board;
    let mut uart = board.uarts[0];
    uart.base += 0x1000;
    let uarts = [uart];
    wrong.uarts = Box::leak(Box::new(uarts));
    wrong.cpu_start = board_support::CpuStart::SpinTable { release_base: 0xe0 };
    wrong.timer.virt += 1;
    let found = board_support::tree::check(&wrong, &tree);
    assert!(found.iter().any(|w| w.contains("console uart0: base 0xfe202000")), "{found:#?}");
    assert!(found.iter().any(|w| w.starts_with("CPU 1: starts by")), "{found:#?}");
    assert!(found.iter().any(|w| w.starts_with("timer INTIDs")), "{found:#?}");
}
