//! Booting a built image in QEMU, streaming the console, and stopping on a pattern or a timeout.

use std::io::{self, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use board_support::QemuRun;
use regex::Regex;

use crate::pipeline::{build_with, BuildOptions, Built, HvFeatures};
use crate::procgroup::{self, GroupChild};
use crate::{display_path, Error, Result};

/// What `run` does.
#[derive(Clone, Debug)]
pub struct RunOptions {
    pub config: PathBuf,
    /// Stop QEMU and fail after this long (`None`: wait for QEMU to exit).
    pub timeout: Option<Duration>,
    /// Stop QEMU and succeed as soon as the console output matches this regular expression. QEMU gets no stdin.
    pub until: Option<String>,
    /// No build progress.
    pub quiet: bool,
    /// Copy QEMU's output to our stdout/stderr as it arrives (the CLI does; tests usually do not).
    pub echo: bool,
    /// Start the CPUs in the Secure (`Some(true)`) or Non-secure (`Some(false)`) state, on a board whose QEMU model
    /// has that switch ([`board_support::Qemu::secure_option`]); `None`: the board's default. The image is the same
    /// either way.
    pub secure: Option<bool>,
    /// Guest-visible time from instructions, not the host clock: QEMU's [`ICOUNT`], so counter readings in the
    /// partitions are reproducible run to run (for scheduling measurements).
    pub icount: bool,
    /// The board's own disk when the config has host-backed disks (`None`: `out/NAME/host-disk.img`); created when
    /// missing, kept when it exists (see [`crate::hostdisk`]).
    pub host_disk: Option<PathBuf>,
}

/// QEMU's deterministic time: one instruction per nanosecond, never synchronised with the host, and idle time
/// skipped at once (`sleep=off`).
pub const ICOUNT: [&str; 2] = ["-icount", "shift=0,align=off,sleep=off"];

/// How a run ended.
#[derive(Clone, Debug, Default)]
pub struct RunOutcome {
    /// The command line used, program first.
    pub command: Vec<String>,
    /// Everything QEMU wrote to stdout (the serial console).
    pub output: String,
    /// Everything QEMU wrote to stderr.
    pub stderr: String,
    /// Whether `until` matched.
    pub matched: bool,
    /// Whether the timeout stopped QEMU.
    pub timed_out: bool,
    /// QEMU's exit status when it exited by itself.
    pub status: Option<ExitStatus>,
}

impl RunOutcome {
    /// Whether the run did what was asked: matched when a pattern was given, else QEMU exited successfully.
    pub fn success(&self, until: bool) -> bool {
        if until {
            self.matched
        } else {
            !self.timed_out && self.status.is_some_and(|s| s.success())
        }
    }
}

/// The QEMU command line for a built image (program first), with the board's network device when a switch has
/// it as its uplink.
pub fn command_line(built: &Built) -> Result<Vec<String>> {
    let s = &built.prepared.checked.system;
    let kernel = display_path(&built.image);
    let mut cmd = s
        .board
        .qemu_args(&QemuRun { gic: s.gic, cpus: s.smp(), ram_size: s.ram_size, kernel: &kernel })
        .ok_or_else(|| Error::Tool(format!("QEMU does not emulate board `{}`", s.board.name)))?;
    crate::needs::complete_qemu_command(s.board, &mut cmd);
    if let Some(dtb) = crate::needs::qemu_dtb(s.board) {
        crate::needs::check_board_tree(s.board, &dtb)?;
    }
    // QEMU puts the partitions' images in place at host speed, and hv-static skips its own copy (crate::preload),
    // where QEMU can tell it so.
    if s.board.qemu.is_some_and(|q| q.kernel_dtb) {
        cmd.extend(built.preload.qemu_args());
    }
    attach_uplink(s, &mut cmd);
    cmd.extend(crate::serials::passthrough_serials(built));
    Ok(cmd)
}

/// Adds the board's network device (QEMU's user-mode network) when a switch has it as its uplink. The transport is
/// the legacy one QEMU gives by default (no `-global virtio-mmio.force-legacy=false`): that global would change
/// every virtio-mmio device of the machine (the board's disk, a boot card U-Boot reads), and hv-static's driver
/// takes either.
fn attach_uplink(system: &crate::config::System, cmd: &mut Vec<String>) {
    if system.uplink_network().is_some() {
        cmd.extend(board_support::host_net_qemu_args());
    }
}

/// Builds the config, then boots it in QEMU. Prints the command line on stderr first (`+ qemu-system-...`). A board
/// QEMU does not boot with `-kernel` boots from its card, as with [`run_from_card`].
pub fn run(opts: &RunOptions) -> Result<RunOutcome> {
    run_with(opts, false, false).map(|(o, _)| o)
}

/// Builds the config, writes its SD card (`out/NAME/sdcard.img`, and the environment flash where the board's
/// U-Boot keeps its environment in one) and boots the card through the board's U-Boot in QEMU.
pub fn run_from_card(opts: &RunOptions) -> Result<RunOutcome> {
    run_with(opts, true, false).map(|(o, _)| o)
}

/// [`run`] (or [`run_from_card`]) of hv-static built with its event trace: when the run ends on `until` or the
/// timeout, the rings are pulled out of QEMU before it is stopped, decoded, and written to `out/NAME/trace.txt`
/// and `trace.svg` (see [`crate::trace`]). The trace is `None` when QEMU exited by itself (nothing left to read),
/// and an error when it could not be read or decoded; either way the run's outcome is returned.
pub fn run_traced(opts: &RunOptions, from_card: bool) -> Result<(RunOutcome, Option<Result<crate::trace::Recorded>>)> {
    run_with(opts, from_card, true)
}

type Traced = Option<Result<crate::trace::Recorded>>;

fn run_with(opts: &RunOptions, from_card: bool, trace: bool) -> Result<(RunOutcome, Traced)> {
    // The fixtures the config names, then QEMU and its firmware: all before a build that may take minutes.
    crate::needs::fetch_inputs(&opts.config)?;
    let checked = crate::pipeline::check(&opts.config)?;
    if from_card {
        crate::sdcard::qemu_runs_card(checked.system.board)?;
    }
    crate::needs::ensure_qemu(checked.system.board, from_card)?;
    let built = build_with(&BuildOptions { config: opts.config.clone(), quiet: opts.quiet }, HvFeatures { trace })?;
    let board = built.prepared.checked.system.board;
    let mut cmd = if from_card || board.qemu.is_some_and(|q| !q.kernel_boot) {
        let card = crate::sdcard::write_built_sdcard(&built)?;
        let flash = crate::sdcard::write_env_flash(&built.out_dir, board)?;
        let mut cmd = crate::sdcard::qemu_command(&built, &card, flash.as_deref())?;
        attach_uplink(&built.prepared.checked.system, &mut cmd);
        cmd
    } else {
        command_line(&built)?
    };
    if let Some(secure) = opts.secure {
        if !board.qemu_set_secure(&mut cmd, secure) {
            return Err(Error::Tool(format!("QEMU's model of board `{}` has no secure=on|off switch", board.name)));
        }
    }
    if opts.icount {
        cmd.extend(ICOUNT.map(String::from));
    }
    attach_host_disk(&built, opts.host_disk.as_deref(), &mut cmd)?;
    let files = crate::trace::Files::in_dir(&built.out_dir);
    if trace {
        let _ = std::fs::remove_file(&files.qmp);
        cmd.extend(crate::trace::extract::qmp_args(&files.qmp));
    }
    let package = built.prepared.checked.system.board.qemu.map(|q| q.package).unwrap_or("qemu");
    crate::say!("+ {}", cmd.join(" "));
    let until = match &opts.until {
        Some(re) => Some(Regex::new(re).map_err(|e| Error::Tool(format!("bad --until pattern: {e}")))?),
        None => None,
    };
    if !trace {
        return boot(&cmd, package, until.as_ref(), opts.timeout, opts.echo).map(|o| (o, None));
    }
    let mut dump = None;
    let outcome = boot_with_hook(&cmd, package, until.as_ref(), opts.timeout, opts.echo, &mut || {
        dump = Some(crate::trace::pull(&files, false))
    });
    let _ = std::fs::remove_file(&files.qmp);
    let outcome = outcome?;
    let recorded =
        dump.map(|d| d.and_then(|bytes| crate::trace::record(&built.prepared.checked.system, &files, &bytes)));
    Ok((outcome, recorded))
}

/// Adds the board's own disk to `cmd` when the system has host-backed disks, creating its file when missing.
fn attach_host_disk(built: &Built, path: Option<&Path>, cmd: &mut Vec<String>) -> Result<()> {
    let system = &built.prepared.checked.system;
    let path = path.map_or_else(|| crate::hostdisk::default_path(system), Path::to_path_buf);
    let Some(how) = crate::hostdisk::prepare(system, &built.prepared.layout, &path)? else { return Ok(()) };
    let what = match how {
        crate::hostdisk::Prepared::Created(n) => format!("created, {}", crate::units::size(n)),
        crate::hostdisk::Prepared::Kept(n) => format!("{}, kept from an earlier run", crate::units::size(n)),
    };
    crate::say!("+ board disk {} ({what})", display_path(&path));
    cmd.extend(board_support::host_disk_qemu_args(&display_path(&path)));
    Ok(())
}

enum Event {
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
    StdoutClosed,
}

fn pump(mut from: impl Read + Send + 'static, tx: mpsc::Sender<Event>, out: bool) {
    thread::spawn(move || {
        let mut buf = [0u8; 4096];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let chunk = buf[..n].to_vec();
                    let ev = if out { Event::Stdout(chunk) } else { Event::Stderr(chunk) };
                    if tx.send(ev).is_err() {
                        break;
                    }
                }
            }
        }
        if out {
            let _ = tx.send(Event::StdoutClosed);
        }
    });
}

