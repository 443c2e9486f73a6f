//! The bootargs every probe shares. Pure code, tested on the host.

use guest_rt::bootargs;

/// What a probe does once it printed its `done` line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Then {
    /// Sleep in WFI (the default).
    Idle,
    /// PSCI SYSTEM_OFF.
    Off,
    /// Keep attacking, silently, until the test stops QEMU (so a measurement beside it sees the attack to its end).
    Repeat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Args {
    /// `seed=N`: the random numbers' seed.
    pub seed: u64,
    /// `count=N`: calls, SGIs, rings, CPU_ONs... per round, depending on the probe.
    pub count: u64,
    /// `passes=N`: sweeps of the GIC, or rounds (restarts) of the lifecycle probe.
    pub passes: u64,
    /// `period_ms=N`: the heartbeat's period.
    pub period_ms: u64,
    /// `then=idle|off|repeat`.
    pub then: Then,
}

impl Args {
    pub fn parse(cmdline: &str) -> Args {
        let num = |key: &str, default: u64| match bootargs::get(cmdline, key) {
            Some(v) => parse_number(v).unwrap_or(default),
            None => default,
        };
        let then = match bootargs::get(cmdline, "then") {
            Some("off") => Then::Off,
            Some("repeat") => Then::Repeat,
            _ => Then::Idle,
        };
        Args {
            seed: num("seed", 1),
            count: num("count", 1000),
            passes: num("passes", 1).max(1),
            period_ms: num("period_ms", 10).max(1),
            then,
        }
    }
}

/// A decimal number, or hexadecimal with `0x`; `_` separators allowed.
pub fn parse_number(s: &str) -> Option<u64> {
    match s.strip_prefix("0x") {
        Some(hex) => parse_hex(hex),
        None => parse_digits(s, 10),
    }
}

/// Hexadecimal, with or without `0x`; `_` separators allowed.
pub fn parse_hex(s: &str) -> Option<u64> {
    parse_digits(s.strip_prefix("0x").unwrap_or(s), 16)
}

fn parse_digits(s: &str, radix: u32) -> Option<u64> {
    let mut value: u64 = 0;
    let mut digits = 0;
    for c in s.chars().filter(|&c| c != '_') {
        value = value.checked_mul(u64::from(radix))?.checked_add(u64::from(c.to_digit(radix)?))?;
        digits += 1;
    }
    (digits > 0).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(parse_number("1000"), Some(1000));
        assert_eq!(parse_number("0x80_4020_0000"), Some(0x80_4020_0000));
        assert_eq!(parse_hex("ff"), Some(255));
        assert_eq!(parse_number("0x"), None);
        assert_eq!(parse_number("12a"), None);
        assert_eq!(parse_hex("1_0000_0000_0000_0000"), None, "overflow");
    }

    #[test]
    fn defaults_and_values() {
        let a = Args::parse("probe=calls seed=7 count=0x10 then=repeat");
        assert_eq!(a, Args { seed: 7, count: 16, passes: 1, period_ms: 10, then: Then::Repeat });
        let d = Args::parse("passes=0 period_ms=junk");
        assert_eq!((d.passes, d.period_ms, d.then), (1, 10, Then::Idle));
    }
}
