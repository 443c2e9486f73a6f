//! U-Boot's legacy image format: a 64-byte big-endian header in front of the data, as `mkimage` writes it and
//! `source` / `bootm` read it.
//!
//! Header fields, in order (all integers big-endian):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | magic `0x2705_1956` |
//! | 4 | 4 | CRC-32 of the 64 header bytes with this field zero |
//! | 8 | 4 | creation time, seconds since 1970 (always 0 here, so images are reproducible) |
//! | 12 | 4 | data size |
//! | 16 | 4 | load address |
//! | 20 | 4 | entry point |
//! | 24 | 4 | CRC-32 of the data |
//! | 28 | 1 | operating system |
//! | 29 | 1 | CPU architecture |
//! | 30 | 1 | image type |
//! | 31 | 1 | compression |
//! | 32 | 32 | name, NUL-padded (not terminated when 32 bytes long) |
//!
//! A script image's data is a table of lengths, one big-endian `u32` per part and a `u32` 0 ending it, then the
//! parts. [`script`] writes one part: the script text.

/// The header's magic number.
pub const MAGIC: u32 = 0x2705_1956;
/// Size of the header.
pub const HEADER_LEN: usize = 64;
/// Size of the name field.
pub const NAME_LEN: usize = 32;

/// Operating system codes (the subset used here).
pub mod os {
    pub const LINUX: u8 = 5;
}

/// CPU architecture codes (the subset used here).
pub mod arch {
    pub const ARM: u8 = 2;
    pub const ARM64: u8 = 22;
}

/// Image type codes (the subset used here).
pub mod kind {
    pub const KERNEL: u8 = 2;
    pub const SCRIPT: u8 = 6;
}

/// Compression codes (the subset used here).
pub mod compression {
    pub const NONE: u8 = 0;
}

/// The fields of a legacy image header a caller chooses (the CRCs and the size are computed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub time: u32,
    pub load: u32,
    pub entry: u32,
    pub os: u8,
    pub arch: u8,
    pub kind: u8,
    pub compression: u8,
    /// At most [`NAME_LEN`] bytes are kept.
    pub name: Vec<u8>,
}

impl Header {
    /// The header of a script for `arch`, as `mkimage -A ARCH -O linux -T script -C none` with
    /// `SOURCE_DATE_EPOCH=0` writes it.
    pub fn script(arch: u8) -> Header {
        Header {
            time: 0,
            load: 0,
            entry: 0,
            os: os::LINUX,
            arch,
            kind: kind::SCRIPT,
            compression: compression::NONE,
            name: Vec::new(),
        }
    }

    /// The 64 header bytes for `data`.
    pub fn encode(&self, data: &[u8]) -> Result<[u8; HEADER_LEN], String> {
        let size = u32::try_from(data.len())
            .map_err(|_| format!("{} bytes do not fit a U-Boot legacy image (4 GiB at most)", data.len()))?;
        let mut h = [0u8; HEADER_LEN];
        h[0..4].copy_from_slice(&MAGIC.to_be_bytes());
        // 4..8: header CRC, filled in last.
        h[8..12].copy_from_slice(&self.time.to_be_bytes());
        h[12..16].copy_from_slice(&size.to_be_bytes());
        h[16..20].copy_from_slice(&self.load.to_be_bytes());
        h[20..24].copy_from_slice(&self.entry.to_be_bytes());
        h[24..28].copy_from_slice(&crc32fast::hash(data).to_be_bytes());
        h[28] = self.os;
        h[29] = self.arch;
        h[30] = self.kind;
        h[31] = self.compression;
        let name = &self.name[..self.name.len().min(NAME_LEN)];
        h[32..32 + name.len()].copy_from_slice(name);
        let hcrc = crc32fast::hash(&h);
        h[4..8].copy_from_slice(&hcrc.to_be_bytes());
        Ok(h)
    }

    /// Header followed by `data`.
    pub fn image(&self, data: &[u8]) -> Result<Vec<u8>, String> {
        let mut out = Vec::with_capacity(HEADER_LEN + data.len());
        out.extend_from_slice(&self.encode(data)?);
        out.extend_from_slice(data);
        Ok(out)
    }

