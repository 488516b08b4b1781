//! Sources: loads the data files a policy reads (fact tables in CSV, JSON or YAML; prefix
//! maps; holiday lists) and looks a call's facts up in them, in HTTP sources and in SQL
//! databases, all within the call's deadline.

pub mod guard;
pub mod http;
pub mod sql;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

pub use guard::{Answer, Guard, GuardReading};
use http::HttpSource;
use sql::{SqlSource, Verified};

use serde_json::Value as J;

use crate::call::Call;
use crate::check::model::{
    CheckedPolicy, DataFileRef, FactsGroup, FactsId, MapDef, SourceId, SourceKind, Type,
};
use crate::compile::FileData;
use crate::degraded::Degraded;
use crate::diagnostic::{Diagnostic, Diagnostics, Kind};
use crate::facts::{FactReader, Facts};
use crate::phone::{self, Country};

/// One file source's rows, by key (a phone number's E.164 form, else the key as written).
#[derive(Debug, Clone, Default)]
pub struct FileTable {
    /// foldhash, not SipHash: every decision looks its caller up here.
    rows: foldhash::HashMap<String, serde_json::Map<String, J>>,
}

impl FileTable {
    pub fn get(&self, key: &str) -> Option<&serde_json::Map<String, J>> {
        self.rows.get(key)
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

/// The data loaded with a policy.
#[derive(Debug, Clone, Default)]
pub struct SourceData {
    /// By source index; `None` for sources that are not files.
    pub tables: Vec<Option<FileTable>>,
}

/// A row as read from a file, with the line it came from.
struct Row {
    line: usize,
    fields: serde_json::Map<String, J>,
}

/// Reads every data file of a policy: the file sources' tables, and the map entries and closed
/// days the compiler adds. A file that cannot be read or parsed is an error, a key listed twice
/// a warning (the first row counts).
pub fn load_files(policy: &CheckedPolicy) -> (SourceData, FileData, Diagnostics) {
    let mut diagnostics = Diagnostics::default();
    let tables = policy
        .sources
        .iter()
        .enumerate()
        .map(|(index, source)| {
            if !source.kind.is_file() {
                return None;
            }
            let path = policy.base_dir.join(&source.location);
            let shown = source.location.clone();
            let fail = |line: Option<usize>, message: String| {
                Diagnostic::new(
                    Kind::DataFile {
                        path: shown.clone(),
                        line,
                        message,
                    },
                    source.span,
                )
            };
            // A missing file leaves a usable policy: its facts are missing, and said so.
            if !path.exists() {
                diagnostics.push(Diagnostic::new(
                    Kind::DataFileMissing {
                        path: shown.clone(),
                    },
                    source.span,
                ));
                return Some(FileTable::default());
            }
            let (columns, rows) = match read_rows(&path, source.kind) {
                Ok(read) => read,
                Err((line, message)) => {
                    diagnostics.push(fail(line, message));
                    return Some(FileTable::default());
                }
            };
            let key_column = source.key.as_deref().unwrap_or("phone");
            let has_column = |name: &str| {
                let head = name.split('.').next().unwrap_or(name);
                columns.iter().any(|c| c == name || c == head)
            };
            // A key column missing altogether is one mistake, not one per row.
            if !rows.is_empty() && !has_column(key_column) {
                let message = format!(
                    "no `{key_column}` column, the key: the columns are {}",
                    columns
                        .iter()
                        .map(|c| format!("`{c}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                diagnostics.push(fail(Some(1), message));
                return Some(FileTable::default());
            }
            let groups: Vec<&FactsGroup> = policy
                .facts
                .iter()
                .filter(|g| g.source.index() == index)
                .collect();
            for group in &groups {
                for field in group.fields.iter().filter(|f| !has_column(&f.name)) {
                    diagnostics.push(Diagnostic::new(
                        Kind::MissingColumn {
                            path: shown.clone(),
                            group: group.name.clone(),
                            field: field.name.clone(),
                        },
                        source.span,
                    ));
                }
            }
            let mut table = FileTable::default();
            let mut first_line: HashMap<String, usize> = HashMap::new();
            for row in rows {
                for group in &groups {
                    for problem in cell_problems(policy, group, &row.fields) {
                        diagnostics.push(fail(Some(row.line), problem));
                    }
                }
                let Some(raw) = row.fields.get(key_column).and_then(key_text) else {
                    diagnostics.push(fail(
                        Some(row.line),
                        format!("no `{key_column}` value, the key column"),
                    ));
                    continue;
                };
                let key = normalise_key(&raw, policy.country);
                if let Some(first) = first_line.get(&key) {
                    diagnostics.push(Diagnostic::new(
                        Kind::DuplicateDataKey {
                            path: shown.clone(),
                            line: row.line,
                            key: raw,
                            first: *first,
                        },
                        source.span,
                    ));
                    continue;
                }
                first_line.insert(key.clone(), row.line);
                table.rows.insert(key, row.fields);
            }
            Some(table)
        })
        .collect();
    let map_entries = policy
        .maps
        .iter()
        .map(|map| match &map.file {
            Some(file) => map_file(policy, map, file, &mut diagnostics),
            None => Vec::new(),
        })
        .collect();
    let closed_days = policy
        .schedules
        .iter()
        .map(|schedule| {
            schedule
                .closed_files
                .iter()
                .flat_map(|file| holiday_file(policy, file, &mut diagnostics))
                .collect()
        })
        .collect();
    let file_data = FileData {
        map_entries,
        closed_days,
    };
    (SourceData { tables }, file_data, diagnostics)
}

fn data_error(file: &DataFileRef, line: Option<usize>, message: String) -> Diagnostic {
    Diagnostic::new(
        Kind::DataFile {
            path: file.path.clone(),
            line,
            message,
        },
        file.span,
    )
}

fn read_records(policy: &CheckedPolicy, file: &DataFileRef) -> Result<Records, Diagnostic> {
    let path = policy.base_dir.join(&file.path);
    if !path.exists() {
        let missing = Kind::DataFileMissing {
            path: file.path.clone(),
        };
        return Err(Diagnostic::new(missing, file.span));
    }
    let text = std::fs::read_to_string(path).map_err(|e| {
        let message = format!("cannot read it: {}", e.to_string().to_lowercase());
        data_error(file, None, message)
    })?;
    csv_records(&text).map_err(|(line, message)| data_error(file, line, message))
}

/// A prefix map file: a header, then `prefix,value` rows (`080,bangalore`); more columns are
/// ignored. Prefixes are normalised like the policy's own; one listed twice is an error.
fn map_file(
    policy: &CheckedPolicy,
    map: &MapDef,
    file: &DataFileRef,
    diagnostics: &mut Diagnostics,
) -> Vec<(String, String)> {
    let records = match read_records(policy, file) {
        Ok((_, records)) => records,
        Err(d) => {
            diagnostics.push(d);
            return Vec::new();
        }
    };
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut entries = Vec::new();
    for (line, values) in records {
        let (Some(prefix), Some(value)) = (values.first(), values.get(1)) else {
            diagnostics.push(data_error(
                file,
                Some(line),
                "expected `prefix,value`".into(),
            ));
            continue;
        };
        let Some(normal) = phone::normalize_prefix(prefix, policy.country) else {
            let message = format!("`{prefix}` is not a number prefix");
            diagnostics.push(data_error(file, Some(line), message));
            continue;
        };
        let first = seen.get(&normal).copied();
        let inline = map.entries.iter().any(|(p, _)| *p == normal);
        if first.is_some() || inline {
            let at = first.map_or("in the policy".to_string(), |l| format!("on line {l}"));
            let message = format!("prefix `{normal}` is listed again (first {at})");
            diagnostics.push(data_error(file, Some(line), message));
            continue;
        }
        seen.insert(normal.clone(), line);
        entries.push((normal, value.clone()));
    }
    entries
}

/// A holiday file: a header, then one `YYYY-MM-DD` date per row, first column (a second
/// column, such as the holiday's name, is ignored).
fn holiday_file(
    policy: &CheckedPolicy,
    file: &DataFileRef,
    diagnostics: &mut Diagnostics,
) -> Vec<jiff::civil::Date> {
    let records = match read_records(policy, file) {
        Ok((_, records)) => records,
        Err(d) => {
            diagnostics.push(d);
            return Vec::new();
        }
    };
    records
        .into_iter()
        .filter_map(|(line, values)| {
            let text = values.first().map_or("", String::as_str);
            match text.parse::<jiff::civil::Date>() {
                Ok(date) => Some(date),
                Err(_) => {
                    let message = format!("`{text}` is not a date (YYYY-MM-DD)");
                    diagnostics.push(data_error(file, Some(line), message));
                    None
                }
            }
        })
        .collect()
}

fn key_text(v: &J) -> Option<String> {
    match v {
        J::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        J::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Keys are normalised like caller numbers: `09845000002` matches `+919845000002`.
pub fn normalise_key(raw: &str, country: &Country) -> String {
    phone::normalize(raw, country).unwrap_or_else(|| raw.trim().to_string())
}

/// A data file's columns (a CSV header; the keys of a JSON or YAML table's rows) and rows.
type Table = (Vec<String>, Vec<Row>);

fn read_rows(path: &Path, kind: SourceKind) -> Result<Table, (Option<usize>, String)> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        (
            None,
            format!("cannot read it: {}", e.to_string().to_lowercase()),
        )
    })?;
    match kind {
        SourceKind::Csv => read_csv(&text),
        SourceKind::Json => {
            let doc: J = serde_json::from_str(&text)
                .map_err(|e| (Some(e.line()), format!("not valid JSON: {e}")))?;
            rows_of_document(doc)
        }
        _ => {
            let mut options = serde_saphyr::Options::default();
            options.strict_booleans = true;
            options.leading_zero_numbers_as_strings = true;
            let doc: J = serde_saphyr::from_str_with_options(&text, options)
                .map_err(|e| (None, format!("not valid YAML: {e}")))?;
            rows_of_document(doc)
        }
    }
}

/// A CSV file's header and records, each with its line; `#` starts a comment line.
type Records = (Vec<String>, Vec<(usize, Vec<String>)>);

fn csv_records(text: &str) -> Result<Records, (Option<usize>, String)> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .comment(Some(b'#'))
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| (Some(1), format!("unreadable header: {e}")))?
        .iter()
        .map(str::to_string)
        .collect();
    let mut records = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map(|p| p.line() as usize);
            let message = match e.kind() {
                csv::ErrorKind::UnequalLengths {
                    expected_len, len, ..
                } => {
                    format!("{len} fields, but the header has {expected_len}")
                }
                _ => e.to_string().to_lowercase(),
            };
            (line, message)
        })?;
        let line = record.position().map_or(0, |p| p.line() as usize);
        records.push((line, record.iter().map(str::to_string).collect()));
    }
    Ok((headers, records))
}

