//! The console's output queue: one bounded byte ring per source (each partition, and the hypervisor), drained into
//! the physical UART only as fast as its transmit FIFO accepts, never by waiting for it.
//!
//! Why: a UART at 115200 baud moves about 11.5 bytes per millisecond, so writing a 160-character line
//! synchronously holds a CPU for ~14 ms, and the lock around the UART made every other CPU that printed wait as
//! long. Here a line is copied whole into its source's ring (bounded work: at most one line), and whoever holds the
//! queue next moves as many bytes as the FIFO has room for; the UART's transmit interrupt asks for more. A source
//! whose ring is full loses that line (counted, and said once room returns) rather than stalling anyone.
//!
//! Lines never interleave: the drain finishes the line it started from one source before it takes the next
//! source's, in turn, so a chatty partition cannot starve the others. Pure logic over fixed arrays: host-tested.

use super::line;

/// Bytes of one source's ring: several escaped lines (a 160-character line is at most ~700 bytes escaped).
pub const RING: usize = 2048;

/// One source's bytes, oldest first.
struct Ring {
    buf: [u8; RING],
    head: usize,
    len: usize,
}

impl Ring {
    const EMPTY: Ring = Ring { buf: [0; RING], head: 0, len: 0 };

    fn room(&self) -> usize {
        RING - self.len
    }

    fn push(&mut self, b: u8) {
        if self.len < RING {
            self.buf[(self.head + self.len) % RING] = b;
            self.len += 1;
        }
    }

    fn front(&self) -> Option<u8> {
        (self.len > 0).then(|| self.buf[self.head])
    }

    fn pop(&mut self) {
        if self.len > 0 {
            self.head = (self.head + 1) % RING;
            self.len -= 1;
        }
    }
}

/// The queue of `S` sources.
pub struct Outbox<const S: usize> {
    rings: [Ring; S],
    /// The source whose line is being transmitted (it is finished before another starts).
    current: Option<usize>,
    /// Where the search for the next line starts: the source after the last one served.
    next: usize,
    /// Lines lost per source since it was last told.
    dropped: [u32; S],
}

impl<const S: usize> Default for Outbox<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const S: usize> Outbox<S> {
    pub const fn new() -> Self {
        Outbox { rings: [Ring::EMPTY; S], current: None, next: 0, dropped: [0; S] }
    }

    /// Queues `[prefix] text` and a line end for source `src`, the text made visible (see [`line::visible`])
    /// unless `raw`. All or nothing: a line that does not fit is dropped and counted; before the source's next line
    /// that fits, a note says how many were lost. Returns whether the line was queued.
    pub fn push_line(&mut self, src: usize, prefix: &[u8], text: &[u8], raw: bool) -> bool {
        let Some(ring) = self.rings.get_mut(src) else { return false };
        let mut body = 0;
        if raw {
            body = text.len();
        } else {
            line::visible(text, |b| body += b.len());
        }
        let len = prefix.len() + 3 + body + 2;
        let note = match self.dropped[src] {
            0 => None,
            n => Some(n),
        };
        let note_len = if note.is_some() { prefix.len() + 3 + NOTE_MAX + 2 } else { 0 };
        if len + note_len > ring.room() {
            self.dropped[src] = self.dropped[src].saturating_add(1);
            return false;
        }
        if let Some(n) = note {
            let mut digits = [0u8; 10];
            let text = note_text(n, &mut digits);
            push_framed(ring, prefix, |ring| text.iter().for_each(|part| part.iter().for_each(|&b| ring.push(b))));
            self.dropped[src] = 0;
        }
        push_framed(ring, prefix, |ring| {
            if raw {
                text.iter().for_each(|&b| ring.push(b));
            } else {
                line::visible(text, |b| b.iter().for_each(|&c| ring.push(c)));
            }
        });
        true
    }

