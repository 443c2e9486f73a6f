//! The data diskprobe writes: every byte is a function of the pattern byte and of the byte's position on the disk,
//! so that a sector read back from the wrong place, a shifted buffer, a stale or zeroed sector and another
//! partition's data (with another pattern) all show as mismatches.

use virtio_drivers::device::blk::SECTOR_SIZE;

/// The byte at `offset` (< [`SECTOR_SIZE`]) of `sector` when the disk was written with `pattern`: `pattern` XOR
/// the low byte of a hash of the byte's position on the disk. Two patterns thus differ in every byte, and each
/// byte's position is scrambled by two multiply/xor-shift rounds so that no other sector or offset repeats it
/// beyond chance (1 in 256).
///
/// The function is fixed (see the test `values_are_stable`): a disk written by one build verifies with another.
pub fn byte(pattern: u8, sector: u64, offset: usize) -> u8 {
    /// The 64-bit golden ratio, odd: multiplying by it is a bijection that spreads low bits upward.
    const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;
    let position = sector.wrapping_mul(SECTOR_SIZE as u64).wrapping_add(offset as u64);
    let mut x = position.wrapping_mul(GOLDEN);
    x ^= x >> 31;
    x = x.wrapping_mul(GOLDEN);
    x ^= x >> 29;
    pattern ^ x.to_le_bytes()[0]
}

/// Fills `buf` (whole sectors) with what `sector` and the ones after it hold when written with `pattern`.
pub fn fill(pattern: u8, sector: u64, buf: &mut [u8]) {
    for (s, data) in (sector..).zip(buf.chunks_exact_mut(SECTOR_SIZE)) {
        for (offset, b) in data.iter_mut().enumerate() {
            *b = byte(pattern, s, offset);
        }
    }
}

/// How one sector read back differs from what `pattern` puts there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SectorMismatch {
    /// The first differing byte: its offset, the value read and the expected one.
    pub offset: usize,
    pub read: u8,
    pub expected: u8,
    /// How many of the sector's bytes differ.
    pub bytes: usize,
}

/// Compares one sector's data (`SECTOR_SIZE` bytes) with the pattern; `None` when it matches.
pub fn check_sector(pattern: u8, sector: u64, data: &[u8]) -> Option<SectorMismatch> {
    let mut differing = data.iter().enumerate().filter(|&(offset, &b)| b != byte(pattern, sector, offset));
    let (offset, &read) = differing.next()?;
    Some(SectorMismatch { offset, read, expected: byte(pattern, sector, offset), bytes: 1 + differing.count() })
}

/// The pattern of a partition that gives none: the partition name's FNV-1a hash (32-bit) folded to a byte, so
/// that partitions sharing a disk write distinguishable data by default.
pub fn default_for(partition_name: &str) -> u8 {
    const FNV_OFFSET: u32 = 0x811C_9DC5;
    const FNV_PRIME: u32 = 0x0100_0193;
    let hash = partition_name.bytes().fold(FNV_OFFSET, |h, b| (h ^ u32::from(b)).wrapping_mul(FNV_PRIME));
    hash.to_le_bytes().iter().fold(0, |acc, b| acc ^ b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sector(pattern: u8, index: u64) -> Vec<u8> {
        let mut data = vec![0; SECTOR_SIZE];
        fill(pattern, index, &mut data);
        data
    }

    fn differing(a: &[u8], b: &[u8]) -> usize {
        a.iter().zip(b).filter(|(x, y)| x != y).count()
    }

    #[test]
    fn values_are_stable() {
        // Pinned: changing the function would make disks written by older builds fail to verify.
        assert_eq!(sector(0x00, 0)[..8], [0x00, 0x4d, 0x63, 0x18, 0xf7, 0xb4, 0xa8, 0x7c]);
        assert_eq!(sector(0x5a, 0)[..4], [0x5a, 0x17, 0x39, 0x42]);
        assert_eq!(byte(0x00, 7, 511), 0xa3);
        assert_eq!(byte(0x00, 1 << 40, 3), 0x9b);
    }

    #[test]
    fn other_patterns_differ_in_every_byte() {
        for (a, b) in [(0x00, 0x01), (0x5a, 0xa5), (0xff, 0x7f)] {
            for s in [0, 1, 63, 1 << 33] {
                assert_eq!(differing(&sector(a, s), &sector(b, s)), SECTOR_SIZE, "patterns {a:#x}/{b:#x}, sector {s}");
            }
        }
    }

    #[test]
    fn a_sector_in_the_wrong_place_shows() {
        // A sector written `d` sectors away (from either of two starting points) differs in nearly every byte:
        // chance alone leaves about 2 of 512 equal.
        for base in [0, 1_000_003] {
            let here = sector(0x3c, base);
            for d in 1..=4096 {
                let n = differing(&here, &sector(0x3c, base + d));
                assert!(n >= 490, "sector {base} vs {}: only {n} bytes differ", base + d);
            }
        }
    }

    #[test]
    fn a_shifted_or_constant_sector_shows() {
        let data = sector(0x11, 9);
        for shift in 1..SECTOR_SIZE {
            assert!(differing(&data[shift..], &data[..SECTOR_SIZE - shift]) >= (SECTOR_SIZE - shift) * 9 / 10);
        }
        for fill in [0x00, 0xff, 0x11] {
            let n = check_sector(0x11, 9, &[fill; SECTOR_SIZE]).unwrap().bytes;
            assert!(n > SECTOR_SIZE * 9 / 10, "a sector of {fill:#x} differs in only {n} bytes");
        }
    }

    #[test]
    fn check_sector_reports_the_first_difference_and_the_count() {
        let mut data = sector(0xa0, 5);
        assert_eq!(check_sector(0xa0, 5, &data), None);
        let expected = data[17];
        data[17] ^= 0x40;
        data[300] ^= 0x01;
        assert_eq!(
            check_sector(0xa0, 5, &data),
            Some(SectorMismatch { offset: 17, read: expected ^ 0x40, expected, bytes: 2 })
        );
        assert!(check_sector(0xa0, 6, &sector(0xa0, 5)).is_some(), "the sector index counts");
    }

    #[test]
    fn fill_continues_across_sectors() {
        let mut two = vec![0; 2 * SECTOR_SIZE];
        fill(0x42, 10, &mut two);
        assert_eq!(two[..SECTOR_SIZE], sector(0x42, 10));
        assert_eq!(two[SECTOR_SIZE..], sector(0x42, 11));
    }

    #[test]
    fn default_pattern_comes_from_the_name() {
        // FNV-1a("") = 0x811c9dc5, and 0x81 ^ 0x1c ^ 0x9d = 0.
        assert_eq!(default_for(""), 0xc5);
        assert_eq!(default_for("native"), 0x3b, "what a guest on bare QEMU writes");
        let names = ["native", "disk0", "disk1", "linux", "rt0", "rt1"];
        let patterns: std::collections::BTreeSet<u8> = names.iter().map(|n| default_for(n)).collect();
        assert_eq!(patterns.len(), names.len(), "these names get distinct patterns");
    }
}
