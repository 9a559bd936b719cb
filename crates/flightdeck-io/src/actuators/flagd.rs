//! The kill switch as one flag in an OpenFeature flagd flag-definition file, which flagd
//! hot-reloads: the flag's `defaultVariant` is swapped between the variant that serves the AI
//! feature and the one that switches it off. Only that value's bytes change, so every other
//! flag, the targeting rules, `$evaluators`, metadata and the file's own layout stay as they were;
//! the new file replaces the old one atomically (temp file, fsync, rename, fsync the directory).

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use super::{Actuator, ActuatorError, Applied};
use crate::config::actuators::KillSwitchConfig;
use crate::model::mitigation::is_production_name;
use crate::model::{MitigationKind, MitigationPlan};

const BACKEND: &str = "flagd file";
/// How many of a file's flags an error lists when the configured one is not among them.
const LISTED_FLAGS: usize = 8;

/// A kill switch on one flag of one flagd file.
pub struct KillSwitch {
    file: FlagFile,
    production: bool,
}

/// The file and the flag's two variants: what the blocking file work needs.
#[derive(Clone)]
struct FlagFile {
    path: PathBuf,
    flag: String,
    on_variant: String,
    off_variant: String,
}

/// Why the switch cannot act on the flag as the file has it: a plan's `unavailable`.
struct Unusable(String);

/// What the file says of the flag when the switch can act on it.
struct FlagState {
    /// The variant `defaultVariant` names now: the on or the off variant.
    current: String,
    /// Where that value's JSON text is in the file.
    span: Range<usize>,
    /// The flag has targeting rules, which flagd evaluates before `defaultVariant`.
    targeted: bool,
}

/// The parts of the file that locate `flags.<flag>.defaultVariant` in its text.
#[derive(Deserialize)]
struct Document<'a> {
    #[serde(borrow)]
    flags: HashMap<String, &'a RawValue>,
}

#[derive(Deserialize)]
struct Flag<'a> {
    #[serde(borrow, rename = "defaultVariant")]
    default_variant: &'a RawValue,
}

impl KillSwitch {
    /// `file` is `[actuators.flagd] file` already resolved against the config's directory.
    /// Confirming asks for the flag's name to be typed when `production` says so or, without
    /// it, when the file's name looks like production ("production.flagd.json", "prod-flags.json").
    pub fn from_config(
        file: PathBuf,
        kill_switch: &KillSwitchConfig,
    ) -> Result<Self, ActuatorError> {
        let KillSwitchConfig::Flagd {
            flag,
            on_variant,
            off_variant,
            production,
        } = kill_switch
        else {
            return Err(ActuatorError::Misconfigured(
                "[mitigations.kill_switch] does not name backend = \"flagd\"".into(),
            ));
        };
        if on_variant == off_variant {
            return Err(ActuatorError::Misconfigured(format!(
                "[mitigations.kill_switch] on_variant and off_variant are both {on_variant:?}"
            )));
        }
        let stem = file.file_stem().unwrap_or_default().to_string_lossy();
        let production = production.unwrap_or_else(|| is_production_name(&stem));
        Ok(Self {
            file: FlagFile {
                path: file,
                flag: flag.clone(),
                on_variant: on_variant.clone(),
                off_variant: off_variant.clone(),
            },
            production,
        })
    }

    fn plan(&self, state: &FlagState) -> MitigationPlan {
        let file = &self.file;
        let to = if state.current == file.on_variant {
            &file.off_variant
        } else {
            &file.on_variant
        };
        let mut target = format!("flag {} in {}", file.flag, file.path.display());
        if state.targeted {
            target.push_str(", whose targeting rules may override its defaultVariant");
        }
        MitigationPlan {
            target,
            operation: file.operation(to),
            from: state.current.clone(),
            to: to.clone(),
            from_id: state.current.clone(),
            to_id: to.clone(),
            confirm_name: self.production.then(|| file.flag.clone()),
            ..MitigationPlan::new(MitigationKind::KillSwitch, BACKEND)
        }
    }
}

impl Actuator for KillSwitch {
    fn kind(&self) -> MitigationKind {
        MitigationKind::KillSwitch
    }

