//! Model updates that keep their name: the style of the outputs (their length, first two words
//! and last word) shifts at one time on the features that share a requested model, while their
//! inputs stay put and no release touched them. It runs on every call, so each call costs a
//! few hashes and CUSUM steps, and the memory is bounded by [`MAX_SLICES`].
//!
//! Each slice (requested model, feature, prompt version) learns a reference style from a block
//! of calls and watches later calls against it with likelihood-ratio CUSUMs, so that each
//! detector sees about e^h calls between false alarms whatever the shape of the traffic:
//! - length: which octile of the reference's lengths a call falls in, against the alternative
//!   that lengths moved by three quarters of a standard deviation in normal scores, either way;
//! - opening and closing: which of the reference's frequent phrases a call uses, against the
//!   alternative that half the calls leave the reference's shares for any phrase alike.
//!
//! Input guards (the inputs' length and opening) watch the same way at a lower threshold, so a
//! change in what is asked explains the change in what is answered.

use chrono::{DateTime, Duration, Utc};
use foldhash::{HashMap, HashSet};

use crate::model::{Call, CallStatus};

/// Calls a reference style is learned from. A learned reference waits one more block before it
/// replaces the one in use, so a change that starts while it is learned is still caught.
const BLOCK_CALLS: u32 = 200;
/// Phrases a reference names; the others count as one "other" phrase.
const NAMED_PHRASES: usize = 6;
/// A phrase below this share of the block is not named.
const NAMED_SHARE: f64 = 0.03;
/// Distinct phrases counted while learning: the frequent ones appear early.
const COUNTED_PHRASES: usize = 48;
/// Bytes at each end of a text in which its first two words and its last word are looked for.
const EDGE_BYTES: usize = 64;
/// Recent calls kept per slice for the evidence: means and shares since the onset.
const RECENT_CALLS: usize = 96;
/// Output CUSUM threshold, a log-likelihood ratio: about e^12 (160,000) calls between false
/// alarms of each detector with the reference known. A length shift of one standard deviation
/// is seen after about 30 calls, a new opening on most calls after about 5.
const OUTPUT_ALARM: f64 = 12.0;
/// Input guard threshold, lower: about e^10 (22,000) calls between false alarms, so inputs that
/// moved as much as the outputs are seen first, and a guard rarely hides a real change by chance.
const INPUT_ALARM: f64 = 10.0;
/// The length shift the length CUSUMs test, in standard deviations of normal scores.
const LENGTH_SHIFT: f64 = 0.75;
/// Normal scores of the eight octiles: the middle of each in a standard normal distribution.
const OCTILE_SCORES: [f64; 8] = [-1.534, -0.887, -0.489, -0.157, 0.157, 0.489, 0.887, 1.534];
/// The alternative the phrase CUSUMs test: this share of calls leaves the reference's shares
/// for any phrase alike (each named one and "other" equally likely).
const PHRASE_MOVE: f64 = 0.5;
/// Least share of "other" phrases a reference assumes: a block of 200 calls misses a phrase of
/// a percent or two, which must not read as a change when it shows.
const OTHER_FLOOR: f64 = 0.02;
/// Calls after an output alarm before it counts, during which the input guards may still move.
const CONFIRM_CALLS: u32 = 20;
/// Slices watched at most; past this the least recently seen one makes room.
const MAX_SLICES: usize = 256;

/// Shifts on different features whose onsets are this close happened "at one time".
fn coincidence() -> Duration {
    Duration::minutes(10)
}

/// How long a shift on one feature waits for the other features of its model to shift too.
fn shift_memory() -> Duration {
    Duration::minutes(45)
}

/// A feature counts among its model's users when it sent a call this recently.
fn active_within() -> Duration {
    Duration::minutes(30)
}

/// A release touching a feature this long before the onset of its shift explains the shift.
pub(crate) fn release_margin() -> Duration {
    Duration::minutes(30)
}

/// Inputs whose shift began this long before the onset of an output shift explain it.
fn input_margin() -> Duration {
    Duration::minutes(3)
}

/// A feature whose outputs shifted; the change log says whether a release explains it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Suspect<'a> {
    pub feature: &'a str,
    pub prompt: Option<&'a str>,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// A model change inferred from the outputs of the features that share a requested model.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StyleChange {
    pub model: String,
    /// The estimated time of the change: the median onset of the features' shifts.
    pub ts: DateTime<Utc>,
    /// The features whose outputs shifted, sorted.
    pub features: Vec<String>,
    /// "gpt-4o outputs 1.6× longer since 14:12 on 2 of 2 features (tokens_out 180 → 290),
    /// opening 'Sure —' 72% → 8%; model_served absent".
    pub evidence: String,
}

/// Watches the output style of every slice and infers model changes from simultaneous shifts.
#[derive(Debug, Default)]
pub(crate) struct StyleWatch {
    slices: Vec<Slice>,
    index: HashMap<u64, usize>,
    /// Shifts on single features, waiting for their model's other features.
    shifts: Vec<FeatureShift>,
}

impl StyleWatch {
    /// Takes in a call; returns a model change once the outputs of enough features of its
    /// requested model shifted at one time. `explained` says whether a release touching the
    /// feature explains a shift on it.
    pub fn observe(
        &mut self,
        call: &Call,
        explained: impl Fn(&Suspect) -> bool,
    ) -> Option<StyleChange> {
        if call.status != CallStatus::Ok {
            return None;
        }
        let style = CallStyle::of(call)?;
        let index = self.slice_for(call);
        let shift = self.slices[index].observe(&style, call.model_served.as_deref())?;
        let slice = &self.slices[index];
        let suspect = Suspect {
            feature: &slice.feature,
            prompt: slice.prompt.as_deref(),
            from: shift.onset - release_margin(),
            to: shift.confirmed_at,
        };
        if explained(&suspect) {
            return None;
        }
        self.shifts
            .retain(|s| call.ts - s.confirmed_at <= shift_memory());
        self.shifts.push(shift);
        self.corroborate(call.ts)
    }

