//! Device-tree overlays merged into a partition's generated tree at build time.
//!
//! A partition may carry extra device-tree content: a compiled overlay (`dtc -@ -I dts -O dtb -o x.dtbo x.dts`)
//! whose fragments name their target by path:
//!
//! ```dts
//! /dts-v1/;
//! /plugin/;
//! &{/chosen} { hv-demo = "hello"; };          // dtc writes: fragment@0 { target-path = "/chosen"; __overlay__ {...} }
//! ```
//!
//! [`Overlay::parse`] reads the blob with the `fdt` crate (after checking its structure, since that crate trusts
//! its input), [`apply`] merges each fragment's `__overlay__` into the target node of a generated tree (properties
//! are added, or replace ones an earlier fragment added; subnodes are merged by name or appended) and writes the
//! result with `vm-fdt`. What the generator writes is the guest ABI (docs/guest-abi.md), so an overlay may add to it
//! but not change it:
//!
//! - fragments must use `target-path`: `target = <&label>` needs the base tree's labels, and a generated tree has
//!   none; for the same reason references to labels outside the overlay (`__fixups__`) are refused;
//! - `/cpus`, `/memory@...`, `/hypervisor`, `/psci`, the interrupt controller and the timer are hv-static's: an
//!   overlay may not touch them, nor add a memory node (RAM is the partition's `memory`);
//! - a property the generator wrote may not be overridden (`/chosen/bootargs` comes from `bootargs`, and so on);
//! - phandles the overlay defines are renumbered above the generated tree's and the references `__local_fixups__`
//!   lists are patched to match.
//!
//! Like the rest of this crate: `no_std` + `alloc`, deterministic, and it never panics on bad input.

use alloc::{borrow::ToOwned, format, string::String, vec::Vec};
use core::fmt;

use fdt::{node::FdtNode, Fdt};
use vm_fdt::FdtWriter;

/// Deepest node nesting accepted (the root is depth 1), as `vm-fdt` writes it.
const MAX_DEPTH: usize = 64;

/// Root-level nodes of a generated tree that belong to hv-static, by name before any `@`, with what they describe.
const PROTECTED: &[(&str, &str)] = &[
    ("memory", "the partition's RAM, from its `memory`"),
    ("cpus", "the partition's vCPUs, from its `vcpus`"),
    ("psci", "the PSCI interface hv-static implements"),
    ("intc", "the emulated interrupt controller"),
    ("timer", "the architected timer's interrupts"),
    ("hypervisor", "the partition's identity and guest ABI version"),
];

/// A property of a tree being read or merged.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Property {
    name: String,
    value: Vec<u8>,
    /// Byte offsets in `value` of phandles of nodes of the overlay itself (from `__local_fixups__`).
    phandle_refs: Vec<usize>,
    /// Written by the generator (part of the base tree), not by the overlay.
    generated: bool,
}

/// A node of a tree being read or merged.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Node {
    name: String,
    properties: Vec<Property>,
    children: Vec<Node>,
}

impl Node {
    fn property(&self, name: &str) -> Option<&Property> {
        self.properties.iter().find(|p| p.name == name)
    }

    fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    fn child_mut(&mut self, name: &str) -> Option<&mut Node> {
        self.children.iter_mut().find(|c| c.name == name)
    }
}

/// One fragment: what to merge (`__overlay__`) into which node.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Fragment {
    /// The fragment node's name (`fragment@0`), for errors.
    name: String,
    target_path: String,
    content: Node,
}

/// A parsed, checked overlay, ready to [`apply`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Overlay {
    fragments: Vec<Fragment>,
}

