//! Both members of a channel in one process: two fake device trees (member 0 and member 1) over one sram file, or
//! over shared memory with two threads, doorbells wired by a [`Pair`].

use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use pv_drivers::ring::{check_range, Memory};

use crate::channel::{self, Channel, Error, Roots};
use crate::devtree::tests::{channel_node, root};
use crate::doorbell::Pair;
use crate::pingpong::{self, Mismatch};
use crate::testdir::TempDir;

const IPA: u64 = 0x1000_0000;
const SIZE: u32 = 0x1000;
const SECOND: Duration = Duration::from_secs(1);

/// Member `member`'s view of channel "link" (access `access`), under `dir`, whose sysfs is shared.
fn roots(dir: &Path, member: u32, access: &str) -> Roots {
    let device_tree = root(&dir.join(format!("member{member}")));
    channel_node(&device_tree, "link", IPA, SIZE, access, member);
    Roots { device_tree, sysfs: dir.join("sys") }
}

/// The sram file the driver would export, zeroed as hv-static hands a channel out.
fn sram_file(dir: &Path) {
    let devices = dir.join("sys/bus/platform/devices/10000000.sram");
    std::fs::create_dir_all(&devices).unwrap();
    std::fs::write(devices.join("10000000.sram"), vec![0; SIZE as usize]).unwrap();
}

fn open_pair(dir: &Path) -> (Channel, Channel) {
    sram_file(dir);
    let (a, b) = Pair::new();
    let (ra, rb) = (roots(dir, 0, "rw"), roots(dir, 1, "rw"));
    let a = Channel::open_with(&ra, channel::find(&ra, "link").unwrap(), Box::new(a)).unwrap();
    let b = Channel::open_with(&rb, channel::find(&rb, "link").unwrap(), Box::new(b)).unwrap();
    (a, b)
}

#[test]
fn messages_cross_the_sram_file_both_ways() {
    let dir = TempDir::new("file");
    let (mut a, mut b) = open_pair(dir.path());
    a.send(b"hello", SECOND).unwrap();
    a.send(b"", SECOND).unwrap();
    let mut buf = [0; 64];
    assert_eq!(b.recv(&mut buf, SECOND).map(|n| &buf[..n]).unwrap(), b"hello");
    assert_eq!(b.recv(&mut buf, SECOND).unwrap(), 0);
    assert!(matches!(b.recv(&mut buf, Duration::from_millis(10)), Err(Error::Timeout { .. })));
    b.send(b"back", SECOND).unwrap();
    assert_eq!(a.recv(&mut buf, SECOND).map(|n| &buf[..n]).unwrap(), b"back");
    // The bytes are where docs/channel-ring.md says: member 1's record at the start of the second half's data.
    let mut raw = [0; 8];
    a.read_at(0x800 + 64, &mut raw).unwrap();
    assert_eq!(&raw, b"\x04\0\0\0back");
}

#[test]
fn a_read_only_member_never_writes() {
    let dir = TempDir::new("ro");
    sram_file(dir.path());
    let r = roots(dir.path(), 1, "r");
    let mut c = Channel::open_with(&r, channel::find(&r, "link").unwrap(), Box::new(Pair::new().0)).unwrap();
    assert!(matches!(c.write_at(0, b"x"), Err(Error::ReadOnly(_))));
    assert!(matches!(c.send(b"x", SECOND), Err(Error::ReadOnly(_))));
    assert!(matches!(c.recv(&mut [0; 8], SECOND), Err(Error::ReadOnly(_))));
    let mut raw = [1; 4];
    c.read_at(0, &mut raw).unwrap();
    assert_eq!(raw, [0; 4], "reading is fine, and nothing was written");
}

#[test]
fn an_unknown_label_lists_the_known_ones() {
    let dir = TempDir::new("nf");
    let r = roots(dir.path(), 0, "rw");
    let e = channel::find(&r, "other").unwrap_err().to_string();
    assert!(e.starts_with("no channel labelled `other` in ") && e.ends_with("(channels: link)"), "{e}");
    let e = Channel::open_with(&r, channel::find(&r, "link").unwrap(), Box::new(Pair::new().0));
    assert!(matches!(e, Err(Error::Sram { .. })), "no sram file");
}

