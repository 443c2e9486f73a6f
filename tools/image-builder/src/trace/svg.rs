//! `trace.svg`: what each CPU did over the recorded stretch. One lane per CPU: its windows as bars in the colours
//! of `schedule.svg` (the same [`fill`] by partition), traps as ticks under the bar coloured by class, virtual
//! interrupt injections and physical interrupts as ticks above it, faults, stops and restarts as red marks across
//! the lane. Plain SVG text, like `schedule.svg`.

use std::fmt::Write;

use super::decode::Decoded;
use super::event::Kind;
use crate::schedule::svg::{escape, fill};
use crate::units::duration;

const LEFT: f64 = 90.0;
const WIDTH: f64 = 1000.0;
const LANE_H: f64 = 64.0;
const TOP: f64 = 40.0;

/// Trap classes and their tick colours (the legend's order).
const TRAP_COLOURS: [(&str, &str); 11] = [
    ("hvc", "#1f77b4"),
    ("smc", "#17becf"),
    ("dabt", "#ff7f0e"),
    ("sysreg", "#9467bd"),
    ("fp", "#aec7e8"),
    ("wfi", "#7f7f7f"),
    ("wfe", "#bcbd22"),
    ("irq", "#2ca02c"),
    ("iabt", "#d62728"),
    ("serror", "#d62728"),
    ("other", "#8c564b"),
];
const INJECT: &str = "#e377c2";
const IRQ: &str = "#2ca02c";
const FAULT: &str = "#d62728";

fn trap_colour(class: &str) -> &'static str {
    TRAP_COLOURS.iter().find(|(c, _)| *c == class).map_or("#000000", |(_, colour)| colour)
}

