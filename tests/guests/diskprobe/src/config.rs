//! The probe's parameters, from the bootargs. A malformed value is an error rather than a fallback to the
//! default: a typo must not make a disk-writing guest write something else than asked.

use core::fmt;

use guest_rt::bootargs;

use crate::{hostile, pattern};

/// Sectors written or checked when the bootargs do not say.
pub const DEFAULT_SECTORS: u64 = 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Write the pattern, read it back and compare.
    Write,
    /// Only read and compare: the disk was written before (persistence) or by another partition.
    Verify,
    /// Expect a read-only device: reads work, a write fails.
    ReadOnly,
    /// Write the pattern on a blank disk, check it on one written before (a disk that persists across boots).
    Persist,
    /// Attack the first block device with malformed virtqueues ([`crate::hostile`]).
    Hostile,
    /// Load the device with maximal requests: `sectors` rounds of reads of [`HAMMER_BYTES`] each, back to back,
    /// so that a partition sharing the CPU shows whether serving them delays its windows.
    Hammer,
    /// Across a restart (`on_fault = "restart"`): leave a queue set up, fault, and check in the next run that the
    /// device forgot it ([`crate::hostile::stale`]).
    Stale,
}

/// Bytes of one hammer-mode request: hv-static's largest (`seg_max` 62 × `size_max` 64 KiB), here as one buffer,
/// which the device takes as well (it limits the request, not the segment).
pub const HAMMER_BYTES: usize = 62 * 64 * 1024;

impl Mode {
    const NAMES: [(&'static str, Mode); 7] = [
        ("write", Mode::Write),
        ("verify", Mode::Verify),
        ("readonly", Mode::ReadOnly),
        ("persist", Mode::Persist),
        ("hostile", Mode::Hostile),
        ("hammer", Mode::Hammer),
        ("stale", Mode::Stale),
    ];

    fn name(self) -> &'static str {
        Self::NAMES.iter().find(|(_, m)| *m == self).map_or("?", |(n, _)| n)
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    pub mode: Mode,
    pub pattern: u8,
    /// Whether `pattern=` was given (readonly mode then also checks the data).
    pub pattern_given: bool,
    /// Sectors from sector 0 to write or check; at least 1.
    pub sectors: u64,
    /// hostile mode: where the out-of-partition buffer points (`evil=`, hex).
    pub evil: u64,
}

/// A bootarg diskprobe cannot use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadArg<'a> {
    pub key: &'static str,
    pub value: &'a str,
    pub expected: &'static str,
}

impl fmt::Display for BadArg<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={:?}, expected {}", self.key, self.value, self.expected)
    }
}

impl Config {
    /// Reads `mode`, `pattern`, `sectors` and `evil` from `cmdline`; the default pattern comes from `partition_name`.
    pub fn parse<'a>(cmdline: &'a str, partition_name: &str) -> Result<Self, BadArg<'a>> {
        let mode = match bootargs::get(cmdline, "mode") {
            None => Mode::Write,
            Some(value) => Mode::NAMES.iter().find(|(n, _)| *n == value).map(|&(_, m)| m).ok_or(BadArg {
                key: "mode",
                value,
                expected: "write, verify, readonly, persist, hostile or hammer",
            })?,
        };
        let given = bootargs::get(cmdline, "pattern");
        let pattern = match given {
            None => pattern::default_for(partition_name),
            Some(value) => {
                parse_byte(value).ok_or(BadArg { key: "pattern", value, expected: "a byte (decimal or 0x hex)" })?
            }
        };
        let sectors = match bootargs::get(cmdline, "sectors") {
            None => DEFAULT_SECTORS,
            Some(value) => value.parse().ok().filter(|&n| n > 0).ok_or(BadArg {
                key: "sectors",
                value,
                expected: "a positive number",
            })?,
        };
        let evil = match bootargs::get(cmdline, "evil") {
            None => hostile::DEFAULT_EVIL,
            Some(value) => parse_hex(value).ok_or(BadArg { key: "evil", value, expected: "a hex address" })?,
        };
        Ok(Self { mode, pattern, pattern_given: given.is_some(), sectors, evil })
    }
}