    /// Whether the newest shift and others of its model make a model change: on at least two
    /// features and half of those active, or on the only active one with two signals and its
    /// inputs watched. Shifts make one change when their onsets are close and they moved the
    /// same way in one respect at least (longer, shorter, openings or closings).
    fn corroborate(&mut self, now: DateTime<Utc>) -> Option<StyleChange> {
        let newest = self.shifts.last()?;
        let model = newest.model.clone();
        let mut together: Vec<&FeatureShift> = Vec::new();
        for shift in self.shifts.iter().rev() {
            if shift.model == model
                && (shift.onset - newest.onset).abs() <= coincidence()
                && shift.signals.shares(newest.signals)
                && !together.iter().any(|s| s.feature == shift.feature)
            {
                together.push(shift);
            }
        }
        let mut active: HashSet<&str> = self
            .slices
            .iter()
            .filter(|s| s.model == model && s.judged && now - s.last_seen <= active_within())
            .map(|s| s.feature.as_str())
            .collect();
        active.extend(together.iter().map(|s| s.feature.as_str()));
        let enough = match together.as_slice() {
            [only] if active.len() == 1 => only.signals.count() >= 2 && only.inputs_watched,
            _ => together.len() >= 2 && 2 * together.len() >= active.len(),
        };
        if !enough {
            return None;
        }
        let mut onsets: Vec<DateTime<Utc>> = together.iter().map(|s| s.onset).collect();
        onsets.sort();
        // The upper median: a CUSUM's excursion can begin early by chance, never late.
        let ts = onsets[onsets.len() / 2];
        let mut features: Vec<String> = together.iter().map(|s| s.feature.clone()).collect();
        features.sort();
        let evidence = describe(&model, ts, &together, active.len());
        // The new style is the model's normal from now on: every slice of it learns afresh.
        self.shifts.retain(|s| s.model != model);
        for slice in self.slices.iter_mut().filter(|s| s.model == model) {
            slice.restart();
        }
        Some(StyleChange {
            model,
            ts,
            features,
            evidence,
        })
    }

    fn slice_for(&mut self, call: &Call) -> usize {
        let prompt = call.prompt_version.as_deref().unwrap_or("");
        let key = [call.model_requested.as_str(), call.feature.as_str(), prompt]
            .iter()
            .fold(FNV_OFFSET, |hash, part| {
                fnv(fnv(hash, part.as_bytes()), &[0xff])
            });
        if let Some(index) = self.index.get(&key) {
            return *index;
        }
        let slice = Slice::new(key, call);
        let index = if self.slices.len() < MAX_SLICES {
            self.slices.push(slice);
            self.slices.len() - 1
        } else {
            let (index, stale) = self
                .slices
                .iter()
                .enumerate()
                .min_by_key(|(_, s)| s.last_seen)
                .expect("the slices are full");
            self.index.remove(&stale.key);
            self.slices[index] = slice;
            index
        };
        self.index.insert(key, index);
        index
    }
}

/// "gpt-4o outputs 1.6× longer since 14:12 on 2 of 2 features (tokens_out 180 → 290), opening
/// 'Sure —' 72% → 8%; model_served absent".
fn describe(model: &str, ts: DateTime<Utc>, shifts: &[&FeatureShift], active: usize) -> String {
    let mean = |values: &mut dyn Iterator<Item = f64>| {
        let (sum, n) = values.fold((0.0, 0), |(sum, n), v| (sum + v, n + 1));
        (n > 0).then(|| sum / f64::from(n))
    };
    let before = mean(&mut shifts.iter().map(|s| s.numbers.bytes.0)).unwrap_or(0.0);
    let after = mean(&mut shifts.iter().map(|s| s.numbers.bytes.1)).unwrap_or(0.0);
    let ratio = after / before.max(1.0);
    let length = if ratio >= 1.1 {
        format!("outputs {ratio:.1}× longer")
    } else if ratio <= 0.9 {
        format!("outputs {ratio:.1}× as long")
    } else {
        format!("outputs as long (×{ratio:.2})")
    };
    let mut text = format!(
        "{model} {length} since {} on {} of {active} features",
        ts.format("%H:%M"),
        shifts.len()
    );
    let tokens: Vec<(f64, f64)> = shifts.iter().filter_map(|s| s.numbers.tokens).collect();
    if let (Some(before), Some(after)) = (
        mean(&mut tokens.iter().map(|t| t.0)),
        mean(&mut tokens.iter().map(|t| t.1)),
    ) {
        text.push_str(&format!(" (tokens_out {before:.0} → {after:.0})"));
    }
    for (side, moved) in [
        (
            "opening",
            largest_move(shifts.iter().map(|s| &s.numbers.opening)),
        ),
        (
            "closing",
            largest_move(shifts.iter().map(|s| &s.numbers.closing)),
        ),
    ] {
        if let Some(m) = moved.filter(|m| (m.after - m.before).abs() >= SHOWN_MOVE) {
            text.push_str(&format!(
                ", {side} '{}' {:.0}% → {:.0}%",
                m.text,
                m.before * 100.0,
                m.after * 100.0
            ));
        }
    }
    let served: HashSet<Option<&str>> = shifts.iter().map(|s| s.served.as_deref()).collect();
    let mut served: Vec<Option<&str>> = served.into_iter().collect();
    served.sort();
    text.push_str(&match served.as_slice() {
        [None] => "; model_served absent".to_string(),
        [Some(name)] => format!("; model_served {name} unchanged"),
        names => format!(
            "; model_served {}",
            names
                .iter()
                .map(|n| n.unwrap_or("absent"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    });
    text
}

/// A phrase share that moved less than this is not named in the evidence.
const SHOWN_MOVE: f64 = 0.15;

fn largest_move<'a>(moves: impl Iterator<Item = &'a Option<PhraseMove>>) -> Option<&'a PhraseMove> {
    moves.flatten().max_by(|a, b| {
        (a.after - a.before)
            .abs()
            .total_cmp(&(b.after - b.before).abs())
    })
}

/// A shift in the outputs of one slice, with the inputs steady.
#[derive(Debug, Clone, PartialEq)]
struct FeatureShift {
    model: String,
    feature: String,
    onset: DateTime<Utc>,
    confirmed_at: DateTime<Utc>,
    signals: Signals,
    /// Whether the calls carried inputs, so the input guards could rule input drift out.
    inputs_watched: bool,
    served: Option<String>,
    numbers: ShiftNumbers,
}

/// Which output CUSUMs crossed their threshold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Signals {
    longer: bool,
    shorter: bool,
    opening: bool,
    closing: bool,
}

