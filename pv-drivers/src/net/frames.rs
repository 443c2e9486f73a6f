//! A port's inbox: frames the switch has forwarded to a partition and its device has not yet received.
//!
//! Why a ring of whole-frame slots rather than a byte ring: every frame then costs the same, the ring never
//! fragments, and a slot is copied straight into the guest's receive buffer. The price is `N` × [`FRAME_MAX`]
//! bytes whatever the traffic, which for the few ports and short inboxes of a static system is small.
//!
//! When the inbox is full the newest frame is refused, not the oldest evicted: a partition that stops receiving
//! keeps the frames it had, and the sender's traffic is what gets dropped (and counted), as on a congested link.

use core::fmt;

use super::FRAME_MAX;

/// Why [`FrameRing::push`] refused a frame. Either way it counts in [`FrameRing::dropped`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PushError {
    /// All slots hold frames.
    Full,
    /// The frame is longer than [`FRAME_MAX`].
    TooLong,
}

impl fmt::Display for PushError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Full => write!(f, "frame ring full"),
            Self::TooLong => write!(f, "frame longer than {FRAME_MAX} bytes"),
        }
    }
}

/// A first-in first-out queue of at most `N` Ethernet frames of up to [`FRAME_MAX`] bytes each.
pub struct FrameRing<const N: usize> {
    slots: [[u8; FRAME_MAX]; N],
    /// Length of the frame in each slot (meaningful for occupied slots only).
    lens: [u16; N],
    /// Slot of the oldest frame.
    head: usize,
    /// Frames held.
    len: usize,
    /// Frames refused since creation (not reset by [`FrameRing::clear`], so it stays a running total).
    dropped: u64,
}

impl<const N: usize> FrameRing<N> {
    /// An empty ring; `const` so that the hypervisor can place its inboxes in statics.
    pub const fn new() -> Self {
        const { assert!(N >= 1, "a frame ring needs at least one slot") };
        Self { slots: [[0; FRAME_MAX]; N], lens: [0; N], head: 0, len: 0, dropped: 0 }
    }

    /// Appends a copy of `frame`, or refuses (and counts) it if the ring is full or the frame too long.
    pub fn push(&mut self, frame: &[u8]) -> Result<(), PushError> {
        let refused = if frame.len() > FRAME_MAX {
            Some(PushError::TooLong)
        } else if self.len == N {
            Some(PushError::Full)
        } else {
            None
        };
        if let Some(e) = refused {
            self.dropped = self.dropped.saturating_add(1);
            return Err(e);
        }
        let slot = (self.head + self.len) % N;
        self.slots[slot][..frame.len()].copy_from_slice(frame);
        // Fits: `frame.len() <= FRAME_MAX < u16::MAX`.
        self.lens[slot] = frame.len() as u16;
        self.len += 1;
        Ok(())
    }

    /// Removes the oldest frame and copies it into `buf`; returns the number of bytes copied, or `None` if the ring
    /// is empty.
    ///
    /// A `buf` shorter than the frame gets the frame's first `buf.len()` bytes (the rest is lost with the frame):
    /// pass a [`FRAME_MAX`]-byte buffer, or check [`FrameRing::peek_len`] first, to never cut one.
    pub fn pop_into(&mut self, buf: &mut [u8]) -> Option<usize> {
        let len = self.peek_len()?;
        let copied = len.min(buf.len());
        buf[..copied].copy_from_slice(&self.slots[self.head][..copied]);
        self.head = (self.head + 1) % N;
        self.len -= 1;
        Some(copied)
    }

    /// Length of the oldest frame, if any.
    pub fn peek_len(&self) -> Option<usize> {
        if self.len == 0 {
            return None;
        }
        Some(usize::from(self.lens[self.head]))
    }

    /// Frames held.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn is_full(&self) -> bool {
        self.len == N
    }

    /// Most frames the ring holds (`N`).
    pub const fn capacity(&self) -> usize {
        N
    }

    /// Discards every frame held (e.g. when the partition's device is reset); [`FrameRing::dropped`] is kept.
    pub fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
    }

    /// Frames refused by [`FrameRing::push`] so far.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

