use std::path::Path;

use super::*;
use crate::files::same_contents;
use crate::image::{self, testelf};
use crate::layout;
use crate::units::{align_up, MIB};
use bumpalo::Bump;
use hv_plan::plan::{
    CpuSchedule, DeviceRegion, GicConfig, HostNetConfig, Load, MemRegion, NetworkConfig, PhysCpu, Slot, VcpuConfig,
    VirtualDevices,
};
use hv_plan::system::{FaultPolicy, GicVersion, LogLevel};

const DEMO: &str = r#"
[board]
name = "qemu-virt-aarch64"

[[pool]]
name = "rt"
cpus = [1, 2]

[[partition]]
name = "hello0"
pool = "rt"
vcpus = [2]
memory = { size = "64MiB" }
kernel = "hello"

[[partition]]
name = "smp"
pool = "rt"
vcpus = [1, 2]
memory = { size = "32MiB", ipa = "0x80000000" }
kernel = "hello"
console = false
"#;

/// The pinned demo: two vCPUs may not share CPU 2 there, so `smp` moves to CPUs 1 and 3.
fn demo(gic: u32) -> Checked {
    checked(&demo_src(gic))
}

fn demo_src(gic: u32) -> String {
    DEMO.replace("vcpus = [1, 2]", "vcpus = [1, 3]")
        .replace("cpus = [1, 2]", "cpus = [1, 2, 3]")
        .replace("name = \"qemu-virt-aarch64\"", &format!("name = \"qemu-virt-aarch64\"\ngic_version = {gic}"))
}

/// The demo with the RTC and the GPIO controller passed through to `hello0`.
fn passthrough_src(gic: u32) -> String {
    demo_src(gic).replacen(
        "kernel = \"hello\"\n",
        "kernel = \"hello\"\npassthrough = [\"/pl061@9030000\", \"/pl031@9010000\"]\n",
        1,
    )
}

fn checked(src: &str) -> Checked {
    let guests = GuestCatalog::with_names(["hello"]);
    let ctx = Context { guests: &guests, base_dir: Path::new("/") };
    let (system, report) = config::check_source("demo.toml", src, "demo", &ctx).unwrap_or_else(|r| panic!("{r}"));
    Checked { system, report, config_path: "/demo.toml".into() }
}

fn kernel(len: usize) -> KernelImage {
    let mut bytes = testelf::image(0x8_0000, 0, &vec![0x5a; len - 64]);
    bytes[63] = 0x11;
    KernelImage { header: image::header(&bytes).unwrap(), bytes, from: "test".into() }
}

fn prepared(gic: u32) -> Prepared {
    prepared_from(demo(gic))
}

fn prepared_from(checked: Checked) -> Prepared {
    prepared_with(checked, vec![kernel(0x1234), kernel(0x800)], vec![None, None])
}

fn prepared_with(checked: Checked, kernels: Vec<KernelImage>, ramdisks: Vec<Option<Vec<u8>>>) -> Prepared {
    let sizes = ImageSizes::of(&kernels, &ramdisks);
    let dtbs = device_trees(&checked, &sizes).unwrap();
    let layout = solve_layout(&checked, &sizes, &dtbs).unwrap();
    let disk_images = load_disk_images(&checked).unwrap();
    Prepared { checked, kernels, ramdisks, dtbs, disk_images, layout }
}

#[test]
fn payload_places_kernels_and_device_trees() {
    let p = prepared(3);
    let bytes = payload(&p.layout, p.parts());
    assert_eq!(bytes.len() as u64, p.layout.payload.size);
    for (i, pl) in p.layout.partitions.iter().enumerate() {
        let k = (pl.kernel.src_pa - p.layout.payload.base) as usize;
        assert_eq!(&bytes[k..k + p.kernels[i].bytes.len()], &p.kernels[i].bytes[..]);
        let d = (pl.dtb.src_pa - p.layout.payload.base) as usize;
        assert_eq!(&bytes[d..d + p.dtbs[i].len()], &p.dtbs[i][..]);
        assert_eq!(pl.kernel.src_pa % 4096, 0);
        assert_eq!(pl.dtb.src_pa % 4096, 0);
    }
}

/// The files a boot loader puts in place are exactly the bytes hv-static would copy, at the addresses it would copy
/// them to, and the token vouches for bytes and places: any change to either changes it.
#[test]
fn preload_files_are_the_copies_and_the_token_covers_them() {
    let p = prepared(3);
    let bytes = payload(&p.layout, p.parts());
    let dir = std::env::temp_dir().join(format!("hv-preload-test-{}", std::process::id()));
    let names: Vec<&str> = p.checked.system.partitions.iter().map(|q| q.name.as_str()).collect();
    let pre = crate::preload::write(&dir, &p.layout, &bytes, &names).unwrap();
    let mut expected = Vec::new();
    for (i, pl) in p.layout.partitions.iter().enumerate() {
        expected.push((format!("{}.kernel", names[i]), pl.kernel.dst_pa, p.kernels[i].bytes.clone()));
        expected.push((format!("{}.dtb", names[i]), pl.dtb.dst_pa, p.dtbs[i].clone()));
    }
    assert_eq!(pre.files.len(), expected.len());
    for (name, pa, want) in &expected {
        let f = pre.files.iter().find(|f| f.path.ends_with(name)).unwrap_or_else(|| panic!("{name} missing"));
        assert_eq!(f.pa, *pa, "{name}");
        let got = std::fs::read(&f.path).unwrap();
        assert_eq!(&got[..want.len()], &want[..], "{name}");
        assert!(got[want.len()..].iter().all(|&b| b == 0), "{name}: only the payload's padding follows");
    }
    let _ = std::fs::remove_dir_all(&dir);

    let token = crate::preload::token(&p.layout, &bytes);
    assert_ne!(token, 0);
    assert_eq!(token, crate::preload::token(&p.layout, &bytes.clone()), "deterministic");
    let dtb = (p.layout.partitions[1].dtb.src_pa - p.layout.payload.base) as usize;
    let mut changed = bytes.clone();
    changed[dtb + 100] ^= 1;
    assert_ne!(crate::preload::token(&p.layout, &changed), token, "a byte of a device tree");
    let mut moved = p.layout.clone();
    moved.partitions[0].kernel.dst_pa += 0x1000;
    assert_ne!(crate::preload::token(&moved, &bytes), token, "a destination");

    let args = pre.qemu_args();
    assert_eq!(args.iter().filter(|a| *a == "-device").count(), expected.len());
    let first = &pre.files[0];
    assert!(args.contains(&format!("loader,file={},addr={:#x},force-raw=on", first.path.display(), first.pa)));
    assert_eq!(args[args.len() - 2..], ["-append".to_string(), format!("hv-static.preloaded={token:#x}")]);
}

