//! Masking of where the systems live and anything that could be a credential: the presenter view
//! shows no more on a screen share, and the postmortem export's redaction starts from it. Pure:
//! text in, masked text out.

use std::sync::LazyLock;

use regex::{Captures, Regex};

pub const URL: &str = "‹url›";
pub const HOST: &str = "‹host›";
pub const EMAIL: &str = "‹email›";
pub const SECRET: &str = "‹secret›";

/// Top-level domains that make a dotted word a hostname rather than a file name ("calls.jsonl")
/// or an abbreviation ("e.g.").
const TLDS: &str = "com|net|org|io|ai|dev|app|cloud|internal|local|localdomain|lan|corp|home|svc|\
                    cluster|co|us|uk|de|eu|fr|nl|jp|in|au|ca|xyz|tech|site";

/// Punctuation that ends a sentence or a bracket rather than a URL or a path.
const TRAILING: &[char] = &['.', ',', ';', ':', '!', '?', ')', ']', '}', '\'', '"'];

fn regex(pattern: &str) -> Regex {
    Regex::new(pattern).expect("the redaction patterns are valid")
}

/// A masked match, with the punctuation it swallowed from the sentence put back.
fn mask_keeping_trailing(placeholder: &'static str) -> impl Fn(&Captures) -> String {
    move |caps: &Captures| {
        let matched = &caps[0];
        let kept = matched.trim_end_matches(TRAILING);
        format!("{placeholder}{}", &matched[kept.len()..])
    }
}

static SCHEME_URL: LazyLock<Regex> =
    LazyLock::new(|| regex(r#"(?i)\b[a-z][a-z0-9+.-]*://[^\s<>"'`]+"#));
static AUTHORIZATION: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"(?i)\b((?:proxy-)?authorization)(\s*[:=]\s*)(?:(?:bearer|basic|token|digest)\s+)?[^\s,;]+",
    )
});
static BEARER: LazyLock<Regex> =
    LazyLock::new(|| regex(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{8,}"));
static EMAIL_ADDRESS: LazyLock<Regex> = LazyLock::new(|| {
    regex(r"(?i)\b[a-z0-9._%+-]+@[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9-]+)*\.[a-z]{2,}\b")
});
static KEY_VALUE: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r#"(?i)\b([a-z0-9_-]*(?:api[_-]?key|key|token|secret|password|passwd|pwd|credentials?|signature|sig))("?\s*[=:]\s*)("?)[^\s&,;"']+"#,
    )
});
static PROVIDER_KEY: LazyLock<Regex> =
    LazyLock::new(|| regex(r"\b(?:sk|pk|rk)[-_][A-Za-z0-9_-]{8,}"));
static IP_ADDRESS: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r#"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?(?:/[^\s<>"']*)?|\[[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*\](?::\d{1,5})?(?:/[^\s<>"']*)?"#,
    )
});
static HOSTNAME: LazyLock<Regex> = LazyLock::new(|| {
    let label = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?";
    let path = r#"(?:/[^\s<>"']*)?"#;
    regex(&format!(
        // localhost; a dotted name with a port; a dotted name under a known top-level domain; a
        // single name with a 4- or 5-digit port (a compose service: "unleash:4242").
        r"(?i)\blocalhost(?::\d{{1,5}})?\b{path}|\b{label}(?:\.{label})+:\d{{1,5}}\b{path}|\b(?:{label}\.)+(?:{TLDS})\b(?::\d{{1,5}})?{path}|\b[a-z][a-z0-9-]*:\d{{4,5}}\b{path}"
    ))
});
/// A run of base64 or hex characters; it is masked when a stretch of it between slashes mixes
/// letters and digits, so a path like "/api/v2/projects/default" is kept.
static LONG_RUN: LazyLock<Regex> = LazyLock::new(|| regex(r"[A-Za-z0-9+/]{20,}={0,2}"));

