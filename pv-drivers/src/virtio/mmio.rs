//! The virtio-mmio transport, version 2 (virtio 1.2 §4.2): the register file a partition's driver sees at a
//! device's MMIO window, and the device status protocol (§2.1, §3.1).
//!
//! hv-static traps the partition's accesses to the window (stage-2 unmapped) and forwards each one here as
//! [`MmioTransport::read`] or [`MmioTransport::write`] with its offset and size. A write returns [`Effects`]: the
//! level of the device's interrupt line and whether queue work was left for later, because a notification processes
//! at most [`CHAINS_PER_NOTIFY`] chains per queue before the trap returns (a guest must not be able to keep the
//! hypervisor busy on its CPU with one write). [`MmioTransport::kick`] is the hypervisor's own notification, for
//! a backend with news the driver did not ask for (frames arriving for a network device), under the same bound.
//!
//! Status protocol, as enforced here: the driver sets ACKNOWLEDGE, then DRIVER, then FEATURES_OK, then
//! DRIVER_OK, never clears a bit except by writing 0 (reset), and may set FAILED at any time. An out-of-order or
//! clearing write is ignored (the driver reads the status back and sees it did not take). FEATURES_OK is refused,
//! by leaving it clear, unless the driver accepted VIRTIO_F_VERSION_1 and nothing the device did not offer. Queue
//! registers take writes only between FEATURES_OK and DRIVER_OK. Any queue or request error sets
//! DEVICE_NEEDS_RESET and, after DRIVER_OK, raises a configuration-change interrupt (§2.1.2); the device then
//! ignores notifications until reset.

use super::device::{Device, Error};
use super::memory::GuestMemory;
use super::queue::Queue;

/// "virt" in little-endian byte order.
pub const MAGIC_VALUE: u32 = 0x7472_6976;
/// virtio-mmio version 2 (virtio 1.x, non-legacy).
pub const VERSION: u32 = 2;
/// Subsystem vendor ID of hv-static's devices: the bytes "HVST" in memory order (reads as 0x5453_5648), the same
/// convention as QEMU's "QEMU" (0x554D_4551). Linux matches drivers on device ID with any vendor.
pub const VENDOR_ID: u32 = 0x5453_5648;

/// Most chains a queue gives up per notification (and per [`MmioTransport::run_pending`] call).
pub const CHAINS_PER_NOTIFY: usize = 16;

/// Most buffer bytes the chains of one batch may add up to: past it the rest waits for the next batch, which the
/// hypervisor runs after the guest was re-entered (in the caller's own time). The queue counts a chain when it is
/// popped, so the chain that crosses the limit is still handed to the device; a device whose chains can be large
/// bounds its own work inside one (virtio-blk moves at most [`BYTES_PER_BATCH`] per batch and keeps the rest of a
/// request for the next), and this limit stops a batch from starting further chains after such a one.
///
/// [`BYTES_PER_BATCH`]: super::blk::BYTES_PER_BATCH
pub const BYTES_PER_NOTIFY: u64 = 256 * 1024;

/// Register offsets in the MMIO window (§4.2.2).
pub mod regs {
    pub const MAGIC_VALUE: u64 = 0x000;
    pub const VERSION: u64 = 0x004;
    pub const DEVICE_ID: u64 = 0x008;
    pub const VENDOR_ID: u64 = 0x00c;
    pub const DEVICE_FEATURES: u64 = 0x010;
    pub const DEVICE_FEATURES_SEL: u64 = 0x014;
    pub const DRIVER_FEATURES: u64 = 0x020;
    pub const DRIVER_FEATURES_SEL: u64 = 0x024;
    pub const QUEUE_SEL: u64 = 0x030;
    pub const QUEUE_NUM_MAX: u64 = 0x034;
    pub const QUEUE_NUM: u64 = 0x038;
    pub const QUEUE_READY: u64 = 0x044;
    pub const QUEUE_NOTIFY: u64 = 0x050;
    pub const INTERRUPT_STATUS: u64 = 0x060;
    pub const INTERRUPT_ACK: u64 = 0x064;
    pub const STATUS: u64 = 0x070;
    pub const QUEUE_DESC_LOW: u64 = 0x080;
    pub const QUEUE_DESC_HIGH: u64 = 0x084;
    pub const QUEUE_DRIVER_LOW: u64 = 0x090;
    pub const QUEUE_DRIVER_HIGH: u64 = 0x094;
    pub const QUEUE_DEVICE_LOW: u64 = 0x0a0;
    pub const QUEUE_DEVICE_HIGH: u64 = 0x0a4;
    pub const SHM_SEL: u64 = 0x0ac;
    pub const SHM_LEN_LOW: u64 = 0x0b0;
    pub const SHM_LEN_HIGH: u64 = 0x0b4;
    pub const SHM_BASE_LOW: u64 = 0x0b8;
    pub const SHM_BASE_HIGH: u64 = 0x0bc;
    pub const QUEUE_RESET: u64 = 0x0c0;
    pub const CONFIG_GENERATION: u64 = 0x0fc;
    /// Start of the device-specific configuration space.
    pub const CONFIG: u64 = 0x100;
}

/// Device status bits (§2.1), in protocol order.
pub mod status {
    pub const ACKNOWLEDGE: u32 = 1;
    pub const DRIVER: u32 = 2;
    pub const FEATURES_OK: u32 = 8;
    pub const DRIVER_OK: u32 = 4;
    pub const DEVICE_NEEDS_RESET: u32 = 64;
    pub const FAILED: u32 = 128;
}

/// InterruptStatus bits (§4.2.2).
pub mod interrupt {
    /// A queue has new used buffers.
    pub const USED_BUFFER: u32 = 1;
    /// The configuration space changed (or the device needs a reset).
    pub const CONFIG_CHANGE: u32 = 2;
}

/// Transport feature bits (§6).
pub mod features {
    pub const VIRTIO_F_INDIRECT_DESC: u64 = 1 << 28;
    pub const VIRTIO_F_EVENT_IDX: u64 = 1 << 29;
    pub const VIRTIO_F_VERSION_1: u64 = 1 << 32;
    /// Bits 24..=41, reserved for the transport and queue mechanisms: a device's own features never use them.
    pub const TRANSPORT_MASK: u64 = ((1 << 42) - 1) & !((1 << 24) - 1);
}

/// What the hypervisor must do after a register write.
#[must_use]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Effects {
    /// Level of the device's interrupt line: InterruptStatus != 0. Drive the partition's virtual SPI to it.
    pub interrupt: bool,
    /// Queues have chains left after their batch: call [`MmioTransport::run_pending`] later (e.g. on the next
    /// scheduling point), not in this trap.
    pub more_work: bool,
}

