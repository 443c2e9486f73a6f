//! Property test of the memory layout: random configs (1 to 6 partitions of random sizes in 2 MiB steps, some with a
//! fixed host-physical address or another guest-physical base, random CPUs, kernels and ramdisks of random sizes)
//! are either refused with config errors or laid out so that
//!
//! - no two regions overlap: the boot loader's, the hypervisor's, its payload, the boot loader's device tree,
//!   every partition's RAM and the shared memory of RAM-backed disks and channels (some configs have them);
//! - every partition's RAM lies in board RAM, 2 MiB-aligned in both address spaces, at its fixed `pa` if it has one;
//! - every kernel (with its bss), ramdisk and device tree region lies inside its partition's RAM, without overlapping
//!   the others, at the same offset in both address spaces, copied from inside the payload.
//!
//! Configs go through the same steps as `image-builder check` (parse and validate, device trees, layout), with
//! kernel and ramdisk sizes given instead of read from files.

use std::path::{Path, PathBuf};

use image_builder::config::{check_source, Context};
use image_builder::guests::GuestCatalog;
use image_builder::image::ImageHeader;
use image_builder::layout::{Layout, Region};
use image_builder::pipeline::{device_trees, solve_layout, Checked, ImageSizes};
use image_builder::Error;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

const MIB: u64 = 1 << 20;
const RAM_BASE: u64 = 0x4000_0000;
const RAM_ALIGN: u64 = 2 * MIB;
const DTB_REGION: u64 = 2 * MIB;

#[derive(Clone, Debug)]
struct Part {
    /// RAM in 2 MiB units.
    size_units: u64,
    /// Fixed host-physical address, in 2 MiB units from the start of RAM.
    pa_units: Option<u64>,
    /// A guest-physical RAM base other than the default.
    high_ipa: bool,
    vcpus: usize,
    kernel_len: u64,
    text_offset: u64,
    /// Bytes of bss beyond the file, when the header says so (`None`: `image_size` 0).
    bss: Option<u64>,
    ramdisk_len: Option<u64>,
    bootargs_len: usize,
}

#[derive(Clone, Debug)]
struct Sys {
    /// Board RAM in MiB.
    ram_mib: u64,
    /// Physical CPUs, in the order partitions take them.
    cpu_order: Vec<u32>,
    parts: Vec<Part>,
    /// Channels between the first and the last partition, in 4 KiB units.
    channels: Vec<u64>,
    /// RAM-backed empty disks the first partition attaches, in 512-byte sectors.
    disks: Vec<u64>,
}

fn part() -> impl Strategy<Value = Part> {
    (
        (1u64..=96, prop_oneof![3 => Just(None), 1 => (0u64..1024).prop_map(Some)], prop::bool::weighted(0.2)),
        (1usize..=2, 4u64 << 10..8 * MIB, prop_oneof![Just(0u64), Just(0x8_0000)]),
        (
            prop_oneof![Just(None), (0u64..4 * MIB).prop_map(Some)],
            prop_oneof![3 => Just(None), 1 => (1u64..8 * MIB).prop_map(Some)],
            0usize..200,
        ),
    )
        .prop_map(
            |((size_units, pa_units, high_ipa), (vcpus, kernel_len, text_offset), (bss, ramdisk_len, bootargs_len))| {
                Part { size_units, pa_units, high_ipa, vcpus, kernel_len, text_offset, bss, ramdisk_len, bootargs_len }
            },
        )
}

fn sys() -> impl Strategy<Value = Sys> {
    (
        prop_oneof![Just(256u64), Just(512), Just(1024), Just(2048)],
        Just((0u32..8).collect::<Vec<u32>>()).prop_shuffle(),
        prop::collection::vec(part(), 1..=6),
        prop_oneof![2 => Just(vec![]), 1 => prop::collection::vec(1u64..8192, 1..=3)],
        prop_oneof![2 => Just(vec![]), 1 => prop::collection::vec(1u64..65536, 1..=2)],
    )
        .prop_map(|(ram_mib, cpu_order, parts, channels, disks)| Sys {
            ram_mib,
            cpu_order,
            parts,
            channels,
            disks,
        })
}

