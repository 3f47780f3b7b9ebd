//! The line being typed, with a cursor.

/// Longest text the input line takes, in characters (the daemon refuses
/// texts over its own byte limit and says so).
pub const MAX_INPUT_CHARS: usize = 16_384;

/// An editable line of text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InputLine {
    chars: Vec<char>,
    /// Cursor position, in characters from the start.
    cursor: usize,
}

impl InputLine {
    /// The text typed so far.
    pub fn text(&self) -> String {
        self.chars.iter().collect()
    }

    /// The cursor position in characters.
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// Whether nothing is typed.
    pub fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }

    /// Inserts `c` at the cursor (control characters are ignored).
    pub fn insert(&mut self, c: char) {
        if c.is_control() || self.chars.len() >= MAX_INPUT_CHARS {
            return;
        }
        self.chars.insert(self.cursor, c);
        self.cursor += 1;
    }

    /// Deletes the character before the cursor.
    pub fn backspace(&mut self) {
        if self.cursor > 0 {
            self.cursor -= 1;
            self.chars.remove(self.cursor);
        }
    }

    /// Deletes the character under the cursor.
    pub fn delete(&mut self) {
        if self.cursor < self.chars.len() {
            self.chars.remove(self.cursor);
        }
    }

    /// Moves the cursor one character left.
    pub fn left(&mut self) {
        self.cursor = self.cursor.saturating_sub(1);
    }

    /// Moves the cursor one character right.
    pub fn right(&mut self) {
        self.cursor = (self.cursor + 1).min(self.chars.len());
    }

    /// Moves the cursor to the start.
    pub fn home(&mut self) {
        self.cursor = 0;
    }

    /// Moves the cursor to the end.
    pub fn end(&mut self) {
        self.cursor = self.chars.len();
    }

    /// Deletes from the cursor back to the start of the word before it.
    pub fn delete_word(&mut self) {
        let mut start = self.cursor;
        while start > 0 && self.chars[start - 1] == ' ' {
            start -= 1;
        }
        while start > 0 && self.chars[start - 1] != ' ' {
            start -= 1;
        }
        self.chars.drain(start..self.cursor);
        self.cursor = start;
    }

    /// Takes the text out, leaving the line empty.
    pub fn take(&mut self) -> String {
        self.cursor = 0;
        std::mem::take(&mut self.chars).into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_at_the_cursor() {
        let mut l = InputLine::default();
        for c in "helo".chars() {
            l.insert(c);
        }
        l.left();
        l.insert('l');
        assert_eq!((l.text().as_str(), l.cursor()), ("hello", 4));
        l.home();
        l.delete();
        l.end();
        l.backspace();
        assert_eq!(l.text(), "ell");
        l.insert('\u{1b}');
        assert_eq!(l.text(), "ell");
        for c in " new  word".chars() {
            l.insert(c);
        }
        l.delete_word();
        assert_eq!(l.text(), "ell new  ");
        assert_eq!(l.take(), "ell new  ");
        assert!(l.is_empty() && l.cursor() == 0);
        l.backspace();
        l.left();
        l.delete();
        assert!(l.is_empty());
    }
}
