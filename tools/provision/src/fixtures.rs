//! Test fixtures made from Debian's packages by the scripts in `tests/fixtures/`, fetched on first use.
//!
//! Each fixture is one script run with fixed arguments that fills one directory of the git-ignored cache
//! `tests/fixtures/cache/`. The scripts decide whether their cache is valid (a stamp of checksums; a valid cache
//! costs about 0.15 s and needs neither root nor the network), so [`ensure`] always asks the script, once per
//! process and fixture, under a lock that also keeps it apart from `apt-get` runs of [`crate::packages`].

use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

use crate::{is_root, lock, may_install, say, workspace_root, Error, Result};

/// One directory of the fixture cache and the script that makes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fixture {
    /// The script under `tests/fixtures/`.
    pub script: &'static str,
    pub args: &'static [&'static str],
    /// Its directory under `tests/fixtures/cache/`.
    pub dir: &'static str,
    /// What it is, for messages.
    pub what: &'static str,
}

/// Debian's arm64 kernel (`Image`) and a busybox initramfs.
pub const LINUX_ARM64: Fixture = Fixture {
    script: "fetch-linux.sh",
    args: &["arm64"],
    dir: "arm64",
    what: "Debian's arm64 Linux kernel and a busybox initramfs",
};
/// Debian's armhf `armmp-lpae` kernel (`zImage`) and a busybox initramfs.
pub const LINUX_ARMHF: Fixture = Fixture {
    script: "fetch-linux.sh",
    args: &["armhf"],
    dir: "armhf",
    what: "Debian's armhf Linux kernel and a busybox initramfs",
};
/// Debian's u-boot-sunxi (the Orange Pi PC's SPL and U-Boot).
pub const UBOOT_SUNXI: Fixture = Fixture {
    script: "fetch-uboot-sunxi.sh",
    args: &[],
    dir: "u-boot-sunxi",
    what: "Debian's U-Boot for Allwinner boards (u-boot-sunxi)",
};

/// The newer QEMU of Debian's bookworm-backports, unpacked beside the system's (for QEMU 10's `raspi4b`).
pub const QEMU_BACKPORTS: Fixture = Fixture {
    script: "fetch-qemu-backports.sh",
    args: &[],
    dir: "qemu-backports",
    what: "QEMU from Debian's bookworm-backports (qemu-system-arm, unpacked, not installed)",
};

/// The Raspberry Pi 4's boot files from Debian: its firmware (raspi-firmware, non-free-firmware) and U-Boot
/// (u-boot-rpi), for the `rpi4` board's SD card.
pub const RPI_BOOT: Fixture = Fixture {
    script: "fetch-rpi-boot.sh",
    args: &[],
    dir: "rpi-boot",
    what: "the Raspberry Pi 4's firmware and U-Boot from Debian (raspi-firmware, u-boot-rpi)",
};

/// Every fixture.
pub const ALL: [Fixture; 5] = [LINUX_ARM64, LINUX_ARMHF, UBOOT_SUNXI, QEMU_BACKPORTS, RPI_BOOT];

/// The fixture cache: `tests/fixtures/cache`.
pub fn cache_root() -> PathBuf {
    workspace_root().join("tests/fixtures/cache")
}

impl Fixture {
    /// Its cache directory.
    pub fn dir(&self) -> PathBuf {
        cache_root().join(self.dir)
    }

    /// The command that makes it, as a user would type it from the workspace root.
    pub fn command(&self) -> String {
        let mut c = format!("tests/fixtures/{}", self.script);
        for a in self.args {
            c.push(' ');
            c.push_str(a);
        }
        c
    }
}

/// `a/./b/../c` → `a/c`, without touching the file system (the file may not exist yet).
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// The fixture whose cache holds `path`, if any (`configs/../tests/fixtures/cache/arm64/Image` → [`LINUX_ARM64`]).
pub fn for_path(path: &Path) -> Option<Fixture> {
    let path = lexical(path);
    let root = lexical(&cache_root());
    let rel = path.strip_prefix(&root).ok()?;
    let first = match rel.components().next()? {
        Component::Normal(s) => s.to_str()?,
        _ => return None,
    };
    ALL.into_iter().find(|f| f.dir == first)
}

