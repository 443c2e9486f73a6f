//! A bootable SD-card image for a built system, written as a plain file (no root, no loop devices).
//!
//! ```text
//! offset 0       MBR: one primary partition, type 0x0c (FAT32, LBA), bootable. Not GPT: its partition entries
//!                (sectors 2-33) would lie where an SoC boot ROM looks for U-Boot's SPL.
//! offset 8 KiB   only when the board's U-Boot lives on the card (UBootFirmware::OnCard, e.g. Allwinner): its
//!                SPL + U-Boot binary, which must end below 1 MiB
//! offset 1 MiB   FAT32 file system, label HVSTATIC:
//!                  hv-static.img   the image `build` wrote (an arm64 Image, or an ARM zImage)
//!                  boot.scr        U-Boot script: load hv-static.img and start it (booti / bootz) with U-Boot's
//!                                  own device tree (the board's)
//!                  uboot.env       only when the board's U-Boot reads its environment from FAT: see [`boot_env`]
//! end            a power of two, at least 64 MiB (QEMU's SD cards want a power of two)
//! ```
//!
//! The board's U-Boot ([`board_support::UBoot`]) finds `boot.scr` by its default distro boot (bootable partition,
//! `boot.scr` at the root), so the card needs nothing else; the stored environment only makes it faster. On AArch64 the script loads the image to
//! `${kernel_addr_r}` and `booti` moves it to RAM base + the header's `text_offset` (the header's flags bit 3 is
//! clear), which is where hv-static is linked. On ARMv7 `bootz` starts a zImage where it lies, so the script loads
//! it straight to where hv-static is linked.
//!
//! Everything is reproducible: no timestamps (FAT entries are dated 1980-01-01 00:00, the U-Boot header's time is
//! 0), and the disk signature and volume ID are a CRC of the hypervisor image.

pub mod env;
pub mod uimage;

