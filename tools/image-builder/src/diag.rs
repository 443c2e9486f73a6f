//! Diagnostics about a config file, rendered the way rustc renders its own: `file:line:column`, the source line
//! with the offending text underlined, the field (`partition[1].vcpus[0]`), what is wrong and a hint.

use std::borrow::Cow;
use std::fmt;
use std::io::IsTerminal;
use std::ops::Range;

use codespan_reporting::diagnostic::{Diagnostic, Label};
use codespan_reporting::files::{Files, SimpleFile};
use codespan_reporting::term::{self, termcolor};

/// Byte range in the config source.
pub type Span = Range<usize>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// One finding about the config.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diag {
    pub severity: Severity,
    /// What is wrong, one sentence without a final period.
    pub message: String,
    /// The config field it is about, as a path: `board.name`, `partition[1].vcpus[0]`.
    pub field: String,
    /// Where; underlined with `label` under it.
    pub span: Span,
    pub label: String,
    /// Other places involved (the first of two duplicates, for example).
    pub related: Vec<(Span, String)>,
    /// How to fix it.
    pub hint: Option<String>,
}

impl Diag {
    pub fn error(field: impl Into<String>, span: Span, message: impl Into<String>) -> Diag {
        Diag {
            severity: Severity::Error,
            message: message.into(),
            field: field.into(),
            span,
            label: String::new(),
            related: Vec::new(),
            hint: None,
        }
    }

    pub fn warning(field: impl Into<String>, span: Span, message: impl Into<String>) -> Diag {
        Diag { severity: Severity::Warning, ..Diag::error(field, span, message) }
    }

    pub fn label(mut self, label: impl Into<String>) -> Diag {
        self.label = label.into();
        self
    }

