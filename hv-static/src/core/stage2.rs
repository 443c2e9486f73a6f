//! Stage-2 translation tables: guest-physical (IPA) to host-physical, in the VMSAv8-64 / LPAE long-descriptor
//! format that AArch64 EL2 and ARMv7 Hyp share.
//!
//! Tables come from a fixed pool sized by the image builder, which counts them from the same cut of each mapping
//! into blocks and pages (`hv_plan::stage2::chunks`: one level-1 root, a level-2 table per GiB touched, a level-3
//! table per 2 MiB mapped with pages), so running out is a builder bug reported as an error, never an allocation.
//! Mappings use 2 MiB blocks wherever IPA, PA and size allow.

pub use hv_plan::stage2::IPA_BITS;
use hv_plan::stage2::{chunks, BLOCK as BLOCK_L2, PAGE, REGION as SPAN_L1};

pub use crate::hwstate::Table;
use crate::hwstate::ENTRIES;

const VALID: u64 = 1 << 0;
const TABLE_OR_PAGE: u64 = 1 << 1;
const AF: u64 = 1 << 10;
const SH_INNER: u64 = 0b11 << 8;
const S2AP_RW: u64 = 0b11 << 6;
const S2AP_RO: u64 = 0b01 << 6;
#[cfg(test)]
const S2AP_MASK: u64 = 0b11 << 6;
const MEMATTR_NORMAL_WB: u64 = 0b1111 << 2;
const MEMATTR_DEVICE_NGNRE: u64 = 0b0001 << 2;
const XN: u64 = 1 << 54;
const ADDR_MASK: u64 = 0x0000_FFFF_FFFF_F000;

/// What a mapping allows and how memory behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attr {
    /// Normal write-back cacheable memory, read-write.
    Ram,
    /// Device-nGnRE, read-write, never executable.
    Device,
    /// Normal write-back cacheable memory shared between partitions (a channel), never executable; read-only
    /// unless `writable`, so that a write is a stage-2 permission fault.
    Shared { writable: bool },
}

impl Attr {
    fn bits(self) -> u64 {
        AF | match self {
            Attr::Ram => SH_INNER | S2AP_RW | MEMATTR_NORMAL_WB,
            Attr::Device => S2AP_RW | MEMATTR_DEVICE_NGNRE | XN,
            Attr::Shared { writable } => SH_INNER | if writable { S2AP_RW } else { S2AP_RO } | MEMATTR_NORMAL_WB | XN,
        }
    }

    #[cfg(test)]
    fn from_bits(d: u64) -> Self {
        if d & (0b1111 << 2) == MEMATTR_DEVICE_NGNRE {
            Attr::Device
        } else if d & XN != 0 {
            Attr::Shared { writable: d & S2AP_MASK == S2AP_RW }
        } else {
            Attr::Ram
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// Address or size not a multiple of 4 KiB.
    Misaligned { ipa: u64, pa: u64, size: u64 },
    /// Beyond the 39-bit guest-physical space.
    OutOfRange { ipa: u64 },
    /// The IPA is already mapped.
    Overlap { ipa: u64 },
    /// The table pool the builder sized is exhausted.
    OutOfTables,
}

#[cfg(test)]
/// Converts between a table's address as the MMU sees it and a pointer. The hypervisor maps RAM 1:1, so both are
/// the same number; host tests use ordinary pointers the same way.
fn table_at(addr: u64) -> *mut Table {
    addr as usize as *mut Table
}

pub struct Stage2<'a> {
    tables: &'a mut [Table],
    used: usize,
}

impl<'a> Stage2<'a> {
    /// Starts an empty address space in `tables` (the first becomes the level-1 root).
    pub fn new(tables: &'a mut [Table]) -> Result<Self, Error> {
        if tables.is_empty() {
            return Err(Error::OutOfTables);
        }
        tables[0] = Table::EMPTY;
        Ok(Self { tables, used: 1 })
    }

    /// Address of the root table, for VTTBR.
    pub fn root(&self) -> u64 {
        &self.tables[0] as *const Table as u64
    }

