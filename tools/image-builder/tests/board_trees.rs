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
        facts_are_the_trees(board, gic, &tree);
    }
    if let Some(path) = given_tree(board) {
        // The file as Debian ships it agrees too (on a real board the firmware passes it without QEMU's edits).
        let tree = std::fs::read(&path).unwrap();
        let wrong = board_support::tree::check(board, &tree);
        assert!(wrong.is_empty(), "{name} ({}): {wrong:#?}", path.display());
        facts_are_the_trees(board, board.gic.default_version, &tree);
    }
}

/// The board's facts are exactly what `board_support::facts` reads from its tree (what `image-builder board-facts`
/// prints for a new board file): the CPUs' model and start, the GIC's frames as Linux would choose them, the
/// maintenance and timer interrupts, and each console UART's driver, base and interrupt.
fn facts_are_the_trees(board: &Board, gic: GicVersion, tree: &[u8]) {
    let name = board.name;
    let f = board_support::facts::facts(tree).unwrap();
    assert!(f.cpus >= board.max_cpus, "{name}: {} CPUs in the tree", f.cpus);
    // A board whose CPU model the QEMU command line chooses names a generic one for its partitions.
    if board.qemu.is_none_or(|q| q.shape != board_support::QemuShape::Free) {
        assert_eq!(f.cpu_compatible.as_deref(), Some(board.cpu_compatible), "{name}: CPU model");
    }
    // QEMU's Versal tree gives its CPUs no `enable-method` at all (PSCI is the only way there): nothing to read.
    let methods = board_support::tree::nodes(tree).unwrap().iter().any(|n| n.enable_method.is_some());
    if board.max_cpus > 1 && methods && !matches!(board.cpu_start, board_support::CpuStart::SysFlags { .. }) {
        assert_eq!(f.cpu_start, Some(board.cpu_start), "{name}: CPU start");
    }
    let g = f.gic.unwrap_or_else(|| panic!("{name}: no GIC in the tree"));
    match gic {
        GicVersion::V2 => assert_eq!(g.v2, board.gic.v2, "{name}: GICv2 frames"),
        GicVersion::V3 => assert_eq!(g.v3, board.gic.v3, "{name}: GICv3 frames"),
    }
    assert_eq!(g.maintenance_intid, Some(board.gic.maintenance_intid), "{name}: maintenance interrupt");
    assert_eq!(f.timer, Some(board.timer), "{name}: timer");
    for u in board.uarts {
        let t = f.uarts.iter().find(|t| t.path == u.path).unwrap_or_else(|| panic!("{name}: no UART {}", u.path));
        assert_eq!((t.kind, t.base, t.intid), (u.kind, u.base, Some(u.irq.intid())), "{name}: {}", u.name);
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

/// A run or a card is refused when the board file contradicts the tree it would boot with (Debian's), naming the
/// fact and the command that prints what the tree says.
#[test]
fn a_build_refuses_a_board_its_tree_contradicts() {
    let board = Board::by_name("xlnx-zcu102").unwrap();
    let dtb = given_tree(board).unwrap();
    image_builder::needs::check_board_tree(board, &dtb).unwrap();
    let mut wrong = *board;
    let mut uart = board.uarts[0];
    uart.irq = board_support::Irq::Spi(20);
    wrong.uarts = Box::leak(Box::new([uart]));
    let e = image_builder::needs::check_board_tree(&wrong, &dtb).unwrap_err().to_string();
    assert!(e.contains("board `xlnx-zcu102` does not match its device tree"), "{e}");
    assert!(
        e.contains("console uart0: INTID 52, the tree says [53]") && e.contains("image-builder board-facts"),
        "{e}"
    );
}
