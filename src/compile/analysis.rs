//! Finds rules that can never fire because earlier rules take every call they would.
//!
//! Each condition becomes a disjunction of terms (conjunctions of tests) in three-valued
//! logic. A later rule is unreachable when, for every way its term can be true, some earlier
//! term is true too. Values are split into finitely many classes (each literal and prefix the
//! tests mention, "something else", "missing"), and every combination is tried: exact for
//! equality, `in`, enum, bool, `exists` and prefix tests. Any other test (ranges, `contains`,
//! comparing two values) is an opaque true/false/unknown of its own, which may only make a
//! rule look reachable: the analysis never warns falsely.

use std::collections::HashMap;

use super::index::{DispatchKey, Subject};
use crate::check::model::{CheckedPolicy, CompareOp, Cond, Literal, Truth, Type, Value};
use crate::diagnostic::{Diagnostic, Diagnostics, Kind};

/// Terms per condition, and value combinations per term, beyond which a rule is not analysed.
const MAX_TERMS: usize = 64;
const MAX_COMBINATIONS: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Var {
    Subject(Subject),
    Opaque(usize),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Value(DispatchKey),
    Variant(u32),
}

#[derive(Debug, Clone, PartialEq)]
enum Test {
    /// The value is one of the keys.
    OneOf(Vec<Key>),
    Prefix(String),
    Exists,
    /// An opaque test or a schedule: the variable itself is the truth value.
    True,
}

#[derive(Debug, Clone, PartialEq)]
struct Atom {
    var: Var,
    test: Test,
    negated: bool,
}

type Term = Vec<Atom>;

/// A class of values a variable may take.
#[derive(Debug, Clone, PartialEq)]
enum Class {
    Missing,
    Key(Key),
    /// Starts with this prefix, and with no longer prefix mentioned; equals no key.
    Prefix(String),
    Other,
    Truth(Truth),
}

struct Analyser<'a> {
    policy: &'a CheckedPolicy,
    /// Opaque tests by their structure (`Cond` has floats, so it is not `Hash`): the same
    /// test in two rules is one variable.
    opaque: HashMap<String, usize>,
}