/// Why an overlay cannot be read or applied.
#[derive(Debug, PartialEq, Eq)]
pub enum OverlayError {
    /// The file is not a well-formed flattened device tree.
    NotDtb(String),
    /// The tree is a device tree but not an overlay made of fragments.
    NotOverlay(String),
    /// A fragment names its target with `target = <&label>` (the label, when `__fixups__` says which).
    TargetPhandle { fragment: String, label: Option<String> },
    /// A fragment has neither `target-path` nor `target`.
    NoTarget { fragment: String },
    /// A fragment's `target-path` is not an absolute path.
    BadTargetPath { fragment: String, path: String },
    /// A fragment has no `__overlay__` node.
    NoOverlayNode { fragment: String },
    /// The overlay refers to labels it does not define (`__fixups__`).
    UnresolvedLabels(Vec<String>),
    /// `__local_fixups__` names a node or property the overlay does not have, or an offset outside it.
    BadLocalFixup(String),
    /// A fragment's `target-path` names no node of the partition's tree.
    NoSuchTarget { fragment: String, path: String },
    /// A fragment changes a node hv-static owns.
    Protected { fragment: String, node: String, what: &'static str },
    /// A fragment overrides a property the generator wrote.
    GeneratedProperty { fragment: String, node: String, property: String },
    /// A fragment adds RAM the partition does not have.
    MemoryNode { fragment: String, node: String },
    /// Renumbered phandles would overflow.
    PhandleOverflow,
    /// The merged tree could not be written.
    Write { node: String, error: vm_fdt::Error },
}

impl fmt::Display for OverlayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OverlayError::NotDtb(why) => write!(f, "not a compiled device tree: {why}"),
            OverlayError::NotOverlay(why) => write!(f, "not a device-tree overlay: {why}"),
            OverlayError::TargetPhandle { fragment, label } => write!(
                f,
                "`{fragment}` names its target with `target = <&{}>`: the partition's generated device tree has no \
                 labels, use `target-path`",
                label.as_deref().unwrap_or("label")
            ),
            OverlayError::NoTarget { fragment } => write!(f, "`{fragment}` has no `target-path`"),
            OverlayError::BadTargetPath { fragment, path } => {
                write!(f, "`{fragment}` has target-path \"{path}\", which is not an absolute node path")
            }
            OverlayError::NoOverlayNode { fragment } => write!(f, "`{fragment}` has no `__overlay__` node"),
            OverlayError::UnresolvedLabels(labels) => write!(
                f,
                "the overlay refers to {} it does not define ({}): the partition's generated device tree has no labels",
                if labels.len() == 1 { "a label" } else { "labels" },
                quoted(labels)
            ),
            OverlayError::BadLocalFixup(why) => write!(f, "malformed `__local_fixups__`: {why}"),
            OverlayError::NoSuchTarget { fragment, path } => {
                write!(f, "`{fragment}` targets `{path}`, which is not a node of the partition's device tree")
            }
            OverlayError::Protected { fragment, node, what } => write!(
                f,
                "`{fragment}` changes `{node}`, which hv-static generates ({what}): an overlay may not replace or \
                 extend it"
            ),
            OverlayError::GeneratedProperty { fragment, node, property } => write!(
                f,
                "`{fragment}` overrides `{}`, a property the partition's device tree generator writes",
                join(node, property)
            ),
            OverlayError::MemoryNode { fragment, node } => {
                write!(f, "`{fragment}` adds the memory node `{node}`: a partition's RAM is what its config gives it")
            }
            OverlayError::PhandleOverflow => write!(f, "the overlay's phandles overflow once renumbered"),
            OverlayError::Write { node, error } => write!(f, "cannot write node `{node}` of the merged tree: {error}"),
        }
    }
}

