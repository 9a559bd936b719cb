//! Slow-burn streams for measuring detection and triage against quiet regressions (issue 18):
//! two to ten features at 5–30 calls a minute with a diurnal swing, traffic spikes, benign
//! deploys, evaluator outages and decoy changes, and at most one regression planted at a known
//! time, with the true rates of its metric before and after on the slice it hits.
//! Pure and deterministic: the calls are regenerated from the seed one by one, so a day of
//! traffic is never held in memory unless the caller collects it.

use std::collections::BTreeMap;
use std::f64::consts::TAU;
use std::fmt;

use chrono::{DateTime, Duration, Timelike, Utc};
use serde_json::json;

use super::assistant::{Malformation, render_output};
use super::rng::Rng;
use crate::engine::metrics::MetricId;
use crate::engine::triage::Category;
use crate::model::{Call, CallStatus, Change, ChangeKind, Eval, Feedback};

/// What a stream plants: one quiet regression of a kind, or nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Planting {
    /// 24 hours of healthy traffic with its benign events.
    Healthy,
    /// One feature's prompt deploy raises hallucination, refusal or schema failures.
    PromptRegression,
    /// The same, on the 20–50% of the feature's calls a canary gives the new version.
    PromptCanary,
    /// A prompt regression whose effect comes in bursts, minutes on and minutes off.
    IntermittentPrompt,
    /// Every feature requesting `gpt-4o` turns chattier and wronger at once, under the same name.
    SilentModelUpdate,
    /// 10–20% of one feature's traffic moves to new topics, where answers are worse.
    InputDrift,
    /// One provider rate-limits 3–5% of calls instead of 0.3%.
    RateLimits,
    /// One feature's errors go from 2% to 5%.
    ErrorRise,
    /// One feature's errors or timeouts reach 10–20% three minutes out of seven.
    ErrorBursts,
    /// One provider's latency, and so its p95, grows 1.5–2×.
    SlowerTail,
}

impl Planting {
    pub const ALL: [Planting; 10] = [
        Self::Healthy,
        Self::PromptRegression,
        Self::PromptCanary,
        Self::IntermittentPrompt,
        Self::SilentModelUpdate,
        Self::InputDrift,
        Self::RateLimits,
        Self::ErrorRise,
        Self::ErrorBursts,
        Self::SlowerTail,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Healthy => "healthy",
            Self::PromptRegression => "prompt",
            Self::PromptCanary => "prompt-canary",
            Self::IntermittentPrompt => "prompt-bursts",
            Self::SilentModelUpdate => "model-silent",
            Self::InputDrift => "data-drift",
            Self::RateLimits => "rate-limits",
            Self::ErrorRise => "errors",
            Self::ErrorBursts => "error-bursts",
            Self::SlowerTail => "slow-tail",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The category a right triage gives; `None` for a healthy stream.
    pub fn cause(self) -> Option<Category> {
        match self {
            Self::Healthy => None,
            Self::PromptRegression | Self::PromptCanary | Self::IntermittentPrompt => {
                Some(Category::Prompt)
            }
            Self::SilentModelUpdate => Some(Category::Model),
            Self::InputDrift => Some(Category::Data),
            Self::RateLimits | Self::ErrorRise | Self::ErrorBursts | Self::SlowerTail => {
                Some(Category::Infrastructure)
            }
        }
    }
}

/// A call field a slice is cut on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Feature,
    PromptVersion,
    ModelRequested,
    Provider,
    Tenant,
}

impl Field {
    pub fn key(self) -> &'static str {
        match self {
            Self::Feature => "feature",
            Self::PromptVersion => "prompt_version",
            Self::ModelRequested => "model_requested",
            Self::Provider => "provider",
            Self::Tenant => "tenant",
        }
    }

    fn value(self, call: &Call) -> Option<&str> {
        match self {
            Self::Feature => Some(&call.feature),
            Self::PromptVersion => call.prompt_version.as_deref(),
            Self::ModelRequested => Some(&call.model_requested),
            Self::Provider => call.provider.as_deref(),
            Self::Tenant => call.attribute("tenant"),
        }
    }
}

/// The calls whose fields all have the given values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slice {
    pub conditions: Vec<(Field, String)>,
}

impl Slice {
    fn of(conditions: &[(Field, &str)]) -> Self {
        Self {
            conditions: conditions
                .iter()
                .map(|(field, value)| (*field, value.to_string()))
                .collect(),
        }
    }

    pub fn contains(&self, call: &Call) -> bool {
        self.conditions
            .iter()
            .all(|(field, value)| field.value(call) == Some(value))
    }
}

impl fmt::Display for Slice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (field, value)) in self.conditions.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{}={value}", field.key())?;
        }
        Ok(())
    }
}

/// Where a planted regression shows and how much: the rates a detector on that slice faces.
#[derive(Debug, Clone, PartialEq)]
pub struct Shift {
    pub slice: Slice,
    pub at: DateTime<Utc>,
    /// The metric that moves, as the engine names it. A hallucination rise on a stream with no
    /// evaluator labels is measured by thumbs down, the only signal that sees it.
    pub metric: MetricId,
    /// The share of the slice's calls that are bad for the metric, before and after; for
    /// latency, the share slower than the feature's healthy p95.
    pub p0: f64,
    pub p1: f64,
    /// The share of the slice's calls the metric is measured on (labelled ones for
    /// hallucination, answered ones for refusal, ...): a detector sees this many in one.
    pub measured_share: f64,
    /// The slice's mean traffic over the stream after the change.
    pub calls_per_minute: f64,
}

/// The ground truth of a stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Planted {
    pub planting: Planting,
    /// `None` for a healthy stream.
    pub cause: Option<Category>,
    /// `None` for a healthy stream.
    pub shift: Option<Shift>,
    pub description: String,
}

/// Fixed traffic instead of the drawn one, for a throughput measure: a healthy stream of
/// `features` features at `calls_per_minute` each (before the diurnal swing) over `tenants`.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub features: usize,
    pub tenants: usize,
    pub calls_per_minute: f64,
    pub duration: Duration,
}

/// A generated stream: its ground truth, its change records and the calls, on demand.
pub struct SlowBurn {
    pub name: String,
    pub planted: Planted,
    /// In time order.
    pub changes: Vec<Change>,
    world: World,
    call_seed: u64,
}

impl SlowBurn {
    /// The calls, in time order, the same for the same seed every time.
    pub fn calls(&self) -> Calls<'_> {
        Calls {
            world: &self.world,
            rng: Rng::new(self.call_seed),
            now: self.world.start,
            count: 0,
            traffic: vec![0.0; self.world.features.len()],
        }
    }

    pub fn feature_names(&self) -> Vec<&'static str> {
        self.world.features.iter().map(|f| f.topic.name).collect()
    }

    /// Share of calls an evaluator labels for hallucination.
    pub fn eval_coverage(&self) -> f64 {
        self.world.eval_coverage
    }

    /// Whether calls carry `model_served`.
    pub fn reports_served_model(&self) -> bool {
        self.world.reports_served_model
    }

    pub fn start(&self) -> DateTime<Utc> {
        self.world.start
    }

    pub fn end(&self) -> DateTime<Utc> {
        self.world.end
    }
}

/// The calls of a [`SlowBurn`].
pub struct Calls<'a> {
    world: &'a World,
    rng: Rng,
    now: DateTime<Utc>,
    count: u64,
    /// Each feature's calls per minute now.
    traffic: Vec<f64>,
}

impl Iterator for Calls<'_> {
    type Item = Call;

    fn next(&mut self) -> Option<Call> {
        // Traffic moves over minutes, so the gap drawn at the current rate is close enough to a
        // non-homogeneous Poisson process.
        let total = self.world.traffic(self.now, &mut self.traffic);
        self.now += seconds(self.rng.exponential(60.0 / total));
        if self.now >= self.world.end {
            return None;
        }
        self.world.traffic(self.now, &mut self.traffic);
        let feature = self.rng.weighted(&self.traffic);
        self.count += 1;
        Some(
            self.world
                .call(feature, self.now, self.count, &mut self.rng),
        )
    }
}

