//! What a diagnostic says: every kind of problem `routec check` reports, with its code,
//! severity, message, label and help.

use std::fmt;

use super::{Severity, What};

/// Every error and warning routec reports. The message, code and help derive from it.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    // syntax
    Syntax {
        expected: Vec<String>,
        found: String,
        /// What was probably meant (`==` for `=`), where the text says.
        hint: Option<String>,
    },
    InvalidUtf8 {
        offset: usize,
    },
    UnterminatedString,
    UnknownEscape {
        escape: String,
    },
    TooDeep {
        limit: usize,
    },
    // names
    Unknown {
        what: What,
        name: String,
        suggestion: Option<String>,
        scope: Option<String>,
    },
    Duplicate {
        what: What,
        name: String,
    },
    NeedsField {
        name: String,
        what: What,
        fields: Vec<String>,
    },
    Reserved {
        name: String,
    },
    // types
    Mismatch {
        left: String,
        right: String,
    },
    NotOrdered {
        ty: String,
        op: String,
    },
    OperatorType {
        op: String,
        ty: String,
    },
    NotCondition {
        found: String,
    },
    NotValue {
        what: What,
        name: String,
    },
    NotAgentValue {
        found: String,
    },
    NotText {
        found: String,
    },
    NotLiteral,
    BareWord {
        name: String,
    },
    HasNoFields {
        what: What,
        name: String,
    },
    /// A comparison with a value the field never takes.
    ImpossibleValue {
        field: String,
        value: String,
        expected: String,
    },
    // structure
    MissingOtherwise,
    DuplicateOtherwise,
    EmptyTeam {
        team: String,
    },
    DuplicateMember {
        agent: String,
        team: String,
    },
    SameNumber {
        agent: String,
        other: String,
    },
    InvalidTimezone {
        name: String,
        suggestion: Option<String>,
    },
    InvalidCountry {
        code: String,
    },
    InvalidTime {
        text: String,
    },
    /// `24:00` as the start of a window: it only ends one.
    StartAtEndOfDay,
    EmptyWindow,
    InvalidDate {
        text: String,
    },
    InvalidPhone {
        text: String,
    },
    InvalidPrefix {
        text: String,
    },
    DuplicatePrefix {
        prefix: String,
    },
    InvalidNumber {
        what: &'static str,
        text: String,
        expected: &'static str,
    },
    MissingKey {
        source: String,
        kind: String,
    },
    SettingNotAllowed {
        setting: String,
        kind: String,
    },
    MissingQuery {
        source: String,
    },
    BadPlaceholder {
        text: String,
    },
    DuplicateSetting {
        setting: String,
    },
    DataFile {
        path: String,
        line: Option<usize>,
        message: String,
    },
    SourceQuery {
        source: String,
        message: String,
    },
    // warnings
    DataFileMissing {
        path: String,
    },
    SourceUnreachable {
        source: String,
        message: String,
    },
    /// A declared field that no column of a data file gives: always missing.
    MissingColumn {
        path: String,
        group: String,
        field: String,
    },
    DuplicateDataKey {
        path: String,
        line: usize,
        key: String,
        first: usize,
    },
    /// A test that decides nothing: `in []` is never true, `starts_with ""` always.
    Vacuous {
        test: String,
        always: bool,
    },
    Unused {
        what: What,
        name: String,
    },
    UnreadSource {
        source: String,
    },
    Unreachable {
        rule: String,
        by: Vec<String>,
    },
}

/// `Sunday` for `now.weekday` reads as `sun`.
fn near_weekday(field: &str, value: &str) -> Option<&'static str> {
    let head = value.get(..3)?.to_ascii_lowercase();
    (field == "now.weekday")
        .then(|| {
            crate::vocabulary::WEEKDAYS
                .iter()
                .find(|d| **d == head)
                .copied()
        })
        .flatten()
}

fn tick(s: &str) -> String {
    format!("`{s}`")
}

