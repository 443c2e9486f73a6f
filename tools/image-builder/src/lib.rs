//! The hv-static image builder: from one system config (`configs/NAME.toml`) to one bootable image.
//!
//! Pipeline (each step its own module, so each can be tested alone):
//! 1. [`config`]: parse and validate the TOML, with rustc-style diagnostics ([`diag`]);
//! 2. [`guests`] / [`cargo`]: build the bare-metal guests a config names; [`image`]: flatten ELFs, read Image and zImage headers;
//! 3. `dom0-less`: each partition's device tree;
//! 4. [`layout`]: place the hypervisor, its payload and partition RAM (a pure function);
//! 5. [`hvconfig`]: generate the static tables hv-static is compiled with ([`s2`] sizes its page tables);
//! 6. [`pipeline`]: build hv-static and pack it with the payload into `out/NAME/hv-static.img`;
//! 7. [`qemu`]: boot the image.
//!
//! Nothing here panics on bad input: every problem is an [`Error`], config problems a [`diag::Report`].

#![forbid(unsafe_code)]

/// `eprintln!` that ignores write errors (a closed pipe must not abort the tool).
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

pub mod cargo;
pub mod cli;
pub mod config;
pub mod diag;
mod files;
pub mod guests;
pub mod hostdisk;
pub mod hvconfig;
pub mod image;
pub mod input;
pub mod layout;
pub mod needs;
pub mod pipeline;
pub mod preload;
pub mod prepared;
pub mod procgroup;
pub mod progress;
pub mod qemu;
pub mod report;
pub mod s2;
pub mod schedule;
pub mod sdcard;
pub mod serials;
pub mod trace;
pub mod units;

use std::io;
use std::path::{Path, PathBuf};

pub use pipeline::{build, check, prepare, BuildOptions, Built, Checked, Prepared};
pub use qemu::{RunOptions, RunOutcome};

/// Everything that can go wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The config has errors (diagnostics with positions).
    #[error("{0}")]
    Config(Box<diag::Report>),
    #[error("cannot read {}: {source}", diag::escape(&path.display().to_string()))]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot write {}: {source}", diag::escape(&path.display().to_string()))]
    Write { path: PathBuf, source: io::Error },
    /// A cargo build failed; `output` is cargo's.
    #[error("building {what} failed\n  command: {command}\n{output}")]
    Build { what: String, command: String, output: String },
    /// The built hypervisor does not fit or is not bootable.
    #[error("{0}")]
    Image(String),
    #[error("{binary} not found: install Debian's package {package} (apt-get install {package})")]
    QemuNotFound { binary: String, package: String },
    /// Running a tool failed.
    #[error("{0}")]
    Tool(String),
    /// Something the machine lacks (a Debian package, a fixture, a Rust target) could not be obtained.
    #[error("{0}")]
    Provision(#[from] provision::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The workspace this builder belongs to (found from its manifest directory at compile time).
pub fn workspace_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

/// The config used when none is given.
pub fn default_config() -> PathBuf {
    workspace_root().join("configs/qemu-aarch64-demo.toml")
}

/// Where outputs of the system `name` go: `<workspace>/out/NAME`.
pub fn out_dir(name: &str) -> PathBuf {
    workspace_root().join("out").join(name)
}

/// A path as the user should see it: relative to the current directory when it is below it.
pub fn display_path(path: &Path) -> String {
    let abs = path.canonicalize().unwrap_or_else(|_| path.to_owned());
    if let Ok(cwd) = std::env::current_dir() {
        let cwds = [cwd.canonicalize().unwrap_or_else(|_| cwd.clone()), cwd];
        for base in &cwds {
            for p in [&abs, path] {
                if let Ok(rel) = p.strip_prefix(base) {
                    if !rel.as_os_str().is_empty() {
                        return rel.display().to_string();
                    }
                }
            }
        }
    }
    path.display().to_string()
}