impl Signals {
    fn flags(self) -> [bool; 4] {
        [self.longer, self.shorter, self.opening, self.closing]
    }

    fn count(self) -> usize {
        self.flags().into_iter().filter(|f| *f).count()
    }

    fn any(self) -> bool {
        self.count() > 0
    }

    fn shares(self, other: Self) -> bool {
        self.flags()
            .into_iter()
            .zip(other.flags())
            .any(|(a, b)| a && b)
    }

    fn union(self, other: Self) -> Self {
        Self {
            longer: self.longer || other.longer,
            shorter: self.shorter || other.shorter,
            opening: self.opening || other.opening,
            closing: self.closing || other.closing,
        }
    }
}

/// The reference's style against the calls since the onset.
#[derive(Debug, Clone, PartialEq)]
struct ShiftNumbers {
    /// Mean output length in bytes, before and after.
    bytes: (f64, f64),
    tokens: Option<(f64, f64)>,
    opening: Option<PhraseMove>,
    closing: Option<PhraseMove>,
}

/// The share of a reference phrase before and after.
#[derive(Debug, Clone, PartialEq)]
struct PhraseMove {
    text: String,
    before: f64,
    after: f64,
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a, ASCII case folded: deterministic across runs, and fast on a few short words.
fn fnv(hash: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(hash, |hash, byte| {
        (hash ^ u64::from(byte.to_ascii_lowercase())).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A phrase of a text, hashed, and the text itself for naming it.
#[derive(Debug, Clone, Copy)]
struct Phrase<'a> {
    hash: u64,
    text: &'a str,
}

impl<'a> Phrase<'a> {
    fn of(text: &'a str) -> Self {
        Self {
            hash: fnv(FNV_OFFSET, text.as_bytes()),
            text,
        }
    }

    /// The first two words, looked for in the first [`EDGE_BYTES`].
    fn opening(text: &'a str) -> Option<Self> {
        let mut end = EDGE_BYTES.min(text.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let head = &text[..end];
        let mut words = head.split_whitespace();
        let first = words.next()?;
        let last = words.next().unwrap_or(first);
        let start = first.as_ptr() as usize - head.as_ptr() as usize;
        let stop = last.as_ptr() as usize - head.as_ptr() as usize + last.len();
        Some(Self::of(&head[start..stop]))
    }

    /// The last word, looked for in the last [`EDGE_BYTES`].
    fn closing(text: &'a str) -> Option<Self> {
        let mut start = text.len().saturating_sub(EDGE_BYTES);
        while !text.is_char_boundary(start) {
            start += 1;
        }
        text[start..].split_whitespace().next_back().map(Self::of)
    }
}

/// What the watch reads of one answered call.
struct CallStyle<'a> {
    ts: DateTime<Utc>,
    /// Bytes of the output; from `tokens_out` (4 bytes a token) when it has no text.
    bytes: f64,
    tokens: Option<f64>,
    opening: Option<Phrase<'a>>,
    closing: Option<Phrase<'a>>,
    input: Option<InputStyle<'a>>,
}

struct InputStyle<'a> {
    bytes: f64,
    opening: Phrase<'a>,
}

impl<'a> CallStyle<'a> {
    fn of(call: &'a Call) -> Option<Self> {
        let tokens = call.tokens_out.map(|t| t as f64);
        let output = call.output.as_deref();
        let bytes = match output {
            Some(text) => text.len() as f64,
            None => tokens? * 4.0,
        };
        let input = call.input.as_deref().and_then(|text| {
            Some(InputStyle {
                bytes: text.len() as f64,
                opening: Phrase::opening(text)?,
            })
        });
        Some(Self {
            ts: call.ts,
            bytes,
            tokens,
            opening: output.and_then(Phrase::opening),
            closing: output.and_then(Phrase::closing),
            input,
        })
    }
}

/// A running mean.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Mean {
    n: f64,
    sum: f64,
}

impl Mean {
    fn add(&mut self, x: f64) {
        self.n += 1.0;
        self.sum += x;
    }

    fn value(&self) -> f64 {
        self.sum / self.n.max(1.0)
    }
}

/// A reference's lengths as octiles, and the evidence each octile gives that lengths moved.
#[derive(Debug, Clone, PartialEq)]
struct LengthBins {
    /// The seven boundaries between octiles; a length equal to one falls in the lower octile.
    bounds: [f64; 7],
    /// The log-likelihood ratio of each octile under lengths shifted up, and down.
    longer: [f64; 8],
    shorter: [f64; 8],
}

impl LengthBins {
    /// The octiles of `lengths` (sorted here), with shares counted as they fall, ties included.
    fn of(lengths: &mut [f64]) -> Option<Self> {
        if lengths.len() < 8 {
            return None;
        }
        lengths.sort_by(f64::total_cmp);
        let n = lengths.len();
        let bounds: [f64; 7] = std::array::from_fn(|k| lengths[(k + 1) * n / 8 - 1]);
        let mut counts = [0.0; 8];
        for length in lengths.iter() {
            counts[bin(&bounds, *length)] += 1.0;
        }
        // Smoothed, as ties can leave an octile empty.
        let shares = counts.map(|c| (c + 0.5) / (n as f64 + 4.0));
        let tilted = |shift: f64| {
            let normaliser: f64 = shares
                .iter()
                .zip(OCTILE_SCORES)
                .map(|(p, score)| p * (shift * score).exp())
                .sum::<f64>()
                .ln();
            OCTILE_SCORES.map(|score| shift * score - normaliser)
        };
        Some(Self {
            bounds,
            longer: tilted(LENGTH_SHIFT),
            shorter: tilted(-LENGTH_SHIFT),
        })
    }

