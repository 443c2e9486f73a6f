//! The `image-builder` command line: its clap definition ([`Cli`], also what completions and the man page are
//! generated from) and what each subcommand does. `src/main.rs` only parses and calls [`run`].
//!
//! Conventions: results go to stdout (the memory map, JSON, the board table, completions, the man page), everything
//! for humans (progress, diagnostics, errors) to stderr; the exit status is 0 on success, 1 on failure, 2 for a
//! command line clap rejects, QEMU's own status after an interactive `run`, and death by the signal itself when
//! SIGINT, SIGTERM or SIGHUP interrupts (after QEMU has been stopped).

pub mod board_facts;
pub mod boards;
pub mod json;

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use clap_complete::Shell;

use crate::progress::Progress;
use crate::qemu::{self, RunOutcome};
use crate::{default_config, display_path, pipeline, report, BuildOptions, Error, RunOptions};

/// `0.1.0 (git 1a2b3c4d5e6f)`: the package version and the commit it was built from (`-dirty` when tracked files
/// differed from it, `unknown` without git; see build.rs).
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (git ", env!("IMAGE_BUILDER_GIT_REVISION"), ")");

#[derive(Parser, Debug)]
#[command(
    name = "image-builder",
    version = VERSION,
    about = "Build and boot hv-static systems from a config file",
    long_about = "Build and boot hv-static systems from a config file.\n\n\
        A config (configs/NAME.toml, see docs/config.md) describes the board, the CPU pools and the partitions. \
        `check` validates it, `inspect` prints its memory map, `build` writes out/NAME/hv-static.img and `run` \
        boots it in QEMU. CONFIG defaults to configs/qemu-aarch64-demo.toml.",
    after_help = "Exit status: 0 on success, 1 on failure, 2 for a bad command line; `run` without --until exits \
        with QEMU's status."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Cmd,
}

/// How `check`, `inspect` and `boards` print their results.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For people.
    #[default]
    Text,
    /// One JSON document on stdout (for editors and CI); messages for people still go to stderr.
    Json,
}

/// `on` or `off`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    On,
    Off,
}

