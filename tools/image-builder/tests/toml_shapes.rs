//! Config mistakes in every shape TOML can write them, each reported at the exact table, with the field path and
//! its indices (`pool[0].windows[1].strat`), in plain words (no Rust type names), with control characters escaped;
//! and config files that cannot be read as text (not UTF-8, a directory, a FIFO, too large) refused with a clear
//! message.

use std::path::{Path, PathBuf};

use image_builder::config::{check_source, decode_source, Context};
use image_builder::diag::{Diag, Report};
use image_builder::guests::GuestCatalog;
use image_builder::pipeline::check_with;
use image_builder::{workspace_root, Error};

/// A valid config: two partitions, a cyclic pool whose windows are a multi-line array of inline tables.
const BASE: &str = r#"[board]
name = "qemu-virt-aarch64"

[[pool]]
name = "rt"
cpus = [0, 1]
scheduler = "cyclic"
major_frame = "2ms"
windows = [
    { partition = "a", start = "0ms", duration = "1ms" },
    { partition = "b", start = "1ms", duration = "1ms" },
]

[[partition]]
name = "a"
pool = "rt"
vcpus = [0]
memory = { size = "64MiB" }
kernel = "hello"

[[partition]]
name = "b"
pool = "rt"
vcpus = [1]
memory = { size = "64MiB" }
kernel = "hello"
"#;

fn check(src: &str) -> Result<(), Report> {
    let guests = GuestCatalog::with_names(["hello"]);
    let ctx = Context { guests: &guests, base_dir: Path::new("/nonexistent") };
    check_source("t.toml", src, "t", &ctx).map(|_| ())
}

/// `BASE` with the `n`-th (0-based) occurrence of `from` replaced by `to`.
fn edit(from: &str, n: usize, to: &str) -> String {
    let (at, _) = BASE.match_indices(from).nth(n).unwrap_or_else(|| panic!("no {from:?} #{n} in BASE"));
    format!("{}{to}{}", &BASE[..at], &BASE[at + from.len()..])
}

/// The errors of a refused config.
fn refused(src: &str) -> Report {
    match check(src) {
        Ok(()) => panic!("accepted:\n{src}"),
        Err(r) => r,
    }
}

/// Its single error.
fn one(src: &str) -> (Report, Diag) {
    let r = refused(src);
    let e: Vec<Diag> = r.errors().cloned().collect();
    assert_eq!(e.len(), 1, "expected one error:\n{r}");
    let d = e[0].clone();
    (r, d)
}

/// Words of Rust's type system that must never reach a user.
fn rust_words(text: &str) -> Vec<String> {
    let re = regex::Regex::new(
        r"\b(i8|i16|i32|i64|i128|isize|u8|u16|u32|u64|u128|usize|f32|f64|Option|Vec|String|HashMap|BTreeMap|Spanned|NumOrStr|Raw[A-Z]\w*)\b|as [iu]\d|invalid type|invalid value|\bsequence\b|\ba map\b|\bstruct\b|\bunit value\b",
    )
    .unwrap();
    re.find_iter(text).map(|m| m.as_str().to_owned()).collect()
}

