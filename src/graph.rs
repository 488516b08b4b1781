//! The decision structure of a checked policy as a picture: Graphviz DOT or Mermaid text. What
//! the policy dispatches on, the rules in order with their conditions, each rule's targets
//! and `or` fallbacks, and `otherwise`.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::check::model::{CheckedPolicy, Cond, Literal, RuleDef, Target, Type, Value};
use crate::eval::{describe, describe_target};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Dot,
    Mermaid,
}

/// Conditions longer than this are cut in the picture (the rule's name says which it is).
const MAX_LABEL: usize = 90;

/// The policy as a graph in `format`.
pub fn graph(policy: &CheckedPolicy, format: Format) -> String {
    let rules: Vec<&RuleDef> = policy
        .rules
        .iter()
        .chain(std::iter::once(&policy.otherwise))
        .collect();
    let dispatch = dispatch(policy);
    match format {
        Format::Dot => dot(policy, &rules, &dispatch),
        Format::Mermaid => mermaid(policy, &rules, &dispatch),
    }
}

/// What the conditions read, each with the values they compare it to (a few of them).
fn dispatch(policy: &CheckedPolicy) -> Vec<String> {
    let mut seen: BTreeMap<String, (String, Vec<String>)> = BTreeMap::new();
    for rule in &policy.rules {
        reads(policy, &rule.condition, &mut seen);
    }
    seen.into_iter()
        .map(|(name, (kind, values))| {
            let shown: Vec<&str> = values.iter().take(6).map(String::as_str).collect();
            let more = values.len().saturating_sub(shown.len());
            let values = match (shown.is_empty(), more) {
                (true, _) => String::new(),
                (false, 0) => format!(": {}", shown.join(", ")),
                (false, n) => format!(": {} and {n} more", shown.join(", ")),
            };
            format!("{name} ({kind}){values}")
        })
        .collect()
}

fn reads(policy: &CheckedPolicy, cond: &Cond, seen: &mut BTreeMap<String, (String, Vec<String>)>) {
    let mut note = |value: &Value, literal: Option<&Literal>| {
        let (name, kind) = match value {
            Value::Map(m) => {
                let map = &policy.maps[*m];
                let input = describe(policy, &Cond::Test(map.input.clone()));
                (map.name.clone(), format!("map by prefix of {input}"))
            }
            Value::Fact { group, field } => {
                let g = &policy.facts[*group];
                let f = &g.fields[*field];
                let kind = match f.ty {
                    Type::Enum(e) => format!("enum {}", policy.enums[e].name),
                    _ => format!("fact from {}", policy.sources[g.source].name),
                };
                (format!("{}.{}", g.name, f.name), kind)
            }
            Value::Literal(_) => return,
            other => (
                describe(policy, &Cond::Test(other.clone())),
                "call".to_string(),
            ),
        };
        let entry = seen.entry(name).or_insert_with(|| (kind, Vec::new()));
        if let Some(l) = literal {
            let text = describe(policy, &Cond::Test(Value::Literal(l.clone())));
            if !entry.1.contains(&text) {
                entry.1.push(text);
            }
        }
    };
    match cond {
        Cond::Const(_) => {}
        Cond::Not(inner) => reads(policy, inner, seen),
        Cond::And(items) | Cond::Or(items) => {
            for item in items {
                reads(policy, item, seen);
            }
        }
        Cond::Schedule(id) => {
            let name = policy.schedules[*id].name.clone();
            seen.entry(name)
                .or_insert_with(|| ("schedule".into(), Vec::new()));
        }
        Cond::Test(v) | Cond::Exists(v) => note(v, None),
        Cond::In { value, list } => {
            for l in list {
                note(value, Some(l));
            }
        }
        Cond::Compare { left, right, .. } => match (left, right) {
            (v, Value::Literal(l)) | (Value::Literal(l), v) => note(v, Some(l)),
            (a, b) => {
                note(a, None);
                note(b, None);
            }
        },
    }
}

/// A rule's label: its name and its condition, cut when long.
fn rule_label(policy: &CheckedPolicy, rule: &RuleDef) -> (String, Option<String>) {
    if matches!(rule.condition, Cond::Const(true)) && rule.name == "otherwise" {
        return ("otherwise".into(), None);
    }
    let mut condition = describe(policy, &rule.condition);
    if condition.chars().count() > MAX_LABEL {
        condition = condition.chars().take(MAX_LABEL - 1).collect::<String>() + "…";
    }
    (rule.name.clone(), Some(condition))
}

/// A target's label, with a team's strategy.
fn target_label(policy: &CheckedPolicy, target: &Target) -> String {
    let text = describe_target(policy, target);
    match target {
        Target::Team(id) => {
            let team = &policy.teams[*id];
            format!("{text} ({})", team.strategy.name())
        }
        _ => text,
    }
}

