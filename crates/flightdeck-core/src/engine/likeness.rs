//! How alike each call's output and input are to the healthy baseline's, per feature: the
//! Similarity and Input drift metrics, and the embedding samples the drift test compares.
//! Memory is bounded: a few samples per feature per minute, for the minutes a baseline can use.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use foldhash::HashMap;

use super::minutes::{Span, forget_minutes};
use super::observation::Symbol;
use super::signals::drift::{MmdTest, mmd_test};
use super::signals::embedding::{DIMS, Idf, hashed_counts, normalised};
use super::signals::reference::Reference;
use super::stats::Proportion;
use crate::model::Call;

/// Samples kept per feature per minute: an hour of baseline gives a reference 720 to learn from.
const SAMPLES_PER_MINUTE: usize = 12;
/// Calls per feature per minute whose output and input are embedded and judged: enough for the
/// detectors to see a shift within a minute or two, and a bound on the work (and on an embeddings
/// endpoint's bill) however heavy the traffic.
const JUDGED_PER_MINUTE: u64 = 150;
/// Representatives of a feature's healthy outputs or inputs: enough for the modes of a feature
/// with a dozen kinds of request, so that a rarer kind is not unlike the baseline by default.
const REPRESENTATIVES: usize = 16;
/// A text less similar to the baseline's representatives than this share of held-out healthy
/// texts counts as unlike them; the held-out share is the metric's baseline.
const UNLIKE_QUANTILE: f64 = 0.10;
/// Vectors on each side of a drift test, and the relabellings its threshold comes from.
const DRIFT_SAMPLE: usize = 100;
const PERMUTATIONS: usize = 200;
/// The drift test's false-alarm rate: with 200 relabellings, the least p-value it can give.
pub const DRIFT_ALPHA: f64 = 0.005;

/// A text as kept: its hashed n-gram counts, weighed with the idf current when it is used, and
/// the embedding its call carried, if any, already unit length. Both are kept so that when an
/// embeddings endpoint fails, the n-grams still have a baseline to fall back on.
#[derive(Debug, Clone)]
struct Text {
    counts: Box<[f32; DIMS]>,
    provided: Option<Box<[f32]>>,
}

#[derive(Debug, Clone, Default)]
struct Sample {
    input: Option<Text>,
    output: Option<Text>,
}

/// A uniform sample of one feature's calls in one minute (reservoir sampling).
#[derive(Debug, Clone, Default)]
struct Reservoir {
    seen: u64,
    samples: Vec<Sample>,
}

/// A reference and how its own held-out baseline texts fared against it.
#[derive(Debug, Clone)]
struct Calibrated {
    reference: Reference,
    /// Below this a text is unlike the baseline.
    threshold: f32,
    /// The held-out baseline texts unlike the reference: the rate the metric is judged against,
    /// as it is the rate these exact representatives and threshold give on healthy traffic.
    calibration: Proportion,
}

/// One side (outputs or inputs) of a feature: a reference in the n-gram space, and one in the
/// calls' own embedding space when most baseline texts carried an embedding.
#[derive(Debug, Clone, Default)]
struct SideReferences {
    hashed: Option<Calibrated>,
    provided: Option<Calibrated>,
}

impl SideReferences {
    /// The similarity to the baseline and whether it is unlike it: by the call's own embedding
    /// when there is a reference in its space, else by the n-grams.
    fn judge(&self, embedded: &Embedded) -> Option<(f32, bool)> {
        let (reference, vector) = match (&self.provided, &embedded.provided) {
            (Some(reference), Some(vector)) => (reference, vector.as_slice()),
            _ => (self.hashed.as_ref()?, embedded.hashed.as_ref()?.as_slice()),
        };
        let similarity = reference.reference.similarity(vector)?;
        Some((similarity, similarity < reference.threshold))
    }

    /// The reference most calls are judged by.
    fn main(&self) -> Option<&Calibrated> {
        self.provided.as_ref().or(self.hashed.as_ref())
    }
}

/// Which texts of a call: what it was asked, or what it answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Input,
    Output,
}