/// One virtio-mmio device: a [`Device`] behind the register file, with storage for `Q` queues (at least the
/// device's [`Device::num_queues`], at most 32).
pub struct MmioTransport<D, const Q: usize = 1> {
    device: D,
    queues: [Queue; Q],
    status: u32,
    device_features_sel: u32,
    driver_features_sel: u32,
    driver_features: u64,
    /// The driver wrote a non-zero word beyond the two feature words: it accepted features nobody offered.
    driver_features_invalid: bool,
    queue_sel: u32,
    interrupt_status: u32,
    config_generation: u32,
    /// Bit `i`: queue `i` was notified and not yet processed to the end.
    pending: u32,
    last_error: Option<Error>,
}

impl<D: Device, const Q: usize> MmioTransport<D, Q> {
    pub fn new(device: D) -> Self {
        const { assert!(Q >= 1 && Q <= 32, "a transport holds 1 to 32 queues") };
        let queues =
            core::array::from_fn(|i| Queue::new(if i < device.num_queues() { device.queue_max_size(i) } else { 0 }));
        Self {
            device,
            queues,
            status: 0,
            device_features_sel: 0,
            driver_features_sel: 0,
            driver_features: 0,
            driver_features_invalid: false,
            queue_sel: 0,
            interrupt_status: 0,
            config_generation: 0,
            pending: 0,
            last_error: None,
        }
    }

    pub fn device(&self) -> &D {
        &self.device
    }

    pub fn device_mut(&mut self) -> &mut D {
        &mut self.device
    }

    /// The Status register.
    pub fn status(&self) -> u32 {
        self.status
    }

    /// Queue `index`, if it exists.
    pub fn queue(&self, index: usize) -> Option<&Queue> {
        self.queues.get(index)
    }

    /// Level of the device's interrupt line.
    pub fn interrupt_level(&self) -> bool {
        self.interrupt_status != 0
    }

    /// Why the device last set DEVICE_NEEDS_RESET (cleared by reset), for the hypervisor's log.
    pub fn last_error(&self) -> Option<Error> {
        self.last_error
    }

    /// Features offered: the device's own, VERSION_1 (this is a non-legacy transport) and INDIRECT_DESC.
    pub fn device_features(&self) -> u64 {
        (self.device.features() & !features::TRANSPORT_MASK)
            | features::VIRTIO_F_VERSION_1
            | features::VIRTIO_F_INDIRECT_DESC
    }

    /// Features the driver accepted (meaningful once FEATURES_OK is set).
    pub fn driver_features(&self) -> u64 {
        self.driver_features
    }

    fn effects(&self) -> Effects {
        Effects { interrupt: self.interrupt_level(), more_work: self.can_process() && self.pending != 0 }
    }

    fn can_process(&self) -> bool {
        self.status & status::DRIVER_OK != 0 && self.status & (status::DEVICE_NEEDS_RESET | status::FAILED) == 0
    }

    /// Queue registers take writes only while the driver sets queues up (§3.1.1 step 7).
    fn queue_setup_allowed(&self) -> bool {
        self.status & status::FEATURES_OK != 0
            && self.status & (status::DRIVER_OK | status::DEVICE_NEEDS_RESET | status::FAILED) == 0
    }

    fn selected_queue(&self) -> Option<&Queue> {
        let index = usize::try_from(self.queue_sel).ok()?;
        self.queues.get(index).filter(|_| index < self.device.num_queues())
    }

    /// The selected queue, if it exists and its configuration may change now.
    fn configurable_queue(&mut self) -> Option<&mut Queue> {
        if !self.queue_setup_allowed() {
            return None;
        }
        let index = usize::try_from(self.queue_sel).ok().filter(|&i| i < self.device.num_queues())?;
        self.queues.get_mut(index).filter(|q| !q.ready())
    }

    /// A driver read of `size` bytes at `offset` in the window. Registers below the configuration space answer
    /// only aligned 32-bit reads (§4.2.2.2); anything else reads as 0.
    pub fn read(&self, offset: u64, size: u8) -> u32 {
        if offset >= regs::CONFIG {
            return self.read_config(offset - regs::CONFIG, size);
        }
        if size != 4 || !offset.is_multiple_of(4) {
            return 0;
        }
        match offset {
            regs::MAGIC_VALUE => MAGIC_VALUE,
            regs::VERSION => VERSION,
            regs::DEVICE_ID => self.device.device_id(),
            regs::VENDOR_ID => VENDOR_ID,
            regs::DEVICE_FEATURES => match self.device_features_sel {
                0 => self.device_features() as u32,
                1 => (self.device_features() >> 32) as u32,
                _ => 0,
            },
            regs::QUEUE_NUM_MAX => self.selected_queue().map_or(0, |q| u32::from(q.max_size())),
            regs::QUEUE_READY => self.selected_queue().map_or(0, |q| u32::from(q.ready())),
            regs::INTERRUPT_STATUS => self.interrupt_status,
            regs::STATUS => self.status,
            // No shared memory regions: a length of -1 says so (§4.2.2).
            regs::SHM_LEN_LOW | regs::SHM_LEN_HIGH | regs::SHM_BASE_LOW | regs::SHM_BASE_HIGH => u32::MAX,
            regs::CONFIG_GENERATION => self.config_generation,
            // Write-only registers (features and queue selectors, QueueNum, ring addresses, QueueNotify,
            // InterruptACK), QueueReset (VIRTIO_F_RING_RESET is not offered) and holes.
            _ => 0,
        }
    }

    fn read_config(&self, offset: u64, size: u8) -> u32 {
        let Some(offset) = config_access(offset, size) else { return 0 };
        let mut bytes = [0u8; 4];
        self.device.read_config(offset, &mut bytes[..usize::from(size)]);
        u32::from_le_bytes(bytes)
    }

    /// A driver write of `size` bytes of `value` at `offset` in the window. Misaligned or non-32-bit writes to
    /// registers are ignored.
    pub fn write<M: GuestMemory>(&mut self, offset: u64, size: u8, value: u32, mem: &mut M) -> Effects {
        if offset >= regs::CONFIG {
            if let Some(offset) = config_access(offset - regs::CONFIG, size) {
                self.device.write_config(offset, &value.to_le_bytes()[..usize::from(size)]);
            }
            return self.effects();
        }
        if size != 4 || !offset.is_multiple_of(4) {
            return self.effects();
        }
        match offset {
            regs::DEVICE_FEATURES_SEL => self.device_features_sel = value,
            regs::DRIVER_FEATURES => self.write_driver_features(value),
            regs::DRIVER_FEATURES_SEL => self.driver_features_sel = value,
            regs::QUEUE_SEL => self.queue_sel = value,
            regs::QUEUE_NUM => {
                if let Some(q) = self.configurable_queue() {
                    // An out-of-range size is kept as an invalid one, for `enable` to refuse.
                    q.set_size(u16::try_from(value).unwrap_or(u16::MAX));
                }
            }
            regs::QUEUE_READY => self.write_queue_ready(value, mem),
            regs::QUEUE_DESC_LOW => self.set_queue_addr(|q| &mut q.0, false, value),
            regs::QUEUE_DESC_HIGH => self.set_queue_addr(|q| &mut q.0, true, value),
            regs::QUEUE_DRIVER_LOW => self.set_queue_addr(|q| &mut q.1, false, value),
            regs::QUEUE_DRIVER_HIGH => self.set_queue_addr(|q| &mut q.1, true, value),
            regs::QUEUE_DEVICE_LOW => self.set_queue_addr(|q| &mut q.2, false, value),
            regs::QUEUE_DEVICE_HIGH => self.set_queue_addr(|q| &mut q.2, true, value),
            regs::QUEUE_NOTIFY => return self.notify(value, mem),
            regs::INTERRUPT_ACK => self.interrupt_status &= !value,
            regs::STATUS => self.write_status(value),
            _ => {}
        }
        self.effects()
    }

