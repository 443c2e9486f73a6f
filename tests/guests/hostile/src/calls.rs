//! `probe=calls`: random HVC and SMC function IDs and arguments, each answer checked against what
//! docs/guest-abi.md promises ([`crate::oracle`]); first every documented ID with hostile arguments, then random
//! IDs. The calls that end the run (CPU_OFF, SYSTEM_OFF, SYSTEM_RESET) are left out.

use guest_rt::println;

use crate::conduit::{self, Via};
use crate::lcg::{Digest, Lcg};
use crate::oracle::{self, id, Caller, Expect};
use crate::Args;

/// Hostile argument sets per documented ID before the random IDs.
const PER_DOCUMENTED_ID: u64 = 64;
/// Mismatches reported one by one; the rest are only counted.
const SHOWN: u64 = 8;

#[derive(Default)]
struct Tally {
    calls: u64,
    skipped: u64,
    mismatches: u64,
    /// SMC32 calls whose answer came from the whole argument registers, not their low words.
    upper: u64,
    /// Answers by status: success, NOT_SUPPORTED, INVALID_PARAMETERS, other.
    by_status: [u64; 4],
}

pub fn run(args: &Args, mpidrs: &[u64], channels: u32, partition: u32) {
    let windows = count_windows();
    let caller = Caller { mpidrs, windows, channels, partition };
    println!(
        "hostile: calls seed {} count {} (vcpus {}, windows {:?}, channels {})",
        args.seed,
        args.count,
        mpidrs.len(),
        windows,
        channels
    );
    let mut rng = Lcg::new(args.seed);
    let mut digest = Digest::new();
    let mut tally = Tally::default();
    for &fid in &id::CALLABLE {
        for _ in 0..PER_DOCUMENTED_ID {
            one(fid, &caller, &mut rng, &mut digest, &mut tally, true);
        }
    }
    for _ in 0..args.count {
        let fid = oracle::random_fid(rng.next());
        one(fid, &caller, &mut rng, &mut digest, &mut tally, true);
    }
    let [ok, unsupported, invalid, other] = tally.by_status;
    println!(
        "hostile: calls answers: success {ok}, not_supported {unsupported}, invalid_parameters {invalid}, other {other}; \
         {} smc32 calls answered from the whole registers",
        tally.upper
    );
    println!(
        "hostile: calls done ({} calls, {} skipped, {} mismatches, digest {:#018x})",
        tally.calls,
        tally.skipped,
        tally.mismatches,
        digest.value()
    );
    if args.then == crate::Then::Repeat {
        loop {
            let fid = oracle::random_fid(rng.next());
            one(fid, &caller, &mut rng, &mut digest, &mut tally, false);
        }
    }
}

/// The calling vCPU's windows (a cyclic pool), as HV_SCHED_WINDOW lists them.
fn count_windows() -> Option<u32> {
    use pv_drivers::abi::hv;
    hv::sched_frame().ok()?;
    (0..64).find(|&n| !matches!(hv::sched_window(n), Ok(Some(_)))).or(Some(64))
}

fn one(fid: u32, caller: &Caller, rng: &mut Lcg, digest: &mut Digest, tally: &mut Tally, report: bool) {
    let wide = cfg!(target_pointer_width = "64");
    let mut a = [0u64; 3];
    for x in a.iter_mut() {
        *x = oracle::random_arg(rng.next(), caller);
        if !wide {
            *x &= 0xffff_ffff;
        }
    }
    let expect = oracle::expect(fid, a, caller);
    if expect == Expect::Ends {
        tally.skipped += 1;
        return;
    }
    // W0 is the function ID: garbage above it must not matter.
    let x0 = if wide && rng.below(2) == 0 { u64::from(fid) | rng.next() << 32 } else { u64::from(fid) };
    let via = rng.pick(&Via::ALL);
    let r = conduit::call(via, [x0, a[0], a[1], a[2]]);
    let status = r[0] as u32 as i32;
    tally.calls += 1;
    tally.by_status[match status {
        0 => 0,
        -1 => 1,
        -2 => 2,
        _ => 3,
    }] += 1;
    digest.add(u64::from(fid));
    digest.add(status as u64);
    if let Expect::Either(low, whole) = expect {
        if status == whole && status != low {
            tally.upper += 1;
        }
    }
    if !expect.accepts(status) {
        tally.mismatches += 1;
        if report && tally.mismatches <= SHOWN {
            println!(
                "hostile: calls MISMATCH {via:?} x0 {x0:#x} args [{:#x}, {:#x}, {:#x}] -> {status} ({:#x}), expected {expect:?}",
                a[0], a[1], a[2], r[0]
            );
        }
    }
}
