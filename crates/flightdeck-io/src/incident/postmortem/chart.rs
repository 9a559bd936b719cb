//! One metric over an incident as an inline SVG for the HTML postmortem: no script, no fonts or
//! images to fetch, a fixed viewBox that scales to the page and prints, and text output that is
//! the same for the same chart (golden tests snapshot it).

use chrono::{DateTime, Utc};

use super::page::escape;

/// How a metric's values read on the y axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Fractions, shown as percentages: 0.12 reads "12%".
    Percent,
    Milliseconds,
}

impl Unit {
    fn label(self, value: f64) -> String {
        match self {
            Unit::Percent => format!("{}%", trimmed(value * 100.0)),
            Unit::Milliseconds => format!("{} ms", trimmed(value)),
        }
    }

    /// The top of the y axis when no value or band is above zero, so the zero line still sits
    /// on a readable scale.
    fn empty_max(self) -> f64 {
        match self {
            Unit::Percent => 0.1,
            Unit::Milliseconds => 100.0,
        }
    }
}

/// The metric's normal range before the incident, drawn as a shaded band.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Band {
    pub low: f64,
    pub high: f64,
}

/// What happened at a marker's moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkerKind {
    Change,
    Detected,
    Mitigation,
    Resolved,
}

impl MarkerKind {
    fn word(self) -> &'static str {
        match self {
            MarkerKind::Change => "change",
            MarkerKind::Detected => "detected",
            MarkerKind::Mitigation => "mitigation",
            MarkerKind::Resolved => "resolved",
        }
    }

    /// A dash pattern of its own per kind: the kinds differ in black-and-white print and for
    /// readers who cannot tell the colours apart.
    fn dash(self) -> &'static str {
        match self {
            MarkerKind::Change => "6 3",
            MarkerKind::Detected => "8 3 2 3",
            MarkerKind::Mitigation => "12 3",
            MarkerKind::Resolved => "8 3 2 3 2 3",
        }
    }

    fn colour(self) -> &'static str {
        match self {
            MarkerKind::Change => "#6a3d9a",
            MarkerKind::Detected => "#d95f02",
            MarkerKind::Mitigation => "#1b7e8e",
            MarkerKind::Resolved => "#2e7d32",
        }
    }
}

/// A moment on the chart: a vertical dashed line labelled with its kind and `label`.
#[derive(Debug, Clone, PartialEq)]
pub struct Marker {
    pub at: DateTime<Utc>,
    pub kind: MarkerKind,
    pub label: String,
}

/// One metric over the incident.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    pub title: String,
    pub unit: Unit,
    /// One per minute; `None` (or a value that is not finite) is a minute without data, drawn as
    /// a gap. Negative values are drawn at zero: the y axis starts there.
    pub points: Vec<(DateTime<Utc>, Option<f64>)>,
    pub baseline: Option<Band>,
    /// Markers outside the points' time range are dropped, not clamped: a line at the edge
    /// would claim a time that is wrong. Callers widen the points to show them.
    pub markers: Vec<Marker>,
    /// The impact window, lightly shaded; the part outside the points' time range is cut off.
    pub window: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 240.0;
/// The plot area; the rest holds the title, legend, marker labels and axis labels.
const LEFT: f64 = 56.0;
const RIGHT: f64 = 704.0;
const TOP: f64 = 70.0;
const BOTTOM: f64 = 200.0;
/// Baselines of the marker label rows above the plot, nearest the plot first.
const LABEL_ROWS: [f64; 3] = [62.0, 50.0, 38.0];
/// A generous average glyph width of a generic sans-serif at font-size 10, for laying out
/// labels without measuring text.
const CHAR_WIDTH: f64 = 6.6;
/// Longer marker labels are cut, so one label cannot push the others off the chart.
const LABEL_CHARS: usize = 32;
/// At most this many x axis labels, so `HH:MM` labels never touch.
const MAX_TICKS: i64 = 8;
/// Tick steps in minutes that read naturally on a clock.
const TICK_MINUTES: [i64; 12] = [1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440];
const LINE_COLOUR: &str = "#1a4f8b";
const BAND_FILL: &str = "fill=\"#5aa05a\" fill-opacity=\"0.2\"";
const WINDOW_FILL: &str = "fill=\"#e06666\" fill-opacity=\"0.15\"";

