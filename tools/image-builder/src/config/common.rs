//! The building blocks every check of the config uses: names and their namespaces, lookups that suggest what was
//! meant and references to tables by name, sizes, paths relative to the config, and the pool record the schedule
//! checks read. `validate` runs the checks, one file per concern (`board`, `pools`, `memory`, `images`,
//! `devices`, `pv`, `channels`, `schedule`); they take these from here rather than from each other (issue 16: the
//! config's modules import one way).

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use board_support::Board;
use toml::Spanned;

use super::model::*;
use super::raw::*;
use super::Context;
use crate::diag::{closest, list, Diag, Report, Span};
use crate::input::InputError;
use crate::units;

/// Longest name (a partition's prefixes every console line of the partition).
const MAX_NAME_LEN: usize = limits::NAME_LEN;

/// The guest-physical space a partition may use: stage 2's (`hv_plan::stage2`).
pub const IPA_LIMIT: u64 = 1 << hv_plan::stage2::IPA_BITS;

pub(super) struct CheckedPool {
    pub(super) pool: Pool,
    pub(super) name_span: Span,
}

// ---- names ----

/// What a name names: each kind has its own namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum NameKind {
    Partition,
    Pool,
    Disk,
    Network,
    Channel,
}

impl NameKind {
    fn word(self) -> &'static str {
        match self {
            NameKind::Partition => "partition",
            NameKind::Pool => "pool",
            NameKind::Disk => "disk",
            NameKind::Network => "network",
            NameKind::Channel => "channel",
        }
    }

    /// Why no two tables of the kind may share a name.
    fn unique_because(self) -> &'static str {
        match self {
            NameKind::Partition => "it identifies the partition on the console and in its device tree",
            NameKind::Pool => "partitions name the pool they run in",
            NameKind::Disk | NameKind::Network => "partitions refer to it by name",
            NameKind::Channel => "it is the channel's label in its partitions' device trees",
        }
    }
}

/// The rule every name follows, for hints.
pub(super) const NAME_RULE: &str = "a name is 1 to 32 characters: ASCII letters, digits, `-` and `_`, starting with \
                                    a letter (e.g. \"linux0\", \"rt-pool\", \"shared_disk\")";

/// A user's text as messages show it: control and invisible characters escaped, at most 40 characters.
pub(super) fn shown(text: &str) -> String {
    let mut out: String = text.chars().take(40).flat_map(char::escape_debug).collect();
    if text.chars().nth(40).is_some() {
        out.push('…');
    }
    out
}

/// Why `name` breaks [`NAME_RULE`], if it does.
pub(super) fn name_problem(name: &str) -> Option<String> {
    let char_shown = |c: char| match c {
        ' ' => "a space".to_owned(),
        c => format!("`{}`", c.escape_debug()),
    };
    let mut chars = name.chars();
    let first = chars.next()?;
    if !first.is_ascii_alphabetic() {
        return Some(format!("it starts with {}, not a letter", char_shown(first)));
    }
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_')) {
        return Some(format!("{} is not allowed in names", char_shown(c)));
    }
    (name.len() > MAX_NAME_LEN).then(|| format!("it is {} characters long", name.len()))
}

/// The names of one kind seen so far: exactly, and folded to lower case (for names that differ only in case).
pub(super) struct NameSet<'a> {
    kind: NameKind,
    exact: BTreeMap<&'a str, Span>,
    folded: BTreeMap<String, (&'a str, Span)>,
}