static URL_USERINFO: LazyLock<Regex> =
    LazyLock::new(|| regex(r#"(?i)\b([a-z][a-z0-9+.-]*://)[^\s/@<>"'`]+@"#));
static BASIC: LazyLock<Regex> = LazyLock::new(|| regex(r"(?i)\b(basic)\s+[A-Za-z0-9+/]{4,}={0,2}"));

/// `text` with every credential it may carry masked, and nothing else: a URL's `user:password@`
/// dropped, `Basic`/`Bearer` values, `Authorization` headers, `key=`/`token=`/`password=` values
/// and provider keys replaced by `‹secret›`. Applied to everything flightdeck writes or prints
/// (the timeline, the log, exports, the runbook, check's evidence, a backend's answer).
pub fn credentials(text: &str) -> String {
    let text = URL_USERINFO.replace_all(text, "${1}");
    let text = BASIC.replace_all(&text, format!("${{1}} {SECRET}").as_str());
    let text = BEARER.replace_all(&text, format!("${{1}} {SECRET}").as_str());
    let text = AUTHORIZATION.replace_all(&text, masked_value(&[1, 2]));
    let text = KEY_VALUE.replace_all(&text, masked_value(&[1, 2, 3]));
    PROVIDER_KEY.replace_all(&text, SECRET).into_owned()
}

/// A match's leading `groups` kept and its value masked, unless the value is already masked
/// (`[redacted]`, `‹secret›`), a placeholder (`<base64 of …>`) or a scheme whose value the
/// `Basic`/`Bearer` patterns have masked.
fn masked_value(groups: &'static [usize]) -> impl Fn(&Captures) -> String {
    move |caps: &Captures| {
        let kept: String = groups
            .iter()
            .filter_map(|g| caps.get(*g))
            .map(|m| m.as_str())
            .collect();
        let value = &caps[0][kept.len()..];
        let first = value.split_whitespace().next().unwrap_or_default();
        let scheme = ["basic", "bearer", "token", "digest"]
            .iter()
            .any(|s| first.eq_ignore_ascii_case(s));
        if scheme || value.starts_with(['[', '<', '‹']) {
            caps[0].to_string()
        } else {
            format!("{kept}{SECRET}")
        }
    }
}

/// `text` with URLs, hostnames and IP addresses (with their ports and paths), email addresses
/// and anything that looks like a credential replaced by a placeholder: `‹url›`, `‹host›`,
/// `‹email›`, `‹secret›`. Versions, model names, times and numbers are kept.
pub fn redact(text: &str) -> String {
    let text = SCHEME_URL.replace_all(text, mask_keeping_trailing(URL));
    let text = AUTHORIZATION.replace_all(&text, format!("${{1}}${{2}}{SECRET}").as_str());
    let text = BEARER.replace_all(&text, format!("${{1}} {SECRET}").as_str());
    let text = EMAIL_ADDRESS.replace_all(&text, EMAIL);
    let text = KEY_VALUE.replace_all(&text, format!("${{1}}${{2}}${{3}}{SECRET}").as_str());
    let text = PROVIDER_KEY.replace_all(&text, SECRET);
    let text = IP_ADDRESS.replace_all(&text, mask_keeping_trailing(HOST));
    let text = HOSTNAME.replace_all(&text, mask_keeping_trailing(HOST));
    LONG_RUN
        .replace_all(&text, |caps: &Captures| {
            let run = &caps[0];
            let mixed = |part: &str| {
                part.len() >= 8
                    && part.chars().any(|c| c.is_ascii_digit())
                    && part.chars().any(|c| c.is_ascii_alphabetic())
            };
            if run.split('/').any(mixed) {
                SECRET.to_string()
            } else {
                run.to_string()
            }
        })
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_masked_in_every_form_and_the_rest_kept() {
        assert_eq!(
            credentials("embeddings http://user:p%40ss@emb.internal:8080/v1 refused"),
            "embeddings http://emb.internal:8080/v1 refused"
        );
        assert_eq!(
            credentials("echo: token=Basic dW5sdXNlcjp1bmxwYXNz, then"),
            "echo: token=Basic ‹secret›, then"
        );
        assert_eq!(
            credentials("Authorization: Basic dW5sdXNlcjp1bmxwYXNz"),
            "Authorization: Basic ‹secret›"
        );
        assert_eq!(
            credentials("Authorization: s3cr3t-unleash-token"),
            "Authorization: ‹secret›"
        );
        assert_eq!(
            credentials("Authorization: Basic <base64 of $PK:$SK>"),
            "Authorization: Basic <base64 of $PK:$SK>"
        );
        assert_eq!(
            credentials("invalid token: Bearer [redacted]"),
            "invalid token: Bearer [redacted]"
        );
        assert_eq!(
            credentials("password=hunter22 sent"),
            "password=‹secret› sent"
        );
        assert_eq!(
            credentials("header Basic dW5sdXNlcjp1bmxwYXNz sent"),
            "header Basic ‹secret› sent"
        );
        assert_eq!(credentials("Bearer sk-live-abcdefgh12"), "Bearer ‹secret›");
        assert_eq!(
            credentials("prompt support-answer v7 → v8 at http://phoenix:6006, 5 calls"),
            "prompt support-answer v7 → v8 at http://phoenix:6006, 5 calls"
        );
    }

    #[test]
    fn urls_are_masked_and_the_sentence_around_them_kept() {
        assert_eq!(
            redact(
                "Unleash http://127.0.0.1:4242/api/admin/projects/default/features/x: connection \
                 failed"
            ),
            "Unleash ‹url›: connection failed"
        );
        assert_eq!(
            redact("see (https://flags.example.com/a?b=c)."),
            "see (‹url›)."
        );
        assert_eq!(
            redact("POST http://10.0.0.7:4242/api/admin?token=abc123 → 200 OK"),
            "POST ‹url› → 200 OK"
        );
        assert_eq!(redact("grpc://collector:4317"), "‹url›");
    }

    #[test]
    fn hosts_and_ip_addresses_are_masked_with_their_ports() {
        assert_eq!(redact("Unleash 127.0.0.1:4242"), "Unleash ‹host›");
        assert_eq!(
            redact("otlp 0.0.0.0:4318 listening"),
            "otlp ‹host› listening"
        );
        assert_eq!(redact("from 10.1.2.3, then"), "from ‹host›, then");
        assert_eq!(redact("phoenix [::1]:6006"), "phoenix ‹host›");
        assert_eq!(redact("localhost:9090 refused"), "‹host› refused");
        assert_eq!(redact("flags.internal:4242"), "‹host›");
        assert_eq!(redact("api.openai.com/v1/chat down"), "‹host› down");
        assert_eq!(redact("talk to flags.example.com."), "talk to ‹host›.");
        assert_eq!(redact("unleash:4242 timed out"), "‹host› timed out");
        assert_eq!(
            redact("svc phoenix.observability.svc.cluster.local"),
            "svc ‹host›"
        );
    }

    #[test]
    fn email_addresses_are_masked() {
        assert_eq!(
            redact("acknowledged by dana.m@example.com at 14:20"),
            "acknowledged by ‹email› at 14:20"
        );
        assert_eq!(redact("<ops+ai@corp.example.co.uk>"), "<‹email›>");
    }

    #[test]
    fn credentials_are_masked() {
        assert_eq!(
            redact("key sk-live-0123456789abcdefghij leaked"),
            "key ‹secret› leaked"
        );
        assert_eq!(redact("sk-proj-AbCdEf12_34"), "‹secret›");
        assert_eq!(redact("pk-lf-1234abcd"), "‹secret›");
        assert_eq!(
            redact("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.x"),
            "Authorization: ‹secret›"
        );
        assert_eq!(
            redact("authorization=Basic dXNlcjpwYXNz"),
            "authorization=‹secret›"
        );
        assert_eq!(
            redact("sent with bearer abcdefgh12345678"),
            "sent with bearer ‹secret›"
        );
        assert_eq!(redact("token=abc123&page=2"), "token=‹secret›&page=2");
        assert_eq!(redact("api_key = hunter2"), "api_key = ‹secret›");
        assert_eq!(redact(r#"{"token": "abc123"}"#), r#"{"token": "‹secret›"}"#);
        assert_eq!(redact("x-api-key:zzz"), "x-api-key:‹secret›");
        assert_eq!(redact("password=correct-horse"), "password=‹secret›");
    }

    #[test]
    fn long_base64_and_hex_runs_are_masked() {
        assert_eq!(
            redact("trace 4bf92f3577b34da6a3ce929d0e0e4736 slow"),
            "trace ‹secret› slow"
        );
        assert_eq!(redact("id UHJvbXB0VmVyc2lvbjoy"), "id ‹secret›");
        assert_eq!(
            redact("ghp_aBcD1234eFgH5678iJkL9012mNoP3456qRsT"),
            "ghp_‹secret›"
        );
        assert_eq!(redact("c2VjcmV0LXRva2VuLTEyMzQ1Njc4OQ=="), "‹secret›");
    }

    #[test]
    fn what_the_audience_needs_is_kept() {
        for text in [
            "prompt support-answer v3 → v2",
            "prompt support-answer v7 → v8 by dana.m at 14:15:00 UTC",
            "pin model gpt-4o → gpt-4o-2024-08-06",
            "claude-3-5-sonnet-20241022 served",
            "14:15 UTC",
            "2026-03-14T14:15:00Z",
            "Hallucination critical: 15.7% vs 4.3% baseline (+11.4 ±6.4 pts)",
            "28% of requests between 14:15 and 15:42 UTC",
            "p95 2.0s (base 1.9s) ×1.08",
            "MMD² -0.001 ≤ 0.008 (p 0.677), vocabulary JS 0.01 (stable)",
            "input mix stable: largest shift intent=billing -3 pts",
            "SEV2 opened: Hallucination critical",
            "INC-20260314-141700",
            "status DETECTED → INVESTIGATING",
            "see calls.jsonl and schema.json, e.g. line 4411",
            "flag support-answer-ai in production",
            "POST /api/admin/projects/default/features/support-ai/environments/production/off",
            "GET /api/v2/projects/default/features/support-answer-model",
            "strategy 6f1c2a8e-4b9d-4c55-9a51-2d1f0e7b3c44",
            "internationalization",
            "the key question: was it the prompt?",
            "Bearer",
            "version 1.2.3 and 10.5",
        ] {
            assert_eq!(redact(text), text);
        }
    }
}