/// The chart as a standalone `<svg>` element, ready to inline in an HTML page. Points are drawn
/// in time order, whatever order they come in.
pub fn svg(chart: &Chart) -> String {
    let mut points: Vec<(DateTime<Utc>, Option<f64>)> = chart
        .points
        .iter()
        .map(|&(at, value)| (at, value.filter(|v| v.is_finite())))
        .collect();
    points.sort_by_key(|&(at, _)| at);
    let times = TimeScale::spanning(&points);
    let values = ValueScale::fitting(highest(chart, &points));
    let title = escape(&chart.title);

    // Inline in an HTML page, whose parser gives the element its namespace: no xmlns URL.
    let mut out = format!(
        "<svg viewBox=\"0 0 {WIDTH} {HEIGHT}\" width=\"100%\" \
         role=\"img\" aria-label=\"{title}\" font-family=\"sans-serif\" font-size=\"10\">\n\
         <title>{title}</title>\n\
         <text x=\"8\" y=\"18\" font-size=\"13\" font-weight=\"bold\" fill=\"#222\">{title}</text>\n"
    );
    out.push_str(&legend(chart));
    if let (Some(times), Some((start, end))) = (&times, chart.window) {
        out.push_str(&window(times, start.min(end), start.max(end)));
    }
    if let Some(band) = chart.baseline {
        out.push_str(&baseline(&values, band));
    }
    out.push_str(&y_axis(&values, chart.unit));
    if let Some(times) = &times {
        out.push_str(&x_axis(times));
        out.push_str(&markers(times, &chart.markers));
    }
    out.push_str(&format!(
        "<path d=\"M{l} {t}V{b}H{r}\" fill=\"none\" stroke=\"#333\"/>\n",
        l = n(LEFT),
        t = n(TOP),
        b = n(BOTTOM),
        r = n(RIGHT)
    ));
    match &times {
        Some(times) if points.iter().any(|(_, v)| v.is_some()) => {
            out.push_str(&line(times, &values, &points))
        }
        _ => out.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"13\" fill=\"#666\">no data</text>\n",
            n((LEFT + RIGHT) / 2.0),
            n((TOP + BOTTOM) / 2.0)
        )),
    }
    out.push_str("</svg>\n");
    out
}

/// The largest thing the y axis must show: a value or the baseline band's top.
fn highest(chart: &Chart, points: &[(DateTime<Utc>, Option<f64>)]) -> f64 {
    let band = chart
        .baseline
        .iter()
        .flat_map(|band| [band.low, band.high])
        .filter(|v| v.is_finite());
    let max = points
        .iter()
        .filter_map(|&(_, v)| v)
        .chain(band)
        .fold(0.0, f64::max);
    if max > 0.0 {
        max
    } else {
        chart.unit.empty_max()
    }
}

/// Maps times to x across the plot; a single instant sits in the middle.
struct TimeScale {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

impl TimeScale {
    fn spanning(points: &[(DateTime<Utc>, Option<f64>)]) -> Option<Self> {
        Some(Self {
            start: points.first()?.0,
            end: points.last()?.0,
        })
    }

    fn contains(&self, at: DateTime<Utc>) -> bool {
        self.start <= at && at <= self.end
    }

    fn x(&self, at: DateTime<Utc>) -> f64 {
        let span = (self.end - self.start).num_milliseconds();
        if span == 0 {
            return (LEFT + RIGHT) / 2.0;
        }
        let offset = (at - self.start).num_milliseconds();
        LEFT + offset as f64 / span as f64 * (RIGHT - LEFT)
    }

    /// Tick times at round multiples of a clock-friendly step, at most `MAX_TICKS` intervals.
    fn ticks(&self) -> Vec<DateTime<Utc>> {
        let span_minutes = (self.end - self.start).num_minutes();
        if span_minutes == 0 {
            return vec![self.start];
        }
        let step_minutes = TICK_MINUTES
            .into_iter()
            .find(|step| span_minutes / step <= MAX_TICKS)
            .unwrap_or_else(|| 1440 * (span_minutes / (MAX_TICKS * 1440) + 1));
        let step = step_minutes * 60;
        let (start, end) = (self.start.timestamp(), self.end.timestamp());
        let first = (start + step - 1).div_euclid(step) * step;
        (0..)
            .map(|i| first + i * step)
            .take_while(|&at| at <= end)
            .filter_map(|at| DateTime::from_timestamp(at, 0))
            .collect()
    }
}

/// The y axis from zero to a round top at or above the highest value, in 3 or 4 equal steps.
#[derive(Debug)]
struct ValueScale {
    step: f64,
    intervals: u32,
}

impl ValueScale {
    fn fitting(max: f64) -> Self {
        let raw = max / 4.0;
        let magnitude = 10f64.powf(raw.log10().floor());
        let step = [1.0, 2.0, 2.5, 5.0]
            .into_iter()
            .map(|m| m * magnitude)
            .find(|step| *step >= raw * (1.0 - 1e-9))
            .unwrap_or(10.0 * magnitude);
        // The tolerance keeps float noise (0.2 / 0.05 = 4.000…01) from adding an empty step.
        let intervals = (max / step * (1.0 - 1e-9)).ceil().max(1.0) as u32;
        Self { step, intervals }
    }

