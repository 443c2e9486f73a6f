//! What building or booting a config needs from the machine, obtained before the work starts (see `provision`):
//! the fixtures its file paths name (Debian kernels, initramfs), QEMU and the firmware files its board's QEMU
//! model loads. Checked first, so a missing emulator is reported in a second, not after a build of minutes.

use std::path::{Path, PathBuf};

use board_support::{Board, UBootFirmware};
use provision::packages::{self, Need};

use crate::Result;

/// The keys whose values are file paths relative to the config: `partition[*].kernel`, `partition[*].ramdisk`,
/// `partition[*].dt_overlay`, `disk[*].image`.
fn input_paths(source: &str, base_dir: &Path) -> Vec<PathBuf> {
    // A loose parse: a config too broken to parse has nothing to fetch, and the checker reports it properly.
    let Ok(doc) = source.parse::<toml::Table>() else { return Vec::new() };
    let mut out = Vec::new();
    let mut collect = |array: &str, keys: &[&str]| {
        let Some(items) = doc.get(array).and_then(|v| v.as_array()) else { return };
        for item in items.iter().filter_map(|i| i.as_table()) {
            for key in keys {
                if let Some(s) = item.get(*key).and_then(|v| v.as_str()) {
                    out.push(base_dir.join(s));
                }
            }
        }
    };
    collect("partition", &["kernel", "ramdisk", "dt_overlay"]);
    collect("disk", &["image"]);
    out
}

/// Makes sure the fixtures (Debian kernels, initramfs) that the config at `config_path` names are there and
/// current: each fixture's script decides (a valid cache costs it a checksum, ~0.15 s; a stale one, such as an
/// initramfs whose `hvchan` sources changed, is rebuilt). A config that cannot be read or parsed needs nothing
/// here: checking it reports why.
pub fn fetch_inputs(config_path: &Path) -> Result<()> {
    let Ok(source) = crate::input::read(config_path, crate::input::CONFIG_LIMIT) else { return Ok(()) };
    let source = String::from_utf8_lossy(&source);
    let abs = config_path.canonicalize().unwrap_or_else(|_| config_path.to_owned());
    let base = abs.parent().map(Path::to_owned).unwrap_or_default();
    let inputs: Vec<PathBuf> = input_paths(&source, &base);
    provision::fixtures::ensure_for_paths(inputs.iter().map(PathBuf::as_path))?;
    Ok(())
}

/// The Debian packages booting `board` in QEMU needs (`from_card`: through its U-Boot from the SD card).
pub fn for_qemu(board: &Board, from_card: bool) -> Vec<Need> {
    let Some(q) = board.qemu else { return Vec::new() };
    if q.backports {
        // The emulator is a fixture (`qemu_binary`), not a system package.
        return Vec::new();
    }
    let mut needs = vec![packages::qemu(q.binary, q.package)];
    if q.machine == "virt" {
        // QEMU gives `virt` a default network card whose option ROM its package only recommends.
        needs.push(packages::IPXE_VIRTIO);
    }
    if from_card || !q.kernel_boot {
        if let Some(u) = board.uboot.filter(|u| u.firmware == UBootFirmware::Bios) {
            needs.push(Need::file(u.binary, u.package, "U-Boot for the board's QEMU model"));
        }
    }
    needs
}

/// Installs (or asks for) what booting `board` in QEMU needs, and fetches the device tree its QEMU model is given
/// ([`qemu_dtb`]).
pub fn ensure_qemu(board: &Board, from_card: bool) -> Result<()> {
    packages::ensure(&for_qemu(board, from_card))?;
    if board.qemu.is_some_and(|q| q.dtb.is_some()) {
        provision::fixtures::ensure(&provision::fixtures::LINUX_ARM64)?;
    }
    if board.qemu.is_some_and(|q| q.backports) {
        provision::fixtures::ensure(&provision::fixtures::QEMU_BACKPORTS)?;
    }
    Ok(())
}

/// Completes a QEMU command line for `board` (from `Board::qemu_args` or `Board::qemu_uboot_args`, program first):
/// the unpacked backports QEMU instead of the system's, by its absolute path (the command runs from any directory),
/// and the device tree the board's model is given ([`qemu_dtb`]).
pub fn complete_qemu_command(board: &Board, cmd: &mut Vec<String>) {
    use_qemu_binary(board, cmd);
    if let Some(dtb) = qemu_dtb(board) {
        cmd.extend(["-dtb".into(), crate::display_path(&dtb)]);
    }
}