#[derive(Debug, Clone, Default)]
struct FeatureReferences {
    output: SideReferences,
    input: SideReferences,
}

impl FeatureReferences {
    fn side(&self, side: Side) -> &SideReferences {
        match side {
            Side::Input => &self.input,
            Side::Output => &self.output,
        }
    }
}

/// One side of a call embedded: its unit vectors, and what is kept of it when the reservoir picks
/// the call.
struct Embedded {
    hashed: Option<[f32; DIMS]>,
    provided: Option<Vec<f32>>,
    kept: Option<Text>,
}

/// A call judged against its feature's baseline.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Judged {
    /// Cosine similarity of the output to the nearest baseline representative.
    pub similarity: Option<f32>,
    pub unlike: Option<bool>,
    pub novel_input: Option<bool>,
}

/// The output similarities over a window: their median against the baseline's.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct SimilarityShift {
    pub median: f64,
    pub baseline_median: f64,
    /// Below this a single output counts as unlike the baseline.
    pub threshold: f64,
}

#[derive(Debug)]
pub struct Likeness {
    output_idf: Idf,
    input_idf: Idf,
    counts: Box<[f32; DIMS]>,
    samples: BTreeMap<i64, HashMap<Symbol, Reservoir>>,
    references: HashMap<Symbol, FeatureReferences>,
}

impl Default for Likeness {
    fn default() -> Self {
        Self {
            output_idf: Idf::default(),
            input_idf: Idf::default(),
            counts: Box::new([0.0; DIMS]),
            samples: BTreeMap::new(),
            references: HashMap::default(),
        }
    }
}

fn minute_of(ts: DateTime<Utc>) -> i64 {
    ts.timestamp().div_euclid(60)
}