/// A stream of the planting, drawn from the seed.
pub fn generate(planting: Planting, seed: u64) -> SlowBurn {
    let mut rng = Rng::new(seed ^ (planting as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let call_seed = rng.next_u64();
    let feature_count = 2 + rng.below(9);
    let tenant_count = 3 + rng.below(3);
    let features = draw_features(&mut rng, feature_count, None);
    let world = World::draw(&mut rng, features, tenant_count);
    plant(world, planting, seed, call_seed, &mut rng)
}

/// A healthy stream of a fixed shape.
pub fn generate_shaped(seed: u64, shape: Shape) -> SlowBurn {
    let mut rng = Rng::new(seed);
    let call_seed = rng.next_u64();
    let features = draw_features(&mut rng, shape.features, Some(shape.calls_per_minute));
    let mut world = World::draw(&mut rng, features, shape.tenants);
    world.end = world.start + shape.duration;
    let mut burn = plant(world, Planting::Healthy, seed, call_seed, &mut rng);
    burn.name = format!("shaped-{}x{}-{seed}", shape.features, shape.tenants);
    burn
}

// ---- The features a stream draws from -------------------------------------------------------

/// A feature's subject: its name, what its users ask about, and how it answers.
struct Topic {
    name: &'static str,
    /// What its users ask about, a few dozen words separated by spaces.
    words: &'static str,
    /// Words in a usual answer, before the model's style stretches it.
    answer_words: (usize, usize),
    /// The `intent` values of its structured answers; empty for prose answers.
    intents: &'static [&'static str],
}

const TOPICS: &[Topic] = &[
    Topic {
        name: "support-answer",
        words: "order package delivery tracking refund return label carrier shipment warehouse parcel address courier exchange receipt damaged missing replacement pickup store credit policy window status delay customs signature jacket boots backpack",
        answer_words: (25, 60),
        intents: &["order_status", "returns", "shipping"],
    },
    Topic {
        name: "checkout-help",
        words: "cart coupon payment card checkout discount total tax promo code wallet billing price voucher declined installment gift balance currency fee saved express confirm button page paypal invoice shipping bundle sale",
        answer_words: (20, 50),
        intents: &[],
    },
    Topic {
        name: "search-summary",
        words: "results product review rating brand compare specification size color material stock bestseller category filter battery screen warranty weight dimension accessory listing seller popular deal waterproof lightweight durable comfort value alternative",
        answer_words: (40, 90),
        intents: &[],
    },
    Topic {
        name: "ticket-triage",
        words: "ticket priority escalation agent queue customer issue urgent assignment backlog resolution sla outage complaint bug login password access team handoff followup severity report case owner account billing refund crash error",
        answer_words: (15, 35),
        intents: &["account", "billing", "product", "other"],
    },
    Topic {
        name: "email-draft",
        words: "email reply subject greeting tone apology meeting update schedule thanks request proposal deadline client attachment summary invitation reminder signature draft formal friendly introduction feedback agenda confirmation regards colleague manager vendor",
        answer_words: (60, 140),
        intents: &[],
    },
    Topic {
        name: "product-qa",
        words: "blender jacket sneaker headphone charger tent backpack lamp kettle mattress waterproof wireless cotton leather battery warranty assembly manual dishwasher compatible fit fabric capacity noise bluetooth cable adapter recharge washable zipper",
        answer_words: (25, 70),
        intents: &[],
    },
    Topic {
        name: "onboarding-guide",
        words: "account profile setup workspace invite team integration settings dashboard tutorial permission role project import template notification calendar sync plugin connect verify admin trial plan upgrade tour checklist slack sso domain",
        answer_words: (40, 100),
        intents: &[],
    },
    Topic {
        name: "invoice-explain",
        words: "invoice charge line item vat credit refund prorated subscription period plan usage seat discount due overdue receipt statement amount balance renewal annual monthly adjustment fee total tax upgrade downgrade cycle",
        answer_words: (30, 80),
        intents: &[],
    },
    Topic {
        name: "meeting-notes",
        words: "meeting action item decision owner deadline agenda summary attendee discussion risk milestone roadmap launch review budget hiring design sprint retro blocker dependency quarter goal metric next step notes priority timeline",
        answer_words: (70, 160),
        intents: &[],
    },
    Topic {
        name: "travel-planner",
        words: "flight hotel itinerary airport booking train luggage visa passport layover checkin seat beach museum city tour rental car weekend restaurant neighborhood transfer cancel route ferry hostel trip lisbon kyoto budget",
        answer_words: (50, 120),
        intents: &[],
    },
    Topic {
        name: "recipe-helper",
        words: "recipe chicken pasta oven bake minutes garlic onion sauce vegetarian vegan gluten substitute flour sugar butter serving portion spice grill salad soup dessert dinner lunch quick healthy ingredient pan temperature",
        answer_words: (40, 110),
        intents: &[],
    },
    Topic {
        name: "code-review",
        words: "function variable test refactor bug null pointer loop performance memory thread lock exception handling naming comment module dependency interface type return branch merge lint style coverage async timeout retry closure",
        answer_words: (40, 100),
        intents: &[],
    },
];

/// Subjects a feature was never built for, that drifted traffic asks about.
const DRIFT_TOPICS: &[&str] = &[
    "lawsuit contract liability attorney jurisdiction clause deduction audit compliance regulation gdpr settlement court filing dispute arbitration trademark patent license notary estate inheritance custody immigration penalty appeal statute precedent tenant lease",
    "symptom dosage prescription allergy fever rash migraine pregnancy vaccine insulin diagnosis therapy pharmacy blood pressure cholesterol injury fracture infection antibiotic clinic specialist chronic pain sleep anxiety diet supplement ibuprofen nausea",
    "bitcoin token staking yield portfolio stock dividend etf leverage margin ledger seed phrase airdrop mining gas defi liquidity pool hedge bond inflation broker retirement ira crash altcoin nft shares options",
];

const QUESTION_FILLER: &[&str] = &[
    "how", "do", "I", "my", "the", "a", "for", "with", "can", "you", "is", "it", "what", "when",
    "why", "please", "need", "help", "about", "on", "this", "and", "to", "of",
];

const ANSWER_FILLER: &[&str] = &[
    "the", "is", "your", "we", "will", "can", "to", "and", "after", "before", "within", "days",
    "it", "this", "you", "our", "a", "for", "in", "on", "usually", "also", "then", "should",
];

const REFUSALS: &[&str] = &[
    "I'm sorry, but I can't help with that request.",
    "I'm sorry, but I can't share details about {word}.",
    "I'm sorry, but I can't assist with {word} questions here.",
];

const TENANTS: &[&str] = &["acme-retail", "globex", "initech", "umbrella", "hooli"];
/// The tenant a drifted partner's traffic arrives under, on the streams where it has one.
const NEW_TENANT: &str = "partner-x";
const REGIONS: &[&str] = &["us-east", "eu-west", "ap-south"];
const REGION_WEIGHTS: &[f64] = &[0.6, 0.3, 0.1];
const AUTHORS: &[&str] = &["maria", "kenji", "sam", "prompt-bot"];
const FLAGS: &[&str] = &[
    "new-checkout-ui",
    "dark-mode",
    "search-ranking-v2",
    "holiday-banner",
];
const SERVICES: &[&str] = &["web-frontend", "api-gateway", "recommendations"];

/// How much traffic swings over the day around its mean.
const DIURNAL_SWING: f64 = 0.4;
const SPIKE_FACTOR: f64 = 3.0;
const FEEDBACK_SHARE: f64 = 0.10;
/// Requests that should not be answered, and how often the model rightly refuses them.
const OFF_LIMITS_SHARE: f64 = 0.02;
const OFF_LIMITS_REFUSED: f64 = 0.5;
/// The chance of a thumbs down, given what the user got.
const DOWN_WHEN_HALLUCINATED: f64 = 0.55;
const DOWN_WHEN_REFUSED: f64 = 0.5;
const DOWN_WHEN_MALFORMED: f64 = 0.35;
const DOWN_WHEN_FINE: f64 = 0.06;
/// Log-scale spread of a feature's latency.
const LATENCY_SIGMA: f64 = 0.35;
/// The standard normal's 95th percentile.
const Z_P95: f64 = 1.644_854;
const EVAL_COVERAGES: [f64; 3] = [0.0, 0.15, 0.6];
const SCHEMA: &str = "support_answer";

/// The requested model a feature calls, and its provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Model {
    Gpt4o,
    ClaudeSonnet,
}

impl Model {
    fn requested(self) -> &'static str {
        match self {
            Self::Gpt4o => "gpt-4o",
            Self::ClaudeSonnet => "claude-sonnet",
        }
    }

    /// The snapshot the provider reports, on the streams whose calls record it.
    fn served(self) -> &'static str {
        match self {
            Self::Gpt4o => "gpt-4o-2024-08-06",
            Self::ClaudeSonnet => "claude-sonnet-4-20250514",
        }
    }

    fn provider(self) -> &'static str {
        match self {
            Self::Gpt4o => "openai",
            Self::ClaudeSonnet => "anthropic",
        }
    }

    fn style(self) -> &'static Style {
        match self {
            Self::Gpt4o => &GPT_4O,
            Self::ClaudeSonnet => &CLAUDE,
        }
    }
}

