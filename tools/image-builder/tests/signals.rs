//! QEMU dies with the builder, and an interactive QEMU still gets the terminal.
//!
//! A real `run` builds hv-static first (minutes), so these drive `image-builder __boot-command`, which streams any
//! program exactly the way `run` streams QEMU (src/cli/mod.rs). The stand-in is a shell that writes its pid and
//! that of a background child (QEMU's own helpers, say) to a file, so the test can check that the whole process
//! group is gone.

use std::fs;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, killpg, Signal};
use nix::sys::termios::{tcgetattr, LocalFlags};
use nix::unistd::{getpgid, Pid};

const BUILDER: &str = env!("CARGO_BIN_EXE_image-builder");

/// A fresh directory for one test's files.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("image-builder-signals-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// The stand-in for QEMU: starts a background `sleep` (not holding the output pipe, which the builder reads until
/// it closes), writes both pids (child first) to `pids`, then runs `rest`.
fn fake_qemu(pids: &Path, rest: &str) -> Vec<String> {
    let script = format!(
        "sleep 60 </dev/null >/dev/null 2>&1 & echo $! > {p}.tmp; echo $$ >> {p}.tmp; mv {p}.tmp {p}; {rest}",
        p = pids.display()
    );
    vec!["sh".into(), "-c".into(), script]
}

fn builder(args: &[&str], program: &[String]) -> Command {
    let mut cmd = Command::new(BUILDER);
    cmd.arg("__boot-command").args(args).arg("--").args(program);
    cmd
}

/// The pids the stand-in wrote, once it has.
fn read_pids(file: &Path) -> Vec<Pid> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(text) = fs::read_to_string(file) {
            let pids: Vec<Pid> = text.lines().filter_map(|l| l.trim().parse().ok()).map(Pid::from_raw).collect();
            if pids.len() == 2 {
                return pids;
            }
        }
        assert!(Instant::now() < deadline, "the stand-in never wrote {}", file.display());
        thread::sleep(Duration::from_millis(20));
    }
}

/// Whether a process is still running: it exists and is not a zombie (a zombie whose parent died waits for init,
/// which in a container may never reap it).
fn running(pid: Pid) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        // `pid (comm) S ...`: the state follows the last `)`.
        Ok(stat) => stat.rsplit_once(')').is_some_and(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X'])),
        Err(_) => false,
    }
}