    fn bin(&self, length: f64) -> usize {
        bin(&self.bounds, length)
    }
}

fn bin(bounds: &[f64; 7], length: f64) -> usize {
    bounds.iter().filter(|bound| length > **bound).count()
}

/// Phrase counts while a reference is learned.
#[derive(Debug, Default)]
struct PhraseTally {
    calls: u32,
    hashes: Vec<u64>,
    counts: Vec<u32>,
    /// Kept from a phrase's second call, so phrases seen once cost no allocation.
    texts: Vec<Option<String>>,
}

impl PhraseTally {
    fn add(&mut self, phrase: Phrase) {
        self.calls += 1;
        match self.hashes.iter().position(|h| *h == phrase.hash) {
            Some(i) => {
                self.counts[i] += 1;
                if self.texts[i].is_none() {
                    self.texts[i] = Some(phrase.text.to_string());
                }
            }
            None if self.hashes.len() < COUNTED_PHRASES => {
                self.hashes.push(phrase.hash);
                self.counts.push(1);
                self.texts.push(None);
            }
            None => {}
        }
    }

    /// The shares of the frequent phrases, when at least half the block's calls had one.
    fn phrases(&self, block: u32) -> Option<Phrases> {
        if self.calls * 2 < block {
            return None;
        }
        let calls = f64::from(self.calls);
        let mut order: Vec<usize> = (0..self.hashes.len())
            .filter(|i| f64::from(self.counts[*i]) >= NAMED_SHARE * calls)
            .collect();
        order.sort_by_key(|i| std::cmp::Reverse(self.counts[*i]));
        order.truncate(NAMED_PHRASES);
        let named: u32 = order.iter().map(|i| self.counts[*i]).sum();
        let mut counts: Vec<f64> = order.iter().map(|i| f64::from(self.counts[*i])).collect();
        counts.push(f64::from(self.calls - named));
        let categories = counts.len() as f64;
        // Add-one smoothed, with "other" at its floor, so no phrase is infinitely surprising.
        let mut probabilities: Vec<f64> = counts
            .iter()
            .map(|c| (c + 1.0) / (calls + categories))
            .collect();
        let other = probabilities.len() - 1;
        probabilities[other] = probabilities[other].max(OTHER_FLOOR);
        let total: f64 = probabilities.iter().sum();
        let ratios = probabilities
            .iter()
            .map(|p| {
                let p = p / total;
                ((1.0 - PHRASE_MOVE) * p + PHRASE_MOVE / categories).ln() - p.ln()
            })
            .collect();
        Some(Phrases {
            hashes: order.iter().map(|i| self.hashes[*i]).collect(),
            texts: order
                .iter()
                .map(|i| self.texts[*i].clone().unwrap_or_default())
                .collect(),
            shares: counts.iter().map(|c| c / calls).collect(),
            ratios,
        })
    }
}

/// A reference's frequent phrases, and the evidence each phrase gives that the shares moved.
#[derive(Debug, Clone, PartialEq)]
struct Phrases {
    hashes: Vec<u64>,
    texts: Vec<String>,
    /// Shares in the block: the named phrases, then all others.
    shares: Vec<f64>,
    /// The log-likelihood ratio of each phrase, in the same order, under the moved shares
    /// against the reference's.
    ratios: Vec<f64>,
}

impl Phrases {
    fn category(&self, hash: u64) -> usize {
        self.hashes
            .iter()
            .position(|h| *h == hash)
            .unwrap_or(self.hashes.len())
    }

    fn ratio(&self, hash: u64) -> f64 {
        self.ratios[self.category(hash)]
    }

    /// The named phrase whose share moved most among the `after` hashes.
    fn largest_move(&self, after: &[u64]) -> Option<PhraseMove> {
        if after.is_empty() {
            return None;
        }
        (0..self.hashes.len())
            .map(|i| {
                let count = after.iter().filter(|h| **h == self.hashes[i]).count();
                PhraseMove {
                    text: self.texts[i].clone(),
                    before: self.shares[i],
                    after: count as f64 / after.len() as f64,
                }
            })
            .max_by(|a, b| {
                (a.after - a.before)
                    .abs()
                    .total_cmp(&(b.after - b.before).abs())
            })
    }
}

/// Accumulates the next reference.
#[derive(Debug, Default)]
struct Learning {
    calls: u32,
    lengths: Vec<f64>,
    bytes: Mean,
    tokens: Mean,
    openings: PhraseTally,
    closings: PhraseTally,
    input_lengths: Vec<f64>,
    input_openings: PhraseTally,
}

impl Learning {
    fn add(&mut self, style: &CallStyle) {
        self.calls += 1;
        self.lengths.push(style.bytes);
        self.bytes.add(style.bytes);
        if let Some(tokens) = style.tokens {
            self.tokens.add(tokens);
        }
        if let Some(phrase) = style.opening {
            self.openings.add(phrase);
        }
        if let Some(phrase) = style.closing {
            self.closings.add(phrase);
        }
        if let Some(input) = &style.input {
            self.input_lengths.push(input.bytes);
            self.input_openings.add(input.opening);
        }
    }