const ARM64: HvHeader = HvHeader::Arm64Image { text_offset: 0x20_0000 };

fn hv_elf(len: usize, end: u64) -> Vec<u8> {
    let img = testelf::image(0x20_0000, 0, &vec![0xc3; len - 64]);
    testelf::build(&[testelf::load(0x4020_0000, img)], &[("__hv_end", 0x4020_0000 + end)])
}

#[test]
fn pack_pads_patches_and_appends() {
    let p = prepared(3);
    let payload = payload(&p.layout, p.parts());
    let (img, stats) = pack(&hv_elf(0x3000, 0x8000), &p.layout, ARM64, p.parts()).unwrap();
    assert_eq!(stats, HvStats { image_len: 0x3000, end: 0x8000, budget: 2 * MIB });
    assert_eq!(img.len() as u64, p.layout.image_size());
    assert_eq!(img.len() % 4096, 0);
    let h = image::header(&img).unwrap();
    assert_eq!(h.text_offset, 0x20_0000);
    assert_eq!(h.image_size, img.len() as u64);
    assert!(img[64..0x3000].iter().all(|b| *b == 0xc3));
    assert!(img[0x3000..2 * MIB as usize].iter().all(|b| *b == 0));
    assert_eq!(&img[2 * MIB as usize..2 * MIB as usize + payload.len()], &payload[..]);
    // Same inputs, same bytes.
    assert_eq!(pack(&hv_elf(0x3000, 0x8000), &p.layout, ARM64, p.parts()).unwrap().0, img);
}

#[test]
fn pack_refuses_what_would_not_boot() {
    let p = prepared(3);
    let budget = 2 * MIB;
    let err =
        |elf: &[u8], text_offset| pack(elf, &p.layout, HvHeader::Arm64Image { text_offset }, p.parts()).unwrap_err();
    assert!(err(&hv_elf(0x3000, budget + 0x1000), 0x20_0000).contains("up to `__hv_end`"));
    assert!(err(&hv_elf(budget as usize + 0x1000, 0x1000), 0x20_0000).contains("over its"));
    assert!(err(&hv_elf(0x3000, 0x8000), 0x8_0000).contains("text_offset"));
    let no_magic = testelf::build(&[testelf::load(0x4020_0000, vec![1; 256])], &[("__hv_end", 0x4020_1000)]);
    assert!(err(&no_magic, 0x20_0000).contains("Image header"));
    let elsewhere = testelf::build(&[testelf::load(0x4000_0000, testelf::image(0x20_0000, 0, &[0; 64]))], &[]);
    assert!(err(&elsewhere, 0x20_0000).contains("linked to load at 0x4000_0000"));
    let no_end = testelf::build(&[testelf::load(0x4020_0000, testelf::image(0x20_0000, 0, &[0; 64]))], &[]);
    assert!(err(&no_end, 0x20_0000).contains("__hv_end"));
}

/// An ARMv7 hv-static: a zImage header, linked at 0x4020_0000.
fn hv_zimage_elf(len: usize, end: u64) -> Vec<u8> {
    let img = testelf::zimage(len as u32, &vec![0xc3; len - 0x34]);
    testelf::build(&[testelf::load(0x4020_0000, img)], &[("__hv_end", 0x4020_0000 + end)])
}

#[test]
fn pack_patches_a_zimage_s_end_field() {
    let p = prepared(3);
    let (img, stats) = pack(&hv_zimage_elf(0x3000, 0x8000), &p.layout, HvHeader::ZImage, p.parts()).unwrap();
    assert_eq!(stats, HvStats { image_len: 0x3000, end: 0x8000, budget: 2 * MIB });
    assert_eq!(img.len() as u64, p.layout.image_size());
    let h = image::zimage_header(&img).unwrap();
    // What hv-static moves to its link address: the whole image, payload included.
    assert_eq!(h.image_size, img.len() as u64);
    assert_eq!(image::zimage_start(&img), Some(0));
    assert_eq!(image::header(&img), None);
    assert_eq!(&img[2 * MIB as usize..2 * MIB as usize + 16], &payload(&p.layout, p.parts())[..16]);
    // The wrong header for the board either way.
    let e = pack(&hv_zimage_elf(0x3000, 0x8000), &p.layout, ARM64, p.parts()).unwrap_err();
    assert!(e.contains("arm64 Image header"), "{e}");
    let e = pack(&hv_elf(0x3000, 0x8000), &p.layout, HvHeader::ZImage, p.parts()).unwrap_err();
    assert!(e.contains("zImage header"), "{e}");
}

#[test]
fn generated_config_carries_each_cpu_s_cyclic_table() {
    // The demo as written (hello0 and smp's vCPU 1 share CPU 2), time-partitioned.
    let src = DEMO.replacen(
        "\ncpus = [1, 2]\n",
        "\ncpus = [1, 2]\nscheduler = \"cyclic\"\nmajor_frame = \"1ms\"\nwindows = [\n\
         { partition = \"smp\", start = \"0us\", duration = \"300us\" },\n\
         { partition = \"smp\", start = \"300us\", duration = \"200us\", cpus = [2] },\n\
         { partition = \"hello0\", start = \"600us\", duration = \"400us\" },\n]\n",
        1,
    );
    let p = prepared_from(checked(&src));
    let arena = Bump::new();
    let plan = hvconfig::plan(&arena, &p.checked.system, &p.layout, 1);
    let slot = |start_ns, end_ns, vcpu| Slot { start_ns, end_ns, vcpu };
    let cyclic = |slots| Some(CpuSchedule { major_frame_ns: 1_000_000, slots });
    // CPU 1 runs smp's vCPU 0 for 300 us, then idles. CPU 2: smp's vCPU 1 for 500 us (two windows merged into
    // one slot: no needless switch), idle, then hello0.
    assert_eq!(
        plan.cpus,
        [
            PhysCpu { mpidr: 0x1, schedule: cyclic(&[slot(0, 300_000, Some((1, 0))), slot(300_000, 1_000_000, None)]) },
            PhysCpu {
                mpidr: 0x2,
                schedule: cyclic(&[
                    slot(0, 500_000, Some((1, 1))),
                    slot(500_000, 600_000, None),
                    slot(600_000, 1_000_000, Some((0, 0))),
                ]),
            },
        ]
    );
    // Baked, a slot reads as it is.
    let c = hvconfig::generate(&p.checked.system, &p.layout, "configs/demo.toml", 1).config_rs;
    assert!(c.contains("Slot { start_ns: 0x7_a120, end_ns: 0x9_27c0, vcpu: None },"), "{c}");
}

