//! Reading and checking a system config (`configs/*.toml`).
//!
//! Two stages, as in Hubris' xtask: `raw` deserialises the TOML as written (unknown keys are refused, every value
//! keeps its span), then `validate` checks it rule by rule, one file per concern (`board`, `pools`, `memory`,
//! `images`, `devices`, `fault`, `manages`, `pv`, `channels`, `schedule`), and produces the [`System`] later steps use. Every
//! problem becomes a [`Diag`] naming the file position, the field, what is wrong and how to fix it; checking
//! never panics and reports as many independent problems as it can find in one pass.

mod board;
mod channels;
mod common;
mod devices;
mod fault;
mod images;
mod manages;
mod memory;
mod model;
mod pools;
mod pv;
mod raw;
mod schedule;
mod validate;

use std::path::Path;

pub(crate) use common::fetch_hint;
pub use common::IPA_LIMIT;
pub(crate) use devices::device_windows;
pub(crate) use images::{kernel_diag, overlay_diag};
pub use memory::MIN_PARTITION_RAM;
pub use model::*;
pub use pv::derived_mac;

use crate::diag::{self, closest, list, Diag, Report, Span};
use crate::guests::GuestCatalog;

/// What checking needs besides the file itself.
#[derive(Clone, Debug)]
pub struct Context<'a> {
    /// Guests that configs can name.
    pub guests: &'a GuestCatalog,
    /// Directory kernel paths are relative to (the config file's directory).
    pub base_dir: &'a Path,
}

/// The text of a config file read as bytes, or a report on the first byte that is not UTF-8 (TOML files are UTF-8
/// text). The report shows the file as decoded with replacement characters, which leaves every byte offset up to
/// the bad byte unchanged, so the line and column are the byte's.
pub fn decode_source(file_name: &str, bytes: Vec<u8>) -> Result<String, Report> {
    let e = match String::from_utf8(bytes) {
        Ok(text) => return Ok(text),
        Err(e) => e,
    };
    let at = e.utf8_error().valid_up_to();
    let bad_len = e.utf8_error().error_len();
    let bytes = e.into_bytes();
    let shown: Vec<String> =
        bytes[at..].iter().take(bad_len.unwrap_or(bytes.len() - at).max(1)).map(|b| format!("0x{b:02X}")).collect();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let span = at..(at + '\u{fffd}'.len_utf8()).min(text.len());
    let message = match (bad_len, shown.len()) {
        (None, _) => format!(
            "the file is not UTF-8 text: it ends in the middle of a character (byte{} {})",
            if shown.len() == 1 { "" } else { "s" },
            shown.join(" ")
        ),
        (Some(_), 1) => format!("the file is not UTF-8 text: byte {} is not valid UTF-8", shown[0]),
        (Some(_), _) => format!("the file is not UTF-8 text: bytes {} are not valid UTF-8", shown.join(" ")),
    };
    let doc = Doc::parse(&text);
    let field = match doc.at(at) {
        Some(node) => path_string(&doc.path(node)),
        None => "(file)".to_owned(),
    };
    let mut report = Report::new(file_name, text);
    report.push(Diag::error(field, span, message).label("not UTF-8").hint(
        "TOML files are UTF-8 text: save the file as UTF-8 (Latin-1 text converts with `iconv -f latin1 -t utf-8`), \
             or remove the byte",
    ));
    Err(report)
}