/// What `run` says before an interactive QEMU starts: how to get out. QEMU's `-nographic` console takes the
/// terminal raw, so Ctrl-C is a byte for the guest; `Ctrl-A` is QEMU's own escape; hv-static's console input
/// switches partitions on `Ctrl-]` (hv-static/src/core/console/input.rs).
pub const INTERACTIVE_HINT: &str =
    "QEMU: Ctrl-C goes to the guest; Ctrl-A X quits, Ctrl-] n switches console input (Ctrl-] ? lists the partitions)";

/// Runs `cmd` (QEMU), streaming its output. With `until`, QEMU's stdin is closed and it is stopped as soon as its
/// stdout matches; without, stdin is inherited so the user can type to the console (Ctrl-A X quits QEMU): with
/// `echo` and a terminal on stdin, [`INTERACTIVE_HINT`] says so first.
///
/// QEMU leads a process group of its own ([`crate::procgroup`]), stopped whatever way this returns, and when the
/// process gets SIGINT, SIGTERM or SIGHUP; an interactive QEMU gets the terminal while it runs.
pub fn boot(
    cmd: &[String],
    package: &str,
    until: Option<&Regex>,
    timeout: Option<Duration>,
    echo: bool,
) -> Result<RunOutcome> {
    boot_with_hook(cmd, package, until, timeout, echo, &mut || {})
}

