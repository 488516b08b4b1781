//! `routec serve`: handlers through `oneshot`, and the real binary on a real port.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use routec::server::{AppState, Config, Serving, Shortcut, admin_app, app};
use tower::ServiceExt;

use crate::crm::{Crm, Reply};
use crate::test::binary;

const POLICY: &str = r#"
agent asha "+919800000001"
agent ravi "+919800000002"
team TECH [asha, ravi] strategy ring_all
rule tech: when call.digits == "1" -> team TECH
rule billing: when call.digits == "2" -> flow "billing"
rule vip: when call.from == "09901320691" -> agent ravi
otherwise -> queue general
"#;

/// The real request of EXOTEL.md, as a query string.
const EXOTEL_QUERY: &str = "CallSid=9953099079d70b89bbc1aa43ae6d1893&CallFrom=09901320691&CallTo=08069891522&Direction=incoming&Created=Tue,%2003%20Sep%202024%2011:44:54&DialCallDuration=0&StartTime=2024-09-03%2011:44:54&EndTime=1970-01-01%2005:30:00&CallType=call-attempt&DialWhomNumber=&flow_id=11754&tenant_id=1409&From=09901320691&To=08069891522&CurrentTime=2024-09-03%2011:44:59&digits=%228%22";

/// Settings for handler tests: no decision log on the test's stdout, and no reservations,
/// so that one request's agents are the next one's too (tests of state turn them on).
pub fn config(budget_ms: u64) -> Config {
    let mut config = Config {
        budget_ms,
        ..Config::default()
    };
    config.log.decisions = false;
    config.state.reservation_secs = 0;
    config
}

fn state(policy: &str) -> Arc<AppState> {
    state_with(policy, config(500))
}

pub fn state_with(policy: &str, config: Config) -> Arc<AppState> {
    let files = routec::policy_files::SourceFiles::single("serve.route", policy);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let prepared = rt.block_on(routec::prepare(&files)).0.expect("policy");
    let serving = Serving::new(prepared, &files);
    Arc::new(AppState::new(Some(serving), config))
}

pub async fn send(
    state: Arc<AppState>,
    request: Request<Body>,
) -> (StatusCode, axum::http::HeaderMap, String) {
    // Each path to the listener that serves it, as a deployment would.
    let router = if is_admin_path(request.uri().path()) {
        admin_app(state)
    } else {
        app(state)
    };
    let response = router.oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

/// Paths the admin listener serves (`/v1/*`, `/metrics`).
pub fn is_admin_path(target: &str) -> bool {
    target.starts_with("/v1/") || target.starts_with("/metrics") || target.starts_with("/console/")
}

pub fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

#[test]
fn connect_answers_exotels_json_for_get_post_and_head() {
    let s = state(POLICY);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let (status, _, body) = send(
            Arc::clone(&s),
            get(&format!("/exotel/connect?{EXOTEL_QUERY}")),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            json["destination"]["numbers"],
            serde_json::json!(["+919800000002"])
        );
        assert_eq!(json["fetch_after_attempt"], false);

        let post = Request::post("/exotel/connect")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from("Callfrom=0984501234&digits=%221%22"))
            .unwrap();
        let (_, _, body) = send(Arc::clone(&s), post).await;
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            json["destination"]["numbers"],
            serde_json::json!(["+919800000001", "+919800000002"])
        );
        assert_eq!(json["parallel_ringing"]["activate"], true);

        let json_post = Request::post("/exotel/connect")
            .header("content-type", "application/json")
            .body(Body::from(r#"{"CallFrom": "0984501234", "digits": 2}"#))
            .unwrap();
        let (_, _, body) = send(Arc::clone(&s), json_post).await;
        assert!(
            body.contains("\"numbers\":[]"),
            "a flow decision dials no one: {body}"
        );

        let head = Request::head(format!("/exotel/connect?{EXOTEL_QUERY}"))
            .body(Body::empty())
            .unwrap();
        let (status, _, body) = send(Arc::clone(&s), head).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, ""));
    });
}

