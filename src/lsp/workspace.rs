//! What the language server knows: the open documents over the files on disk, read as
//! policies (a folder of `.route` files is one policy, as for `routec check`), with every
//! declared name and where each name is used.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use crate::diagnostic::Diagnostics;
use crate::policy_files::{SourceFile, SourceFiles, Span};
use crate::syntax::ast::{self, Item};
use crate::syntax::reparse::{Parsed, reparse};

/// What a declared name is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeclKind {
    Agent,
    Team,
    Facts,
    Field,
    Enum,
    Variant,
    Schedule,
    Map,
    Rule,
    Source,
}

impl DeclKind {
    pub fn noun(self) -> &'static str {
        match self {
            DeclKind::Agent => "agent",
            DeclKind::Team => "team",
            DeclKind::Facts => "facts group",
            DeclKind::Field => "fact field",
            DeclKind::Enum => "enum",
            DeclKind::Variant => "enum variant",
            DeclKind::Schedule => "schedule",
            DeclKind::Map => "map",
            DeclKind::Rule => "rule",
            DeclKind::Source => "source",
        }
    }
}

/// One declaration: its name, kind, the span of the name, of the whole item, and for a
/// field its facts group (for a variant its enum).
#[derive(Debug, Clone)]
pub struct Decl {
    pub name: String,
    pub kind: DeclKind,
    pub name_span: Span,
    pub item_span: Span,
    pub owner: Option<String>,
}

/// One policy read from its folder, with the open documents in place of their files.
pub struct Analysis {
    pub files: SourceFiles,
    pub ast: ast::Policy,
    pub diagnostics: Diagnostics,
    pub decls: Vec<Decl>,
    /// The checked policy, until [`Analysis::add_unreachable_rules`] compiles it.
    checked: Option<crate::check::model::CheckedPolicy>,
    /// The compiled policy, once compiled.
    pub compiled: Option<crate::compile::Policy>,
}

/// The open documents, by path.
#[derive(Default)]
pub struct Documents {
    open: BTreeMap<PathBuf, String>,
    /// The last parse of each policy (by folder), reused for the next: an edit reparses only
    /// the items it touched.
    parsed: RefCell<HashMap<PathBuf, Parsed>>,
}

impl Documents {
    pub fn set(&mut self, path: PathBuf, text: String) {
        self.open.insert(path, text);
    }

    pub fn close(&mut self, path: &Path) {
        self.open.remove(path);
    }

    pub fn get(&self, path: &Path) -> Option<&str> {
        self.open.get(path).map(String::as_str)
    }

    /// The policy `path` belongs to: every `.route` file of its folder, open ones as edited.
    pub fn analyse(&self, path: &Path) -> Analysis {
        let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map(|d| {
                d.filter_map(|e| Some(e.ok()?.path()))
                    .filter(|p| p.extension().is_some_and(|e| e == "route"))
                    .collect()
            })
            .unwrap_or_default();
        for open in self.open.keys() {
            if open.parent() == Some(dir.as_path()) && !paths.contains(open) {
                paths.push(open.clone());
            }
        }
        if !paths.iter().any(|p| p == path) {
            paths.push(path.to_path_buf());
        }
        paths.sort();
        let files = paths
            .into_iter()
            .map(|p| {
                let bytes = match self.open.get(&p) {
                    Some(text) => text.clone().into_bytes(),
                    None => std::fs::read(&p).unwrap_or_default(),
                };
                SourceFile::new(p, bytes)
            })
            .collect();
        let files = SourceFiles {
            files,
            default_name: dir
                .file_name()
                .map_or("policy".into(), |n| n.to_string_lossy().into_owned()),
            base_dir: dir,
        };
        let (ast, mut diagnostics) = {
            let mut parsed = self.parsed.borrow_mut();
            reparse(&files, parsed.entry(files.base_dir.clone()).or_default())
        };
        let mut checked = None;
        if !diagnostics.has_errors() {
            let (policy, more) = crate::check::check(&ast, &files);
            diagnostics.extend(more);
            checked = policy;
        }
        let decls = declarations(&ast);
        Analysis {
            files,
            ast,
            diagnostics,
            decls,
            checked,
            compiled: None,
        }
    }
}

