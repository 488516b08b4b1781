//! `routec lsp` driven over stdio as an editor drives it: JSON-RPC with `Content-Length`
//! framing, against the real binary.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::test::binary;

struct Client {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    next_id: i64,
    /// Notifications received while waiting for responses.
    notifications: Vec<Value>,
}

impl Client {
    fn start() -> Client {
        let mut child = Command::new(binary())
            .arg("lsp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start routec lsp");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Client {
            child,
            stdin,
            stdout,
            next_id: 1,
            notifications: Vec::new(),
        }
    }

    fn send(&mut self, message: Value) {
        let body = message.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
        self.stdin.flush().unwrap();
    }

    fn receive(&mut self) -> Value {
        let mut length = 0;
        loop {
            let mut line = String::new();
            self.stdout.read_line(&mut line).unwrap();
            assert!(!line.is_empty(), "the server closed its output");
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some(n) = line.strip_prefix("Content-Length: ") {
                length = n.parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        self.stdout.read_exact(&mut body).unwrap();
        serde_json::from_slice(&body).unwrap()
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        loop {
            let message = self.receive();
            if message["id"] == json!(id) {
                return message;
            }
            self.notifications.push(message);
        }
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// The labels of the completions offered at `position` of `uri`.
    fn completion_labels(&mut self, uri: &str, position: Value) -> Vec<String> {
        let completion = self.request(
            "textDocument/completion",
            json!({"textDocument": {"uri": uri}, "position": position}),
        );
        completion["result"]["items"]
            .as_array()
            .unwrap_or_else(|| panic!("{completion}"))
            .iter()
            .filter_map(|i| Some(i["label"].as_str()?.to_string()))
            .collect()
    }

    /// The diagnostics last published for `uri`, waiting for one if none came yet.
    fn diagnostics_for(&mut self, uri: &str) -> Vec<Value> {
        loop {
            let found = self.notifications.iter().rev().find(|n| {
                n["method"] == "textDocument/publishDiagnostics" && n["params"]["uri"] == uri
            });
            if let Some(n) = found {
                return n["params"]["diagnostics"].as_array().unwrap().clone();
            }
            let message = self.receive();
            self.notifications.push(message);
        }
    }
}

const PEOPLE: &str = "agent asha \"+919800000001\" skills [tech: 3] languages [en, hi]\n\
                      agent ravi \"+919800000002\"\n\
                      team DESK [asha, ravi] strategy round_robin\n\
                      schedule always { mon-sun 00:00-24:00 timezone \"Asia/Kolkata\" }\n";
const RULES: &str = "enum Tier { standard, premium }\n\
                     source crm csv \"c.csv\" key phone\n\
                     facts caller from crm { tier: Tier  note: string }\n\
                     rule vip: when caller.teir == premium -> agent asha or team DESK\n\
                     otherwise -> team  DESK\n";

fn at(text: &str, needle: &str, nth: usize) -> Value {
    let offset = text.match_indices(needle).nth(nth).unwrap().0;
    let line = text[..offset].matches('\n').count();
    let column = offset - text[..offset].rfind('\n').map_or(0, |i| i + 1);
    json!({"line": line, "character": column})
}

#[test]
fn an_editor_session_over_stdio() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    std::fs::write(root.join("people.route"), PEOPLE).unwrap();
    std::fs::write(root.join("rules.route"), RULES).unwrap();
    std::fs::write(root.join("c.csv"), "phone,tier,note\n").unwrap();
    let uri = |name: &str| format!("file://{}", root.join(name).display());
    let (people, rules) = (uri("people.route"), uri("rules.route"));
    let mut client = Client::start();

    let init = client.request(
        "initialize",
        json!({"processId": null, "rootUri": format!("file://{}", root.display()), "capabilities": {}}),
    );
    let caps = &init["result"]["capabilities"];
    for capability in [
        "hoverProvider",
        "definitionProvider",
        "referencesProvider",
        "renameProvider",
        "documentSymbolProvider",
        "documentFormattingProvider",
    ] {
        assert_eq!(caps[capability], true, "{capability}: {init}");
    }
    assert_eq!(
        caps["completionProvider"]["triggerCharacters"],
        json!(["."])
    );
    client.notify("initialized", json!({}));

    // Diagnostics on open: the misspelt field, where it is.
    client.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": rules, "languageId": "route", "version": 1, "text": RULES}}),
    );
    let diagnostics = client.diagnostics_for(&rules);
    let field = diagnostics
        .iter()
        .find(|d| d["code"] == "route::unknown-field")
        .unwrap_or_else(|| panic!("{diagnostics:#?}"));
    let start = at(RULES, "teir", 0);
    assert_eq!(field["range"]["start"], start);
    assert_eq!(
        field["range"]["end"]["character"],
        start["character"].as_u64().unwrap() + 4
    );
    assert!(
        field["message"]
            .as_str()
            .unwrap()
            .contains("did you mean `tier`?")
    );

    // A quick fix for the "did you mean".
    let actions = client.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": rules}, "range": field["range"], "context": {"diagnostics": [field]}}),
    );
    let fix = &actions["result"][0];
    assert_eq!(fix["title"], "change to `tier`", "{actions}");
    assert_eq!(fix["edit"]["changes"][&rules][0]["newText"], "tier");
    assert_eq!(fix["edit"]["changes"][&rules][0]["range"], field["range"]);