#[test]
fn generated_config_gicv3() {
    let p = prepared(3);
    let hv = hvconfig::generate(&p.checked.system, &p.layout, "configs/demo.toml", 1);
    assert!(hv.config_rs.starts_with("// Generated by tools/image-builder from configs/demo.toml."));
    let arena = Bump::new();
    let plan = hvconfig::plan(&arena, &p.checked.system, &p.layout, 1);
    // hello0: L1 + L2(1 GiB); smp: L1 + L2(2 GiB region).
    assert_eq!((plan.cpus.len(), plan.partitions.len(), plan.max_vcpus(), plan.s2_tables()), (3, 2, 2, 4));
    assert_eq!(
        plan.gic,
        GicConfig {
            version: GicVersion::V3,
            gicd: 0x800_0000,
            gicr: 0x80a_0000,
            gicc: 0,
            gich: 0,
            gicv: 0,
            maintenance_irq: 25
        }
    );
    assert_eq!((plan.image_base, plan.image_size), (0x4020_0000, p.layout.image_size()));
    assert_eq!(
        plan.cpus.iter().map(|c| (c.mpidr, c.schedule.is_none())).collect::<Vec<_>>(),
        [(1, true), (2, true), (3, true)]
    );
    let (hello0, smp) = (&plan.partitions[0], &plan.partitions[1]);
    // hello0 on CPU 2 = index 1 of [1, 2, 3]; smp on CPUs 1 and 3 = indices 0 and 2.
    assert_eq!(hello0.vcpus, [VcpuConfig { pcpu: 1, mpidr: 0x8000_0000 }]);
    assert_eq!(smp.vcpus, [VcpuConfig { pcpu: 0, mpidr: 0x8000_0000 }, VcpuConfig { pcpu: 2, mpidr: 0x8000_0001 }]);
    assert_eq!(smp.memory, [MemRegion { ipa: 0x8000_0000, pa: 0x4460_0000, size: 0x200_0000 }]);
    assert_eq!((smp.entry, smp.dtb), (0x8008_0000, 0x81e0_0000));
    for (part, uart) in [(hello0, Some(0x900_0000)), (smp, None)] {
        assert!(part.devices.is_empty() && part.spis.is_empty());
        assert_eq!(
            part.vdev,
            VirtualDevices {
                gicd: 0x800_0000,
                gicr: 0x80a_0000,
                gicc: 0,
                uart,
                uart_irq: 33,
                watchdog: None,
                watchdog_irq: 0,
                gpio: None,
                gpio_irq: 0
            }
        );
        assert_eq!(part.fault_policy, FaultPolicy::Stop);
    }
    let k = p.layout.partitions[0].kernel;
    assert_eq!(hello0.loads[0], Load { src_pa: k.src_pa, dst_pa: k.dst_pa, size: 0x1234 });
    assert_eq!(hv.memory_ld, "HV_BASE = 0x40200000;\nHV_BUDGET = 0x200000;\n");
}

#[test]
fn generated_config_gicv2_maps_the_virtual_cpu_interface() {
    let p = prepared(2);
    let arena = Bump::new();
    let plan = hvconfig::plan(&arena, &p.checked.system, &p.layout, 1);
    assert_eq!(plan.gic, QEMU_VIRT_GICV2);
    for part in plan.partitions {
        assert_eq!(part.devices, [DeviceRegion { ipa: 0x801_0000, pa: 0x804_0000, size: 0x2000 }]);
        assert_eq!((part.vdev.gicr, part.vdev.gicc), (0, 0x801_0000));
        // Each partition: L1 + L2 for its RAM + L2 and L3 for the GICV page.
        assert_eq!(part.s2_tables, 4);
    }
    assert_eq!(plan.s2_tables(), 8);
}

/// QEMU virt's GICv2 frames, as the plan hands them to hv-static.
const QEMU_VIRT_GICV2: GicConfig = GicConfig {
    version: GicVersion::V2,
    gicd: 0x800_0000,
    gicr: 0,
    gicc: 0x801_0000,
    gich: 0x803_0000,
    gicv: 0x804_0000,
    maintenance_irq: 25,
};

/// The demo on the ARMv7 board: `hello0` on CPU 0, `hello1` on CPU 1.
const A15_DEMO: &str = r#"
[board]
name = "qemu-virt-a15"

[[pool]]
name = "rt"
cpus = [0, 1]

[[partition]]
name = "hello0"
pool = "rt"
vcpus = [0]
memory = { size = "64MiB" }
kernel = "hello"

[[partition]]
name = "hello1"
pool = "rt"
vcpus = [1]
memory = { size = "64MiB" }
kernel = "hello"
"#;

/// A zImage of `len` bytes whose header's end field asks for `end` (bss included).
fn zkernel(len: usize, end: u32) -> KernelImage {
    let bytes = testelf::zimage(end, &vec![0x5a; len - 0x34]);
    KernelImage { header: image::zimage_header(&bytes).unwrap(), bytes, from: "test".into() }
}

