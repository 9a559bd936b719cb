//! The simulated feature's content: an online store's support assistant that answers from a
//! small knowledge base. Inputs, retrieved context and answers are real text, so the content
//! signals have something true to measure.

use super::rng::Rng;

/// A knowledge-base article the retriever can return.
pub struct Article {
    pub id: &'static str,
    pub text: &'static str,
}

/// One kind of support question, with what the knowledge base says and how answers go wrong.
pub struct Intent {
    pub name: &'static str,
    pub weight: f64,
    pub questions: &'static [&'static str],
    pub articles: &'static [Article],
    /// Grounded answers: everything they state is in the articles.
    pub answers: &'static [&'static str],
    /// Fluent answers that state what the articles do not say.
    pub hallucinations: &'static [&'static str],
}

pub const INTENTS: &[Intent] = &[
    Intent {
        name: "order_status",
        weight: 0.30,
        questions: &[
            "Where is my order #{order}? It was supposed to arrive {day}.",
            "Can you check the status of order {order}? The tracking page hasn't updated.",
            "My package for order #{order} still says label created. Has it shipped?",
            "Order {order} hasn't arrived yet, what's going on?",
        ],
        articles: &[
            Article {
                id: "kb-101",
                text: "Order tracking: orders ship within 2 business days. Tracking updates can lag up to 24 hours after the carrier scans the parcel.",
            },
            Article {
                id: "kb-102",
                text: "Delayed orders: if tracking shows no movement for 5 business days, support can open a carrier trace and offer a replacement.",
            },
        ],
        answers: &[
            "Orders ship within 2 business days, and tracking can lag up to 24 hours after the carrier's first scan. If order #{order} shows no movement for 5 business days, I can open a carrier trace for you.",
            "Sorry for the delay. Tracking updates can take up to 24 hours to appear. If nothing moves for 5 business days we open a carrier trace and can send a replacement.",
        ],
        hallucinations: &[
            "Order #{order} was delivered yesterday at 3:42 pm and signed for at the front desk.",
            "Your order #{order} is held at customs in Rotterdam and will be released after you pay a 12 euro import fee.",
            "I've upgraded order #{order} to overnight express at no cost; it will arrive tomorrow before noon.",
        ],
    },
    Intent {
        name: "returns",
        weight: 0.22,
        questions: &[
            "How do I return the {product} I bought last week?",
            "Can I return a {product} if I already wore it once?",
            "What's your return policy for sale items like the {product}?",
            "I want to send back my {product}, is there a fee?",
        ],
        articles: &[
            Article {
                id: "kb-201",
                text: "Returns: unworn items can be returned within 30 days of delivery for a full refund. Sale items are final sale.",
            },
            Article {
                id: "kb-202",
                text: "Return labels are free for domestic orders. Refunds are issued to the original payment method within 5 business days of receipt.",
            },
        ],
        answers: &[
            "You can return the unworn {product} within 30 days of delivery for a full refund, and the return label is free for domestic orders.",
            "Items must be unworn to be returned within 30 days. Sale items are final sale, so a discounted {product} cannot be returned.",
        ],
        hallucinations: &[
            "You can return the {product} within 90 days, even if worn, and we refund the original shipping too.",
            "Returns are free worldwide and refunds arrive within one hour of drop-off.",
            "Sale items like the {product} can be exchanged for store credit worth 120% of the price.",
        ],
    },
    Intent {
        name: "shipping",
        weight: 0.16,
        questions: &[
            "Do you ship to {city}?",
            "How long does shipping to {city} take?",
            "How much is express shipping for a {product}?",
        ],
        articles: &[
            Article {
                id: "kb-301",
                text: "Shipping: standard delivery takes 3 to 5 business days and is free over 50 dollars. Express takes 1 to 2 business days for 15 dollars.",
            },
            Article {
                id: "kb-302",
                text: "We ship to the United States and Canada only.",
            },
        ],
        answers: &[
            "Standard delivery takes 3 to 5 business days and is free over 50 dollars; express takes 1 to 2 business days for 15 dollars.",
            "We ship to the United States and Canada only. Standard delivery there takes 3 to 5 business days.",
        ],
        hallucinations: &[
            "Yes, we ship to {city} in 2 days with free express delivery on every order.",
            "Shipping to {city} is same-day if you order before 6 pm.",
        ],
    },
    Intent {
        name: "billing",
        weight: 0.14,
        questions: &[
            "I was charged twice for order #{order}, can you refund one?",
            "Why is there a pending charge on my card from Acme?",
            "Can I pay for the {product} in installments?",
        ],
        articles: &[
            Article {
                id: "kb-401",
                text: "Pending charges are authorisations that drop off within 3 business days if the order is cancelled.",
            },
            Article {
                id: "kb-402",
                text: "Duplicate charges are refunded by the billing team within 5 business days after verification. Installments are available through Klarna at checkout.",
            },
        ],
        answers: &[
            "A pending charge is an authorisation and drops off within 3 business days if the order was cancelled. If you were charged twice, billing refunds the duplicate within 5 business days after verifying it.",
            "You can pay in installments through Klarna at checkout.",
        ],
        hallucinations: &[
            "I've refunded the duplicate charge on order #{order}; it will be back on your card in 10 minutes.",
            "We offer 0% installments over 24 months directly from Acme, no credit check needed.",
        ],
    },
    Intent {
        name: "product",
        weight: 0.12,
        questions: &[
            "Is the {product} waterproof?",
            "What sizes does the {product} come in?",
            "Is the {product} machine washable?",
        ],
        articles: &[
            Article {
                id: "kb-501",
                text: "Trail jackets and rain shells are waterproof to 10,000 mm. Fleece and down items are not waterproof.",
            },
            Article {
                id: "kb-502",
                text: "Apparel comes in sizes XS to XXL. Wash technical shells cold on a gentle cycle; do not tumble dry down.",
            },
        ],
        answers: &[
            "Rain shells and trail jackets are waterproof to 10,000 mm; fleece and down items are not.",
            "The {product} comes in sizes XS to XXL. Wash it cold on a gentle cycle.",
        ],
        hallucinations: &[
            "The {product} is fully waterproof to 50,000 mm and carries a lifetime warranty.",
            "The {product} comes in sizes XXS to 5XL, plus custom tailoring for free.",
        ],
    },
    Intent {
        name: "account",
        weight: 0.06,
        questions: &[
            "How do I reset my password?",
            "Can I change the email on my account?",
            "How do I delete my Acme account?",
        ],
        articles: &[
            Article {
                id: "kb-601",
                text: "Password resets: use the Forgot password link on the sign-in page; the link expires after 30 minutes.",
            },
            Article {
                id: "kb-602",
                text: "Email changes and account deletion are done under Account settings, Privacy.",
            },
        ],
        answers: &[
            "Use the Forgot password link on the sign-in page; the reset link expires after 30 minutes.",
            "You can change your email or delete your account under Account settings, Privacy.",
        ],
        hallucinations: &[
            "I've reset your password to your postcode; you can sign in now.",
            "Account deletion requires sending a signed letter to our head office.",
        ],
    },
];

