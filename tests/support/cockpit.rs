//! The real binary on a terminal: util-linux `script` runs it on a pseudo-terminal of a set
//! size, the test types into `script`'s standard input, and the typescript shows what was drawn.

use std::ffi::OsStr;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};

use super::wait;

/// The terminal's size: `script` gives one with no size, on which nothing is drawn.
pub const ROWS: usize = 45;
pub const COLUMNS: usize = 160;

/// A shell command running under `script`; killed if the test ends before it does.
pub struct Cockpit {
    script: Child,
    typescript: PathBuf,
}

impl Cockpit {
    /// Runs `command` with `env` added, on a terminal of [`ROWS`] × [`COLUMNS`]; each write
    /// reaches `typescript` at once (`-f`), so the test can watch the screen.
    pub fn start(command: &str, typescript: &Path, env: &[(&str, &OsStr)]) -> Self {
        let command = format!("stty cols {COLUMNS} rows {ROWS}; {command}");
        let script = Command::new("script")
            .args(["-qfec", &command])
            .arg(typescript)
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("util-linux's script gives the cockpit a terminal");
        Self {
            script,
            typescript: typescript.to_owned(),
        }
    }

    pub fn keys(&mut self, text: &str) {
        let stdin = self.script.stdin.as_mut().unwrap();
        stdin.write_all(text.as_bytes()).unwrap();
        stdin.flush().unwrap();
    }

    /// Waits until the screen shows `text` on one line.
    #[track_caller]
    pub fn wait_for(&self, text: &str) {
        wait::until(&format!("{text:?} on screen"), || {
            screen(&self.typescript).contains(text)
        });
    }

    /// Types `q` until the cockpit quits (one typed before it reads keys is lost, as a user's
    /// would be); how `script` ended.
    #[track_caller]
    pub fn quit(&mut self) -> ExitStatus {
        self.until_ended("the cockpit to quit on q", Some("q"))
    }

    /// Waits until `script` ends, the command with it; how it ended.
    #[track_caller]
    pub fn wait_for_exit(&mut self, what: &str) -> ExitStatus {
        self.until_ended(what, None)
    }

    #[track_caller]
    fn until_ended(&mut self, what: &str, typing: Option<&str>) -> ExitStatus {
        let mut ended = None;
        wait::until(what, || {
            ended = self.script.try_wait().unwrap();
            if let (None, Some(keys)) = (ended, typing) {
                self.keys(keys);
            }
            ended.is_some()
        });
        ended.unwrap()
    }

    /// The process `script` runs the command in.
    pub fn command_pid(&self) -> i32 {
        let children = format!("/proc/{0}/task/{0}/children", self.script.id());
        std::fs::read_to_string(children)
            .unwrap()
            .split_whitespace()
            .next()
            .expect("the command under script")
            .parse()
            .unwrap()
    }
}

impl Drop for Cockpit {
    fn drop(&mut self) {
        let _ = self.script.kill();
        let _ = self.script.wait();
    }
}

/// The screen as the typescript last drew it, a line of text per row: each character put where
/// the cursor moves (`ESC [ row ; col H`) placed it, so a line reads whole however the frames
/// were diffed.
pub fn screen(typescript: &Path) -> String {
    let text = String::from_utf8_lossy(&std::fs::read(typescript).unwrap_or_default()).into_owned();
    let mut cells = vec![vec![' '; COLUMNS]; ROWS];
    let (mut row, mut column) = (0, 0);
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\x1b' => {
                if chars.next() != Some('[') {
                    continue;
                }
                let mut parameters = String::new();
                let Some(command) = chars.by_ref().find(|c| {
                    let end = ('@'..='~').contains(c);
                    if !end {
                        parameters.push(*c);
                    }
                    end
                }) else {
                    break;
                };
                match command {
                    'H' => {
                        let mut at = parameters
                            .split(';')
                            .map(|n| n.parse::<usize>().unwrap_or(1).saturating_sub(1));
                        row = at.next().unwrap_or(0);
                        column = at.next().unwrap_or(0);
                    }
                    'J' if parameters == "2" => cells = vec![vec![' '; COLUMNS]; ROWS],
                    _ => {}
                }
            }
            '\r' => column = 0,
            '\n' => row += 1,
            c if c.is_control() => {}
            c => {
                if let Some(cell) = cells.get_mut(row).and_then(|line| line.get_mut(column)) {
                    *cell = c;
                }
                column += 1;
            }
        }
    }
    let lines: Vec<String> = cells.iter().map(|line| line.iter().collect()).collect();
    lines.join("\n")
}
