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
}
