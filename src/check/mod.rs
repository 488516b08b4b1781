//! Check: syntax tree in; checked policy (names resolved, types checked) and diagnostics out.

pub mod domain;
pub mod model;
pub mod similar;

use std::collections::HashMap;
use std::time::Duration;

use model::*;

use crate::diagnostic::{Diagnostic, Diagnostics, Kind, What};
use crate::phone::{self, Country};
use crate::policy_files::{SourceFiles, Span};
use crate::syntax::ast;

pub use similar::nearest;

/// Type names a facts field may have besides declared enums.
const BUILTIN_TYPES: [(&str, Type); 5] = [
    ("string", Type::String),
    ("number", Type::Number),
    ("bool", Type::Bool),
    ("phone", Type::Phone),
    ("agent", Type::Agent),
];

use crate::vocabulary::WEEKDAYS;

/// Checks a parsed policy. The checked policy is returned only when there are no errors.
pub fn check(policy: &ast::Policy, files: &SourceFiles) -> (Option<CheckedPolicy>, Diagnostics) {
    let mut checker = Checker::new(files);
    let checked = checker.policy(policy);
    let diags = checker.diags;
    if diags.has_errors() {
        (None, diags)
    } else {
        (checked, diags)
    }
}

/// Names a facts group, map or schedule may be used by: they share one namespace.
#[derive(Debug, Clone, Copy)]
enum ValueName {
    Facts(FactsId),
    Map(MapId),
    Schedule(ScheduleId),
}

/// An operand once its names are looked up, before it is matched against the other side.
enum Term<'a> {
    Value(Value, Type),
    Schedule(ScheduleId),
    Text(&'a ast::Str),
    Bare(&'a ast::Ident),
    /// Already reported.
    Invalid,
}

/// A table of declared names of one kind, reporting duplicates.
struct Names<'a> {
    what: What,
    index: HashMap<&'a str, usize>,
    spans: Vec<Span>,
}

impl<'a> Names<'a> {
    fn new(what: What) -> Self {
        Names {
            what,
            index: HashMap::new(),
            spans: Vec::new(),
        }
    }

    /// Declares a name; `None` (and a diagnostic) when it is taken.
    fn declare(&mut self, ident: &'a ast::Ident, diags: &mut Diagnostics) -> Option<usize> {
        if let Some(&first) = self.index.get(ident.name.as_str()) {
            diags.push(
                Diagnostic::new(
                    Kind::Duplicate {
                        what: self.what,
                        name: ident.name.clone(),
                    },
                    ident.span,
                )
                .with_related(self.spans[first], "first defined here"),
            );
            return None;
        }
        let id = self.spans.len();
        self.index.insert(&ident.name, id);
        self.spans.push(ident.span);
        Some(id)
    }

    fn get(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    fn nearest(&self, name: &str) -> Option<String> {
        nearest(name, self.index.keys().copied())
    }
}

struct Checker<'a> {
    files: &'a SourceFiles,
    diags: Diagnostics,
    country: &'static Country,
    enums: Names<'a>,
    enum_defs: Vec<EnumDef>,
    sources: Names<'a>,
    facts: Names<'a>,
    facts_groups: Vec<FactsGroup>,
    agents: Names<'a>,
    agent_defs: Vec<AgentDef>,
    teams: Names<'a>,
    maps: Names<'a>,
    schedules: Names<'a>,
    values: HashMap<&'a str, (ValueName, Span)>,
    skills: Vec<String>,
    languages: Vec<String>,
    used: Used,
    /// Sources named by facts groups that were rejected (duplicate or reserved names).
    rejected_facts_sources: Vec<String>,
}

/// What rules and declarations refer to, for the unused-declaration warnings.
#[derive(Default)]
struct Used {
    enums: Vec<bool>,
    facts: Vec<bool>,
    agents: Vec<bool>,
    teams: Vec<bool>,
    maps: Vec<bool>,
    schedules: Vec<bool>,
    /// Some target picks agents by a filter or a fact: any agent may be chosen.
    any_agent: bool,
}

fn type_name(ty: Type, enums: &[EnumDef]) -> String {
    match ty {
        Type::String => "string".into(),
        Type::Number => "number".into(),
        Type::Bool => "bool".into(),
        Type::Phone => "phone".into(),
        Type::Agent => "agent".into(),
        Type::Enum(id) => enums.get(id).map_or("enum".into(), |e| e.name.clone()),
    }
}

/// Parses `800ms`, `30s`, `5m`, `2h`.
fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.replace('_', "");
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = text.split_at(split);
    let n: u64 = n.parse().ok()?;
    let ms = match unit {
        "ms" => Some(n),
        "s" => n.checked_mul(1_000),
        "m" => n.checked_mul(60_000),
        "h" => n.checked_mul(3_600_000),
        _ => None,
    }?;
    Some(Duration::from_millis(ms))
}

/// Minutes after midnight of `HH:MM`; `24:00` is allowed (as an end).
fn parse_time(text: &str) -> Option<u16> {
    let (h, m) = text.split_once(':')?;
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    if m > 59 || h > 24 || (h == 24 && m != 0) {
        return None;
    }
    Some(h * 60 + m)
}

/// Common abbreviations and the zone people mean by them. None is a zone to write: most are
/// no IANA name, and those that are (`EST`, `MST`, `CET`) never change to summer time.
const ABBREVIATIONS: [(&str, &str); 22] = [
    ("IST", "Asia/Kolkata"),
    ("BST", "Europe/London"),
    ("WET", "Europe/London"),
    ("CET", "Europe/Paris"),
    ("CEST", "Europe/Paris"),
    ("EET", "Europe/Athens"),
    ("EST", "America/New_York"),
    ("EDT", "America/New_York"),
    ("ET", "America/New_York"),
    ("CST", "America/Chicago"),
    ("CDT", "America/Chicago"),
    ("MST", "America/Denver"),
    ("MDT", "America/Denver"),
    ("PST", "America/Los_Angeles"),
    ("PDT", "America/Los_Angeles"),
    ("PT", "America/Los_Angeles"),
    ("GST", "Asia/Dubai"),
    ("SGT", "Asia/Singapore"),
    ("HKT", "Asia/Hong_Kong"),
    ("JST", "Asia/Tokyo"),
    ("PKT", "Asia/Karachi"),
    ("AEST", "Australia/Sydney"),
];

/// Looks up an IANA time zone; on failure, the nearest known name.
fn time_zone(name: &str) -> Result<jiff::tz::TimeZone, Option<String>> {
    if let Some((_, meant)) = ABBREVIATIONS
        .iter()
        .find(|(abbreviation, _)| abbreviation.eq_ignore_ascii_case(name))
    {
        return Err(Some((*meant).to_string()));
    }
    jiff::tz::TimeZone::get(name).map_err(|_| {
        let names: Vec<String> = jiff::tz::db()
            .available()
            .map(|n| n.as_str().to_string())
            .collect();
        nearest(name, names.iter().map(String::as_str)).or_else(|| {
            // "Kolkata" alone, or "asia/kolkata": match the last part of a name.
            let last = name.rsplit('/').next().unwrap_or(name).to_lowercase();
            names
                .iter()
                .find(|n| {
                    n.rsplit('/')
                        .next()
                        .is_some_and(|l| l.to_lowercase() == last)
                })
                .cloned()
        })
    })
}

impl<'a> Checker<'a> {
    fn new(files: &'a SourceFiles) -> Self {
        Checker {
            files,
            diags: Diagnostics::default(),
            country: phone::india(),
            enums: Names::new(What::Enum),
            enum_defs: Vec::new(),
            sources: Names::new(What::Source),
            facts: Names::new(What::Facts),
            facts_groups: Vec::new(),
            agents: Names::new(What::Agent),
            agent_defs: Vec::new(),
            teams: Names::new(What::Team),
            maps: Names::new(What::Map),
            schedules: Names::new(What::Schedule),
            values: HashMap::new(),
            skills: Vec::new(),
            languages: Vec::new(),
            used: Used::default(),
            rejected_facts_sources: Vec::new(),
        }
    }

