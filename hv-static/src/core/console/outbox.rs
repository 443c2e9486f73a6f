//! The console's output queue: one bounded byte ring per source (each partition, and the hypervisor), drained into
//! the physical UART only as fast as its transmit FIFO accepts, never by waiting for it, and at most a budget of
//! bytes per call (see [`Outbox::drain`]).
//!
//! Why: a UART at 115200 baud moves about 11.5 bytes per millisecond, so writing a 160-character line
//! synchronously holds a CPU for ~14 ms, and the lock around the UART made every other CPU that printed wait as
//! long. Here a line is copied whole into its source's ring (bounded work: at most one line), and whoever holds the
//! queue next moves as many bytes as the FIFO has room for, up to its depth; the UART's transmit interrupt asks for
//! more. The cap matters where the FIFO never fills (QEMU's UARTs transmit at once): without it one trap would write
//! out everything queued, kilobytes, and a real-time partition due on that CPU would start that much later. A source
//! whose ring is full loses that line (counted, and said once room returns) rather than stalling anyone.
//!
//! Lines never interleave, and they come out in the order they were completed, whatever their source: the
//! queue keeps the order of lines across sources (a byte per line), so a `[hv]` line about a partition never
//! overtakes that partition's last words. A chatty partition cannot starve the others: it can only fill its own
//! ring, so a line from anyone else waits behind at most that ring. Pure logic over fixed arrays: host-tested.

use super::line;

/// Bytes of one source's ring: several escaped lines (a 160-character line is at most ~700 bytes escaped).
pub const RING: usize = 2048;

/// Lines queued at most, all sources together (one byte each in [`Order`]); a line past it is dropped and counted
/// like one that finds its ring full. A 2 KiB ring holds at most ~340 of the shortest lines, so this is reached
/// only when several sources flood at once with near-empty lines.
pub const MAX_LINES: usize = 1024;

/// The sources of the queued lines, in the order they were completed.
struct Order {
    buf: [u8; MAX_LINES],
    head: usize,
    len: usize,
}

impl Order {
    fn push(&mut self, src: u8) {
        if self.len < MAX_LINES {
            self.buf[(self.head + self.len) % MAX_LINES] = src;
            self.len += 1;
        }
    }

    fn front(&self) -> Option<usize> {
        (self.len > 0).then(|| self.buf[self.head] as usize)
    }

    fn pop(&mut self) {
        if self.len > 0 {
            self.head = (self.head + 1) % MAX_LINES;
            self.len -= 1;
        }
    }
}

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
        self.extend(&[b]);
    }

    /// Appends `bytes` (as much as fits) in at most two copies: lines are copied in whole, not a byte at a time,
    /// since the copy runs in the trap of the partition that completed the line.
    fn extend(&mut self, bytes: &[u8]) {
        let bytes = &bytes[..bytes.len().min(self.room())];
        let tail = (self.head + self.len) % RING;
        let first = bytes.len().min(RING - tail);
        let (a, b) = bytes.split_at(first);
        self.buf[tail..tail + first].copy_from_slice(a);
        self.buf[..b.len()].copy_from_slice(b);
        self.len += bytes.len();
    }
}

