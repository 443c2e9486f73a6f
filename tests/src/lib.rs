//! Helpers for the QEMU system tests in `tests/tests/`: build a config with the image builder, boot it, and give
//! the console output to the test's assertions.

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use image_builder::qemu::{run, RunOptions, RunOutcome};

pub mod boot;
pub mod checks;
pub mod hostile;
pub mod latency;
pub mod net;
mod session;
pub mod soak;
pub mod uplink;
pub use session::Session;

/// One QEMU system at a time: builds share the cargo target directory (each config compiles its own
/// hv-static), and the machine has two cores, which one emulated system with several CPUs already uses.
static SERIAL: Mutex<()> = Mutex::new(());

/// Holds the one-system-at-a-time lock (for tests that drive a [`Session`]).
pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// A config under `configs/`.
pub fn config(name: &str) -> PathBuf {
    image_builder::workspace_root().join("configs").join(name)
}

/// Makes sure the Debian packages in `needs` are installed: installs them on first use when the tests run as root,
/// otherwise fails naming the command to run. System tests never skip quietly.
pub fn require(needs: &[provision::packages::Need]) {
    if let Err(e) = provision::packages::ensure(needs) {
        panic!("{e}");
    }
}

/// Makes sure QEMU (`qemu-system-aarch64`, `qemu-system-arm`) is installed, as [`require`] does.
pub fn require_qemu(program: &'static str) {
    require(&[provision::packages::qemu(program, "qemu-system-arm")]);
}

/// Makes sure everything booting `config_name` needs is here: the fixtures its paths name (fetched on first use),
/// QEMU for its board and the firmware QEMU loads. Returns the QEMU program.
pub fn require_system(config_name: &str) -> &'static str {
    let path = config(config_name);
    image_builder::needs::fetch_inputs(&path).unwrap_or_else(|e| panic!("{config_name}: {e}"));
    let checked = image_builder::check(&path).unwrap_or_else(|e| panic!("{config_name}: {e}"));
    let board = checked.system.board;
    image_builder::needs::ensure_qemu(board, false).unwrap_or_else(|e| panic!("{config_name}: {e}"));
    board.qemu.unwrap_or_else(|| panic!("{config_name}: QEMU does not emulate board `{}`", board.name)).binary
}

/// The QEMU program that emulates the board of `config_name`, after [`require_system`].
pub fn qemu_program(config_name: &str) -> &'static str {
    require_system(config_name)
}

/// Builds and boots `config`, waiting at most `timeout` for the console to match `until`. Panics with the whole
/// console output when it does not, so a failure shows what the partitions did.
pub fn boot_until(config_name: &str, until: &str, timeout: Duration) -> RunOutcome {
    boot_until_in(config_name, None, until, timeout)
}

/// [`boot_until`] with the CPUs started in the Secure (`Some(true)`) or Non-secure (`Some(false)`) state, on a
/// board whose QEMU model has the switch (`None`: the board's default).
pub fn boot_until_in(config_name: &str, secure: Option<bool>, until: &str, timeout: Duration) -> RunOutcome {
    boot_with(config_name, secure, false, until, timeout)
}

/// [`boot_until`] under QEMU's deterministic time (`-icount`): guest-visible counter values are reproducible.
///
/// What `-icount` changes beyond that (QEMU 7.2): all vCPUs run in one host thread, taking turns (a turn ends when
/// the vCPU idles in WFI, at a timer deadline, or at QEMU's periodic kick, every 100 ms of virtual time). So a CPU
/// spinning on another (an SGI's answer, a lock held over there) may wait up to a whole turn of the other, in
/// guest-visible time; tests that measure across CPUs compare counter values from one CPU, or allow for it.
pub fn boot_until_icount(config_name: &str, until: &str, timeout: Duration) -> RunOutcome {
    boot_with(config_name, None, true, until, timeout)
}

