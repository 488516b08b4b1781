//! Parses `.route` source text (pest) into the syntax tree, reporting syntax errors as diagnostics.

use std::cell::RefCell;

use pest::Parser as _;

use super::ast::*;
use super::tree::Builder;
use super::wording::syntax_error;
use crate::diagnostic::{Diagnostic, Diagnostics, Kind};
use crate::policy_files::{FileId, SourceFile, SourceFiles, Span};

#[derive(pest_derive::Parser)]
#[grammar = "../grammar/route.pest"]
pub(super) struct RouteParser;

/// Deepest nesting of brackets and `not`s accepted; deeper input would exhaust the stack.
pub const MAX_NESTING: usize = 64;
/// Keywords that start a top-level item; a line that starts with one is where parsing resumes
/// after a syntax error.
pub const ITEM_KEYWORDS: [&str; 13] = [
    "policy",
    "timezone",
    "country",
    "enum",
    "source",
    "facts",
    "agent",
    "team",
    "map",
    "schedule",
    "rule",
    "when",
    "otherwise",
];

pub(super) const ITEM_EXPECTED: &str =
    "a declaration or a rule (`agent`, `team`, `rule`, `when`, `otherwise`, …)";

/// Parses every file of a policy. Items of all files come in file order.
pub fn parse(files: &SourceFiles) -> (Policy, Diagnostics) {
    let mut policy = Policy::default();
    let mut diagnostics = Diagnostics::default();
    for id in files.ids() {
        parse_file(id, files.get(id), &mut policy.items, &mut diagnostics);
    }
    (policy, diagnostics)
}

fn parse_file(id: FileId, file: &SourceFile, items: &mut Vec<Item>, diags: &mut Diagnostics) {
    if unparsable(id, file, diags) {
        return;
    }
    // Most files parse: one pass over the whole file is much cheaper than a parse per item.
    match parse_whole(id, &file.text) {
        Some(whole) => {
            items.extend(whole.items.into_iter().map(|p| p.item));
            for e in whole.errors {
                diags.push(e);
            }
        }
        None => items.extend(recover(id, &file.text, diags).into_iter().map(|p| p.item)),
    }
}

/// A file's items from one pass of the parser, and the errors found while building them.
pub(super) struct Whole {
    pub items: Vec<Parsed>,
    pub errors: Vec<Diagnostic>,
}

/// Reports a file the parser must not be given (not UTF-8, or nested too deep); whether it was.
pub(super) fn unparsable(id: FileId, file: &SourceFile, diags: &mut Diagnostics) -> bool {
    if let Some(offset) = file.invalid_utf8_at {
        // The text is a lossy copy: the bad byte became U+FFFD, which the span covers.
        let end = offset + char::REPLACEMENT_CHARACTER.len_utf8();
        diags.push(Diagnostic::new(
            Kind::InvalidUtf8 { offset },
            Span::new(id, offset, end),
        ));
        return true;
    }
    let text: &str = &file.text;
    if let Some(at) = too_deep(text) {
        let end = text[at..].chars().next().map_or(at, |c| at + c.len_utf8());
        diags.push(Diagnostic::new(
            Kind::TooDeep { limit: MAX_NESTING },
            Span::new(id, at, end),
        ));
        return true;
    }
    false
}

/// The whole file in one pass, if it parses.
pub(super) fn parse_whole(id: FileId, text: &str) -> Option<Whole> {
    let mut pairs = RouteParser::parse(Rule::file, text).ok()?;
    let builder = Builder {
        file: id,
        base: 0,
        errors: RefCell::new(Vec::new()),
    };
    let file = pairs.next().expect("grammar: file");
    let mut items = Vec::new();
    for pair in file.into_inner() {
        if pair.as_rule() != Rule::EOI {
            let (start, end) = (pair.as_span().start(), pair.as_span().end());
            let item = builder.item(pair);
            items.push(Parsed { item, start, end });
        }
    }
    Some(Whole {
        items,
        errors: builder.errors.into_inner(),
    })
}

/// One item as parsed: where it starts and where it ends (where the parser looks for the next).
pub(super) struct Parsed {
    pub item: Item,
    pub start: usize,
    pub end: usize,
}

