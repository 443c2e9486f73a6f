//! `image-builder`: check, inspect, build and run hv-static systems. See docs/config.md; the command line is
//! `image_builder::cli`.

use std::process::ExitCode;

fn main() -> ExitCode {
    image_builder::cli::main()
}
