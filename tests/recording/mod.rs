//! `flightdeck record` as a child process on a free port: started with a config, stopped with
//! SIGTERM, and read back (its summary line and the calls it wrote).

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, ChildStderr, Command, Stdio};

use flightdeck::model::Call;

pub struct Recording {
    /// `http://127.0.0.1:PORT`, as the receiver announced it.
    pub url: String,
    pub dir: tempfile::TempDir,
    child: Child,
    stderr: BufReader<ChildStderr>,
}

impl Recording {
    /// Runs `flightdeck record` with `config` as its config file and `env` set, writing calls
    /// to `calls.jsonl` and changes to `changes.jsonl` in a temporary directory.
    pub fn start(config: &str, env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config_path = dir.path().join("flightdeck.toml");
        std::fs::write(&config_path, config).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_flightdeck"));
        command
            .args(["--config", config_path.to_str().unwrap()])
            .args(["record", "--otlp", "127.0.0.1:0"])
            .args(["--out", dir.path().join("calls.jsonl").to_str().unwrap()])
            .args([
                "--changes-out",
                dir.path().join("changes.jsonl").to_str().unwrap(),
            ])
            .env("FLIGHTDECK_DATA_DIR", dir.path().join("data"))
            .stderr(Stdio::piped());
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut first = String::new();
        stderr.read_line(&mut first).unwrap();
        let url = first
            .split_whitespace()
            .find(|word| word.starts_with("http://"))
            .unwrap_or_else(|| panic!("no address in {first:?}"))
            .trim_end_matches(',')
            .to_owned();
        Self {
            url,
            dir,
            child,
            stderr,
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Sends SIGTERM and waits for the exit; returns what it printed after starting.
    pub fn stop(&mut self) -> String {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let mut rest = String::new();
        self.stderr.read_to_string(&mut rest).unwrap();
        assert!(self.child.wait().unwrap().success(), "{rest}");
        rest
    }

    /// The calls written, one per line.
    pub fn calls(&self) -> Vec<Call> {
        std::fs::read_to_string(self.path("calls.jsonl"))
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }
}

impl Drop for Recording {
    fn drop(&mut self) {
        // A test that failed before stopping it leaves no process behind.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