    fn write_driver_features(&mut self, value: u32) {
        // Features are negotiated after DRIVER and frozen by FEATURES_OK (§3.1.1).
        if self.status & status::DRIVER == 0 || self.status & status::FEATURES_OK != 0 {
            return;
        }
        match self.driver_features_sel {
            0 => self.driver_features = (self.driver_features & !0xFFFF_FFFF) | u64::from(value),
            1 => self.driver_features = (self.driver_features & 0xFFFF_FFFF) | (u64::from(value) << 32),
            _ => self.driver_features_invalid |= value != 0,
        }
    }

    /// Writes half of one of the selected queue's ring addresses; `pick` chooses which of (desc, driver, device).
    fn set_queue_addr(&mut self, pick: fn(&mut (u64, u64, u64)) -> &mut u64, high: bool, value: u32) {
        let Some(q) = self.configurable_queue() else { return };
        let mut addrs = (q.desc_table(), q.avail_ring(), q.used_ring());
        let addr = pick(&mut addrs);
        *addr = if high {
            (*addr & 0xFFFF_FFFF) | (u64::from(value) << 32)
        } else {
            (*addr & !0xFFFF_FFFF) | u64::from(value)
        };
        q.set_desc_table(addrs.0);
        q.set_avail_ring(addrs.1);
        q.set_used_ring(addrs.2);
    }

    fn write_queue_ready<M: GuestMemory>(&mut self, value: u32, mem: &mut M) {
        if value == 0 {
            // Always allowed: Linux writes 0 when tearing a queue down and checks that it reads back 0.
            if let Some(i) = usize::try_from(self.queue_sel).ok().filter(|&i| i < self.device.num_queues()) {
                self.queues[i].disable();
                self.device.queue_stopped(i);
                self.pending &= !(1 << i);
            }
            return;
        }
        let Some(q) = self.configurable_queue() else { return };
        if let Err(e) = q.enable(mem) {
            self.fail(e.into());
        }
    }

    fn features_acceptable(&self) -> bool {
        !self.driver_features_invalid
            && self.driver_features & features::VIRTIO_F_VERSION_1 != 0
            && self.driver_features & !self.device_features() == 0
    }

    fn write_status(&mut self, value: u32) {
        if value == 0 {
            self.reset();
            return;
        }
        let old = self.status;
        let added = value & !old;
        let known = status::ACKNOWLEDGE | status::DRIVER | status::FEATURES_OK | status::DRIVER_OK | status::FAILED;
        // Clearing a bit, setting DEVICE_NEEDS_RESET (the device's to set) or an undefined bit: ignored.
        if value & old != old || added & !known != 0 {
            return;
        }
        let mut new = old;
        // Each step needs the one before, possibly set by this same write.
        let steps = [
            (status::ACKNOWLEDGE, 0),
            (status::DRIVER, status::ACKNOWLEDGE),
            (status::FEATURES_OK, status::DRIVER),
            (status::DRIVER_OK, status::FEATURES_OK),
        ];
        for (bit, needs) in steps {
            if added & bit == 0 {
                continue;
            }
            if new & needs != needs {
                return;
            }
            if bit == status::FEATURES_OK && !self.features_acceptable() {
                // Refused: the driver reads FEATURES_OK back clear (§3.1.1 step 6). Later steps cannot follow.
                self.status = new | (added & status::FAILED);
                return;
            }
            new |= bit;
        }
        new |= added & status::FAILED;
        self.status = new;
        if added & status::DRIVER_OK != 0 {
            self.activate();
        }
    }

    fn activate(&mut self) {
        let indirect = self.driver_features & features::VIRTIO_F_INDIRECT_DESC != 0;
        for q in &mut self.queues {
            q.set_indirect(indirect);
        }
        if let Err(e) = self.device.activate(self.driver_features) {
            self.fail(e);
        }
    }

    /// Device reset (Status = 0): every register back to its initial value, every queue disabled.
    fn reset(&mut self) {
        self.device.reset();
        for q in &mut self.queues {
            q.reset();
        }
        self.status = 0;
        self.device_features_sel = 0;
        self.driver_features_sel = 0;
        self.driver_features = 0;
        self.driver_features_invalid = false;
        self.queue_sel = 0;
        self.interrupt_status = 0;
        self.pending = 0;
        self.last_error = None;
    }

    /// Enters DEVICE_NEEDS_RESET with `error` (§2.1.2): the device stops, and a driver past DRIVER_OK is told by a
    /// configuration-change interrupt.
    fn fail(&mut self, error: Error) {
        self.last_error = Some(error);
        self.status |= status::DEVICE_NEEDS_RESET;
        self.pending = 0;
        for i in 0..self.device.num_queues().min(Q) {
            self.device.queue_stopped(i);
        }
        if self.status & status::DRIVER_OK != 0 {
            self.interrupt_status |= interrupt::CONFIG_CHANGE;
        }
    }

    fn notify<M: GuestMemory>(&mut self, value: u32, mem: &mut M) -> Effects {
        // Without VIRTIO_F_NOTIFICATION_DATA the value is the queue index.
        let Some(index) = usize::try_from(value).ok().filter(|&i| i < self.device.num_queues().min(Q)) else {
            return self.effects();
        };
        if self.status & (status::DEVICE_NEEDS_RESET | status::FAILED) != 0 {
            return self.effects();
        }
        // Before DRIVER_OK the device must not use buffers (§3.1.1); remember the kick for after.
        self.pending |= 1 << index;
        if self.can_process() {
            self.process_queue(index, mem);
        }
        self.effects()
    }

