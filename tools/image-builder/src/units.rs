//! Sizes and addresses as configs write them, and as reports print them.

/// 1 KiB, 1 MiB, 1 GiB, 1 TiB.
pub const KIB: u64 = 1 << 10;
pub const MIB: u64 = 1 << 20;
pub const GIB: u64 = 1 << 30;
pub const TIB: u64 = 1 << 40;
/// 1 PiB, 1 EiB: only reports of absurd sizes use them.
pub const PIB: u64 = 1 << 50;
pub const EIB: u64 = 1 << 60;

/// Why a size or address string was refused; the text completes "expected ...".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub message: String,
    pub hint: String,
}

const SIZE_HINT: &str = "write a byte count such as 67108864 or \"0x4000000\", or a number with a binary unit: \
                         \"64MiB\", \"64M\", \"2MiB\", \"1GiB\" (K, M, G, T with or without \"iB\")";
const ADDR_HINT: &str = "write an address as an integer or a hex string such as \"0x40000000\"";

/// Why a number was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NumError {
    /// Not digits of its radix (or nothing at all).
    NotANumber,
    /// Digits, but more than 64 bits of them.
    TooLarge,
}

/// Parses an unsigned number: decimal, `0x` hex, `0b` binary or `0o` octal, with `_` separators.
fn parse_number(s: &str) -> Result<u64, NumError> {
    let s = s.trim();
    let (digits, radix) = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        (h, 16)
    } else if let Some(b) = s.strip_prefix("0b") {
        (b, 2)
    } else if let Some(o) = s.strip_prefix("0o") {
        (o, 8)
    } else {
        (s, 10)
    };
    // `from_str_radix` would take a leading `+`: digits and separators only.
    if digits.is_empty() || digits.starts_with('_') || !digits.chars().all(|c| c == '_' || c.is_digit(radix)) {
        return Err(NumError::NotANumber);
    }
    let clean: String = digits.chars().filter(|c| *c != '_').collect();
    if clean.is_empty() {
        return Err(NumError::NotANumber);
    }
    u64::from_str_radix(&clean, radix).map_err(|e| match e.kind() {
        std::num::IntErrorKind::PosOverflow => NumError::TooLarge,
        _ => NumError::NotANumber,
    })
}

/// The message for a number beyond 64 bits (callers quote the text already): `what` is "a size", "an address", ...
fn too_large(what: &str, most: &str) -> String {
    format!("number too large: {what} is at most {most}")
}

/// The largest size, as messages write it.
const MAX_SIZE_TEXT: &str = "18446744073709551615 bytes (16 EiB)";

/// Parses a size: a byte count, or a number followed by a binary unit (`K`, `KiB`, `M`, `MiB`, `G`, `GiB`, `T`,
/// `TiB`; case-insensitive, optional space).
pub fn parse_size(s: &str) -> Result<u64, ParseError> {
    let t = s.trim();
    let bad = |message: String| ParseError { message, hint: SIZE_HINT.into() };
    if t.is_empty() {
        return Err(bad("an empty string is not a size".into()));
    }
    if t.starts_with('-') {
        return Err(bad(format!("`{s}` is negative: sizes cannot be")));
    }
    if let Some(n) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        // Hex digits include B, so hex sizes take no unit.
        return parse_number(&format!("0x{n}")).map_err(|e| match e {
            NumError::TooLarge => bad(too_large("a size", MAX_SIZE_TEXT)),
            NumError::NotANumber => bad(format!("`{s}` is not a hex number")),
        });
    }
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '_')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value = parse_number(num).map_err(|e| match e {
        NumError::TooLarge => bad(too_large("a size", MAX_SIZE_TEXT)),
        NumError::NotANumber => bad(format!("`{s}` does not start with a number")),
    })?;
    let unit = unit.trim();
    if unit.starts_with(['.', ',']) {
        return Err(bad(format!("`{s}` is not a whole number: use a smaller unit (\"1536K\", not \"1.5M\")")));
    }
    let lower = unit.to_ascii_lowercase();
    let mult = match lower.as_str() {
        "" | "b" => 1,
        "k" | "kib" => KIB,
        "m" | "mib" => MIB,
        "g" | "gib" => GIB,
        "t" | "tib" => TIB,
        "kb" | "mb" | "gb" | "tb" => {
            let letter = lower[..1].to_ascii_uppercase();
            return Err(ParseError {
                message: format!("`{unit}` is ambiguous (decimal or binary?)"),
                hint: format!("sizes are binary: write `{letter}iB` (or `{letter}`)"),
            });
        }
        _ => return Err(bad(format!("`{unit}` is not a size unit"))),
    };
    value.checked_mul(mult).ok_or_else(|| bad(too_large("a size", MAX_SIZE_TEXT)))
}