use std::fs;
use std::io::{self, Cursor, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use board_support::{Arch, Board, BootCommand, BootDtb, BootFirmware, QemuRun, UBoot, UBootEnv, UBootFirmware, MIB};
use fatfs::{Date, DateTime, FatType, FileSystem, FormatVolumeOptions, FsOptions, Time, TimeProvider};
use mbrman::{MBRPartitionEntry, BOOT_ACTIVE, CHS, MBR};

use crate::pipeline::Built;
use crate::{Error, Result};

/// The card's file name in the output directory.
pub const CARD_FILE: &str = "sdcard.img";
/// The hypervisor image's name in the FAT partition.
pub const IMAGE_FILE: &str = "hv-static.img";
/// The boot script's name in the FAT partition (one of the names U-Boot's distro boot looks for).
pub const SCRIPT_FILE: &str = "boot.scr";
/// The file [`write_env_flash`] writes in the output directory.
pub const ENV_FLASH_FILE: &str = "uboot-env-flash.img";
/// The FAT volume label.
pub const VOLUME_LABEL: [u8; 11] = *b"HVSTATIC   ";
/// The smallest card.
pub const MIN_CARD_SIZE: u64 = 64 * MIB;
/// Where the partition starts.
pub const PARTITION_START: u64 = MIB;
/// MBR partition type: FAT32 with LBA addressing.
pub const PARTITION_TYPE: u8 = 0x0c;
const SECTOR: u64 = 512;

/// The text of `boot.scr` for the board's U-Boot: load the image from the partition the script itself was found on
/// and start it with the board's device tree. `booti` moves the image itself, so it goes to `kernel_addr_r`; `bootz`
/// runs it where it lies, so it goes to the hypervisor's load address. Whoever sources the script names its
/// partition in `devtype`, `devnum` and `distro_bootpart`: U-Boot's distro boot does, and so does the stored
/// environment's boot command ([`boot_env`]).
pub fn boot_script(board: &Board) -> Result<String> {
    let u = uboot(board)?;
    let addr = match u.boot_command {
        BootCommand::Booti => "${kernel_addr_r}".to_owned(),
        BootCommand::Bootz => format!("{:#x}", board.hv_load_addr),
    };
    Ok(format!(
        "load ${{devtype}} ${{devnum}}:${{distro_bootpart}} {addr} {IMAGE_FILE}\n{boot} {addr} - ${{{fdt}}}\n",
        boot = u.boot_command.name(),
        fdt = u.fdt_variable,
    ))
}

/// A stored environment that boots the card at once. A stored environment replaces U-Boot's default one whole, so
/// it carries everything the boot uses and nothing else:
/// - `bootdelay=0`: no autoboot countdown;
/// - the addresses of the default environment the boot script and U-Boot's boot commands use (`kernel_addr_r`,
///   `fdt_addr_r`, `scriptaddr`), and `bootm_size` where the board's device-tree placement depends on it
///   ([`BootDtb::UBootBootm`]), so the tree lands where the layout kept room for it;
/// - a `bootcmd` that sources `boot.scr` from partition 1 of the boot disk (of the first of its possible device
///   numbers that has one), instead of distro boot's scan of every boot source, and names that partition for the
///   script as distro boot would.
///
/// What it leaves out is what makes the default boot slow: `preboot` (`usb start` on sunxi) and a `stdout` that
/// names a video console (probing HDMI): U-Boot then uses the serial console alone.
pub fn boot_env(u: &UBoot, boot_dtb: BootDtb) -> Vec<(&'static str, String)> {
    let iface = u.disk.uboot_interface();
    let devices: Vec<String> = u.disk_devices.iter().map(u32::to_string).collect();
    let mut vars = vec![("bootdelay", "0".into()), ("kernel_addr_r", format!("{:#x}", u.kernel_addr_r))];
    if let Some(fdt) = u.fdt_addr_r {
        vars.push(("fdt_addr_r", format!("{fdt:#x}")));
    }
    vars.push(("scriptaddr", format!("{:#x}", u.scriptaddr)));
    if let BootDtb::UBootBootm { bootm_size } = boot_dtb {
        vars.push(("bootm_size", format!("{bootm_size:#x}")));
    }
    let init = u.disk.uboot_init().map(|c| format!("{c}; ")).unwrap_or_default();
    vars.push((
        "bootcmd",
        format!(
            "{init}devtype={iface}; distro_bootpart=1; for devnum in {devices}; do if load {iface} ${{devnum}}:1 \
             ${{scriptaddr}} {SCRIPT_FILE}; then source ${{scriptaddr}}; fi; done",
            devices = devices.join(" ")
        ),
    ));
    vars
}

/// The stored-environment bytes of [`boot_env`] for `board`'s U-Boot, `u.env.size()` long.
pub fn boot_env_bytes(board: &Board) -> Result<Vec<u8>> {
    let u = uboot(board)?;
    let vars = boot_env(u, board.boot_dtb);
    let pairs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let size = usize::try_from(u.env.size()).map_err(|_| Error::Image("absurd U-Boot environment size".into()))?;
    env::encode(&pairs, size).map_err(Error::Image)
}

/// The board's U-Boot, or why there is no card for it.
fn uboot(board: &Board) -> Result<&UBoot> {
    board.uboot.as_ref().ok_or_else(|| {
        Error::Image(format!("board `{}` has no U-Boot description: cannot make a boot card for it", board.name))
    })
}

/// Card size for files totalling `files` bytes: room for them, the FATs (about 1.6 % with 512-byte clusters) and
/// the partition offset, rounded up to a power of two, at least [`MIN_CARD_SIZE`].
pub fn card_size(files: u64) -> u64 {
    let need = PARTITION_START + files + files / 8 + MIB;
    need.next_power_of_two().max(MIN_CARD_SIZE)
}

/// What goes on a card besides the hypervisor image and its boot script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CardOptions {
    /// Write the stored environment ([`boot_env`]) when the board's U-Boot reads one from the card. Without it
    /// U-Boot boots with its default environment (the countdown, then distro boot).
    pub stored_env: bool,
    /// The hypervisor console's UART ([`board_support::Uart::name`]; `None`: the board's default), which a boot
    /// firmware's configuration file mentions when the firmware does not wire it to the serial header.
    pub console: Option<&'static str>,
    /// The user's boot image, for a board whose U-Boot comes inside one ([`UBootFirmware::InUserFile`]; the config's
    /// `board.boot_image`).
    pub boot_image: Option<PathBuf>,
}

