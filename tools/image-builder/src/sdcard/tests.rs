use super::*;
use board_support::qemu_virt_aarch64::BOARD;

/// A stand-in hypervisor image: an arm64 Image header for `text_offset`, then `len` bytes of pattern.
fn fake_image(text_offset: u64, len: usize) -> Vec<u8> {
    let mut img: Vec<u8> = (0..len).map(|i| (i * 7 + i / 251) as u8).collect();
    img[..64].fill(0);
    img[8..16].copy_from_slice(&text_offset.to_le_bytes());
    img[16..24].copy_from_slice(&(len as u64).to_le_bytes());
    img[24..32].copy_from_slice(&2u64.to_le_bytes());
    img[56..60].copy_from_slice(b"ARM\x64");
    img
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hv-sdcard-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    dir
}

#[test]
fn the_boot_script_for_qemu_virt() {
    assert_eq!(
        boot_script(&BOARD).unwrap(),
        "load ${devtype} ${devnum}:${distro_bootpart} ${kernel_addr_r} hv-static.img\n\
         booti ${kernel_addr_r} - ${fdtcontroladdr}\n"
    );
    // bootz starts a zImage where it lies: load hv-static where it is linked.
    assert_eq!(
        boot_script(&board_support::qemu_virt_a15::BOARD).unwrap(),
        "load ${devtype} ${devnum}:${distro_bootpart} 0x40200000 hv-static.img\nbootz 0x40200000 - ${fdtcontroladdr}\n"
    );
}

#[test]
fn a_card_holds_one_bootable_fat32_partition_with_the_image_and_the_script() {
    let image = fake_image(0x20_0000, 300 * 1024 + 5);
    let card = card_for(&image, &BOARD).unwrap();
    assert_eq!(card.len() as u64, MIN_CARD_SIZE);

    // The MBR, raw: partition 1 active, type 0x0c, from LBA 2048 to the end; the boot signature.
    assert_eq!(card[446], 0x80);
    assert_eq!(card[450], 0x0c);
    assert_eq!(u32::from_le_bytes(card[454..458].try_into().unwrap()), 2048);
    assert_eq!(u32::from_le_bytes(card[458..462].try_into().unwrap()), (64 * 2048 - 2048) as u32);
    assert!(card[462..510].iter().all(|&b| b == 0), "one partition only");
    assert_eq!(card[510..512], [0x55, 0xaa]);
    // The disk signature is the image's CRC.
    assert_eq!(card[440..444], crc32fast::hash(&image).to_le_bytes());

    let c = read_card(&card).unwrap();
    assert!(c.bootable);
    assert_eq!((c.partition_type, c.partition_start, c.partition_size), (0x0c, MIB, 63 * MIB));
    assert_eq!(c.fat_type, FatType::Fat32);
    assert_eq!(c.label, "HVSTATIC");
    let names: Vec<&str> = c.files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["hv-static.img", "boot.scr"], "qemu_arm64's U-Boot reads no environment from FAT");
    assert_eq!(c.files[0].1, image);
    assert_eq!(uimage::script_text(&c.files[1].1).unwrap(), boot_script(&BOARD).unwrap());

    // The BPB's hidden sectors, in the boot sector and its backup (sector 6), are the partition's offset.
    let bpb = &card[MIB as usize..];
    assert_eq!(u32::from_le_bytes(bpb[0x1c..0x20].try_into().unwrap()), 2048);
    assert_eq!(u32::from_le_bytes(bpb[6 * 512 + 0x1c..6 * 512 + 0x20].try_into().unwrap()), 2048);
    assert_eq!(&bpb[0x52..0x5a], b"FAT32   ");
}

#[test]
fn cards_are_reproducible_and_dated_1980() {
    let image = fake_image(0x20_0000, 100_000);
    let a = card_for(&image, &BOARD).unwrap();
    let b = card_for(&image, &BOARD).unwrap();
    assert!(a == b, "the same image gave two different cards");
    let mut other = image.clone();
    other[70_000] ^= 1;
    assert!(card_for(&other, &BOARD).unwrap() != a);

    let part = a[MIB as usize..].to_vec();
    let fs = FileSystem::new(Cursor::new(part), FsOptions::new()).unwrap();
    let epoch = EPOCH.get_current_date_time();
    for e in fs.root_dir().iter() {
        let e = e.unwrap();
        assert_eq!((e.created(), e.modified(), e.accessed()), (epoch, epoch, epoch.date), "{}", e.file_name());
    }
}