/// A well-mixed 64-bit hash (SplitMix64's finaliser), for reservoir slots that replay exactly.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Likeness {
    /// Embeds the call's output (when it answered) and input, judges them against the feature's
    /// references, and keeps them if the minute's reservoir picks the call.
    pub fn judge(&mut self, call: &Call, feature: Symbol, answered: bool) -> Judged {
        let minute = minute_of(call.ts);
        let slot = self.slot(minute, feature);
        let keep = slot.is_some();
        let judged = self.is_judged(minute, feature);
        if !keep && !judged {
            return Judged::default();
        }
        let output = call
            .output
            .as_deref()
            .filter(|_| answered)
            .and_then(|text| {
                let provided = call.output_embedding.as_deref();
                embed(text, provided, &mut self.output_idf, &mut self.counts, keep)
            });
        let input = call.input.as_deref().and_then(|text| {
            let provided = call.input_embedding.as_deref();
            embed(text, provided, &mut self.input_idf, &mut self.counts, keep)
        });
        let references = self.references.get(&feature);
        let judge = |side: Side, embedded: &Option<Embedded>| {
            references?.side(side).judge(embedded.as_ref()?)
        };
        let output_judged = judge(Side::Output, &output).filter(|_| judged);
        let input_judged = judge(Side::Input, &input).filter(|_| judged);
        if let Some(slot) = slot {
            let sample = Sample {
                input: input.and_then(|e| e.kept),
                output: output.and_then(|e| e.kept),
            };
            let reservoir = self
                .samples
                .get_mut(&minute)
                .and_then(|features| features.get_mut(&feature))
                .expect("the slot's reservoir exists");
            match reservoir.samples.get_mut(slot) {
                Some(kept) => *kept = sample,
                None => reservoir.samples.push(sample),
            }
        }
        Judged {
            similarity: output_judged.map(|(similarity, _)| similarity),
            unlike: output_judged.map(|(_, unlike)| unlike),
            novel_input: input_judged.map(|(_, novel)| novel),
        }
    }

    /// Whether the call just counted is one of the [`JUDGED_PER_MINUTE`] a minute whose likeness
    /// is judged: each call of the feature with the chance that gives at last minute's traffic.
    fn is_judged(&self, minute: i64, feature: Symbol) -> bool {
        let reservoir = |minute| self.samples.get(&minute).and_then(|f| f.get(&feature));
        let seen = reservoir(minute).map_or(0, |r| r.seen);
        let traffic = reservoir(minute - 1)
            .map_or(0, |r| r.seen)
            .max(JUDGED_PER_MINUTE);
        mix(seen.rotate_left(17) ^ minute as u64) % traffic < JUDGED_PER_MINUTE
    }

    /// Counts a call of the feature in the minute; where it goes in the reservoir if it is kept.
    fn slot(&mut self, minute: i64, feature: Symbol) -> Option<usize> {
        let reservoir = self
            .samples
            .entry(minute)
            .or_default()
            .entry(feature)
            .or_default();
        reservoir.seen += 1;
        if reservoir.samples.len() < SAMPLES_PER_MINUTE {
            return Some(reservoir.samples.len());
        }
        let slot = mix(reservoir.seen ^ (minute as u64).rotate_left(32)) % reservoir.seen;
        (slot < SAMPLES_PER_MINUTE as u64).then_some(slot as usize)
    }

    /// Drops the samples of the minutes that end before `ts`, except those of `keep` (a frozen
    /// baseline's).
    pub fn forget_before(&mut self, ts: DateTime<Utc>, keep: Option<Span>) {
        forget_minutes(&mut self.samples, minute_of(ts), keep);
    }

    /// Learns each feature's references from the samples of the whole minutes in `from..to` (the
    /// baseline), with document frequencies as of now; calls from here on are judged by them.
    pub fn learn(&mut self, from: DateTime<Utc>, to: DateTime<Utc>) {
        self.output_idf.refresh();
        self.input_idf.refresh();
        let mut by_feature: HashMap<Symbol, Vec<&Sample>> = HashMap::default();
        for reservoirs in self
            .samples
            .range(minute_of(from)..minute_of(to))
            .map(|(_, r)| r)
        {
            for (feature, reservoir) in reservoirs {
                by_feature
                    .entry(*feature)
                    .or_default()
                    .extend(&reservoir.samples);
            }
        }
        let mut references = HashMap::default();
        for (feature, samples) in by_feature {
            let outputs = samples.iter().filter_map(|s| s.output.as_ref());
            let inputs = samples.iter().filter_map(|s| s.input.as_ref());
            references.insert(
                feature,
                FeatureReferences {
                    output: side_references(outputs, &self.output_idf),
                    input: side_references(inputs, &self.input_idf),
                },
            );
        }
        self.references = references;
    }

    /// The baseline's unlike share on one side, over every feature with a reference.
    pub fn calibration(&self, side: Side) -> Proportion {
        let mut total = Proportion::default();
        for references in self.references.values() {
            if let Some(main) = references.side(side).main() {
                total.merge(main.calibration);
            }
        }
        total
    }

    /// The references' median similarity and threshold for the outputs, averaged over the
    /// features that have one.
    pub fn output_yardstick(&self) -> Option<(f64, f64)> {
        let references: Vec<&Calibrated> = self
            .references
            .values()
            .filter_map(|r| r.output.main())
            .collect();
        if references.is_empty() {
            return None;
        }
        let mean = |value: fn(&Calibrated) -> f32| {
            references.iter().map(|c| f64::from(value(c))).sum::<f64>() / references.len() as f64
        };
        Some((mean(|c| c.reference.median()), mean(|c| c.threshold)))
    }

    /// A kernel two-sample test between the inputs sampled in the whole minutes of `baseline` and
    /// those of `recent` (each a `(from, to)`), in the space most of them share.
    pub fn input_drift(
        &self,
        baseline: (DateTime<Utc>, DateTime<Utc>),
        recent: (DateTime<Utc>, DateTime<Utc>),
    ) -> Option<MmdTest> {
        let inputs = |from: DateTime<Utc>, end: i64| -> Vec<&Text> {
            self.samples
                .range(minute_of(from)..end.max(minute_of(from)))
                .flat_map(|(_, reservoirs)| reservoirs.values())
                .flat_map(|r| r.samples.iter().filter_map(|s| s.input.as_ref()))
                .collect()
        };
        let before = inputs(baseline.0, minute_of(baseline.1));
        let after = inputs(recent.0, minute_of(recent.1) + 1);
        let provided = provided_dims(before.iter().copied());
        let sample = |texts: Vec<&Text>| {
            vectors(
                evenly(&texts, DRIFT_SAMPLE).copied(),
                provided,
                &self.input_idf,
            )
        };
        let (before, after) = (sample(before), sample(after));
        // Seeded by the window, so the same evidence gives the same answer on every run.
        let seed = mix(recent.0.timestamp() as u64 ^ (recent.1.timestamp() as u64) << 20);
        mmd_test(
            &as_slices(&before),
            &as_slices(&after),
            PERMUTATIONS,
            DRIFT_ALPHA,
            seed,
        )
    }
}

