//! The shared-memory channels in the generated configuration: the system's table of channels (`ChannelConfig`:
//! where each one's memory is) and, per partition, the channels it maps (`ChannelMapping`), in the order its
//! device tree lists them, which is the index `HV_CHANNEL_SIGNAL` takes.

use bumpalo::Bump;
use hv_plan::plan::{self, ChannelConfig};

use crate::config::System;
use crate::layout::{Layout, Shared};
use crate::s2::Mapping;

/// One channel as a member partition maps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelMapping {
    /// Index into `System::channels`.
    pub channel: usize,
    pub ipa: u64,
    /// Host-physical base of the channel's memory.
    pub pa: u64,
    pub size: u64,
    pub writable: bool,
    /// The doorbell's INTID.
    pub doorbell: u32,
}

impl ChannelMapping {
    pub fn stage2(&self) -> Mapping {
        Mapping { ipa: self.ipa, pa: self.pa, size: self.size }
    }
}

/// Host-physical base of channel `c`'s memory.
fn channel_pa(layout: &Layout, c: usize) -> u64 {
    layout
        .shared
        .iter()
        .find(|s| s.what == Shared::Channel(c))
        .map(|s| s.region.base)
        .expect("the layout places every channel's memory")
}

/// The channels partition `index` maps, in config order (its device tree's order).
pub fn channel_maps(system: &System, layout: &Layout, index: usize) -> Vec<ChannelMapping> {
    let placed = layout.guests.get(index).map_or(&[][..], |g| g.channels.as_slice());
    system
        .channels_of(index)
        .iter()
        .zip(placed)
        .map(|(&(channel, access), m)| ChannelMapping {
            channel,
            ipa: m.ipa,
            pa: channel_pa(layout, channel),
            size: m.size,
            writable: access.writable(),
            doorbell: m.doorbell,
        })
        .collect()
}

/// The channels of `SystemConfig::channels`, in config order.
pub fn system_channels<'a>(arena: &'a Bump, system: &System, layout: &Layout) -> Vec<ChannelConfig<'a>> {
    system
        .channels
        .iter()
        .enumerate()
        .map(|(c, ch)| ChannelConfig { name: arena.alloc_str(&ch.name), pa: channel_pa(layout, c), size: ch.size })
        .collect()
}

