//! `routec lsp`: the language server, over stdio. JSON-RPC messages in (lsp-server), the
//! checker's diagnostics, hovers, definitions, references, renames, completions, outlines and
//! `routec fmt` out.

mod completion;
mod position;
mod workspace;

use std::path::{Path, PathBuf};

use lsp_server::{Connection, ErrorCode, Message, Notification, Request, Response};
use serde_json::{Value, json};

use crate::diagnostic::Severity;
use crate::policy_files::{SourceFile, Span};
use position::{offset, path_of, range, uri_of};
use workspace::{Analysis, DeclKind, Documents};

/// What the server does, as `initialize` answers.
pub fn capabilities() -> Value {
    json!({
        "textDocumentSync": {"openClose": true, "change": 1, "save": {"includeText": false}},
        "hoverProvider": true,
        "definitionProvider": true,
        "referencesProvider": true,
        "renameProvider": true,
        "completionProvider": {"triggerCharacters": ["."]},
        "documentSymbolProvider": true,
        "documentFormattingProvider": true,
        "codeActionProvider": {"codeActionKinds": ["quickfix"]},
        "positionEncoding": "utf-16",
    })
}

/// Serves one client on stdin and stdout until it asks to exit.
pub fn run() -> Result<(), String> {
    let (connection, io) = Connection::stdio();
    let (id, _) = connection.initialize_start().map_err(|e| e.to_string())?;
    connection
        .initialize_finish(
            id,
            json!({
                "capabilities": capabilities(),
                "serverInfo": {"name": "routec", "version": env!("CARGO_PKG_VERSION")},
            }),
        )
        .map_err(|e| e.to_string())?;
    let mut server = Server {
        connection: &connection,
        documents: Documents::default(),
    };
    // Messages are taken in batches of what has arrived: a burst of keystrokes is analysed
    // once, after the last of them, not once per change.
    'serving: while let Ok(first) = connection.receiver.recv() {
        let batch = std::iter::once(first).chain(connection.receiver.try_iter());
        let mut touched: Vec<PathBuf> = Vec::new();
        for message in batch.collect::<Vec<_>>() {
            match message {
                Message::Request(request) => {
                    if connection
                        .handle_shutdown(&request)
                        .map_err(|e| e.to_string())?
                    {
                        break 'serving;
                    }
                    // Answered from the documents as they are now, edits of the batch included.
                    let response = server.request(request);
                    let _ = connection.sender.send(Message::Response(response));
                }
                Message::Notification(n) => {
                    if let Some(path) = server.notification(n)
                        && !touched.contains(&path)
                    {
                        touched.push(path);
                    }
                }
                Message::Response(_) => {}
            }
        }
        for path in touched {
            server.publish(&path);
        }
    }
    drop(connection);
    io.join().map_err(|e| e.to_string())
}

struct Server<'a> {
    connection: &'a Connection,
    documents: Documents,
}

/// A request's document and byte offset.
struct At {
    analysis: Analysis,
    file: usize,
    offset: usize,
}