/// `a`, `b` or `c` (with `conjunction` "or"), or `a`, `b` and `c`.
fn list(items: &[String], conjunction: &str) -> String {
    let ticked: Vec<String> = items.iter().map(|s| tick(s)).collect();
    match ticked.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} {conjunction} {}", init.join(", "), last),
    }
}

impl Kind {
    pub fn severity(&self) -> Severity {
        match self {
            Kind::Unused { .. }
            | Kind::UnreadSource { .. }
            | Kind::Unreachable { .. }
            | Kind::DuplicateDataKey { .. }
            | Kind::MissingColumn { .. }
            | Kind::Vacuous { .. }
            | Kind::SourceUnreachable { .. }
            | Kind::DataFileMissing { .. } => Severity::Warning,
            _ => Severity::Error,
        }
    }

    /// A stable code, such as `route::unknown-field`.
    pub fn code(&self) -> String {
        let code = match self {
            Kind::Syntax { .. } | Kind::UnterminatedString => "syntax",
            Kind::InvalidUtf8 { .. } => "invalid-utf8",
            Kind::UnknownEscape { .. } => "unknown-escape",
            Kind::TooDeep { .. } => "too-deep",
            Kind::Unknown { what, .. } => return format!("route::unknown-{}", what.code_suffix()),
            Kind::Duplicate { .. } => "duplicate-definition",
            Kind::NeedsField { .. } => "needs-field",
            Kind::Reserved { .. } => "reserved-name",
            Kind::Mismatch { .. }
            | Kind::NotOrdered { .. }
            | Kind::OperatorType { .. }
            | Kind::NotCondition { .. }
            | Kind::NotValue { .. }
            | Kind::NotAgentValue { .. }
            | Kind::NotText { .. }
            | Kind::NotLiteral => "type-mismatch",
            Kind::BareWord { .. } => "unknown-name",
            Kind::HasNoFields { .. } => "unknown-field",
            Kind::ImpossibleValue { .. } => "impossible-value",
            Kind::Vacuous { .. } => "vacuous-test",
            Kind::MissingOtherwise => "missing-otherwise",
            Kind::DuplicateOtherwise => "duplicate-otherwise",
            Kind::EmptyTeam { .. } => "empty-team",
            Kind::DuplicateMember { .. } => "duplicate-member",
            Kind::SameNumber { .. } => "duplicate-number",
            Kind::InvalidTimezone { .. } => "invalid-timezone",
            Kind::InvalidCountry { .. } => "invalid-country",
            Kind::InvalidTime { .. } | Kind::StartAtEndOfDay | Kind::EmptyWindow => "invalid-time",
            Kind::InvalidDate { .. } => "invalid-date",
            Kind::InvalidPhone { .. } => "invalid-phone",
            Kind::InvalidPrefix { .. } => "invalid-prefix",
            Kind::DuplicatePrefix { .. } => "duplicate-prefix",
            Kind::InvalidNumber { .. } => "invalid-number",
            Kind::MissingKey { .. } | Kind::MissingQuery { .. } => "incomplete-source",
            Kind::SettingNotAllowed { .. } | Kind::DuplicateSetting { .. } => "invalid-setting",
            Kind::BadPlaceholder { .. } => "invalid-placeholder",
            Kind::DataFile { .. } => "data-file",
            Kind::SourceQuery { .. } => "source-query",
            Kind::DataFileMissing { .. } => "data-file-missing",
            Kind::SourceUnreachable { .. } => "source-unreachable",
            Kind::DuplicateDataKey { .. } => "duplicate-data-key",
            Kind::MissingColumn { .. } => "missing-column",
            Kind::Unused { .. } => "unused",
            Kind::UnreadSource { .. } => "unread-source",
            Kind::Unreachable { .. } => "unreachable-rule",
        };
        format!("route::{code}")
    }

