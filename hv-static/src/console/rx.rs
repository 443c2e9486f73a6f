//! Physical console input: drains the UART's receive FIFO and hands each byte to the partition with the focus
//! (see `input.rs` for the escape sequence). The UART's interrupt is routed to the focused partition's CPU, so
//! typing disturbs no other partition.

use spin::Mutex;

use super::input::{Action, InputSwitch};
use crate::config::{NUM_PARTITIONS, SYSTEM};
use crate::{gic, hvprintln, vuart};

static SWITCH: Mutex<InputSwitch<NUM_PARTITIONS>> = Mutex::new(InputSwitch::new(consoles()));

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
    match SWITCH.lock().focus() {
        Some(p) => {
            route_to(p);
            hvprintln!("console input goes to '{}' (Ctrl-] then ? for help)", SYSTEM.partitions[p].name);
        }
        // No partition reads the console: its interrupt still serves output (the transmitter's room).
        None => gic::route_spi(SYSTEM.uart_irq, crate::arch::cpu::id(), true),
    }
    super::pump();
}

fn route_to(part: usize) {
    super::set_focused(Some(part));
    gic::route_spi(SYSTEM.uart_irq, SYSTEM.partitions[part].vcpus[0].pcpu, true);
}

pub fn on_interrupt() {
    while let Some(byte) = super::with_uart(|u| u.read_byte()) {
        let action = SWITCH.lock().feed(byte);
        match action {
            Action::Deliver { part, byte } => vuart::receive(part, byte),
            Action::Focus(p) => {
                hvprintln!("console input -> '{}'", SYSTEM.partitions[p].name);
                route_to(p);
            }
            Action::Help => help(),
            Action::None => {}
        }
    }
    // The same interrupt says the transmitter has room: queued output continues (bounded by its FIFO).
    super::pump();
}

fn help() {
    let focus = SWITCH.lock().focus();
    hvprintln!("console: Ctrl-] n = next, Ctrl-] <digit> = partition, Ctrl-] Ctrl-] = literal Ctrl-]");
    for (i, p) in SYSTEM.partitions.iter().enumerate().filter(|(_, p)| p.vdev.uart.is_some()) {
        let mark = if focus == Some(i) { " <- input" } else { "" };
        hvprintln!("  {i}: {}{mark}", p.name);
    }
}
