//! Boot images the boot loader already put in place.
//!
//! The boot image carries every partition's kernel, ramdisk and device tree in its payload, and hv-static copies
//! them into partition RAM before a partition starts. At boot that copy can be skipped: a boot loader that can load
//! files at addresses (QEMU's `-device loader`, U-Boot's `load`) puts each image straight at its destination, as it
//! does for a native kernel, and says so on the command line it passes with the board's device tree:
//! `hv-static.preloaded=<token>`. The token is a checksum of exactly the bytes and destinations this build would
//! copy, compiled in as `SYSTEM.preload_token`: images from another build, or none, do not match it, and hv-static
//! copies as before. Restarts always copy from the payload: a partition may have written over its images, and its
//! own RAM is no evidence of anything.
//!
//! Under QEMU's TCG the copy of a 31 MiB arm64 `Image` takes 76-190 ms of emulated loads and stores
//! (docs/performance-boot.md); QEMU's loader puts the same bytes in place at host speed. On hardware it saves a
//! second pass over the images after the boot loader's own.

/// The command-line word a boot loader passes, followed by `=` and the token (hexadecimal with `0x`, or decimal).
pub const BOOTARG: &str = "hv-static.preloaded";

/// What the boot loader's command line says about the images.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Said {
    /// Nothing: hv-static copies.
    Nothing,
    /// The images of this build are in place.
    InPlace,
    /// A token that is not this build's (or not a number): hv-static copies, and says so.
    Other(u32),
}

/// Reads `bootargs` (the board device tree's `/chosen/bootargs`) for [`BOOTARG`] against this build's `token`.
/// The last occurrence wins, as for kernel parameters.
pub fn said(bootargs: &str, token: u32) -> Said {
    let Some(value) =
        bootargs.split_ascii_whitespace().filter_map(|w| w.strip_prefix(BOOTARG)?.strip_prefix('=')).next_back()
    else {
        return Said::Nothing;
    };
    let parsed = match value.strip_prefix("0x").or_else(|| value.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16),
        None => value.parse(),
    };
    match parsed {
        Ok(t) if t == token && token != 0 => Said::InPlace,
        Ok(t) => Said::Other(t),
        Err(_) => Said::Other(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_of_this_build_means_in_place() {
        assert_eq!(said("hv-static.preloaded=0x1234abcd", 0x1234_abcd), Said::InPlace);
        assert_eq!(said("console=ttyAMA0 hv-static.preloaded=0X1234ABCD quiet", 0x1234_abcd), Said::InPlace);
        assert_eq!(said("hv-static.preloaded=305441741", 0x1234_abcd), Said::InPlace);
    }

    #[test]
    fn anything_else_means_copy() {
        assert_eq!(said("", 7), Said::Nothing);
        assert_eq!(said("hv-static.preloaded", 7), Said::Nothing);
        assert_eq!(said("xhv-static.preloaded=7 hv-static.preloadedx=7", 7), Said::Nothing);
        assert_eq!(said("hv-static.preloaded=0x8", 7), Said::Other(8));
        assert_eq!(said("hv-static.preloaded=", 7), Said::Other(0));
        assert_eq!(said("hv-static.preloaded=0x1_0000_0007", 7), Said::Other(0));
        assert_eq!(said("hv-static.preloaded=-7", 7), Said::Other(0));
        // A build whose token came out 0 never trusts a command line (the builder never makes 0).
        assert_eq!(said("hv-static.preloaded=0", 0), Said::Other(0));
    }

    #[test]
    fn the_last_word_wins() {
        assert_eq!(said("hv-static.preloaded=7 hv-static.preloaded=8", 8), Said::InPlace);
        assert_eq!(said("hv-static.preloaded=8 hv-static.preloaded=7", 8), Said::Other(7));
    }
}