    /// The text under the primary span: every kind has one, so every diagnostic says what
    /// is wrong at the place it points to.
    pub fn label(&self) -> String {
        match self {
            Kind::Syntax { found, .. } if found.is_empty() => "here".into(),
            Kind::Syntax { found, .. } => format!("unexpected {found}"),
            Kind::InvalidUtf8 { .. } => "not UTF-8".into(),
            Kind::UnterminatedString => "this string never ends".into(),
            Kind::UnknownEscape { .. } => "no such escape".into(),
            Kind::TooDeep { .. } => "nested too deep".into(),
            Kind::Unknown { what, .. } => format!("no {} of this name", what.noun()),
            Kind::Duplicate { .. } => "defined again here".into(),
            Kind::NeedsField { .. } => "name a field".into(),
            Kind::Reserved { .. } => "reserved".into(),
            Kind::Mismatch { left, right } => format!("`{left}` compared with `{right}`"),
            Kind::NotOrdered { ty, .. } => format!("`{ty}` values have no order"),
            Kind::OperatorType { op, ty } => format!("`{op}` on a `{ty}`"),
            Kind::NotCondition { .. } => "not a condition".into(),
            Kind::NotValue { .. } => "not a value".into(),
            Kind::NotAgentValue { .. } => "not an agent".into(),
            Kind::NotText { .. } => "not text".into(),
            Kind::NotLiteral => "not a literal".into(),
            Kind::BareWord { .. } => "no name of this kind".into(),
            Kind::HasNoFields { .. } => "has no fields".into(),
            Kind::ImpossibleValue { .. } => "never this value".into(),
            Kind::Vacuous { always: false, .. } => "never true".into(),
            Kind::Vacuous { always: true, .. } => "always true".into(),
            Kind::MissingOtherwise => "the policy ends here, without `otherwise`".into(),
            Kind::DuplicateOtherwise => "a second `otherwise`".into(),
            Kind::EmptyTeam { .. } => "no agents".into(),
            Kind::DuplicateMember { .. } => "listed again here".into(),
            Kind::SameNumber { other, .. } => format!("the number of `{other}` too"),
            Kind::InvalidTimezone { .. } => "no time zone of this name".into(),
            Kind::InvalidCountry { .. } => "no country of this code".into(),
            Kind::InvalidTime { .. } => "no such time".into(),
            Kind::StartAtEndOfDay => "the end of the day".into(),
            Kind::EmptyWindow => "an empty window".into(),
            Kind::InvalidDate { .. } => "no such date".into(),
            Kind::InvalidPhone { .. } => "not a phone number".into(),
            Kind::InvalidPrefix { .. } => "not a number prefix".into(),
            Kind::DuplicatePrefix { .. } => "listed again here".into(),
            Kind::InvalidNumber { expected, .. } => format!("expected {expected}"),
            Kind::MissingKey { .. } => "no `key`".into(),
            Kind::SettingNotAllowed { kind, .. } => format!("not a setting of a `{kind}` source"),
            Kind::MissingQuery { .. } => "no `query`".into(),
            Kind::BadPlaceholder { .. } => "not a call field".into(),
            Kind::DuplicateSetting { .. } => "set again here".into(),
            Kind::DataFile { .. } => "read here".into(),
            Kind::SourceQuery { .. } => "this query".into(),
            Kind::DataFileMissing { .. } => "no such file".into(),
            Kind::SourceUnreachable { .. } => "not reachable".into(),
            Kind::DuplicateDataKey { .. } => "read here".into(),
            Kind::MissingColumn { .. } => "read here".into(),
            Kind::Unused { .. } => "never used".into(),
            Kind::UnreadSource { .. } => "looked up but never read".into(),
            Kind::Unreachable { .. } => "never fires".into(),
        }
    }

