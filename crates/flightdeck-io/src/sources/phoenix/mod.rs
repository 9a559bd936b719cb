//! The Phoenix source: polls a project's spans and the prompt registry every interval, sends the
//! calls and prompt changes it finds, and reports its status. A Phoenix that is down is retried
//! at the next interval; nothing it answers can stop the source or the cockpit.

pub mod client;
pub mod prompts;
pub mod spans;

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;

use self::client::{PhoenixClient, PhoenixError};
use self::prompts::PromptHistory;
use self::spans::{ListedSpan, SpanMark};
use super::SourceEvent;
use crate::config::sources::PhoenixConfig;
use crate::model::{Call, Change, SourceState, SourceStatus};
use crate::otel::{Mapped, call_from_span};
use crate::outbox::Deliver;

/// Polls Phoenix until the app stops listening. A config that cannot work (no key in the
/// named variable, a zero interval) is reported as Failing once, and the source ends.
pub async fn run(config: PhoenixConfig, actions: mpsc::Sender<impl From<SourceEvent> + Send>) {
    let mut status = SourceStatus::waiting(source_name(&config));
    if actions
        .deliver(SourceEvent::Status(status.clone()))
        .await
        .is_err()
    {
        return;
    }
    let started = interval(&config).and_then(|interval| {
        let client = PhoenixClient::new(&config)?;
        Ok((interval, client))
    });
    let (interval, client) = match started {
        Ok(started) => started,
        Err(err) => {
            tracing::error!(source = %status.name, "{err}");
            status.state = SourceState::Failing(err.to_string());
            status.last_error = Some(err.to_string());
            let _ = actions.deliver(SourceEvent::Status(status)).await;
            return;
        }
    };
    let mut poller = Poller::new(client, &config, Utc::now());
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let poll = poller.poll().await;
        let wall = Utc::now();
        let before = status.clone();
        poll.report(&mut status, wall);
        if status.state != before.state {
            match &status.state {
                SourceState::Failing(error) => tracing::warn!(source = %status.name, "{error}"),
                _ => tracing::info!(source = %status.name, "connected"),
            }
        }
        if !(poll.calls.is_empty() && poll.changes.is_empty())
            && actions
                .deliver(SourceEvent::observed_live(wall, poll.calls, poll.changes))
                .await
                .is_err()
        {
            return;
        }
        if status != before
            && actions
                .deliver(SourceEvent::Status(status.clone()))
                .await
                .is_err()
        {
            return;
        }
    }
}

/// "phoenix 127.0.0.1:6006/support-answer": where the spans come from.
pub fn source_name(config: &PhoenixConfig) -> String {
    let address = reqwest::Url::parse(&config.url)
        .ok()
        .and_then(|url| {
            let host = url.host_str()?.to_owned();
            Some(match url.port_or_known_default() {
                Some(port) => format!("{host}:{port}"),
                None => host,
            })
        })
        .unwrap_or_else(|| "(invalid url)".to_string());
    format!("phoenix {address}/{}", config.project)
}

fn interval(config: &PhoenixConfig) -> Result<Duration, PhoenixError> {
    match config.interval_seconds {
        0 => Err(PhoenixError::InvalidConfig(
            "interval_seconds must be at least 1".into(),
        )),
        seconds => Ok(Duration::from_secs(seconds)),
    }
}

/// Where the first poll starts reading: `minutes` back, but not before 1970 (Phoenix refuses
/// earlier times, and a huge setting must not overflow).
fn backfill_from(minutes: u64, now: DateTime<Utc>) -> DateTime<Utc> {
    i64::try_from(minutes)
        .ok()
        .and_then(TimeDelta::try_minutes)
        .and_then(|backfill| now.checked_sub_signed(backfill))
        .map_or(DateTime::UNIX_EPOCH, |from| from.max(DateTime::UNIX_EPOCH))
}

/// What one poll found.
#[derive(Debug, Default)]
struct Poll {
    /// In time order.
    calls: Vec<Call>,
    changes: Vec<Change>,
    /// Spans read that are not LLM calls.
    skipped: u64,
    /// Why each LLM span that could not be read as a call was refused.
    rejected: Vec<String>,
    /// Things to tell the user that stop nothing (a configured prompt Phoenix does not have).
    notices: Vec<String>,
    /// End of the newest span read.
    newest_end: Option<DateTime<Utc>>,
    /// The first request that failed; the rest of the poll went on without it.
    failure: Option<PhoenixError>,
}