/// `0x4020_0000`, `0X40200000` or `40200000`: hex, `0x` and `_` optional.
fn parse_hex(value: &str) -> Option<u64> {
    let hex = value.strip_prefix("0x").or_else(|| value.strip_prefix("0X")).unwrap_or(value);
    let mut digits = hex.chars().filter(|&c| c != '_').peekable();
    digits.peek()?;
    digits.try_fold(0u64, |n, c| n.checked_mul(16)?.checked_add(u64::from(c.to_digit(16)?)))
}

/// `90`, `0x5a` or `0X5A`.
fn parse_byte(value: &str) -> Option<u8> {
    match value.strip_prefix("0x").or_else(|| value.strip_prefix("0X")) {
        Some(hex) => u8::from_str_radix(hex, 16).ok(),
        None => value.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let c = Config::parse("console=ttyAMA0", "disk0").unwrap();
        assert_eq!(
            c,
            Config {
                mode: Mode::Write,
                pattern: pattern::default_for("disk0"),
                pattern_given: false,
                sectors: DEFAULT_SECTORS,
                evil: hostile::DEFAULT_EVIL,
            }
        );
    }

    #[test]
    fn reads_every_key() {
        let c = Config::parse("mode=verify pattern=0x5A sectors=8 evil=0x1234", "x").unwrap();
        assert_eq!(c, Config { mode: Mode::Verify, pattern: 0x5a, pattern_given: true, sectors: 8, evil: 0x1234 });
        let c = Config::parse("mode=hostile evil=0x4020_0000", "x").unwrap();
        assert_eq!((c.mode, c.evil), (Mode::Hostile, 0x4020_0000));
        assert_eq!(Config::parse("evil=FFFF0000", "x").unwrap().evil, 0xffff_0000);
        let c = Config::parse("mode=readonly pattern=200", "x").unwrap();
        assert_eq!((c.mode, c.pattern, c.sectors), (Mode::ReadOnly, 200, DEFAULT_SECTORS));
        assert_eq!(Config::parse("pattern=0", "x").unwrap().pattern, 0);
        assert_eq!(Config::parse("mode=write", "x").unwrap().mode, Mode::Write);
        assert_eq!(Config::parse("mode=persist", "x").unwrap().mode, Mode::Persist);
        assert_eq!(Config::parse("mode=hammer sectors=5", "x").unwrap().mode, Mode::Hammer);
    }

    #[test]
    fn malformed_values_are_errors() {
        let err = |cmdline| Config::parse(cmdline, "x").unwrap_err();
        assert_eq!(err("mode=verfy").key, "mode");
        assert_eq!(err("mode").key, "mode", "a bare flag has no value");
        assert_eq!(err("pattern=256").key, "pattern");
        assert_eq!(err("pattern=0x").key, "pattern");
        assert_eq!(err("pattern=-1").key, "pattern");
        assert_eq!(err("sectors=0").key, "sectors");
        assert_eq!(err("sectors=many").key, "sectors");
        assert_eq!(err("evil=").key, "evil");
        assert_eq!(err("evil=0x").key, "evil");
        assert_eq!(err("evil=0x4g").key, "evil");
        assert_eq!(err("evil=0x1_0000_0000_0000_0000").key, "evil", "beyond 64 bits");
        assert_eq!(
            err("mode=rw").to_string(),
            "mode=\"rw\", expected write, verify, readonly, persist, hostile or hammer",
            "the line diskprobe prints after `bad bootargs: `"
        );
    }

    #[test]
    fn modes_print_as_their_bootarg() {
        for (name, mode) in Mode::NAMES {
            assert_eq!(mode.to_string(), name);
        }
    }
}