    pub fn help(&self) -> Option<String> {
        match self {
            Kind::Syntax { hint, .. } => hint.clone(),
            Kind::InvalidUtf8 { .. } => None,
            Kind::UnknownEscape { .. } => {
                Some("the escapes are `\\\"`, `\\\\`, `\\n` and `\\t`".into())
            }
            Kind::UnterminatedString => {
                Some("close it with `\"` on the same line; write `\\\"` for a quote inside".into())
            }
            Kind::TooDeep { .. } => Some("split the condition into several rules".into()),
            Kind::Unknown {
                suggestion: Some(s),
                ..
            } => Some(format!("did you mean `{s}`?")),
            Kind::Unknown {
                what: What::Strategy,
                ..
            } => Some(format!(
                "the strategies are {}",
                list(
                    &crate::vocabulary::Strategy::names()
                        .map(String::from)
                        .collect::<Vec<_>>(),
                    "and",
                )
            )),
            Kind::Unknown {
                what: What::Type, ..
            } => Some(
                "the types are `string`, `number`, `bool`, `phone`, `agent` and declared enums"
                    .into(),
            ),
            Kind::Unknown {
                what: What::Day, ..
            } => Some("days are `mon`, `tue`, `wed`, `thu`, `fri`, `sat` and `sun`".into()),
            Kind::Unknown { .. } => None,
            Kind::Duplicate { .. } => Some("give each one its own name".into()),
            Kind::NeedsField { fields, .. } if !fields.is_empty() => {
                Some(format!("its fields are {}", list(fields, "and")))
            }
            Kind::Reserved { .. } => {
                Some("`call`, `now`, `otherwise` and the built-in type names are reserved".into())
            }
            Kind::BareWord { name } => Some(format!("to mean the text, quote it: `\"{name}\"`")),
            Kind::NotLiteral => Some("list literals only: `in [\"1\", \"2\"]`".into()),
            Kind::NotOrdered { .. } => {
                Some("`<`, `<=`, `>` and `>=` compare numbers and enum variants".into())
            }
            Kind::NotCondition { .. } => {
                Some("compare it with a value, e.g. `== \"x\"`, or test it with `exists`".into())
            }
            Kind::ImpossibleValue {
                field,
                value,
                expected,
            } => Some(match near_weekday(field, value) {
                Some(day) => format!("did you mean `{day}`?"),
                None => format!("`{field}` is {expected}"),
            }),
            Kind::Vacuous { always: false, .. } => {
                Some("a rule with it never fires: list the values it should match".into())
            }
            Kind::Vacuous { always: true, .. } => {
                Some("it matches every value: remove it, or give a prefix".into())
            }
            Kind::MissingOtherwise => {
                Some("add a fallback rule at the end, e.g. `otherwise -> queue general`".into())
            }
            Kind::DuplicateOtherwise => Some("keep a single `otherwise` rule".into()),
            Kind::EmptyTeam { .. } => Some("list at least one agent: `team T [asha]`".into()),
            Kind::InvalidTimezone {
                name,
                suggestion: Some(s),
            } if name.chars().all(|c| c.is_ascii_uppercase()) => Some(format!(
                "`{name}` is an abbreviation, not a zone: did you mean `{s}`?"
            )),
            Kind::InvalidTimezone {
                suggestion: Some(s),
                ..
            } => Some(format!("did you mean `{s}`?")),
            Kind::InvalidTimezone { .. } => {
                Some("use an IANA time zone name, such as `Asia/Kolkata`".into())
            }
            Kind::InvalidCountry { .. } => {
                Some("use a two-letter ISO country code, such as `IN`".into())
            }
            Kind::InvalidTime { .. } => Some("times are `HH:MM`, from 00:00 to 24:00".into()),
            Kind::StartAtEndOfDay => Some(
                "`24:00` ends a window (`18:00-24:00`); one that starts at midnight starts at `00:00`"
                    .into(),
            ),
            Kind::EmptyWindow => Some("for a whole day write `00:00-24:00`".into()),
            Kind::InvalidDate { .. } => Some("dates are `YYYY-MM-DD`".into()),
            Kind::InvalidPhone { .. } => Some(
                "write the number in E.164 (`+919800000001`) or national form (`09800000001`)"
                    .into(),
            ),
            Kind::InvalidPrefix { .. } => {
                Some("a prefix starts with `+` and the country code, or with `0`".into())
            }
            Kind::MissingKey { .. } => Some("name the key column: `key phone`".into()),
            Kind::MissingQuery { .. } => {
                Some("add `{ query \"select … where phone = $1\" }`".into())
            }
            Kind::BadPlaceholder { .. } => {
                Some("placeholders name call fields, e.g. `{call.from}`".into())
            }
            Kind::Unused {
                what: What::Agent, ..
            } => Some("add the agent to a team, or remove it".into()),
            Kind::Unused { .. } => Some("remove it, or use it in a rule".into()),
            Kind::UnreadSource { .. } => Some(
                "no rule reads its facts, so every lookup is wasted: read a fact or remove it"
                    .into(),
            ),
            Kind::Unreachable { .. } => {
                Some("move it above the rule that takes its calls, or remove it".into())
            }
            Kind::DataFile { .. } => {
                Some("routec reads the file with the policy: fix it, and the policy reloads".into())
            }
            Kind::DuplicateDataKey { .. } => Some("the first row is used".into()),
            Kind::MissingColumn { field, .. } => Some(format!(
                "add a `{field}` column, or remove the field: until then it is always missing"
            )),
            Kind::DataFileMissing { .. } => Some(
                "until it exists, what it would give is missing (paths are relative to the policy)"
                    .into(),
            ),
            Kind::SourceUnreachable { .. } => Some(
                "its query is checked when the database can be reached; lookups will say if it fails"
                    .into(),
            ),
            _ => None,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Kind::Syntax {
                expected, found, ..
            } => {
                if expected.is_empty() {
                    write!(f, "unexpected {found}")
                } else {
                    let (init, last) = expected.split_at(expected.len() - 1);
                    if init.is_empty() {
                        write!(f, "expected {}", last[0])
                    } else {
                        write!(f, "expected {} or {}", init.join(", "), last[0])
                    }
                }
            }
            Kind::InvalidUtf8 { offset } => {
                write!(
                    f,
                    "file is not valid UTF-8: invalid byte at offset {offset}"
                )
            }
            Kind::UnterminatedString => write!(f, "unterminated string"),
            Kind::UnknownEscape { escape } => write!(f, "unknown escape `{escape}` in string"),
            Kind::TooDeep { limit } => write!(f, "nesting deeper than {limit} levels"),
            Kind::Unknown {
                what: What::Variant,
                name,
                scope: Some(e),
                ..
            } => {
                write!(f, "`{name}` is not a variant of enum `{e}`")
            }
            Kind::Unknown {
                what: What::Field,
                name,
                scope: Some(g),
                ..
            } => {
                write!(f, "unknown field `{name}` in facts `{g}`")
            }
            Kind::Unknown { what, name, .. } => write!(f, "unknown {} `{name}`", what.noun()),
            Kind::Duplicate { what, name } => {
                write!(f, "{} `{name}` is defined more than once", what.noun())
            }
            Kind::NeedsField { name, what, .. } => {
                write!(f, "{} `{name}` needs a field: `{name}.FIELD`", what.noun())
            }
            Kind::Reserved { name } => write!(f, "`{name}` is a reserved name"),
            Kind::Mismatch { left, right } => {
                write!(f, "cannot compare `{left}` with `{right}`")
            }
            Kind::NotOrdered { ty, op } => write!(f, "`{op}` does not apply to `{ty}` values"),
            Kind::OperatorType { op, ty } => write!(f, "`{op}` does not apply to `{ty}` values"),
            Kind::NotCondition { found } => {
                write!(f, "a condition must be `bool`, found `{found}`")
            }
            Kind::NotValue { what, name } => {
                write!(f, "{} `{name}` is not a value", what.noun())
            }
            Kind::NotAgentValue { found } => write!(
                f,
                "an agent target needs an `agent`, `phone` or `string` value, found `{found}`"
            ),
            Kind::NotText { found } => write!(f, "expected a `string` value, found `{found}`"),
            Kind::NotLiteral => write!(f, "`in` lists need literal values"),
            Kind::BareWord { name } => write!(f, "unknown name `{name}`"),
            Kind::HasNoFields { what, name } => write!(f, "{} `{name}` has no fields", what.noun()),
            Kind::MissingOtherwise => write!(f, "policy has no `otherwise` rule"),
            Kind::DuplicateOtherwise => write!(f, "policy has more than one `otherwise` rule"),
            Kind::EmptyTeam { team } => write!(f, "team `{team}` has no agents"),
            Kind::DuplicateMember { agent, team } => {
                write!(f, "agent `{agent}` is listed twice in team `{team}`")
            }
            Kind::SameNumber { agent, other } => {
                write!(f, "agents `{other}` and `{agent}` have the same number")
            }
            Kind::InvalidTimezone { name, .. } => write!(f, "unknown time zone `{name}`"),
            Kind::InvalidCountry { code } => write!(f, "unknown country `{code}`"),
            Kind::InvalidTime { text } => write!(f, "invalid time `{text}`"),
            Kind::StartAtEndOfDay => write!(f, "a window cannot start at `24:00`"),
            Kind::EmptyWindow => write!(f, "window opens and shuts at the same time"),
            Kind::InvalidDate { text } => write!(f, "invalid date `{text}`"),
            Kind::InvalidPhone { text } => write!(f, "`{text}` is not a phone number"),
            Kind::InvalidPrefix { text } => write!(f, "`{text}` is not a number prefix"),
            Kind::DuplicatePrefix { prefix } => write!(f, "prefix `{prefix}` is listed twice"),
            Kind::InvalidNumber {
                what,
                text,
                expected,
            } => {
                write!(f, "{what} must be {expected}, found `{text}`")
            }
            Kind::MissingKey { source, kind } => {
                write!(f, "{kind} source `{source}` needs a `key` column")
            }
            Kind::SettingNotAllowed { setting, kind } => {
                write!(f, "`{setting}` does not apply to {kind} sources")
            }
            Kind::MissingQuery { source } => write!(f, "sql source `{source}` needs a `query`"),
            Kind::BadPlaceholder { text } => write!(f, "invalid placeholder `{text}` in url"),
            Kind::DuplicateSetting { setting } => write!(f, "`{setting}` is set more than once"),
            Kind::DataFile {
                path,
                line: Some(line),
                message,
            } => write!(f, "`{path}` line {line}: {message}"),
            Kind::DataFile { path, message, .. } => write!(f, "`{path}`: {message}"),
            Kind::SourceQuery { source, message } => write!(f, "source `{source}`: {message}"),
            Kind::DataFileMissing { path } => write!(f, "data file `{path}` does not exist"),
            Kind::SourceUnreachable { source, message } => {
                write!(f, "source `{source}` could not be checked: {message}")
            }
            Kind::DuplicateDataKey {
                path,
                line,
                key,
                first,
            } => write!(
                f,
                "`{path}` line {line}: key `{key}` is listed again (first on line {first})"
            ),
            Kind::MissingColumn { path, group, field } => {
                write!(f, "`{path}` has no `{field}` column for `{group}.{field}`")
            }
            Kind::ImpossibleValue { field, value, .. } => {
                write!(f, "`{field}` is never `{value}`")
            }
            Kind::Vacuous { test, always } => write!(
                f,
                "`{test}` is {} true",
                if *always { "always" } else { "never" }
            ),
            Kind::Unused { what, name } => write!(f, "{} `{name}` is never used", what.noun()),
            Kind::UnreadSource { source } => {
                write!(f, "facts of source `{source}` are never read")
            }
            Kind::Unreachable { rule, by } => {
                let (rules, take) = if by.len() == 1 {
                    ("rule", "takes")
                } else {
                    ("rules", "take")
                };
                write!(
                    f,
                    "rule `{rule}` can never fire: earlier {rules} {} {take} every call it would",
                    list(by, "and")
                )
            }
        }
    }
}