    /// Reads and checks an image: both CRCs, the size, the magic. Returns the header and the data.
    pub fn parse(image: &[u8]) -> Result<(Header, &[u8]), String> {
        if image.len() < HEADER_LEN {
            return Err(format!("{} bytes: shorter than a U-Boot image header", image.len()));
        }
        let be = |at: usize| u32::from_be_bytes([image[at], image[at + 1], image[at + 2], image[at + 3]]);
        if be(0) != MAGIC {
            return Err(format!("bad magic {:#010x}", be(0)));
        }
        let mut h = [0u8; HEADER_LEN];
        h.copy_from_slice(&image[..HEADER_LEN]);
        h[4..8].fill(0);
        if crc32fast::hash(&h) != be(4) {
            return Err("bad header CRC".into());
        }
        let size = be(12) as usize;
        let data = image.get(HEADER_LEN..HEADER_LEN + size).ok_or_else(|| {
            format!("data size {size} exceeds the {} bytes after the header", image.len() - HEADER_LEN)
        })?;
        if crc32fast::hash(data) != be(24) {
            return Err("bad data CRC".into());
        }
        let name = &image[32..HEADER_LEN];
        let name = name[..name.iter().position(|&b| b == 0).unwrap_or(NAME_LEN)].to_vec();
        let header = Header {
            time: be(8),
            load: be(16),
            entry: be(20),
            os: image[28],
            arch: image[29],
            kind: image[30],
            compression: image[31],
            name,
        };
        Ok((header, data))
    }
}

/// A script image (`boot.scr`) holding `text`, for a U-Boot running on `arch`: the same bytes as
/// `SOURCE_DATE_EPOCH=0 mkimage -A arm64 -O linux -T script -C none -d boot.cmd boot.scr` (for `arch::ARM64`).
pub fn script(arch: u8, text: &str) -> Result<Vec<u8>, String> {
    let len = u32::try_from(text.len()).map_err(|_| "script longer than 4 GiB".to_string())?;
    let mut data = Vec::with_capacity(8 + text.len());
    data.extend_from_slice(&len.to_be_bytes());
    data.extend_from_slice(&0u32.to_be_bytes());
    data.extend_from_slice(text.as_bytes());
    Header::script(arch).image(&data)
}

/// The script text of a script image, checked.
pub fn script_text(image: &[u8]) -> Result<&str, String> {
    let (header, data) = Header::parse(image)?;
    if header.kind != kind::SCRIPT {
        return Err(format!("image type {} is not a script ({})", header.kind, kind::SCRIPT));
    }
    let be = |at: usize| data.get(at..at + 4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
    let len = be(0).ok_or("script data shorter than its length table")? as usize;
    if be(4) != Some(0) {
        return Err("script images with more than one part are not supported".into());
    }
    let text = data.get(8..8 + len).ok_or("script length exceeds the data")?;
    std::str::from_utf8(text).map_err(|e| format!("script is not UTF-8: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    /// `printf 'echo hi\n' > t.cmd; SOURCE_DATE_EPOCH=0 mkimage -A arm64 -O linux -T script -C none -d t.cmd t.scr`
    /// with Debian's u-boot-tools 2023.01, as `xxd -p t.scr` shows it.
    const ECHO_HI: &str = "
        27051956 a52b4fa3 00000000 00000010 00000000 00000000 d9340162 05160600
        00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000
        00000008 00000000 6563686f 2068690a";

    #[test]
    fn a_tiny_script_matches_mkimage_byte_for_byte() {
        assert_eq!(script(arch::ARM64, "echo hi\n").unwrap(), hex(ECHO_HI));
    }

    #[test]
    fn round_trip_and_checks() {
        let img = script(arch::ARM64, "echo hi\n").unwrap();
        assert_eq!(script_text(&img).unwrap(), "echo hi\n");
        let (h, data) = Header::parse(&img).unwrap();
        assert_eq!(h, Header::script(arch::ARM64));
        assert_eq!(data.len(), 16);
        for at in [0, 5, 13, 40, 70] {
            let mut bad = img.clone();
            bad[at] ^= 1;
            assert!(Header::parse(&bad).is_err(), "flipping a bit at {at} went unnoticed");
        }
        assert!(Header::parse(&img[..63]).is_err());
        assert!(Header::parse(&img[..img.len() - 1]).is_err());
    }

    #[test]
    fn names_are_cut_at_32_bytes_without_terminator() {
        let h =
            Header { name: b"a very long name that exceeds thirty-two bytes".to_vec(), ..Header::script(arch::ARM64) };
        let bytes = h.encode(b"").unwrap();
        assert_eq!(&bytes[32..64], b"a very long name that exceeds th");
        let short = Header { name: b"boot".to_vec(), ..Header::script(arch::ARM64) };
        let img = short.image(b"x").unwrap();
        assert_eq!(&img[32..37], b"boot\0");
        assert_eq!(Header::parse(&img).unwrap().0.name, b"boot");
    }
}