/// Every unknown key is reported in the table it is really in, with the field path (indices included), exactly the
/// key as written, and the key it probably is in the label and the hint.
#[test]
fn unknown_keys_in_every_shape_name_their_table_and_suggest() {
    #[rustfmt::skip]
    let cases: &[(&str, &str, &str, &str, &str, &str)] = &[
        // (description, config, field, key, table in the message, suggestion)
        ("top level", &format!("bord = 1\n{BASE}"), "bord", "bord", "at the top level", "board"),
        ("dotted key at the top level", &format!("boards.name = \"x\"\n{BASE}"), "boards", "boards", "at the top level", "board"),
        ("[table]", &edit("name = \"qemu-virt-aarch64\"", 0, "name = \"qemu-virt-aarch64\"\ngic_versoin = 3"),
            "board.gic_versoin", "gic_versoin", "in `board`", "gic_version"),
        ("dotted key in a [table]", &edit("name = \"qemu-virt-aarch64\"", 0, "name = \"qemu-virt-aarch64\"\ngic_versin.x = 1"),
            "board.gic_versin", "gic_versin", "in `board`", "gic_version"),
        ("[[array]] element 1", &edit("kernel = \"hello\"", 1, "kernel = \"hello\"\nbootarg = \"quiet\""),
            "partition[1].bootarg", "bootarg", "in `partition[1]`", "bootargs"),
        ("inline table", &edit("{ size = \"64MiB\" }", 1, "{ size = \"64MiB\", ipx = 1 }"),
            "partition[1].memory.ipx", "ipx", "in `partition[1].memory`", "ipa"),
        ("multi-line array of inline tables, element 1", &edit("start = \"1ms\"", 0, "strat = \"1ms\""),
            "pool[0].windows[1].strat", "strat", "in `pool[0].windows[1]`", "start"),
        ("multi-line array of inline tables, element 0", &edit("duration = \"1ms\"", 0, "duraton = \"1ms\""),
            "pool[0].windows[0].duraton", "duraton", "in `pool[0].windows[0]`", "duration"),
        ("nested inline tables in an inline array at the top level",
            &format!("pool = [{{ name = \"rt\", cpus = [0, 1], scheduler = \"cyclic\", major_frame = \"2ms\", windows = [{{ partition = \"a\", start = \"0ms\", duration = \"1ms\" }}, {{ partition = \"b\", start = \"1ms\", duraton = \"1ms\" }}] }}]\n{}",
                edit("[[pool]]\nname = \"rt\"\ncpus = [0, 1]\nscheduler = \"cyclic\"\nmajor_frame = \"2ms\"\nwindows = [\n    { partition = \"a\", start = \"0ms\", duration = \"1ms\" },\n    { partition = \"b\", start = \"1ms\", duration = \"1ms\" },\n]\n", 0, "")),
            "pool[0].windows[1].duraton", "duraton", "in `pool[0].windows[1]`", "duration"),
        ("dotted key in an [[array]] element", &edit("memory = { size = \"64MiB\" }", 0, "memory.szie = \"64MiB\""),
            "partition[0].memory.szie", "szie", "in `partition[0].memory`", "size"),
        ("dotted [header] below an [[array]] element", &edit("kernel = \"hello\"", 1, "kernel = \"hello\"\n[partition.memroy]\nsize = 1"),
            "partition[1].memroy", "memroy", "in `partition[1]`", "memory"),
        ("quoted key", &edit("kernel = \"hello\"", 0, "kernel = \"hello\"\n\"consol\" = true"),
            "partition[0].consol", "consol", "in `partition[0]`", "console"),
        ("quoted key with a space", &edit("kernel = \"hello\"", 0, "kernel = \"hello\"\n\"boot args\" = \"quiet\""),
            "partition[0].\"boot args\"", "boot args", "in `partition[0]`", "bootargs"),
        ("odd whitespace and comments", &edit("kernel = \"hello\"", 0, "kernel = \"hello\"  # the guest\n   \tpasstrough   =\t[]   # devices"),
            "partition[0].passtrough", "passtrough", "in `partition[0]`", "passthrough"),
        ("a key of a table below, one level too high", &edit("kernel = \"hello\"", 0, "kernel = \"hello\"\nsize = \"64MiB\""),
            "partition[0].size", "size", "in `partition[0]`", "memory.size"),
        ("array of inline tables in an [[array]] element", &format!("{BASE}disks = [{{ disk = \"d\", acess = \"ro\" }}]\n[[disk]]\nname = \"d\"\nsize = 512\n"),
            "partition[1].disks[0].acess", "acess", "in `partition[1].disks[0]`", "access"),
        ("inline table at the top level", &format!("hypervisor = {{ log_lvl = \"info\" }}\n{BASE}"),
            "hypervisor.log_lvl", "log_lvl", "in `hypervisor`", "log_level"),
        ("[[array]] of tables below an [[array]] element", &format!("{BASE}[[partition.networks]]\nnetwork = \"lan\"\nmca = \"52:54:00:12:34:56\"\n[[network]]\nname = \"lan\"\n"),
            "partition[1].networks[0].mca", "mca", "in `partition[1].networks[0]`", "mac"),
    ];
    for (what, src, field, key, table, suggestion) in cases {
        let (r, d) = one(src);
        assert_eq!(d.field, *field, "{what}:\n{r}");
        assert_eq!(d.message, format!("unknown key `{key}` {table}"), "{what}:\n{r}");
        // The span is the key as written, quotes and all.
        let written = &src[d.span.clone()];
        assert_eq!(written.trim_matches('"'), *key, "{what}: span {:?}", d.span);
        let did = format!("did you mean `{suggestion}`?");
        assert_eq!(d.label, did, "{what}:\n{r}");
        assert!(d.hint.as_deref().is_some_and(|h| h.starts_with(&did)), "{what}:\n{r}");
        let text = r.render();
        assert!(text.contains(&format!("field: {field}")) && text.contains(&did), "{what}:\n{text}");
    }
}