/// Partition `index`'s channel mappings as hv-static holds them.
pub fn partition_channels(system: &System, layout: &Layout, index: usize) -> Vec<plan::ChannelMapping> {
    channel_maps(system, layout, index)
        .iter()
        .map(|m| plan::ChannelMapping {
            channel: m.channel,
            ipa: m.ipa,
            size: m.size,
            writable: m.writable,
            doorbell: m.doorbell,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::{self, Context};
    use crate::guests::GuestCatalog;
    use crate::hvconfig;
    use crate::image::{self, testelf};
    use crate::pipeline::{device_trees, solve_layout, Checked, ImageSizes, KernelImage};

    /// Three partitions: `a` and `b` share `ping` (a writes, b reads) and `pong` (b writes, a reads); `c` is in
    /// neither but maps `solo` alone; `ring` has all three.
    const SRC: &str = r#"
[board]
name = "qemu-virt-aarch64"

[[pool]]
name = "rt"
cpus = [0, 1, 2]

[[channel]]
name = "ping"
size = "64KiB"
partitions = [{ partition = "a", access = "rw" }, { partition = "b", access = "r" }]

[[channel]]
name = "pong"
size = "4KiB"
partitions = [{ partition = "b" }, { partition = "a", access = "r" }]

[[channel]]
name = "solo"
size = "8KiB"
partitions = [{ partition = "c" }]

[[channel]]
name = "ring"
size = "2MiB"
partitions = [{ partition = "c", access = "r" }, { partition = "a" }, { partition = "b" }]

[[partition]]
name = "a"
pool = "rt"
vcpus = [0]
memory = { size = "16MiB" }
kernel = "hello"

[[partition]]
name = "b"
pool = "rt"
vcpus = [1]
memory = { size = "16MiB" }
kernel = "hello"

[[partition]]
name = "c"
pool = "rt"
vcpus = [2]
memory = { size = "16MiB" }
kernel = "hello"
"#;

    struct Prepared {
        system: System,
        layout: Layout,
    }

    fn kernel() -> KernelImage {
        let mut bytes = testelf::image(0x8_0000, 0, &[0x5a; 0x1000]);
        bytes[63] = 0x11;
        KernelImage { header: image::header(&bytes).unwrap(), bytes, from: "test".into() }
    }

    fn prepared(src: &str) -> Prepared {
        let guests = GuestCatalog::with_names(["hello"]);
        let ctx = Context { guests: &guests, base_dir: Path::new("/") };
        let (system, report) = config::check_source("chan.toml", src, "chan", &ctx).unwrap_or_else(|r| panic!("{r}"));
        let checked = Checked { system, report, config_path: "/chan.toml".into() };
        let sizes = ImageSizes::of(&[kernel(), kernel(), kernel()], &[None, None, None]);
        let dtbs = device_trees(&checked, &sizes).unwrap_or_else(|e| panic!("{e}"));
        let layout = solve_layout(&checked, &sizes, &dtbs).unwrap_or_else(|e| panic!("{e}"));
        Prepared { system: checked.system, layout }
    }

    #[test]
    fn each_member_maps_the_same_memory_with_its_own_access_and_doorbell() {
        let p = prepared(SRC);
        let (s, l) = (&p.system, &p.layout);
        let a = channel_maps(s, l, 0);
        let b = channel_maps(s, l, 1);
        let c = channel_maps(s, l, 2);
        // Config order: a maps ping, pong, ring; b the same; c solo, ring.
        assert_eq!(a.iter().map(|m| m.channel).collect::<Vec<_>>(), [0, 1, 3]);
        assert_eq!(b.iter().map(|m| m.channel).collect::<Vec<_>>(), [0, 1, 3]);
        assert_eq!(c.iter().map(|m| m.channel).collect::<Vec<_>>(), [2, 3]);
        assert_eq!(a.iter().map(|m| m.writable).collect::<Vec<_>>(), [true, false, true]);
        assert_eq!(b.iter().map(|m| m.writable).collect::<Vec<_>>(), [false, true, true]);
        assert_eq!(c.iter().map(|m| m.writable).collect::<Vec<_>>(), [true, false]);
        // One memory per channel, whoever maps it; IPAs and doorbells are the layout's (the device trees').
        assert_eq!(a[0].pa, b[0].pa);
        assert_eq!(a[2].pa, c[1].pa);
        assert_ne!(a[0].pa, a[1].pa);
        for (i, maps) in [&a, &b, &c].into_iter().enumerate() {
            for (m, g) in maps.iter().zip(&l.guests[i].channels) {
                assert_eq!((m.ipa, m.size, m.doorbell), (g.ipa, g.size, g.doorbell));
            }
        }
        for m in a.iter().chain(&b).chain(&c) {
            let shared = l.shared.iter().find(|sh| sh.what == Shared::Channel(m.channel)).unwrap();
            assert_eq!((m.pa, m.size), (shared.region.base, s.channels[m.channel].size));
        }
    }

    #[test]
    fn the_plan_lists_channels_and_each_partition_s_mappings() {
        let p = prepared(SRC);
        let (s, l) = (&p.system, &p.layout);
        let arena = Bump::new();
        let plan = hvconfig::plan(&arena, s, l, 1);
        let pa = |ch: usize| l.shared.iter().find(|sh| sh.what == Shared::Channel(ch)).unwrap().region.base;
        assert_eq!(
            plan.channels,
            [
                ChannelConfig { name: "ping", pa: pa(0), size: 0x1_0000 },
                ChannelConfig { name: "pong", pa: pa(1), size: 0x1000 },
                ChannelConfig { name: "solo", pa: pa(2), size: 0x2000 },
                ChannelConfig { name: "ring", pa: pa(3), size: 0x20_0000 },
            ]
        );
        let mapping =
            |channel, ipa, size, writable, doorbell| plan::ChannelMapping { channel, ipa, size, writable, doorbell };
        assert_eq!(
            plan.partitions[0].channels[..2],
            [mapping(0, 0x1000_0000, 0x1_0000, true, 48), mapping(1, 0x1001_0000, 0x1000, false, 49)]
        );
        assert_eq!(plan.partitions[2].channels[0], mapping(2, 0x1000_0000, 0x2000, true, 48));
        // Baked, the mappings read as they are.
        let c = hvconfig::generate(s, l, "chan.toml", 1).config_rs;
        let a = &c[c.find("name: \"a\"").unwrap()..c.find("name: \"b\"").unwrap()];
        assert!(
            a.contains("ChannelMapping { channel: 1, ipa: 0x1001_0000, size: 0x1000, writable: false, doorbell: 49 },"),
            "{a}"
        );
        assert!(c.contains("ChannelConfig { name: \"ping\", pa: "), "{c}");
        // Deterministic: the same inputs give the same text.
        assert_eq!(c, hvconfig::generate(s, l, "chan.toml", 1).config_rs);
    }

    #[test]
    fn stage2_counts_include_the_channels() {
        let p = prepared(SRC);
        let (s, l) = (&p.system, &p.layout);
        let without = prepared(&strip_channels(SRC));
        for i in 0..3 {
            let mut maps = vec![Mapping {
                ipa: l.partitions[i].ipa,
                pa: l.partitions[i].ram.base,
                size: l.partitions[i].ram.size,
            }];
            maps.extend(hvconfig::device_maps(s, i).iter().map(|d| Mapping { ipa: d.ipa, pa: d.pa, size: d.size }));
            maps.extend(channel_maps(s, l, i).iter().map(ChannelMapping::stage2));
            assert_eq!(hvconfig::s2_tables(s, l, i), crate::s2::count_tables(&maps), "partition {i}");
            // The channels sit in the GiB below RAM: one more level-2 table and level-3 tables for the 4 KiB ones.
            assert!(
                hvconfig::s2_tables(s, l, i) > hvconfig::s2_tables(&without.system, &without.layout, i),
                "partition {i}"
            );
        }
        let arena = Bump::new();
        let total: usize = (0..3).map(|i| hvconfig::s2_tables(s, l, i)).sum();
        assert_eq!(hvconfig::plan(&arena, s, l, 1).s2_tables(), total);
    }

    #[test]
    fn the_generated_tables_compile_against_hv_static_types() {
        let dir = std::env::temp_dir().join(format!("ib-hvconfig-chan-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = prepared(SRC);
        let config_rs = hvconfig::generate(&p.system, &p.layout, "chan.toml", 1).config_rs;
        let (out, ran) = hvconfig::compile_with_hv_static_types(&dir, &config_rs, "hvconfig_chan");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let arena = Bump::new();
        let plan = hvconfig::plan(&arena, &p.system, &p.layout, 1);
        let printed = String::from_utf8(ran.unwrap().stdout).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(printed.lines().next(), Some(format!("{plan:?}").as_str()));
    }

    /// The same system without its `[[channel]]` tables.
    fn strip_channels(src: &str) -> String {
        let mut out = String::new();
        let mut skipping = false;
        for line in src.lines() {
            if line.starts_with('[') {
                skipping = line == "[[channel]]";
            }
            if !skipping {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }

    #[test]
    fn no_channels_no_entries() {
        let p = prepared(&strip_channels(SRC));
        let arena = Bump::new();
        let plan = hvconfig::plan(&arena, &p.system, &p.layout, 1);
        assert!(plan.channels.is_empty());
        assert!(plan.partitions.iter().all(|p| p.channels.is_empty()));
    }
}