impl Default for CardOptions {
    fn default() -> Self {
        Self { stored_env: true, console: None, boot_image: None }
    }
}

/// The files of the card's FAT partition for the hypervisor image `image` on `board`, in the order they are
/// written.
pub fn card_files(image: &[u8], board: &Board) -> Result<Vec<(String, Vec<u8>)>> {
    card_files_with(image, board, CardOptions::default())
}

/// [`card_files`] with options.
pub fn card_files_with(image: &[u8], board: &Board, options: CardOptions) -> Result<Vec<(String, Vec<u8>)>> {
    let u = uboot(board)?;
    check_image(image, board)?;
    let arch = match board.arch {
        Arch::Aarch64 => uimage::arch::ARM64,
        Arch::Aarch32 => uimage::arch::ARM,
    };
    let script = uimage::script(arch, &boot_script(board)?).map_err(Error::Image)?;
    let mut files = vec![(IMAGE_FILE.to_owned(), image.to_vec()), (SCRIPT_FILE.to_owned(), script)];
    if let (UBootEnv::Fat { file, .. }, true) = (u.env, options.stored_env) {
        files.push((file.to_owned(), boot_env_bytes(board)?));
    }
    Ok(files)
}

/// The image must be one the board's boot command starts: an arm64 Image that `booti` puts at the board's
/// hypervisor load address, or a zImage for `bootz`.
fn check_image(image: &[u8], board: &Board) -> Result<()> {
    if uboot(board)?.boot_command == BootCommand::Bootz {
        return match crate::image::zimage_start(image) {
            Some(0) => Ok(()),
            Some(start) => Err(Error::Image(format!(
                "the hypervisor image's zImage header has start {start:#x}: bootz would not enter it at its first byte"
            ))),
            None => {
                Err(Error::Image("the hypervisor image has no zImage header: U-Boot's bootz cannot start it".into()))
            }
        };
    }
    let header = crate::image::header(image).ok_or_else(|| {
        Error::Image("the hypervisor image has no arm64 Image header: U-Boot's booti cannot start it".into())
    })?;
    if header.text_offset != board.hv_text_offset() {
        return Err(Error::Image(format!(
            "the hypervisor image's text_offset is {:#x}; booti would put it at RAM base + that, but it is linked \
             for {:#x} (text_offset {:#x})",
            header.text_offset,
            board.hv_load_addr,
            board.hv_text_offset()
        )));
    }
    let flags = u64::from_le_bytes(image[24..32].try_into().expect("8 bytes"));
    if flags & (1 << 3) != 0 {
        return Err(Error::Image(
            "the hypervisor image's header sets flags bit 3 (may be placed anywhere): booti would not move it to \
             its link address"
                .into(),
        ));
    }
    Ok(())
}

/// FAT timestamps: always the FAT epoch, 1980-01-01 00:00:00.
#[derive(Debug)]
struct Epoch;

static EPOCH: Epoch = Epoch;

impl TimeProvider for Epoch {
    fn get_current_date(&self) -> Date {
        Date { year: 1980, month: 1, day: 1 }
    }

    fn get_current_date_time(&self) -> DateTime {
        DateTime { date: self.get_current_date(), time: Time { hour: 0, min: 0, sec: 0, millis: 0 } }
    }
}

fn fat_error(what: &str, e: io::Error) -> Error {
    Error::Image(format!("{what}: {e}"))
}

/// The card's bytes: an MBR with one FAT32 partition holding `files`, `size` bytes in all. `id` becomes the disk
/// signature and the volume ID.
pub fn card(files: &[(String, Vec<u8>)], size: u64, id: u32) -> Result<Vec<u8>> {
    card_with_loader(files, None, size, id)
}