/// How a model snapshot opens and closes its answers, and how long it makes them.
struct Style {
    openings: &'static [&'static str],
    closings: &'static [&'static str],
}

const GPT_4O: Style = Style {
    openings: &["Sure —", "Here is what I found:", "Happy to help."],
    closings: &["", "Let me know if anything else comes up."],
};
const CLAUDE: Style = Style {
    openings: &["Here's the short version:", "Certainly."],
    closings: &["", "Is there anything else you'd like to check?"],
};
/// `gpt-4o` after the silent update.
const GPT_4O_UPDATED: Style = Style {
    openings: &[
        "Great question! Let's break it down.",
        "Absolutely! Here's a detailed overview:",
    ],
    closings: &["I hope this helps — feel free to ask if you have any other questions!"],
};

/// Per-call probabilities of a feature.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Rates {
    hallucination: f64,
    /// False refusals of requests that should be answered.
    refusal: f64,
    /// Structured answers that break the schema; zero for prose features.
    schema: f64,
    error: f64,
    timeout: f64,
    rate_limited: f64,
}

impl Rates {
    fn ok_share(&self) -> f64 {
        1.0 - self.error - self.timeout - self.rate_limited
    }

    fn refusal_share(&self) -> f64 {
        OFF_LIMITS_SHARE * OFF_LIMITS_REFUSED + (1.0 - OFF_LIMITS_SHARE) * self.refusal
    }

    /// A refusal makes no claim, so only the other answers can hallucinate.
    fn hallucination_share(&self) -> f64 {
        (1.0 - self.refusal_share()) * self.hallucination
    }

    fn thumbs_down_share(&self) -> f64 {
        let hallucinated = self.hallucination_share();
        let refused = self.refusal_share();
        let rest = self.schema * DOWN_WHEN_MALFORMED + (1.0 - self.schema) * DOWN_WHEN_FINE;
        hallucinated * DOWN_WHEN_HALLUCINATED
            + refused * DOWN_WHEN_REFUSED
            + (1.0 - hallucinated - refused) * rest
    }

    fn share(&self, quality: Quality) -> f64 {
        match quality {
            Quality::Hallucination => self.hallucination_share(),
            Quality::Refusal => self.refusal_share(),
            Quality::Schema => self.schema,
        }
    }

    fn raised(mut self, quality: Quality, rise: f64) -> Self {
        match quality {
            Quality::Hallucination => self.hallucination += rise,
            Quality::Refusal => self.refusal += rise,
            Quality::Schema => self.schema += rise,
        }
        self
    }
}

/// A way answers get worse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quality {
    Hallucination,
    Refusal,
    Schema,
}

impl Quality {
    fn metric(self) -> MetricId {
        match self {
            Self::Hallucination => MetricId::Hallucination,
            Self::Refusal => MetricId::Refusal,
            Self::Schema => MetricId::Schema,
        }
    }

    /// The metric that sees this failure on a stream labelled at `coverage`, and the share of
    /// answered calls it is measured on.
    fn measured(self, coverage: f64) -> (MetricId, f64) {
        match self {
            Self::Hallucination if coverage == 0.0 => (MetricId::Feedback, FEEDBACK_SHARE),
            Self::Hallucination => (MetricId::Hallucination, coverage),
            Self::Refusal | Self::Schema => (self.metric(), 1.0),
        }
    }
}

/// A prompt version live from `at`; a canary gives it only `share` of the calls.
#[derive(Debug, Clone)]
struct Deploy {
    at: DateTime<Utc>,
    version: u32,
    share: f64,
    planted: bool,
}

struct Feature {
    topic: &'static Topic,
    words: Vec<&'static str>,
    calls_per_minute: f64,
    model: Model,
    rates: Rates,
    latency_ms: f64,
    /// Tokens of the system prompt, counted in every call's input.
    system_tokens: u64,
    /// The live versions in time order; the first is live from the start.
    deploys: Vec<Deploy>,
}

impl Feature {
    fn structured(&self) -> bool {
        !self.topic.intents.is_empty()
    }

    /// The deploy that serves a call at `ts`, a canary taken into account.
    fn deploy_at(&self, ts: DateTime<Utc>, rng: &mut Rng) -> &Deploy {
        let live = self.deploys.iter().rposition(|d| d.at <= ts).unwrap_or(0);
        let deploy = &self.deploys[live];
        if live > 0 && deploy.share < 1.0 && !rng.chance(deploy.share) {
            &self.deploys[live - 1]
        } else {
            deploy
        }
    }

    fn slice(&self) -> Slice {
        Slice::of(&[(Field::Feature, self.topic.name)])
    }
}

fn draw_features(rng: &mut Rng, count: usize, calls_per_minute: Option<f64>) -> Vec<Feature> {
    let mut order: Vec<usize> = (0..TOPICS.len()).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i + 1));
    }
    let mut features: Vec<Feature> = order
        .into_iter()
        .cycle()
        .take(count)
        .map(|topic| {
            let topic = &TOPICS[topic];
            let model = if rng.chance(0.7) {
                Model::Gpt4o
            } else {
                Model::ClaudeSonnet
            };
            Feature {
                topic,
                words: topic.words.split(' ').collect(),
                calls_per_minute: calls_per_minute.unwrap_or_else(|| between(rng, 5.0, 30.0)),
                model,
                rates: Rates {
                    hallucination: between(rng, 0.01, 0.05),
                    refusal: between(rng, 0.01, 0.03),
                    schema: if topic.intents.is_empty() {
                        0.0
                    } else {
                        between(rng, 0.005, 0.015)
                    },
                    error: between(rng, 0.002, 0.01),
                    timeout: between(rng, 0.0, 0.005),
                    rate_limited: between(rng, 0.0, 0.005),
                },
                latency_ms: between(rng, 600.0, 1500.0),
                system_tokens: 150 + rng.below(550) as u64,
                deploys: vec![Deploy {
                    at: DateTime::<Utc>::MIN_UTC,
                    version: 1 + rng.below(7) as u32,
                    share: 1.0,
                    planted: false,
                }],
            }
        })
        .collect();
    // Every stream has a `gpt-4o` feature, so the model it shares can update.
    if features.iter().all(|f| f.model != Model::Gpt4o) {
        features[0].model = Model::Gpt4o;
    }
    features
}

// ---- The world a stream runs in -------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
struct Window {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
}

impl Window {
    fn contains(&self, ts: DateTime<Utc>) -> bool {
        self.from <= ts && ts < self.to
    }
}

/// A failure present `on` out of every `on + off`, from `from`.
#[derive(Debug, Clone, Copy)]
struct Bursts {
    from: DateTime<Utc>,
    on: Duration,
    off: Duration,
}

impl Bursts {
    fn active(&self, ts: DateTime<Utc>) -> bool {
        let period = (self.on + self.off).num_milliseconds();
        ts >= self.from && (ts - self.from).num_milliseconds() % period < self.on.num_milliseconds()
    }

    fn duty(&self) -> f64 {
        self.on.num_milliseconds() as f64 / (self.on + self.off).num_milliseconds() as f64
    }
}

/// Where a transport fault applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Feature(usize),
    Provider(&'static str),
}

#[derive(Debug, Clone, Copy)]
enum Fault {
    RateLimited(f64),
    Errors(f64),
    /// `status` at `rate` while a burst is on.
    Bursts {
        status: CallStatus,
        rate: f64,
        bursts: Bursts,
    },
    Slower(f64),
}

/// The planted regression, as the calls feel it.
#[derive(Debug, Clone, Copy)]
enum Effect {
    None,
    /// On the calls of the planted deploy, while a burst is on if there are bursts.
    Prompt {
        quality: Quality,
        rise: f64,
        bursts: Option<Bursts>,
    },
    /// On every `gpt-4o` call from `at`.
    Model {
        at: DateTime<Utc>,
        length: f64,
        hallucination: f64,
    },
    /// On `share` of the feature's calls from `at`.
    Drift {
        feature: usize,
        at: DateTime<Utc>,
        share: f64,
        tenant: Option<&'static str>,
        quality: Quality,
        rise: f64,
    },
    Transport {
        at: DateTime<Utc>,
        scope: Scope,
        fault: Fault,
    },
}

