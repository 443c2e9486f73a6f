//! `image-builder`: check, inspect, build and run hv-static systems. See docs/config.md.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use image_builder::progress::Progress;
use image_builder::{default_config, display_path, pipeline, qemu, report, BuildOptions, Error, RunOptions};

#[derive(Parser)]
#[command(name = "image-builder", version, about = "Build and boot hv-static systems from a config file")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Validate a config (no build).
    Check {
        /// The system config [default: configs/qemu-aarch64-demo.toml]
        config: Option<PathBuf>,
    },
    /// Print the memory layout (builds the guests the config names, not the hypervisor).
    Inspect {
        /// The system config [default: configs/qemu-aarch64-demo.toml]
        config: Option<PathBuf>,
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
        /// No progress output.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Build, then boot in QEMU (quit with Ctrl-A X).
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
        #[arg(long, value_name = "on|off", value_parser = clap::builder::BoolishValueParser::new())]
        secure: Option<bool>,
        /// Deterministic guest time: QEMU's `-icount shift=0,align=off,sleep=off` (for scheduling measurements).
        #[arg(long)]
        icount: bool,
        /// The board's own disk for `backing = "host"` disks [default: out/NAME/host-disk.img]; created from the
        /// disks' images when missing, kept as it is (with what the partitions wrote) when it exists.
        #[arg(long, value_name = "PATH")]
        host_disk: Option<PathBuf>,
        /// No build progress.
        #[arg(long, short)]
        quiet: bool,
    },
}

fn report_error(e: &Error) {
    match e {
        Error::Config(report) => {
            report.emit_to_stderr();
            image_builder::say!("error: {}: {}", report.file_name(), report.summary());
        }
        other => image_builder::say!("error: {other}"),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Cmd::Check { config } => {
            let config = config.unwrap_or_else(default_config);
            pipeline::check(&config).map(|c| {
                c.report.emit_to_stderr();
                image_builder::say!("{}: ok ({})", display_path(&config), c.report.summary());
                ExitCode::SUCCESS
            })
        }
        Cmd::Inspect { config, quiet } => {
            let config = config.unwrap_or_else(default_config);
            pipeline::prepare(&config, &Progress::new(quiet)).map(|p| {
                let _ = std::io::Write::write_all(&mut std::io::stdout(), report::layout_text(&p, None).as_bytes());
                ExitCode::SUCCESS
            })
        }
        Cmd::Build { config, sdcard, quiet } => {
            let config = config.unwrap_or_else(default_config);
            pipeline::build(&BuildOptions { config, quiet }).and_then(|built| {
                if sdcard {
                    let board = built.prepared.checked.system.board;
                    let card = image_builder::sdcard::write_sdcard(&built.out_dir, &built.image, board)?;
                    image_builder::say!("wrote {}", display_path(&card));
                }
                Ok(ExitCode::SUCCESS)
            })
        }
        Cmd::Run { config, timeout, until, sdcard, secure, icount, host_disk, quiet } => {
            let opts = RunOptions {
                config: config.unwrap_or_else(default_config),
                timeout: timeout.filter(|t| *t > 0).map(Duration::from_secs),
                until,
                quiet,
                echo: true,
                secure,
                icount,
                host_disk,
            };
            let run = if sdcard { qemu::run_from_card } else { qemu::run };
            run(&opts).map(|o| {
                let pattern = opts.until.as_deref();
                if o.timed_out {
                    let secs = opts.timeout.map_or(0, |t| t.as_secs());
                    match pattern {
                        Some(p) => {
                            image_builder::say!("\nerror: timed out after {secs} s waiting for output matching `{p}`")
                        }
                        None => image_builder::say!("\nerror: timed out after {secs} s"),
                    }
                    ExitCode::FAILURE
                } else if let Some(p) = pattern {
                    if o.matched {
                        image_builder::say!("\n+ output matched `{p}`: stopped QEMU");
                        ExitCode::SUCCESS
                    } else {
                        let how = o.status.map_or("unknown status".into(), |s| s.to_string());
                        image_builder::say!("\nerror: QEMU exited ({how}) before its output matched `{p}`");
                        ExitCode::FAILURE
                    }
                } else {
                    match o.status.and_then(|s| s.code()) {
                        Some(0) => ExitCode::SUCCESS,
                        Some(c) => ExitCode::from(u8::try_from(c).unwrap_or(1)),
                        None => ExitCode::FAILURE,
                    }
                }
            })
        }
    };
    result.unwrap_or_else(|e| {
        report_error(&e);
        ExitCode::FAILURE
    })
}
