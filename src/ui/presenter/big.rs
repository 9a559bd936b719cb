//! Large type for the presenter view: a three-row digit font, and sparklines several rows tall.

/// Rows of each large glyph, top first; every row of a glyph has the same width.
fn glyph(c: char) -> Option<[&'static str; 3]> {
    Some(match c {
        '0' => ["┏━┓", "┃ ┃", "┗━┛"],
        '1' => ["╺┓ ", " ┃ ", "╺┻╸"],
        '2' => ["╺━┓", "┏━┛", "┗━╸"],
        '3' => ["╺━┓", " ━┫", "╺━┛"],
        '4' => ["╻ ╻", "┗━┫", "  ╹"],
        '5' => ["┏━╸", "┗━┓", "╺━┛"],
        '6' => ["┏━╸", "┣━┓", "┗━┛"],
        '7' => ["╺━┓", "  ┃", "  ╹"],
        '8' => ["┏━┓", "┣━┫", "┗━┛"],
        '9' => ["┏━┓", "┗━┫", "╺━┛"],
        '.' => [" ", " ", "▪"],
        '-' | '—' => ["   ", "╺━╸", "   "],
        '+' => ["   ", "╺╋╸", "   "],
        _ => return None,
    })
}

/// `text` in three rows: digits, the point and signs large, anything else (units such as `%`,
/// `s`, `m`) small on the bottom row, a space from the large glyphs around it: "15.2 %".
pub fn text(text: &str) -> [String; 3] {
    let mut rows: [String; 3] = Default::default();
    let mut small_before = false;
    for c in text.chars() {
        match glyph(c) {
            Some(glyph) => {
                if small_before {
                    rows.iter_mut().for_each(|row| row.push(' '));
                }
                for (row, part) in rows.iter_mut().zip(glyph) {
                    row.push_str(part);
                    row.push(' ');
                }
                small_before = false;
            }
            None => {
                rows[0].push(' ');
                rows[1].push(' ');
                rows[2].push(c);
                small_before = true;
            }
        }
    }
    let width = rows.iter().map(|r| r.trim_end().chars().count()).max();
    rows.map(|row| {
        row.chars()
            .chain(std::iter::repeat(' '))
            .take(width.unwrap_or(0))
            .collect()
    })
}

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// A sparkline `rows` tall of the last `width` values, top row first, scaled like the cockpit's
/// one-row sparkline (zero to the largest of the values and twice the baseline); every value
/// shows at least the lowest bar, so zero is told apart from no data.
pub fn sparkline(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_are_large_and_units_small_on_the_bottom_row() {
        assert_eq!(
            text("15.2%"),
            [
                "╺┓  ┏━╸   ╺━┓  ".to_string(),
                " ┃  ┗━┓   ┏━┛  ".to_string(),
                "╺┻╸ ╺━┛ ▪ ┗━╸ %".to_string(),
            ]
        );
    }

    #[test]
    fn every_row_has_the_same_width() {
        for value in ["100.0%", "1.91s", "27/m", "—", "1h05m", "+11"] {
            let rows = text(value);
            let widths: Vec<usize> = rows.iter().map(|r| r.chars().count()).collect();
            assert!(widths.iter().all(|w| *w == widths[0]), "{value}: {rows:?}");
        }
    }

    #[test]
    fn a_one_row_sparkline_matches_the_cockpits() {
        let values = [Some(0.04), Some(0.04), None, Some(0.22)];
        assert_eq!(
            sparkline(&values, Some(0.04), 4, 1),
            vec![crate::ui::format::sparkline(&values, Some(0.04), 4)]
        );
    }

    #[test]
    fn a_tall_sparkline_stacks_the_spike_and_keeps_zero_visible() {
        let values = [Some(0.0), Some(0.1), Some(0.2)];
        assert_eq!(sparkline(&values, None, 3, 2), vec![" ▁█", "▁██"]);
    }
}