/// Parsing a file one item at a time, so that one bad item does not hide the errors of the
/// items after it: where it has got to.
pub(super) struct Recovery<'t> {
    pub id: FileId,
    pub text: &'t str,
    pub offset: usize,
    /// Whether the last item was a rule: an error next may be a target chain gone wrong.
    pub after_rule: bool,
    pub done: bool,
}

impl Recovery<'_> {
    /// Parses the next item; or reports the error there and moves on to the next line that
    /// starts an item.
    pub fn step(&mut self, diags: &mut Diagnostics) -> Option<Parsed> {
        if self.done || self.offset > self.text.len() {
            self.done = true;
            return None;
        }
        let (id, text, offset) = (self.id, self.text, self.offset);
        match RouteParser::parse(Rule::next_item, &text[offset..]) {
            Ok(mut pairs) => {
                let next = pairs.next().and_then(|p| p.into_inner().next());
                let Some(next) = next.filter(|n| n.as_rule() != Rule::end_of_file) else {
                    self.done = true;
                    return None;
                };
                let (start, end) = (
                    offset + next.as_span().start(),
                    offset + next.as_span().end(),
                );
                let builder = Builder {
                    file: id,
                    base: offset,
                    errors: RefCell::new(Vec::new()),
                };
                let item = builder.item(next);
                for e in builder.errors.into_inner() {
                    diags.push(e);
                }
                self.after_rule = matches!(item, Item::Rule(_) | Item::Otherwise(_));
                self.done = end == offset;
                self.offset = end;
                Some(Parsed { item, start, end })
            }
            Err(err) => {
                let at = offset + error_position(&err);
                let mut diag = syntax_error(id, text, at, &err);
                if let Kind::Syntax { expected, .. } = &mut diag.kind
                    && self.after_rule
                    && expected.as_slice() == [ITEM_EXPECTED]
                {
                    *expected = vec![format!("`or` and a target, or {ITEM_EXPECTED}")];
                }
                diags.push(diag);
                self.after_rule = false;
                match resume_point(text, at) {
                    Some(next) => self.offset = next,
                    None => self.done = true,
                }
                None
            }
        }
    }
}

/// Parses a file that does not parse whole one item at a time.
pub(super) fn recover(id: FileId, text: &str, diags: &mut Diagnostics) -> Vec<Parsed> {
    let mut recovery = Recovery {
        id,
        text,
        offset: 0,
        after_rule: false,
        done: false,
    };
    let mut items = Vec::new();
    while !recovery.done {
        if let Some(parsed) = recovery.step(diags) {
            items.push(parsed);
        }
    }
    items
}

fn error_position(err: &pest::error::Error<Rule>) -> usize {
    match err.location {
        pest::error::InputLocation::Pos(p) => p,
        pest::error::InputLocation::Span((s, _)) => s,
    }
}

/// The start of the first line after `at` that begins (in column one) with an item keyword.
fn resume_point(text: &str, at: usize) -> Option<usize> {
    let mut line_start = text[at..].find('\n').map(|i| at + i + 1)?;
    loop {
        let line = &text[line_start..];
        let word_end = line
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(line.len());
        if ITEM_KEYWORDS.contains(&&line[..word_end]) {
            return Some(line_start);
        }
        line_start += line.find('\n')? + 1;
    }
}

/// The offset where brackets and `not`s nest deeper than [`MAX_NESTING`], if they do.
fn too_deep(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut nots = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                nots = 0;
            }
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => {
                depth = depth.saturating_sub(1);
                nots = 0;
            }
            b if b.is_ascii_alphanumeric() || b == b'_' => {
                let start = i;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                if &bytes[start..i] == b"not" {
                    nots += 1;
                } else {
                    nots = 0;
                }
                if depth + nots > MAX_NESTING {
                    return Some(start);
                }
                continue;
            }
            b if b.is_ascii_whitespace() => {}
            _ => nots = 0,
        }
        if depth + nots > MAX_NESTING {
            return Some(i);
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_language_example() {
        let text = std::fs::read_to_string("tests/fixtures/language_example.route").unwrap();
        let files = SourceFiles::single("support.route", text);
        let (policy, diags) = parse(&files);
        assert!(diags.errors.is_empty(), "{:#?}", diags.errors);
        assert_eq!(policy.items.len(), 29);
    }
}