#[test]
fn card_sizes_are_powers_of_two_with_room_for_the_files() {
    assert_eq!(card_size(0), 64 * MIB);
    assert_eq!(card_size(50 * MIB), 64 * MIB);
    assert_eq!(card_size(60 * MIB), 128 * MIB);
    assert_eq!(card_size(200 * MIB), 256 * MIB);
    assert!(card(&[], 48 * MIB, 0).is_err());
    assert!(card(&[], 96 * MIB, 0).is_err());
}

#[test]
fn a_large_image_gets_a_larger_card() {
    let image = fake_image(0x20_0000, 70 * MIB as usize);
    let card = card_for(&image, &BOARD).unwrap();
    assert_eq!(card.len() as u64, 128 * MIB);
    let c = read_card(&card).unwrap();
    assert_eq!(c.fat_type, FatType::Fat32);
    assert!(c.files[0].1 == image);
}

#[test]
fn files_that_do_not_fit_are_an_error() {
    let big = vec![(IMAGE_FILE.to_string(), vec![1u8; 63 * MIB as usize])];
    let e = card(&big, 64 * MIB, 1).unwrap_err().to_string();
    assert!(e.contains("writing hv-static.img"), "{e}");
}

#[test]
fn images_booti_cannot_place_are_refused() {
    let e = card_for(&[0u8; 4096], &BOARD).unwrap_err().to_string();
    assert!(e.contains("no arm64 Image header"), "{e}");
    let e = card_for(&fake_image(0x8_0000, 4096), &BOARD).unwrap_err().to_string();
    assert!(e.contains("text_offset is 0x80000") && e.contains("0x40200000"), "{e}");
    let mut anywhere = fake_image(0x20_0000, 4096);
    anywhere[24] |= 1 << 3;
    let e = card_for(&anywhere, &BOARD).unwrap_err().to_string();
    assert!(e.contains("bit 3"), "{e}");
    let mut no_uboot = BOARD;
    no_uboot.uboot = None;
    let e = card_for(&fake_image(0x20_0000, 4096), &no_uboot).unwrap_err().to_string();
    assert!(e.contains("no U-Boot description"), "{e}");
}

#[test]
fn a_board_reading_its_environment_from_fat_gets_uboot_env() {
    let mut board = BOARD;
    let mut u = board.uboot.unwrap();
    u.env = UBootEnv::Fat { file: "uboot.env", size: 0x4000 };
    board.uboot = Some(u);
    let c = read_card(&card_for(&fake_image(0x20_0000, 4096), &board).unwrap()).unwrap();
    let (name, env) = &c.files[2];
    assert_eq!(name, "uboot.env");
    assert_eq!(env.len(), 0x4000);
    let vars = env::decode(env).unwrap();
    assert_eq!(vars[0], ("bootdelay".into(), "0".into()));
    assert!(vars.iter().any(|(k, v)| k == "bootcmd" && v.contains("source ${scriptaddr}")), "{vars:?}");
}

