use std::path::Path;

use serde_json::Value;

use super::*;
use crate::config::{check_source, Context};
use crate::diag::Diag;
use crate::guests::GuestCatalog;
use crate::image::{self, testelf};
use crate::pipeline::{device_trees, load_disk_images, solve_layout, Checked, ImageSizes, KernelImage};
use crate::report::layout_text;
use crate::units::{hex, size};

/// Pinned and cyclic pools, a passed-through device, RAM and host disks, a network with the uplink, a channel, a
/// watchdog and a manager partition.
const SYSTEM: &str = r#"
[board]
name = "qemu-virt-aarch64"

[[pool]]
name = "rt"
cpus = [0]

[[pool]]
name = "tdm"
cpus = [1]
scheduler = "cyclic"
major_frame = "2ms"
windows = [{ partition = "back", start = "0ms", duration = "1ms" }]

[[disk]]
name = "shared"
size = "2MiB"
backing = "host"

[[disk]]
name = "scratch"
size = "1MiB"

[[network]]
name = "lan"
uplink = true

[[channel]]
name = "ctl"
size = "64KiB"
partitions = [{ partition = "front", access = "rw" }, { partition = "back", access = "r" }]

[[partition]]
name = "front"
pool = "rt"
vcpus = [0]
memory = { size = "64MiB" }
kernel = "hello"
bootargs = "role=front"
passthrough = ["/pl031@9010000"]
disks = [{ disk = "shared", access = "ro" }, { disk = "scratch" }]
networks = [{ network = "lan", mac = "52:54:00:12:34:57" }]
watchdog = true

[[partition]]
name = "back"
pool = "tdm"
vcpus = [1]
memory = { size = "32MiB" }
kernel = "hello"
console = false
manages = ["front"]
"#;

fn prepared() -> Prepared {
    let guests = GuestCatalog::with_names(["hello"]);
    let ctx = Context { guests: &guests, base_dir: Path::new("/") };
    let (system, report) = check_source("sys.toml", SYSTEM, "sys", &ctx).unwrap_or_else(|r| panic!("{r}"));
    let checked = Checked { system, report, config_path: "/sys.toml".into() };
    let kernel = |len: usize| {
        let bytes = testelf::image(0x8_0000, 0, &vec![0x5a; len - 64]);
        KernelImage { header: image::header(&bytes).unwrap(), bytes, from: "test".into() }
    };
    let kernels = vec![kernel(0x1234), kernel(0x800)];
    let ramdisks = vec![None, None];
    let sizes = ImageSizes::of(&kernels, &ramdisks);
    let dtbs = device_trees(&checked, &sizes).unwrap();
    let layout = solve_layout(&checked, &sizes, &dtbs).unwrap();
    let disk_images = load_disk_images(&checked).unwrap();
    Prepared { checked, kernels, ramdisks, dtbs, disk_images, layout }
}

fn range_text(v: &Value) -> String {
    let (base, end) = (v["base"].as_u64().unwrap(), v["end"].as_u64().unwrap());
    assert_eq!(v["size"].as_u64().unwrap(), end - base, "{v}");
    format!("{}..{}", hex(base), hex(end))
}