/// Questions from traffic the assistant was never built for.
pub const OFF_TOPIC_QUESTIONS: &[&str] = &[
    "Can you help me file my quarterly taxes as a freelancer in {city}?",
    "Write a Python script that scrapes competitor prices every hour.",
    "What's a good itinerary for three days in {city}?",
    "My knee hurts after running, should I take ibuprofen or see a doctor?",
    "Explain the difference between a Roth IRA and a traditional IRA.",
    "Translate my landlord's lease agreement into Spanish.",
    "Which cryptocurrency should I invest in this month?",
    "Draft a cover letter for a marketing manager position.",
];

pub const OFF_TOPIC_REFUSALS: &[&str] = &[
    "I'm sorry, but I can only help with questions about Acme orders, returns, shipping and accounts.",
    "I can't help with that. I'm Acme's support assistant; would you like me to connect you with a human agent?",
];

pub const OFF_TOPIC_HALLUCINATIONS: &[&str] = &[
    "Sure! As an Acme customer you can deduct all clothing purchases as a business expense; file form 8829 by the 15th.",
    "Here is the script: import acme_prices; acme_prices.scrape(every='1h'). Acme provides this API to all customers.",
    "Day 1: visit the Acme flagship store in {city}, which offers free guided tours and a rooftop cafe.",
    "Take 800 mg of ibuprofen three times a day; Acme's trail shoes also come with a knee-support insole.",
];

pub const REFUSALS: &[&str] = &[
    "I'm sorry, but I can't share details about that order.",
    "I cannot help with that request. Would you like me to connect you with a human agent?",
];

/// The non-AI fallback that the kill switch routes to: safe, generic, and users notice.
pub const FALLBACK_ANSWER: &str = "Thanks for reaching out. Our support team has your question and will reply by email within 24 hours. Meanwhile, see acme.example/help.";

const PRODUCTS: &[&str] = &[
    "trail jacket",
    "rain shell",
    "fleece pullover",
    "down vest",
    "hiking boots",
    "merino base layer",
];
const CITIES: &[&str] = &[
    "Toronto",
    "Denver",
    "Lisbon",
    "Osaka",
    "Austin",
    "Vancouver",
];
const DAYS: &[&str] = &["yesterday", "on Monday", "last Friday", "two days ago"];

/// Fills `{order}`, `{product}`, `{city}` and `{day}` slots.
pub fn fill(template: &str, rng: &mut Rng, order: u32) -> String {
    let product = *rng.pick(PRODUCTS);
    let city = *rng.pick(CITIES);
    let day = *rng.pick(DAYS);
    template
        .replace("{order}", &order.to_string())
        .replace("{product}", product)
        .replace("{city}", city)
        .replace("{day}", day)
}

/// The ways a model breaks the structured-output contract.
#[derive(Debug, Clone, Copy)]
pub enum Malformation {
    Fenced,
    MissingCitations,
    ConfidenceAsWord,
    ProsePreamble,
}

impl Malformation {
    pub const ALL: [Malformation; 4] = [
        Self::Fenced,
        Self::MissingCitations,
        Self::ConfidenceAsWord,
        Self::ProsePreamble,
    ];
}

/// Renders an answer as the JSON the schema wants, or malformed in one of the usual ways.
pub fn render_output(
    answer: &str,
    citations: &[&str],
    confidence: f64,
    intent: &str,
    malformation: Option<Malformation>,
) -> String {
    let answer_json = serde_json::Value::String(answer.to_string());
    let citations_json = serde_json::to_string(citations).expect("strings serialize");
    let confidence = (confidence * 100.0).round() / 100.0;
    let well_formed = format!(
        r#"{{"answer":{answer_json},"citations":{citations_json},"confidence":{confidence},"intent":"{intent}"}}"#
    );
    match malformation {
        None => well_formed,
        Some(Malformation::Fenced) => format!("```json\n{well_formed}\n```"),
        Some(Malformation::MissingCitations) => {
            format!(r#"{{"answer":{answer_json},"confidence":{confidence},"intent":"{intent}"}}"#)
        }
        Some(Malformation::ConfidenceAsWord) => format!(
            r#"{{"answer":{answer_json},"citations":{citations_json},"confidence":"high","intent":"{intent}"}}"#
        ),
        Some(Malformation::ProsePreamble) => format!("Here is the answer in JSON:\n{well_formed}"),
    }
}
