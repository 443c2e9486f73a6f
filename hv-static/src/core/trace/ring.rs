//! The per-CPU trace ring: its memory format, the writer hv-static runs, and the reader the image builder runs on a
//! dump of it.
//!
//! One ring per physical CPU, written only by that CPU with interrupts masked, so the writer takes no lock. A ring
//! never blocks and never stops: when a frame does not fit, the oldest whole frames are dropped to make room (and
//! counted), so a dump always holds the most recent history.
//!
//! # Format (little-endian, as both targets are)
//!
//! ```text
//! offset size  field
//!      0    4  magic      "HVTR" (0x5254_5648): the ring has been written since boot
//!      4    2  version    FORMAT_VERSION
//!      6    2  header_len offset of `data` (HEADER_LEN)
//!      8    4  capacity   bytes of `data`, a power of two
//!     12    4  cpu        the CPU that writes it
//!     16    8  freq       counter ticks per second (timestamps are counter values)
//!     24    8  head       stream offset after the last committed frame
//!     32    8  tail       stream offset of the oldest frame still held
//!     40    8  frames     frames ever committed
//!     48    8  dropped    frames overwritten to make room (the wrap count, in frames)
//!     56    8  lost       frames never stored (a frame begun inside another, which only a fault at EL2 can cause)
//!     64    8  wr         writer only: where the open frame's next byte goes
//!     72    4  depth      writer only: frames open (nesting)
//!     76    4  flags      writer only: the open frame was cut
//!     80    N  data
//! ```
//!
//! Stream offsets count every byte ever written; a byte at offset `o` is `data[o % capacity]`. Each frame is a
//! 2-byte length (bit 15: cut short at [`MAX_FRAME`], skip it) followed by that many bytes, both of which may wrap
//! around the end of `data`. The reader walks from `tail` to `head`, so it finds every frame boundary after any
//! number of wraps: `tail` only ever moves by whole frames, and always before the bytes it gave up are overwritten.
//! A frame being written when the dump was taken lies past `head` and is ignored.

/// "HVTR" as a little-endian word.
pub const MAGIC: u32 = 0x5254_5648;
pub const FORMAT_VERSION: u16 = 1;
/// Bytes before `data`.
pub const HEADER_LEN: usize = 80;
/// The longest frame stored; longer ones are cut and marked so the reader skips them. An event is 10 to 30 bytes.
pub const MAX_FRAME: usize = 256;
/// Bit 15 of a stored length: the frame was cut at [`MAX_FRAME`].
const CUT: u16 = 0x8000;

/// One CPU's ring with `N` bytes of frames. All zero is "never written" (so it lives in `.bss`); the header is
/// filled in by the first frame.
#[repr(C)]
pub struct Ring<const N: usize> {
    magic: u32,
    version: u16,
    header_len: u16,
    capacity: u32,
    cpu: u32,
    freq: u64,
    head: u64,
    tail: u64,
    frames: u64,
    dropped: u64,
    lost: u64,
    wr: u64,
    depth: u32,
    flags: u32,
    data: [u8; N],
}

impl<const N: usize> Ring<N> {
    const VALID: () = {
        assert!(N.is_power_of_two() && N >= 2 * (MAX_FRAME + 2) && N <= u32::MAX as usize);
        // The offsets the format documents (and the reader and the tests' dumps use).
        assert!(core::mem::offset_of!(Ring<N>, capacity) == 8 && core::mem::offset_of!(Ring<N>, freq) == 16);
        assert!(core::mem::offset_of!(Ring<N>, head) == 24 && core::mem::offset_of!(Ring<N>, tail) == 32);
        assert!(core::mem::offset_of!(Ring<N>, lost) == 56 && core::mem::offset_of!(Ring<N>, flags) == 76);
        assert!(core::mem::offset_of!(Ring<N>, data) == HEADER_LEN);
    };

    #[allow(clippy::let_unit_value)]
    pub const fn new() -> Ring<N> {
        let () = Self::VALID;
        Ring {
            magic: 0,
            version: 0,
            header_len: 0,
            capacity: 0,
            cpu: 0,
            freq: 0,
            head: 0,
            tail: 0,
            frames: 0,
            dropped: 0,
            lost: 0,
            wr: 0,
            depth: 0,
            flags: 0,
            data: [0; N],
        }
    }