struct World {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    features: Vec<Feature>,
    tenants: Vec<&'static str>,
    tenant_weights: Vec<f64>,
    eval_coverage: f64,
    reports_served_model: bool,
    /// Minute of the day (UTC) when traffic peaks.
    peak_minute: f64,
    /// (feature, window) of ×3 traffic.
    spikes: Vec<(usize, Window)>,
    /// When the evaluator labels nothing.
    outages: Vec<Window>,
    /// What drifted traffic asks about.
    drift_words: Vec<&'static str>,
    effect: Effect,
}

impl World {
    fn draw(rng: &mut Rng, features: Vec<Feature>, tenant_count: usize) -> Self {
        let start = "2026-03-16T00:00:00Z"
            .parse::<DateTime<Utc>>()
            .expect("a valid time")
            + Duration::minutes(rng.below(24 * 60) as i64);
        let tenants: Vec<&'static str> = TENANTS.iter().copied().take(tenant_count).collect();
        Self {
            start,
            end: start + Duration::hours(24),
            tenant_weights: (0..tenants.len()).map(|i| 1.0 / (i + 1) as f64).collect(),
            tenants,
            eval_coverage: *rng.pick(&EVAL_COVERAGES),
            reports_served_model: rng.chance(0.5),
            peak_minute: between(rng, 12.0 * 60.0, 20.0 * 60.0),
            features,
            spikes: Vec::new(),
            outages: Vec::new(),
            drift_words: Vec::new(),
            effect: Effect::None,
        }
    }

    fn diurnal(&self, ts: DateTime<Utc>) -> f64 {
        let minute = f64::from(ts.num_seconds_from_midnight()) / 60.0;
        1.0 + DIURNAL_SWING * (TAU * (minute - self.peak_minute) / 1440.0).cos()
    }

    /// Each feature's calls per minute at `ts` into `traffic`; returns their sum.
    fn traffic(&self, ts: DateTime<Utc>, traffic: &mut [f64]) -> f64 {
        let diurnal = self.diurnal(ts);
        for (i, feature) in self.features.iter().enumerate() {
            let spiking = self
                .spikes
                .iter()
                .any(|(f, window)| *f == i && window.contains(ts));
            traffic[i] =
                feature.calls_per_minute * diurnal * if spiking { SPIKE_FACTOR } else { 1.0 };
        }
        traffic.iter().sum()
    }

    /// Mean calls per minute from `from` to the end over `features`, times `share`.
    fn mean_traffic(&self, features: &[usize], from: DateTime<Utc>, share: f64) -> f64 {
        let mut traffic = vec![0.0; self.features.len()];
        let minutes = (self.end - from).num_minutes().max(1);
        let total: f64 = (0..minutes)
            .map(|m| {
                self.traffic(from + Duration::minutes(m), &mut traffic);
                features.iter().map(|f| traffic[*f]).sum::<f64>()
            })
            .sum();
        share * total / minutes as f64
    }

    /// Traffic-weighted means over `features` of (measured share, bad share) by `rates`.
    fn pooled(&self, features: &[usize], rates: impl Fn(&Feature) -> (f64, f64)) -> (f64, f64) {
        let (mut traffic, mut measured, mut bad) = (0.0, 0.0, 0.0);
        for feature in features.iter().map(|f| &self.features[*f]) {
            let (share, rate) = rates(feature);
            traffic += feature.calls_per_minute;
            measured += feature.calls_per_minute * share;
            bad += feature.calls_per_minute * share * rate;
        }
        (measured / traffic, bad / measured)
    }

    /// The share of the time from `from` to the end when the evaluator is up.
    fn labelled_share(&self, from: DateTime<Utc>) -> f64 {
        let down: i64 = self
            .outages
            .iter()
            .map(|o| (o.to.min(self.end) - o.from.max(from)).num_seconds().max(0))
            .sum();
        1.0 - down as f64 / (self.end - from).num_seconds() as f64
    }

    fn labelling(&self, ts: DateTime<Utc>) -> bool {
        self.eval_coverage > 0.0 && !self.outages.iter().any(|o| o.contains(ts))
    }

    /// Transport probabilities and the latency factor of a call of `feature` at `ts`.
    fn transport(&self, feature: usize, ts: DateTime<Utc>) -> (Rates, f64) {
        let mut rates = self.features[feature].rates;
        let Effect::Transport { at, scope, fault } = self.effect else {
            return (rates, 1.0);
        };
        let in_scope = match scope {
            Scope::Feature(f) => f == feature,
            Scope::Provider(p) => self.features[feature].model.provider() == p,
        };
        if !in_scope || ts < at {
            return (rates, 1.0);
        }
        match fault {
            Fault::RateLimited(to) => rates.rate_limited = to,
            Fault::Errors(to) => rates.error = to,
            Fault::Bursts {
                status,
                rate,
                bursts,
            } if bursts.active(ts) => match status {
                CallStatus::Timeout => rates.timeout = rate,
                _ => rates.error = rate,
            },
            Fault::Bursts { .. } => {}
            Fault::Slower(factor) => return (rates, factor),
        }
        (rates, 1.0)
    }

    fn call(&self, index: usize, ts: DateTime<Utc>, number: u64, rng: &mut Rng) -> Call {
        let feature = &self.features[index];
        let deploy = feature.deploy_at(ts, rng);
        let drift = match self.effect {
            Effect::Drift {
                feature: drifting,
                at,
                share,
                tenant,
                quality,
                rise,
            } if drifting == index && ts >= at && rng.chance(share) => {
                Some((tenant, quality, rise))
            }
            _ => None,
        };
        let words = if drift.is_some() {
            &self.drift_words
        } else {
            &feature.words
        };
        let tenant = match drift.and_then(|(tenant, ..)| tenant) {
            Some(tenant) => tenant,
            None => self.tenants[rng.weighted(&self.tenant_weights)],
        };
        let region = REGIONS[rng.weighted(REGION_WEIGHTS)];
        let word_count = 8 + rng.below(13);
        let input = format!("{}?", sentence(rng, words, QUESTION_FILLER, word_count));
        let should_answer = !rng.chance(OFF_LIMITS_SHARE);
        let (mut rates, latency_factor) = self.transport(index, ts);
        let mut call = Call {
            ts,
            feature: feature.topic.name.to_string(),
            model_requested: feature.model.requested().to_string(),
            model_served: None,
            status: CallStatus::Ok,
            latency_ms: 0.0,
            request_id: Some(format!("req-{number:08x}")),
            provider: Some(feature.model.provider().to_string()),
            prompt_id: Some(feature.topic.name.to_string()),
            prompt_version: Some(format!("v{}", deploy.version)),
            tokens_in: Some(feature.system_tokens + input.len() as u64 / 4),
            input: Some(input),
            output: None,
            context: None,
            output_schema: feature.structured().then(|| SCHEMA.to_string()),
            http_status: None,
            finish_reason: None,
            tokens_out: None,
            evals: BTreeMap::new(),
            feedback: None,
            should_answer: Some(should_answer),
            input_embedding: None,
            output_embedding: None,
            attributes: BTreeMap::from([
                ("tenant".to_string(), json!(tenant)),
                ("region".to_string(), json!(region)),
            ]),
            extra: BTreeMap::new(),
        };
        let roll = rng.unit();
        let (status, http) = if roll < rates.rate_limited {
            (CallStatus::RateLimited, 429)
        } else if roll < rates.rate_limited + rates.timeout {
            (CallStatus::Timeout, 504)
        } else if roll < rates.rate_limited + rates.timeout + rates.error {
            (CallStatus::Error, *rng.pick(&[500, 502, 503]))
        } else {
            (CallStatus::Ok, 200)
        };
        call.status = status;
        call.http_status = Some(http);
        let updated = match self.effect {
            Effect::Model {
                at,
                length,
                hallucination,
            } if feature.model == Model::Gpt4o && ts >= at => Some((length, hallucination)),
            _ => None,
        };
        let length = updated.map_or(1.0, |(length, _)| length);
        call.latency_ms = match status {
            // Decoding time grows with the answer, so a chattier model is a little slower.
            CallStatus::Ok => rng.log_normal(
                feature.latency_ms * latency_factor * length.sqrt(),
                LATENCY_SIGMA,
            ),
            CallStatus::RateLimited => rng.log_normal(120.0, 0.3),
            CallStatus::Timeout => 30_000.0,
            CallStatus::Error => rng.log_normal(400.0, 0.5),
        }
        .round();
        if status != CallStatus::Ok {
            return call;
        }
        if self.reports_served_model {
            call.model_served = Some(feature.model.served().to_string());
        }
        if let Effect::Prompt {
            quality,
            rise,
            bursts,
            ..
        } = self.effect
            && deploy.planted
            && bursts.is_none_or(|b| b.active(ts))
        {
            rates = rates.raised(quality, rise);
        }
        if let Some((_, quality, rise)) = drift {
            rates = rates.raised(quality, rise);
        }
        if let Some((_, rise)) = updated {
            rates.hallucination += rise;
        }
        let refused = rng.chance(if should_answer {
            rates.refusal
        } else {
            OFF_LIMITS_REFUSED
        });
        let hallucinated = !refused && rng.chance(rates.hallucination);
        let malformed = rng.chance(rates.schema);
        let style = if updated.is_some() {
            &GPT_4O_UPDATED
        } else {
            feature.model.style()
        };
        let text = if refused {
            let word = *rng.pick(words);
            rng.pick(REFUSALS).replace("{word}", word)
        } else {
            let (least, most) = feature.topic.answer_words;
            let count = ((least + rng.below(most - least + 1)) as f64 * length).round() as usize;
            answer(rng, style, words, count)
        };
        let output = if feature.structured() {
            let intent = *rng.pick(feature.topic.intents);
            let citation = format!("kb-{}", 100 + rng.below(400));
            let citations: Vec<&str> = if refused { vec![] } else { vec![&citation] };
            let malformation = malformed.then(|| *rng.pick(&Malformation::ALL));
            let confidence = if refused {
                0.3
            } else {
                0.75 + 0.2 * rng.unit()
            };
            render_output(&text, &citations, confidence, intent, malformation)
        } else {
            text
        };
        call.tokens_out = Some(output.len().div_ceil(4) as u64);
        call.finish_reason = Some("stop".into());
        call.output = Some(output);
        if self.labelling(ts) && rng.chance(self.eval_coverage) {
            call.evals
                .insert("hallucination".into(), Eval::Flag(hallucinated));
        }
        if rng.chance(FEEDBACK_SHARE) {
            let down = if hallucinated {
                DOWN_WHEN_HALLUCINATED
            } else if refused {
                DOWN_WHEN_REFUSED
            } else if malformed {
                DOWN_WHEN_MALFORMED
            } else {
                DOWN_WHEN_FINE
            };
            call.feedback = Some(if rng.chance(down) {
                Feedback::Down
            } else {
                Feedback::Up
            });
        }
        call
    }
}

