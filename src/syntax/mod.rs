//! Syntax: `.route` source text in, syntax tree (every node with its span) out.

pub mod ast;
mod parse;
pub mod reparse;
mod spans;
mod tree;
mod wording;

pub use parse::{ITEM_KEYWORDS, MAX_NESTING, parse};