#[test]
fn passthru_takes_the_named_branch_with_200_else_302() {
    let s = state(POLICY);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let (status, _, _) = send(
            Arc::clone(&s),
            get("/exotel/passthru?branch=billing&digits=%222%22"),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let (status, _, _) = send(Arc::clone(&s), get("/exotel/passthru?branch=general")).await;
        assert_eq!(status, StatusCode::OK, "a queue name is a branch too");
        let (status, _, _) = send(
            Arc::clone(&s),
            get("/exotel/passthru?branch=tech&digits=%221%22"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "so is a rule name");
        let (status, headers, body) = send(
            Arc::clone(&s),
            get("/exotel/passthru?branch=billing&digits=1"),
        )
        .await;
        assert_eq!(status, StatusCode::FOUND);
        assert!(headers.contains_key("location"));
        assert_eq!(body, "");
    });
}

/// The public listener takes GET `/exotel/connect` and `/exotel/passthru` past the router
/// (`Shortcut`): every request, those and their neighbours, is answered and counted in
/// `/metrics` as `app`'s router answers and counts it, with an Exotel secret configured and
/// without.
#[test]
fn the_public_listeners_shortcut_answers_as_the_router_does() {
    let query = format!("/exotel/connect?{EXOTEL_QUERY}");
    let requests = [
        ("GET", query.as_str(), ""),
        ("GET", "/exotel/connect", ""),
        ("GET", "/exotel/connect?CallSid=c1&digits=1", ""),
        ("HEAD", query.as_str(), ""),
        ("POST", "/exotel/connect", "CallSid=c2&CallFrom=09901320691"),
        ("PUT", "/exotel/connect", ""),
        ("GET", "/exotel/connect/", ""),
        ("GET", "/exotel/s3cret/connect?digits=2", ""),
        ("GET", "/exotel/connect?token=s3cret&CallSid=c3", ""),
        ("GET", "/exotel/connect?token=wrong&CallSid=c4", ""),
        ("GET", "/exotel/passthru?token=s3cret&branch=general", ""),
        ("GET", "/exotel/passthru?branch=billing&digits=%222%22", ""),
        ("GET", "/exotel/passthru?branch=billing&digits=1", ""),
        ("POST", "/exotel/passthru?branch=tech", "digits=1"),
        ("GET", "/exotel/events", ""),
        ("GET", "/healthz", ""),
        ("GET", "/nowhere", ""),
    ];
    let request = |(method, uri, body): (&str, &str, &str)| {
        Request::builder()
            .method(method)
            .uri(uri)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    let answer = |response: axum::response::Response| async move {
        let status = response.status();
        let mut headers = response.headers().clone();
        // axum's router sets `content-length`; hyper writes the same from the body's exact
        // size when it is not set: the same on the wire.
        let length = headers
            .remove("content-length")
            .map(|v| v.to_str().unwrap().parse::<u64>().unwrap())
            .or(axum::body::HttpBody::size_hint(response.body()).exact());
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, headers, length, body)
    };
    let counted = |state: Arc<AppState>| async move {
        let (_, _, text) = send(state, get("/metrics")).await;
        let lines = text
            .lines()
            .filter(|l| l.starts_with("routec_http_request_duration_seconds_count"));
        lines.map(str::to_string).collect::<Vec<_>>()
    };
    let secret = Config {
        exotel_token: Some("s3cret".into()),
        ..config(500)
    };
    // A plain Connect's status in each pass: the secret is asked for in the second.
    let mut plain = Vec::new();
    for settings in [config(500), secret] {
        let routed = state_with(POLICY, settings.clone());
        let shortcut = state_with(POLICY, settings);
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let router = app(Arc::clone(&routed));
            let front = Shortcut::new(Arc::clone(&shortcut));
            for r in requests {
                let by_router = answer(router.clone().oneshot(request(r)).await.unwrap()).await;
                let call = hyper::service::Service::call(&front, request(r));
                let by_shortcut = answer(call.await.unwrap()).await;
                assert_eq!(by_shortcut, by_router, "{r:?}");
                if r == ("GET", "/exotel/connect", "") {
                    plain.push(by_router.0);
                }
            }
            let counts = counted(Arc::clone(&routed)).await;
            assert!(counts.len() >= 8, "{counts:#?}");
            assert_eq!(counted(shortcut).await, counts);
        });
    }
    assert_eq!(plain, [StatusCode::OK, StatusCode::FORBIDDEN]);
}