    pub fn tables_used(&self) -> usize {
        self.used
    }

    pub fn map(&mut self, ipa: u64, pa: u64, size: u64, attr: Attr) -> Result<(), Error> {
        if !ipa.is_multiple_of(PAGE) || !pa.is_multiple_of(PAGE) || !size.is_multiple_of(PAGE) {
            return Err(Error::Misaligned { ipa, pa, size });
        }
        if ipa.checked_add(size).is_none_or(|end| end > 1 << IPA_BITS) {
            return Err(Error::OutOfRange { ipa });
        }
        for c in chunks(ipa, pa, size) {
            let l2 = self.next_table(0, ((c.ipa / SPAN_L1) as usize) % ENTRIES)?;
            let l2_idx = ((c.ipa / BLOCK_L2) as usize) % ENTRIES;
            if c.block {
                let slot = &mut self.table_mut(l2).0[l2_idx];
                if *slot & VALID != 0 {
                    return Err(Error::Overlap { ipa: c.ipa });
                }
                *slot = (c.pa & ADDR_MASK) | attr.bits() | VALID;
                continue;
            }
            let l3 = self.next_table_in(l2, l2_idx, c.ipa)?;
            for off in (0..c.size).step_by(PAGE as usize) {
                let (ipa, pa) = (c.ipa + off, c.pa + off);
                let slot = &mut self.table_mut(l3).0[((ipa / PAGE) as usize) % ENTRIES];
                if *slot & VALID != 0 {
                    return Err(Error::Overlap { ipa });
                }
                *slot = (pa & ADDR_MASK) | attr.bits() | TABLE_OR_PAGE | VALID;
            }
        }
        Ok(())
    }

    /// Walks the tables like the MMU does: the host-physical address and attributes for `ipa`, if mapped.
    #[cfg(test)]
    pub fn translate(&self, ipa: u64) -> Option<(u64, Attr)> {
        walk(self.root(), ipa)
    }

    fn table_mut(&mut self, idx: usize) -> &mut Table {
        &mut self.tables[idx]
    }

    /// The level-2 table under root entry `l1_idx`, allocated when absent.
    fn next_table(&mut self, parent: usize, idx: usize) -> Result<usize, Error> {
        let d = self.tables[parent].0[idx];
        if d & VALID != 0 {
            return self.index_of(d & ADDR_MASK).ok_or(Error::Overlap { ipa: 0 });
        }
        self.alloc(parent, idx)
    }

    /// The level-3 table under level-2 entry `idx`; a 2 MiB block already there is an overlap.
    fn next_table_in(&mut self, l2: usize, idx: usize, ipa: u64) -> Result<usize, Error> {
        let d = self.tables[l2].0[idx];
        if d & VALID != 0 {
            if d & TABLE_OR_PAGE == 0 {
                return Err(Error::Overlap { ipa });
            }
            return self.index_of(d & ADDR_MASK).ok_or(Error::Overlap { ipa });
        }
        self.alloc(l2, idx)
    }

    fn alloc(&mut self, parent: usize, idx: usize) -> Result<usize, Error> {
        if self.used == self.tables.len() {
            return Err(Error::OutOfTables);
        }
        let new = self.used;
        self.used += 1;
        self.tables[new] = Table::EMPTY;
        let addr = &self.tables[new] as *const Table as u64;
        self.tables[parent].0[idx] = addr | TABLE_OR_PAGE | VALID;
        Ok(new)
    }