    fn top(&self) -> f64 {
        self.step * f64::from(self.intervals)
    }

    fn y(&self, value: f64) -> f64 {
        BOTTOM - value.clamp(0.0, self.top()) / self.top() * (BOTTOM - TOP)
    }
}

/// Legend words on the title row, right-aligned: only for the shadings the chart has.
fn legend(chart: &Chart) -> String {
    let items = [
        chart.baseline.map(|_| ("baseline", BAND_FILL)),
        chart.window.map(|_| ("impact window", WINDOW_FILL)),
    ];
    let mut out = String::new();
    let mut right = RIGHT;
    for (word, fill) in items.into_iter().flatten().rev() {
        let text_x = right - text_width(word);
        let swatch_x = text_x - 14.0;
        out.push_str(&format!(
            "<rect x=\"{}\" y=\"9\" width=\"10\" height=\"10\" {fill} stroke=\"#999\"/>\
             <text x=\"{}\" y=\"18\" fill=\"#333\">{word}</text>\n",
            n(swatch_x),
            n(text_x)
        ));
        right = swatch_x - 12.0;
    }
    out
}

fn window(times: &TimeScale, start: DateTime<Utc>, end: DateTime<Utc>) -> String {
    if end < times.start || start > times.end {
        return String::new();
    }
    let left = times.x(start.max(times.start));
    let right = times.x(end.min(times.end));
    format!(
        "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" {WINDOW_FILL}/>\n",
        n(left),
        n(TOP),
        n(right - left),
        n(BOTTOM - TOP)
    )
}

fn baseline(values: &ValueScale, band: Band) -> String {
    let (low, high) = (band.low.min(band.high), band.low.max(band.high));
    if !(low.is_finite() && high.is_finite()) {
        return String::new();
    }
    let (top, bottom) = (values.y(high), values.y(low));
    format!(
        "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" {BAND_FILL}/>\n",
        n(LEFT),
        n(top),
        n(RIGHT - LEFT),
        n(bottom - top)
    )
}

fn y_axis(values: &ValueScale, unit: Unit) -> String {
    let mut out = String::new();
    for i in 0..=values.intervals {
        let value = values.step * f64::from(i);
        let y = n(values.y(value));
        out.push_str(&format!(
            "<line x1=\"{}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" stroke=\"#ddd\"/>\
             <text x=\"{}\" y=\"{y}\" dy=\"3.5\" text-anchor=\"end\" fill=\"#333\">{}</text>\n",
            n(LEFT),
            n(RIGHT),
            n(LEFT - 6.0),
            escape(&unit.label(value))
        ));
    }
    out
}

/// `HH:MM` at each tick and the date once, at the left, so every label stays short.
fn x_axis(times: &TimeScale) -> String {
    let mut out = String::new();
    for tick in times.ticks() {
        let x = n(times.x(tick));
        out.push_str(&format!(
            "<line x1=\"{x}\" y1=\"{b}\" x2=\"{x}\" y2=\"{}\" stroke=\"#333\"/>\
             <text x=\"{x}\" y=\"214\" text-anchor=\"middle\" fill=\"#333\">{}</text>\n",
            n(BOTTOM + 4.0),
            tick.format("%H:%M"),
            b = n(BOTTOM)
        ));
    }
    let (first, last) = (times.start.date_naive(), times.end.date_naive());
    let dates = if first == last {
        first.to_string()
    } else {
        format!("{first} – {last}")
    };
    out.push_str(&format!(
        "<text x=\"{}\" y=\"232\" fill=\"#555\">UTC {dates}</text>\n",
        n(LEFT)
    ));
    out
}

/// One polyline per run of minutes with data, so a gap shows as a break; a run of one minute is
/// a dot, since a one-point polyline draws nothing.
fn line(times: &TimeScale, values: &ValueScale, points: &[(DateTime<Utc>, Option<f64>)]) -> String {
    let mut out = String::new();
    for run in points.split(|(_, value)| value.is_none()) {
        let coords: Vec<(String, String)> = run
            .iter()
            .filter_map(|&(at, value)| Some((n(times.x(at)), n(values.y(value?)))))
            .collect();
        match coords.as_slice() {
            [] => {}
            [(x, y)] => out.push_str(&format!(
                "<circle cx=\"{x}\" cy=\"{y}\" r=\"2.5\" fill=\"{LINE_COLOUR}\"/>\n"
            )),
            _ => {
                let joined: Vec<String> = coords.iter().map(|(x, y)| format!("{x},{y}")).collect();
                out.push_str(&format!(
                    "<polyline points=\"{}\" fill=\"none\" stroke=\"{LINE_COLOUR}\" \
                     stroke-width=\"2\" stroke-linejoin=\"round\"/>\n",
                    joined.join(" ")
                ));
            }
        }
    }
    out
}

/// A marker's label placed in one of the rows above the plot.
struct Placed<'a> {
    marker: &'a Marker,
    x: f64,
    row: usize,
    text: String,
    /// Where the label's text runs, left to right.
    span: (f64, f64),
    /// Set near the right edge, where the label reads leftwards from its line.
    anchor_end: bool,
}