/// One side of a call as a unit vector: the embedding the call carries, else its hashed n-grams
/// weighed by the idf, which learns from the texts the reservoir keeps.
fn embed(
    text: &str,
    provided: Option<&[f32]>,
    idf: &mut Idf,
    counts: &mut [f32; DIMS],
    keep: bool,
) -> Option<Embedded> {
    hashed_counts(text, counts);
    // Document frequencies learn from the sampled texts only: a uniform sample gives the same
    // weights, for a twelfth of the work at a thousand calls a minute.
    if keep {
        idf.observe(counts);
    }
    let provided = provided.and_then(normalised);
    let kept = keep.then(|| Text {
        counts: Box::new(*counts),
        provided: provided.clone().map(Vec::into_boxed_slice),
    });
    Some(Embedded {
        hashed: idf.weigh(counts),
        provided,
        kept,
    })
}

/// The length most of the texts' own embeddings have, when most texts carry one.
fn provided_dims<'a>(texts: impl Iterator<Item = &'a Text>) -> Option<usize> {
    let mut total = 0;
    let mut by_dims: HashMap<usize, usize> = HashMap::default();
    for text in texts {
        total += 1;
        if let Some(vector) = &text.provided {
            *by_dims.entry(vector.len()).or_default() += 1;
        }
    }
    by_dims
        .into_iter()
        .max_by_key(|(dims, count)| (*count, *dims))
        .filter(|(_, count)| 2 * count > total)
        .map(|(dims, _)| dims)
}

/// The texts as unit vectors of one space: their own embeddings of `provided` length, or the
/// hashed n-grams weighed by the idf.
fn vectors<'a>(
    texts: impl Iterator<Item = &'a Text>,
    provided: Option<usize>,
    idf: &Idf,
) -> Vec<Vec<f32>> {
    texts
        .filter_map(|text| match provided {
            Some(dims) => text
                .provided
                .as_ref()
                .filter(|v| v.len() == dims)
                .map(|v| v.to_vec()),
            None => idf.weigh(&text.counts).map(|v| v.to_vec()),
        })
        .collect()
}

fn as_slices(vectors: &[Vec<f32>]) -> Vec<&[f32]> {
    vectors.iter().map(Vec::as_slice).collect()
}

/// A reference from two thirds of the samples, and the unlike share of the last third. The
/// build sets its threshold at a quantile of some of its own samples; the share on samples that
/// played no part in it is the rate new healthy texts will show, noise of the quantile included.
fn calibrated(vectors: &[Vec<f32>]) -> Option<Calibrated> {
    let slices = as_slices(vectors);
    let is_held_out = |i: &usize| i % 3 == 2;
    let building: Vec<&[f32]> = (0..slices.len())
        .filter(|i| !is_held_out(i))
        .map(|i| slices[i])
        .collect();
    let reference = Reference::build(&building, REPRESENTATIVES, UNLIKE_QUANTILE)?;
    let threshold = reference.threshold();
    let mut calibration = Proportion::default();
    for text in (0..slices.len()).filter(is_held_out).map(|i| slices[i]) {
        let similarity = reference.similarity(text)?;
        calibration.add(similarity < threshold);
    }
    Some(Calibrated {
        reference,
        threshold,
        calibration,
    })
}