/// Checks a config's text. `file_name` is how diagnostics show the file; `system_name` names the system (the
/// file's stem). Returns the system and any warnings, or a report with at least one error.
pub fn check_source(
    file_name: &str,
    source: &str,
    system_name: &str,
    ctx: &Context<'_>,
) -> Result<(System, Report), Report> {
    let mut report = Report::new(file_name, source);
    let raw: raw::RawConfig = match toml::from_str(source) {
        Ok(raw) => raw,
        Err(e) => {
            for d in toml_errors(source, &e) {
                report.push(d);
            }
            report.diags.sort_by_key(|d| d.span.start);
            return Err(report);
        }
    };
    let system = validate::validate(&raw, system_name, ctx, &mut report);
    // Errors first, each kind in file order.
    report.diags.sort_by_key(|d| (!d.is_error(), d.span.start));
    match system {
        Some(system) if !report.has_errors() => Ok((system, report)),
        _ => Err(report),
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Where a TOML error is: the document's structure, with spans.
//
// `toml` reports a schema error with the byte span of the key or value it is about, but not with the path to it.
// The document is parsed again into a tree that keeps every key's and value's span (`toml::de::DeTable`), and the
// node at the error's span gives the path: `pool[0].windows[1].strat`, arrays of tables counted per name. Tables
// written as `[header]`s span only their header; inline tables span their braces; tables made by dotted keys
// (`memory.size = ...`) span the key that made them.

/// One step of a field path.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Seg {
    Key(String),
    Index(usize),
}

/// How a table was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TableForm {
    /// `[name]` or `[[name]]`.
    Header,
    /// `{ ... }`.
    Inline,
    /// Made by a dotted key (`memory.size = 1` makes `memory`) or as the parent in a header (`[a.b]` makes `a`).
    Dotted,
}

/// What kind of value a node holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    Text,
    Integer,
    Float,
    Bool,
    Datetime,
    List,
    Table(TableForm),
}

impl Shape {
    /// The value's kind in plain words.
    fn describe(self) -> &'static str {
        match self {
            Shape::Text => "text in quotes",
            Shape::Integer => "a whole number",
            Shape::Float => "a number with a fraction",
            Shape::Bool => "true or false",
            Shape::Datetime => "a date or time",
            Shape::List => "a list `[...]`",
            Shape::Table(TableForm::Header) => "a `[table]`",
            Shape::Table(TableForm::Inline) => "a table `{ ... }`",
            Shape::Table(TableForm::Dotted) => "a table (made by a dotted key)",
        }
    }
}

/// A key's value or an array's element.
#[derive(Clone, Debug)]
struct Node {
    /// The table or array it is in (`None`: the top level), its key or index there, and its depth (1 at the top).
    parent: Option<usize>,
    seg: Seg,
    depth: usize,
    /// The key as written, for table entries; `None` for array elements.
    key: Option<Span>,
    /// The value (for a `[header]` table: the header).
    span: Span,
    shape: Shape,
}

/// Every key and value of a document, with paths and spans.
struct Doc {
    nodes: Vec<Node>,
    /// Whether the text is not valid TOML (the tree then holds what could be parsed).
    syntax_error: bool,
}

/// Nesting beyond this is not followed (`toml` itself limits it far below).
const MAX_DEPTH: usize = 256;

fn contains(span: &Span, offset: usize) -> bool {
    span.start <= offset && (offset < span.end || (span.is_empty() && offset == span.start))
}

impl Doc {
    /// The document's structure; parts it cannot parse are left out.
    fn parse(source: &str) -> Doc {
        let (root, errors) = toml::de::DeTable::parse_recoverable(source);
        let mut doc = Doc { nodes: Vec::new(), syntax_error: !errors.is_empty() };
        doc.table(source, root.get_ref(), None, 0);
        doc
    }

    fn table(&mut self, source: &str, t: &toml::de::DeTable<'_>, parent: Option<usize>, depth: usize) {
        for (k, v) in t.iter() {
            self.value(source, parent, Seg::Key(k.get_ref().to_string()), Some(k.span()), v, depth + 1);
        }
    }

