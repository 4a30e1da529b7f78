//! A table laid out for a given width: numbers right-aligned, long text wrapped inside its cell,
//! and detail lines (CVE lists, reasons) below a row, wrapped too. Widths are measured on plain
//! text and colour is added afterwards, so escape codes never shift a column.

use super::term::{Style, wrap};

/// Space between columns.
const GAP: usize = 2;

/// One column: its title, how it is aligned, and whether it takes the width left over.
#[derive(Debug, Clone)]
pub struct Column {
    /// Heading.
    pub title: &'static str,
    /// Right-aligned (numbers).
    pub right: bool,
    /// Shares the width the fixed columns leave; its text wraps.
    pub flex: bool,
    /// A fixed column wraps its text beyond this width.
    pub max: Option<usize>,
}

impl Column {
    /// A column as wide as its widest cell.
    pub fn fixed(title: &'static str) -> Self {
        Self {
            title,
            right: false,
            flex: false,
            max: None,
        }
    }
    /// A right-aligned number column.
    pub fn number(title: &'static str) -> Self {
        Self {
            right: true,
            ..Self::fixed(title)
        }
    }
    /// A fixed column whose text wraps beyond `max` characters.
    pub fn capped(title: &'static str, max: usize) -> Self {
        Self {
            max: Some(max),
            ..Self::fixed(title)
        }
    }
    /// A column that wraps within the width left over.
    pub fn flex(title: &'static str) -> Self {
        Self {
            flex: true,
            ..Self::fixed(title)
        }
    }
}

/// Text and its style.
#[derive(Debug, Clone, Default)]
pub struct Cell {
    /// Plain text.
    pub text: String,
    /// Colour on a terminal.
    pub style: Style,
}

impl Cell {
    /// A cell in `style`.
    pub fn new(text: impl Into<String>, style: Style) -> Self {
        Self {
            text: text.into(),
            style,
        }
    }
}

impl From<String> for Cell {
    fn from(text: String) -> Self {
        Self::new(text, Style::Plain)
    }
}

#[derive(Debug)]
enum Row {
    Cells(Vec<Cell>),
    /// Tokens filled into lines below the row, after `indent` spaces; a token is never split
    /// unless it alone is wider than a line.
    Detail {
        indent: usize,
        tokens: Vec<Cell>,
    },
}

/// A table to render at a width.
#[derive(Debug)]
pub struct Grid {
    columns: Vec<Column>,
    rows: Vec<Row>,
}

impl Grid {
    /// A table with these columns.
    pub fn new(columns: Vec<Column>) -> Self {
        Self {
            columns,
            rows: Vec::new(),
        }
    }
    /// Adds a row, one cell per column.
    pub fn row(&mut self, cells: Vec<Cell>) {
        self.rows.push(Row::Cells(cells));
    }
    /// Adds lines below the last row, filled with `tokens`.
    pub fn detail(&mut self, indent: usize, tokens: Vec<Cell>) {
        self.rows.push(Row::Detail { indent, tokens });
    }

    /// The widths the non-flex columns need, gaps included: what is left is for flex columns.
    pub fn fixed_width(&self) -> usize {
        let natural = self.natural();
        (self.columns.iter().zip(&natural))
            .filter(|(c, _)| !c.flex)
            .map(|(_, w)| w + GAP)
            .sum()
    }

    fn natural(&self) -> Vec<usize> {
        let mut w: Vec<usize> = self.columns.iter().map(|c| c.title.len()).collect();
        for r in &self.rows {
            if let Row::Cells(cells) = r {
                for (i, c) in cells.iter().enumerate().take(w.len()) {
                    w[i] = w[i].max(c.text.chars().count());
                }
            }
        }
        for (w, c) in w.iter_mut().zip(&self.columns) {
            *w = (*w).min(c.max.unwrap_or(usize::MAX).max(c.title.len()));
        }
        w
    }

    /// Column widths for `width`: fixed columns as they need, flex columns share the rest, each
    /// at most its natural width, the narrow ones first so a short column gives up nothing.
    fn widths(&self, width: usize) -> Vec<usize> {
        let mut w = self.natural();
        let mut left = width.saturating_sub(self.fixed_width());
        let mut flex: Vec<usize> = (0..w.len()).filter(|&i| self.columns[i].flex).collect();
        flex.sort_by_key(|&i| w[i]);
        let gaps = flex.len().saturating_sub(1) * GAP;
        left = left.saturating_sub(gaps);
        for (n, &i) in flex.iter().enumerate() {
            let share = left / (flex.len() - n);
            w[i] = w[i].min(share).max(1);
            left = left.saturating_sub(w[i]);
        }
        w
    }

