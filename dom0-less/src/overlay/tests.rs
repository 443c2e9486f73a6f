//! Overlays merged into generated trees. The `.dtbo` files under `testdata/` are dtc's output for the `.dts` beside
//! them (checked by tests/dtc.rs), so these tests need no dtc; overlays dtc would not write (or could not: it
//! refuses `__overlay__` content that breaks the rules here only at apply time) are assembled by [`Blob`].

use super::*;
use crate::{guest_map, partition_dtb, Arch, GicVersion, PartitionDt};
use alloc::{string::ToString, vec};

const EXTRA: &[u8] = include_bytes!("../../testdata/extra.dtbo");
const TARGET_LABEL: &[u8] = include_bytes!("../../testdata/target-label.dtbo");
const CPUS: &[u8] = include_bytes!("../../testdata/cpus.dtbo");

fn base() -> Vec<u8> {
    partition_dtb(&PartitionDt {
        name: "hello1".into(),
        id: 1,
        arch: Arch::Aarch64,
        cpu_compatible: "arm,armv8".into(),
        vcpus: 1,
        ram_ipa: guest_map::RAM,
        ram_size: 64 << 20,
        gic: GicVersion::V3,
        uart: Some(guest_map::UART),
        bootargs: "quiet".into(),
        initrd: None,
        devices: vec![],
        virtio: vec![],
        channels: vec![],
        watchdog: None,
        gpio_intid: None,
        manages: vec![],
    })
    .unwrap()
}

/// A flattened device tree assembled token by token, without any of vm-fdt's checks.
#[derive(Default)]
struct Blob {
    structure: Vec<u8>,
    strings: Vec<u8>,
}

impl Blob {
    fn begin(mut self, name: &str) -> Self {
        self.structure.extend(FDT_BEGIN_NODE.to_be_bytes());
        self.structure.extend(name.as_bytes());
        self.structure.push(0);
        while !self.structure.len().is_multiple_of(4) {
            self.structure.push(0);
        }
        self
    }

    fn end(mut self) -> Self {
        self.structure.extend(FDT_END_NODE.to_be_bytes());
        self
    }

    fn prop(mut self, name: &str, value: &[u8]) -> Self {
        let off = self.strings.len() as u32;
        self.strings.extend(name.as_bytes());
        self.strings.push(0);
        self.structure.extend(FDT_PROP.to_be_bytes());
        self.structure.extend((value.len() as u32).to_be_bytes());
        self.structure.extend(off.to_be_bytes());
        self.structure.extend(value);
        while !self.structure.len().is_multiple_of(4) {
            self.structure.push(0);
        }
        self
    }

    fn str(self, name: &str, value: &str) -> Self {
        let mut v = value.as_bytes().to_vec();
        v.push(0);
        self.prop(name, &v)
    }

    fn u32(self, name: &str, value: u32) -> Self {
        self.prop(name, &value.to_be_bytes())
    }

    /// One fragment targeting `path`; `body` fills its `__overlay__`.
    fn fragment(self, n: usize, path: &str, body: impl FnOnce(Blob) -> Blob) -> Self {
        body(self.begin(&format!("fragment@{n}")).str("target-path", path).begin("__overlay__")).end().end()
    }

    fn finish(mut self) -> Vec<u8> {
        self.structure.extend(FDT_END.to_be_bytes());
        let off_rsv = HEADER_LEN as u32;
        let off_struct = off_rsv + 16;
        let off_strings = off_struct + self.structure.len() as u32;
        let total = off_strings + self.strings.len() as u32;
        let mut out = Vec::new();
        for v in [FDT_MAGIC, total, off_struct, off_strings, off_rsv, 17, 16, 0, self.strings.len() as u32] {
            out.extend(v.to_be_bytes());
        }
        out.extend((self.structure.len() as u32).to_be_bytes());
        out.extend([0u8; 16]);
        out.extend(self.structure);
        out.extend(self.strings);
        out
    }
}

/// An overlay of fragments built by `body` (which adds them under the root).
fn overlay(body: impl FnOnce(Blob) -> Blob) -> Vec<u8> {
    body(Blob::default().begin("")).end().finish()
}

