//! Per-source line assembly: a partition's bytes are held until a newline (or a full buffer) so that lines from
//! different partitions never interleave on the shared physical UART.

/// Longest line emitted in one piece; longer output is split, still with its prefix on every piece.
pub const LINE_MAX: usize = 160;

pub struct LineBuffer {
    buf: [u8; LINE_MAX],
    len: usize,
}

impl Default for LineBuffer {
    fn default() -> Self {
        Self::new()
    }
}

impl LineBuffer {
    pub const fn new() -> Self {
        Self { buf: [0; LINE_MAX], len: 0 }
    }

    /// Adds one byte; returns the completed line (without its newline) when one is ready.
    /// Carriage returns are dropped: the console adds its own line endings.
    pub fn push(&mut self, b: u8) -> Option<&[u8]> {
        match b {
            b'\r' => None,
            b'\n' => Some(self.take()),
            _ => {
                self.buf[self.len] = b;
                self.len += 1;
                if self.len == LINE_MAX {
                    Some(self.take())
                } else {
                    None
                }
            }
        }
    }

    /// Whatever is pending, e.g. when the partition stops mid-line.
    pub fn take(&mut self) -> &[u8] {
        let n = self.len;
        self.len = 0;
        &self.buf[..n]
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
