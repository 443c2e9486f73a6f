//! How many 4 KiB stage-2 translation tables a partition's mappings need, so hv-static can reserve exactly that
//! many (no heap, capacities exact).
//!
//! The stage-2 format and the block rule are `hv_plan::stage2`'s, which the hypervisor's table builder follows
//! too: one level-1 table; a level-2 table for every 1 GiB region any mapping touches; and a level-3 table for
//! every 2 MiB region a mapping covers with pages (`hv_plan::stage2::chunks`: where its IPA and PA are not both
//! 2 MiB-aligned, or where it starts or ends inside the region).

pub use hv_plan::stage2::{count_tables, Mapping};

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    fn m(ipa: u64, pa: u64, size: u64) -> Mapping {
        Mapping { ipa, pa, size }
    }

    #[test]
    fn nothing_mapped_needs_the_root_only() {
        assert_eq!(count_tables(&[]), 1);
        assert_eq!(count_tables(&[m(0x4000_0000, 0x4000_0000, 0)]), 1);
    }

    #[test]
    fn aligned_ram_uses_blocks() {
        // 64 MiB at IPA 1 GiB: L1 + one L2.
        assert_eq!(count_tables(&[m(0x4000_0000, 0x4060_0000, 64 * MIB)]), 2);
    }

    #[test]
    fn crossing_a_gigabyte_needs_two_l2() {
        assert_eq!(count_tables(&[m(0x7f00_0000, 0x4060_0000, 32 * MIB)]), 3);
        // A full 2 GiB at 1 GiB: L1 + 2 L2.
        assert_eq!(count_tables(&[m(0x4000_0000, 0x8000_0000, 2048 * MIB)]), 3);
    }

    #[test]
    fn misaligned_pa_needs_l3_everywhere() {
        // IPA aligned, PA 4 KiB-aligned only: every 2 MiB region needs a level-3 table.
        assert_eq!(count_tables(&[m(0x4000_0000, 0x4060_1000, 8 * MIB)]), 2 + 4);
    }

    #[test]
    fn tails_and_heads_need_l3() {
        // 5 MiB: two blocks, then a 1 MiB tail.
        assert_eq!(count_tables(&[m(0x4000_0000, 0x4060_0000, 5 * MIB)]), 2 + 1);
        // Starts 1 MiB into a region: head region, then blocks, then nothing left over.
        assert_eq!(count_tables(&[m(0x4010_0000, 0x4070_0000, 5 * MIB)]), 2 + 1);
        // Starts and ends mid-region.
        assert_eq!(count_tables(&[m(0x4010_0000, 0x4070_0000, 4 * MIB)]), 2 + 2);
    }

    #[test]
    fn gicv2_cpu_interface_page() {
        // 8 KiB GICV at IPA 0x0801_0000 plus 64 MiB RAM: L1, L2 for [0, 1G), L2 for [1G, 2G), L3 for 0x0800_0000.
        let maps = [m(0x4000_0000, 0x4060_0000, 64 * MIB), m(0x0801_0000, 0x0804_0000, 0x2000)];
        assert_eq!(count_tables(&maps), 4);
    }

    #[test]
    fn passthrough_pages_next_to_ram() {
        // 64 MiB RAM at 1 GiB plus QEMU virt's PL031 and PL061 pages (IPA = PA), both in the 2 MiB region at
        // 0x0900_0000: L1, L2 for [0, 1G), L2 for [1G, 2G), one L3.
        let maps = [
            m(0x4000_0000, 0x4060_0000, 64 * MIB),
            m(0x0901_0000, 0x0901_0000, 0x1000),
            m(0x0903_0000, 0x0903_0000, 0x1000),
        ];
        assert_eq!(count_tables(&maps), 4);
    }

    #[test]
    fn shared_regions_are_counted_once() {
        let maps = [m(0x0900_0000, 0x0900_0000, 0x1000), m(0x0900_1000, 0x0900_1000, 0x1000)];
        assert_eq!(count_tables(&maps), 3);
    }
}
