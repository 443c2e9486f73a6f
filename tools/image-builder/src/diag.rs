//! Diagnostics about a config file, rendered the way rustc renders its own: `file:line:column`, the source line
//! with the offending text underlined, the field (`partition[1].vcpus[0]`), what is wrong and a hint.

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
    file: SimpleFile<String, String>,
    pub diags: Vec<Diag>,
}

impl Report {
    /// `name` is how the file is shown (a path relative to the current directory when possible).
    pub fn new(name: impl Into<String>, source: impl Into<String>) -> Report {
        Report { file: SimpleFile::new(name.into(), source.into()), diags: Vec::new() }
    }

    pub fn file_name(&self) -> &str {
        self.file.name()
    }

    pub fn source(&self) -> &str {
        self.file.source()
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

    fn to_codespan(&self, d: &Diag) -> Diagnostic<()> {
        let base = match d.severity {
            Severity::Error => Diagnostic::error(),
            Severity::Warning => Diagnostic::warning(),
        };
        let clamp = |s: &Span| {
            let len = self.source().len();
            s.start.min(len)..s.end.min(len).max(s.start.min(len))
        };
        let mut labels = vec![Label::primary((), clamp(&d.span)).with_message(&d.label)];
        labels.extend(d.related.iter().map(|(s, l)| Label::secondary((), clamp(s)).with_message(l)));
        let mut notes = vec![format!("field: {}", d.field)];
        if let Some(h) = &d.hint {
            notes.push(format!("help: {h}"));
        }
        base.with_message(&d.message).with_labels(labels).with_notes(notes)
    }

    /// All diagnostics as plain text, followed by a summary line when there are errors.
    pub fn render(&self) -> String {
        let config = term::Config::default();
        let mut out = String::new();
        for d in &self.diags {
            // Only fails when a span lies outside the file, and spans are clamped.
            if let Ok(s) = term::emit_into_string(&config, &self.file, &self.to_codespan(d)) {
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
        let mut lock = stream.lock();
        for d in &self.diags {
            let _ = term::emit_to_write_style(&mut lock, &config, &self.file, &self.to_codespan(d));
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

/// The candidate closest to `word`, when it is close enough to be a likely typo.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, c)| *d <= (c.len().max(word.len()) / 3).max(1))
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
    fn suggestions() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(closest("qemu-virt-aarch46", ["qemu-virt-aarch64"]), Some("qemu-virt-aarch64"));
        assert_eq!(closest("vcpu", ["vcpus", "pool", "name"]), Some("vcpus"));
        assert_eq!(closest("zzzz", ["vcpus", "pool"]), None);
        assert_eq!(list(["a", "b", "c"]), "`a`, `b` and `c`");
        assert_eq!(list(Vec::<String>::new()), "none");
    }
}
