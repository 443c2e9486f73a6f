//! Links with guest-rt's linker script when building for bare metal; host builds are plain binaries.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("none") {
        println!("cargo:rustc-link-arg-bins=-Tguest.ld");
    }
}
