//! Per-source line assembly: a partition's bytes are held until a newline (or a full buffer) so that lines from
//! different partitions never interleave on the shared physical UART. Bytes are made visible ([`visible`]) as they
//! arrive, one trapped UART write at a time, so completing a line costs a copy, not an escaping pass over it: the
//! trap that completes a line is then about as short as any other, and a neighbour's window is not kept waiting.

/// Longest line emitted in one piece, in bytes the partition wrote; longer output is split, still with its prefix
/// on every piece.
pub const LINE_MAX: usize = 160;

/// Bytes one piece may take once made visible: [`visible`] writes at most four bytes per byte it is given (`\xNN`
/// for a byte that is not UTF-8, `\u{XXXX}` for a two-byte C1 control).
pub const LINE_OUT_MAX: usize = 4 * LINE_MAX;

pub struct LineBuffer {
    buf: [u8; LINE_OUT_MAX],
    /// Bytes in `buf`.
    len: usize,
    /// Bytes the partition wrote into this piece (what [`LINE_MAX`] counts).
    taken: usize,
    /// The start of a multi-byte UTF-8 sequence, held until it is complete (or shown invalid).
    pending: [u8; 4],
    pending_len: usize,
    /// Bytes the sequence in `pending` needs in all.
    pending_need: usize,
    /// Bytes go out as they are (the partition has the console's input focus).
    raw: bool,
}

impl Default for LineBuffer {
    fn default() -> Self {
        Self::new()
    }
}

impl LineBuffer {
    pub const fn new() -> Self {
        Self { buf: [0; LINE_OUT_MAX], len: 0, taken: 0, pending: [0; 4], pending_len: 0, pending_need: 0, raw: false }
    }

    /// Whether the bytes from now on go out as they are (see `console::write_partition_line`).
    pub fn set_raw(&mut self, raw: bool) {
        if raw != self.raw {
            self.settle();
            self.raw = raw;
        }
    }

    /// Whether [`Self::push`] of `b` would complete a line (the work a trap may leave for later: see `vdev::Later`).
    pub fn completes_line(&self, b: u8) -> bool {
        match b {
            b'\r' => false,
            b'\n' => true,
            _ => self.taken + 1 >= LINE_MAX,
        }
    }

    /// Adds one byte; returns the completed line (without its newline, already made visible unless raw) when one
    /// is ready. Carriage returns are dropped: the console adds its own line endings.
    pub fn push(&mut self, b: u8) -> Option<&[u8]> {
        match b {
            b'\r' => None,
            b'\n' => Some(self.take()),
            _ => {
                self.taken += 1;
                self.add(b);
                if self.taken >= LINE_MAX {
                    Some(self.take())
                } else {
                    None
                }
            }
        }
    }

    fn add(&mut self, b: u8) {
        if self.raw {
            return self.emit(&[b]);
        }
        if self.pending_len > 0 {
            if (0x80..0xc0).contains(&b) && self.pending_len < self.pending_need {
                self.pending[self.pending_len] = b;
                self.pending_len += 1;
                if self.pending_len == self.pending_need {
                    self.settle();
                }
                return;
            }
            // Not a continuation: what was held is invalid on its own, and `b` starts afresh.
            self.settle();
        }
        match b {
            // Printable ASCII, the common case, needs no escaping at all.
            0x20..=0x7e => self.emit(&[b]),
            0xc2..=0xdf => self.hold(b, 2),
            0xe0..=0xef => self.hold(b, 3),
            0xf0..=0xf4 => self.hold(b, 4),
            _ => visible(&[b], |out| self.emit(out)),
        }
    }

    fn hold(&mut self, b: u8, need: usize) {
        self.pending[0] = b;
        self.pending_len = 1;
        self.pending_need = need;
    }

    /// Makes the held sequence visible as it stands (complete, or cut short by the line's end).
    fn settle(&mut self) {
        let (pending, n) = (self.pending, self.pending_len);
        self.pending_len = 0;
        if n > 0 {
            visible(&pending[..n], |out| self.emit(out));
        }
    }

    fn emit(&mut self, out: &[u8]) {
        // Never short: a piece ends after LINE_MAX input bytes, and each yields at most four.
        if let Some(dst) = self.buf.get_mut(self.len..self.len + out.len()) {
            dst.copy_from_slice(out);
            self.len += out.len();
        }
    }

    /// Whatever is pending, e.g. when the partition stops mid-line.
    pub fn take(&mut self) -> &[u8] {
        self.settle();
        let n = self.len;
        self.len = 0;
        self.taken = 0;
        &self.buf[..n]
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0 && self.pending_len == 0
    }
}

