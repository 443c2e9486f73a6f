//! Kernel-style command lines (`/chosen/bootargs`): space-separated `key=value` words or bare `key` flags.
//! Guests read their test parameters from here, so the same binary runs under different configs.

use core::str::FromStr;

/// The value of `key` in `cmdline`: `Some("")` for a bare flag, the last one when `key` is given twice (as
/// Linux does), `None` when absent.
pub fn get<'a>(cmdline: &'a str, key: &str) -> Option<&'a str> {
    cmdline.split_ascii_whitespace().rev().find_map(|word| match word.split_once('=') {
        Some((k, v)) if k == key => Some(v),
        None if word == key => Some(""),
        _ => None,
    })
}

/// `key`'s value parsed as `T`: `None` when absent, `Some(Err)` when present but malformed, so the guest can say
/// so instead of silently using its default.
pub fn parse<T: FromStr>(cmdline: &str, key: &str) -> Option<Result<T, T::Err>> {
    get(cmdline, key).map(str::parse)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_values_and_flags() {
        let cmdline = "console=ttyAMA0  tick_ms=50 quiet\tprobe=read,low";
        assert_eq!(get(cmdline, "tick_ms"), Some("50"));
        assert_eq!(get(cmdline, "quiet"), Some(""));
        assert_eq!(get(cmdline, "probe"), Some("read,low"));
        assert_eq!(get(cmdline, "tick"), None, "no prefix matches");
        assert_eq!(get(cmdline, "ms"), None);
        assert_eq!(get("", "tick_ms"), None);
    }

    #[test]
    fn last_occurrence_wins_and_values_may_hold_equals() {
        assert_eq!(get("a=1 a=2", "a"), Some("2"));
        assert_eq!(get("root=PARTUUID=abc", "root"), Some("PARTUUID=abc"));
    }

    #[test]
    fn parse_reports_malformed_values() {
        assert_eq!(parse::<u64>("tick_ms=20", "tick_ms"), Some(Ok(20)));
        assert!(matches!(parse::<u64>("tick_ms=fast", "tick_ms"), Some(Err(_))));
        assert_eq!(parse::<u64>("other=1", "tick_ms"), None);
    }
}