    fn backend(&self) -> &'static str {
        BACKEND
    }

    async fn read(&self) -> Result<MitigationPlan, ActuatorError> {
        let file = self.file.clone();
        let state = blocking(move || file.state()).await?;
        Ok(match state? {
            Ok(state) => self.plan(&state),
            Err(Unusable(reason)) => {
                MitigationPlan::unavailable(MitigationKind::KillSwitch, BACKEND, &reason)
            }
        })
    }

    fn preview(&self, plan: &MitigationPlan, _incident: Option<&str>) -> String {
        format!(
            "{}\n(a temp file in the same directory, fsynced, renamed over the original; \
             nothing else in the file changes)",
            self.file.operation(&plan.to_id)
        )
    }

    async fn apply(
        &self,
        plan: &MitigationPlan,
        _incident: Option<&str>,
    ) -> Result<Applied, ActuatorError> {
        if let Some(reason) = &plan.unavailable {
            return Err(ActuatorError::Unavailable(format!(
                "{reason}; nothing was changed"
            )));
        }
        let file = self.file.clone();
        let (from, to) = (plan.from_id.clone(), plan.to_id.clone());
        let answer = blocking(move || file.swap(&from, &to)).await??;
        Ok(Applied {
            answer,
            undo: Some(plan.reversed(self.file.operation(&plan.from_id))),
        })
    }

    async fn verify(&self, plan: &MitigationPlan) -> Result<String, ActuatorError> {
        let file = self.file.clone();
        let state = blocking(move || file.state()).await?;
        // A file the switch can no longer act on is not the state the plan wrote either.
        let state = state?.map_err(|Unusable(found)| ActuatorError::ReadBackDisagrees { found })?;
        let file = &self.file;
        if state.current == plan.to_id {
            Ok(format!(
                "read {}: flags.{}.defaultVariant = {:?}",
                file.path.display(),
                file.flag,
                state.current
            ))
        } else {
            Err(ActuatorError::ReadBackDisagrees {
                found: format!(
                    "{} has flags.{}.defaultVariant = {:?}, not {:?}",
                    file.path.display(),
                    file.flag,
                    state.current,
                    plan.to_id
                ),
            })
        }
    }
}

impl FlagFile {
    fn operation(&self, to: &str) -> String {
        format!(
            "write {}: flags.{}.defaultVariant = {}",
            self.path.display(),
            self.flag,
            json_string(to)
        )
    }

    /// The flag's state; the inner Err is why the switch cannot act on it, the outer one a file
    /// that exists but cannot be read.
    fn state(&self) -> Result<Result<FlagState, Unusable>, ActuatorError> {
        match fs::read_to_string(&self.path) {
            Ok(text) => Ok(self.inspect(&text)),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(Err(Unusable(format!(
                "flagd file {} does not exist",
                self.path.display()
            )))),
            Err(err) => Err(ActuatorError::Unreachable(format!(
                "flagd file {}: cannot read it: {err}",
                self.path.display()
            ))),
        }
    }

    fn inspect(&self, text: &str) -> Result<FlagState, Unusable> {
        let file = self.path.display();
        let (flag, on, off) = (&self.flag, &self.on_variant, &self.off_variant);
        let document: Value = serde_json::from_str(text)
            .map_err(|err| Unusable(format!("flagd file {file} is not JSON: {err}")))?;
        let Some(flags) = document.get("flags").and_then(Value::as_object) else {
            return Err(Unusable(format!(
                "flagd file {file} has no \"flags\" object"
            )));
        };
        let Some(entry) = flags.get(flag) else {
            return Err(Unusable(format!(
                "flagd file {file} has no flag {flag:?} (its flags: {})",
                listed(flags.keys())
            )));
        };
        match entry.get("state").and_then(Value::as_str) {
            Some("ENABLED") => {}
            Some("DISABLED") => {
                return Err(Unusable(format!(
                    "flag {flag:?} in {file} is DISABLED: flagd serves it as if it did not \
                     exist, so its defaultVariant changes nothing"
                )));
            }
            state => {
                return Err(Unusable(format!(
                    "flag {flag:?} in {file} has state {}, not \"ENABLED\"",
                    state.map_or("none".into(), json_string)
                )));
            }
        }
        let variants = entry.get("variants").and_then(Value::as_object);
        for variant in [on, off] {
            if !variants.is_some_and(|v| v.contains_key(variant)) {
                return Err(Unusable(format!(
                    "flag {flag:?} in {file} has no variant {variant:?} (its variants: {})",
                    variants.map_or("none".into(), |v| listed(v.keys()))
                )));
            }
        }
        let current = match entry.get("defaultVariant") {
            Some(Value::String(current)) if current == on || current == off => current.clone(),
            Some(Value::String(other)) => {
                return Err(Unusable(format!(
                    "flag {flag:?} in {file} defaults to variant {other:?}, neither {on:?} \
                     (on_variant) nor {off:?} (off_variant)"
                )));
            }
            _ => {
                return Err(Unusable(format!(
                    "flag {flag:?} in {file} names no defaultVariant, so flagd serves the code's \
                     default; set it to {on:?} first"
                )));
            }
        };
        let targeted = entry
            .get("targeting")
            .is_some_and(|rules| rules.as_object().is_none_or(|rules| !rules.is_empty()));
        let span = self.locate(text).map_err(|err| {
            Unusable(format!(
                "flagd file {file} cannot be edited in place: {err}"
            ))
        })?;
        Ok(FlagState {
            current,
            span,
            targeted,
        })
    }

    /// Where the text of `flags.<flag>.defaultVariant` is: the raw values borrow from `text`, so
    /// their addresses give their place in it.
    fn locate(&self, text: &str) -> Result<Range<usize>, serde_json::Error> {
        let document: Document = serde_json::from_str(text)?;
        let Some(raw_flag) = document.flags.get(&self.flag) else {
            return Err(serde::de::Error::custom("the flag is not in the file"));
        };
        let value = serde_json::from_str::<Flag>(raw_flag.get())?
            .default_variant
            .get();
        let start = value.as_ptr() as usize - text.as_ptr() as usize;
        Ok(start..start + value.len())
    }

