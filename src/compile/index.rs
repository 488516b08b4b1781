//! The rule dispatch index: for each value rules test, which rules can fire for which value.
//!
//! Each rule gets an *anchor*: a test that must be true for the rule to fire (`call.digits ==
//! "1"` in `call.digits == "1" and caller.tier == enterprise`). Rules are filed under their
//! anchor's value and key: equality tests in a hash table, enum tests in a jump table, prefix
//! tests in a trie, number ranges in an interval table. For a call, the evaluator looks each
//! tested value up at most once (in a small policy, only when the walk reaches the first rule
//! filed under it), merges the rule lists it finds with the rules that have no anchor, and
//! tries only those, in source order: the first whose whole condition is true wins, as in a
//! plain first-match walk, but the walk is over a handful of candidates.

use std::collections::HashMap;

use super::trie::PrefixTrie;
use crate::check::model::{
    AgentId, CallField, CheckedPolicy, CompareOp, Cond, FactsId, Literal, MapId, NowField,
    ScheduleId, Type, Value,
};

/// A value rules dispatch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Subject {
    Call(CallField),
    Fact(FactsId, usize),
    Map(MapId),
    Now(NowField),
    Schedule(ScheduleId),
    LastAgent,
}

impl Subject {
    /// The subject a value is, if it is not a literal.
    pub fn of(value: &Value) -> Option<Subject> {
        Some(match value {
            Value::Call(f) => Subject::Call(*f),
            Value::Fact { group, field } => Subject::Fact(*group, *field),
            Value::Map(m) => Subject::Map(*m),
            Value::Now(f) => Subject::Now(*f),
            Value::LastAgent => Subject::LastAgent,
            Value::Literal(_) => return None,
        })
    }
}

/// A value's identity for hashing: numbers by their bits, agents by id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DispatchKey {
    Str(String),
    Num(u64),
    Bool(bool),
    Phone(String),
    Agent(AgentId),
}

impl DispatchKey {
    pub fn number(n: f64) -> DispatchKey {
        // -0.0 == 0.0, so both hash alike.
        DispatchKey::Num(if n == 0.0 { 0 } else { n.to_bits() })
    }
}

/// A test that must hold for a rule to fire.
#[derive(Debug, Clone, PartialEq)]
pub enum Anchor {
    /// The subject equals one of the keys.
    Keys(Subject, Vec<DispatchKey>),
    /// The enum subject is one of the variants.
    Variants(Subject, Vec<u32>),
    /// The subject starts with one of the prefixes.
    Prefix(Subject, Vec<String>),
    /// The number subject lies in the interval.
    Range(Subject, Bound, Bound),
}

/// One end of an interval; `None` is unbounded.
pub type Bound = Option<(f64, bool)>;

impl Anchor {
    fn subject(&self) -> Subject {
        match self {
            Anchor::Keys(s, _) | Anchor::Variants(s, _) | Anchor::Prefix(s, _) => *s,
            Anchor::Range(s, _, _) => *s,
        }
    }

    /// How well the anchor narrows the candidates: higher is better.
    fn score(&self) -> u32 {
        match self {
            Anchor::Keys(Subject::Schedule(_), _) => 1,
            Anchor::Keys(_, keys) if keys.iter().all(|k| matches!(k, DispatchKey::Bool(_))) => 1,
            Anchor::Keys(_, _) => 4,
            Anchor::Prefix(_, _) => 3,
            Anchor::Range(_, _, _) => 3,
            Anchor::Variants(_, v) if v.len() == 1 => 3,
            Anchor::Variants(_, _) => 2,
        }
    }
}

/// Rules filed by one subject.
#[derive(Debug, Clone)]
pub struct Table {
    pub subject: Subject,
    /// The first rule filed here: no list of the table holds an earlier one. Tables are in
    /// this order, so that evaluation of a small policy reads a subject only once the walk
    /// reaches its rules.
    pub first_rule: u32,
    /// Equality on text and phone numbers, looked up by `&str`.
    /// foldhash, not SipHash: every decision looks its call's values up here.
    pub text: foldhash::HashMap<String, Vec<u32>>,
    /// Equality on numbers and agents.
    pub keys: foldhash::HashMap<DispatchKey, Vec<u32>>,
    /// Equality on bools and schedules: the rules for `false`, then for `true`.
    pub truth: [Vec<u32>; 2],
    /// Enum jump table: rules per variant index.
    pub variants: Vec<Vec<u32>>,
    pub prefixes: PrefixTrie<Vec<u32>>,
    pub has_prefixes: bool,
    pub ranges: Option<RangeTable>,
}