/// Hands `emit` the bytes of `line` made harmless for a shared terminal: C0 controls (but tab) and DEL as `^X`
/// (ESC as `^[`), C1 controls and the bidirectional overrides and isolates as `\u{XXXX}`, bytes that are not UTF-8 as
/// `\xNN`; everything else as it is. A partition's line can then neither move the cursor, erase or recolour what
/// others printed, nor make its own text read as another partition's `[name]` or the hypervisor's `[hv]`.
pub fn visible(line: &[u8], mut emit: impl FnMut(&[u8])) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for chunk in line.utf8_chunks() {
        for c in chunk.valid().chars() {
            let cp = c as u32;
            if cp < 0x20 && c != '\t' || cp == 0x7f {
                emit(&[b'^', (cp as u8) ^ 0x40]);
            } else if (0x80..=0x9f).contains(&cp)
                || (0x202a..=0x202e).contains(&cp)
                || (0x2066..=0x2069).contains(&cp)
                || matches!(cp, 0x200e | 0x200f | 0x061c)
            {
                let mut out = *b"\\u{0000}";
                for (i, slot) in out[3..7].iter_mut().enumerate() {
                    *slot = HEX[(cp >> (12 - 4 * i) & 0xf) as usize];
                }
                emit(&out);
            } else {
                let mut buf = [0; 4];
                emit(c.encode_utf8(&mut buf).as_bytes());
            }
        }
        for &b in chunk.invalid() {
            emit(&[b'\\', b'x', HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(line: &[u8]) -> String {
        let mut out = Vec::new();
        visible(line, |b| out.extend_from_slice(b));
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn control_characters_become_visible() {
        assert_eq!(shown(b"tick 1\tok"), "tick 1\tok");
        assert_eq!(shown(b"\x1b[2K\x1b[1G[hv] fake"), "^[[2K^[[1G[hv] fake");
        assert_eq!(shown(b"a\x00b\x07c\x7fd\x08"), "a^@b^Gc^?d^H");
        assert_eq!(shown("caf\u{e9} \u{202e}evil\u{2066}".as_bytes()), "caf\u{e9} \\u{202e}evil\\u{2066}");
        assert_eq!(shown("\u{9b}31m".as_bytes()), "\\u{009b}31m");
        assert_eq!(shown(b"\xff\xc3"), "\\xff\\xc3");
    }

    /// Whatever a partition prints, the terminal gets no control character but tab.
    #[test]
    fn no_byte_sequence_leaves_a_control_character() {
        let mut x: u32 = 1;
        for _ in 0..2000 {
            let line: Vec<u8> = (0..40)
                .map(|_| {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                    (x >> 16) as u8
                })
                .collect();
            let out = shown(&line);
            assert!(
                !out.chars().any(|c| (c.is_control() && c != '\t') || ('\u{202a}'..='\u{202e}').contains(&c)),
                "{out:?}"
            );
        }
    }

    fn feed(lb: &mut LineBuffer, s: &[u8]) -> Vec<Vec<u8>> {
        s.iter().filter_map(|&b| lb.push(b).map(|l| l.to_vec())).collect()
    }

    #[test]
    fn lines_complete_on_newline_only() {
        let mut lb = LineBuffer::new();
        assert!(feed(&mut lb, b"tick").is_empty());
        assert_eq!(feed(&mut lb, b" 1\r\ntick 2\n"), vec![b"tick 1".to_vec(), b"tick 2".to_vec()]);
        assert!(lb.is_empty());
    }

    #[test]
    fn long_lines_are_split_not_lost() {
        let mut lb = LineBuffer::new();
        let long = vec![b'x'; LINE_MAX + 3];
        let out = feed(&mut lb, &long);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].len(), LINE_MAX);
        assert_eq!(lb.take(), b"xxx");
    }

    #[test]
    fn bytes_are_made_visible_as_they_come_unless_raw() {
        let mut lb = LineBuffer::new();
        assert_eq!(
            feed(&mut lb, "a\x1b[2K caf\u{e9}\u{202e}\n".as_bytes()),
            vec![b"a^[[2K caf\xc3\xa9\\u{202e}".to_vec()]
        );
        lb.set_raw(true);
        assert_eq!(feed(&mut lb, b"\x1b[2K\n"), vec![b"\x1b[2K".to_vec()]);
    }

    proptest::proptest! {
        /// Escaping byte by byte, as the bytes are trapped, gives exactly what escaping the whole line gives, and a
        /// piece never outgrows its buffer.
        #[test]
        fn escaping_as_bytes_come_equals_escaping_the_line(
            bytes in proptest::collection::vec(
                proptest::prop_oneof![proptest::prelude::any::<u8>(), 0x80u8..0xc0, proptest::prelude::Just(b'\n')],
                0..600,
            )
        ) {
            let mut lb = LineBuffer::new();
            let mut got: Vec<Vec<u8>> = feed(&mut lb, &bytes);
            got.push(lb.take().to_vec());
            // The same pieces cut from the input: at newlines, and after LINE_MAX bytes (carriage returns dropped).
            let mut want = Vec::new();
            let mut piece = Vec::new();
            for &b in &bytes {
                match b {
                    b'\r' => {}
                    b'\n' => want.push(std::mem::take(&mut piece)),
                    _ => {
                        piece.push(b);
                        if piece.len() == LINE_MAX {
                            want.push(std::mem::take(&mut piece));
                        }
                    }
                }
            }
            want.push(piece);
            let want: Vec<Vec<u8>> = want.iter().map(|p| {
                let mut out = Vec::new();
                visible(p, |b| out.extend_from_slice(b));
                out
            }).collect();
            proptest::prop_assert_eq!(got, want);
        }
    }
}
