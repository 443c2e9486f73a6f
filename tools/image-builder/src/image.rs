//! Kernel and hypervisor images: the arm64 `Image` header, recognising file formats, and flattening an ELF into
//! the raw bytes a boot loader copies to memory.

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

/// Largest image this tool flattens: refuses ELFs whose segments span absurd ranges.
const MAX_FLAT_SIZE: u64 = 1 << 30;

/// The fields of the arm64 Image header the builder uses.
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
    Elf,
    Unknown,
}

pub fn sniff(bytes: &[u8]) -> Format {
    if bytes.starts_with(b"\x7fELF") {
        Format::Elf
    } else if header(bytes).is_some() {
        Format::Image
    } else {
        Format::Unknown
    }
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
/// gaps filled with zeros. Segments without file bytes (bss) add nothing.
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
    let mut segs = Vec::new();
    for ph in phdrs {
        if ph.p_type(endian) != elf::PT_LOAD || ph.p_filesz(endian).into() == 0 {
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