    /// Opens a frame. `cpu` and `freq` fill the header on the ring's first frame (`freq` is called only then). A
    /// frame opened inside another is counted as lost and its bytes are ignored up to its `end`.
    pub fn begin(&mut self, cpu: u32, freq: impl FnOnce() -> u64) {
        if self.magic != MAGIC {
            self.freq = freq();
            self.cpu = cpu;
            self.capacity = N as u32;
            self.header_len = HEADER_LEN as u16;
            self.version = FORMAT_VERSION;
            self.magic = MAGIC;
        }
        self.depth = self.depth.wrapping_add(1);
        if self.depth != 1 {
            self.lost = self.lost.wrapping_add(1);
            return;
        }
        self.flags = 0;
        self.wr = self.head;
        self.make_room(2);
        self.wr = self.head + 2;
    }

    /// Appends bytes to the open frame. Bytes that would take it past [`MAX_FRAME`] cut it.
    pub fn write(&mut self, bytes: &[u8]) {
        if self.depth != 1 || self.flags != 0 {
            return;
        }
        let len = (self.wr - self.head - 2) as usize;
        if len + bytes.len() > MAX_FRAME {
            self.flags = 1;
            return;
        }
        self.make_room(bytes.len() as u64);
        let at = self.wr;
        self.put(at, bytes);
        self.wr = at + bytes.len() as u64;
    }

    /// Closes the open frame, making it visible to a reader.
    pub fn end(&mut self) {
        match self.depth {
            0 => return,
            1 => {}
            _ => {
                self.depth -= 1;
                return;
            }
        }
        self.depth = 0;
        let mut len = (self.wr - self.head - 2) as u16;
        if self.flags != 0 {
            len |= CUT;
        }
        let head = self.head;
        self.put(head, &len.to_le_bytes());
        // The frame's bytes are in place before `head` says so (a dump may be taken at any instruction).
        core::sync::atomic::compiler_fence(core::sync::atomic::Ordering::Release);
        self.head = self.wr;
        self.frames = self.frames.wrapping_add(1);
    }

    /// Drops the oldest committed frames until `n` more bytes after `wr` fit. The open frame is never dropped:
    /// it is at most `MAX_FRAME + 2` bytes, well under `N`.
    fn make_room(&mut self, n: u64) {
        while self.wr + n - self.tail > N as u64 && self.tail < self.head {
            let mut len = [0u8; 2];
            self.get(self.tail, &mut len);
            let len = u64::from(u16::from_le_bytes(len) & !CUT);
            self.tail = (self.tail + 2 + len).min(self.head);
            self.dropped = self.dropped.wrapping_add(1);
        }
        // `tail` has moved past the bytes about to be overwritten before any is.
        core::sync::atomic::compiler_fence(core::sync::atomic::Ordering::Release);
    }

    fn put(&mut self, at: u64, bytes: &[u8]) {
        let start = (at % N as u64) as usize;
        let first = bytes.len().min(N - start);
        self.data[start..start + first].copy_from_slice(&bytes[..first]);
        self.data[..bytes.len() - first].copy_from_slice(&bytes[first..]);
    }

    fn get(&self, at: u64, out: &mut [u8]) {
        let start = (at % N as u64) as usize;
        let first = out.len().min(N - start);
        out[..first].copy_from_slice(&self.data[start..start + first]);
        let rest = out.len() - first;
        out[first..].copy_from_slice(&self.data[..rest]);
    }
}

impl<const N: usize> Default for Ring<N> {
    fn default() -> Self {
        Ring::new()
    }
}

#[cfg(not(target_os = "none"))]
pub use reader::*;

/// Reading a dump of one ring, on the host. Everything in a dump is untrusted (a board's RAM after a reset may
/// hold anything): every field is checked and a bad one is an error, never a panic.
#[cfg(not(target_os = "none"))]
mod reader {
    use super::{CUT, FORMAT_VERSION, HEADER_LEN, MAGIC};

    /// The frames a ring held, oldest first, and its counters.
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct RingDump {
        pub cpu: u32,
        pub freq: u64,
        pub capacity: u32,
        /// Frames ever committed, dropped to make room, and never stored.
        pub frames: u64,
        pub dropped: u64,
        pub lost: u64,
        /// Frames cut at `MAX_FRAME` (held, but skipped).
        pub cut: u64,
        /// The frames' bytes (defmt frames, in the encoding the ELF names).
        pub records: Vec<Vec<u8>>,
        /// Where the walk stopped on a length that does not fit (a damaged dump), as a stream offset.
        pub damaged_at: Option<u64>,
    }

    #[derive(Clone, Debug, PartialEq, Eq)]
    pub enum ReadError {
        Short(usize),
        /// All zero, or garbage: the CPU wrote no frame since boot (or this is not a ring).
        NoRing(u32),
        Version(u16),
        Header(&'static str),
    }