    pub fn related(mut self, span: Span, label: impl Into<String>) -> Diag {
        self.related.push((span, label.into()));
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Diag {
        self.hint = Some(hint.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// The diagnostics about one config file, with its text so they can be rendered.
#[derive(Clone, Debug)]
pub struct Report {
    /// The name (escaped) and the source as read: spans, line and column numbers refer to it. What is printed is
    /// [`Report::display_source`].
    file: SimpleFile<String, String>,
    pub diags: Vec<Diag>,
}

impl Report {
    /// `name` is how the file is shown (a path relative to the current directory when possible). Control and
    /// bidirectional-override characters in it are escaped ([`escape`]), as everywhere a report prints.
    pub fn new(name: impl Into<String>, source: impl Into<String>) -> Report {
        Report { file: SimpleFile::new(escape(&name.into()), source.into()), diags: Vec::new() }
    }

    /// How the file is shown, with control characters escaped.
    pub fn file_name(&self) -> &str {
        self.file.name()
    }

    /// The config's text as read (spans are byte offsets into it). It may hold control characters: print
    /// [`Report::display_source`] instead.
    pub fn source(&self) -> &str {
        self.file.source()
    }

    /// The config's text with every control or bidirectional-override character replaced by a placeholder of the
    /// same UTF-8 length, so spans and columns still fit it: safe to print.
    pub fn display_source(&self) -> Cow<'_, str> {
        sanitised(self.source())
    }

    /// The file as codespan prints it: its source sanitised.
    fn display_file(&self) -> SimpleFile<&str, Cow<'_, str>> {
        SimpleFile::new(self.file_name(), self.display_source())
    }

    pub fn push(&mut self, diag: Diag) {
        self.diags.push(diag);
    }

    pub fn has_errors(&self) -> bool {
        self.diags.iter().any(Diag::is_error)
    }

    pub fn errors(&self) -> impl Iterator<Item = &Diag> {
        self.diags.iter().filter(|d| d.is_error())
    }

    pub fn warnings(&self) -> impl Iterator<Item = &Diag> {
        self.diags.iter().filter(|d| !d.is_error())
    }

    /// 1-based line and column of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.source().len());
        match self.file.location((), offset) {
            Ok(loc) => (loc.line_number, loc.column_number),
            Err(_) => (1, 1),
        }
    }

    /// `file:line:column` of a diagnostic.
    pub fn location(&self, diag: &Diag) -> String {
        let (line, col) = self.line_col(diag.span.start);
        format!("{}:{line}:{col}", self.file_name())
    }

    /// The codespan form of a diagnostic: every text escaped, every span inside the file and on character
    /// boundaries.
    fn to_codespan(&self, d: &Diag) -> Diagnostic<()> {
        let base = match d.severity {
            Severity::Error => Diagnostic::error(),
            Severity::Warning => Diagnostic::warning(),
        };
        let src = self.source();
        let clamp = |s: &Span| {
            let start = floor_char_boundary(src, s.start);
            start..ceil_char_boundary(src, s.end.max(start))
        };
        let mut labels = vec![Label::primary((), clamp(&d.span)).with_message(escape(&d.label))];
        labels.extend(d.related.iter().map(|(s, l)| Label::secondary((), clamp(s)).with_message(escape(l))));
        let mut notes = vec![format!("field: {}", escape(&d.field))];
        if let Some(h) = &d.hint {
            notes.push(format!("help: {}", escape(h)));
        }
        base.with_message(escape(&d.message)).with_labels(labels).with_notes(notes)
    }

    /// All diagnostics as plain text, followed by a summary line when there are errors.
    pub fn render(&self) -> String {
        let config = term::Config::default();
        let file = self.display_file();
        let mut out = String::new();
        for d in &self.diags {
            // Only fails when a span lies outside the file, and spans are clamped.
            if let Ok(s) = term::emit_into_string(&config, &file, &self.to_codespan(d)) {
                out.push_str(&s);
            }
        }
        out
    }

    /// Writes every diagnostic to stderr, in colour when stderr is a terminal.
    pub fn emit_to_stderr(&self) {
        let color =
            if std::io::stderr().is_terminal() { termcolor::ColorChoice::Auto } else { termcolor::ColorChoice::Never };
        let stream = termcolor::StandardStream::stderr(color);
        let config = term::Config::default();
        let file = self.display_file();
        let mut lock = stream.lock();
        for d in &self.diags {
            let _ = term::emit_to_write_style(&mut lock, &config, &file, &self.to_codespan(d));
        }
    }

    /// "2 errors, 1 warning" style summary.
    pub fn summary(&self) -> String {
        let e = self.errors().count();
        let w = self.warnings().count();
        let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
        match (e, w) {
            (0, 0) => "no problems".into(),
            (e, 0) => plural(e, "error"),
            (0, w) => plural(w, "warning"),
            (e, w) => format!("{}, {}", plural(e, "error"), plural(w, "warning")),
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.render().trim_end())?;
        write!(f, "\n{}: {}", self.file_name(), self.summary())
    }
}

/// Whether printing `c` could steer the terminal or reorder the text around it: C0 and C1 controls, DEL, and the
/// bidirectional formatting characters (embeddings, overrides, isolates and marks), plus the line and paragraph
/// separators.
pub fn is_unsafe_char(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}'
        | '\u{61c}' | '\u{200e}' | '\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `s` with every [unsafe](is_unsafe_char) character written as an escape: `\n`, `\r`, `\t`, `\0`, `\x1b` (other
/// C0 controls and DEL), `\u{85}`, `\u{202e}` (the rest). Backslashes are left alone, so escaping twice changes
/// nothing more. Use it on any text from a config (names, keys, paths) before it reaches a terminal or a log;
/// [`Report`] does it for every field of every diagnostic it renders.
pub fn escape(s: &str) -> String {
    if !s.chars().any(is_unsafe_char) {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            '\u{1}'..='\u{1f}' | '\u{7f}' => out.push_str(&format!("\\x{:02x}", u32::from(c))),
            c if is_unsafe_char(c) => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    out
}

/// A copy of a config's text that is safe to print and has the same byte offsets, lines and columns: each
/// [unsafe](is_unsafe_char) character but the line feed and the tab becomes a placeholder of its UTF-8 length
/// (`?`, `¿` or U+FFFD; a carriage return, a space).
pub fn sanitise_source(s: &str) -> String {
    sanitised(s).into_owned()
}

/// [`sanitise_source`], borrowing when there is nothing to replace.
fn sanitised(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| c != '\n' && c != '\t' && is_unsafe_char(c)) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(
        s.chars()
            .map(|c| match c {
                '\n' | '\t' => c,
                '\r' => ' ',
                c if is_unsafe_char(c) => match c.len_utf8() {
                    1 => '?',
                    2 => '\u{bf}',
                    _ => '\u{fffd}',
                },
                c => c,
            })
            .collect(),
    )
}

/// The largest character boundary of `s` at or before `i` (`s.len()` at most).
fn floor_char_boundary(s: &str, i: usize) -> usize {
    let mut i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The smallest character boundary of `s` at or after `i` (`s.len()` at most).
fn ceil_char_boundary(s: &str, i: usize) -> usize {
    let mut i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// Levenshtein distance, for "did you mean" hints.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Edit distance that also counts swapping two neighbouring characters as one edit (optimal string alignment), so
/// `strat` is one typo away from `start`.
pub fn typo_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // Rows i-2, i-1 and i of the table.
    let mut before: Vec<usize> = Vec::new();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let sub = prev[j - 1] + usize::from(a[i - 1] != b[j - 1]);
            let mut d = sub.min(prev[j] + 1).min(cur[j - 1] + 1);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(before[j - 2] + 1);
            }
            cur[j] = d;
        }
        before = std::mem::replace(&mut prev, cur);
    }
    prev[b.len()]
}

