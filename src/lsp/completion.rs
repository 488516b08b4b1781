//! Completions at the cursor: what may be written there, from where the cursor is in its item
//! (the tokens before it) and the policy's declared names.

use serde_json::{Value, json};

use super::At;
use super::workspace::{Analysis, DeclKind};
use crate::syntax::ITEM_KEYWORDS;
use crate::syntax::ast::Item;

/// LSP completion item kinds.
const FIELD: u32 = 5;
const VARIABLE: u32 = 6;
const KEYWORD: u32 = 14;
const ENUM_MEMBER: u32 = 20;
const CONSTANT: u32 = 21;

/// What fits where the cursor is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// A line's start: an item keyword.
    Item,
    /// After `->` or `or` in a rule: a target.
    Target,
    /// Where a team is named.
    Team,
    /// Where an agent is named (a target `agent` also takes a fact of type agent).
    Agent,
    /// Within `team NAME [ … ]`: agents.
    Members,
    /// After `strategy` or `using`.
    Strategy,
    /// An operand of a condition: facts groups, `call`, `now`, maps and schedules.
    Operand,
    /// After an operand: a comparison or `and`/`or`.
    Operator,
    /// Within `agents where`: a filter.
    Filter,
    /// After a whole `agents where` filter: more of it, or the next target.
    AfterFilter,
    /// After a target: the next, with `or`.
    AfterTarget,
    /// After `rule NAME:`.
    When,
    /// After an agent's number: its clauses.
    AgentClause,
    /// After a team's members: its clauses.
    TeamClause,
    /// In a source's block.
    SourceSetting,
    /// A facts group's source.
    Source,
    /// A fact field's type.
    Type,
    /// In a schedule's block.
    ScheduleLine,
    /// After a keyword that this keyword must follow (`facts NAME` → `from`).
    Keyword(&'static str),
    /// A name being declared, a string, a number: nothing to offer.
    Nothing,
    /// Unknown: every keyword and name.
    Anything,
}

/// The completions at the cursor.
pub(super) fn complete(at: At) -> Value {
    let text: &str = &at.analysis.files.files[at.file].text;
    let before = &text[..at.offset.min(text.len())];
    let line = &before[before.rfind('\n').map_or(0, |i| i + 1)..];
    // Where the word being typed starts (after any character, however many bytes it takes).
    let partial_start = line
        .char_indices()
        .rev()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '_'))
        .map_or(0, |(i, c)| i + c.len_utf8());
    let head = &line[..partial_start];
    let analysis = &at.analysis;
    // `caller.` : the group's fields.
    if let Some(group) = head.strip_suffix('.') {
        let group = group
            .rsplit(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .next()
            .unwrap_or_default();
        return list(fields(analysis, group));
    }
    if let Some(variants) = enum_after_comparison(analysis, head) {
        return list(
            variants
                .iter()
                .map(|v| item(v, ENUM_MEMBER, "enum variant")),
        );
    }
    if head.trim_end().ends_with("timezone") {
        let zones = jiff::tz::db().available();
        return list(zones.map(|z| item(&format!("\"{}\"", z.as_str()), CONSTANT, "time zone")));
    }
    let upto = before.len() - line.len() + partial_start;
    list(offers(analysis, place(&before[..upto])))
}

fn item(label: &str, kind: u32, detail: &str) -> Value {
    json!({"label": label, "kind": kind, "detail": detail})
}

fn list(items: impl IntoIterator<Item = Value>) -> Value {
    json!({"isIncomplete": false, "items": items.into_iter().collect::<Vec<_>>()})
}