/// [`card`] with a boot loader written `loader.0` bytes into the card, between the MBR and the partition.
pub fn card_with_loader(
    files: &[(String, Vec<u8>)],
    loader: Option<(u64, &[u8])>,
    size: u64,
    id: u32,
) -> Result<Vec<u8>> {
    if !size.is_power_of_two() || size < MIN_CARD_SIZE {
        return Err(Error::Image(format!("card size {size} is not a power of two of at least {MIN_CARD_SIZE}")));
    }
    let len = usize::try_from(size).map_err(|_| Error::Image(format!("card size {size} too large")))?;
    let sectors = u32::try_from((size - PARTITION_START) / SECTOR)
        .map_err(|_| Error::Image(format!("card size {size} too large for an MBR")))?;
    let first = (PARTITION_START / SECTOR) as u32;
    let mut disk = vec![0u8; len];
    if let Some((offset, bytes)) = loader {
        let end = offset + bytes.len() as u64;
        if offset < SECTOR || end > PARTITION_START {
            return Err(Error::Image(format!(
                "the boot loader ({} bytes at {offset:#x}) must lie between the partition table and the partition \
                 at {PARTITION_START:#x}",
                bytes.len()
            )));
        }
        disk[offset as usize..end as usize].copy_from_slice(bytes);
    }

    // The partition table.
    let mut mbr = MBR::new_from(&mut Cursor::new(&mut disk[..]), SECTOR as u32, id.to_le_bytes())
        .map_err(|e| Error::Image(format!("partition table: {e}")))?;
    mbr[1] = MBRPartitionEntry {
        boot: BOOT_ACTIVE,
        first_chs: chs(first),
        sys: PARTITION_TYPE,
        last_chs: chs(first + sectors - 1),
        starting_lba: first,
        sectors,
    };
    mbr.write_into(&mut Cursor::new(&mut disk[..])).map_err(|e| Error::Image(format!("partition table: {e}")))?;

    // The file system.
    let part = &mut disk[PARTITION_START as usize..];
    let format = FormatVolumeOptions::new()
        .fat_type(FatType::Fat32)
        .volume_label(VOLUME_LABEL)
        .volume_id(id)
        .total_sectors(sectors);
    fatfs::format_volume(Cursor::new(&mut *part), format)
        .map_err(|e| fat_error("formatting the FAT32 partition", e))?;
    let fs = FileSystem::new(Cursor::new(&mut *part), FsOptions::new().time_provider(&EPOCH))
        .map_err(|e| fat_error("opening the new FAT32 partition", e))?;
    {
        let root = fs.root_dir();
        for (name, data) in files {
            let what = format!("writing {name} ({} bytes) to the {size}-byte card", data.len());
            let mut f = root.create_file(name).map_err(|e| fat_error(&what, e))?;
            f.truncate().map_err(|e| fat_error(&what, e))?;
            f.write_all(data).map_err(|e| fat_error(&what, e))?;
            f.flush().map_err(|e| fat_error(&what, e))?;
        }
    }
    fs.unmount().map_err(|e| fat_error("closing the FAT32 partition", e))?;

    // fatfs leaves the BPB's hidden-sectors field 0; it is the partition's first LBA.
    let backup = u16::from_le_bytes([part[0x32], part[0x33]]) as usize;
    for boot_sector in [0, backup * SECTOR as usize] {
        part[boot_sector + 0x1c..boot_sector + 0x20].copy_from_slice(&first.to_le_bytes());
    }
    Ok(disk)
}

/// A CHS address on the usual 255-head, 63-sector geometry; past its 1024 cylinders, the largest address.
fn chs(lba: u32) -> CHS {
    CHS::from_lba_exact(lba, 1023, 255, 63).unwrap_or_else(|_| CHS::new(1023, 254, 63))
}

