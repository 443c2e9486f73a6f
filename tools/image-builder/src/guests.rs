//! The bare-metal guests of this workspace (`tests/guests/*`), which configs name by their short name:
//! `kernel = "hello"` is the package `guest-hello`.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

/// Short name → package name of every guest program found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GuestCatalog {
    guests: BTreeMap<String, String>,
}

/// Prefix of guest package names.
pub const PACKAGE_PREFIX: &str = "guest-";

impl GuestCatalog {
    /// Guests under `workspace/tests/guests`: each directory whose `Cargo.toml` names a package `guest-NAME` and
    /// which has a `src/main.rs` (libraries such as the guest runtime are not guests).
    pub fn scan(workspace: &Path) -> GuestCatalog {
        let mut guests = BTreeMap::new();
        let Ok(entries) = fs::read_dir(workspace.join("tests/guests")) else {
            return GuestCatalog { guests };
        };
        for entry in entries.flatten() {
            let dir = entry.path();
            if !dir.join("src/main.rs").is_file() {
                continue;
            }
            let Ok(text) = fs::read_to_string(dir.join("Cargo.toml")) else {
                continue;
            };
            let Ok(manifest) = text.parse::<toml::Table>() else {
                continue;
            };
            let package = manifest.get("package").and_then(|p| p.get("name")).and_then(|n| n.as_str());
            if let Some(short) = package.and_then(|p| p.strip_prefix(PACKAGE_PREFIX)) {
                guests.insert(short.to_owned(), package.unwrap_or_default().to_owned());
            }
        }
        GuestCatalog { guests }
    }

    /// A catalog with these short names (for tests).
    pub fn with_names<'a>(names: impl IntoIterator<Item = &'a str>) -> GuestCatalog {
        GuestCatalog { guests: names.into_iter().map(|n| (n.to_owned(), format!("{PACKAGE_PREFIX}{n}"))).collect() }
    }

    /// The package of a guest.
    pub fn package(&self, name: &str) -> Option<&str> {
        self.guests.get(name).map(String::as_str)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.guests.keys().map(String::as_str)
    }
}

/// Whether a `kernel` value names a guest rather than a file: a bare word without `/`, `\` or `.`.
pub fn is_guest_name(kernel: &str) -> bool {
    !kernel.is_empty() && kernel.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_versus_paths() {
        assert!(is_guest_name("hello"));
        assert!(is_guest_name("latency-probe"));
        assert!(!is_guest_name("./hello"));
        // A file without a directory or extension needs `./`: a bare word is a guest name.
        assert!(is_guest_name("Image"));
        assert!(!is_guest_name("./Image"));
        assert!(!is_guest_name("kernels/Image"));
        assert!(!is_guest_name("vmlinuz.bin"));
        assert!(!is_guest_name(""));
    }

    #[test]
    fn scans_guest_programs_only() {
        let dir = std::env::temp_dir().join(format!("ib-guests-{}", std::process::id()));
        let mk = |sub: &str, name: &str, main: bool| {
            let d = dir.join("tests/guests").join(sub);
            fs::create_dir_all(d.join("src")).unwrap();
            fs::write(d.join("Cargo.toml"), format!("[package]\nname = \"{name}\"\n")).unwrap();
            fs::write(d.join(if main { "src/main.rs" } else { "src/lib.rs" }), "").unwrap();
        };
        mk("hello", "guest-hello", true);
        mk("probe", "guest-probe", true);
        mk("guest-rt", "guest-rt", false);
        mk("other", "not-a-guest", true);
        let cat = GuestCatalog::scan(&dir);
        assert_eq!(cat.names().collect::<Vec<_>>(), ["hello", "probe"]);
        assert_eq!(cat.package("hello"), Some("guest-hello"));
        assert_eq!(cat.package("rt"), None);
        fs::remove_dir_all(&dir).unwrap();
        assert_eq!(GuestCatalog::scan(&dir), GuestCatalog::default());
    }
}