/// Fixtures already made (or found valid) by this process.
static DONE: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());

/// Makes sure `fixture`'s cache is valid, running its script (which fetches on a cold cache) when this process has
/// not yet done so. Returns the cache directory.
pub fn ensure(fixture: &Fixture) -> Result<PathBuf> {
    let key = fixture.dir;
    // One thread at a time per process; other processes wait on the file lock.
    let mut done = DONE.lock().unwrap_or_else(|e| e.into_inner());
    if done.contains(&key) {
        return Ok(fixture.dir());
    }
    let script = workspace_root().join("tests/fixtures").join(fixture.script);
    let _one_apt = lock::acquire(&lock::machine_lock("apt"))?;
    let cold = !fixture.dir().join(".stamp").is_file();
    if cold {
        if !may_install() {
            return Err(Error::Missing {
                what: format!("{} ({})", fixture.what, crate::packages::plain(&fixture.dir())),
                advice: format!("run `{}` (HV_NO_INSTALL is set, so the tools do not fetch it)", fixture.command()),
            });
        }
        if !is_root() {
            return Err(Error::Missing {
                what: format!("{} ({})", fixture.what, crate::packages::plain(&fixture.dir())),
                advice: format!(
                    "run `sudo {}` once: it uses apt-get and dpkg, which need root (run as root, the tools fetch \
                     it themselves)",
                    fixture.command()
                ),
            });
        }
        say(&format!("fetching {} into {} (first use, cached afterwards)", fixture.what, fixture.dir().display()));
    }
    let status = Command::new("bash")
        .arg(&script)
        .args(fixture.args)
        .current_dir(workspace_root())
        .stdin(Stdio::null())
        .stdout(crate::stderr_stdio())
        .status()
        .map_err(|e| Error::Io(format!("cannot run {}: {e}", script.display())))?;
    if !status.success() {
        return Err(Error::Failed {
            command: fixture.command(),
            status: status.to_string(),
            detail: "; its output above says why".into(),
        });
    }
    done.push(key);
    Ok(fixture.dir())
}

/// Makes sure every fixture that holds one of `paths` is there (paths outside the cache are ignored).
pub fn ensure_for_paths<'a>(paths: impl IntoIterator<Item = &'a Path>) -> Result<()> {
    let mut wanted: Vec<Fixture> = Vec::new();
    for p in paths {
        if let Some(f) = for_path(p) {
            if !wanted.contains(&f) {
                wanted.push(f);
            }
        }
    }
    wanted.iter().try_for_each(|f| ensure(f).map(|_| ()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_their_fixture() {
        let root = workspace_root();
        let via_configs = root.join("configs/../tests/fixtures/cache/armhf/zImage");
        assert_eq!(for_path(&via_configs), Some(LINUX_ARMHF));
        assert_eq!(for_path(&root.join("tests/fixtures/cache/arm64/initramfs.cpio.gz")), Some(LINUX_ARM64));
        let uboot = root.join("tests/fixtures/cache/u-boot-sunxi/usr/lib/u-boot/orangepi_plus/x.bin");
        assert_eq!(for_path(&uboot), Some(UBOOT_SUNXI));
        let firmware = root.join("tests/fixtures/cache/rpi-boot/usr/lib/raspi-firmware/start4.elf");
        assert_eq!(for_path(&firmware), Some(RPI_BOOT));
        assert_eq!(for_path(&root.join("tests/fixtures/cache/other/x")), None);
        assert_eq!(for_path(&root.join("configs/qemu-aarch64-demo.toml")), None);
        assert_eq!(for_path(Path::new("/elsewhere/tests/fixtures/cache/arm64/Image")), None);
    }

    #[test]
    fn every_fixture_has_its_script() {
        for f in ALL {
            assert!(workspace_root().join("tests/fixtures").join(f.script).is_file(), "{}", f.script);
        }
        assert_eq!(LINUX_ARMHF.command(), "tests/fixtures/fetch-linux.sh armhf");
    }

    #[test]
    fn paths_outside_the_cache_need_nothing() {
        let root = workspace_root();
        assert!(ensure_for_paths([root.join("configs/qemu-aarch64-demo.toml").as_path()]).is_ok());
    }
}
