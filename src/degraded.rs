//! Why a decision may not be what the policy intends: typed here, rendered as text only at
//! the edges (the decision JSON, the decision log, metrics).

use std::fmt;

/// One reason a decision is degraded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Degraded {
    /// Nobody the policy names is available: the last team of `otherwise` is rung as it is.
    NoAvailableAgent,
    /// A source did not answer in time or as it should; its facts are missing.
    SourceFailed { source: String, failure: String },
    /// A looked-up value is not of its field's type; that fact is missing.
    WrongType {
        /// Where the value came from: `source crm`, or `input`.
        origin: String,
        /// `caller.tier`.
        field: String,
        /// What it should have been: `` `Tier` ``, `number`.
        expected: String,
    },
    /// The state store could not be reached: decided from the last state known.
    StateUnavailable,
    /// No policy has loaded: the static fallback answered.
    NoPolicy,
    /// Evaluating the policy failed (a bug): the static fallback answered.
    EvaluationFailed,
}

impl Degraded {
    /// The reason without its details, as a metrics label: `source crm`, not the failure.
    pub fn label(&self) -> String {
        match self {
            Degraded::NoAvailableAgent => "no_available_agent".into(),
            Degraded::SourceFailed { source, .. } => format!("source {source}"),
            Degraded::WrongType { origin, .. } => origin.clone(),
            Degraded::StateUnavailable => "state".into(),
            Degraded::NoPolicy => "no policy is loaded".into(),
            Degraded::EvaluationFailed => "internal error".into(),
        }
    }
}

impl fmt::Display for Degraded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Degraded::NoAvailableAgent => f.write_str("no_available_agent"),
            Degraded::SourceFailed { source, failure } => write!(f, "source {source}: {failure}"),
            Degraded::WrongType {
                origin,
                field,
                expected,
            } => write!(f, "{origin}: `{field}` is not a {expected}"),
            Degraded::StateUnavailable => f.write_str("state: redis unavailable"),
            Degraded::NoPolicy => f.write_str("no policy is loaded: static fallback"),
            Degraded::EvaluationFailed => f.write_str("internal error: evaluation failed"),
        }
    }
}

impl serde::Serialize for Degraded {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}