/// The queue of `S` sources.
pub struct Outbox<const S: usize> {
    rings: [Ring; S],
    /// The source whose line is being transmitted (it is finished before another starts).
    current: Option<usize>,
    /// Whose lines come next, oldest first.
    order: Order,
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
        Outbox {
            rings: [Ring::EMPTY; S],
            current: None,
            order: Order { buf: [0; MAX_LINES], head: 0, len: 0 },
            dropped: [0; S],
        }
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
        let lines = 1 + usize::from(note.is_some());
        // Source numbers are kept in a byte; the console has far fewer sources than that.
        let Ok(tag) = u8::try_from(src) else { return false };
        if len + note_len > ring.room() || self.order.len + lines > MAX_LINES {
            self.dropped[src] = self.dropped[src].saturating_add(1);
            return false;
        }
        if let Some(n) = note {
            let mut digits = [0u8; 10];
            let text = note_text(n, &mut digits);
            push_framed(ring, prefix, |ring| text.iter().for_each(|part| ring.extend(part)));
            self.order.push(tag);
            self.dropped[src] = 0;
        }
        push_framed(ring, prefix, |ring| {
            if raw {
                ring.extend(text);
            } else {
                line::visible(text, |b| ring.extend(b));
            }
        });
        self.order.push(tag);
        true
    }

    /// Moves at most `budget` bytes into the UART while `tx` accepts them (`tx` returns false when its FIFO is
    /// full; the byte is then kept). Whole lines, in the order they were completed; a line the budget cuts is
    /// finished by the next call before any other. Returns whether bytes remain queued.
    ///
    /// Why a budget: the caller holds a CPU in the hypervisor meanwhile, and a UART that never says full (QEMU's)
    /// would otherwise take everything queued, up to a ring per source, in one trap.
    #[cfg(test)]
    pub fn drain(&mut self, budget: usize, mut tx: impl FnMut(u8) -> bool) -> bool {
        self.drain_runs(budget, |run| run.iter().position(|&b| !tx(b)).unwrap_or(run.len()))
    }

    /// [`Self::drain`] a run of bytes at a time: `tx` gets contiguous bytes of one line and returns how many it
    /// took (fewer when the FIFO filled). The UART driver then loops over a plain slice.
    pub fn drain_runs(&mut self, budget: usize, mut tx: impl FnMut(&[u8]) -> usize) -> bool {
        let mut left = budget;
        while left > 0 {
            let Some(src) = self.start_line() else { return false };
            let Some(ring) = self.rings.get_mut(src) else {
                self.current = None;
                continue;
            };
            // The bytes from the head to the end of the line, the ring's wrap, or the budget, whichever is first.
            let end = (ring.head + ring.len).min(RING);
            let run = &ring.buf[ring.head..end];
            let run = &run[..run.len().min(left)];
            let (run, line_ends) = match run.iter().position(|&b| b == b'\n') {
                Some(i) => (&run[..=i], true),
                None => (run, false),
            };
            if run.is_empty() {
                // Never: every queued line ends with a line end. Were it so, the line is over.
                self.current = None;
                continue;
            }
            let n = tx(run).min(run.len());
            ring.head = (ring.head + n) % RING;
            ring.len -= n;
            left -= n;
            if n < run.len() {
                return true;
            }
            if line_ends {
                self.current = None;
            }
        }
        self.next_source().is_some()
    }

    /// The source whose bytes go out next: the one whose line is under way, else the one of the oldest line.
    pub fn next_source(&self) -> Option<usize> {
        self.current.or_else(|| self.order.front())
    }

    /// [`Self::next_source`], made current (its line taken off the order) when it starts a new line.
    fn start_line(&mut self) -> Option<usize> {
        if self.current.is_none() {
            self.current = self.order.front();
            self.order.pop();
        }
        self.current
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
    ring.extend(prefix);
    ring.extend(b"] ");
    body(ring);
    ring.extend(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain_all<const S: usize>(o: &mut Outbox<S>) -> String {
        let mut out = Vec::new();
        assert!(!o.drain(usize::MAX, |b| {
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
    /// and lines come out in the order they were completed, across sources.
    #[test]
    fn a_slow_fifo_never_interleaves_lines_and_keeps_their_order() {
        let mut o = Outbox::<3>::new();
        o.push_line(0, b"chatty", b"line 0", false);
        o.push_line(1, b"b", b"hello", false);
        o.push_line(0, b"chatty", b"line 1", false);
        o.push_line(2, b"c", b"world", false);
        o.push_line(0, b"chatty", b"line 2", false);
        let mut out = Vec::new();
        loop {
            let mut room = 3;
            let more = o.drain(usize::MAX, |b| {
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
        assert_eq!(lines, ["[chatty] line 0", "[b] hello", "[chatty] line 1", "[c] world", "[chatty] line 2"]);
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

    /// Fills `o` as a flood would: a chatty source with long lines, two quiet ones with a line each.
    fn busy<const S: usize>(o: &mut Outbox<S>) {
        for i in 0..8 {
            assert!(o.push_line(0, b"chatty", format!("{i} {}", "x".repeat(90)).as_bytes(), false));
        }
        assert!(o.push_line(1, b"b", b"hello", false));
        assert!(o.push_line(2, b"hv", b"world", true));
    }

    /// QEMU's UART is never full: each call still moves at most its budget, and calls repeated until nothing
    /// remains give exactly what one unbounded drain gives (whole lines, in order).
    #[test]
    fn a_never_full_fifo_takes_at_most_the_budget_per_call_and_everything_in_the_end() {
        let mut whole = Outbox::<3>::new();
        busy(&mut whole);
        let expected = drain_all(&mut whole);
        for budget in [1, 16, 32, 100] {
            let mut o = Outbox::<3>::new();
            busy(&mut o);
            let mut out = Vec::new();
            let mut calls = 0;
            loop {
                let before = out.len();
                let more = o.drain(budget, |b| {
                    out.push(b);
                    true
                });
                calls += 1;
                assert!(out.len() - before <= budget, "budget {budget}: {} bytes in one call", out.len() - before);
                if !more {
                    break;
                }
                assert_eq!(out.len() - before, budget, "a call that leaves bytes used its whole budget");
            }
            assert!(o.is_empty());
            assert_eq!(String::from_utf8(out).unwrap(), expected, "budget {budget}");
            assert_eq!(calls, expected.len().div_ceil(budget), "budget {budget}");
        }
    }

    /// A line the budget cuts is finished first, even when another source queues a line in between, and the queue
    /// says whose bytes come next (the console steers its interrupt by it).
    #[test]
    fn a_line_cut_by_the_budget_is_finished_before_another_source_starts() {
        let mut o = Outbox::<2>::new();
        assert!(o.push_line(0, b"a", b"012345678", false));
        let mut out = Vec::new();
        let mut tx = |b| {
            out.push(b);
            true
        };
        assert!(o.drain(5, &mut tx));
        assert_eq!(o.next_source(), Some(0));
        assert!(o.push_line(1, b"b", b"later", false));
        assert!(o.drain(5, &mut tx));
        assert_eq!(o.next_source(), Some(0));
        assert!(o.drain(5, &mut tx));
        assert_eq!(o.next_source(), Some(1));
        assert!(!o.drain(100, &mut tx));
        assert_eq!(o.next_source(), None);
        assert_eq!(String::from_utf8(out).unwrap(), "[a] 012345678\r\n[b] later\r\n");
    }

    /// A budget of zero moves nothing and reports what waits.
    #[test]
    fn a_zero_budget_moves_nothing() {
        let mut o = Outbox::<1>::new();
        assert!(!o.drain(0, |_| unreachable!()));
        assert!(o.push_line(0, b"a", b"x", false));
        assert!(o.drain(0, |_| unreachable!()));
        assert_eq!(drain_all(&mut o), "[a] x\r\n");
    }

    proptest::proptest! {
        /// Any interleaving of lines from any sources, drained by any budgets through a FIFO of any room: what
        /// comes out is exactly the accepted lines, whole, in the order they were accepted.
        #[test]
        fn output_is_the_accepted_lines_in_order(
            ops in proptest::collection::vec((0usize..4, 0usize..200, 0usize..40, 0usize..8), 1..120)
        ) {
            let mut o = Outbox::<3>::new();
            let mut expected = String::new();
            let mut out = Vec::new();
            for (i, (src, len, budget, room)) in ops.into_iter().enumerate() {
                let text = format!("{i}:{}", "y".repeat(len));
                let before = (o.dropped.get(src).copied(), o.order.len);
                if o.push_line(src, b"s", text.as_bytes(), true) {
                    if let (Some(n), _) = before {
                        if n > 0 {
                            expected.push_str(&format!("[s] {n} line(s) of output dropped: the console was busy\r\n"));
                        }
                    }
                    expected.push_str(&format!("[s] {text}\r\n"));
                }
                let mut left = room;
                o.drain(budget, |b| {
                    if left == 0 {
                        return false;
                    }
                    left -= 1;
                    out.push(b);
                    true
                });
            }
            while o.drain(7, |b| {
                out.push(b);
                true
            }) {}
            proptest::prop_assert_eq!(String::from_utf8(out).unwrap(), expected);
        }
    }

    #[test]
    fn a_full_order_drops_lines_and_counts_them() {
        let mut o = Outbox::<3>::new();
        let mut accepted = 0;
        for _ in 0..MAX_LINES + 10 {
            // Three sources of the shortest lines (5 bytes, ~409 per ring): no ring is full before the order is.
            if o.push_line(accepted % 3, b"", b"", true) {
                accepted += 1;
            }
        }
        assert_eq!(accepted, MAX_LINES);
        assert_eq!(o.dropped.iter().sum::<u32>(), 10);
        let text = drain_all(&mut o);
        assert_eq!(text.lines().count(), MAX_LINES);
    }

    #[test]
    fn unknown_sources_are_refused() {
        let mut o = Outbox::<1>::new();
        assert!(!o.push_line(5, b"x", b"y", false));
    }
}
