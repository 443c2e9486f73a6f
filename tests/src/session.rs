//! An interactive QEMU session: the test types into the console and waits for what the partitions print.

use std::io::{Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use image_builder::pipeline::{build, BuildOptions};
use image_builder::qemu::command_line;
use regex::Regex;

pub struct Session {
    child: Child,
    stdin: ChildStdin,
    output: Arc<Mutex<String>>,
    /// Where the last successful `wait_for` matched, so the next one only looks at newer output.
    cursor: usize,
    pub command: Vec<String>,
}

impl Session {
    /// Builds `config` and boots it with QEMU's console on pipes.
    pub fn start(config: &std::path::Path) -> Session {
        let built = build(&BuildOptions { config: config.to_path_buf(), quiet: true })
            .unwrap_or_else(|e| panic!("building {} failed: {e}", config.display()));
        Session::spawn(command_line(&built).expect("QEMU command line"))
    }

    /// Runs `command` (a QEMU command line, program first) with its console on pipes: for runs without hv-static,
    /// such as the native baselines of the benchmarks.
    pub fn spawn(command: Vec<String>) -> Session {
        let mut child = Command::new(&command[0])
            .args(&command[1..])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", command[0]));
        let stdin = child.stdin.take().expect("piped stdin");
        let mut stdout = child.stdout.take().expect("piped stdout");
        let output = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&output);
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Session { child, stdin, output, cursor: 0, command }
    }

    /// Everything the console printed so far.
    pub fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    /// Types `bytes` at the console, slowly enough for a UART with a small FIFO.
    pub fn send(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            self.stdin.write_all(chunk).expect("QEMU stdin");
            self.stdin.flush().expect("QEMU stdin");
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until output printed after the previous match matches `pattern`; panics with the console on timeout.
    pub fn wait_for(&mut self, pattern: &str, timeout: Duration) -> String {
        let re = Regex::new(pattern).expect("valid pattern");
        let deadline = Instant::now() + timeout;
        loop {
            {
                let out = self.output.lock().unwrap();
                if let Some(m) = re.find(&out[self.cursor..]) {
                    let text = m.as_str().to_string();
                    self.cursor += m.end();
                    return text;
                }
            }
            if Instant::now() > deadline {
                panic!(
                    "console never matched {pattern:?} within {timeout:?}\n--- command ---\n{}\n--- console ---\n{}",
                    self.command.join(" "),
                    self.output()
                );
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