    impl std::fmt::Display for ReadError {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            match self {
                ReadError::Short(n) => write!(f, "{n} bytes is too short for a trace ring"),
                ReadError::NoRing(m) => write!(f, "no trace ring here (magic {m:#010x}): nothing written since boot"),
                ReadError::Version(v) => write!(f, "trace ring format version {v}, this reader knows {FORMAT_VERSION}"),
                ReadError::Header(what) => write!(f, "trace ring header is damaged: {what}"),
            }
        }
    }

    impl std::error::Error for ReadError {}

    fn u16_at(b: &[u8], at: usize) -> u16 {
        u16::from_le_bytes([b[at], b[at + 1]])
    }
    fn u32_at(b: &[u8], at: usize) -> u32 {
        let mut w = [0u8; 4];
        w.copy_from_slice(&b[at..at + 4]);
        u32::from_le_bytes(w)
    }
    fn u64_at(b: &[u8], at: usize) -> u64 {
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[at..at + 8]);
        u64::from_le_bytes(w)
    }

    /// Bytes `[at, at + len)` of the stream held in `data` (a power-of-two ring).
    fn stream(data: &[u8], at: u64, len: usize) -> Vec<u8> {
        let n = data.len() as u64;
        (0..len as u64).map(|i| data[((at + i) % n) as usize]).collect()
    }

    /// How many bytes a dump of a ring must hold: the header, and `capacity` from it.
    pub fn dump_len(capacity: u32) -> usize {
        HEADER_LEN + capacity as usize
    }

    /// Reads one ring from `dump` (at least the header and its `capacity` bytes of data).
    pub fn read(dump: &[u8]) -> Result<RingDump, ReadError> {
        if dump.len() < HEADER_LEN {
            return Err(ReadError::Short(dump.len()));
        }
        let magic = u32_at(dump, 0);
        if magic != MAGIC {
            return Err(ReadError::NoRing(magic));
        }
        let version = u16_at(dump, 4);
        if version != FORMAT_VERSION {
            return Err(ReadError::Version(version));
        }
        if usize::from(u16_at(dump, 6)) != HEADER_LEN {
            return Err(ReadError::Header("header length"));
        }
        let capacity = u32_at(dump, 8);
        if !capacity.is_power_of_two() {
            return Err(ReadError::Header("capacity is not a power of two"));
        }
        let data = dump.get(HEADER_LEN..dump_len(capacity)).ok_or(ReadError::Short(dump.len()))?;
        let (head, tail) = (u64_at(dump, 24), u64_at(dump, 32));
        if tail > head || head - tail > u64::from(capacity) {
            return Err(ReadError::Header("head and tail are not within one ring of each other"));
        }
        let mut out = RingDump {
            cpu: u32_at(dump, 12),
            freq: u64_at(dump, 16),
            capacity,
            frames: u64_at(dump, 40),
            dropped: u64_at(dump, 48),
            lost: u64_at(dump, 56),
            ..RingDump::default()
        };
        let mut at = tail;
        while at < head {
            let Some(len_at) = at.checked_add(2).filter(|&e| e <= head) else {
                out.damaged_at = Some(at);
                break;
            };
            let raw = stream(data, at, 2);
            let stored = u16::from_le_bytes([raw[0], raw[1]]);
            let len = u64::from(stored & !CUT);
            if len_at + len > head {
                out.damaged_at = Some(at);
                break;
            }
            if stored & CUT != 0 {
                out.cut += 1;
            } else {
                out.records.push(stream(data, len_at, len as usize));
            }
            at = len_at + len;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const N: usize = 1024;

    fn ring() -> Box<Ring<N>> {
        Box::new(Ring::new())
    }

    /// The ring as a memory dump holds it, field by field in the documented order (safe code: the image builder
    /// builds this file too, and forbids `unsafe`); `VALID` checks the real layout has the same offsets.
    fn dump(r: &Ring<N>) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend(r.magic.to_le_bytes());
        b.extend(r.version.to_le_bytes());
        b.extend(r.header_len.to_le_bytes());
        b.extend(r.capacity.to_le_bytes());
        b.extend(r.cpu.to_le_bytes());
        for w in [r.freq, r.head, r.tail, r.frames, r.dropped, r.lost, r.wr] {
            b.extend(w.to_le_bytes());
        }
        b.extend(r.depth.to_le_bytes());
        b.extend(r.flags.to_le_bytes());
        assert_eq!(b.len(), HEADER_LEN);
        b.extend(r.data);
        b
    }

    fn frame(r: &mut Ring<N>, parts: &[&[u8]]) {
        r.begin(3, || 62_500_000);
        for p in parts {
            r.write(p);
        }
        r.end();
    }

    #[test]
    fn an_untouched_ring_reads_as_none() {
        let r = ring();
        assert_eq!(read(&dump(&r)), Err(ReadError::NoRing(0)));
        assert_eq!(read(&[0; 10]), Err(ReadError::Short(10)));
    }

    #[test]
    fn frames_come_back_whole_and_in_order() {
        let mut r = ring();
        frame(&mut r, &[b"ab", b"c"]);
        frame(&mut r, &[b""]);
        frame(&mut r, &[b"defg"]);
        let d = read(&dump(&r)).unwrap();
        assert_eq!((d.cpu, d.freq, d.capacity, d.frames, d.dropped), (3, 62_500_000, N as u32, 3, 0));
        assert_eq!(d.records, vec![b"abc".to_vec(), vec![], b"defg".to_vec()]);
        assert_eq!(d.damaged_at, None);
    }

    #[test]
    fn wrapping_drops_the_oldest_whole_frames() {
        let mut r = ring();
        // 1000 frames of 2 + 1..=40 bytes through a 1 KiB ring: many wraps, frames straddling the end.
        let mut all = Vec::new();
        for i in 0..1000u32 {
            let body: Vec<u8> = (0..(i % 40 + 1)).map(|k| (i as u8).wrapping_add(k as u8)).collect();
            let (a, b) = body.split_at(body.len() / 2);
            frame(&mut r, &[a, b]);
            all.push(body);
        }
        let d = read(&dump(&r)).unwrap();
        assert_eq!(d.frames, 1000);
        assert_eq!(d.dropped as usize + d.records.len(), 1000, "every frame is either held or counted as dropped");
        assert_eq!(d.records[..], all[all.len() - d.records.len()..], "the most recent frames, intact");
        let held: usize = d.records.iter().map(|f| f.len() + 2).sum();
        assert!(held > N - 44 && held <= N, "the ring is used up to the last frame that fits ({held})");
    }

    #[test]
    fn an_open_frame_is_not_read_and_a_nested_one_is_lost() {
        let mut r = ring();
        frame(&mut r, &[b"one"]);
        r.begin(3, || 0);
        r.write(b"outer");
        r.begin(3, || 0); // A fault at EL2 in the middle of a frame.
        r.write(b"inner");
        let d = read(&dump(&r)).unwrap();
        assert_eq!(d.records, vec![b"one".to_vec()], "the open frame is past head");
        r.end();
        r.write(b"+");
        r.end();
        let d = read(&dump(&r)).unwrap();
        assert_eq!(d.records, vec![b"one".to_vec(), b"outer+".to_vec()]);
        assert_eq!(d.lost, 1);
    }

    #[test]
    fn an_overlong_frame_is_cut_and_skipped() {
        let mut r = ring();
        frame(&mut r, &[&[7; MAX_FRAME], b"x"]);
        frame(&mut r, &[b"next"]);
        let d = read(&dump(&r)).unwrap();
        assert_eq!((d.cut, d.records.clone()), (1, vec![b"next".to_vec()]));
    }

    #[test]
    fn a_damaged_dump_is_refused_or_stops_where_it_breaks() {
        let mut r = ring();
        frame(&mut r, &[b"abc"]);
        frame(&mut r, &[b"de"]);
        let mut bytes = dump(&r);
        bytes[HEADER_LEN + 5] = 0xff; // The second frame's length now runs past head.
        let d = read(&bytes).unwrap();
        assert_eq!((d.records.clone(), d.damaged_at), (vec![b"abc".to_vec()], Some(5)));
        let mut bytes = dump(&r);
        bytes[32] = 0xff; // tail after head
        assert!(matches!(read(&bytes), Err(ReadError::Header(_))));
        assert!(matches!(read(&bytes[..100]), Err(ReadError::Short(100))));
    }

    proptest::proptest! {
        /// Whatever bytes a dump holds, reading it returns (an error or frames) and never panics.
        #[test]
        fn any_dump_reads_without_panicking(mut bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..400),
                                             head in 0u64..300, tail in 0u64..300) {
            if bytes.len() >= HEADER_LEN {
                bytes[..4].copy_from_slice(&MAGIC.to_le_bytes());
                bytes[4..6].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
                bytes[6..8].copy_from_slice(&(HEADER_LEN as u16).to_le_bytes());
                bytes[8..12].copy_from_slice(&256u32.to_le_bytes());
                bytes[24..32].copy_from_slice(&head.to_le_bytes());
                bytes[32..40].copy_from_slice(&tail.to_le_bytes());
            }
            let _ = read(&bytes);
        }
    }
}