#[test]
fn the_layout_holds_what_layout_txt_says() {
    let p = prepared();
    let text = layout_text(&p, None);
    let doc =
        serde_json::to_value(Document::ok("inspect", Path::new("sys.toml"), &p.checked.report).with_layout(layout(&p)))
            .unwrap();
    assert_eq!(doc["format"], FORMAT);
    assert_eq!(doc["ok"], true);
    let l = &doc["layout"];
    assert_eq!(l["system"], "sys");
    assert_eq!(l["board"]["name"], "qemu-virt-aarch64");
    assert_eq!(l["board"]["gic_version"], 3);
    assert_eq!(l["cpus"]["used"], serde_json::json!([0, 1]));

    // Every row of the memory map, in order, with the same ranges and descriptions; all of RAM, no gaps.
    let rows = l["memory"].as_array().unwrap();
    let mut at = l["board"]["ram"]["base"].as_u64().unwrap();
    let mut lines = text.lines().skip_while(|l| *l != "host-physical memory").skip(1);
    for row in rows {
        assert_eq!(row["base"].as_u64().unwrap(), at, "{row}");
        at = row["end"].as_u64().unwrap();
        let line = lines.next().unwrap();
        let r = range_text(row);
        assert!(line.starts_with(&format!("  {r}")), "`{line}` for {row}");
        assert!(line.ends_with(row["description"].as_str().unwrap()), "`{line}` for {row}");
        assert!(line.contains(&size(row["size"].as_u64().unwrap())), "`{line}`");
        for item in row["contents"].as_array().unwrap() {
            let line = lines.next().unwrap();
            assert!(line.starts_with(&format!("    {}", range_text(item))), "`{line}` for {item}");
            let what = format!("{} {}", item["owner"].as_str().unwrap(), item["what"].as_str().unwrap());
            assert!(line.ends_with(&what), "`{line}` for {item}");
        }
    }
    assert_eq!(at, l["board"]["ram"]["end"].as_u64().unwrap());
    let kinds: Vec<&str> = rows.iter().map(|r| r["kind"].as_str().unwrap()).collect();
    for kind in ["boot-loader", "hypervisor", "payload", "partition", "disk", "channel", "free"] {
        assert!(kinds.contains(&kind), "{kinds:?}");
    }
    let front_ram = rows.iter().find(|r| r["name"] == "front").unwrap();
    assert!(text.contains(&format!("{}  ", range_text(front_ram))));

    // Partitions: the lines `layout.txt` prints for them, from the JSON's numbers.
    let front = &l["partitions"][0];
    assert_eq!(front["name"], "front");
    assert_eq!(front["vcpus"], serde_json::json!([0]));
    let ram = &front["ram"];
    assert!(
        text.contains(&format!("ram          IPA {} -> PA {}", range_text(&ram["ipa"]), range_text(&ram["pa"]))),
        "{text}"
    );
    let k = &front["kernel"];
    assert!(text.contains(&format!(
        "kernel       IPA {} (PA {}), {}",
        hex(k["ipa"].as_u64().unwrap()),
        hex(k["pa"].as_u64().unwrap()),
        size(k["size"].as_u64().unwrap())
    )));
    assert_eq!(k["from"], "guest hello");
    let pt = &front["passthrough"][0];
    assert_eq!(pt["path"], "/pl031@9010000");
    assert_eq!(pt["intids"], serde_json::json!([34]));
    assert!(text.contains("passthrough  /pl031@9010000 (PL031 real-time clock): MMIO 0x901_0000..0x901_1000, INTID 34"));
    for d in front["device_maps"].as_array().unwrap() {
        let line = format!(
            "device       IPA {} -> PA {} ({})",
            hex(d["ipa"].as_u64().unwrap()),
            hex(d["pa"].as_u64().unwrap()),
            size(d["size"].as_u64().unwrap())
        );
        assert!(text.contains(&line), "{line}");
    }
    let virtio = front["virtio"].as_array().unwrap();
    assert_eq!(virtio.len(), 3, "{virtio:?}");
    for v in virtio {
        let what = match v["device"].as_str().unwrap() {
            "disk" => format!("disk {}, {}", v["name"].as_str().unwrap(), v["access"].as_str().unwrap()),
            _ => format!("network {}, MAC {}", v["name"].as_str().unwrap(), v["mac"].as_str().unwrap()),
        };
        let line = format!(
            "virtio-mmio  IPA {} (INTID {}): {what}",
            hex(v["ipa"].as_u64().unwrap()),
            v["intid"].as_u64().unwrap()
        );
        assert!(text.contains(&line), "{line}\n{text}");
    }
    let ch = &front["channels"][0];
    assert_eq!((ch["name"].as_str(), ch["access"].as_str()), (Some("ctl"), Some("rw")));
    assert!(text.contains(&format!(
        "channel      ctl IPA {} -> PA {}",
        range_text(&ch["ipa"]),
        hex(ch["pa"].as_u64().unwrap())
    )));
    assert!(text.contains(&format!("stage-2 tables {}", front["stage2_tables"])));
    assert_eq!(front["bootargs"], "role=front");
    assert_eq!(l["partitions"][1]["console"], false);
    // The watchdog: its fixed page and the SPI after the three transports' and the doorbell's.
    assert_eq!(front["watchdog"], serde_json::json!({"ipa": 0x0900_1000, "intid": 52}));
    assert!(text.contains("watchdog     SP805 IPA 0x900_1000 (INTID 52)"), "{text}");
    assert!(l["partitions"][1]["watchdog"].is_null());
    assert_eq!(front["manages"], serde_json::json!([]));
    assert_eq!(l["partitions"][1]["manages"], serde_json::json!(["front"]));
    assert!(text.contains("manages      front"), "{text}");

    // PV devices.
    assert_eq!(l["disks"][0]["backing"], "host");
    assert_eq!(l["disks"][0]["attached_by"][0], serde_json::json!({"partition": "front", "access": "ro"}));
    let slice = &l["disks"][0]["host_slice"];
    let (off, len) = (slice["offset"].as_u64().unwrap(), slice["size"].as_u64().unwrap());
    assert!(text.contains(&format!("host disk bytes {}..{}", hex(off), hex(off + len))), "{text}");
    assert!(l["disks"][1]["host_slice"].is_null());
    assert_eq!(l["host_disk"]["serial"], board_support::HOST_DISK_SERIAL);
    assert_eq!(l["networks"][0]["uplink"], true);
    assert_eq!(l["networks"][0]["ports"][0]["mac"], "52:54:00:12:34:57");
    assert_eq!(l["channels"][0]["members"][1], serde_json::json!({"partition": "back", "access": "r"}));

    // The schedule: the pinned pool's CPU and the cyclic pool's slots.
    let pools = l["pools"].as_array().unwrap();
    assert_eq!(pools[0]["slots"], serde_json::json!([{"cpu": 0, "start_ns": 0, "end_ns": 0, "partition": "front"}]));
    assert_eq!(pools[1]["major_frame_ns"], 2_000_000);
    assert_eq!(
        pools[1]["slots"],
        serde_json::json!([
            {"cpu": 1, "start_ns": 0, "end_ns": 1_000_000, "partition": "back"},
            {"cpu": 1, "start_ns": 1_000_000, "end_ns": 2_000_000, "partition": null},
        ])
    );
    assert!(text.contains("pool tdm: cyclic, major frame 2 ms"), "{text}");
}

