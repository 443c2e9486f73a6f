//! The "hv-static vendor calls" section: every `HV_*` call with valid and invalid arguments, as a pinned
//! partition ([`outside_cyclic`]) and as one in a cyclic pool ([`inside_cyclic`]).

use guest_rt::arch;

use crate::call::{hvc, hvc_status};
use crate::ids::*;
use crate::report;

/// Who the calling partition is, as far as the answers depend on it.
pub struct Me {
    /// Its `/hypervisor/partition-id`.
    pub id: u32,
    /// Another partition's id, which it does not manage.
    pub other: Option<u32>,
    /// An id no partition has.
    pub absent: u32,
    /// Its `channel@` nodes.
    pub channels: u32,
}

/// `HV_CPU_EXITS` row: "`x1` = the number of entries into hv-static ... (this call included)", and "Two
/// `HV_CPU_EXITS` readings *e0* then *e1* bracket *e1* - *e0* - 1 entries": back to back, nothing else enters
/// hv-static between them, so the difference is 1. An interrupt may land between two calls now and then: the
/// smallest of several differences must be exactly 1, and none may be 0.
pub fn cpu_exits() {
    let mut status = SUCCESS;
    let (mut min, mut max) = (u32::MAX, 0);
    for _ in 0..4 {
        let (a, b) = (hvc(HV_CPU_EXITS, [0; 3]), hvc(HV_CPU_EXITS, [0; 3]));
        if a.status() != SUCCESS || b.status() != SUCCESS {
            status = if a.status() != SUCCESS { a.status() } else { b.status() };
        }
        let d = b.word(1).wrapping_sub(a.word(1));
        (min, max) = (min.min(d), max.max(d));
    }
    report::status(format_args!("HV_CPU_EXITS"), status, SUCCESS);
    report::dec(
        format_args!("HV_CPU_EXITS back to back, smallest difference of four (the call counts itself)"),
        min.into(),
        1,
    );
    report::holds(
        format_args!("HV_CPU_EXITS back to back, every difference"),
        min >= 1,
        format_args!("{min}..={max}"),
        ">= 1",
    );
}

/// The calls of a partition that is not in a cyclic pool and manages no other.
pub fn outside_cyclic(me: &Me) {
    report::section("vendor");
    // `HV_SCHED_FRAME` row: "`NOT_SUPPORTED` (-1) when the calling vCPU's CPU is not in a cyclic pool".
    report::status(
        format_args!("HV_SCHED_FRAME outside a cyclic pool"),
        hvc_status(HV_SCHED_FRAME, [0; 3]),
        NOT_SUPPORTED,
    );
    // `HV_SCHED_WINDOW` row: "(or `NOT_SUPPORTED` as for `HV_SCHED_FRAME`)".
    report::status(
        format_args!("HV_SCHED_WINDOW(0) outside a cyclic pool"),
        hvc_status(HV_SCHED_WINDOW, [0; 3]),
        NOT_SUPPORTED,
    );
    cpu_exits();
    channel_signal(me);
    partition_info(me);
    partition_control(me);
    unknown();
}

/// `HV_CHANNEL_SIGNAL` row: "`x0` = 0 ...; `x0` = `INVALID_PARAMETERS` (-2) when the partition has fewer than
/// *n* + 1 channels. Read-only members may ring too."
pub fn channel_signal(me: &Me) {
    for n in 0..me.channels {
        report::status(
            format_args!("HV_CHANNEL_SIGNAL({n})"),
            hvc_status(HV_CHANNEL_SIGNAL, [n.into(), 0, 0]),
            SUCCESS,
        );
    }
    let past = me.channels;
    report::status(
        format_args!("HV_CHANNEL_SIGNAL({past}), one past its channels"),
        hvc_status(HV_CHANNEL_SIGNAL, [past.into(), 0, 0]),
        INVALID_PARAMETERS,
    );
    report::status(
        format_args!("HV_CHANNEL_SIGNAL(0xFFFF_FFFF)"),
        hvc_status(HV_CHANNEL_SIGNAL, [0xFFFF_FFFF, 0, 0]),
        INVALID_PARAMETERS,
    );
}