/// The boot firmware's files for the card's FAT partition, in the order they are written: when the board's U-Boot is
/// started by such a firmware ([`UBootFirmware::Soc`]), the firmware's own files, its configuration file
/// ([`firmware_config`]), the board's device tree and U-Boot, each read from where [`package_file`] finds it; when
/// U-Boot comes inside the user's boot image ([`UBootFirmware::InUserFile`]), that image; none otherwise.
pub fn firmware_files(board: &Board, options: &CardOptions) -> Result<Vec<(String, Vec<u8>)>> {
    let u = uboot(board)?;
    let read = |path: PathBuf| fs::read(&path).map_err(|source| Error::Read { path, source });
    let fw = match u.firmware {
        UBootFirmware::Soc(fw) => fw,
        UBootFirmware::InUserFile { name, what } => {
            let path = options.boot_image.clone().ok_or_else(|| {
                Error::Image(format!(
                    "board `{}` boots from its card through the U-Boot inside your {name} ({what}), which Debian \
                     does not package: name it in the config, `boot_image = \"path/to/{name}\"` under [board]",
                    board.name
                ))
            })?;
            return Ok(vec![(name.to_owned(), read(path)?)]);
        }
        UBootFirmware::Bios | UBootFirmware::OnCard { .. } => return Ok(Vec::new()),
    };
    let console = options.console.unwrap_or(board.default_uart().name);
    let mut files = Vec::new();
    for f in fw.files {
        files.push((f.name().to_owned(), read(package_file(board, f.package, f.path)?)?));
    }
    files.push((fw.config_file.to_owned(), firmware_config(fw, console).into_bytes()));
    let dtb = crate::needs::kernel_package_dtb(fw.dtb)?;
    crate::needs::check_board_tree(board, &dtb)?;
    files.push((fw.dtb_file().to_owned(), read(dtb)?));
    files.push((fw.uboot_file.to_owned(), read(uboot_binary(board)?)?));
    Ok(files)
}

/// The text of the boot firmware's configuration file: a comment saying what wrote it and why, then the board's
/// lines ([`board_support::BootFirmware::config`]). `console` (the hypervisor console's UART name) only changes the
/// comment: one the firmware does not wire to the serial header is named there.
pub fn firmware_config(fw: &BootFirmware, console: &str) -> String {
    let mut text = format!(
        "# Written by hv-static's image-builder: {} reads this at power-on, loads {} as the board's device tree and\n\
         # starts {} (U-Boot) at EL2, which runs boot.scr: that loads {IMAGE_FILE} and starts it.\n",
        fw.what,
        fw.dtb_file(),
        fw.uboot_file
    );
    if !fw.header_uarts.contains(&console) {
        text.push_str(&format!(
            "# hv-static's console is {console}, which this firmware does not put on the serial header (it does {}):\n\
             # its output is only seen where that UART is wired.\n",
            fw.header_uarts.join(", ")
        ));
    }
    for line in fw.config {
        text.push_str(line);
        text.push('\n');
    }
    text
}

/// The card for the hypervisor image `image` on `board`, as bytes. When the board's U-Boot lives on the card, its
/// binary is read from where [`uboot_binary`] finds it; a boot firmware's files ([`firmware_files`]) too.
pub fn card_for(image: &[u8], board: &Board) -> Result<Vec<u8>> {
    card_for_with(image, board, CardOptions::default())
}

/// [`card_for`] with options.
pub fn card_for_with(image: &[u8], board: &Board, options: CardOptions) -> Result<Vec<u8>> {
    let loader = match uboot(board)?.firmware {
        UBootFirmware::OnCard { .. } => {
            let path = uboot_binary(board)?;
            Some(fs::read(&path).map_err(|source| Error::Read { path, source })?)
        }
        UBootFirmware::Bios | UBootFirmware::Soc(_) | UBootFirmware::InUserFile { .. } => None,
    };
    let firmware = firmware_files(board, &options)?;
    card_from_parts(image, board, CardParts { loader: loader.as_deref(), firmware: &firmware }, options)
}