    /// The table as lines no wider than `width` (given the fixed columns fit), coloured when
    /// `colour`.
    pub fn render(&self, width: usize, colour: bool) -> String {
        let w = self.widths(width);
        let titles: Vec<Cell> = (self.columns.iter())
            .map(|c| Cell::new(c.title, Style::Bold))
            .collect();
        let mut out = self.render_cells(&titles, &w, colour);
        for r in &self.rows {
            match r {
                Row::Cells(cells) => out.push_str(&self.render_cells(cells, &w, colour)),
                Row::Detail { indent, tokens } => {
                    out.push_str(&fill(tokens, *indent, width, colour));
                }
            }
        }
        out
    }

    fn render_cells(&self, cells: &[Cell], w: &[usize], colour: bool) -> String {
        let wrapped: Vec<Vec<String>> = (0..w.len())
            .map(|i| {
                cells
                    .get(i)
                    .map_or(vec![String::new()], |c| wrap(&c.text, w[i]))
            })
            .collect();
        let height = wrapped.iter().map(Vec::len).max().unwrap_or(1);
        let mut out = String::new();
        for line in 0..height {
            let mut text = String::new();
            for (i, col) in self.columns.iter().enumerate() {
                let part = wrapped[i].get(line).map_or("", String::as_str);
                let pad = w[i] - part.chars().count().min(w[i]);
                let style = cells.get(i).map_or(Style::Plain, |c| c.style);
                let last = i + 1 == w.len();
                if col.right {
                    text.extend(std::iter::repeat_n(' ', pad));
                }
                text.push_str(&style.paint(part, colour));
                if !col.right && !last {
                    text.extend(std::iter::repeat_n(' ', pad));
                }
                if !last {
                    text.extend(std::iter::repeat_n(' ', GAP));
                }
            }
            out.push_str(text.trim_end());
            out.push('\n');
        }
        out
    }
}

/// Tokens filled into lines of at most `width` characters, each line after `indent` spaces.
pub fn fill(tokens: &[Cell], indent: usize, width: usize, colour: bool) -> String {
    let room = width.saturating_sub(indent).max(1);
    let mut out = String::new();
    let mut line = String::new();
    let mut len = 0;
    let mut flush = |line: &mut String, len: &mut usize| {
        if *len > 0 {
            out.extend(std::iter::repeat_n(' ', indent));
            out.push_str(line);
            out.push('\n');
        }
        line.clear();
        *len = 0;
    };
    for t in tokens {
        for piece in wrap(&t.text, room) {
            let n = piece.chars().count();
            if len > 0 && len + 1 + n > room {
                flush(&mut line, &mut len);
            }
            if len > 0 {
                line.push(' ');
                len += 1;
            }
            line.push_str(&t.style.paint(&piece, colour));
            len += n;
        }
    }
    flush(&mut line, &mut len);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid() -> Grid {
        let mut g = Grid::new(vec![
            Column::fixed("KB"),
            Column::number("CVES"),
            Column::flex("REASON"),
        ]);
        g.row(vec![
            "KB1".to_owned().into(),
            "12".to_owned().into(),
            "a reason long enough to wrap twice".to_owned().into(),
        ]);
        g
    }

    #[test]
    fn flex_columns_wrap_inside_the_width() {
        let out = grid().render(24, false);
        assert_eq!(
            out,
            "KB   CVES  REASON\nKB1    12  a reason long\n           enough to\n           wrap twice\n"
        );
        assert!(out.lines().all(|l| l.chars().count() <= 24));
    }

    #[test]
    fn details_fill_lines_with_whole_tokens() {
        let tokens: Vec<Cell> = (0..9).map(|i| format!("CVE-2025-000{i}").into()).collect();
        let out = fill(&tokens, 4, 40, false);
        assert!(out.lines().all(|l| l.len() <= 40), "{out}");
        assert_eq!(out.lines().count(), 5);
        assert!(out.starts_with("    CVE-2025-0000 CVE-2025-0001\n"));
    }

    #[test]
    fn colour_does_not_shift_columns() {
        let mut g = grid();
        g.row(vec![Cell::new("KB2", Style::Alarm), "3".to_owned().into()]);
        let plain = g.render(80, false);
        let painted = g
            .render(80, true)
            .replace("\x1b[1;31m", "")
            .replace("\x1b[1m", "");
        assert_eq!(painted.replace("\x1b[0m", ""), plain);
    }
}