impl Server<'_> {
    /// Applies a document notification; the document whose diagnostics are now out of date.
    fn notification(&mut self, n: Notification) -> Option<PathBuf> {
        let uri = n.params["textDocument"]["uri"].as_str().unwrap_or_default();
        let path = path_of(uri)?;
        match n.method.as_str() {
            "textDocument/didOpen" => {
                let text = n.params["textDocument"]["text"]
                    .as_str()
                    .unwrap_or_default();
                self.documents.set(path.clone(), text.to_string());
            }
            "textDocument/didChange" => {
                // Whole documents (`change: 1`): the last change is the text.
                let changes = n.params["contentChanges"].as_array();
                let text = changes.and_then(|c| c.last()?["text"].as_str())?;
                self.documents.set(path.clone(), text.to_string());
            }
            "textDocument/didClose" => self.documents.close(&path),
            "textDocument/didSave" => {}
            _ => return None,
        }
        Some(path)
    }

    /// Publishes the diagnostics of every file of the policy `path` belongs to: the checker's
    /// at once, then, for a policy without errors, again with the compiler's unreachable
    /// rules.
    fn publish(&self, path: &Path) {
        let mut analysis = self.documents.analyse(path);
        self.send_diagnostics(&analysis);
        if analysis.add_unreachable_rules() {
            self.send_diagnostics(&analysis);
        }
    }

    fn send_diagnostics(&self, analysis: &Analysis) {
        for (id, file) in analysis.files.files.iter().enumerate() {
            let diagnostics: Vec<Value> = analysis
                .diagnostics
                .sorted()
                .into_iter()
                .filter(|d| d.span.file.0 as usize == id)
                .map(|d| {
                    let related: Vec<Value> = d
                        .related
                        .iter()
                        .map(|(span, label)| {
                            json!({"location": location(analysis, *span), "message": label})
                        })
                        .collect();
                    let mut message = d.message();
                    if let Some(help) = d.kind.help() {
                        message.push_str(&format!("\nhelp: {help}"));
                    }
                    json!({
                        "range": range(file, d.span.start as usize, d.span.end as usize),
                        "severity": if d.severity() == Severity::Error { 1 } else { 2 },
                        "code": d.kind.code(),
                        "source": "routec",
                        "message": message,
                        "relatedInformation": related,
                    })
                })
                .collect();
            let params = json!({"uri": uri_of(&file.path), "diagnostics": diagnostics});
            let n = Notification::new("textDocument/publishDiagnostics".into(), params);
            let _ = self.connection.sender.send(Message::Notification(n));
        }
    }

    fn at(&self, params: &Value) -> Option<At> {
        let (_, analysis, file) = self.document(params)?;
        let p = &params["position"];
        let offset = offset(
            &analysis.files.files[file],
            p["line"].as_u64()? as u32,
            p["character"].as_u64()? as u32,
        );
        Some(At {
            analysis,
            file,
            offset,
        })
    }

    fn request(&mut self, request: Request) -> Response {
        let id = request.id.clone();
        let result = match request.method.as_str() {
            "textDocument/hover" => Ok(self.at(&request.params).map_or(Value::Null, hover)),
            "textDocument/definition" => Ok(self
                .at(&request.params)
                .and_then(|at| {
                    let (_, name, owner) = at.analysis.name_at(at.file, at.offset)?;
                    let decl = at.analysis.resolve(name, owner)?;
                    Some(location(&at.analysis, decl.name_span))
                })
                .unwrap_or(Value::Null)),
            "textDocument/references" => Ok(self
                .at(&request.params)
                .and_then(|at| {
                    let (_, name, owner) = at.analysis.name_at(at.file, at.offset)?;
                    let decl = at.analysis.resolve(name, owner)?;
                    let spans = at.analysis.references(decl);
                    Some(Value::Array(
                        spans
                            .into_iter()
                            .map(|s| location(&at.analysis, s))
                            .collect(),
                    ))
                })
                .unwrap_or(Value::Null)),
            "textDocument/rename" => self.rename(&request.params),
            "textDocument/completion" => Ok(self
                .at(&request.params)
                .map_or(Value::Null, completion::complete)),
            "textDocument/documentSymbol" => Ok(self.symbols(&request.params)),
            "textDocument/formatting" => Ok(self.format(&request.params)),
            "textDocument/codeAction" => Ok(self.quick_fixes(&request.params)),
            _ => Err((
                ErrorCode::MethodNotFound,
                format!("`{}` is not supported", request.method),
            )),
        };
        match result {
            Ok(value) => Response::new_ok(id, value),
            Err((code, message)) => Response::new_err(id, code as i32, message),
        }
    }

    fn rename(&self, params: &Value) -> Result<Value, (ErrorCode, String)> {
        let refused = |m: String| Err((ErrorCode::RequestFailed, m));
        let Some(at) = self.at(params) else {
            return Ok(Value::Null);
        };
        let new = params["newName"].as_str().unwrap_or_default();
        let valid = new
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && new.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return refused(format!("`{new}` is not a name: letters, digits and `_`"));
        }
        let Some((_, name, owner)) = at.analysis.name_at(at.file, at.offset) else {
            return Ok(Value::Null);
        };
        let Some(decl) = at.analysis.resolve(name, owner) else {
            return refused(format!("`{name}` is not declared in this policy"));
        };
        let clash = at.analysis.decls.iter().find(|d| {
            d.name == new
                && match decl.kind {
                    DeclKind::Field | DeclKind::Variant => d.owner == decl.owner,
                    _ => !matches!(d.kind, DeclKind::Field | DeclKind::Variant),
                }
        });
        if let Some(clash) = clash {
            return refused(format!(
                "`{new}` is already the name of {} `{new}`",
                clash.kind.noun()
            ));
        }
        let mut changes = serde_json::Map::new();
        for span in at.analysis.references(decl) {
            let file = &at.analysis.files.files[span.file.0 as usize];
            let edit = json!({
                "range": range(file, span.start as usize, span.end as usize),
                "newText": new,
            });
            let uri = uri_of(&file.path);
            let edits = changes.entry(uri).or_insert_with(|| json!([]));
            if let Some(list) = edits.as_array_mut() {
                list.push(edit);
            }
        }
        Ok(json!({"changes": changes}))
    }

    /// The request's document: its path, its policy analysed, and its index in the policy.
    fn document(&self, params: &Value) -> Option<(PathBuf, Analysis, usize)> {
        let path = path_of(params["textDocument"]["uri"].as_str()?)?;
        let analysis = self.documents.analyse(&path);
        let file = analysis.files.files.iter().position(|f| f.path == path)?;
        Some((path, analysis, file))
    }

    fn symbols(&self, params: &Value) -> Value {
        let Some((_, analysis, file)) = self.document(params) else {
            return Value::Null;
        };
        let source = &analysis.files.files[file];
        let symbols: Vec<Value> = analysis
            .decls
            .iter()
            .filter(|d| d.name_span.file.0 as usize == file && d.kind != DeclKind::Field)
            .filter(|d| d.kind != DeclKind::Variant)
            .map(|d| {
                // LSP symbol kinds: 5 class, 10 enum, 12 function, 13 variable, 22 enum member.
                let kind = match d.kind {
                    DeclKind::Team | DeclKind::Facts => 5,
                    DeclKind::Enum => 10,
                    DeclKind::Rule => 12,
                    _ => 13,
                };
                json!({
                    "name": d.name,
                    "detail": d.kind.noun(),
                    "kind": kind,
                    "range": range(source, d.item_span.start as usize, d.item_span.end as usize),
                    "selectionRange": range(source, d.name_span.start as usize, d.name_span.end as usize),
                })
            })
            .collect();
        Value::Array(symbols)
    }

    /// A quick fix for each "did you mean" in the requested range: the suggestion in place of
    /// the misspelt name.
    fn quick_fixes(&self, params: &Value) -> Value {
        let Some((path, analysis, file)) = self.document(params) else {
            return Value::Null;
        };
        let source = &analysis.files.files[file];
        let text: &str = &source.text;
        let r = &params["range"];
        let bound = |p: &Value| {
            offset(
                source,
                p["line"].as_u64().unwrap_or(0) as u32,
                p["character"].as_u64().unwrap_or(0) as u32,
            )
        };
        let (from, to) = (bound(&r["start"]), bound(&r["end"]));
        let fixes: Vec<Value> = analysis
            .diagnostics
            .sorted()
            .into_iter()
            .filter(|d| d.span.file.0 as usize == file)
            .filter(|d| d.span.start as usize <= to && from <= d.span.end as usize)
            .filter_map(|d| {
                let suggestion = d.kind.suggestion()?;
                let (start, end) = (d.span.start as usize, d.span.end as usize);
                // A time zone is a string: the fix keeps its quotes.
                let quoted = text.get(start..end).is_some_and(|t| t.starts_with('"'));
                let new = if quoted {
                    format!("\"{suggestion}\"")
                } else {
                    suggestion.to_string()
                };
                Some(json!({
                    "title": format!("change to `{suggestion}`"),
                    "kind": "quickfix",
                    "isPreferred": true,
                    "edit": {"changes": {uri_of(&path): [{"range": range(source, start, end), "newText": new}]}},
                }))
            })
            .collect();
        Value::Array(fixes)
    }

    /// The whole document as `routec fmt` writes it; nothing when it does not format.
    fn format(&self, params: &Value) -> Value {
        let Some(path) = params["textDocument"]["uri"].as_str().and_then(path_of) else {
            return Value::Null;
        };
        let text = match self.documents.get(&path) {
            Some(text) => text.to_string(),
            None => std::fs::read_to_string(&path).unwrap_or_default(),
        };
        match crate::formatter::format(&path.display().to_string(), &text) {
            Ok(formatted) if formatted != text => json!([{
                "range": range(&SourceFile::new(&path, text.clone().into_bytes()), 0, text.len()),
                "newText": formatted,
            }]),
            _ => json!([]),
        }
    }
}