/// What a card holds besides the hypervisor image, its boot script and U-Boot's environment.
#[derive(Clone, Copy, Debug, Default)]
pub struct CardParts<'a> {
    /// The U-Boot binary of a board whose U-Boot lives on the card ([`UBootFirmware::OnCard`]; ignored otherwise).
    pub loader: Option<&'a [u8]>,
    /// A boot firmware's files ([`firmware_files`]), written to the FAT partition first.
    pub firmware: &'a [(String, Vec<u8>)],
}

/// The card for `image` on `board` with `parts`.
pub fn card_from_parts(image: &[u8], board: &Board, parts: CardParts<'_>, options: CardOptions) -> Result<Vec<u8>> {
    let mut files = parts.firmware.to_vec();
    files.extend(card_files_with(image, board, options)?);
    let total: u64 = files.iter().map(|(_, d)| d.len() as u64).sum();
    let loader = match uboot(board)?.firmware {
        UBootFirmware::OnCard { offset } => {
            let bytes = parts.loader.ok_or_else(|| {
                Error::Image(format!("board `{}` boots U-Boot from the card: its binary is needed", board.name))
            })?;
            Some((offset, bytes))
        }
        UBootFirmware::Bios | UBootFirmware::Soc(_) | UBootFirmware::InUserFile { .. } => None,
    };
    card_with_loader(&files, loader, card_size(total), crc32fast::hash(image))
}

/// The fixture cache, where fetch scripts unpack the packages of [`board_support::UBoot::fixture`]:
/// `UBOOT_CACHE/FIXTURE/` then the path the package installs.
pub const UBOOT_CACHE: &str = "tests/fixtures/cache";

/// Where the board's U-Boot binary is: see [`package_file`].
pub fn uboot_binary(board: &Board) -> Result<PathBuf> {
    let u = uboot(board)?;
    package_file(board, u.package, u.binary)
}

/// Where a file of a Debian package the board's card needs (U-Boot's, or its boot firmware's) is: where the package
/// installs it, else the copy the fixture's fetch script unpacked into the workspace's cache
/// ([`board_support::UBoot::fixture`]), which is fetched on first use. An error names both places and the script.
pub fn package_file(board: &Board, package: &str, path: &str) -> Result<PathBuf> {
    let u = uboot(board)?;
    let installed = PathBuf::from(path);
    if installed.is_file() {
        return Ok(installed);
    }
    let Some(dir) = u.fixture else {
        return Err(Error::Image(format!(
            "board `{}` needs {path} from Debian's package {package}: install it (`apt-get install {package}`)",
            board.name
        )));
    };
    let fetched = crate::workspace_root().join(UBOOT_CACHE).join(dir).join(path.trim_start_matches('/'));
    if fetched.is_file() {
        return Ok(fetched);
    }
    // Not installed: the fixture cache has it after its fetch script ran (on first use; as root).
    let fixture = provision::fixtures::for_path(&fetched);
    if let Some(fixture) = fixture {
        provision::fixtures::ensure(&fixture)?;
        if fetched.is_file() {
            return Ok(fetched);
        }
    }
    Err(Error::Image(format!(
        "board `{}` needs {path} from Debian's package {package}, found neither at {} nor at {}: run {} (as root; \
             it fetches the package with apt-get download and unpacks it there)",
        board.name,
        installed.display(),
        crate::display_path(&fetched),
        fixture.map_or_else(|| format!("the fetch script of {UBOOT_CACHE}/{dir}"), |f| f.command()),
    )))
}

/// Writes `out/sdcard.img`: a card that boots the hypervisor image `image` through `board`'s U-Boot. Returns the
/// card's path. An unchanged card is not rewritten.
pub fn write_sdcard(out: &Path, image: &Path, board: &Board) -> Result<PathBuf> {
    write_sdcard_with(out, image, board, CardOptions::default())
}