#[test]
fn the_environment_flash_for_qemu_virt() {
    let u = BOARD.uboot.unwrap();
    let vars = boot_env(&u, BOARD.boot_dtb);
    assert_eq!(
        vars,
        [
            ("bootdelay", "0".to_string()),
            ("kernel_addr_r", "0x40400000".into()),
            ("scriptaddr", "0x40200000".into()),
            (
                "bootcmd",
                "virtio scan; devtype=virtio; distro_bootpart=1; for devnum in 0; do if load virtio ${devnum}:1 \
                 ${scriptaddr} boot.scr; then source ${scriptaddr}; fi; done"
                    .into()
            ),
        ]
    );
    let dir = scratch("flash");
    let path = write_env_flash(&dir, &BOARD).unwrap().unwrap();
    let bytes = fs::read(&path).unwrap();
    assert_eq!(bytes.len() as u64, 64 * MIB, "QEMU wants the whole flash");
    let stored = env::decode(&bytes[..0x4_0000]).unwrap();
    assert_eq!(stored.len(), 4);
    assert_eq!(stored[3].1, vars[3].1);
    // Unchanged: not rewritten.
    let before = fs::metadata(&path).unwrap().modified().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    write_env_flash(&dir, &BOARD).unwrap();
    assert_eq!(fs::metadata(&path).unwrap().modified().unwrap(), before);
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn write_sdcard_writes_the_card_file() {
    let dir = scratch("card");
    fs::create_dir_all(&dir).unwrap();
    let image = dir.join("hv-static.img");
    fs::write(&image, fake_image(0x20_0000, 8192)).unwrap();
    let card = write_sdcard(&dir, &image, &BOARD).unwrap();
    assert_eq!(card, dir.join("sdcard.img"));
    assert_eq!(fs::read(&card).unwrap(), card_for(&fs::read(&image).unwrap(), &BOARD).unwrap());
    let e = write_sdcard(&dir, &dir.join("missing.img"), &BOARD).unwrap_err().to_string();
    assert!(e.contains("cannot read") && e.contains("missing.img"), "{e}");
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn an_armv7_card_carries_a_zimage_and_a_bootz_script() {
    let a15 = &board_support::qemu_virt_a15::BOARD;
    let mut image = crate::image::testelf::zimage(0, &[0x5a; 8192]);
    let len = image.len() as u32;
    crate::image::set_zimage_end(&mut image, len);
    let c = read_card(&card_for(&image, a15).unwrap()).unwrap();
    let names: Vec<&str> = c.files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["hv-static.img", "boot.scr"]);
    assert_eq!(c.files[0].1, image);
    // A script for 32-bit ARM (mkimage -A arm).
    assert_eq!(c.files[1].1[29], uimage::arch::ARM);
    assert_eq!(uimage::script_text(&c.files[1].1).unwrap(), boot_script(a15).unwrap());
    // bootz needs a zImage; an arm64 Image is refused, and a zImage on the arm64 board too.
    let e = card_for(&fake_image(0x20_0000, 4096), a15).unwrap_err().to_string();
    assert!(e.contains("no zImage header") && e.contains("bootz"), "{e}");
    let e = card_for(&image, &BOARD).unwrap_err().to_string();
    assert!(e.contains("no arm64 Image header"), "{e}");
}

/// A zImage for `bootz` boards.
fn fake_zimage() -> Vec<u8> {
    let mut image = crate::image::testelf::zimage(0, &[0x5a; 8192]);
    let len = image.len() as u32;
    crate::image::set_zimage_end(&mut image, len);
    image
}

#[test]
fn an_orangepi_pc_card_carries_u_boot_at_8_kib_and_a_complete_environment() {
    let opi = &board_support::orangepi_pc::BOARD;
    let image = fake_zimage();
    let spl: Vec<u8> = (0..540_000u32).map(|i| (i % 251) as u8 + 1).collect();
    let card =
        card_from_parts(&image, opi, CardParts { loader: Some(&spl), firmware: &[] }, CardOptions::default()).unwrap();
    assert_eq!(card.len() as u64, MIN_CARD_SIZE);
    // U-Boot between the MBR and the partition; the MBR is intact, and no GPT header is in sector 1.
    assert!(card[8192..8192 + spl.len()] == spl[..]);
    assert_eq!((card[446], card[450], &card[510..512]), (0x80, 0x0c, &[0x55, 0xaa][..]));
    assert_ne!(&card[512..520], b"EFI PART");
    let c = read_card(&card).unwrap();
    let names: Vec<&str> = c.files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["hv-static.img", "boot.scr", "uboot.env"]);
    assert_eq!(
        uimage::script_text(&c.files[1].1).unwrap(),
        "load ${devtype} ${devnum}:${distro_bootpart} 0x40200000 hv-static.img\nbootz 0x40200000 - ${fdtcontroladdr}\n"
    );
    // CONFIG_ENV_SIZE bytes exactly, or U-Boot's CRC check fails and it falls back to its default environment.
    assert_eq!(c.files[2].1.len(), 0x1_0000);
    let vars = env::decode(&c.files[2].1).unwrap();
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(
        vars,
        [
            ("bootdelay", "0"),
            ("kernel_addr_r", "0x42000000"),
            ("fdt_addr_r", "0x43000000"),
            ("scriptaddr", "0x43100000"),
            ("bootm_size", "0xa000000"),
            (
                "bootcmd",
                "devtype=mmc; distro_bootpart=1; for devnum in 0; do if load mmc ${devnum}:1 ${scriptaddr} boot.scr; \
                 then source ${scriptaddr}; fi; done"
            ),
        ]
    );
    // Nothing that probes USB or a display: no preboot, no stdout naming a video console.
    assert!(!vars.iter().any(|(k, _)| ["preboot", "stdout", "stdin", "stderr"].contains(k)));

    // Without the stored environment: U-Boot's default one boots the same card.
    let plain = card_from_parts(
        &image,
        opi,
        CardParts { loader: Some(&spl), firmware: &[] },
        CardOptions { stored_env: false, ..CardOptions::default() },
    )
    .unwrap();
    let names: Vec<String> = read_card(&plain).unwrap().files.into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["hv-static.img", "boot.scr"]);
    // No U-Boot binary: an error, not a card that cannot boot.
    let e = card_from_parts(&image, opi, CardParts::default(), CardOptions::default()).unwrap_err().to_string();
    assert!(e.contains("orangepi-pc") && e.contains("binary"), "{e}");
}