fn read_csv(text: &str) -> Result<Table, (Option<usize>, String)> {
    let (headers, records) = csv_records(text)?;
    let rows = records
        .into_iter()
        .map(|(line, values)| Row {
            line,
            fields: headers
                .iter()
                .zip(values)
                // An empty cell is a missing value.
                .filter(|(_, v)| !v.is_empty())
                .map(|(h, v)| (h.clone(), J::String(v)))
                .collect(),
        })
        .collect();
    Ok((headers, rows))
}

/// A JSON or YAML table: a list of rows, or an object of rows by key.
fn rows_of_document(doc: J) -> Result<Table, (Option<usize>, String)> {
    let rows: Vec<Row> = match doc {
        J::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, item)| match item {
                J::Object(fields) => Ok(Row {
                    line: i + 1,
                    fields,
                }),
                _ => Err((None, format!("row {} is not an object", i + 1))),
            })
            .collect::<Result<_, _>>()?,
        _ => return Err((None, "expected a list of rows".into())),
    };
    let mut columns: Vec<String> = Vec::new();
    for key in rows.iter().flat_map(|r| r.fields.keys()) {
        if !columns.contains(key) {
            columns.push(key.clone());
        }
    }
    Ok((columns, rows))
}

/// What is wrong with a row's values for a facts group's declared fields: a value that is no
/// value of its type, an agent no agent is, a phone field that is no phone number.
fn cell_problems(
    policy: &CheckedPolicy,
    group: &FactsGroup,
    row: &serde_json::Map<String, J>,
) -> Vec<String> {
    let mut problems = Vec::new();
    for field in &group.fields {
        let Some(raw) = crate::facts::lookup(row, &field.name) else {
            continue;
        };
        if raw.is_null() {
            continue;
        }
        let shown = match raw {
            J::String(s) => format!("`{s}`"),
            other => format!("`{other}`"),
        };
        let name = &field.name;
        let problem = match (field.ty, crate::facts::read_value(policy, field.ty, raw)) {
            (Type::Enum(e), None) => {
                let variants = &policy.enums[e].variants;
                let hint = crate::check::nearest(
                    raw.as_str().unwrap_or(""),
                    variants.iter().map(String::as_str),
                )
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default();
                Some(format!(
                    "`{name}` is {shown}, not a variant of `{}`{hint}",
                    policy.enums[e].name
                ))
            }
            (ty, None) => Some(format!(
                "`{name}` is {shown}, not a {}",
                crate::facts::type_noun(policy, ty)
            )),
            (Type::Agent, Some(crate::facts::FactValue::Agent(a))) => {
                let number = phone::normalize(&a, policy.country);
                let known = policy
                    .agents
                    .iter()
                    .any(|x| x.name == a || Some(&x.number) == number.as_ref());
                (!known).then(|| {
                    let hint =
                        crate::check::nearest(&a, policy.agents.iter().map(|x| x.name.as_str()))
                            .map(|s| format!(" (did you mean `{s}`?)"))
                            .unwrap_or_default();
                    format!("`{name}` is {shown}, which is no agent's name or number{hint}")
                })
            }
            (Type::Phone, Some(crate::facts::FactValue::Phone(p))) if !p.e164 => {
                Some(format!("`{name}` is {shown}, not a phone number"))
            }
            _ => None,
        };
        problems.extend(problem);
    }
    problems
}