/// Puts the QEMU binary that emulates `board` first on the command line `cmd`: the unpacked backports QEMU by its
/// absolute path when the board needs it, else the system's, left as it is.
pub fn use_qemu_binary(board: &Board, cmd: &mut [String]) {
    let Some(q) = board.qemu else { return };
    if let (true, Some(first)) = (q.backports, cmd.first_mut()) {
        *first = provision::fixtures::QEMU_BACKPORTS.dir().join("usr/bin").join(q.binary).display().to_string();
    }
}

/// The file QEMU is given as the board's device tree (`-dtb`) when its model builds none: from Debian's arm64
/// kernel package, kept by the arm64 Linux fixture.
pub fn qemu_dtb(board: &Board) -> Option<PathBuf> {
    Some(kernel_package_dtb_path(board.qemu?.dtb?))
}

/// Where the arm64 Linux fixture keeps the device tree `dtb` (a path under `/usr/lib/linux-image-*/` of Debian's
/// arm64 kernel package).
fn kernel_package_dtb_path(dtb: &str) -> PathBuf {
    provision::fixtures::LINUX_ARM64.dir().join("dtbs").join(dtb)
}

/// Holds `board` to the device tree it will boot with, the file at `dtb` (Debian's, which a run gives QEMU or a card
/// gives the board's firmware): an error names every fact of the board file the tree contradicts
/// (`board_support::tree::check`), before anything boots on a wrong one.
pub fn check_board_tree(board: &Board, dtb: &Path) -> Result<()> {
    let bytes = std::fs::read(dtb).map_err(|source| crate::Error::Read { path: dtb.to_owned(), source })?;
    let wrong = board_support::tree::check(board, &bytes);
    if wrong.is_empty() {
        return Ok(());
    }
    Err(crate::Error::Image(format!(
        "board `{}` does not match its device tree {}:\n  {}\n(the board's facts are in board-support/; \
         `image-builder board-facts {}` prints what the tree says)",
        board.name,
        crate::display_path(dtb),
        wrong.join("\n  "),
        crate::display_path(dtb)
    )))
}

/// The device tree `dtb` of Debian's arm64 kernel package, as [`kernel_package_dtb_path`], fetching the fixture on
/// first use; an error when that kernel has no such tree.
pub fn kernel_package_dtb(dtb: &str) -> Result<PathBuf> {
    provision::fixtures::ensure(&provision::fixtures::LINUX_ARM64)?;
    let path = kernel_package_dtb_path(dtb);
    if !path.is_file() {
        return Err(crate::Error::Image(format!(
            "Debian's arm64 kernel package has no device tree {dtb} (looked at {})",
            crate::display_path(&path)
        )));
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_keys_are_found_relative_to_the_config() {
        let src = r#"
            [board]
            name = "qemu-virt-aarch64"
            [[partition]]
            kernel = "../tests/fixtures/cache/arm64/Image"
            ramdisk = "../tests/fixtures/cache/arm64/initramfs.cpio.gz"
            [[partition]]
            kernel = "hello"
            [[disk]]
            image = "disks/a.img"
        "#;
        let base = Path::new("/w/configs");
        let paths = input_paths(src, base);
        assert_eq!(
            paths,
            [
                "/w/configs/../tests/fixtures/cache/arm64/Image",
                "/w/configs/../tests/fixtures/cache/arm64/initramfs.cpio.gz",
                "/w/configs/hello",
                "/w/configs/disks/a.img"
            ]
            .map(PathBuf::from)
        );
        assert!(input_paths("not [ toml", base).is_empty());
    }

    #[test]
    fn qemu_needs_follow_the_board() {
        let virt = board_support::Board::by_name("qemu-virt-aarch64").unwrap();
        let needs = for_qemu(virt, false);
        assert_eq!(needs[0].package, "qemu-system-arm");
        assert!(needs.contains(&packages::IPXE_VIRTIO));
        assert!(for_qemu(virt, true).iter().any(|n| n.package == "u-boot-qemu"));
        let opi = board_support::Board::by_name("orangepi-pc").unwrap();
        // Its U-Boot is on the card (a fixture), not a package QEMU loads.
        assert!(!for_qemu(opi, true).iter().any(|n| n.package.starts_with("u-boot")));
    }
}