    // Hover on a team: its members and strategy.
    let hover = client.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": rules}, "position": at(RULES, "DESK", 0)}),
    );
    let text = hover["result"]["contents"]["value"]
        .as_str()
        .unwrap_or_default();
    assert!(text.contains("members: asha, ravi"), "{hover}");
    assert!(text.contains("round_robin"), "{hover}");

    // Hover on a schedule: whether it is open now (of a policy without errors).
    client.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": rules, "version": 2},
               "contentChanges": [{"text": RULES.replace("teir", "tier")}]}),
    );
    client.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": people, "languageId": "route", "version": 1, "text": PEOPLE}}),
    );
    let hover = client.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": people}, "position": at(PEOPLE, "always", 0)}),
    );
    let text = hover["result"]["contents"]["value"]
        .as_str()
        .unwrap_or_default();
    assert!(text.contains("open now (Asia/Kolkata)"), "{hover}");

    // Hover on a rule that earlier rules shadow: it says which.
    let shadowed = RULES.replace("teir", "tier").replace(
        "otherwise",
        "rule late: when caller.tier == premium -> queue q\notherwise",
    );
    client.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": rules, "version": 3}, "contentChanges": [{"text": shadowed}]}),
    );
    let hover = client.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": rules}, "position": at(&shadowed, "late", 0)}),
    );
    let text = hover["result"]["contents"]["value"]
        .as_str()
        .unwrap_or_default();
    assert!(text.contains("`vip`"), "{hover}");
    client.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": rules, "version": 4}, "contentChanges": [{"text": RULES}]}),
    );

    // Definition of an agent, in the other file.
    let definition = client.request(
        "textDocument/definition",
        json!({"textDocument": {"uri": rules}, "position": at(RULES, "asha", 0)}),
    );
    assert_eq!(definition["result"]["uri"], people);
    assert_eq!(
        definition["result"]["range"]["start"],
        at(PEOPLE, "asha", 0)
    );

    // References of the team: its declaration and both uses.
    let references = client.request(
        "textDocument/references",
        json!({"textDocument": {"uri": people}, "position": at(PEOPLE, "DESK", 0),
               "context": {"includeDeclaration": true}}),
    );
    let found = references["result"].as_array().unwrap();
    assert_eq!(found.len(), 3, "{references}");

    // Rename across the two files; a clash is refused with a reason.
    let rename = client.request(
        "textDocument/rename",
        json!({"textDocument": {"uri": people}, "position": at(PEOPLE, "asha", 0), "newName": "asha_k"}),
    );
    let changes = &rename["result"]["changes"];
    assert_eq!(changes[&people].as_array().unwrap().len(), 2, "{rename}");
    assert_eq!(changes[&rules].as_array().unwrap().len(), 1, "{rename}");
    let clash = client.request(
        "textDocument/rename",
        json!({"textDocument": {"uri": people}, "position": at(PEOPLE, "asha", 0), "newName": "ravi"}),
    );
    assert!(
        clash["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("already the name of agent `ravi`"),
        "{clash}"
    );

    // Completion after `caller.`: its fields.
    let edited = RULES.replace("caller.teir", "caller.");
    client.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": rules, "version": 3}, "contentChanges": [{"text": edited}]}),
    );
    let mut position = at(&edited, "caller.", 0);
    position["character"] = json!(position["character"].as_u64().unwrap() + 7);
    let labels = client.completion_labels(&rules, position);
    assert_eq!(labels, ["tier", "note", "last_agent"]);

    // Completion where a target goes: the target keywords only.
    let mut position = at(&edited, "-> ", 0);
    position["character"] = json!(position["character"].as_u64().unwrap() + 3);
    let labels = client.completion_labels(&rules, position);
    assert_eq!(
        labels,
        ["team", "agent", "agents", "number", "queue", "flow"]
    );

    // Completion after a comparison with an enum-typed fact: its variants.
    let edited = RULES.replace("caller.teir == premium", "caller.tier == p");
    client.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": rules, "version": 3}, "contentChanges": [{"text": edited}]}),
    );
    let mut position = at(&edited, "== p", 0);
    position["character"] = json!(position["character"].as_u64().unwrap() + 4);
    let labels = client.completion_labels(&rules, position);
    assert_eq!(labels, ["standard", "premium"]);

    // Formatting: what `routec fmt` writes.
    client.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": rules, "version": 4}, "contentChanges": [{"text": RULES}]}),
    );
    let formatting = client.request(
        "textDocument/formatting",
        json!({"textDocument": {"uri": rules}, "options": {"tabSize": 2, "insertSpaces": true}}),
    );
    let expected = routec::formatter::format("rules.route", RULES).unwrap();
    assert_eq!(
        formatting["result"][0]["newText"],
        expected.as_str(),
        "{formatting}"
    );

    // Outline.
    let symbols = client.request(
        "textDocument/documentSymbol",
        json!({"textDocument": {"uri": people}}),
    );
    let names: Vec<&str> = symbols["result"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names, ["asha", "ravi", "DESK", "always"]);

    // Text that is no policy at all, with characters beyond ASCII: answers, no crash.
    let odd = "rule é: when caller.é == \"日本\" -> tëam";
    client.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": rules, "version": 9}, "contentChanges": [{"text": odd}]}),
    );
    for character in 0..odd.chars().count() as u64 + 2 {
        let position = json!({"line": 0, "character": character});
        for method in [
            "textDocument/completion",
            "textDocument/hover",
            "textDocument/definition",
        ] {
            let answer = client.request(
                method,
                json!({"textDocument": {"uri": rules}, "position": position}),
            );
            assert!(
                answer.get("error").is_none(),
                "{method} at {character}: {answer}"
            );
        }
    }

    // Shutdown and exit: a clean end.
    let shutdown = client.request("shutdown", Value::Null);
    assert_eq!(shutdown["result"], Value::Null);
    client.notify("exit", Value::Null);
    drop(client.stdin);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(status) = client.child.try_wait().unwrap() {
            assert!(status.success(), "{status}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the server did not exit"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
