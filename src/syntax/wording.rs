//! How a syntax error reads: what was expected, what was found, and what was probably meant.

use super::parse::{ITEM_EXPECTED, Rule};
use crate::diagnostic::{Diagnostic, Kind};
use crate::policy_files::{FileId, Span};

pub(super) fn syntax_error(
    id: FileId,
    text: &str,
    at: usize,
    err: &pest::error::Error<Rule>,
) -> Diagnostic {
    let positives = match &err.variant {
        pest::error::ErrorVariant::ParsingError { positives, .. } => positives.clone(),
        pest::error::ErrorVariant::CustomError { .. } => Vec::new(),
    };
    let rest = &text[at..];
    let (found, len) = match found_token(rest) {
        Found::Token(found, len) => (found, len),
        Found::UnterminatedString(len) => {
            return Diagnostic::new(Kind::UnterminatedString, Span::new(id, at, at + len));
        }
    };
    Diagnostic::new(
        Kind::Syntax {
            expected: describe_expected(&positives),
            hint: hint(text, at, &positives),
            found,
        },
        Span::new(id, at, at + len),
    )
}

/// What the text at a syntax error probably meant, said as help: habits from other languages
/// (`=`, `||`, `&&`), names written with `-`, dates written short.
fn hint(text: &str, at: usize, positives: &[Rule]) -> Option<String> {
    let rest = &text[at..];
    let before = &text[..at];
    if rest.starts_with('=') && !rest.starts_with("==") {
        return Some("did you mean `==`?".into());
    }
    if rest.starts_with("||") {
        return Some("write `or` for `||`".into());
    }
    if rest.starts_with("&&") {
        return Some("write `and` for `&&`".into());
    }
    if rest.starts_with('!') && !rest.starts_with("!=") {
        return Some("write `not` for `!`".into());
    }
    let word = |s: &str| {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .count()
    };
    let head = before.len()
        - before
            .chars()
            .rev()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .count();
    if let Some(after) = rest.strip_prefix('-')
        && head < at
        && word(after) > 0
    {
        let mut name = format!("{}_{}", &before[head..], &after[..word(after)]);
        // `round-robin-ish`: every part joined.
        let mut tail = &after[word(after)..];
        while let Some(more) = tail.strip_prefix('-').filter(|m| word(m) > 0) {
            name = format!("{name}_{}", &more[..word(more)]);
            tail = &more[word(more)..];
        }
        let known = crate::vocabulary::Strategy::from_name(&name).is_some();
        return Some(if known {
            format!("names are written with `_`: did you mean `{name}`?")
        } else {
            format!("names are written with `_`, not `-`: `{name}`")
        });
    }
    let is_number = rest.starts_with(|c: char| c.is_ascii_digit());
    if positives.contains(&Rule::date) && is_number {
        return Some("dates are `YYYY-MM-DD`, with two-digit months and days: `2026-01-26`".into());
    }
    None
}

/// What stands at a syntax error.
enum Found {
    /// A token, as the message names it, and its length.
    Token(String, usize),
    /// A string that never ends, and its length to the end of the line.
    UnterminatedString(usize),
}

/// How the token at the error position is named in the message, and its length.
fn found_token(rest: &str) -> Found {
    let Some(c) = rest.chars().next() else {
        return Found::Token("end of file".into(), 0);
    };
    if c == '\n' || c == '\r' {
        return Found::Token("end of line".into(), 0);
    }
    if c == '"' {
        let end = rest[1..].find(['"', '\n']).map(|i| i + 1);
        return match end {
            Some(e) if rest.as_bytes()[e] == b'"' => Found::Token("string".into(), e + 1),
            _ => Found::UnterminatedString(rest.find('\n').unwrap_or(rest.len())),
        };
    }
    let len = if c.is_alphanumeric() || c == '_' {
        rest.find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len())
    } else {
        c.len_utf8()
    };
    // Long tokens (a 1 MB line) are cut in the message; the span still covers them.
    let shown: String = rest[..len].chars().take(40).collect();
    let ellipsis = if shown.len() < len { "…" } else { "" };
    Found::Token(format!("`{shown}{ellipsis}`"), len)
}