    /// The backend has news for queue `queue` (frames arrived for a network device's receive queue): processes it
    /// exactly as a driver notification would, in one batch of at most [`CHAINS_PER_NOTIFY`] chains, leaving the
    /// rest to [`MmioTransport::run_pending`].
    ///
    /// Unlike a notification, a kick the device cannot act on now is not remembered: before DRIVER_OK, after an
    /// error (DEVICE_NEEDS_RESET or FAILED) or on a queue that is not ready, it changes nothing. The backend keeps
    /// its news until the driver notifies the queue (a network driver does so whenever it adds receive buffers).
    /// The [`Effects`] returned are always the current ones, since `interrupt` is a line level: answering a no-op
    /// with "no interrupt" would drop a configuration-change interrupt the driver has not acknowledged yet.
    pub fn kick<M: GuestMemory>(&mut self, queue: usize, mem: &mut M) -> Effects {
        let exists = queue < self.device.num_queues().min(Q);
        if exists && self.can_process() && self.queues[queue].ready() {
            self.pending |= 1 << queue;
            self.process_queue(queue, mem);
        }
        self.effects()
    }

    /// Continues queues that had work left (see [`Effects::more_work`]): one batch of at most
    /// [`CHAINS_PER_NOTIFY`] chains per queue.
    pub fn run_pending<M: GuestMemory>(&mut self, mem: &mut M) -> Effects {
        if self.can_process() {
            for index in 0..Q {
                if self.pending & (1 << index) != 0 && self.can_process() {
                    self.process_queue(index, mem);
                }
            }
        }
        self.effects()
    }

    fn process_queue<M: GuestMemory>(&mut self, index: usize, mem: &mut M) {
        let queue = &mut self.queues[index];
        if !queue.ready() {
            self.pending &= !(1 << index);
            return;
        }
        queue.set_budgets(CHAINS_PER_NOTIFY, BYTES_PER_NOTIFY);
        let result = self.device.process(index, queue, mem);
        // Buffers used before an error are still the driver's to see.
        let wants_interrupt = queue.take_interrupt(mem);
        let more = queue.deferred();
        match (result, wants_interrupt) {
            (Ok(outcome), Ok(wants_interrupt)) => {
                if wants_interrupt {
                    self.interrupt_status |= interrupt::USED_BUFFER;
                }
                if outcome.more || more {
                    self.pending |= 1 << index;
                } else {
                    self.pending &= !(1 << index);
                }
            }
            (Err(e), wants_interrupt) => {
                if wants_interrupt == Ok(true) {
                    self.interrupt_status |= interrupt::USED_BUFFER;
                }
                self.fail(e);
            }
            (Ok(_), Err(e)) => self.fail(e.into()),
        }
    }

    /// The device changed its configuration space: bump ConfigGeneration and, after DRIVER_OK, interrupt
    /// (§2.5.1, §4.2.2).
    pub fn config_changed(&mut self) -> Effects {
        self.config_generation = self.config_generation.wrapping_add(1);
        if self.status & status::DRIVER_OK != 0 {
            self.interrupt_status |= interrupt::CONFIG_CHANGE;
        }
        self.effects()
    }
}

