//! Kernel and hypervisor images: the arm64 `Image` and ARM `zImage` headers, recognising file formats, and
//! flattening an ELF into the raw bytes a boot loader copies to memory.

use board_support::Arch;
use object::elf;
use object::read::elf::{FileHeader, ProgramHeader};
use object::{Object, ObjectSymbol};

/// Offset and value of the arm64 Image magic (`ARM\x64`, Linux Documentation/arch/arm64/booting.rst).
pub const IMAGE_MAGIC_OFFSET: usize = 56;
pub const IMAGE_MAGIC: [u8; 4] = *b"ARM\x64";
/// Length of the arm64 Image header.
pub const IMAGE_HEADER_LEN: usize = 64;
const TEXT_OFFSET: std::ops::Range<usize> = 8..16;
const IMAGE_SIZE: std::ops::Range<usize> = 16..24;

/// Offset and value of the ARM zImage magic (Linux arch/arm/boot/compressed/head.S), a little-endian word.
pub const ZIMAGE_MAGIC_OFFSET: usize = 0x24;
pub const ZIMAGE_MAGIC: u32 = 0x016F_2818;
/// The zImage header's start and end fields: where the image's bytes start and end, relative to its load address.
const ZIMAGE_START: std::ops::Range<usize> = 0x28..0x2C;
const ZIMAGE_END: std::ops::Range<usize> = 0x2C..0x30;
/// Length of the zImage header (up to the endianness flag at 0x30).
pub const ZIMAGE_HEADER_LEN: usize = 0x34;
/// Where ARM boot loaders put a zImage above the start of RAM (Linux's `TEXT_OFFSET`), and so where a partition's
/// zImage goes.
pub const ZIMAGE_TEXT_OFFSET: u64 = 0x8000;
/// Bytes to read from a kernel file to recognise its format and read its header: the longer of the two headers.
pub const HEADER_PROBE_LEN: usize = IMAGE_HEADER_LEN;

/// Largest image this tool flattens: refuses ELFs whose segments span absurd ranges.
const MAX_FLAT_SIZE: u64 = 1 << 30;

/// What the builder takes from a kernel's header (an arm64 Image's, or a zImage's, see [`zimage_header`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageHeader {
    /// Where the image goes above a 2 MiB-aligned base of RAM.
    pub text_offset: u64,
    /// Bytes the image needs from its load address, including bss (0: unknown, old kernels).
    pub image_size: u64,
}

/// What a kernel file looks like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// An arm64 Image (raw, with the header).
    Image,
    /// An ARM zImage (raw, with the header).
    ZImage,
    Elf,
    Unknown,
}

pub fn sniff(bytes: &[u8]) -> Format {
    if bytes.starts_with(b"\x7fELF") {
        Format::Elf
    } else if header(bytes).is_some() {
        Format::Image
    } else if zimage_header(bytes).is_some() {
        Format::ZImage
    } else {
        Format::Unknown
    }
}

/// The boot image format of an architecture's boot protocol: what partition kernels and the hypervisor image are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BootFormat {
    /// An arm64 `Image` (Linux Documentation/arch/arm64/booting.rst).
    Arm64Image,
    /// An ARM `zImage` (Linux Documentation/arch/arm/booting.rst).
    ZImage,
}

impl BootFormat {
    pub const fn of(arch: Arch) -> BootFormat {
        match arch {
            Arch::Aarch64 => BootFormat::Arm64Image,
            Arch::Aarch32 => BootFormat::ZImage,
        }
    }

    /// The raw format [`sniff`] reports for it.
    pub const fn format(self) -> Format {
        match self {
            BootFormat::Arm64Image => Format::Image,
            BootFormat::ZImage => Format::ZImage,
        }
    }

    /// `an arm64 Image`, `an ARM zImage`.
    pub const fn name(self) -> &'static str {
        match self {
            BootFormat::Arm64Image => "an arm64 Image",
            BootFormat::ZImage => "an ARM zImage",
        }
    }

    /// Where the header's magic is, in words.
    pub const fn magic(self) -> &'static str {
        match self {
            BootFormat::Arm64Image => "the magic \"ARM\\x64\" at offset 56",
            BootFormat::ZImage => "the magic 0x016F2818 at offset 0x24",
        }
    }

    /// The header, when `bytes` starts with one of this format.
    pub fn header(self, bytes: &[u8]) -> Option<ImageHeader> {
        match self {
            BootFormat::Arm64Image => header(bytes),
            BootFormat::ZImage => zimage_header(bytes),
        }
    }
}