fn describe_expected(positives: &[Rule]) -> Vec<String> {
    let item_start = [
        Rule::kw_when,
        Rule::kw_agent,
        Rule::kw_team,
        Rule::kw_otherwise,
    ];
    let value_start = [Rule::string, Rule::number, Rule::path];
    let mut out: Vec<String> = Vec::new();
    let mut push = |s: String| {
        if !out.contains(&s) {
            out.push(s);
        }
    };
    let items = item_start.iter().all(|r| positives.contains(r));
    let values = value_start.iter().all(|r| positives.contains(r));
    for rule in positives {
        let is_item_kw = matches!(
            rule,
            Rule::kw_policy
                | Rule::kw_timezone
                | Rule::kw_country
                | Rule::kw_enum
                | Rule::kw_source
                | Rule::kw_facts
                | Rule::kw_agent
                | Rule::kw_team
                | Rule::kw_map
                | Rule::kw_schedule
                | Rule::kw_rule
                | Rule::kw_when
                | Rule::kw_otherwise
                | Rule::end_of_file
        );
        if items && is_item_kw {
            push(ITEM_EXPECTED.into());
            continue;
        }
        let is_value = matches!(
            rule,
            Rule::string | Rule::number | Rule::kw_true | Rule::kw_false | Rule::path
        );
        if values && is_value {
            push("a value".into());
            continue;
        }
        push(rule_name(*rule));
    }
    out
}

fn rule_name(rule: Rule) -> String {
    let name = format!("{rule:?}");
    if let Some(kw) = name.strip_prefix("kw_") {
        return format!("`{kw}`");
    }
    match rule {
        Rule::ident | Rule::path => "a name".into(),
        Rule::string => "a string".into(),
        Rule::number => "a number".into(),
        Rule::duration => "a duration (`800ms`, `30s`, `5m`, `2h`)".into(),
        Rule::time => "a time (`09:00`)".into(),
        Rule::date => "a date (`2026-01-26`)".into(),
        Rule::compare_op => "a comparison (`==`, `!=`, `<`, `starts_with`, …)".into(),
        Rule::arrow => "`->`".into(),
        Rule::fat_arrow => "`=>`".into(),
        Rule::lbrace => "`{`".into(),
        Rule::rbrace => "`}`".into(),
        Rule::lbracket => "`[`".into(),
        Rule::rbracket => "`]`".into(),
        Rule::lparen => "`(`".into(),
        Rule::rparen => "`)`".into(),
        Rule::colon => "`:`".into(),
        Rule::comma => "`,`".into(),
        Rule::equals => "`=`".into(),
        Rule::dash => "`-`".into(),
        Rule::end_of_file | Rule::EOI => "end of file".into(),
        Rule::next_item => ITEM_EXPECTED.into(),
        Rule::filter_or => "`or`".into(),
        Rule::speaks => "`speaks`".into(),
        Rule::skill_test => "`skill`".into(),
        Rule::in_team => "`in team`".into(),
        Rule::rule_name => "`rule`".into(),
        Rule::source_key => "`key`".into(),
        Rule::source_timeout => "`timeout`".into(),
        Rule::source_cache => "`cache`".into(),
        Rule::source_header => "`header`".into(),
        Rule::source_query => "`query`".into(),
        Rule::agent_skills => "`skills`".into(),
        Rule::agent_languages => "`languages`".into(),
        Rule::agent_weight => "`weight`".into(),
        Rule::team_strategy => "`strategy`".into(),
        Rule::ring => "`ring`".into(),
        Rule::agents_using => "`using`".into(),
        Rule::queue_priority => "`priority`".into(),
        Rule::schedule_closed => "`closed`".into(),
        Rule::schedule_timezone => "`timezone`".into(),
        Rule::day_spec | Rule::schedule_window => "a day (`mon`, `mon-fri`)".into(),
        Rule::env_call => "`env(\"NAME\")`".into(),
        _ => name.replace('_', " "),
    }
}

pub(super) fn is_punctuation(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::arrow
            | Rule::fat_arrow
            | Rule::lbrace
            | Rule::rbrace
            | Rule::lbracket
            | Rule::rbracket
            | Rule::lparen
            | Rule::rparen
            | Rule::colon
            | Rule::comma
            | Rule::equals
            | Rule::dash
    )
}
