//! The UART's interrupt: console input, and room in the transmitter for queued output.
//!
//! Input: drains the UART's receive FIFO and hands each byte to the partition with the focus (see `input.rs` for
//! the escape sequence). While no output waits, the interrupt is routed to the focused partition's CPU (its
//! "home"), so typing disturbs no other partition.
//!
//! Output: when a drain leaves bytes queued, the interrupt is steered to a CPU of the partition whose bytes go out
//! next while that CPU runs it or idles (the hypervisor's own lines: the CPU that is draining), and back home once
//! the queue is empty or that partition is not running (`target`). A partition that floods the console thus pays
//! for its output in its own time, one FIFO's worth per interrupt, instead of interrupting whoever has the focus
//! or the next window of its CPU. Input that arrives meanwhile is taken on that CPU and still goes to the focused
//! partition.

use core::sync::atomic::{AtomicUsize, Ordering};
use spin::Mutex;

use super::input::{Action, InputSwitch};
use crate::config::{NUM_PARTITIONS, SYSTEM};
use crate::{arch, core::percpu, hvprintln, hw::gic};

static SWITCH: Mutex<InputSwitch<NUM_PARTITIONS>> = Mutex::new(InputSwitch::new(consoles()));

/// Where the interrupt goes while no output waits: the focused partition's CPU, else the boot CPU.
static HOME: AtomicUsize = AtomicUsize::new(0);

/// The CPU the interrupt is routed to now (`usize::MAX`: not yet), so that routing writes the distributor only
/// when the target changes.
static ROUTED: AtomicUsize = AtomicUsize::new(usize::MAX);

const fn consoles() -> [bool; NUM_PARTITIONS] {
    let mut c = [false; NUM_PARTITIONS];
    let mut i = 0;
    while i < NUM_PARTITIONS {
        c[i] = SYSTEM.partitions[i].vdev.uart.is_some();
        i += 1;
    }
    c
}

/// Boot CPU: input interrupts on, routed to the first focused partition.
pub fn init() {
    super::with_uart(|u| u.enable_rx_interrupt());
    HOME.store(arch::cpu::id(), Ordering::Relaxed);
    super::INTERRUPT_LIVE.store(true, Ordering::Release);
    match SWITCH.lock().focus() {
        Some(p) => {
            route_to(p);
            hvprintln!("console input goes to '{}' (Ctrl-] then ? for help)", SYSTEM.partitions[p].name);
        }
        // No partition reads the console: its interrupt still serves output (the transmitter's room).
        None => {
            super::pump();
        }
    }
}

/// Input goes to `part` from now on, and the interrupt, when no output waits, to its CPU.
fn route_to(part: usize) {
    super::set_focused(Some(part));
    if let Some(v) = SYSTEM.partitions.get(part).and_then(|p| p.vcpus.first()) {
        HOME.store(v.pcpu, Ordering::Relaxed);
    }
    // Routes under the output lock (home at once if nothing waits).
    super::pump();
}

/// The CPU that should pay for writing out the next queued bytes, those of source `next`: for a partition, one
/// of its CPUs that runs it or idles (this one if it qualifies, so a partition drains its own output without
/// rerouting); for the hypervisor, this CPU. `None` when nothing waits, or when every CPU of that partition runs
/// another partition (a cyclic pool in another window): output never takes another partition's time beyond one
/// slice of a trap it takes anyway, and the rest waits for the next pump.
pub(super) fn target(next: Option<usize>) -> Option<usize> {
    let src = next?;
    let here = arch::cpu::id();
    let Some(p) = SYSTEM.partitions.get(src) else { return Some(here) };
    let free = |cpu: usize| percpu::current_on(cpu).is_none_or(|v| v.part == src);
    let mut cpus = p.vcpus.iter().map(|v| v.pcpu);
    if cpus.clone().any(|c| c == here) && free(here) {
        return Some(here);
    }
    cpus.find(|&c| free(c))
}

/// The CPU the interrupt is routed to (`usize::MAX` before `init`).
pub(super) fn routed() -> usize {
    ROUTED.load(Ordering::Relaxed)
}

/// Routes the interrupt to `cpu`, or home when `None`. Called by the drain with the output queue locked, so
/// routing never races with itself; the distributor is written only when the target changes.
pub(super) fn route(cpu: Option<usize>) {
    let cpu = cpu.unwrap_or_else(|| HOME.load(Ordering::Relaxed));
    if ROUTED.swap(cpu, Ordering::Relaxed) != cpu {
        gic::route_spi(SYSTEM.uart_irq, cpu, true);
    }
}

/// Where a typed byte goes: the emulated UART of partition `part` (`vuart::receive`, which the interrupt
/// dispatcher above hands in, so the console names none of the virtual devices).
pub type Deliver = fn(part: usize, byte: u8);

/// Prints the partitions' status (`Ctrl-]` `s`): `partition::print_status`, handed in from above like [`Deliver`]
/// (partitions print through the console, so the console cannot name them).
pub type Status = fn();

/// The UART's interrupt: input (bytes for the focused partition to `deliver`), then one FIFO's worth of output.
/// Returns whether output still waits; the interrupt then stays raised (QEMU's UARTs say "room" after every byte),
/// and the caller keeps it active until it leaves the hypervisor, so that each entry writes one slice rather than
/// everything queued.
pub fn on_interrupt(deliver: Deliver, status: Status) -> bool {
    while let Some(byte) = super::with_uart(|u| u.read_byte()) {
        let action = SWITCH.lock().feed(byte);
        match action {
            Action::Deliver { part, byte } => deliver(part, byte),
            Action::Focus(p) => {
                hvprintln!("console input -> '{}'", SYSTEM.partitions[p].name);
                route_to(p);
            }
            Action::Help => help(),
            Action::Status => status(),
            Action::None => {}
        }
    }
    super::pump_interrupt()
}

fn help() {
    let focus = SWITCH.lock().focus();
    hvprintln!(
        "console: Ctrl-] n = next, Ctrl-] <digit> = partition, Ctrl-] s = status, Ctrl-] Ctrl-] = literal Ctrl-]"
    );
    for (i, p) in SYSTEM.partitions.iter().enumerate().filter(|(_, p)| p.vdev.uart.is_some()) {
        let mark = if focus == Some(i) { " <- input" } else { "" };
        hvprintln!("  {i}: {}{mark}", p.name);
    }
}
