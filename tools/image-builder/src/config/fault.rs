//! A partition's fault policy: `on_fault` and, with `"restart"`, its budget (`max_restarts` within
//! `restart_window`) and `restart_delay`. The budget keys mean nothing under `"stop"`, so they are refused there
//! rather than ignored: a config that says "restart at most 3 times" must restart.

use toml::Spanned;

use super::common::*;
use super::model::*;
use super::raw::*;
use crate::diag::{Diag, Report};
use crate::units;
use hv_plan::system::MAX_RESTARTS;

/// Restarts allowed within the window when `max_restarts` is not given.
pub const DEFAULT_MAX_RESTARTS: u32 = 3;
/// The budget's window when `restart_window` is not given.
pub const DEFAULT_RESTART_WINDOW_NS: u64 = 60_000_000_000;
/// The longest `restart_delay`: a partition that should stay down longer should be stopped (and restarted by a
/// manager partition) instead.
const MAX_RESTART_DELAY_NS: u64 = 3_600_000_000_000;

pub(super) fn check_on_fault(p: &RawPartition, i: usize, r: &mut Report) -> Option<FaultPolicy> {
    let field = |key: &str| format!("partition[{i}].{key}");
    let policy = match &p.on_fault {
        None => "stop",
        Some(f) => match f.get_ref().as_str() {
            policy @ ("stop" | "restart") => policy,
            other => {
                r.push(
                    Diag::error(field("on_fault"), f.span(), format!("unknown fault policy `{}`", shown(other)))
                        .label("not a fault policy")
                        .hint(format!(
                            "{}; `stop` stops every vCPU of the partition, `restart` starts it again from its images",
                            suggest(other, ["stop", "restart"], "fault policies")
                        )),
                );
                return None;
            }
        },
    };
    let budget_keys = [
        ("max_restarts", p.max_restarts.as_ref().map(|v| v.span())),
        ("restart_window", p.restart_window.as_ref().map(|v| v.span())),
        ("restart_delay", p.restart_delay.as_ref().map(|v| v.span())),
    ];
    if policy == "stop" {
        let mut ok = true;
        for (key, span) in budget_keys {
            if let Some(span) = span {
                ok = false;
                r.push(
                    Diag::error(field(key), span, format!("`{key}` applies only to on_fault = \"restart\""))
                        .label("the partition stops on a fault")
                        .hint("set on_fault = \"restart\" to restart the partition on a fault, or remove the key"),
                );
            }
        }
        return ok.then_some(FaultPolicy::Stop);
    }
    let max_restarts = match &p.max_restarts {
        None => Some(DEFAULT_MAX_RESTARTS),
        Some(m) => match u32::try_from(*m.get_ref()).ok().filter(|n| (1..=MAX_RESTARTS).contains(n)) {
            Some(n) => Some(n),
            None => {
                r.push(
                    Diag::error(
                        field("max_restarts"),
                        m.span(),
                        format!("max_restarts is {}: it must be 1 to {MAX_RESTARTS}", m.get_ref()),
                    )
                    .label("out of range")
                    .hint(format!(
                        "the partition is restarted at most this many times within restart_window, then stopped; \
                         for a partition that must never restart, use on_fault = \"stop\" (hv-static keeps the \
                         times of the last {MAX_RESTARTS} restarts)"
                    )),
                );
                None
            }
        },
    };
    let window = duration(&p.restart_window, &field("restart_window"), DEFAULT_RESTART_WINDOW_NS, r);
    let window = window.and_then(|ns| match (&p.restart_window, ns) {
        (Some(w), 0) => {
            r.push(
                Diag::error(field("restart_window"), w.span(), "restart_window is zero")
                    .label("no time to count restarts in")
                    .hint("the budget counts restarts within this window: give a duration such as \"60s\""),
            );
            None
        }
        _ => Some(ns),
    });
    let delay = duration(&p.restart_delay, &field("restart_delay"), 0, r);
    let delay = delay.and_then(|ns| match &p.restart_delay {
        Some(d) if ns > MAX_RESTART_DELAY_NS => {
            r.push(
                Diag::error(field("restart_delay"), d.span(), format!("restart_delay is {}", units::duration(ns)))
                    .label("longer than an hour")
                    .hint(
                        "a partition that should stay down that long is better stopped (on_fault = \"stop\") and \
                         started again by a partition that manages it",
                    ),
            );
            None
        }
        _ => Some(ns),
    });
    Some(FaultPolicy::Restart { max_restarts: max_restarts?, window_ns: window?, delay_ns: delay? })
}

/// A duration key, or `default` when absent.
fn duration(v: &Option<Spanned<String>>, field: &str, default: u64, r: &mut Report) -> Option<u64> {
    v.as_ref().map_or(Some(default), |v| duration_value(v, field, r))
}
