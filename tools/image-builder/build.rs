//! Puts the git revision into `--version`: `IMAGE_BUILDER_GIT_REVISION` is the commit's 12-digit abbreviation,
//! with `-dirty` when tracked files differ from it, or `unknown` without git or outside a git checkout of this
//! workspace (a source tarball).
//!
//! Cargo reruns this script when HEAD moves (`HEAD`, the branch's ref file or `packed-refs`) or the index changes.
//! Only files that exist are named: cargo reruns a build script on every build while a named file is missing. The
//! dirty mark is as of the last rerun: editing a tracked file without staging it does not rerun the script.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let revision = match revision(&manifest) {
        Some((rev, dirty, watched)) => {
            for path in watched.iter().filter(|p| p.exists()) {
                println!("cargo:rerun-if-changed={}", path.display());
            }
            if dirty {
                format!("{rev}-dirty")
            } else {
                rev
            }
        }
        None => "unknown".to_owned(),
    };
    println!("cargo:rustc-env=IMAGE_BUILDER_GIT_REVISION={revision}");
}

/// `git -C dir ARGS` (without optional locks: this must not rewrite the index it watches), its stdout trimmed when
/// it succeeds.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git").arg("-C").arg(dir).args(args).env("GIT_OPTIONAL_LOCKS", "0").output().ok()?;
    if !out.status.success() {
        return None;
    }
    Some(String::from_utf8(out.stdout).ok()?.trim().to_owned())
}

/// The abbreviated commit, whether the tree is dirty, and the files whose change moves either.
fn revision(manifest: &Path) -> Option<(String, bool, Vec<PathBuf>)> {
    // This package lives at tools/image-builder of the workspace; a git checkout around an unpacked tarball is
    // someone else's.
    let workspace = manifest.join("../..").canonicalize().ok()?;
    let top = PathBuf::from(git(manifest, &["rev-parse", "--show-toplevel"])?).canonicalize().ok()?;
    if top != workspace {
        return None;
    }
    let rev = git(manifest, &["rev-parse", "--short=12", "HEAD"])?;
    let dirty = !git(manifest, &["status", "--porcelain", "--untracked-files=no"])?.is_empty();
    let git_path = |name: &str| git(manifest, &["rev-parse", "--path-format=absolute", "--git-path", name]);
    let mut watched: Vec<PathBuf> =
        ["HEAD", "packed-refs", "index"].into_iter().filter_map(git_path).map(PathBuf::from).collect();
    // The branch HEAD points to (none when detached).
    if let Some(branch) = git(manifest, &["symbolic-ref", "-q", "HEAD"]) {
        watched.extend(git_path(&branch).map(PathBuf::from));
    }
    Some((rev, dirty, watched))
}