fn declarations(policy: &ast::Policy) -> Vec<Decl> {
    let mut out = Vec::new();
    let mut push = |name: &ast::Ident, kind, item_span, owner: Option<&str>| {
        out.push(Decl {
            name: name.name.clone(),
            kind,
            name_span: name.span,
            item_span,
            owner: owner.map(str::to_string),
        });
    };
    for item in &policy.items {
        match item {
            Item::Agent(a) => push(&a.name, DeclKind::Agent, a.span, None),
            Item::Team(t) => push(&t.name, DeclKind::Team, t.span, None),
            Item::Facts(f) => {
                push(&f.name, DeclKind::Facts, f.span, None);
                for field in &f.fields {
                    push(&field.name, DeclKind::Field, f.span, Some(&f.name.name));
                }
            }
            Item::Enum(e) => {
                push(&e.name, DeclKind::Enum, e.span, None);
                for v in &e.variants {
                    push(v, DeclKind::Variant, e.span, Some(&e.name.name));
                }
            }
            Item::Schedule(s) => push(&s.name, DeclKind::Schedule, s.span, None),
            Item::Map(m) => push(&m.name, DeclKind::Map, m.span, None),
            Item::Source(s) => push(&s.name, DeclKind::Source, s.span, None),
            Item::Rule(r) => {
                if let Some(name) = &r.name {
                    push(name, DeclKind::Rule, r.span, None);
                }
            }
            Item::Setting(_) | Item::Otherwise(_) => {}
        }
    }
    out
}

impl Analysis {
    /// Adds the compiler's unreachable-rule warnings (slower than checking on a large policy:
    /// diagnostics are published without them first). Whether it compiled: only a policy
    /// without errors is.
    pub fn add_unreachable_rules(&mut self) -> bool {
        let Some(checked) = self.checked.take() else {
            return false;
        };
        let (policy, warnings) = crate::compile::compile(checked);
        self.diagnostics.extend(warnings);
        self.compiled = Some(policy);
        true
    }

    /// The name at byte `offset` of file `file`, with its span, and the facts group before it
    /// when it is the field of `group.field`.
    pub fn name_at(&self, file: usize, offset: usize) -> Option<(Span, &str, Option<&str>)> {
        let text: &str = &self.files.files.get(file)?.text;
        let names = crate::formatter::names(text);
        let i = names
            .iter()
            .position(|(at, n)| *at <= offset && offset <= at + n.len())?;
        let (at, name) = names[i];
        let owner = (i > 0 && text[..at].ends_with('.'))
            .then(|| names[i - 1].1)
            .filter(|_| names[i - 1].0 + names[i - 1].1.len() + 1 == at);
        let span = Span::new(
            crate::policy_files::FileId(file as u32),
            at,
            at + name.len(),
        );
        Some((span, name, owner))
    }

    /// The declaration a name (with the group before it, for a field) refers to.
    pub fn resolve(&self, name: &str, owner: Option<&str>) -> Option<&Decl> {
        match owner {
            Some(group) => self.decls.iter().find(|d| {
                d.kind == DeclKind::Field && d.name == name && d.owner.as_deref() == Some(group)
            }),
            None => self
                .decls
                .iter()
                .find(|d| d.name == name && d.kind != DeclKind::Field),
        }
    }

    /// Every place `decl` is named, its declaration first.
    pub fn references(&self, decl: &Decl) -> Vec<Span> {
        let mut spans = vec![decl.name_span];
        for (id, file) in self.files.files.iter().enumerate() {
            let names = crate::formatter::names(&file.text);
            for (i, (at, name)) in names.iter().enumerate() {
                if *name != decl.name {
                    continue;
                }
                let after_dot = file.text[..*at].ends_with('.');
                let matches = match decl.kind {
                    DeclKind::Field => {
                        after_dot && i > 0 && Some(names[i - 1].1) == decl.owner.as_deref()
                    }
                    _ => !after_dot,
                };
                let span = Span::new(crate::policy_files::FileId(id as u32), *at, at + name.len());
                if matches && span != decl.name_span {
                    spans.push(span);
                }
            }
        }
        spans
    }
}