/// Parses an address: an integer or a hex (`0x`), binary or octal string.
pub fn parse_addr(s: &str) -> Result<u64, ParseError> {
    let bad = |message: String| ParseError { message, hint: ADDR_HINT.into() };
    if s.trim().starts_with('-') {
        return Err(bad(format!("`{s}` is negative: addresses cannot be")));
    }
    parse_number(s).map_err(|e| match e {
        NumError::TooLarge => bad(too_large("an address", "0xffff_ffff_ffff_ffff")),
        NumError::NotANumber => bad(format!("`{s}` is not an address")),
    })
}

/// `0x4020_0000`: hex with a `_` every four digits.
pub fn hex(v: u64) -> String {
    hv_plan::bake::hex(v)
}

/// `64 MiB`, `2 MiB`, `1.5 KiB`, `100 B`: the largest unit that keeps at most one decimal exact enough.
pub fn size(v: u64) -> String {
    for (unit, name) in [(EIB, "EiB"), (PIB, "PiB"), (TIB, "TiB"), (GIB, "GiB"), (MIB, "MiB"), (KIB, "KiB")] {
        if v >= unit {
            return if v.is_multiple_of(unit) {
                format!("{} {name}", v / unit)
            } else {
                let tenths = (u128::from(v) * 10).div_ceil(u128::from(unit));
                format!("{}.{} {name}", tenths / 10, tenths % 10)
            };
        }
    }
    format!("{v} B")
}

const DURATION_HINT: &str = "write a whole number with a time unit: \"10ms\", \"500us\", \"2s\", \"250000ns\"";

/// Parses a duration into nanoseconds: a whole number followed by `ns`, `us` (or `µs`), `ms` or `s`. Schedules are
/// exact, so there are no fractions and no bare numbers (which unit would they be in?).
pub fn parse_duration(s: &str) -> Result<u64, ParseError> {
    let t = s.trim();
    let bad = |message: String| ParseError { message, hint: DURATION_HINT.into() };
    if t.starts_with('-') {
        return Err(bad(format!("`{s}` is negative: durations cannot be")));
    }
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '_')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    if num.is_empty() || num.starts_with('_') {
        return Err(bad(format!("`{s}` does not start with a whole number")));
    }
    const MOST: &str = "18446744073709551615 ns (about 584 years)";
    let value = parse_number(num).map_err(|e| match e {
        NumError::TooLarge => bad(too_large("a duration", MOST)),
        NumError::NotANumber => bad(format!("`{s}` does not start with a whole number")),
    })?;
    let mult = match unit.trim() {
        "ns" => 1,
        "us" | "µs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "" => return Err(bad(format!("`{s}` has no time unit"))),
        u if u.starts_with(['.', ',']) => {
            return Err(bad(format!("`{s}` is not a whole number: use a smaller unit (\"1500us\", not \"1.5ms\")")))
        }
        u => return Err(bad(format!("`{u}` is not a time unit"))),
    };
    value.checked_mul(mult).ok_or_else(|| bad(too_large("a duration", MOST)))
}

