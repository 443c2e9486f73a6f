//! `schedule.svg`: one major frame drawn as a timeline per CPU, windows coloured by partition, so a schedule can
//! be reviewed at a glance. Plain SVG text: no crate is worth a dependency for a few rectangles, and writing it
//! ourselves keeps the output byte-for-byte reproducible.

use std::fmt::Write;

use super::{Nanos, Slot};
use crate::units::duration;

/// One row of the drawing: a CPU and what it runs over the frame.
pub struct Row {
    pub label: String,
    pub slots: Vec<Slot>,
}

/// Distinguishable fills, by partition index (repeats after twelve partitions).
const PALETTE: [&str; 12] = [
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
    "#86bcb6", "#d37295",
];
const IDLE: &str = "#eeeeee";

/// The fill of a partition's windows (`None`: idle), the same in every drawing (`trace.svg` uses it too).
pub fn fill(partition: Option<usize>) -> &'static str {
    match partition {
        Some(p) => PALETTE[p % PALETTE.len()],
        None => IDLE,
    }
}

const LEFT: u32 = 150;
const WIDTH: u32 = 800;
const ROW_H: u32 = 34;
const TOP: u32 = 40;

/// Draws `rows` over `[0, frame)`; `names` are the partitions' names by index.
pub fn render(title: &str, frame: Nanos, rows: &[Row], names: &[&str]) -> String {
    let height = TOP + ROW_H * rows.len() as u32 + 60;
    let x = |t: Nanos| LEFT as f64 + WIDTH as f64 * t as f64 / frame.max(1) as f64;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{height}" font-family="sans-serif" font-size="12">"#,
        LEFT + WIDTH + 20
    );
    let _ = writeln!(s, r#"<text x="10" y="20" font-size="14">{}</text>"#, escape(title));
    for (i, row) in rows.iter().enumerate() {
        let y = TOP + ROW_H * i as u32;
        let _ = writeln!(s, r#"<text x="10" y="{}">{}</text>"#, y + 20, escape(&row.label));
        for slot in &row.slots {
            let (x0, x1) = (x(slot.start), x(slot.end));
            let colour = fill(slot.partition);
            let name = slot.partition.map_or("idle", |p| names[p]);
            let _ = writeln!(
                s,
                r##"<rect x="{x0:.2}" y="{}" width="{:.2}" height="{}" fill="{colour}" stroke="#333" stroke-width="0.5"><title>{} {}..{}</title></rect>"##,
                y + 4,
                x1 - x0,
                ROW_H - 8,
                escape(name),
                duration(slot.start),
                duration(slot.end)
            );
            // Label the window when the name fits.
            if x1 - x0 > 7.0 * name.len() as f64 {
                let _ = writeln!(s, r#"<text x="{:.2}" y="{}">{}</text>"#, x0 + 3.0, y + 21, escape(name));
            }
        }
    }
    // Time axis: ten divisions of the frame.
    let axis_y = TOP + ROW_H * rows.len() as u32 + 10;
    let _ = writeln!(s, r##"<line x1="{LEFT}" y1="{axis_y}" x2="{}" y2="{axis_y}" stroke="#333"/>"##, LEFT + WIDTH);
    for k in 0..=10u64 {
        // In u128: a frame near 2^64 ns must not wrap.
        let t = u64::try_from(u128::from(frame) * u128::from(k) / 10).unwrap_or(frame);
        let xt = x(t);
        let _ = writeln!(s, r##"<line x1="{xt:.2}" y1="{axis_y}" x2="{xt:.2}" y2="{}" stroke="#333"/>"##, axis_y + 5);
        let _ = writeln!(s, r#"<text x="{xt:.2}" y="{}" text-anchor="middle">{}</text>"#, axis_y + 20, duration(t));
    }
    s.push_str("</svg>\n");
    s
}

pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_every_slot_coloured_by_partition() {
        let rows = [
            Row {
                label: "CPU 1 (mixed)".into(),
                slots: vec![
                    Slot { start: 0, end: 4_000_000, partition: Some(0) },
                    Slot { start: 4_000_000, end: 10_000_000, partition: None },
                ],
            },
            Row { label: "CPU 0 (rt)".into(), slots: vec![Slot { start: 0, end: 10_000_000, partition: Some(1) }] },
        ];
        let svg = render("demo <frame>", 10_000_000, &rows, &["linux", "rt"]);
        assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>\n"));
        assert_eq!(svg.matches("<rect ").count(), 3);
        assert!(svg.contains(PALETTE[0]) && svg.contains(PALETTE[1]) && svg.contains(IDLE));
        assert!(svg.contains("<title>linux 0..4 ms</title>"), "{svg}");
        assert!(svg.contains("demo &lt;frame&gt;"));
        assert!(svg.contains(">10 ms</text>"));
    }
}