impl OverlayError {
    /// How to fix it, one sentence.
    pub fn hint(&self) -> String {
        match self {
            OverlayError::NotDtb(_) | OverlayError::NotOverlay(_) => {
                "compile the overlay source with `dtc -@ -I dts -O dtb -o FILE.dtbo FILE.dts`; its source starts with \
                 `/dts-v1/; /plugin/;` and names targets by path (`&{/chosen} { ... };`)"
                    .to_owned()
            }
            OverlayError::TargetPhandle { .. } | OverlayError::UnresolvedLabels(_) => {
                "name the node by its path instead: write `&{/chosen} { ... };` rather than `&label { ... };` (dtc \
                 then emits `target-path`); labels defined inside the overlay itself are fine"
                    .to_owned()
            }
            OverlayError::NoTarget { .. } | OverlayError::BadTargetPath { .. } | OverlayError::NoOverlayNode { .. } => {
                "each fragment needs `target-path = \"/path\"` and an `__overlay__` node; dtc writes both for \
                 `&{/path} { ... };`"
                    .to_owned()
            }
            OverlayError::BadLocalFixup(_) => "recompile the overlay with `dtc -@`".to_owned(),
            OverlayError::NoSuchTarget { .. } => {
                "target an existing node (`/`, `/chosen`, ...) and create new nodes inside its `__overlay__`; \
                 `dtc -I dtb -O dts out/NAME/dtb/PARTITION.dtb` shows the generated tree"
                    .to_owned()
            }
            OverlayError::Protected { .. } => {
                "these nodes are the guest ABI (docs/guest-abi.md) and come from the config: change the partition's \
                 config instead; an overlay may add nodes and properties elsewhere (`/chosen`, `/reserved-memory`, \
                 new device nodes)"
                    .to_owned()
            }
            OverlayError::GeneratedProperty { node, property, .. } => match (node.as_str(), property.as_str()) {
                ("/chosen", "bootargs") => "set the partition's `bootargs` in the config instead".to_owned(),
                ("/chosen", "stdout-path") => "the partition's `console` key decides its console".to_owned(),
                ("/chosen", "linux,initrd-start" | "linux,initrd-end") => {
                    "the partition's `ramdisk` key decides its initrd".to_owned()
                }
                _ => "an overlay may add properties and nodes, not change those the generator writes \
                      (docs/guest-abi.md); use a property name of your own"
                    .to_owned(),
            },
            OverlayError::MemoryNode { .. } => {
                "give the partition more RAM with `memory.size`; to keep part of it from the guest's allocator, \
                 describe it under `/reserved-memory`"
                    .to_owned()
            }
            OverlayError::PhandleOverflow => "use fewer phandles in the overlay".to_owned(),
            OverlayError::Write { .. } => {
                "node names start with a letter and hold letters, digits and `,._+-` (plus one `@unit`); property \
                 names hold letters, digits and `,._+?#-`"
                    .to_owned()
            }
        }
    }
}

fn quoted(items: &[String]) -> String {
    let items: Vec<String> = items.iter().map(|s| format!("`{s}`")).collect();
    items.join(", ")
}

/// `/chosen` + `x` → `/chosen/x`; `/` + `x` → `/x`.
fn join(path: &str, name: &str) -> String {
    if path == "/" {
        format!("/{name}")
    } else {
        format!("{path}/{name}")
    }
}

