//! `probe=manager target=<id> other=<id>` (a partition given `manages = [<target's name>]`): the manager calls of
//! ABI 1.4 against the partition it manages, and against one it does not (`other`), each answer checked against
//! docs/guest-abi.md. One line per check, `manager: ok <what>` or `manager: MISMATCH <what>: <got> (want <want>)`,
//! then `manager: done (<n> mismatches)`:
//!
//! - its own state is readable, any other partition's (even an id that does not exist) is `DENIED`, and so is
//!   controlling itself, `other`, or a made-up id;
//! - bad items and operations on the target are `INVALID_PARAMETERS`;
//! - the target is restarted (its restart count grows, it runs again), stopped (`ALREADY` when stopped twice),
//!   started (`ALREADY` when started twice) and left running.

use guest_rt::{println, timer, Platform};
use pv_drivers::abi::hv::{self, control, info, HvError};

use crate::args::parse_hex;

/// How long the target may take to come back (it zeroes and reloads its RAM first).
const COME_BACK_MS: u64 = 5_000;

struct Checks {
    mismatches: u32,
}

impl Checks {
    fn check<T: PartialEq + core::fmt::Debug>(&mut self, what: &str, got: T, want: T) {
        if got == want {
            println!("manager: ok {what}");
        } else {
            self.mismatches += 1;
            println!("manager: MISMATCH {what}: {got:?} (want {want:?})");
        }
    }
}

/// Waits until the target's state is `state`, at most [`COME_BACK_MS`]; returns whether it got there.
fn wait_state(target: u32, state: u64) -> bool {
    let freq = guest_rt::arch::timer::frequency();
    let until = guest_rt::arch::timer::now() + timer::ticks_for_ms(freq, COME_BACK_MS);
    while guest_rt::arch::timer::now() < until {
        if hv::partition_info(target, info::STATE) == Ok(state) {
            return true;
        }
        core::hint::spin_loop();
    }
    false
}

pub fn run(platform: &Platform) {
    let me = platform.partition_id.unwrap_or(u32::MAX);
    let arg = |key| guest_rt::bootargs::get(platform.bootargs, key).and_then(parse_hex).map(|v| v as u32);
    let (Some(target), Some(other)) = (arg("target"), arg("other")) else {
        println!("hostile: manager needs target=<id> other=<id>");
        return;
    };
    println!("manager: partition {me} manages {target}, not {other}");
    let mut c = Checks { mismatches: 0 };
    c.check("own state", hv::partition_info(me, info::STATE), Ok(info::RUNNING));
    c.check("other's state", hv::partition_info(other, info::STATE), Err(HvError::Denied));
    c.check("a made-up id's state", hv::partition_info(0xffff, info::STATE), Err(HvError::Denied));
    c.check("stop itself", hv::partition_control(me, control::STOP), Err(HvError::Denied));
    c.check("restart other", hv::partition_control(other, control::RESTART), Err(HvError::Denied));
    c.check("stop a made-up id", hv::partition_control(0xffff, control::STOP), Err(HvError::Denied));
    c.check("bad item", hv::partition_info(target, 6), Err(HvError::InvalidParameters));
    c.check("bad operation", hv::partition_control(target, 3), Err(HvError::InvalidParameters));
    c.check("target running", hv::partition_info(target, info::STATE), Ok(info::RUNNING));
    let restarts = hv::partition_info(target, info::RESTARTS).unwrap_or(u64::MAX);
    c.check("restart target", hv::partition_control(target, control::RESTART), Ok(()));
    c.check("target back after restart", wait_state(target, info::RUNNING), true);
    c.check("restarts counted", hv::partition_info(target, info::RESTARTS), Ok(restarts.wrapping_add(1)));
    c.check("cause recorded", hv::partition_info(target, info::LAST_CAUSE), Ok(info::CAUSE_MANAGER));
    c.check("stop target", hv::partition_control(target, control::STOP), Ok(()));
    c.check("target stopped", hv::partition_info(target, info::STATE), Ok(info::STOPPED));
    c.check("stop it again", hv::partition_control(target, control::STOP), Err(HvError::Already));
    c.check("start target", hv::partition_control(target, control::START), Ok(()));
    c.check("target back after start", wait_state(target, info::RUNNING), true);
    c.check("start it again", hv::partition_control(target, control::START), Err(HvError::Already));
    let exits = hv::partition_info(target, info::EXITS);
    c.check("target's entries readable", exits.is_ok(), true);
    println!("manager: done ({} mismatches)", c.mismatches);
}