impl Switch {
    pub fn is_on(self) -> bool {
        self == Switch::On
    }
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Validate a config (no build).
    Check {
        /// The system config [default: configs/qemu-aarch64-demo.toml]
        config: Option<PathBuf>,
        /// Output format: `json` prints the diagnostics as one JSON document.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Print the memory layout (builds the guests the config names, not the hypervisor).
    Inspect {
        /// The system config [default: configs/qemu-aarch64-demo.toml]
        config: Option<PathBuf>,
        /// Output format: `json` prints the diagnostics and the layout as one JSON document.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// No progress output.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Build out/NAME/hv-static.img (and with --sdcard, out/NAME/sdcard.img).
    Build {
        /// The system config [default: configs/qemu-aarch64-demo.toml]
        config: Option<PathBuf>,
        /// Also write a bootable SD-card image: MBR, FAT32 with the image and a U-Boot boot script.
        #[arg(long)]
        sdcard: bool,
        /// Build hv-static with its event trace (per-CPU RAM rings; docs/trace.md) and keep its ELF as
        /// out/NAME/hv-static.elf for decoding.
        #[arg(long)]
        trace: bool,
        /// No progress output.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Build, then boot in QEMU (Ctrl-C goes to the guest; Ctrl-A X quits).
    Run {
        /// The system config [default: configs/qemu-aarch64-demo.toml]
        config: Option<PathBuf>,
        /// Stop after SECS seconds and fail (0: no limit).
        #[arg(long, value_name = "SECS")]
        timeout: Option<u64>,
        /// Stop and succeed as soon as the console output matches REGEX; fail if QEMU exits first.
        #[arg(long, value_name = "REGEX")]
        until: Option<String>,
        /// Boot from the SD card (`build --sdcard`) through the board's U-Boot instead of QEMU's -kernel (boards
        /// that boot only from their card always do).
        #[arg(long)]
        sdcard: bool,
        /// Start the CPUs in the Secure state (`on`) or not (`off`), on boards whose QEMU model has the switch
        /// (vexpress-a15); default: the board's.
        #[arg(long, value_enum, value_name = "on|off")]
        secure: Option<Switch>,
        /// Deterministic guest time: QEMU's `-icount shift=0,align=off,sleep=off` (for scheduling measurements).
        #[arg(long)]
        icount: bool,
        /// The board's own disk for `backing = "host"` disks [default: out/NAME/host-disk.img]; created from the
        /// disks' images when missing, kept as it is (with what the partitions wrote) when it exists.
        #[arg(long, value_name = "PATH")]
        host_disk: Option<PathBuf>,
        /// Build with the event trace; when the run ends on --until or --timeout, read the rings out of QEMU, print
        /// them and write out/NAME/trace.txt and trace.svg (docs/trace.md).
        #[arg(long)]
        trace: bool,
        /// No build progress.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Decode hv-static's event trace: from the QEMU of a `run --trace` still running, else out/NAME/trace.bin, or
    /// a dump of a board's RAM (raw, or U-Boot `md` output); prints it and writes trace.txt and trace.svg.
    Trace {
        /// The system config [default: configs/qemu-aarch64-demo.toml]
        config: Option<PathBuf>,
        /// The rings' memory from a board (the bytes of HV_TRACE_RINGS: see --locate), raw or as U-Boot `md` text.
        #[arg(long, value_name = "FILE")]
        dump: Option<PathBuf>,
        /// The trace build's ELF [default: out/NAME/hv-static.elf, written by `build --trace`].
        #[arg(long, value_name = "FILE")]
        elf: Option<PathBuf>,
        /// Only print where the rings are (address and size, to dump them from a board).
        #[arg(long)]
        locate: bool,
    },
    /// List the boards hv-static supports: CPUs, RAM, GIC, UARTs, devices that can be passed through, QEMU machine.
    Boards {
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Read a board's device tree and print what a board file takes from it (CPUs and how they start, GIC frames,
    /// interrupts, RAM banks, UARTs) as the Rust constants a new board-support module starts from.
    BoardFacts {
        /// The board's device tree blob (a .dtb: Debian's kernel packages ship them; QEMU writes its own with
        /// `-M MACHINE,dumpdtb=FILE`).
        dtb: PathBuf,
    },
    /// Print a completion script for SHELL (bash: `source <(image-builder completions bash)`).
    Completions {
        /// The shell to complete in.
        #[arg(value_enum)]
        shell: Shell,
    },
    /// Print the man page (roff): `image-builder man | man -l -`; with COMMAND, that command's page.
    Man {
        /// The command whose page to print [default: the page of image-builder itself].
        #[arg(value_parser = clap::builder::PossibleValuesParser::new(MAN_PAGES))]
        command: Option<String>,
    },
}

/// The first argument that selects [`BootCommand`], a hook for tests kept out of the command line users see (no
/// help, completions or man page).
pub const BOOT_COMMAND: &str = "__boot-command";

/// `image-builder __boot-command [--until REGEX] [--timeout SECS] PROGRAM [ARGS...]` streams PROGRAM the way `run`
/// streams QEMU (a process group of its own, the terminal, signals, the exit status) without building anything:
/// for the tests of that machinery (tests/signals.rs).
#[derive(Parser, Debug)]
#[command(name = "image-builder __boot-command", no_binary_name = true)]
pub struct BootCommand {
    /// Stop after SECS seconds and fail (0: no limit).
    #[arg(long, value_name = "SECS")]
    timeout: Option<u64>,
    /// Stop and succeed as soon as the output matches REGEX (PROGRAM then gets no stdin).
    #[arg(long, value_name = "REGEX")]
    until: Option<String>,
    /// The program standing in for QEMU, and its arguments.
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

/// The command line, as clap sees it (for completions, the man page and tests).
pub fn command() -> clap::Command {
    Cli::command()
}

/// Parses the process's arguments and runs the subcommand. A panic or an interrupting signal stops QEMU first.
pub fn main() -> ExitCode {
    crate::procgroup::stop_on_panic();
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let status = if args.first().is_some_and(|a| a == BOOT_COMMAND) {
        boot_command(BootCommand::parse_from(&args[1..]))
    } else {
        run(Cli::parse())
    };
    // A signal that stopped QEMU ends the process itself, with the signal's status.
    crate::procgroup::let_a_stop_signal_finish(2 * crate::procgroup::GRACE + Duration::from_secs(1));
    status
}

/// Runs one parsed command line.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Cmd::Check { config, format } => check(config.unwrap_or_else(default_config), format),
        Cmd::Inspect { config, format, quiet } => inspect(config.unwrap_or_else(default_config), format, quiet),
        Cmd::Build { config, sdcard, trace, quiet } => {
            finish(build(config.unwrap_or_else(default_config), sdcard, trace, quiet))
        }
        Cmd::Trace { config, dump, elf, locate } => {
            finish(trace(config.unwrap_or_else(default_config), dump, elf, locate))
        }
        Cmd::Run { config, timeout, until, sdcard, secure, icount, host_disk, trace, quiet } => {
            let opts = RunOptions {
                config: config.unwrap_or_else(default_config),
                timeout: timeout.filter(|t| *t > 0).map(Duration::from_secs),
                until,
                quiet,
                echo: true,
                secure: secure.map(Switch::is_on),
                icount,
                host_disk,
            };
            if trace {
                return finish(run_traced(&opts, sdcard));
            }
            let run = if sdcard { qemu::run_from_card } else { qemu::run };
            finish(run(&opts).map(|o| run_status(&o, &opts)))
        }
        Cmd::Boards { format } => {
            let text = match format {
                Format::Text => boards::table(board_support::BOARDS),
                Format::Json => json::to_string(&boards::json(board_support::BOARDS)),
            };
            print(&text)
        }
        Cmd::BoardFacts { dtb } => finish(board_facts(&dtb)),
        Cmd::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut command(), "image-builder", &mut out);
            print(&String::from_utf8_lossy(&out))
        }
        Cmd::Man { command } => match man_page(command.as_deref()) {
            Ok(page) => print(&page),
            Err(e) => finish(Err(e)),
        },
    }
}

/// Runs the test hook [`BootCommand`].
pub fn boot_command(args: BootCommand) -> ExitCode {
    let opts = RunOptions {
        config: PathBuf::new(),
        timeout: args.timeout.filter(|t| *t > 0).map(Duration::from_secs),
        until: args.until,
        quiet: true,
        echo: true,
        secure: None,
        icount: false,
        host_disk: None,
    };
    let until = match opts.until.as_deref().map(regex::Regex::new).transpose() {
        Ok(re) => re,
        Err(e) => return finish(Err(Error::Tool(format!("bad --until pattern: {e}")))),
    };
    finish(qemu::boot(&args.command, "qemu", until.as_ref(), opts.timeout, true).map(|o| run_status(&o, &opts)))
}

/// Writes `text` to stdout; a closed pipe (`| head`) is not an error worth a message.
fn print(text: &str) -> ExitCode {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            crate::say!("error: cannot write to stdout: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The exit status for a result, with the error reported on stderr.
fn finish(result: crate::Result<ExitCode>) -> ExitCode {
    result.unwrap_or_else(|e| {
        report_error(&e);
        ExitCode::FAILURE
    })
}

/// An error for people, on stderr.
pub fn report_error(e: &Error) {
    match e {
        Error::Config(report) => {
            report.emit_to_stderr();
            crate::say!("error: {}: {}", report.file_name(), report.summary());
        }
        other => crate::say!("error: {other}"),
    }
}

fn check(config: PathBuf, format: Format) -> ExitCode {
    let result = pipeline::check(&config);
    match format {
        Format::Text => finish(result.map(|c| {
            c.report.emit_to_stderr();
            crate::say!("{}: ok ({})", display_path(&config), c.report.summary());
            ExitCode::SUCCESS
        })),
        Format::Json => {
            let doc = match &result {
                Ok(c) => json::Document::ok("check", &config, &c.report),
                Err(e) => {
                    report_error(e);
                    json::Document::failed("check", &config, e)
                }
            };
            json_status(&doc)
        }
    }
}

fn inspect(config: PathBuf, format: Format, quiet: bool) -> ExitCode {
    // With JSON the diagnostics are in the document; progress still goes to stderr unless quiet.
    let result = pipeline::prepare(&config, &Progress::new(quiet));
    match format {
        Format::Text => finish(result.map(|p| print(&report::layout_text(&p, None)))),
        Format::Json => {
            let doc = match &result {
                Ok(p) => json::Document::ok("inspect", &config, &p.checked.report).with_layout(json::layout(p)),
                Err(e) => {
                    report_error(e);
                    json::Document::failed("inspect", &config, e)
                }
            };
            json_status(&doc)
        }
    }
}

/// Prints a document; the status says whether it reports success.
fn json_status(doc: &json::Document) -> ExitCode {
    let printed = print(&json::to_string(doc));
    if doc.ok {
        printed
    } else {
        ExitCode::FAILURE
    }
}

fn build(config: PathBuf, sdcard: bool, trace: bool, quiet: bool) -> crate::Result<ExitCode> {
    let built = pipeline::build_with(&BuildOptions { config, quiet }, pipeline::HvFeatures { trace })?;
    if sdcard {
        let card = crate::sdcard::write_built_sdcard(&built)?;
        crate::say!("wrote {}", display_path(&card));
    }
    Ok(ExitCode::SUCCESS)
}

/// `board-facts`: the facts of a device tree, as Rust.
fn board_facts(dtb: &std::path::Path) -> crate::Result<ExitCode> {
    let bytes = std::fs::read(dtb).map_err(|source| Error::Read { path: dtb.to_owned(), source })?;
    let facts = board_support::facts::facts(&bytes)
        .map_err(|e| Error::Tool(format!("{}: not a readable device tree: {e}", display_path(dtb))))?;
    Ok(print(&board_facts::render(&facts, &display_path(dtb))))
}

/// `run --trace`: the run, then its trace on stdout. A run that went well but left no readable trace fails.
fn run_traced(opts: &RunOptions, sdcard: bool) -> crate::Result<ExitCode> {
    let (outcome, recorded) = qemu::run_traced(opts, sdcard)?;
    let status = run_status(&outcome, opts);
    match recorded {
        Some(Ok(r)) => {
            let printed = print(&r.text);
            crate::say!("{}", crate::trace::summary(&r));
            Ok(if status == ExitCode::SUCCESS { printed } else { status })
        }
        Some(Err(e)) => {
            report_error(&e);
            Ok(ExitCode::FAILURE)
        }
        None => {
            crate::say!("trace: QEMU exited by itself, so its memory could not be read (end the run with --until or --timeout, or run `image-builder trace CONFIG` while it runs)");
            Ok(status)
        }
    }
}

/// `trace`: decode a trace and print it.
fn trace(config: PathBuf, dump: Option<PathBuf>, elf: Option<PathBuf>, locate: bool) -> crate::Result<ExitCode> {
    let checked = pipeline::check(&config)?;
    let system = &checked.system;
    let mut files = crate::trace::Files::in_dir(&crate::out_dir(&system.name));
    if let Some(elf) = elf {
        files.elf = elf;
    }
    if locate {
        let bytes = std::fs::read(&files.elf).map_err(|source| Error::Read { path: files.elf.clone(), source })?;
        let r = crate::trace::extract::locate(&bytes).map_err(Error::Tool)?;
        return Ok(print(&format!(
            "{} at {:#x}, {} bytes ({:#x})\n",
            crate::trace::extract::RINGS_SYMBOL,
            r.addr,
            r.size,
            r.size
        )));
    }
    let bytes = match dump {
        Some(path) => {
            let raw = std::fs::read(&path).map_err(|source| Error::Read { path: path.clone(), source })?;
            crate::trace::extract::from_board(raw)
        }
        // A `run --trace` still running: read its QEMU (which then runs on).
        None if files.qmp.exists() => crate::trace::pull(&files, true)?,
        None => std::fs::read(&files.dump).map_err(|source| Error::Read { path: files.dump.clone(), source })?,
    };
    let r = crate::trace::record(system, &files, &bytes)?;
    let printed = print(&r.text);
    crate::say!("{}", crate::trace::summary(&r));
    Ok(printed)
}

/// The exit status of a run, with why it failed on stderr.
fn run_status(o: &RunOutcome, opts: &RunOptions) -> ExitCode {
    let pattern = opts.until.as_deref();
    if o.timed_out {
        let secs = opts.timeout.map_or(0, |t| t.as_secs());
        match pattern {
            Some(p) => crate::say!("\nerror: timed out after {secs} s waiting for output matching `{p}`"),
            None => crate::say!("\nerror: timed out after {secs} s"),
        }
        ExitCode::FAILURE
    } else if let Some(p) = pattern {
        if o.matched {
            crate::say!("\n+ output matched `{p}`: stopped QEMU");
            ExitCode::SUCCESS
        } else {
            let how = o.status.map_or("unknown status".into(), |s| s.to_string());
            crate::say!("\nerror: QEMU exited ({how}) before its output matched `{p}`");
            ExitCode::FAILURE
        }
    } else {
        match o.status.and_then(|s| s.code()) {
            Some(0) => ExitCode::SUCCESS,
            Some(c) => ExitCode::from(u8::try_from(c).unwrap_or(1)),
            None => ExitCode::FAILURE,
        }
    }
}

/// The commands `man COMMAND` has a page for: every visible subcommand (a test checks the list is complete).
pub const MAN_PAGES: [&str; 9] =
    ["check", "inspect", "build", "run", "trace", "boards", "board-facts", "completions", "man"];

/// The man page of image-builder, or of one of its commands (`image-builder-check(1)`), in roff.
pub fn man_page(command_name: Option<&str>) -> crate::Result<String> {
    let mut top = command().disable_help_subcommand(true);
    top.build();
    let cmd = match command_name {
        None => top,
        Some(name) => top
            .get_subcommands()
            .find(|s| s.get_name() == name && !s.is_hide_set())
            .cloned()
            .ok_or_else(|| Error::Tool(format!("no command `{name}`")))?,
    };
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd).render(&mut out).map_err(|e| Error::Tool(format!("cannot render the man page: {e}")))?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests;