impl<'a> NameSet<'a> {
    pub(super) fn new(kind: NameKind) -> NameSet<'a> {
        NameSet { kind, exact: BTreeMap::new(), folded: BTreeMap::new() }
    }

    /// Checks the `name` of table `index` of this kind against [`NAME_RULE`], the names before it (a duplicate is
    /// an error, one differing only in case a warning) and, for partitions, the hypervisor's console prefix.
    pub(super) fn check(&mut self, index: usize, name: &'a Spanned<String>, r: &mut Report) {
        let word = self.kind.word();
        let field = format!("{word}[{index}].name");
        let n = name.get_ref().as_str();
        let problem = if n.is_empty() { Some("it is empty".to_owned()) } else { name_problem(n) };
        if let Some(why) = problem {
            r.push(
                Diag::error(&field, name.span(), format!("bad {word} name \"{}\": {why}", shown(n)))
                    .label("not a valid name")
                    .hint(NAME_RULE),
            );
        }
        if let Some(first) = self.exact.get(n) {
            r.push(
                Diag::error(field, name.span(), format!("duplicate {word} name `{}`", shown(n)))
                    .label(format!("second {word} with this name"))
                    .related(first.clone(), "first defined here")
                    .hint(format!("give every {word} its own name: {}", self.kind.unique_because())),
            );
            return;
        }
        self.exact.insert(n, name.span());
        let folded = n.to_lowercase();
        if let Some((other, first)) = self.folded.get(&folded) {
            r.push(
                Diag::warning(
                    &field,
                    name.span(),
                    format!("{word} names `{}` and `{}` differ only in case", shown(other), shown(n)),
                )
                .label(format!("easily mistaken for `{}`", shown(other)))
                .related(first.clone(), format!("`{}` defined here", shown(other)))
                .hint(format!(
                    "names are case-sensitive, so these are two {word}s: rename one so they cannot be mixed up"
                )),
            );
        } else {
            self.folded.insert(folded, (n, name.span()));
        }
        if self.kind == NameKind::Partition && n.eq_ignore_ascii_case("hv") {
            r.push(
                Diag::warning(
                    field,
                    name.span(),
                    format!("partition `{n}`'s console lines would look like hv-static's own"),
                )
                .label(format!("its lines are prefixed `[{n}] `"))
                .hint("hv-static prefixes its own console lines `[hv] `: give the partition another name"),
            );
        }
    }
}

/// Tables of one kind by name, for the references to them: the first table with each name, and hints for names
/// that are not there. Suggestions cost an edit distance per candidate, so only the first few distinct unknown
/// words get one (a config naming thousands of unknown partitions must still be checked fast).
pub(super) struct Lookup<'a> {
    kind: &'static str,
    first: BTreeMap<&'a str, usize>,
    names: Vec<&'a str>,
    hints: BTreeMap<String, String>,
}

/// How many distinct unknown words of one kind get a "did you mean" suggestion.
const SUGGESTIONS: usize = 64;
/// How many names a hint lists.
const LISTED: usize = 16;

impl<'a> Lookup<'a> {
    /// `kind` is the table's word (`partition`); `names` are the tables' names in file order.
    pub(super) fn new(kind: &'static str, names: impl IntoIterator<Item = &'a str>) -> Lookup<'a> {
        let names: Vec<&str> = names.into_iter().collect();
        let mut first = BTreeMap::new();
        for (i, n) in names.iter().enumerate() {
            first.entry(*n).or_insert(i);
        }
        Lookup { kind, first, names, hints: BTreeMap::new() }
    }

    /// The index of the first table named `name`.
    pub(super) fn find(&self, name: &str) -> Option<usize> {
        self.first.get(name).copied()
    }

    /// The hint for `word`, which no table has: a suggestion when one is close, and the names there are.
    pub(super) fn hint(&mut self, word: &str) -> String {
        if self.names.is_empty() {
            return format!("the config defines no {k}s: add a `[[{k}]]` table with this name", k = self.kind);
        }
        if let Some(h) = self.hints.get(word) {
            return h.clone();
        }
        let defined = format!("{}s defined: {}", self.kind, listed(&self.names));
        if self.hints.len() >= SUGGESTIONS {
            return defined;
        }
        let h = match suggestion(word, self.names.iter().copied()) {
            Some(c) => format!("did you mean `{c}`? {defined}"),
            None => defined,
        };
        self.hints.insert(word.to_owned(), h.clone());
        h
    }
}

/// "`a`, `b` and `c`", or the first [`LISTED`] and how many more.
fn listed(names: &[&str]) -> String {
    if names.len() <= LISTED {
        return list(names.iter().map(|n| shown(n)));
    }
    let shown_: Vec<String> = names[..LISTED].iter().map(|n| format!("`{}`", shown(n))).collect();
    format!("{} and {} more", shown_.join(", "), names.len() - LISTED)
}

