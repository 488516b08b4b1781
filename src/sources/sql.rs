//! SQL sources: a parameterised query (`$1` is the caller's number) against PostgreSQL, through
//! a connection pool, or against an SQLite file; guarded like every remote source. The query's
//! columns are checked against the declared facts when the policy loads.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value as J;

use super::guard::{Answer, Guard};
use crate::call::Call;
use crate::check::model::{SourceDef, SourceKind, Type};
use crate::facts::FactReader;

const DEFAULT_TIMEOUT: Duration = Duration::from_millis(800);
const POOL_SIZE: usize = 8;

enum Backend {
    Postgres(Result<deadpool_postgres::Pool, String>),
    /// Opened on first use, then kept; SQLite work runs on a blocking thread.
    Sqlite {
        path: std::path::PathBuf,
        connection: Arc<Mutex<Option<rusqlite::Connection>>>,
    },
}

pub struct SqlSource {
    name: String,
    query: String,
    timeout: Duration,
    backend: Backend,
    reader: FactReader,
    guard: Arc<Guard>,
}

impl std::fmt::Debug for SqlSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The database URL may hold a password: never printed.
        f.debug_struct("SqlSource")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// A location, or `env:VAR` for one kept in the environment (database URLs hold passwords).
fn resolve_location(location: &str) -> Result<String, String> {
    match location.strip_prefix("env:") {
        Some(var) => {
            std::env::var(var).map_err(|_| format!("environment variable `{var}` is not set"))
        }
        None => Ok(location.to_string()),
    }
}

fn postgres_pool(location: &str, timeout: Duration) -> Result<deadpool_postgres::Pool, String> {
    let url = resolve_location(location)?;
    let mut config: tokio_postgres::Config = url
        .parse()
        .map_err(|_| "invalid database URL".to_string())?;
    config.connect_timeout(timeout.max(Duration::from_secs(1)));
    let manager = deadpool_postgres::Manager::from_config(
        config,
        tokio_postgres::NoTls,
        deadpool_postgres::ManagerConfig {
            recycling_method: deadpool_postgres::RecyclingMethod::Fast,
        },
    );
    deadpool_postgres::Pool::builder(manager)
        .max_size(POOL_SIZE)
        .build()
        .map_err(|e| format!("cannot make a connection pool: {e}"))
}

impl SqlSource {
    pub fn new(def: &SourceDef, base_dir: &Path, reader: FactReader) -> SqlSource {
        let timeout = def.timeout.unwrap_or(DEFAULT_TIMEOUT);
        let backend = match def.kind {
            SourceKind::Sqlite => Backend::Sqlite {
                path: base_dir.join(&def.location),
                connection: Arc::new(Mutex::new(None)),
            },
            _ => Backend::Postgres(postgres_pool(&def.location, timeout)),
        };
        SqlSource {
            name: def.name.clone(),
            query: def.query.clone().unwrap_or_default(),
            timeout,
            backend,
            reader,
            guard: Arc::new(Guard::new(def.cache, def.cache_max.map(|n| n as usize))),
        }
    }

    /// Its cache, breaker and lookup figures.
    pub fn guard(&self) -> &Guard {
        &self.guard
    }

    pub fn requests_sent(&self) -> usize {
        self.guard.requests_sent()
    }

    /// The cached answer for a call, if there is a fresh one.
    pub fn cached(&self, call: &Call) -> Option<Answer> {
        match &call.from {
            Some(from) => self.guard.cached(&from.value),
            None => Some(Answer::NotFound),
        }
    }

    /// Looks a call up by its caller's number, answering by `deadline` at the latest.
    pub async fn lookup(self: &Arc<Self>, call: &Call, deadline: Instant) -> Answer {
        let Some(from) = &call.from else {
            return Answer::NotFound;
        };
        let key = from.value.to_string();
        let source = Arc::clone(self);
        let param = key.clone();
        self.guard
            .lookup(
                key,
                deadline,
                move || async move { source.fetch(param).await },
            )
            .await
    }

    async fn fetch(&self, key: String) -> Answer {
        let result = match &self.backend {
            Backend::Postgres(Err(e)) => Err(e.clone()),
            Backend::Postgres(Ok(pool)) => self.fetch_postgres(pool, &key).await,
            Backend::Sqlite { path, connection } => {
                let (path, connection, query) =
                    (path.clone(), Arc::clone(connection), self.query.clone());
                let work = tokio::task::spawn_blocking(move || {
                    sqlite_row(&path, &connection, &query, &key)
                });
                match tokio::time::timeout(self.timeout, work).await {
                    Ok(Ok(result)) => result,
                    Ok(Err(_)) => Err("query failed".into()),
                    Err(_) => Err("timeout".into()),
                }
            }
        };
        match result {
            Ok(Some(row)) => Answer::Found(Arc::new(self.reader.read(&row))),
            Ok(None) => Answer::NotFound,
            Err(reason) => Answer::Failed(reason),
        }
    }

