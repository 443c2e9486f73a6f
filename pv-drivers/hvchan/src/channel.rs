//! One channel, opened by its label: memory, doorbell and the ring on top.

use std::io;
use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant};

use pv_drivers::ring::{self, Memory, Receiver, Sender};

use crate::devtree::{self, Access, ChannelNode};
use crate::doorbell::{Doorbell, GpioDoorbell, Lines};
use crate::sram::SramFile;

/// Channel memory as hvchan holds it: the sram file, or a stand-in in tests.
pub trait SharedMemory: Memory<Error = io::Error> + Send + Sync {}
impl<T: Memory<Error = io::Error> + Send + Sync> SharedMemory for T {}

/// A ring operation's error, with the file's I/O error inside.
pub type RingError = ring::Error<io::Error>;

/// How long a sender sleeps between looks at a full ring: the receiver does not ring when it makes room.
const FULL_POLL: Duration = Duration::from_millis(1);

/// Where Linux shows the device tree and sysfs: `/proc/device-tree` and `/sys`, or a fake tree in tests.
#[derive(Clone, Debug)]
pub struct Roots {
    pub device_tree: PathBuf,
    pub sysfs: PathBuf,
}

impl Default for Roots {
    fn default() -> Self {
        Self { device_tree: "/proc/device-tree".into(), sysfs: "/sys".into() }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no channel labelled `{label}` in {} (channels: {})", root.display(), if known.is_empty() { "none".into() } else { known.join(", ") })]
    NotFound { label: String, root: PathBuf, known: Vec<String> },
    #[error("cannot open {}: {source} (is the mmio-sram driver bound, and are you root?)", path.display())]
    Sram { path: PathBuf, source: io::Error },
    #[error("channel `{0}` is mapped read-only here: writing it would stop the partition")]
    ReadOnly(String),
    #[error("channel `{label}`: {source}")]
    Io { label: String, source: io::Error },
    #[error("channel `{label}`: {source}")]
    Ring { label: String, source: RingError },
    #[error("channel `{label}`: nothing within {ms} ms", ms = timeout.as_millis())]
    Timeout { label: String, timeout: Duration },
}

/// A channel this partition maps.
pub struct Channel {
    node: ChannelNode,
    memory: Box<dyn SharedMemory>,
    doorbell: Box<dyn Doorbell>,
}

impl Channel {
    /// The channel labelled `label`, from `/proc/device-tree`, `/sys` and `/dev/gpiochip*`.
    pub fn open(label: &str) -> Result<Self, Error> {
        Self::open_in(&Roots::default(), label)
    }

    /// The channel labelled `label` under `roots`; its GPIO lines from `/dev/gpiochip*` (missing lines are an
    /// error when first used, not here).
    pub fn open_in(roots: &Roots, label: &str) -> Result<Self, Error> {
        let node = find(roots, label)?;
        let doorbell = GpioDoorbell::new(label, Lines::find(&node.doorbell_line(), &node.ring_line()));
        Self::open_with(roots, node, Box::new(doorbell))
    }

    /// The channel `node` under `roots`, with the doorbell given (a [`crate::doorbell::Pair`] end in tests).
    pub fn open_with(roots: &Roots, node: ChannelNode, doorbell: Box<dyn Doorbell>) -> Result<Self, Error> {
        let path = node.sram_file(&roots.sysfs);
        let memory = SramFile::open(&path, node.size, node.access == Access::ReadWrite)
            .map_err(|source| Error::Sram { path, source })?;
        Ok(Self::from_parts(node, Box::new(memory), doorbell))
    }

    /// A channel over any memory and doorbell.
    pub fn from_parts(node: ChannelNode, memory: Box<dyn SharedMemory>, doorbell: Box<dyn Doorbell>) -> Self {
        Self { node, memory, doorbell }
    }

    pub fn node(&self) -> &ChannelNode {
        &self.node
    }

    pub fn label(&self) -> &str {
        &self.node.label
    }

    /// Raw bytes of the channel at `offset`.
    pub fn read_at(&self, offset: usize, buf: &mut [u8]) -> Result<(), Error> {
        self.memory.read(offset, buf).map_err(|e| self.io(e))
    }

