//! The probe itself (see the crate docs for its output).

use core::sync::atomic::{AtomicBool, Ordering};

use guest_rt::dt::Region;
use guest_rt::exception::{self, Action, Fault};
use guest_rt::{arch, println, Platform};
use pv_drivers::abi::psci;
use spin::Mutex;

/// Distance past the end of RAM of the first probe: clear of any rounding of the RAM size.
const BEYOND_RAM: u64 = 0x1000;
/// Pattern written by the store probes, recognisable in a memory dump of another partition.
const MARK: u32 = 0x5052_4f42; // "PROB"

#[derive(Clone, Copy)]
enum Access {
    Read,
    Write,
}

struct Probe {
    name: &'static str,
    access: Access,
    addr: u64,
}

/// Set only around the single probing instruction, so any other fault still stops the guest.
static PROBING: AtomicBool = AtomicBool::new(false);
/// A spin lock, not a critical section: no interrupt handler touches it, and the fault hook that writes it runs on a
/// probing instruction, never while `run` holds the lock.
static LAST_FAULT: Mutex<Option<Fault>> = Mutex::new(None);

guest_rt::entry!(main);

fn main(platform: &'static Platform<'static>) -> ! {
    let ram = platform.memory;
    println!("probe: partition {} ram {:#x}..{:#x}", platform.partition_name, ram.base, ram.end());
    exception::set_fault_hook(on_fault);

    let probes = [
        Probe { name: "beyond", access: Access::Read, addr: ram.end() + BEYOND_RAM },
        Probe { name: "low", access: Access::Write, addr: 0x0 },
        Probe { name: "high", access: Access::Write, addr: 0x8000_0000 },
    ];
    match platform.bootarg("probe") {
        None => probes.iter().for_each(|p| run(p, &ram)),
        Some(list) => {
            for name in list.split(',') {
                match probes.iter().find(|p| p.name == name) {
                    Some(p) => run(p, &ram),
                    None => println!("probe: unknown probe {name:?} (known: beyond, low, high)"),
                }
            }
        }
    }

    println!("probe: done");
    let error = psci::system_off();
    panic!("SYSTEM_OFF returned {error}");
}

fn run(probe: &Probe, ram: &Region) {
    let addr = probe.addr;
    if ram.contains(addr) {
        println!("probe: skipping {addr:#x}: inside this partition's RAM");
        return;
    }
    *LAST_FAULT.lock() = None;
    let (verb, value) = match probe.access {
        Access::Read => {
            println!("probe: reading {addr:#x}");
            ("read", Some(probing(|| arch::probe::load(addr as usize))))
        }
        Access::Write => {
            println!("probe: writing {addr:#x}");
            probing(|| arch::probe::store(addr as usize, MARK));
            ("write", None)
        }
    };
    // Copied out so that the lock is not held while printing.
    let fault = *LAST_FAULT.lock();
    match (fault, value) {
        (None, Some(value)) => println!("probe: ESCAPED isolation (read of {addr:#x} returned {value:#x})"),
        (None, None) => println!("probe: ESCAPED isolation (write to {addr:#x} returned)"),
        (Some(f), _) => println!(
            "probe: {verb} of {addr:#x} faulted in the guest ({}, {} {:#x}, {} {:#x})",
            f.class, f.syndrome_name, f.syndrome, f.address_name, f.address
        ),
    }
}

fn probing<T>(access: impl FnOnce() -> T) -> T {
    PROBING.store(true, Ordering::SeqCst);
    let result = access();
    PROBING.store(false, Ordering::SeqCst);
    result
}

fn on_fault(fault: &Fault) -> Action {
    if !PROBING.load(Ordering::SeqCst) {
        return Action::Halt;
    }
    *LAST_FAULT.lock() = Some(*fault);
    Action::SkipInstruction
}