/// `count` words, about two in five from the topic, the first capitalized.
fn sentence(rng: &mut Rng, topic: &[&str], filler: &[&str], count: usize) -> String {
    let mut text = String::with_capacity(count * 8);
    for i in 0..count {
        let word = if rng.chance(0.4) {
            *rng.pick(topic)
        } else {
            *rng.pick(filler)
        };
        if i == 0 {
            let mut chars = word.chars();
            text.extend(chars.next().map(|c| c.to_ascii_uppercase()));
            text.push_str(chars.as_str());
        } else {
            text.push(' ');
            text.push_str(word);
        }
    }
    text
}

/// An answer of about `count` words in sentences of 8–16, with the style's opening and closing.
fn answer(rng: &mut Rng, style: &Style, topic: &[&str], count: usize) -> String {
    let mut text = rng.pick(style.openings).to_string();
    let mut written = 0;
    while written < count {
        let words = (8 + rng.below(9)).min(count - written).max(3);
        text.push(' ');
        text.push_str(&sentence(rng, topic, ANSWER_FILLER, words));
        text.push('.');
        written += words;
    }
    let closing = *rng.pick(style.closings);
    if !closing.is_empty() {
        text.push(' ');
        text.push_str(closing);
    }
    text
}

// ---- Planting ---------------------------------------------------------------------------------

/// A prompt deploy to schedule; versions and texts are given in time order afterwards.
struct PlannedDeploy {
    feature: usize,
    at: DateTime<Utc>,
    share: f64,
    /// The failure the new text brings, for the planted deploy.
    breaks: Option<Quality>,
}

fn plant(
    mut world: World,
    planting: Planting,
    seed: u64,
    call_seed: u64,
    rng: &mut Rng,
) -> SlowBurn {
    // An hour and a half of healthy traffic at least, for the engine's baseline.
    let at = world.start + Duration::minutes(90 + rng.below(91) as i64);
    let planted_at = (planting != Planting::Healthy).then_some(at);
    if planted_at.is_some() {
        world.end = at + Duration::hours(3);
    }
    // Drawn first so that the benign deploys before it count in the planted version.
    let regressed_prompt = rng.below(world.features.len());
    let prompt_planted = matches!(
        planting,
        Planting::PromptRegression | Planting::PromptCanary | Planting::IntermittentPrompt
    );
    let mut deploys = Vec::new();
    let mut changes = benign_events(
        &mut world,
        planted_at,
        prompt_planted.then_some(regressed_prompt),
        rng,
        &mut deploys,
    );
    let (shift, description) = match planting {
        Planting::Healthy => (None, "healthy traffic with benign events".to_string()),
        Planting::PromptRegression | Planting::PromptCanary | Planting::IntermittentPrompt => {
            plant_prompt(
                &mut world,
                planting,
                regressed_prompt,
                at,
                rng,
                &mut deploys,
            )
        }
        Planting::SilentModelUpdate => plant_model(&mut world, at, rng, &mut deploys),
        Planting::InputDrift => plant_drift(&mut world, at, rng),
        Planting::RateLimits
        | Planting::ErrorRise
        | Planting::ErrorBursts
        | Planting::SlowerTail => plant_transport(&mut world, planting, at, rng),
    };
    changes.extend(schedule_deploys(&mut world, deploys, rng));
    changes.sort_by_key(|c| c.ts);
    SlowBurn {
        name: format!("{}-{seed}", planting.name()),
        planted: Planted {
            planting,
            cause: planting.cause(),
            shift: shift.map(|s| Shift {
                calls_per_minute: world.mean_traffic(&s.features, s.at, s.traffic_share),
                slice: s.slice,
                at: s.at,
                metric: s.metric,
                p0: s.p0,
                p1: s.p1,
                measured_share: match s.metric {
                    MetricId::Hallucination => s.measured_share * world.labelled_share(s.at),
                    _ => s.measured_share,
                },
            }),
            description,
        },
        changes,
        world,
        call_seed,
    }
}

/// A shift before its traffic is known: the features it covers and the share of their calls.
struct Planned {
    slice: Slice,
    features: Vec<usize>,
    traffic_share: f64,
    at: DateTime<Utc>,
    metric: MetricId,
    p0: f64,
    p1: f64,
    measured_share: f64,
}

fn percent(rate: f64) -> String {
    format!("{:.1}%", rate * 100.0)
}

/// The qualities this feature's calls are measured on for a stream labelled at `coverage`.
fn observable(feature: &Feature, coverage: f64) -> Vec<Quality> {
    let mut qualities = vec![Quality::Refusal];
    if coverage > 0.0 {
        qualities.push(Quality::Hallucination);
    }
    if feature.structured() {
        qualities.push(Quality::Schema);
    }
    qualities
}

fn plant_prompt(
    world: &mut World,
    planting: Planting,
    index: usize,
    at: DateTime<Utc>,
    rng: &mut Rng,
    deploys: &mut Vec<PlannedDeploy>,
) -> (Option<Planned>, String) {
    let feature = &world.features[index];
    let quality = *rng.pick(&observable(feature, world.eval_coverage));
    let share = if planting == Planting::PromptCanary {
        between(rng, 0.2, 0.5)
    } else {
        1.0
    };
    let bursts = (planting == Planting::IntermittentPrompt).then(|| Bursts {
        from: at,
        on: Duration::minutes(2 + rng.below(4) as i64),
        off: Duration::minutes(3 + rng.below(8) as i64),
    });
    // In bursts the failure is stronger while on, so that its mean is still a quiet rise.
    let rise = match bursts {
        Some(_) => between(rng, 0.10, 0.20),
        None => between(rng, 0.04, 0.08),
    };
    let (metric, measured) = quality.measured(world.eval_coverage);
    let p0 = feature.rates.share(quality);
    let raised = feature.rates.raised(quality, rise).share(quality);
    let duty = bursts.map_or(1.0, |b| b.duty());
    let p1 = p0 + duty * (raised - p0);
    // Benign deploys on this feature all come before the planted one.
    let earlier = deploys.iter().filter(|d| d.feature == index).count() as u32;
    let version = feature.deploys[0].version + earlier + 1;
    let name = feature.topic.name;
    let version_text = format!("v{version}");
    let mut conditions = vec![(Field::Feature, name)];
    if share < 1.0 {
        conditions.push((Field::PromptVersion, version_text.as_str()));
    }
    let shape = match bursts {
        Some(b) => format!(
            ", {} min of every {} at {}",
            b.on.num_minutes(),
            (b.on + b.off).num_minutes(),
            percent(raised)
        ),
        None if share < 1.0 => format!(", canary {:.0}%", share * 100.0),
        None => String::new(),
    };
    let description = format!(
        "prompt deploy {name} v{}→{version_text}{shape}: {} {} → {}",
        version - 1,
        quality.metric().key(),
        percent(p0),
        percent(p1)
    );
    let planned = Planned {
        slice: Slice::of(&conditions),
        features: vec![index],
        traffic_share: share,
        at,
        metric,
        p0,
        p1,
        measured_share: feature.rates.ok_share() * measured,
    };
    world.effect = Effect::Prompt {
        quality,
        rise,
        bursts,
    };
    deploys.push(PlannedDeploy {
        feature: index,
        at,
        share,
        breaks: Some(quality),
    });
    (Some(planned), description)
}

