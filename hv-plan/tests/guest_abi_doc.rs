//! docs/guest-abi.md's function tables against the code: every row's name and ID(s) are in `abi::DOCUMENTED`, and
//! every documented ID has its row; every result code the tables name (`` `DENIED` (-3) ``) and the versions they
//! give are hv-plan's constants, and pv-drivers' guest-side wrappers use the same IDs and print the same names and
//! numbers. So neither the document nor the code can change a number without the other.
//!
//! The conformance probe (tests/guests/abiprobe, `cargo test -p hv-tests --test abi`) checks the document against
//! what hv-static does; this checks it against what the code says.

use std::collections::BTreeSet;

use hv_plan::abi;
use pv_drivers::abi::hv::HvError;
use pv_drivers::abi::psci::PsciError;

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

fn doc() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/guest-abi.md");
    std::fs::read_to_string(path).expect("docs/guest-abi.md")
}

/// Which of the document's two call tables a row is in: the section heading above it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Table {
    /// "Hypercalls": SMCCC and PSCI.
    Hypercalls,
    /// "hv-static vendor calls".
    Vendor,
}

/// Every result code a table row names, as `(table, name, number)`: `` `NAME` (-N) `` (an error) and `0 (SUCCESS)`.
fn codes(doc: &str) -> BTreeSet<(Table, String, i32)> {
    let mut out = BTreeSet::new();
    let mut table = None;
    for line in doc.lines() {
        if let Some(heading) = line.strip_prefix("## ") {
            table = if heading.starts_with("Hypercalls") {
                Some(Table::Hypercalls)
            } else if heading.starts_with("hv-static vendor calls") {
                Some(Table::Vendor)
            } else {
                None
            };
        }
        let Some(table) = table.filter(|_| line.starts_with("| `")) else { continue };
        // `NAME` (-N)
        for (i, _) in line.match_indices("` (-") {
            let name = line[..i].rsplit('`').next().unwrap_or("");
            let number: String = line[i + 3..].chars().take_while(|&c| c == '-' || c.is_ascii_digit()).collect();
            if let (true, Ok(n)) = (is_code_name(name), number.parse()) {
                out.insert((table, name.to_string(), n));
            }
        }
        // N (NAME), as in "`x0` = 0 (SUCCESS)"
        for (i, _) in line.match_indices(" (SUCCESS)") {
            let number: String = line[..i].chars().rev().take_while(|c| c.is_ascii_digit()).collect();
            if let Ok(n) = number.chars().rev().collect::<String>().parse() {
                out.insert((table, "SUCCESS".to_string(), n));
            }
        }
    }
    out
}

/// A result code's name: upper case and underscores, not a call (those have IDs, checked above).
fn is_code_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_uppercase() || c == '_') && !name.starts_with("HV_")
}

/// `(row name, value)` of each row whose result cell is a version: `` `0x1_0001` (1.1) ``.
fn versions(doc: &str) -> BTreeSet<(String, u32)> {
    let mut out = BTreeSet::new();
    for line in doc.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let (Some(name), Some(result)) = (cells.get(1), cells.get(3)) else { continue };
        let Some(name) = name.strip_prefix('`').and_then(|n| n.split('`').next()) else { continue };
        let Some(hex) = result.strip_prefix("`0x").and_then(|r| r.split('`').next()) else { continue };
        if let Ok(v) = u32::from_str_radix(&hex.replace('_', ""), 16) {
            out.insert((name.to_string(), v));
        }
    }
    out
}

/// hv-plan's constant for a code the "Hypercalls" table names: PSCI's numbering (SMCCC's NOT_SUPPORTED is the same).
fn hypercall_code(name: &str) -> Option<Vec<i32>> {
    use abi::psci;
    Some(match name {
        "SUCCESS" => vec![psci::SUCCESS],
        "NOT_SUPPORTED" => vec![psci::NOT_SUPPORTED, abi::smccc::NOT_SUPPORTED],
        "INVALID_PARAMETERS" => vec![psci::INVALID_PARAMETERS],
        "DENIED" => vec![psci::DENIED],
        "ALREADY_ON" => vec![psci::ALREADY_ON],
        "ON_PENDING" => vec![psci::ON_PENDING],
        _ => return None,
    })
}

/// hv-plan's constant for a code the vendor table names.
fn vendor_code(name: &str) -> Option<i32> {
    use abi::hv;
    Some(match name {
        "SUCCESS" => hv::SUCCESS,
        "NOT_SUPPORTED" => hv::NOT_SUPPORTED,
        "INVALID_PARAMETERS" => hv::INVALID_PARAMETERS,
        "DENIED" => hv::DENIED,
        "ALREADY" => hv::ALREADY,
        _ => return None,
    })
}

#[test]
fn the_documents_function_ids_are_the_crates() {
    let doc = doc();
    let documented = rows(&doc);
    let defined: BTreeSet<(String, u32)> = abi::DOCUMENTED.iter().map(|&(n, v)| (n.to_string(), v)).collect();
    let missing: Vec<_> = defined.difference(&documented).collect();
    let unknown: Vec<_> = documented.difference(&defined).collect();
    assert!(missing.is_empty(), "defined in hv-plan but not in docs/guest-abi.md's tables: {missing:x?}");
    assert!(unknown.is_empty(), "in docs/guest-abi.md's tables but not hv-plan's abi::DOCUMENTED: {unknown:x?}");
}