    async fn fetch_postgres(
        &self,
        pool: &deadpool_postgres::Pool,
        key: &str,
    ) -> Result<Option<serde_json::Map<String, J>>, String> {
        let client = tokio::time::timeout(self.timeout, pool.get())
            .await
            .map_err(|_| "timeout".to_string())?
            .map_err(|_| "unreachable".to_string())?;
        let cancel = client.cancel_token();
        let query = async {
            let statement = client
                .prepare_cached(&self.query)
                .await
                .map_err(|e| format!("query failed: {}", db_message(&e)))?;
            client
                .query_opt(&statement, &[&key])
                .await
                .map_err(|e| format!("query failed: {}", db_message(&e)))
        };
        match tokio::time::timeout(self.timeout, query).await {
            Ok(Ok(row)) => Ok(row.map(|r| postgres_row(&r))),
            Ok(Err(e)) => Err(e),
            Err(_) => {
                // Stop the query in the database too, so the connection is free again.
                tokio::spawn(async move {
                    let _ = cancel.cancel_query(tokio_postgres::NoTls).await;
                });
                Err("timeout".into())
            }
        }
    }

    /// Checks the query against the facts read from this source (their fields and types):
    /// problems that are errors, and whether the database could be reached at all.
    pub async fn verify(&self, fields: &[(String, Type)]) -> Verified {
        let columns = match &self.backend {
            Backend::Postgres(Err(e)) => return Verified::Unreachable(e.clone()),
            Backend::Postgres(Ok(pool)) => {
                let client = match tokio::time::timeout(Duration::from_secs(3), pool.get()).await {
                    Ok(Ok(c)) => c,
                    Ok(Err(e)) => return Verified::Unreachable(e.to_string().to_lowercase()),
                    Err(_) => return Verified::Unreachable("no answer in 3 s".into()),
                };
                match client.prepare(&self.query).await {
                    Ok(statement) => {
                        if statement.params().len() != 1 {
                            return Verified::Problems(vec![format!(
                                "the query takes {} parameters; it must take one, `$1`, the caller's number",
                                statement.params().len()
                            )]);
                        }
                        statement
                            .columns()
                            .iter()
                            .map(|c| (c.name().to_string(), Some(postgres_kind(c.type_()))))
                            .collect::<Vec<_>>()
                    }
                    Err(e) => {
                        return Verified::Problems(vec![format!(
                            "the query does not prepare: {}",
                            db_message(&e)
                        )]);
                    }
                }
            }
            Backend::Sqlite { path, connection } => {
                let (path, connection, query) =
                    (path.clone(), Arc::clone(connection), self.query.clone());
                let work =
                    tokio::task::spawn_blocking(move || sqlite_columns(&path, &connection, &query));
                match work.await {
                    Ok(Ok(columns)) => columns,
                    Ok(Err(Unprepared::Unreachable(e))) => return Verified::Unreachable(e),
                    Ok(Err(Unprepared::Problem(e))) => return Verified::Problems(vec![e]),
                    Err(_) => return Verified::Unreachable("check failed".into()),
                }
            }
        };
        let mut problems = Vec::new();
        for (field, ty) in fields {
            match columns.iter().find(|(name, _)| name == field) {
                None => problems.push(format!("the query returns no column `{field}`")),
                Some((_, Some(kind))) => {
                    let fits = match (ty, kind) {
                        (_, ColumnKind::Unsupported(_)) => false,
                        (Type::Number, ColumnKind::Number) | (Type::Bool, ColumnKind::Bool) => true,
                        (Type::Number | Type::Bool, ColumnKind::Text) => true,
                        (Type::Number | Type::Bool, _) => false,
                        (_, ColumnKind::Text) => true,
                        _ => false,
                    };
                    if !fits {
                        problems.push(match kind {
                            ColumnKind::Unsupported(name) => format!(
                                "column `{field}` is `{name}`, which routec does not read: cast it to text, float8 or bool"
                            ),
                            _ => format!("column `{field}` is {}, which does not fit the field's type", kind.noun()),
                        });
                    }
                }
                // SQLite columns have no fixed type: values are read as they come.
                Some((_, None)) => {}
            }
        }
        if problems.is_empty() {
            Verified::Ok
        } else {
            Verified::Problems(problems)
        }
    }
}

/// The outcome of checking a source's query when the policy loads.
#[derive(Debug, PartialEq)]
pub enum Verified {
    Ok,
    /// The query does not fit the facts declared: errors.
    Problems(Vec<String>),
    /// The database could not be asked: nothing is known yet.
    Unreachable(String),
}

#[derive(Debug, Clone, PartialEq)]
enum ColumnKind {
    Text,
    Number,
    Bool,
    Unsupported(String),
}