/// Draws `trace` for a system with `cpus` CPUs whose partitions are `names` (by index).
pub fn render(title: &str, trace: &Decoded, cpus: usize, names: &[&str]) -> String {
    let end = trace.events.last().map_or(0, |e| trace.ns(e.ticks)).max(1);
    let x = |ns: u64| LEFT + WIDTH * ns as f64 / end as f64;
    let height = TOP + LANE_H * cpus as f64 + 80.0;
    let name = |p: usize| names.get(p).copied().unwrap_or("?");
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{height}" font-family="sans-serif" font-size="12">"#,
        LEFT + WIDTH + 20.0
    );
    let _ = writeln!(s, r#"<text x="10" y="20" font-size="14">{}</text>"#, escape(title));
    for cpu in 0..cpus {
        let y = TOP + LANE_H * cpu as f64;
        let bar_y = y + 18.0;
        let _ = writeln!(s, r#"<text x="10" y="{:.1}">CPU {cpu}</text>"#, bar_y + 14.0);
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" y1="{:.1}" x2="{}" y2="{:.1}" stroke="#ccc"/>"##,
            bar_y + 10.0,
            LEFT + WIDTH,
            bar_y + 10.0
        );
        let mine: Vec<_> = trace.events.iter().filter(|e| e.cpu == cpu).collect();
        let windows: Vec<_> = mine
            .iter()
            .filter_map(|e| match e.kind {
                Kind::Window { vcpu } => Some((trace.ns(e.ticks), vcpu)),
                _ => None,
            })
            .collect();
        for (k, &(start, vcpu)) in windows.iter().enumerate() {
            let stop = windows.get(k + 1).map_or(end, |w| w.0);
            let (x0, x1) = (x(start), x(stop));
            let label = vcpu.map_or("idle".to_owned(), |(p, v)| format!("{} vCPU {v}", name(p)));
            let _ = writeln!(
                s,
                r##"<rect x="{x0:.2}" y="{bar_y:.1}" width="{:.2}" height="20" fill="{}" stroke="#333" stroke-width="0.3"><title>{} from {}</title></rect>"##,
                (x1 - x0).max(0.2),
                fill(vcpu.map(|(p, _)| p)),
                escape(&label),
                duration(start)
            );
        }
        for e in &mine {
            let xe = x(trace.ns(e.ticks));
            let (y0, y1, colour, what) = match &e.kind {
                Kind::Trap { class, .. } => (bar_y + 22.0, bar_y + 32.0, trap_colour(class), e.text.as_str()),
                Kind::Inject { .. } => (bar_y - 10.0, bar_y - 2.0, INJECT, e.text.as_str()),
                Kind::Irq { .. } => (bar_y - 16.0, bar_y - 10.0, IRQ, e.text.as_str()),
                Kind::Fault { .. } | Kind::Stop { .. } | Kind::Restart { .. } | Kind::Start { .. } => {
                    (bar_y - 16.0, bar_y + 32.0, FAULT, e.text.as_str())
                }
                Kind::Window { .. } | Kind::Unknown => continue,
            };
            let _ = writeln!(
                s,
                r#"<line x1="{xe:.2}" y1="{y0:.1}" x2="{xe:.2}" y2="{y1:.1}" stroke="{colour}" stroke-width="1"><title>{}</title></line>"#,
                escape(what)
            );
        }
    }
    // Time axis and legend.
    let axis_y = TOP + LANE_H * cpus as f64 + 4.0;
    let _ = writeln!(s, r##"<line x1="{LEFT}" y1="{axis_y}" x2="{}" y2="{axis_y}" stroke="#333"/>"##, LEFT + WIDTH);
    for k in 0..=10u64 {
        let t = end / 10 * k;
        let xt = x(t);
        let _ = writeln!(s, r##"<line x1="{xt:.2}" y1="{axis_y}" x2="{xt:.2}" y2="{}" stroke="#333"/>"##, axis_y + 5.0);
        let _ = writeln!(s, r#"<text x="{xt:.2}" y="{}" text-anchor="middle">{}</text>"#, axis_y + 20.0, duration(t));
    }
    let mut lx = LEFT;
    let ly = axis_y + 45.0;
    let legend = TRAP_COLOURS
        .iter()
        .map(|(c, col)| (format!("trap {c}"), *col))
        .chain([("inject".to_owned(), INJECT), ("fault/stop".to_owned(), FAULT)]);
    for (label, colour) in legend {
        let _ = writeln!(
            s,
            r#"<line x1="{lx:.1}" y1="{:.1}" x2="{lx:.1}" y2="{ly:.1}" stroke="{colour}" stroke-width="2"/><text x="{:.1}" y="{ly:.1}">{label}</text>"#,
            ly - 10.0,
            lx + 4.0
        );
        lx += 8.0 * label.len() as f64 + 16.0;
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::super::decode::Event;
    use super::*;

    fn ev(cpu: usize, ticks: u64, text: &str) -> Event {
        Event { cpu, ticks, text: text.into(), kind: super::super::event::parse(text) }
    }

    #[test]
    fn windows_are_bars_in_the_schedule_colours_and_traps_are_ticks() {
        let trace = Decoded {
            freq: 1_000_000_000,
            events: vec![
                ev(0, 0, "win c=0 p=0 v=0"),
                ev(0, 10, "trap hvc p=0 v=0"),
                ev(1, 20, "win c=1 p=255 v=255"),
                ev(0, 500, "win c=0 p=1 v=0"),
                ev(0, 600, "inject p=1 v=0 irq=27"),
                ev(0, 1000, "fault p=1 v=0 pc=0x0 why=<x>"),
            ],
            rings: vec![],
        };
        let svg = render("t", &trace, 2, &["a", "b"]);
        assert_eq!(svg.matches("<rect ").count(), 3);
        assert!(svg.contains(fill(Some(0))) && svg.contains(fill(Some(1))) && svg.contains(fill(None)));
        assert!(svg.contains("<title>trap hvc p=0 v=0</title>"));
        assert!(svg.contains("why=&lt;x&gt;"));
        assert!(svg.contains("CPU 1"));
    }
}
