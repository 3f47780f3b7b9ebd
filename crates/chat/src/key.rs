//! The keys the chat acts on, whatever terminal library read them.

/// A key press as the model understands it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// A printable character for the input line.
    Char(char),
    /// Send the input line.
    Enter,
    /// Delete before the cursor.
    Backspace,
    /// Delete under the cursor.
    Delete,
    /// Delete the word before the cursor.
    DeleteWord,
    /// Cursor left.
    Left,
    /// Cursor right.
    Right,
    /// Cursor to the start.
    Home,
    /// Cursor to the end.
    End,
    /// Show the next conversation.
    NextConversation,
    /// Show the previous conversation.
    PreviousConversation,
    /// Scroll the messages back.
    ScrollBack,
    /// Scroll the messages forward.
    ScrollForward,
    /// Leave the chat.
    Quit,
}
