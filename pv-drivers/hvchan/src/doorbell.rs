//! A channel's doorbell, both ways: waiting for the other members' rings, and ringing them.
//!
//! On Linux both are GPIO lines of the partition's PL061 (`gpio@9002000`), found by name through the GPIO
//! character device (v2 uAPI): `LABEL.doorbell`, an input with rising-edge detection, has one edge event per ring
//! by another member (rings coalesce while unread), and a 0 -> 1 transition of `LABEL.ring`, an output, rings
//! every other member. [`Pair`] is an in-process stand-in for tests and for both members in one process.

use std::io;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use gpiocdev::line::{EdgeDetection, Value};
use gpiocdev::request::Request;
use gpiocdev::FoundLine;

/// A channel's doorbell and ringer.
pub trait Doorbell: Send {
    /// Starts catching rings: a ring from now on makes the next [`Doorbell::wait`] return at once. Call it
    /// before looking at the channel, then wait only when there was nothing, and no ring is lost in between.
    fn listen(&mut self) -> io::Result<()>;

    /// Waits at most `timeout` for a ring (listening first if not yet); `true` when there was one. Every ring
    /// that arrived since the last wait is taken at once: they coalesce.
    fn wait(&mut self, timeout: Duration) -> io::Result<bool>;

    /// Rings every other member of the channel.
    fn ring(&mut self) -> io::Result<()>;
}

/// Where the channel's two GPIO lines are, when found.
#[derive(Clone, Debug, Default)]
pub struct Lines {
    pub doorbell: Option<FoundLine>,
    pub ring: Option<FoundLine>,
}

impl Lines {
    /// Looks for the lines named `doorbell` and `ring` on every `/dev/gpiochip*`. A name on more than one line
    /// is an error rather than a guess.
    pub fn find(doorbell: &str, ring: &str) -> io::Result<Self> {
        let names = [doorbell, ring];
        let mut found = gpiocdev::find_named_lines(&names, true).map_err(gpio_error)?;
        Ok(Self { doorbell: found.remove(doorbell), ring: found.remove(ring) })
    }

    /// `gpiochip0:3` for a found line, `missing` otherwise: what `hvchan list` shows.
    pub fn describe(line: &Option<FoundLine>) -> String {
        match line {
            Some(l) => {
                let chip = l.chip.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                format!("{chip}:{}", l.info.offset)
            }
            None => "missing".into(),
        }
    }
}

fn gpio_error(e: gpiocdev::Error) -> io::Error {
    io::Error::other(e)
}

/// The doorbell on the partition's GPIO lines. Each line is requested when first needed, so that `hvchan send`
/// (ring only) and `hvchan recv` (doorbell only) can run at the same time.
pub struct GpioDoorbell {
    label: String,
    lines: Lines,
    /// Why the lines could not be searched for, if they could not (no GPIO chip at all, say).
    search_failed: Option<String>,
    input: Option<Request>,
    output: Option<Request>,
}

impl GpioDoorbell {
    /// The doorbell of channel `label`, on the lines [`Lines::find`] found for it. A failed search is not an
    /// error yet: the channel's memory is usable without doorbells, and the search's error is reported by the
    /// first [`Doorbell`] call that needs a line.
    pub fn new(label: &str, lines: io::Result<Lines>) -> Self {
        let (lines, search_failed) = match lines {
            Ok(lines) => (lines, None),
            Err(e) => (Lines::default(), Some(e.to_string())),
        };
        Self { label: label.to_owned(), lines, search_failed, input: None, output: None }
    }

    fn missing(&self, suffix: &str) -> io::Error {
        let why = self.search_failed.as_deref().unwrap_or("gpio-pl061 and the GPIO character device are needed");
        io::Error::new(io::ErrorKind::NotFound, format!("no GPIO line named `{}.{suffix}` ({why})", self.label))
    }
}

impl Doorbell for GpioDoorbell {
    fn listen(&mut self) -> io::Result<()> {
        if self.input.is_none() {
            let line = self.lines.doorbell.as_ref().ok_or_else(|| self.missing("doorbell"))?;
            let request = Request::builder()
                .with_found_line(line)
                .with_consumer("hvchan")
                .as_input()
                .with_edge_detection(EdgeDetection::RisingEdge)
                .request()
                .map_err(gpio_error)?;
            self.input = Some(request);
        }
        Ok(())
    }

