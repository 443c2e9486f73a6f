//! The step that compiles hv-static: `cargo build` with the generated config (`hvconfig/`) and the chosen cargo
//! features, for the board's target. Its ELF is what [`super::pack()`] flattens into the boot image.

use std::path::Path;

use super::{read, HvFeatures};
use crate::cargo::Cargo;
use crate::progress::Progress;
use crate::Result;

/// `cargo build -p hv-static` for the generated config in `config_dir`; returns the ELF.
pub fn build_hypervisor(
    cargo: &Cargo,
    target: &str,
    config_dir: &Path,
    features: HvFeatures,
    progress: &Progress,
) -> Result<Vec<u8>> {
    let (features, what): (&[&str], _) =
        if features.trace { (&["trace"], "hv-static (trace)") } else { (&[], "hv-static") };
    cargo.build_release_with(
        &["hv-static"],
        features,
        target,
        &[("HV_STATIC_CONFIG_DIR", config_dir)],
        what,
        progress,
    )?;
    read(&cargo.release_dir(target).join("hv-static"))
}
