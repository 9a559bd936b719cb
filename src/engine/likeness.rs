//! How alike each call's output and input are to the healthy baseline's, per feature: the
//! Similarity and Input drift metrics, and the embedding samples the drift test compares.
//! Memory is bounded: a few samples per feature per minute, for the minutes a baseline can use.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use foldhash::HashMap;

use super::observation::Symbol;
use super::signals::drift::{MmdTest, mmd_test};
use super::signals::embedding::{DIMS, Idf, hashed_counts, normalised};
use super::signals::reference::Reference;
use super::stats::Proportion;
use crate::model::Call;

/// Samples kept per feature per minute: an hour of baseline gives a reference 720 to learn from.
const SAMPLES_PER_MINUTE: usize = 12;
/// Representatives of a feature's healthy outputs or inputs: enough for the modes of a feature
/// with a dozen kinds of request, so that a rarer kind is not unlike the baseline by default.
const REPRESENTATIVES: usize = 16;
/// A text less similar to the baseline's representatives than this share of held-out healthy
/// texts counts as unlike them, so the healthy rate is this share by construction.
const UNLIKE_QUANTILE: f64 = 0.10;
/// Vectors on each side of a drift test, and the relabellings its threshold comes from.
const DRIFT_SAMPLE: usize = 100;
const PERMUTATIONS: usize = 200;
/// The drift test's false-alarm rate: with 200 relabellings, the least p-value it can give.
pub const DRIFT_ALPHA: f64 = 0.005;

/// A text as kept: its hashed n-gram counts, weighed with the idf current when it is used, or the
/// embedding its call carried, already unit length.
#[derive(Debug, Clone)]
enum Text {
    Hashed(Box<[f32; DIMS]>),
    Provided(Box<[f32]>),
}

/// Which embedding space a vector lives in: vectors of different spaces are never compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Space {
    Hashed,
    Provided(usize),
}

impl Text {
    fn space(&self) -> Space {
        match self {
            Self::Hashed(_) => Space::Hashed,
            Self::Provided(vector) => Space::Provided(vector.len()),
        }
    }

    fn vector(&self, idf: &Idf) -> Option<Vec<f32>> {
        match self {
            Self::Hashed(counts) => idf.weigh(counts).map(|v| v.to_vec()),
            Self::Provided(vector) => Some(vector.to_vec()),
        }
    }
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

/// The reference of one side (outputs or inputs) of a feature, in the space it was built in.
#[derive(Debug, Clone)]
struct SideReference {
    space: Space,
    reference: Reference,
    /// The held-out baseline texts unlike the reference: the rate the metric is judged against,
    /// as it is the rate these exact representatives and threshold give on healthy traffic.
    calibration: Proportion,
}

/// Which texts of a call: what it was asked, or what it answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Input,
    Output,
}

#[derive(Debug, Clone, Default)]
struct FeatureReferences {
    output: Option<SideReference>,
    input: Option<SideReference>,
}

/// One side of a call embedded: the unit vector it is judged by, and what is kept of it when
/// the reservoir picks the call.
struct Embedded {
    vector: Unit,
    kept: Option<Text>,
}

/// A unit vector, on the stack when it is the hashed one (every call has one).
#[expect(
    clippy::large_enum_variant,
    reason = "lives on the stack for one call; boxing it would allocate on every call"
)]
enum Unit {
    Hashed([f32; DIMS]),
    Provided(Vec<f32>),
}

impl Unit {
    fn space(&self) -> Space {
        match self {
            Self::Hashed(_) => Space::Hashed,
            Self::Provided(vector) => Space::Provided(vector.len()),
        }
    }

    fn as_slice(&self) -> &[f32] {
        match self {
            Self::Hashed(vector) => vector,
            Self::Provided(vector) => vector,
        }
    }
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
#[derive(Debug, Clone, Copy, PartialEq)]
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
        let against = |side: Option<&SideReference>, embedded: &Option<Embedded>| {
            let (side, embedded) = (side?, embedded.as_ref()?);
            if side.space != embedded.vector.space() {
                return None;
            }
            let similarity = side.reference.similarity(embedded.vector.as_slice())?;
            Some((similarity, similarity < side.reference.threshold()))
        };
        let output_judged = against(references.and_then(|r| r.output.as_ref()), &output);
        let input_judged = against(references.and_then(|r| r.input.as_ref()), &input);
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