    fn value(
        &mut self,
        source: &str,
        parent: Option<usize>,
        seg: Seg,
        key: Option<Span>,
        v: &toml::Spanned<toml::de::DeValue<'_>>,
        depth: usize,
    ) {
        use toml::de::DeValue;
        let span = v.span();
        let shape = match v.get_ref() {
            DeValue::String(_) => Shape::Text,
            DeValue::Integer(_) => Shape::Integer,
            DeValue::Float(_) => Shape::Float,
            DeValue::Boolean(_) => Shape::Bool,
            DeValue::Datetime(_) => Shape::Datetime,
            DeValue::Array(_) => Shape::List,
            DeValue::Table(_) => Shape::Table(match source.as_bytes().get(span.start) {
                Some(b'[') => TableForm::Header,
                Some(b'{') => TableForm::Inline,
                _ => TableForm::Dotted,
            }),
        };
        let me = self.nodes.len();
        self.nodes.push(Node { parent, seg, depth, key, span, shape });
        if depth >= MAX_DEPTH {
            return;
        }
        match v.get_ref() {
            DeValue::Table(t) => self.table(source, t, Some(me), depth),
            DeValue::Array(a) => {
                for (i, item) in a.iter().enumerate() {
                    self.value(source, Some(me), Seg::Index(i), None, item, depth + 1);
                }
            }
            _ => {}
        }
    }

    /// The path from the top level to a node.
    fn path(&self, node: &Node) -> Vec<Seg> {
        let mut path = vec![node.seg.clone()];
        let mut up = node.parent;
        while let Some(i) = up {
            let Some(n) = self.nodes.get(i) else { break };
            path.push(n.seg.clone());
            up = n.parent;
        }
        path.reverse();
        path
    }

    /// The path of the table or array a node is in.
    fn parent_path(&self, node: &Node) -> Vec<Seg> {
        match node.parent.and_then(|i| self.nodes.get(i)) {
            Some(p) => self.path(p),
            None => Vec::new(),
        }
    }

    /// The deepest node that `pick` accepts (of equal depth, the one with the narrowest span).
    fn deepest(&self, pick: impl Fn(&Node) -> bool) -> Option<&Node> {
        self.nodes.iter().filter(|n| pick(n)).min_by_key(|n| (usize::MAX - n.depth, n.span.len()))
    }

    /// The node whose key `name` is written at `offset`.
    fn key_at(&self, offset: usize, name: &str) -> Option<&Node> {
        self.deepest(|n| {
            n.key.as_ref().is_some_and(|k| contains(k, offset)) && matches!(&n.seg, Seg::Key(k) if k == name)
        })
    }

    /// The table a schema error about its keys points at (its header, its braces or the dotted key that made it),
    /// or the top level.
    fn table_at(&self, span: &Span) -> Vec<Seg> {
        if span.is_empty() {
            return Vec::new();
        }
        match self.deepest(|n| matches!(n.shape, Shape::Table(_)) && n.span == *span) {
            Some(n) => self.path(n),
            None => self.at(span.start).map(|n| self.path(n)).unwrap_or_else(|| self.header_before(span.start)),
        }
    }

    /// The value a type error points at.
    fn value_at(&self, span: &Span) -> Option<&Node> {
        self.deepest(|n| n.span == *span).or_else(|| self.at(span.start))
    }

    /// The deepest key or value written at `offset`.
    fn at(&self, offset: usize) -> Option<&Node> {
        self.deepest(|n| contains(&n.span, offset) || n.key.as_ref().is_some_and(|k| contains(k, offset)))
    }

    /// The `[header]` table that the text at `offset` belongs to (the last header before it), or the top level.
    fn header_before(&self, offset: usize) -> Vec<Seg> {
        self.nodes
            .iter()
            .filter(|n| n.shape == Shape::Table(TableForm::Header) && n.span.start <= offset)
            .max_by_key(|n| n.span.start)
            .map(|n| self.path(n))
            .unwrap_or_default()
    }
}