/// Labels closer than this count as touching.
const LABEL_GAP: f64 = 6.0;

/// Each label goes in the lowest row where it touches no other label and no other marker's line
/// crosses it (a line runs from its own label's row down to the axis). Placing from the right
/// makes the earlier of two close markers climb, so its line passes left of the later label
/// instead of through it. Failing that, a row without overlap that a line crosses (the halo keeps
/// the text readable), and failing that the least overlapped row.
fn place<'a>(times: &TimeScale, markers: &'a [Marker]) -> Vec<Placed<'a>> {
    let mut shown: Vec<&Marker> = markers.iter().filter(|m| times.contains(m.at)).collect();
    shown.sort_by_key(|m| m.at);
    let mut placed: Vec<Placed> = Vec::with_capacity(shown.len());
    for marker in shown.into_iter().rev() {
        let x = times.x(marker.at);
        let text = label_text(marker);
        let width = text_width(&text);
        let anchor_end = x + 3.0 + width > WIDTH - 2.0;
        let (start, end) = if anchor_end {
            (x - 3.0 - width, x - 3.0)
        } else {
            (x + 3.0, x + 3.0 + width)
        };
        let overlap = |row: usize| -> f64 {
            placed
                .iter()
                .filter(|p| p.row == row)
                .map(|p| (end.min(p.span.1) - start.max(p.span.0) + LABEL_GAP).max(0.0))
                .sum()
        };
        let crossed = |row: usize| {
            placed.iter().any(|p| {
                (p.row < row && p.span.0 <= x && x <= p.span.1)
                    || (p.row > row && start <= p.x && p.x <= end)
            })
        };
        let rows = 0..LABEL_ROWS.len();
        let row = rows
            .clone()
            .find(|&row| overlap(row) == 0.0 && !crossed(row))
            .or_else(|| rows.clone().find(|&row| overlap(row) == 0.0))
            .or_else(|| rows.min_by(|&a, &b| overlap(a).total_cmp(&overlap(b))))
            .unwrap_or(0);
        placed.push(Placed {
            marker,
            x,
            row,
            text,
            span: (start, end),
            anchor_end,
        });
    }
    placed.reverse();
    placed
}

/// The kind's word first, so a marker reads right without its colour or dash pattern.
fn label_text(marker: &Marker) -> String {
    let text = if marker.label.trim().is_empty() {
        marker.kind.word().to_string()
    } else {
        format!("{}: {}", marker.kind.word(), marker.label.trim())
    };
    if text.chars().count() <= LABEL_CHARS {
        return text;
    }
    let mut cut: String = text.chars().take(LABEL_CHARS - 1).collect();
    cut.push('…');
    cut
}