/// The configuration-space offset of a 1-, 2- or 4-byte naturally aligned access, or `None` for any other.
fn config_access(offset: u64, size: u8) -> Option<u32> {
    if !matches!(size, 1 | 2 | 4) || !offset.is_multiple_of(u64::from(size)) {
        return None;
    }
    u32::try_from(offset).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::virtio::device::ProcessOutcome;
    use crate::virtio::queue::{QueueError, VIRTQ_AVAIL_F_NO_INTERRUPT};
    use crate::virtio::test_utils::{Desc, GuestQueue, Layout, TestMemory};
    use std::vec::Vec;

    const BASE: u64 = 0x8000_0000;
    const RAM: usize = 0x20000;
    const DATA: u64 = BASE + 0x10000;
    const DUMMY_FEATURES: u64 = 1 << 3 | 1 << 29 | 1 << 50;

    /// A device that returns every chain unwritten, with a small config space, recording what it is told.
    #[derive(Default)]
    struct Dummy {
        config: [u8; 8],
        activated: Option<u64>,
        resets: usize,
        processed: Vec<usize>,
        refuse_activation: bool,
    }

    impl Device for Dummy {
        fn device_id(&self) -> u32 {
            42
        }
        fn features(&self) -> u64 {
            DUMMY_FEATURES
        }
        fn num_queues(&self) -> usize {
            2
        }
        fn queue_max_size(&self, index: usize) -> u16 {
            [64, 16][index]
        }
        fn read_config(&self, offset: u32, data: &mut [u8]) {
            for (i, b) in data.iter_mut().enumerate() {
                *b = self.config.get(offset as usize + i).copied().unwrap_or(0);
            }
        }
        fn write_config(&mut self, offset: u32, data: &[u8]) {
            for (i, b) in data.iter().enumerate() {
                if let Some(c) = self.config.get_mut(offset as usize + i) {
                    *c = *b;
                }
            }
        }
        fn activate(&mut self, features: u64) -> Result<(), Error> {
            self.activated = Some(features);
            if self.refuse_activation {
                return Err(Error::Malformed("refused"));
            }
            Ok(())
        }
        fn process(
            &mut self,
            queue_index: usize,
            queue: &mut Queue,
            mem: &mut dyn GuestMemory,
        ) -> Result<ProcessOutcome, Error> {
            self.processed.push(queue_index);
            let mut outcome = ProcessOutcome::default();
            while let Some(chain) = queue.pop(mem)? {
                queue.add_used(mem, chain.head(), 0)?;
                outcome.completed += 1;
            }
            Ok(outcome)
        }
        fn reset(&mut self) {
            self.resets += 1;
        }
    }

    type Transport = MmioTransport<Dummy, 3>;

    fn reg(t: &Transport, offset: u64) -> u32 {
        t.read(offset, 4)
    }

    /// A register write whose effects the test checks.
    fn poke(t: &mut Transport, mem: &mut TestMemory, offset: u64, value: u32) -> Effects {
        t.write(offset, 4, value, mem)
    }

    /// A register write whose effects do not matter to the test.
    fn set(t: &mut Transport, mem: &mut TestMemory, offset: u64, value: u32) {
        let _ = t.write(offset, 4, value, mem);
    }

    /// What Linux's virtio_mmio + virtio core do up to FEATURES_OK.
    fn negotiate(t: &mut Transport, mem: &mut TestMemory, accept: u64) -> u32 {
        set(t, mem, regs::STATUS, 0);
        set(t, mem, regs::STATUS, status::ACKNOWLEDGE);
        set(t, mem, regs::STATUS, status::ACKNOWLEDGE | status::DRIVER);
        set(t, mem, regs::DRIVER_FEATURES_SEL, 1);
        set(t, mem, regs::DRIVER_FEATURES, (accept >> 32) as u32);
        set(t, mem, regs::DRIVER_FEATURES_SEL, 0);
        set(t, mem, regs::DRIVER_FEATURES, accept as u32);
        set(t, mem, regs::STATUS, status::ACKNOWLEDGE | status::DRIVER | status::FEATURES_OK);
        reg(t, regs::STATUS)
    }

    /// Sets queue `index` up at `at` with `size` entries, as Linux's vm_setup_vq does.
    fn setup_queue(t: &mut Transport, mem: &mut TestMemory, index: u32, at: u64, size: u16) -> GuestQueue {
        let (layout, _) = Layout::packed(at, size);
        set(t, mem, regs::QUEUE_SEL, index);
        assert_eq!(reg(t, regs::QUEUE_READY), 0);
        set(t, mem, regs::QUEUE_NUM, u32::from(size));
        for (low, addr) in [
            (regs::QUEUE_DESC_LOW, layout.desc),
            (regs::QUEUE_DRIVER_LOW, layout.avail),
            (regs::QUEUE_DEVICE_LOW, layout.used),
        ] {
            set(t, mem, low, addr as u32);
            set(t, mem, low + 4, (addr >> 32) as u32);
        }
        set(t, mem, regs::QUEUE_READY, 1);
        GuestQueue::new(layout)
    }

    const ALL: u32 = status::ACKNOWLEDGE | status::DRIVER | status::FEATURES_OK | status::DRIVER_OK;

    /// A device brought up the way Linux does it, with queue 0 ready.
    fn running(accept: u64) -> (Transport, TestMemory, GuestQueue) {
        let mut mem = TestMemory::new(BASE, RAM);
        let mut t = Transport::new(Dummy::default());
        assert_ne!(negotiate(&mut t, &mut mem, accept) & status::FEATURES_OK, 0);
        let g = setup_queue(&mut t, &mut mem, 0, BASE, 64);
        set(&mut t, &mut mem, regs::STATUS, ALL);
        assert_eq!(reg(&t, regs::STATUS), ALL);
        (t, mem, g)
    }

    #[test]
    fn identifies_itself() {
        let t = Transport::new(Dummy::default());
        assert_eq!(reg(&t, regs::MAGIC_VALUE), 0x7472_6976);
        assert_eq!(&reg(&t, regs::MAGIC_VALUE).to_le_bytes(), b"virt");
        assert_eq!(reg(&t, regs::VERSION), 2);
        assert_eq!(reg(&t, regs::DEVICE_ID), 42);
        assert_eq!(&reg(&t, regs::VENDOR_ID).to_le_bytes(), b"HVST");
        assert_eq!(reg(&t, regs::STATUS), 0);
        assert_eq!(reg(&t, regs::INTERRUPT_STATUS), 0);
        assert_eq!(reg(&t, regs::CONFIG_GENERATION), 0);
        for shm in [regs::SHM_LEN_LOW, regs::SHM_LEN_HIGH, regs::SHM_BASE_LOW, regs::SHM_BASE_HIGH] {
            assert_eq!(reg(&t, shm), u32::MAX, "no shared memory regions");
        }
        for write_only in [
            regs::DEVICE_FEATURES_SEL,
            regs::DRIVER_FEATURES,
            regs::DRIVER_FEATURES_SEL,
            regs::QUEUE_SEL,
            regs::QUEUE_NUM,
            regs::QUEUE_NOTIFY,
            regs::INTERRUPT_ACK,
            regs::QUEUE_DESC_LOW,
            regs::QUEUE_DEVICE_HIGH,
            regs::QUEUE_RESET,
            0x0e0,
        ] {
            assert_eq!(reg(&t, write_only), 0, "{write_only:#x}");
        }
        assert_eq!(t.read(regs::MAGIC_VALUE, 2), 0, "registers answer 32-bit reads only");
        assert_eq!(t.read(regs::MAGIC_VALUE, 1), 0);
        assert_eq!(t.read(regs::VERSION + 1, 4), 0, "misaligned");
        assert_eq!(t.read(regs::MAGIC_VALUE, 8), 0);
    }

    #[test]
    fn device_features_are_paged_and_filtered() {
        let mut mem = TestMemory::new(BASE, RAM);
        let mut t = Transport::new(Dummy::default());
        let offered = 1 << 3 | 1 << 50 | features::VIRTIO_F_VERSION_1 | features::VIRTIO_F_INDIRECT_DESC;
        assert_eq!(t.device_features(), offered, "EVENT_IDX (bit 29) from the device is dropped");
        assert_eq!(reg(&t, regs::DEVICE_FEATURES), offered as u32);
        set(&mut t, &mut mem, regs::DEVICE_FEATURES_SEL, 1);
        assert_eq!(reg(&t, regs::DEVICE_FEATURES), (offered >> 32) as u32);
        assert_eq!(reg(&t, regs::DEVICE_FEATURES) & 1, 1, "VERSION_1");
        set(&mut t, &mut mem, regs::DEVICE_FEATURES_SEL, 2);
        assert_eq!(reg(&t, regs::DEVICE_FEATURES), 0);
    }

    #[test]
    fn features_ok_needs_version_1_and_only_offered_features() {
        let mut mem = TestMemory::new(BASE, RAM);
        let mut t = Transport::new(Dummy::default());
        let v1 = features::VIRTIO_F_VERSION_1;
        let base = status::ACKNOWLEDGE | status::DRIVER;
        assert_eq!(negotiate(&mut t, &mut mem, 1 << 3), base, "no VERSION_1: refused");
        assert_eq!(negotiate(&mut t, &mut mem, v1 | 1 << 4), base, "bit 4 was not offered");
        assert_eq!(negotiate(&mut t, &mut mem, v1 | features::VIRTIO_F_EVENT_IDX), base, "nor EVENT_IDX");
        // A word beyond the two feature words.
        negotiate(&mut t, &mut mem, 0);
        set(&mut t, &mut mem, regs::DRIVER_FEATURES_SEL, 2);
        set(&mut t, &mut mem, regs::DRIVER_FEATURES, 1);
        set(&mut t, &mut mem, regs::DRIVER_FEATURES_SEL, 1);
        set(&mut t, &mut mem, regs::DRIVER_FEATURES, 1);
        set(&mut t, &mut mem, regs::STATUS, base | status::FEATURES_OK);
        assert_eq!(reg(&t, regs::STATUS), base);

        assert_eq!(negotiate(&mut t, &mut mem, v1 | 1 << 50 | 1 << 3), base | status::FEATURES_OK);
        assert_eq!(t.driver_features(), v1 | 1 << 50 | 1 << 3);
        // Frozen after FEATURES_OK.
        set(&mut t, &mut mem, regs::DRIVER_FEATURES, 0);
        assert_eq!(t.driver_features(), v1 | 1 << 50 | 1 << 3);
        // And ignored before DRIVER.
        set(&mut t, &mut mem, regs::STATUS, 0);
        set(&mut t, &mut mem, regs::STATUS, status::ACKNOWLEDGE);
        set(&mut t, &mut mem, regs::DRIVER_FEATURES, 0xFF);
        assert_eq!(t.driver_features(), 0);
    }

    #[test]
    fn status_follows_the_protocol() {
        let mut mem = TestMemory::new(BASE, RAM);
        let mut t = Transport::new(Dummy::default());
        let (ack, drv, fok, dok) = (status::ACKNOWLEDGE, status::DRIVER, status::FEATURES_OK, status::DRIVER_OK);
        let mut write = |t: &mut Transport, v| {
            let _ = t.write(regs::STATUS, 4, v, &mut mem);
            t.status()
        };
        assert_eq!(write(&mut t, drv), 0, "DRIVER before ACKNOWLEDGE");
        assert_eq!(write(&mut t, ack | fok), 0, "FEATURES_OK before DRIVER: the whole write is ignored");
        assert_eq!(write(&mut t, ack), ack);
        assert_eq!(write(&mut t, ack | drv | dok), ack, "DRIVER_OK before FEATURES_OK");
        assert_eq!(write(&mut t, drv), ack, "clearing ACKNOWLEDGE");
        assert_eq!(write(&mut t, ack | drv | status::DEVICE_NEEDS_RESET), ack, "the device's bit");
        assert_eq!(write(&mut t, ack | drv | 0x10), ack, "an undefined bit");
        assert_eq!(write(&mut t, ack | drv | 0x100), ack, "beyond the byte");
        assert_eq!(write(&mut t, ack | drv), ack | drv);
        assert_eq!(write(&mut t, ack | drv | status::FAILED), ack | drv | status::FAILED, "FAILED at any time");
        assert_eq!(write(&mut t, 0), 0);
        assert_eq!(write(&mut t, ack | drv), ack | drv, "several steps in one write");
    }

    #[test]
    fn driver_ok_activates_with_the_negotiated_features() {
        let v1 = features::VIRTIO_F_VERSION_1;
        let (t, ..) = running(v1 | 1 << 3);
        assert_eq!(t.device().activated, Some(v1 | 1 << 3));
        assert_eq!(t.last_error(), None);

        let mut mem = TestMemory::new(BASE, RAM);
        let mut t = Transport::new(Dummy { refuse_activation: true, ..Dummy::default() });
        negotiate(&mut t, &mut mem, v1);
        let effects = poke(&mut t, &mut mem, regs::STATUS, ALL);
        assert_eq!(t.status(), ALL | status::DEVICE_NEEDS_RESET);
        assert_eq!(t.last_error(), Some(Error::Malformed("refused")));
        assert_eq!(reg(&t, regs::INTERRUPT_STATUS), interrupt::CONFIG_CHANGE);
        assert!(effects.interrupt);
    }

    #[test]
    fn queue_registers() {
        let mut mem = TestMemory::new(BASE, RAM);
        let mut t = Transport::new(Dummy::default());
        for (sel, max) in [(0, 64), (1, 16), (2, 0), (3, 0), (u32::MAX, 0)] {
            set(&mut t, &mut mem, regs::QUEUE_SEL, sel);
            assert_eq!(reg(&t, regs::QUEUE_NUM_MAX), max, "queue {sel}");
        }
        // Before FEATURES_OK the queue registers ignore writes.
        set(&mut t, &mut mem, regs::QUEUE_SEL, 0);
        set(&mut t, &mut mem, regs::QUEUE_NUM, 8);
        set(&mut t, &mut mem, regs::QUEUE_DESC_LOW, 0x1000);
        set(&mut t, &mut mem, regs::QUEUE_READY, 1);
        assert_eq!((t.queue(0).unwrap().size(), t.queue(0).unwrap().desc_table()), (64, 0));
        assert_eq!(reg(&t, regs::QUEUE_READY), 0);

        negotiate(&mut t, &mut mem, features::VIRTIO_F_VERSION_1);
        set(&mut t, &mut mem, regs::QUEUE_SEL, 1);
        set(&mut t, &mut mem, regs::QUEUE_DESC_LOW, 0x89AB_CDEF);
        set(&mut t, &mut mem, regs::QUEUE_DESC_HIGH, 0x0123_4567);
        set(&mut t, &mut mem, regs::QUEUE_DRIVER_HIGH, 0x11);
        set(&mut t, &mut mem, regs::QUEUE_DRIVER_LOW, 0x22);
        set(&mut t, &mut mem, regs::QUEUE_DEVICE_LOW, 0x33);
        set(&mut t, &mut mem, regs::QUEUE_DEVICE_HIGH, 0x44);
        let q = t.queue(1).unwrap();
        assert_eq!(
            (q.desc_table(), q.avail_ring(), q.used_ring()),
            (0x0123_4567_89AB_CDEF, 0x11_0000_0022, 0x44_0000_0033)
        );
        set(&mut t, &mut mem, regs::QUEUE_NUM, 0x1_0000);
        assert_eq!(t.queue(1).unwrap().size(), u16::MAX, "kept invalid");

        setup_queue(&mut t, &mut mem, 1, BASE, 16);
        assert_eq!(reg(&t, regs::QUEUE_READY), 1);
        set(&mut t, &mut mem, regs::QUEUE_NUM, 8);
        set(&mut t, &mut mem, regs::QUEUE_DESC_LOW, 0);
        assert_eq!((t.queue(1).unwrap().size(), t.queue(1).unwrap().desc_table()), (16, BASE), "ready: frozen");
        set(&mut t, &mut mem, regs::QUEUE_READY, 0);
        assert_eq!(reg(&t, regs::QUEUE_READY), 0, "Linux's vm_del_vq checks this");
        set(&mut t, &mut mem, regs::QUEUE_SEL, 2);
        set(&mut t, &mut mem, regs::QUEUE_READY, 1);
        assert_eq!(reg(&t, regs::QUEUE_READY), 0, "queue 2 does not exist");
        assert_eq!(t.status() & status::DEVICE_NEEDS_RESET, 0);

        // After DRIVER_OK, queue set-up is over.
        set(&mut t, &mut mem, regs::STATUS, ALL);
        set(&mut t, &mut mem, regs::QUEUE_SEL, 1);
        set(&mut t, &mut mem, regs::QUEUE_DESC_LOW, 0);
        set(&mut t, &mut mem, regs::QUEUE_READY, 1);
        assert_eq!((reg(&t, regs::QUEUE_READY), t.queue(1).unwrap().desc_table()), (0, BASE));
    }

    #[test]
    fn a_bad_queue_needs_reset() {
        let mut mem = TestMemory::new(BASE, RAM);
        let mut t = Transport::new(Dummy::default());
        negotiate(&mut t, &mut mem, features::VIRTIO_F_VERSION_1);
        setup_queue(&mut t, &mut mem, 0, BASE + RAM as u64, 64);
        assert_eq!(reg(&t, regs::QUEUE_READY), 0);
        assert_ne!(t.status() & status::DEVICE_NEEDS_RESET, 0);
        assert!(matches!(t.last_error(), Some(Error::Queue(QueueError::RingOutsideMemory { .. }))));
        assert_eq!(reg(&t, regs::INTERRUPT_STATUS), 0, "no interrupt before DRIVER_OK");
        set(&mut t, &mut mem, regs::STATUS, ALL);
        assert_eq!(t.status() & status::DRIVER_OK, 0, "queue set-up is refused once the device needs a reset");
        set(&mut t, &mut mem, regs::STATUS, 0);
        assert_eq!((t.status(), t.last_error()), (0, None));
        assert_eq!(mem.violations(), 0);
    }

    #[test]
    fn notify_processes_and_interrupts() {
        let (mut t, mut mem, mut g) = running(features::VIRTIO_F_VERSION_1);
        let head = g.add_chain(&mut mem, &[(DATA, 8, false)]);
        let effects = poke(&mut t, &mut mem, regs::QUEUE_NOTIFY, 0);
        assert_eq!(effects, Effects { interrupt: true, more_work: false });
        assert_eq!(g.take_used(&mem), vec![(u32::from(head), 0)]);
        assert_eq!(reg(&t, regs::INTERRUPT_STATUS), interrupt::USED_BUFFER);
        assert_eq!(poke(&mut t, &mut mem, regs::INTERRUPT_ACK, interrupt::USED_BUFFER), Effects::default());
        assert!(!t.interrupt_level());

        g.set_avail_flags(&mut mem, VIRTQ_AVAIL_F_NO_INTERRUPT);
        g.add_chain(&mut mem, &[(DATA, 8, false)]);
        assert_eq!(poke(&mut t, &mut mem, regs::QUEUE_NOTIFY, 0), Effects::default(), "suppressed");
        assert_eq!(g.take_used(&mem).len(), 1);

        for nonexistent in [2, 3, 31, 32, u32::MAX] {
            assert_eq!(poke(&mut t, &mut mem, regs::QUEUE_NOTIFY, nonexistent), Effects::default());
        }
        set(&mut t, &mut mem, regs::QUEUE_NOTIFY, 1);
        assert_eq!(t.device().processed, vec![0, 0], "queue 1 is not ready");
        assert_eq!(t.status(), ALL);
    }

    #[test]
    fn kicks_before_driver_ok_wait_for_it() {
        let mut mem = TestMemory::new(BASE, RAM);
        let mut t = Transport::new(Dummy::default());
        negotiate(&mut t, &mut mem, features::VIRTIO_F_VERSION_1);
        let mut g = setup_queue(&mut t, &mut mem, 0, BASE, 64);
        g.add_chain(&mut mem, &[(DATA, 8, false)]);
        assert_eq!(poke(&mut t, &mut mem, regs::QUEUE_NOTIFY, 0), Effects::default());
        assert!(t.device().processed.is_empty(), "no buffers used before DRIVER_OK");
        let effects = poke(&mut t, &mut mem, regs::STATUS, ALL);
        assert_eq!(effects, Effects { interrupt: false, more_work: true });
        assert_eq!(t.run_pending(&mut mem), Effects { interrupt: true, more_work: false });
        assert_eq!(g.take_used(&mem).len(), 1);
    }

    #[test]
    fn kick_processes_like_a_notification() {
        let (mut t, mut mem, mut g) = running(features::VIRTIO_F_VERSION_1);
        assert_eq!(t.kick(0, &mut mem), Effects::default(), "nothing published: nothing used, no interrupt");
        assert_eq!(t.device().processed, vec![0]);
        let head = g.add_chain(&mut mem, &[(DATA, 8, false)]);
        assert_eq!(t.kick(0, &mut mem), Effects { interrupt: true, more_work: false });
        assert_eq!(g.take_used(&mem), vec![(u32::from(head), 0)]);
        assert_eq!(reg(&t, regs::INTERRUPT_STATUS), interrupt::USED_BUFFER);

        // The same bounded batch and the same pending bookkeeping as QueueNotify.
        let chains = CHAINS_PER_NOTIFY + 5;
        for _ in 0..chains {
            g.add_chain(&mut mem, &[(DATA, 8, false)]);
        }
        assert_eq!(t.kick(0, &mut mem), Effects { interrupt: true, more_work: true });
        assert_eq!(g.take_used(&mem).len(), CHAINS_PER_NOTIFY);
        assert_eq!(t.run_pending(&mut mem), Effects { interrupt: true, more_work: false });
        assert_eq!(g.take_used(&mem).len(), 5);
        assert_eq!(t.status(), ALL);
    }

    #[test]
    fn kick_ignores_queues_that_cannot_run() {
        let (mut t, mut mem, mut g) = running(features::VIRTIO_F_VERSION_1);
        g.add_chain(&mut mem, &[(DATA, 8, false)]);
        for queue in [1, 2, 3, 32, usize::MAX] {
            assert_eq!(t.kick(queue, &mut mem), Effects::default(), "queue {queue}: not ready or nonexistent");
        }
        assert!(t.device().processed.is_empty());
        assert_eq!(g.take_used(&mem).len(), 0);
        // Queue 0 disabled by the driver: the kick is ignored and not remembered.
        set(&mut t, &mut mem, regs::QUEUE_SEL, 0);
        set(&mut t, &mut mem, regs::QUEUE_READY, 0);
        assert_eq!(t.kick(0, &mut mem), Effects::default());
        assert!(t.device().processed.is_empty());
    }

    #[test]
    fn kicks_before_driver_ok_are_not_remembered() {
        let mut mem = TestMemory::new(BASE, RAM);
        let mut t = Transport::new(Dummy::default());
        assert_eq!(t.kick(0, &mut mem), Effects::default(), "status 0");
        negotiate(&mut t, &mut mem, features::VIRTIO_F_VERSION_1);
        let mut g = setup_queue(&mut t, &mut mem, 0, BASE, 64);
        g.add_chain(&mut mem, &[(DATA, 8, false)]);
        assert_eq!(t.kick(0, &mut mem), Effects::default());
        assert!(t.device().processed.is_empty(), "no buffers used before DRIVER_OK");
        // Unlike a driver's QueueNotify (kicks_before_driver_ok_wait_for_it), nothing is pending afterwards.
        assert_eq!(poke(&mut t, &mut mem, regs::STATUS, ALL), Effects::default());
        assert!(t.device().processed.is_empty());
        assert_eq!(t.kick(0, &mut mem), Effects { interrupt: true, more_work: false });
        assert_eq!(g.take_used(&mem).len(), 1);
    }

    #[test]
    fn kicks_after_an_error_change_nothing_but_keep_the_line_level() {
        let (mut t, mut mem, mut g) = running(features::VIRTIO_F_VERSION_1);
        // A chain looping on itself puts the device into DEVICE_NEEDS_RESET with a configuration interrupt.
        let flags = crate::virtio::queue::desc_flags::NEXT;
        g.write_desc(&mut mem, g.layout.desc, 0, Desc { addr: DATA, len: 1, flags, next: 0 });
        g.publish(&mut mem, 0);
        assert_eq!(t.kick(0, &mut mem), Effects { interrupt: true, more_work: false });
        assert_eq!(t.status(), ALL | status::DEVICE_NEEDS_RESET);
        let processed = t.device().processed.len();
        g.add_chain(&mut mem, &[(DATA, 8, false)]);
        assert_eq!(t.kick(0, &mut mem), Effects { interrupt: true, more_work: false }, "CONFIG_CHANGE unacked");
        assert_eq!(t.device().processed.len(), processed);
        set(&mut t, &mut mem, regs::INTERRUPT_ACK, interrupt::CONFIG_CHANGE);
        assert_eq!(t.kick(0, &mut mem), Effects::default());
        assert_eq!(t.device().processed.len(), processed);

        // FAILED, set by the driver, stops kicks too.
        let (mut t, mut mem, mut g) = running(features::VIRTIO_F_VERSION_1);
        set(&mut t, &mut mem, regs::STATUS, ALL | status::FAILED);
        g.add_chain(&mut mem, &[(DATA, 8, false)]);
        assert_eq!(t.kick(0, &mut mem), Effects::default());
        assert!(t.device().processed.is_empty());
        assert_eq!(g.take_used(&mem).len(), 0);
        assert_eq!(mem.violations(), 0);
    }

    #[test]
    fn work_per_notification_is_bounded() {
        let (mut t, mut mem, mut g) = running(features::VIRTIO_F_VERSION_1);
        let chains = 2 * CHAINS_PER_NOTIFY + 3;
        for _ in 0..chains {
            g.add_chain(&mut mem, &[(DATA, 8, false)]);
        }
        assert_eq!(poke(&mut t, &mut mem, regs::QUEUE_NOTIFY, 0), Effects { interrupt: true, more_work: true });
        assert_eq!(g.take_used(&mem).len(), CHAINS_PER_NOTIFY);
        assert_eq!(t.run_pending(&mut mem), Effects { interrupt: true, more_work: true });
        assert_eq!(g.take_used(&mem).len(), CHAINS_PER_NOTIFY);
        assert_eq!(t.run_pending(&mut mem), Effects { interrupt: true, more_work: false });
        assert_eq!(g.take_used(&mem).len(), 3);
        assert_eq!(t.run_pending(&mut mem), Effects { interrupt: true, more_work: false });
        assert_eq!(t.device().processed.len(), 3, "nothing pending, nothing run");
    }

    #[test]
    fn a_malformed_chain_needs_reset() {
        let (mut t, mut mem, mut g) = running(features::VIRTIO_F_VERSION_1);
        g.add_chain(&mut mem, &[(DATA, 8, false)]);
        let flags = crate::virtio::queue::desc_flags::NEXT;
        g.write_desc(&mut mem, g.layout.desc, 1, Desc { addr: DATA, len: 1, flags, next: 1 });
        g.publish(&mut mem, 1);
        g.next_desc = 2;
        g.add_chain(&mut mem, &[(DATA, 8, false)]);
        let effects = poke(&mut t, &mut mem, regs::QUEUE_NOTIFY, 0);
        assert_eq!(effects, Effects { interrupt: true, more_work: false });
        assert_eq!(t.status(), ALL | status::DEVICE_NEEDS_RESET);
        assert_eq!(t.last_error(), Some(Error::Queue(QueueError::Loop(1))));
        assert_eq!(reg(&t, regs::INTERRUPT_STATUS), interrupt::USED_BUFFER | interrupt::CONFIG_CHANGE);
        assert_eq!(g.take_used(&mem).len(), 1, "the chain before the bad one completed");
        set(&mut t, &mut mem, regs::QUEUE_NOTIFY, 0);
        assert_eq!(t.device().processed.len(), 1, "ignored until reset");

        let resets = t.device().resets;
        set(&mut t, &mut mem, regs::STATUS, 0);
        assert_eq!(t.device().resets, resets + 1);
        assert_eq!((t.status(), reg(&t, regs::INTERRUPT_STATUS), t.last_error()), (0, 0, None));
        assert!(!t.queue(0).unwrap().ready());
        assert_eq!(t.driver_features(), 0);
        assert_eq!(mem.violations(), 0);
    }

    #[test]
    fn indirect_follows_negotiation() {
        let table = DATA + 0x100;
        for (accept, ok) in [(0, false), (features::VIRTIO_F_INDIRECT_DESC, true)] {
            let (mut t, mut mem, mut g) = running(features::VIRTIO_F_VERSION_1 | accept);
            g.add_indirect_chain(&mut mem, table, &[(DATA, 8, false), (DATA + 8, 1, true)]);
            let _ = poke(&mut t, &mut mem, regs::QUEUE_NOTIFY, 0);
            assert_eq!(t.status() & status::DEVICE_NEEDS_RESET == 0, ok);
        }
    }

    #[test]
    fn config_space_is_the_devices() {
        let mut mem = TestMemory::new(BASE, RAM);
        let mut t = Transport::new(Dummy { config: [1, 2, 3, 4, 5, 6, 7, 8], ..Dummy::default() });
        assert_eq!(t.read(regs::CONFIG, 4), 0x0403_0201);
        assert_eq!(t.read(regs::CONFIG + 4, 4), 0x0807_0605);
        assert_eq!(t.read(regs::CONFIG + 6, 2), 0x0807);
        assert_eq!(t.read(regs::CONFIG + 5, 1), 6);
        assert_eq!(t.read(regs::CONFIG + 1, 2), 0, "misaligned");
        assert_eq!(t.read(regs::CONFIG + 2, 4), 0, "misaligned");
        assert_eq!(t.read(regs::CONFIG, 3), 0);
        assert_eq!(t.read(regs::CONFIG + 8, 4), 0, "beyond the device's space");
        let _ = t.write(regs::CONFIG + 2, 2, 0xBBAA, &mut mem);
        let _ = t.write(regs::CONFIG + 1, 2, 0xFFFF, &mut mem);
        let _ = t.write(regs::CONFIG + 7, 1, 0x1CC, &mut mem);
        assert_eq!(t.device().config, [1, 2, 0xAA, 0xBB, 5, 6, 7, 0xCC]);
    }

    #[test]
    fn config_changes_bump_the_generation() {
        let mut t = Transport::new(Dummy::default());
        assert_eq!(t.config_changed(), Effects::default(), "no interrupt before DRIVER_OK");
        assert_eq!(reg(&t, regs::CONFIG_GENERATION), 1);
        let (mut t, mut mem, _) = running(features::VIRTIO_F_VERSION_1);
        assert_eq!(t.config_changed(), Effects { interrupt: true, more_work: false });
        assert_eq!(reg(&t, regs::INTERRUPT_STATUS), interrupt::CONFIG_CHANGE);
        assert!(poke(&mut t, &mut mem, regs::INTERRUPT_ACK, interrupt::USED_BUFFER).interrupt);
        assert!(!poke(&mut t, &mut mem, regs::INTERRUPT_ACK, interrupt::CONFIG_CHANGE).interrupt);
    }
}