/// Without a likely suggestion, the hint still lists every key the table takes.
#[test]
fn unknown_keys_without_a_suggestion_list_the_table_keys() {
    let (r, d) = one(&edit("{ size = \"64MiB\" }", 0, "{ size = \"64MiB\", colour = \"blue\" }"));
    assert_eq!(d.field, "partition[0].memory.colour");
    assert_eq!(d.label, "not a key of this table");
    assert_eq!(d.hint.as_deref(), Some("keys allowed here: `size`, `ipa` and `pa`; see docs/config.md"), "{r}");
}

/// serde stops at the first unknown key; every other one in the file is reported too, in file order.
#[test]
fn every_unknown_key_is_reported() {
    let src = edit("kernel = \"hello\"", 0, "kernel = \"hello\"\nbootarg = 1")
        .replacen("start = \"1ms\"", "strat = \"1ms\"", 1)
        .replacen("name = \"qemu-virt-aarch64\"", "name = \"qemu-virt-aarch64\"\ngic = 3", 1);
    let r = refused(&src);
    let fields: Vec<&str> = r.errors().map(|d| d.field.as_str()).collect();
    assert_eq!(fields, ["board.gic", "pool[0].windows[1].strat", "partition[0].bootarg"], "{r}");

    // A flood of them is cut short with a count of the rest.
    let many: String = (0..120).map(|i| format!("key{i} = 1\n")).collect();
    let r = refused(&edit("[[pool]]", 0, &format!("[hypervisor]\n{many}[[pool]]")));
    assert_eq!(r.errors().count(), 51, "{r}");
    assert_eq!(r.diags[0].field, "hypervisor.key0");
    assert_eq!(r.diags[50].message, "70 more unknown keys");
}

/// A missing required key names the exact table it is missing from, and shows a line to add.
#[test]
fn missing_keys_name_the_exact_table() {
    for (what, src, field, message, hint) in [
        (
            "an element of a multi-line array of inline tables",
            edit(", duration = \"1ms\" }", 1, " }"),
            "pool[0].windows[1].duration",
            "missing required key `duration` in `pool[0].windows[1]`",
            "add `duration = \"5ms\"`",
        ),
        (
            "the second [[array]] element",
            edit("kernel = \"hello\"\n", 1, ""),
            "partition[1].kernel",
            "missing required key `kernel` in `partition[1]`",
            "add `kernel = \"hello\"`",
        ),
        (
            "a table made by a dotted key",
            edit("memory = { size = \"64MiB\" }", 0, "memory.ipa = \"0x4000_0000\""),
            "partition[0].memory.size",
            "missing required key `size` in `partition[0].memory`",
            "add `size = \"64MiB\"`",
        ),
        (
            "the top level",
            BASE.replacen("[board]\nname = \"qemu-virt-aarch64\"\n", "", 1),
            "board",
            "missing required key `board`: the file has no `[board]` table",
            "add `[board]`",
        ),
    ] {
        let (r, d) = one(&src);
        assert_eq!(d.field, field, "{what}:\n{r}");
        assert_eq!(d.message, message, "{what}:\n{r}");
        assert!(d.hint.as_deref().is_some_and(|h| h.starts_with(hint)), "{what}:\n{r}");
        assert!(!d.span.is_empty(), "{what}: no span");
    }
}