    /// Drops the samples of the minutes that end before `ts`.
    pub fn forget_before(&mut self, ts: DateTime<Utc>) {
        let first_kept = minute_of(ts);
        while let Some(oldest) = self.samples.first_entry()
            && *oldest.key() < first_kept
        {
            oldest.remove();
        }
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
                    output: side_reference(outputs, &self.output_idf),
                    input: side_reference(inputs, &self.input_idf),
                },
            );
        }
        self.references = references;
    }

    /// The baseline's unlike share on one side, over every feature with a reference.
    pub fn calibration(&self, side: Side) -> Proportion {
        let mut total = Proportion::default();
        for references in self.references.values() {
            let reference = match side {
                Side::Input => &references.input,
                Side::Output => &references.output,
            };
            if let Some(reference) = reference {
                total.merge(reference.calibration);
            }
        }
        total
    }

    /// The reference's median and threshold for the outputs, over the features that have one,
    /// weighed by their samples; the caller adds the recent median.
    pub fn output_yardstick(&self) -> Option<(f64, f64)> {
        let sides: Vec<&Reference> = self
            .references
            .values()
            .filter_map(|r| r.output.as_ref().map(|s| &s.reference))
            .collect();
        if sides.is_empty() {
            return None;
        }
        let n = sides.len() as f64;
        Some((
            sides.iter().map(|r| f64::from(r.median())).sum::<f64>() / n,
            sides.iter().map(|r| f64::from(r.threshold())).sum::<f64>() / n,
        ))
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
        let space = majority_space(before.iter().copied())?;
        let vectors = |texts: Vec<&Text>| -> Vec<Vec<f32>> {
            let texts: Vec<&Text> = texts.into_iter().filter(|t| t.space() == space).collect();
            evenly(&texts, DRIFT_SAMPLE)
                .filter_map(|t| t.vector(&self.input_idf))
                .collect()
        };
        let (before, after) = (vectors(before), vectors(after));
        fn as_slices(vectors: &[Vec<f32>]) -> Vec<&[f32]> {
            vectors.iter().map(Vec::as_slice).collect()
        }
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
/// weighed by the idf, which learns from the text on the way.
fn embed(
    text: &str,
    provided: Option<&[f32]>,
    idf: &mut Idf,
    counts: &mut [f32; DIMS],
    keep: bool,
) -> Option<Embedded> {
    if let Some(vector) = provided.and_then(normalised) {
        let kept = keep.then(|| Text::Provided(vector.clone().into_boxed_slice()));
        return Some(Embedded {
            vector: Unit::Provided(vector),
            kept,
        });
    }
    hashed_counts(text, counts);
    idf.observe(counts);
    let vector = Unit::Hashed(idf.weigh(counts)?);
    let kept = keep.then(|| Text::Hashed(Box::new(*counts)));
    Some(Embedded { vector, kept })
}

/// The space most texts are in: a feature whose app sends its own embeddings is judged in them.
fn majority_space<'a>(texts: impl Iterator<Item = &'a Text>) -> Option<Space> {
    let mut counts: HashMap<Space, usize> = HashMap::default();
    for text in texts {
        *counts.entry(text.space()).or_default() += 1;
    }
    counts
        .into_iter()
        .max_by_key(|(space, count)| (*count, *space == Space::Hashed))
        .map(|(space, _)| space)
}

fn side_reference<'a>(
    texts: impl Iterator<Item = &'a Text> + Clone,
    idf: &Idf,
) -> Option<SideReference> {
    let space = majority_space(texts.clone())?;
    let vectors: Vec<Vec<f32>> = texts
        .filter(|t| t.space() == space)
        .filter_map(|t| t.vector(idf))
        .collect();
    let slices: Vec<&[f32]> = vectors.iter().map(Vec::as_slice).collect();
    let reference = Reference::build(&slices, REPRESENTATIVES, UNLIKE_QUANTILE)?;
    // The build holds out the odd-indexed samples to calibrate on.
    let mut calibration = Proportion::default();
    for held_out in slices.iter().skip(1).step_by(2) {
        let similarity = reference.similarity(held_out)?;
        calibration.add(similarity < reference.threshold());
    }
    Some(SideReference {
        space,
        reference,
        calibration,
    })
}

/// At most `n` items spread evenly over the slice, in order.
fn evenly<T>(items: &[T], n: usize) -> impl Iterator<Item = &T> {
    let step = items.len().div_ceil(n.max(1)).max(1);
    items.iter().step_by(step)
}