    fn error(&mut self, kind: Kind, span: Span) {
        self.diags.push(Diagnostic::new(kind, span));
    }

    fn policy(&mut self, policy: &'a ast::Policy) -> Option<CheckedPolicy> {
        let mut settings: HashMap<&'static str, &'a ast::Setting> = HashMap::new();
        let mut enums = Vec::new();
        let mut sources = Vec::new();
        let mut facts = Vec::new();
        let mut agents = Vec::new();
        let mut teams = Vec::new();
        let mut maps = Vec::new();
        let mut schedules = Vec::new();
        let mut rules = Vec::new();
        let mut otherwise: Vec<&ast::OtherwiseDecl> = Vec::new();

        // Declare every name first: declarations may come in any order and any file.
        for item in &policy.items {
            match item {
                ast::Item::Setting(s) => {
                    let key = s.kind.keyword();
                    if let Some(first) = settings.get(key) {
                        self.diags.push(
                            Diagnostic::new(
                                Kind::DuplicateSetting {
                                    setting: key.into(),
                                },
                                s.span,
                            )
                            .with_related(first.span, "first set here"),
                        );
                    } else {
                        settings.insert(key, s);
                    }
                }
                ast::Item::Enum(e) => {
                    if self.reserved(&e.name, true) {
                        continue;
                    }
                    if self.enums.declare(&e.name, &mut self.diags).is_some() {
                        enums.push(e);
                    }
                }
                ast::Item::Source(s) => {
                    if self.sources.declare(&s.name, &mut self.diags).is_some() {
                        sources.push(s);
                    }
                }
                ast::Item::Facts(f) => {
                    if let Some(id) = self.declare_value(&f.name, ValueName::Facts) {
                        self.facts.declare(&f.name, &mut self.diags);
                        debug_assert_eq!(id, facts.len());
                        facts.push(f);
                    } else {
                        self.rejected_facts_sources.push(f.source.name.clone());
                    }
                }
                ast::Item::Agent(a) => {
                    if self.agents.declare(&a.name, &mut self.diags).is_some() {
                        agents.push(a);
                    }
                }
                ast::Item::Team(t) => {
                    if self.teams.declare(&t.name, &mut self.diags).is_some() {
                        teams.push(t);
                    }
                }
                ast::Item::Map(m) => {
                    if self.declare_value(&m.name, ValueName::Map).is_some() {
                        self.maps.declare(&m.name, &mut self.diags);
                        maps.push(m);
                    }
                }
                ast::Item::Schedule(s) => {
                    if self.declare_value(&s.name, ValueName::Schedule).is_some() {
                        self.schedules.declare(&s.name, &mut self.diags);
                        schedules.push(s);
                    }
                }
                ast::Item::Rule(r) => rules.push(r),
                ast::Item::Otherwise(o) => otherwise.push(o),
            }
        }
        self.used.enums = vec![false; enums.len()];
        self.used.facts = vec![false; facts.len()];
        self.used.agents = vec![false; agents.len()];
        self.used.teams = vec![false; teams.len()];
        self.used.maps = vec![false; maps.len()];
        self.used.schedules = vec![false; schedules.len()];

        let name = match settings.get("policy") {
            Some(s) if !s.value.value.trim().is_empty() => s.value.value.clone(),
            _ => self.files.default_name.clone(),
        };
        let (timezone, timezone_name) = match settings.get("timezone") {
            Some(s) => match time_zone(&s.value.value) {
                Ok(tz) => (tz, s.value.value.clone()),
                Err(suggestion) => {
                    self.error(
                        Kind::InvalidTimezone {
                            name: s.value.value.clone(),
                            suggestion,
                        },
                        s.value.span,
                    );
                    (jiff::tz::TimeZone::UTC, s.value.value.clone())
                }
            },
            None => (
                time_zone("Asia/Kolkata").unwrap_or(jiff::tz::TimeZone::UTC),
                "Asia/Kolkata".into(),
            ),
        };
        if let Some(s) = settings.get("country") {
            match phone::country_by_code(&s.value.value) {
                Some(c) => self.country = c,
                None => self.error(
                    Kind::InvalidCountry {
                        code: s.value.value.clone(),
                    },
                    s.value.span,
                ),
            }
        }

        self.enum_defs = enums.iter().map(|e| self.enum_def(e)).collect();
        let source_defs: Vec<SourceDef> = sources.iter().map(|s| self.source_def(s)).collect();
        self.facts_groups = facts.iter().map(|f| self.facts_group(f)).collect();
        self.agent_defs = agents.iter().map(|a| self.agent_def(a)).collect();
        self.check_agent_numbers(&agents);
        for a in &self.agent_defs {
            for (skill, _) in &a.skills {
                if !self.skills.contains(skill) {
                    self.skills.push(skill.clone());
                }
            }
            for language in &a.languages {
                if !self.languages.contains(language) {
                    self.languages.push(language.clone());
                }
            }
        }
        let team_defs: Vec<TeamDef> = teams.iter().map(|t| self.team_def(t)).collect();
        let map_defs: Vec<MapDef> = maps.iter().map(|m| self.map_def(m)).collect();
        let schedule_defs: Vec<ScheduleDef> =
            schedules.iter().map(|s| self.schedule_def(s)).collect();

        let mut rule_names: Names = Names::new(What::Rule);
        let mut rule_defs = Vec::new();
        for rule in &rules {
            if let Some(name) = &rule.name
                && !self.reserved(name, false)
            {
                rule_names.declare(name, &mut self.diags);
            }
            if let Some(r) = self.rule(rule) {
                rule_defs.push(r);
            }
        }
        let otherwise_def = match otherwise.as_slice() {
            [] => {
                let last = self.files.ids().last().unwrap_or_default();
                let end = self.files.get(last).text.len();
                self.error(Kind::MissingOtherwise, Span::new(last, end, end));
                None
            }
            [first, rest @ ..] => {
                for o in rest {
                    self.diags.push(
                        Diagnostic::new(Kind::DuplicateOtherwise, o.span)
                            .with_related(first.span, "first `otherwise` here"),
                    );
                }
                let targets = self.targets(&first.targets);
                targets.map(|targets| RuleDef {
                    name: "otherwise".into(),
                    span: first.span,
                    head: first.span,
                    condition: Cond::Const(true),
                    targets,
                })
            }
        };

        self.warn_unused(&enums, &sources, &facts, &agents, &teams, &maps, &schedules);

        Some(CheckedPolicy {
            name,
            timezone,
            timezone_name,
            country: self.country,
            base_dir: self.files.base_dir.clone(),
            enums: self.enum_defs.clone(),
            sources: source_defs,
            facts: self.facts_groups.clone(),
            agents: self.agent_defs.clone(),
            teams: team_defs,
            maps: map_defs,
            schedules: schedule_defs,
            rules: rule_defs,
            otherwise: otherwise_def?,
        })
    }

    /// Reports a reserved name: `call` and `now` for values, built-in types for enums.
    fn reserved(&mut self, ident: &ast::Ident, is_type: bool) -> bool {
        let name = ident.name.as_str();
        let reserved = if is_type {
            BUILTIN_TYPES.iter().any(|(n, _)| *n == name) || name == "duration"
        } else {
            matches!(name, "call" | "now" | "otherwise")
        };
        if reserved {
            self.error(Kind::Reserved { name: name.into() }, ident.span);
        }
        reserved
    }

