//! The shape of `src/`: no import cycle between its modules, the pure core importing no
//! adapter, and no file past 800 lines. `docs/architecture.md` describes this shape.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::test::repo;

/// The pure core: parsing, checking, compiling and evaluating, and the values they share.
const CORE: [&str; 16] = [
    "bounded",
    "json_text",
    "formatter",
    "graph",
    "histogram",
    "syntax",
    "check",
    "compile",
    "eval",
    "call",
    "phone",
    "facts",
    "diagnostic",
    "policy_files",
    "vocabulary",
    "degraded",
];

/// Adapters around the core: they import it, never the reverse.
const ADAPTERS: [&str; 11] = [
    "sources", "state", "exotel", "server", "lsp", "case", "witness", "diff", "simulate", "cli",
    "lib",
];

/// Items `lib.rs` defines itself (the pipeline that reads data files too).
const LIB_ITEMS: [&str; 4] = ["load", "prepare", "Prepared", "check_files"];

const MAX_LINES: usize = 800;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module a file belongs to: the first component under `src/` (`lib` for `lib.rs`,
/// `cli` for `main.rs` and `src/cli/`).
fn module_of(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).unwrap();
    let first = relative
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    match first.trim_end_matches(".rs") {
        "main" => "cli".into(),
        other => other.to_string(),
    }
}

/// The names a path list after `crate::` or `routec::` starts with: `a` in `crate::a::b`,
/// `a` and `b` in `crate::{a::x, b}`.
fn first_names(text: &str, prefix: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find(prefix) {
        let before = rest[..at].chars().last();
        rest = &rest[at + prefix.len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            // Top-level items of the group, whatever nests inside them.
            let mut depth = 0;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        names.insert(head(&item));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
            names.insert(head(&item));
        } else {
            names.insert(head(rest));
        }
    }
    names.remove("");
    names
}

fn head(path: &str) -> String {
    path.trim()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

/// Module → the modules it imports.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = repo().join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(&src, f)).collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let from = module_of(&src, file);
        let text = std::fs::read_to_string(file).unwrap();
        let prefix = if from == "cli" { "routec::" } else { "crate::" };
        let edges = graph.entry(from.clone()).or_default();
        for name in first_names(&text, prefix) {
            let to = if LIB_ITEMS.contains(&name.as_str()) {
                "lib".to_string()
            } else if modules.contains(&name) {
                name
            } else {
                continue;
            };
            if to != from {
                edges.insert(to);
            }
        }
    }
    graph
}

/// A cycle through `node`, if there is one: the path that closes it.
fn cycle(
    graph: &BTreeMap<String, BTreeSet<String>>,
    node: &str,
    path: &mut Vec<String>,
    done: &mut BTreeSet<String>,
) -> Option<Vec<String>> {
    if let Some(at) = path.iter().position(|p| p == node) {
        let mut found = path[at..].to_vec();
        found.push(node.to_string());
        return Some(found);
    }
    if done.contains(node) {
        return None;
    }
    path.push(node.to_string());
    for next in graph.get(node).into_iter().flatten() {
        if let Some(found) = cycle(graph, next, path, done) {
            return Some(found);
        }
    }
    path.pop();
    done.insert(node.to_string());
    None
}

#[test]
fn the_modules_of_src_import_each_other_in_one_direction() {
    let graph = graph();
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        if let Some(found) = cycle(&graph, node, &mut Vec::new(), &mut done) {
            panic!("an import cycle: {}", found.join(" → "));
        }
    }
}

#[test]
fn the_core_imports_no_adapter() {
    let graph = graph();
    for (module, imports) in &graph {
        assert!(
            CORE.contains(&module.as_str()) || ADAPTERS.contains(&module.as_str()),
            "`src/{module}` is neither core nor adapter: name it in tests/routec/shape.rs and docs/architecture.md"
        );
        if CORE.contains(&module.as_str()) {
            let adapters: Vec<&String> = imports
                .iter()
                .filter(|i| ADAPTERS.contains(&i.as_str()))
                .collect();
            assert!(adapters.is_empty(), "core `{module}` imports {adapters:?}");
        }
    }
}

#[test]
fn no_file_in_src_is_past_800_lines() {
    let mut files = Vec::new();
    rust_files(&repo().join("src"), &mut files);
    let long: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let lines = std::fs::read_to_string(f).unwrap().lines().count();
            (lines > MAX_LINES).then(|| format!("{} ({lines} lines)", f.display()))
        })
        .collect();
    assert!(long.is_empty(), "split by concern: {long:?}");
}

#[test]
fn the_shape_check_reads_paths_as_rust_writes_them() {
    let names = first_names(
        "use crate::{a::{b, c}, d};\nlet x = crate::e::f(); // not_crate::g",
        "crate::",
    );
    assert_eq!(names, ["a", "d", "e"].map(String::from).into());
}