/// [`write_sdcard`] for a built system: its image, board and console.
pub fn write_built_sdcard(built: &Built) -> Result<PathBuf> {
    let s = &built.prepared.checked.system;
    let options = CardOptions {
        console: Some(s.hypervisor.console.name),
        boot_image: s.boot_image.clone(),
        ..CardOptions::default()
    };
    write_sdcard_with(&built.out_dir, &built.image, s.board, options)
}

/// [`write_sdcard`] with options.
pub fn write_sdcard_with(out: &Path, image: &Path, board: &Board, options: CardOptions) -> Result<PathBuf> {
    let bytes = fs::read(image).map_err(|source| Error::Read { path: image.to_owned(), source })?;
    let card = card_for_with(&bytes, board, options)?;
    let path = out.join(CARD_FILE);
    crate::files::write_if_changed(&path, &card)?;
    Ok(path)
}

/// For a board whose U-Boot keeps its environment in a flash QEMU emulates: writes `out/uboot-env-flash.img`, that
/// flash's contents with [`boot_env`] stored in it (attach it with the flash's [`board_support::QemuFlash`] options,
/// see [`qemu_command`]). U-Boot then skips its autoboot countdown and distro boot's scan, and sources `boot.scr`
/// at once. `None` when the board's U-Boot has no such flash.
pub fn write_env_flash(out: &Path, board: &Board) -> Result<Option<PathBuf>> {
    let u = uboot(board)?;
    let UBootEnv::Flash { addr, qemu_flash: Some(flash), .. } = u.env else { return Ok(None) };
    let env = boot_env_bytes(board)?;
    let at = addr.checked_sub(flash.base).filter(|at| at + env.len() as u64 <= flash.size).ok_or_else(|| {
        Error::Image(format!("U-Boot's environment at {addr:#x} is not inside the flash at {:#x}", flash.base))
    })?;
    let path = out.join(ENV_FLASH_FILE);
    let io = |source| Error::Write { path: path.clone(), source };
    let unchanged = (|| -> io::Result<bool> {
        let mut f = fs::File::open(&path)?;
        if f.metadata()?.len() != flash.size {
            return Ok(false);
        }
        let mut old = vec![0; env.len()];
        f.seek(SeekFrom::Start(at))?;
        f.read_exact(&mut old)?;
        Ok(old == env)
    })()
    .unwrap_or(false);
    if !unchanged {
        fs::create_dir_all(out).map_err(io)?;
        // A sparse file: the rest of the flash reads as zeros.
        let mut f = fs::File::create(&path).map_err(io)?;
        f.set_len(flash.size).map_err(io)?;
        f.seek(SeekFrom::Start(at)).map_err(io)?;
        f.write_all(&env).map_err(io)?;
    }
    Ok(Some(path))
}

/// Whether QEMU can boot `board` from its card, or why not (checked before a run builds anything).
pub fn qemu_runs_card(board: &Board) -> Result<()> {
    match board.uboot.map(|u| u.firmware) {
        Some(UBootFirmware::InUserFile { name, .. }) => Err(Error::Tool(format!(
            "QEMU runs no boot ROM that would start board `{}` from its card (U-Boot is inside your {name}): the card \
             is for the real board; `run` without --sdcard boots the same image in QEMU",
            board.name
        ))),
        Some(_) if board.qemu.is_some() => Ok(()),
        _ => Err(no_card_run(board)),
    }
}

fn no_card_run(board: &Board) -> Error {
    Error::Tool(format!("QEMU does not boot board `{}` through U-Boot", board.name))
}

/// Where a run puts the files of the card that QEMU is given in place of a boot firmware it does not run
/// ([`UBootFirmware::Soc`]): `out/NAME/card-firmware/`.
pub const FIRMWARE_RUN_DIR: &str = "card-firmware";

