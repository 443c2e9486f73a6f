//! Debian packages whose programs or files the tools run: probed, and installed with `apt-get` on first use.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::{is_root, lock, may_install, say, Error, Result};

/// How to tell whether a package is installed: by a program it puts on the PATH or a file it installs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    Program(&'static str),
    File(&'static str),
}

/// A Debian package needed for `why`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Need {
    pub package: &'static str,
    pub probe: Probe,
    /// What it is for, in a few words ("QEMU for AArch64 boards").
    pub why: &'static str,
}

impl Need {
    /// A program from `package`.
    pub const fn program(program: &'static str, package: &'static str, why: &'static str) -> Need {
        Need { package, probe: Probe::Program(program), why }
    }

    /// A file installed by `package`.
    pub const fn file(path: &'static str, package: &'static str, why: &'static str) -> Need {
        Need { package, probe: Probe::File(path), why }
    }

    /// Whether it is there now.
    pub fn present(&self) -> bool {
        match self.probe {
            Probe::Program(p) => find_program(p).is_some(),
            Probe::File(f) => Path::new(f).is_file(),
        }
    }

    fn what(&self) -> String {
        match self.probe {
            Probe::Program(p) => format!("`{p}`"),
            Probe::File(f) => f.to_owned(),
        }
    }
}

/// QEMU for `qemu-system-aarch64` boards (Debian's qemu-system-arm provides both emulators).
pub const QEMU_AARCH64: Need = Need::program("qemu-system-aarch64", "qemu-system-arm", "QEMU for AArch64 boards");
/// QEMU for 32-bit ARM boards.
pub const QEMU_ARM: Need = Need::program("qemu-system-arm", "qemu-system-arm", "QEMU for ARMv7 boards");
/// The option ROM of the `virt` machine's default network card, which QEMU's package only recommends.
pub const IPXE_VIRTIO: Need =
    Need::file("/usr/lib/ipxe/qemu/efi-virtio.rom", "ipxe-qemu", "the option ROM of QEMU virt's network card");
/// Debian's U-Boot builds for QEMU's `virt` machines (`-bios`), for SD-card boots there.
pub const UBOOT_QEMU: Need =
    Need::file("/usr/lib/u-boot/qemu_arm64/u-boot.bin", "u-boot-qemu", "U-Boot for QEMU virt (SD-card boots)");
/// `mkimage`, against which the tests check the U-Boot headers the builder writes.
pub const MKIMAGE: Need = Need::program("mkimage", "u-boot-tools", "checking U-Boot image headers");
/// The device-tree compiler, against which the tests check the checked-in overlays.
pub const DTC: Need = Need::program("dtc", "device-tree-compiler", "compiling device-tree overlays");
/// `mke2fs`, which builds the ext4 disk the PV block test mounts in Linux.
pub const MKE2FS: Need = Need::program("mke2fs", "e2fsprogs", "building ext4 disk images");

/// The QEMU emulator `binary` (as board-support names it), from `package`.
pub fn qemu(binary: &'static str, package: &'static str) -> Need {
    match binary {
        "qemu-system-aarch64" => QEMU_AARCH64,
        "qemu-system-arm" => QEMU_ARM,
        other => Need::program(other, package, "QEMU"),
    }
}

