//! Shared-memory channels (docs/guest-abi.md, "hv-static vendor calls" and the `channel@` nodes): memory the
//! image builder reserved outside every partition's RAM, zeroed once at boot and mapped by `partition::build_all`
//! into each member's stage 2 (read-only for `access = "r"`), and a doorbell per member that the others ring with
//! `HV_CHANNEL_SIGNAL`.
//!
//! Ringing is a virtual SPI made pending in each other member's virtual GIC (`vgic::inject`), which gets it to the
//! target vCPU on whatever CPU it runs, or keeps it pending until its next window in a cyclic pool. Rings coalesce
//! as an edge interrupt's do: while a doorbell is pending, more rings leave it one pending interrupt. The table
//! lookups are pure and tested on the host; the rest needs the hardware.

use crate::config::{ChannelMapping, PartitionConfig};

/// A member's doorbell to raise: its partition, the channel's index in that partition's own order (which picks its
/// GPIO doorbell line) and the doorbell's INTID.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Doorbell {
    pub part: usize,
    pub index: usize,
    pub intid: u32,
}

/// Every channel's members, grouped by channel (in partition order within each), so that a ring walks only its
/// own channel's members rather than every partition's every channel (issue 15: the doorbell path). Built at
/// compile time from the config by [`Members::of`]; `M` is the number of members over all channels, `C1` the
/// number of channels plus one.
#[derive(Clone, Copy, Debug)]
pub struct Members<const M: usize, const C1: usize> {
    all: [Doorbell; M],
    /// Channel `c`'s members are `all[start[c]..start[c + 1]]`.
    start: [usize; C1],
}

impl<const M: usize, const C1: usize> Members<M, C1> {
    /// The members of `partitions`' channels `0..C1 - 1`. A member of a channel past those is left out, and the
    /// table stops filling at `M` members: the image builder numbers channels from 0 and `M` counts them all.
    pub const fn of(partitions: &[PartitionConfig]) -> Self {
        let mut out = Members { all: [Doorbell { part: 0, index: 0, intid: 0 }; M], start: [0; C1] };
        let (mut c, mut k) = (0, 0);
        while c + 1 < C1 {
            let mut part = 0;
            while part < partitions.len() {
                let channels = partitions[part].channels;
                let mut index = 0;
                while index < channels.len() {
                    if channels[index].channel == c && k < M {
                        out.all[k] = Doorbell { part, index, intid: channels[index].doorbell };
                        k += 1;
                    }
                    index += 1;
                }
                part += 1;
            }
            out.start[c + 1] = k;
            c += 1;
        }
        out
    }

    /// The doorbells to raise when partition `me` of `partitions` (those the table was built from) rings its
    /// `index`-th channel (its device-tree order): every other member's. `None` when it has no such channel.
    pub fn doorbells(
        &'static self,
        partitions: &'static [PartitionConfig],
        me: usize,
        index: usize,
    ) -> Option<impl Iterator<Item = Doorbell>> {
        let c = partitions.get(me)?.channels.get(index)?.channel;
        let members = self.all.get(*self.start.get(c)?..*self.start.get(c + 1)?)?;
        Some(members.iter().filter(move |d| d.part != me).copied())
    }
}

/// The channel `p` maps read-only at `ipa`, if any: what a stage-2 write fault there was.
pub fn read_only_at(p: &PartitionConfig, ipa: u64) -> Option<&ChannelMapping> {
    p.channels.iter().find(|m| !m.writable && ipa >= m.ipa && ipa - m.ipa < m.size)
}

#[cfg(target_os = "none")]
pub use self::hw::*;

#[cfg(target_os = "none")]
mod hw {
    use crate::config::SYSTEM;
    use crate::core::partition::{self, RunState};
    use crate::core::vcpu::VcpuRef;
    use crate::{arch, vdev::gpio, vdev::vgic};

    /// Members over all channels.
    const NUM_MEMBERS: usize = {
        let (mut n, mut p) = (0, 0);
        while p < SYSTEM.partitions.len() {
            n += SYSTEM.partitions[p].channels.len();
            p += 1;
        }
        n
    };