impl Overlay {
    /// Reads and checks a compiled overlay (`.dtbo`).
    pub fn parse(dtbo: &[u8]) -> Result<Overlay, OverlayError> {
        let mut root = read_tree(dtbo).map_err(OverlayError::NotDtb)?;
        if let Some(p) = root.properties.first() {
            return Err(OverlayError::NotOverlay(format!(
                "the root has a property (`{}`); an overlay's root holds only fragments",
                p.name
            )));
        }
        // Fragments first: a `target = <&label>` explains a `__fixups__` entry better than the entry itself.
        let mut fragments = Vec::new();
        for node in &root.children {
            if matches!(node.name.as_str(), "__symbols__" | "__fixups__" | "__local_fixups__") {
                continue;
            }
            if node.child("__overlay__").is_none() && !node.name.starts_with("fragment") {
                return Err(OverlayError::NotOverlay(format!(
                    "the root has the node `{}`, which is not a fragment (a node with `target-path` and \
                     `__overlay__`)",
                    node.name
                )));
            }
            if node.property("target").is_some() {
                // `__fixups__` maps each label to the places that use it: `gic = "/fragment@0:target:0"`.
                let place = format!("/{}:target:", node.name);
                let label = root.child("__fixups__").and_then(|f| {
                    f.properties
                        .iter()
                        .find(|p| p.value.split(|b| *b == 0).any(|v| v.starts_with(place.as_bytes())))
                        .map(|p| p.name.clone())
                });
                return Err(OverlayError::TargetPhandle { fragment: node.name.clone(), label });
            }
            let Some(target) = node.property("target-path") else {
                return Err(OverlayError::NoTarget { fragment: node.name.clone() });
            };
            let path = string_value(&target.value).filter(|p| p.starts_with('/')).ok_or_else(|| {
                OverlayError::BadTargetPath {
                    fragment: node.name.clone(),
                    path: String::from_utf8_lossy(&target.value).trim_end_matches('\0').to_owned(),
                }
            })?;
            if node.child("__overlay__").is_none() {
                return Err(OverlayError::NoOverlayNode { fragment: node.name.clone() });
            }
            fragments.push((node.name.clone(), path.to_owned()));
        }
        if fragments.is_empty() {
            return Err(OverlayError::NotOverlay("it has no fragments".to_owned()));
        }
        if let Some(fixups) = root.child("__fixups__") {
            let labels: Vec<String> = fixups.properties.iter().map(|p| p.name.clone()).collect();
            if !labels.is_empty() {
                return Err(OverlayError::UnresolvedLabels(labels));
            }
        }
        if let Some(local) = root.children.iter().position(|c| c.name == "__local_fixups__") {
            let local = root.children.remove(local);
            annotate_local_fixups(&mut root, &local, &mut Vec::new())?;
        }
        let fragments = fragments
            .into_iter()
            .map(|(name, target_path)| {
                let node = root.children.iter().find(|c| c.name == name).expect("listed above");
                let content = node.child("__overlay__").expect("checked above").clone();
                Fragment { name, target_path, content }
            })
            .collect();
        Ok(Overlay { fragments })
    }

    /// The target path of each fragment, in order.
    pub fn targets(&self) -> impl Iterator<Item = &str> {
        self.fragments.iter().map(|f| f.target_path.as_str())
    }
}

/// Merges `overlay` into `base` (a tree [`crate::partition_dtb`] wrote) and returns the merged tree.
pub fn apply(base: &[u8], overlay: &Overlay) -> Result<Vec<u8>, OverlayError> {
    let mut root = read_tree(base).map_err(|why| OverlayError::NotDtb(format!("the generated tree: {why}")))?;
    mark_generated(&mut root);
    let delta = max_phandle(&root);
    for fragment in &overlay.fragments {
        let mut content = fragment.content.clone();
        renumber(&mut content, delta)?;
        let path = resolve(&root, &fragment.target_path).ok_or_else(|| OverlayError::NoSuchTarget {
            fragment: fragment.name.clone(),
            path: fragment.target_path.clone(),
        })?;
        // `path` holds the real names of the nodes on the way (`/memory` resolves to `/memory@40000000`).
        if let Some(first) = path.first() {
            check_protected(&fragment.name, first, &path)?;
        }
        let mut target = &mut root;
        for name in &path {
            target = target.child_mut(name).expect("resolved above");
        }
        let node_path = if path.is_empty() { "/".to_owned() } else { format!("/{}", path.join("/")) };
        merge(&fragment.name, target, &node_path, content)?;
    }
    write_tree(&root)
}

/// Nodes of a path, by their names in `root`: a component without `@` matches a node's name before its `@`.
fn resolve(root: &Node, path: &str) -> Option<Vec<String>> {
    let mut node = root;
    let mut names = Vec::new();
    for component in path.split('/').filter(|c| !c.is_empty()) {
        node = node.child(component).or_else(|| {
            (!component.contains('@'))
                .then(|| node.children.iter().find(|c| c.name.split('@').next() == Some(component)))
                .flatten()
        })?;
        names.push(node.name.clone());
    }
    Some(names)
}

fn protected(root_child: &str) -> Option<&'static str> {
    let base = root_child.split('@').next().unwrap_or(root_child);
    PROTECTED.iter().find(|(name, _)| *name == base).map(|(_, what)| *what)
}

/// Refuses a change under a root-level node hv-static owns.
fn check_protected(fragment: &str, root_child: &str, path: &[String]) -> Result<(), OverlayError> {
    match protected(root_child) {
        Some(what) => {
            Err(OverlayError::Protected { fragment: fragment.to_owned(), node: format!("/{}", path.join("/")), what })
        }
        None => Ok(()),
    }
}