/// Values of the wrong type: the key's path, both types in plain words and a correct line to copy; no Rust type
/// name anywhere in what the user sees.
#[test]
fn type_errors_are_in_plain_words() {
    for (src, field, message, hint) in [
        (
            edit("vcpus = [0]", 0, "vcpus = \"0\""),
            "partition[0].vcpus",
            "`partition[0].vcpus` must be a list `[...]`, not text in quotes",
            "write it as `vcpus = [0]`",
        ),
        (
            edit("cpus = [0, 1]", 0, "cpus = [0, \"1\"]"),
            "pool[0].cpus[1]",
            "`pool[0].cpus[1]` must be a whole number, not text in quotes",
            "write it as `cpus = [0, 1]`",
        ),
        (
            edit("name = \"qemu-virt-aarch64\"", 0, "name = \"qemu-virt-aarch64\"\ngic_version = 3.0"),
            "board.gic_version",
            "`board.gic_version` must be a whole number, not a number with a fraction",
            "write it as `gic_version = 3`",
        ),
        (
            edit("kernel = \"hello\"", 0, "kernel = \"hello\"\nconsole = \"yes\""),
            "partition[0].console",
            "`partition[0].console` must be true or false, not text in quotes",
            "write it as `console = true`",
        ),
        (
            edit("\"64MiB\"", 0, "1979-05-27"),
            "partition[0].memory.size",
            "`partition[0].memory.size` must be a whole number or text such as \"64MiB\" or \"0x4000_0000\", not a date or time",
            "write it as `size = \"64MiB\"`",
        ),
        (
            edit("memory = { size = \"64MiB\" }", 0, "memory = 64"),
            "partition[0].memory",
            "`partition[0].memory` must be a table `{ ... }`, not a whole number",
            "write it as `memory = { size = \"64MiB\" }`",
        ),
        (
            edit("[[pool]]", 0, "[pool]"),
            "pool",
            "`pool` must be a list of `[[pool]]` tables, not a `[table]`",
            "write each one as its own `[[pool]]` table",
        ),
        (
            format!("board = \"qemu-virt-aarch64\"\n{}", BASE.replacen("[board]\nname = \"qemu-virt-aarch64\"\n", "", 1)),
            "board",
            "`board` must be a `[board]` table, not text in quotes",
            "write it as `[board]` on a line of its own",
        ),
        (
            edit("name = \"qemu-virt-aarch64\"", 0, "name.x = \"qemu-virt-aarch64\""),
            "board.name",
            "`board.name` must be text in quotes, not a table (made by a dotted key)",
            "a dotted key such as `name.x = ...` makes `name` a table",
        ),
        (
            edit("cpus = [0, 1]", 0, "cpus = [0, 99999999999999999999]"),
            "pool[0].cpus[1]",
            "the number 99999999999999999999 is too large for `pool[0].cpus[1]`: it must be a whole number from -2^63 to 2^63-1 (9223372036854775807)",
            "for example `cpus = [0, 1]`",
        ),
        (
            edit("cpus = [0, 1]", 0, "cpus = [0, 9223372036854775808]"),
            "pool[0].cpus[1]",
            "the number 9223372036854775808 is too large for `pool[0].cpus[1]`",
            "for example `cpus = [0, 1]`",
        ),
        (
            edit("\"64MiB\"", 0, "18446744073709551615"),
            "partition[0].memory.size",
            "`partition[0].memory.size`: the number 18446744073709551615 is too large for a whole number here (at most 2^63-1, 9223372036854775807): write it in quotes instead: \"0xffff_ffff_ffff_ffff\"",
            "see docs/config.md",
        ),
        (
            edit("\"64MiB\"", 0, "-99999999999999999999"),
            "partition[0].memory.size",
            "`partition[0].memory.size`: the number -99999999999999999999 is too small: sizes and addresses cannot be negative",
            "see docs/config.md",
        ),
        (
            edit("\"64MiB\"", 0, "999999999999999999999999"),
            "partition[0].memory.size",
            "`partition[0].memory.size`: the number 999999999999999999999999 is too large: sizes and addresses are at most 2^64-1",
            "see docs/config.md",
        ),
        (
            edit("kernel = \"hello\"", 0, "kernel = hello"),
            "partition[0].kernel",
            "text must be written in quotes",
            "write it as `kernel = \"hello\"`",
        ),
    ] {
        let (r, d) = one(&src);
        assert_eq!(d.field, field, "{src}\n{r}");
        assert!(d.message.starts_with(message), "`{}` should start with `{message}`", d.message);
        assert!(d.hint.as_deref().is_some_and(|h| h.starts_with(hint)), "{r}");
        let text = r.render();
        assert_eq!(rust_words(&text), Vec::<String>::new(), "{text}");
    }
}