fn tree(blob: &[u8]) -> Node {
    read_tree(blob).unwrap()
}

fn at<'a>(root: &'a Node, path: &str) -> &'a Node {
    let mut n = root;
    for c in path.split('/').filter(|c| !c.is_empty()) {
        n = n.child(c).unwrap_or_else(|| panic!("no {c} in {path}"));
    }
    n
}

fn prop<'a>(root: &'a Node, path: &str, name: &str) -> &'a [u8] {
    &at(root, path).property(name).unwrap_or_else(|| panic!("no {path}:{name}")).value
}

fn cells(v: &[u8]) -> Vec<u32> {
    v.chunks(4).map(|c| u32::from_be_bytes(c.try_into().unwrap())).collect()
}

fn apply_err(ov: &[u8]) -> OverlayError {
    match Overlay::parse(ov) {
        Ok(o) => apply(&base(), &o).unwrap_err(),
        Err(e) => e,
    }
}

#[test]
fn extra_dtbo_merges_into_the_generated_tree() {
    let ov = Overlay::parse(EXTRA).unwrap();
    assert_eq!(ov.targets().collect::<Vec<_>>(), ["/chosen", "/", "/chosen"]);
    let base = base();
    let merged = apply(&base, &ov).unwrap();
    let (b, m) = (tree(&base), tree(&merged));

    // Everything generated is still there, unchanged and in the same order.
    let names = |n: &Node| n.children.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&m)[..b.children.len()], names(&b)[..]);
    for c in &b.children {
        let mc = at(&m, &c.name);
        assert_eq!(mc.children, c.children, "{}", c.name);
        assert_eq!(mc.properties[..c.properties.len()], c.properties[..], "{}", c.name);
    }
    assert_eq!(m.properties[..b.properties.len()], b.properties[..]);

    // Added: a root property, properties of /chosen (the later fragment's value wins), two new nodes.
    assert_eq!(prop(&m, "/", "model"), b"hv-static partition with an overlay\0");
    assert_eq!(prop(&m, "/chosen", "hv-demo"), b"from an overlay\0");
    assert_eq!(cells(prop(&m, "/chosen", "hv-demo-cells")), [3]);
    assert_eq!(prop(&m, "/chosen", "bootargs"), b"quiet\0");
    assert_eq!(names(&m)[b.children.len()..], ["reserved-memory", "shm-user"]);
    assert_eq!(cells(prop(&m, "/reserved-memory/shm@43000000", "reg")), [0, 0x4300_0000, 0, 0x10_0000]);
    assert_eq!(prop(&m, "/reserved-memory/shm@43000000", "no-map"), b"");
    // No overlay bookkeeping leaks into the result.
    assert!(m.child("__symbols__").is_none() && m.child("__local_fixups__").is_none());

    // The overlay's phandle is renumbered above the generated ones, and the reference follows it.
    let generated_max = max_phandle(&b);
    assert!(generated_max >= 2, "{generated_max}");
    let shm = cells(prop(&m, "/reserved-memory/shm@43000000", "phandle"));
    assert_eq!(shm, [generated_max + 1]);
    assert_eq!(cells(prop(&m, "/shm-user", "memory-region")), shm);

    // Deterministic.
    assert_eq!(apply(&base, &ov).unwrap(), merged);
    // The `fdt` crate reads the result like any tree.
    let fdt = Fdt::new(&merged).unwrap();
    assert_eq!(fdt.find_node("/chosen").unwrap().property("hv-demo").unwrap().as_str(), Some("from an overlay"));
}

#[test]
fn target_by_label_is_refused() {
    let e = Overlay::parse(TARGET_LABEL).unwrap_err();
    assert_eq!(e, OverlayError::TargetPhandle { fragment: "fragment@0".into(), label: Some("gic".into()) });
    assert_eq!(
        e.to_string(),
        "`fragment@0` names its target with `target = <&gic>`: the partition's generated device tree has no labels, \
         use `target-path`"
    );
    let no_fixups = overlay(|b| b.begin("fragment@0").u32("target", 1).begin("__overlay__").end().end());
    let e = Overlay::parse(&no_fixups).unwrap_err();
    assert!(e.to_string().contains("`target = <&label>`"), "{e}");
    assert!(e.hint().contains("&{/chosen}"), "{}", e.hint());
}