fn keywords<'a>(words: &'a [&'a str]) -> impl Iterator<Item = Value> + 'a {
    words.iter().map(|k| item(k, KEYWORD, "keyword"))
}

fn names(analysis: &Analysis, kinds: &[DeclKind]) -> Vec<Value> {
    analysis
        .decls
        .iter()
        .filter(|d| kinds.contains(&d.kind))
        .map(|d| item(&d.name, VARIABLE, d.kind.noun()))
        .collect()
}

/// The fields of `group.`: a facts group's declared fields, or `call.` and `now.`'s own, and
/// `caller.last_agent`.
fn fields(analysis: &Analysis, group: &str) -> Vec<Value> {
    let mut out: Vec<Value> = analysis
        .decls
        .iter()
        .filter(|d| d.kind == DeclKind::Field && d.owner.as_deref() == Some(group))
        .map(|d| item(&d.name, FIELD, "fact field"))
        .collect();
    match group {
        "call" => out.extend(
            crate::check::model::CallField::ALL
                .iter()
                .map(|(name, _, _)| item(name, FIELD, "call field")),
        ),
        "now" => out.extend(
            crate::check::model::NowField::ALL
                .iter()
                .map(|(name, _, _)| item(name, FIELD, "time of the call")),
        ),
        "caller" => out.push(item(
            "last_agent",
            FIELD,
            "agent the caller last spoke with",
        )),
        _ => {}
    }
    out
}

fn strategies() -> impl Iterator<Item = Value> {
    crate::vocabulary::Strategy::ALL
        .iter()
        .map(|(name, _)| item(name, ENUM_MEMBER, "strategy"))
}

fn offers(analysis: &Analysis, place: Place) -> Vec<Value> {
    use DeclKind::*;
    let mut out: Vec<Value> = Vec::new();
    match place {
        Place::Item => out.extend(keywords(&ITEM_KEYWORDS)),
        Place::Target => out.extend(keywords(&TARGETS)),
        Place::Team => out = names(analysis, &[Team]),
        Place::Agent => {
            out = names(analysis, &[Agent]);
            out.extend(names(analysis, &[Facts]));
        }
        Place::Members => out = names(analysis, &[Agent]),
        Place::Strategy => out.extend(strategies()),
        Place::Operand => {
            out.extend(keywords(&["not", "call", "now", "true", "false"]));
            out.extend(names(analysis, &[Facts, Map, Schedule]));
        }
        Place::Operator => out.extend(keywords(&OPERATORS)),
        Place::Filter => out.extend(keywords(&["speaks", "skill", "in", "not"])),
        Place::AfterFilter => out.extend(keywords(&["and", "or", "using", "ring"])),
        Place::AfterTarget => out.extend(keywords(&["or"])),
        Place::When => out.extend(keywords(&["when"])),
        Place::AgentClause => out.extend(keywords(&["skills", "languages", "weight"])),
        Place::TeamClause => out.extend(keywords(&["strategy", "ring"])),
        Place::SourceSetting => {
            out.extend(keywords(&["key", "timeout", "cache", "header", "query"]))
        }
        Place::Source => out = names(analysis, &[Source]),
        Place::Type => {
            let builtin = ["string", "number", "bool", "phone", "agent"];
            out.extend(builtin.iter().map(|t| item(t, KEYWORD, "type")));
            out.extend(names(analysis, &[Enum]));
        }
        Place::ScheduleLine => {
            out.extend(keywords(&["closed", "timezone"]));
            let days = crate::vocabulary::WEEKDAYS;
            out.extend(days.iter().map(|d| item(d, CONSTANT, "weekday")));
        }
        Place::Keyword(k) => out.extend(keywords(&[k])),
        Place::Nothing => {}
        Place::Anything => {
            out.extend(keywords(&ITEM_KEYWORDS));
            out.extend(keywords(&OPERATORS));
            out.extend(keywords(&TARGETS));
            out.extend(strategies());
            let all = [Agent, Team, Facts, Enum, Schedule, Map, Rule, Source];
            out.extend(names(analysis, &all));
        }
    }
    out
}

const TARGETS: [&str; 6] = ["team", "agent", "agents", "number", "queue", "flow"];
const OPERATORS: [&str; 6] = ["and", "or", "in", "exists", "starts_with", "contains"];

/// Where `before` (a file's text up to the word being typed) ends, in the item it is in.
fn place(before: &str) -> Place {
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    if before.len() == line_start {
        return Place::Item;
    }
    // The item starts at the last line that starts, in column one, with an item keyword.
    let mut start = 0;
    let mut at = 0;
    for line in before.split_inclusive('\n') {
        let word: String = line
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if ITEM_KEYWORDS.contains(&word.as_str()) {
            start = at;
        }
        at += line.len();
    }
    let tokens = crate::formatter::tokens(&before[start..]);
    let Some((&first, _)) = tokens.split_first() else {
        return Place::Item;
    };
    let last = *tokens.last().unwrap_or(&"");
    let open = |l: &str, r: &str| {
        tokens.iter().filter(|t| **t == l).count() > tokens.iter().filter(|t| **t == r).count()
    };
    match first {
        "rule" | "when" | "otherwise" => rule_place(&tokens),
        "agent" if tokens.len() >= 3 && !open("[", "]") => Place::AgentClause,
        "team" if open("[", "]") => Place::Members,
        "team" if last == "strategy" => Place::Strategy,
        "team" if tokens.contains(&"]") && last != "ring" => Place::TeamClause,
        "source" if open("{", "}") && matches!(last, "{" | "}") => Place::SourceSetting,
        "source" if open("{", "}") && last.ends_with(['s', 'm', 'h', '"']) => Place::SourceSetting,
        "facts" if tokens.len() == 2 => Place::Keyword("from"),
        "facts" if last == "from" => Place::Source,
        "facts" if last == ":" => Place::Type,
        "map" if tokens.len() == 2 => Place::Keyword("by"),
        "map" if last == "by" => Place::Keyword("prefix"),
        "map" if last == "(" => Place::Operand,
        "map" if last == ")" => Place::Keyword("from"),
        "schedule" if open("{", "}") && !matches!(last, "-" | ",") => Place::ScheduleLine,
        "policy" | "country" | "enum" | "agent" | "team" | "source" | "facts" | "map"
        | "schedule" | "timezone" => Place::Nothing,
        _ => Place::Anything,
    }
}

/// Where the tokens of a rule (or `otherwise`) so far end.
fn rule_place(tokens: &[&str]) -> Place {
    let last = *tokens.last().unwrap_or(&"");
    let Some(arrow) = tokens.iter().rposition(|t| *t == "->") else {
        return match last {
            "rule" => Place::Nothing,
            ":" => Place::When,
            "when" | "and" | "or" | "not" | "(" | "[" | "," => Place::Operand,
            "==" | "!=" | "<" | ">" | "<=" | ">=" | "starts_with" | "contains" => Place::Operand,
            _ if tokens.len() == 2 && tokens[0] == "rule" => Place::Nothing,
            "in" => Place::Nothing,
            "exists" | ")" | "]" => Place::Operator,
            _ => Place::Operator,
        };
    };
    let targets = &tokens[arrow + 1..];
    // Within `agents where …` until the next target keyword after an `or`.
    let in_filter = targets
        .iter()
        .rposition(|t| TARGETS.contains(t))
        .is_some_and(|i| targets[i] == "agents" && targets.get(i + 1) == Some(&"where"));
    match last {
        "->" => Place::Target,
        "or" if in_filter => Place::Filter,
        "or" => Place::Target,
        "team" if in_filter && targets.len() >= 2 && targets[targets.len() - 2] == "in" => {
            Place::Team
        }
        "team" => Place::Team,
        "agent" => Place::Agent,
        "agents" => Place::Keyword("where"),
        "using" => Place::Strategy,
        "where" | "and" | "not" | "(" => Place::Filter,
        "in" if in_filter => Place::Keyword("team"),
        "number" | "queue" | "flow" | "priority" | "ring" | "speaks" | "skill" => Place::Nothing,
        _ if in_filter => Place::AfterFilter,
        _ => Place::AfterTarget,
    }
}

/// The variants of the enum a comparison's left side has as its type: after
/// `caller.tier ==`, `!=`, or `in [` (and a list's commas).
fn enum_after_comparison<'a>(analysis: &'a Analysis, head: &str) -> Option<Vec<&'a str>> {
    let head = head.trim_end();
    let left = if let Some(list) = head.rfind(" in [") {
        let inside = &head[list + 5..];
        inside.chars().all(|c| c != ']').then(|| &head[..list])?
    } else {
        head.strip_suffix("==")
            .or_else(|| head.strip_suffix("!="))?
    };
    let path = left.trim_end().rsplit(' ').next()?;
    let (group, field) = path.split_once('.')?;
    let ty = analysis.ast.items.iter().find_map(|i| match i {
        Item::Facts(f) if f.name.name == group => f
            .fields
            .iter()
            .find(|x| x.name.name == field)
            .map(|x| x.ty.name.as_str()),
        _ => None,
    })?;
    analysis.ast.items.iter().find_map(|i| match i {
        Item::Enum(e) if e.name.name == ty => {
            Some(e.variants.iter().map(|v| v.name.as_str()).collect())
        }
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_in_items() {
        for (before, expected) in [
            ("", Place::Item),
            ("agent a \"+91\"\n", Place::Item),
            ("rule vip: ", Place::When),
            ("rule vip: when ", Place::Operand),
            ("rule vip: when caller.tier ", Place::Operator),
            ("rule vip: when caller.tier == premium and ", Place::Operand),
            (
                "rule vip: when caller.tier == premium\n  and not ",
                Place::Operand,
            ),
            ("when call.digits == \"1\" -> ", Place::Target),
            ("when call.digits == \"1\" -> team ", Place::Team),
            (
                "when call.digits == \"1\" -> team SALES ",
                Place::AfterTarget,
            ),
            ("when call.digits == \"1\" -> team SALES or ", Place::Target),
            ("otherwise -> agent ", Place::Agent),
            ("otherwise -> agents ", Place::Keyword("where")),
            ("otherwise -> agents where ", Place::Filter),
            ("otherwise -> agents where skill tech ", Place::AfterFilter),
            ("otherwise -> agents where skill tech or ", Place::Filter),
            ("otherwise -> agents where in ", Place::Keyword("team")),
            ("otherwise -> agents where in team ", Place::Team),
            (
                "otherwise -> agents where speaks en using ",
                Place::Strategy,
            ),
            ("otherwise -> agents where speaks en or team ", Place::Team),
            ("otherwise -> queue ", Place::Nothing),
            ("agent a \"+91\" ", Place::AgentClause),
            ("agent ", Place::Nothing),
            ("team T [a, ", Place::Members),
            ("team T [a, b] ", Place::TeamClause),
            ("team T [a, b] strategy ", Place::Strategy),
            ("facts caller ", Place::Keyword("from")),
            ("facts caller from ", Place::Source),
            ("facts caller from crm {\n  tier: ", Place::Type),
            ("source crm http \"u\" {\n  ", Place::SourceSetting),
            (
                "source crm http \"u\" { timeout 800ms ",
                Place::SourceSetting,
            ),
            ("map region ", Place::Keyword("by")),
            ("map region by prefix(", Place::Operand),
            ("schedule open {\n  ", Place::ScheduleLine),
            ("schedule open { mon-", Place::Nothing),
        ] {
            assert_eq!(place(before), expected, "{before:?}");
        }
    }
}