    fn wait(&mut self, timeout: Duration) -> io::Result<bool> {
        self.listen()?;
        let Some(input) = &self.input else { return Ok(false) };
        if !input.wait_edge_event(timeout).map_err(gpio_error)? {
            return Ok(false);
        }
        // Take every queued event: one wake-up for all the rings so far (the kernel queues at most a few).
        for _ in 0..64 {
            input.read_edge_event().map_err(gpio_error)?;
            if !input.has_edge_event().map_err(gpio_error)? {
                break;
            }
        }
        Ok(true)
    }

    fn ring(&mut self) -> io::Result<()> {
        if self.output.is_none() {
            let line = self.lines.ring.as_ref().ok_or_else(|| self.missing("ring"))?;
            let request = Request::builder()
                .with_found_line(line)
                .with_consumer("hvchan")
                .as_output(Value::Inactive)
                .request()
                .map_err(gpio_error)?;
            self.output = Some(request);
        }
        let Some(output) = &self.output else { return Ok(()) };
        output.set_lone_value(Value::Active).map_err(gpio_error)?;
        output.set_lone_value(Value::Inactive).map_err(gpio_error)
    }
}

/// Two members' doorbells wired to each other in one process: a ring on one end is pending at the other until
/// it waits, and rings coalesce, as on the board.
pub struct Pair {
    shared: Arc<(Mutex<[bool; 2]>, Condvar)>,
    side: usize,
}

impl Pair {
    pub fn new() -> (Self, Self) {
        let shared = Arc::new((Mutex::new([false; 2]), Condvar::new()));
        (Self { shared: shared.clone(), side: 0 }, Self { shared, side: 1 })
    }
}

impl Doorbell for Pair {
    fn listen(&mut self) -> io::Result<()> {
        Ok(())
    }

    fn wait(&mut self, timeout: Duration) -> io::Result<bool> {
        let (lock, changed) = &*self.shared;
        let deadline = Instant::now() + timeout;
        let mut pending = lock.lock().map_err(|_| io::Error::other("poisoned"))?;
        while !pending[self.side] {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(false);
            }
            pending = changed.wait_timeout(pending, left).map_err(|_| io::Error::other("poisoned"))?.0;
        }
        pending[self.side] = false;
        Ok(true)
    }

    fn ring(&mut self) -> io::Result<()> {
        let (lock, changed) = &*self.shared;
        lock.lock().map_err(|_| io::Error::other("poisoned"))?[1 - self.side] = true;
        changed.notify_all();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pair_rings_across_and_coalesces() {
        let (mut a, mut b) = Pair::new();
        assert!(!b.wait(Duration::ZERO).unwrap());
        a.ring().unwrap();
        a.ring().unwrap();
        assert!(!a.wait(Duration::ZERO).unwrap(), "a ring is for the others");
        assert!(b.wait(Duration::from_secs(5)).unwrap());
        assert!(!b.wait(Duration::from_millis(10)).unwrap(), "two rings, one wake-up");
        let t = std::thread::spawn(move || b.wait(Duration::from_secs(10)).unwrap());
        std::thread::sleep(Duration::from_millis(20));
        a.ring().unwrap();
        assert!(t.join().unwrap());
    }

    #[test]
    fn missing_lines_are_named() {
        let mut d = GpioDoorbell::new("ping", Ok(Lines::default()));
        let e = d.ring().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        assert!(e.to_string().contains("`ping.ring`"), "{e}");
        assert!(d.wait(Duration::ZERO).unwrap_err().to_string().contains("`ping.doorbell`"));
        assert_eq!(Lines::describe(&None), "missing");
        let mut d = GpioDoorbell::new("ping", Err(io::Error::other("No GPIO chips are available")));
        assert_eq!(d.ring().unwrap_err().to_string(), "no GPIO line named `ping.ring` (No GPIO chips are available)");
    }
}
