//! The operator console against the real binary: its login, sessions and CSRF checks over a
//! socket, and every page in a real browser (Debian's chromium, through chromedriver), which
//! also makes the screenshots in `docs/console/` (with `ROUTEC_UPDATE_SCREENSHOTS=1`).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::serve::Server;
use crate::webdriver::Browser;

const TOKEN: &str = "console-t0ken";

/// A raw request to `addr`; the whole response, head and body.
fn raw(addr: &str, head: &str, body: &str) -> String {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    write!(
        stream,
        "{head}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response
}

/// A response's body, read as JSON.
fn json_body(response: &str) -> serde_json::Value {
    serde_json::from_str(response.split("\r\n\r\n").nth(1).unwrap()).unwrap()
}

fn status(response: &str) -> u16 {
    response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// `rules/` as `active/`, and as `candidate/` with one more rule first: premium callers to the
/// VIP desk.
fn policies(dir: &Path) {
    let rules = crate::test::repo().join("rules");
    copy_tree(&rules, &dir.join("active"));
    copy_tree(&rules, &dir.join("candidate"));
    let routing = dir.join("candidate/routing.route");
    let text = std::fs::read_to_string(&routing).unwrap();
    let edited = text.replacen(
        "rule vip_manager:",
        "rule premium_line: when caller.tier == premium -> team VIP_DESK\nrule vip_manager:",
        1,
    );
    std::fs::write(routing, edited).unwrap();
}

/// Logs in with the form; the session cookie (`routec_session=…`).
fn log_in(server: &Server) -> String {
    let head = format!(
        "POST /console/login HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-www-form-urlencoded\r\n",
        server.admin_addr
    );
    let response = raw(&server.admin_addr, &head, &format!("token={TOKEN}"));
    assert_eq!(status(&response), 303, "{response}");
    let cookie = response
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .expect("a session cookie");
    for part in ["HttpOnly", "SameSite=Strict", "Max-Age="] {
        assert!(cookie.contains(part), "{cookie}");
    }
    cookie
        .split_once(':')
        .unwrap()
        .1
        .split(';')
        .next()
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn console_urls_need_a_session_and_changes_need_its_csrf_token() {
    let dir = tempfile::tempdir().unwrap();
    policies(dir.path());
    let server = Server::start_with(dir.path(), &["active"], &[("ROUTEC_ADMIN_TOKEN", TOKEN)]);
    let admin = &server.admin_addr;
    let host = format!("Host: {admin}\r\n");
    // Not logged in: pages send the browser to the form, data is refused.
    let index = raw(admin, &format!("GET / HTTP/1.1\r\n{host}"), "");
    assert_eq!(status(&index), 303, "{index}");
    assert!(index.contains("location: /console/login"), "{index}");
    for path in [
        "/console/api/rules",
        "/console/api/events",
        "/console/api/shape",
        "/console/app.js",
    ] {
        let response = raw(admin, &format!("GET {path} HTTP/1.1\r\n{host}"), "");
        assert_eq!(status(&response), 401, "{path}: {response}");
    }
    let forged = raw(
        admin,
        &format!("GET /console/api/rules HTTP/1.1\r\n{host}Cookie: routec_session=guessed\r\n"),
        "",
    );
    assert_eq!(status(&forged), 401);
    // The form is open; a wrong token is refused.
    let form = raw(admin, &format!("GET /console/login HTTP/1.1\r\n{host}"), "");
    assert_eq!(status(&form), 200);
    assert!(form.contains("<form method=\"post\""), "{form}");
    let wrong = raw(
        admin,
        &format!(
            "POST /console/login HTTP/1.1\r\n{host}Content-Type: application/x-www-form-urlencoded\r\n"
        ),
        "token=nope",
    );
    assert_eq!(status(&wrong), 401);
    assert!(!wrong.to_ascii_lowercase().contains("set-cookie"));
    // Logged in: reads work; a change without the CSRF token is refused, with it accepted.
    let cookie = log_in(&server);
    let with = |method: &str, path: &str, extra: &str, body: &str| {
        let head = format!("{method} {path} HTTP/1.1\r\n{host}Cookie: {cookie}\r\n{extra}");
        raw(admin, &head, body)
    };
    assert_eq!(status(&with("GET", "/", "", "")), 200);
    assert_eq!(status(&with("GET", "/console/api/rules", "", "")), 200);
    let csrf = csrf_of(&server, &cookie);
    let json = "Content-Type: application/json\r\n";
    let no_csrf = with(
        "PUT",
        "/v1/agents/asha/status",
        json,
        r#"{"status":"break"}"#,
    );
    assert_eq!(status(&no_csrf), 403, "{no_csrf}");
    let set_break = |extra: &str| {
        let response = with(
            "PUT",
            "/v1/agents/asha/status",
            extra,
            r#"{"status":"break"}"#,
        );
        status(&response)
    };
    assert_eq!(
        set_break(&format!("{json}x-routec-csrf: {}\r\n", "0".repeat(64))),
        403
    );
    // Another site's page, even with the cookie and the token somehow, is refused.
    let cross = format!("{json}x-routec-csrf: {csrf}\r\nOrigin: http://evil.example\r\n");
    assert_eq!(set_break(&cross), 403);
    let ok = format!("{json}x-routec-csrf: {csrf}\r\n");
    let set = with(
        "PUT",
        "/v1/agents/asha/status",
        &ok,
        r#"{"status":"break"}"#,
    );
    assert_eq!(status(&set), 200, "{set}");
    // Logged out: the cookie no longer works.
    assert_eq!(status(&with("POST", "/console/logout", &ok, "")), 303);
    assert_eq!(status(&with("GET", "/console/api/rules", "", "")), 401);
}

#[test]
fn without_a_token_the_console_opens_on_this_machine_only() {
    let dir = tempfile::tempdir().unwrap();
    policies(dir.path());
    let server = Server::start(dir.path(), &["active"]);
    let admin = &server.admin_addr;
    let local = format!("Host: {admin}\r\n");
    assert_eq!(
        status(&raw(admin, &format!("GET / HTTP/1.1\r\n{local}"), "")),
        200
    );
    // A page of another name that resolves here (DNS rebinding) is refused.
    let rebound = raw(
        admin,
        "GET /console/api/session HTTP/1.1\r\nHost: evil.example\r\n",
        "",
    );
    assert_eq!(status(&rebound), 403);
    // Changes need the page's CSRF token: an API client without one is told how to turn
    // admin endpoints on, as before.
    let plain = raw(admin, &format!("POST /v1/reload HTTP/1.1\r\n{local}"), "");
    assert_eq!(status(&plain), 403, "{plain}");
    assert!(plain.contains("admin endpoints are off"));
    let session = raw(
        admin,
        &format!("GET /console/api/session HTTP/1.1\r\n{local}"),
        "",
    );
    let session = json_body(&session);
    assert_eq!(session["login"], false);
    let csrf = session["csrf"].as_str().unwrap();
    let reload = raw(
        admin,
        &format!("POST /v1/reload HTTP/1.1\r\n{local}x-routec-csrf: {csrf}\r\n"),
        "",
    );
    assert_eq!(status(&reload), 200, "{reload}");
}

/// Whether the browser test can run: skipped loudly without chromium, failed under CI.
fn browser_or_skip() -> bool {
    match crate::webdriver::missing() {
        None => true,
        Some(why) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("the console's browser test needs chromium: {why}")
        }
        Some(why) => {
            eprintln!("SKIPPED the console's browser test: {why}");
            false
        }
    }
}

/// Where screenshots go: `docs/console/` when asked to update them, else under `target/`.
fn screenshots() -> PathBuf {
    let dir = if std::env::var("ROUTEC_UPDATE_SCREENSHOTS").as_deref() == Ok("1") {
        crate::test::repo().join("docs/console")
    } else {
        crate::test::repo().join("target/console-screenshots")
    };
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn wait_for_outcome(server: &Server, rule: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, metrics) = server.get("/metrics");
        let line = format!("routec_outcomes_total{{rule=\"{rule}\",outcome=\"answered\"}} 1");
        if metrics.contains(&line) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no answered outcome for `{rule}`:\n{metrics}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_lead_watches_adjusts_and_experiments_in_a_real_browser() {
    if !browser_or_skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    policies(dir.path());
    let server = Server::start_with(
        dir.path(),
        &["active", "--shadow", "candidate"],
        &[("ROUTEC_ADMIN_TOKEN", TOKEN)],
    );
    let shots = screenshots();
    let browser = Browser::start(1280, 800);
    let console = format!("http://{}", server.admin_addr);
    let shot = |name: &str| {
        std::fs::write(shots.join(format!("{name}.png")), browser.screenshot()).unwrap();
    };

    // 1. Log in.
    browser.open(&format!("{console}/"));
    browser.wait_for("#token");
    assert!(
        browser.url().ends_with("/console/login"),
        "{}",
        browser.url()
    );
    browser.type_into("#token", TOKEN);
    browser.click("button[type=submit]");
    browser.wait_for("#page-live h1");
    browser.wait_until(
        "the live feed is connected",
        "return document.querySelector('#status').textContent.startsWith('Connected');",
    );

    // 2. A Connect request appears on Live; its trace opens. (An enterprise caller whose
    //    account manager is asha, from `data/customers.csv`.)
    let call = |sid: &str| {
        let (status, _) = server.get(&format!(
            "/exotel/connect?CallSid={sid}&CallFrom=09845000001&digits=%221%22"
        ));
        assert_eq!(status, 200);
    };
    call("b1");
    browser.wait_for("#live-table tbody tr");
    let row = browser.text("#live-table tbody tr");
    assert!(
        row.contains("vip_manager") && row.contains("+919800000001"),
        "{row}"
    );
    browser.click("#live-table tbody tr");
    browser.wait_for("#live-detail");
    let trace = browser.text("#trace");
    assert!(
        trace.contains("vip_manager") && trace.contains("fired"),
        "{trace}"
    );
    // More traffic, for a page worth a screenshot: rules that did not fire say why.
    for (i, digits) in ["2", "3", "9", "1"].iter().enumerate() {
        server.get(&format!(
            "/exotel/connect?CallSid=s{i}&CallFrom=0804000000{i}&digits=%22{digits}%22"
        ));
    }
    browser.wait_until(
        "five rows",
        "return document.querySelectorAll('#live-table tbody tr').length >= 5;",
    );
    // The newest (the tech line's call): its trace says why each earlier rule did not fire.
    browser.click("#live-table tbody tr");
    browser.wait_until(
        "the tech call's trace",
        "return document.querySelector('#trace').textContent.includes('is false');",
    );
    shot("live");
    // A burst of 1,504 Passthrus (they move no state) from 8 threads: the page keeps up,
    // draws at most 200 rows, and counts every decision, shown or sampled out. In two halves
    // 250 ms apart: at most 100 decisions are shown each 100 ms, and a fast machine sends a
    // half within one such window.
    std::thread::scope(|scope| {
        for t in 0..8 {
            let server = &server;
            scope.spawn(move || {
                for i in 0..188 {
                    if i == 94 {
                        std::thread::sleep(std::time::Duration::from_millis(250));
                    }
                    server.get(&format!(
                        "/exotel/passthru?CallSid=burst{t}-{i}&CallFrom=08040000001&digits=%229%22"
                    ));
                }
            });
        }
    });
    browser.wait_until(
        "the page counted the burst",
        "return parseInt(document.querySelector('#live-rate').textContent) >= 1500;",
    );
    let rows = browser.run("return document.querySelectorAll('#live-table tbody tr').length;");
    assert_eq!(rows, serde_json::json!(200));

    // 3. asha goes on break from the board; the next call skips her.
    browser.open(&format!("{console}/#agents"));
    browser.click("button[data-agent=asha][data-status=break]");
    browser.wait_until(
        "asha shows as on break",
        "return document.querySelector('article.agent.break h3')?.textContent === 'asha';",
    );
    shot("agents");
    browser.open(&format!("{console}/#live"));
    browser.wait_until(
        "the live feed is connected again",
        "return document.querySelector('#status').textContent.startsWith('Connected');",
    );
    call("b2");
    browser.wait_until(
        "b2's row, to the VIP desk's other agent",
        "return !!document.querySelector('#live-table tbody tr')?.textContent.includes('+919800000005');",
    );
    let row = browser.text("#live-table tbody tr");
    assert!(row.contains("vip_manager"), "{row}");
    assert!(
        row.contains("+919800000005") && !row.contains("+919800000001"),
        "{row}"
    );

    // 4. The playground, for a premium caller pressing 2 at 7 pm on a Monday: the active
    //    policy's billing rule, and the candidate's new premium line beside it.
    browser.open(&format!("{console}/#playground"));
    browser.wait_for("#pg-fact-caller-tier");
    browser.type_into("#pg-from", "09845000077");
    browser.type_into("#pg-digits", "2");
    browser.run(
        "const at = document.querySelector('#pg-at'); at.value = '2026-11-23T19:00'; \
         document.querySelector('#pg-fact-caller-tier').value = 'premium'; return true;",
    );
    browser.click("#pg-run");
    browser.wait_for("#pg-result .result[data-which=active] .rule-name");
    assert_eq!(browser.text("[data-which=active] .rule-name"), "billing");
    assert_eq!(
        browser.text("[data-which=candidate] .rule-name"),
        "premium_line"
    );
    browser.run("document.querySelector('#pg-agents').scrollIntoView(); return true;");
    shot("playground");

    // 5. A completion event for b1 (decided by vip_manager); the Rules page counts it answered.
    server.get(
        "/exotel/events?CallSid=b1&CallType=completed&DialWhomNumber=09800000001&DialCallStatus=completed",
    );
    wait_for_outcome(&server, "vip_manager");
    browser.open(&format!("{console}/#rules"));
    browser.wait_until(
        "vip_manager's answered count",
        "return document.querySelector('td[data-rule=vip_manager][data-outcome=answered]')?.textContent === '1';",
    );
    shot("rules");

    // The Policy page shows the version and a reload.
    browser.open(&format!("{console}/#policy"));
    browser.wait_until(
        "the policy's name",
        "return document.querySelector('#policy-facts').textContent.includes('acme-support');",
    );
    browser.click("#reload");
    browser.wait_until(
        "the reload is reported",
        "return document.querySelector('#status').textContent.startsWith('Reloaded');",
    );
    shot("policy");

    // At tablet width the board still fits.
    browser.resize(800, 1100);
    browser.open(&format!("{console}/#agents"));
    browser.wait_for("article.agent");
    let overflow = browser.run(
        "return document.documentElement.scrollWidth <= document.documentElement.clientWidth;",
    );
    assert_eq!(
        overflow,
        serde_json::json!(true),
        "the board scrolls sideways at 800 px"
    );
    shot("agents-tablet");

    // 6. Without the session cookie, console URLs are refused.
    let (status, _) = Server::request_to(
        &server.admin_addr,
        "GET /console/api/rules HTTP/1.1\r\nHost: x\r\n",
    );
    assert_eq!(status, 401);
}

/// The board's calls (`/v1/agents`, `PUT …/status`) with a console session, on a server.
fn board(
    server: &Server,
    cookie: &str,
    csrf: &str,
    set: Option<(&str, &str)>,
) -> serde_json::Value {
    let admin = &server.admin_addr;
    let host = format!("Host: {admin}\r\nCookie: {cookie}\r\n");
    if let Some((agent, to)) = set {
        let head = format!(
            "PUT /v1/agents/{agent}/status HTTP/1.1\r\n{host}x-routec-csrf: {csrf}\r\nContent-Type: application/json\r\n"
        );
        let response = raw(admin, &head, &format!("{{\"status\":\"{to}\"}}"));
        assert_eq!(status(&response), 200, "{response}");
    }
    json_body(&raw(
        admin,
        &format!("GET /v1/agents HTTP/1.1\r\n{host}"),
        "",
    ))
}

fn csrf_of(server: &Server, cookie: &str) -> String {
    let admin = &server.admin_addr;
    let head =
        format!("GET /console/api/session HTTP/1.1\r\nHost: {admin}\r\nCookie: {cookie}\r\n");
    json_body(&raw(admin, &head, ""))["csrf"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn the_board_works_the_same_on_redis_across_replicas() {
    let Some(url) = crate::state::redis_url("console_board_on_redis") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("p.route"),
        "agent a \"+919800000001\"\nagent b \"+919800000002\"\n\
         team T [a, b] strategy round_robin\notherwise -> team T\n",
    )
    .unwrap();
    let prefix = crate::state::unique_prefix("console");
    let envs = |token: &'static str| {
        [
            ("ROUTEC_STATE_STORE", "redis"),
            ("ROUTEC_STATE_REDIS_URL", url.as_str()),
            ("ROUTEC_STATE_KEY_PREFIX", prefix.as_str()),
            ("ROUTEC_ADMIN_TOKEN", token),
        ]
    };
    let one = Server::start_with(dir.path(), &["p.route"], &envs(TOKEN));
    let two = Server::start_with(dir.path(), &["p.route"], &envs(TOKEN));
    let (c1, c2) = (log_in(&one), log_in(&two));
    let (x1, x2) = (csrf_of(&one, &c1), csrf_of(&two, &c2));
    // Set on one replica's board, seen on the other's.
    board(&one, &c1, &x1, Some(("a", "break")));
    let seen = board(&two, &c2, &x2, None);
    assert_eq!(seen["agents"][0]["name"], "a");
    assert_eq!(seen["agents"][0]["status"], "break", "{seen:#}");
    board(&two, &c2, &x2, Some(("a", "available")));
    assert_eq!(
        board(&one, &c1, &x1, None)["agents"][0]["status"],
        "available"
    );
}

#[test]
fn the_rules_page_shows_unreachable_rules_and_attributes_outcomes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("p.route"),
        "agent a \"+919800000001\"\n\
         rule all: when call.digits exists or not call.digits exists -> agent a\n\
         rule never: when call.digits == \"1\" -> agent a\n\
         otherwise -> queue q\n",
    )
    .unwrap();
    let server = Server::start_with(dir.path(), &["p.route"], &[("ROUTEC_ADMIN_TOKEN", TOKEN)]);
    server.get("/exotel/connect?CallSid=u1&CallFrom=09845000001");
    server.get("/exotel/events?CallSid=u1&CallType=completed&DialWhomNumber=09800000001&DialCallStatus=completed");
    // An event for a call this server never decided is not attributed.
    server.get("/exotel/events?CallSid=elsewhere&CallType=completed&DialWhomNumber=09800000001&DialCallStatus=completed");
    let cookie = log_in(&server);
    let admin = &server.admin_addr;
    let head = format!("GET /console/api/rules HTTP/1.1\r\nHost: {admin}\r\nCookie: {cookie}\r\n");
    let rules = json_body(&raw(admin, &head, ""));
    let all = &rules["rules"][0];
    assert_eq!(all["rule"], "all");
    assert_eq!(
        (all["today"].as_u64(), all["answered"].as_u64()),
        (Some(1), Some(1)),
        "{rules:#}"
    );
    assert_eq!(all["share"], 100.0);
    let never = &rules["rules"][1];
    assert!(
        never["warning"]
            .as_str()
            .unwrap()
            .contains("rule `never` can never fire"),
        "{rules:#}"
    );
    let (_, metrics) = server.get("/metrics");
    assert!(
        metrics.contains("routec_outcomes_total{rule=\"all\",outcome=\"answered\"} 1"),
        "{metrics}"
    );
    assert!(!metrics.contains("outcome=\"answered\"} 2"));
}
