//! What the terminal allows: its width, and whether colour is welcome.

use std::io::IsTerminal;

/// Width used when nothing says otherwise: a pipe, a file, a CI log.
pub const DEFAULT_WIDTH: usize = 80;
/// Below this, columns cannot fit at all; narrower terminals wrap as they would anyway.
const MIN_WIDTH: usize = 40;

/// The width to lay tables out for. A terminal on stdout tells its own size (so a resized
/// window is honoured); otherwise `COLUMNS`, which a shell or a test may set; otherwise 80.
pub fn width() -> usize {
    let w = (std::io::stdout().is_terminal())
        .then(|| terminal_size::terminal_size_of(std::io::stdout()))
        .flatten()
        .map(|(w, _)| usize::from(w.0))
        .or_else(|| std::env::var("COLUMNS").ok()?.trim().parse().ok())
        .unwrap_or(DEFAULT_WIDTH);
    w.max(MIN_WIDTH)
}

/// Prints a message on stderr; at a terminal it is wrapped to the terminal's width (continuation
/// lines indented), in a pipe or log it stays one line so it can be grepped.
pub fn eprint_wrapped(text: &str) {
    let width = (std::io::stderr().is_terminal())
        .then(|| terminal_size::terminal_size_of(std::io::stderr()))
        .flatten()
        .map(|(w, _)| usize::from(w.0).max(MIN_WIDTH));
    match width {
        Some(w) => eprint!("{}", indented(text, w, 0, 4)),
        None => eprintln!("{text}"),
    }
}

/// Colour only for a person at a terminal: never in a pipe or file, never with `NO_COLOR` set
/// to anything non-empty (<https://no-color.org>), never on a `dumb` terminal.
pub fn colour() -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
    !no_color && !dumb && std::io::stdout().is_terminal()
}

/// How a piece of text is shown on a colour terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Style {
    /// As is.
    #[default]
    Plain,
    /// Bold red: exploited, critical.
    Alarm,
    /// Yellow: important.
    Warn,
    /// Bold: names and headings.
    Bold,
    /// Dim: secondary detail.
    Dim,
}

impl Style {
    /// `text` wrapped in this style's escape codes, or as is when `on` is false.
    pub fn paint(self, text: &str, on: bool) -> String {
        let code = match self {
            _ if !on || text.is_empty() => return text.to_owned(),
            Style::Plain => return text.to_owned(),
            Style::Alarm => "1;31",
            Style::Warn => "33",
            Style::Bold => "1",
            Style::Dim => "2",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }
}

/// Splits `text` into lines of at most `width` characters at spaces; a word longer than a line
/// is cut, so no line is ever wider than asked.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let mut word: Vec<char> = word.chars().collect();
        while word.len() > width {
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            lines.push(word.drain(..width).collect());
        }
        let len = line.chars().count();
        if len > 0 && len + 1 + word.len() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.extend(word);
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// `text` wrapped to `width` with every line after the first indented by `hang` spaces and the
/// first by `first`: warnings and summaries under a machine's heading.
pub fn indented(text: &str, width: usize, first: usize, hang: usize) -> String {
    let mut out = String::new();
    let body = width.saturating_sub(hang.max(first));
    for (i, l) in wrap(text, body).iter().enumerate() {
        let pad = if i == 0 { first } else { hang };
        out.extend(std::iter::repeat_n(' ', pad));
        out.push_str(l);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_never_exceeds_the_width() {
        let lines = wrap("a bb ccc dddddddddd e", 4);
        assert_eq!(lines, ["a bb", "ccc", "dddd", "dddd", "dd e"]);
        assert!(wrap(&"x ".repeat(500), 7).iter().all(|l| l.len() <= 7));
        assert_eq!(wrap("", 5), [""]);
    }

    #[test]
    fn no_paint_without_colour() {
        assert_eq!(Style::Alarm.paint("3", false), "3");
        assert_eq!(Style::Alarm.paint("3", true), "\x1b[1;31m3\x1b[0m");
    }
}