#[test]
fn generated_nodes_are_protected() {
    let e = apply_err(CPUS);
    assert_eq!(
        e,
        OverlayError::Protected {
            fragment: "fragment@0".into(),
            node: "/cpus".into(),
            what: "the partition's vCPUs, from its `vcpus`"
        }
    );
    assert!(e.to_string().contains("`fragment@0` changes `/cpus`, which hv-static generates"), "{e}");
    // By path (with or without the unit address) and by merging into the root.
    for path in ["/memory", "/memory@40000000", "/hypervisor", "/psci", "/timer", "/intc@8000000", "/cpus/cpu@0"] {
        let e = apply_err(&overlay(|b| b.fragment(0, path, |b| b.u32("x", 1))));
        assert!(matches!(&e, OverlayError::Protected { .. }), "{path}: {e:?}");
    }
    for child in ["cpus", "hypervisor", "memory@40000000"] {
        let e = apply_err(&overlay(|b| b.fragment(0, "/", |b| b.begin(child).u32("x", 1).end())));
        assert!(matches!(&e, OverlayError::Protected { node, .. } if *node == format!("/{child}")), "{child}: {e:?}");
    }
}

#[test]
fn generated_properties_are_not_overridden() {
    let e = apply_err(&overlay(|b| b.fragment(0, "/chosen", |b| b.str("bootargs", "loud"))));
    assert_eq!(
        e,
        OverlayError::GeneratedProperty {
            fragment: "fragment@0".into(),
            node: "/chosen".into(),
            property: "bootargs".into()
        }
    );
    assert!(e.to_string().contains("overrides `/chosen/bootargs`"), "{e}");
    assert!(e.hint().contains("`bootargs`"));
    let e = apply_err(&overlay(|b| b.fragment(0, "/", |b| b.str("compatible", "x"))));
    assert!(
        matches!(&e, OverlayError::GeneratedProperty { node, property, .. } if node == "/" && property == "compatible")
    );
    let e = apply_err(&overlay(|b| b.fragment(0, "/", |b| b.begin("pl011@9000000").u32("reg", 0).end())));
    assert!(matches!(&e, OverlayError::GeneratedProperty { node, .. } if node == "/pl011@9000000"), "{e:?}");
    // Adding a property to a generated node that is not hv-static's own is fine.
    let ok = overlay(|b| b.fragment(0, "/pl011@9000000", |b| b.str("hv-note", "console")));
    let merged = apply(&base(), &Overlay::parse(&ok).unwrap()).unwrap();
    assert_eq!(prop(&tree(&merged), "/pl011@9000000", "hv-note"), b"console\0");
}

#[test]
fn memory_cannot_be_added() {
    let e = apply_err(&overlay(|b| b.fragment(0, "/", |b| b.begin("memory@80000000").u32("x", 1).end())));
    assert_eq!(e, OverlayError::MemoryNode { fragment: "fragment@0".into(), node: "/memory@80000000".into() });
    let e = apply_err(&overlay(|b| {
        b.fragment(0, "/", |b| b.begin("extra").begin("ram").str("device_type", "memory").end().end())
    }));
    assert_eq!(e, OverlayError::MemoryNode { fragment: "fragment@0".into(), node: "/extra/ram".into() });
    let e = apply_err(&overlay(|b| b.fragment(0, "/chosen", |b| b.str("device_type", "memory"))));
    assert!(matches!(e, OverlayError::MemoryNode { .. }), "{e:?}");
}