#[test]
fn an_armv7_system_boots_zimages_on_a_gicv2() {
    let p = prepared_with(checked(A15_DEMO), vec![zkernel(0x1234, 0x2_1000), zkernel(0x3000, 0x100)], vec![None, None]);
    let (l0, l1) = (&p.layout.partitions[0], &p.layout.partitions[1]);
    // A zImage goes 32 KiB into RAM and occupies its end field's worth of bytes, or its file when that is larger.
    assert_eq!((l0.kernel.ipa, l0.kernel.dst_pa - l0.ram.base), (0x4000_8000, 0x8000));
    assert_eq!((l0.kernel.size, l0.kernel_footprint), (0x1234, 0x2_1000));
    assert_eq!((l1.kernel.size, l1.kernel_footprint), (0x3000, 0x3000));
    // QEMU's device tree for a raw 32-bit image: 128 MiB into RAM.
    assert_eq!(p.layout.boot_dtb.base, 0x4800_0000);
    // The partitions' trees name the CPU and the ARMv7 timer.
    let has =
        |blob: &[u8], s: &str| blob.windows(s.len() + 1).any(|w| w[..s.len()] == *s.as_bytes() && w[s.len()] == 0);
    for dtb in &p.dtbs {
        assert!(has(dtb, "arm,cortex-a15") && has(dtb, "arm,armv7-timer") && has(dtb, "arm,cortex-a15-gic"));
        assert!(!has(dtb, "arm,armv8") && !has(dtb, "arm,armv8-timer"));
    }
    let hv = hvconfig::generate(&p.checked.system, &p.layout, "configs/qemu-a15-demo.toml", 1);
    let arena = Bump::new();
    let plan = hvconfig::plan(&arena, &p.checked.system, &p.layout, 1);
    assert_eq!(plan.board, "qemu-virt-a15");
    assert_eq!(plan.gic, QEMU_VIRT_GICV2);
    assert_eq!(plan.image_base, 0x4020_0000);
    let hello0 = &plan.partitions[0];
    assert_eq!((hello0.entry, hello0.dtb), (0x4000_8000, 0x43e0_0000));
    assert_eq!(hello0.devices, [DeviceRegion { ipa: 0x801_0000, pa: 0x804_0000, size: 0x2000 }]);
    assert_eq!(
        hello0.vdev,
        VirtualDevices {
            gicd: 0x800_0000,
            gicr: 0,
            gicc: 0x801_0000,
            uart: Some(0x900_0000),
            uart_irq: 33,
            watchdog: None,
            watchdog_irq: 0,
            gpio: None,
            gpio_irq: 0
        }
    );
    assert_eq!(hv.memory_ld, "HV_BASE = 0x40200000;\nHV_BUDGET = 0x200000;\n");
    assert_eq!(HvHeader::for_board(p.checked.system.board), HvHeader::ZImage);
    assert_eq!(
        HvHeader::for_board(&board_support::qemu_virt_aarch64::BOARD),
        HvHeader::Arm64Image { text_offset: 0x20_0000 }
    );
}

#[test]
fn an_armv7_image_over_qemu_s_device_tree_is_refused_on_the_board() {
    let c = checked(&A15_DEMO.replacen("size = \"64MiB\"", "size = \"256MiB\"", 1));
    let kernels = vec![zkernel(130 * MIB as usize, 0), zkernel(0x1000, 0)];
    let sizes = ImageSizes::of(&kernels, &[None, None]);
    let dtbs = device_trees(&c, &sizes).unwrap();
    let Err(Error::Config(r)) = solve_layout(&c, &sizes, &dtbs) else { panic!("laid out") };
    let e: Vec<_> = r.errors().collect();
    assert_eq!(e.len(), 1, "{r}");
    assert_eq!(e[0].field, "board.name");
    assert!(e[0].message.starts_with("the boot image is too large"), "{r}");
    assert!(e[0].hint.as_deref().unwrap().contains("the image may take 126 MiB at most"), "{r}");
}