#[test]
fn diagnostics_carry_positions_fields_hints_and_related_spans() {
    let src = "[board]\nname = \"qemu-virt\"\n\n[[pool]]\nname = \"rt\"\ncpus = [1]\n";
    let mut r = Report::new("x.toml", src);
    let at = src.find("\"qemu").unwrap();
    let first = src.find("cpus").unwrap();
    r.push(
        Diag::error("board.name", at..at + 11, "unknown board `qemu-virt`")
            .label("no board has this name")
            .hint("did you mean `qemu-virt-aarch64`?")
            .related(first..first + 4, "first here"),
    );
    r.push(Diag::warning("pool[0]", 1000..2000, "beyond the end"));
    let doc =
        serde_json::to_value(Document::failed("check", Path::new("x.toml"), &Error::Config(Box::new(r)))).unwrap();
    assert_eq!(doc["ok"], false);
    assert_eq!(doc["summary"], "1 error, 1 warning");
    assert!(doc["error"].is_null());
    assert!(doc.get("layout").is_none());
    let d = &doc["diagnostics"][0];
    assert_eq!(
        *d,
        serde_json::json!({
            "severity": "error",
            "message": "unknown board `qemu-virt`",
            "field": "board.name",
            "file": "x.toml",
            "line": 2, "column": 8, "end_line": 2, "end_column": 19,
            "start_byte": at, "end_byte": at + 11,
            "label": "no board has this name",
            "hint": "did you mean `qemu-virt-aarch64`?",
            "related": [{
                "label": "first here",
                "line": 6, "column": 1, "end_line": 6, "end_column": 5,
                "start_byte": first, "end_byte": first + 4,
            }],
        })
    );
    // A span past the end is clamped to it, as the text rendering does.
    let w = &doc["diagnostics"][1];
    assert_eq!((w["severity"].as_str(), w["line"].as_u64(), w["column"].as_u64()), (Some("warning"), Some(7), Some(1)));
    assert_eq!((w["start_byte"].as_u64(), w["end_byte"].as_u64()), (Some(src.len() as u64), Some(src.len() as u64)));
    assert!(w["hint"].is_null());
}

#[test]
fn an_error_without_diagnostics_is_in_the_document() {
    let e = Error::Read { path: "nope.toml".into(), source: std::io::Error::from(std::io::ErrorKind::NotFound) };
    let doc = serde_json::to_value(Document::failed("inspect", Path::new("nope.toml"), &e)).unwrap();
    assert_eq!(doc["ok"], false);
    assert_eq!(doc["command"], "inspect");
    assert_eq!(doc["config"], "nope.toml");
    assert!(doc["error"].as_str().unwrap().starts_with("cannot read nope.toml"), "{doc}");
    assert_eq!(doc["diagnostics"], serde_json::json!([]));
    // One document, ending in a newline.
    let text = to_string(&Document::failed("inspect", Path::new("nope.toml"), &e));
    assert!(text.ends_with("}\n") && serde_json::from_str::<Value>(&text).is_ok());
}