/// Where `program` is: on the PATH, or in the sbin directories a non-root PATH often lacks (mke2fs).
pub fn find_program(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/local/sbin", "/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|p| {
            use std::os::unix::fs::PermissionsExt;
            p.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// Makes sure every need is met: installs what is missing with `apt-get` when this process is root and installing
/// is allowed, otherwise fails with the exact command to run.
pub fn ensure(needs: &[Need]) -> Result<()> {
    let missing = missing_packages(needs);
    if missing.is_empty() {
        return Ok(());
    }
    refusal(&missing, may_install(), is_root(), find_program("apt-get").is_some()).map_or(Ok(()), Err)?;
    let _one_apt = lock::acquire(&lock::machine_lock("apt"))?;
    // Another process may have installed it while this one waited.
    let missing = missing_packages(needs);
    if missing.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = missing.iter().map(|n| n.package).collect();
    say(&format!("installing Debian's {} for {} (first use)", names.join(", "), describe(&missing)));
    if !apt_install(&names) {
        // The package lists may be missing (a fresh machine) or stale: refresh them, then try once more. An update
        // can fail on one foreign-architecture index while the packages needed are fine, so judge by the install.
        for attempt in 1..=3 {
            if apt(&["update"]) {
                break;
            }
            say(&format!("apt-get update failed (attempt {attempt} of 3)"));
        }
        apt_install(&names);
    }
    let still = missing_packages(needs);
    if still.is_empty() {
        return Ok(());
    }
    Err(Error::Failed {
        command: format!("apt-get install {}", names.join(" ")),
        status: "the package is still missing".into(),
        detail: format!(": {}", describe(&still)),
    })
}

/// Why `missing` cannot be installed here, as the error to report; `None` when it can.
fn refusal(missing: &[Need], may_install: bool, root: bool, has_apt: bool) -> Option<Error> {
    let names = missing.iter().map(|n| n.package).collect::<Vec<_>>().join(" ");
    let advice = if !may_install {
        format!(
            "install Debian's {} (`apt-get install {names}`); HV_NO_INSTALL is set, so the tools do not install it \
             themselves",
            plural(missing)
        )
    } else if !root {
        format!("run `sudo apt-get install {names}` once (run as root, the tools install it themselves)")
    } else if !has_apt {
        format!("install {names} with this system's package manager (there is no apt-get here)")
    } else {
        return None;
    };
    Some(Error::Missing { what: describe(missing), advice })
}

/// "`dtc` (compiling device-tree overlays), ..."
fn describe(needs: &[Need]) -> String {
    needs.iter().map(|n| format!("{} ({})", n.what(), n.why)).collect::<Vec<_>>().join(", ")
}

/// The needs not met now, one per package.
fn missing_packages(needs: &[Need]) -> Vec<Need> {
    let mut out: Vec<Need> = Vec::new();
    for n in needs {
        if !n.present() && !out.iter().any(|m| m.package == n.package) {
            out.push(*n);
        }
    }
    out
}

fn plural(needs: &[Need]) -> String {
    let names: Vec<&str> = needs.iter().map(|n| n.package).collect();
    if names.len() == 1 {
        format!("package {}", names[0])
    } else {
        format!("packages {}", names.join(", "))
    }
}

fn apt_install(packages: &[&str]) -> bool {
    let mut args = vec!["install", "-y", "--no-install-recommends"];
    args.extend_from_slice(packages);
    apt(&args)
}

/// Runs apt-get non-interactively with its output on stderr (stdout may carry a tool's JSON).
fn apt(args: &[&str]) -> bool {
    Command::new("apt-get")
        .args(["-q", "-o", "Dpkg::Use-Pty=0"])
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdin(Stdio::null())
        .stdout(crate::stderr_stdio())
        .status()
        .is_ok_and(|s| s.success())
}

/// A path as a user reads it: relative to the workspace root when below it.
pub(crate) fn plain(path: &Path) -> String {
    let root = crate::workspace_root();
    path.strip_prefix(&root).map_or_else(|_| path.display().to_string(), |p| p.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_find_what_is_there_and_only_that() {
        assert!(Need::program("sh", "dash", "a shell").present());
        assert!(!Need::program("surely-no-such-program-hv", "x", "y").present());
        assert!(Need::file("/proc/self/status", "x", "y").present());
        assert!(!Need::file("/no/such/file/hv", "x", "y").present());
    }

    #[test]
    fn nothing_missing_means_nothing_to_do() {
        assert!(ensure(&[Need::program("sh", "dash", "a shell")]).is_ok());
    }

    #[test]
    fn refusals_name_the_package_and_the_command() {
        let need = Need::program("qemu-system-arm", "qemu-system-arm", "QEMU for ARMv7 boards");
        let e = refusal(&[need, DTC], true, false, true).unwrap().to_string();
        assert!(e.contains("`qemu-system-arm` (QEMU for ARMv7 boards), `dtc`"), "{e}");
        assert!(e.contains("sudo apt-get install qemu-system-arm device-tree-compiler"), "{e}");
        let e = refusal(&[DTC], false, true, true).unwrap().to_string();
        assert!(e.contains("apt-get install device-tree-compiler") && e.contains("HV_NO_INSTALL"), "{e}");
        let e = refusal(&[DTC], true, true, false).unwrap().to_string();
        assert!(e.contains("no apt-get"), "{e}");
        assert!(refusal(&[DTC], true, true, true).is_none(), "root with apt-get installs");
    }

    #[test]
    fn qemu_needs_map_to_debians_package() {
        assert_eq!(qemu("qemu-system-aarch64", "qemu-system-arm").package, "qemu-system-arm");
        assert_eq!(qemu("qemu-system-arm", "qemu-system-arm"), QEMU_ARM);
    }
}