/// `HV_PARTITION_INFO` row, on itself (every item) and on partitions it does not manage.
pub fn partition_info(me: &Me) {
    let info = |id: u32, item: u32| {
        let r = hvc(HV_PARTITION_INFO, [id.into(), item.into(), 0]);
        (r.status(), u64::from(r.word(2)) << 32 | u64::from(r.word(1)))
    };
    let id = me.id;
    for (item, name, want) in [
        (ITEM_STATE, "state", Some(STATE_RUNNING)),
        (ITEM_RESTARTS, "restarts", Some(0)),
        (ITEM_LAST_CAUSE, "last cause", Some(CAUSE_NEVER)),
        (ITEM_FAULT_PC, "fault PC", None),
        (ITEM_FAULT_ADDRESS, "fault address", Some(0)),
        (ITEM_EXITS, "exits", None),
    ] {
        let (status, value) = info(id, item);
        report::status(format_args!("HV_PARTITION_INFO(itself = {id}, {item} {name})"), status, SUCCESS);
        if let Some(want) = want {
            report::dec(format_args!("HV_PARTITION_INFO(itself = {id}, {item} {name}) value"), value, want);
        }
    }
    // Item 5 counts every entry while its vCPUs ran: at least the ones this vCPU has just counted for itself.
    let exits = u64::from(hvc(HV_CPU_EXITS, [0; 3]).word(1));
    let (_, total) = info(id, ITEM_EXITS);
    report::holds(
        format_args!("HV_PARTITION_INFO(itself, 5 exits) against HV_CPU_EXITS of this vCPU"),
        total > exits,
        format_args!("{total} (this vCPU: {exits})"),
        "more than this vCPU's count",
    );
    report::status(
        format_args!("HV_PARTITION_INFO(itself, item {ITEM_NONE}, none such)"),
        info(id, ITEM_NONE).0,
        INVALID_PARAMETERS,
    );
    report::status(
        format_args!("HV_PARTITION_INFO(itself, item 0xFFFF_FFFF)"),
        info(id, 0xFFFF_FFFF).0,
        INVALID_PARAMETERS,
    );
    // "`DENIED` (-3) unless the partition is the caller or one it manages: any other id, of a partition or of none".
    if let Some(other) = me.other {
        report::status(
            format_args!("HV_PARTITION_INFO(another partition = {other}, state)"),
            info(other, ITEM_STATE).0,
            DENIED,
        );
    }
    let absent = me.absent;
    report::status(
        format_args!("HV_PARTITION_INFO(no partition = {absent}, state)"),
        info(absent, ITEM_STATE).0,
        DENIED,
    );
    report::status(
        format_args!("HV_PARTITION_INFO(no partition = 0xFFFF_FFFF, item {ITEM_NONE})"),
        info(0xFFFF_FFFF, ITEM_NONE).0,
        DENIED,
    );
}

/// `HV_PARTITION_CONTROL` row: "`DENIED` (-3) unless the caller manages the partition (... a partition never
/// manages itself)". Asked to start (a running partition would only be `ALREADY`), so that a hypervisor that got
/// this wrong does not stop anything.
pub fn partition_control(me: &Me) {
    let control = |id: u32| hvc_status(HV_PARTITION_CONTROL, [id.into(), OP_START.into(), 0]);
    let id = me.id;
    report::status(format_args!("HV_PARTITION_CONTROL(itself = {id}, start)"), control(id), DENIED);
    if let Some(other) = me.other {
        report::status(
            format_args!("HV_PARTITION_CONTROL(another partition = {other}, start)"),
            control(other),
            DENIED,
        );
    }
    let absent = me.absent;
    report::status(format_args!("HV_PARTITION_CONTROL(no partition = {absent}, start)"), control(absent), DENIED);
}

/// "Any other ID in the range returns `NOT_SUPPORTED` (-1)."
pub fn unknown() {
    for fid in [0x8600_0000_u32, 0x8600_000F, 0x8600_0016, 0x8600_FFFF, 0x86FF_FFFF, 0xC600_0010, 0xC600_0012] {
        report::status(format_args!("vendor ID {fid:#010x}"), hvc_status(fid, [0; 3]), NOT_SUPPORTED);
    }
}

/// The scheduling calls inside a cyclic pool, against the frame and window count the config gives (bootargs):
/// `HV_SCHED_FRAME` row ("`x1` = the major frame's length in virtual-counter ticks; `x2`, `x3` = ... T0") and
/// `HV_SCHED_WINDOW` row ("`x1` = start, `x2` = end ... `[start, end)` ...; `INVALID_PARAMETERS` (-2) when *n* is
/// past the last one").
pub fn inside_cyclic(frame_us: Option<u64>, windows: Option<u32>) {
    report::section("cyclic");
    let now = arch::timer::now();
    let frame = hvc(HV_SCHED_FRAME, [0; 3]);
    report::status(format_args!("HV_SCHED_FRAME in a cyclic pool"), frame.status(), SUCCESS);
    let length = u64::from(frame.word(1));
    let t0 = u64::from(frame.word(3)) << 32 | u64::from(frame.word(2));
    match frame_us {
        Some(us) => {
            let want = us * arch::timer::frequency() / 1_000_000;
            report::dec(format_args!("HV_SCHED_FRAME length ({us} us of the virtual counter)"), length, want);
        }
        None => report::note(format_args!("no frame_us= in the bootargs: frame length {length} not checked")),
    }
    report::holds(
        format_args!("HV_SCHED_FRAME T0 (frame 0's start)"),
        t0 <= now,
        format_args!("{t0} (now {now})"),
        "<= now",
    );
    let count = windows.unwrap_or(1);
    for n in 0..count {
        let w = hvc(HV_SCHED_WINDOW, [n.into(), 0, 0]);
        report::status(format_args!("HV_SCHED_WINDOW({n})"), w.status(), SUCCESS);
        let (start, end) = (u64::from(w.word(1)), u64::from(w.word(2)));
        report::holds(
            format_args!("HV_SCHED_WINDOW({n}) range"),
            start < end && end <= length,
            format_args!("[{start}, {end})"),
            "start < end <= the frame's length",
        );
    }
    report::status(
        format_args!("HV_SCHED_WINDOW({count}), past the last"),
        hvc_status(HV_SCHED_WINDOW, [count.into(), 0, 0]),
        INVALID_PARAMETERS,
    );
    report::status(
        format_args!("HV_SCHED_WINDOW(0xFFFF_FFFF)"),
        hvc_status(HV_SCHED_WINDOW, [0xFFFF_FFFF, 0, 0]),
        INVALID_PARAMETERS,
    );
}
