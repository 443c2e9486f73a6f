//! What the README's two commands need besides Rust, obtained on first use.
//!
//! The contract with a new user is two commands on a fresh Debian machine with rustup and a clone: one boots the
//! demo, one runs every test. Everything else those commands need is brought in here, the first time it is needed,
//! once, under a lock (tests run in parallel threads and in several processes):
//!
//! - [`packages`]: Debian packages with programs or files the tools run (QEMU, U-Boot, dtc, ...): installed with
//!   `apt-get` when running as root, otherwise the error names the exact command to run. `HV_NO_INSTALL=1` turns
//!   installing off (the error then says what to install).
//! - [`fixtures`]: the test fixtures built from Debian's packages (Linux kernels with an initramfs, U-Boot for SoC
//!   boards), made by the scripts in `tests/fixtures/` into their git-ignored cache.
//! - [`toolchain`]: the bare-metal Rust targets of `rust-toolchain.toml`, added with rustup when missing.
//!
//! Each step prints one line saying what it does, and the tool it runs shows its own progress on stderr.

#![forbid(unsafe_code)]

pub mod fixtures;
mod lock;
pub mod packages;
pub mod toolchain;

use std::path::{Path, PathBuf};

/// Something needed could not be obtained; the message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A Debian package is missing and could not (or may not) be installed here.
    #[error("{what} not found: {advice}")]
    Missing { what: String, advice: String },
    /// A command that should have provided something failed.
    #[error("{command} failed ({status}){detail}")]
    Failed { command: String, status: String, detail: String },
    /// A lock or a file could not be used.
    #[error("{0}")]
    Io(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The workspace this crate belongs to.
pub fn workspace_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

/// Whether this process runs as root (it may then use apt-get and dpkg).
pub fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// Whether installing is allowed (`HV_NO_INSTALL` unset, empty or `0`).
pub fn may_install() -> bool {
    std::env::var("HV_NO_INSTALL").map_or(true, |v| v.is_empty() || v == "0")
}

/// One line on stderr, ignoring write errors.
fn say(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "[provision] {line}");
}

/// This process's stderr as a child's stdout: a helper tool's chatter must never mix into our stdout.
fn stderr_stdio() -> std::process::Stdio {
    use std::os::fd::AsFd;
    match std::io::stderr().as_fd().try_clone_to_owned() {
        Ok(fd) => std::process::Stdio::from(fd),
        Err(_) => std::process::Stdio::null(),
    }
}