/// The error for a name that no table of `kind` has.
fn unknown(kind: &str, field: String, v: &Spanned<String>, tables: &mut Lookup<'_>) -> Diag {
    Diag::error(field, v.span(), format!("unknown {kind} `{}`", shown(v.get_ref())))
        .label(format!("no `[[{kind}]]` has this name"))
        .hint(tables.hint(v.get_ref()))
}

/// What to say when a list names the same table twice: the message, what the first mention was, the hint.
pub(super) struct Twice<'a> {
    pub(super) message: String,
    pub(super) first: &'a str,
    pub(super) hint: &'a str,
}

/// The index of the `[[kind]]` table that `v` names, once in its list (`listed`): `None`, reported on `field`, when
/// no table has the name or the list named it before.
pub(super) fn reference(
    tables: &mut Lookup<'_>,
    kind: &str,
    v: &Spanned<String>,
    field: String,
    listed: &mut BTreeMap<usize, Span>,
    twice: Twice<'_>,
    r: &mut Report,
) -> Option<usize> {
    let Some(index) = tables.find(v.get_ref()) else {
        r.push(unknown(kind, field, v, tables));
        return None;
    };
    if let Some(first) = listed.get(&index) {
        r.push(
            Diag::error(field, v.span(), twice.message)
                .label("again")
                .related(first.clone(), twice.first)
                .hint(twice.hint),
        );
        return None;
    }
    listed.insert(index, v.span());
    Some(index)
}

/// An `access` value: `None` when it is not one of the two words of `names` (read-only first).
pub(super) fn access(
    v: Option<&Spanned<String>>,
    field: String,
    names: [&str; 2],
    what: &str,
    r: &mut Report,
) -> Option<Access> {
    let Some(v) = v else {
        return Some(Access::ReadWrite);
    };
    match v.get_ref().as_str() {
        w if w == names[0] => Some(Access::ReadOnly),
        w if w == names[1] => Some(Access::ReadWrite),
        other => {
            r.push(
                Diag::error(field, v.span(), format!("unknown {what} access `{}`", shown(other)))
                    .label("not an access right")
                    .hint(format!(
                        "{}; `{}`: read-only, `{}`: read-write (the default)",
                        suggest(other, names, "access rights"),
                        names[0],
                        names[1]
                    )),
            );
            None
        }
    }
}

/// The candidate closest to `word`, if one is close enough to be a likely typo. Candidates whose length alone
/// puts them too far (and anything longer than a name can be) are skipped before any edit distance is computed.
pub(super) fn suggestion<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let most = 3 * MAX_NAME_LEN;
    if word.len() > most {
        return None;
    }
    let near = candidates.into_iter().filter(|c| {
        let longer = c.len().max(word.len());
        c.len() <= most && c.len().abs_diff(word.len()) <= (longer / 3).max(1)
    });
    closest(word, near)
}

/// Did-you-mean plus the full list, for a word that must be one of a few fixed, short `known` ones (schedulers,
/// boards). A word far longer than any name is no typo of one: no edit distance is computed for it.
pub(super) fn suggest<'a>(word: &str, known: impl IntoIterator<Item = &'a str> + Clone, what: &str) -> String {
    if word.len() > 3 * MAX_NAME_LEN {
        return format!("{what}: {}", list(known));
    }
    super::name_hint(word, known, what)
}

// ---- values ----

pub(super) fn size_value(v: &Spanned<NumOrStr>, field: &str, r: &mut Report) -> Option<u64> {
    match v.get_ref() {
        NumOrStr::Int(n) if *n < 0 => {
            r.push(
                Diag::error(field, v.span(), format!("bad size `{n}`: sizes cannot be negative"))
                    .label("negative")
                    .hint("write a size such as \"64MiB\""),
            );
            None
        }
        NumOrStr::Int(n) => u64::try_from(*n).ok(),
        NumOrStr::Str(s) => match units::parse_size(s) {
            Ok(n) => Some(n),
            Err(e) => {
                r.push(
                    Diag::error(field, v.span(), format!("bad size \"{s}\": {}", e.message))
                        .label("not a size")
                        .hint(e.hint),
                );
                None
            }
        },
    }
}

