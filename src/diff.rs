//! Two compiled policies in; the classes of calls they route differently out, each with a
//! summary, both outcomes and an example call, and the rules renamed with nothing else
//! changed. Calls are built from the values either policy's conditions test (as witnesses
//! are): every combination of them when there are few enough (exact for equality, `in`,
//! enums, booleans, `exists`, prefixes and maps; numbers at their boundaries; schedules at
//! their windows' edges), else each rule's own combinations (said approximate).

use std::collections::BTreeMap;

use serde_json::{Value as J, json};

use crate::check::model::{CheckedPolicy, RuleDef, Target};
use crate::compile::Policy;
use crate::eval::{Decision, RuleRef, TargetKind, describe, describe_target};
use crate::witness::{Val, case_of, decide, inputs, rule_inputs, witnesses};

/// Combinations of all inputs tried at most; beyond, each rule's own are tried.
const MAX_EXHAUSTIVE: usize = 20_000;
/// Combinations tried per rule when sampling.
const MAX_PER_RULE: usize = 64;
/// Classes of changed calls reported at most.
const MAX_CHANGES: usize = 100;

/// Where a call goes, in one policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub rule: String,
    /// Where the call goes: `team BILLING (round_robin: +91…, +91…)`, `agent: +91…`,
    /// `queue q priority 2`, `flow f`.
    pub target: String,
    /// What routing compares: a team by strategy and members' numbers (not its name), agents
    /// and numbers in order, a queue with its priority, a flow.
    key: String,
}

#[derive(Debug, Clone)]
pub struct Change {
    pub calls: String,
    pub old: Outcome,
    pub new: Outcome,
    pub example: J,
    /// How many of the calls tried fell in this class.
    pub count: usize,
}

#[derive(Debug, Clone)]
pub struct Report {
    pub equivalent: bool,
    pub approximate: bool,
    /// Calls evaluated against both policies.
    pub sampled: usize,
    pub changes: Vec<Change>,
    /// Rules renamed with nothing else changed: `(old, new)`.
    pub renamed: Vec<(String, String)>,
}

impl Report {
    pub fn to_json(&self) -> J {
        let outcome = |o: &Outcome| json!({"rule": o.rule, "target": o.target});
        json!({
            "equivalent": self.equivalent,
            "approximate": self.approximate,
            "sampled": self.sampled,
            "changes": self.changes.iter().map(|c| json!({
                "calls": c.calls,
                "old": outcome(&c.old),
                "new": outcome(&c.new),
                "example": c.example,
                "count": c.count,
            })).collect::<Vec<_>>(),
            "renamed": self.renamed.iter().map(|(o, n)| json!({"old": o, "new": n})).collect::<Vec<_>>(),
        })
    }
}

/// Where a decision sends the call, as routing compares it.
fn outcome(policy: &Policy, d: &Decision) -> Outcome {
    let checked = &policy.checked;
    let rule = d.rule.name(checked).to_string();
    let mut name = String::new();
    let key = match d.target {
        TargetKind::Team => match d.team {
            Some(t) => {
                name = format!(" {}", checked.teams[t].name);
                let team = &checked.teams[t];
                let strategy = team.strategy.name();
                let members: Vec<&str> = team
                    .members
                    .iter()
                    .map(|&a| checked.agents[a].number.as_str())
                    .collect();
                let ring = team.ring.map(|r| format!(" ring {r}")).unwrap_or_default();
                format!("team ({strategy}{ring}: {})", members.join(", "))
            }
            None => format!("team: {}", d.numbers.join(", ")),
        },
        TargetKind::Queue => format!(
            "queue {}{}",
            d.queue.as_deref().unwrap_or(""),
            d.priority
                .map(|p| format!(" priority {p}"))
                .unwrap_or_default()
        ),
        TargetKind::Flow => format!("flow {}", d.flow.as_deref().unwrap_or("")),
        kind => format!("{}: {}", kind.name(), d.numbers.join(", ")),
    };
    let target = match key.strip_prefix("team") {
        Some(rest) if !name.is_empty() => format!("team{name}{rest}"),
        _ => key.clone(),
    };
    Outcome { rule, target, key }
}

/// A rule's routing-relevant text: its condition and targets.
fn body(policy: &CheckedPolicy, rule: &RuleDef) -> String {
    let targets: Vec<String> = rule
        .targets
        .iter()
        .map(|t: &Target| describe_target(policy, t))
        .collect();
    format!(
        "{} -> {}",
        describe(policy, &rule.condition),
        targets.join(" or ")
    )
}

/// Rules of the same body at the same place whose names differ.
fn renamed(old: &CheckedPolicy, new: &CheckedPolicy) -> Vec<(String, String)> {
    old.rules
        .iter()
        .zip(&new.rules)
        .filter(|(a, b)| a.name != b.name && body(old, a) == body(new, b))
        .map(|(a, b)| (a.name.clone(), b.name.clone()))
        .collect()
}