fn dot_escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

fn dot(policy: &CheckedPolicy, rules: &[&RuleDef], dispatch: &[String]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "digraph \"{}\" {{", dot_escape(&policy.name));
    out.push_str("  rankdir=TB;\n  node [fontname=\"Helvetica\", fontsize=10];\n");
    out.push_str("  edge [fontname=\"Helvetica\", fontsize=9];\n");
    out.push_str("  call [shape=oval, label=\"call\"];\n");
    if !dispatch.is_empty() {
        let lines: String = dispatch
            .iter()
            .map(|d| format!("{}\\l", dot_escape(d)))
            .collect();
        let _ = writeln!(
            out,
            "  dispatch [shape=note, label=\"dispatches on\\l{lines}\"];\n  dispatch -> call [style=invis];"
        );
    }
    out.push_str("  call -> r0;\n");
    for (i, rule) in rules.iter().enumerate() {
        let (name, condition) = rule_label(policy, rule);
        let label = match condition {
            Some(c) => format!("{}\\n{}", dot_escape(&name), dot_escape(&c)),
            None => dot_escape(&name),
        };
        let shape = if condition_is_otherwise(rule, i, rules.len()) {
            "box, style=rounded"
        } else {
            "box"
        };
        let _ = writeln!(out, "  r{i} [shape={shape}, label=\"{label}\"];");
        if i + 1 < rules.len() {
            // Heavy: the rules stay one straight column, each with its targets in its row.
            let _ = writeln!(out, "  r{i} -> r{} [label=\"no\", weight=100];", i + 1);
        }
        let row: Vec<String> = (0..rule.targets.len())
            .map(|k| format!("r{i}t{k}"))
            .collect();
        let _ = writeln!(out, "  {{ rank=same; r{i}; {} }}", row.join("; "));
        for (k, target) in rule.targets.iter().enumerate() {
            let label = dot_escape(&target_label(policy, target));
            let _ = writeln!(
                out,
                "  r{i}t{k} [shape=box, style=filled, fillcolor=\"#e8f0fe\", label=\"{label}\"];"
            );
            if k == 0 {
                let yes = if i + 1 == rules.len() { "" } else { "yes" };
                let _ = writeln!(out, "  r{i} -> r{i}t0 [label=\"{yes}\"];");
            } else {
                let _ = writeln!(
                    out,
                    "  r{i}t{} -> r{i}t{k} [label=\"unavailable\", style=dashed];",
                    k - 1
                );
            }
        }
    }
    out.push_str("}\n");
    out
}

fn condition_is_otherwise(rule: &RuleDef, i: usize, count: usize) -> bool {
    i + 1 == count && rule.name == "otherwise"
}

/// Text for a Mermaid label in quotes: quotes and markup characters as entities.
fn mermaid_escape(text: &str) -> String {
    text.replace('&', "#amp;")
        .replace('"', "#quot;")
        .replace('<', "#lt;")
        .replace('>', "#gt;")
}

fn mermaid(policy: &CheckedPolicy, rules: &[&RuleDef], dispatch: &[String]) -> String {
    let mut out = String::from("flowchart TD\n");
    out.push_str("  call([call])\n");
    if !dispatch.is_empty() {
        let lines: Vec<String> = dispatch.iter().map(|d| mermaid_escape(d)).collect();
        let _ = writeln!(
            out,
            "  dispatch[\"dispatches on<br/>{}\"]\n  dispatch ~~~ call",
            lines.join("<br/>")
        );
    }
    out.push_str("  call --> r0\n");
    for (i, rule) in rules.iter().enumerate() {
        let (name, condition) = rule_label(policy, rule);
        let label = match condition {
            Some(c) => format!("{}<br/>{}", mermaid_escape(&name), mermaid_escape(&c)),
            None => mermaid_escape(&name),
        };
        let _ = writeln!(out, "  r{i}[\"{label}\"]");
        if i + 1 < rules.len() {
            let _ = writeln!(out, "  r{i} -- no --> r{}", i + 1);
        }
        for (k, target) in rule.targets.iter().enumerate() {
            let label = mermaid_escape(&target_label(policy, target));
            let _ = writeln!(out, "  r{i}t{k}[[\"{label}\"]]");
            if k == 0 {
                if i + 1 == rules.len() {
                    let _ = writeln!(out, "  r{i} --> r{i}t0");
                } else {
                    let _ = writeln!(out, "  r{i} -- yes --> r{i}t0");
                }
            } else {
                let _ = writeln!(out, "  r{i}t{} -. unavailable .-> r{i}t{k}", k - 1);
            }
        }
    }
    out
}