    /// Re-reads the file and, if the flag still defaults to `from`, writes it defaulting to `to`;
    /// Ok is what was written.
    fn swap(&self, from: &str, to: &str) -> Result<String, ActuatorError> {
        let path = self.path.display();
        if to != self.on_variant && to != self.off_variant {
            return Err(ActuatorError::Unavailable(format!(
                "variant {to:?} is neither on_variant nor off_variant; nothing was changed"
            )));
        }
        let text = fs::read_to_string(&self.path).map_err(|err| {
            ActuatorError::Unreachable(format!(
                "flagd file {path}: cannot read it: {err}; nothing was changed"
            ))
        })?;
        let state = self.inspect(&text).map_err(|Unusable(reason)| {
            ActuatorError::Unavailable(format!("{reason}; nothing was changed"))
        })?;
        if state.current != from {
            return Err(ActuatorError::MovedSinceRead {
                now: format!("flags.{}.defaultVariant = {:?}", self.flag, state.current),
            });
        }
        let mut changed = text;
        changed.replace_range(state.span, &json_string(to));
        write_atomically(&self.path, &changed)
            .map_err(|why| ActuatorError::Refused(format!("flagd file {path}: {}", why.0)))?;
        Ok(format!(
            "wrote {path} (flags.{}.defaultVariant: {from} → {to})",
            self.flag
        ))
    }
}

/// Why a write did not go through, e.g. "could not write it: …; the file is unchanged".
struct WriteFailure(String);

/// Replaces the file at `path` with `contents` so that a reader sees the old file or the new
/// one, never a part of either, and keeps the old file's permissions. A symlink is followed, so
/// it goes on pointing at the file that was written.
fn write_atomically(path: &Path, contents: &str) -> Result<(), WriteFailure> {
    let path =
        fs::canonicalize(path).map_err(|err| WriteFailure(format!("cannot resolve it: {err}")))?;
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(WriteFailure("is not a file in a directory".into()));
    };
    let permissions = fs::metadata(&path)
        .map_err(|err| WriteFailure(format!("cannot read its permissions: {err}")))?
        .permissions();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos();
    let temp = dir.join(format!(
        ".{}.{}-{nanos}.flightdeck.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let written = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temp)
        .and_then(|mut file| {
            file.set_permissions(permissions)?;
            file.write_all(contents.as_bytes())?;
            file.sync_all()
        })
        .and_then(|()| fs::rename(&temp, &path));
    if let Err(err) = written {
        // The temp file may not exist (create failed): nothing to clean up then.
        let _ = fs::remove_file(&temp);
        return Err(WriteFailure(format!(
            "could not write it: {err}; the file is unchanged"
        )));
    }
    File::open(dir)
        .and_then(|dir| dir.sync_all())
        .map_err(|err| {
            WriteFailure(format!(
                "written, but its directory {} could not be flushed ({err}): the change may not \
             survive a power cut",
                dir.display()
            ))
        })
}

/// `work` on a thread that may block; a task that stops without an answer leaves the file
/// unread, or its write in doubt.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ActuatorError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|err| ActuatorError::Unreachable(format!("the flagd file task stopped: {err}")))
}

fn json_string(text: &str) -> String {
    Value::from(text).to_string()
}

/// Names for an error message, the first few of them.
fn listed<'a>(names: impl ExactSizeIterator<Item = &'a String>) -> String {
    let count = names.len();
    if count == 0 {
        return "none".into();
    }
    let mut shown: Vec<&str> = names.take(LISTED_FLAGS).map(String::as_str).collect();
    if count > LISTED_FLAGS {
        shown.push("…");
    }
    shown.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_that_fails_leaves_no_temp_file_behind() {
        let dir = tempfile::tempdir().unwrap();
        // A directory in the file's place: the temp file is written, the rename over it fails.
        let target = dir.path().join("flags.json");
        fs::create_dir(&target).unwrap();
        fs::write(target.join("keep"), "x").unwrap();
        let WriteFailure(err) = write_atomically(&target, "{}").unwrap_err();
        assert!(err.contains("the file is unchanged"), "{err}");
        let left: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(left, ["flags.json"]);
    }

    #[test]
    fn locating_finds_the_value_whatever_the_spacing_and_escapes() {
        let file = FlagFile {
            path: PathBuf::from("/tmp/flags.json"),
            flag: "a\"i".into(),
            on_variant: "on".into(),
            off_variant: "off".into(),
        };
        let text = "{\"flags\" :{ \"a\\\"i\" : {\"defaultVariant\"\n  :\t\"\\u006fn\" } } }";
        let span = file.locate(text).unwrap();
        assert_eq!(&text[span], "\"\\u006fn\"");
    }
}