impl Format {
    /// The boot format of a raw kernel of this format.
    pub const fn boot_format(self) -> Option<BootFormat> {
        match self {
            Format::Image => Some(BootFormat::Arm64Image),
            Format::ZImage => Some(BootFormat::ZImage),
            Format::Elf | Format::Unknown => None,
        }
    }
}

fn le_u32(bytes: &[u8]) -> u32 {
    let mut b = [0; 4];
    b.copy_from_slice(bytes);
    u32::from_le_bytes(b)
}

/// A zImage's header, in the builder's terms, when `bytes` starts with one: it goes at [`ZIMAGE_TEXT_OFFSET`] and
/// occupies its end field's worth of bytes from there (a bare-metal guest puts its whole size there, bss
/// included; the layout takes the file's size when that is larger).
pub fn zimage_header(bytes: &[u8]) -> Option<ImageHeader> {
    if bytes.len() < ZIMAGE_HEADER_LEN || le_u32(&bytes[ZIMAGE_MAGIC_OFFSET..ZIMAGE_MAGIC_OFFSET + 4]) != ZIMAGE_MAGIC {
        return None;
    }
    Some(ImageHeader { text_offset: ZIMAGE_TEXT_OFFSET, image_size: u64::from(le_u32(&bytes[ZIMAGE_END])) })
}

/// A zImage header's start field (0 for Linux's and hv-static's images).
pub fn zimage_start(bytes: &[u8]) -> Option<u32> {
    zimage_header(bytes).map(|_| le_u32(&bytes[ZIMAGE_START]))
}

/// Writes a zImage header's end field: how many bytes from the load address the image occupies.
pub fn set_zimage_end(bytes: &mut [u8], end: u32) {
    bytes[ZIMAGE_END].copy_from_slice(&end.to_le_bytes());
}

fn le_u64(bytes: &[u8]) -> u64 {
    let mut b = [0; 8];
    b.copy_from_slice(bytes);
    u64::from_le_bytes(b)
}

/// The Image header, when `bytes` starts with one.
pub fn header(bytes: &[u8]) -> Option<ImageHeader> {
    if bytes.len() < IMAGE_HEADER_LEN || bytes[IMAGE_MAGIC_OFFSET..IMAGE_MAGIC_OFFSET + 4] != IMAGE_MAGIC {
        return None;
    }
    Some(ImageHeader { text_offset: le_u64(&bytes[TEXT_OFFSET]), image_size: le_u64(&bytes[IMAGE_SIZE]) })
}

/// Writes the header's `image_size` field.
pub fn set_image_size(bytes: &mut [u8], size: u64) {
    bytes[IMAGE_SIZE].copy_from_slice(&size.to_le_bytes());
}

/// Why a file is not a kernel of the boot format wanted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotKernel {
    /// A kernel of the other format: the file itself, or the ELF once flattened (`elf`).
    OtherFormat { found: BootFormat, elf: bool },
    /// An ELF whose flattened image starts with neither header.
    ElfWithoutHeader,
    /// An ELF that cannot be flattened.
    BadElf(String),
    /// Neither an image nor an ELF.
    Unknown,
}

/// A kernel of format `want` from a file's bytes: a raw image as it is, an ELF flattened. Returns the bytes to
/// load and their header.
pub fn read_kernel(bytes: Vec<u8>, want: BootFormat) -> Result<(Vec<u8>, ImageHeader), NotKernel> {
    let (bytes, elf) = match sniff(&bytes) {
        Format::Elf => (flatten(&bytes).map_err(NotKernel::BadElf)?.bytes, true),
        _ => (bytes, false),
    };
    if let Some(header) = want.header(&bytes) {
        return Ok((bytes, header));
    }
    match sniff(&bytes).boot_format() {
        Some(found) => Err(NotKernel::OtherFormat { found, elf }),
        None if elf => Err(NotKernel::ElfWithoutHeader),
        None => Err(NotKernel::Unknown),
    }
}