fn location(analysis: &Analysis, span: Span) -> Value {
    let file = &analysis.files.files[span.file.0 as usize];
    json!({
        "uri": uri_of(&file.path),
        "range": range(file, span.start as usize, span.end as usize),
    })
}

/// What the name under the cursor is, in Markdown.
fn hover(mut at: At) -> Value {
    let Some((span, name, owner)) = at.analysis.name_at(at.file, at.offset) else {
        return Value::Null;
    };
    let Some(kind) = at.analysis.resolve(name, owner).map(|d| d.kind) else {
        return Value::Null;
    };
    // Only a rule's shadowing and a schedule's hours need the compiled policy, which takes
    // long on a large one.
    let (name, owner) = (name.to_string(), owner.map(str::to_string));
    if matches!(kind, DeclKind::Rule | DeclKind::Schedule) {
        at.analysis.add_unreachable_rules();
    }
    let Some(decl) = at.analysis.resolve(&name, owner.as_deref()) else {
        return Value::Null;
    };
    let text = describe(&at.analysis, decl);
    json!({
        "contents": {"kind": "markdown", "value": text},
        "range": range(&at.analysis.files.files[at.file], span.start as usize, span.end as usize),
    })
}

fn describe(analysis: &Analysis, decl: &workspace::Decl) -> String {
    use crate::syntax::ast::Item;
    let items = &analysis.ast.items;
    let source = |span: Span| analysis.files.text(span).to_string();
    let head = format!("**{} `{}`**", decl.kind.noun(), decl.name);
    let body = match decl.kind {
        DeclKind::Agent => items.iter().find_map(|i| match i {
            Item::Agent(a) if a.name.name == decl.name => {
                let teams: Vec<&str> = items
                    .iter()
                    .filter_map(|i| match i {
                        Item::Team(t) if t.members.iter().any(|m| m.name == decl.name) => {
                            Some(t.name.name.as_str())
                        }
                        _ => None,
                    })
                    .collect();
                let skills = a.skills.as_ref().map(|s| {
                    s.iter()
                        .map(|s| match &s.level {
                            Some(l) => format!("{}: {}", s.name.name, l.text),
                            None => s.name.name.clone(),
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                });
                let languages = a.languages.as_ref().map(|l| {
                    l.iter()
                        .map(|l| l.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                });
                Some(format!(
                    "number `{}`\n\nskills: {}\n\nlanguages: {}\n\nteams: {}",
                    a.number.value,
                    skills.unwrap_or_else(|| "none".into()),
                    languages.unwrap_or_else(|| "none".into()),
                    if teams.is_empty() {
                        "none".into()
                    } else {
                        teams.join(", ")
                    }
                ))
            }
            _ => None,
        }),
        DeclKind::Team => items.iter().find_map(|i| match i {
            Item::Team(t) if t.name.name == decl.name => Some(format!(
                "members: {}\n\nstrategy: `{}`",
                t.members
                    .iter()
                    .map(|m| m.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                t.strategy
                    .as_ref()
                    .map_or("sequential", |s| s.name.as_str())
            )),
            _ => None,
        }),
        DeclKind::Field => items.iter().find_map(|i| match i {
            Item::Facts(f) if Some(&f.name.name) == decl.owner.as_ref() => {
                let field = f.fields.iter().find(|x| x.name.name == decl.name)?;
                Some(format!(
                    "type `{}`, from source `{}`",
                    field.ty.name, f.source.name
                ))
            }
            _ => None,
        }),
        DeclKind::Map => items.iter().find_map(|i| match i {
            Item::Map(m) if m.name.name == decl.name => Some(match &m.file {
                Some(file) => format!("entries from `{}`", file.value),
                None => format!("{} entries", m.entries.len()),
            }),
            _ => None,
        }),
        DeclKind::Schedule => {
            // Open or closed at this moment, in the schedule's own zone.
            let now = analysis.compiled.as_ref().and_then(|p| {
                let i = p
                    .checked
                    .schedules
                    .iter()
                    .position(|s| s.name == decl.name)?;
                let schedule = p.schedules.get(i)?;
                let open = schedule.is_open(jiff::Timestamp::now());
                let zone = schedule
                    .timezone
                    .iana_name()
                    .unwrap_or("its zone")
                    .to_string();
                Some(format!(
                    "{} now ({zone})",
                    if open { "open" } else { "closed" }
                ))
            });
            Some(format!(
                "```route\n{}\n```{}",
                source(decl.item_span),
                now.map(|n| format!("\n\n{n}")).unwrap_or_default()
            ))
        }
        DeclKind::Rule => {
            let shadowed: Vec<String> = analysis
                .diagnostics
                .sorted()
                .into_iter()
                .filter(|d| {
                    d.kind.code() == "route::unreachable-rule" && d.span.file == decl.name_span.file
                })
                .filter(|d| {
                    d.span.start <= decl.item_span.start.max(decl.name_span.start)
                        && decl.name_span.start <= d.span.end
                })
                .map(|d| d.message())
                .collect();
            Some(if shadowed.is_empty() {
                format!("```route\n{}\n```", source(decl.item_span))
            } else {
                format!(
                    "```route\n{}\n```\n\n{}",
                    source(decl.item_span),
                    shadowed.join("\n\n")
                )
            })
        }
        _ => Some(format!("```route\n{}\n```", source(decl.item_span))),
    };
    match body {
        Some(body) => format!("{head}\n\n{body}"),
        None => head,
    }
}
