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

/// What one kind of problem says, all in one place: its code, severity, message, the label
/// under its span, and a help line where one helps.
#[derive(Debug, Clone, PartialEq)]
pub struct Said {
    /// The part after `route::`: `unknown-field`.
    pub code: String,
    pub severity: Severity,
    pub message: String,
    pub label: String,
    pub help: Option<String>,
}

fn error(code: impl Into<String>, message: impl Into<String>, label: impl Into<String>) -> Said {
    Said {
        code: code.into(),
        severity: Severity::Error,
        message: message.into(),
        label: label.into(),
        help: None,
    }
}

fn warning(code: impl Into<String>, message: impl Into<String>, label: impl Into<String>) -> Said {
    Said {
        severity: Severity::Warning,
        ..error(code, message, label)
    }
}

impl Said {
    fn help(self, help: impl Into<String>) -> Said {
        Said {
            help: Some(help.into()),
            ..self
        }
    }

    fn help_if(self, help: Option<String>) -> Said {
        Said { help, ..self }
    }
}

impl Kind {
    /// The table of kinds: one arm per kind says everything about it.
    pub fn said(&self) -> Said {
        match self {
            Kind::Syntax {
                expected,
                found,
                hint,
            } => {
                let message = match expected.split_last() {
                    None => format!("unexpected {found}"),
                    Some((last, [])) => format!("expected {last}"),
                    Some((last, init)) => format!("expected {} or {last}", init.join(", ")),
                };
                let label = if found.is_empty() {
                    "here".to_string()
                } else {
                    format!("unexpected {found}")
                };
                error("syntax", message, label).help_if(hint.clone())
            }
            Kind::InvalidUtf8 { offset } => error(
                "invalid-utf8",
                format!("file is not valid UTF-8: invalid byte at offset {offset}"),
                "not UTF-8",
            ),
            Kind::UnterminatedString => error(
                "syntax",
                "unterminated string",
                "this string never ends",
            )
            .help("close it with `\"` on the same line; write `\\\"` for a quote inside"),
            Kind::UnknownEscape { escape } => error(
                "unknown-escape",
                format!("unknown escape `{escape}` in string"),
                "no such escape",
            )
            .help("the escapes are `\\\"`, `\\\\`, `\\n` and `\\t`"),
            Kind::TooDeep { limit } => error(
                "too-deep",
                format!("nesting deeper than {limit} levels"),
                "nested too deep",
            )
            .help("split the condition into several rules"),
            Kind::Unknown {
                what,
                name,
                suggestion,
                scope,
            } => {
                let message = match (what, scope) {
                    (What::Variant, Some(e)) => format!("`{name}` is not a variant of enum `{e}`"),
                    (What::Field, Some(g)) => format!("unknown field `{name}` in facts `{g}`"),
                    _ => format!("unknown {} `{name}`", what.noun()),
                };
                let help = match (suggestion, what) {
                    (Some(s), _) => Some(format!("did you mean `{s}`?")),
                    (None, What::Strategy) => {
                        let names: Vec<String> =
                            crate::vocabulary::Strategy::names().map(String::from).collect();
                        Some(format!("the strategies are {}", list(&names, "and")))
                    }
                    (None, What::Type) => Some(
                        "the types are `string`, `number`, `bool`, `phone`, `agent` and declared enums"
                            .into(),
                    ),
                    (None, What::Day) => {
                        Some("days are `mon`, `tue`, `wed`, `thu`, `fri`, `sat` and `sun`".into())
                    }
                    (None, _) => None,
                };
                let label = format!("no {} of this name", what.noun());
                error(format!("unknown-{}", what.code_suffix()), message, label).help_if(help)
            }
            Kind::Duplicate { what, name } => error(
                "duplicate-definition",
                format!("{} `{name}` is defined more than once", what.noun()),
                "defined again here",
            )
            .help("give each one its own name"),
            Kind::NeedsField { name, what, fields } => error(
                "needs-field",
                format!("{} `{name}` needs a field: `{name}.FIELD`", what.noun()),
                "name a field",
            )
            .help_if((!fields.is_empty()).then(|| format!("its fields are {}", list(fields, "and")))),
            Kind::Reserved { name } => error(
                "reserved-name",
                format!("`{name}` is a reserved name"),
                "reserved",
            )
            .help("`call`, `now`, `otherwise` and the built-in type names are reserved"),
            Kind::Mismatch { left, right } => error(
                "type-mismatch",
                format!("cannot compare `{left}` with `{right}`"),
                format!("`{left}` compared with `{right}`"),
            ),
            Kind::NotOrdered { ty, op } => error(
                "type-mismatch",
                format!("`{op}` does not apply to `{ty}` values"),
                format!("`{ty}` values have no order"),
            )
            .help("`<`, `<=`, `>` and `>=` compare numbers and enum variants"),
            Kind::OperatorType { op, ty } => error(
                "type-mismatch",
                format!("`{op}` does not apply to `{ty}` values"),
                format!("`{op}` on a `{ty}`"),
            ),
            Kind::NotCondition { found } => error(
                "type-mismatch",
                format!("a condition must be `bool`, found `{found}`"),
                "not a condition",
            )
            .help("compare it with a value, e.g. `== \"x\"`, or test it with `exists`"),
            Kind::NotValue { what, name } => error(
                "type-mismatch",
                format!("{} `{name}` is not a value", what.noun()),
                "not a value",
            ),
            Kind::NotAgentValue { found } => error(
                "type-mismatch",
                format!(
                    "an agent target needs an `agent`, `phone` or `string` value, found `{found}`"
                ),
                "not an agent",
            ),
            Kind::NotText { found } => error(
                "type-mismatch",
                format!("expected a `string` value, found `{found}`"),
                "not text",
            ),
            Kind::NotLiteral => error(
                "type-mismatch",
                "`in` lists need literal values",
                "not a literal",
            )
            .help("list literals only: `in [\"1\", \"2\"]`"),
            Kind::BareWord { name } => error(
                "unknown-name",
                format!("unknown name `{name}`"),
                "no name of this kind",
            )
            .help(format!("to mean the text, quote it: `\"{name}\"`")),
            Kind::HasNoFields { what, name } => error(
                "unknown-field",
                format!("{} `{name}` has no fields", what.noun()),
                "has no fields",
            ),
            Kind::ImpossibleValue {
                field,
                value,
                expected,
            } => error(
                "impossible-value",
                format!("`{field}` is never `{value}`"),
                "never this value",
            )
            .help(match near_weekday(field, value) {
                Some(day) => format!("did you mean `{day}`?"),
                None => format!("`{field}` is {expected}"),
            }),
            Kind::Vacuous { test, always: false } => warning(
                "vacuous-test",
                format!("`{test}` is never true"),
                "never true",
            )
            .help("a rule with it never fires: list the values it should match"),
            Kind::Vacuous { test, always: true } => warning(
                "vacuous-test",
                format!("`{test}` is always true"),
                "always true",
            )
            .help("it matches every value: remove it, or give a prefix"),
            Kind::MissingOtherwise => error(
                "missing-otherwise",
                "policy has no `otherwise` rule",
                "the policy ends here, without `otherwise`",
            )
            .help("add a fallback rule at the end, e.g. `otherwise -> queue general`"),
            Kind::DuplicateOtherwise => error(
                "duplicate-otherwise",
                "policy has more than one `otherwise` rule",
                "a second `otherwise`",
            )
            .help("keep a single `otherwise` rule"),
            Kind::EmptyTeam { team } => error(
                "empty-team",
                format!("team `{team}` has no agents"),
                "no agents",
            )
            .help("list at least one agent: `team T [asha]`"),
            Kind::DuplicateMember { agent, team } => error(
                "duplicate-member",
                format!("agent `{agent}` is listed twice in team `{team}`"),
                "listed again here",
            ),
            Kind::SameNumber { agent, other } => error(
                "duplicate-number",
                format!("agents `{other}` and `{agent}` have the same number"),
                format!("the number of `{other}` too"),
            ),
            Kind::InvalidTimezone { name, suggestion } => {
                let help = match suggestion {
                    Some(s) if name.chars().all(|c| c.is_ascii_uppercase()) => {
                        format!("`{name}` is an abbreviation, not a zone: did you mean `{s}`?")
                    }
                    Some(s) => format!("did you mean `{s}`?"),
                    None => "use an IANA time zone name, such as `Asia/Kolkata`".into(),
                };
                error(
                    "invalid-timezone",
                    format!("unknown time zone `{name}`"),
                    "no time zone of this name",
                )
                .help(help)
            }
            Kind::InvalidCountry { code } => error(
                "invalid-country",
                format!("unknown country `{code}`"),
                "no country of this code",
            )
            .help("use a two-letter ISO country code, such as `IN`"),
            Kind::InvalidTime { text } => error(
                "invalid-time",
                format!("invalid time `{text}`"),
                "no such time",
            )
            .help("times are `HH:MM`, from 00:00 to 24:00"),
            Kind::StartAtEndOfDay => error(
                "invalid-time",
                "a window cannot start at `24:00`",
                "the end of the day",
            )
            .help("`24:00` ends a window (`18:00-24:00`); one that starts at midnight starts at `00:00`"),
            Kind::EmptyWindow => error(
                "invalid-time",
                "window opens and shuts at the same time",
                "an empty window",
            )
            .help("for a whole day write `00:00-24:00`"),
            Kind::InvalidDate { text } => error(
                "invalid-date",
                format!("invalid date `{text}`"),
                "no such date",
            )
            .help("dates are `YYYY-MM-DD`"),
            Kind::InvalidPhone { text } => error(
                "invalid-phone",
                format!("`{text}` is not a phone number"),
                "not a phone number",
            )
            .help("write the number in E.164 (`+919800000001`) or national form (`09800000001`)"),
            Kind::InvalidPrefix { text } => error(
                "invalid-prefix",
                format!("`{text}` is not a number prefix"),
                "not a number prefix",
            )
            .help("a prefix starts with `+` and the country code, or with `0`"),
            Kind::DuplicatePrefix { prefix } => error(
                "duplicate-prefix",
                format!("prefix `{prefix}` is listed twice"),
                "listed again here",
            ),
            Kind::InvalidNumber {
                what,
                text,
                expected,
            } => error(
                "invalid-number",
                format!("{what} must be {expected}, found `{text}`"),
                format!("expected {expected}"),
            ),
            Kind::MissingKey { source, kind } => error(
                "incomplete-source",
                format!("{kind} source `{source}` needs a `key` column"),
                "no `key`",
            )
            .help("name the key column: `key phone`"),
            Kind::SettingNotAllowed { setting, kind } => error(
                "invalid-setting",
                format!("`{setting}` does not apply to {kind} sources"),
                format!("not a setting of a `{kind}` source"),
            ),
            Kind::MissingQuery { source } => error(
                "incomplete-source",
                format!("sql source `{source}` needs a `query`"),
                "no `query`",
            )
            .help("add `{ query \"select … where phone = $1\" }`"),
            Kind::BadPlaceholder { text } => error(
                "invalid-placeholder",
                format!("invalid placeholder `{text}` in url"),
                "not a call field",
            )
            .help("placeholders name call fields, e.g. `{call.from}`"),
            Kind::DuplicateSetting { setting } => error(
                "invalid-setting",
                format!("`{setting}` is set more than once"),
                "set again here",
            ),
            Kind::DataFile {
                path,
                line,
                message,
            } => {
                let message = match line {
                    Some(line) => format!("`{path}` line {line}: {message}"),
                    None => format!("`{path}`: {message}"),
                };
                error("data-file", message, "read here")
                    .help("routec reads the file with the policy: fix it, and the policy reloads")
            }
            Kind::SourceQuery { source, message } => error(
                "source-query",
                format!("source `{source}`: {message}"),
                "this query",
            ),
            Kind::DataFileMissing { path } => warning(
                "data-file-missing",
                format!("data file `{path}` does not exist"),
                "no such file",
            )
            .help("until it exists, what it would give is missing (paths are relative to the policy)"),
            Kind::SourceUnreachable { source, message } => warning(
                "source-unreachable",
                format!("source `{source}` could not be checked: {message}"),
                "not reachable",
            )
            .help("its query is checked when the database can be reached; lookups will say if it fails"),
            Kind::DuplicateDataKey {
                path,
                line,
                key,
                first,
            } => warning(
                "duplicate-data-key",
                format!("`{path}` line {line}: key `{key}` is listed again (first on line {first})"),
                "read here",
            )
            .help("the first row is used"),
            Kind::MissingColumn { path, group, field } => warning(
                "missing-column",
                format!("`{path}` has no `{field}` column for `{group}.{field}`"),
                "read here",
            )
            .help(format!(
                "add a `{field}` column, or remove the field: until then it is always missing"
            )),
            Kind::Unused { what, name } => warning(
                "unused",
                format!("{} `{name}` is never used", what.noun()),
                "never used",
            )
            .help(match what {
                What::Agent => "add the agent to a team, or remove it",
                _ => "remove it, or use it in a rule",
            }),
            Kind::UnreadSource { source } => warning(
                "unread-source",
                format!("facts of source `{source}` are never read"),
                "looked up but never read",
            )
            .help("no rule reads its facts, so every lookup is wasted: read a fact or remove it"),
            Kind::Unreachable { rule, by } => {
                let (rules, take) = if by.len() == 1 {
                    ("rule", "takes")
                } else {
                    ("rules", "take")
                };
                warning(
                    "unreachable-rule",
                    format!(
                        "rule `{rule}` can never fire: earlier {rules} {} {take} every call it would",
                        list(by, "and")
                    ),
                    "never fires",
                )
                .help("move it above the rule that takes its calls, or remove it")
            }
        }
    }

    pub fn severity(&self) -> Severity {
        self.said().severity
    }

    /// A stable code, such as `route::unknown-field`.
    pub fn code(&self) -> String {
        format!("route::{}", self.said().code)
    }

    /// The text under the primary span: every kind has one, so every diagnostic says what
    /// is wrong at the place it points to.
    pub fn label(&self) -> String {
        self.said().label
    }

    pub fn help(&self) -> Option<String> {
        self.said().help
    }

    /// The name a "did you mean" help proposes, to put in place of the text the diagnostic
    /// underlines (an editor's quick fix).
    pub fn suggestion(&self) -> Option<&str> {
        match self {
            Kind::Unknown { suggestion, .. } | Kind::InvalidTimezone { suggestion, .. } => {
                suggestion.as_deref()
            }
            _ => None,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.said().message)
    }
}