    fn reference(mut self) -> Option<Reference> {
        let input = self
            .input_openings
            .phrases(self.calls)
            .zip(LengthBins::of(&mut self.input_lengths))
            .map(|(openings, lengths)| InputReference { lengths, openings });
        Some(Reference {
            lengths: LengthBins::of(&mut self.lengths)?,
            bytes: self.bytes.value(),
            tokens: (self.tokens.n * 2.0 >= f64::from(self.calls)).then(|| self.tokens.value()),
            openings: self.openings.phrases(self.calls),
            closings: self.closings.phrases(self.calls),
            input,
        })
    }
}

/// A slice's learned style.
#[derive(Debug, Clone, PartialEq)]
struct Reference {
    lengths: LengthBins,
    bytes: f64,
    tokens: Option<f64>,
    openings: Option<Phrases>,
    closings: Option<Phrases>,
    input: Option<InputReference>,
}

#[derive(Debug, Clone, PartialEq)]
struct InputReference {
    lengths: LengthBins,
    openings: Phrases,
}

/// A CUSUM with the time its current excursion began, the estimate of a change's onset.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Cusum {
    score: f64,
    since: Option<DateTime<Utc>>,
}

impl Cusum {
    /// Adds a call's log-likelihood ratio.
    fn step(&mut self, evidence: f64, ts: DateTime<Utc>) {
        self.score = (self.score + evidence).max(0.0);
        if self.score == 0.0 {
            self.since = None;
        } else if self.since.is_none() {
            self.since = Some(ts);
        }
    }

    fn crossed(&self, threshold: f64) -> Option<DateTime<Utc>> {
        self.since.filter(|_| self.score >= threshold)
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Detectors {
    longer: Cusum,
    shorter: Cusum,
    opening: Cusum,
    closing: Cusum,
    input_longer: Cusum,
    input_shorter: Cusum,
    input_opening: Cusum,
}

impl Detectors {
    /// Steps every detector; returns the output signals past their threshold with the earliest
    /// onset among them, and the onset of an input guard's alarm (the guard then starts over).
    fn step(
        &mut self,
        reference: &Reference,
        style: &CallStyle,
    ) -> (Signals, Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
        let ts = style.ts;
        let octile = reference.lengths.bin(style.bytes);
        self.longer.step(reference.lengths.longer[octile], ts);
        self.shorter.step(reference.lengths.shorter[octile], ts);
        for (cusum, phrases, phrase) in [
            (&mut self.opening, &reference.openings, style.opening),
            (&mut self.closing, &reference.closings, style.closing),
        ] {
            if let (Some(phrases), Some(phrase)) = (phrases, phrase) {
                cusum.step(phrases.ratio(phrase.hash), ts);
            }
        }
        let mut inputs_moved = None;
        if let (Some(reference), Some(input)) = (&reference.input, &style.input) {
            let octile = reference.lengths.bin(input.bytes);
            for (cusum, evidence) in [
                (&mut self.input_longer, reference.lengths.longer[octile]),
                (&mut self.input_shorter, reference.lengths.shorter[octile]),
                (
                    &mut self.input_opening,
                    reference.openings.ratio(input.opening.hash),
                ),
            ] {
                cusum.step(evidence, ts);
                if let Some(since) = cusum.crossed(INPUT_ALARM) {
                    inputs_moved = Some(since);
                    *cusum = Cusum::default();
                }
            }
        }
        let crossed = [&self.longer, &self.shorter, &self.opening, &self.closing]
            .map(|cusum| cusum.crossed(OUTPUT_ALARM));
        let signals = Signals {
            longer: crossed[0].is_some(),
            shorter: crossed[1].is_some(),
            opening: crossed[2].is_some(),
            closing: crossed[3].is_some(),
        };
        let onset = crossed.into_iter().flatten().min();
        (signals, onset, inputs_moved)
    }
}

/// An output alarm waiting for [`CONFIRM_CALLS`] more calls.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Alarm {
    onset: DateTime<Utc>,
    signals: Signals,
    calls_left: u32,
}

/// What the evidence needs of a recent call.
#[derive(Debug, Clone, Copy, PartialEq)]
struct RecentCall {
    ts: DateTime<Utc>,
    bytes: f64,
    tokens: Option<f64>,
    opening: Option<u64>,
    closing: Option<u64>,
}

/// One requested model, feature and prompt version.
#[derive(Debug)]
struct Slice {
    key: u64,
    model: String,
    feature: String,
    prompt: Option<String>,
    last_seen: DateTime<Utc>,
    served: Option<String>,
    /// Whether a reference was ever learned: the slice's shifts can be judged, and it counts
    /// among its model's features even while it learns its new normal after a shift.
    judged: bool,
    reference: Option<Reference>,
    /// Learned, waiting one block without a shift before it replaces the reference.
    pending: Option<Reference>,
    learning: Learning,
    detectors: Detectors,
    /// When the inputs' latest shift began, by an input guard's alarm.
    inputs_moved_since: Option<DateTime<Utc>>,
    alarm: Option<Alarm>,
    recent: std::collections::VecDeque<RecentCall>,
}

impl Slice {
    fn new(key: u64, call: &Call) -> Self {
        Self {
            key,
            model: call.model_requested.clone(),
            feature: call.feature.clone(),
            prompt: call.prompt_id.clone(),
            last_seen: call.ts,
            served: None,
            judged: false,
            reference: None,
            pending: None,
            learning: Learning::default(),
            detectors: Detectors::default(),
            inputs_moved_since: None,
            alarm: None,
            recent: std::collections::VecDeque::with_capacity(RECENT_CALLS),
        }
    }

    /// Takes in a call; returns a confirmed shift of the outputs with the inputs steady.
    fn observe(&mut self, style: &CallStyle, served: Option<&str>) -> Option<FeatureShift> {
        self.last_seen = style.ts;
        if self.served.as_deref() != served {
            self.served = served.map(str::to_string);
        }
        if self.recent.len() == RECENT_CALLS {
            self.recent.pop_front();
        }
        self.recent.push_back(RecentCall {
            ts: style.ts,
            bytes: style.bytes,
            tokens: style.tokens,
            opening: style.opening.map(|p| p.hash),
            closing: style.closing.map(|p| p.hash),
        });
        if let Some(reference) = &self.reference {
            let (signals, onset, inputs_moved) = self.detectors.step(reference, style);
            if inputs_moved.is_some() {
                self.inputs_moved_since = inputs_moved;
            }
            if let Some(alarm) = self.alarm.as_mut() {
                alarm.signals = alarm.signals.union(signals);
                alarm.calls_left -= 1;
                if alarm.calls_left == 0 {
                    let alarm = *alarm;
                    let shift = self.conclude(alarm, style.ts);
                    self.restart();
                    return shift;
                }
            } else if let Some(onset) = onset {
                self.alarm = Some(Alarm {
                    onset,
                    signals,
                    calls_left: CONFIRM_CALLS,
                });
            }
        }
        if self.alarm.is_none() {
            self.learn(style);
        }
        None
    }

