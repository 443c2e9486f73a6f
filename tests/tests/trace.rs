//! The event trace (`docs/trace.md`): a cyclic system built with `--trace` runs in QEMU, its rings are pulled out
//! through QMP and decoded, and the decoded windows follow the schedule (`configs/qemu-aarch64-cyclic.toml`: a 2 ms
//! frame, `smp` on both CPUs for 1 ms, then `hello0` on CPU 0 and `hello1` on CPU 1 for 1 ms).

use std::time::Duration;

use hv_tests::{config, require_system, serial};
use image_builder::qemu::{run_traced, RunOptions};
use image_builder::trace::event::Kind;

const CONFIG: &str = "qemu-aarch64-cyclic.toml";

#[test]
fn a_traced_cyclic_run_shows_its_windows_traps_and_timeline() {
    require_system(CONFIG);
    let _one_at_a_time = serial();
    let opts = RunOptions {
        config: config(CONFIG),
        timeout: Some(Duration::from_secs(60)),
        until: Some(r"hello1\] tick 3".into()),
        quiet: true,
        echo: false,
        secure: None,
        // Guest time under -icount: window starts are then on their deadlines whatever the host is doing (in host
        // time, a loaded 2-core machine made 10-25 % of them late and the test fail about one run in three).
        icount: true,
        host_disk: None,
    };
    let (outcome, recorded) = run_traced(&opts, false).expect("the traced run");
    assert!(outcome.matched, "the run did not get to its third tick:\n{}", outcome.output);
    let r = match recorded {
        Some(Ok(r)) => r,
        Some(Err(e)) => panic!("the trace could not be read: {e}"),
        None => panic!("no trace: QEMU exited by itself\n{}", outcome.output),
    };
    let t = &r.decoded;
    assert_eq!(t.freq, 62_500_000, "QEMU's counter frequency, from the rings' headers");
    assert_eq!(t.rings.len(), 2);
    for ring in &t.rings {
        assert_eq!((ring.lost, ring.cut, ring.undecodable, &ring.unreadable), (0, 0, 0, &None), "{ring:?}");
    }
    assert!(t.events.windows(2).all(|w| w[0].ticks <= w[1].ticks), "merged in time order");

    // Each CPU alternates between smp's window and its own partition's, a window every millisecond.
    let expected = [[(0, 0), (1, 0)], [(0, 1), (2, 0)]]; // (partition, vcpu): smp, then hello0 / hello1
    for (cpu, pair) in expected.iter().enumerate() {
        let windows: Vec<_> = t
            .events
            .iter()
            .filter(|e| e.cpu == cpu)
            .filter_map(|e| match e.kind {
                Kind::Window { vcpu } => Some((e.ticks, vcpu)),
                _ => None,
            })
            .collect();
        assert!(windows.len() >= 20, "CPU {cpu}: {} window starts recorded\n{}", windows.len(), r.text);
        assert!(windows.iter().all(|(_, v)| v.is_some_and(|v| pair.contains(&v))), "CPU {cpu}: {windows:?}");
        let alternating = windows.windows(2).filter(|w| w[0].1 != w[1].1).count();
        assert!(alternating * 10 >= (windows.len() - 1) * 9, "CPU {cpu} does not alternate: {windows:?}");
        // On absolute deadlines: the boundaries are 1 ms (62,500 ticks) apart from a common origin, and each start
        // comes a little after its boundary (the switch's own cost; QEMU's host timing is noisy, so a few may be
        // late). The origin is not in the trace: take the phase that puts the most starts just after a boundary.
        const WINDOW: u64 = 62_500;
        let on_time = |phase: u64| windows.iter().filter(|(at, _)| (at + WINDOW - phase) % WINDOW < WINDOW / 5).count();
        let best = windows.iter().map(|(at, _)| on_time(at % WINDOW)).max().unwrap_or(0);
        assert!(best * 10 >= windows.len() * 9, "CPU {cpu}: {best} of {} windows on time", windows.len());
        // The first start may be the CPU joining mid-slot (`start_cpu`), at any phase: count from the second, which
        // is on a boundary.
        let span = windows[windows.len() - 1].0 - windows[1].0;
        let periods = (span + WINDOW / 2) / WINDOW;
        assert!(periods as usize >= windows.len() - 2, "CPU {cpu}: more windows than boundaries: {windows:?}");
    }

    // The console (emulated PL011: data aborts), PSCI and SMCCC (HVC) and the timers (IRQ) all trap.
    for class in ["dabt", "hvc", "irq"] {
        assert!(
            t.events.iter().any(|e| matches!(&e.kind, Kind::Trap { class: c, .. } if c == class)),
            "no `{class}` trap in the trace\n{}",
            r.text
        );
    }
    let svg = std::fs::read_to_string(&r.files.svg).expect("trace.svg");
    assert!(svg.starts_with("<svg ") && svg.matches("<rect ").count() >= 40, "trace.svg has no windows");
    assert!(r.files.elf.exists() && r.files.dump.exists() && r.files.text.exists());
}
