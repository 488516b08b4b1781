//! Parses `.route` source text (pest) into the syntax tree, reporting syntax errors as diagnostics.

use std::cell::RefCell;
use std::sync::LazyLock;

use pest::Parser as _;
use pest::iterators::Pair;
use pest::pratt_parser::{Assoc, Op, PrattParser};

use super::ast::*;
use crate::diagnostic::{Diagnostic, Diagnostics, Kind};
use crate::policy_files::{FileId, SourceFile, SourceFiles, Span};

#[derive(pest_derive::Parser)]
#[grammar = "../grammar/route.pest"]
struct RouteParser;

/// Deepest nesting of brackets and `not`s accepted; deeper input would exhaust the stack.
pub const MAX_NESTING: usize = 64;

static CONDITION_PRATT: LazyLock<PrattParser<Rule>> = LazyLock::new(|| {
    PrattParser::new()
        .op(Op::infix(Rule::kw_or, Assoc::Left))
        .op(Op::infix(Rule::kw_and, Assoc::Left))
        .op(Op::prefix(Rule::kw_not))
});

static FILTER_PRATT: LazyLock<PrattParser<Rule>> = LazyLock::new(|| {
    PrattParser::new()
        .op(Op::infix(Rule::filter_or, Assoc::Left))
        .op(Op::infix(Rule::kw_and, Assoc::Left))
        .op(Op::prefix(Rule::kw_not))
});

