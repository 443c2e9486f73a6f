//! Building the hypervisor and the guests with cargo.

use std::env;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::progress::Progress;
use crate::Error;

/// How to invoke cargo for the workspace.
#[derive(Clone, Debug)]
pub struct Cargo {
    /// Workspace root: cargo runs there, so the workspace's rust-toolchain.toml applies.
    pub workspace: PathBuf,
    /// Absolute target directory.
    pub target_dir: PathBuf,
}

impl Cargo {
    /// Cargo for `workspace`, with the target directory from `CARGO_TARGET_DIR` (relative to the current directory,
    /// as cargo reads it) or `<workspace>/target`.
    pub fn new(workspace: &Path) -> Cargo {
        let target_dir = match env::var_os("CARGO_TARGET_DIR").filter(|d| !d.is_empty()) {
            Some(d) => {
                let d = PathBuf::from(d);
                if d.is_absolute() {
                    d
                } else {
                    env::current_dir().map(|c| c.join(&d)).unwrap_or(d)
                }
            }
            None => workspace.join("target"),
        };
        Cargo { workspace: workspace.to_owned(), target_dir }
    }

    /// Where `cargo build --release --target TARGET` puts binaries.
    pub fn release_dir(&self, target: &str) -> PathBuf {
        self.target_dir.join(target).join("release")
    }

    /// `cargo build --release --target TARGET -p PKG...` with extra environment; cargo's output is shown as the
    /// spinner's detail and printed in full if the build fails.
    pub fn build_release(
        &self,
        packages: &[&str],
        target: &str,
        env_vars: &[(&str, &Path)],
        what: &str,
        progress: &Progress,
    ) -> Result<(), Error> {
        self.build_release_with(packages, &[], target, env_vars, what, progress)
    }

    /// [`build_release`](Self::build_release) with `--features F,...` (none: the packages' defaults).
    pub fn build_release_with(
        &self,
        packages: &[&str],
        features: &[&str],
        target: &str,
        env_vars: &[(&str, &Path)],
        what: &str,
        progress: &Progress,
    ) -> Result<(), Error> {
        provision::toolchain::ensure_target(&self.workspace, target)?;
        let program = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(&program);
        cmd.current_dir(&self.workspace).arg("build").arg("--release").arg("--target").arg(target);
        for p in packages {
            cmd.arg("-p").arg(p);
        }
        if !features.is_empty() {
            cmd.arg("--features").arg(features.join(","));
        }
        cmd.env("CARGO_TARGET_DIR", &self.target_dir);
        for (k, v) in env_vars {
            cmd.env(k, v);
        }
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
        let mut line = format!("cargo build --release --target {target} -p {}", packages.join(" -p "));
        if !features.is_empty() {
            line.push_str(&format!(" --features {}", features.join(",")));
        }
        let spinner = progress.spinner("Building", what);
        let mut child =
            cmd.spawn().map_err(|e| Error::Tool(format!("cannot run {}: {e}", Path::new(&program).display())))?;
        let mut log = String::new();
        if let Some(stderr) = child.stderr.take() {
            for l in BufReader::new(stderr).lines().map_while(Result::ok) {
                spinner.detail(l.trim());
                log.push_str(&l);
                log.push('\n');
            }
        }
        let status = child.wait().map_err(|e| Error::Tool(format!("waiting for cargo: {e}")))?;
        if status.success() {
            spinner.finish();
            Ok(())
        } else {
            spinner.abandon();
            Err(Error::Build { what: what.to_owned(), command: line, output: log })
        }
    }
}