#[test]
fn decide_health_and_bad_requests() {
    let s = state(POLICY);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let (status, _, body) = send(Arc::clone(&s), get("/v1/decide?digits=1")).await;
        assert_eq!(status, StatusCode::OK);
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json["rule"], "tech");
        assert_eq!(
            send(Arc::clone(&s), get("/healthz")).await.0,
            StatusCode::OK
        );
        assert_eq!(send(Arc::clone(&s), get("/readyz")).await.0, StatusCode::OK);
        // Garbage parameters still get an answer: the fallback route.
        let (status, _, body) = send(
            Arc::clone(&s),
            get("/exotel/connect?From=%FF%FE&digits=%22%22&CallFrom=sip:x"),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains("\"numbers\":[]"));
        let huge = Request::post("/exotel/connect")
            .body(Body::from(vec![b'a'; 100_000]))
            .unwrap();
        assert_eq!(
            send(Arc::clone(&s), huge).await.0,
            StatusCode::PAYLOAD_TOO_LARGE
        );
    });
    // With no policy loaded: Exotel still gets 200 with no numbers; readiness says no.
    let empty = Arc::new(AppState::new(None, config(100)));
    rt.block_on(async {
        let (status, _, body) = send(Arc::clone(&empty), get("/exotel/connect")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains("\"numbers\":[]"));
        assert_eq!(
            send(Arc::clone(&empty), get("/readyz")).await.0,
            StatusCode::SERVICE_UNAVAILABLE
        );
    });
}

/// The real binary, serving on a port the system picks; stopped (SIGTERM) when dropped.
pub struct Server {
    child: Child,
    pub addr: String,
    /// The admin listener's address.
    pub admin_addr: String,
    /// The admin token the server was started with, sent with reads of the admin listener.
    admin_token: Option<String>,
    /// What the server said before it listened.
    pub said: Vec<String>,
    /// What it said on stderr since, read as it comes.
    later: Arc<std::sync::Mutex<Vec<String>>>,
}

impl Server {
    pub fn start(dir: &std::path::Path, args: &[&str]) -> Server {
        Server::start_with(dir, args, &[])
    }

    pub fn start_with(dir: &std::path::Path, args: &[&str], envs: &[(&str, &str)]) -> Server {
        Server::start_writing_to(dir, args, envs, Stdio::null())
    }

    /// A server whose stdout (the decision log) goes to `stdout`.
    pub fn start_writing_to(
        dir: &std::path::Path,
        args: &[&str],
        envs: &[(&str, &str)],
        stdout: Stdio,
    ) -> Server {
        let mut child = Command::new(binary())
            .arg("serve")
            .envs(envs.iter().copied())
            .args(args)
            .args(["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"])
            .current_dir(dir)
            .stdout(stdout)
            .stderr(Stdio::piped())
            .spawn()
            .expect("start routec serve");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let mut said = Vec::new();
        let (mut addr, mut admin_addr) = (None, None);
        while addr.is_none() || admin_addr.is_none() {
            let line = lines
                .next()
                .expect("routec serve said where it listens")
                .unwrap();
            // Up to a quote: the line may be JSON (`log.format: json`).
            let url = line
                .split("http://")
                .nth(1)
                .and_then(|u| u.split(['"', ' ']).next());
            match url {
                Some(url) if line.contains("admin endpoints") => {
                    admin_addr = Some(url.trim().to_string());
                }
                Some(url) => addr = Some(url.trim().to_string()),
                None => said.push(line),
            }
        }
        let later = Arc::new(std::sync::Mutex::new(Vec::new()));
        let reading = Arc::clone(&later);
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                reading.lock().unwrap().push(line);
            }
        });
        let admin_token = envs
            .iter()
            .find(|(k, _)| *k == "ROUTEC_ADMIN_TOKEN")
            .map(|(_, v)| v.to_string());
        Server {
            child,
            addr: addr.unwrap_or_default(),
            admin_addr: admin_addr.unwrap_or_default(),
            admin_token,
            said,
            later,
        }
    }

    /// A GET, to the listener that serves `target`; reads of the admin listener carry the
    /// admin token the server was started with.
    pub fn get(&self, target: &str) -> (u16, String) {
        let token = match &self.admin_token {
            Some(t) if is_admin_path(target) => format!("Authorization: Bearer {t}\r\n"),
            _ => String::new(),
        };
        self.request(&format!("GET {target} HTTP/1.1\r\nHost: x\r\n{token}"))
    }

    pub fn post(&self, target: &str, headers: &str) -> (u16, String) {
        self.request(&format!(
            "POST {target} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n{headers}"
        ))
    }

    /// Sends a request head (without the closing blank line); the status and body.
    pub fn request(&self, head: &str) -> (u16, String) {
        let target = head.split_whitespace().nth(1).unwrap_or("/");
        let addr = if is_admin_path(target) {
            &self.admin_addr
        } else {
            &self.addr
        };
        Server::request_to(addr, head)
    }

    /// A GET to the Exotel-facing listener, whatever the path.
    pub fn get_on_exotel_port(&self, target: &str) -> (u16, String) {
        Server::request_to(&self.addr, &format!("GET {target} HTTP/1.1\r\nHost: x\r\n"))
    }

    pub fn request_to(addr: &str, head: &str) -> (u16, String) {
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        write!(stream, "{head}Connection: close\r\n\r\n").unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let status = response
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body = response.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
        (status, body)
    }

    /// What the server has said on stderr since it listened.
    pub fn stderr_since_start(&self) -> Vec<String> {
        self.later.lock().unwrap().clone()
    }

    /// The pipe of a server started with `Stdio::piped()` for its stdout.
    pub fn stdout(&mut self) -> Option<std::process::ChildStdout> {
        self.child.stdout.take()
    }

    pub fn stop(mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        self.child.wait().unwrap()
    }
}