#[test]
fn targets_must_exist_and_be_paths() {
    let e = apply_err(&overlay(|b| b.fragment(0, "/nope", |b| b.u32("x", 1))));
    assert_eq!(e, OverlayError::NoSuchTarget { fragment: "fragment@0".into(), path: "/nope".into() });
    let e = apply_err(&overlay(|b| b.fragment(0, "chosen", |b| b.u32("x", 1))));
    assert!(matches!(e, OverlayError::BadTargetPath { .. }), "{e:?}");
    let e = apply_err(&overlay(|b| b.begin("fragment@0").str("target-path", "/").end()));
    assert!(matches!(e, OverlayError::NoOverlayNode { .. }), "{e:?}");
    let e = apply_err(&overlay(|b| b.begin("fragment@0").begin("__overlay__").end().end()));
    assert!(matches!(e, OverlayError::NoTarget { .. }), "{e:?}");
    // A node created by an earlier fragment is a target for later ones.
    let ok = overlay(|b| {
        b.fragment(0, "/", |b| b.begin("board-info").end()).fragment(1, "/board-info", |b| b.str("vendor", "x"))
    });
    let merged = apply(&base(), &Overlay::parse(&ok).unwrap()).unwrap();
    assert_eq!(prop(&tree(&merged), "/board-info", "vendor"), b"x\0");
}

#[test]
fn not_an_overlay() {
    // A whole device tree, such as the generated one, is not an overlay.
    let e = Overlay::parse(&base()).unwrap_err();
    assert!(matches!(&e, OverlayError::NotOverlay(why) if why.contains("property")), "{e:?}");
    let e = Overlay::parse(&overlay(|b| b.begin("chosen").end())).unwrap_err();
    assert!(matches!(&e, OverlayError::NotOverlay(why) if why.contains("`chosen`")), "{e:?}");
    assert_eq!(Overlay::parse(&overlay(|b| b)).unwrap_err(), OverlayError::NotOverlay("it has no fragments".into()));
    let e = Overlay::parse(&overlay(|b| {
        b.fragment(0, "/", |b| b.u32("x", 1)).begin("__fixups__").str("gic", "/fragment@0/__overlay__:x:0").end()
    }))
    .unwrap_err();
    assert_eq!(e, OverlayError::UnresolvedLabels(vec!["gic".into()]));
}

#[test]
fn malformed_blobs_are_errors_not_panics() {
    let e = Overlay::parse(b"this is text, not a device tree").unwrap_err();
    assert_eq!(e, OverlayError::NotDtb("no device-tree magic (d0 0d fe ed) at its start".into()));
    assert!(e.to_string().starts_with("not a compiled device tree"));
    assert!(matches!(Overlay::parse(&[]), Err(OverlayError::NotDtb(_))));
    // Every truncation and every single-byte corruption of a real overlay: an error or an overlay, never a panic.
    for len in 0..EXTRA.len() {
        let mut cut = EXTRA[..len].to_vec();
        // Keep the header's size consistent with the cut, so the walk itself meets the damage.
        if len >= 8 {
            cut[4..8].copy_from_slice(&(len as u32).to_be_bytes());
        }
        let _ = Overlay::parse(&cut);
    }
    let base = base();
    for i in 0..EXTRA.len() {
        for v in [0x00, 0x01, 0x02, 0x03, 0x04, 0x09, 0x7f, 0xff] {
            let mut bad = EXTRA.to_vec();
            bad[i] = v;
            if let Ok(o) = Overlay::parse(&bad) {
                let _ = apply(&base, &o);
            }
        }
    }
    // A bad local fixup offset.
    let e = Overlay::parse(&overlay(|b| {
        b.fragment(0, "/", |b| b.begin("a").u32("ref", 1).end())
            .begin("__local_fixups__")
            .begin("fragment@0")
            .begin("__overlay__")
            .begin("a")
            .u32("ref", 4)
            .end()
            .end()
            .end()
            .end()
    }))
    .unwrap_err();
    assert!(matches!(&e, OverlayError::BadLocalFixup(why) if why.contains("offset 4")), "{e:?}");
}

#[test]
fn bad_names_fail_when_written() {
    let e = apply_err(&overlay(|b| b.fragment(0, "/", |b| b.begin("1bad").end())));
    assert!(matches!(&e, OverlayError::Write { node, .. } if node == "/1bad"), "{e:?}");
}
