//! The words of the language that every stage shares, each defined once: comparison
//! operators, strategies and weekdays.

/// A comparison between two values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    StartsWith,
    Contains,
}

impl CompareOp {
    pub fn symbol(self) -> &'static str {
        match self {
            CompareOp::Eq => "==",
            CompareOp::Ne => "!=",
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
            CompareOp::StartsWith => "starts_with",
            CompareOp::Contains => "contains",
        }
    }

    /// `<`, `<=`, `>`, `>=`: only for values with an order.
    pub fn is_order(self) -> bool {
        matches!(
            self,
            CompareOp::Lt | CompareOp::Le | CompareOp::Gt | CompareOp::Ge
        )
    }
}

/// How a team (or an `agents where` target) orders its agents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Strategy {
    Sequential,
    RoundRobin,
    LeastCalls,
    LongestIdle,
    Weighted,
    Random,
    RingAll,
}

impl Strategy {
    /// Every strategy by its name, in documentation order.
    pub const ALL: [(&'static str, Strategy); 7] = [
        ("sequential", Strategy::Sequential),
        ("round_robin", Strategy::RoundRobin),
        ("least_calls", Strategy::LeastCalls),
        ("longest_idle", Strategy::LongestIdle),
        ("weighted", Strategy::Weighted),
        ("random", Strategy::Random),
        ("ring_all", Strategy::RingAll),
    ];

    /// The strategy's name as policies write it.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, s)| *s == self)
            .map_or("", |(n, _)| n)
    }

    pub fn from_name(name: &str) -> Option<Strategy> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
    }

    /// The names, for messages and suggestions.
    pub fn names() -> impl Iterator<Item = &'static str> + Clone {
        Self::ALL.iter().map(|(n, _)| *n)
    }
}

/// What `now.weekday` reads and schedules name, Monday first.
pub const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
