//! One line of text typed in the dialog. dialoguer's `Input` ignores
//! Escape, answers Enter on an empty field without a default with silence,
//! and after a refused answer shows the default again instead of what was
//! typed; this prompt does what the dialog needs instead, drawn with the
//! same theme:
//!
//! - Escape returns [`Typed::Back`] (the dialog goes back one question);
//! - a refused answer stays in the field, under the reason, for correction;
//! - Enter on an empty field without a default says why an answer is needed;
//! - editing: characters, Backspace, Delete, Left, Right, Home, End, Ctrl-U.
//!
//! The rows it occupies are kept in [`super::DRAWN`], so that Ctrl-C can
//! clear them.

use std::io;

use anyhow::Context;
use dialoguer::{
    console::{Key, Term, measure_text_width},
    theme::Theme,
};

/// What the user did at a line prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Typed {
    /// An answer the check accepted.
    Text(String),
    /// Escape: back to the question before.
    Back,
}

/// A question answered with one line of text.
pub struct Line<'a> {
    pub prompt: &'a str,
    /// Shown in parentheses; Enter on an empty field takes it.
    pub default: Option<String>,
    /// What the field holds when the question opens.
    pub initial: String,
    /// Said when Enter finds the field empty and there is no default:
    /// why the question needs an answer.
    pub required: String,
}

/// The screen side of a line prompt: where the cursor is in what was drawn.
struct Screen<'t> {
    term: &'t Term,
    /// Rows of earlier refusals drawn above the prompt.
    above: usize,
    /// The cursor's row within the prompt (it may wrap).
    row: usize,
}

impl Screen<'_> {
    fn columns(&self) -> usize {
        match self.term.size().1 as usize {
            0 => 80,
            columns => columns,
        }
    }

    /// Clears the prompt (and with `all` the refusals above it), leaving
    /// the cursor where the prompt started.
    fn clear(&mut self, all: bool) -> io::Result<()> {
        let up = self.row + if all { self.above } else { 0 };
        self.term.move_cursor_up(up)?;
        self.term.write_str("\r")?;
        self.term.clear_to_end_of_screen()?;
        self.row = 0;
        if all {
            self.above = 0;
        }
        super::DRAWN.store(self.above, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }

    /// Draws the prompt and the field, with the cursor at `position`.
    fn draw(&mut self, head: &str, chars: &[char], position: usize) -> io::Result<()> {
        self.clear(false)?;
        let text: String = chars.iter().collect();
        self.term.write_str(head)?;
        self.term.write_str(&text)?;
        let columns = self.columns();
        let head_width = measure_text_width(head);
        let end = head_width + measure_text_width(&text);
        // At a multiple of the width the cursor waits at the end of the row.
        let end_row = end.saturating_sub(1) / columns;
        self.row = end_row;
        if position < chars.len() {
            let before: String = chars[..position].iter().collect();
            let at = head_width + measure_text_width(&before);
            let row = at / columns;
            self.term.move_cursor_up(end_row - row)?;
            self.term.write_str("\r")?;
            self.term.move_cursor_right(at % columns)?;
            self.row = row;
        }
        self.term.flush()?;
        super::DRAWN.store(self.above + self.row, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }

    /// Writes `message` (a refusal) where the prompt was; the prompt is
    /// drawn again below it.
    fn refusal(&mut self, message: &str) -> io::Result<()> {
        // The previous refusal goes: one reason at a time.
        self.clear(true)?;
        let columns = self.columns();
        for line in message.split('\n') {
            self.term.write_line(line)?;
            self.above += measure_text_width(line).max(1).div_ceil(columns);
        }
        Ok(())
    }
}

/// Asks `line`; `check` refuses an answer with the reason to show.
pub fn read(
    term: &Term,
    theme: &dyn Theme,
    line: &Line<'_>,
    check: &dyn Fn(&str) -> Result<(), String>,
) -> anyhow::Result<Typed> {
    let mut head = String::new();
    theme
        .format_input_prompt(&mut head, line.prompt, line.default.as_deref())
        .context("cannot draw the prompt")?;
    let mut chars: Vec<char> = line.initial.chars().collect();
    let mut position = chars.len();
    let mut screen = Screen {
        term,
        above: 0,
        row: 0,
    };
    loop {
        screen.draw(&head, &chars, position)?;
        let key = match term.read_key() {
            Ok(key) => key,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => super::interrupted(),
            Err(err) => {
                return Err(
                    anyhow::Error::new(err).context("the dialog could not read the terminal")
                );
            }
        };
        match key {
            Key::Escape => {
                screen.clear(true)?;
                return Ok(Typed::Back);
            }
            Key::Enter => {
                let typed: String = chars.iter().collect();
                let answer = match (typed.trim().is_empty(), &line.default) {
                    (false, _) => Ok(typed),
                    (true, Some(default)) => Ok(default.clone()),
                    (true, None) => Err(line.required.clone()),
                };
                match answer.and_then(|answer| check(&answer).map(|()| answer)) {
                    Ok(answer) => {
                        screen.clear(true)?;
                        let mut done = String::new();
                        theme
                            .format_input_prompt_selection(&mut done, line.prompt, &answer)
                            .context("cannot draw the answer")?;
                        term.write_line(&done)?;
                        return Ok(Typed::Text(answer));
                    }
                    Err(reason) => {
                        let mut refusal = String::new();
                        theme
                            .format_error(&mut refusal, &reason)
                            .context("cannot draw the refusal")?;
                        screen.refusal(&refusal)?;
                    }
                }
            }
            Key::Backspace if position > 0 => {
                position -= 1;
                chars.remove(position);
            }
            Key::Del if position < chars.len() => {
                chars.remove(position);
            }
            Key::ArrowLeft if position > 0 => position -= 1,
            Key::ArrowRight if position < chars.len() => position += 1,
            Key::Home => position = 0,
            Key::End => position = chars.len(),
            // Ctrl-U empties the field.
            Key::Char('\u{15}') => {
                chars.clear();
                position = 0;
            }
            Key::Char(c) if !c.is_control() => {
                chars.insert(position, c);
                position += 1;
            }
            _ => {}
        }
    }
}