/// The config's text; partitions take CPUs in `cpu_order`, wrapping around (two vCPUs on one CPU is an error).
fn toml(s: &Sys) -> String {
    let mut cpus = s.cpu_order.iter().cycle();
    let vcpus: Vec<Vec<u32>> = s.parts.iter().map(|p| cpus.by_ref().take(p.vcpus).copied().collect()).collect();
    let mut pool: Vec<u32> = vcpus.iter().flatten().copied().collect();
    pool.sort_unstable();
    pool.dedup();
    let mut t = format!("[board]\nname = \"qemu-virt-aarch64\"\nram_size = \"{}MiB\"\n\n", s.ram_mib);
    t += &format!("[[pool]]\nname = \"rt\"\ncpus = {pool:?}\n");
    for (i, (p, v)) in s.parts.iter().zip(&vcpus).enumerate() {
        t += &format!("\n[[partition]]\nname = \"p{i}\"\npool = \"rt\"\nvcpus = {v:?}\nkernel = \"hello\"\n");
        let mut memory = format!("size = \"{}MiB\"", p.size_units * 2);
        if let Some(units) = p.pa_units {
            memory += &format!(", pa = {:#x}", RAM_BASE + units * RAM_ALIGN);
        }
        if p.high_ipa {
            memory += ", ipa = \"0x8000_0000\"";
        }
        t += &format!("memory = {{ {memory} }}\n");
        if p.ramdisk_len.is_some() {
            t += "ramdisk = \"initrd\"\n";
        }
        t += &format!("bootargs = \"{}\"\n", "x".repeat(p.bootargs_len));
        if i == 0 && !s.disks.is_empty() {
            let disks: Vec<String> = (0..s.disks.len()).map(|d| format!("{{ disk = \"d{d}\" }}")).collect();
            t += &format!("disks = [{}]\n", disks.join(", "));
        }
    }
    for (d, sectors) in s.disks.iter().enumerate() {
        t += &format!("\n[[disk]]\nname = \"d{d}\"\nsize = {}\n", sectors * 512);
    }
    let last = s.parts.len() - 1;
    let members = if last == 0 {
        "{ partition = \"p0\" }".to_owned()
    } else {
        format!("{{ partition = \"p0\" }}, {{ partition = \"p{last}\", access = \"r\" }}")
    };
    for (c, units) in s.channels.iter().enumerate() {
        t += &format!("\n[[channel]]\nname = \"c{c}\"\nsize = {}\npartitions = [{members}]\n", units * 4096);
    }
    t
}

fn sizes(s: &Sys) -> Vec<ImageSizes> {
    s.parts
        .iter()
        .map(|p| ImageSizes {
            kernel_len: p.kernel_len,
            header: ImageHeader { text_offset: p.text_offset, image_size: p.bss.map_or(0, |b| p.kernel_len + b) },
            ramdisk_len: p.ramdisk_len,
        })
        .collect()
}

enum Outcome {
    Refused,
    Laid(Box<Layout>),
}

/// `check`'s steps on a generated config. Anything but a layout or config errors fails the property.
fn lay_out(s: &Sys, dir: &Path) -> Result<Outcome, TestCaseError> {
    let src = toml(s);
    let guests = GuestCatalog::with_names(["hello"]);
    let ctx = Context { guests: &guests, base_dir: dir };
    let (system, report) = match check_source("prop.toml", &src, "prop", &ctx) {
        Ok(ok) => ok,
        Err(r) => {
            prop_assert!(r.has_errors(), "refused without an error:\n{src}");
            return Ok(Outcome::Refused);
        }
    };
    let checked = Checked { system, report, config_path: dir.join("prop.toml") };
    let sizes = sizes(s);
    let result = device_trees(&checked, &sizes).and_then(|dtbs| solve_layout(&checked, &sizes, &dtbs));
    match result {
        Ok(layout) => Ok(Outcome::Laid(Box::new(layout))),
        Err(Error::Config(r)) => {
            prop_assert!(r.has_errors(), "refused without an error:\n{src}");
            Ok(Outcome::Refused)
        }
        Err(e) => Err(TestCaseError::fail(format!("not a config error: {e}\n{src}"))),
    }
}