/// Every shipped config, each value replaced by values of every other type: whatever is wrong, the words are
/// plain, every diagnostic has a field and a hint, and nothing panics.
#[test]
fn no_rust_type_names_whatever_the_value() {
    let odd = [
        "\"x\"",
        "1.5",
        "true",
        "[1]",
        "[\"a\", 2]",
        "{ a = 1 }",
        "1979-05-27",
        "99999999999999999999",
        "-1",
        "18446744073709551615",
        "[[1]]",
        "[{ a = 1 }]",
    ];
    let dir = workspace_root().join("configs");
    let guests = GuestCatalog::with_names(["hello", "probe", "netprobe", "chanprobe", "diskprobe", "schedprobe"]);
    let ctx = Context { guests: &guests, base_dir: &dir };
    for name in ["qemu-aarch64-cyclic.toml", "qemu-aarch64-pv.toml", "qemu-aarch64-mixed.toml"] {
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let Some((key, _)) = line.split_once(" = ").filter(|(k, _)| !k.trim_start().starts_with('#')) else {
                continue;
            };
            for value in odd {
                let mut changed = lines.clone();
                let new = format!("{key} = {value}");
                changed[i] = &new;
                let src = changed.join("\n");
                let Err(r) = check_source(name, &src, "t", &ctx) else { continue };
                for d in &r.diags {
                    assert!(!d.field.is_empty() && d.hint.as_deref().is_some_and(|h| !h.is_empty()), "{new}:\n{r}");
                }
                let shown = r.render();
                assert_eq!(rust_words(&shown), Vec::<String>::new(), "{name}, {new}:\n{shown}");
            }
        }
    }
}

/// Control characters and bidirectional overrides that a config smuggles into names, keys or its own text never
/// reach the terminal raw.
#[test]
fn control_characters_are_escaped() {
    let raw_chars = ['\u{1b}', '\u{0}', '\u{7}', '\u{202e}', '\u{9b}', '\u{2066}'];
    let clean = |text: &str| !text.chars().any(|c| raw_chars.contains(&c));
    // In a string value, written as TOML escapes: the name reaches validation and its messages.
    let (r, _) = one(&edit("pool = \"rt\"", 1, "pool = \"r\\u001b[31mt\\u202e\\u0007\""));
    let text = r.render();
    assert!(clean(&text), "{text:?}");
    assert!(text.contains("[31mt"), "{text}");
    // In a quoted key: the field and the message show it escaped.
    let r = refused(&edit("kernel = \"hello\"", 0, "kernel = \"hello\"\n\"x\\u001by\\u0000\" = 1"));
    let text = r.render();
    assert!(clean(&text), "{text:?}");
    assert!(text.contains("\\x1b") && text.contains("\\0"), "{text}");
    // Raw in the file (TOML refuses them there): the source lines shown are sanitised, columns kept.
    let src = edit("kernel = \"hello\"", 0, "kernel = \"hel\u{1b}[2Jlo\u{202e}\"");
    let (r, d) = one(&src);
    let text = r.render();
    assert!(clean(&text), "{text:?}");
    assert_eq!(d.message, "control character U+001B is not allowed here", "{text}");
    let (line, col) = r.line_col(d.span.start);
    assert!(text.contains(&format!("t.toml:{line}:{col}")), "{text}");
    assert!(text.contains("kernel = \"hel?[2Jlo\u{fffd}\""), "{text}");
    // In the file's name.
    let r = Report::new("a\u{1b}]0;title\u{7}.toml", "x = 1");
    assert_eq!(r.file_name(), "a\\x1b]0;title\\x07.toml");
}

