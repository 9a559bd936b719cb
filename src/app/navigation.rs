//! Moving around the cockpit: panes, overlays, selection and scrolling, and the commands keys
//! stand for.

use super::editing::{EditTarget, Editor, RecordField};
use super::keymap::Command;
use super::{App, Effect, Level, LoggedEntry, PlaybackCommand, jump_lead, timeline_view};
use crate::engine::diff::{DiffTag, word_diff};
use crate::engine::triage::Triage;
use crate::model::{ChangeKind, EntryKind, MitigationPlan, Status};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Metrics,
    Triage,
    Changes,
    Timeline,
}

impl Pane {
    const ORDER: [Pane; 4] = [Self::Metrics, Self::Triage, Self::Changes, Self::Timeline];

    pub(super) fn step(self, by: isize) -> Self {
        let i = Self::ORDER.iter().position(|p| *p == self).unwrap_or(0) as isize;
        Self::ORDER[(i + by).rem_euclid(Self::ORDER.len() as isize) as usize]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Button {
    Cancel,
    Apply,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Overlay {
    Help,
    /// A mitigation waiting for the user's word; `typed` is the name typed so far, when the
    /// plan asks for one.
    Confirm {
        plan: Box<MitigationPlan>,
        focus: Button,
        typed: String,
    },
    /// Typing a note, a record field, an entry's corrected text or the timeline filter.
    Editor(Editor),
    /// The incident record's fields, one selected.
    Record {
        selected: usize,
    },
    Diff(PromptDiff),
    Entry(u64),
    /// A drill's scorecard, from `App::scorecard`.
    Scorecard,
}

/// A prompt change's word diff, ready to draw.
#[derive(Debug, Clone, PartialEq)]
pub struct PromptDiff {
    pub title: String,
    pub runs: Vec<(DiffTag, String)>,
}

fn diff_of(change: &crate::model::Change) -> PromptDiff {
    PromptDiff {
        title: format!(
            "{} {} at {}",
            change.target,
            change.transition(),
            change.ts.format("%Y-%m-%d %H:%M UTC")
        ),
        runs: word_diff(
            change.text_from.as_deref().unwrap_or_default(),
            change.text_to.as_deref().unwrap_or_default(),
        ),
    }
}

impl App {
    /// The triage on screen: with an incident, as the incident decided it (it stays after the
    /// alarm is over); without one, the live triage.
    pub fn shown_triage(&self) -> Option<&Triage> {
        let live = self.assessment.as_ref().and_then(|a| a.triage.as_ref());
        if self.incident.is_some() {
            self.triage.as_ref().or(live)
        } else {
            live
        }
    }

    /// Carries out what a key stands for in the current context.
    // One arm per command in the key table: what every key does, in one match.
    pub(super) fn command(&mut self, command: Command) -> Vec<Effect> {
        match command {
            // A drill shows its scorecard before it ends; quitting from the scorecard ends it.
            Command::Quit => match self.drill_to_score() {
                Some(answer) => self.end_drill(&answer),
                None => {
                    self.should_quit = true;
                    vec![Effect::Quit]
                }
            },
            Command::ToggleHelp => {
                self.overlay = match self.overlay {
                    Some(Overlay::Help) => None,
                    _ => Some(Overlay::Help),
                };
                Vec::new()
            }
            Command::TogglePresenter => {
                self.presenting = !self.presenting;
                Vec::new()
            }
            Command::Back => self.back(),
            Command::FocusNext => self.refocus(1),
            Command::FocusPrevious => self.refocus(-1),
            Command::Up => self.scroll(-1),
            Command::Down => self.scroll(1),
            Command::PageUp => self.scroll(-10),
            Command::PageDown => self.scroll(10),
            Command::Top => self.scroll(isize::MIN / 2),
            Command::Bottom => self.scroll(isize::MAX / 2),
            Command::Open => self.open_selected(),
            Command::Mitigate(kind) => self.request_mitigation(kind),
            Command::Undo => match self.undo.clone() {
                Some(plan) => self.request(plan),
                None => {
                    self.message = Some((Level::Info, "no mitigation to undo".into()));
                    Vec::new()
                }
            },
            Command::TogglePause => match self.playback.as_mut() {
                Some(playback) if !playback.ended => {
                    playback.paused = !playback.paused;
                    vec![Effect::Playback(if playback.paused {
                        PlaybackCommand::Pause
                    } else {
                        PlaybackCommand::Resume
                    })]
                }
                _ => Vec::new(),
            },
            Command::JumpToOnset => match &self.playback {
                Some(playback) => match playback.onset {
                    Some(onset) if self.now.is_none_or(|now| now < onset - jump_lead()) => {
                        vec![Effect::Playback(PlaybackCommand::JumpToOnset)]
                    }
                    Some(_) => {
                        self.message = Some((
                            Level::Info,
                            "already within ten minutes of the onset, or past it".into(),
                        ));
                        Vec::new()
                    }
                    None => {
                        self.message = Some((
                            Level::Info,
                            "no onset: the triage found no incident in this recording".into(),
                        ));
                        Vec::new()
                    }
                },
                None => Vec::new(),
            },
            Command::ToggleButton => {
                if let Some(Overlay::Confirm { focus, .. }) = &mut self.overlay {
                    *focus = match focus {
                        Button::Cancel => Button::Apply,
                        Button::Apply => Button::Cancel,
                    };
                }
                Vec::new()
            }
            Command::Activate => self.activate_confirm(),
            Command::AddNote => {
                if self.incident.is_none() {
                    self.message =
                        Some((Level::Warn, "no incident open: declare one with d".into()));
                } else {
                    self.overlay = Some(Overlay::Editor(Editor::new(
                        EditTarget::Note,
                        String::new(),
                    )));
                }
                Vec::new()
            }
            // The editor's text lives with the view; the runtime submits it as TextSubmitted.
            Command::SaveText => Vec::new(),
            Command::EditRecord => {
                if self.incident.is_none() {
                    self.message =
                        Some((Level::Warn, "no incident open: declare one with d".into()));
                } else {
                    self.overlay = Some(Overlay::Record { selected: 0 });
                }
                Vec::new()
            }
            Command::EditEntry => {
                if let Some(Overlay::Entry(seq)) = self.overlay {
                    let text = self.current_text(seq).unwrap_or_default();
                    self.overlay = Some(Overlay::Editor(Editor::new(EditTarget::Entry(seq), text)));
                }
                Vec::new()
            }
            Command::FilterTimeline => {
                self.focus = Pane::Timeline;
                self.overlay = Some(Overlay::Editor(Editor::new(
                    EditTarget::Filter,
                    self.timeline_query.clone(),
                )));
                Vec::new()
            }
            Command::ToggleLocalTime => {
                self.local_time = !self.local_time;
                self.message = Some((Level::Info, format!("times in {}", self.zone().name())));
                Vec::new()
            }
            Command::Declare => self.ask_to_declare(),
            Command::Acknowledge => self.change_status(Status::Investigating),
            Command::Identify => self.change_status(Status::Identified),
            Command::ToggleStar => self.toggle_star(),
            Command::CycleTimelineFilter => {
                self.timeline_filter = self.timeline_filter.next();
                self.entry_selected = 0;
                Vec::new()
            }
            Command::MarkMitigated => self.change_status(Status::Mitigated),
            Command::RaiseSeverity => self.change_severity(-1),
            Command::LowerSeverity => self.change_severity(1),
            Command::Resolve => {
                let mut effects = self.change_status(Status::Resolved);
                let resolved = self
                    .incident
                    .as_ref()
                    .is_some_and(|i| i.status == Status::Resolved);
                if resolved && let Some(answer) = self.drill_to_score() {
                    effects.extend(self.end_drill(&answer));
                }
                effects
            }
            Command::ShowPromptDiff => {
                self.show_prompt_diff();
                Vec::new()
            }
        }
    }

    pub(super) fn back(&mut self) -> Vec<Effect> {
        match self.overlay.take() {
            Some(Overlay::Editor(Editor {
                target: EditTarget::Field(field),
                ..
            })) => {
                self.overlay = Some(Overlay::Record {
                    selected: RecordField::ALL
                        .iter()
                        .position(|f| *f == field)
                        .unwrap_or(0),
                });
                Vec::new()
            }
            Some(Overlay::Editor(Editor {
                target: EditTarget::Filter,
                ..
            })) => {
                self.timeline_query.clear();
                self.entry_selected = 0;
                Vec::new()
            }
            Some(Overlay::Editor(Editor {
                target: EditTarget::Entry(seq),
                ..
            })) => {
                self.overlay = Some(Overlay::Entry(seq));
                Vec::new()
            }
            Some(Overlay::Confirm { plan, .. }) => {
                let actor = self.settings.actor.clone();
                self.log(
                    EntryKind::ActionCancelled {
                        action: plan.action(),
                    },
                    &actor,
                    format!("cancelled {}", plan.summary()),
                )
                .into_iter()
                .collect()
            }
            Some(_) => Vec::new(),
            None => {
                self.message = None;
                Vec::new()
            }
        }
    }

    pub(super) fn refocus(&mut self, by: isize) -> Vec<Effect> {
        self.focus = self.focus.step(by);
        Vec::new()
    }

    pub(super) fn scroll(&mut self, by: isize) -> Vec<Effect> {
        if let Some(Overlay::Confirm { plan, .. }) = &mut self.overlay {
            // Up and down pick among the plan's choices, e.g. the prompt versions to roll back to.
            if let Some(at) = plan.chosen() {
                let last = plan.choices.len().saturating_sub(1) as isize;
                **plan = plan.choose((at as isize).saturating_add(by).clamp(0, last) as usize);
            }
            return Vec::new();
        }
        if let Some(Overlay::Record { selected }) = &mut self.overlay {
            let last = RecordField::ALL.len() as isize - 1;
            *selected = (*selected as isize).saturating_add(by).clamp(0, last) as usize;
            return Vec::new();
        }
        let (selected, len) = match self.focus {
            Pane::Changes => (&mut self.change_selected, self.engine.changes().len()),
            Pane::Timeline => {
                let len = self.visible_entries().len();
                (&mut self.entry_selected, len)
            }
            Pane::Triage => {
                let lines = self.triage_lines();
                self.triage_scroll = (self.triage_scroll as isize)
                    .saturating_add(by)
                    .clamp(0, lines.saturating_sub(1) as isize)
                    as u16;
                return Vec::new();
            }
            Pane::Metrics => return Vec::new(),
        };
        let max = len.saturating_sub(1) as isize;
        *selected = (*selected as isize).saturating_add(by).clamp(0, max) as usize;
        Vec::new()
    }

    /// The timeline entry selected in the pane, by its sequence number.
    pub(super) fn selected_entry(&self) -> Option<u64> {
        self.visible_entries()
            .get(self.entry_selected)
            .map(|l| l.entry.seq)
    }

    /// The entries the timeline pane shows, newest first: of the chosen kind, containing the
    /// filter's text.
    pub fn visible_entries(&self) -> Vec<&LoggedEntry> {
        let starred = timeline_view::starred(&self.timeline);
        timeline_view::visible_starred(&self.timeline, self.timeline_filter, &starred)
            .into_iter()
            .filter(|l| {
                timeline_view::matches(&self.entry_text(&l.entry), &l.entry, &self.timeline_query)
            })
            .collect()
    }

    /// Stars the selected timeline entry for the postmortem, or takes its star away.
    pub(super) fn toggle_star(&mut self) -> Vec<Effect> {
        if self.focus != Pane::Timeline {
            self.message = Some((
                Level::Info,
                "focus the timeline (Tab) and select the entry to star".into(),
            ));
            return Vec::new();
        }
        let Some(seq) = self.selected_entry() else {
            return Vec::new();
        };
        let starred = !timeline_view::starred(&self.timeline).contains(&seq);
        let actor = self.settings.actor.clone();
        let verb = if starred { "starred" } else { "unstarred" };
        // Name the entry by what it says, so the star reads on its own in the record.
        let what = self
            .timeline
            .iter()
            .find(|l| l.entry.seq == seq)
            .map(|l| format!("{}: {}", l.entry.kind.label(), l.entry.text))
            .unwrap_or_default();
        let what: String = what.chars().take(80).collect();
        self.log(
            EntryKind::Starred { seq, starred },
            &actor,
            format!("{verb} entry {seq} for the postmortem ({what})"),
        )
        .into_iter()
        .collect()
    }

    /// How many lines the triage pane holds, so scrolling stops at its end.
    pub(super) fn triage_lines(&self) -> usize {
        self.assessment
            .as_ref()
            .and_then(|a| a.triage.as_ref())
            .map_or(0, |t| {
                2 + t.steps.iter().map(|s| 1 + s.evidence.len()).sum::<usize>()
            })
    }

    pub(super) fn open_selected(&mut self) -> Vec<Effect> {
        if let Some(Overlay::Record { selected }) = self.overlay {
            self.edit_field(RecordField::ALL[selected]);
            return Vec::new();
        }
        match self.focus {
            Pane::Timeline => {
                if let Some(seq) = self.selected_entry() {
                    self.overlay = Some(Overlay::Entry(seq));
                }
            }
            Pane::Changes => {
                let change = self.engine.changes().iter().rev().nth(self.change_selected);
                match change.map(|r| r.change.clone()) {
                    Some(c) if c.text_from.is_some() && c.text_to.is_some() => {
                        self.overlay = Some(Overlay::Diff(diff_of(&c)));
                    }
                    Some(c) => {
                        self.message = Some((
                            Level::Info,
                            format!("{} {}: no prompt texts to diff", c.kind, c.target),
                        ));
                    }
                    None => {}
                }
            }
            Pane::Metrics | Pane::Triage => {}
        }
        Vec::new()
    }

    /// The diff of the prompt change the triage is looking at, else of the latest prompt deploy.
    pub(super) fn show_prompt_diff(&mut self) {
        let latest = self
            .engine
            .changes()
            .iter()
            .rev()
            .find(|r| {
                r.change.kind == ChangeKind::PromptDeploy
                    && r.change.text_from.is_some()
                    && r.change.text_to.is_some()
            })
            .map(|r| r.change.clone());
        let from_triage = self
            .triage
            .as_ref()
            .and_then(|t| t.prompt_change.clone())
            .and_then(|p| {
                self.engine
                    .changes()
                    .iter()
                    .rev()
                    .find(|r| r.change.kind == ChangeKind::PromptDeploy && r.change.to == p.to)
                    .filter(|r| r.change.text_from.is_some() && r.change.text_to.is_some())
                    .map(|r| r.change.clone())
            });
        match from_triage.or(latest) {
            Some(change) => self.overlay = Some(Overlay::Diff(diff_of(&change))),
            None => {
                self.message = Some((
                    Level::Info,
                    "no prompt change with texts to diff yet".into(),
                ));
            }
        }
    }
}
