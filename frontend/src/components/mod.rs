//! The parts the pages are made of: the shell, lists, the session table and dialogs.

pub mod dialogs;
pub mod list;
pub mod session_table;
pub mod shell;