/// `10 ms`, `2.5 ms`, `750 us`, `40 ns`, `0`: the largest unit in which the value has at most three decimals.
pub fn duration(ns: u64) -> String {
    if ns == 0 {
        return "0".into();
    }
    for (unit, name) in [(1_000_000_000, "s"), (1_000_000, "ms"), (1_000, "us")] {
        // In u128: `ns * 1000` of a time near 2^64 ns must not wrap.
        if ns >= unit && (u128::from(ns) * 1000).is_multiple_of(u128::from(unit)) {
            let whole = ns / unit;
            let frac = (ns % unit) * 1000 / unit;
            return if frac == 0 {
                format!("{whole} {name}")
            } else {
                format!("{whole}.{}", format!("{frac:03}").trim_end_matches('0')) + " " + name
            };
        }
    }
    format!("{ns} ns")
}

/// `v` rounded up to a multiple of `align` (a non-zero constant). Saturates at the largest multiple of `align`
/// instead of overflowing, so a value near 2^64 stays huge (and fails the range checks that follow) in debug and
/// release builds alike; [`checked_align_up`] says when it would not fit.
pub const fn align_up(v: u64, align: u64) -> u64 {
    if align == 0 {
        return v;
    }
    match v.checked_next_multiple_of(align) {
        Some(up) => up,
        None => u64::MAX / align * align,
    }
}

/// `v` rounded up to a multiple of `align`, or `None` when that is beyond 64 bits.
pub const fn checked_align_up(v: u64, align: u64) -> Option<u64> {
    if align == 0 {
        return Some(v);
    }
    v.checked_next_multiple_of(align)
}