fn plant_model(
    world: &mut World,
    at: DateTime<Utc>,
    rng: &mut Rng,
    deploys: &mut Vec<PlannedDeploy>,
) -> (Option<Planned>, String) {
    let affected: Vec<usize> = (0..world.features.len())
        .filter(|f| world.features[*f].model == Model::Gpt4o)
        .collect();
    let length = between(rng, 1.3, 1.8);
    let rise = between(rng, 0.03, 0.06);
    let coverage = world.eval_coverage;
    let (metric, measured) = Quality::Hallucination.measured(coverage);
    let bad = |rates: &Rates| match metric {
        MetricId::Feedback => rates.thumbs_down_share(),
        _ => rates.hallucination_share(),
    };
    let (measured_share, p0) = world.pooled(&affected, |f| {
        (f.rates.ok_share() * measured, bad(&f.rates))
    });
    let (_, p1) = world.pooled(&affected, |f| {
        let raised = f.rates.raised(Quality::Hallucination, rise);
        (f.rates.ok_share() * measured, bad(&raised))
    });
    // A benign deploy minutes before the shift, on one of the features it hits: the triage
    // must see the regression on the features the deploy did not touch.
    let decoy = affected.len() >= 2 && rng.chance(0.5);
    if decoy {
        deploys.push(PlannedDeploy {
            feature: *rng.pick(&affected),
            at: at - Duration::minutes(2 + rng.below(9) as i64),
            share: 1.0,
            breaks: None,
        });
    }
    world.effect = Effect::Model {
        at,
        length,
        hallucination: rise,
    };
    let description = format!(
        "silent gpt-4o update on {} feature(s), answers ×{length:.2} longer, {} {} → {}{}{}",
        affected.len(),
        metric.key(),
        percent(p0),
        percent(p1),
        if world.reports_served_model {
            ", model_served unchanged"
        } else {
            ", no model_served"
        },
        if decoy {
            ", benign deploy minutes before"
        } else {
            ""
        }
    );
    let planned = Planned {
        slice: Slice::of(&[(Field::ModelRequested, Model::Gpt4o.requested())]),
        features: affected,
        traffic_share: 1.0,
        at,
        metric,
        p0,
        p1,
        measured_share,
    };
    (Some(planned), description)
}

fn plant_drift(world: &mut World, at: DateTime<Utc>, rng: &mut Rng) -> (Option<Planned>, String) {
    let index = rng.below(world.features.len());
    let feature = &world.features[index];
    let share = between(rng, 0.10, 0.20);
    let quality = if world.eval_coverage > 0.0 && rng.chance(0.5) {
        Quality::Hallucination
    } else {
        Quality::Refusal
    };
    let rise = between(rng, 0.15, 0.30);
    let tenant = rng.chance(0.5).then_some(NEW_TENANT);
    let words: Vec<&'static str> = rng.pick(DRIFT_TOPICS).split(' ').collect();
    let (metric, measured) = quality.measured(world.eval_coverage);
    let p0 = feature.rates.share(quality);
    let drifted = feature.rates.raised(quality, rise).share(quality);
    let name = feature.topic.name;
    // Without a tag of its own the drifted traffic is only a part of the feature's.
    let (slice, traffic_share, p1) = match tenant {
        Some(tenant) => (
            Slice::of(&[(Field::Feature, name), (Field::Tenant, tenant)]),
            share,
            drifted,
        ),
        None => (feature.slice(), 1.0, p0 + share * (drifted - p0)),
    };
    let description = format!(
        "{:.0}% of {name} on new topics ({}, {}{}), {} there {} → {}",
        share * 100.0,
        words[0],
        words[1],
        tenant.map_or(String::new(), |t| format!(", tenant {t}")),
        quality.metric().key(),
        percent(p0),
        percent(drifted)
    );
    let planned = Planned {
        slice,
        features: vec![index],
        traffic_share,
        at,
        metric,
        p0,
        p1,
        measured_share: feature.rates.ok_share() * measured,
    };
    world.effect = Effect::Drift {
        feature: index,
        at,
        share,
        tenant,
        quality,
        rise,
    };
    world.drift_words = words;
    (Some(planned), description)
}

fn plant_transport(
    world: &mut World,
    planting: Planting,
    at: DateTime<Utc>,
    rng: &mut Rng,
) -> (Option<Planned>, String) {
    let index = rng.below(world.features.len());
    let provider = world.features[index].model.provider();
    let of_provider: Vec<usize> = (0..world.features.len())
        .filter(|f| world.features[*f].model.provider() == provider)
        .collect();
    let feature_name = world.features[index].topic.name;
    let by_provider = Slice::of(&[(Field::Provider, provider)]);
    let (scope, fault, metric, p0, p1, measured_share, description) = match planting {
        Planting::RateLimits => {
            let to = between(rng, 0.03, 0.05);
            for f in &of_provider {
                world.features[*f].rates.rate_limited = 0.003;
            }
            (
                Scope::Provider(provider),
                Fault::RateLimited(to),
                MetricId::RateLimits,
                0.003,
                to,
                1.0,
                format!("{provider} rate-limits {} of calls, was 0.3%", percent(to)),
            )
        }
        Planting::ErrorRise => {
            world.features[index].rates.error = 0.02;
            (
                Scope::Feature(index),
                Fault::Errors(0.05),
                MetricId::Errors,
                0.02,
                0.05,
                1.0,
                format!("{feature_name} errors 2% → 5%"),
            )
        }
        Planting::ErrorBursts => {
            let status = if rng.chance(0.5) {
                CallStatus::Error
            } else {
                CallStatus::Timeout
            };
            let rate = between(rng, 0.10, 0.20);
            let bursts = Bursts {
                from: at,
                on: Duration::minutes(3),
                off: Duration::minutes(4),
            };
            let rates = &world.features[index].rates;
            let (metric, p0) = match status {
                CallStatus::Timeout => (MetricId::Timeouts, rates.timeout),
                _ => (MetricId::Errors, rates.error),
            };
            (
                Scope::Feature(index),
                Fault::Bursts {
                    status,
                    rate,
                    bursts,
                },
                metric,
                p0,
                p0 + bursts.duty() * (rate - p0),
                1.0,
                format!(
                    "{feature_name} {} at {} 3 min of every 7",
                    metric.key(),
                    percent(rate)
                ),
            )
        }
        _ => {
            let factor = between(rng, 1.5, 2.0);
            let (measured_share, _) = world.pooled(&of_provider, |f| (f.rates.ok_share(), 0.0));
            (
                Scope::Provider(provider),
                Fault::Slower(factor),
                MetricId::LatencyP95,
                0.05,
                normal_tail(Z_P95 - factor.ln() / LATENCY_SIGMA),
                measured_share,
                format!("{provider} latency ×{factor:.2}"),
            )
        }
    };
    let (slice, features) = match scope {
        Scope::Feature(f) => (world.features[f].slice(), vec![f]),
        Scope::Provider(_) => (by_provider, of_provider),
    };
    world.effect = Effect::Transport { at, scope, fault };
    let planned = Planned {
        slice,
        features,
        traffic_share: 1.0,
        at,
        metric,
        p0,
        p1,
        measured_share,
    };
    (Some(planned), description)
}

