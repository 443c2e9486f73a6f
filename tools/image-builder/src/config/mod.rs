//! Reading and checking a system config (`configs/*.toml`).
//!
//! Two stages, as in Hubris' xtask: `raw` deserialises the TOML as written (unknown keys are refused, every value
//! keeps its span), then `validate` checks it rule by rule and produces the [`System`] later steps use. Every
//! problem becomes a [`Diag`] naming the file position, the field, what is wrong and how to fix it; checking
//! never panics and reports as many independent problems as it can find in one pass.

mod model;
mod pv;
mod raw;
mod schedule;
mod validate;

use std::path::Path;

pub use model::*;
pub use pv::derived_mac;
pub(crate) use validate::{device_windows, fetch_hint, kernel_diag, overlay_diag};
pub use validate::{IPA_LIMIT, MIN_PARTITION_RAM};

use crate::diag::{closest, list, Diag, Report, Span};
use crate::guests::GuestCatalog;

/// What checking needs besides the file itself.
#[derive(Clone, Debug)]
pub struct Context<'a> {
    /// Guests that configs can name.
    pub guests: &'a GuestCatalog,
    /// Directory kernel paths are relative to (the config file's directory).
    pub base_dir: &'a Path,
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
            report.push(toml_error(source, &e));
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

/// Turns a TOML or schema error into a diagnostic that names the table and key.
fn toml_error(source: &str, e: &toml::de::Error) -> Diag {
    let span = e.span().unwrap_or(0..0);
    let message = e.message().trim().to_owned();
    let (table, key) = locate(source, span.start);
    let field = match (&table, &key) {
        (t, Some(k)) if t.is_empty() => k.clone(),
        (t, Some(k)) => format!("{t}.{k}"),
        (t, None) if t.is_empty() => "(top level)".into(),
        (t, None) => t.clone(),
    };
    if let Some(unknown) = backticked(&message).filter(|_| message.starts_with("unknown field")) {
        let table_kind = strip_indices(&table);
        let valid = raw::KEYS.iter().find(|(t, _)| *t == table_kind).map(|(_, k)| *k).unwrap_or(&[]);
        let mut hint = match closest(&unknown, valid.iter().copied()) {
            Some(k) => format!("did you mean `{k}`? "),
            None => String::new(),
        };
        hint.push_str(&format!("keys allowed here: {}; see docs/config.md", list(valid.iter())));
        let field = if table.is_empty() { unknown.clone() } else { format!("{table}.{unknown}") };
        let place = if table.is_empty() { "at the top level".to_owned() } else { format!("in `[{table_kind}]`") };
        return Diag::error(field, span, format!("unknown key `{unknown}` {place}"))
            .label("not a key of this table")
            .hint(hint);
    }
    if let Some(missing) = backticked(&message).filter(|_| message.starts_with("missing field")) {
        let field = if table.is_empty() { missing.clone() } else { format!("{table}.{missing}") };
        let what = if table.is_empty() { format!("a `[{missing}]` table") } else { format!("`{missing}`") };
        return Diag::error(field, span, format!("missing required key `{missing}`"))
            .label(format!("this table needs {what}"))
            .hint("see docs/config.md for the keys each table takes");
    }
    let hint = if message.contains("invalid type") {
        "see docs/config.md for the type each key takes (sizes and addresses may be integers or strings)"
    } else {
        "this is a TOML syntax or type error; see docs/config.md for an annotated example"
    };
    Diag::error(field, span, message).label("here").hint(hint)
}

/// The first `quoted` word of a message.
fn backticked(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(message[start..start + len].to_owned())
}

/// `partition[1].memory` → `partition.memory`.
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
/// is on a `key = value` line, the key, for a byte offset in a config.
fn locate(source: &str, offset: usize) -> (String, Option<String>) {
    let mut offset = offset.min(source.len());
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    let mut table = String::new();
    let mut counts: Vec<(String, usize)> = Vec::new();
    let mut line_start = 0;
    for line in source.split_inclusive('\n') {
        if line_start > offset {
            break;
        }
        let t = line.trim();
        if let Some(name) = t.strip_prefix("[[").and_then(|r| r.split("]]").next()) {
            let name = name.trim().to_owned();
            let n = match counts.iter_mut().find(|(k, _)| *k == name) {
                Some((_, n)) => {
                    *n += 1;
                    *n
                }
                None => {
                    counts.push((name.clone(), 0));
                    0
                }
            };
            table = format!("{name}[{n}]");
        } else if let Some(name) = t.strip_prefix('[').and_then(|r| r.split(']').next()) {
            table = name.trim().to_owned();
        }
        line_start += line.len();
    }
    // The line holding the offset.
    let start = source[..offset].rfind('\n').map_or(0, |i| i + 1);
    let end = source[offset..].find('\n').map_or(source.len(), |i| offset + i);
    let line = &source[start..end];
    let col = offset - start;
    let mut key = None;
    if let Some(eq) = line.find('=') {
        let k = line[..eq].trim();
        if !k.is_empty() && !k.starts_with('[') && !k.starts_with('#') {
            key = Some(k.trim_matches('"').to_owned());
            // Inside an inline table: `memory = { size = "64MiB", bogus = 1 }`.
            if let Some(brace) = line.find('{').filter(|b| *b < col) {
                table = if table.is_empty() { k.to_owned() } else { format!("{table}.{k}") };
                key = None;
                let mut pos = brace + 1;
                for seg in line[brace + 1..].split(',') {
                    let seg_end = pos + seg.len();
                    if (pos..=seg_end).contains(&col) {
                        key = seg.split('=').next().map(|s| s.trim().trim_matches('"').to_owned());
                        key = key.filter(|k| !k.is_empty());
                        break;
                    }
                    pos = seg_end + 1;
                }
            }
        }
    }
    (table, key)
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