/// An ELF's loadable bytes laid out from its lowest physical load address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flat {
    pub bytes: Vec<u8>,
    /// Physical (load) address of `bytes[0]`.
    pub paddr: u64,
    /// Virtual address of `bytes[0]` (the segment with the lowest physical address).
    pub vaddr: u64,
}

/// Flattens an ELF: the file bytes of every `PT_LOAD` segment, placed by physical address from the lowest one,
/// gaps filled with zeros. Segments without file bytes (bss) add nothing, and neither does a segment holding only
/// the ELF and program headers (lld loads them in a segment of their own when the first section leaves room below
/// it, as a guest linked at RAM base + 0x8000 does): they are not part of the image a boot loader runs.
pub fn flatten(data: &[u8]) -> Result<Flat, String> {
    // e_ident[EI_CLASS]: 1 = 32-bit, 2 = 64-bit.
    match data.get(4) {
        Some(2) => flatten_as::<elf::FileHeader64<object::Endianness>>(data),
        Some(1) => flatten_as::<elf::FileHeader32<object::Endianness>>(data),
        _ => Err("not an ELF file".into()),
    }
}

fn flatten_as<E: FileHeader<Endian = object::Endianness>>(data: &[u8]) -> Result<Flat, String> {
    let hdr = E::parse(data).map_err(|e| format!("bad ELF header: {e}"))?;
    let endian = hdr.endian().map_err(|e| format!("bad ELF header: {e}"))?;
    let phdrs = hdr.program_headers(endian, data).map_err(|e| format!("bad program headers: {e}"))?;
    let headers_end = hdr.e_phoff(endian).into() + phdrs.len() as u64 * u64::from(hdr.e_phentsize(endian));
    let mut segs = Vec::new();
    for ph in phdrs {
        let (offset, filesz): (u64, u64) = (ph.p_offset(endian).into(), ph.p_filesz(endian).into());
        if ph.p_type(endian) != elf::PT_LOAD || filesz == 0 || (offset == 0 && filesz <= headers_end) {
            continue;
        }
        let bytes = ph.data(endian, data).map_err(|_| "a PT_LOAD segment lies outside the file".to_string())?;
        segs.push((ph.p_paddr(endian).into(), ph.p_vaddr(endian).into(), bytes));
    }
    let Some(&(paddr, vaddr, _)) = segs.iter().min_by_key(|s| s.0) else {
        return Err("the ELF has no loadable segment with contents".into());
    };
    let end = segs
        .iter()
        .map(|(p, _, b)| p.checked_add(b.len() as u64))
        .try_fold(paddr, |acc, e| e.map(|e| acc.max(e)))
        .ok_or("a segment's physical address range overflows")?;
    if end - paddr > MAX_FLAT_SIZE {
        return Err(format!(
            "loadable segments span {:#x}..{end:#x}, more than {} bytes: is the ELF linked at one load address?",
            paddr, MAX_FLAT_SIZE
        ));
    }
    let mut bytes = vec![0u8; (end - paddr) as usize];
    for (p, _, b) in segs {
        let off = (p - paddr) as usize;
        bytes[off..off + b.len()].copy_from_slice(b);
    }
    Ok(Flat { bytes, paddr, vaddr })
}

/// The value of an ELF symbol, if the file has it.
pub fn symbol(data: &[u8], name: &str) -> Result<Option<u64>, String> {
    let file = object::File::parse(data).map_err(|e| format!("bad ELF: {e}"))?;
    Ok(file.symbols().find(|s| s.name() == Ok(name)).map(|s| s.address()))
}

#[cfg(test)]
pub(crate) mod testelf {
    //! A minimal ELF64 writer for tests: program headers, and optionally a symbol table.

    /// Segment: (type, paddr, vaddr, file bytes, memsz).
    pub struct Seg {
        pub p_type: u32,
        pub paddr: u64,
        pub vaddr: u64,
        pub data: Vec<u8>,
        pub memsz: u64,
    }

    pub fn load(paddr: u64, data: Vec<u8>) -> Seg {
        let memsz = data.len() as u64;
        Seg { p_type: 1, paddr, vaddr: paddr, data, memsz }
    }