impl ColumnKind {
    fn noun(&self) -> &str {
        match self {
            ColumnKind::Text => "text",
            ColumnKind::Number => "a number",
            ColumnKind::Bool => "a bool",
            ColumnKind::Unsupported(name) => name,
        }
    }
}

fn postgres_kind(ty: &tokio_postgres::types::Type) -> ColumnKind {
    use tokio_postgres::types::Type as T;
    match *ty {
        T::TEXT | T::VARCHAR | T::BPCHAR | T::NAME | T::UNKNOWN => ColumnKind::Text,
        T::INT2 | T::INT4 | T::INT8 | T::FLOAT4 | T::FLOAT8 => ColumnKind::Number,
        T::BOOL => ColumnKind::Bool,
        _ => ColumnKind::Unsupported(ty.name().to_string()),
    }
}

/// A database error's own message, without the driver's wrapping.
fn db_message(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => db.message().to_string(),
        None => "the database closed the connection".into(),
    }
}

fn postgres_row(row: &tokio_postgres::Row) -> serde_json::Map<String, J> {
    use tokio_postgres::types::Type as T;
    let mut out = serde_json::Map::new();
    for (i, column) in row.columns().iter().enumerate() {
        let value = match *column.type_() {
            T::BOOL => row
                .try_get::<_, Option<bool>>(i)
                .ok()
                .flatten()
                .map(J::from),
            T::INT2 => row.try_get::<_, Option<i16>>(i).ok().flatten().map(J::from),
            T::INT4 => row.try_get::<_, Option<i32>>(i).ok().flatten().map(J::from),
            T::INT8 => row.try_get::<_, Option<i64>>(i).ok().flatten().map(J::from),
            T::FLOAT4 => row.try_get::<_, Option<f32>>(i).ok().flatten().map(J::from),
            T::FLOAT8 => row.try_get::<_, Option<f64>>(i).ok().flatten().map(J::from),
            _ => row
                .try_get::<_, Option<String>>(i)
                .ok()
                .flatten()
                .map(J::from),
        };
        out.insert(column.name().to_string(), value.unwrap_or(J::Null));
    }
    out
}

enum Unprepared {
    Unreachable(String),
    Problem(String),
}

fn with_sqlite<T>(
    path: &Path,
    connection: &Mutex<Option<rusqlite::Connection>>,
    work: impl FnOnce(&rusqlite::Connection) -> Result<T, Unprepared>,
) -> Result<T, Unprepared> {
    let mut guard = connection.lock().unwrap_or_else(|e| e.into_inner());
    if guard.is_none() {
        let opened = rusqlite::Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| Unprepared::Unreachable(format!("cannot open `{}`: {e}", path.display())))?;
        *guard = Some(opened);
    }
    match guard.as_ref() {
        Some(c) => work(c),
        None => Err(Unprepared::Unreachable("not open".into())),
    }
}

fn sqlite_columns(
    path: &Path,
    connection: &Mutex<Option<rusqlite::Connection>>,
    query: &str,
) -> Result<Vec<(String, Option<ColumnKind>)>, Unprepared> {
    with_sqlite(path, connection, |c| {
        let statement = c
            .prepare(query)
            .map_err(|e| Unprepared::Problem(format!("the query does not prepare: {e}")))?;
        if statement.parameter_count() != 1 {
            return Err(Unprepared::Problem(format!(
                "the query takes {} parameters; it must take one, `$1`, the caller's number",
                statement.parameter_count()
            )));
        }
        Ok(statement
            .column_names()
            .map(|n| (n.to_string(), None))
            .collect())
    })
}

fn sqlite_row(
    path: &Path,
    connection: &Mutex<Option<rusqlite::Connection>>,
    query: &str,
    key: &str,
) -> Result<Option<serde_json::Map<String, J>>, String> {
    let result = with_sqlite(path, connection, |c| {
        let mut statement = c
            .prepare_cached(query)
            .map_err(|e| Unprepared::Problem(format!("query failed: {e}")))?;
        let names: Vec<String> = statement.column_names().map(String::from).collect();
        let mut rows = statement
            .query([key])
            .map_err(|e| Unprepared::Problem(format!("query failed: {e}")))?;
        let Some(row) = rows
            .next()
            .map_err(|e| Unprepared::Problem(format!("query failed: {e}")))?
        else {
            return Ok(None);
        };
        let mut out = serde_json::Map::new();
        for (i, name) in names.iter().enumerate() {
            use rusqlite::types::ValueRef;
            let value = match row.get_ref(i) {
                Ok(ValueRef::Integer(n)) => J::from(n),
                Ok(ValueRef::Real(f)) => J::from(f),
                Ok(ValueRef::Text(t)) => J::from(String::from_utf8_lossy(t).into_owned()),
                _ => J::Null,
            };
            out.insert(name.clone(), value);
        }
        Ok(Some(out))
    });
    result.map_err(|e| match e {
        Unprepared::Unreachable(m) | Unprepared::Problem(m) => m,
    })
}
