//! The checked policy: names resolved to indices, literals typed and normalised.

pub use crate::vocabulary::{CompareOp, Strategy};

use std::path::PathBuf;
use std::time::Duration;

use crate::phone::Country;
use crate::policy_files::Span;

/// A typed index into one of the checked policy's lists: an agent id indexes agents only.
macro_rules! id {
    ($name:ident, $what:literal) => {
        #[doc = concat!("The index of ", $what, " in the checked policy.")]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub u32);

        impl $name {
            pub fn new(index: usize) -> $name {
                $name(index as u32)
            }

            pub fn index(self) -> usize {
                self.0 as usize
            }

            /// The ids of a list of `count` items, in order.
            pub fn all(count: usize) -> impl Iterator<Item = $name> + Clone {
                (0..count).map($name::new)
            }
        }

        impl<T> std::ops::Index<$name> for Vec<T> {
            type Output = T;
            fn index(&self, id: $name) -> &T {
                &self[id.index()]
            }
        }

        impl<T> std::ops::IndexMut<$name> for Vec<T> {
            fn index_mut(&mut self, id: $name) -> &mut T {
                &mut self[id.index()]
            }
        }

        impl<T> std::ops::Index<$name> for [T] {
            type Output = T;
            fn index(&self, id: $name) -> &T {
                &self[id.index()]
            }
        }
    };
}

id!(AgentId, "an agent");
id!(TeamId, "a team");
id!(FactsId, "a facts group");
id!(RuleId, "a rule");
id!(EnumId, "an enum");
id!(SourceId, "a source");
id!(MapId, "a map");
id!(ScheduleId, "a schedule");