impl Poll {
    fn fail(&mut self, error: PhoenixError) {
        self.failure.get_or_insert(error);
    }

    /// Folds the poll into the source's status, as of `wall`.
    fn report(&self, status: &mut SourceStatus, wall: DateTime<Utc>) {
        let delivered = self.calls.len() + self.changes.len();
        status.received += delivered as u64;
        status.rejected += self.rejected.len() as u64;
        status.skipped += self.skipped;
        if delivered > 0 {
            status.last_data = Some(wall);
        }
        if let Some(end) = self.newest_end {
            status.lag_ms = Some((wall - end).num_milliseconds());
        }
        let problems = self.rejected.iter().chain(&self.notices);
        if let Some(problem) = problems.last() {
            status.last_error = Some(problem.clone());
        }
        status.state = match &self.failure {
            Some(error) => {
                status.last_error = Some(error.to_string());
                SourceState::Failing(error.to_string())
            }
            None => SourceState::Connected,
        };
    }
}

struct Poller {
    client: PhoenixClient,
    project: String,
    /// Until a span has been delivered, polls read only spans started after this.
    backfill_from: DateTime<Utc>,
    mark: SpanMark,
    prompts: Vec<PromptHistory>,
}

impl Poller {
    fn new(client: PhoenixClient, config: &PhoenixConfig, now: DateTime<Utc>) -> Self {
        Self {
            client,
            project: config.project.clone(),
            backfill_from: backfill_from(config.backfill_minutes, now),
            mark: SpanMark::default(),
            prompts: config
                .prompts
                .iter()
                .map(|name| PromptHistory::new(name, &config.tag))
                .collect(),
        }
    }

    /// Reads new spans and every prompt; one failing does not keep the others from being read.
    async fn poll(&mut self) -> Poll {
        let mut poll = Poll::default();
        match self.new_spans().await {
            Ok(spans) => self.map_spans(spans, &mut poll),
            Err(error) => poll.fail(error),
        }
        let seen_at = Utc::now();
        for history in &mut self.prompts {
            match read_prompt(&self.client, history, seen_at).await {
                Ok(Some(changes)) => poll.changes.extend(changes),
                Ok(None) => poll.notices.push(format!(
                    "[sources.phoenix] prompts: Phoenix has no prompt {:?}",
                    history.name()
                )),
                Err(error) => poll.fail(error),
            }
        }
        poll
    }

    /// The spans added since the last poll, oldest first: pages from the newest back to the
    /// mark. The mark moves only when every page was read, so a failed poll is redone whole.
    async fn new_spans(&mut self) -> Result<Vec<ListedSpan>, PhoenixError> {
        let since = (!self.mark.is_set()).then_some(self.backfill_from);
        let mut fresh = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = self
                .client
                .spans_page(&self.project, cursor.as_deref(), since)
                .await?;
            let new = self.mark.new_spans(page.spans);
            fresh.extend(new.spans);
            match page.next_cursor {
                Some(next) if !new.reached_mark => cursor = Some(next),
                _ => break,
            }
        }
        self.mark.advance(&fresh);
        fresh.sort_by_key(|span| span.row);
        Ok(fresh)
    }

    fn map_spans(&self, spans: Vec<ListedSpan>, poll: &mut Poll) {
        for span in spans {
            let record = match spans::span_record(span.json, &self.project) {
                Ok(record) => record,
                Err(reason) => {
                    poll.rejected
                        .push(format!("Phoenix span (row {}): {reason}", span.row));
                    continue;
                }
            };
            poll.newest_end = poll.newest_end.max(Some(record.end));
            match call_from_span(&record) {
                Ok(Mapped::Call(call)) => poll.calls.push(*call),
                Ok(Mapped::NotAnLlmCall) => poll.skipped += 1,
                Err(error) => poll.rejected.push(error.to_string()),
            }
        }
        poll.calls.sort_by_key(|call| call.ts);
    }
}

