//! The syntax tree of `.route` files: every node carries the span it was parsed from.

use crate::policy_files::Span;

pub use crate::vocabulary::CompareOp;

#[derive(Debug, Clone, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// A string literal, escapes already resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Str {
    pub value: String,
    pub span: Span,
}

/// A number literal as written (`100_000`, `1.5`); its value is read by the checker.
#[derive(Debug, Clone, PartialEq)]
pub struct Num {
    pub text: String,
    pub span: Span,
}

/// All items of a policy, file after file in lexical path order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Policy {
    pub items: Vec<Item>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Setting(Setting),
    Enum(EnumDecl),
    Source(SourceDecl),
    Facts(FactsDecl),
    Agent(AgentDecl),
    Team(TeamDecl),
    Map(MapDecl),
    Schedule(ScheduleDecl),
    Rule(RuleDecl),
    Otherwise(OtherwiseDecl),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingKind {
    Policy,
    Timezone,
    Country,
}

impl SettingKind {
    pub fn keyword(self) -> &'static str {
        match self {
            SettingKind::Policy => "policy",
            SettingKind::Timezone => "timezone",
            SettingKind::Country => "country",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Setting {
    pub kind: SettingKind,
    pub value: Str,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EnumDecl {
    pub name: Ident,
    pub variants: Vec<Ident>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SourceDecl {
    pub name: Ident,
    /// `http`, `csv`, `json`, `yaml`, `sql` or `sqlite`; checked by the checker.
    pub kind: Ident,
    pub location: Str,
    pub settings: Vec<SourceSetting>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SourceSetting {
    Key(Str),
    Timeout(Duration),
    /// `cache 10m`, and `max 100_000` answers kept at most.
    Cache(Duration, Option<Num>),
    Header {
        name: Str,
        value: HeaderValue,
        span: Span,
    },
    Query(Str),
}

impl SourceSetting {
    pub fn keyword(&self) -> &'static str {
        match self {
            SourceSetting::Key(_) => "key",
            SourceSetting::Timeout(_) => "timeout",
            SourceSetting::Cache(..) => "cache",
            SourceSetting::Header { .. } => "header",
            SourceSetting::Query(_) => "query",
        }
    }

    pub fn span(&self) -> Span {
        match self {
            SourceSetting::Key(s) | SourceSetting::Query(s) => s.span,
            SourceSetting::Timeout(d) | SourceSetting::Cache(d, _) => d.span,
            SourceSetting::Header { span, .. } => *span,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum HeaderValue {
    Literal(Str),
    /// `env("NAME")`: read from the environment when the source is used, never logged.
    Env(Str),
}

/// A duration literal (`800ms`, `5m`) as written.
#[derive(Debug, Clone, PartialEq)]
pub struct Duration {
    pub text: String,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FactsDecl {
    pub name: Ident,
    pub source: Ident,
    pub fields: Vec<FactField>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FactField {
    /// The field name; a quoted name may be a dotted path into nested data (`ticket.severity`).
    pub name: Ident,
    pub ty: Ident,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AgentDecl {
    pub name: Ident,
    pub number: Str,
    pub skills: Option<Vec<Skill>>,
    pub languages: Option<Vec<Ident>>,
    pub weight: Option<Num>,
    /// Clauses given more than once, reported by the checker.
    pub repeated: Vec<(&'static str, Span)>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Skill {
    pub name: Ident,
    pub level: Option<Num>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TeamDecl {
    pub name: Ident,
    pub members: Vec<Ident>,
    pub members_span: Span,
    pub strategy: Option<Ident>,
    pub ring: Option<Num>,
    pub repeated: Vec<(&'static str, Span)>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MapDecl {
    pub name: Ident,
    pub input: Operand,
    pub entries: Vec<(Str, Str)>,
    /// `from "data/india-std.csv"`: entries read from a file with the policy.
    pub file: Option<Str>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleDecl {
    pub name: Ident,
    pub lines: Vec<ScheduleLine>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ScheduleLine {
    Window {
        days: Vec<DaySpec>,
        times: Vec<TimeRange>,
        span: Span,
    },
    Closed(Vec<Date>),
    /// `closed from "data/holidays.csv"`: closed days read from a file with the policy.
    ClosedFrom(Str),
    Timezone(Str),
}

#[derive(Debug, Clone, PartialEq)]
pub struct DaySpec {
    pub first: Ident,
    pub last: Option<Ident>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TimeRange {
    pub start: Time,
    pub end: Time,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Time {
    pub text: String,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Date {
    pub text: String,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RuleDecl {
    pub name: Option<Ident>,
    /// The `when` keyword: anonymous rules are named after its line.
    pub when_span: Span,
    pub condition: Expr,
    pub targets: Vec<Target>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OtherwiseDecl {
    pub targets: Vec<Target>,
    pub span: Span,
}

/// A condition. `and`/`or` chains are flat lists, so long chains never nest deeply.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Not(Box<Expr>, Span),
    And(Vec<Expr>, Span),
    Or(Vec<Expr>, Span),
    Compare {
        left: Operand,
        op: CompareOp,
        op_span: Span,
        right: Operand,
        span: Span,
    },
    In {
        left: Operand,
        list: Vec<Operand>,
        span: Span,
    },
    Exists(Operand, Span),
    /// A value used as a condition by itself: a bool fact, a schedule, `true`.
    Value(Operand),
}

impl Expr {
    pub fn span(&self) -> Span {
        match self {
            Expr::Not(_, s)
            | Expr::And(_, s)
            | Expr::Or(_, s)
            | Expr::Compare { span: s, .. }
            | Expr::In { span: s, .. }
            | Expr::Exists(_, s) => *s,
            Expr::Value(o) => o.span(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Path(Path),
    Str(Str),
    Num(Num),
    Bool(bool, Span),
}

impl Operand {
    pub fn span(&self) -> Span {
        match self {
            Operand::Path(p) => p.span,
            Operand::Str(s) => s.span,
            Operand::Num(n) => n.span,
            Operand::Bool(_, s) => *s,
        }
    }
}

/// A dotted name: `caller.tier`, `call.digits`, `region`, `enterprise`.
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    pub segments: Vec<Ident>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    Team(Ident, Span),
    /// `agent asha` (one segment: a declared agent) or `agent caller.f` (a fact).
    Agent(Path, Span),
    Agents {
        filter: AgentFilter,
        using: Option<Ident>,
        ring: Option<Num>,
        span: Span,
    },
    Number(Str, Span),
    Queue {
        name: Ident,
        priority: Option<Num>,
        span: Span,
    },
    Flow(Str, Span),
}

impl Target {
    pub fn span(&self) -> Span {
        match self {
            Target::Team(_, s)
            | Target::Agent(_, s)
            | Target::Agents { span: s, .. }
            | Target::Number(_, s)
            | Target::Queue { span: s, .. }
            | Target::Flow(_, s) => *s,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum AgentFilter {
    Not(Box<AgentFilter>, Span),
    And(Vec<AgentFilter>, Span),
    Or(Vec<AgentFilter>, Span),
    Speaks(Operand, Span),
    Skill {
        skill: Ident,
        test: Option<(CompareOp, Span, Num)>,
        span: Span,
    },
    InTeam(Ident, Span),
}

impl AgentFilter {
    pub fn span(&self) -> Span {
        match self {
            AgentFilter::Not(_, s)
            | AgentFilter::And(_, s)
            | AgentFilter::Or(_, s)
            | AgentFilter::Speaks(_, s)
            | AgentFilter::Skill { span: s, .. }
            | AgentFilter::InTeam(_, s) => *s,
        }
    }
}