/// pv-drivers' wrappers call the IDs hv-plan defines (they re-export them today; this keeps a local copy from
/// creeping in unnoticed).
#[test]
fn pv_drivers_calls_the_documented_ids() {
    use pv_drivers::abi::{hv, psci, smccc};
    let wrappers: &[(&str, u32)] = &[
        ("SMCCC_VERSION", smccc::SMCCC_VERSION),
        ("SMCCC_ARCH_FEATURES", smccc::SMCCC_ARCH_FEATURES),
        ("PSCI_VERSION", psci::function::PSCI_VERSION),
        ("PSCI_FEATURES", psci::function::PSCI_FEATURES),
        ("CPU_OFF", psci::function::CPU_OFF),
        ("CPU_ON", psci::function::CPU_ON_32),
        ("CPU_ON", psci::function::CPU_ON_64),
        ("AFFINITY_INFO", psci::function::AFFINITY_INFO_32),
        ("AFFINITY_INFO", psci::function::AFFINITY_INFO_64),
        ("SYSTEM_OFF", psci::function::SYSTEM_OFF),
        ("SYSTEM_RESET", psci::function::SYSTEM_RESET),
        ("HV_SCHED_FRAME", hv::function::HV_SCHED_FRAME),
        ("HV_SCHED_WINDOW", hv::function::HV_SCHED_WINDOW),
        ("HV_CPU_EXITS", hv::function::HV_CPU_EXITS),
        ("HV_CHANNEL_SIGNAL", hv::function::HV_CHANNEL_SIGNAL),
        ("HV_PARTITION_INFO", hv::function::HV_PARTITION_INFO),
        ("HV_PARTITION_CONTROL", hv::function::HV_PARTITION_CONTROL),
    ];
    let documented = rows(&doc());
    for &(name, id) in wrappers {
        assert!(
            documented.contains(&(name.to_string(), id)),
            "pv-drivers calls {name} with {id:#x}, which no row of docs/guest-abi.md gives it"
        );
    }
}

#[test]
fn the_documents_result_codes_are_the_crates() {
    let found = codes(&doc());
    let mut bad = Vec::new();
    for (table, name, n) in &found {
        let (defined, printed) = match table {
            Table::Hypercalls => {
                let Some(defined) = hypercall_code(name) else {
                    bad.push(format!("{table:?} table: `{name}` ({n}) has no constant in hv-plan"));
                    continue;
                };
                (defined, (*n != 0).then(|| PsciError::from_code(*n).to_string()))
            }
            Table::Vendor => {
                let Some(defined) = vendor_code(name) else {
                    bad.push(format!("{table:?} table: `{name}` ({n}) has no constant in hv-plan"));
                    continue;
                };
                (vec![defined], (*n != 0).then(|| HvError::from_code(*n).to_string()))
            }
        };
        if defined.iter().any(|d| d != n) {
            bad.push(format!("{table:?} table: `{name}` ({n}), hv-plan says {defined:?}"));
        }
        // pv-drivers names an error as the document does: "DENIED (-3)".
        if let Some(printed) = printed.filter(|p| *p != format!("{name} ({n})")) {
            bad.push(format!("{table:?} table: `{name}` ({n}), pv-drivers prints {printed:?}"));
        }
    }
    assert!(bad.is_empty(), "docs/guest-abi.md's result codes disagree with the code:\n{}", bad.join("\n"));
    // The reader found the codes each table gives (a change in the document's wording must not silence it).
    for (table, names) in [
        (Table::Hypercalls, &["NOT_SUPPORTED", "INVALID_PARAMETERS", "DENIED", "ALREADY_ON", "ON_PENDING"][..]),
        (Table::Vendor, &["SUCCESS", "NOT_SUPPORTED", "INVALID_PARAMETERS", "DENIED", "ALREADY"][..]),
    ] {
        for name in names {
            assert!(found.iter().any(|(t, n, _)| *t == table && n == name), "{table:?} table: no `{name}` (-N) read");
        }
    }
}

#[test]
fn the_documents_versions_are_the_crates() {
    let found = versions(&doc());
    let want: BTreeSet<(String, u32)> =
        [("SMCCC_VERSION".to_string(), abi::smccc::VERSION_1_1), ("PSCI_VERSION".to_string(), abi::psci::VERSION_1_1)]
            .into_iter()
            .collect();
    assert_eq!(found, want, "docs/guest-abi.md's version results against hv-plan's");
}

#[test]
fn the_code_reader_reads_names_and_numbers_per_table() {
    let doc = "## Hypercalls (x)\n| `CPU_ON` | `0x1` | 0; `INVALID_PARAMETERS` (-2); `ALREADY_ON` (-4) |\n\
               Not a row: `DENIED` (-3)\n## hv-static vendor calls\n| `HV_X` | `0x2` | `x0` = 0 (SUCCESS), `ALREADY` (-4) |\n\
               ## Other\n| `A` | `B` (-9) |\n";
    let got: Vec<_> = codes(doc).into_iter().collect();
    let want = vec![
        (Table::Hypercalls, "ALREADY_ON".to_string(), -4),
        (Table::Hypercalls, "INVALID_PARAMETERS".to_string(), -2),
        (Table::Vendor, "ALREADY".to_string(), -4),
        (Table::Vendor, "SUCCESS".to_string(), 0),
    ];
    assert_eq!(got, want);
}

#[test]
fn the_document_announces_the_crates_abi_version() {
    let doc = doc();
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
