//! Text formatting shared by panes and popups.

use chrono::{DateTime, Duration, Utc};

use crate::engine::metrics::{Measure, MetricId, MetricReading, MetricState};

/// "4m12s", "1h05m", "12s".
pub fn age(d: Duration) -> String {
    let s = d.num_seconds().max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// A reading's value in its unit.
pub fn value(id: MetricId, value: Option<f64>) -> String {
    let Some(v) = value else {
        return "—".into();
    };
    match id.measure() {
        Measure::Rate => format!("{:.1}%", v * 100.0),
        Measure::Latency(_) => format!("{:.2}s", v / 1000.0),
        Measure::Throughput => format!("{v:.0}/m"),
    }
}

/// The change against baseline: points with a 95% interval for rates, a ratio for latency.
pub fn delta(reading: &MetricReading) -> String {
    delta_of(
        reading.id,
        reading.delta,
        reading.baseline,
        reading.half_width,
    )
}

/// [`delta`] from its parts, for a feature's reading as for the service's.
pub fn delta_of(
    id: MetricId,
    delta: Option<f64>,
    baseline: Option<f64>,
    half_width: Option<f64>,
) -> String {
    match (id.measure(), delta, baseline) {
        (_, None, _) | (_, _, None) => "—".into(),
        (Measure::Rate, Some(d), _) => match half_width {
            // Whole points once either reaches 10, so the column holds "-34±12" whole.
            Some(h) if d.abs() >= 0.1 || h >= 0.1 => format!("{:+.0}±{:.0}", d * 100.0, h * 100.0),
            Some(h) => format!("{:+.1}±{:.1}", d * 100.0, h * 100.0),
            None => format!("{:+.1}", d * 100.0),
        },
        (Measure::Latency(_), Some(d), Some(base)) => format!("×{:.2}", (base + d) / base.max(1.0)),
        (Measure::Throughput, Some(d), _) => format!("{d:+.0}/m"),
    }
}

/// Glyph and word, so the state never rests on colour alone.
pub fn state(state: MetricState) -> &'static str {
    match state {
        MetricState::Learning => "… learn",
        MetricState::FewSamples => "· few",
        MetricState::Ok => "✔ ok",
        MetricState::Warn => "▲ warn",
        MetricState::Critical => "✖ CRIT",
    }
}

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// A one-row [`sparkline_rows`].
pub fn sparkline(values: &[Option<f64>], baseline: Option<f64>, width: usize) -> String {
    sparkline_rows(values, baseline, width, 1).remove(0)
}

/// A sparkline `rows` tall of the last `width` values, top row first, scaled from zero to the
/// largest of them and twice the baseline, so a flat healthy line sits low and a spike stands
/// out; every value shows at least the lowest bar, so zero is told apart from no data.
pub fn sparkline_rows(
    values: &[Option<f64>],
    baseline: Option<f64>,
    width: usize,
    rows: usize,
) -> Vec<String> {
    let tail = &values[values.len().saturating_sub(width)..];
    let top = tail
        .iter()
        .flatten()
        .copied()
        .chain(baseline.map(|b| b * 2.0))
        .fold(0.0_f64, f64::max);
    let eighths = rows * 8;
    let heights: Vec<Option<usize>> = tail
        .iter()
        .map(|v| {
            v.map(|v| {
                let share = if top > 0.0 { v / top } else { 0.0 };
                1 + (share * (eighths - 1) as f64)
                    .round()
                    .clamp(0.0, (eighths - 1) as f64) as usize
            })
        })
        .collect();
    (0..rows)
        .rev()
        .map(|row| {
            heights
                .iter()
                .map(|h| match h {
                    None => ' ',
                    Some(h) => match h.saturating_sub(row * 8).min(8) {
                        0 => ' ',
                        n => BARS[n - 1],
                    },
                })
                .collect()
        })
        .collect()
}

pub fn clock(ts: DateTime<Utc>) -> String {
    ts.format("%H:%M:%S").to_string()
}