    fn put(out: &mut Vec<u8>, at: usize, bytes: &[u8]) {
        if out.len() < at + bytes.len() {
            out.resize(at + bytes.len(), 0);
        }
        out[at..at + bytes.len()].copy_from_slice(bytes);
    }

    /// An AArch64 little-endian executable with these segments and symbols.
    pub fn build(segs: &[Seg], symbols: &[(&str, u64)]) -> Vec<u8> {
        let mut out = vec![0u8; 64];
        out[..4].copy_from_slice(b"\x7fELF");
        out[4] = 2; // 64-bit
        out[5] = 1; // little-endian
        out[6] = 1; // version
        put(&mut out, 16, &2u16.to_le_bytes()); // ET_EXEC
        put(&mut out, 18, &183u16.to_le_bytes()); // EM_AARCH64
        put(&mut out, 20, &1u32.to_le_bytes());
        put(&mut out, 32, &64u64.to_le_bytes()); // e_phoff
        put(&mut out, 52, &64u16.to_le_bytes()); // e_ehsize
        put(&mut out, 54, &56u16.to_le_bytes()); // e_phentsize
        put(&mut out, 56, &(segs.len() as u16).to_le_bytes());
        put(&mut out, 58, &64u16.to_le_bytes()); // e_shentsize
        let mut data_off = 64 + 56 * segs.len();
        for (i, s) in segs.iter().enumerate() {
            let ph = 64 + 56 * i;
            put(&mut out, ph, &s.p_type.to_le_bytes());
            put(&mut out, ph + 4, &5u32.to_le_bytes());
            put(&mut out, ph + 8, &(data_off as u64).to_le_bytes());
            put(&mut out, ph + 16, &s.vaddr.to_le_bytes());
            put(&mut out, ph + 24, &s.paddr.to_le_bytes());
            put(&mut out, ph + 32, &(s.data.len() as u64).to_le_bytes());
            put(&mut out, ph + 40, &s.memsz.to_le_bytes());
            put(&mut out, ph + 48, &8u64.to_le_bytes());
            put(&mut out, data_off, &s.data);
            data_off += s.data.len();
        }
        if symbols.is_empty() {
            return out;
        }
        // .strtab, .symtab, .shstrtab, then section headers: null, .symtab, .strtab, .shstrtab.
        let mut strtab = vec![0u8];
        let mut syms = vec![0u8; 24];
        for (name, value) in symbols {
            let mut sym = [0u8; 24];
            sym[..4].copy_from_slice(&(strtab.len() as u32).to_le_bytes());
            sym[4] = 0x10; // STB_GLOBAL, STT_NOTYPE
            sym[6..8].copy_from_slice(&0xfff1u16.to_le_bytes()); // SHN_ABS
            sym[8..16].copy_from_slice(&value.to_le_bytes());
            syms.extend_from_slice(&sym);
            strtab.extend_from_slice(name.as_bytes());
            strtab.push(0);
        }
        let shstrtab = b"\0.symtab\0.strtab\0.shstrtab\0".to_vec();
        let strtab_off = out.len();
        out.extend_from_slice(&strtab);
        while !out.len().is_multiple_of(8) {
            out.push(0);
        }
        let symtab_off = out.len();
        out.extend_from_slice(&syms);
        let shstr_off = out.len();
        out.extend_from_slice(&shstrtab);
        while !out.len().is_multiple_of(8) {
            out.push(0);
        }
        let shoff = out.len();
        let section = |name: u32, ty: u32, off: usize, size: usize, link: u32, info: u32, entsize: u64| {
            let mut sh = [0u8; 64];
            sh[..4].copy_from_slice(&name.to_le_bytes());
            sh[4..8].copy_from_slice(&ty.to_le_bytes());
            sh[24..32].copy_from_slice(&(off as u64).to_le_bytes());
            sh[32..40].copy_from_slice(&(size as u64).to_le_bytes());
            sh[40..44].copy_from_slice(&link.to_le_bytes());
            sh[44..48].copy_from_slice(&info.to_le_bytes());
            sh[48..56].copy_from_slice(&1u64.to_le_bytes());
            sh[56..64].copy_from_slice(&entsize.to_le_bytes());
            sh
        };
        out.extend_from_slice(&[0u8; 64]);
        out.extend_from_slice(&section(1, 2, symtab_off, syms.len(), 2, 1, 24));
        out.extend_from_slice(&section(9, 3, strtab_off, strtab.len(), 0, 0, 0));
        out.extend_from_slice(&section(17, 3, shstr_off, shstrtab.len(), 0, 0, 0));
        put(&mut out, 40, &(shoff as u64).to_le_bytes()); // e_shoff
        put(&mut out, 60, &4u16.to_le_bytes()); // e_shnum
        put(&mut out, 62, &3u16.to_le_bytes()); // e_shstrndx
        out
    }