/// Number intervals cut into elementary slots: `(-inf, p0)`, `[p0]`, `(p0, p1)`, `[p1]`, ….
#[derive(Debug, Clone, Default)]
pub struct RangeTable {
    pub points: Vec<f64>,
    pub slots: Vec<Vec<u32>>,
}

impl RangeTable {
    /// The rules whose intervals hold `x`.
    pub fn lookup(&self, x: f64) -> &[u32] {
        let i = self.points.partition_point(|p| *p < x);
        let slot = if self.points.get(i) == Some(&x) {
            2 * i + 1
        } else {
            2 * i
        };
        self.slots.get(slot).map_or(&[], Vec::as_slice)
    }
}

#[derive(Debug, Clone, Default)]
pub struct RuleIndex {
    /// Rules with no anchor: tried for every call.
    pub always: Vec<u32>,
    /// In the order of their first rule.
    pub tables: Vec<Table>,
}

impl RuleIndex {
    pub fn build(policy: &CheckedPolicy) -> RuleIndex {
        let mut index = RuleIndex::default();
        let mut table_of: HashMap<Subject, usize> = HashMap::new();
        let mut ranges: HashMap<Subject, Vec<(u32, Bound, Bound)>> = HashMap::new();
        for (i, rule) in policy.rules.iter().enumerate() {
            let rule_id = i as u32;
            let Some(anchors) = anchors(policy, &rule.condition) else {
                index.always.push(rule_id);
                continue;
            };
            for anchor in anchors {
                let subject = anchor.subject();
                let t = *table_of.entry(subject).or_insert_with(|| {
                    index.tables.push(Table {
                        subject,
                        first_rule: rule_id,
                        text: foldhash::HashMap::default(),
                        keys: foldhash::HashMap::default(),
                        truth: Default::default(),
                        variants: Vec::new(),
                        prefixes: PrefixTrie::default(),
                        has_prefixes: false,
                        ranges: None,
                    });
                    index.tables.len() - 1
                });
                let table = &mut index.tables[t];
                match anchor {
                    Anchor::Keys(_, keys) => {
                        for key in keys {
                            let list = match key {
                                DispatchKey::Str(s) | DispatchKey::Phone(s) => {
                                    table.text.entry(s).or_default()
                                }
                                DispatchKey::Bool(b) => &mut table.truth[usize::from(b)],
                                other => table.keys.entry(other).or_default(),
                            };
                            push_unique(list, rule_id);
                        }
                    }
                    Anchor::Variants(_, variants) => {
                        for v in variants {
                            let v = v as usize;
                            if table.variants.len() <= v {
                                table.variants.resize(v + 1, Vec::new());
                            }
                            push_unique(&mut table.variants[v], rule_id);
                        }
                    }
                    Anchor::Prefix(_, prefixes) => {
                        table.has_prefixes = true;
                        for p in prefixes {
                            push_unique(table.prefixes.entry(&p, Vec::new), rule_id);
                        }
                    }
                    Anchor::Range(_, lo, hi) => {
                        ranges.entry(subject).or_default().push((rule_id, lo, hi));
                    }
                }
            }
        }
        for (subject, intervals) in ranges {
            let t = table_of[&subject];
            match range_table(&intervals, policy.rules.len()) {
                Some(r) => index.tables[t].ranges = Some(r),
                // Too much overlap to pay for the table: those rules are tried every time.
                None => index.always.extend(intervals.iter().map(|(r, _, _)| *r)),
            }
        }
        index.always.sort_unstable();
        index.always.dedup();
        index
    }

    /// Approximate bytes held, for memory reports.
    pub fn heap_size(&self) -> usize {
        let lists = |v: &Vec<u32>| v.capacity() * 4 + 24;
        self.always.capacity() * 4
            + self
                .tables
                .iter()
                .map(|t| {
                    t.text
                        .iter()
                        .map(|(k, v)| lists(v) + 48 + k.capacity())
                        .sum::<usize>()
                        + t.keys
                            .iter()
                            .map(|(k, v)| {
                                lists(v)
                                    + 48
                                    + match k {
                                        DispatchKey::Str(s) | DispatchKey::Phone(s) => s.capacity(),
                                        _ => 0,
                                    }
                            })
                            .sum::<usize>()
                        + t.truth.iter().map(lists).sum::<usize>()
                        + t.variants.iter().map(lists).sum::<usize>()
                        + t.prefixes.heap_size()
                        + t.ranges.as_ref().map_or(0, |r| {
                            r.points.capacity() * 8 + r.slots.iter().map(lists).sum::<usize>()
                        })
                })
                .sum::<usize>()
    }
}