/// A key as a path shows it: bare when TOML allows, else quoted; very long keys are cut.
fn show_key(key: &str) -> String {
    let short: String = key.chars().take(48).collect();
    let short = if short.len() < key.len() { format!("{short}...") } else { short };
    if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        short
    } else {
        format!("\"{}\"", short.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

/// `pool[0].windows[1].strat`.
fn path_string(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(&show_key(k));
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// The index-free path `raw::KEYS` and `raw::EXAMPLES` use: `pool.windows.strat`.
fn kind_path(path: &[Seg]) -> String {
    let keys: Vec<&str> = path
        .iter()
        .filter_map(|s| match s {
            Seg::Key(k) => Some(k.as_str()),
            Seg::Index(_) => None,
        })
        .collect();
    keys.join(".")
}

/// Whether a table at `path` has the shape the schema gives it: an index after each list (`pool[0]`), none
/// elsewhere (`board`, `partition[1].memory`).
fn shape_ok(path: &[Seg]) -> bool {
    let mut kind = String::new();
    let mut i = 0;
    while i < path.len() {
        let Seg::Key(k) = &path[i] else { return false };
        if !kind.is_empty() {
            kind.push('.');
        }
        kind.push_str(k);
        let indexed = matches!(path.get(i + 1), Some(Seg::Index(_)));
        if indexed != raw::LISTS.contains(&kind.as_str()) {
            return false;
        }
        i += 1 + usize::from(indexed);
    }
    true
}

/// The keys a table of kind `kind` takes.
fn keys_of(kind: &str) -> Option<&'static [&'static str]> {
    raw::KEYS.iter().find(|(t, _)| *t == kind).map(|(_, k)| *k)
}

/// The example line for a key of kind `kind`.
fn example_of(kind: &str) -> Option<&'static str> {
    raw::EXAMPLES.iter().find(|(k, _)| *k == kind).map(|(_, e)| *e)
}

/// The field a path names, `(top level)` for the document itself.
fn field_of(path: &[Seg]) -> String {
    if path.is_empty() {
        "(top level)".into()
    } else {
        path_string(path)
    }
}

/// The diagnostics for a TOML or schema error: the first is `e` itself, naming the exact table and key; when `e`
/// is an unknown key, every other unknown key of the file follows.
fn toml_errors(source: &str, e: &toml::de::Error) -> Vec<Diag> {
    let span = e.span().unwrap_or(0..0);
    let span = span.start.min(source.len())..span.end.min(source.len()).max(span.start.min(source.len()));
    let message = e.message().trim();
    let mut diags = toml_errors_at(source, span, message);
    // An error about the whole file (a missing `[board]`) points at its first character rather than at nothing.
    let first = 0..source.chars().next().map_or(0, char::len_utf8);
    for d in &mut diags {
        if d.span == (0..0) {
            d.span = first.clone();
        }
    }
    diags
}

/// [`toml_errors`] for an error at `span` (inside `source`) saying `message`.
fn toml_errors_at(source: &str, span: Span, message: &str) -> Vec<Diag> {
    let doc = Doc::parse(source);
    if let Some(unknown) = backticked(message).filter(|_| message.starts_with("unknown field")) {
        let table = match doc.key_at(span.start, &unknown) {
            Some(n) => doc.parent_path(n),
            None => doc.header_before(span.start),
        };
        let mut diags = vec![unknown_key(&table, &unknown, span.clone(), &serde_field_list(message))];
        // serde stops at the first unknown key; the others are found in the tree.
        // Keys of the schema's tables lie at most this deep (`pool[0].windows[1].start`).
        const DEEPEST_KEY: usize = 5;
        // A file of nothing but unknown keys gets this many, then one line for the rest.
        const SHOWN: usize = 50;
        let mut found: Vec<(Span, Vec<Seg>, &str)> = Vec::new();
        for n in doc.nodes.iter().filter(|n| n.depth <= DEEPEST_KEY) {
            let (Some(key), Seg::Key(name)) = (&n.key, &n.seg) else { continue };
            let parent = doc.parent_path(n);
            let known = keys_of(&kind_path(&parent));
            if *key != span && shape_ok(&parent) && known.is_some_and(|k| !k.contains(&name.as_str())) {
                found.push((key.clone(), parent, name));
            }
        }
        found.sort_by_key(|(key, _, _)| key.start);
        let shown = found.len().min(SHOWN.saturating_sub(diags.len()));
        for (key, parent, name) in &found[..shown] {
            diags.push(unknown_key(parent, name, key.clone(), &[]));
        }
        if let Some((first, parent, _)) = found.get(shown) {
            diags.push(
                Diag::error(field_of(parent), first.clone(), format!("{} more unknown keys", found.len() - shown))
                    .label("the next of them")
                    .hint(format!(
                        "only the first {SHOWN} unknown keys are shown; see docs/config.md for the keys each table takes"
                    )),
            );
        }
        return diags;
    }
    if let Some(missing) = backticked(message).filter(|_| message.starts_with("missing field")) {
        return vec![missing_key(&doc.table_at(&span), &missing, span)];
    }
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some((found, expected)) = message.strip_prefix(prefix).and_then(|m| m.rsplit_once(", expected ")) {
            return vec![type_error(source, &doc, span, found, expected)];
        }
    }
    vec![other_error(source, &doc, span, message)]
}