    /// The confirmed shift, unless the inputs moved around its onset.
    fn conclude(&self, alarm: Alarm, now: DateTime<Utc>) -> Option<FeatureShift> {
        let reference = self.reference.as_ref()?;
        let inputs_moved = self
            .inputs_moved_since
            .is_some_and(|since| since >= alarm.onset - input_margin());
        if inputs_moved || !alarm.signals.any() {
            return None;
        }
        let after: Vec<&RecentCall> = self.recent.iter().filter(|c| c.ts >= alarm.onset).collect();
        let mean = |values: Vec<f64>| {
            (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
        };
        let hashes = |pick: fn(&RecentCall) -> Option<u64>| -> Vec<u64> {
            after.iter().filter_map(|c| pick(c)).collect()
        };
        let numbers = ShiftNumbers {
            bytes: (
                reference.bytes,
                mean(after.iter().map(|c| c.bytes).collect()).unwrap_or(reference.bytes),
            ),
            tokens: reference
                .tokens
                .zip(mean(after.iter().filter_map(|c| c.tokens).collect())),
            opening: reference
                .openings
                .as_ref()
                .and_then(|p| p.largest_move(&hashes(|c| c.opening))),
            closing: reference
                .closings
                .as_ref()
                .and_then(|p| p.largest_move(&hashes(|c| c.closing))),
        };
        Some(FeatureShift {
            model: self.model.clone(),
            feature: self.feature.clone(),
            onset: alarm.onset,
            confirmed_at: now,
            signals: alarm.signals,
            inputs_watched: reference.input.is_some(),
            served: self.served.clone(),
            numbers,
        })
    }

    fn learn(&mut self, style: &CallStyle) {
        self.learning.add(style);
        if self.learning.calls < BLOCK_CALLS {
            return;
        }
        let Some(learned) = std::mem::take(&mut self.learning).reference() else {
            return;
        };
        self.judged = true;
        match self.reference {
            None => self.reference = Some(learned),
            Some(_) => {
                if let Some(validated) = self.pending.replace(learned) {
                    self.reference = Some(validated);
                }
            }
        }
    }

    /// Forgets the style learned: the slice learns its new normal from the next call on.
    fn restart(&mut self) {
        self.reference = None;
        self.pending = None;
        self.learning = Learning::default();
        self.detectors = Detectors::default();
        self.inputs_moved_since = None;
        self.alarm = None;
        self.recent.clear();
    }
}

/// Synthetic traffic of features sharing a requested model, for the tests here and in the
/// change log and the triage: real-looking texts whose style the conditions set minute by minute.
#[cfg(any(test, feature = "test-support"))]
pub mod traffic {
    use chrono::{DateTime, Duration, Utc};

    use crate::model::{Call, Eval};
    use crate::sim::rng::Rng;

    pub fn start() -> DateTime<Utc> {
        "2026-03-14T12:00:00Z".parse().unwrap()
    }

    /// What a feature's traffic is like during one minute.
    #[derive(Debug, Clone, Copy)]
    pub struct Conditions {
        pub calls_per_minute: f64,
        /// The provider's update is live: longer answers, new openings and closings.
        pub updated: bool,
        /// Share of requests of the kind that gets long answers: the mix of request kinds.
        pub long_share: f64,
        pub version: &'static str,
        /// The benign prompt deploy "Be brief.": shorter answers, no closing sentence.
        pub brief: bool,
        /// Share of inputs on topics the feature was not built for.
        pub off_topic: f64,
        pub served: Option<&'static str>,
        pub hallucination: f64,
    }

    impl Default for Conditions {
        fn default() -> Self {
            Self {
                calls_per_minute: 12.0,
                updated: false,
                long_share: 0.2,
                version: "v1",
                brief: false,
                off_topic: 0.0,
                served: None,
                hallucination: 0.03,
            }
        }
    }

    const QUESTIONS: [&[&str]; 3] = [
        &[
            "Where is my order {n}?",
            "Has order {n} shipped yet?",
            "Order {n} still says label created, why?",
        ],
        &[
            "How do I return the {item} I bought?",
            "Can I return a {item} after three weeks?",
            "Is there a fee to send back my {item}?",
        ],
        &[
            "I was charged twice for the {item} and the second charge is still pending on my card, can you explain what happened and how I get the money back?",
            "Could you explain the full warranty terms for the {item}, including what counts as a defect and how long a replacement takes to arrive?",
        ],
    ];
    const OFF_TOPIC: &[&str] = &[
        "Write me a poem about a {item}.",
        "What will the weather be in Lisbon tomorrow?",
        "Translate 'good morning' into Japanese for me please.",
    ];
    const ITEMS: &[&str] = &["rain jacket", "trail shoe", "fleece", "backpack", "tent"];
    const SENTENCES: &[&str] = &[
        "Orders ship within 2 business days and tracking can lag by a day.",
        "Returns are free within 30 days of delivery for unworn items.",
        "Refunds reach the original card within 5 business days of receipt.",
        "The warranty covers manufacturing defects for one year.",
        "Support can open a carrier trace after 5 days without movement.",
        "Sale items are final sale and cannot be returned.",
    ];
    /// Sentences an answer has, by request kind.
    const SENTENCES_BY_KIND: [f64; 3] = [1.5, 2.5, 5.0];
    const OPENINGS: [(&str, f64); 3] = [
        ("Sure —", 0.7),
        ("Happy to help:", 0.2),
        ("Good question.", 0.1),
    ];
    const UPDATED_OPENINGS: [(&str, f64); 3] = [
        ("Certainly! Here's what I found:", 0.8),
        ("Sure —", 0.1),
        ("Great question!", 0.1),
    ];
    const CLOSINGS: &[&str] = &["Let me know if there's anything else.", "Hope this helps."];
    const UPDATED_CLOSINGS: &[&str] = &[
        "I hope this information is helpful to you!",
        "Feel free to reach out with any other questions!",
    ];