    /// A zImage header (eight `mov r0, r0`, a branch, magic, start 0, `end`, the endianness flag) followed by `body`.
    pub fn zimage(end: u32, body: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        for _ in 0..8 {
            v.extend_from_slice(&0xe1a0_0000u32.to_le_bytes());
        }
        v.extend_from_slice(&0xea00_0002u32.to_le_bytes());
        v.extend_from_slice(&0x016f_2818u32.to_le_bytes());
        v.extend_from_slice(&0u32.to_le_bytes());
        v.extend_from_slice(&end.to_le_bytes());
        v.extend_from_slice(&0x0403_0201u32.to_le_bytes());
        v.extend_from_slice(body);
        v
    }

    /// A 64-byte arm64 Image header followed by `body`.
    pub fn image(text_offset: u64, image_size: u64, body: &[u8]) -> Vec<u8> {
        let mut v = vec![0u8; 64];
        v[8..16].copy_from_slice(&text_offset.to_le_bytes());
        v[16..24].copy_from_slice(&image_size.to_le_bytes());
        v[56..60].copy_from_slice(b"ARM\x64");
        v.extend_from_slice(body);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::testelf::*;
    use super::*;

    #[test]
    fn header_fields() {
        let img = image(0x8_0000, 0x12_3000, b"body");
        assert_eq!(sniff(&img), Format::Image);
        assert_eq!(header(&img), Some(ImageHeader { text_offset: 0x8_0000, image_size: 0x12_3000 }));
        let mut img = img;
        set_image_size(&mut img, 0x40_0000);
        assert_eq!(header(&img).unwrap().image_size, 0x40_0000);
        assert_eq!(sniff(b"hello"), Format::Unknown);
        assert_eq!(sniff(&[0u8; 100]), Format::Unknown);
        assert_eq!(header(&img[..60]), None);
    }

    #[test]
    fn zimage_header_fields() {
        let img = zimage(0x1_2340, b"body");
        assert_eq!(sniff(&img), Format::ZImage);
        assert_eq!(zimage_header(&img), Some(ImageHeader { text_offset: 0x8000, image_size: 0x1_2340 }));
        assert_eq!(zimage_start(&img), Some(0));
        assert_eq!(header(&img), None);
        assert_eq!(BootFormat::ZImage.header(&img), zimage_header(&img));
        assert_eq!(BootFormat::Arm64Image.header(&img), None);
        let mut img = img;
        set_zimage_end(&mut img, 0x21_a000);
        assert_eq!(zimage_header(&img).unwrap().image_size, 0x21_a000);
        assert_eq!(zimage_header(&img[..0x30]), None);
        // An arm64 Image is not a zImage, and the other way round.
        let arm64 = image(0x8_0000, 0x1000, b"");
        assert_eq!(zimage_header(&arm64), None);
        assert_eq!(BootFormat::of(Arch::Aarch32), BootFormat::ZImage);
        assert_eq!(BootFormat::of(Arch::Aarch64).format(), Format::Image);
        assert_eq!(Format::ZImage.boot_format(), Some(BootFormat::ZImage));
    }

    #[test]
    fn kernels_of_either_format() {
        let z = zimage(0x9000, &[1; 16]);
        let a = image(0x8_0000, 0x10_0000, &[2; 16]);
        assert_eq!(read_kernel(z.clone(), BootFormat::ZImage), Ok((z.clone(), zimage_header(&z).unwrap())));
        assert_eq!(read_kernel(a.clone(), BootFormat::Arm64Image), Ok((a.clone(), header(&a).unwrap())));
        let other = |found| Err(NotKernel::OtherFormat { found, elf: false });
        assert_eq!(read_kernel(z.clone(), BootFormat::Arm64Image), other(BootFormat::ZImage));
        assert_eq!(read_kernel(a.clone(), BootFormat::ZImage), other(BootFormat::Arm64Image));
        // ELFs are flattened first.
        let z_elf = build(&[load(0x4000_8000, z.clone())], &[]);
        assert_eq!(read_kernel(z_elf.clone(), BootFormat::ZImage).unwrap().0, z);
        assert_eq!(
            read_kernel(z_elf, BootFormat::Arm64Image),
            Err(NotKernel::OtherFormat { found: BootFormat::ZImage, elf: true })
        );
        let plain = build(&[load(0x4000_8000, vec![7; 64])], &[]);
        assert_eq!(read_kernel(plain, BootFormat::ZImage), Err(NotKernel::ElfWithoutHeader));
        assert_eq!(read_kernel(b"text".to_vec(), BootFormat::ZImage), Err(NotKernel::Unknown));
        assert!(matches!(read_kernel(b"\x7fELF\x02".to_vec(), BootFormat::ZImage), Err(NotKernel::BadElf(_))));
    }

    #[test]
    fn flatten_orders_by_paddr_and_fills_gaps() {
        let img = image(0x20_0000, 0, &[0xAA; 8]);
        let elf = build(
            &[
                load(0x4020_1000, vec![1, 2, 3, 4]),
                load(0x4020_0000, img.clone()),
                // bss: no file bytes, ignored
                Seg { p_type: 1, paddr: 0x4030_0000, vaddr: 0x4030_0000, data: vec![], memsz: 0x1000 },
                // not PT_LOAD: ignored
                Seg { p_type: 4, paddr: 0x5000_0000, vaddr: 0x5000_0000, data: vec![9; 4], memsz: 4 },
            ],
            &[],
        );
        assert_eq!(sniff(&elf), Format::Elf);
        let flat = flatten(&elf).unwrap();
        assert_eq!(flat.paddr, 0x4020_0000);
        assert_eq!(flat.vaddr, 0x4020_0000);
        assert_eq!(flat.bytes.len(), 0x1004);
        assert_eq!(&flat.bytes[..img.len()], &img[..]);
        assert!(flat.bytes[img.len()..0x1000].iter().all(|b| *b == 0));
        assert_eq!(&flat.bytes[0x1000..], &[1, 2, 3, 4]);
        assert_eq!(sniff(&flat.bytes), Format::Image);
    }

    #[test]
    fn flatten_leaves_out_a_segment_of_headers_only() {
        let z = zimage(0x100, &[5; 32]);
        // The headers (64 + 2 * 56 bytes) loaded at 0x4000_0000 from file offset 0, then the image at 0x4000_8000.
        let mut elf = build(&[load(0x4000_0000, vec![]), load(0x4000_8000, z.clone())], &[]);
        let headers = 64 + 2 * 56;
        // Segment 0: offset 0, filesz = memsz = the headers.
        elf[64 + 8..64 + 16].copy_from_slice(&0u64.to_le_bytes());
        elf[64 + 32..64 + 40].copy_from_slice(&(headers as u64).to_le_bytes());
        elf[64 + 40..64 + 48].copy_from_slice(&(headers as u64).to_le_bytes());
        let flat = flatten(&elf).unwrap();
        assert_eq!((flat.paddr, flat.bytes), (0x4000_8000, z));
    }

    #[test]
    fn flatten_refuses_nonsense() {
        assert!(flatten(b"not an elf").is_err());
        assert!(flatten(&build(&[], &[])).unwrap_err().contains("no loadable segment"));
        let far = build(&[load(0, vec![1]), load(0x1_0000_0000, vec![2])], &[]);
        assert!(flatten(&far).unwrap_err().contains("span"));
    }

    #[test]
    fn symbols() {
        let elf = build(&[load(0x4020_0000, vec![0; 16])], &[("__hv_end", 0x4030_0000), ("other", 1)]);
        assert_eq!(symbol(&elf, "__hv_end"), Ok(Some(0x4030_0000)));
        assert_eq!(symbol(&elf, "missing"), Ok(None));
    }
}
