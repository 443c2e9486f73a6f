//! Child processes that do not outlive the builder.
//!
//! QEMU runs as the leader of a process group of its own ([`GroupChild::spawn`]), so the builder can stop it and
//! anything it started with one signal. The group is stopped (SIGTERM, then SIGKILL after a grace period):
//! - when its [`GroupChild`] drops: normal return, an error, a panic that unwinds;
//! - when the builder receives SIGINT, SIGTERM or SIGHUP: a thread started with the first group stops every live
//!   group, gives the terminal back, then lets the signal's default action end the builder;
//! - when the builder panics with `panic = "abort"`: [`stop_on_panic`] installs a panic hook (the command line
//!   does; a library user whose threads may panic on purpose does not want one).
//!
//! A group of its own is not the terminal's foreground group, and a background process that reads the terminal or
//! changes its settings is stopped (SIGTTIN, SIGTTOU). So a child that is to read the terminal (`run` without
//! `--until`) gets it: it becomes the terminal's foreground group while it runs, and the builder takes the terminal
//! back, with the settings it had, once the child is stopped (QEMU restores them itself unless it is killed). Ctrl-C
//! is not affected: QEMU's `-nographic` console (`mon:stdio`) puts the terminal in raw mode without signals, so
//! Ctrl-C is a byte for the guest, as it always was.
//!
//! A builder killed with SIGKILL cannot stop anything; QEMU then keeps running.

use std::io::{self, IsTerminal};
use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Mutex, MutexGuard, Once, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, pthread_sigmask, SigSet, SigmaskHow, Signal};
use nix::sys::termios::{tcgetattr, tcsetattr, SetArg, Termios};
use nix::sys::wait::{waitid, Id, WaitPidFlag, WaitStatus};
use nix::unistd::{getpgrp, tcgetpgrp, tcsetpgrp, Pid};

/// How long a group has to exit after SIGTERM before it gets SIGKILL.
pub const GRACE: Duration = Duration::from_secs(2);

/// The signals that stop every live group (and then the builder).
pub const STOP_SIGNALS: [Signal; 3] = [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP];

/// How often a stop checks whether the group's leader has exited.
const POLL: Duration = Duration::from_millis(10);

/// The terminal as it was before a child got it.
#[derive(Clone, Debug)]
struct Terminal {
    /// The builder's process group, the terminal's foreground group before.
    owner: Pid,
    settings: Termios,
}

impl Terminal {
    /// The terminal on stdin, when there is one and the builder is in its foreground group (not a background job).
    fn ours() -> Option<Terminal> {
        let stdin = io::stdin();
        if !stdin.is_terminal() {
            return None;
        }
        let owner = getpgrp();
        if tcgetpgrp(stdin.as_fd()).ok()? != owner {
            return None;
        }
        Some(Terminal { owner, settings: tcgetattr(stdin.as_fd()).ok()? })
    }

    /// Makes `group` the terminal's foreground group.
    fn give(group: Pid) {
        with_sigttou_blocked(|| {
            let _ = tcsetpgrp(io::stdin().as_fd(), group);
        });
    }

    /// Takes the terminal back, with its earlier settings. Errors are ignored: the terminal may have hung up.
    fn restore(&self) {
        with_sigttou_blocked(|| {
            let stdin = io::stdin();
            let _ = tcsetpgrp(stdin.as_fd(), self.owner);
            let _ = tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &self.settings);
        });
    }
}

/// Runs `f` with SIGTTOU blocked in this thread: a process outside the terminal's foreground group may then set
/// the terminal's foreground group and settings (and write to it when `stty tostop` is on) instead of being stopped.
fn with_sigttou_blocked<T>(f: impl FnOnce() -> T) -> T {
    let _blocked = SigttouBlocked::new();
    f()
}

/// SIGTTOU blocked in the current thread until this drops (it must drop on the thread that made it).
#[derive(Debug)]
pub struct SigttouBlocked {
    old: Option<SigSet>,
}

impl SigttouBlocked {
    pub fn new() -> SigttouBlocked {
        let mut old = SigSet::empty();
        let ok = pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&SigSet::from(Signal::SIGTTOU)), Some(&mut old)).is_ok();
        SigttouBlocked { old: ok.then_some(old) }
    }
}

impl Default for SigttouBlocked {
    fn default() -> Self {
        SigttouBlocked::new()
    }
}

impl Drop for SigttouBlocked {
    fn drop(&mut self) {
        if let Some(old) = &self.old {
            let _ = pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(old), None);
        }
    }
}

/// A live group, as the signal thread and the panic hook see it.
#[derive(Debug)]
struct Entry {
    /// The group's id: its leader's pid.
    group: Pid,
    terminal: Option<Terminal>,
}

/// Every group spawned and not yet stopped.
static LIVE: Mutex<Vec<Entry>> = Mutex::new(Vec::new());

