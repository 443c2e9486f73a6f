//! `hvchan`: list, send on, receive from and check hv-static's channels from a Linux partition. Every line it
//! prints starts with `hvchan: `; errors go to stderr, and the exit status is non-zero on any failure.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use hvchan::channel::{self, Channel, Roots};
use hvchan::doorbell::Lines;
use hvchan::pingpong;

#[derive(Parser)]
#[command(version, about = "hv-static's shared-memory channels from Linux (mmio-sram + PL061 GPIO doorbells)")]
struct Cli {
    /// Where the device tree is.
    #[arg(long, default_value = "/proc/device-tree", global = true)]
    device_tree: String,
    /// Where sysfs is.
    #[arg(long, default_value = "/sys", global = true)]
    sysfs: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Every channel: label, access, member, size, address, GPIO lines.
    List,
    /// Sends TEXT as one message and rings.
    Send {
        label: String,
        text: String,
        /// How long to wait for room when the ring is full.
        #[arg(long, default_value_t = 5000)]
        timeout_ms: u64,
    },
    /// Receives one message and prints it (non-ASCII bytes escaped).
    Recv {
        label: String,
        /// How long to wait; without it, forever.
        #[arg(long)]
        timeout_ms: Option<u64>,
    },
    /// Sends COUNT numbered, checksummed messages, checking each echo.
    Ping {
        label: String,
        #[arg(long, default_value_t = 10)]
        count: u32,
        /// How long to wait for each echo.
        #[arg(long, default_value_t = 5000)]
        timeout_ms: u64,
    },
    /// Echoes COUNT messages back, checking each.
    Pong {
        label: String,
        #[arg(long, default_value_t = 10)]
        count: u32,
        /// How long to wait for each message; without it, forever.
        #[arg(long)]
        timeout_ms: Option<u64>,
    },
}

/// "Forever", as a timeout: longer than any partition runs.
const FOREVER: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

fn ms(timeout: Option<u64>) -> Duration {
    timeout.map_or(FOREVER, Duration::from_millis)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let roots = Roots { device_tree: cli.device_tree.into(), sysfs: cli.sysfs.into() };
    match run(&roots, cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(line) => {
            eprintln!("hvchan: {line}");
            ExitCode::FAILURE
        }
    }
}

fn run(roots: &Roots, command: Command) -> Result<(), String> {
    match command {
        Command::List => {
            list(roots);
            Ok(())
        }
        Command::Send { label, text, timeout_ms } => {
            let mut c = Channel::open_in(roots, &label).map_err(|e| e.to_string())?;
            c.send(text.as_bytes(), Duration::from_millis(timeout_ms)).map_err(|e| e.to_string())?;
            println!("hvchan: sent {} bytes on {label}", text.len());
            Ok(())
        }
        Command::Recv { label, timeout_ms } => {
            let mut c = Channel::open_in(roots, &label).map_err(|e| e.to_string())?;
            let mut buf = vec![0; c.receiver().map_err(|e| e.to_string())?.max_message()];
            let n = c.recv(&mut buf, ms(timeout_ms)).map_err(|e| e.to_string())?;
            println!("hvchan: received {n} bytes on {label}: {}", buf[..n].escape_ascii());
            Ok(())
        }
        Command::Ping { label, count, timeout_ms } => {
            // Every failure is a `ping error:` line, opening the channel included.
            let mut c = Channel::open_in(roots, &label).map_err(|e| format!("ping error: {e}"))?;
            let s = pingpong::ping(&mut c, count, Duration::from_millis(timeout_ms))
                .map_err(|e| format!("ping error: {e}"))?;
            println!("hvchan: ping {} ok, checksum {:#010x}", s.count, s.checksum);
            if let Some(rt) = s.round_trip {
                println!("hvchan: round trip ns min {} avg {} max {}", rt.min_ns, rt.avg_ns, rt.max_ns);
            }
            Ok(())
        }
        Command::Pong { label, count, timeout_ms } => {
            let mut c = Channel::open_in(roots, &label).map_err(|e| format!("pong error: {e}"))?;
            let s = pingpong::pong(&mut c, count, ms(timeout_ms)).map_err(|e| format!("pong error: {e}"))?;
            println!("hvchan: pong {} ok, checksum {:#010x}", s.count, s.checksum);
            Ok(())
        }
    }
}

fn list(roots: &Roots) {
    let (scan, lines) = channel::list(roots);
    for skipped in &scan.skipped {
        eprintln!("hvchan: skipped {skipped}");
    }
    if scan.channels.is_empty() {
        println!("hvchan: no channels in {}", roots.device_tree.display());
    }
    for (c, lines) in scan.channels.iter().zip(&lines) {
        let (doorbell, ring) = match lines {
            Some(l) => (Lines::describe(&l.doorbell), Lines::describe(&l.ring)),
            None => ("unknown".into(), "unknown".into()),
        };
        println!(
            "hvchan: channel {} access={} member={} size={:#x} at={:#x} doorbell={doorbell} ring={ring} sram={}",
            c.label,
            c.access.as_str(),
            c.member,
            c.size,
            c.ipa,
            c.sram_file(&roots.sysfs).display(),
        );
    }
}