/// The fields `serde` lists after "expected one of" in an unknown-field message.
fn serde_field_list(message: &str) -> Vec<String> {
    let Some((_, rest)) = message.split_once(", expected ") else { return Vec::new() };
    rest.split('`').skip(1).step_by(2).map(str::to_owned).collect()
}

/// An unknown key `key` of the table at `table`, with a did-you-mean.
fn unknown_key(table: &[Seg], key: &str, span: Span, serde_keys: &[String]) -> Diag {
    let kind = kind_path(table);
    let valid: Vec<&str> = match keys_of(&kind) {
        Some(k) => k.to_vec(),
        None => serde_keys.iter().map(String::as_str).collect(),
    };
    let mut suggestion = closest(key, valid.iter().copied()).map(str::to_owned);
    if suggestion.is_none() {
        // A key of a table below this one (`size` for `memory.size`), written one level too high.
        let below = |k: &str| kind.is_empty() || k.starts_with(&format!("{kind}."));
        suggestion = raw::KEYS
            .iter()
            .filter(|(t, _)| !t.is_empty() && below(t) && !t[kind.len()..].trim_start_matches('.').contains('.'))
            .find(|(_, keys)| keys.contains(&key))
            .map(|(t, _)| format!("{}.{key}", t[kind.len()..].trim_start_matches('.')));
    }
    let mut full = table.to_vec();
    full.push(Seg::Key(key.to_owned()));
    let place = if table.is_empty() { "at the top level".to_owned() } else { format!("in `{}`", path_string(table)) };
    let what = if table.is_empty() { "top-level tables" } else { "keys allowed here" };
    let mut hint = match &suggestion {
        Some(s) => format!("did you mean `{s}`? "),
        None => String::new(),
    };
    hint.push_str(&format!("{what}: {}; see docs/config.md", list(valid.iter())));
    let label = match &suggestion {
        Some(s) => format!("did you mean `{s}`?"),
        None if table.is_empty() => "not a table of a config".to_owned(),
        None => "not a key of this table".to_owned(),
    };
    Diag::error(path_string(&full), span, format!("unknown key `{}` {place}", show_key(key).trim_matches('"')))
        .label(label)
        .hint(hint)
}

/// A required key `missing` absent from the table at `table`.
fn missing_key(table: &[Seg], missing: &str, span: Span) -> Diag {
    let kind = kind_path(table);
    let child = if kind.is_empty() { missing.to_owned() } else { format!("{kind}.{missing}") };
    let mut full = table.to_vec();
    full.push(Seg::Key(missing.to_owned()));
    if table.is_empty() {
        let example = example_of(&child).unwrap_or("");
        return Diag::error(
            path_string(&full),
            span,
            format!("missing required key `{missing}`: the file has no `{example}` table"),
        )
        .label(format!("this file needs a `{example}` table"))
        .hint(format!("add `{example}` with its keys (see docs/config.md for an annotated example)"));
    }
    let hint = match example_of(&child) {
        Some(e) => format!("add `{e}` to this table; see docs/config.md for the keys each table takes"),
        None => "see docs/config.md for the keys each table takes".to_owned(),
    };
    Diag::error(path_string(&full), span, format!("missing required key `{missing}` in `{}`", path_string(table)))
        .label(format!("this table needs `{missing}`"))
        .hint(hint)
}