fn inside(inner: (u64, u64), outer: &Region) -> bool {
    inner.0 >= outer.base && inner.0.checked_add(inner.1).is_some_and(|end| end <= outer.end())
}

fn check_layout(s: &Sys, l: &Layout) -> Result<(), TestCaseError> {
    let ram = Region { base: RAM_BASE, size: s.ram_mib * MIB };
    prop_assert_eq!(l.ram, ram);
    let mut regions: Vec<(String, Region)> = vec![
        ("boot loader".into(), l.boot_loader),
        ("hypervisor".into(), l.hypervisor),
        ("payload".into(), l.payload),
        ("boot loader's device tree".into(), l.boot_dtb),
    ];
    regions.extend(l.partitions.iter().enumerate().map(|(i, p)| (format!("p{i} RAM"), p.ram)));
    // Shared memory of disks and channels: 4 KiB-aligned, large enough, clear of everything else.
    prop_assert_eq!(l.shared.len(), s.disks.len() + s.channels.len());
    let wanted = s.disks.iter().map(|n| n * 512).chain(s.channels.iter().map(|n| n * 4096));
    for (k, (sh, want)) in l.shared.iter().zip(wanted).enumerate() {
        prop_assert!(sh.region.base % 4096 == 0 && sh.region.size >= want, "shared {k}: {sh:?} for {want:#x}");
        regions.push((format!("shared {k}"), sh.region));
    }
    for (n, (a, ra)) in regions.iter().enumerate() {
        prop_assert!(inside((ra.base, ra.size), &ram), "{a} {ra:?} outside RAM {ram:?}");
        for (b, rb) in &regions[n + 1..] {
            prop_assert!(!ra.overlaps(rb), "{a} {ra:?} overlaps {b} {rb:?}");
        }
    }
    prop_assert_eq!(l.partitions.len(), s.parts.len());
    // Payload items: inside the payload, not overlapping each other.
    let mut items: Vec<(String, Region)> = Vec::new();
    for (i, (p, pl)) in s.parts.iter().zip(&l.partitions).enumerate() {
        prop_assert!(pl.ram.base % RAM_ALIGN == 0 && pl.ram.size % RAM_ALIGN == 0, "p{i} {:?}", pl.ram);
        prop_assert!(pl.ipa % RAM_ALIGN == 0, "p{i} IPA {:#x}", pl.ipa);
        prop_assert_eq!(pl.ram.size, p.size_units * RAM_ALIGN);
        if let Some(units) = p.pa_units {
            prop_assert_eq!(pl.ram.base, RAM_BASE + units * RAM_ALIGN, "p{} moved from its fixed pa", i);
        }
        let mut loads =
            vec![("kernel", pl.kernel, pl.kernel_footprint.max(pl.kernel.size)), ("dtb", pl.dtb, DTB_REGION)];
        prop_assert_eq!(pl.ramdisk.is_some(), p.ramdisk_len.is_some());
        loads.extend(pl.ramdisk.map(|r| ("ramdisk", r, r.size)));
        for (what, load, footprint) in &loads {
            prop_assert!(
                inside((load.dst_pa, *footprint), &pl.ram),
                "p{i} {what} {load:?} (+{footprint:#x}) outside {:?}",
                pl.ram
            );
            prop_assert_eq!(load.dst_pa - pl.ram.base, load.ipa - pl.ipa, "p{} {}: IPA and PA offsets differ", i, what);
            prop_assert!(inside((load.src_pa, load.size), &l.payload), "p{i} {what} source outside the payload");
            items.push((format!("p{i} {what}"), Region { base: load.src_pa, size: load.size }));
        }
        for (n, (a, la, fa)) in loads.iter().enumerate() {
            for (b, lb, fb) in &loads[n + 1..] {
                let (ra, rb) = (Region { base: la.dst_pa, size: *fa }, Region { base: lb.dst_pa, size: *fb });
                prop_assert!(!ra.overlaps(&rb), "p{i}: {a} {ra:?} overlaps {b} {rb:?}");
            }
        }
        prop_assert_eq!(pl.kernel.size, p.kernel_len);
        prop_assert_eq!(pl.dtb.dst_pa, pl.ram.end() - DTB_REGION);
    }
    for (n, (a, ra)) in items.iter().enumerate() {
        for (b, rb) in &items[n + 1..] {
            prop_assert!(!ra.overlaps(rb), "payload: {a} {ra:?} overlaps {b} {rb:?}");
        }
    }
    Ok(())
}