    fn index_of(&self, addr: u64) -> Option<usize> {
        let base = self.tables.as_ptr() as u64;
        let off = addr.checked_sub(base)?;
        let idx = (off / PAGE) as usize;
        (idx < self.used).then_some(idx)
    }
}

/// Translates `ipa` through the tables rooted at `root`.
#[cfg(test)]
pub fn walk(root: u64, ipa: u64) -> Option<(u64, Attr)> {
    if ipa >= 1 << IPA_BITS {
        return None;
    }
    // SAFETY: `root` and every table address reachable from it were written by `Stage2`, which only stores the
    // addresses of tables in its pool; the pool lives as long as the address space.
    let l1 = unsafe { &*table_at(root) };
    let d1 = l1.0[((ipa / SPAN_L1) as usize) % ENTRIES];
    if d1 & VALID == 0 || d1 & TABLE_OR_PAGE == 0 {
        return None;
    }
    // SAFETY: as above.
    let l2 = unsafe { &*table_at(d1 & ADDR_MASK) };
    let d2 = l2.0[((ipa / BLOCK_L2) as usize) % ENTRIES];
    if d2 & VALID == 0 {
        return None;
    }
    if d2 & TABLE_OR_PAGE == 0 {
        return Some(((d2 & ADDR_MASK & !(BLOCK_L2 - 1)) + ipa % BLOCK_L2, Attr::from_bits(d2)));
    }
    // SAFETY: as above.
    let l3 = unsafe { &*table_at(d2 & ADDR_MASK) };
    let d3 = l3.0[((ipa / PAGE) as usize) % ENTRIES];
    if d3 & VALID == 0 {
        return None;
    }
    Some(((d3 & ADDR_MASK) + ipa % PAGE, Attr::from_bits(d3)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(n: usize) -> Vec<Table> {
        vec![Table::EMPTY; n]
    }

    #[test]
    fn aligned_ram_uses_blocks_only() {
        let mut t = pool(4);
        let mut s2 = Stage2::new(&mut t).unwrap();
        s2.map(0x4000_0000, 0x4060_0000, 64 << 20, Attr::Ram).unwrap();
        assert_eq!(s2.tables_used(), 2, "root + one level-2 table, no level-3");
        assert_eq!(s2.translate(0x4000_0000), Some((0x4060_0000, Attr::Ram)));
        assert_eq!(s2.translate(0x43ff_fffc), Some((0x445f_fffc, Attr::Ram)));
        assert_eq!(s2.translate(0x4400_0000), None);
        assert_eq!(s2.translate(0x3fff_ffff), None);
    }

    #[test]
    fn unaligned_pa_falls_back_to_pages() {
        let mut t = pool(4);
        let mut s2 = Stage2::new(&mut t).unwrap();
        s2.map(0x4000_0000, 0x4010_0000, 2 << 20, Attr::Ram).unwrap();
        assert_eq!(s2.tables_used(), 3);
        assert_eq!(s2.translate(0x401f_f008), Some((0x402f_f008, Attr::Ram)));
    }

    #[test]
    fn devices_and_ram_in_different_gib() {
        let mut t = pool(6);
        let mut s2 = Stage2::new(&mut t).unwrap();
        s2.map(0x0801_0000, 0x0804_0000, 0x2000, Attr::Device).unwrap();
        s2.map(0x4000_0000, 0x4060_0000, 4 << 20, Attr::Ram).unwrap();
        assert_eq!(s2.tables_used(), 4, "root, two level-2, one level-3");
        assert_eq!(s2.translate(0x0801_1004), Some((0x0804_1004, Attr::Device)));
        assert_eq!(s2.translate(0x0801_2000), None, "exactly the two pages");
        assert_eq!(s2.translate(0x0800_0000), None, "emulated GICD stays unmapped so it traps");
    }

    #[test]
    fn overlap_and_exhaustion_are_errors() {
        let mut t = pool(2);
        let mut s2 = Stage2::new(&mut t).unwrap();
        s2.map(0x4000_0000, 0x4000_0000, 2 << 20, Attr::Ram).unwrap();
        assert_eq!(s2.map(0x4000_0000, 0x5000_0000, 2 << 20, Attr::Ram), Err(Error::Overlap { ipa: 0x4000_0000 }));
        assert_eq!(s2.map(0x4000_1000, 0x5000_0000, 0x1000, Attr::Ram), Err(Error::Overlap { ipa: 0x4000_1000 }));
        assert_eq!(s2.map(0x8000_0000, 0x5000_0000, 2 << 20, Attr::Ram), Err(Error::OutOfTables));
        assert!(matches!(s2.map(0x123, 0, 0x1000, Attr::Ram), Err(Error::Misaligned { .. })));
        assert!(matches!(s2.map(1 << 39, 0, 0x1000, Attr::Ram), Err(Error::OutOfRange { .. })));
    }

    #[test]
    fn shared_memory_is_never_executable_and_read_only_unless_writable() {
        let mut t = pool(4);
        let mut s2 = Stage2::new(&mut t).unwrap();
        s2.map(0x1000_0000, 0x4060_0000, 0x1_0000, Attr::Shared { writable: false }).unwrap();
        s2.map(0x1001_0000, 0x4060_0000, 0x1000, Attr::Shared { writable: true }).unwrap();
        assert_eq!(s2.translate(0x1000_fff8), Some((0x4060_fff8, Attr::Shared { writable: false })));
        assert_eq!(s2.translate(0x1001_0008), Some((0x4060_0008, Attr::Shared { writable: true })));
        assert_eq!(s2.translate(0x1001_1000), None);
        // Level 3 (4 KiB pages): root, one level 2, one level 3.
        let l3 = t[2].0[0];
        assert_eq!(l3 & S2AP_MASK, S2AP_RO, "S2AP = read-only");
        assert_ne!(l3 & XN, 0);
        assert_eq!(l3 & (0b1111 << 2), MEMATTR_NORMAL_WB, "normal memory, like the partitions' RAM");
        assert_eq!(l3 & SH_INNER, SH_INNER);
        assert_eq!(t[2].0[16] & S2AP_MASK, S2AP_RW);
    }

    #[test]
    fn block_descriptor_bits() {
        let mut t = pool(3);
        let mut s2 = Stage2::new(&mut t).unwrap();
        s2.map(0x1000_0000, 0x1000_0000, 2 << 20, Attr::Ram).unwrap();
        assert_eq!(s2.translate(0x1000_0010), Some((0x1000_0010, Attr::Ram)));
        let l2 = t[1].0[0x1000_0000 / (2 << 20)];
        assert_eq!(l2 & 0b11, 0b01, "block descriptor");
        assert_ne!(l2 & AF, 0, "access flag set so no fault on first touch");
    }

    mod counted {
        use super::*;
        use hv_plan::stage2::{count_tables, Mapping};
        use proptest::prelude::*;

        /// Up to five mappings of up to 8 MiB in pages, each in its own 16 MiB slot of the IPA space (so they never
        /// overlap), some sharing a GiB and some a 2 MiB region, with PAs aligned or not to 2 MiB.
        fn mappings() -> impl Strategy<Value = Vec<Mapping>> {
            proptest::collection::btree_map(0u64..256, (0u64..4096, 1u64..=2048, 0u64..4096, any::<bool>()), 0..5)
                .prop_map(|slots| {
                    slots
                        .into_iter()
                        .map(|(slot, (page, pages, pa_page, aligned))| {
                            let ipa = slot * (16 << 20) + (page % 2048) * PAGE;
                            let pa = 0x4_0000_0000
                                + slot * (16 << 20)
                                + if aligned { page % 2048 * PAGE } else { pa_page * PAGE };
                            Mapping { ipa, pa, size: pages * PAGE }
                        })
                        .collect()
                })
        }

        proptest! {
            /// The tables hv-static fills are exactly the ones the builder counts with hv-plan's rule for the same
            /// mappings: the pool it reserves is never short, and never larger than needed.
            #[test]
            fn the_builder_counts_what_the_tables_use(maps in mappings()) {
                let need = count_tables(&maps);
                let mut t = pool(need + 4);
                let mut s2 = Stage2::new(&mut t).unwrap();
                for m in &maps {
                    s2.map(m.ipa, m.pa, m.size, Attr::Ram).unwrap();
                }
                prop_assert_eq!(s2.tables_used(), need);
                for m in &maps {
                    prop_assert_eq!(s2.translate(m.ipa + m.size - 4).map(|t| t.0), Some(m.pa + m.size - 4));
                }
            }
        }
    }
}
