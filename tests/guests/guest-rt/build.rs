//! Provides the linker script to guest binaries: copied to OUT_DIR as `guest.ld` and put on the link search path,
//! which cargo passes on to every binary depending on guest-rt. Each guest's own build.rs adds `-Tguest.ld`
//! (link arguments do not propagate from a library).

use std::{env, fs, path::PathBuf};

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("none") {
        return;
    }
    let arch = env::var("CARGO_CFG_TARGET_ARCH").expect("cargo sets CARGO_CFG_TARGET_ARCH");
    let script = format!("link/{arch}.ld");
    println!("cargo:rerun-if-changed={script}");
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::copy(&script, out.join("guest.ld")).unwrap_or_else(|e| panic!("guest-rt has no {script} for {arch}: {e}"));
    println!("cargo:rustc-link-search=native={}", out.display());
}
