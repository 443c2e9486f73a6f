//! Console input: one physical keyboard, several partitions. Input goes to one partition at a time, the one with
//! the focus; an escape sequence moves the focus. `Ctrl-]` starts a command (QEMU's `-nographic` already takes
//! `Ctrl-A`, and `Ctrl-]` is the escape telnet users know):
//!
//! | keys | effect |
//! |---|---|
//! | `Ctrl-]` `n` | focus the next partition that has a console |
//! | `Ctrl-]` `0`..`9` | focus partition N (its index in the config) |
//! | `Ctrl-]` `Ctrl-]` | send one `Ctrl-]` to the focused partition |
//! | `Ctrl-]` `?` | list the partitions and show which has the focus |
//! | `Ctrl-]` `s` | the partitions' status: running, stopped or restarting, restarts, the last fault |
//!
//! Anything else after `Ctrl-]` is dropped.

pub const ESCAPE: u8 = 0x1d;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Give this byte to the focused partition.
    Deliver { part: usize, byte: u8 },
    /// The focus moved to this partition.
    Focus(usize),
    /// Print the list of partitions and the focus.
    Help,
    /// Print every partition's state and counters.
    Status,
    /// Nothing to do (an escape started, or an unknown command).
    None,
}

pub struct InputSwitch<const N: usize> {
    /// Which partitions have a console (and so can take the focus).
    eligible: [bool; N],
    focus: Option<usize>,
    escaped: bool,
}

impl<const N: usize> InputSwitch<N> {
    /// Focus starts on the first partition that has a console.
    pub const fn new(eligible: [bool; N]) -> Self {
        let mut focus = None;
        let mut i = 0;
        while i < N {
            if eligible[i] && focus.is_none() {
                focus = Some(i);
            }
            i += 1;
        }
        Self { eligible, focus, escaped: false }
    }

    pub fn focus(&self) -> Option<usize> {
        self.focus
    }

    pub fn feed(&mut self, byte: u8) -> Action {
        if !self.escaped {
            if byte == ESCAPE {
                self.escaped = true;
                return Action::None;
            }
            return self.deliver(byte);
        }
        self.escaped = false;
        match byte {
            ESCAPE => self.deliver(ESCAPE),
            b'n' => self.next(),
            b'0'..=b'9' => {
                let i = (byte - b'0') as usize;
                if i < N && self.eligible[i] {
                    self.focus = Some(i);
                    Action::Focus(i)
                } else {
                    Action::Help
                }
            }
            b'?' | b'h' => Action::Help,
            b's' => Action::Status,
            _ => Action::None,
        }
    }

    fn deliver(&self, byte: u8) -> Action {
        match self.focus {
            Some(part) => Action::Deliver { part, byte },
            None => Action::None,
        }
    }

    fn next(&mut self) -> Action {
        let start = self.focus.map_or(0, |f| f + 1);
        for k in 0..N {
            let i = (start + k) % N;
            if self.eligible[i] {
                self.focus = Some(i);
                return Action::Focus(i);
            }
        }
        Action::None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_bytes_go_to_the_first_console() {
        let mut s = InputSwitch::new([false, true, true]);
        assert_eq!(s.feed(b'a'), Action::Deliver { part: 1, byte: b'a' });
    }

    #[test]
    fn escape_n_cycles_and_skips_partitions_without_console() {
        let mut s = InputSwitch::new([true, false, true]);
        assert_eq!(s.feed(ESCAPE), Action::None);
        assert_eq!(s.feed(b'n'), Action::Focus(2));
        assert_eq!(s.feed(b'x'), Action::Deliver { part: 2, byte: b'x' });
        s.feed(ESCAPE);
        assert_eq!(s.feed(b'n'), Action::Focus(0), "wraps around");
    }

    #[test]
    fn escape_digit_selects_and_double_escape_is_literal() {
        let mut s = InputSwitch::new([true, true]);
        s.feed(ESCAPE);
        assert_eq!(s.feed(b'1'), Action::Focus(1));
        s.feed(ESCAPE);
        assert_eq!(s.feed(ESCAPE), Action::Deliver { part: 1, byte: ESCAPE });
        s.feed(ESCAPE);
        assert_eq!(s.feed(b'7'), Action::Help, "no partition 7");
        assert_eq!(s.focus(), Some(1));
        s.feed(ESCAPE);
        assert_eq!(s.feed(b's'), Action::Status);
        assert_eq!(s.feed(b's'), Action::Deliver { part: 1, byte: b's' }, "a command is one key");
        s.feed(ESCAPE);
        assert_eq!(s.feed(b'q'), Action::None, "unknown commands are dropped");
        assert_eq!(s.feed(b'q'), Action::Deliver { part: 1, byte: b'q' });
    }

    #[test]
    fn no_console_anywhere_swallows_input() {
        let mut s = InputSwitch::new([false, false]);
        assert_eq!(s.feed(b'a'), Action::None);
    }
}
