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

use board_support::{Arch, Board, BootCommand, BootDtb, QemuRun, UBoot, UBootEnv, UBootFirmware, MIB};
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

/// The text of `boot.scr` for the board's U-Boot: load the image from the card's partition 1 and start it with
/// the board's device tree. `booti` moves the image itself, so it goes to `kernel_addr_r`; `bootz` runs it where it
/// lies, so it goes to the hypervisor's load address.
pub fn boot_script(board: &Board) -> Result<String> {
    let u = uboot(board)?;
    let addr = match u.boot_command {
        BootCommand::Booti => "${kernel_addr_r}".to_owned(),
        BootCommand::Bootz => format!("{:#x}", board.hv_load_addr),
    };
    Ok(format!(
        "load {iface} {dev}:1 {addr} {IMAGE_FILE}\n{boot} {addr} - ${{{fdt}}}\n",
        iface = u.disk.uboot_interface(),
        dev = u.disk_device,
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
/// - a `bootcmd` that sources `boot.scr` from partition 1, instead of distro boot's scan of every boot source.
///
/// What it leaves out is what makes the default boot slow: `preboot` (`usb start` on sunxi) and a `stdout` that
/// names a video console (probing HDMI): U-Boot then uses the serial console alone.
pub fn boot_env(u: &UBoot, boot_dtb: BootDtb) -> Vec<(&'static str, String)> {
    let dev = format!("{} {}:1", u.disk.uboot_interface(), u.disk_device);
    let mut vars = vec![("bootdelay", "0".into()), ("kernel_addr_r", format!("{:#x}", u.kernel_addr_r))];
    if let Some(fdt) = u.fdt_addr_r {
        vars.push(("fdt_addr_r", format!("{fdt:#x}")));
    }
    vars.push(("scriptaddr", format!("{:#x}", u.scriptaddr)));
    if let BootDtb::UBootBootm { bootm_size } = boot_dtb {
        vars.push(("bootm_size", format!("{bootm_size:#x}")));
    }
    let init = u.disk.uboot_init().map(|c| format!("{c}; ")).unwrap_or_default();
    vars.push(("bootcmd", format!("{init}load {dev} ${{scriptaddr}} {SCRIPT_FILE}; source ${{scriptaddr}}")));
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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CardOptions {
    /// Write the stored environment ([`boot_env`]) when the board's U-Boot reads one from the card. Without it
    /// U-Boot boots with its default environment (the countdown, then distro boot).
    pub stored_env: bool,
}

impl Default for CardOptions {
    fn default() -> Self {
        Self { stored_env: true }
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

/// The card for the hypervisor image `image` on `board`, as bytes. When the board's U-Boot lives on the card, its
/// binary is read from where [`uboot_binary`] finds it.
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
        UBootFirmware::Bios => None,
    };
    card_from_parts(image, board, loader.as_deref(), options)
}

/// The card for `image` on `board` with `loader` as the U-Boot binary of a board whose U-Boot lives on the card
/// (ignored otherwise).
pub fn card_from_parts(image: &[u8], board: &Board, loader: Option<&[u8]>, options: CardOptions) -> Result<Vec<u8>> {
    let files = card_files_with(image, board, options)?;
    let total: u64 = files.iter().map(|(_, d)| d.len() as u64).sum();
    let loader = match uboot(board)?.firmware {
        UBootFirmware::OnCard { offset } => {
            let bytes = loader.ok_or_else(|| {
                Error::Image(format!("board `{}` boots U-Boot from the card: its binary is needed", board.name))
            })?;
            Some((offset, bytes))
        }
        UBootFirmware::Bios => None,
    };
    card_with_loader(&files, loader, card_size(total), crc32fast::hash(image))
}

/// The script that fetches the U-Boot binaries Debian packages for another architecture than the host's, into
/// [`UBOOT_CACHE`] (relative to the workspace).
pub const UBOOT_FETCH_SCRIPT: &str = "tests/fixtures/fetch-uboot-sunxi.sh";
/// Where [`UBOOT_FETCH_SCRIPT`] unpacks a package: `UBOOT_CACHE/PACKAGE/` then the path the package installs.
pub const UBOOT_CACHE: &str = "tests/fixtures/cache";

/// Where the board's U-Boot binary is: where its Debian package installs it, else the copy the fetch script
/// unpacked into the workspace's cache. An error names both places and the script.
pub fn uboot_binary(board: &Board) -> Result<PathBuf> {
    let u = uboot(board)?;
    let installed = PathBuf::from(u.binary);
    let fetched = crate::workspace_root().join(UBOOT_CACHE).join(u.package).join(u.binary.trim_start_matches('/'));
    if installed.is_file() {
        return Ok(installed);
    }
    if fetched.is_file() {
        return Ok(fetched);
    }
    // Not installed: the fixture cache has it after its fetch script ran (on first use; as root).
    if let Some(fixture) = provision::fixtures::for_path(&fetched) {
        provision::fixtures::ensure(&fixture)?;
        if fetched.is_file() {
            return Ok(fetched);
        }
    }
    Err(Error::Image(format!(
        "board `{}` needs U-Boot from Debian's package {} ({}), found neither at {} nor at {}: run {} (as root; \
             it fetches the armhf package with apt-get download and unpacks it there)",
        board.name,
        u.package,
        u.binary,
        installed.display(),
        crate::display_path(&fetched),
        UBOOT_FETCH_SCRIPT
    )))
}

/// Writes `out/sdcard.img`: a card that boots the hypervisor image `image` through `board`'s U-Boot. Returns the
/// card's path. An unchanged card is not rewritten.
pub fn write_sdcard(out: &Path, image: &Path, board: &Board) -> Result<PathBuf> {
    write_sdcard_with(out, image, board, CardOptions::default())
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

/// The QEMU command line (program first) that boots `card` through the board's U-Boot, for the built system:
/// as [`crate::qemu::command_line`] but with U-Boot as firmware instead of `-kernel`. With `env_flash` (from
/// [`write_env_flash`]) that flash is attached too.
pub fn qemu_command(built: &Built, card: &Path, env_flash: Option<&Path>) -> Result<Vec<String>> {
    let s = &built.prepared.checked.system;
    let card = crate::display_path(card);
    let mut cmd = s
        .board
        .qemu_uboot_args(&QemuRun { gic: s.gic, cpus: s.smp(), ram_size: s.ram_size, kernel: "" }, &card)
        .ok_or_else(|| Error::Tool(format!("QEMU does not boot board `{}` through U-Boot", s.board.name)))?;
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