/// The prompt's new versions and tag moves; `None` when Phoenix has no such prompt.
async fn read_prompt(
    client: &PhoenixClient,
    history: &mut PromptHistory,
    seen_at: DateTime<Utc>,
) -> Result<Option<Vec<Change>>, PhoenixError> {
    let listed = client
        .prompt_versions(history.name(), |id| history.knows(id))
        .await?;
    if listed.is_empty() {
        return Ok(None);
    }
    let tagged = client.tagged_version(history.name(), history.tag()).await?;
    let unknown: Vec<&str> = listed
        .iter()
        .map(|version| version.id.as_str())
        .filter(|id| !history.knows(id))
        .collect();
    let facts = client.version_facts(&unknown).await?;
    Ok(Some(history.read(
        &listed,
        &facts,
        tagged.as_deref(),
        seen_at,
    )))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::http::HttpError;

    fn config(url: &str) -> PhoenixConfig {
        toml::from_str(&format!("url = {url:?}\nproject = \"support-answer\"")).unwrap()
    }

    fn at(second: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 14, 13, 0, second).unwrap()
    }

    #[test]
    fn names_the_source_by_address_and_project() {
        assert_eq!(
            source_name(&config("http://127.0.0.1:6006/")),
            "phoenix 127.0.0.1:6006/support-answer"
        );
        assert_eq!(
            source_name(&config("https://phoenix.example.com")),
            "phoenix phoenix.example.com:443/support-answer"
        );
    }

    #[tokio::test]
    async fn credentials_in_the_url_never_reach_the_status_or_its_errors() {
        // Port 9 (discard) has nothing listening on loopback here: the poll fails at once.
        let mut config = config("http://ana:s3cret-pass@127.0.0.1:9");
        config.interval_seconds = 1;
        assert_eq!(source_name(&config), "phoenix 127.0.0.1:9/support-answer");
        let (tx, mut actions) = mpsc::channel(16);
        tokio::spawn(run(config, tx));
        let failing = loop {
            match actions.recv().await.expect("the source reports") {
                SourceEvent::Status(status) if matches!(status.state, SourceState::Failing(_)) => {
                    break status;
                }
                _ => {}
            }
        };
        let shown = format!("{failing:?}");
        assert!(shown.contains("127.0.0.1:9"), "{shown}");
        assert!(
            !shown.contains("s3cret-pass") && !shown.contains("ana:"),
            "{shown}"
        );
    }

    #[test]
    fn the_backfill_reaches_back_the_configured_minutes_and_never_before_1970() {
        assert_eq!(backfill_from(60, at(0)), at(0) - TimeDelta::hours(1));
        assert_eq!(backfill_from(u64::MAX, at(0)), DateTime::UNIX_EPOCH);
        assert_eq!(backfill_from(100_000_000, at(0)), DateTime::UNIX_EPOCH);
    }

    #[test]
    fn a_zero_interval_is_refused_naming_the_field() {
        let mut config = config("http://127.0.0.1:6006");
        config.interval_seconds = 0;
        let error = interval(&config).unwrap_err().to_string();
        assert_eq!(
            error,
            "[sources.phoenix] interval_seconds must be at least 1"
        );
    }

    #[test]
    fn a_poll_counts_what_it_delivered_skipped_and_refused() {
        let mut status = SourceStatus::waiting("phoenix");
        let poll = Poll {
            skipped: 3,
            rejected: vec!["span 1 \"chat\": `gen_ai.request.model` is missing".into()],
            newest_end: Some(at(2)),
            ..Poll::default()
        };
        poll.report(&mut status, at(5));
        assert_eq!(status.state, SourceState::Connected);
        assert_eq!(
            (status.received, status.skipped, status.rejected),
            (0, 3, 1)
        );
        assert_eq!(status.lag_ms, Some(3_000));
        assert_eq!(status.last_data, None);
        assert!(status.last_error.as_deref().unwrap().contains("is missing"));
    }

    #[test]
    fn a_failed_poll_is_failing_and_the_error_outlives_the_recovery() {
        let mut status = SourceStatus::waiting("phoenix");
        let mut failed = Poll::default();
        failed.fail(PhoenixError::Http(HttpError::Connection {
            url: "http://127.0.0.1:1/v1/projects/p/spans".into(),
            reason: "Connection refused (os error 111)".into(),
        }));
        failed.fail(PhoenixError::InvalidConfig("second".into()));
        failed.report(&mut status, at(1));
        let SourceState::Failing(error) = &status.state else {
            panic!("expected Failing, got {:?}", status.state);
        };
        assert!(error.contains("127.0.0.1:1") && error.contains("Connection refused"));

        Poll::default().report(&mut status, at(2));
        assert_eq!(status.state, SourceState::Connected);
        assert!(status.last_error.unwrap().contains("Connection refused"));
    }
}