    /// Calls of `features` from minute `minutes.0` to `minutes.1` after [`start`], in time order.
    pub fn calls(
        seed: u64,
        features: &[&str],
        minutes: (i64, i64),
        conditions: impl Fn(i64, usize) -> Conditions,
    ) -> Vec<Call> {
        let mut rng = Rng::new(seed);
        let mut calls = Vec::new();
        for minute in minutes.0..minutes.1 {
            for (index, feature) in features.iter().enumerate() {
                let c = conditions(minute, index);
                let count = (c.calls_per_minute + rng.unit()).floor() as usize;
                for _ in 0..count {
                    let at = start()
                        + Duration::minutes(minute)
                        + Duration::milliseconds((rng.unit() * 60_000.0) as i64);
                    calls.push(call(&mut rng, at, feature, c));
                }
            }
        }
        calls.sort_by_key(|c| c.ts);
        calls
    }

    fn fill(template: &str, rng: &mut Rng) -> String {
        let order = format!("#{}", 10_000 + rng.below(90_000));
        let item = *rng.pick(ITEMS);
        template.replace("{n}", &order).replace("{item}", item)
    }

    fn call(rng: &mut Rng, ts: DateTime<Utc>, feature: &str, c: Conditions) -> Call {
        let (openings, closings) = if c.updated {
            (&UPDATED_OPENINGS, UPDATED_CLOSINGS)
        } else {
            (&OPENINGS, CLOSINGS)
        };
        let opening = openings[rng.weighted(&openings.map(|(_, w)| w))].0;
        let (input, body) = if rng.chance(c.off_topic) {
            (
                {
                    let template = *rng.pick(OFF_TOPIC);
                    fill(template, rng)
                },
                "I can only help with questions about your orders and our products.".to_string(),
            )
        } else {
            let kind = rng.weighted(&[
                (1.0 - c.long_share) * 0.6,
                (1.0 - c.long_share) * 0.4,
                c.long_share,
            ]);
            let scale = if c.updated { 1.5 } else { 1.0 } * if c.brief { 0.6 } else { 1.0 };
            let count = (SENTENCES_BY_KIND[kind] * scale * rng.log_normal(1.0, 0.25))
                .round()
                .max(1.0) as usize;
            let body: Vec<&str> = (0..count).map(|_| *rng.pick(SENTENCES)).collect();
            let template = *rng.pick(QUESTIONS[kind]);
            (fill(template, rng), body.join(" "))
        };
        let output = if c.brief {
            format!("{opening} {body}")
        } else {
            format!("{opening} {body} {}", rng.pick(closings))
        };
        let mut call: Call = serde_json::from_value(serde_json::json!({
            "ts": ts.to_rfc3339(), "feature": feature, "model_requested": "gpt-4o",
            "status": "ok", "latency_ms": 900, "prompt_id": feature,
            "prompt_version": c.version,
        }))
        .unwrap();
        call.model_served = c.served.map(str::to_string);
        call.tokens_out = Some(output.len() as u64 / 4);
        call.input = Some(input);
        call.output = Some(output);
        if rng.chance(0.6) {
            call.evals.insert(
                "hallucination".into(),
                Eval::Flag(rng.chance(c.hallucination)),
            );
        }
        call
    }
}

#[cfg(test)]
mod tests {
    use super::traffic::{Conditions, calls, start};
    use super::*;

    const FEATURES: [&str; 2] = ["support-answer", "search-summary"];
    /// 14:12, when something changes in each case.
    const CHANGE_MINUTE: i64 = 132;

    fn change_at() -> DateTime<Utc> {
        start() + Duration::minutes(CHANGE_MINUTE)
    }

    /// The model changes inferred over the calls, with the time of the call that revealed each.
    fn inferred(
        calls: &[Call],
        explained: impl Fn(&Suspect) -> bool,
    ) -> Vec<(DateTime<Utc>, StyleChange)> {
        let mut watch = StyleWatch::default();
        calls
            .iter()
            .filter_map(|c| watch.observe(c, &explained).map(|s| (c.ts, s)))
            .collect()
    }

    fn unexplained(_: &Suspect) -> bool {
        false
    }

    /// The provider's update from [`CHANGE_MINUTE`] on, on every feature.
    fn updated(served: Option<&'static str>) -> impl Fn(i64, usize) -> Conditions {
        move |minute, _| Conditions {
            updated: minute >= CHANGE_MINUTE,
            hallucination: if minute >= CHANGE_MINUTE { 0.08 } else { 0.03 },
            served,
            ..Conditions::default()
        }
    }

    fn assert_one_change_soon_after(found: &[(DateTime<Utc>, StyleChange)]) -> &StyleChange {
        assert_eq!(found.len(), 1, "{found:#?}");
        let (seen_at, change) = &found[0];
        assert!(
            *seen_at - change_at() <= Duration::minutes(10),
            "inferred at {seen_at}"
        );
        assert!(
            (change.ts - change_at()).abs() <= Duration::minutes(3),
            "dated {}",
            change.ts
        );
        assert_eq!(change.model, "gpt-4o");
        change
    }

    #[test]
    fn outputs_shifting_on_both_features_at_once_are_a_model_change() {
        let calls = calls(1, &FEATURES, (0, 180), updated(None));
        let found = inferred(&calls, unexplained);
        let change = assert_one_change_soon_after(&found);
        assert_eq!(change.features, ["search-summary", "support-answer"]);
        for part in [
            "gpt-4o outputs 1.",
            "× longer since 14:1",
            "on 2 of 2 features (tokens_out ",
            "opening 'Sure —' 7",
            "; model_served absent",
        ] {
            assert!(
                change.evidence.contains(part),
                "{part}: {}",
                change.evidence
            );
        }
    }