/// A `kernel`, `ramdisk` or `dt_overlay` path: relative to the config file's directory.
pub(super) fn relative_path(ctx: &Context<'_>, value: &str) -> PathBuf {
    ctx.base_dir.join(value).components().filter(|c| *c != Component::CurDir).collect()
}

/// `a/b/../c` → `a/c`, for showing paths of files that may not exist (which cannot be canonicalised).
pub(super) fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir if matches!(out.components().next_back(), Some(Component::Normal(_))) => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out
}

/// The diagnostic for a file the config names (`what`: "kernel", "disk image", ...) that `input` refused: "missing"
/// only when it is not there (with the fixture fetch hint when it is one of those); otherwise what the path really
/// is. `where_` says where such paths are looked for.
pub(super) fn input_diag(
    field: &str,
    span: Span,
    what: &str,
    written: &str,
    path: &Path,
    e: &InputError,
    where_: String,
) -> Diag {
    let shown_path = crate::display_path(&normalize(path));
    let written = shown(written);
    if e.is_not_found() {
        return Diag::error(field, span, format!("{what} missing: cannot read `{written}`: {e}"))
            .label(format!("looked for {shown_path}"))
            .hint(fetch_hint(path).unwrap_or(where_));
    }
    let hint = match e {
        InputError::Directory => format!("name a file, not a directory: {where_}"),
        InputError::Special(_) => {
            format!("reading it could wait forever or never end: name a regular file (copy it into one); {where_}")
        }
        InputError::PseudoFs => {
            "their contents are made up as they are read: copy what you need into a regular file and name that"
                .to_owned()
        }
        InputError::TooLarge { .. } => format!("no {what} of a partition is that large: check the path; {where_}"),
        _ => where_,
    };
    Diag::error(field, span, format!("{what} `{written}` cannot be used: {e}")).label(shown_path).hint(hint)
}

/// Files under `tests/fixtures/cache/ARCH/` are made by `tests/fixtures/fetch-linux.sh ARCH`: the hint says so.
pub(crate) fn fetch_hint(path: &Path) -> Option<String> {
    let path = normalize(path);
    let parts: Vec<&std::ffi::OsStr> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s),
            _ => None,
        })
        .collect();
    let at = parts.windows(3).position(|w| w == ["tests", "fixtures", "cache"])?;
    let arch = parts.get(at + 3)?.to_str()?;
    Some(format!(
        "this file is fetched and built by `tests/fixtures/fetch-linux.sh {arch}` (Debian's kernel and a busybox \
         initramfs, into tests/fixtures/cache/{arch}/): run `tests/fixtures/fetch-linux.sh {arch}` from the \
         workspace root (as root the first time: it uses apt-get), then try again"
    ))
}

/// A physical CPU number that exists on the board.
pub(super) fn cpu_value(v: &Spanned<i64>, field: &str, board: &Board, r: &mut Report) -> Option<u32> {
    let n = *v.get_ref();
    if n < 0 || n >= i64::from(board.max_cpus) {
        r.push(
            Diag::error(
                field,
                v.span(),
                format!("CPU {n} is beyond the board's CPU count: `{}` has {} CPUs", board.name, board.max_cpus),
            )
            .label("no such CPU")
            .hint(format!("physical CPUs are numbered 0 to {}", board.max_cpus - 1)),
        );
        return None;
    }
    u32::try_from(n).ok()
}

/// A duration key's value in nanoseconds, or an error naming `field`.
pub(super) fn duration_value(v: &Spanned<String>, field: &str, r: &mut Report) -> Option<u64> {
    match units::parse_duration(v.get_ref()) {
        Ok(ns) => Some(ns),
        Err(e) => {
            r.push(
                Diag::error(field, v.span(), format!("bad duration: {}", e.message))
                    .label("not a duration")
                    .hint(e.hint),
            );
            None
        }
    }
}