fn live() -> MutexGuard<'static, Vec<Entry>> {
    LIVE.lock().unwrap_or_else(PoisonError::into_inner)
}

fn take(group: Pid) -> Option<Entry> {
    let mut live = live();
    let i = live.iter().position(|e| e.group == group)?;
    Some(live.swap_remove(i))
}

/// A child process leading a process group of its own; the group is stopped when this drops.
#[derive(Debug)]
pub struct GroupChild {
    child: Child,
    group: Pid,
    stopped: bool,
}

impl GroupChild {
    /// Spawns `cmd` as the leader of a new process group and starts stopping groups on SIGINT, SIGTERM and SIGHUP
    /// (once per process). With `terminal`, when stdin is a terminal and the builder is in its foreground, the new
    /// group gets the terminal until it is stopped.
    pub fn spawn(cmd: &mut Command, terminal: bool) -> io::Result<GroupChild> {
        stop_on_signals();
        let terminal = if terminal { Terminal::ours() } else { None };
        cmd.process_group(0);
        // Spawned and registered under the lock: a signal arriving meanwhile is handled once the group is known.
        let mut live = live();
        let child = cmd.spawn()?;
        let group = Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX));
        if terminal.is_some() {
            Terminal::give(group);
            // The child may have touched the terminal before it was its own, and been stopped for it.
            let _ = killpg(group, Signal::SIGCONT);
        }
        live.push(Entry { group, terminal });
        Ok(GroupChild { child, group, stopped: false })
    }

    /// The group's leader.
    pub fn child(&mut self) -> &mut Child {
        &mut self.child
    }

    /// The leader's pid, which is also the group's id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The leader's exit status if it has exited, without waiting.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        self.child.try_wait()
    }

    /// Stops the group: SIGTERM to every process in it, SIGKILL to what is left once the leader has exited or
    /// `grace` has passed, then reaps the leader and gives the terminal back. Harmless when the group has already
    /// exited; only the first call does anything.
    pub fn stop(&mut self, grace: Duration) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = killpg(self.group, Signal::SIGTERM);
            let deadline = Instant::now() + grace;
            while Instant::now() < deadline && self.child.try_wait().ok().flatten().is_none() {
                thread::sleep(POLL);
            }
        }
        // The leader's children may outlive it.
        let _ = killpg(self.group, Signal::SIGKILL);
        let _ = self.child.wait();
        // Registered until now, so a signal arriving meanwhile still stops the group and restores the terminal.
        if let Some(t) = take(self.group).and_then(|e| e.terminal) {
            t.restore();
        }
    }
}

impl Drop for GroupChild {
    fn drop(&mut self) {
        self.stop(GRACE);
    }
}

/// Stops every live group, as [`GroupChild::stop`] does, from any thread: leaders are not reaped (their
/// [`GroupChild`] does that, or the builder's parent once the builder is gone).
pub fn stop_all(grace: Duration) {
    stop_entries(std::mem::take(&mut *live()), grace);
}

fn stop_entries(entries: Vec<Entry>, grace: Duration) {
    for e in &entries {
        let _ = killpg(e.group, Signal::SIGTERM);
    }
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline && entries.iter().any(|e| leader_running(e.group)) {
        thread::sleep(POLL);
    }
    for e in &entries {
        let _ = killpg(e.group, Signal::SIGKILL);
    }
    for t in entries.iter().filter_map(|e| e.terminal.as_ref()) {
        t.restore();
    }
}

/// Whether a group's leader (a child of this process) has not exited yet; it is not reaped.
fn leader_running(leader: Pid) -> bool {
    let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
    matches!(waitid(Id::Pid(leader), flags), Ok(WaitStatus::StillAlive))
}

/// Stops every live group on SIGINT, SIGTERM and SIGHUP, then ends the process as the signal would have. Called by
/// [`GroupChild::spawn`]; only the first call does anything.
pub fn stop_on_signals() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let numbers = STOP_SIGNALS.map(|s| s as i32);
        let mut signals = match signal_hook::iterator::Signals::new(numbers) {
            Ok(s) => s,
            Err(e) => {
                crate::say!("warning: cannot handle signals ({e}): QEMU may outlive an interrupted builder");
                return;
            }
        };
        let started = thread::Builder::new().name("stop-on-signal".into()).spawn(move || {
            if let Some(signal) = signals.forever().next() {
                STOPPING.store(signal, Ordering::SeqCst);
                stop_all(GRACE);
                let _ = signal_hook::low_level::emulate_default_handler(signal);
                // Not reached for these signals; should it be, exit the way a shell reports a signal.
                std::process::exit(128 + signal);
            }
        });
        if let Err(e) = started {
            crate::say!("warning: cannot handle signals ({e}): QEMU may outlive an interrupted builder");
        }
    });
}