    /// Moves bytes into the UART while `tx` accepts them (`tx` returns false when its FIFO is full; the byte is
    /// then kept). Whole lines from one source at a time, sources in turn. Returns whether bytes remain queued.
    pub fn drain(&mut self, mut tx: impl FnMut(u8) -> bool) -> bool {
        loop {
            let src = match self.current {
                Some(s) => s,
                None => match (0..S).map(|i| (self.next + i) % S).find(|&s| self.rings[s].len > 0) {
                    Some(s) => {
                        self.current = Some(s);
                        self.next = (s + 1) % S;
                        s
                    }
                    None => return false,
                },
            };
            let ring = &mut self.rings[src];
            let Some(b) = ring.front() else {
                self.current = None;
                continue;
            };
            if !tx(b) {
                return true;
            }
            ring.pop();
            if b == b'\n' {
                self.current = None;
            }
        }
    }

    /// Whether anything is queued.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.rings.iter().all(|r| r.len == 0)
    }
}

/// Longest note text (`N line(s) of output dropped: the console was busy`).
const NOTE_MAX: usize = 60;

/// The pieces of the dropped-lines note for `n`.
fn note_text(n: u32, digits: &mut [u8; 10]) -> [&[u8]; 2] {
    let mut i = digits.len();
    let mut v = n;
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 || i == 0 {
            break;
        }
    }
    [&digits[i..], b" line(s) of output dropped: the console was busy"]
}

/// `[prefix] ` + what `body` pushes + `\r\n`.
fn push_framed(ring: &mut Ring, prefix: &[u8], body: impl FnOnce(&mut Ring)) {
    ring.push(b'[');
    prefix.iter().for_each(|&b| ring.push(b));
    ring.push(b']');
    ring.push(b' ');
    body(ring);
    ring.push(b'\r');
    ring.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain_all<const S: usize>(o: &mut Outbox<S>) -> String {
        let mut out = Vec::new();
        assert!(!o.drain(|b| {
            out.push(b);
            true
        }));
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn lines_come_out_whole_prefixed_and_escaped() {
        let mut o = Outbox::<2>::new();
        assert!(o.push_line(0, b"a", b"one\x1b[2K", false));
        assert!(o.push_line(1, b"hv", b"two", true));
        assert_eq!(drain_all(&mut o), "[a] one^[[2K\r\n[hv] two\r\n");
        assert!(o.is_empty());
    }

    /// A FIFO that takes 3 bytes at a time: a line started from one source is finished before another's begins,
    /// and sources take turns line by line.
    #[test]
    fn a_slow_fifo_never_interleaves_lines_and_serves_sources_in_turn() {
        let mut o = Outbox::<3>::new();
        for i in 0..3 {
            o.push_line(0, b"chatty", format!("line {i}").as_bytes(), false);
        }
        o.push_line(1, b"b", b"hello", false);
        o.push_line(2, b"c", b"world", false);
        let mut out = Vec::new();
        loop {
            let mut room = 3;
            let more = o.drain(|b| {
                if room == 0 {
                    return false;
                }
                room -= 1;
                out.push(b);
                true
            });
            if !more {
                break;
            }
        }
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines, ["[chatty] line 0", "[b] hello", "[c] world", "[chatty] line 1", "[chatty] line 2"]);
    }

    #[test]
    fn a_full_ring_drops_whole_lines_and_says_so_later() {
        let mut o = Outbox::<1>::new();
        let long = [b'x'; 150];
        let mut queued = 0;
        while o.push_line(0, b"p", &long, false) {
            queued += 1;
        }
        assert!(!o.push_line(0, b"p", &long, false));
        let text = drain_all(&mut o);
        assert_eq!(text.lines().count(), queued, "only whole lines: {text}");
        assert!(o.push_line(0, b"p", b"after", false));
        let text = drain_all(&mut o);
        assert_eq!(text, "[p] 2 line(s) of output dropped: the console was busy\r\n[p] after\r\n");
    }

    #[test]
    fn unknown_sources_are_refused() {
        let mut o = Outbox::<1>::new();
        assert!(!o.push_line(5, b"x", b"y", false));
    }
}
