//! SQL sources against the real PostgreSQL of this machine (`ROUTEC_TEST_DATABASE_URL`, by
//! default the local server; each test makes and drops its own schema) and a real SQLite file.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::test::{Test, runtime};

fn database_url() -> String {
    std::env::var("ROUTEC_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A schema of its own with a `customers` table, dropped at the end; `None` (said loudly)
/// when PostgreSQL cannot be reached, except under `CI=true`, where that fails the test.
struct Schema {
    name: String,
}

impl Schema {
    fn create(test: &str) -> Option<Schema> {
        let name = format!("routec_{test}_{}", std::process::id());
        let sql = format!(
            "drop schema if exists {name} cascade; create schema {name};
             create table {name}.customers (phone text primary key, tier text, spend numeric, overdue boolean, visits int4);
             insert into {name}.customers values
               ('+919845012345', 'enterprise', 5000, false, 3),
               ('+919845000002', 'gold', 10, true, 1);"
        );
        match runtime().block_on(execute(&sql)) {
            Ok(()) => Some(Schema { name }),
            Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
                panic!(
                    "PostgreSQL is unreachable at {} under CI: {e}",
                    database_url()
                )
            }
            Err(e) => {
                eprintln!(
                    "SKIPPED {test}: PostgreSQL is unreachable at {}: {e}",
                    database_url()
                );
                None
            }
        }
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let _ = runtime().block_on(execute(&format!(
            "drop schema if exists {} cascade",
            self.name
        )));
    }
}

async fn execute(sql: &str) -> Result<(), String> {
    let url = database_url();
    let connect = tokio_postgres::connect(&url, tokio_postgres::NoTls);
    let (client, connection) = tokio::time::timeout(Duration::from_secs(3), connect)
        .await
        .map_err(|_| "no answer".to_string())?
        .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    client.batch_execute(sql).await.map_err(|e| e.to_string())
}

fn policy(schema: &Schema, query: &str, settings: &str) -> String {
    format!(
        r#"
enum Tier {{ standard, premium, enterprise }}
source customers sql "{}" {{
  query "{}"
  {settings}
}}
facts caller from customers {{ tier: Tier  spend: number  overdue: bool }}
rule vip: when caller.tier == enterprise -> queue vip
rule overdue: when caller.overdue -> queue billing
otherwise -> queue general
"#,
        database_url(),
        query.replace("SCHEMA", &schema.name)
    )
}

const QUERY: &str =
    "select tier, spend::float8 as spend, overdue from SCHEMA.customers where phone = $1";

fn eval(policy: &str, from: &str) -> serde_json::Value {
    let case = format!(r#"{{"call": {{"CallFrom": "{from}"}}}}"#);
    let output = Test::new()
        .file("p.route", policy)
        .file("case.json", case)
        .args(["eval", "p.route", "--input", "case.json"])
        .success();
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn a_row_fills_the_facts_and_a_missing_row_is_an_unknown_caller() {
    let Some(schema) = Schema::create("lookup") else {
        return;
    };
    let p = policy(&schema, QUERY, "timeout 2s");
    let d = eval(&p, "09845012345");
    assert_eq!(
        (d["rule"].clone(), d["degraded"].clone()),
        (json!("vip"), json!([]))
    );
    let d = eval(&p, "09845099999");
    assert_eq!(
        (d["rule"].clone(), d["degraded"].clone()),
        (json!("otherwise"), json!([]))
    );
    // A value of the wrong type (`gold` is no Tier) is missing, with a reason; the rest is read.
    let d = eval(&p, "09845000002");
    assert_eq!(d["rule"], "overdue");
    assert_eq!(
        d["degraded"],
        json!(["source customers: `caller.tier` is not a `Tier`"])
    );
}

#[test]
fn a_slow_query_misses_the_deadline_and_is_cancelled() {
    let Some(schema) = Schema::create("slow") else {
        return;
    };
    let slow =
        "select tier, pg_sleep(3)::text as spend, overdue from SCHEMA.customers where phone = $1";
    let p = policy(&schema, slow, "timeout 200ms");
    let start = Instant::now();
    let d = eval(&p, "09845012345");
    let took = start.elapsed();
    assert_eq!(d["rule"], "otherwise");
    assert_eq!(d["degraded"], json!(["source customers: timeout"]));
    assert!(took < Duration::from_millis(2500), "took {took:?}");
}

#[test]
fn check_reports_columns_the_query_does_not_return() {
    let Some(schema) = Schema::create("columns") else {
        return;
    };
    let wrong = "select tier as segment, spend::float8 as spend, overdue from SCHEMA.customers where phone = $1";
    Test::new()
        .file("p.route", policy(&schema, wrong, ""))
        .args(["check", "p.route"])
        .status(1)
        .stderr_contains("source `customers`: the query returns no column `tier`")
        .run();
    let numeric = "select tier, spend, overdue from SCHEMA.customers where phone = $1";
    Test::new()
        .file("p.route", policy(&schema, numeric, ""))
        .args(["check", "p.route"])
        .status(1)
        .stderr_contains("column `spend` is `numeric`, which routec does not read")
        .run();
    let typo = "select tier, spend::float8 as spend, overdue from SCHEMA.customer where phone = $1";
    Test::new()
        .file("p.route", policy(&schema, typo, ""))
        .args(["check", "p.route"])
        .status(1)
        .stderr_contains("the query does not prepare: relation")
        .run();
    Test::new()
        .file("p.route", policy(&schema, QUERY, ""))
        .args(["check", "--deny-warnings", "p.route"])
        .success();
}

#[test]
fn an_unreachable_database_is_a_warning_at_load_and_a_reason_per_call() {
    let p = "source customers sql \"postgres://postgres@127.0.0.1:9/none\" { query \"select tier from customers where phone = $1\" }\nfacts caller from customers { tier: string }\nrule a: when caller.tier == \"x\" -> queue a\notherwise -> queue b\n";
    Test::new()
        .file("p.route", p)
        .args(["check", "p.route"])
        .stderr_contains("source `customers` could not be checked")
        .success();
    let d = eval(p, "09845012345");
    assert_eq!(d["degraded"], json!(["source customers: unreachable"]));
}

#[test]
fn sqlite_files_are_sources_too() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crm.db");
    let c = rusqlite::Connection::open(&db).unwrap();
    c.execute_batch(
        "create table customers (phone text, tier text, spend real, overdue integer);
         insert into customers values ('+919845012345', 'enterprise', 12.5, 0);",
    )
    .unwrap();
    drop(c);
    let policy = format!(
        "enum Tier {{ standard, enterprise }}\nsource customers sqlite \"{}\" {{ query \"select tier, spend, overdue from customers where phone = $1\" }}\nfacts caller from customers {{ tier: Tier  spend: number }}\nrule vip: when caller.tier == enterprise and caller.spend > 10 -> queue vip\notherwise -> queue general\n",
        db.display()
    );
    assert_eq!(eval(&policy, "09845012345")["rule"], "vip");
    assert_eq!(eval(&policy, "09845099999")["rule"], "otherwise");
    Test::new()
        .file(
            "p.route",
            policy.replace("select tier, spend", "select segment, spend"),
        )
        .args(["check", "p.route"])
        .status(1)
        .stderr_contains("the query does not prepare: no such column: segment")
        .run();
}

/// `examples/data-driven-sql` against the real server: its `setup.sql` loads the table, and
/// every caller is routed from the row the query finds.
#[test]
fn the_data_driven_sql_example_routes_from_postgres() {
    let setup =
        std::fs::read_to_string(crate::test::repo().join("examples/data-driven-sql/setup.sql"))
            .unwrap();
    let Some(_schema) = Schema::create("example") else {
        return;
    };
    // The example's schema has a fixed name: dropped again when this guard goes.
    struct DropExample;
    impl Drop for DropExample {
        fn drop(&mut self) {
            let _ = runtime().block_on(execute("drop schema if exists routec_example cascade"));
        }
    }
    runtime().block_on(execute(&setup)).unwrap();
    let _drop = DropExample;
    let example = crate::test::repo().join("examples/data-driven-sql");
    let expected = [
        ("09845000001", "sticky", json!(["+919800000003"])),
        ("09845000003", "overdue", json!(["+919800000003"])),
        ("09845000004", "shipped", json!([])),
        ("09845000005", "language", json!(["+919800000008"])),
        (
            "09845000999",
            "otherwise",
            json!(["+919800000001", "+919800000002", "+919800000008"]),
        ),
    ];
    for (from, rule, numbers) in expected {
        let output = Test::new()
            .file(
                "case.json",
                format!(r#"{{"call": {{"CallFrom": "{from}"}}}}"#),
            )
            .env("ROUTEC_EXAMPLE_DATABASE_URL", &database_url())
            .args(["eval", example.to_str().unwrap(), "--input", "case.json"])
            .success();
        let d: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(
            (
                d["rule"].clone(),
                d["numbers"].clone(),
                d["degraded"].clone()
            ),
            (json!(rule), numbers, json!([])),
            "caller {from}"
        );
    }
}