/// Fills the facts groups a case did not give from the policy's file tables, keyed by the
/// caller's number. A caller with no row is unknown: the group stays missing.
pub fn lookup_files(
    policy: &CheckedPolicy,
    data: &SourceData,
    call: &Call,
    facts: &mut Facts,
    given: &[bool],
) {
    let Some(from) = &call.from else { return };
    for (id, group) in policy.facts.iter().enumerate() {
        if given.get(id).copied().unwrap_or(false) {
            continue;
        }
        let Some(Some(table)) = data.tables.get(group.source.index()) else {
            continue;
        };
        if let Some(row) = table.get(&from.value) {
            let name = &policy.sources[group.source].name;
            facts.set_group_from_json(policy, FactsId::new(id), row, &format!("source {name}"));
        }
    }
}

/// What a policy looks facts up in: its file tables and its HTTP sources, whose caches and
/// circuit breakers last as long as this value (one policy version).
#[derive(Debug)]
pub struct Lookups {
    pub data: SourceData,
    /// By source index; `None` for sources that are not HTTP.
    http: Vec<Option<Arc<HttpSource>>>,
    /// By source index; `None` for sources that are not SQL.
    sql: Vec<Option<Arc<SqlSource>>>,
}

/// An HTTP client using rustls with the `ring` provider.
pub fn http_client() -> reqwest::Client {
    // Installing twice fails harmlessly: the first provider stays.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .pool_idle_timeout(std::time::Duration::from_secs(60))
        .build()
        .unwrap_or_default()
}

