//! Syntax: `.route` source text in, syntax tree (every node with its span) out.

pub mod ast;
mod parse;
mod tree;
mod wording;

pub use parse::{MAX_NESTING, parse};