fn is_memory_node(node: &Node, at_root: bool) -> bool {
    let named = at_root && node.name.split('@').next() == Some("memory");
    named || node.property("device_type").is_some_and(|p| string_value(&p.value) == Some("memory"))
}

/// Merges `content` (an `__overlay__` node) into `target`, found at `path`.
fn merge(fragment: &str, target: &mut Node, path: &str, content: Node) -> Result<(), OverlayError> {
    let at_root = path == "/";
    for prop in content.properties {
        if prop.name == "device_type" && string_value(&prop.value) == Some("memory") {
            return Err(OverlayError::MemoryNode { fragment: fragment.to_owned(), node: path.to_owned() });
        }
        match target.properties.iter_mut().find(|p| p.name == prop.name) {
            Some(existing) if existing.generated => {
                return Err(OverlayError::GeneratedProperty {
                    fragment: fragment.to_owned(),
                    node: path.to_owned(),
                    property: prop.name,
                });
            }
            Some(existing) => *existing = prop,
            None => target.properties.push(prop),
        }
    }
    for child in content.children {
        let child_path = join(path, &child.name);
        if at_root {
            if let Some(what) = protected(&child.name).filter(|_| target.child(&child.name).is_some()) {
                return Err(OverlayError::Protected { fragment: fragment.to_owned(), node: child_path, what });
            }
        }
        match target.child_mut(&child.name) {
            Some(existing) => merge(fragment, existing, &child_path, child)?,
            None => {
                if let Some(node) = find_memory_node(&child, &child_path, at_root) {
                    return Err(OverlayError::MemoryNode { fragment: fragment.to_owned(), node });
                }
                target.children.push(child);
            }
        }
    }
    Ok(())
}

/// The path of a memory node in a new subtree, if it has one.
fn find_memory_node(node: &Node, path: &str, at_root: bool) -> Option<String> {
    if is_memory_node(node, at_root) {
        return Some(path.to_owned());
    }
    node.children.iter().find_map(|c| find_memory_node(c, &join(path, &c.name), false))
}

fn mark_generated(node: &mut Node) {
    for p in &mut node.properties {
        p.generated = true;
    }
    for c in &mut node.children {
        mark_generated(c);
    }
}

fn is_phandle(p: &Property) -> bool {
    (p.name == "phandle" || p.name == "linux,phandle") && p.value.len() == 4
}