/// A policy that passed the checker: every name resolved, every literal of the right type.
#[derive(Debug, Clone)]
pub struct CheckedPolicy {
    pub name: String,
    pub timezone: jiff::tz::TimeZone,
    pub timezone_name: String,
    pub country: &'static Country,
    /// Where relative data paths are resolved.
    pub base_dir: PathBuf,
    pub enums: Vec<EnumDef>,
    pub sources: Vec<SourceDef>,
    pub facts: Vec<FactsGroup>,
    pub agents: Vec<AgentDef>,
    pub teams: Vec<TeamDef>,
    pub maps: Vec<MapDef>,
    pub schedules: Vec<ScheduleDef>,
    /// Rules in source order; the first whose condition is true decides.
    pub rules: Vec<RuleDef>,
    /// The fallback; its condition is [`Cond::Const`]`(true)`.
    pub otherwise: RuleDef,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EnumDef {
    pub name: String,
    pub variants: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    Http,
    Csv,
    Json,
    Yaml,
    Sql,
    Sqlite,
}

impl SourceKind {
    pub const ALL: [(&'static str, SourceKind); 6] = [
        ("http", SourceKind::Http),
        ("csv", SourceKind::Csv),
        ("json", SourceKind::Json),
        ("yaml", SourceKind::Yaml),
        ("sql", SourceKind::Sql),
        ("sqlite", SourceKind::Sqlite),
    ];

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, k)| *k == self)
            .map_or("?", |(n, _)| n)
    }

    pub fn is_file(self) -> bool {
        matches!(self, SourceKind::Csv | SourceKind::Json | SourceKind::Yaml)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum HeaderValue {
    Literal(String),
    /// Read from this environment variable when the source is used.
    Env(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct SourceDef {
    pub name: String,
    pub kind: SourceKind,
    /// URL template, file path, or database URL.
    pub location: String,
    pub key: Option<String>,
    pub timeout: Option<Duration>,
    pub cache: Option<Duration>,
    /// The most answers the cache keeps (`cache 10m max 50_000`); unset: the default.
    pub cache_max: Option<u32>,
    pub headers: Vec<(String, HeaderValue)>,
    pub query: Option<String>,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    String,
    Number,
    Bool,
    Phone,
    Agent,
    Enum(EnumId),
}

#[derive(Debug, Clone, PartialEq)]
pub struct FactsGroup {
    pub name: String,
    pub source: SourceId,
    pub fields: Vec<FactField>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FactField {
    /// The key read from the source; dotted for nested data (`ticket.severity`).
    pub name: String,
    pub ty: Type,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AgentDef {
    /// The agent's id.
    pub name: String,
    /// E.164.
    pub number: String,
    pub skills: Vec<(String, f64)>,
    pub languages: Vec<String>,
    pub weight: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TeamDef {
    pub name: String,
    pub members: Vec<AgentId>,
    pub strategy: Strategy,
    pub ring: Option<u32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MapDef {
    pub name: String,
    pub input: Value,
    /// E.164 prefixes (`+9180`) and their values, in source order.
    pub entries: Vec<(String, String)>,
    /// More entries, read from this file with the policy.
    pub file: Option<DataFileRef>,
}

/// A data file a declaration names, relative to the policy's directory.
#[derive(Debug, Clone, PartialEq)]
pub struct DataFileRef {
    pub path: String,
    /// The path's string in the policy, where problems with the file are reported.
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleDef {
    pub name: String,
    /// The schedule's own time zone, when it sets one; else the policy's.
    pub timezone: Option<jiff::tz::TimeZone>,
    pub windows: Vec<ScheduleWindow>,
    pub closed: Vec<jiff::civil::Date>,
    /// Files of more closed days (`closed from "data/holidays.csv"`).
    pub closed_files: Vec<DataFileRef>,
}

/// Open on `days` from `start` to `end` (minutes after midnight, `end` excluded); an `end`
/// at or before `start` runs past midnight into the next day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScheduleWindow {
    /// Bit 0 is Monday, bit 6 Sunday.
    pub days: u8,
    pub start: u16,
    pub end: u16,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RuleDef {
    /// `vip`, `line 42` or `otherwise`.
    pub name: String,
    pub span: Span,
    /// The rule's name, or its `when` (`otherwise` for the fallback): where warnings point.
    pub head: Span,
    pub condition: Cond,
    pub targets: Vec<Target>,
}

/// Fields of the call, filled from the Exotel request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CallField {
    Sid,
    From,
    To,
    Direction,
    Digits,
    Custom,
    FlowId,
}

impl CallField {
    pub const ALL: [(&'static str, CallField, Type); 7] = [
        ("sid", CallField::Sid, Type::String),
        ("from", CallField::From, Type::Phone),
        ("to", CallField::To, Type::Phone),
        ("direction", CallField::Direction, Type::String),
        ("digits", CallField::Digits, Type::String),
        ("custom", CallField::Custom, Type::String),
        ("flow_id", CallField::FlowId, Type::String),
    ];

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, f, _)| *f == self)
            .map_or("?", |(n, _, _)| n)
    }
}

/// Parts of `now`, the evaluation time in the policy's time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NowField {
    Hour,
    Minute,
    /// `mon` … `sun`.
    Weekday,
    /// `YYYY-MM-DD`.
    Date,
}

impl NowField {
    pub const ALL: [(&'static str, NowField, Type); 4] = [
        ("hour", NowField::Hour, Type::Number),
        ("minute", NowField::Minute, Type::Number),
        ("weekday", NowField::Weekday, Type::String),
        ("date", NowField::Date, Type::String),
    ];
}

/// A value a condition reads.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Call(CallField),
    /// `caller.last_agent`: the agent the caller last spoke with, from agent state.
    LastAgent,
    Fact {
        group: FactsId,
        field: usize,
    },
    Map(MapId),
    Now(NowField),
    Literal(Literal),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    String(String),
    Number(f64),
    Bool(bool),
    Enum {
        ty: EnumId,
        variant: u32,
    },
    /// E.164.
    Phone(String),
    Agent(AgentId),
}

/// A condition, evaluated with SQL three-valued logic over missing values.
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    Const(bool),
    /// A `bool` value used as a condition.
    Test(Value),
    /// True when `now` is inside the schedule.
    Schedule(ScheduleId),
    Compare {
        left: Value,
        op: CompareOp,
        right: Value,
    },
    In {
        value: Value,
        list: Vec<Literal>,
    },
    Exists(Value),
    Not(Box<Cond>),
    And(Vec<Cond>),
    Or(Vec<Cond>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    Team(TeamId),
    Agent(AgentId),
    /// An agent named by a fact: an agent's name or number, or a number to dial.
    AgentFrom(Value),
    Agents {
        filter: AgentFilter,
        strategy: Strategy,
        ring: Option<u32>,
    },
    /// E.164, copied inline (`SmolStr`) into each decision that dials it.
    Number(smol_str::SmolStr),
    Queue {
        name: std::sync::Arc<str>,
        priority: Option<i64>,
    },
    Flow(std::sync::Arc<str>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum AgentFilter {
    /// The agent speaks the language the value names.
    Speaks(Value),
    Skill {
        skill: String,
        op: CompareOp,
        level: f64,
    },
    InTeam(TeamId),
    Not(Box<AgentFilter>),
    And(Vec<AgentFilter>),
    Or(Vec<AgentFilter>),
}

impl AgentFilter {
    /// Whether the filter reads only agents' own attributes (skills, literal languages,
    /// teams), so that it picks the same agents for every call.
    pub fn is_static(&self) -> bool {
        match self {
            AgentFilter::Speaks(v) => matches!(v, Value::Literal(_)),
            AgentFilter::Skill { .. } | AgentFilter::InTeam(_) => true,
            AgentFilter::Not(inner) => inner.is_static(),
            AgentFilter::And(items) | AgentFilter::Or(items) => items.iter().all(Self::is_static),
        }
    }

    /// Whether `agent` passes a leaf test that reads only the agent (`None` for `not`, `and`,
    /// `or`, and `speaks` of a call or fact value).
    pub fn leaf_matches(&self, policy: &CheckedPolicy, agent: AgentId) -> Option<bool> {
        let def = &policy.agents[agent];
        match self {
            AgentFilter::Speaks(Value::Literal(Literal::String(language))) => {
                Some(def.languages.iter().any(|l| l == language))
            }
            AgentFilter::Skill { skill, op, level } => {
                let have = def.skills.iter().find(|(s, _)| s == skill).map(|(_, l)| *l);
                Some(have.is_some_and(|have| match op {
                    CompareOp::Eq => have == *level,
                    CompareOp::Ne => have != *level,
                    CompareOp::Lt => have < *level,
                    CompareOp::Le => have <= *level,
                    CompareOp::Gt => have > *level,
                    _ => have >= *level,
                }))
            }
            AgentFilter::InTeam(team) => Some(policy.teams[*team].members.contains(&agent)),
            _ => None,
        }
    }
}

/// Three-valued truth, as SQL has it: a comparison with a missing value is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Truth {
    True,
    False,
    Unknown,
}

impl Truth {
    pub fn of(b: bool) -> Truth {
        if b { Truth::True } else { Truth::False }
    }

    #[allow(clippy::should_implement_trait)]
    pub fn not(self) -> Truth {
        match self {
            Truth::True => Truth::False,
            Truth::False => Truth::True,
            Truth::Unknown => Truth::Unknown,
        }
    }

    /// `and` of all: false if any is false, else unknown if any is unknown. Stops early.
    pub fn all(items: impl IntoIterator<Item = Truth>) -> Truth {
        let mut result = Truth::True;
        for t in items {
            match t {
                Truth::False => return Truth::False,
                Truth::Unknown => result = Truth::Unknown,
                Truth::True => {}
            }
        }
        result
    }

    /// `or` of all: true if any is true, else unknown if any is unknown. Stops early.
    pub fn any(items: impl IntoIterator<Item = Truth>) -> Truth {
        let mut result = Truth::False;
        for t in items {
            match t {
                Truth::True => return Truth::True,
                Truth::Unknown => result = Truth::Unknown,
                Truth::False => {}
            }
        }
        result
    }
}