/// Integer types `serde` names, with the range each holds.
const INTEGERS: &[(&str, &str)] = &[
    ("i8", "from -128 to 127"),
    ("i16", "from -32768 to 32767"),
    ("i32", "from -2^31 to 2^31-1"),
    ("i64", "from -2^63 to 2^63-1 (9223372036854775807)"),
    ("i128", "from -2^127 to 2^127-1"),
    ("isize", "from -2^63 to 2^63-1 (9223372036854775807)"),
    ("u8", "from 0 to 255"),
    ("u16", "from 0 to 65535"),
    ("u32", "from 0 to 4294967295"),
    ("u64", "from 0 to 2^64-1"),
    ("u128", "from 0 to 2^128-1"),
    ("usize", "from 0 to 2^64-1"),
];

/// What `serde` says it expected, in plain words, for a value of kind `kind`.
fn expected_words(expected: &str, kind: &str) -> String {
    let expected = expected.trim();
    if INTEGERS.iter().any(|(t, _)| *t == expected) {
        return "a whole number".into();
    }
    match expected {
        "a string" => "text in quotes".into(),
        "a boolean" => "true or false".into(),
        "f32" | "f64" | "a float" => "a number".into(),
        "a sequence" if raw::LISTS.contains(&kind) && !kind.contains('.') => format!("a list of `[[{kind}]]` tables"),
        "a sequence" => "a list `[...]`".into(),
        e if e.starts_with("struct ") || e == "a map" => match example_of(kind) {
            Some(ex) if ex.starts_with('[') => format!("a `{ex}` table"),
            _ => "a table `{ ... }`".into(),
        },
        e => plain_words(e),
    }
}

/// A value of the wrong type (`found`, `expected` as `serde` words them) at `span`.
fn type_error(source: &str, doc: &Doc, span: Span, found: &str, expected: &str) -> Diag {
    let node = doc.value_at(&span);
    let path = node.map(|n| doc.path(n)).unwrap_or_else(|| doc.header_before(span.start));
    // A list element's example is its list's.
    let list_path: &[Seg] = match path.iter().rposition(|s| matches!(s, Seg::Key(_))) {
        Some(i) => &path[..=i],
        None => &path,
    };
    let kind = kind_path(list_path);
    let field = field_of(&path);
    let integer = INTEGERS.iter().find(|(t, _)| *t == expected.trim());
    let found_words = match node.map(|n| n.shape) {
        Some(shape) => shape.describe().to_owned(),
        None => plain_words(found),
    };
    let written = source.get(span.clone()).unwrap_or("").trim();
    if let (Some((_, range)), Some(Shape::Integer)) = (integer, node.map(|n| n.shape)) {
        let (what, label) = if written.starts_with('-') { ("small", "too small") } else { ("large", "too large") };
        return Diag::error(
            field.clone(),
            span,
            format!(
                "the number {} is too {what} for `{field}`: it must be a whole number {range}",
                show_key(written).trim_matches('"')
            ),
        )
        .label(label)
        .hint(match example_of(&kind) {
            Some(e) => format!("for example `{e}`; see docs/config.md for the values it takes"),
            None => "see docs/config.md for the values it takes".into(),
        });
    }
    let expected_plain = expected_words(expected, &kind);
    let mut hint = match (example_of(&kind), node.map(|n| n.shape)) {
        (Some(e), _) if e.starts_with("[[") => {
            format!("write each one as its own `{e}` table (two brackets), followed by its keys")
        }
        (Some(e), _) if e.starts_with('[') => format!("write it as `{e}` on a line of its own, followed by its keys"),
        (Some(e), _) => format!("write it as `{e}`"),
        (None, _) => "see docs/config.md for the type each key takes".into(),
    };
    if node.is_some_and(|n| n.shape == Shape::Table(TableForm::Dotted)) {
        let key = path.last().map(|s| path_string(std::slice::from_ref(s))).unwrap_or_default();
        hint = format!("a dotted key such as `{key}.x = ...` makes `{key}` a table; {hint}");
    }
    Diag::error(field.clone(), span, format!("`{field}` must be {expected_plain}, not {found_words}"))
        .label(format!("this is {found_words}"))
        .hint(hint)
}