    #[test]
    fn a_served_model_that_keeps_its_name_is_no_alibi() {
        let calls = calls(2, &FEATURES, (0, 180), updated(Some("gpt-4o-2024-08-06")));
        let found = inferred(&calls, unexplained);
        let change = assert_one_change_soon_after(&found);
        assert!(
            change
                .evidence
                .ends_with("; model_served gpt-4o-2024-08-06 unchanged"),
            "{}",
            change.evidence
        );
    }

    #[test]
    fn the_only_feature_of_a_model_is_judged_on_its_own_with_its_inputs_steady() {
        let calls = calls(3, &FEATURES[..1], (0, 180), updated(None));
        let found = inferred(&calls, unexplained);
        let change = assert_one_change_soon_after(&found);
        assert!(
            change.evidence.contains("on 1 of 1 features"),
            "{}",
            change.evidence
        );
    }

    #[test]
    fn a_healthy_day_with_diurnal_swings_infers_nothing() {
        // From 5 to 30 calls a minute and back, with the kinds of request drifting with the hour.
        let day = |minute: i64, _| {
            let phase = (minute as f64 / 1440.0 * std::f64::consts::TAU).cos();
            Conditions {
                calls_per_minute: 17.5 - 12.5 * phase,
                long_share: 0.22 - 0.08 * phase,
                ..Conditions::default()
            }
        };
        for seed in [4, 5] {
            let calls = calls(seed, &FEATURES, (0, 1440), day);
            assert_eq!(inferred(&calls, unexplained), [], "seed {seed}");
        }
    }

    #[test]
    fn a_traffic_spike_infers_nothing() {
        let spike = |minute: i64, _| Conditions {
            calls_per_minute: if (120..150).contains(&minute) {
                36.0
            } else {
                12.0
            },
            ..Conditions::default()
        };
        let calls = calls(6, &FEATURES, (0, 240), spike);
        assert_eq!(inferred(&calls, unexplained), []);
    }

    #[test]
    fn a_feature_whose_mix_of_requests_changes_is_not_a_model_change() {
        let mix = |minute: i64, feature| Conditions {
            long_share: if feature == 0 && minute >= CHANGE_MINUTE {
                0.7
            } else {
                0.2
            },
            ..Conditions::default()
        };
        let calls_of_two = calls(7, &FEATURES, (0, 240), mix);
        assert_eq!(inferred(&calls_of_two, unexplained), [], "two features");
        // Alone on its model, the feature's inputs moved with its outputs.
        let calls_of_one = calls(8, &FEATURES[..1], (0, 240), mix);
        assert_eq!(inferred(&calls_of_one, unexplained), [], "one feature");
    }

    #[test]
    fn a_benign_prompt_deploy_on_one_feature_is_not_a_model_change() {
        let deploy = |version| {
            move |minute: i64, feature| Conditions {
                brief: feature == 0 && minute >= CHANGE_MINUTE,
                version: if feature == 0 && minute >= CHANGE_MINUTE {
                    version
                } else {
                    "v1"
                },
                ..Conditions::default()
            }
        };
        // The new version is a slice of its own, learned from scratch.
        let calls_of_two = calls(9, &FEATURES, (0, 240), deploy("v2"));
        assert_eq!(inferred(&calls_of_two, unexplained), [], "new version");
        // Calls that do not say their prompt version: the feed's deploy explains the shift.
        let deployed = |s: &Suspect| {
            s.feature == "support-answer" && s.from <= change_at() && change_at() <= s.to
        };
        for features in [&FEATURES[..], &FEATURES[..1]] {
            let calls = calls(10, features, (0, 240), deploy("v1"));
            assert_eq!(
                inferred(&calls, deployed),
                [],
                "{} features",
                features.len()
            );
        }
        let calls_of_two = calls(10, &FEATURES, (0, 240), deploy("v1"));
        assert_eq!(
            inferred(&calls_of_two, unexplained),
            [],
            "one feature of two"
        );
    }

    #[test]
    fn an_input_drift_on_one_feature_is_not_a_model_change() {
        let drift = |minute: i64, feature| Conditions {
            off_topic: if feature == 0 && minute >= CHANGE_MINUTE {
                0.4
            } else {
                0.0
            },
            ..Conditions::default()
        };
        let calls_of_two = calls(11, &FEATURES, (0, 240), drift);
        assert_eq!(inferred(&calls_of_two, unexplained), [], "two features");
        let calls_of_one = calls(12, &FEATURES[..1], (0, 240), drift);
        assert_eq!(inferred(&calls_of_one, unexplained), [], "one feature");
    }

    #[test]
    fn phrases_are_the_first_two_words_and_the_last_word() {
        let text = "  Sure —  here is\nthe answer. Bye now.\n";
        assert_eq!(Phrase::opening(text).unwrap().text, "Sure —");
        assert_eq!(Phrase::closing(text).unwrap().text, "now.");
        assert_eq!(
            Phrase::opening("SURE — x").unwrap().hash,
            Phrase::opening("sure — y").unwrap().hash
        );
        let long = format!("{}é{}", "a".repeat(63), "b".repeat(100));
        assert!(Phrase::opening(&long).is_some() && Phrase::closing(&long).is_some());
    }

    #[test]
    fn slices_are_bounded() {
        let mut watch = StyleWatch::default();
        let many: Vec<String> = (0..MAX_SLICES + 10)
            .map(|i| format!("feature-{i}"))
            .collect();
        let names: Vec<&str> = many.iter().map(String::as_str).collect();
        let calls = calls(13, &names, (0, 2), |_, _| Conditions {
            calls_per_minute: 1.0,
            ..Conditions::default()
        });
        for call in &calls {
            watch.observe(call, unexplained);
        }
        assert_eq!(watch.slices.len(), MAX_SLICES);
        assert_eq!(watch.index.len(), MAX_SLICES);
    }
}