/// A server a test did not stop (or that failed half-way) must not outlive it: each holds a
/// file watcher, and the system's watchers run out.
impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[test]
fn the_binary_answers_the_real_exotel_request_and_stops_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.route"), POLICY).unwrap();
    let server = Server::start(dir.path(), &["p.route"]);
    let (status, body) = server.get(&format!("/exotel/connect?{EXOTEL_QUERY}"));
    assert_eq!(status, 200);
    assert!(body.contains("\"numbers\":[\"+919800000002\"]"), "{body}");
    let (status, _) = server.get("/exotel/passthru?branch=nope");
    assert_eq!(status, 302);
    assert!(server.stop().success(), "graceful shutdown exits 0");
}

#[test]
fn a_hanging_crm_cannot_delay_the_answer_past_the_budget() {
    let crm = Crm::start(|_, _| Reply::json(r#"{"tier": "vip"}"#).after(Duration::from_secs(10)));
    let policy = format!(
        "source crm http \"{}/c?p={{call.from}}\" {{ timeout 5s }}\nfacts caller from crm {{ tier: string }}\nagent asha \"+919800000001\"\nrule vip: when caller.tier == \"vip\" -> agent asha\notherwise -> queue general\n",
        crm.url()
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.route"), policy).unwrap();
    let server = Server::start(dir.path(), &["p.route", "--budget-ms", "400"]);
    let start = Instant::now();
    let (status, body) = server.get("/v1/decide?CallFrom=09845012345");
    let took = start.elapsed();
    assert_eq!(status, 200);
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["rule"], "otherwise");
    assert_eq!(json["degraded"], serde_json::json!(["source crm: timeout"]));
    assert!(took < Duration::from_millis(1200), "took {took:?}");
    let (_, metrics) = server.get("/metrics");
    assert!(
        metrics.contains("routec_degraded_total{reason=\"source crm\"} 1"),
        "{metrics}"
    );
    server.stop();
}

fn version(k: usize) -> String {
    format!(
        "agent asha \"+919800000001\"\nrule nine: when call.digits == \"9\" -> queue nine{k}\notherwise -> queue v{k}\n"
    )
}

/// Writes a file as editors do: a hidden temporary file, renamed over the old one.
fn replace(path: &std::path::Path, text: &str) {
    let tmp = path.with_file_name(".p.route.tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn queue_of(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|d| d["queue"].as_str().map(String::from))
        .unwrap_or_default()
}

#[test]
fn reloads_under_load_swap_in_only_clean_versions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.route");
    std::fs::write(&path, version(1)).unwrap();
    let server = Arc::new(Server::start_with(
        dir.path(),
        &["p.route"],
        &[("ROUTEC_ADMIN_TOKEN", "s3cret")],
    ));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load: Vec<_> = (0..2)
        .map(|_| {
            let (server, stop) = (Arc::clone(&server), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut answers = Vec::new();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let (status, body) = server.get("/v1/decide?digits=1");
                    answers.push((status, queue_of(&body)));
                }
                answers
            })
        })
        .collect();
    let mut clean = vec!["v1".to_string()];
    for k in 2..=52 {
        if k % 3 == 0 {
            replace(&path, "otherwise -> queue\n");
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let (_, body) = server.get("/v1/policy");
                if body.contains("expected") {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "the broken version was never reported: {body}"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
            let (_, body) = server.get("/v1/decide");
            assert_eq!(
                queue_of(&body),
                *clean.last().unwrap(),
                "a broken version is not swapped in"
            );
        } else {
            replace(&path, &version(k));
            let want = format!("v{k}");
            let deadline = Instant::now() + Duration::from_secs(10);
            while queue_of(&server.get("/v1/decide").1) != want {
                assert!(
                    Instant::now() < deadline,
                    "version {k} was never swapped in"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
            clean.push(want);
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let answers: Vec<(u16, String)> = load.into_iter().flat_map(|t| t.join().unwrap()).collect();
    assert!(answers.len() > 200, "only {} requests", answers.len());
    for (status, queue) in &answers {
        assert_eq!(*status, 200);
        assert!(
            clean.contains(queue),
            "answer `{queue}` is from no clean version"
        );
    }
    let (_, body) = server.get("/v1/policy");
    assert!(body.contains("\"last_reload_error\":null"), "{body}");

    // The admin endpoint reloads, with the token only.
    assert_eq!(server.post("/v1/reload", "").0, 401);
    assert_eq!(
        server
            .post("/v1/reload", "Authorization: Bearer wrong\r\n")
            .0,
        401
    );
    let (status, body) = server.post("/v1/reload", "Authorization: Bearer s3cret\r\n");
    assert_eq!(status, 200, "{body}");
    eprintln!(
        "{} answers during 51 rewrites (17 broken), all from clean versions",
        answers.len()
    );
    match Arc::try_unwrap(server) {
        Ok(server) => assert!(server.stop().success()),
        Err(_) => panic!("server still shared"),
    }
}

#[test]
fn editing_a_data_file_reloads_it() {
    let dir = tempfile::tempdir().unwrap();
    let policy = "source vips csv \"data/vip.csv\" key phone\nfacts vip from vips { name: string }\nrule listed: when vip.name exists -> queue vip\notherwise -> queue general\n";
    std::fs::write(dir.path().join("p.route"), policy).unwrap();
    std::fs::create_dir(dir.path().join("data")).unwrap();
    let csv = dir.path().join("data/vip.csv");
    std::fs::write(&csv, "phone,name\n09845000001,Rao\n").unwrap();
    let server = Server::start(dir.path(), &["p.route"]);
    let decide = |from: &str| queue_of(&server.get(&format!("/v1/decide?CallFrom={from}")).1);
    assert_eq!(decide("09845000002"), "general");
    std::fs::write(&csv, "phone,name\n09845000001,Rao\n09845000002,Iyer\n").unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while decide("09845000002") != "vip" {
        assert!(
            Instant::now() < deadline,
            "the edited data file was never read again"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // A broken data file is refused like a broken policy: the last good data keeps serving.
    std::fs::write(&csv, "phone,name\n09845000003,A,B\n").unwrap();
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(decide("09845000002"), "vip");
    assert!(
        server
            .get("/v1/policy")
            .1
            .contains("fields, but the header has 2")
    );
    server.stop();
}

#[test]
fn metrics_count_requests_decisions_degraded_and_reloads() {
    let s = state(POLICY);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        send(Arc::clone(&s), get("/exotel/connect?digits=%221%22")).await;
        send(Arc::clone(&s), get("/exotel/connect?digits=%221%22")).await;
        send(Arc::clone(&s), get("/exotel/passthru?branch=general")).await;
        // A method a route refuses, a HEAD, a path no route has: each counted too.
        let request = |method: &str, target: &str| {
            Request::builder()
                .method(method)
                .uri(target)
                .body(Body::empty())
                .unwrap()
        };
        let (status, headers, _) =
            send(Arc::clone(&s), request("PUT", "/exotel/connect")).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(headers["allow"], "GET,HEAD,POST");
        let (status, headers, _) = send(Arc::clone(&s), request("PUT", "/healthz")).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(headers["allow"], "GET,HEAD");
        let (status, ..) = send(Arc::clone(&s), request("HEAD", "/healthz")).await;
        assert_eq!(status, StatusCode::OK);
        let (status, ..) = send(Arc::clone(&s), get("/exotel/nowhere")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, headers, body) = send(Arc::clone(&s), get("/metrics")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/plain")
        );
        let count = |route: &str| {
            format!(
                "routec_http_request_duration_seconds_count{{route=\"{route}\",method=\"GET\",status=\"200\"}}"
            )
        };
        assert!(body.contains(&format!("{} 2", count("/exotel/connect"))), "{body}");
        assert!(body.contains(&format!("{} 1", count("/exotel/passthru"))), "{body}");
        for (route, method, status) in [
            ("/exotel/connect", "PUT", 405),
            ("/healthz", "PUT", 405),
            ("/healthz", "HEAD", 200),
            ("unmatched", "GET", 404),
        ] {
            let line = format!(
                "routec_http_request_duration_seconds_count{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} 1"
            );
            assert!(body.contains(&line), "{line} in {body}");
        }
        assert!(
            body.contains("routec_decisions_total{rule=\"tech\",target=\"team\"} 2"),
            "{body}"
        );
        assert!(
            body.contains("routec_decisions_total{rule=\"otherwise\",target=\"queue\"} 1"),
            "{body}"
        );
        assert!(
            body.contains("routec_reloads_total{outcome=\"failed\",trigger=\"api\"} 0"),
            "{body}"
        );
        assert!(body.contains("routec_policy_info{policy=\""), "{body}");
        // Every metric name is routec's own or a standard process figure.
        for line in body.lines().filter(|l| !l.starts_with('#')) {
            assert!(
                line.starts_with("routec_") || line.starts_with("process_"),
                "{line}"
            );
        }
    });
}

#[test]
fn a_configured_secret_is_required_on_the_exotel_endpoints() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.route"), POLICY).unwrap();
    let server = Server::start_with(dir.path(), &["p.route"], &[("ROUTEC_EXOTEL_TOKEN", "k3y")]);
    for target in ["/exotel/connect?digits=1", "/exotel/passthru?branch=x"] {
        assert_eq!(server.get(target).0, 403, "{target} without the token");
    }
    assert_eq!(server.get("/exotel/connect?digits=1&token=nope").0, 403);
    let (status, body) = server.get("/exotel/connect?digits=%221%22&token=k3y");
    assert_eq!(status, 200);
    assert!(body.contains("+919800000001"), "{body}");
    // Health and metrics stay open, for the load balancer and the scraper.
    assert_eq!(server.get("/healthz").0, 200);
    assert!(server.stop().success());
}

/// The decision log goes through a bounded queue: a stdout pipe that nobody reads fills, and
/// the server answers on, dropping log lines and counting them.
#[test]
fn a_stdout_nobody_reads_does_not_stall_answers() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.route"), POLICY).unwrap();
    let mut server = Server::start_writing_to(dir.path(), &["p.route"], &[], Stdio::piped());
    // Held open and never read: the pipe's buffer (64 KB) fills after a few hundred lines.
    let _unread = server.stdout();
    // More lines than the queue holds (16,384) and the pipe buffers: some must be dropped.
    let server = Arc::new(server);
    std::thread::scope(|scope| {
        for t in 0..4 {
            let server = Arc::clone(&server);
            scope.spawn(move || {
                for i in 0..5000 {
                    let (status, _) =
                        server.get(&format!("/exotel/connect?CallSid=s{t}-{i}&digits=1"));
                    assert_eq!(status, 200, "request {t}-{i}");
                }
            });
        }
    });
    let (_, metrics) = server.get("/metrics");
    let dropped: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("routec_decision_log_dropped_total "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    assert!(dropped > 0, "{metrics}");
}

/// `/v1/decide` with a body that is no JSON object says so with 400; Exotel's endpoints,
/// sent the same, still answer a route.
#[test]
fn malformed_json_is_a_400_for_the_api_and_a_route_for_exotel() {
    let s = state(POLICY);
    let post = |uri: &str, body: &str| {
        Request::post(uri)
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        for body in ["{not json", "[1, 2]", "\"digits\""] {
            let (status, _, text) = send(Arc::clone(&s), post("/v1/decide", body)).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {text}");
            assert!(text.contains("JSON"), "{text}");
            let (status, _, text) = send(Arc::clone(&s), post("/exotel/connect", body)).await;
            assert_eq!(status, StatusCode::OK, "{body}: {text}");
            assert!(text.contains("\"destination\""), "{text}");
        }
        let (status, _, text) =
            send(Arc::clone(&s), post("/v1/decide", r#"{"digits": "1"}"#)).await;
        assert_eq!(status, StatusCode::OK, "{text}");
        assert!(text.contains("\"rule\":\"tech\""), "{text}");
    });
}

/// Two listeners: Exotel's port answers Exotel and health only; `/v1` and `/metrics` are on
/// the admin listener, behind the admin token when one is set, on loopback when none is.
#[test]
fn the_exotel_port_serves_exotel_only_and_the_admin_listener_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.route"), POLICY).unwrap();
    let server = Server::start_with(
        dir.path(),
        &["p.route"],
        &[("ROUTEC_ADMIN_TOKEN", "s3cret")],
    );
    for target in ["/v1/agents", "/v1/policy", "/v1/decide", "/metrics"] {
        assert_eq!(
            server.get_on_exotel_port(target).0,
            404,
            "{target} on the Exotel port"
        );
    }
    assert_eq!(server.get_on_exotel_port("/exotel/connect?digits=1").0, 200);
    assert_eq!(server.get_on_exotel_port("/healthz").0, 200);
    // On the admin listener every read needs the token; health does not.
    let admin = |head: &str| {
        let stream = std::net::TcpStream::connect(&server.admin_addr).unwrap();
        let mut stream = stream;
        write!(stream, "{head}Connection: close\r\n\r\n").unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse::<u16>().ok())
            .unwrap_or(0)
    };
    for target in ["/v1/agents", "/v1/policy", "/v1/decide", "/metrics"] {
        assert_eq!(
            admin(&format!("GET {target} HTTP/1.1\r\nHost: x\r\n")),
            401,
            "{target}"
        );
        let with = format!("GET {target} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\n");
        assert_eq!(admin(&with), 200, "{target} with the token");
    }
    assert_eq!(admin("GET /healthz HTTP/1.1\r\nHost: x\r\n"), 200);
    assert!(server.stop().success());
}

/// Without an admin token the admin listener stays on this machine: another address is
/// refused at start, saying why.
#[test]
fn the_admin_listener_leaves_loopback_only_with_a_token() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.route"), POLICY).unwrap();
    let output = Command::new(binary())
        .args([
            "serve",
            "p.route",
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "0.0.0.0:0",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no `admin_token` is set"), "{stderr}");
}

/// What one client may cost: a head too large is a 431, a head too slow is cut off, and a
/// connection past the cap is a 429; the server answers everyone else throughout.
#[test]
fn limits_answer_large_slow_and_too_many_clients_with_a_4xx() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.route"), POLICY).unwrap();
    let server = Server::start_with(
        dir.path(),
        &["p.route"],
        &[
            ("ROUTEC_LIMITS_MAX_CONNECTIONS", "3"),
            ("ROUTEC_LIMITS_HEADER_READ_TIMEOUT_MS", "300"),
            ("ROUTEC_LOG_DECISIONS", "false"),
        ],
    );
    let raw = |head: &[u8]| {
        let mut stream = std::net::TcpStream::connect(&server.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        stream.write_all(head).unwrap();
        let mut response = Vec::new();
        let _ = stream.read_to_end(&mut response);
        String::from_utf8_lossy(&response).into_owned()
    };
    // A head past 16 KB.
    let huge = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: {}\r\n\r\n",
        "a".repeat(20_000)
    );
    let answer = raw(huge.as_bytes());
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    // A head that never ends is cut off after the timeout, not held.
    let started = Instant::now();
    let answer = raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\n");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "held {:?}",
        started.elapsed()
    );
    assert!(!answer.contains("200 OK"), "{answer}");
    // Three idle connections take every place; the fourth is told so.
    let idle: Vec<_> = (0..3)
        .map(|_| std::net::TcpStream::connect(&server.addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(50));
    let answer = raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.1 429"), "{answer}");
    // Once they go (closed, or cut off by the head timeout), calls are answered again.
    drop(idle);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(server.get("/exotel/connect?digits=1").0, 200);
    assert!(server.stop().success());
}

/// A server of [`POLICY`] whose head timeout is 300 ms (and its directory, to keep).
fn head_timeout_server() -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.route"), POLICY).unwrap();
    let server = Server::start_with(
        dir.path(),
        &["p.route"],
        &[
            ("ROUTEC_LIMITS_HEADER_READ_TIMEOUT_MS", "300"),
            ("ROUTEC_LOG_DECISIONS", "false"),
        ],
    );
    (dir, server)
}

/// A connection to `addr` whose reads wait 5 s at most.
fn connected(addr: &str) -> std::net::TcpStream {
    let stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
}

/// The head timeout counts only while a connection waits for a head: a connection asking
/// again and again for longer than the timeout keeps its place, and is closed once it has
/// waited the timeout after its last answer.
#[test]
fn a_kept_alive_connection_is_closed_once_it_waits_the_head_timeout() {
    let (_dir, server) = head_timeout_server();
    let mut stream = connected(&server.addr);
    // One answer at a time, by its length: the connection stays open.
    let ask = |stream: &mut std::net::TcpStream| {
        write!(
            stream,
            "GET /exotel/connect?digits=1 HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        .unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8];
        while !head.ends_with(b"\r\n\r\n") {
            stream.read_exact(&mut byte).unwrap();
            head.push(byte[0]);
        }
        let head = String::from_utf8(head).unwrap();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .and_then(|n| n.trim().parse().ok())
            .unwrap();
        let mut body = vec![0; length];
        stream.read_exact(&mut body).unwrap();
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    };
    let started = Instant::now();
    for _ in 0..8 {
        ask(&mut stream);
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(started.elapsed() > Duration::from_millis(800));
    ask(&mut stream);
    let answered = Instant::now();
    let mut rest = Vec::new();
    let read = stream.read_to_end(&mut rest);
    let waited = answered.elapsed();
    assert!(matches!(read, Ok(0)), "{read:?} {rest:?}");
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_secs(3),
        "closed after {waited:?}"
    );
    assert!(server.stop().success());
}

/// An answer that streams (the console's Live feed) is one answer however long it lasts: the
/// head timeout does not cut it off, and its events keep coming.
#[test]
fn a_stream_of_events_outlives_the_head_timeout() {
    let (_dir, server) = head_timeout_server();
    let mut stream = connected(&server.admin_addr);
    write!(
        stream,
        "GET /console/api/events HTTP/1.1\r\nHost: {}\r\n\r\n",
        server.admin_addr
    )
    .unwrap();
    // What the stream has sent, read until `text` is in it.
    fn read_until(stream: &mut std::net::TcpStream, seen: &mut String, text: &str) {
        let mut chunk = [0u8; 4096];
        while !seen.contains(text) {
            match stream.read(&mut chunk) {
                Ok(0) => panic!("closed before {text:?}: {seen}"),
                Ok(n) => seen.push_str(&String::from_utf8_lossy(&chunk[..n])),
                Err(e) => panic!("{e} before {text:?}: {seen}"),
            }
        }
    }
    let mut seen = String::new();
    read_until(&mut stream, &mut seen, "\r\n\r\n");
    assert!(seen.starts_with("HTTP/1.1 200"), "{seen}");
    // Three times the head timeout, then a decision: it reaches the stream.
    std::thread::sleep(Duration::from_millis(900));
    let (status, _) = server.get(&format!("/exotel/connect?{EXOTEL_QUERY}"));
    assert_eq!(status, 200);
    read_until(&mut stream, &mut seen, "9953099079d70b89bbc1aa43ae6d1893");
    assert!(server.stop().success());
}

/// The OpenAPI description is served on the admin listener and names every route both
/// listeners serve (the secret-in-path forms are the same operations).
#[test]
fn the_openapi_description_is_served_and_names_every_route() {
    let spec: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(crate::test::repo().join("api/openapi.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(spec["openapi"], "3.1.0");
    let paths = spec["paths"].as_object().unwrap();
    let router = std::fs::read_to_string(crate::test::repo().join("src/server/mod.rs")).unwrap();
    let routes: Vec<&str> = router
        .split(".route(\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .filter(|route| !route.contains("{secret}"))
        .collect();
    assert!(routes.len() >= 12, "{routes:?}");
    for route in routes {
        assert!(
            paths.contains_key(route),
            "`{route}` is not in api/openapi.json"
        );
    }
    let s = state(POLICY);
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let (status, headers, body) = send(Arc::clone(&s), get("/v1/openapi.json")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers["content-type"], "application/json");
        let served: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(served, spec);
    });
}