pub const fn is_aligned(v: u64, align: u64) -> bool {
    v.is_multiple_of(align)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64MiB"), Ok(64 * MIB));
        assert_eq!(parse_size("64 MiB"), Ok(64 * MIB));
        assert_eq!(parse_size("2M"), Ok(2 * MIB));
        assert_eq!(parse_size("2m"), Ok(2 * MIB));
        assert_eq!(parse_size("1GiB"), Ok(GIB));
        assert_eq!(parse_size("1G"), Ok(GIB));
        assert_eq!(parse_size("4K"), Ok(4096));
        assert_eq!(parse_size("0x4000000"), Ok(64 * MIB));
        assert_eq!(parse_size("0x400_0000"), Ok(64 * MIB));
        assert_eq!(parse_size("67108864"), Ok(64 * MIB));
        assert_eq!(parse_size("1_024"), Ok(1024));
        assert_eq!(parse_size("16B"), Ok(16));
    }

    #[test]
    fn bad_sizes() {
        for s in ["", "MiB", "64 mebibytes", "64Mi", "-1M", "1.5M", "0x", "0xZZ", "99999999999T", "_1M"] {
            let e = parse_size(s).unwrap_err();
            assert!(!e.hint.is_empty(), "{s}");
        }
        let e = parse_size("64MB").unwrap_err();
        assert!(e.message.contains("ambiguous"), "{e:?}");
        assert!(e.hint.contains("MiB"), "{e:?}");
    }

    #[test]
    fn sizes_beyond_64_bits_are_too_large_not_malformed() {
        for s in
            ["0x1_0000_0000_0000_0000", "99999999999999999999", "18446744073709551616", "17179869184T", "16777216T"]
        {
            let e = parse_size(s).unwrap_err();
            assert!(e.message.starts_with("number too large:"), "{s}: {e:?}");
            assert!(e.message.contains("16 EiB"), "{s}: {e:?}");
        }
        assert_eq!(parse_size("0xffff_ffff_ffff_ffff"), Ok(u64::MAX));
        assert_eq!(parse_size("18446744073709551615"), Ok(u64::MAX));
        assert_eq!(parse_size("16777215T"), Ok(16_777_215 * TIB));
        assert!(parse_size("0xZZ").unwrap_err().message.contains("not a hex number"));
        assert!(parse_size("-1").unwrap_err().message.contains("negative"));
        assert!(parse_size("1.5M").unwrap_err().message.contains("not a whole number"));
        // `from_str_radix` would take a sign: sizes and addresses do not.
        for s in ["+5", "0x+5", "0x-5"] {
            assert!(parse_size(s).is_err(), "{s}");
            assert!(parse_addr(s).is_err(), "{s}");
        }
        assert_eq!(size(u64::MAX), "16.0 EiB");
        assert_eq!(size(3 * PIB), "3 PiB");
    }

    #[test]
    fn addresses_beyond_64_bits_are_too_large() {
        let e = parse_addr("0x1_0000_0000_0000_0000").unwrap_err();
        assert!(e.message.starts_with("number too large:") && e.message.contains("0xffff_ffff_ffff_ffff"), "{e:?}");
        assert!(parse_addr("-0x1").unwrap_err().message.contains("negative"));
        assert_eq!(parse_addr("0xffff_ffff_ffff_ffff"), Ok(u64::MAX));
    }

    #[test]
    fn durations_beyond_64_bits_are_too_large_and_print_without_wrapping() {
        for s in ["99999999999999999999ms", "18446744073709551616ns", "18446744073709551ms", "18446744074s"] {
            let e = parse_duration(s).unwrap_err();
            assert!(e.message.starts_with("number too large:") && e.message.contains("584 years"), "{s}: {e:?}");
        }
        assert_eq!(parse_duration("18446744073709551615ns"), Ok(u64::MAX));
        assert!(parse_duration("-1ms").unwrap_err().message.contains("negative"));
        // `ns * 1000` of these wrapped (a panic in a debug build).
        assert_eq!(duration(u64::MAX), "18446744073709551.615 us");
        assert_eq!(duration(18_446_744_073_000_000_000), "18446744073 s");
    }

    #[test]
    fn alignment_saturates_or_says_it_cannot() {
        assert_eq!(align_up(5, 4), 8);
        assert_eq!(align_up(8, 4), 8);
        assert_eq!(align_up(u64::MAX, 4096), u64::MAX / 4096 * 4096);
        assert_eq!(checked_align_up(u64::MAX, 4096), None);
        assert_eq!(checked_align_up(u64::MAX - 4095, 4096), Some(u64::MAX - 4095));
        assert_eq!(checked_align_up(7, 0), Some(7));
    }

    #[test]
    fn addresses() {
        assert_eq!(parse_addr("0x40000000"), Ok(0x4000_0000));
        assert_eq!(parse_addr("0x4000_0000"), Ok(0x4000_0000));
        assert_eq!(parse_addr("1073741824"), Ok(0x4000_0000));
        assert!(parse_addr("0x4000_0000 ").is_ok());
        assert!(parse_addr("1G").is_err());
        assert!(parse_addr("0x").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10ms"), Ok(10_000_000));
        assert_eq!(parse_duration("10 ms"), Ok(10_000_000));
        assert_eq!(parse_duration("500us"), Ok(500_000));
        assert_eq!(parse_duration("500µs"), Ok(500_000));
        assert_eq!(parse_duration("2s"), Ok(2_000_000_000));
        assert_eq!(parse_duration("1_000ns"), Ok(1000));
        for bad in ["", "ms", "10", "1.5ms", "10 min", "-1ms", "99999999999999999s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert!(parse_duration("1.5ms").unwrap_err().message.contains("smaller unit"));
        assert_eq!(duration(10_000_000), "10 ms");
        assert_eq!(duration(2_500_000), "2.5 ms");
        assert_eq!(duration(750_000), "750 us");
        assert_eq!(duration(1_000_250), "1000.25 us");
        assert_eq!(duration(40), "40 ns");
        assert_eq!(duration(0), "0");
    }

    #[test]
    fn printing() {
        assert_eq!(hex(0x4020_0000), "0x4020_0000");
        assert_eq!(hex(0x1_0000), "0x1_0000");
        assert_eq!(hex(0xabc), "0xabc");
        assert_eq!(hex(0), "0x0");
        assert_eq!(size(64 * MIB), "64 MiB");
        assert_eq!(size(GIB), "1 GiB");
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(size(100), "100 B");
        assert_eq!(size(3 * MIB + 1), "3.1 MiB");
    }
}