/// The signal being handled by [`stop_on_signals`]'s thread (0: none).
static STOPPING: AtomicI32 = AtomicI32::new(0);

/// When SIGINT, SIGTERM or SIGHUP is being handled, waits (at most `limit`) for its handler to end the process, so
/// that a main thread done at the same moment (QEMU was stopped by the handler) does not exit with its own status
/// instead of the signal's. Returns at once otherwise.
pub fn let_a_stop_signal_finish(limit: Duration) {
    if STOPPING.load(Ordering::SeqCst) == 0 {
        return;
    }
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        thread::sleep(POLL);
    }
}

/// Stops every live group when any thread panics, after the panic message (for `panic = "abort"` builds, where no
/// [`GroupChild`] drops). For programs whose panics are fatal, such as the command line; only the first call does
/// anything.
pub fn stop_on_panic() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            previous(info);
            // `try_lock`: the panic may have happened with the list locked.
            if let Ok(mut live) = LIVE.try_lock() {
                let entries = std::mem::take(&mut *live);
                drop(live);
                stop_entries(entries, GRACE);
            }
        }));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether any process of `group` still runs. Zombies do not count: one whose parent has died waits for init
    /// to reap it, and in a container that may never happen.
    fn group_exists(group: u32) -> bool {
        let Ok(dir) = std::fs::read_dir("/proc") else { return killpg(Pid::from_raw(group as i32), None).is_ok() };
        dir.filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("stat")).ok()).any(|stat| {
            // `pid (comm) state ppid pgrp ...`: the fields after the last `)`.
            let fields: Vec<&str> = stat.rsplit_once(')').map_or(vec![], |(_, rest)| rest.split_whitespace().collect());
            fields.get(2) == Some(&group.to_string().as_str()) && !matches!(fields.first(), Some(&"Z") | Some(&"X"))
        })
    }

    /// A shell leading a group, with a grandchild that would outlive it; its output is the grandchild's pid.
    fn family(script: &str) -> GroupChild {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", script]).stdin(std::process::Stdio::null());
        GroupChild::spawn(&mut cmd, false).unwrap()
    }

    fn gone_within(group: u32, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if !group_exists(group) {
                return true;
            }
            thread::sleep(POLL);
        }
        false
    }

    #[test]
    fn drop_stops_the_whole_group() {
        let child = family("sleep 60 & sleep 60");
        let group = child.id();
        assert_eq!(nix::unistd::getpgid(Some(Pid::from_raw(group as i32))).unwrap().as_raw() as u32, group);
        assert!(live().iter().any(|e| e.group.as_raw() as u32 == group));
        let t = Instant::now();
        drop(child);
        assert!(gone_within(group, Duration::from_secs(1)), "group {group} survived its guard");
        assert!(t.elapsed() < GRACE, "sleep takes SIGTERM at once");
        assert!(!live().iter().any(|e| e.group.as_raw() as u32 == group));
    }

    #[test]
    fn a_group_that_ignores_sigterm_gets_sigkill_after_the_grace() {
        // The shell ignores SIGTERM, and so does the `sleep` it starts (an ignored signal stays ignored on exec).
        let mut child = family("trap '' TERM; sleep 60 & sleep 60");
        let group = child.id();
        thread::sleep(Duration::from_millis(200));
        let t = Instant::now();
        child.stop(Duration::from_millis(300));
        assert!(t.elapsed() >= Duration::from_millis(300));
        assert!(gone_within(group, Duration::from_secs(1)), "group {group} survived SIGKILL");
    }

    #[test]
    fn stop_after_exit_is_harmless() {
        let mut child = family("exit 3");
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            thread::sleep(POLL);
        };
        assert_eq!(status.code(), Some(3));
        let t = Instant::now();
        child.stop(GRACE);
        child.stop(GRACE);
        assert!(t.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn the_signal_path_stops_a_group_without_reaping_it() {
        let child = family("sleep 60");
        let group = child.id();
        stop_all_of(group);
        assert!(gone_within_or_zombie(group), "group {group} still running");
        assert!(!group_exists(group));
        drop(child);
    }

    /// [`stop_all`] limited to one group, so tests running alongside keep theirs.
    fn stop_all_of(group: u32) {
        let entry = take(Pid::from_raw(group as i32)).unwrap();
        stop_entries(vec![entry], GRACE);
    }

    /// [`stop_all`] does not reap: the leader stays a zombie until its `GroupChild` drops.
    fn gone_within_or_zombie(group: u32) -> bool {
        let deadline = Instant::now() + Duration::from_secs(1);
        while Instant::now() < deadline {
            if !leader_running(Pid::from_raw(group as i32)) {
                return true;
            }
            thread::sleep(POLL);
        }
        false
    }
}