#[test]
fn corrupt_ring_contents_are_an_error_line() {
    let dir = TempDir::new("corrupt");
    let (mut a, mut b) = open_pair(dir.path());
    a.send(b"fine", SECOND).unwrap();
    a.write_at(64, &1000u32.to_le_bytes()).unwrap(); // the record's length
    let e = b.recv(&mut [0; 64], SECOND).unwrap_err().to_string();
    assert_eq!(e, "channel `link`: corrupt ring: the record at data offset 0x0 claims 0x3e8 bytes");
}

/// Channel memory behind a lock, for two threads: every access whole.
struct Locked(Mutex<Vec<u8>>);

impl Memory for Locked {
    type Error = io::Error;

    fn size(&self) -> usize {
        self.0.lock().map_or(0, |m| m.len())
    }

    fn read(&self, offset: usize, buf: &mut [u8]) -> io::Result<()> {
        let m = self.0.lock().map_err(|_| io::Error::other("poisoned"))?;
        check_range(offset, buf.len(), m.len()).map_err(|e| io::Error::other(e.to_string()))?;
        buf.copy_from_slice(&m[offset..offset + buf.len()]);
        Ok(())
    }

    fn write(&self, offset: usize, data: &[u8]) -> io::Result<()> {
        let mut m = self.0.lock().map_err(|_| io::Error::other("poisoned"))?;
        check_range(offset, data.len(), m.len()).map_err(|e| io::Error::other(e.to_string()))?;
        m[offset..offset + data.len()].copy_from_slice(data);
        Ok(())
    }
}

impl Memory for SharedLocked {
    type Error = io::Error;

    fn size(&self) -> usize {
        self.0.size()
    }

    fn read(&self, offset: usize, buf: &mut [u8]) -> io::Result<()> {
        self.0.read(offset, buf)
    }

    fn write(&self, offset: usize, data: &[u8]) -> io::Result<()> {
        self.0.write(offset, data)
    }
}

struct SharedLocked(Arc<Locked>);

#[test]
fn ping_and_pong_agree_across_threads() {
    let dir = TempDir::new("pingpong");
    let memory = Arc::new(Locked(Mutex::new(vec![0; SIZE as usize])));
    let (a, b) = Pair::new();
    let node = |member| channel::find(&roots(dir.path(), member, "rw"), "link").unwrap();
    let mut ping = Channel::from_parts(node(0), Box::new(SharedLocked(memory.clone())), Box::new(a));
    let mut pong = Channel::from_parts(node(1), Box::new(SharedLocked(memory)), Box::new(b));
    let echo = thread::spawn(move || pingpong::pong(&mut pong, 200, 10 * SECOND).unwrap());
    let pinged = pingpong::ping(&mut ping, 200, 10 * SECOND).unwrap();
    let echoed = echo.join().unwrap();
    assert_eq!((echoed.count, echoed.checksum), (pinged.count, pinged.checksum));
    assert_eq!(pinged.count, 200);
    // Only the pinging side times round trips: each is positive, the mean between the extremes.
    let rt = pinged.round_trip.expect("ping's round trips");
    assert!(0 < rt.min_ns && rt.min_ns <= rt.avg_ns && rt.avg_ns <= rt.max_ns, "{rt:?}");
    assert_eq!(echoed.round_trip, None);
}

#[test]
fn pong_checks_what_it_echoes() {
    assert_eq!(pingpong::check(3, &pingpong::message(3)), Ok(()));
    assert_eq!(pingpong::check(4, &pingpong::message(3)), Err(Mismatch::Sequence(3)));
    let mut m = pingpong::message(3);
    m[9] ^= 1;
    assert!(matches!(pingpong::check(3, &m), Err(Mismatch::Checksum { .. })));
    assert_eq!(pingpong::check(0, &[0; 7]), Err(Mismatch::Short(7)));
    assert!((0..500).all(|s| pingpong::message(s).len() <= pingpong::MESSAGE_MAX));
}

#[test]
fn ping_reports_a_wrong_echo() {
    let dir = TempDir::new("badecho");
    let (mut a, mut b) = open_pair(dir.path());
    let liar = thread::spawn(move || {
        let mut buf = [0; 256];
        let n = b.recv(&mut buf, 10 * SECOND).unwrap();
        buf[n - 1] ^= 0xff;
        b.send(&buf[..n], SECOND).unwrap();
    });
    let e = pingpong::ping(&mut a, 1, 10 * SECOND).unwrap_err().to_string();
    liar.join().unwrap();
    assert!(e.starts_with("message 0: echo differs at byte "), "{e}");
}