/// [`boot`], calling `before_stop` while QEMU still runs, right before it is stopped on a match or the timeout
/// (not when it exits by itself): the trace reads QEMU's memory then.
pub fn boot_with_hook(
    cmd: &[String],
    package: &str,
    until: Option<&Regex>,
    timeout: Option<Duration>,
    echo: bool,
    before_stop: &mut dyn FnMut(),
) -> Result<RunOutcome> {
    let (program, args) = cmd.split_first().ok_or_else(|| Error::Tool("empty QEMU command line".into()))?;
    let interactive = until.is_none();
    if interactive && echo && io::stdin().is_terminal() {
        crate::say!("{INTERACTIVE_HINT}");
    }
    // Declared before the child so it drops after it: QEMU's output is still echoed, and the terminal taken back,
    // while QEMU has the terminal (with `stty tostop`, a write from outside its foreground group stops the writer).
    let _writes = interactive.then(procgroup::SigttouBlocked::new);
    let mut command = Command::new(program);
    command
        .args(args)
        .stdin(if interactive { Stdio::inherit() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = GroupChild::spawn(&mut command, interactive).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => {
            Error::QemuNotFound { binary: Path::new(program).display().to_string(), package: package.to_owned() }
        }
        _ => Error::Tool(format!("cannot start {program}: {e}")),
    })?;
    let (tx, rx) = mpsc::channel();
    if let Some(out) = child.child().stdout.take() {
        pump(out, tx.clone(), true);
    }
    if let Some(err) = child.child().stderr.take() {
        pump(err, tx, false);
    }

    let deadline = timeout.filter(|t| !t.is_zero()).map(|t| Instant::now() + t);
    let mut outcome = RunOutcome { command: cmd.to_vec(), ..RunOutcome::default() };
    let mut stdout_bytes = Vec::new();
    let mut stderr_bytes = Vec::new();
    let mut stdout_open = true;
    loop {
        let wait = match deadline {
            Some(d) => match d.checked_duration_since(Instant::now()) {
                Some(left) => left,
                None => {
                    outcome.timed_out = true;
                    before_stop();
                    child.stop(procgroup::GRACE);
                    break;
                }
            },
            None => Duration::from_millis(200),
        };
        match rx.recv_timeout(wait.min(Duration::from_millis(200))) {
            Ok(Event::Stdout(chunk)) => {
                if echo {
                    let mut so = io::stdout().lock();
                    let _ = so.write_all(&chunk);
                    let _ = so.flush();
                }
                stdout_bytes.extend_from_slice(&chunk);
                if let Some(re) = until {
                    if re.is_match(&String::from_utf8_lossy(&stdout_bytes)) {
                        outcome.matched = true;
                        before_stop();
                        child.stop(procgroup::GRACE);
                        break;
                    }
                }
            }
            Ok(Event::Stderr(chunk)) => {
                if echo {
                    let _ = io::stderr().write_all(&chunk);
                }
                stderr_bytes.extend_from_slice(&chunk);
            }
            Ok(Event::StdoutClosed) => stdout_open = false,
            Err(mpsc::RecvTimeoutError::Timeout) | Err(mpsc::RecvTimeoutError::Disconnected) => {}
        }
        if !stdout_open {
            if let Ok(Some(status)) = child.try_wait() {
                outcome.status = Some(status);
                // Collect what is still buffered on stderr.
                while let Ok(ev) = rx.recv_timeout(Duration::from_millis(50)) {
                    if let Event::Stderr(chunk) = ev {
                        if echo {
                            let _ = io::stderr().write_all(&chunk);
                        }
                        stderr_bytes.extend_from_slice(&chunk);
                    }
                }
                break;
            }
        }
    }
    outcome.output = String::from_utf8_lossy(&stdout_bytes).into_owned();
    outcome.stderr = String::from_utf8_lossy(&stderr_bytes).into_owned();
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Vec<String> {
        vec!["sh".into(), "-c".into(), script.into()]
    }

    #[test]
    fn until_matches_and_stops_the_process() {
        let re = Regex::new("ready: [0-9]+").unwrap();
        let t = Instant::now();
        let o = boot(
            &sh("echo booting; sleep 0.2; printf 'ready: 4'; exec sleep 30"),
            "x",
            Some(&re),
            Some(Duration::from_secs(20)),
            false,
        )
        .unwrap();
        assert!(o.matched && !o.timed_out, "{o:?}");
        assert!(o.output.contains("booting"));
        assert!(o.success(true));
        assert!(t.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn exit_before_match_is_reported() {
        let re = Regex::new("never").unwrap();
        let o = boot(&sh("echo out; echo err >&2; exit 3"), "x", Some(&re), None, false).unwrap();
        assert!(!o.matched && !o.timed_out);
        assert_eq!(o.status.and_then(|s| s.code()), Some(3));
        assert_eq!(o.output, "out\n");
        assert_eq!(o.stderr, "err\n");
        assert!(!o.success(true));
    }

    #[test]
    fn timeout_stops_the_process() {
        let re = Regex::new("never").unwrap();
        let t = Instant::now();
        let o = boot(&sh("echo hi; exec sleep 30"), "x", Some(&re), Some(Duration::from_millis(500)), false).unwrap();
        assert!(o.timed_out && !o.matched, "{o:?}");
        assert!(t.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn zero_timeout_means_none() {
        let re = Regex::new("done").unwrap();
        let o = boot(&sh("sleep 0.3; echo done"), "x", Some(&re), Some(Duration::ZERO), false).unwrap();
        assert!(o.matched);
    }

    #[test]
    fn missing_emulator_names_the_package() {
        let cmd = vec!["qemu-system-doesnotexist".to_string()];
        let e = boot(&cmd, "qemu-system-arm", None, None, false).unwrap_err();
        assert_eq!(
            e.to_string(),
            "qemu-system-doesnotexist not found: install Debian's package qemu-system-arm (apt-get install qemu-system-arm)"
        );
    }
}