    static MEMBERS: super::Members<NUM_MEMBERS, { SYSTEM.channels.len() + 1 }> = super::Members::of(SYSTEM.partitions);

    /// Zeroes every channel's memory. Boot CPU, before any partition starts; a partition that restarts later
    /// finds the channel as the other members left it.
    pub fn init() {
        for c in SYSTEM.channels {
            // SAFETY: the image builder reserved `[pa, pa + size)` for this channel alone, inside board RAM the
            // hypervisor maps, outside its own image and every partition's RAM; no partition runs yet, so nothing
            // else accesses it.
            unsafe { core::ptr::write_bytes(c.pa as usize as *mut u8, 0, c.size as usize) };
            // Partitions start with their caches off: the zeroes must be in memory, not only in the cache.
            arch::cpu::clean_dcache(c.pa, c.size);
        }
    }

    /// `HV_CHANNEL_SIGNAL` from `me`, or a rising edge on one of its ring lines: raises the doorbell of every
    /// other running member of its `index`-th channel, both its interrupt and its GPIO doorbell line. Returns
    /// false when the partition has no such channel.
    pub fn signal(me: VcpuRef, index: usize) -> bool {
        let Some(targets) = MEMBERS.doorbells(SYSTEM.partitions, me.part, index) else {
            return false;
        };
        // The caller's writes to the channel before the call reach memory before any doorbell is seen.
        arch::cpu::dsb();
        for d in targets {
            // A stopped member's virtual GIC is reset when it starts again: a ring now would be stale.
            if partition::run_state(d.part) == RunState::Running {
                vgic::inject(VcpuRef { part: d.part, idx: 0 }, d.intid, 0);
                gpio::doorbell(d.part, d.index);
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{FaultPolicy, MemRegion, VirtualDevices};

    const fn member(channel: usize, ipa: u64, writable: bool, doorbell: u32) -> ChannelMapping {
        ChannelMapping { channel, ipa, size: 0x1_0000, writable, doorbell }
    }

    const fn partition(name: &'static str, channels: &'static [ChannelMapping]) -> PartitionConfig {
        PartitionConfig {
            name,
            id: 0,
            vcpus: &[],
            memory: &[MemRegion { ipa: 0x4000_0000, pa: 0x4000_0000, size: 0x10_0000 }],
            devices: &[],
            spis: &[],
            loads: &[],
            entry: 0,
            dtb: 0,
            vdev: VirtualDevices {
                gicd: 0,
                gicr: 0,
                gicc: 0,
                uart: None,
                uart_irq: 33,
                watchdog: None,
                watchdog_irq: 0,
                gpio: None,
                gpio_irq: 0,
            },
            s2_tables: 0,
            fault_policy: FaultPolicy::Stop,
            wfi_trap: false,
            virtio: &[],
            channels,
            manages: &[],
        }
    }

    /// Channel 0 between a (rw) and b (r); channel 1 between a (r), b (rw) and c (rw); c also has channel 2 alone.
    static PARTS: [PartitionConfig; 3] = [
        partition("a", &[member(0, 0x1000_0000, true, 48), member(1, 0x1001_0000, false, 49)]),
        partition("b", &[member(0, 0x1000_0000, false, 50), member(1, 0x1002_0000, true, 51)]),
        partition("c", &[member(2, 0x1000_0000, true, 48), member(1, 0x1001_0000, true, 60)]),
    ];

    /// The six members of PARTS' three channels.
    static MEMBERS: Members<6, 4> = Members::of(&PARTS);

    fn rung(me: usize, index: usize) -> Option<Vec<(usize, u32)>> {
        MEMBERS.doorbells(&PARTS, me, index).map(|d| d.map(|d| (d.part, d.intid)).collect())
    }

    #[test]
    fn each_target_s_own_index_picks_its_gpio_line() {
        let lines: Vec<(usize, usize)> = MEMBERS.doorbells(&PARTS, 0, 1).unwrap().map(|d| (d.part, d.index)).collect();
        assert_eq!(lines, [(1, 1), (2, 1)]);
        let lines: Vec<(usize, usize)> = MEMBERS.doorbells(&PARTS, 2, 1).unwrap().map(|d| (d.part, d.index)).collect();
        assert_eq!(lines, [(0, 1), (1, 1)]);
    }

    #[test]
    fn the_table_groups_every_member_by_channel_in_partition_order() {
        let all: Vec<(usize, usize, u32)> = MEMBERS.all.iter().map(|d| (d.part, d.index, d.intid)).collect();
        assert_eq!(all, [(0, 0, 48), (1, 0, 50), (0, 1, 49), (1, 1, 51), (2, 1, 60), (2, 0, 48)]);
        assert_eq!(MEMBERS.start, [0, 2, 5, 6]);
    }

    #[test]
    fn a_table_too_small_fills_what_it_can_and_rings_no_stranger() {
        static SHORT: Members<3, 4> = Members::of(&PARTS);
        assert_eq!(SHORT.start, [0, 2, 3, 3]);
        let rung: Vec<usize> = SHORT.doorbells(&PARTS, 1, 1).unwrap().map(|d| d.part).collect();
        assert_eq!(rung, [0], "channel 1 kept only its first member, a");
        assert_eq!(SHORT.doorbells(&PARTS, 2, 0).unwrap().count(), 0, "channel 2 kept none");
    }

    #[test]
    fn ringing_raises_every_other_member_s_doorbell_only() {
        assert_eq!(rung(0, 0), Some(vec![(1, 50)]));
        assert_eq!(rung(1, 0), Some(vec![(0, 48)]), "a read-only member may ring");
        assert_eq!(rung(0, 1), Some(vec![(1, 51), (2, 60)]));
        assert_eq!(rung(2, 1), Some(vec![(0, 49), (1, 51)]), "the index is the caller's own order");
        assert_eq!(rung(2, 0), Some(vec![]), "alone on its channel: nobody to ring, still a valid call");
    }

    #[test]
    fn an_index_past_the_caller_s_channels_is_refused() {
        assert_eq!(rung(0, 2), None);
        assert_eq!(rung(2, usize::MAX), None);
        assert_eq!(rung(3, 0), None);
    }

    proptest::proptest! {
        /// Whatever the caller passes (any partition, any index): a ring reaches only the other members of one of
        /// the caller's own channels, never the caller, never a partition outside that channel.
        #[test]
        fn a_ring_reaches_only_the_other_members_of_the_caller_s_channel(me in 0usize..5, index in proptest::prelude::any::<usize>()) {
            let Some(targets) = rung(me, index) else {
                proptest::prop_assert!(PARTS.get(me).is_none_or(|p| index >= p.channels.len()));
                return Ok(());
            };
            let channel = PARTS[me].channels[index].channel;
            for (part, intid) in targets {
                proptest::prop_assert_ne!(part, me);
                proptest::prop_assert!(PARTS[part].channels.iter().any(|m| m.channel == channel && m.doorbell == intid));
            }
        }

        /// `read_only_at` is total: any IPA, no overflow at the top of the address space.
        #[test]
        fn read_only_lookup_is_total(part in 0usize..3, ipa in proptest::prelude::any::<u64>()) {
            if let Some(m) = read_only_at(&PARTS[part], ipa) {
                proptest::prop_assert!(!m.writable && ipa >= m.ipa && ipa - m.ipa < m.size);
            }
        }
    }

    #[test]
    fn writes_fault_only_in_read_only_channels() {
        assert_eq!(read_only_at(&PARTS[0], 0x1001_0000).map(|m| m.channel), Some(1));
        assert_eq!(read_only_at(&PARTS[0], 0x1001_fffc).map(|m| m.channel), Some(1));
        assert!(read_only_at(&PARTS[0], 0x1002_0000).is_none(), "past its end");
        assert!(read_only_at(&PARTS[0], 0x1000_0000).is_none(), "a writes channel 0");
        assert_eq!(read_only_at(&PARTS[1], 0x1000_0010).map(|m| m.channel), Some(0));
    }
}
