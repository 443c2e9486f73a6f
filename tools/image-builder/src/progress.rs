//! Progress output on stderr: spinners on a terminal, plain lines otherwise, nothing with `--quiet`.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Quiet,
    Plain,
    Fancy,
}

/// Where progress goes.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    mode: Mode,
}

impl Progress {
    /// Spinners when stderr is a terminal, plain lines when it is not, nothing when `quiet`.
    pub fn new(quiet: bool) -> Progress {
        let mode = if quiet {
            Mode::Quiet
        } else if std::io::stderr().is_terminal() {
            Mode::Fancy
        } else {
            Mode::Plain
        };
        Progress { mode }
    }

    pub fn quiet() -> Progress {
        Progress { mode: Mode::Quiet }
    }

    pub fn is_quiet(&self) -> bool {
        self.mode == Mode::Quiet
    }

    /// A one-line status message (`   Building ...`), aligned like cargo's.
    pub fn status(&self, verb: &str, msg: &str) {
        if self.mode != Mode::Quiet {
            crate::say!("{verb:>12} {msg}");
        }
    }

    /// Starts a long step; the returned handle shows what it is doing until finished.
    pub fn spinner(&self, verb: &str, msg: &str) -> Spinner {
        let bar = match self.mode {
            Mode::Fancy => {
                let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
                let style =
                    ProgressStyle::with_template("{spinner:.green} {prefix:>10.cyan.bold} {msg:.dim} [{elapsed}]")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner());
                bar.set_style(style);
                bar.set_prefix(verb.to_owned());
                bar.set_message(msg.to_owned());
                bar.enable_steady_tick(Duration::from_millis(100));
                Some(bar)
            }
            Mode::Plain => {
                crate::say!("{verb:>12} {msg}");
                None
            }
            Mode::Quiet => None,
        };
        Spinner { bar, verb: verb.to_owned(), msg: msg.to_owned() }
    }
}

/// A running step.
pub struct Spinner {
    bar: Option<ProgressBar>,
    verb: String,
    msg: String,
}

impl Spinner {
    /// Shows the latest thing the step is doing (on a terminal only).
    pub fn detail(&self, detail: &str) {
        if let Some(bar) = &self.bar {
            let detail: String = detail.chars().take(70).collect();
            bar.set_message(format!("{}: {detail}", self.msg));
        }
    }

    /// Ends the step, leaving `verb msg` behind on a terminal.
    pub fn finish(self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
            crate::say!("{:>12} {} ({:.1}s)", self.verb, self.msg, bar.elapsed().as_secs_f32());
        }
    }

    /// Ends the step without leaving anything behind.
    pub fn abandon(self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