impl<const N: usize> Default for FrameRing<N> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::VecDeque;
    use std::vec::Vec;

    fn frame(len: usize, seed: u8) -> Vec<u8> {
        (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
    }

    #[test]
    fn first_in_first_out_across_the_wrap() {
        let mut ring = FrameRing::<3>::new();
        assert_eq!((ring.len(), ring.is_empty(), ring.capacity(), ring.peek_len()), (0, true, 3, None));
        let mut buf = [0u8; FRAME_MAX];
        assert_eq!(ring.pop_into(&mut buf), None);
        for round in 0..5u8 {
            let a = frame(60, round);
            let b = frame(FRAME_MAX, round + 100);
            ring.push(&a).unwrap();
            ring.push(&b).unwrap();
            assert_eq!(ring.peek_len(), Some(60));
            assert_eq!(ring.pop_into(&mut buf), Some(60));
            assert_eq!(&buf[..60], &a[..]);
            assert_eq!(ring.pop_into(&mut buf), Some(FRAME_MAX));
            assert_eq!(&buf[..], &b[..]);
            assert!(ring.is_empty());
        }
        assert_eq!(ring.dropped(), 0);
    }

    #[test]
    fn refuses_when_full_or_too_long_and_counts() {
        let mut ring = FrameRing::<2>::new();
        assert_eq!(ring.push(&[0; FRAME_MAX + 1]), Err(PushError::TooLong));
        ring.push(&[1; 20]).unwrap();
        ring.push(&[]).unwrap();
        assert!(ring.is_full());
        assert_eq!(ring.push(&[3; 20]), Err(PushError::Full), "the newest frame is refused");
        assert_eq!(ring.dropped(), 2);
        let mut buf = [0u8; 32];
        assert_eq!(ring.pop_into(&mut buf), Some(20));
        assert_eq!(buf[..20], [1; 20], "the oldest frame survived");
        assert_eq!(ring.peek_len(), Some(0), "an empty frame is still a frame");
        assert_eq!(ring.pop_into(&mut buf), Some(0));
        assert_eq!(ring.pop_into(&mut buf), None);
    }

    #[test]
    fn short_buffers_get_a_prefix_and_clear_keeps_the_count() {
        let mut ring = FrameRing::<4>::default();
        let f = frame(100, 7);
        ring.push(&f).unwrap();
        ring.push(&f).unwrap();
        let mut small = [0u8; 10];
        assert_eq!(ring.pop_into(&mut small), Some(10));
        assert_eq!(&small, &f[..10]);
        assert_eq!(ring.len(), 1, "the cut frame is gone");
        let _ = ring.push(&[0; FRAME_MAX + 5]);
        ring.clear();
        assert!(ring.is_empty());
        assert_eq!(ring.dropped(), 1);
        ring.push(&f).unwrap();
        assert_eq!(ring.pop_into(&mut [0; FRAME_MAX]), Some(100));
    }

    #[test]
    fn fits_in_a_static() {
        static RING: FrameRing<2> = FrameRing::new();
        assert!(RING.is_empty());
    }

    proptest! {
        /// Against a `VecDeque` model: same frames out in the same order, same refusals.
        #[test]
        fn behaves_like_a_bounded_deque(
            ops in proptest::collection::vec((any::<bool>(), 0usize..FRAME_MAX + 3, any::<u8>()), 0..64),
        ) {
            let mut ring = FrameRing::<5>::new();
            let mut model: VecDeque<Vec<u8>> = VecDeque::new();
            let mut dropped = 0;
            let mut buf = [0u8; FRAME_MAX];
            for (push, len, seed) in ops {
                if push {
                    let f = frame(len, seed);
                    let expected = if len > FRAME_MAX {
                        Err(PushError::TooLong)
                    } else if model.len() == 5 {
                        Err(PushError::Full)
                    } else {
                        model.push_back(f.clone());
                        Ok(())
                    };
                    dropped += u64::from(expected.is_err());
                    prop_assert_eq!(ring.push(&f), expected);
                } else {
                    prop_assert_eq!(ring.peek_len(), model.front().map(Vec::len));
                    match model.pop_front() {
                        Some(f) => {
                            prop_assert_eq!(ring.pop_into(&mut buf), Some(f.len()));
                            prop_assert_eq!(&buf[..f.len()], &f[..]);
                        }
                        None => prop_assert_eq!(ring.pop_into(&mut buf), None),
                    }
                }
                prop_assert_eq!(ring.len(), model.len());
                prop_assert_eq!(ring.dropped(), dropped);
            }
        }
    }
}
