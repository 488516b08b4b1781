//! Startup: how long `routec serve` takes from its start to answering `/readyz` (a policy
//! loaded, both listeners open), for `rules/` (target ≤ 100 ms) and for a generated
//! 10,000-rule policy (target ≤ 500 ms). The median of several starts of the release binary.
//!
//! Run: `cargo bench --bench startup`. `ROUTEC_BENCH_QUICK=1` starts each once (CI smoke);
//! `ROUTEC_STARTUP_DIR=DIR` keeps the generated policy there, to profile.

mod generate;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn ready(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.write_all(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.1 200")
}

/// One start: the time from spawning the server to its first 200 on `/readyz`.
fn start(dir: &Path, policy: &str) -> Duration {
    let (port, admin) = (free_port(), free_port());
    let began = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_routec"))
        .args(["serve", policy, "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--admin-listen")
        .arg(format!("127.0.0.1:{admin}"))
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("routec serve");
    while !ready(port) {
        assert!(
            began.elapsed() < Duration::from_secs(30),
            "not ready in 30 s"
        );
        std::thread::sleep(Duration::from_micros(500));
    }
    let took = began.elapsed();
    let _ = child.kill();
    let _ = child.wait();
    took
}

fn median(dir: &Path, policy: &str, runs: usize) -> Duration {
    let mut times: Vec<Duration> = (0..runs).map(|_| start(dir, policy)).collect();
    times.sort();
    times[times.len() / 2]
}

fn main() {
    let quick = std::env::var_os("ROUTEC_BENCH_QUICK").is_some();
    let runs = if quick { 1 } else { 7 };
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let rules = median(repo, "rules", runs);
    println!("routec serve rules/: ready in {rules:.1?} (median of {runs}; target ≤ 100 ms)");
    let dir = match std::env::var_os("ROUTEC_STARTUP_DIR") {
        Some(dir) => std::path::PathBuf::from(dir),
        None => std::env::temp_dir().join(format!("routec-startup-{}", std::process::id())),
    };
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    std::fs::write(dir.join("generated.route"), generate::policy(10_000)).expect("write");
    let large = median(&dir, "generated.route", runs);
    println!(
        "routec serve (10,000 rules): ready in {large:.1?} (median of {runs}; target ≤ 500 ms)"
    );
    if std::env::var_os("ROUTEC_STARTUP_DIR").is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
}