/// Every combination of `inputs` (each also missing, but time), at most `limit`; `None`
/// beyond.
fn combinations(
    inputs: &BTreeMap<String, Vec<Val>>,
    limit: usize,
) -> Option<Vec<Vec<(String, Val)>>> {
    let vars: Vec<(&String, Vec<Val>)> = inputs
        .iter()
        .map(|(name, vals)| {
            let mut vals = vals.clone();
            if name != "time" {
                vals.push(Val::Missing);
            }
            (name, vals)
        })
        .collect();
    let total = vars
        .iter()
        .try_fold(1usize, |acc, (_, v)| acc.checked_mul(v.len()))?;
    if total > limit {
        return None;
    }
    let mut out = Vec::with_capacity(total);
    let mut counters = vec![0usize; vars.len()];
    for _ in 0..total {
        out.push(
            vars.iter()
                .zip(&counters)
                .map(|((name, vals), &i)| ((*name).clone(), vals[i].clone()))
                .collect(),
        );
        for (i, (_, vals)) in vars.iter().enumerate() {
            counters[i] += 1;
            if counters[i] < vals.len() {
                break;
            }
            counters[i] = 0;
        }
    }
    Some(out)
}

fn merge(into: &mut BTreeMap<String, Vec<Val>>, from: BTreeMap<String, Vec<Val>>) {
    for (name, vals) in from {
        let list = into.entry(name).or_default();
        for v in vals {
            if !list.contains(&v) {
                list.push(v);
            }
        }
    }
}

/// The inputs a decision's rule reads, with the example's values: the summary of its class.
fn summary(policy: &Policy, rule: RuleRef, case: &J, zone: &jiff::tz::TimeZone) -> Vec<String> {
    let RuleRef::Rule(r) = rule else {
        return Vec::new();
    };
    rule_inputs(policy, r.index())
        .keys()
        .map(|name| input_text(name, case, zone))
        .collect()
}

fn input_text(name: &str, case: &J, zone: &jiff::tz::TimeZone) -> String {
    if name == "time" {
        let at = case["at"].as_str().unwrap_or_default();
        return match at.parse::<jiff::Timestamp>() {
            Ok(t) => {
                let local = t.to_zoned_datetime(zone.clone()).strftime("%a %H:%M");
                format!("at {}", local.to_string().to_lowercase())
            }
            Err(_) => format!("at {at}"),
        };
    }
    let value = match name.strip_prefix("call.") {
        Some(field) => {
            let param = crate::check::model::CallField::ALL
                .iter()
                .find(|(n, _, _)| *n == field)
                .map(|(_, f, _)| crate::witness::param(*f));
            param.and_then(|p| case["call"].get(p)).map(|v| {
                let text = v.as_str().unwrap_or_default().trim_matches('"').to_string();
                json!(text)
            })
        }
        None => name
            .split_once('.')
            .and_then(|(g, f)| case["facts"].get(g)?.get(f).cloned()),
    };
    match value {
        Some(v) => format!("{name} == {v}"),
        None => format!("{name} missing"),
    }
}

/// Compares `old` and `new` on the calls built from both policies' conditions.
pub fn diff(old: &Policy, new: &Policy) -> Report {
    let zone = old.checked.timezone.clone();
    let mut all = inputs(old);
    merge(&mut all, inputs(new));
    let (mut calls, exhaustive): (Vec<Vec<(String, Val)>>, bool) =
        match combinations(&all, MAX_EXHAUSTIVE) {
            Some(calls) => (calls, true),
            None => {
                let mut calls = Vec::new();
                for policy in [old, new] {
                    for r in 0..policy.checked.rules.len() {
                        if let Some(more) = combinations(&rule_inputs(policy, r), MAX_PER_RULE) {
                            calls.extend(more);
                        }
                    }
                }
                (calls, false)
            }
        };
    if calls.is_empty() {
        calls.push(Vec::new());
    }
    let mut cases: Vec<J> = calls
        .iter()
        .enumerate()
        .map(|(i, values)| {
            let named: Vec<(&str, &Val)> = values.iter().map(|(n, v)| (n.as_str(), v)).collect();
            case_of(&zone, &format!("d{}", i + 1), &named, &[])
        })
        .collect();
    // Agent availability: each policy's witnesses of its `or` fallbacks.
    for policy in [old, new] {
        let (found, _) = witnesses(policy);
        cases.extend(found.into_iter().filter(|w| w.fallback > 0).map(|w| w.case));
    }
    let mut classes: Vec<Change> = Vec::new();
    let mut sampled = 0;
    for case in &cases {
        let (Some(a), Some(b)) = (decide(old, case), decide(new, case)) else {
            continue;
        };
        sampled += 1;
        let (oa, ob) = (outcome(old, &a), outcome(new, &b));
        if oa.key == ob.key {
            continue;
        }
        let room = classes.len() < MAX_CHANGES;
        match classes.iter_mut().find(|c| c.old == oa && c.new == ob) {
            Some(c) => c.count += 1,
            None if room => {
                let mut parts = summary(old, a.rule, case, &zone);
                for p in summary(new, b.rule, case, &zone) {
                    if !parts.contains(&p) {
                        parts.push(p);
                    }
                }
                let calls = if parts.is_empty() {
                    "any call".to_string()
                } else {
                    parts.join(" and ")
                };
                classes.push(Change {
                    calls,
                    old: oa,
                    new: ob,
                    example: case.clone(),
                    count: 1,
                });
            }
            None => {}
        }
    }
    let approximate = !exhaustive || has_inexact_tests(old) || has_inexact_tests(new);
    Report {
        equivalent: classes.is_empty(),
        approximate,
        sampled,
        changes: classes,
        renamed: renamed(&old.checked, &new.checked),
    }
}