fn scratch() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("layout-properties");
    std::fs::create_dir_all(&dir).unwrap();
    // Configs name it; its contents do not matter (sizes are given).
    std::fs::write(dir.join("initrd"), b"070701").unwrap();
    dir
}

#[test]
fn random_configs_are_refused_or_laid_out_without_overlaps() {
    let dir = scratch();
    let mut runner = TestRunner::new(Config { cases: 512, failure_persistence: None, ..Config::default() });
    let laid = std::cell::Cell::new(0u32);
    let refused = std::cell::Cell::new(0u32);
    let with_fixed = std::cell::Cell::new(0u32);
    let with_shared = std::cell::Cell::new(0u32);
    let result = runner.run(&sys(), |s| {
        match lay_out(&s, &dir)? {
            Outcome::Refused => refused.set(refused.get() + 1),
            Outcome::Laid(l) => {
                check_layout(&s, &l)?;
                laid.set(laid.get() + 1);
                if s.parts.iter().any(|p| p.pa_units.is_some()) {
                    with_fixed.set(with_fixed.get() + 1);
                }
                if !l.shared.is_empty() {
                    with_shared.set(with_shared.get() + 1);
                }
            }
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    // The property is only worth something if many configs get through, fixed addresses included.
    let (laid, refused, with_fixed) = (laid.get(), refused.get(), with_fixed.get());
    eprintln!("{laid} laid out ({with_fixed} with a fixed pa), {refused} refused");
    assert!(laid >= 64, "only {laid} of {} random configs were laid out", laid + refused);
    assert!(with_fixed >= 8, "only {with_fixed} laid-out configs had a fixed pa");
    let with_shared = with_shared.get();
    assert!(with_shared >= 8, "only {with_shared} laid-out configs had disks or channels");
}

/// The generator itself: a config it writes for sensible values is accepted and laid out as the demo would be.
#[test]
fn the_generator_writes_valid_configs() {
    let s = Sys {
        ram_mib: 1024,
        cpu_order: (0..8).collect(),
        parts: vec![
            Part {
                size_units: 32,
                pa_units: None,
                high_ipa: false,
                vcpus: 1,
                kernel_len: 0x1234,
                text_offset: 0x8_0000,
                bss: None,
                ramdisk_len: None,
                bootargs_len: 0,
            };
            2
        ],
        channels: vec![],
        disks: vec![],
    };
    let dir = scratch();
    let Ok(Outcome::Laid(l)) = lay_out(&s, &dir) else { panic!("refused:\n{}", toml(&s)) };
    check_layout(&s, &l).unwrap();
    assert_eq!(l.partitions[0].ram.base, 0x4060_0000);
}
