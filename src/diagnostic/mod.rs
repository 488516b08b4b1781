//! Diagnostics: errors and warnings as data (a `Kind` and a span), rendered by miette or as JSON.

mod kind;
mod render;

pub use kind::Kind;
pub use render::{JsonDiagnostic, render, render_yaml_error};

use crate::policy_files::Span;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

/// What kind of named thing a diagnostic is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum What {
    Agent,
    Team,
    Enum,
    Variant,
    Field,
    Facts,
    Source,
    SourceKind,
    Map,
    Schedule,
    Rule,
    Name,
    Type,
    Strategy,
    Skill,
    CallField,
    NowField,
    Day,
    Language,
}

impl What {
    pub fn noun(self) -> &'static str {
        match self {
            What::Agent => "agent",
            What::Team => "team",
            What::Enum => "enum",
            What::Variant => "variant",
            What::Field => "field",
            What::Facts => "facts group",
            What::Source => "source",
            What::SourceKind => "source kind",
            What::Map => "map",
            What::Schedule => "schedule",
            What::Rule => "rule",
            What::Name => "name",
            What::Type => "type",
            What::Strategy => "strategy",
            What::Skill => "skill",
            What::CallField => "call field",
            What::NowField => "`now` field",
            What::Day => "day",
            What::Language => "language",
        }
    }

    fn code_suffix(self) -> &'static str {
        match self {
            What::Agent => "agent",
            What::Team => "team",
            What::Enum => "enum",
            What::Variant => "variant",
            What::Field => "field",
            What::Facts => "facts",
            What::Source => "source",
            What::SourceKind => "source-kind",
            What::Map => "map",
            What::Schedule => "schedule",
            What::Rule => "rule",
            What::Name => "name",
            What::Type => "type",
            What::Strategy => "strategy",
            What::Skill => "skill",
            What::CallField => "call-field",
            What::NowField => "now-field",
            What::Day => "day",
            What::Language => "language",
        }
    }
}

/// One error or warning, located in a source file.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub kind: Kind,
    pub span: Span,
    /// Other places worth showing, such as the first definition of a duplicate.
    pub related: Vec<(Span, String)>,
}

impl Diagnostic {
    pub fn new(kind: Kind, span: Span) -> Diagnostic {
        Diagnostic {
            kind,
            span,
            related: Vec::new(),
        }
    }

    pub fn with_related(mut self, span: Span, label: impl Into<String>) -> Diagnostic {
        self.related.push((span, label.into()));
        self
    }

    pub fn severity(&self) -> Severity {
        self.kind.severity()
    }

    pub fn message(&self) -> String {
        self.kind.to_string()
    }
}

/// The errors and warnings of one policy, kept apart.
#[derive(Debug, Clone, Default)]
pub struct Diagnostics {
    pub errors: Vec<Diagnostic>,
    pub warnings: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        match d.severity() {
            Severity::Error => self.errors.push(d),
            Severity::Warning => self.warnings.push(d),
        }
    }

    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    pub fn extend(&mut self, other: Diagnostics) {
        self.errors.extend(other.errors);
        self.warnings.extend(other.warnings);
    }

    /// Errors then warnings, each in file and position order.
    pub fn sorted(&self) -> Vec<&Diagnostic> {
        let key = |d: &&Diagnostic| (d.span.file, d.span.start, d.span.end);
        let mut errors: Vec<&Diagnostic> = self.errors.iter().collect();
        let mut warnings: Vec<&Diagnostic> = self.warnings.iter().collect();
        errors.sort_by_key(key);
        warnings.sort_by_key(key);
        errors.extend(warnings);
        errors
    }
}