/// Whether a condition compares two values, or tests `contains`: what the values tried do not
/// cover exactly.
fn has_inexact_tests(policy: &Policy) -> bool {
    use crate::check::model::{CompareOp, Cond, Value};
    fn inexact(c: &Cond) -> bool {
        match c {
            Cond::Not(inner) => inexact(inner),
            Cond::And(items) | Cond::Or(items) => items.iter().any(inexact),
            Cond::Compare { left, op, right } => {
                *op == CompareOp::Contains
                    || !matches!(
                        (left, right),
                        (_, Value::Literal(_)) | (Value::Literal(_), _)
                    )
            }
            _ => false,
        }
    }
    policy.checked.rules.iter().any(|r| inexact(&r.condition))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const BASE: &str = "timezone \"Asia/Kolkata\"\n\
        agent a \"+919800000001\"\nagent b \"+919800000002\"\n\
        team T [a, b] strategy round_robin\n\
        enum Tier { standard, premium, gold }\n\
        source crm csv \"crm.csv\" key phone\n\
        facts caller from crm { tier: Tier }\n\
        schedule hours { mon-fri 09:00-18:00 }\n";

    /// Rule lines to draw from: conditions and targets over the same few inputs.
    const CONDITIONS: [&str; 8] = [
        "call.digits == \"1\"",
        "call.digits in [\"1\", \"2\"]",
        "caller.tier == premium",
        "caller.tier >= premium",
        "call.from starts_with \"+9180\"",
        "call.from starts_with \"+918\"",
        "hours",
        "not hours and caller.tier exists",
    ];
    const TARGETS: [&str; 4] = ["team T", "agent a", "agent b or team T", "queue q"];

    fn policy(rules: &[(usize, usize)]) -> Policy {
        let mut text = BASE.to_string();
        for (i, (c, t)) in rules.iter().enumerate() {
            text.push_str(&format!(
                "rule r{i}: when {} -> {}\n",
                CONDITIONS[*c], TARGETS[*t]
            ));
        }
        text.push_str("otherwise -> queue general\n");
        let files = crate::policy_files::SourceFiles::single("p.route", text);
        let (policy, diags) = crate::load(&files);
        policy.unwrap_or_else(|| panic!("{:?}", diags.errors))
    }

    fn random_call(seed: u64) -> J {
        let pick = |n: u64, k: u64| (seed >> (n * 4)) % k;
        let digits = ["1", "2", "3", ""][pick(0, 4) as usize];
        let from = ["+918012345678", "+918912345678", "+919912345678", ""][pick(1, 4) as usize];
        let tier = ["standard", "premium", "gold", ""][pick(2, 4) as usize];
        let day = 23 + pick(3, 7);
        let hour = pick(4, 24);
        let mut call = json!({"CallSid": format!("p{seed}")});
        if !digits.is_empty() {
            call["digits"] = json!(format!("\"{digits}\""));
        }
        if !from.is_empty() {
            call["CallFrom"] = json!(from);
        }
        let mut case = json!({"call": call, "at": format!("2026-11-{day}T{hour:02}:30:00+05:30")});
        if !tier.is_empty() {
            case["facts"] = json!({"caller": {"tier": tier}});
        }
        case
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(12))]
        /// Every example reported routes differently on the two; pairs reported equivalent
        /// agree on 10,000 random calls.
        #[test]
        fn reports_hold_on_real_evaluation(
            old in prop::collection::vec((0..CONDITIONS.len(), 0..TARGETS.len()), 1..5),
            new in prop::collection::vec((0..CONDITIONS.len(), 0..TARGETS.len()), 1..5),
            same in any::<bool>(),
        ) {
            let old_policy = policy(&old);
            // Half the pairs are a policy and itself with its first rule repeated last (never
            // reached): equivalent.
            let new_rules = if same { let mut r = old.clone(); r.push(r[0]); r } else { new };
            let new_policy = policy(&new_rules);
            let report = diff(&old_policy, &new_policy);
            for change in &report.changes {
                let a = decide(&old_policy, &change.example).unwrap();
                let b = decide(&new_policy, &change.example).unwrap();
                prop_assert_ne!(outcome(&old_policy, &a).key, outcome(&new_policy, &b).key);
            }
            if report.equivalent {
                for seed in 0..10_000u64 {
                    let case = random_call(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
                    let a = decide(&old_policy, &case).unwrap();
                    let b = decide(&new_policy, &case).unwrap();
                    prop_assert_eq!(
                        outcome(&old_policy, &a).key,
                        outcome(&new_policy, &b).key,
                        "{}", case
                    );
                }
            }
        }
    }
}
