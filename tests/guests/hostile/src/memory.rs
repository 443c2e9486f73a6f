//! `probe=memory`: one load, store or instruction fetch (`access=read|write|fetch`) at a guest-physical address
//! outside everything the partition's device tree shows (`addr=0x...`), or (`sweep=START`) the first such address
//! at or above START in steps of `step=0x...` (default 1 GiB) through the guest-physical space. Under hv-static the
//! first one is a stage-2 fault: the hypervisor reports it, naming the address, and stops the partition under
//! its fault policy, so one partition checks one address. Anything else (the access completes, or the guest takes
//! the fault itself) is printed as `ESCAPED` or `faulted in the guest` and the probe goes on to the next address.

use guest_rt::dt::Region;
use guest_rt::{println, Platform};

use crate::{access, channels, guarded};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Read,
    Write,
    Fetch,
}

impl Kind {
    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "read" => Some(Kind::Read),
            "write" => Some(Kind::Write),
            "fetch" => Some(Kind::Fetch),
            _ => None,
        }
    }
}

/// Written by stores: recognisable in another partition's memory dump.
const MARK: u64 = 0x4845_5354_494C_4521; // "HOSTILE!"

/// Where a sweep ends: on AArch64 one bit past hv-static's 39-bit IPA space (addresses there must fault too, not
/// wrap), within what the guest can address with its MMU off; ARMv7 guests without LPAE address 32 bits.
const LIMIT: u64 = if cfg!(target_pointer_width = "64") { 1 << 40 } else { 1 << 32 };

pub fn run(platform: &Platform, kind: Kind, addr: Option<u64>, sweep: Option<u64>, step: u64) {
    let mapped = mapped(platform);
    let mut next = match (addr, sweep) {
        (Some(a), _) => Some(a),
        (None, Some(start)) => first_unmapped(start, step, &mapped),
        (None, None) => {
            println!("hostile: memory needs addr=0x... or sweep=0x...");
            return;
        }
    };
    while let Some(a) = next {
        if let Some(r) = mapped.iter().flatten().find(|r| r.contains(a)) {
            // Asked for by address: an emulated device the partition may load from and store to, but not execute.
            println!("hostile: memory {a:#x} is inside this partition's own map ({:#x}+{:#x})", r.base, r.size);
        }
        one(kind, a);
        next = sweep.and_then(|_| a.checked_add(step.max(0x1000))).and_then(|s| first_unmapped(s, step, &mapped));
    }
    println!("hostile: memory done (nothing stopped this partition)");
}

fn one(kind: Kind, addr: u64) {
    let verb = match kind {
        Kind::Read => "read",
        Kind::Write => "write",
        Kind::Fetch => "fetch",
    };
    println!("hostile: memory {verb} at {addr:#x}");
    let a = addr as usize;
    let (value, fault) = match kind {
        Kind::Read => guarded::run(|| Some(access::load(a, 4))),
        Kind::Write => guarded::run(|| {
            access::store(a, 4, MARK);
            None
        }),
        Kind::Fetch => {
            // Not guarded: a fetch the guest takes itself would return to the same address forever. guest-rt's
            // handler reports it and halts the vCPU instead.
            access::fetch(a);
            (None, None)
        }
    };
    match (fault, value) {
        (Some(f), _) => println!("hostile: memory {verb} at {addr:#x} faulted in the guest ({f})"),
        (None, Some(v)) => println!("hostile: memory ESCAPED: read at {addr:#x} returned {v:#x}"),
        (None, None) => println!("hostile: memory ESCAPED: {verb} at {addr:#x} completed"),
    }
}

/// Everything the device tree gives the partition: RAM, GIC, console, PV devices, passed-through devices,
/// channels.
fn mapped(platform: &Platform) -> [Option<Region>; 48] {
    let mut out = [None; 48];
    let mut n = 0;
    let mut add = |r: Region| {
        if n < out.len() {
            out[n] = Some(r);
            n += 1;
        }
    };
    add(platform.memory);
    if let Some(g) = platform.gic {
        add(g.distributor);
        add(g.per_cpu);
    }
    if let Some(u) = platform.uart {
        add(u);
    }
    if let Some(rtc) = platform.rtc {
        add(rtc.reg);
    }
    platform.virtio_mmio().iter().for_each(|d| add(d.reg));
    let (list, count) = channels::parse(platform.dtb);
    list.iter().take(count as usize).for_each(|c| add(Region { base: c.base, size: c.size }));
    out
}

fn first_unmapped(mut a: u64, step: u64, mapped: &[Option<Region>]) -> Option<u64> {
    while a < LIMIT {
        if !mapped.iter().flatten().any(|r| r.contains(a)) {
            return Some(a);
        }
        a = a.checked_add(step.max(0x1000))?;
    }
    None
}
