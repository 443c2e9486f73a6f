//! The stage-2 geometry hv-static builds and the image builder sizes, and the one rule both follow for where a
//! mapping uses 2 MiB blocks and where 4 KiB pages: [`chunks`]. The builder counts tables from the chunks (one
//! level-1 root, a level-2 table per 1 GiB any chunk touches, a level-3 table per 2 MiB region a page chunk lies
//! in); hv-static fills its tables from the same chunks, so the pool the builder reserved is exactly what the
//! hypervisor uses (it says so at boot when not).
//!
//! Format: VMSAv8-64 / LPAE long descriptors (AArch64 EL2 and ARMv7 Hyp share it), 4 KiB granule, 39-bit IPA
//! space, lookup starting at level 1.

/// Bytes of a translation granule (and of a table).
pub const PAGE: u64 = 4096;
/// Bytes one level-2 entry maps as a block.
pub const BLOCK: u64 = 2 << 20;
/// Bytes one level-1 entry covers (one level-2 table's reach).
pub const REGION: u64 = 1 << 30;
/// Guest-physical address bits: one level-1 table of 512 entries of [`REGION`].
pub const IPA_BITS: u32 = 39;

/// A piece of a mapping inside one 2 MiB region: one block, or pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chunk {
    pub ipa: u64,
    pub pa: u64,
    pub size: u64,
    /// Mapped by one level-2 block entry (IPA and PA 2 MiB-aligned, the whole region); else by level-3 pages.
    pub block: bool,
}

/// `size` bytes at `ipa` -> `pa`, cut at every 2 MiB boundary of the IPA: a block wherever IPA and PA are both
/// 2 MiB-aligned and the mapping covers the whole region, pages elsewhere. Nothing for `size` 0; the caller checks
/// alignment to [`PAGE`] and the range (a chunk never crosses a region, so ends do not overflow when `ipa + size`
/// does not).
pub fn chunks(ipa: u64, pa: u64, size: u64) -> impl Iterator<Item = Chunk> {
    let end = ipa.saturating_add(size);
    let mut at = ipa;
    core::iter::from_fn(move || {
        if at >= end {
            return None;
        }
        let next = (at / BLOCK + 1).saturating_mul(BLOCK).min(end);
        let here = pa.wrapping_add(at - ipa);
        let block = at.is_multiple_of(BLOCK) && here.is_multiple_of(BLOCK) && next - at == BLOCK;
        let chunk = Chunk { ipa: at, pa: here, size: next - at, block };
        at = next;
        Some(chunk)
    })
}

/// One guest-physical to host-physical mapping of a partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mapping {
    pub ipa: u64,
    pub pa: u64,
    pub size: u64,
}

/// The 4 KiB tables `maps` need (an empty set still needs its level-1 root): the number the image builder reserves
/// for a partition and the number hv-static's table builder uses for the same mappings. Each region is counted
/// once, however many chunks lie in it, by looking back over the chunks before it: quadratic in chunks, which is
/// fine for the builder (a few hundred per partition) and needs no allocation.
pub fn count_tables(maps: &[Mapping]) -> usize {
    let all = || maps.iter().flat_map(|m| chunks(m.ipa, m.pa, m.size));
    let mut tables = 1;
    for (i, c) in all().enumerate() {
        if !all().take(i).any(|e| e.ipa / REGION == c.ipa / REGION) {
            tables += 1;
        }
        if !c.block && !all().take(i).any(|e| !e.block && e.ipa / BLOCK == c.ipa / BLOCK) {
            tables += 1;
        }
    }
    tables
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    #[test]
    fn aligned_memory_is_blocks() {
        let c: Vec<Chunk> = chunks(0x4000_0000, 0x4060_0000, 4 * MIB).collect();
        assert_eq!(c.len(), 2);
        assert!(c.iter().all(|c| c.block && c.size == BLOCK));
        assert_eq!((c[1].ipa, c[1].pa), (0x4020_0000, 0x4080_0000));
    }

    #[test]
    fn heads_tails_and_misaligned_pa_are_pages() {
        let c: Vec<Chunk> = chunks(0x4010_0000, 0x4070_0000, 4 * MIB).collect();
        let shape: Vec<(u64, bool)> = c.iter().map(|c| (c.size, c.block)).collect();
        assert_eq!(shape, [(MIB, false), (2 * MIB, true), (MIB, false)]);
        assert!(chunks(0x4000_0000, 0x4060_1000, 4 * MIB).all(|c| !c.block));
        assert_eq!(chunks(0, 0, 0).count(), 0);
    }

    #[test]
    fn chunks_tile_the_mapping() {
        for (ipa, pa, size) in [(0x1000, 0x5000, 0x7000), (0x3ff0_0000, 0x1000, 5 * MIB), (0, 0, 3 * BLOCK)] {
            let mut at = ipa;
            for c in chunks(ipa, pa, size) {
                assert_eq!(c.ipa, at);
                assert_eq!(c.pa, pa + (at - ipa));
                assert_eq!(c.ipa / BLOCK, (c.ipa + c.size - 1) / BLOCK, "one region per chunk");
                at += c.size;
            }
            assert_eq!(at, ipa + size);
        }
    }
}