/// Dashed lines from each label's row down to the axis. Labels have a white halo so a line
/// from a higher row that crosses one stays behind it.
fn markers(times: &TimeScale, markers: &[Marker]) -> String {
    let mut out = String::new();
    for placed in place(times, markers) {
        let kind = placed.marker.kind;
        let baseline = LABEL_ROWS[placed.row];
        let x = n(placed.x);
        let (text_x, anchor) = if placed.anchor_end {
            (placed.span.1, "end")
        } else {
            (placed.span.0, "start")
        };
        out.push_str(&format!(
            "<line x1=\"{x}\" y1=\"{}\" x2=\"{x}\" y2=\"{}\" stroke=\"{c}\" stroke-width=\"1.5\" \
             stroke-dasharray=\"{}\"/>\
             <text x=\"{}\" y=\"{}\" text-anchor=\"{anchor}\" fill=\"{c}\" stroke=\"#fff\" \
             stroke-width=\"3\" paint-order=\"stroke\">{}</text>\n",
            n(baseline - 8.0),
            n(BOTTOM),
            kind.dash(),
            n(text_x),
            n(baseline),
            escape(&placed.text),
            c = kind.colour()
        ));
    }
    out
}

fn text_width(text: &str) -> f64 {
    text.chars().count() as f64 * CHAR_WIDTH
}

/// Coordinates with one decimal: enough for a 720-wide drawing, and stable for snapshots.
fn n(value: f64) -> String {
    format!("{value:.1}")
}