/// The candidate closest to `word`, when it is close enough to be a likely typo (a swap of two neighbouring
/// characters counts as one edit).
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let len = word.chars().count();
    let most = |c: &str| (c.chars().count().max(len) / 3).max(1);
    candidates
        .into_iter()
        // The lengths alone can put a candidate too far: skip it before comparing character by character.
        .filter(|c| c.chars().count().abs_diff(len) <= most(c))
        .map(|c| (typo_distance(word, c), c))
        .filter(|(d, c)| *d <= most(c))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// "`a`, `b` and `c`".
pub fn list<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> String {
    let items: Vec<String> = items.into_iter().map(|s| format!("`{}`", s.as_ref())).collect();
    match items.len() {
        0 => "none".into(),
        1 => items[0].clone(),
        n => format!("{} and {}", items[..n - 1].join(", "), items[n - 1]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_location_field_and_hint() {
        let src = "[board]\nname = \"qemu-virt\"\n";
        let mut r = Report::new("x.toml", src);
        let start = src.find("\"qemu").unwrap();
        r.push(
            Diag::error("board.name", start..start + 11, "unknown board `qemu-virt`")
                .label("no board has this name")
                .hint("did you mean `qemu-virt-aarch64`?"),
        );
        let text = r.render();
        assert!(text.contains("error: unknown board `qemu-virt`"), "{text}");
        assert!(text.contains("x.toml:2:8"), "{text}");
        assert!(text.contains("field: board.name"), "{text}");
        assert!(text.contains("help: did you mean `qemu-virt-aarch64`?"), "{text}");
        assert_eq!(r.location(&r.diags[0]), "x.toml:2:8");
        assert!(r.to_string().ends_with("x.toml: 1 error"));
    }

    #[test]
    fn spans_past_the_end_do_not_panic() {
        let mut r = Report::new("x.toml", "a = 1");
        r.push(Diag::warning("a", 100..200, "far away"));
        assert!(r.render().contains("warning: far away"));
        assert_eq!(r.line_col(1000), (1, 6));
    }

    #[test]
    fn escape_writes_every_unsafe_character_as_an_escape() {
        assert_eq!(escape("plain `text` é ü 中"), "plain `text` é ü 中");
        assert_eq!(escape("a\u{1b}[31mred"), "a\\x1b[31mred");
        assert_eq!(escape("\0\u{7}\n\r\t\u{7f}"), "\\0\\x07\\n\\r\\t\\x7f");
        assert_eq!(escape("\u{85}\u{9b}"), "\\u{85}\\u{9b}");
        assert_eq!(
            escape("ab\u{202e}cd\u{2066}\u{200f}\u{61c}\u{2028}"),
            "ab\\u{202e}cd\\u{2066}\\u{200f}\\u{61c}\\u{2028}"
        );
        // Escaping twice changes nothing more.
        let once = escape("x\u{1b}y\u{202e}");
        assert_eq!(escape(&once), once);
    }

    #[test]
    fn sanitised_source_keeps_offsets_lines_and_columns() {
        let src = "a = \"\u{1b}[2J\u{202e}x\u{85}\u{0}\"\r\nb\t= 1\n";
        let clean = sanitise_source(src);
        assert_eq!(clean.len(), src.len());
        assert_eq!(clean.chars().count(), src.chars().count());
        assert_eq!(clean, "a = \"?[2J\u{fffd}x\u{bf}?\" \nb\t= 1\n");
        for (i, _) in src.char_indices() {
            assert!(clean.is_char_boundary(i));
        }
    }

    #[test]
    fn rendering_never_prints_control_characters() {
        let bad = ['\u{1b}', '\u{0}', '\u{202e}', '\u{7}', '\u{9b}', '\u{2067}', '\r'];
        let src = "[board]\nname = \"x\u{1b}]0;pwned\u{7}\u{202e}y\u{0}\"\r\n";
        let mut r = Report::new("evil\u{1b}[1m.toml", src);
        let at = src.find('x').unwrap();
        r.push(
            Diag::error("board.name\u{1b}[2J", at..at + 10, "bad name `x\u{1b}]0;pwned\u{7}\u{202e}`")
                .label("here \u{0}\u{9b}")
                .related(0..7, "the table\u{2067}")
                .hint("rename\u{1b}[31m it"),
        );
        // A span that splits a character is widened to whole characters.
        r.push(Diag::warning("w", at + 11..at + 12, "inside \u{202e}"));
        let text = r.render();
        assert!(!text.chars().any(|c| bad.contains(&c)), "{text:?}");
        assert!(text.contains("bad name `x\\x1b]0;pwned\\x07\\u{202e}`"), "{text}");
        assert!(text.contains("field: board.name\\x1b[2J"), "{text}");
        assert!(text.contains("help: rename\\x1b[31m it"), "{text}");
        assert!(text.contains("evil\\x1b[1m.toml:2:9"), "{text}");
        assert!(text.contains("name = \"x?]0;pwned?\u{fffd}y?\""), "{text}");
        let whole = r.to_string();
        assert!(!whole.chars().any(|c| bad.contains(&c)), "{whole:?}");
        // The source as read is still there, for anything that needs it.
        assert_eq!(r.source(), src);
        assert_eq!(r.display_source().len(), src.len());
        assert_eq!(r.line_col(at), (2, 9));
    }

    #[test]
    fn typos_with_swapped_letters_are_one_edit() {
        assert_eq!(typo_distance("strat", "start"), 1);
        assert_eq!(typo_distance("kitten", "sitting"), 3);
        assert_eq!(typo_distance("", "abc"), 3);
        assert_eq!(closest("strat", ["partition", "start", "duration", "cpus"]), Some("start"));
        assert_eq!(closest("memroy", ["memory", "name"]), Some("memory"));
        assert_eq!(closest(&"x".repeat(100_000), ["name"]), None);
    }

    #[test]
    fn suggestions() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(closest("qemu-virt-aarch46", ["qemu-virt-aarch64"]), Some("qemu-virt-aarch64"));
        assert_eq!(closest("vcpu", ["vcpus", "pool", "name"]), Some("vcpus"));
        assert_eq!(closest("zzzz", ["vcpus", "pool"]), None);
        assert_eq!(list(["a", "b", "c"]), "`a`, `b` and `c`");
        assert_eq!(list(Vec::<String>::new()), "none");
    }
}