fn be32(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

fn max_phandle(node: &Node) -> u32 {
    let own = node.properties.iter().filter(|p| is_phandle(p)).filter_map(|p| be32(&p.value, 0)).max().unwrap_or(0);
    node.children.iter().map(max_phandle).fold(own, u32::max)
}

/// Adds `delta` to the overlay's own phandles and to the references to them.
fn renumber(node: &mut Node, delta: u32) -> Result<(), OverlayError> {
    let shift = |v: u32| v.checked_add(delta).filter(|v| *v != u32::MAX).ok_or(OverlayError::PhandleOverflow);
    for p in &mut node.properties {
        let mut offsets = p.phandle_refs.clone();
        if is_phandle(p) {
            offsets.push(0);
        }
        for at in offsets {
            // Offsets were checked against the value when the overlay was parsed.
            let v = shift(be32(&p.value, at).unwrap_or(0))?;
            p.value[at..at + 4].copy_from_slice(&v.to_be_bytes());
        }
    }
    node.children.iter_mut().try_for_each(|c| renumber(c, delta))
}

/// Records, on the properties of `root`, the offsets that `__local_fixups__` (`fixups`, found at `path` inside it)
/// lists as references to the overlay's own phandles.
fn annotate_local_fixups(root: &mut Node, fixups: &Node, path: &mut Vec<String>) -> Result<(), OverlayError> {
    let shown = || format!("/{}", path.join("/"));
    for fp in &fixups.properties {
        let mut node = &mut *root;
        for name in path.iter() {
            node = node.child_mut(name).ok_or_else(|| {
                OverlayError::BadLocalFixup(format!("it names `{}`, which the overlay lacks", shown()))
            })?;
        }
        let prop = node.properties.iter_mut().find(|p| p.name == fp.name).ok_or_else(|| {
            OverlayError::BadLocalFixup(format!(
                "it names property `{}` of `{}`, which the overlay lacks",
                fp.name,
                shown()
            ))
        })?;
        if !fp.value.len().is_multiple_of(4) {
            return Err(OverlayError::BadLocalFixup(format!(
                "`{}` of `{}` is not a list of offsets",
                fp.name,
                shown()
            )));
        }
        for cell in fp.value.chunks_exact(4) {
            let at = u32::from_be_bytes([cell[0], cell[1], cell[2], cell[3]]) as usize;
            if at.checked_add(4).is_none_or(|end| end > prop.value.len()) {
                return Err(OverlayError::BadLocalFixup(format!(
                    "offset {at} is outside property `{}` of `{}`",
                    fp.name,
                    shown()
                )));
            }
            prop.phandle_refs.push(at);
        }
    }
    for child in &fixups.children {
        path.push(child.name.clone());
        annotate_local_fixups(root, child, path)?;
        path.pop();
    }
    Ok(())
}

/// A property holding one string.
fn string_value(value: &[u8]) -> Option<&str> {
    let s = value.strip_suffix(&[0])?;
    if s.contains(&0) {
        return None;
    }
    core::str::from_utf8(s).ok()
}

// ---- reading and writing ----

const FDT_MAGIC: u32 = 0xd00d_feed;
const FDT_BEGIN_NODE: u32 = 1;
const FDT_END_NODE: u32 = 2;
const FDT_PROP: u32 = 3;
const FDT_NOP: u32 = 4;
const FDT_END: u32 = 9;
const HEADER_LEN: usize = 40;

/// Reads a whole tree. The `fdt` crate panics on malformed blobs, so the structure is checked first.
fn read_tree(blob: &[u8]) -> Result<Node, String> {
    check_blob(blob)?;
    let fdt = Fdt::new(blob).map_err(|e| format!("{e}"))?;
    let root = fdt.find_node("/").ok_or("it has no root node")?;
    Ok(read_node(root))
}

fn read_node(node: FdtNode<'_, '_>) -> Node {
    Node {
        name: node.name.to_owned(),
        properties: node
            .properties()
            .map(|p| Property {
                name: p.name.to_owned(),
                value: p.value.to_vec(),
                phandle_refs: Vec::new(),
                generated: false,
            })
            .collect(),
        children: node.children().map(read_node).collect(),
    }
}

/// A NUL-terminated ASCII name at `at` in `bytes` whose characters satisfy `ok`.
fn name_at(bytes: &[u8], at: usize, ok: impl Fn(u8) -> bool) -> Result<&str, String> {
    let rest = bytes.get(at..).ok_or("a name lies outside its block")?;
    let len = rest.iter().position(|b| *b == 0).ok_or("a name is not NUL-terminated")?;
    let name = &rest[..len];
    if let Some(bad) = name.iter().find(|b| !ok(**b)) {
        return Err(format!("a name contains the byte {bad:#04x}"));
    }
    // ASCII by the check above.
    core::str::from_utf8(name).map_err(|_| "a name is not ASCII".to_owned())
}

fn node_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b",._+-@".contains(&b)
}

fn prop_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b",._+?#-".contains(&b)
}

const fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// Checks a blob's header and walks its structure block: everything the `fdt` crate reads lies inside the blob,
/// names are ASCII, nodes nest properly, properties come before subnodes.
fn check_blob(blob: &[u8]) -> Result<(), String> {
    if be32(blob, 0) != Some(FDT_MAGIC) {
        return Err("no device-tree magic (d0 0d fe ed) at its start".to_owned());
    }
    if blob.len() < HEADER_LEN {
        return Err(format!("{} bytes is too short for a device-tree header", blob.len()));
    }
    let h = |i: usize| be32(blob, i * 4).unwrap_or(0) as usize;
    let (total, off_struct, off_strings, version) = (h(1), h(2), h(3), h(5));
    let (size_strings, size_struct) = (h(8), h(9));
    if total > blob.len() {
        return Err(format!("truncated: its header says {total} bytes, it has {}", blob.len()));
    }
    if version < 17 {
        return Err(format!("device-tree version {version}; version 17 is needed"));
    }
    let within = |off: usize, size: usize| off.checked_add(size).is_some_and(|end| end <= total);
    if !off_struct.is_multiple_of(4) || !within(off_struct, size_struct) || !within(off_strings, size_strings) {
        return Err("its structure or strings block lies outside it".to_owned());
    }
    let st = &blob[off_struct..off_struct + size_struct];
    let strings = &blob[off_strings..off_strings + size_strings];
    let mut pos = 0;
    // One entry per open node: whether a subnode has been seen in it.
    let mut open: Vec<bool> = Vec::new();
    let mut roots = 0;
    loop {
        let token = be32(st, pos).ok_or("its structure block ends before FDT_END")?;
        match token {
            FDT_BEGIN_NODE => {
                let name = name_at(st, pos + 4, node_char)?;
                match open.last_mut() {
                    None => {
                        roots += 1;
                        if roots > 1 || !name.is_empty() {
                            return Err("it does not have exactly one root node".to_owned());
                        }
                    }
                    Some(has_children) => {
                        *has_children = true;
                        if name.is_empty() {
                            return Err("a node has an empty name".to_owned());
                        }
                    }
                }
                if open.len() == MAX_DEPTH {
                    return Err(format!("nodes nest deeper than {MAX_DEPTH} levels"));
                }
                open.push(false);
                pos = align4(pos + 4 + name.len() + 1);
            }
            FDT_PROP => {
                match open.last() {
                    None => return Err("a property lies outside every node".to_owned()),
                    Some(true) => return Err("a property follows a subnode".to_owned()),
                    Some(false) => {}
                }
                let len = be32(st, pos + 4).ok_or("a property is truncated")? as usize;
                let nameoff = be32(st, pos + 8).ok_or("a property is truncated")? as usize;
                let name = name_at(strings, nameoff, prop_char)?;
                if name.is_empty() {
                    return Err("a property has an empty name".to_owned());
                }
                let end = (pos + 12)
                    .checked_add(len)
                    .filter(|e| *e <= st.len())
                    .ok_or("a property value runs past its block")?;
                pos = align4(end);
            }
            FDT_END_NODE => {
                open.pop().ok_or("a node ends that was never begun")?;
                pos += 4;
            }
            FDT_NOP => return Err("it contains FDT_NOP tokens, which are not supported".to_owned()),
            FDT_END if open.is_empty() && roots == 1 => return Ok(()),
            FDT_END => return Err("it ends inside a node".to_owned()),
            other => return Err(format!("unknown structure token {other:#x}")),
        }
    }
}

fn write_tree(root: &Node) -> Result<Vec<u8>, OverlayError> {
    let mut fdt = FdtWriter::new().map_err(|error| OverlayError::Write { node: "/".to_owned(), error })?;
    write_node(&mut fdt, root, "/")?;
    fdt.finish().map_err(|error| OverlayError::Write { node: "/".to_owned(), error })
}

fn write_node(fdt: &mut FdtWriter, node: &Node, path: &str) -> Result<(), OverlayError> {
    let err = |error| OverlayError::Write { node: path.to_owned(), error };
    let handle = fdt.begin_node(&node.name).map_err(err)?;
    for p in &node.properties {
        match be32(&p.value, 0).filter(|_| p.name == "phandle" && p.value.len() == 4) {
            // Checks that no two nodes share a phandle.
            Some(v) => fdt.property_phandle(v).map_err(err)?,
            None => fdt.property(&p.name, &p.value).map_err(err)?,
        }
    }
    for c in &node.children {
        write_node(fdt, c, &join(path, &c.name))?;
    }
    fdt.end_node(handle).map_err(err)
}

#[cfg(test)]
mod tests;