/// An axis number with no trailing zeros: "2.5", "10", "0.25".
fn trimmed(value: f64) -> String {
    let text = format!("{value:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" { "0" } else { text }.to_string()
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    fn at(minute: i64) -> DateTime<Utc> {
        "2024-05-14T13:50:00Z".parse::<DateTime<Utc>>().unwrap() + Duration::minutes(minute)
    }

    fn chart(points: Vec<(DateTime<Utc>, Option<f64>)>) -> Chart {
        Chart {
            title: "Hallucination rate".into(),
            unit: Unit::Percent,
            points,
            baseline: None,
            markers: Vec::new(),
            window: None,
        }
    }

    fn minutes(values: &[Option<f64>]) -> Vec<(DateTime<Utc>, Option<f64>)> {
        values
            .iter()
            .enumerate()
            .map(|(i, &v)| (at(i as i64), v))
            .collect()
    }

    fn marker(minute: i64, kind: MarkerKind, label: &str) -> Marker {
        Marker {
            at: at(minute),
            kind,
            label: label.into(),
        }
    }

    /// The y of each marker label, by the label's text.
    fn label_rows(svg: &str) -> Vec<(String, String)> {
        svg.lines()
            .filter(|line| line.contains("paint-order"))
            .map(|line| {
                let y = line.split("<text").nth(1).unwrap();
                let y = y.split("y=\"").nth(1).unwrap().split('"').next().unwrap();
                let text = line.split('>').nth(2).unwrap().trim_end_matches("</text");
                (text.to_string(), y.to_string())
            })
            .collect()
    }

    /// A hallucination rate that climbs after a prompt change and falls after a rollback.
    fn realistic() -> Chart {
        let values: Vec<Option<f64>> = (0..60)
            .map(|minute| match minute {
                27 | 28 => None,
                0..12 => Some(0.04 + f64::from(minute % 3) * 0.004),
                12..40 => Some(0.05 + f64::from(minute - 12) * 0.0045),
                _ => Some((0.176 - f64::from(minute - 40) * 0.008).max(0.045)),
            })
            .collect();
        Chart {
            title: "Hallucination rate".into(),
            unit: Unit::Percent,
            points: minutes(&values),
            baseline: Some(Band {
                low: 0.035,
                high: 0.055,
            }),
            markers: vec![
                marker(11, MarkerKind::Change, "prompt v42"),
                marker(12, MarkerKind::Change, "flag on"),
                marker(19, MarkerKind::Detected, "grounding < 0.7"),
                marker(40, MarkerKind::Mitigation, "rollback to v41"),
                marker(58, MarkerKind::Resolved, ""),
            ],
            window: Some((at(12), at(52))),
        }
    }

    #[test]
    fn a_realistic_chart() {
        insta::assert_snapshot!(svg(&realistic()));
    }

    #[test]
    fn text_and_attributes_are_escaped() {
        let mut chart = chart(minutes(&[Some(0.1), Some(0.2)]));
        chart.title = "p99 <fast> & \"ok\"".into();
        chart.markers = vec![marker(1, MarkerKind::Change, "<&\">")];
        let svg = svg(&chart);
        assert!(svg.contains("aria-label=\"p99 &lt;fast&gt; &amp; &quot;ok&quot;\""));
        assert!(svg.contains("<title>p99 &lt;fast&gt; &amp; &quot;ok&quot;</title>"));
        assert!(svg.contains(">change: &lt;&amp;&quot;&gt;</text>"));
        assert!(!svg.contains("<fast>") && !svg.contains("<&"));
    }

    #[test]
    fn gaps_split_the_line() {
        let svg = svg(&chart(minutes(&[
            Some(0.1),
            Some(0.2),
            None,
            Some(0.3),
            Some(0.2),
            None,
            Some(0.1),
        ])));
        assert_eq!(svg.matches("<polyline").count(), 2);
        // The run of one minute after the last gap is a dot.
        assert_eq!(svg.matches("<circle").count(), 1);
        assert!(!svg.contains("no data"));
    }

    #[test]
    fn not_finite_values_are_gaps() {
        let svg = svg(&chart(minutes(&[
            Some(0.1),
            Some(0.2),
            Some(f64::NAN),
            Some(0.3),
            Some(f64::INFINITY),
        ])));
        assert_eq!(svg.matches("<polyline").count(), 1);
        assert_eq!(svg.matches("<circle").count(), 1);
    }

    #[test]
    fn the_baseline_band_is_drawn_and_named() {
        let mut chart = chart(minutes(&[Some(0.02), Some(0.03)]));
        chart.baseline = Some(Band {
            low: 0.05,
            high: 0.1,
        });
        let svg = svg(&chart);
        // The band's top sets the scale: 0 to 10%, so the band fills the upper half.
        assert!(svg.contains(">10%</text>"));
        assert!(svg.contains(&format!(
            "<rect x=\"56.0\" y=\"70.0\" width=\"648.0\" height=\"65.0\" {BAND_FILL}/>"
        )));
        assert!(svg.contains(">baseline</text>"));
        assert!(!svg.contains("impact window"));
    }

    #[test]
    fn markers_have_labels_and_dash_patterns_of_their_kind() {
        let mut chart = chart(minutes(&[Some(0.1); 30]));
        chart.markers = vec![
            marker(2, MarkerKind::Change, "prompt v42"),
            marker(10, MarkerKind::Detected, ""),
            marker(20, MarkerKind::Mitigation, "rollback"),
            marker(29, MarkerKind::Resolved, ""),
        ];
        let svg = svg(&chart);
        for (text, kind) in [
            ("change: prompt v42", MarkerKind::Change),
            ("detected", MarkerKind::Detected),
            ("mitigation: rollback", MarkerKind::Mitigation),
            ("resolved", MarkerKind::Resolved),
        ] {
            let line = svg
                .lines()
                .find(|line| line.contains(&format!(">{text}</text>")))
                .unwrap_or_else(|| panic!("no label {text}"));
            assert!(line.contains(&format!("stroke-dasharray=\"{}\"", kind.dash())));
        }
    }

    #[test]
    fn close_markers_climb_leftwards_and_far_ones_share_the_bottom_row() {
        let mut chart = chart(minutes(&[Some(0.1); 60]));
        chart.markers = vec![
            marker(10, MarkerKind::Change, "prompt v42"),
            marker(11, MarkerKind::Change, "flag on"),
            marker(12, MarkerKind::Detected, ""),
            marker(40, MarkerKind::Mitigation, ""),
        ];
        let rows = label_rows(&svg(&chart));
        let y = |text: &str| rows.iter().find(|(t, _)| t == text).unwrap().1.clone();
        assert_eq!(y("detected"), "62.0");
        assert_eq!(y("change: flag on"), "50.0");
        assert_eq!(y("change: prompt v42"), "38.0");
        assert_eq!(y("mitigation"), "62.0");
    }

    #[test]
    fn marker_labels_neither_overlap_nor_sit_under_a_line() {
        let chart = realistic();
        let times = TimeScale::spanning(&chart.points).unwrap();
        let placed = place(&times, &chart.markers);
        assert_eq!(placed.len(), 5);
        for a in &placed {
            for b in placed.iter().filter(|b| !std::ptr::eq(*b, a)) {
                if a.row == b.row {
                    assert!(
                        a.span.1 < b.span.0 || b.span.1 < a.span.0,
                        "{} / {}",
                        a.text,
                        b.text
                    );
                }
                if a.row < b.row {
                    assert!(
                        !(a.span.0..=a.span.1).contains(&b.x),
                        "{} / {}",
                        a.text,
                        b.text
                    );
                }
            }
        }
    }

    #[test]
    fn a_label_at_the_right_edge_reads_leftwards() {
        let mut chart = chart(minutes(&[Some(0.1); 30]));
        chart.markers = vec![marker(29, MarkerKind::Resolved, "all clear")];
        assert!(svg(&chart).contains("text-anchor=\"end\" fill=\"#2e7d32\""));
    }

    #[test]
    fn markers_outside_the_points_are_dropped() {
        let mut chart = chart(minutes(&[Some(0.1); 10]));
        chart.markers = vec![
            marker(-1, MarkerKind::Change, "before"),
            marker(5, MarkerKind::Detected, "inside"),
            marker(11, MarkerKind::Resolved, "after"),
        ];
        let svg = svg(&chart);
        assert!(svg.contains("detected: inside"));
        assert!(!svg.contains("before") && !svg.contains("after"));
    }

    #[test]
    fn the_impact_window_is_cut_to_the_points() {
        let mut chart = chart(minutes(&[Some(0.1); 11]));
        chart.window = Some((at(5), at(20)));
        let svg = svg(&chart);
        assert!(svg.contains(&format!(
            "<rect x=\"380.0\" y=\"70.0\" width=\"324.0\" height=\"130.0\" {WINDOW_FILL}/>"
        )));
        assert!(svg.contains(">impact window</text>"));
    }

    #[test]
    fn an_empty_chart_says_no_data() {
        let mut empty = chart(Vec::new());
        empty.markers = vec![marker(0, MarkerKind::Change, "x")];
        empty.window = Some((at(0), at(1)));
        let drawn = svg(&empty);
        assert!(drawn.contains(">no data</text>"));
        assert!(drawn.contains(">10%</text>"));
        assert!(!drawn.contains("<polyline") && !drawn.contains("change: x"));

        let drawn = svg(&chart(minutes(&[None, None, None])));
        assert!(drawn.contains(">no data</text>"));
        assert!(drawn.contains(">13:50</text>"));
    }

    #[test]
    fn one_point_is_a_dot_in_the_middle() {
        let svg = svg(&chart(minutes(&[Some(0.05)])));
        assert!(svg.contains("<circle cx=\"380.0\""));
        assert!(svg.contains(">13:50</text>"));
        assert!(svg.contains(">UTC 2024-05-14</text>"));
    }

    #[test]
    fn all_zeros_sit_on_the_default_scale() {
        let mut zeros = chart(minutes(&[Some(0.0); 5]));
        zeros.baseline = Some(Band {
            low: 0.0,
            high: 0.0,
        });
        let drawn = svg(&zeros);
        assert!(drawn.contains(">0%</text>") && drawn.contains(">10%</text>"));
        assert!(drawn.contains("56.0,200.0"));
        zeros.unit = Unit::Milliseconds;
        assert!(svg(&zeros).contains(">100 ms</text>"));
    }

    #[test]
    fn the_y_axis_tops_out_at_a_round_number() {
        let top = |max: f64| {
            let scale = ValueScale::fitting(max);
            (trimmed(scale.top()), scale.intervals)
        };
        assert_eq!(top(0.137), ("0.15".into(), 3));
        assert_eq!(top(0.2), ("0.2".into(), 4));
        assert_eq!(top(0.09), ("0.1".into(), 4));
        assert_eq!(top(1234.0), ("1500".into(), 3));
        assert_eq!(top(7.0), ("8".into(), 4));
        assert_eq!(top(0.0004), ("0".into(), 4));
        assert_eq!(Unit::Percent.label(0.075), "7.5%");
        assert_eq!(Unit::Milliseconds.label(1500.0), "1500 ms");
    }

    #[test]
    fn time_labels_are_round_and_the_date_spans_midnight() {
        let start = "2024-05-14T23:23:00Z".parse::<DateTime<Utc>>().unwrap();
        let points = (0..90)
            .map(|m| (start + Duration::minutes(m), Some(0.1)))
            .collect();
        let svg = svg(&chart(points));
        for label in ["23:30", "23:50", "00:00", "00:50"] {
            assert!(svg.contains(&format!(">{label}</text>")), "{label}");
        }
        assert!(!svg.contains(">23:23</text>"));
        assert!(svg.contains(">UTC 2024-05-14 – 2024-05-15</text>"));
    }
}