fn push_unique(list: &mut Vec<u32>, rule: u32) {
    if list.last() != Some(&rule) {
        list.push(rule);
    }
}

fn range_table(intervals: &[(u32, Bound, Bound)], rules: usize) -> Option<RangeTable> {
    let mut points: Vec<f64> = intervals
        .iter()
        .flat_map(|(_, lo, hi)| lo.iter().chain(hi.iter()).map(|(p, _)| *p))
        .collect();
    points.sort_by(f64::total_cmp);
    points.dedup();
    let mut slots = vec![Vec::new(); 2 * points.len() + 1];
    let slot_of = |p: f64| points.partition_point(|q| *q < p);
    let mut total = 0usize;
    let mut sorted: Vec<&(u32, Bound, Bound)> = intervals.iter().collect();
    sorted.sort_by_key(|(r, _, _)| *r);
    for (rule, lo, hi) in sorted {
        // Slot 2i is the open gap below point i; slot 2i+1 is point i itself.
        let first = match lo {
            None => 0,
            Some((p, inclusive)) => 2 * slot_of(*p) + if *inclusive { 1 } else { 2 },
        };
        let last = match hi {
            None => 2 * points.len(),
            Some((p, inclusive)) => 2 * slot_of(*p) + if *inclusive { 1 } else { 0 },
        };
        for slot in slots.iter_mut().take(last + 1).skip(first) {
            push_unique(slot, *rule);
            total += 1;
        }
        if total > 64 * rules.max(16) {
            return None;
        }
    }
    Some(RangeTable { points, slots })
}

/// Tests that must hold for `cond` to be true; `None` when there is no such test to file by.
pub fn anchors(policy: &CheckedPolicy, cond: &Cond) -> Option<Vec<Anchor>> {
    match cond {
        Cond::Compare { left, op, right } => {
            let (subject, literal, op) = match (Subject::of(left), right, Subject::of(right), left)
            {
                (Some(s), Value::Literal(l), _, _) => (s, l, *op),
                (None, _, Some(s), Value::Literal(l)) => (s, l, mirror(*op)),
                _ => return None,
            };
            match (op, literal) {
                (CompareOp::Eq, Literal::Enum { variant, .. }) => {
                    Some(vec![Anchor::Variants(subject, vec![*variant])])
                }
                (CompareOp::Eq, l) => Some(vec![Anchor::Keys(subject, vec![key(l)?])]),
                (CompareOp::StartsWith, Literal::String(p)) => {
                    Some(vec![Anchor::Prefix(subject, vec![p.clone()])])
                }
                (
                    CompareOp::Lt | CompareOp::Le | CompareOp::Gt | CompareOp::Ge,
                    Literal::Enum { ty, variant },
                ) => {
                    let count = policy.enums[*ty].variants.len() as u32;
                    let variants = (0..count)
                        .filter(|v| order_holds(op, *v as f64, *variant as f64))
                        .collect();
                    Some(vec![Anchor::Variants(subject, variants)])
                }
                (
                    CompareOp::Lt | CompareOp::Le | CompareOp::Gt | CompareOp::Ge,
                    Literal::Number(n),
                ) => {
                    let (lo, hi) = match op {
                        CompareOp::Lt => (None, Some((*n, false))),
                        CompareOp::Le => (None, Some((*n, true))),
                        CompareOp::Gt => (Some((*n, false)), None),
                        _ => (Some((*n, true)), None),
                    };
                    Some(vec![Anchor::Range(subject, lo, hi)])
                }
                _ => None,
            }
        }
        Cond::In { value, list } => {
            let subject = Subject::of(value)?;
            if let Some(Literal::Enum { .. }) = list.first() {
                let variants = list
                    .iter()
                    .filter_map(|l| match l {
                        Literal::Enum { variant, .. } => Some(*variant),
                        _ => None,
                    })
                    .collect();
                return Some(vec![Anchor::Variants(subject, variants)]);
            }
            let keys: Option<Vec<DispatchKey>> = list.iter().map(key).collect();
            Some(vec![Anchor::Keys(subject, keys?)])
        }
        Cond::Test(value) if is_bool(policy, value) => Some(vec![Anchor::Keys(
            Subject::of(value)?,
            vec![DispatchKey::Bool(true)],
        )]),
        Cond::Schedule(id) => Some(vec![Anchor::Keys(
            Subject::Schedule(*id),
            vec![DispatchKey::Bool(true)],
        )]),
        Cond::Not(inner) => match inner.as_ref() {
            Cond::Schedule(id) => Some(vec![Anchor::Keys(
                Subject::Schedule(*id),
                vec![DispatchKey::Bool(false)],
            )]),
            Cond::Test(value) if is_bool(policy, value) => Some(vec![Anchor::Keys(
                Subject::of(value)?,
                vec![DispatchKey::Bool(false)],
            )]),
            _ => None,
        },
        Cond::And(items) => {
            // Ranges on one subject narrow each other: `x >= 10 and x < 20` is one interval.
            let mut best: Option<Vec<Anchor>> = None;
            let mut ranges: Vec<Anchor> = Vec::new();
            for item in items {
                let Some(found) = anchors(policy, item) else {
                    continue;
                };
                if let [Anchor::Range(s, lo, hi)] = found.as_slice() {
                    match ranges.iter_mut().find(|a| a.subject() == *s) {
                        Some(Anchor::Range(_, l, h)) => {
                            *l = tighter_low(*l, *lo);
                            *h = tighter_high(*h, *hi);
                        }
                        _ => ranges.push(Anchor::Range(*s, *lo, *hi)),
                    }
                    continue;
                }
                if best
                    .as_ref()
                    .is_none_or(|b| union_score(&found) > union_score(b))
                {
                    best = Some(found);
                }
            }
            let (bounded, ranges_left): (Vec<Anchor>, Vec<Anchor>) = ranges
                .into_iter()
                .partition(|a| matches!(a, Anchor::Range(_, Some(_), Some(_))));
            let bounded_range = bounded.into_iter().next();
            match (best, bounded_range) {
                (Some(b), Some(r)) if union_score(&b) < r.score() => Some(vec![r]),
                (None, Some(r)) => Some(vec![r]),
                (None, None) => ranges_left.into_iter().next().map(|r| vec![r]),
                (b, _) => b,
            }
        }
        Cond::Or(items) => {
            let mut all = Vec::new();
            for item in items {
                all.extend(anchors(policy, item)?);
            }
            Some(all)
        }
        _ => None,
    }
}