    /// Writes raw bytes at `offset`; refused on a read-only channel.
    pub fn write_at(&self, offset: usize, data: &[u8]) -> Result<(), Error> {
        self.writable()?;
        self.memory.write(offset, data).map_err(|e| self.io(e))
    }

    /// Starts catching rings (see [`Doorbell::listen`]).
    pub fn listen(&mut self) -> Result<(), Error> {
        self.doorbell.listen().map_err(|e| self.io(e))
    }

    /// Waits at most `timeout` for another member's ring; `true` when one came.
    pub fn wait(&mut self, timeout: Duration) -> Result<bool, Error> {
        self.doorbell.wait(timeout).map_err(|e| self.io(e))
    }

    /// Rings the other members. The writes made before it are visible to them when their doorbell fires.
    pub fn ring(&mut self) -> Result<(), Error> {
        self.doorbell.ring().map_err(|e| self.io(e))
    }

    /// The sender of this partition's ring (its half of the channel).
    pub fn sender(&self) -> Result<Sender<&dyn SharedMemory>, Error> {
        self.writable()?;
        Sender::new(&*self.memory, self.node.member).map_err(|e| self.ring_error(e))
    }

    /// The receiver of the other member's ring. It publishes its progress in this partition's half, so the
    /// channel must be writable.
    pub fn receiver(&self) -> Result<Receiver<&dyn SharedMemory>, Error> {
        self.writable()?;
        Receiver::new(&*self.memory, self.node.member).map_err(|e| self.ring_error(e))
    }

    /// Sends `msg` and rings, waiting at most `timeout` for room while the ring is full.
    pub fn send(&mut self, msg: &[u8], timeout: Duration) -> Result<(), Error> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.sender()?.try_send(msg) {
                Ok(()) => return self.ring(),
                Err(ring::Error::Full) if Instant::now() < deadline => thread::sleep(FULL_POLL),
                Err(ring::Error::Full) => return Err(Error::Timeout { label: self.label().into(), timeout }),
                Err(e) => return Err(self.ring_error(e)),
            }
        }
    }

    /// Receives the next message into `buf`, waiting at most `timeout` for it; its length.
    pub fn recv(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, Error> {
        let deadline = Instant::now() + timeout;
        // Listening before the first look: a ring between the look and the wait is not lost.
        self.listen()?;
        self.writable()?;
        // The fields, not `self.receiver()`: the receiver borrows the memory while the doorbell is waited on.
        let mut receiver = Receiver::new(&*self.memory, self.node.member).map_err(|e| self.ring_error(e))?;
        loop {
            if let Some(n) = receiver.try_recv(buf).map_err(|e| self.ring_error(e))? {
                return Ok(n);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::Timeout { label: self.label().into(), timeout });
            }
            self.doorbell.wait(left).map_err(|source| Error::Io { label: self.node.label.clone(), source })?;
        }
    }

    fn writable(&self) -> Result<(), Error> {
        match self.node.access {
            Access::ReadWrite => Ok(()),
            Access::ReadOnly => Err(Error::ReadOnly(self.node.label.clone())),
        }
    }

    fn io(&self, source: io::Error) -> Error {
        Error::Io { label: self.node.label.clone(), source }
    }

    fn ring_error(&self, source: RingError) -> Error {
        Error::Ring { label: self.node.label.clone(), source }
    }
}

/// The channel labelled `label` in the device tree under `roots`.
pub fn find(roots: &Roots, label: &str) -> Result<ChannelNode, Error> {
    let scan = devtree::scan(&roots.device_tree);
    scan.by_label(label).cloned().ok_or_else(|| Error::NotFound {
        label: label.into(),
        root: roots.device_tree.clone(),
        known: scan.channels.iter().map(|c| c.label.clone()).collect(),
    })
}

/// Every channel under `roots` with where its GPIO lines are (`None`: the GPIO devices could not be searched).
pub fn list(roots: &Roots) -> (devtree::Scan, Vec<Option<Lines>>) {
    let scan = devtree::scan(&roots.device_tree);
    let lines = scan.channels.iter().map(|c| Lines::find(&c.doorbell_line(), &c.ring_line()).ok()).collect();
    (scan, lines)
}