/// Any other error: TOML syntax, or a message of a value's own (an out-of-range size).
fn other_error(source: &str, doc: &Doc, span: Span, message: &str) -> Diag {
    let node = doc.at(span.start);
    let mut path = match node {
        Some(n) => doc.path(n),
        None => doc.header_before(span.start),
    };
    let message = plain_words(message);
    // A value's own complaint (`NumOrStr`'s range): the whole value is the span.
    if !doc.syntax_error && node.is_some_and(|n| n.span == span && !matches!(n.shape, Shape::Table(_))) {
        let field = field_of(&path);
        return Diag::error(field.clone(), span, format!("`{field}`: {message}"))
            .label("here")
            .hint("see docs/config.md for the values each key takes");
    }
    // A syntax error names the list or table it is in, not an element the parser made of what followed.
    if node.is_some_and(|n| n.shape != Shape::Table(TableForm::Header)) {
        while matches!(path.last(), Some(Seg::Index(_))) {
            path.pop();
        }
    }
    let field = field_of(&path);
    let written = source.get(span.clone()).unwrap_or("");
    if let Some(kind) =
        message.strip_prefix("cannot extend value of type ").and_then(|m| m.strip_suffix(" with a dotted key"))
    {
        let kind = match kind {
            "inline table" => "a table `{ ... }`",
            "array" => "a list",
            "string" => "text",
            _ => "a value",
        };
        let key = written.trim().trim_matches(['"', '\'']);
        let mut full = path.clone();
        if path.last() != Some(&Seg::Key(key.to_owned())) {
            full.push(Seg::Key(key.to_owned()));
        }
        return Diag::error(
            field_of(&full),
            span,
            format!("`{}` is already {kind}: a dotted key cannot add to it", show_key(key)),
        )
        .label("dotted key")
        .hint("write all keys of a table in one place: inside its `{ ... }`, or under one `[table]` header");
    }
    if message == "duplicate key" {
        let parent = doc.header_before(span.start);
        let first = doc.nodes.iter().find(|n| {
            n.key.as_ref().is_some_and(|k| k.start < span.start && source.get(k.clone()) == Some(written))
                && n.depth == parent.len() + 1
                && doc.parent_path(n) == parent
        });
        let mut d = Diag::error(field, span, format!("duplicate key `{}`", show_key(written).trim_matches('"')))
            .label("set again here")
            .hint("a key may appear once per table (and a `[table]` once per file): remove or rename one of them");
        if let Some(first) = first.and_then(|n| n.key.clone()) {
            d = d.related(first, "first set here");
        }
        return d;
    }
    if message.starts_with("string values must be quoted") {
        let key = path.iter().rev().find_map(|s| match s {
            Seg::Key(k) => Some(show_key(k)),
            Seg::Index(_) => None,
        });
        let example = match key {
            Some(k) if matches!(path.last(), Some(Seg::Key(_))) => format!("`{k} = \"{}\"`", written.trim()),
            _ => format!("`\"{}\"`", written.trim()),
        };
        return Diag::error(field, span, "text must be written in quotes")
            .label("not a number, true or false, list or table")
            .hint(format!("write it as {example}"));
    }
    let bad_char = source.get(span.start..).and_then(|t| t.chars().next()).filter(|c| diag::is_unsafe_char(*c));
    if let (Some(c), true) = (bad_char, message.contains("string") || message.contains("comment")) {
        let code = u32::from(c);
        return Diag::error(field, span, format!("control character U+{code:04X} is not allowed here"))
            .label("control character")
            .hint(format!("remove it, or in a \"...\" string write it as the escape `\\u{code:04X}`"));
    }
    Diag::error(field, span, message)
        .label("here")
        .hint("this is a TOML syntax error; see docs/config.md for an annotated example")
}