/// Waits until none of `pids` runs; kills the survivors and fails otherwise.
fn assert_gone_within(pids: &[Pid], limit: Duration, what: &str) {
    let deadline = Instant::now() + limit;
    while pids.iter().any(|p| running(*p)) {
        if Instant::now() > deadline {
            let alive: Vec<Pid> = pids.iter().copied().filter(|p| running(*p)).collect();
            for p in &alive {
                let _ = kill(*p, Signal::SIGKILL);
            }
            panic!("{what}: {alive:?} still running {} s later", limit.as_secs());
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// The builder under test. Dropped, as when a test fails half-way, it and the stand-in's whole family are killed,
/// so a failing test leaves nothing behind.
struct Builder {
    child: Child,
    pids: PathBuf,
}

impl Drop for Builder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let text = fs::read_to_string(&self.pids).unwrap_or_default();
        // Only what still runs: a pid whose process is gone may already be someone else's.
        for pid in text.lines().filter_map(|l| l.trim().parse().ok()).map(Pid::from_raw).filter(|p| running(*p)) {
            let _ = killpg(pid, Signal::SIGKILL);
            let _ = kill(pid, Signal::SIGKILL);
        }
        if let Some(dir) = self.pids.parent() {
            let _ = fs::remove_dir_all(dir);
        }
    }
}

fn wait_with_timeout(child: &mut Child, limit: Duration) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("image-builder did not exit within {} s", limit.as_secs());
        }
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_signal_to_the_builder_stops_qemus_whole_group() {
    for signal in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
        let dir = scratch(signal.as_str());
        let pids = dir.join("pids");
        let child = builder(&[], &fake_qemu(&pids, "exec sleep 60"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut builder = Builder { child, pids: pids.clone() };
        let child = &mut builder.child;
        let family = read_pids(&pids);
        let leader = family[1];
        // QEMU leads a group of its own, which its background child is in.
        assert_eq!(getpgid(Some(leader)).ok(), Some(leader));
        assert_eq!(getpgid(Some(family[0])).ok(), Some(leader));
        assert!(family.iter().all(|p| running(*p)));

        kill(Pid::from_raw(child.id() as i32), signal).unwrap();
        let status = wait_with_timeout(child, Duration::from_secs(10));
        let mut stderr = String::new();
        let _ = child.stderr.take().unwrap().read_to_string(&mut stderr);
        // It stops QEMU, then dies of the signal, as a well-behaved tool does (a shell loop stops on Ctrl-C).
        assert_eq!(status.signal(), Some(signal as i32), "{signal}: {status:?}\n{stderr}");
        assert_gone_within(&family, Duration::from_secs(5), signal.as_str());
    }
}

#[test]
fn qemus_group_is_stopped_when_the_builder_is_done_with_it() {
    // Matched (success), timed out (failure): either way QEMU's background child goes too.
    for (args, code) in [(&["--until", "ready"][..], 0), (&["--timeout", "1", "--until", "never"][..], 1)] {
        let dir = scratch(&format!("done-{code}"));
        let pids = dir.join("pids");
        let out = builder(args, &fake_qemu(&pids, "echo ready; exec sleep 60")).stdin(Stdio::null()).output().unwrap();
        assert_eq!(out.status.code(), Some(code), "{}", String::from_utf8_lossy(&out.stderr));
        let family = read_pids(&pids);
        assert_gone_within(&family, Duration::from_secs(5), &format!("{args:?}"));
        let _ = fs::remove_dir_all(&dir);
    }
}

#[test]
fn a_panic_stops_the_groups_even_when_nothing_unwinds() {
    // What `panic = "abort"` leaves: the guard never drops, only the panic hook `image-builder` installs runs.
    image_builder::procgroup::stop_on_panic();
    let dir = scratch("panic");
    let pids = dir.join("pids");
    let program = fake_qemu(&pids, "exec sleep 60");
    let mut cmd = Command::new(&program[0]);
    cmd.args(&program[1..]).stdin(Stdio::null());
    let child = image_builder::procgroup::GroupChild::spawn(&mut cmd, false).unwrap();
    let family = read_pids(&pids);
    std::mem::forget(child);
    let panicked = thread::spawn(|| panic!("on purpose: the hook must stop QEMU")).join();
    assert!(panicked.is_err());
    assert_gone_within(&family, Duration::from_secs(5), "after a panic");
    let _ = fs::remove_dir_all(&dir);
}

/// A pseudo-terminal whose slave is the controlling terminal of a new session running the builder (`setsid -c`),
/// as a shell in a terminal window would run it.
struct Terminal {
    slave: OwnedFd,
    input: std::fs::File,
    output: mpsc::Receiver<Vec<u8>>,
    seen: Vec<u8>,
}

impl Terminal {
    fn start(program: &[String], pids: &Path) -> (Terminal, Builder) {
        let pty = nix::pty::openpty(None, None).unwrap();
        let child = Command::new("setsid")
            .arg("-c")
            .arg(BUILDER)
            .arg("__boot-command")
            .arg("--")
            .args(program)
            .stdin(Stdio::from(pty.slave.try_clone().unwrap()))
            .stdout(Stdio::from(pty.slave.try_clone().unwrap()))
            .stderr(Stdio::from(pty.slave.try_clone().unwrap()))
            .spawn()
            .expect("setsid (util-linux) runs");
        let master = std::fs::File::from(pty.master);
        let mut reader = master.try_clone().unwrap();
        let (tx, output) = mpsc::channel();
        thread::spawn(move || {
            let mut buf = [0u8; 1024];
            // EIO once no process has the slave open.
            while let Ok(n @ 1..) = reader.read(&mut buf) {
                if tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        let builder = Builder { child, pids: pids.to_owned() };
        (Terminal { slave: pty.slave, input: master, output, seen: Vec::new() }, builder)
    }

    /// Reads the terminal until its output contains `text`.
    fn expect(&mut self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !String::from_utf8_lossy(&self.seen).contains(text) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.output.recv_timeout(left) {
                Ok(chunk) => self.seen.extend(chunk),
                Err(_) => panic!("no `{text}` on the terminal; it shows:\n{}", String::from_utf8_lossy(&self.seen)),
            }
        }
    }

    fn local_flags(&self) -> LocalFlags {
        tcgetattr(&self.slave).unwrap().local_flags
    }
}

#[test]
fn interactive_qemu_gets_the_terminal_and_ctrl_c_is_a_byte_for_it() {
    // What QEMU's -nographic console does: the terminal raw and without signals, then reading it.
    let dir = scratch("tty");
    let pids = dir.join("pids");
    let qemu = fake_qemu(
        &pids,
        "stty raw -echo -isig && echo ready && echo \"got $(dd bs=1 count=1 2>/dev/null | od -An -tx1)\"",
    );
    let (mut tty, mut builder) = Terminal::start(&qemu, &pids);
    assert!(tty.local_flags().contains(LocalFlags::ISIG | LocalFlags::ICANON));
    // Where the user sees it, before QEMU starts.
    tty.expect("QEMU: Ctrl-C goes to the guest; Ctrl-A X quits, Ctrl-] n switches console input");
    // In a background group `stty` would have been stopped (SIGTTOU), and so would the read (SIGTTIN).
    tty.expect("ready");
    assert!(!tty.local_flags().contains(LocalFlags::ISIG));
    tty.input.write_all(b"\x03").unwrap();
    tty.expect("got  03");
    let status = wait_with_timeout(&mut builder.child, Duration::from_secs(10));
    assert!(status.success(), "{status:?}");
    // The stand-in left the terminal raw, as a killed QEMU would: the builder restored it.
    assert!(tty.local_flags().contains(LocalFlags::ISIG | LocalFlags::ICANON), "{:?}", tty.local_flags());
    assert_gone_within(&read_pids(&pids), Duration::from_secs(5), "after exit");
}

#[test]
fn sigterm_during_an_interactive_run_stops_qemu_and_restores_the_terminal() {
    let dir = scratch("tty-term");
    let pids = dir.join("pids");
    // Ignores SIGTERM, like a wedged QEMU: only SIGKILL after the grace period stops it.
    let qemu = fake_qemu(&pids, "trap '' TERM; stty raw -echo -isig && echo ready && exec sleep 60");
    let (mut tty, mut builder) = Terminal::start(&qemu, &pids);
    tty.expect("ready");
    assert!(!tty.local_flags().contains(LocalFlags::ISIG));
    let family = read_pids(&pids);
    kill(Pid::from_raw(builder.child.id() as i32), Signal::SIGTERM).unwrap();
    let status = wait_with_timeout(&mut builder.child, Duration::from_secs(10));
    assert_eq!(status.signal(), Some(Signal::SIGTERM as i32), "{status:?}");
    assert_gone_within(&family, Duration::from_secs(5), "after SIGTERM");
    assert!(tty.local_flags().contains(LocalFlags::ISIG | LocalFlags::ICANON), "{:?}", tty.local_flags());
}