    fn declare_value(
        &mut self,
        ident: &'a ast::Ident,
        make: impl Fn(usize) -> ValueName,
    ) -> Option<usize> {
        if self.reserved(ident, false) {
            return None;
        }
        if let Some((_, first)) = self.values.get(ident.name.as_str()) {
            let what = match make(0) {
                ValueName::Facts(_) => What::Facts,
                ValueName::Map(_) => What::Map,
                ValueName::Schedule(_) => What::Schedule,
            };
            self.diags.push(
                Diagnostic::new(
                    Kind::Duplicate {
                        what,
                        name: ident.name.clone(),
                    },
                    ident.span,
                )
                .with_related(*first, "first defined here"),
            );
            return None;
        }
        let id = self
            .values
            .values()
            .filter(|(v, _)| std::mem::discriminant(v) == std::mem::discriminant(&make(0)))
            .count();
        self.values.insert(&ident.name, (make(id), ident.span));
        Some(id)
    }

    // ---- declarations --------------------------------------------------------------------

    fn enum_def(&mut self, e: &'a ast::EnumDecl) -> EnumDef {
        let mut variants = Names::new(What::Variant);
        for v in &e.variants {
            variants.declare(v, &mut self.diags);
        }
        let mut names: Vec<(usize, String)> = variants
            .index
            .iter()
            .map(|(n, i)| (*i, n.to_string()))
            .collect();
        names.sort();
        EnumDef {
            name: e.name.name.clone(),
            variants: names.into_iter().map(|(_, n)| n).collect(),
        }
    }

    fn source_def(&mut self, s: &'a ast::SourceDecl) -> SourceDef {
        let kind = SourceKind::ALL
            .iter()
            .find(|(n, _)| *n == s.kind.name)
            .map(|(_, k)| *k);
        let known_kind = kind.is_some();
        let kind = match kind {
            Some(k) => k,
            None => {
                let suggestion = nearest(&s.kind.name, SourceKind::ALL.iter().map(|(n, _)| *n));
                self.error(
                    Kind::Unknown {
                        what: What::SourceKind,
                        name: s.kind.name.clone(),
                        suggestion,
                        scope: None,
                    },
                    s.kind.span,
                );
                SourceKind::Http
            }
        };
        let mut def = SourceDef {
            name: s.name.name.clone(),
            kind,
            location: s.location.value.clone(),
            key: None,
            timeout: None,
            cache: None,
            headers: Vec::new(),
            query: None,
            span: s.name.span,
        };
        let mut seen: HashMap<&str, Span> = HashMap::new();
        for setting in &s.settings {
            let keyword = setting.keyword();
            let allowed = !known_kind
                || match kind {
                    SourceKind::Http => matches!(keyword, "timeout" | "cache" | "header"),
                    SourceKind::Csv | SourceKind::Json | SourceKind::Yaml => keyword == "key",
                    SourceKind::Sql | SourceKind::Sqlite => {
                        matches!(keyword, "timeout" | "cache" | "query")
                    }
                };
            if !allowed {
                self.error(
                    Kind::SettingNotAllowed {
                        setting: keyword.into(),
                        kind: kind.name().into(),
                    },
                    setting.span(),
                );
                continue;
            }
            if keyword != "header"
                && let Some(first) = seen.insert(keyword, setting.span())
            {
                self.diags.push(
                    Diagnostic::new(
                        Kind::DuplicateSetting {
                            setting: keyword.into(),
                        },
                        setting.span(),
                    )
                    .with_related(first, "first set here"),
                );
            }
            match setting {
                ast::SourceSetting::Key(k) => def.key = Some(k.value.clone()),
                ast::SourceSetting::Query(q) => def.query = Some(q.value.clone()),
                ast::SourceSetting::Timeout(d) => def.timeout = self.duration(d),
                ast::SourceSetting::Cache(d) => def.cache = self.duration(d),
                ast::SourceSetting::Header { name, value, .. } => {
                    let value = match value {
                        ast::HeaderValue::Literal(s) => HeaderValue::Literal(s.value.clone()),
                        ast::HeaderValue::Env(s) => HeaderValue::Env(s.value.clone()),
                    };
                    def.headers.push((name.value.clone(), value));
                }
            }
        }
        if kind.is_file() && def.key.is_none() {
            self.error(
                Kind::MissingKey {
                    source: def.name.clone(),
                    kind: kind.name().into(),
                },
                s.name.span,
            );
        }
        if matches!(kind, SourceKind::Sql | SourceKind::Sqlite) && def.query.is_none() {
            self.error(
                Kind::MissingQuery {
                    source: def.name.clone(),
                },
                s.name.span,
            );
        }
        if kind == SourceKind::Http {
            self.check_placeholders(&s.location);
        }
        def
    }

    /// Every `{…}` in an http source's URL must name a call field.
    fn check_placeholders(&mut self, url: &ast::Str) {
        let raw = &url.value;
        let mut rest = raw.as_str();
        let mut offset = 0;
        while let Some(open) = rest.find('{') {
            let Some(close) = rest[open..].find('}') else {
                break;
            };
            let inner = &rest[open + 1..open + close];
            let field = inner.strip_prefix("call.");
            let known = field.is_some_and(|f| CallField::ALL.iter().any(|(n, _, _)| *n == f));
            if !known {
                // Spans are only exact when the string has no escapes; else the whole string.
                let span = if url.span.len() == raw.len() + 2 {
                    let start = url.span.start as usize + 1 + offset + open;
                    Span::new(url.span.file, start, start + close + 1)
                } else {
                    url.span
                };
                self.error(
                    Kind::BadPlaceholder {
                        text: format!("{{{inner}}}"),
                    },
                    span,
                );
            }
            offset += open + close + 1;
            rest = &rest[open + close + 1..];
        }
    }

    fn duration(&mut self, d: &ast::Duration) -> Option<Duration> {
        let parsed = parse_duration(&d.text);
        if parsed.is_none() {
            self.error(
                Kind::InvalidNumber {
                    what: "duration",
                    text: d.text.clone(),
                    expected: "a duration such as `800ms` or `5m`",
                },
                d.span,
            );
        }
        parsed
    }

    fn facts_group(&mut self, f: &'a ast::FactsDecl) -> FactsGroup {
        let source = match self.sources.get(&f.source.name) {
            Some(id) => id,
            None => {
                let suggestion = self.sources.nearest(&f.source.name);
                // Counted as reading the source it most likely names, so it is not unused.
                let meant = suggestion.as_deref().and_then(|s| self.sources.get(s));
                self.error(
                    Kind::Unknown {
                        what: What::Source,
                        name: f.source.name.clone(),
                        suggestion,
                        scope: None,
                    },
                    f.source.span,
                );
                meant.unwrap_or(usize::MAX)
            }
        };
        let mut names = Names::new(What::Field);
        let mut fields = Vec::new();
        for field in &f.fields {
            if names.declare(&field.name, &mut self.diags).is_none() {
                continue;
            }
            let ty = self.field_type(&field.ty);
            fields.push(FactField {
                name: field.name.name.clone(),
                ty,
            });
        }
        FactsGroup {
            name: f.name.name.clone(),
            source,
            fields,
        }
    }

