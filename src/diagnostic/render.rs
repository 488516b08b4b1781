//! Diagnostics for people and programs: miette's graphical report, the JSON of
//! `--format json`, and YAML errors of configuration files shown the same way.

use std::fmt;

use super::{Diagnostic, Severity};
use crate::policy_files::{SourceFiles, Span};

/// A diagnostic joined with its source text, as miette wants it.
struct Report<'f> {
    message: String,
    code: Option<String>,
    severity: miette::Severity,
    help: Option<String>,
    source: Excerpt<'f>,
    labels: Vec<miette::LabeledSpan>,
    related: Vec<Report<'f>>,
}

/// A file as miette reads it, from the first line it shows rather than from the file's start
/// (the file's line index finds it): rendering each of thousands of warnings of a large policy
/// then costs its few lines, not the whole file up to them.
struct Excerpt<'f> {
    file: &'f crate::policy_files::SourceFile,
    name: String,
}

impl miette::SourceCode for Excerpt<'_> {
    fn read_span<'a>(
        &'a self,
        span: &miette::SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'a> + 'a>, miette::MietteError> {
        let text = self.file.text.as_bytes();
        let first = self.file.line_of(span.offset()).saturating_sub(before);
        let base = self.file.line_start(first).unwrap_or(0).min(text.len());
        let inner_span =
            miette::SourceSpan::new((span.offset() - base.min(span.offset())).into(), span.len());
        let inner = text[base..].read_span(&inner_span, before, after)?;
        let covered =
            miette::SourceSpan::new((inner.span().offset() + base).into(), inner.span().len());
        let contents = miette::MietteSpanContents::new_named(
            self.name.clone(),
            inner.data(),
            covered,
            inner.line() + first,
            inner.column(),
            inner.line_count(),
        )
        .with_language("route");
        Ok(Box::new(contents))
    }
}

impl fmt::Debug for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)
    }
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)
    }
}

impl std::error::Error for Report<'_> {}

impl miette::Diagnostic for Report<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.code
            .as_ref()
            .map(|c| Box::new(c) as Box<dyn fmt::Display>)
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(self.severity)
    }

    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.source)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        Some(Box::new(self.labels.iter().cloned()))
    }

    fn related<'b>(&'b self) -> Option<Box<dyn Iterator<Item = &'b dyn miette::Diagnostic> + 'b>> {
        if self.related.is_empty() {
            return None;
        }
        Some(Box::new(
            self.related.iter().map(|r| r as &dyn miette::Diagnostic),
        ))
    }
}

fn source_span(span: Span) -> miette::SourceSpan {
    (span.start as usize, span.len()).into()
}

fn named_source(files: &SourceFiles, span: Span) -> Excerpt<'_> {
    let file = files.get(span.file);
    Excerpt {
        file,
        name: file.path.display().to_string(),
    }
}

fn report<'f>(files: &'f SourceFiles, d: &Diagnostic) -> Report<'f> {
    let primary =
        miette::LabeledSpan::new_primary_with_span(Some(d.kind.label()), source_span(d.span));
    let mut labels = vec![primary];
    let mut related = Vec::new();
    for (span, label) in &d.related {
        if span.file == d.span.file {
            labels.push(miette::LabeledSpan::new_with_span(
                Some(label.clone()),
                source_span(*span),
            ));
        } else {
            // A place in another file is shown as advice with that file's text.
            related.push(Report {
                message: label.clone(),
                code: None,
                severity: miette::Severity::Advice,
                help: None,
                source: named_source(files, *span),
                labels: vec![miette::LabeledSpan::new_with_span(None, source_span(*span))],
                related: Vec::new(),
            });
        }
    }
    Report {
        message: d.message(),
        code: Some(d.kind.code()),
        severity: match d.severity() {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        },
        help: d.kind.help(),
        source: named_source(files, d.span),
        labels,
        related,
    }
}

/// Renders a diagnostic as miette's graphical report.
pub fn render(files: &SourceFiles, diagnostic: &Diagnostic, color: bool) -> String {
    let theme = if color {
        miette::GraphicalTheme::unicode()
    } else {
        miette::GraphicalTheme::unicode_nocolor()
    };
    let handler = miette::GraphicalReportHandler::new_themed(theme).with_width(100);
    let mut out = String::new();
    if handler
        .render_report(&mut out, &report(files, diagnostic))
        .is_err()
    {
        out = format!("{}: {}\n", diagnostic.kind.code(), diagnostic.message());
    }
    out
}

/// One diagnostic as `routec check --format json` prints it.
#[derive(Debug, serde::Serialize)]
pub struct JsonDiagnostic {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
    pub severity: Severity,
    pub code: String,
    pub message: String,
    pub label: String,
    pub help: Option<String>,
}

impl JsonDiagnostic {
    /// A path that could not be read as a policy: an error of its own, with no span.
    pub fn io(path: &std::path::Path, message: &str) -> JsonDiagnostic {
        JsonDiagnostic {
            file: path.display().to_string(),
            line: 0,
            column: 0,
            end_line: 0,
            end_column: 0,
            severity: Severity::Error,
            code: "route::io".into(),
            message: message.to_string(),
            label: "cannot be read".into(),
            help: Some("give a `.route` file or a directory of them".into()),
        }
    }

    pub fn new(files: &SourceFiles, d: &Diagnostic) -> JsonDiagnostic {
        let file = files.get(d.span.file);
        let (line, column) = file.line_col(d.span.start as usize);
        let (end_line, end_column) = file.line_col(d.span.end as usize);
        JsonDiagnostic {
            file: file.path.display().to_string(),
            line,
            column,
            end_line,
            end_column,
            severity: d.severity(),
            code: d.kind.code(),
            message: d.message(),
            label: d.kind.label(),
            help: d.kind.help(),
        }
    }
}

/// Renders a YAML error of serde-saphyr as a diagnostic pointing into `path`.
pub fn render_yaml_error(
    error: &serde_saphyr::Error,
    text: &str,
    path: &std::path::Path,
) -> String {
    let name = path.display().to_string();
    let report = serde_saphyr::miette::to_miette_report(error, text, &name);
    // The report names its source `<input>` whatever name it is given.
    format!("{report:?}").replace("<input>", &name)
}
