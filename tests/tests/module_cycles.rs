//! Modules import each other one way only (issue 16), read from the sources: every `crate::a`, `super::a` and
//! `use super::{a, b}` outside comments and test code is an edge between two modules of one directory.
//!
//! - The image builder: no cycle among the top-level modules of `src/`, among those of `src/config/` (one file per
//!   concern) or among the steps of `src/pipeline/`.
//! - hv-static: its layers (`config`, `arch/`, `hw/`, `core/`, `vdev/`, then the entry files) import only
//!   downwards, and no cycle runs among the modules of one layer or of one module's folder. When this
//!   test was first written (issue 16) hv-static had two groups of modules importing each other in a circle: {arch,
//!   console, gic, hostdev, partition, percpu, trace, vcpu, vgic, virtio, vuart} (lower layers calling up, hostdev
//!   <-> virtio) and {boot, irq, run}. The device registry and the upcalls the top hands down (`devices.rs`), the
//!   list-register encoding moved to the physical GIC, and the board-stop flag's own module removed both.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Graph = BTreeMap<String, BTreeSet<String>>;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a file without its comments and without its test module (which may use anything).
fn code(text: &str) -> String {
    let text = text.split("#[cfg(test)]\nmod tests").next().unwrap_or("");
    text.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n")
}

/// Module names referred to through `prefix::name` or `prefix::{a, b::c}`.
fn referred(code: &str, prefix: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let pat = format!("{prefix}::");
    for (at, _) in code.match_indices(&pat) {
        if at > 0 && code[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        let rest = &code[at + pat.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            for item in group.split(',') {
                let name: String = item.trim().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                out.insert(name);
            }
        } else {
            out.insert(rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect());
        }
    }
    out.retain(|n| !n.is_empty() && n.starts_with(|c: char| c.is_ascii_lowercase()));
    out
}

/// The edges between the modules directly under `dir` (a file `x.rs` or a directory `x/` is module `x`), through
/// `crate::` when `dir` is the crate root or `super::` when it is a module's directory.
fn graph(src: &Path, dir: &Path) -> Graph {
    let mut files = Vec::new();
    rust_files(dir, &mut files);
    let mut g = Graph::new();
    for f in files {
        let rel = f.strip_prefix(dir).unwrap();
        let first = rel.components().next().unwrap().as_os_str().to_string_lossy().trim_end_matches(".rs").to_string();
        if ["lib", "main", "mod", "tests"].contains(&first.as_str()) || rel.ends_with("tests.rs") {
            continue;
        }
        let text = code(&std::fs::read_to_string(&f).unwrap());
        let targets = if dir == src {
            referred(&text, "crate")
        } else {
            // One level down, `super::` from `dir/x.rs` names a sibling; deeper files' `super::` stay inside `x`.
            let mut t = BTreeSet::new();
            if rel.components().count() == 1 {
                t.extend(referred(&text, "super"));
            }
            let inside = dir.strip_prefix(src).unwrap().to_string_lossy().replace('/', "::");
            t.extend(
                referred(&text, &format!("crate::{inside}"))
                    .into_iter()
                    .filter(|n| dir.join(format!("{n}.rs")).exists() || dir.join(n).is_dir()),
            );
            t
        };
        let edges = g.entry(first.clone()).or_default();
        edges.extend(
            targets
                .into_iter()
                .filter(|t| *t != first && (dir.join(format!("{t}.rs")).exists() || dir.join(t).is_dir())),
        );
    }
    g
}

/// A cycle of `g`, if it has one.
fn cycle(g: &Graph) -> Option<Vec<String>> {
    fn visit(g: &Graph, n: &str, path: &mut Vec<String>, done: &mut BTreeSet<String>) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == n) {
            let mut c = path[i..].to_vec();
            c.push(n.to_string());
            return Some(c);
        }
        if done.contains(n) {
            return None;
        }
        path.push(n.to_string());
        for m in g.get(n).into_iter().flatten() {
            if let Some(c) = visit(g, m, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(n.to_string());
        None
    }
    let mut done = BTreeSet::new();
    g.keys().find_map(|n| visit(g, n, &mut Vec::new(), &mut done))
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// hv-static's layers, lowest first (see its `main.rs`): a module may import only from its own layer's lower
/// neighbours and the layers before it. Every top-level file not in a layer's folder is the entry layer.
const LAYERS: &[&str] = &["config", "arch", "hw", "core", "vdev"];

fn layer(module: &str) -> usize {
    LAYERS.iter().position(|l| *l == module).unwrap_or(LAYERS.len())
}

#[test]
fn hv_statics_layers_only_point_down() {
    let src = workspace().join("hv-static/src");
    let g = graph(&src, &src);
    for l in LAYERS {
        assert!(src.join(l).is_dir(), "hv-static/src/{l}/ is a layer");
    }
    assert!(g.contains_key("trap") && g.contains_key("core"), "read too few modules: {g:?}");
    for (from, targets) in &g {
        for to in targets {
            let entry = LAYERS.len();
            assert!(
                layer(to) < layer(from) || layer(to) == entry && layer(from) == entry,
                "hv-static's {from} ({}) imports {to} ({}), a layer above it or beside it",
                LAYERS.get(layer(from)).unwrap_or(&"entry"),
                LAYERS.get(layer(to)).unwrap_or(&"entry")
            );
        }
    }
}

#[test]
fn hv_statics_modules_import_one_way() {
    let src = workspace().join("hv-static/src");
    let mut dirs = vec![src.clone()];
    // Inside each layer, and inside each module's own folder one level down.
    for l in LAYERS.iter().map(|l| src.join(l)).filter(|d| d.is_dir()) {
        dirs.extend(std::fs::read_dir(&l).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()));
        dirs.push(l);
    }
    for dir in dirs {
        let g = graph(&src, &dir);
        if let Some(c) = cycle(&g) {
            panic!("modules of {} import each other in a circle: {}", dir.display(), c.join(" -> "));
        }
    }
}

#[test]
fn the_builders_modules_import_one_way() {
    let src = workspace().join("tools/image-builder/src");
    for dir in [src.clone(), src.join("config"), src.join("pipeline")] {
        let g = graph(&src, &dir);
        assert!(g.len() > 3, "{}: read too few modules: {g:?}", dir.display());
        if let Some(c) = cycle(&g) {
            panic!("modules of {} import each other in a circle: {}", dir.display(), c.join(" -> "));
        }
    }
}

#[test]
fn the_reader_finds_edges_and_cycles() {
    let text =
        code("use crate::{layout, qemu::run};\n// crate::report\nfn f() { crate::units::hex(1); super::pv::x() }\n");
    assert_eq!(referred(&text, "crate"), ["layout", "qemu", "units"].map(String::from).into());
    assert_eq!(referred(&text, "super"), ["pv"].map(String::from).into());
    let mut g = Graph::new();
    g.entry("a".into()).or_default().insert("b".into());
    g.entry("b".into()).or_default().insert("c".into());
    assert_eq!(cycle(&g), None);
    g.entry("c".into()).or_default().insert("a".into());
    assert_eq!(cycle(&g), Some(["a", "b", "c", "a"].map(String::from).to_vec()));
}