    fn field_type(&mut self, ident: &ast::Ident) -> Type {
        if let Some((_, ty)) = BUILTIN_TYPES.iter().find(|(n, _)| *n == ident.name) {
            return *ty;
        }
        if let Some(id) = self.enums.get(&ident.name) {
            self.used.enums[id] = true;
            return Type::Enum(id);
        }
        let candidates: Vec<&str> = BUILTIN_TYPES
            .iter()
            .map(|(n, _)| *n)
            .chain(self.enums.index.keys().copied())
            .collect();
        let suggestion = nearest(&ident.name, candidates);
        if let Some(id) = suggestion.as_deref().and_then(|s| self.enums.get(s)) {
            self.used.enums[id] = true;
        }
        // Declared enums are capitalised by convention: `Teir` is more likely an enum.
        let what = if ident.name.starts_with(char::is_uppercase) {
            What::Enum
        } else {
            What::Type
        };
        self.error(
            Kind::Unknown {
                what,
                name: ident.name.clone(),
                suggestion,
                scope: None,
            },
            ident.span,
        );
        Type::String
    }

    fn agent_def(&mut self, a: &'a ast::AgentDecl) -> AgentDef {
        for (clause, span) in &a.repeated {
            self.error(
                Kind::DuplicateSetting {
                    setting: (*clause).into(),
                },
                *span,
            );
        }
        let number = match phone::normalize(&a.number.value, self.country) {
            Some(n) => n,
            None => {
                self.error(
                    Kind::InvalidPhone {
                        text: a.number.value.clone(),
                    },
                    a.number.span,
                );
                a.number.value.clone()
            }
        };
        let mut skills = Vec::new();
        let mut skill_names = Names::new(What::Skill);
        for skill in a.skills.iter().flatten() {
            if skill_names.declare(&skill.name, &mut self.diags).is_none() {
                continue;
            }
            let level = match &skill.level {
                Some(n) => self
                    .count(n, "a skill level", 0, 100)
                    .map_or(1.0, f64::from),
                None => 1.0,
            };
            skills.push((skill.name.name.clone(), level));
        }
        let mut languages: Vec<String> = Vec::new();
        for language in a.languages.iter().flatten() {
            if languages.contains(&language.name) {
                self.error(
                    Kind::Duplicate {
                        what: What::Language,
                        name: language.name.clone(),
                    },
                    language.span,
                );
            } else {
                languages.push(language.name.clone());
            }
        }
        let weight = a
            .weight
            .as_ref()
            .and_then(|w| self.count(w, "a weight", 1, 1_000))
            .unwrap_or(1);
        AgentDef {
            name: a.name.name.clone(),
            number,
            skills,
            languages,
            weight,
        }
    }