/// Keywords that start a top-level item; a line that starts with one is where parsing resumes
/// after a syntax error.
const ITEM_KEYWORDS: [&str; 13] = [
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

const ITEM_EXPECTED: &str =
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
    if let Some(offset) = file.invalid_utf8_at {
        // The text is a lossy copy: the bad byte became U+FFFD, which the span covers.
        let end = offset + char::REPLACEMENT_CHARACTER.len_utf8();
        diags.push(Diagnostic::new(
            Kind::InvalidUtf8 { offset },
            Span::new(id, offset, end),
        ));
        return;
    }
    let text: &str = &file.text;
    if let Some(at) = too_deep(text) {
        let end = text[at..].chars().next().map_or(at, |c| at + c.len_utf8());
        diags.push(Diagnostic::new(
            Kind::TooDeep { limit: MAX_NESTING },
            Span::new(id, at, end),
        ));
        return;
    }
    // Most files parse: one pass over the whole file is much cheaper than a parse per item.
    if let Ok(mut pairs) = RouteParser::parse(Rule::file, text) {
        let builder = Builder {
            file: id,
            base: 0,
            errors: RefCell::new(Vec::new()),
        };
        let file = pairs.next().expect("grammar: file");
        for pair in file.into_inner() {
            if pair.as_rule() != Rule::EOI {
                items.push(builder.item(pair));
            }
        }
        for e in builder.errors.into_inner() {
            diags.push(e);
        }
        return;
    }
    let mut offset = 0;
    // After a rule, an error at the start of the next item may be a target chain gone wrong.
    let mut after_rule = false;
    while offset <= text.len() {
        match RouteParser::parse(Rule::next_item, &text[offset..]) {
            Ok(mut pairs) => {
                let Some(next) = pairs.next().and_then(|p| p.into_inner().next()) else {
                    break;
                };
                if next.as_rule() == Rule::end_of_file {
                    break;
                }
                let end = offset + next.as_span().end();
                let builder = Builder {
                    file: id,
                    base: offset,
                    errors: RefCell::new(Vec::new()),
                };
                let item = builder.item(next);
                for e in builder.errors.into_inner() {
                    diags.push(e);
                }
                after_rule = matches!(item, Item::Rule(_) | Item::Otherwise(_));
                items.push(item);
                if end == offset {
                    break;
                }
                offset = end;
            }
            Err(err) => {
                let at = offset + error_position(&err);
                let mut diag = syntax_error(id, text, at, &err);
                if let Kind::Syntax { expected, .. } = &mut diag.kind
                    && after_rule
                    && expected.as_slice() == [ITEM_EXPECTED]
                {
                    *expected = vec![format!("`or` and a target, or {ITEM_EXPECTED}")];
                }
                diags.push(diag);
                after_rule = false;
                match resume_point(text, at) {
                    Some(next) => offset = next,
                    None => break,
                }
            }
        }
    }
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

fn syntax_error(id: FileId, text: &str, at: usize, err: &pest::error::Error<Rule>) -> Diagnostic {
    let positives = match &err.variant {
        pest::error::ErrorVariant::ParsingError { positives, .. } => positives.clone(),
        pest::error::ErrorVariant::CustomError { .. } => Vec::new(),
    };
    let rest = &text[at..];
    let (found, len) = found_token(rest);
    if found == "unterminated string" {
        return Diagnostic::new(Kind::UnterminatedString, Span::new(id, at, at + len));
    }
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

/// How the token at the error position is named in the message, and its length.
fn found_token(rest: &str) -> (String, usize) {
    let Some(c) = rest.chars().next() else {
        return ("end of file".into(), 0);
    };
    if c == '\n' || c == '\r' {
        return ("end of line".into(), 0);
    }
    if c == '"' {
        let end = rest[1..].find(['"', '\n']).map(|i| i + 1);
        return match end {
            Some(e) if rest.as_bytes()[e] == b'"' => ("string".into(), e + 1),
            _ => (
                "unterminated string".into(),
                rest.find('\n').unwrap_or(rest.len()),
            ),
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
    (format!("`{shown}{ellipsis}`"), len)
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

fn is_punctuation(rule: Rule) -> bool {
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

/// Turns the pairs of one item into syntax nodes with absolute spans.
struct Builder {
    file: FileId,
    /// Where the parsed slice starts in the file.
    base: usize,
    /// Errors found while building (unknown escapes); pest already accepted the input.
    errors: RefCell<Vec<Diagnostic>>,
}

type Pairs<'i> = std::iter::Filter<pest::iterators::Pairs<'i, Rule>, fn(&Pair<'i, Rule>) -> bool>;

fn not_punctuation(p: &Pair<'_, Rule>) -> bool {
    !is_punctuation(p.as_rule())
}

fn inner(pair: Pair<'_, Rule>) -> Pairs<'_> {
    pair.into_inner()
        .filter(not_punctuation as fn(&Pair<'_, Rule>) -> bool)
}

impl Builder {
    /// The pair's span, ending at its last token: pest counts the whitespace and comments
    /// after a repetition as part of the rule, which would underline them too.
    fn span(&self, pair: &Pair<'_, Rule>) -> Span {
        let start = pair.as_span().start();
        let mut node = pair.clone();
        // A string's last inner pair stops before its closing quote: strings end themselves.
        while node.as_rule() != Rule::string
            && let Some(last) = node.clone().into_inner().last()
        {
            node = last;
        }
        let end = node.as_span().end();
        Span::new(self.file, self.base + start, self.base + end)
    }

    fn ident(&self, pair: Pair<'_, Rule>) -> Ident {
        match pair.as_rule() {
            // A quoted name (a dotted facts field, a queue name with spaces) counts as a name.
            Rule::string => {
                let s = self.string(pair);
                Ident {
                    name: s.value,
                    span: s.span,
                }
            }
            _ => Ident {
                name: pair.as_str().to_string(),
                span: self.span(&pair),
            },
        }
    }

    fn string(&self, pair: Pair<'_, Rule>) -> Str {
        let span = self.span(&pair);
        let raw = pair.as_str();
        let raw = &raw[1..raw.len() - 1];
        let mut value = String::with_capacity(raw.len());
        let mut chars = raw.char_indices();
        while let Some((i, c)) = chars.next() {
            if c != '\\' {
                value.push(c);
                continue;
            }
            match chars.next() {
                Some((_, '"')) => value.push('"'),
                Some((_, '\\')) => value.push('\\'),
                Some((_, 'n')) => value.push('\n'),
                Some((_, 't')) => value.push('\t'),
                Some((j, other)) => {
                    let start = span.start as usize + 1 + i;
                    let end = span.start as usize + 1 + j + other.len_utf8();
                    self.errors.borrow_mut().push(Diagnostic::new(
                        Kind::UnknownEscape {
                            escape: format!("\\{other}"),
                        },
                        Span::new(self.file, start, end),
                    ));
                }
                None => {}
            }
        }
        Str { value, span }
    }

    fn num(&self, pair: Pair<'_, Rule>) -> Num {
        Num {
            text: pair.as_str().to_string(),
            span: self.span(&pair),
        }
    }

    fn item(&self, pair: Pair<'_, Rule>) -> Item {
        let span = self.span(&pair);
        match pair.as_rule() {
            Rule::policy_setting | Rule::timezone_setting | Rule::country_setting => {
                let kind = match pair.as_rule() {
                    Rule::policy_setting => SettingKind::Policy,
                    Rule::timezone_setting => SettingKind::Timezone,
                    _ => SettingKind::Country,
                };
                let value = self.string(inner(pair).nth(1).expect("grammar: setting value"));
                Item::Setting(Setting { kind, value, span })
            }
            Rule::enum_decl => {
                let mut it = inner(pair).skip(1);
                let name = self.ident(it.next().expect("grammar: enum name"));
                let variants = it.map(|p| self.ident(p)).collect();
                Item::Enum(EnumDecl {
                    name,
                    variants,
                    span,
                })
            }
            Rule::source_decl => Item::Source(self.source(pair, span)),
            Rule::facts_decl => {
                let mut it = inner(pair);
                it.next();
                let name = self.ident(it.next().expect("grammar: facts name"));
                it.next();
                let source = self.ident(it.next().expect("grammar: facts source"));
                let fields = it
                    .map(|field| {
                        let mut f = inner(field);
                        let name = self.ident(f.next().expect("grammar: field name"));
                        let ty = self.ident(f.next().expect("grammar: field type"));
                        FactField { name, ty }
                    })
                    .collect();
                Item::Facts(FactsDecl {
                    name,
                    source,
                    fields,
                    span,
                })
            }
            Rule::agent_decl => Item::Agent(self.agent(pair, span)),
            Rule::team_decl => Item::Team(self.team(pair, span)),
            Rule::map_decl => {
                let mut it = inner(pair).skip(1);
                let name = self.ident(it.next().expect("grammar: map name"));
                // skip `by prefix`
                let input = self.operand(it.nth(2).expect("grammar: map input"));
                let mut file = None;
                let entries = it
                    .filter(|p| {
                        if p.as_rule() == Rule::data_file {
                            file = inner(p.clone()).nth(1).map(|s| self.string(s));
                            return false;
                        }
                        true
                    })
                    .map(|entry| {
                        let mut e = inner(entry);
                        let prefix = self.string(e.next().expect("grammar: prefix"));
                        let value = self.string(e.next().expect("grammar: value"));
                        (prefix, value)
                    })
                    .collect();
                Item::Map(MapDecl {
                    name,
                    input,
                    entries,
                    file,
                    span,
                })
            }
            Rule::schedule_decl => Item::Schedule(self.schedule(pair, span)),
            Rule::rule_decl => {
                let mut name = None;
                let mut when_span = span;
                let mut condition = None;
                let mut targets = Vec::new();
                for p in inner(pair) {
                    match p.as_rule() {
                        Rule::rule_name => {
                            name = Some(self.ident(inner(p).nth(1).expect("grammar: rule name")))
                        }
                        Rule::kw_when => when_span = self.span(&p),
                        Rule::condition => condition = Some(self.condition(p)),
                        Rule::targets => targets = self.targets(p),
                        _ => {}
                    }
                }
                Item::Rule(RuleDecl {
                    name,
                    when_span,
                    condition: condition.expect("grammar: rule condition"),
                    targets,
                    span,
                })
            }
            Rule::otherwise_decl => {
                let targets = self.targets(inner(pair).nth(1).expect("grammar: targets"));
                Item::Otherwise(OtherwiseDecl { targets, span })
            }
            other => unreachable!("grammar: unexpected item {other:?}"),
        }
    }

    fn source(&self, pair: Pair<'_, Rule>, span: Span) -> SourceDecl {
        let mut it = inner(pair).skip(1);
        let name = self.ident(it.next().expect("grammar: source name"));
        let kind = self.ident(it.next().expect("grammar: source kind"));
        let location = self.string(it.next().expect("grammar: source location"));
        let mut settings = Vec::new();
        for p in it {
            match p.as_rule() {
                Rule::source_block => {
                    for s in inner(p) {
                        settings.push(self.source_setting(s));
                    }
                }
                _ => settings.push(self.source_setting(p)),
            }
        }
        SourceDecl {
            name,
            kind,
            location,
            settings,
            span,
        }
    }

    fn source_setting(&self, pair: Pair<'_, Rule>) -> SourceSetting {
        let span = self.span(&pair);
        let rule = pair.as_rule();
        let mut it = inner(pair).skip(1);
        let value = it.next().expect("grammar: setting value");
        match rule {
            Rule::source_key => {
                let key = self.ident(value);
                SourceSetting::Key(Str {
                    value: key.name,
                    span: key.span,
                })
            }
            Rule::source_timeout => SourceSetting::Timeout(Duration {
                text: value.as_str().into(),
                span: self.span(&value),
            }),
            Rule::source_cache => SourceSetting::Cache(Duration {
                text: value.as_str().into(),
                span: self.span(&value),
            }),
            Rule::source_query => SourceSetting::Query(self.string(value)),
            Rule::source_header => {
                let name = self.string(value);
                let v = it.next().expect("grammar: header value");
                let value = match v.as_rule() {
                    Rule::env_call => {
                        HeaderValue::Env(self.string(inner(v).nth(1).expect("grammar: env name")))
                    }
                    _ => HeaderValue::Literal(self.string(v)),
                };
                SourceSetting::Header { name, value, span }
            }
            other => unreachable!("grammar: unexpected source setting {other:?}"),
        }
    }

    fn agent(&self, pair: Pair<'_, Rule>, span: Span) -> AgentDecl {
        let mut it = inner(pair).skip(1);
        let name = self.ident(it.next().expect("grammar: agent name"));
        let number = self.string(it.next().expect("grammar: agent number"));
        let mut agent = AgentDecl {
            name,
            number,
            skills: None,
            languages: None,
            weight: None,
            repeated: Vec::new(),
            span,
        };
        for clause in it {
            let clause_span = self.span(&clause);
            let keyword;
            let was_set = match clause.as_rule() {
                Rule::agent_skills => {
                    keyword = "skills";
                    let skills = inner(clause)
                        .skip(1)
                        .map(|s| {
                            let mut s = inner(s);
                            let name = self.ident(s.next().expect("grammar: skill name"));
                            let level = s.next().map(|n| self.num(n));
                            Skill { name, level }
                        })
                        .collect();
                    agent.skills.replace(skills).is_some()
                }
                Rule::agent_languages => {
                    keyword = "languages";
                    let languages = inner(clause).skip(1).map(|l| self.ident(l)).collect();
                    agent.languages.replace(languages).is_some()
                }
                _ => {
                    keyword = "weight";
                    let weight = self.num(inner(clause).nth(1).expect("grammar: weight"));
                    agent.weight.replace(weight).is_some()
                }
            };
            if was_set {
                agent.repeated.push((keyword, clause_span));
            }
        }
        agent
    }

    fn team(&self, pair: Pair<'_, Rule>, span: Span) -> TeamDecl {
        let mut name = None;
        let mut members = Vec::new();
        let mut members_span: Option<Span> = None;
        let mut strategy = None;
        let mut ring = None;
        let mut repeated = Vec::new();
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::ident if name.is_none() => name = Some(self.ident(p)),
                Rule::ident => members.push(self.ident(p)),
                Rule::lbracket | Rule::rbracket => {
                    let s = self.span(&p);
                    members_span = Some(members_span.map_or(s, |m| m.to(s)));
                }
                Rule::team_strategy => {
                    let s = self.ident(inner(p).nth(1).expect("grammar: strategy"));
                    if let Some(old) = strategy.replace(s) {
                        repeated.push(("strategy", old.span));
                    }
                }
                Rule::ring => {
                    let n = self.num(inner(p).nth(1).expect("grammar: ring"));
                    if let Some(old) = ring.replace(n) {
                        repeated.push(("ring", old.span));
                    }
                }
                _ => {}
            }
        }
        TeamDecl {
            name: name.expect("grammar: team name"),
            members,
            members_span: members_span.unwrap_or(span),
            strategy,
            ring,
            repeated,
            span,
        }
    }

    fn schedule(&self, pair: Pair<'_, Rule>, span: Span) -> ScheduleDecl {
        let mut it = inner(pair).skip(1);
        let name = self.ident(it.next().expect("grammar: schedule name"));
        let lines = it
            .map(|line| {
                let line_span = self.span(&line);
                match line.as_rule() {
                    Rule::schedule_closed
                        if inner(line.clone()).nth(1).map(|p| p.as_rule())
                            == Some(Rule::data_file) =>
                    {
                        let file = inner(line).nth(1).expect("grammar: closed from");
                        ScheduleLine::ClosedFrom(
                            self.string(inner(file).nth(1).expect("grammar: file")),
                        )
                    }
                    Rule::schedule_closed => ScheduleLine::Closed(
                        inner(line)
                            .skip(1)
                            .map(|d| Date {
                                text: d.as_str().into(),
                                span: self.span(&d),
                            })
                            .collect(),
                    ),
                    Rule::schedule_timezone => ScheduleLine::Timezone(
                        self.string(inner(line).nth(1).expect("grammar: timezone")),
                    ),
                    _ => {
                        let mut days = Vec::new();
                        let mut times = Vec::new();
                        for p in inner(line) {
                            if p.as_rule() == Rule::day_spec {
                                let mut d = inner(p);
                                let first = self.ident(d.next().expect("grammar: day"));
                                let last = d.next().map(|l| self.ident(l));
                                days.push(DaySpec { first, last });
                            } else {
                                let span = self.span(&p);
                                let mut t = inner(p).map(|t| Time {
                                    text: t.as_str().into(),
                                    span: self.span(&t),
                                });
                                let start = t.next().expect("grammar: start time");
                                let end = t.next().expect("grammar: end time");
                                times.push(TimeRange { start, end, span });
                            }
                        }
                        ScheduleLine::Window {
                            days,
                            times,
                            span: line_span,
                        }
                    }
                }
            })
            .collect();
        ScheduleDecl { name, lines, span }
    }

    fn condition(&self, pair: Pair<'_, Rule>) -> Expr {
        CONDITION_PRATT
            .map_primary(|p| match p.as_rule() {
                Rule::condition => self.condition(p),
                _ => self.comparison(p),
            })
            .map_prefix(|op, e| {
                let span = self.span(&op).to(e.span());
                Expr::Not(Box::new(e), span)
            })
            .map_infix(|l, op, r| {
                let span = l.span().to(r.span());
                match (op.as_rule(), l) {
                    (Rule::kw_and, Expr::And(mut v, _)) => {
                        v.push(r);
                        Expr::And(v, span)
                    }
                    (Rule::kw_and, l) => Expr::And(vec![l, r], span),
                    (_, Expr::Or(mut v, _)) => {
                        v.push(r);
                        Expr::Or(v, span)
                    }
                    (_, l) => Expr::Or(vec![l, r], span),
                }
            })
            .parse(inner(pair))
    }

    fn comparison(&self, pair: Pair<'_, Rule>) -> Expr {
        let span = self.span(&pair);
        let mut it = inner(pair);
        let left = self.operand(it.next().expect("grammar: operand"));
        let Some(op) = it.next() else {
            return Expr::Value(left);
        };
        match op.as_rule() {
            Rule::kw_exists => Expr::Exists(left, span),
            Rule::kw_in => {
                let list = inner(it.next().expect("grammar: list"))
                    .map(|p| self.operand(p))
                    .collect();
                Expr::In { left, list, span }
            }
            _ => {
                let op_span = self.span(&op);
                let op = compare_op(op.as_str());
                let right = self.operand(it.next().expect("grammar: right operand"));
                Expr::Compare {
                    left,
                    op,
                    op_span,
                    right,
                    span,
                }
            }
        }
    }

    fn operand(&self, pair: Pair<'_, Rule>) -> Operand {
        match pair.as_rule() {
            Rule::string => Operand::Str(self.string(pair)),
            Rule::number => Operand::Num(self.num(pair)),
            Rule::kw_true => Operand::Bool(true, self.span(&pair)),
            Rule::kw_false => Operand::Bool(false, self.span(&pair)),
            _ => Operand::Path(self.path(pair)),
        }
    }

    fn path(&self, pair: Pair<'_, Rule>) -> Path {
        let span = self.span(&pair);
        let segments = pair.into_inner().map(|p| self.ident(p)).collect();
        Path { segments, span }
    }

    fn targets(&self, pair: Pair<'_, Rule>) -> Vec<Target> {
        inner(pair)
            .filter(|p| p.as_rule() != Rule::kw_or)
            .map(|p| self.target(p))
            .collect()
    }

    fn target(&self, pair: Pair<'_, Rule>) -> Target {
        let span = self.span(&pair);
        let rule = pair.as_rule();
        let mut it = inner(pair).skip(1);
        match rule {
            Rule::team_target => Target::Team(self.ident(it.next().expect("grammar: team")), span),
            Rule::agent_target => {
                Target::Agent(self.path(it.next().expect("grammar: agent")), span)
            }
            Rule::number_target => {
                Target::Number(self.string(it.next().expect("grammar: number")), span)
            }
            Rule::flow_target => {
                let label = self.ident(it.next().expect("grammar: flow"));
                Target::Flow(
                    Str {
                        value: label.name,
                        span: label.span,
                    },
                    span,
                )
            }
            Rule::queue_target => {
                let name = self.ident(it.next().expect("grammar: queue"));
                let priority = it
                    .next()
                    .map(|p| self.num(inner(p).nth(1).expect("grammar: n")));
                Target::Queue {
                    name,
                    priority,
                    span,
                }
            }
            Rule::agents_target => {
                // skip `where`
                it.next();
                let filter = self.filter(it.next().expect("grammar: filter"));
                let mut using = None;
                let mut ring = None;
                for p in it {
                    match p.as_rule() {
                        Rule::agents_using => {
                            using = Some(self.ident(inner(p).nth(1).expect("grammar: using")))
                        }
                        _ => ring = Some(self.num(inner(p).nth(1).expect("grammar: ring"))),
                    }
                }
                Target::Agents {
                    filter,
                    using,
                    ring,
                    span,
                }
            }
            other => unreachable!("grammar: unexpected target {other:?}"),
        }
    }

    fn filter(&self, pair: Pair<'_, Rule>) -> AgentFilter {
        FILTER_PRATT
            .map_primary(|p| {
                let span = self.span(&p);
                match p.as_rule() {
                    Rule::agent_filter => self.filter(p),
                    Rule::speaks => AgentFilter::Speaks(
                        self.operand(inner(p).nth(1).expect("grammar: speaks")),
                        span,
                    ),
                    Rule::in_team => AgentFilter::InTeam(
                        self.ident(inner(p).nth(2).expect("grammar: in team")),
                        span,
                    ),
                    _ => {
                        let mut it = inner(p).skip(1);
                        let skill = self.ident(it.next().expect("grammar: skill"));
                        let test = it.next().map(|op| {
                            let op_span = self.span(&op);
                            let level = self.num(it.next().expect("grammar: level"));
                            (compare_op(op.as_str()), op_span, level)
                        });
                        AgentFilter::Skill { skill, test, span }
                    }
                }
            })
            .map_prefix(|op, f| {
                let span = self.span(&op).to(f.span());
                AgentFilter::Not(Box::new(f), span)
            })
            .map_infix(|l, op, r| {
                let span = l.span().to(r.span());
                match (op.as_rule(), l) {
                    (Rule::kw_and, AgentFilter::And(mut v, _)) => {
                        v.push(r);
                        AgentFilter::And(v, span)
                    }
                    (Rule::kw_and, l) => AgentFilter::And(vec![l, r], span),
                    (_, AgentFilter::Or(mut v, _)) => {
                        v.push(r);
                        AgentFilter::Or(v, span)
                    }
                    (_, l) => AgentFilter::Or(vec![l, r], span),
                }
            })
            .parse(inner(pair))
    }
}

fn compare_op(text: &str) -> CompareOp {
    match text {
        "==" => CompareOp::Eq,
        "!=" => CompareOp::Ne,
        "<" => CompareOp::Lt,
        "<=" => CompareOp::Le,
        ">" => CompareOp::Gt,
        ">=" => CompareOp::Ge,
        "starts_with" => CompareOp::StartsWith,
        _ => CompareOp::Contains,
    }
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