fn side_references<'a>(texts: impl Iterator<Item = &'a Text> + Clone, idf: &Idf) -> SideReferences {
    let provided = provided_dims(texts.clone());
    SideReferences {
        hashed: calibrated(&vectors(texts.clone(), None, idf)),
        provided: provided.and_then(|dims| calibrated(&vectors(texts, Some(dims), idf))),
    }
}

/// At most `n` items spread evenly over the slice, in order.
fn evenly<T>(items: &[T], n: usize) -> impl Iterator<Item = &T> {
    let step = items.len().div_ceil(n.max(1)).max(1);
    items.iter().step_by(step)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minute: i64) -> DateTime<Utc> {
        "2026-03-14T13:00:00Z".parse::<DateTime<Utc>>().unwrap() + chrono::Duration::minutes(minute)
    }

    /// An answer on one of three topics, or on a new one; with its own embedding when `provided`.
    fn call(i: i64, topic: usize, provided: bool) -> Call {
        let answers = [
            [
                "Orders ship within two business days and tracking can lag a day.",
                "Your order leaves the warehouse within two business days.",
                "Tracking updates can take a day to show after your order ships.",
            ],
            [
                "Unworn items can be returned within thirty days for a full refund.",
                "Returns are free within thirty days if the item is unworn.",
                "Send the unworn item back within thirty days and we refund you in full.",
            ],
            [
                "Standard delivery takes three to five business days, free over fifty dollars.",
                "Delivery is free over fifty dollars and takes three to five business days.",
                "Express delivery takes one to two business days for a fee.",
            ],
            [
                "Quarterly estimated tax payments are due in April, June, September and January.",
                "File your estimated taxes each quarter to avoid an underpayment penalty.",
                "Self-employed people pay estimated tax four times a year.",
            ],
        ];
        let mut embedding = vec![0.05f32; 8];
        embedding[topic] = 1.0;
        serde_json::from_value(serde_json::json!({
            "ts": at(i / 30) + chrono::Duration::seconds(i % 30 * 2),
            "feature": "support-answer", "model_requested": "gpt-4o", "status": "ok",
            "latency_ms": 900, "input": format!("question {i} about {}", ["orders", "returns", "shipping", "taxes"][topic]),
            "output": answers[topic][(i / 4 % 3) as usize],
            "output_embedding": if provided { Some(embedding) } else { None },
        }))
        .unwrap()
    }

    /// An hour of healthy calls (30 a minute) on the first three topics, then references.
    fn learned(provided: bool) -> Likeness {
        let mut likeness = Likeness::default();
        for i in 0..1800 {
            likeness.judge(&call(i, (i % 3) as usize, provided), 0, true);
        }
        likeness.learn(at(0), at(60));
        likeness
    }

    #[test]
    fn a_new_kind_of_answer_is_unlike_the_baseline_in_both_spaces() {
        for provided in [false, true] {
            let mut likeness = learned(provided);
            let calibration = likeness.calibration(Side::Output);
            assert!(calibration.n > 100, "{calibration:?}");
            let familiar = likeness.judge(&call(1801, 1, provided), 0, true);
            let novel = likeness.judge(&call(1802, 3, provided), 0, true);
            assert_eq!(familiar.unlike, Some(false), "provided {provided}");
            assert_eq!(novel.unlike, Some(true), "provided {provided}");
        }
    }

    #[test]
    fn calls_without_their_own_embedding_fall_back_to_the_n_grams() {
        let mut likeness = learned(true);
        // The endpoint is down: calls arrive without embeddings, and are still judged.
        let judged = likeness.judge(&call(1803, 3, false), 0, true);
        assert_eq!(judged.unlike, Some(true));
        let judged = likeness.judge(&call(1804, 0, false), 0, true);
        assert_eq!(judged.unlike, Some(false));
    }

    #[test]
    fn samples_are_bounded_per_minute_and_forgotten() {
        let mut likeness = learned(false);
        let kept: usize = likeness
            .samples
            .values()
            .flat_map(|features| features.values())
            .map(|r| r.samples.len())
            .sum();
        assert_eq!(kept, 60 * SAMPLES_PER_MINUTE);
        likeness.forget_before(at(30), None);
        assert_eq!(likeness.samples.len(), 30);
    }
}