fn boot_with(config_name: &str, secure: Option<bool>, icount: bool, until: &str, timeout: Duration) -> RunOutcome {
    boot_until_with(config_name, until, timeout, |o| {
        o.secure = secure;
        o.icount = icount;
    })
}

/// [`boot_until`] with more of the run's options set by `customize` (e.g. [`RunOptions::host_disk`]).
pub fn boot_until_with(
    config_name: &str,
    until: &str,
    timeout: Duration,
    customize: impl FnOnce(&mut RunOptions),
) -> RunOutcome {
    require_system(config_name);
    let _one_at_a_time = serial();
    let mut opts = RunOptions {
        config: config(config_name),
        timeout: Some(timeout),
        until: Some(until.to_string()),
        quiet: true,
        echo: false,
        secure: None,
        icount: false,
        host_disk: None,
    };
    customize(&mut opts);
    let out = run(&opts).unwrap_or_else(|e| panic!("building or booting {config_name} failed: {e}"));
    assert!(
        out.matched,
        "{config_name}: console never matched {until:?} within {timeout:?}\n--- command ---\n{}\n--- console ---\n{}\n--- stderr ---\n{}",
        out.command.join(" "),
        out.output,
        out.stderr
    );
    out
}

/// Lines of the console printed by partition `name` (without the prefix).
pub fn lines_of<'a>(out: &'a RunOutcome, name: &str) -> Vec<&'a str> {
    prefixed(&out.output, name)
}

/// The lines of `text` that `name` printed, without the prefix.
fn prefixed<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
    let prefix = format!("[{name}] ");
    text.lines().filter_map(|l| l.trim_end_matches('\r').strip_prefix(prefix.as_str())).collect()
}

/// [`lines_of`] without a last line QEMU did not finish printing: a run stopped on its pattern (or its timeout)
/// can cut the line under way anywhere, `beat 27 at 123 doorbells 0 exits 2` for `... exits 2364`, and a reader of
/// numbers must not take that for a value.
pub fn whole_lines_of<'a>(out: &'a RunOutcome, name: &str) -> Vec<&'a str> {
    prefixed(out.output.rfind('\n').map_or("", |end| &out.output[..end]), name)
}

/// A regex that matches once each pattern has appeared, in any order (the regex crate has no lookahead).
pub fn all_of(patterns: &[&str]) -> String {
    fn permutations(items: &[&str]) -> Vec<Vec<String>> {
        if items.len() <= 1 {
            return vec![items.iter().map(|s| s.to_string()).collect()];
        }
        let mut out = Vec::new();
        for i in 0..items.len() {
            let mut rest = items.to_vec();
            let first = rest.remove(i);
            for mut p in permutations(&rest) {
                p.insert(0, first.to_string());
                out.push(p);
            }
        }
        out
    }
    let alts: Vec<String> = permutations(patterns).into_iter().map(|p| p.join(".*")).collect();
    format!("(?s)(?:{})", alts.join("|"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_cut_by_the_end_of_the_run_is_not_whole() {
        let out =
            RunOutcome { output: "[v] beat 1 exits 90\r\n[w] x\n[v] beat 2 exits 2".into(), ..RunOutcome::default() };
        assert_eq!(lines_of(&out, "v"), ["beat 1 exits 90", "beat 2 exits 2"]);
        assert_eq!(whole_lines_of(&out, "v"), ["beat 1 exits 90"]);
        let ended = RunOutcome { output: "[v] a\n[v] b\n".into(), ..RunOutcome::default() };
        assert_eq!(whole_lines_of(&ended, "v"), ["a", "b"]);
    }

    use regex::Regex;

    #[test]
    fn all_of_matches_in_any_order_only_when_complete() {
        let re = Regex::new(&all_of(&["a1", "b2", "c3"])).unwrap();
        assert!(re.is_match("x c3\n b2 \n a1"));
        assert!(re.is_match("a1 b2 c3"));
        assert!(!re.is_match("a1 c3"));
    }
}