/// The healthy day's events: benign deploys, traffic spikes, evaluator outages and decoy
/// changes, a few per eight hours, none of which changes a rate.
fn benign_events(
    world: &mut World,
    planted_at: Option<DateTime<Utc>>,
    regressed_prompt: Option<usize>,
    rng: &mut Rng,
    deploys: &mut Vec<PlannedDeploy>,
) -> Vec<Change> {
    let hours = (world.end - world.start).num_hours();
    let every = |span: i64| 1 + (hours / span) as usize;
    let (from, to) = (
        world.start + Duration::minutes(20),
        world.end - Duration::minutes(40),
    );
    let span = (to - from).num_minutes() as usize;
    for _ in 0..every(8) {
        // Away from the planted change, and never after it on the feature it regresses.
        let (feature, at) = loop {
            let feature = rng.below(world.features.len());
            let at = from + Duration::minutes(rng.below(span) as i64);
            let near = planted_at.is_some_and(|p| (at - p).num_minutes().abs() < 30);
            let after = planted_at.is_some_and(|p| at > p) && regressed_prompt == Some(feature);
            if !near && !after {
                break (feature, at);
            }
        };
        deploys.push(PlannedDeploy {
            feature,
            at,
            share: 1.0,
            breaks: None,
        });
    }
    for _ in 0..every(12) {
        let at = from + Duration::minutes(rng.below(span) as i64);
        let feature = rng.below(world.features.len());
        let window = Window {
            from: at,
            to: at + Duration::minutes(10 + rng.below(11) as i64),
        };
        world.spikes.push((feature, window));
    }
    if world.eval_coverage > 0.0 {
        for _ in 0..every(12) {
            let at = from + Duration::minutes(rng.below(span) as i64);
            world.outages.push(Window {
                from: at,
                to: at + Duration::minutes(20 + rng.below(21) as i64),
            });
        }
    }
    let mut changes = Vec::new();
    for decoy in 0..every(4) {
        let ts = from + Duration::minutes(rng.below(span) as i64);
        let author = Some(rng.pick(AUTHORS).to_string());
        let change = if decoy % 2 == 0 {
            Change {
                ts,
                kind: ChangeKind::FlagChange,
                target: rng.pick(FLAGS).to_string(),
                from: Some("off".into()),
                to: Some("on".into()),
                feature: None,
                author,
                note: None,
                text_from: None,
                text_to: None,
                extra: BTreeMap::new(),
            }
        } else {
            let build = 1 + rng.below(8);
            Change {
                ts,
                kind: ChangeKind::Deploy,
                target: rng.pick(SERVICES).to_string(),
                from: Some(format!("2026.03.{build}")),
                to: Some(format!("2026.03.{}", build + 1)),
                feature: None,
                author,
                note: None,
                text_from: None,
                text_to: None,
                extra: BTreeMap::new(),
            }
        };
        changes.push(change);
    }
    changes
}

/// The prompt texts every feature starts from.
fn base_prompt(feature: &Feature) -> String {
    let mut text = format!(
        "You are the {} assistant of Acme. Answer using only the provided information. If you are unsure, say so. Keep answers concise and friendly.",
        feature.topic.name
    );
    if feature.structured() {
        text.push_str(" Reply with JSON that matches the support_answer schema.");
    }
    text
}

/// The text after a deploy: a few words that break answers in the planted way, or a harmless
/// rewording.
fn edited(text: &str, breaks: Option<Quality>) -> String {
    match breaks {
        Some(Quality::Hallucination) => text.replace(" If you are unsure, say so.", ""),
        Some(Quality::Refusal) => format!("{text} Politely decline anything outside your scope."),
        Some(Quality::Schema) => text.replace(
            "Reply with JSON",
            "Explain your reasoning, then reply with JSON",
        ),
        None if text.contains("concise") => text.replace("concise", "short"),
        None => text.replace("short", "concise"),
    }
}

/// Versions and texts of the planned deploys, in time order per feature, and their records.
fn schedule_deploys(
    world: &mut World,
    mut planned: Vec<PlannedDeploy>,
    rng: &mut Rng,
) -> Vec<Change> {
    planned.sort_by_key(|d| d.at);
    let mut texts: Vec<String> = world.features.iter().map(base_prompt).collect();
    planned
        .into_iter()
        .map(|deploy| {
            let feature = &mut world.features[deploy.feature];
            let from = feature.deploys.last().expect("a version is live").version;
            let text_to = edited(&texts[deploy.feature], deploy.breaks);
            let text_from = std::mem::replace(&mut texts[deploy.feature], text_to.clone());
            feature.deploys.push(Deploy {
                at: deploy.at,
                version: from + 1,
                share: deploy.share,
                planted: deploy.breaks.is_some(),
            });
            Change {
                ts: deploy.at,
                kind: ChangeKind::PromptDeploy,
                target: feature.topic.name.to_string(),
                from: Some(format!("v{from}")),
                to: Some(format!("v{}", from + 1)),
                feature: Some(feature.topic.name.to_string()),
                author: Some(rng.pick(AUTHORS).to_string()),
                note: (deploy.share < 1.0).then(|| format!("canary {:.0}%", deploy.share * 100.0)),
                text_from: Some(text_from),
                text_to: Some(text_to),
                extra: BTreeMap::new(),
            }
        })
        .collect()
}

fn between(rng: &mut Rng, low: f64, high: f64) -> f64 {
    low + rng.unit() * (high - low)
}

fn seconds(x: f64) -> Duration {
    Duration::milliseconds((x * 1000.0) as i64)
}

