//! Check: syntax tree in; checked policy (names resolved, types checked) and diagnostics out.

mod conditions;
mod declarations;
pub mod domain;
pub mod model;
mod schedules;
pub mod similar;
mod targets;
mod unused;

use std::collections::HashMap;
use std::time::Duration;

use model::*;

use crate::diagnostic::{Diagnostic, Diagnostics, Kind, What};
use crate::phone::{self, Country};
use crate::policy_files::{SourceFiles, Span};
use crate::syntax::ast;

use schedules::time_zone;
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

/// A type as policies write it: `string`, `agent`, an enum's name.
pub fn type_name(ty: Type, enums: &[EnumDef]) -> String {
    match ty {
        Type::String => "string".into(),
        Type::Number => "number".into(),
        Type::Bool => "bool".into(),
        Type::Phone => "phone".into(),
        Type::Agent => "agent".into(),
        Type::Enum(id) => enums
            .get(id.index())
            .map_or("enum".into(), |e| e.name.clone()),
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
                    if let Some(id) =
                        self.declare_value(&f.name, |id| ValueName::Facts(FactsId::new(id)))
                    {
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
                    if self
                        .declare_value(&m.name, |id| ValueName::Map(MapId::new(id)))
                        .is_some()
                    {
                        self.maps.declare(&m.name, &mut self.diags);
                        maps.push(m);
                    }
                }
                ast::Item::Schedule(s) => {
                    if self
                        .declare_value(&s.name, |id| ValueName::Schedule(ScheduleId::new(id)))
                        .is_some()
                    {
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
}
