//! Why a mitigation backend could not read, change or read back its state, in the kinds the
//! cockpit tells apart; the driver turns one into the `Failed` stage's reason at the edge.

use crate::http::HttpError;
use crate::model::mitigation::state_moved;

/// Each message is whole: it names the backend and its url or file, says whether anything was
/// changed when that is in doubt, and holds no secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActuatorError {
    /// No answer: the backend could not be reached or did not answer in time, or its file could
    /// not be read.
    #[error("{0}")]
    Unreachable(String),
    /// The backend answered with an error status or with what cannot be read, or refused the
    /// credentials or the change.
    #[error("{0}")]
    Refused(String),
    /// The state read again just before the write is not the one the plan was read from, so
    /// nothing was changed.
    #[error("{}", state_moved(.now))]
    MovedSinceRead { now: String },
    /// The state read back after the change is not the plan's target.
    #[error("read-back disagrees: {found}")]
    ReadBackDisagrees { found: String },
    /// The plan cannot be carried out and nothing was sent: the backend had nothing to act on
    /// when it was read, the plan names a state the backend does not have, or the backend cannot
    /// do what was asked (a webhook's read-back).
    #[error("{0}")]
    Unavailable(String),
    /// The config names a backend that cannot be built; the message names the section to fix.
    #[error("{0}")]
    Misconfigured(String),
}

impl ActuatorError {
    /// `message`, the backend's wording of `error` (its name first, scrubbed), as the kind the
    /// error is: no answer is unreachable, a client that cannot be built is a config mistake,
    /// any other answer is a refusal.
    pub(crate) fn from_http(error: &HttpError, message: String) -> Self {
        match error {
            HttpError::Timeout { .. } | HttpError::Connection { .. } => Self::Unreachable(message),
            HttpError::ClientSetup { .. } => Self::Misconfigured(message),
            HttpError::Status { .. } | HttpError::BadResponse { .. } => Self::Refused(message),
        }
    }

    /// The same kind, its message rewritten by `reword`, e.g. to say that a read just before a
    /// write failed and nothing was changed. The moved and disagreeing kinds keep their fixed
    /// wording.
    pub(crate) fn reworded(self, reword: impl FnOnce(&str) -> String) -> Self {
        match self {
            Self::Unreachable(message) => Self::Unreachable(reword(&message)),
            Self::Refused(message) => Self::Refused(reword(&message)),
            Self::Unavailable(message) => Self::Unavailable(reword(&message)),
            Self::Misconfigured(message) => Self::Misconfigured(reword(&message)),
            fixed @ (Self::MovedSinceRead { .. } | Self::ReadBackDisagrees { .. }) => fixed,
        }
    }
}

/// Whatever carries out mitigations has stopped, so a confirmed plan cannot be handed over.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0} has stopped")]
pub struct Stopped(pub &'static str);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_answer_is_unreachable_and_an_error_answer_is_a_refusal() {
        let timeout = HttpError::Timeout {
            url: "http://127.0.0.1:9/".into(),
            timeout_ms: 300,
        };
        let refused = HttpError::Connection {
            url: "http://127.0.0.1:9/".into(),
            reason: "Connection refused (os error 111)".into(),
        };
        let status = HttpError::Status {
            url: "http://127.0.0.1:9/".into(),
            status: 500,
            body: "boom".into(),
        };
        let garbled = HttpError::BadResponse {
            url: "http://127.0.0.1:9/".into(),
            reason: "expected value".into(),
        };
        for unanswered in [timeout, refused] {
            let error = ActuatorError::from_http(&unanswered, format!("Unleash {unanswered}"));
            assert_eq!(
                error,
                ActuatorError::Unreachable(format!("Unleash {unanswered}"))
            );
        }
        for answered in [status, garbled] {
            let error = ActuatorError::from_http(&answered, answered.to_string());
            assert!(matches!(error, ActuatorError::Refused(_)), "{error:?}");
        }
    }

    #[test]
    fn moved_and_disagreeing_states_keep_their_wording() {
        let moved = ActuatorError::MovedSinceRead { now: "off".into() };
        assert_eq!(
            moved.to_string(),
            "the state moved since it was confirmed: now off; nothing was changed"
        );
        assert_eq!(moved.clone().reworded(|m| format!("re-read: {m}")), moved);
        let disagrees = ActuatorError::ReadBackDisagrees {
            found: "GET /flag says on".into(),
        };
        assert_eq!(
            disagrees.to_string(),
            "read-back disagrees: GET /flag says on"
        );
        let reworded = ActuatorError::Unreachable("down".into()).reworded(|m| format!("{m}; x"));
        assert_eq!(reworded, ActuatorError::Unreachable("down; x".into()));
    }
}