impl Lookups {
    pub fn new(policy: &CheckedPolicy, data: SourceData) -> Lookups {
        let needs_http = policy.sources.iter().any(|s| s.kind == SourceKind::Http);
        let client = needs_http.then(http_client);
        let http = policy
            .sources
            .iter()
            .enumerate()
            .map(|(id, s)| match (&client, s.kind) {
                (Some(client), SourceKind::Http) => Some(Arc::new(HttpSource::new(
                    s,
                    client.clone(),
                    FactReader::new(policy, SourceId::new(id)),
                ))),
                _ => None,
            })
            .collect();
        let sql = policy
            .sources
            .iter()
            .enumerate()
            .map(|(id, s)| match s.kind {
                SourceKind::Sql | SourceKind::Sqlite => Some(Arc::new(SqlSource::new(
                    s,
                    &policy.base_dir,
                    FactReader::new(policy, SourceId::new(id)),
                ))),
                _ => None,
            })
            .collect();
        Lookups { data, http, sql }
    }

    /// Checks each SQL source's query against the facts it feeds, where the database can be
    /// reached: a missing column or a wrong type is an error; an unreachable database a warning.
    pub async fn verify(&self, policy: &CheckedPolicy) -> Diagnostics {
        let mut diagnostics = Diagnostics::default();
        for (id, source) in self.sql.iter().enumerate() {
            let Some(source) = source else { continue };
            let fields: Vec<(String, crate::check::model::Type)> = policy
                .facts
                .iter()
                .filter(|g| g.source.index() == id)
                .flat_map(|g| g.fields.iter().map(|f| (f.name.clone(), f.ty)))
                .collect();
            let def = &policy.sources[id];
            match source.verify(&fields).await {
                Verified::Ok => {}
                Verified::Problems(problems) => {
                    for message in problems {
                        diagnostics.push(Diagnostic::new(
                            Kind::SourceQuery {
                                source: def.name.clone(),
                                message,
                            },
                            def.span,
                        ));
                    }
                }
                Verified::Unreachable(message) => diagnostics.push(Diagnostic::new(
                    Kind::SourceUnreachable {
                        source: def.name.clone(),
                        message,
                    },
                    def.span,
                )),
            }
        }
        diagnostics
    }