#[test]
fn generated_config_compiles_against_hv_static_types() {
    let dir = std::env::temp_dir().join(format!("ib-hvconfig-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // The last: a watchdog in `hello0`, which `smp` manages.
    let managed = demo_src(3).replacen("kernel = \"hello\"\n", "kernel = \"hello\"\nwatchdog = true\n", 1)
        + "manages = [\"hello0\"]\n";
    let systems = [(2, false), (3, false), (2, true), (3, true)].map(|(gic, passthrough)| {
        if passthrough {
            prepared_from(checked(&passthrough_src(gic)))
        } else {
            prepared(gic)
        }
    });
    for (n, p) in systems.into_iter().chain([prepared_from(checked(&managed))]).enumerate() {
        let gic = p.checked.system.gic.number();
        let hv = hvconfig::generate(&p.checked.system, &p.layout, "demo.toml", 1);
        let (out, ran) = hvconfig::compile_with_hv_static_types(&dir, &hv.config_rs, &format!("hvconfig_check{n}"));
        assert!(
            out.status.success(),
            "GICv{gic} config does not compile:\n{}\n{}",
            String::from_utf8_lossy(&out.stderr),
            hv.config_rs
        );
        // Compiled in, the baked text is the very plan the builder made, and hv-static's capacities follow it.
        let arena = Bump::new();
        let plan = hvconfig::plan(&arena, &p.checked.system, &p.layout, 1);
        let printed = String::from_utf8(ran.unwrap().stdout).unwrap();
        let capacities = [
            plan.cpus.len(),
            plan.partitions.len(),
            plan.max_vcpus(),
            plan.total_vcpus(),
            plan.s2_tables(),
            plan.virtio_devices(),
            plan.net_ports.len(),
            plan.networks.len(),
        ];
        assert_eq!(printed, format!("{plan:?}\n{capacities:?}\n"), "GICv{gic}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn layout_errors_point_at_the_config() {
    let checked = demo(3);
    let big = ImageSizes::of(&[kernel(63 * MIB as usize), kernel(0x800)], &[None, None]);
    let dtbs = device_trees(&checked, &big).unwrap();
    let Err(Error::Config(r)) = solve_layout(&checked, &big, &dtbs) else { panic!("a 63 MiB kernel fits 64 MiB?") };
    let e: Vec<_> = r.errors().collect();
    // hello0's 64 MiB minus the 2 MiB device tree region cannot hold 0x8_0000 + 63 MiB.
    assert!(
        e.iter().any(|d| d.field == "partition[0].memory.size" && d.message.contains("does not fit its RAM")),
        "{r}"
    );
    assert!(r.render().contains("demo.toml:14:19"), "{r}");
}

#[test]
fn layout_text_lists_every_region() {
    let p = prepared(2);
    let t = report::layout_text(&p, Some(&HvStats { image_len: 0x3000, end: 0x8000, budget: 2 * MIB }));
    for s in [
        "system demo (demo.toml)",
        "GICv2",
        "cpus   1, 2, 3 of 8 (QEMU -smp 4)",
        "0x4000_0000..0x4020_0000",
        "hypervisor: image 12 KiB, 32 KiB with bss, budget 2 MiB",
        "hello0 kernel",
        "smp device tree",
        "partition hello0 RAM",
        "free",
        "vcpus        vCPU 0 -> CPU 1, vCPU 1 -> CPU 3",
        "device       IPA 0x801_0000 -> PA 0x804_0000 (8 KiB)",
        "console off",
    ] {
        assert!(t.contains(s), "missing `{s}` in\n{t}");
    }
}

#[test]
fn passthrough_devices_are_mapped_routed_and_described() {
    for (gic, tables) in [(3, 4), (2, 5)] {
        let p = prepared_from(checked(&passthrough_src(gic)));
        let s = &p.checked.system;
        let arena = Bump::new();
        let plan = hvconfig::plan(&arena, s, &p.layout, 1);
        let (hello0, smp) = (&plan.partitions[0], &plan.partitions[1]);
        // Guest-physical = host-physical, in the list's order; the SPIs sorted whatever the order of the list.
        let gicv = &hello0.devices[..hello0.devices.len() - 2];
        assert_eq!(
            hello0.devices[gicv.len()..],
            [
                DeviceRegion { ipa: 0x903_0000, pa: 0x903_0000, size: 0x1000 },
                DeviceRegion { ipa: 0x901_0000, pa: 0x901_0000, size: 0x1000 },
            ]
        );
        assert_eq!(hello0.spis, [34, 39]);
        // hello0: L1, L2 for [0, 1 GiB), L2 for its RAM's GiB, one L3 for the 2 MiB region at 0x0900_0000 both
        // devices share, and on GICv2 one more L3 for the GICV page at 0x0801_0000.
        assert_eq!(hvconfig::s2_tables(s, &p.layout, 0), tables, "GICv{gic}");
        assert_eq!(hello0.s2_tables, tables);
        // smp has nothing passed through.
        assert!(smp.spis.is_empty());
        assert_eq!(smp.devices, gicv);

        // The device trees (dom0-less's tests parse the nodes): hello0 has both, smp neither.
        let has = |dtb: &[u8], s: &str| dtb.windows(s.len()).any(|w| w == s.as_bytes());
        for node in ["pl031@9010000\0", "pl061@9030000\0", "arm,pl031\0"] {
            assert!(has(&p.dtbs[0], node), "{node}");
            assert!(!has(&p.dtbs[1], node), "{node}");
        }

        let t = report::layout_text(&p, None);
        for line in [
            "passthrough  /pl061@9030000 (PL061 GPIO controller): MMIO 0x903_0000..0x903_1000, INTID 39",
            "passthrough  /pl031@9010000 (PL031 real-time clock): MMIO 0x901_0000..0x901_1000, INTID 34",
            "device       IPA 0x901_0000 -> PA 0x901_0000 (4 KiB)",
        ] {
            assert_eq!(t.matches(line).count(), 1, "`{line}` once in\n{t}");
        }
    }
}

const LINUX: &str = r#"
[board]
name = "qemu-virt-aarch64"

[[pool]]
name = "rt"
cpus = [0, 1, 2]

[[partition]]
name = "hello"
pool = "rt"
vcpus = [0]
memory = { size = "32MiB" }
kernel = "hello"

[[partition]]
name = "linux"
pool = "rt"
vcpus = [1, 2]
memory = { size = "256MiB" }
kernel = "hello"
ramdisk = "initramfs.cpio.gz"
bootargs = "console=ttyAMA0"
"#;

/// A kernel shaped like Debian's arm64 Image: 31.4 MiB of file, 32.06 MiB with bss, text_offset 0.
fn linux_kernel() -> KernelImage {
    let mut bytes = testelf::image(0, 0x201_0000, &[]);
    bytes.resize(0x1f6_e0c0, 0x4c);
    KernelImage { header: image::header(&bytes).unwrap(), bytes, from: "Image".into() }
}

fn be_u64(v: u64) -> [u8; 8] {
    v.to_be_bytes()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn linux_kernel_and_ramdisk_are_placed_described_and_packed() {
    let dir = std::env::temp_dir().join(format!("ib-linux-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ramdisk: Vec<u8> = (0..0x10_9828u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(dir.join("initramfs.cpio.gz"), &ramdisk).unwrap();
    let guests = GuestCatalog::with_names(["hello"]);
    let ctx = Context { guests: &guests, base_dir: &dir };
    let (system, report) = config::check_source("linux.toml", LINUX, "linux", &ctx).unwrap_or_else(|r| panic!("{r}"));
    assert_eq!(system.partitions[1].ramdisk.as_ref().unwrap().path, dir.join("initramfs.cpio.gz"));
    let checked = Checked { system, report, config_path: dir.join("linux.toml") };
    let p = prepared_with(checked, vec![kernel(0x1234), linux_kernel()], vec![None, Some(ramdisk.clone())]);
    let lx = p.layout.partitions[1];
    let rd = lx.ramdisk.unwrap();

    // The ramdisk starts at the first 2 MiB boundary after the kernel's bss, not after its file.
    assert_eq!(lx.kernel.ipa, 0x4000_0000);
    assert_eq!(lx.kernel_footprint, 0x201_0000);
    assert_eq!((rd.ipa, rd.size), (0x4220_0000, 0x10_9828));
    assert!(!lx.ram.overlaps(&p.layout.boot_dtb));

    // /chosen announces it, guest-physical.
    let dtb = &p.dtbs[1];
    assert!(contains(dtb, b"linux,initrd-start\0") && contains(dtb, b"linux,initrd-end\0"));
    assert!(contains(dtb, &be_u64(0x4220_0000)) && contains(dtb, &be_u64(0x4220_0000 + 0x10_9828)));
    assert!(!contains(&p.dtbs[0], b"linux,initrd-start\0"));

    // hv-static copies kernel, ramdisk, device tree.
    let arena = Bump::new();
    let plan = hvconfig::plan(&arena, &p.checked.system, &p.layout, 1);
    assert_eq!(
        plan.partitions[1].loads,
        [
            Load { src_pa: lx.kernel.src_pa, dst_pa: lx.kernel.dst_pa, size: 0x1f6_e0c0 },
            Load { src_pa: rd.src_pa, dst_pa: rd.dst_pa, size: 0x10_9828 },
            Load { src_pa: lx.dtb.src_pa, dst_pa: lx.dtb.dst_pa, size: lx.dtb.size },
        ]
    );

    // The image holds every piece at its place.
    let (img, _) = pack(&hv_elf(0x3000, 0x8000), &p.layout, ARM64, p.parts()).unwrap();
    assert_eq!(img.len() as u64, p.layout.image_size());
    assert_eq!(image::header(&img).unwrap().image_size, img.len() as u64);
    let at = |pa: u64| p.layout.image_offset(pa) as usize;
    assert_eq!(&img[at(lx.kernel.src_pa)..at(lx.kernel.src_pa) + 0x1f6_e0c0], &p.kernels[1].bytes[..]);
    assert_eq!(&img[at(rd.src_pa)..at(rd.src_pa) + ramdisk.len()], &ramdisk[..]);
    assert_eq!(&img[at(lx.dtb.src_pa)..at(lx.dtb.src_pa) + dtb.len()], &dtb[..]);
    assert_eq!(img, {
        let mut v = vec![0u8; 2 * MIB as usize];
        v[..img.len().min(2 * MIB as usize)].copy_from_slice(&img[..2 * MIB as usize]);
        v.extend_from_slice(&payload(&p.layout, p.parts()));
        v
    });

    // write_if_changed compares in chunks: same bytes, no rewrite; one byte off, rewritten.
    let out = dir.join("hv-static.img");
    write_if_changed(&out, &img).unwrap();
    assert!(same_contents(&out, &img));
    let mut other = img.clone();
    *other.last_mut().unwrap() ^= 1;
    assert!(!same_contents(&out, &other));
    assert!(!same_contents(&out, &img[..img.len() - 1]));

    let t = report::layout_text(&p, None);
    for s in [
        "    ramdisk      IPA 0x4220_0000..0x4230_9828 (PA ",
        "linux ramdisk",
        "(32.1 MiB with bss), text_offset 0x0",
        "boot loader's device tree (reserved)",
    ] {
        assert!(t.contains(s), "missing `{s}` in\n{t}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_armv7_linux_ramdisk_goes_high_where_the_zimage_does_not_decompress() {
    // configs/qemu-a15-linux.toml with Debian's armhf kernel: a 5.3 MiB zImage that decompresses to about 17 MiB
    // from RAM base + 0x8000 and moves itself above that first; the ramdisk right after the file would be overwritten.
    let src = LINUX.replace("qemu-virt-aarch64", "qemu-virt-a15");
    let dir = std::env::temp_dir().join(format!("ib-a15-linux-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ramdisk = vec![0x1f; 0xe_f000];
    std::fs::write(dir.join("initramfs.cpio.gz"), &ramdisk).unwrap();
    let guests = GuestCatalog::with_names(["hello"]);
    let ctx = Context { guests: &guests, base_dir: &dir };
    let (system, report) = config::check_source("a15.toml", &src, "a15", &ctx).unwrap_or_else(|r| panic!("{r}"));
    let checked = Checked { system, report, config_path: dir.join("a15.toml") };
    let kernels = vec![zkernel(0x1234, 0x2_1000), zkernel(0x54_c200, 0x54_c200)];
    let p = prepared_with(checked, kernels, vec![None, Some(ramdisk)]);
    let lx = p.layout.partitions[1];
    let rd = lx.ramdisk.unwrap();
    assert_eq!(lx.kernel.ipa, 0x4000_8000);
    // 252 MiB into the 256 MiB partition: the highest 2 MiB boundary below the device tree's last 2 MiB.
    assert_eq!((rd.ipa, rd.size), (0x4000_0000 + 252 * MIB, 0xe_f000));
    assert_eq!(lx.dtb.ipa, 0x4000_0000 + 254 * MIB);
    // /chosen announces the same place.
    let dtb = &p.dtbs[1];
    assert!(contains(dtb, &be_u64(0x4000_0000 + 252 * MIB)) && contains(dtb, &be_u64(rd.ipa + rd.size)));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_ramdisk_that_does_not_fit_points_at_memory_kernel_and_ramdisk() {
    let dir = std::env::temp_dir().join(format!("ib-linux-fit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("initramfs.cpio.gz"), [0u8; 0x1000]).unwrap();
    let guests = GuestCatalog::with_names(["hello"]);
    let ctx = Context { guests: &guests, base_dir: &dir };
    let src = LINUX.replace("\"256MiB\"", "\"32MiB\"");
    let (system, report) = config::check_source("linux.toml", &src, "linux", &ctx).unwrap();
    let checked = Checked { system, report, config_path: dir.join("linux.toml") };
    let sizes = ImageSizes::of(&[kernel(0x1234), linux_kernel()], &[None, Some(vec![0; 0x1000])]);
    // 32.06 MiB of kernel alone is too much for 32 MiB: the ramdisk is not even placed.
    let dtbs = device_trees(&checked, &sizes).unwrap();
    let Err(Error::Config(r)) = solve_layout(&checked, &sizes, &dtbs) else { panic!("fits?") };
    let e: Vec<_> = r.errors().collect();
    assert_eq!(e.len(), 1, "{r}");
    assert_eq!(e[0].field, "partition[1].memory.size");
    assert!(e[0].message.contains("do not fit its RAM: they need 36.1 MiB, it has 32 MiB"), "{r}");
    assert_eq!(e[0].related.len(), 2, "{r}");
    let text = r.render();
    assert!(text.contains("linux.toml:20:19"), "{text}");
    assert!(text.contains("give the partition at least 38 MiB"), "{text}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn generated_config_carries_the_log_level() {
    let p = prepared(3);
    let arena = Bump::new();
    assert_eq!(hvconfig::plan(&arena, &p.checked.system, &p.layout, 1).log_level, LogLevel::Info);
    let src = demo_src(3).replacen("[[pool]]", "[hypervisor]\nlog_level = \"debug\"\n\n[[pool]]", 1);
    let p = prepared_from(checked(&src));
    assert_eq!(hvconfig::plan(&arena, &p.checked.system, &p.layout, 1).log_level, LogLevel::Debug);
    let c = hvconfig::generate(&p.checked.system, &p.layout, "demo.toml", 1).config_rs;
    assert!(c.contains("    log_level: LogLevel::Debug,\n"), "{c}");
}

/// The demo with `hello0` carrying `dt_overlay = "<file>"`, checked with `dir` as the config's directory.
fn with_overlay(dir: &Path, file: &str, bytes: &[u8]) -> Checked {
    std::fs::write(dir.join(file), bytes).unwrap();
    let src =
        demo_src(3).replacen("kernel = \"hello\"\n", &format!("kernel = \"hello\"\ndt_overlay = \"{file}\"\n"), 1);
    let guests = GuestCatalog::with_names(["hello"]);
    let ctx = Context { guests: &guests, base_dir: dir };
    let (system, report) = config::check_source("demo.toml", &src, "demo", &ctx).unwrap_or_else(|r| panic!("{r}"));
    Checked { system, report, config_path: dir.join("demo.toml") }
}

#[test]
fn dt_overlays_are_merged_into_their_partition_tree() {
    let dir = std::env::temp_dir().join(format!("ib-overlay-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p =
        prepared_from(with_overlay(&dir, "extra.dtbo", include_bytes!("../../../../dom0-less/testdata/extra.dtbo")));
    let plain = prepared(3);
    // hello0 gets the overlay's content; smp's tree is untouched.
    assert!(contains(&p.dtbs[0], b"from an overlay\0"));
    assert!(contains(&p.dtbs[0], b"reserved-memory\0"));
    assert!(!contains(&plain.dtbs[0], b"from an overlay"));
    assert_eq!(p.dtbs[1], plain.dtbs[1]);
    assert!(p.dtbs[0].len() > plain.dtbs[0].len());
    assert_eq!(p.layout.partitions[0].dtb.size, p.dtbs[0].len() as u64);

    // What the overlay may not change is reported on its key.
    let checked = with_overlay(&dir, "cpus.dtbo", include_bytes!("../../../../dom0-less/testdata/cpus.dtbo"));
    let sizes = ImageSizes::of(&[kernel(0x1234), kernel(0x800)], &[None, None]);
    let Err(Error::Config(r)) = device_trees(&checked, &sizes) else { panic!("an overlay changing /cpus merged") };
    let e: Vec<_> = r.errors().collect();
    assert_eq!(e.len(), 1, "{r}");
    assert_eq!(e[0].field, "partition[0].dt_overlay");
    assert_eq!(
        e[0].message,
        "device-tree overlay `cpus.dtbo`: `fragment@0` changes `/cpus`, which hv-static generates (the partition's \
         vCPUs, from its `vcpus`): an overlay may not replace or extend it"
    );
    assert_eq!(r.line_col(e[0].span.start), (16, 14));
    assert!(e[0].hint.as_deref().unwrap().contains("docs/guest-abi.md"));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// configs/qemu-aarch64-pv.toml with `front` also given the RTC (INTID 34): two partitions, three disks (one on the
/// board's disk), a network with an uplink and a channel.
fn pv() -> Prepared {
    let src = std::fs::read_to_string(crate::workspace_root().join("configs/qemu-aarch64-pv.toml")).unwrap();
    let src = src.replacen("kernel = \"hello\"\n", "kernel = \"hello\"\npassthrough = [\"/pl031@9010000\"]\n", 1);
    prepared_from(checked(&src))
}

#[test]
fn pv_devices_get_transports_channels_and_interrupts() {
    let p = pv();
    let l = &p.layout;
    let s = &p.checked.system;
    // front: two disks and a network port in slots 0-2; its free SPIs from 16 on skip none (the RTC is SPI 2).
    let front = &l.guests[0];
    let slots: Vec<(u64, u32)> = front.virtio.iter().map(|v| (v.base, v.intid)).collect();
    assert_eq!(slots, [(0x0a00_0000, 48), (0x0a00_0200, 49), (0x0a00_0400, 50)]);
    assert_eq!(front.channels, [layout::ChannelMap { ipa: 0x1000_0000, size: 0x1_0000, doorbell: 51 }]);
    assert_eq!(l.guests[1].channels[0].ipa, 0x1000_0000);
    // Host-physical: the RAM-backed scratch disks, then the channel, after the payload and before partition RAM.
    let shared: Vec<(layout::Shared, u64)> = l.shared.iter().map(|sh| (sh.what, sh.region.size)).collect();
    assert_eq!(
        shared,
        [
            (layout::Shared::Disk(1), 16 * MIB),
            (layout::Shared::Disk(2), 16 * MIB),
            (layout::Shared::Channel(0), 0x1_0000)
        ]
    );
    assert_eq!(l.shared[0].region.base, l.payload.end());
    for sh in &l.shared {
        assert_eq!(sh.region.base % 4096, 0);
        assert_eq!(sh.load, None);
        for pl in &l.partitions {
            assert!(!sh.region.overlaps(&pl.ram) && !sh.region.overlaps(&l.boot_dtb), "{sh:?}");
        }
    }
    assert_eq!(l.partitions[0].ram.base, align_up(l.shared[2].region.end(), layout::RAM_ALIGN));
    assert_eq!(l.host_disk_slices, [layout::HostSlice { offset: 0, size: 32 * MIB }]);
    // The derived MAC is stable, locally administered and unicast.
    let back_mac = s.partitions[1].networks[0].mac;
    assert_eq!(back_mac, config::derived_mac("lan", "back"));
    assert_eq!(back_mac[0] & 3, 2);

    let has = |dtb: &[u8], s: &str| dtb.windows(s.len()).any(|w| w == s.as_bytes());
    for node in ["virtio_mmio@a000000\0", "virtio_mmio@a000400\0", "channel@10000000\0", "hv-static,channel\0"] {
        assert!(has(&p.dtbs[0], node), "{node}");
    }
    assert!(has(&p.dtbs[1], "virtio_mmio@a000400\0") && !has(&p.dtbs[1], "virtio_mmio@a000600\0"));

    let t = report::layout_text(&p, None);
    for line in [
        "disk scratch-front",
        "channel ctl",
        "virtio-mmio  IPA 0xa00_0000 (INTID 48): disk shared-ro, ro",
        "virtio-mmio  IPA 0xa00_0400 (INTID 50): network lan, MAC 52:54:00:12:34:57",
        "channel      ctl IPA 0x1000_0000..0x1001_0000 -> PA ",
        "(64 KiB), rw, doorbell INTID 51",
        "(64 KiB), r, doorbell INTID 51",
        "PV devices",
        "disk shared-ro: 32 MiB, host disk bytes 0x0..0x200_0000, empty; attached by front (ro), back (ro)",
        "board disk: the virtio-blk device with serial hv-static-host-disk, at least 32 MiB (`run`: \
         out/demo/host-disk.img, kept across runs)",
        "network lan: front (52:54:00:12:34:57), back (",
        "the board's network device (uplink)",
        "channel ctl: 64 KiB, front (rw), back (r)",
    ] {
        assert!(t.contains(line), "missing `{line}` in\n{t}");
    }
}

/// `pv()` with a watchdog in `front` and `back` managing `front`.
fn pv_managed() -> Prepared {
    let src = std::fs::read_to_string(crate::workspace_root().join("configs/qemu-aarch64-pv.toml")).unwrap();
    let src = src
        .replacen(
            "kernel = \"hello\"\n",
            "kernel = \"hello\"\npassthrough = [\"/pl031@9010000\"]\nwatchdog = true\n",
            1,
        )
        .replacen("networks = [{ network = \"lan\" }]", "networks = [{ network = \"lan\" }]\nmanages = [\"front\"]", 1);
    prepared_from(checked(&src))
}

#[test]
fn the_watchdog_and_the_managed_partitions_reach_the_plan_and_the_device_trees() {
    let p = pv_managed();
    let arena = Bump::new();
    let plan = hvconfig::plan(&arena, &p.checked.system, &p.layout, 1);
    let (front, back) = (&plan.partitions[0], &plan.partitions[1]);
    // front's three transports take INTIDs 48-50 and its doorbell 51 (the RTC's 34 is below them): the watchdog
    // gets the next free SPI, 52.
    assert_eq!(p.layout.guests[0].watchdog, Some(52));
    assert_eq!((front.vdev.watchdog, front.vdev.watchdog_irq), (Some(0x0900_1000), 52));
    assert_eq!((back.vdev.watchdog, back.vdev.watchdog_irq), (None, 0));
    // Nothing else moves for it.
    assert_eq!(front.virtio.iter().map(|v| v.intid).collect::<Vec<_>>(), [48, 49, 50]);
    assert_eq!(front.channels[0].doorbell, 51);
    assert_eq!(front.spis, [34]);
    assert_eq!((front.manages, back.manages), (&[][..], &[0][..]));

    let has = |dtb: &[u8], s: &str| dtb.windows(s.len()).any(|w| w == s.as_bytes());
    for s in ["watchdog@9001000\0", "arm,sp805\0", "clock-wdog\0", "wdog_clk\0"] {
        assert!(has(&p.dtbs[0], s) && !has(&p.dtbs[1], s), "{s}");
    }
    // `back`'s /hypervisor names `front`; `front`'s names no one (the property names sit in the strings block).
    for name in ["hv-static,manages\0", "hv-static,manages-names\0"] {
        assert!(has(&p.dtbs[1], name) && !has(&p.dtbs[0], name), "{name}");
    }
    // Without either key, neither is in any tree.
    for dtb in &pv().dtbs {
        assert!(!has(dtb, "watchdog@9001000\0") && !has(dtb, "hv-static,manages"));
    }

    let t = report::layout_text(&p, None);
    for line in ["watchdog     SP805 IPA 0x900_1000 (INTID 52)", "manages      front"] {
        assert!(t.contains(line), "missing `{line}` in\n{t}");
    }
    assert_eq!(t.matches("watchdog     ").count(), 1);
}

#[test]
fn an_uplink_gives_hv_static_the_board_network_device_and_its_switch() {
    let p = pv();
    let arena = Bump::new();
    let plan = hvconfig::plan(&arena, &p.checked.system, &p.layout, 1);
    assert_eq!(plan.networks, [NetworkConfig { ports: &[0, 1], uplink: true }]);
    assert_eq!(
        plan.host_net,
        Some(HostNetConfig { mmio_base: 0xa00_0000, mmio_stride: 0x200, mmio_count: 32, intid_base: 48, network: 0 })
    );
    // No uplink, or an uplink on a switch no partition joins: no network driver in hv-static.
    let src = std::fs::read_to_string(crate::workspace_root().join("configs/qemu-aarch64-pv.toml")).unwrap();
    for src in [
        src.replace("uplink = true", "uplink = false"),
        src.replace("uplink = true", "") + "\n[[network]]\nname = \"wan\"\nuplink = true\n",
    ] {
        let p = prepared_from(checked(&src));
        assert_eq!(hvconfig::plan(&arena, &p.checked.system, &p.layout, 1).host_net, None);
    }
}

#[test]
fn pv_devices_that_do_not_fit_point_at_the_config() {
    // A channel larger than board RAM.
    let src = std::fs::read_to_string(crate::workspace_root().join("configs/qemu-aarch64-pv.toml"))
        .unwrap()
        .replace("size = \"64KiB\"", "size = \"2GiB\"");
    let big = checked(&src);
    let sizes = ImageSizes::of(&[kernel(0x1234), kernel(0x800)], &[None, None]);
    let dtbs = device_trees(&big, &sizes).unwrap();
    let Err(Error::Config(r)) = solve_layout(&big, &sizes, &dtbs) else { panic!("a 2 GiB channel fits?") };
    let e: Vec<_> = r.errors().collect();
    assert_eq!(e.len(), 1, "{r}");
    assert_eq!(e[0].field, "channel[0].size");
    assert!(e[0].message.contains("the memory of channel `ctl` (2 GiB) lies beyond board RAM"), "{r}");

    // On ARMv7 a channel must sit below 4 GiB: 3.5 GiB of channel cannot.
    let src = a15(&std::fs::read_to_string(crate::workspace_root().join("configs/qemu-aarch64-pv.toml")).unwrap())
        .replace("size = \"64KiB\"", "size = \"3584MiB\"");
    let armv7 = checked(&src);
    let Err(Error::Config(r)) = device_trees(&armv7, &sizes) else { panic!("a 3.5 GiB channel below 4 GiB?") };
    let e: Vec<_> = r.errors().collect();
    assert_eq!(e.len(), 2, "{r}");
    assert_eq!(e[0].field, "channel[0].size");
    assert!(
        e[0].message.contains("finds no room in partition `front`'s guest-physical space below 0x1_0000_0000"),
        "{r}"
    );
}

/// The same system on `qemu-virt-a15`.
fn a15(src: &str) -> String {
    src.replace("qemu-virt-aarch64", "qemu-virt-a15")
}
