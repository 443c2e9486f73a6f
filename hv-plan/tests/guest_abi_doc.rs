//! docs/guest-abi.md's function tables against the crate: every row's name and ID(s) are in `abi::DOCUMENTED`,
//! and every documented ID has its row, so neither can change without the other.

use std::collections::BTreeSet;

use hv_plan::abi;

/// `(name, id)` of every table row whose first cell is a call name in backticks and whose second cell holds IDs
/// in backticks (`0x8400_0003` / `0xC400_0003`).
fn rows(doc: &str) -> BTreeSet<(String, u32)> {
    let mut out = BTreeSet::new();
    for line in doc.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let (Some(name), Some(ids)) = (cells.get(1), cells.get(2)) else { continue };
        let Some(name) = name.strip_prefix('`').and_then(|n| n.split('`').next()) else { continue };
        for id in ids.split('/').map(str::trim) {
            let Some(hex) = id.strip_prefix("`0x").and_then(|h| h.strip_suffix('`')) else { continue };
            if let Ok(v) = u32::from_str_radix(&hex.replace('_', ""), 16) {
                out.insert((name.to_string(), v));
            }
        }
    }
    out
}

#[test]
fn the_documents_function_ids_are_the_crates() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/guest-abi.md");
    let doc = std::fs::read_to_string(path).expect("docs/guest-abi.md");
    let documented = rows(&doc);
    let defined: BTreeSet<(String, u32)> = abi::DOCUMENTED.iter().map(|&(n, v)| (n.to_string(), v)).collect();
    let missing: Vec<_> = defined.difference(&documented).collect();
    let unknown: Vec<_> = documented.difference(&defined).collect();
    assert!(missing.is_empty(), "defined in hv-plan but not in docs/guest-abi.md's tables: {missing:x?}");
    assert!(unknown.is_empty(), "in docs/guest-abi.md's tables but not hv-plan's abi::DOCUMENTED: {unknown:x?}");
}

#[test]
fn the_document_announces_the_crates_abi_version() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/guest-abi.md");
    let doc = std::fs::read_to_string(path).expect("docs/guest-abi.md");
    let (major, minor) = abi::VERSION;
    for promise in
        [format!("# hv-static guest ABI, version {major}.{minor}\n"), format!("`abi-version = <{major} {minor}>`")]
    {
        assert!(doc.contains(&promise), "docs/guest-abi.md does not say {promise:?}");
    }
}

#[test]
fn the_row_reader_reads_pairs_and_skips_other_tables() {
    let doc = "| function | ID | result |\n|---|---|---|\n| `CPU_ON` | `0x8400_0003` / `0xC400_0003` | 0 |\n\
               | RAM | `0x4000_0000` | as configured |\n| `X` | none | y |\n";
    let got = rows(doc);
    let want: BTreeSet<(String, u32)> =
        [("CPU_ON".to_string(), 0x8400_0003), ("CPU_ON".to_string(), 0xC400_0003)].into_iter().collect();
    assert_eq!(got, want);
}