fn union_score(anchors: &[Anchor]) -> u32 {
    anchors.iter().map(Anchor::score).min().unwrap_or(0)
}

fn tighter_low(a: Bound, b: Bound) -> Bound {
    match (a, b) {
        (None, x) | (x, None) => x,
        (Some((p, pi)), Some((q, qi))) => {
            if p > q || (p == q && !pi) {
                Some((p, pi))
            } else {
                Some((q, qi))
            }
        }
    }
}

fn tighter_high(a: Bound, b: Bound) -> Bound {
    match (a, b) {
        (None, x) | (x, None) => x,
        (Some((p, pi)), Some((q, qi))) => {
            if p < q || (p == q && !pi) {
                Some((p, pi))
            } else {
                Some((q, qi))
            }
        }
    }
}

fn is_bool(policy: &CheckedPolicy, value: &Value) -> bool {
    match value {
        Value::Fact { group, field } => policy.facts[*group].fields[*field].ty == Type::Bool,
        _ => false,
    }
}

/// `lit OP value` read as `value OP' lit`.
fn mirror(op: CompareOp) -> CompareOp {
    match op {
        CompareOp::Lt => CompareOp::Gt,
        CompareOp::Le => CompareOp::Ge,
        CompareOp::Gt => CompareOp::Lt,
        CompareOp::Ge => CompareOp::Le,
        // `"+91" starts_with call.from` tests the literal: no anchor.
        CompareOp::StartsWith | CompareOp::Contains => CompareOp::Contains,
        other => other,
    }
}

fn order_holds(op: CompareOp, a: f64, b: f64) -> bool {
    match op {
        CompareOp::Lt => a < b,
        CompareOp::Le => a <= b,
        CompareOp::Gt => a > b,
        _ => a >= b,
    }
}

/// The dispatch key of a literal (enum variants go to jump tables instead).
pub fn key(literal: &Literal) -> Option<DispatchKey> {
    Some(match literal {
        Literal::String(s) => DispatchKey::Str(s.clone()),
        Literal::Number(n) => DispatchKey::number(*n),
        Literal::Bool(b) => DispatchKey::Bool(*b),
        Literal::Phone(p) => DispatchKey::Phone(p.clone()),
        Literal::Agent(a) => DispatchKey::Agent(*a),
        Literal::Enum { .. } => return None,
    })
}