/// The QEMU command line (program first) that boots `card` through the board's U-Boot, for the built system:
/// as [`crate::qemu::command_line`] but with U-Boot as firmware instead of `-kernel`. With `env_flash` (from
/// [`write_env_flash`]) that flash is attached too. Where a boot firmware on the card would start U-Boot, QEMU
/// starts the card's own U-Boot and device tree instead (read back from the card into [`FIRMWARE_RUN_DIR`]), as
/// `-kernel` and `-dtb`: what the firmware would have loaded.
pub fn qemu_command(built: &Built, card: &Path, env_flash: Option<&Path>) -> Result<Vec<String>> {
    let s = &built.prepared.checked.system;
    let card_path = card;
    let card = crate::display_path(card);
    let mut cmd = s
        .board
        .qemu_uboot_args(&QemuRun { gic: s.gic, cpus: s.smp(), ram_size: s.ram_size, kernel: "" }, &card)
        .ok_or_else(|| qemu_runs_card(s.board).err().unwrap_or_else(|| no_card_run(s.board)))?;
    crate::needs::use_qemu_binary(s.board, &mut cmd);
    if let UBootFirmware::Soc(fw) = uboot(s.board)?.firmware {
        let bytes = fs::read(card_path).map_err(|source| Error::Read { path: card_path.to_owned(), source })?;
        let contents = read_card(&bytes)?;
        let dir = built.out_dir.join(FIRMWARE_RUN_DIR);
        fs::create_dir_all(&dir).map_err(|source| Error::Write { path: dir.clone(), source })?;
        for (option, name) in [("-kernel", fw.uboot_file), ("-dtb", fw.dtb_file())] {
            let data = contents
                .files
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, d)| d)
                .ok_or_else(|| Error::Image(format!("the card has no {name}")))?;
            let path = dir.join(name);
            crate::files::write_if_changed(&path, data)?;
            cmd.extend([option.into(), crate::display_path(&path)]);
        }
    }
    cmd.extend(crate::serials::passthrough_serials(built));
    if let Some(flash_file) = env_flash {
        let u = uboot(s.board)?;
        let UBootEnv::Flash { qemu_flash: Some(flash), .. } = u.env else {
            return Err(Error::Tool(format!("board `{}`: U-Boot's environment is not in a QEMU flash", s.board.name)));
        };
        cmd.extend(flash.qemu_args(&crate::display_path(flash_file)));
    }
    Ok(cmd)
}

/// Reads a card back: its partition table entry 1 and the files at the root of its FAT partition, in directory
/// order, with the volume label. For tests and inspection.
pub fn read_card(card: &[u8]) -> Result<CardContents> {
    let mbr = MBR::read_from(&mut Cursor::new(card), SECTOR as u32)
        .map_err(|e| Error::Image(format!("partition table: {e}")))?;
    let p = mbr[1].clone();
    let start = u64::from(p.starting_lba) * SECTOR;
    let end = start + u64::from(p.sectors) * SECTOR;
    let part = card
        .get(start as usize..end as usize)
        .ok_or_else(|| Error::Image("partition 1 lies beyond the card".into()))?
        .to_vec();
    let fs = FileSystem::new(Cursor::new(part), FsOptions::new().time_provider(&EPOCH))
        .map_err(|e| fat_error("opening the FAT partition", e))?;
    let mut files = Vec::new();
    for entry in fs.root_dir().iter() {
        let entry = entry.map_err(|e| fat_error("reading the root directory", e))?;
        if entry.is_file() {
            let mut data = Vec::new();
            entry.to_file().read_to_end(&mut data).map_err(|e| fat_error("reading a file", e))?;
            files.push((entry.file_name(), data));
        }
    }
    Ok(CardContents {
        bootable: p.boot == BOOT_ACTIVE,
        partition_type: p.sys,
        partition_start: start,
        partition_size: end - start,
        fat_type: fs.fat_type(),
        label: fs.volume_label(),
        files,
    })
}

/// What [`read_card`] found.
#[derive(Debug)]
pub struct CardContents {
    pub bootable: bool,
    pub partition_type: u8,
    pub partition_start: u64,
    pub partition_size: u64,
    pub fat_type: FatType,
    pub label: String,
    pub files: Vec<(String, Vec<u8>)>,
}

#[cfg(test)]
mod tests;
