//! Whether the board's RAM, as its boot loader describes it, holds the RAM the build-time layout uses. A board may
//! describe its RAM as several banks with holes between them, one bank split into adjacent `reg` entries, or banks
//! in any order (U-Boot, firmware and QEMU all differ); the layout's range must lie within their union.

/// The most banks looked at: more than any board describes, and a bound on the work for a malformed tree.
pub const MAX_BANKS: usize = 32;

/// Whether the union of `banks` (`(base, size)`; the first [`MAX_BANKS`]) covers `[lo, hi)`. `banks` is asked for
/// its regions again for each bank the range crosses: at most [`MAX_BANKS`] passes over at most [`MAX_BANKS`]
/// regions.
pub fn covers<I: Iterator<Item = (u64, u64)>>(banks: impl Fn() -> I, lo: u64, hi: u64) -> bool {
    let mut at = lo;
    for _ in 0..MAX_BANKS {
        if at >= hi {
            return true;
        }
        // The bank holding `at` that reaches furthest.
        let Some(end) = banks()
            .take(MAX_BANKS)
            .filter(|&(b, s)| b <= at && at < b.saturating_add(s))
            .map(|(b, s)| b.saturating_add(s))
            .max()
        else {
            return false;
        };
        at = end;
    }
    at >= hi
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const GIB: u64 = 1 << 30;

    fn cover(banks: &[(u64, u64)], lo: u64, hi: u64) -> bool {
        covers(|| banks.iter().copied(), lo, hi)
    }

    #[test]
    fn one_bank() {
        assert!(cover(&[(0x4000_0000, GIB)], 0x4020_0000, 0x8000_0000));
        assert!(!cover(&[(0x4000_0000, GIB)], 0x4020_0000, 0x8000_1000), "one page too far");
        assert!(!cover(&[(0x4000_0000, GIB)], 0x3FFF_F000, 0x5000_0000), "starts below");
        assert!(!cover(&[], 0, 1));
    }

    #[test]
    fn split_and_unordered_banks() {
        // The ZCU102's two banks (0..2 GiB, 32 GiB..34 GiB), a bank split in two entries, in any order.
        let zcu = [(0x8_0000_0000, 2 * GIB), (0, 2 * GIB)];
        assert!(cover(&zcu, 0x20_0000, GIB));
        assert!(!cover(&zcu, 0x20_0000, 3 * GIB), "the hole between the banks");
        let split = [(GIB, GIB), (0, GIB)];
        assert!(cover(&split, 0x20_0000, 2 * GIB));
        let overlapping = [(0, GIB + 0x1000), (GIB, GIB)];
        assert!(cover(&overlapping, 0, 2 * GIB));
    }

    #[test]
    fn hostile_sizes_do_not_overflow() {
        assert!(cover(&[(u64::MAX - 0xfff, u64::MAX)], u64::MAX - 0x800, u64::MAX));
        assert!(!cover(&[(0, 0)], 0, 1), "an empty bank covers nothing");
    }

    proptest! {
        /// Against a page-by-page model over a small space.
        #[test]
        fn agrees_with_a_page_model(
            banks in proptest::collection::vec((0u64..64, 0u64..16), 0..8),
            lo in 0u64..80,
            len in 1u64..40,
        ) {
            let hi = lo + len;
            let model = (lo..hi).all(|p| banks.iter().any(|&(b, s)| b <= p && p < b + s));
            prop_assert_eq!(cover(&banks, lo, hi), model);
        }
    }
}