#[test]
fn a_boot_loader_must_fit_between_the_mbr_and_the_partition() {
    let files = vec![(IMAGE_FILE.to_string(), vec![1u8; 100])];
    assert!(card_with_loader(&files, Some((8192, &[7u8; 1000])), MIN_CARD_SIZE, 1).is_ok());
    let e = card_with_loader(&files, Some((8192, &vec![7u8; MIB as usize])), MIN_CARD_SIZE, 1).unwrap_err();
    assert!(e.to_string().contains("between the partition table and the partition"), "{e}");
    assert!(card_with_loader(&files, Some((0, &[7u8; 16])), MIN_CARD_SIZE, 1).is_err(), "over the MBR");
}

/// The Pi 4's firmware configuration: what wrote it, then Debian's lines for a 64-bit Pi 4 with U-Boot as the kernel
/// and the tree named; a console the firmware does not put on the header is said in the comment.
#[test]
fn the_pi_firmware_configuration() {
    let fw = &board_support::rpi4::FIRMWARE;
    let text = firmware_config(fw, "uart1");
    let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(
        lines,
        [
            "arm_64bit=1",
            "enable_uart=1",
            "upstream_kernel=1",
            "device_tree=bcm2711-rpi-4-b.dtb",
            "gpu_mem=64",
            "kernel=u-boot.bin"
        ]
    );
    assert!(text.starts_with("# Written by hv-static's image-builder"), "{text}");
    assert!(!text.contains("does not put"), "{text}");
    let pl011 = firmware_config(fw, "uart0");
    assert!(pl011.contains("console is uart0, which this firmware does not put on the serial header (it does uart1)"));
    assert_eq!(pl011.lines().filter(|l| !l.starts_with('#')).collect::<Vec<_>>(), lines);
}

/// The Pi 4's U-Boot may see the SD slot as mmc 0 (QEMU) or mmc 1: the stored boot command tries both, in order,
/// and names the partition for boot.scr as distro boot would.
#[test]
fn the_pi_boot_command_tries_both_mmc_devices() {
    let b = &board_support::rpi4::BOARD;
    let vars = boot_env(&b.uboot.unwrap(), b.boot_dtb);
    let bootcmd = &vars.iter().find(|(k, _)| *k == "bootcmd").unwrap().1;
    assert_eq!(
        bootcmd,
        "devtype=mmc; distro_bootpart=1; for devnum in 0 1; do if load mmc ${devnum}:1 ${scriptaddr} boot.scr; then \
         source ${scriptaddr}; fi; done"
    );
    let addrs: Vec<(&str, &str)> =
        vars.iter().map(|(k, v)| (*k, v.as_str())).filter(|(k, _)| k.ends_with("addr_r")).collect();
    assert_eq!(addrs, [("kernel_addr_r", "0x80000"), ("fdt_addr_r", "0x2600000")]);
    assert_eq!(boot_env_bytes(b).unwrap().len(), 16 * 1024);
}

/// The ZCU102's card carries the user's BOOT.BIN (U-Boot is inside it), then hv-static and boot.scr, and no stored
/// environment (where the user's U-Boot keeps one is its build's choice); without the BOOT.BIN the builder says
/// which config key names it.
#[test]
fn a_zcu102_card_is_the_users_boot_bin_hv_static_and_the_script() {
    let board = &board_support::xlnx_zcu102::BOARD;
    let dir = scratch("zcu102");
    fs::create_dir_all(&dir).unwrap();
    let boot_bin = dir.join("BOOT.BIN");
    fs::write(&boot_bin, b"XNLX boot image stand-in").unwrap();
    let image = fake_image(board.hv_text_offset(), 8192);
    let options = CardOptions { boot_image: Some(boot_bin), ..CardOptions::default() };
    let c = read_card(&card_for_with(&image, board, options).unwrap()).unwrap();
    let names: Vec<&str> = c.files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["BOOT.BIN", "hv-static.img", "boot.scr"]);
    assert_eq!(c.files[0].1, b"XNLX boot image stand-in");
    assert_eq!(uimage::script_text(&c.files[2].1).unwrap(), boot_script(board).unwrap());
    assert!(boot_script(board).unwrap().starts_with("load ${devtype} ${devnum}:${distro_bootpart} ${kernel_addr_r}"));

    let e = card_for(&image, board).unwrap_err().to_string();
    assert!(e.contains("your BOOT.BIN") && e.contains("boot_image = \"path/to/BOOT.BIN\""), "{e}");
    let missing = CardOptions { boot_image: Some(dir.join("nope.bin")), ..CardOptions::default() };
    let e = card_for_with(&image, board, missing).unwrap_err().to_string();
    assert!(e.contains("nope.bin"), "{e}");
    let _ = fs::remove_dir_all(&dir);
}
