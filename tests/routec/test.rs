//! A small builder that runs the real `routec` binary in a temporary directory.

use std::path::PathBuf;
use std::process::{Command, Output};

pub struct Test {
    dir: tempfile::TempDir,
    args: Vec<String>,
    envs: Vec<(String, String)>,
    status: i32,
    stdout: Option<String>,
    stdout_contains: Vec<String>,
    stderr_contains: Vec<String>,
}

impl Test {
    pub fn new() -> Test {
        Test {
            dir: tempfile::tempdir().expect("temporary directory"),
            args: Vec::new(),
            envs: Vec::new(),
            status: 0,
            stdout: None,
            stdout_contains: Vec::new(),
            stderr_contains: Vec::new(),
        }
    }

    /// Writes a file (creating directories) below the test's directory.
    pub fn file(self, path: &str, contents: impl AsRef<[u8]>) -> Test {
        let full = self.dir.path().join(path);
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent).expect("create directory");
        }
        std::fs::write(full, contents).expect("write file");
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Test
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Test {
        self.envs.push((key.into(), value.into()));
        self
    }

    pub fn status(mut self, status: i32) -> Test {
        self.status = status;
        self
    }

    pub fn stdout(mut self, stdout: &str) -> Test {
        self.stdout = Some(stdout.into());
        self
    }

    pub fn stdout_contains(mut self, text: &str) -> Test {
        self.stdout_contains.push(text.into());
        self
    }

    pub fn stderr_contains(mut self, text: &str) -> Test {
        self.stderr_contains.push(text.into());
        self
    }

    /// Runs and checks the expectations; returns the output for further checks.
    pub fn run(self) -> Output {
        let output = Command::new(binary())
            .args(&self.args)
            .current_dir(self.dir.path())
            .env_remove("NO_COLOR")
            .envs(self.envs.iter().map(|(k, v)| (k, v)))
            .output()
            .expect("run routec");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let context = format!(
            "args: {:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
            self.args
        );
        assert_eq!(
            output.status.code(),
            Some(self.status),
            "exit status\n{context}"
        );
        if let Some(expected) = &self.stdout {
            assert_eq!(&stdout, expected, "stdout\n{context}");
        }
        for text in &self.stdout_contains {
            assert!(
                stdout.contains(text.as_str()),
                "stdout lacks {text:?}\n{context}"
            );
        }
        for text in &self.stderr_contains {
            assert!(
                stderr.contains(text.as_str()),
                "stderr lacks {text:?}\n{context}"
            );
        }
        output
    }

    /// Runs with `success` expected: exit status 0.
    pub fn success(self) -> Output {
        self.status(0).run()
    }
}

pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_routec"))
}

/// The repository root, where `rules/` and `examples/` are.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A two-worker runtime for tests that drive async code (lookups, the server's handlers).
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Every shipped policy: `rules/` and each directory of `examples/`, in path order.
pub fn shipped_policies() -> Vec<PathBuf> {
    let mut policies = vec![repo().join("rules")];
    for entry in std::fs::read_dir(repo().join("examples")).expect("examples/") {
        let path = entry.expect("an entry of examples/").path();
        if path.is_dir() {
            policies.push(path);
        }
    }
    policies.sort();
    policies
}