/// A file that is not UTF-8 is reported at the offending byte, with the byte's value.
#[test]
fn bytes_that_are_not_utf8_get_a_line_and_column() {
    let mut bytes = b"[board]\nname = \"qemu-virt-aarch64\"\n# caf".to_vec();
    bytes.push(0xE9); // Latin-1 e-acute
    bytes.extend_from_slice(b"\n");
    let r = decode_source("x.toml", bytes).unwrap_err();
    let d = &r.diags[0];
    assert_eq!(r.location(d), "x.toml:3:6");
    assert_eq!(d.message, "the file is not UTF-8 text: byte 0xE9 is not valid UTF-8");
    assert!(d.hint.as_deref().is_some_and(|h| h.contains("UTF-8")), "{r}");
    assert!(r.render().contains("# caf\u{fffd}"), "{}", r.render());
    // Cut in the middle of a character at the end of the file.
    let mut bytes = "[board]\nname = \"é".as_bytes().to_vec();
    bytes.extend_from_slice(&"€".as_bytes()[..2]);
    let r = decode_source("x.toml", bytes).unwrap_err();
    assert_eq!(r.location(&r.diags[0]), "x.toml:2:10");
    assert_eq!(
        r.diags[0].message,
        "the file is not UTF-8 text: it ends in the middle of a character (bytes 0xE2 0x82)"
    );
    assert_eq!(r.diags[0].field, "board.name");
    assert_eq!(decode_source("x.toml", b"a = 1".to_vec()).unwrap(), "a = 1");
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ib-toml-shapes-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The config file itself: what cannot be read is refused before it is opened, in plain words.
#[test]
fn config_files_that_cannot_be_read_get_plain_messages() {
    let dir = temp_dir("inputs");
    let guests = GuestCatalog::with_names(["hello"]);
    let big = dir.join("big.toml");
    std::fs::write(&big, vec![b'#'; (1 << 20) + 1]).unwrap();
    let fifo = dir.join("fifo.toml");
    let have_fifo = std::process::Command::new("mkfifo").arg(&fifo).status().is_ok_and(|s| s.success());
    let mut cases = vec![
        (dir.join("missing.toml"), "no such file"),
        (dir.clone(), "it is a directory, not a file"),
        (big, "it is 1048577 bytes, more than the 1048576 bytes accepted here"),
        (PathBuf::from("/dev/null"), "it is a character device, not a regular file"),
    ];
    if have_fifo {
        cases.push((fifo, "it is a named pipe (FIFO), not a regular file"));
    }
    for (path, words) in cases {
        let e = match check_with(&path, &guests) {
            Err(e @ Error::Read { .. }) => e.to_string(),
            Err(e) => panic!("{}: {e}", path.display()),
            Ok(_) => panic!("{}: accepted", path.display()),
        };
        assert!(e.starts_with("cannot read ") && e.ends_with(words), "{e}");
        assert!(!e.contains("os error") && !e.contains("Kind") && !e.contains('{'), "{e}");
    }
    // Not UTF-8: a diagnostic at the byte.
    let latin1 = dir.join("latin1.toml");
    std::fs::write(&latin1, b"[board]\nname = \"qemu-virt-aarch64\"\n\n# Andr\xe9\n").unwrap();
    match check_with(&latin1, &guests) {
        Err(Error::Config(r)) => {
            assert_eq!(r.line_col(r.diags[0].span.start), (4, 7), "{r}");
            assert!(r.diags[0].message.contains("0xE9"), "{r}");
        }
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("accepted"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}
