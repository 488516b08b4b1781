//! Benchmark: how long `routec lsp` takes, after an edit to a 10,000-rule policy, to publish
//! its diagnostics (target: 100 ms). Drives the release binary over stdio as an editor does.
//!
//! Run: `cargo bench --bench lsp`. `ROUTEC_BENCH_QUICK=1` runs one small round (CI smoke).

mod generate;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

fn send(stdin: &mut ChildStdin, message: Value) {
    let body = message.to_string();
    write!(stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
    stdin.flush().unwrap();
}

fn receive(stdout: &mut BufReader<ChildStdout>) -> Value {
    let mut length = 0;
    loop {
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some(n) = line.strip_prefix("Content-Length: ") {
            length = n.parse().unwrap();
        }
    }
    let mut body = vec![0; length];
    stdout.read_exact(&mut body).unwrap();
    serde_json::from_slice(&body).unwrap()
}

fn main() {
    let quick = std::env::var_os("ROUTEC_BENCH_QUICK").is_some();
    let (rules, rounds) = if quick { (100, 3) } else { (10_000, 21) };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("generated.route");
    let text = generate::policy(rules);
    std::fs::write(&path, &text).unwrap();
    let uri = format!("file://{}", path.display());
    let mut child = Command::new(env!("CARGO_BIN_EXE_routec"))
        .arg("lsp")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    send(
        &mut stdin,
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}}),
    );
    receive(&mut stdout);
    send(
        &mut stdin,
        json!({"jsonrpc": "2.0", "method": "initialized", "params": {}}),
    );
    send(
        &mut stdin,
        json!({"jsonrpc": "2.0", "method": "textDocument/didOpen",
        "params": {"textDocument": {"uri": uri, "languageId": "route", "version": 1, "text": text}}}),
    );
    // A policy without errors is published twice: checked, then with unreachable rules.
    receive(&mut stdout);
    receive(&mut stdout);
    let mut samples = Vec::new();
    let mut complete = Vec::new();
    for round in 0..rounds {
        // An edit that makes an error and one that mends it, in turn.
        let edited = if round % 2 == 0 {
            text.replacen("-> team", "-> team NOPE_", 1)
        } else {
            text.clone()
        };
        let started = Instant::now();
        send(
            &mut stdin,
            json!({"jsonrpc": "2.0", "method": "textDocument/didChange",
            "params": {"textDocument": {"uri": uri, "version": round + 2}, "contentChanges": [{"text": edited}]}}),
        );
        let published = receive(&mut stdout);
        samples.push(started.elapsed());
        assert_eq!(published["method"], "textDocument/publishDiagnostics");
        if round % 2 == 1 {
            receive(&mut stdout);
            complete.push(started.elapsed());
        }
    }
    send(
        &mut stdin,
        json!({"jsonrpc": "2.0", "id": 2, "method": "shutdown"}),
    );
    receive(&mut stdout);
    send(&mut stdin, json!({"jsonrpc": "2.0", "method": "exit"}));
    let _ = child.wait();
    samples.sort();
    let median: Duration = samples[samples.len() / 2];
    complete.sort();
    println!(
        "lsp: {rules} rules ({} KB), edit to the checker's diagnostics: median {median:?}, max {:?} \
         (target 100 ms); with unreachable rules: median {:?}",
        text.len() / 1024,
        samples[samples.len() - 1],
        complete[complete.len() / 2]
    );
}