/// P(Z > z) for a standard normal (Abramowitz and Stegun 7.1.26, error below 1.5e-7).
fn normal_tail(z: f64) -> f64 {
    let x = z.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erfc = poly * (-x * x).exp();
    if z >= 0.0 {
        erfc / 2.0
    } else {
        1.0 - erfc / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::signals::refusal::is_refusal;
    use crate::engine::signals::schema::SchemaRegistry;
    use crate::engine::stats::Proportion;
    use crate::sim::schema_registry;

    const SEEDS: [u64; 3] = [1, 2, 3];

    /// Whether a call is bad for the metric as the engine would judge it; `None` when the metric
    /// does not apply to the call.
    fn judged(
        burn: &SlowBurn,
        metric: MetricId,
        call: &Call,
        schemas: &SchemaRegistry,
    ) -> Option<bool> {
        match metric {
            MetricId::Errors => return Some(call.status == CallStatus::Error),
            MetricId::Timeouts => return Some(call.status == CallStatus::Timeout),
            MetricId::RateLimits => return Some(call.status == CallStatus::RateLimited),
            _ if call.status != CallStatus::Ok => return None,
            _ => {}
        }
        let output = call.output.as_deref()?;
        let parsed = serde_json::from_str::<serde_json::Value>(output);
        match metric {
            MetricId::Hallucination => call.eval_flag("hallucination"),
            MetricId::Refusal => Some(is_refusal(output, parsed.as_ref().ok())),
            MetricId::Schema => schemas
                .check(call.output_schema.as_deref()?, output, parsed.as_ref())
                .map(|result| result.is_err()),
            MetricId::Feedback => call.feedback.map(|f| f == Feedback::Down),
            MetricId::LatencyP95 => {
                let feature = burn
                    .world
                    .features
                    .iter()
                    .find(|f| f.topic.name == call.feature)?;
                let healthy_p95 = feature.latency_ms * (Z_P95 * LATENCY_SIGMA).exp();
                Some(call.latency_ms > healthy_p95)
            }
            other => panic!("no planting moves {}", other.key()),
        }
    }

    /// How many standard errors the count is from what the claimed rate predicts.
    fn z(measured: Proportion, claimed: f64) -> f64 {
        let n = measured.n as f64;
        let off = measured.bad as f64 - n * claimed;
        match (n * claimed * (1.0 - claimed)).sqrt() {
            0.0 if off == 0.0 => 0.0,
            spread => off / spread,
        }
    }

    /// The slice the planted one grows out of: the same without its new version or tenant, so
    /// it has calls before the change.
    fn before_the_change(slice: &Slice) -> Slice {
        Slice {
            conditions: slice
                .conditions
                .iter()
                .filter(|(field, _)| !matches!(field, Field::PromptVersion | Field::Tenant))
                .cloned()
                .collect(),
        }
    }

    #[test]
    fn calls_are_in_time_order_and_the_same_for_the_same_seed() {
        for planting in Planting::ALL {
            let burn = generate(planting, 7);
            let again = generate(planting, 7);
            assert_eq!(burn.planted, again.planted);
            assert_eq!(burn.changes, again.changes);
            let mut previous = burn.start();
            let mut count = 0;
            for (call, same) in burn.calls().zip(again.calls()) {
                assert!(call.ts >= previous && call.ts < burn.end(), "{}", burn.name);
                assert_eq!(call, same);
                previous = call.ts;
                count += 1;
            }
            assert_eq!(count, again.calls().count());
            assert!(burn.changes.is_sorted_by_key(|c| c.ts), "{}", burn.name);
            assert!(
                burn.changes
                    .iter()
                    .all(|c| c.ts > burn.start() && c.ts < burn.end())
            );
            let first = generate(planting, 8).calls().next();
            assert_ne!(first, burn.calls().next(), "another seed, another stream");
        }
    }

    #[test]
    fn planted_rates_are_what_they_claim() {
        let schemas = schema_registry();
        for planting in Planting::ALL.into_iter().skip(1) {
            let (mut pooled_before, mut pooled_after) = (0.0, 0.0);
            for seed in SEEDS {
                let burn = generate(planting, seed);
                let shift = burn.planted.shift.as_ref().expect("a planted shift");
                assert_eq!(burn.planted.cause, planting.cause());
                assert!(shift.p1 > shift.p0, "{}", burn.planted.description);
                assert!(shift.at - burn.start() >= Duration::minutes(90));
                let parent = before_the_change(&shift.slice);
                let (mut before, mut after) = (Proportion::default(), Proportion::default());
                let mut slice_calls = 0u64;
                for call in burn.calls() {
                    let (window, slice) = if call.ts < shift.at {
                        (&mut before, &parent)
                    } else {
                        (&mut after, &shift.slice)
                    };
                    if !slice.contains(&call) {
                        continue;
                    }
                    slice_calls += u64::from(call.ts >= shift.at);
                    if let Some(bad) = judged(&burn, shift.metric, &call, &schemas) {
                        window.add(bad);
                    }
                }
                let context = format!("{}: {}", burn.name, burn.planted.description);
                let (z0, z1) = (z(before, shift.p0), z(after, shift.p1));
                assert!(z0.abs() < 5.0, "before z {z0:.1} {before:?} {context}");
                assert!(z1.abs() < 5.0, "after z {z1:.1} {after:?} {context}");
                pooled_before += z0;
                pooled_after += z1;
                let measured = z(
                    Proportion {
                        bad: after.n,
                        n: slice_calls,
                    },
                    shift.measured_share,
                );
                assert!(
                    measured.abs() < 5.0,
                    "measured share z {measured:.1} {context}"
                );
                let minutes = (burn.end() - shift.at).num_minutes() as f64;
                let expected = shift.calls_per_minute * minutes;
                let traffic = (slice_calls as f64 - expected) / expected.sqrt();
                assert!(traffic.abs() < 5.0, "traffic z {traffic:.1} {context}");
            }
            let k = (SEEDS.len() as f64).sqrt();
            let name = planting.name();
            assert!(
                (pooled_before / k).abs() < 4.0,
                "{name} before z {pooled_before}"
            );
            assert!(
                (pooled_after / k).abs() < 4.0,
                "{name} after z {pooled_after}"
            );
        }
    }

    #[test]
    fn a_healthy_day_plants_nothing_and_keeps_its_rates() {
        let burn = generate(Planting::Healthy, 1);
        assert_eq!(burn.planted.cause, None);
        assert_eq!(burn.planted.shift, None);
        assert_eq!(burn.end() - burn.start(), Duration::hours(24));
        for kind in [
            ChangeKind::PromptDeploy,
            ChangeKind::FlagChange,
            ChangeKind::Deploy,
        ] {
            assert!(burn.changes.iter().any(|c| c.kind == kind), "{kind}");
        }
        assert!(!burn.world.spikes.is_empty());
        let schemas = schema_registry();
        let middle = burn.start() + Duration::hours(12);
        let names = burn.feature_names();
        let metrics = [
            MetricId::Errors,
            MetricId::Refusal,
            MetricId::Hallucination,
            MetricId::LatencyP95,
        ];
        // (feature, metric, half of the day)
        let mut counts = vec![[[Proportion::default(); 2]; 4]; names.len()];
        for call in burn.calls() {
            let feature = names.iter().position(|n| *n == call.feature).unwrap();
            let half = usize::from(call.ts >= middle);
            for (m, metric) in metrics.iter().enumerate() {
                if let Some(bad) = judged(&burn, *metric, &call, &schemas) {
                    counts[feature][m][half].add(bad);
                }
            }
        }
        for (feature, by_metric) in counts.iter().enumerate() {
            for (m, [first, second]) in by_metric.iter().enumerate() {
                let (Some(a), Some(b)) = (first.rate(), second.rate()) else {
                    continue;
                };
                let pooled = (first.bad + second.bad) as f64 / (first.n + second.n) as f64;
                let spread =
                    (pooled * (1.0 - pooled) * (1.0 / first.n as f64 + 1.0 / second.n as f64))
                        .sqrt()
                        .max(1e-9);
                let z = (b - a) / spread;
                assert!(
                    z.abs() < 4.5,
                    "{} {}: {a:.4} then {b:.4}",
                    names[feature],
                    metrics[m].key()
                );
            }
        }
    }

    #[test]
    fn a_prompt_regression_is_recorded_and_its_version_served() {
        let plantings = [
            Planting::PromptRegression,
            Planting::PromptCanary,
            Planting::IntermittentPrompt,
        ];
        for (planting, seed) in plantings
            .into_iter()
            .flat_map(|p| (1..=4).map(move |s| (p, s)))
        {
            let burn = generate(planting, seed);
            let shift = burn.planted.shift.as_ref().unwrap();
            let deploy = burn
                .changes
                .iter()
                .find(|c| c.ts == shift.at && c.kind == ChangeKind::PromptDeploy)
                .expect("the planted deploy is recorded");
            assert_ne!(deploy.text_from, deploy.text_to);
            let feature = deploy.feature.as_deref().unwrap();
            assert_eq!(deploy.target, feature);
            let to = deploy.to.clone().unwrap();
            if planting == Planting::PromptCanary {
                assert!(
                    shift
                        .slice
                        .conditions
                        .contains(&(Field::PromptVersion, to.clone()))
                );
            }
            let mut versions = BTreeMap::<String, u32>::new();
            for call in burn
                .calls()
                .filter(|c| c.ts >= shift.at && c.feature == feature)
            {
                *versions.entry(call.prompt_version.unwrap()).or_default() += 1;
            }
            let new = versions.remove(&to).unwrap_or(0);
            let old = versions.remove(deploy.from.as_ref().unwrap()).unwrap_or(0);
            assert!(versions.is_empty(), "{}: {versions:?}", burn.name);
            let share = f64::from(new) / f64::from(new + old);
            let expected = match planting {
                Planting::PromptCanary => 0.1..0.6,
                _ => 1.0..1.01,
            };
            assert!(
                expected.contains(&share),
                "{}: new version on {share}",
                burn.name
            );
        }
    }

    #[test]
    fn a_silent_model_update_keeps_every_name_and_lengthens_answers() {
        for seed in SEEDS {
            let burn = generate(Planting::SilentModelUpdate, seed);
            let at = burn.planted.shift.as_ref().unwrap().at;
            assert!(
                burn.changes
                    .iter()
                    .all(|c| c.kind != ChangeKind::ModelChange)
            );
            let mut served = std::collections::BTreeSet::new();
            let (mut before, mut after) = ((0usize, 0usize), (0usize, 0usize));
            for call in burn.calls().filter(|c| c.model_requested == "gpt-4o") {
                served.insert(call.model_served.clone());
                if let Some(tokens) = call.tokens_out {
                    let side = if call.ts < at {
                        &mut before
                    } else {
                        &mut after
                    };
                    side.0 += tokens as usize;
                    side.1 += 1;
                }
            }
            served.remove(&None);
            assert!(served.len() <= 1, "{served:?}");
            assert_eq!(served.len() == 1, burn.reports_served_model());
            let mean = |(tokens, calls): (usize, usize)| tokens as f64 / calls as f64;
            assert!(
                mean(after) > 1.2 * mean(before),
                "{}",
                burn.planted.description
            );
        }
    }

    #[test]
    fn calls_and_changes_round_trip_through_jsonl() {
        let burn = generate(Planting::InputDrift, 1);
        for call in burn.calls().take(2000) {
            let line = serde_json::to_string(&call).unwrap();
            assert_eq!(serde_json::from_str::<Call>(&line).unwrap(), call);
        }
        for change in &burn.changes {
            let line = serde_json::to_string(change).unwrap();
            assert_eq!(&serde_json::from_str::<Change>(&line).unwrap(), change);
        }
    }

    #[test]
    fn refusals_are_seen_by_the_start_anchored_detector() {
        let mut rng = Rng::new(3);
        for template in REFUSALS {
            let text = template.replace("{word}", "customs");
            assert!(is_refusal(&text, None), "{text}");
        }
        for style in [&GPT_4O, &CLAUDE, &GPT_4O_UPDATED] {
            let text = answer(&mut rng, style, &["coupon", "cart"], 40);
            assert!(!is_refusal(&text, None), "{text}");
        }
    }
}