    /// Each remote source's guard (cache, breaker, lookup times), by the source's index.
    pub fn guards(&self) -> impl Iterator<Item = (usize, &Guard)> {
        let http = self.http.iter().enumerate();
        let http = http.filter_map(|(id, s)| Some((id, s.as_ref()?.guard())));
        let sql = self.sql.iter().enumerate();
        let sql = sql.filter_map(|(id, s)| Some((id, s.as_ref()?.guard())));
        http.chain(sql)
    }

    pub fn sql_source(&self, source: usize) -> Option<&Arc<SqlSource>> {
        self.sql.get(source)?.as_ref()
    }

    pub fn http_source(&self, source: usize) -> Option<&Arc<HttpSource>> {
        self.http.get(source)?.as_ref()
    }

    /// Whether a lookup may ask a server (an HTTP or SQL source), rather than only read
    /// tables in memory.
    pub fn asks_remote(&self) -> bool {
        self.http.iter().any(Option::is_some) || self.sql.iter().any(Option::is_some)
    }

    /// Fills the facts groups a case did not give: from file tables at once, from HTTP
    /// sources concurrently, each by `deadline`. What fails leaves its facts missing and says
    /// why in `facts.degraded`; what is not found leaves them missing silently.
    pub async fn lookup(
        &self,
        policy: &CheckedPolicy,
        call: &Call,
        facts: &mut Facts,
        given: &[bool],
        deadline: Instant,
    ) {
        lookup_files(policy, &self.data, call, facts, given);
        // No remote source: no task set to make and drop.
        if !self.asks_remote() {
            return;
        }
        // Each remote source feeding a group the case does not give is asked once. Cached
        // answers are used at once; only misses are asked, all at the same time.
        let mut answers: Vec<(usize, Answer)> = Vec::new();
        let mut tasks = tokio::task::JoinSet::new();
        for source in 0..policy.sources.len() {
            let wanted = policy.facts.iter().enumerate().any(|(id, g)| {
                g.source.index() == source && !given.get(id).copied().unwrap_or(false)
            });
            if !wanted {
                continue;
            }
            let cached = match (self.http_source(source), self.sql_source(source)) {
                (Some(http), _) => http.cached(call),
                (_, Some(sql)) => sql.cached(call),
                _ => continue,
            };
            if let Some(answer) = cached {
                answers.push((source, answer));
                continue;
            }
            let call = call.clone();
            if let Some(http) = self.http_source(source).cloned() {
                tasks.spawn(async move { (source, http.lookup(&call, deadline).await) });
            } else if let Some(sql) = self.sql_source(source).cloned() {
                tasks.spawn(async move { (source, sql.lookup(&call, deadline).await) });
            }
        }
        while let Some(done) = tasks.join_next().await {
            if let Ok(answer) = done {
                answers.push(answer);
            }
        }
        for (source, answer) in answers {
            let name = &policy.sources[source].name;
            match answer {
                Answer::Found(read) => {
                    for (id, values, degraded) in &read.groups {
                        if !given.get(id.index()).copied().unwrap_or(false) {
                            facts.groups[id.index()] = Some(Arc::clone(values));
                            facts.degraded.extend(degraded.iter().cloned());
                        }
                    }
                }
                Answer::NotFound => {}
                Answer::Failed(failure) => facts.degraded.push(Degraded::SourceFailed {
                    source: name.clone(),
                    failure,
                }),
            }
        }
    }
}