/// `text` cut to `width` columns, with an ellipsis when something was cut.
pub fn fit(text: &str, width: usize) -> String {
    if width == 0 {
        return String::new();
    }
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// `text` cut in the middle when it does not fit, keeping its start and more of its end: two
/// slices of one feature ("onboarding-guide", "onboarding-guide v4") stay told apart.
pub fn fit_middle(text: &str, width: usize) -> String {
    let count = text.chars().count();
    if count <= width || width < 3 {
        return fit(text, width);
    }
    let head = (width - 1) * 2 / 5;
    let tail = width - 1 - head;
    let mut cut: String = text.chars().take(head).collect();
    cut.push('…');
    cut.extend(text.chars().skip(count - tail));
    cut
}

/// A state without its details after " · " (a prompt version's date): for narrow places, where
/// the confirm dialog shows them in full.
pub fn short_state(state: &str) -> &str {
    state.split(" · ").next().unwrap_or(state)
}

/// `text` with each URL cut to its host and port ("http://127.0.0.1:4242/api/… :" becomes
/// "127.0.0.1:4242:"): for a narrow pane, where the cause after the URL matters most.
pub fn elide_url_paths(text: &str) -> String {
    text.split(' ')
        .map(|word| {
            let Some(rest) = word
                .strip_prefix("http://")
                .or_else(|| word.strip_prefix("https://"))
            else {
                return word.to_string();
            };
            let host = rest.split('/').next().unwrap_or(rest);
            let colon = if word.ends_with(':') && !host.ends_with(':') {
                ":"
            } else {
                ""
            };
            format!("{host}{colon}")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `text` in lines of at most `width` characters, broken between words, and inside a word only
/// when it is longer than a line, so a caller knows exactly how many rows it takes; lines after
/// the first start with `indent`, which counts in their width. At least one line, maybe empty.
pub fn wrap(text: &str, width: usize, indent: &str) -> Vec<String> {
    let width = width.max(indent.chars().count() + 1);
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut used = 0;
    for word in text.split_whitespace() {
        let mut word: Vec<char> = word.chars().collect();
        if used > 0 && used + 1 + word.len() <= width {
            line.push(' ');
            line.extend(&word);
            used += 1 + word.len();
            continue;
        }
        if used > 0 {
            lines.push(std::mem::take(&mut line));
        }
        // A new line: the first starts at the margin, the others after the indent.
        let start = if lines.is_empty() {
            0
        } else {
            indent.chars().count()
        };
        let room = width - start;
        while word.len() > room {
            let part: String = word.drain(..room).collect();
            lines.push(if start == 0 && lines.is_empty() {
                part
            } else {
                format!("{indent}{part}")
            });
        }
        let lead = if lines.is_empty() { "" } else { indent };
        line = format!("{lead}{}", word.iter().collect::<String>());
        used = lead.chars().count() + word.len();
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_cuts_with_an_ellipsis_only_when_needed() {
        assert_eq!(fit("abcdef", 6), "abcdef");
        assert_eq!(fit("abcdefg", 6), "abcde…");
        assert_eq!(fit("abc", 0), "");
    }

    #[test]
    fn fit_middle_keeps_the_end_that_tells_slices_apart() {
        assert_eq!(fit_middle("└ onboarding-guide v4", 14), "└ onb…guide v4");
        assert_eq!(fit_middle("└ onboarding-guide", 14), "└ onb…ng-guide");
        assert_eq!(fit_middle("└ faq", 14), "└ faq");
        assert_eq!(fit_middle("abcdef", 2), "a…");
    }

    #[test]
    fn ages_read_naturally() {
        assert_eq!(age(Duration::seconds(12)), "12s");
        assert_eq!(age(Duration::seconds(252)), "4m12s");
        assert_eq!(age(Duration::minutes(65)), "1h05m");
    }

    #[test]
    fn wrap_indents_continuation_lines() {
        assert_eq!(
            wrap("   no model change in the 2h before onset", 20, "     "),
            vec!["no model change in", "     the 2h before", "     onset"]
        );
    }

    #[test]
    fn sparkline_puts_a_spike_at_the_top() {
        let values = [Some(0.04), Some(0.04), None, Some(0.22)];
        assert_eq!(sparkline(&values, Some(0.04), 4), "▂▂ █");
        assert_eq!(sparkline_rows(&values, Some(0.04), 4, 1), vec!["▂▂ █"]);
    }

    #[test]
    fn a_tall_sparkline_stacks_the_spike_and_keeps_zero_visible() {
        let values = [Some(0.0), Some(0.1), Some(0.2)];
        assert_eq!(sparkline_rows(&values, None, 3, 2), vec![" ▁█", "▁██"]);
    }

    #[test]
    fn urls_are_cut_to_host_and_port_and_the_rest_is_kept() {
        assert_eq!(
            elide_url_paths(
                "Unleash http://127.0.0.1:4242/api/admin/projects/default/features/x: connection \
                 failed: Connection refused"
            ),
            "Unleash 127.0.0.1:4242: connection failed: Connection refused"
        );
        assert_eq!(
            elide_url_paths("see https://flags.example.com for help"),
            "see flags.example.com for help"
        );
        assert_eq!(elide_url_paths("no url here"), "no url here");
    }

    #[test]
    fn words_wrap_to_the_width_and_a_long_word_is_cut() {
        assert_eq!(wrap("one two three", 7, ""), ["one two", "three"]);
        assert_eq!(wrap("abcdefghij xy", 4, ""), ["abcd", "efgh", "ij", "xy"]);
        assert_eq!(wrap("", 5, ""), [""]);
        assert_eq!(wrap("abcdefgh", 5, "  "), ["abcde", "  fgh"]);
        for line in wrap(
            "connection failed: Connection refused (os error 111)",
            10,
            "",
        ) {
            assert!(line.chars().count() <= 10, "{line}");
        }
    }
}