    fn check_agent_numbers(&mut self, agents: &[&'a ast::AgentDecl]) {
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (i, def) in self.agent_defs.iter().enumerate() {
            if let Some(&first) = seen.get(&def.number) {
                self.diags.push(
                    Diagnostic::new(
                        Kind::SameNumber {
                            agent: def.name.clone(),
                            other: self.agent_defs[first].name.clone(),
                        },
                        agents[i].number.span,
                    )
                    .with_related(agents[first].number.span, "first used here"),
                );
            } else {
                seen.insert(def.number.clone(), i);
            }
        }
    }

    /// A whole number in `min..=max`.
    fn count(&mut self, n: &ast::Num, what: &'static str, min: u32, max: u32) -> Option<u32> {
        let value = n.text.replace('_', "").parse::<u32>().ok();
        match value {
            Some(v) if (min..=max).contains(&v) => Some(v),
            _ => {
                let expected = match (what, min) {
                    ("a weight", _) => "a whole number from 1 to 1000",
                    ("a skill level", _) => "a whole number from 0 to 100",
                    ("`ring`", _) => "a whole number from 1 to 100",
                    _ => "a whole number from 0 to 1000000",
                };
                self.error(
                    Kind::InvalidNumber {
                        what,
                        text: n.text.clone(),
                        expected,
                    },
                    n.span,
                );
                None
            }
        }
    }

    fn strategy(&mut self, ident: &ast::Ident) -> Strategy {
        Strategy::from_name(&ident.name).unwrap_or_else(|| {
            let suggestion = nearest(&ident.name, crate::vocabulary::Strategy::names());
            self.error(
                Kind::Unknown {
                    what: What::Strategy,
                    name: ident.name.clone(),
                    suggestion,
                    scope: None,
                },
                ident.span,
            );
            Strategy::Sequential
        })
    }

    fn team_def(&mut self, t: &'a ast::TeamDecl) -> TeamDef {
        for (clause, span) in &t.repeated {
            self.error(
                Kind::DuplicateSetting {
                    setting: (*clause).into(),
                },
                *span,
            );
        }
        if t.members.is_empty() {
            self.error(
                Kind::EmptyTeam {
                    team: t.name.name.clone(),
                },
                t.members_span,
            );
        }
        let mut members = Vec::new();
        for m in &t.members {
            let Some(id) = self.agent(m) else { continue };
            if members.contains(&id) {
                self.error(
                    Kind::DuplicateMember {
                        agent: m.name.clone(),
                        team: t.name.name.clone(),
                    },
                    m.span,
                );
            } else {
                members.push(id);
            }
        }
        let strategy = t
            .strategy
            .as_ref()
            .map_or(Strategy::Sequential, |s| self.strategy(s));
        let ring = t
            .ring
            .as_ref()
            .and_then(|r| self.count(r, "`ring`", 1, 100));
        TeamDef {
            name: t.name.name.clone(),
            members,
            strategy,
            ring,
        }
    }

    /// Resolves a declared agent by name, marking it used.
    fn agent(&mut self, ident: &ast::Ident) -> Option<AgentId> {
        match self.agents.get(&ident.name) {
            Some(id) => {
                self.used.agents[id] = true;
                Some(id)
            }
            None => {
                let suggestion = self.agents.nearest(&ident.name);
                // A misspelt reference still means to use what it most likely names.
                if let Some(id) = suggestion.as_deref().and_then(|s| self.agents.get(s)) {
                    self.used.agents[id] = true;
                }
                self.error(
                    Kind::Unknown {
                        what: What::Agent,
                        name: ident.name.clone(),
                        suggestion,
                        scope: None,
                    },
                    ident.span,
                );
                None
            }
        }
    }

    fn team(&mut self, ident: &ast::Ident) -> Option<TeamId> {
        match self.teams.get(&ident.name) {
            Some(id) => {
                self.used.teams[id] = true;
                Some(id)
            }
            None => {
                let suggestion = self.teams.nearest(&ident.name);
                // A misspelt reference still means to use what it most likely names.
                if let Some(id) = suggestion.as_deref().and_then(|s| self.teams.get(s)) {
                    self.used.teams[id] = true;
                }
                self.error(
                    Kind::Unknown {
                        what: What::Team,
                        name: ident.name.clone(),
                        suggestion,
                        scope: None,
                    },
                    ident.span,
                );
                None
            }
        }
    }

    fn map_def(&mut self, m: &'a ast::MapDecl) -> MapDef {
        let input = match self.term(&m.input) {
            Term::Value(v, Type::Phone | Type::String) => v,
            Term::Value(_, ty) => {
                let found = type_name(ty, &self.enum_defs);
                self.error(Kind::NotText { found }, m.input.span());
                Value::Call(CallField::From)
            }
            Term::Text(_) | Term::Schedule(_) => {
                self.error(
                    Kind::NotText {
                        found: "literal".into(),
                    },
                    m.input.span(),
                );
                Value::Call(CallField::From)
            }
            Term::Bare(b) => {
                self.unknown_value(b);
                Value::Call(CallField::From)
            }
            Term::Invalid => Value::Call(CallField::From),
        };
        let mut entries: Vec<(String, String)> = Vec::new();
        let mut spans: HashMap<String, Span> = HashMap::new();
        for (prefix, value) in &m.entries {
            let Some(normal) = phone::normalize_prefix(&prefix.value, self.country) else {
                self.error(
                    Kind::InvalidPrefix {
                        text: prefix.value.clone(),
                    },
                    prefix.span,
                );
                continue;
            };
            if let Some(first) = spans.get(&normal) {
                self.diags.push(
                    Diagnostic::new(
                        Kind::DuplicatePrefix {
                            prefix: normal.clone(),
                        },
                        prefix.span,
                    )
                    .with_related(*first, "first listed here"),
                );
                continue;
            }
            spans.insert(normal.clone(), prefix.span);
            entries.push((normal, value.value.clone()));
        }
        MapDef {
            name: m.name.name.clone(),
            input,
            entries,
            file: m.file.as_ref().map(|f| DataFileRef {
                path: f.value.clone(),
                span: f.span,
            }),
        }
    }

    fn schedule_def(&mut self, s: &'a ast::ScheduleDecl) -> ScheduleDef {
        let mut def = ScheduleDef {
            name: s.name.name.clone(),
            timezone: None,
            windows: Vec::new(),
            closed: Vec::new(),
            closed_files: Vec::new(),
        };
        let mut timezone_span: Option<Span> = None;
        for line in &s.lines {
            match line {
                ast::ScheduleLine::Timezone(tz) => {
                    if let Some(first) = timezone_span {
                        self.diags.push(
                            Diagnostic::new(
                                Kind::DuplicateSetting {
                                    setting: "timezone".into(),
                                },
                                tz.span,
                            )
                            .with_related(first, "first set here"),
                        );
                        continue;
                    }
                    timezone_span = Some(tz.span);
                    match time_zone(&tz.value) {
                        Ok(zone) => def.timezone = Some(zone),
                        Err(suggestion) => self.error(
                            Kind::InvalidTimezone {
                                name: tz.value.clone(),
                                suggestion,
                            },
                            tz.span,
                        ),
                    }
                }
                ast::ScheduleLine::ClosedFrom(file) => def.closed_files.push(DataFileRef {
                    path: file.value.clone(),
                    span: file.span,
                }),
                ast::ScheduleLine::Closed(dates) => {
                    for d in dates {
                        match d.text.parse::<jiff::civil::Date>() {
                            Ok(date) => def.closed.push(date),
                            Err(_) => self.error(
                                Kind::InvalidDate {
                                    text: d.text.clone(),
                                },
                                d.span,
                            ),
                        }
                    }
                }
                ast::ScheduleLine::Window { days, times, .. } => {
                    let mut mask = 0u8;
                    for spec in days {
                        mask |= self.days(spec);
                    }
                    for range in times {
                        let start = self.time(&range.start, false);
                        let end = self.time(&range.end, true);
                        let (Some(start), Some(end)) = (start, end) else {
                            continue;
                        };
                        if start == end || (start == 0 && end == 0) {
                            self.error(Kind::EmptyWindow, range.span);
                            continue;
                        }
                        def.windows.push(ScheduleWindow {
                            days: mask,
                            start,
                            end,
                        });
                    }
                }
            }
        }
        def
    }

    /// The weekday bit mask of `mon` or `mon-fri` (ranges may wrap: `fri-mon`).
    fn days(&mut self, spec: &ast::DaySpec) -> u8 {
        let first = self.day(&spec.first);
        let last = spec.last.as_ref().map(|l| self.day(l));
        match (first, last) {
            (Some(f), None) => 1 << f,
            (Some(f), Some(Some(l))) => {
                let mut mask = 0;
                let mut d = f;
                loop {
                    mask |= 1 << d;
                    if d == l {
                        break mask;
                    }
                    d = (d + 1) % 7;
                }
            }
            _ => 0,
        }
    }

    fn day(&mut self, ident: &ast::Ident) -> Option<u8> {
        let lower = ident.name.to_lowercase();
        if let Some(i) = WEEKDAYS.iter().position(|d| *d == lower) {
            return Some(i as u8);
        }
        // "monday" → mon: accept full names too.
        if let Some(i) = WEEKDAYS.iter().position(|d| {
            lower.len() > 3 && lower.starts_with(d) && {
                let full = [
                    "monday",
                    "tuesday",
                    "wednesday",
                    "thursday",
                    "friday",
                    "saturday",
                    "sunday",
                ];
                full.contains(&lower.as_str())
            }
        }) {
            return Some(i as u8);
        }
        self.error(
            Kind::Unknown {
                what: What::Day,
                name: ident.name.clone(),
                suggestion: nearest(&lower, WEEKDAYS),
                scope: None,
            },
            ident.span,
        );
        None
    }

    fn time(&mut self, t: &ast::Time, is_end: bool) -> Option<u16> {
        let kind = match parse_time(&t.text) {
            Some(m) if m == 24 * 60 && !is_end => Kind::StartAtEndOfDay,
            Some(m) => return Some(m),
            None => Kind::InvalidTime {
                text: t.text.clone(),
            },
        };
        self.error(kind, t.span);
        None
    }

    // ---- rules ---------------------------------------------------------------------------

    fn rule(&mut self, r: &'a ast::RuleDecl) -> Option<RuleDef> {
        let name = match &r.name {
            Some(n) => n.name.clone(),
            None => {
                let file = self.files.get(r.span.file);
                let (line, _) = file.line_col(r.when_span.start as usize);
                // In a policy of several files, a line number alone names no rule.
                if self.files.files.len() > 1 {
                    let name = file
                        .path
                        .strip_prefix(&self.files.base_dir)
                        .unwrap_or(&file.path);
                    format!("{}:{line}", name.display())
                } else {
                    format!("line {line}")
                }
            }
        };
        let condition = self.cond(&r.condition);
        let targets = self.targets(&r.targets);
        Some(RuleDef {
            name,
            span: r.span,
            head: r.name.as_ref().map_or(r.when_span, |n| n.span),
            condition: condition?,
            targets: targets?,
        })
    }

    fn cond(&mut self, e: &'a ast::Expr) -> Option<Cond> {
        match e {
            ast::Expr::Not(inner, _) => Some(Cond::Not(Box::new(self.cond(inner)?))),
            ast::Expr::And(items, _) => {
                let items: Vec<Option<Cond>> = items.iter().map(|i| self.cond(i)).collect();
                Some(Cond::And(items.into_iter().collect::<Option<_>>()?))
            }
            ast::Expr::Or(items, _) => {
                let items: Vec<Option<Cond>> = items.iter().map(|i| self.cond(i)).collect();
                Some(Cond::Or(items.into_iter().collect::<Option<_>>()?))
            }
            ast::Expr::Value(o) => match self.term(o) {
                Term::Value(v, Type::Bool) => Some(Cond::Test(v)),
                Term::Schedule(id) => Some(Cond::Schedule(id)),
                Term::Value(Value::Literal(Literal::Bool(b)), _) => Some(Cond::Const(b)),
                Term::Value(_, ty) => {
                    let found = type_name(ty, &self.enum_defs);
                    self.error(Kind::NotCondition { found }, o.span());
                    None
                }
                Term::Text(s) => {
                    self.error(
                        Kind::NotCondition {
                            found: "string".into(),
                        },
                        s.span,
                    );
                    None
                }
                Term::Bare(b) => {
                    self.unknown_value(b);
                    None
                }
                Term::Invalid => None,
            },
            ast::Expr::Exists(o, _) => match self.term(o) {
                Term::Value(Value::Literal(_), ty) => {
                    let ty = type_name(ty, &self.enum_defs);
                    self.error(
                        Kind::OperatorType {
                            op: "exists".into(),
                            ty: format!("{ty} literal"),
                        },
                        o.span(),
                    );
                    None
                }
                Term::Value(v, _) => Some(Cond::Exists(v)),
                Term::Schedule(_) | Term::Text(_) => {
                    self.error(
                        Kind::OperatorType {
                            op: "exists".into(),
                            ty: "literal".into(),
                        },
                        o.span(),
                    );
                    None
                }
                Term::Bare(b) => {
                    self.unknown_value(b);
                    None
                }
                Term::Invalid => None,
            },
            ast::Expr::Compare {
                left,
                op,
                op_span,
                right,
                ..
            } => self.compare(left, *op, op.symbol(), *op_span, right),
            ast::Expr::In { left, list, span } => {
                if list.is_empty() {
                    let test = "in []".to_string();
                    let kind = Kind::Vacuous {
                        test,
                        always: false,
                    };
                    self.diags.push(Diagnostic::new(kind, *span));
                }
                self.in_list(left, list)
            }
        }
    }

    fn compare(
        &mut self,
        left: &'a ast::Operand,
        op: CompareOp,
        symbol: &str,
        op_span: Span,
        right: &'a ast::Operand,
    ) -> Option<Cond> {
        let l = self.term(left);
        let r = self.term(right);
        for (t, o) in [(&l, left), (&r, right)] {
            if let Term::Schedule(id) = t {
                let name = self.schedule_name(*id);
                self.error(
                    Kind::NotValue {
                        what: What::Schedule,
                        name,
                    },
                    o.span(),
                );
                return None;
            }
        }
        let (ty, left_anchors) = match (&l, &r) {
            (Term::Invalid, _) | (_, Term::Invalid) => return None,
            (Term::Value(_, t), _) => (*t, true),
            (_, Term::Value(_, t)) => (*t, false),
            (Term::Text(_), Term::Text(_)) => (Type::String, true),
            (Term::Bare(b), _) | (_, Term::Bare(b)) => {
                self.unknown_value(b);
                return None;
            }
            (Term::Schedule(_), _) | (_, Term::Schedule(_)) => return None,
        };
        let allowed = match op {
            CompareOp::Eq | CompareOp::Ne => true,
            CompareOp::Lt | CompareOp::Le | CompareOp::Gt | CompareOp::Ge => {
                matches!(ty, Type::Number | Type::Enum(_))
            }
            CompareOp::StartsWith => matches!(ty, Type::String | Type::Phone),
            CompareOp::Contains => ty == Type::String,
        };
        if !allowed {
            let ty_name = type_name(ty, &self.enum_defs);
            let kind = if matches!(
                op,
                CompareOp::Lt | CompareOp::Le | CompareOp::Gt | CompareOp::Ge
            ) {
                Kind::NotOrdered {
                    ty: ty_name,
                    op: symbol.into(),
                }
            } else {
                Kind::OperatorType {
                    op: symbol.into(),
                    ty: ty_name,
                }
            };
            self.error(kind, op_span);
            return None;
        }
        let prefix = op == CompareOp::StartsWith;
        let (l, r) = if left_anchors {
            let lv = self.coerce(l, ty, false, left.span())?;
            let rv = self.coerce(r, ty, prefix, right.span())?;
            (lv, rv)
        } else {
            let rv = self.coerce(r, ty, false, right.span())?;
            let lv = self.coerce(l, ty, false, left.span())?;
            (lv, rv)
        };
        let domain = match (&l, &r) {
            (_, Value::Literal(lit)) => domain::impossible(&l, op, lit).map(|k| (k, right.span())),
            (Value::Literal(lit), _) => {
                domain::impossible(&r, domain::flipped(op), lit).map(|k| (k, left.span()))
            }
            _ => None,
        };
        if let Some((kind, span)) = domain {
            self.error(kind, span);
            return None;
        }
        if op == CompareOp::StartsWith
            && matches!(&r, Value::Literal(Literal::String(p) | Literal::Phone(p)) if p.is_empty())
        {
            let test = "starts_with \"\"".to_string();
            self.diags.push(Diagnostic::new(
                Kind::Vacuous { test, always: true },
                right.span(),
            ));
        }
        Some(Cond::Compare {
            left: l,
            op,
            right: r,
        })
    }

    fn in_list(&mut self, left: &'a ast::Operand, list: &'a [ast::Operand]) -> Option<Cond> {
        let (value, ty) = match self.term(left) {
            Term::Value(v, t) => (v, t),
            Term::Text(s) => (
                Value::Literal(Literal::String(s.value.clone())),
                Type::String,
            ),
            Term::Schedule(id) => {
                let name = self.schedule_name(id);
                self.error(
                    Kind::NotValue {
                        what: What::Schedule,
                        name,
                    },
                    left.span(),
                );
                return None;
            }
            Term::Bare(b) => {
                self.unknown_value(b);
                return None;
            }
            Term::Invalid => return None,
        };
        let mut literals = Vec::new();
        let mut ok = true;
        for item in list {
            let term = self.term(item);
            match self.coerce(term, ty, false, item.span()) {
                Some(Value::Literal(l)) => {
                    if let Some(kind) = domain::impossible(&value, CompareOp::Eq, &l) {
                        self.error(kind, item.span());
                        ok = false;
                    }
                    literals.push(l);
                }
                Some(_) => {
                    self.error(Kind::NotLiteral, item.span());
                    ok = false;
                }
                None => ok = false,
            }
        }
        ok.then_some(Cond::In {
            value,
            list: literals,
        })
    }

    fn schedule_name(&self, id: ScheduleId) -> String {
        self.values
            .iter()
            .find(|(_, (v, _))| matches!(v, ValueName::Schedule(s) if *s == id))
            .map_or_else(String::new, |(n, _)| n.to_string())
    }

    /// Matches a term against the type of the other side of a comparison.
    fn coerce(&mut self, term: Term<'a>, ty: Type, prefix: bool, span: Span) -> Option<Value> {
        match term {
            Term::Invalid | Term::Schedule(_) => None,
            Term::Value(v, t) if t == ty => Some(v),
            Term::Value(_, t) => {
                let left = type_name(ty, &self.enum_defs);
                let right = type_name(t, &self.enum_defs);
                self.error(Kind::Mismatch { left, right }, span);
                None
            }
            Term::Text(s) => self.literal(&s.value, s.span, ty, prefix, false),
            Term::Bare(b) => self.literal(&b.name, b.span, ty, prefix, true),
        }
    }

    /// A quoted text or a bare word read as a literal of type `ty`.
    fn literal(
        &mut self,
        text: &str,
        span: Span,
        ty: Type,
        prefix: bool,
        bare: bool,
    ) -> Option<Value> {
        let literal = match ty {
            Type::Enum(e) => {
                let def = &self.enum_defs[e];
                match def.variants.iter().position(|v| v == text) {
                    Some(i) => Literal::Enum {
                        ty: e,
                        variant: i as u32,
                    },
                    None => {
                        let suggestion = nearest(text, def.variants.iter().map(String::as_str));
                        let scope = Some(def.name.clone());
                        self.error(
                            Kind::Unknown {
                                what: What::Variant,
                                name: text.into(),
                                suggestion,
                                scope,
                            },
                            span,
                        );
                        return None;
                    }
                }
            }
            Type::Agent => {
                let ident = ast::Ident {
                    name: text.into(),
                    span,
                };
                Literal::Agent(self.agent(&ident)?)
            }
            _ if bare => {
                self.error(Kind::BareWord { name: text.into() }, span);
                return None;
            }
            Type::String => Literal::String(text.into()),
            Type::Phone if prefix => match phone::normalize_prefix(text, self.country) {
                Some(p) => Literal::String(p),
                None => {
                    self.error(Kind::InvalidPrefix { text: text.into() }, span);
                    return None;
                }
            },
            Type::Phone => match phone::normalize(text, self.country) {
                Some(p) => Literal::Phone(p),
                None => {
                    self.error(Kind::InvalidPhone { text: text.into() }, span);
                    return None;
                }
            },
            Type::Number | Type::Bool => {
                let left = type_name(ty, &self.enum_defs);
                self.error(
                    Kind::Mismatch {
                        left,
                        right: "string".into(),
                    },
                    span,
                );
                return None;
            }
        };
        Some(Value::Literal(literal))
    }

    /// Reports a bare word that names nothing, as the kind of thing it most likely misspells.
    fn unknown_value(&mut self, ident: &ast::Ident) {
        let candidates: Vec<&str> = self.values.keys().copied().collect();
        match nearest(&ident.name, candidates) {
            Some(s) => {
                let what = match self.values.get(s.as_str()) {
                    Some((ValueName::Map(_), _)) => What::Map,
                    Some((ValueName::Schedule(_), _)) => What::Schedule,
                    Some((ValueName::Facts(_), _)) => What::Facts,
                    None => What::Name,
                };
                self.error(
                    Kind::Unknown {
                        what,
                        name: ident.name.clone(),
                        suggestion: Some(s),
                        scope: None,
                    },
                    ident.span,
                )
            }
            None => self.error(
                Kind::BareWord {
                    name: ident.name.clone(),
                },
                ident.span,
            ),
        }
    }

    /// Looks up the names in an operand.
    fn term(&mut self, o: &'a ast::Operand) -> Term<'a> {
        match o {
            ast::Operand::Str(s) => Term::Text(s),
            ast::Operand::Bool(b, _) => Term::Value(Value::Literal(Literal::Bool(*b)), Type::Bool),
            ast::Operand::Num(n) => match n.text.replace('_', "").parse::<f64>() {
                Ok(v) if v.is_finite() => {
                    Term::Value(Value::Literal(Literal::Number(v)), Type::Number)
                }
                _ => {
                    self.error(
                        Kind::InvalidNumber {
                            what: "number",
                            text: n.text.clone(),
                            expected: "a finite number",
                        },
                        n.span,
                    );
                    Term::Invalid
                }
            },
            ast::Operand::Path(p) => self.path(p),
        }
    }

    fn path(&mut self, p: &'a ast::Path) -> Term<'a> {
        let first = &p.segments[0];
        let rest = &p.segments[1..];
        if let Some((value, _)) = self.values.get(first.name.as_str()).copied() {
            return match (value, rest) {
                (ValueName::Map(id), []) => {
                    self.used.maps[id] = true;
                    Term::Value(Value::Map(id), Type::String)
                }
                (ValueName::Schedule(id), []) => {
                    self.used.schedules[id] = true;
                    Term::Schedule(id)
                }
                (ValueName::Facts(id), []) => {
                    let fields = self.facts_groups[id]
                        .fields
                        .iter()
                        .map(|f| f.name.clone())
                        .collect();
                    self.error(
                        Kind::NeedsField {
                            name: first.name.clone(),
                            what: What::Facts,
                            fields,
                        },
                        p.span,
                    );
                    Term::Invalid
                }
                (ValueName::Facts(id), rest) => {
                    let field: Vec<&str> = rest.iter().map(|s| s.name.as_str()).collect();
                    let field = field.join(".");
                    let group = &self.facts_groups[id];
                    let declared = group.fields.iter().position(|f| f.name == field);
                    if declared.is_none() && first.name == "caller" && field == "last_agent" {
                        return Term::Value(Value::LastAgent, Type::Agent);
                    }
                    match declared {
                        Some(i) => {
                            self.used.facts[id] = true;
                            Term::Value(
                                Value::Fact {
                                    group: id,
                                    field: i,
                                },
                                group.fields[i].ty,
                            )
                        }
                        None => {
                            // The group was meant, only the field is wrong: it is used.
                            self.used.facts[id] = true;
                            let group = &self.facts_groups[id];
                            let suggestion =
                                nearest(&field, group.fields.iter().map(|f| f.name.as_str()));
                            let span = rest[0].span.to(rest[rest.len() - 1].span);
                            let scope = Some(group.name.clone());
                            self.error(
                                Kind::Unknown {
                                    what: What::Field,
                                    name: field,
                                    suggestion,
                                    scope,
                                },
                                span,
                            );
                            Term::Invalid
                        }
                    }
                }
                (ValueName::Map(_) | ValueName::Schedule(_), _) => {
                    let what = if matches!(value, ValueName::Map(_)) {
                        What::Map
                    } else {
                        What::Schedule
                    };
                    self.error(
                        Kind::HasNoFields {
                            what,
                            name: first.name.clone(),
                        },
                        p.span,
                    );
                    Term::Invalid
                }
            };
        }
        match (first.name.as_str(), rest) {
            ("call" | "now", []) => {
                let fields = if first.name == "call" {
                    CallField::ALL
                        .iter()
                        .map(|(n, _, _)| n.to_string())
                        .collect()
                } else {
                    NowField::ALL
                        .iter()
                        .map(|(n, _, _)| n.to_string())
                        .collect()
                };
                self.error(
                    Kind::NeedsField {
                        name: first.name.clone(),
                        what: What::Name,
                        fields,
                    },
                    p.span,
                );
                Term::Invalid
            }
            ("call", [field]) => match CallField::ALL.iter().find(|(n, _, _)| *n == field.name) {
                Some((_, f, ty)) => Term::Value(Value::Call(*f), *ty),
                None => {
                    let suggestion =
                        nearest(&field.name, CallField::ALL.iter().map(|(n, _, _)| *n));
                    self.error(
                        Kind::Unknown {
                            what: What::CallField,
                            name: field.name.clone(),
                            suggestion,
                            scope: None,
                        },
                        field.span,
                    );
                    Term::Invalid
                }
            },
            ("now", [field]) => match NowField::ALL.iter().find(|(n, _, _)| *n == field.name) {
                Some((_, f, ty)) => Term::Value(Value::Now(*f), *ty),
                None => {
                    let suggestion = nearest(&field.name, NowField::ALL.iter().map(|(n, _, _)| *n));
                    self.error(
                        Kind::Unknown {
                            what: What::NowField,
                            name: field.name.clone(),
                            suggestion,
                            scope: None,
                        },
                        field.span,
                    );
                    Term::Invalid
                }
            },
            ("call" | "now", more) => {
                let span = more[0].span.to(more[more.len() - 1].span);
                let name: Vec<&str> = more.iter().map(|s| s.name.as_str()).collect();
                let what = if first.name == "call" {
                    What::CallField
                } else {
                    What::NowField
                };
                self.error(
                    Kind::Unknown {
                        what,
                        name: name.join("."),
                        suggestion: None,
                        scope: None,
                    },
                    span,
                );
                Term::Invalid
            }
            (_, []) => Term::Bare(first),
            // Built in, from agent state: the agent who last spoke with this caller.
            ("caller", [field]) if field.name == "last_agent" => {
                Term::Value(Value::LastAgent, Type::Agent)
            }
            (_, _) => {
                let candidates: Vec<&str> = self
                    .values
                    .iter()
                    .filter(|(_, (v, _))| matches!(v, ValueName::Facts(_)))
                    .map(|(n, _)| *n)
                    .chain(["call", "now"])
                    .collect();
                let suggestion = nearest(&first.name, candidates);
                self.error(
                    Kind::Unknown {
                        what: What::Facts,
                        name: first.name.clone(),
                        suggestion,
                        scope: None,
                    },
                    first.span,
                );
                Term::Invalid
            }
        }
    }

    fn targets(&mut self, targets: &'a [ast::Target]) -> Option<Vec<Target>> {
        let checked: Vec<Option<Target>> = targets.iter().map(|t| self.target(t)).collect();
        checked.into_iter().collect()
    }

    fn target(&mut self, t: &'a ast::Target) -> Option<Target> {
        match t {
            ast::Target::Team(ident, _) => self.team(ident).map(Target::Team),
            ast::Target::Agent(path, _) => {
                if let [ident] = path.segments.as_slice()
                    && !self.values.contains_key(ident.name.as_str())
                {
                    return self.agent(ident).map(Target::Agent);
                }
                match self.path(path) {
                    Term::Value(v, Type::Agent | Type::Phone | Type::String) => {
                        self.used.any_agent = true;
                        Some(Target::AgentFrom(v))
                    }
                    Term::Value(_, ty) => {
                        let found = type_name(ty, &self.enum_defs);
                        self.error(Kind::NotAgentValue { found }, path.span);
                        None
                    }
                    Term::Schedule(_) => {
                        self.error(
                            Kind::NotAgentValue {
                                found: "schedule".into(),
                            },
                            path.span,
                        );
                        None
                    }
                    _ => None,
                }
            }
            ast::Target::Agents {
                filter,
                using,
                ring,
                ..
            } => {
                self.used.any_agent = true;
                let filter = self.filter(filter);
                let strategy = using
                    .as_ref()
                    .map_or(Strategy::LongestIdle, |s| self.strategy(s));
                let ring = match ring {
                    Some(r) => Some(self.count(r, "`ring`", 1, 100)?),
                    None => None,
                };
                Some(Target::Agents {
                    filter: filter?,
                    strategy,
                    ring,
                })
            }
            ast::Target::Number(s, _) => match phone::normalize(&s.value, self.country) {
                Some(n) => Some(Target::Number(n)),
                None => {
                    self.error(
                        Kind::InvalidPhone {
                            text: s.value.clone(),
                        },
                        s.span,
                    );
                    None
                }
            },
            ast::Target::Queue { name, priority, .. } => {
                let priority = match priority {
                    Some(p) => Some(i64::from(self.count(p, "`priority`", 0, 1_000_000)?)),
                    None => None,
                };
                Some(Target::Queue {
                    name: name.name.clone(),
                    priority,
                })
            }
            ast::Target::Flow(label, _) => Some(Target::Flow(label.value.clone())),
        }
    }

    fn filter(&mut self, f: &'a ast::AgentFilter) -> Option<AgentFilter> {
        match f {
            ast::AgentFilter::Not(inner, _) => {
                Some(AgentFilter::Not(Box::new(self.filter(inner)?)))
            }
            ast::AgentFilter::And(items, _) => {
                let items: Vec<Option<AgentFilter>> =
                    items.iter().map(|i| self.filter(i)).collect();
                Some(AgentFilter::And(items.into_iter().collect::<Option<_>>()?))
            }
            ast::AgentFilter::Or(items, _) => {
                let items: Vec<Option<AgentFilter>> =
                    items.iter().map(|i| self.filter(i)).collect();
                Some(AgentFilter::Or(items.into_iter().collect::<Option<_>>()?))
            }
            ast::AgentFilter::InTeam(ident, _) => self.team(ident).map(AgentFilter::InTeam),
            ast::AgentFilter::Speaks(o, _) => {
                let language = |this: &mut Self, name: &str, span: Span| {
                    if this.languages.iter().any(|l| l == name) {
                        return Some(AgentFilter::Speaks(Value::Literal(Literal::String(
                            name.into(),
                        ))));
                    }
                    let suggestion = nearest(name, this.languages.iter().map(String::as_str));
                    this.error(
                        Kind::Unknown {
                            what: What::Language,
                            name: name.into(),
                            suggestion,
                            scope: None,
                        },
                        span,
                    );
                    None
                };
                match self.term(o) {
                    Term::Value(v @ Value::Literal(_), Type::String) => {
                        let Value::Literal(Literal::String(s)) = &v else {
                            return None;
                        };
                        language(self, &s.clone(), o.span())
                    }
                    Term::Value(v, Type::String) => Some(AgentFilter::Speaks(v)),
                    Term::Value(_, ty) => {
                        let found = type_name(ty, &self.enum_defs);
                        self.error(Kind::NotText { found }, o.span());
                        None
                    }
                    Term::Text(s) => language(self, &s.value, s.span),
                    Term::Bare(b) => language(self, &b.name, b.span),
                    Term::Schedule(_) => {
                        self.error(
                            Kind::NotText {
                                found: "schedule".into(),
                            },
                            o.span(),
                        );
                        None
                    }
                    Term::Invalid => None,
                }
            }
            ast::AgentFilter::Skill { skill, test, .. } => {
                if !self.skills.contains(&skill.name) {
                    let suggestion = nearest(&skill.name, self.skills.iter().map(String::as_str));
                    self.error(
                        Kind::Unknown {
                            what: What::Skill,
                            name: skill.name.clone(),
                            suggestion,
                            scope: None,
                        },
                        skill.span,
                    );
                    return None;
                }
                let (op, level) = match test {
                    None => (CompareOp::Ge, 1.0),
                    Some((op, op_span, level)) => {
                        let op = *op;
                        if matches!(op, CompareOp::StartsWith | CompareOp::Contains) {
                            self.error(
                                Kind::OperatorType {
                                    op: match op {
                                        CompareOp::StartsWith => "starts_with".into(),
                                        _ => "contains".into(),
                                    },
                                    ty: "skill level".into(),
                                },
                                *op_span,
                            );
                            return None;
                        }
                        (op, f64::from(self.count(level, "a skill level", 0, 100)?))
                    }
                };
                Some(AgentFilter::Skill {
                    skill: skill.name.clone(),
                    op,
                    level,
                })
            }
        }
    }

    // ---- warnings ------------------------------------------------------------------------

    #[allow(clippy::too_many_arguments)]
    fn warn_unused(
        &mut self,
        enums: &[&ast::EnumDecl],
        sources: &[&ast::SourceDecl],
        facts: &[&ast::FactsDecl],
        agents: &[&ast::AgentDecl],
        teams: &[&ast::TeamDecl],
        maps: &[&ast::MapDecl],
        schedules: &[&ast::ScheduleDecl],
    ) {
        let warn = |this: &mut Self, what: What, ident: &ast::Ident| {
            this.diags.push(Diagnostic::new(
                Kind::Unused {
                    what,
                    name: ident.name.clone(),
                },
                ident.span,
            ));
        };
        for (i, e) in enums.iter().enumerate() {
            if !self.used.enums[i] {
                warn(self, What::Enum, &e.name);
            }
        }
        for (i, f) in facts.iter().enumerate() {
            if !self.used.facts[i] {
                warn(self, What::Facts, &f.name);
            }
        }
        for (i, s) in sources.iter().enumerate() {
            let groups: Vec<usize> = (0..self.facts_groups.len())
                .filter(|g| self.facts_groups[*g].source == i)
                .collect();
            if groups.is_empty() {
                if !self.rejected_facts_sources.contains(&s.name.name) {
                    warn(self, What::Source, &s.name);
                }
            } else if !groups.iter().any(|g| self.used.facts[*g]) {
                self.diags.push(Diagnostic::new(
                    Kind::UnreadSource {
                        source: s.name.name.clone(),
                    },
                    s.name.span,
                ));
            }
        }
        if !self.used.any_agent {
            for (i, a) in agents.iter().enumerate() {
                if !self.used.agents[i] {
                    warn(self, What::Agent, &a.name);
                }
            }
        }
        for (i, t) in teams.iter().enumerate() {
            if !self.used.teams[i] {
                warn(self, What::Team, &t.name);
            }
        }
        for (i, m) in maps.iter().enumerate() {
            if !self.used.maps[i] {
                warn(self, What::Map, &m.name);
            }
        }
        for (i, s) in schedules.iter().enumerate() {
            if !self.used.schedules[i] {
                warn(self, What::Schedule, &s.name);
            }
        }
    }
}