impl Analyser<'_> {
    fn opaque(&mut self, cond: &Cond) -> Var {
        let next = self.opaque.len();
        Var::Opaque(*self.opaque.entry(format!("{cond:?}")).or_insert(next))
    }

    fn atom(&mut self, cond: &Cond, negated: bool) -> Atom {
        let opaque = |this: &mut Self| Atom {
            var: this.opaque(cond),
            test: Test::True,
            negated,
        };
        let subject = |v: &Value| Subject::of(v).map(Var::Subject);
        match cond {
            Cond::Schedule(id) => Atom {
                var: Var::Subject(Subject::Schedule(*id)),
                test: Test::True,
                negated,
            },
            Cond::Test(v) => match subject(v) {
                Some(var) => Atom {
                    var,
                    test: Test::OneOf(vec![Key::Value(DispatchKey::Bool(true))]),
                    negated,
                },
                None => opaque(self),
            },
            Cond::Exists(v) => match subject(v) {
                Some(var) => Atom {
                    var,
                    test: Test::Exists,
                    negated,
                },
                None => opaque(self),
            },
            Cond::In { value, list } => match (subject(value), keys(list)) {
                (Some(var), Some(keys)) => Atom {
                    var,
                    test: Test::OneOf(keys),
                    negated,
                },
                _ => opaque(self),
            },
            Cond::Compare { left, op, right } => {
                let (var, literal) = match (subject(left), right, subject(right), left) {
                    (Some(v), Value::Literal(l), _, _) => (v, l),
                    (None, _, Some(v), Value::Literal(l))
                        if *op == CompareOp::Eq || *op == CompareOp::Ne =>
                    {
                        (v, l)
                    }
                    _ => return opaque(self),
                };
                match (op, literal) {
                    (CompareOp::Eq | CompareOp::Ne, l) => match keys(std::slice::from_ref(l)) {
                        Some(keys) => Atom {
                            var,
                            test: Test::OneOf(keys),
                            negated: negated ^ (*op == CompareOp::Ne),
                        },
                        None => opaque(self),
                    },
                    (CompareOp::StartsWith, Literal::String(p)) => Atom {
                        var,
                        test: Test::Prefix(p.clone()),
                        negated,
                    },
                    (
                        CompareOp::Lt | CompareOp::Le | CompareOp::Gt | CompareOp::Ge,
                        Literal::Enum { ty, variant },
                    ) => {
                        let count = self.policy.enums[*ty].variants.len() as u32;
                        let variants = (0..count)
                            .filter(|v| match op {
                                CompareOp::Lt => v < variant,
                                CompareOp::Le => v <= variant,
                                CompareOp::Gt => v > variant,
                                _ => v >= variant,
                            })
                            .map(Key::Variant)
                            .collect();
                        Atom {
                            var,
                            test: Test::OneOf(variants),
                            negated,
                        }
                    }
                    _ => opaque(self),
                }
            }
            _ => opaque(self),
        }
    }

    /// The condition as a disjunction of terms; `None` when it has too many.
    fn dnf(&mut self, cond: &Cond, negated: bool) -> Option<Vec<Term>> {
        match (cond, negated) {
            (Cond::Const(b), n) => Some(if *b != n {
                vec![Vec::new()]
            } else {
                Vec::new()
            }),
            (Cond::Not(inner), n) => self.dnf(inner, !n),
            (Cond::And(items), false) | (Cond::Or(items), true) => {
                let mut terms: Vec<Term> = vec![Vec::new()];
                for item in items {
                    let item_terms = self.dnf(item, negated)?;
                    let mut next = Vec::new();
                    for t in &terms {
                        for u in &item_terms {
                            let mut joined = t.clone();
                            joined.extend(u.iter().cloned());
                            next.push(joined);
                        }
                    }
                    if next.len() > MAX_TERMS {
                        return None;
                    }
                    terms = next;
                }
                Some(terms)
            }
            (Cond::Or(items), false) | (Cond::And(items), true) => {
                let mut terms = Vec::new();
                for item in items {
                    terms.extend(self.dnf(item, negated)?);
                    if terms.len() > MAX_TERMS {
                        return None;
                    }
                }
                Some(terms)
            }
            (atom, n) => Some(vec![vec![self.atom(atom, n)]]),
        }
    }

    fn var_kind(&self, var: Var) -> VarKind {
        match var {
            Var::Opaque(_) => VarKind::Opaque,
            Var::Subject(Subject::Schedule(_)) => VarKind::Schedule,
            Var::Subject(Subject::Fact(g, f)) => match self.policy.facts[g].fields[f].ty {
                Type::Enum(e) => VarKind::Enum(self.policy.enums[e].variants.len() as u32),
                Type::Bool => VarKind::Bool,
                _ => VarKind::Open,
            },
            Var::Subject(_) => VarKind::Open,
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum VarKind {
    Opaque,
    Schedule,
    Enum(u32),
    Bool,
    Open,
}

fn keys(list: &[Literal]) -> Option<Vec<Key>> {
    list.iter()
        .map(|l| match l {
            Literal::Enum { variant, .. } => Some(Key::Variant(*variant)),
            other => super::index::key(other).map(Key::Value),
        })
        .collect()
}

fn eval_atom(atom: &Atom, class: &Class) -> Truth {
    let truth = match (&atom.test, class) {
        (Test::True, Class::Truth(t)) => *t,
        (Test::Exists, Class::Missing) => Truth::False,
        (Test::Exists, _) => Truth::True,
        (_, Class::Missing) => Truth::Unknown,
        (Test::OneOf(keys), Class::Key(k)) => Truth::of(keys.contains(k)),
        (Test::OneOf(_), _) => Truth::False,
        (Test::Prefix(p), Class::Key(Key::Value(DispatchKey::Str(s) | DispatchKey::Phone(s)))) => {
            Truth::of(s.starts_with(p.as_str()))
        }
        (Test::Prefix(p), Class::Prefix(q)) => Truth::of(q.starts_with(p.as_str())),
        (Test::Prefix(_), _) => Truth::False,
        (Test::True, _) => Truth::Unknown,
    };
    if atom.negated { truth.not() } else { truth }
}

fn eval_term(term: &Term, assignment: &[(Var, Class)]) -> Truth {
    Truth::all(term.iter().map(|atom| {
        let class = assignment
            .iter()
            .find(|(v, _)| *v == atom.var)
            .map_or(&Class::Missing, |(_, c)| c);
        eval_atom(atom, class)
    }))
}

fn vars(term: &Term) -> Vec<Var> {
    let mut v: Vec<Var> = term.iter().map(|a| a.var).collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// The classes worth trying for a variable, given every test on it.
fn classes(kind: VarKind, atoms: &[&Atom]) -> Vec<Class> {
    match kind {
        VarKind::Opaque => vec![
            Class::Truth(Truth::True),
            Class::Truth(Truth::False),
            Class::Truth(Truth::Unknown),
        ],
        VarKind::Schedule => vec![Class::Truth(Truth::True), Class::Truth(Truth::False)],
        VarKind::Enum(n) => std::iter::once(Class::Missing)
            .chain((0..n).map(|v| Class::Key(Key::Variant(v))))
            .collect(),
        VarKind::Bool => vec![
            Class::Missing,
            Class::Key(Key::Value(DispatchKey::Bool(true))),
            Class::Key(Key::Value(DispatchKey::Bool(false))),
        ],
        VarKind::Open => {
            let mut out = vec![Class::Missing, Class::Other];
            for atom in atoms {
                match &atom.test {
                    Test::OneOf(keys) => {
                        for k in keys {
                            let c = Class::Key(k.clone());
                            if !out.contains(&c) {
                                out.push(c);
                            }
                        }
                    }
                    Test::Prefix(p) => {
                        let c = Class::Prefix(p.clone());
                        if !out.contains(&c) {
                            out.push(c);
                        }
                    }
                    Test::Exists | Test::True => {}
                }
            }
            out
        }
    }
}

/// Earlier terms, filed so that a term finds the ones that could cover it without a scan.
#[derive(Default)]
struct Earlier {
    terms: Vec<(usize, Term, Vec<Var>)>,
    /// Terms with no tests: they cover everything.
    always: Vec<usize>,
    /// By their first variable with a positive equality test, per key; else by first variable.
    by_var: HashMap<Var, HashMap<Option<Key>, Vec<usize>>>,
}

fn positive_keys(term: &Term, var: Var) -> Option<&[Key]> {
    term.iter().find_map(|a| match (&a.test, a.negated) {
        (Test::OneOf(keys), false) if a.var == var => Some(keys.as_slice()),
        _ => None,
    })
}

impl Earlier {
    fn add(&mut self, rule: usize, term: Term) {
        let vars = vars(&term);
        let id = self.terms.len();
        if vars.is_empty() {
            self.always.push(id);
        } else {
            // File under the most selective keyed test: fewest keys, values before variants.
            let filed = vars
                .iter()
                .filter_map(|v| positive_keys(&term, *v).map(|k| (*v, k)))
                .min_by_key(|(_, keys)| {
                    let variants = keys.iter().any(|k| matches!(k, Key::Variant(_)));
                    (variants, keys.len())
                })
                .map(|(v, k)| (v, k.to_vec()));
            match filed {
                Some((var, keys)) => {
                    let slots = self.by_var.entry(var).or_default();
                    for key in keys {
                        slots.entry(Some(key)).or_default().push(id);
                    }
                }
                None => self
                    .by_var
                    .entry(vars[0])
                    .or_default()
                    .entry(None)
                    .or_default()
                    .push(id),
            }
        }
        self.terms.push((rule, term, vars));
    }

    /// Earlier terms whose variables all occur in `term`, in rule order.
    fn candidates(&self, term: &Term, term_vars: &[Var]) -> Vec<usize> {
        let mut out: Vec<usize> = self.always.clone();
        for var in term_vars {
            let Some(slots) = self.by_var.get(var) else {
                continue;
            };
            match positive_keys(term, *var) {
                Some(keys) => {
                    for key in keys {
                        out.extend(slots.get(&Some(key.clone())).into_iter().flatten());
                    }
                    out.extend(slots.get(&None).into_iter().flatten());
                }
                None => out.extend(slots.values().flatten()),
            }
        }
        out.sort_unstable();
        out.dedup();
        out.retain(|&id| {
            let (_, earlier, vars) = &self.terms[id];
            vars.iter().all(|v| term_vars.contains(v)) && compatible(term, earlier)
        });
        out
    }
}

/// Whether `earlier` can be true when `term` is: no two positive key tests on one variable
/// with no key in common, and no two prefix tests of which neither extends the other.
fn compatible(term: &Term, earlier: &Term) -> bool {
    earlier.iter().all(|a| match (&a.test, a.negated) {
        (Test::OneOf(keys), false) => match positive_keys(term, a.var) {
            Some(mine) => mine.iter().any(|k| keys.contains(k)),
            None => true,
        },
        (Test::Prefix(q), false) => term.iter().all(|t| match (&t.test, t.negated) {
            (Test::Prefix(p), false) if t.var == a.var => {
                p.starts_with(q.as_str()) || q.starts_with(p.as_str())
            }
            _ => true,
        }),
        _ => true,
    })
}

/// The rules that cover every way `term` can be true, or `None` if some way is uncovered
/// (or the term is too large to try, or can never be true).
fn covered_by(analyser: &Analyser, earlier: &Earlier, term: &Term) -> Option<Vec<usize>> {
    let term_vars = vars(term);
    let candidates = earlier.candidates(term, &term_vars);
    if candidates.is_empty() {
        return None;
    }
    let domains: Vec<(Var, Vec<Class>)> = term_vars
        .iter()
        .map(|&var| {
            let atoms: Vec<&Atom> = term
                .iter()
                .chain(candidates.iter().flat_map(|&id| earlier.terms[id].1.iter()))
                .filter(|a| a.var == var)
                .collect();
            (var, classes(analyser.var_kind(var), &atoms))
        })
        .collect();
    let combinations = domains
        .iter()
        .try_fold(1usize, |acc, (_, c)| acc.checked_mul(c.len()))?;
    if combinations > MAX_COMBINATIONS {
        return None;
    }
    let mut covering = Vec::new();
    let mut satisfiable = false;
    let mut counters = vec![0usize; domains.len()];
    let mut assignment: Vec<(Var, Class)> =
        domains.iter().map(|(v, c)| (*v, c[0].clone())).collect();
    for _ in 0..combinations {
        for (i, (_, classes)) in domains.iter().enumerate() {
            assignment[i].1 = classes[counters[i]].clone();
        }
        if eval_term(term, &assignment) == Truth::True {
            satisfiable = true;
            let cover = candidates
                .iter()
                .find(|&&id| eval_term(&earlier.terms[id].1, &assignment) == Truth::True)?;
            let rule = earlier.terms[*cover].0;
            if !covering.contains(&rule) {
                covering.push(rule);
            }
        }
        for i in 0..counters.len() {
            counters[i] += 1;
            if counters[i] < domains[i].1.len() {
                break;
            }
            counters[i] = 0;
        }
    }
    satisfiable.then_some(covering)
}

pub fn unreachable_rules(policy: &CheckedPolicy) -> Diagnostics {
    let mut diagnostics = Diagnostics::default();
    let mut analyser = Analyser {
        policy,
        opaque: HashMap::new(),
    };
    let mut earlier = Earlier::default();
    for (i, rule) in policy.rules.iter().enumerate() {
        let Some(terms) = analyser.dnf(&rule.condition, false) else {
            continue;
        };
        if !terms.is_empty() {
            let mut by: Vec<usize> = Vec::new();
            let all_covered = terms
                .iter()
                .all(|t| match covered_by(&analyser, &earlier, t) {
                    Some(rules) => {
                        by.extend(rules);
                        true
                    }
                    None => false,
                });
            if all_covered {
                by.sort_unstable();
                by.dedup();
                diagnostics.push(Diagnostic::new(
                    Kind::Unreachable {
                        rule: rule.name.clone(),
                        by: by.iter().map(|&r| policy.rules[r].name.clone()).collect(),
                    },
                    rule.head,
                ));
            }
        }
        for term in terms {
            earlier.add(i, term);
        }
    }
    diagnostics
}