/// `serde`'s words for Rust types, in plain language: `i64` → a whole number, `a sequence` → a list, `a map` /
/// `struct X` → a table, `floating point` → a number with a fraction; ` as i128` dropped.
fn plain_words(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut words = message.split_inclusive(' ').peekable();
    while let Some(word) = words.next() {
        let (core, tail) = word.split_at(word.trim_end_matches([' ', ',', ')', ';', ':', '.']).len());
        let bare = core.trim_start_matches('(');
        let lead = &core[..core.len() - bare.len()];
        let plain: Option<&str> = match bare {
            "as" if words
                .peek()
                .is_some_and(|w| INTEGERS.iter().any(|(t, _)| w.trim_end_matches([' ', ',']) == *t)) =>
            {
                words.next();
                out.push_str(tail.trim_end_matches(' '));
                continue;
            }
            b if INTEGERS.iter().any(|(t, _)| *t == b) => Some("a whole number"),
            "f32" | "f64" => Some("a number"),
            "sequence" => Some("list"),
            "map" => Some("table"),
            "floating" if words.peek().is_some_and(|w| w.starts_with("point")) => {
                let next = words.next().unwrap_or_default();
                out.push_str(lead);
                out.push_str("number with a fraction");
                out.push_str(&next["point".len()..]);
                continue;
            }
            "struct" => {
                // `struct RawBoard` → `a table`, with the article already before it dropped.
                if out.ends_with("a ") {
                    out.truncate(out.len() - 2);
                }
                let next = words.next().unwrap_or_default();
                let rest = next.trim_start_matches(|c: char| c.is_alphanumeric() || c == '_');
                out.push_str(lead);
                out.push_str("a table");
                out.push_str(rest);
                continue;
            }
            "Option" => Some("optional value"),
            "Vec" => Some("list"),
            "usize" | "String" => Some("value"),
            "unit" if words.peek().is_some_and(|w| w.starts_with("value")) => Some("nothing and"),
            _ => None,
        };
        match plain {
            Some(p) => {
                out.push_str(lead);
                out.push_str(p);
                out.push_str(tail);
            }
            None => out.push_str(word),
        }
    }
    out
}

/// The first `quoted` word of a message.
fn backticked(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(message[start..start + len].to_owned())
}

/// `partition[1].memory` → `partition.memory`.
#[cfg(test)]
fn strip_indices(path: &str) -> String {
    let mut out = String::new();
    let mut depth = 0;
    for c in path.chars() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// The table (`partition[1]`, `partition[1].memory`, `board`, or empty for the top level) and, when the offset
/// is on a key or its value, the key (with the indices after it: `vcpus[1]`), for a byte offset in a config.
#[cfg(test)]
fn locate(source: &str, offset: usize) -> (String, Option<String>) {
    let doc = Doc::parse(source);
    let node = match doc.at(offset) {
        None => return (path_string(&doc.header_before(offset)), None),
        Some(n) if n.shape == Shape::Table(TableForm::Header) && contains(&n.span, offset) => {
            return (path_string(&doc.path(n)), None)
        }
        Some(n) => doc.path(n),
    };
    match node.iter().rposition(|s| matches!(s, Seg::Key(_))) {
        Some(i) => (path_string(&node[..i]), Some(path_string(&node[i..]))),
        None => (path_string(&node), None),
    }
}

/// Did-you-mean plus the full list, for a name that must be one of `known`.
pub(crate) fn name_hint<'a>(word: &str, known: impl IntoIterator<Item = &'a str> + Clone, what: &str) -> String {
    let all = list(known.clone());
    match closest(word, known) {
        Some(c) => format!("did you mean `{c}`? {what}: {all}"),
        None => format!("{what}: {all}"),
    }
}

/// Span of a whole TOML value, for tables that lack one.
pub(crate) fn whole(source: &str) -> Span {
    0..source.len().min(1)
}

#[cfg(test)]
mod tests;
