//! The Rust targets hv-static and the guests are built for, added with rustup on first use.
//!
//! `rust-toolchain.toml` pins the toolchain with its targets. A rustup that installs toolchains automatically
//! brings them in with it, but a toolchain that is already installed (or a rustup with auto-install off) may lack
//! the bare-metal targets, and cargo then fails with "can't find crate for `core`". So before a cross build the
//! builder asks rustc where the target's libraries are and, when they are missing, runs `rustup toolchain install`
//! in the workspace (which reads `rust-toolchain.toml`), falling back to `rustup target add TARGET`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Mutex;

use crate::{lock, say, Error, Result};

/// Targets already found installed by this process.
static DONE: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Whether the standard library for `target` is installed for the toolchain used in `workspace`.
pub fn installed(workspace: &Path, target: &str) -> bool {
    let out = Command::new(rustc())
        .args(["--print", "target-libdir", "--target", target])
        .current_dir(workspace)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output();
    let Some(out) = out.ok().filter(|o| o.status.success()) else { return false };
    let dir = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    std::fs::read_dir(&dir).is_ok_and(|entries| {
        entries.filter_map(|e| e.ok()).any(|e| e.file_name().to_string_lossy().starts_with("libcore-"))
    })
}

/// `$RUSTC` or `rustc`.
fn rustc() -> std::ffi::OsString {
    std::env::var_os("RUSTC").filter(|r| !r.is_empty()).unwrap_or_else(|| "rustc".into())
}

/// Makes sure `target` can be built for in `workspace`.
pub fn ensure_target(workspace: &Path, target: &str) -> Result<()> {
    let mut done = DONE.lock().unwrap_or_else(|e| e.into_inner());
    if done.iter().any(|t| t == target) {
        return Ok(());
    }
    if !installed(workspace, target) {
        let _one_rustup = lock::acquire(&lock::machine_lock("rustup"))?;
        if !installed(workspace, target) {
            add(workspace, target)?;
        }
    }
    done.push(target.to_owned());
    Ok(())
}

fn add(workspace: &Path, target: &str) -> Result<()> {
    let missing = || Error::Missing {
        what: format!("the Rust standard library for `{target}`"),
        advice: format!("run `rustup target add {target}` in {} (rust-toolchain.toml lists it)", workspace.display()),
    };
    let Some(_) = crate::packages::find_program("rustup") else { return Err(missing()) };
    say(&format!("adding the Rust target {target} (rust-toolchain.toml; first use)"));
    let run = |args: &[&str]| {
        Command::new("rustup")
            .args(args)
            .current_dir(workspace)
            .stdin(Stdio::null())
            .stdout(crate::stderr_stdio())
            .status()
            .is_ok_and(|s| s.success())
    };
    // The whole pinned toolchain (targets and components) in one step; older rustups want an explicit name.
    let added = (run(&["toolchain", "install"]) && installed(workspace, target)) || run(&["target", "add", target]);
    if added && installed(workspace, target) {
        return Ok(());
    }
    Err(missing())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_target_is_installed_and_a_made_up_one_is_not() {
        let ws = crate::workspace_root();
        let host = std::env::var("HOST").unwrap_or_else(|_| "x86_64-unknown-linux-gnu".into());
        if cfg!(all(target_arch = "x86_64", target_os = "linux")) {
            assert!(installed(&ws, &host));
        }
        assert!(!installed(&ws, "hv-no-such-target"));
    }
}
