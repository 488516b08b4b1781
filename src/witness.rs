//! Witnesses: a compiled policy in; for each rule a call it decides, for each `or` fallback
//! the same call with the targets before it unavailable, and one call for `otherwise`, each
//! with the decision it gets. Calls are built from the values the conditions test (each
//! literal, a prefix's numbers, a number's neighbours, the edges of a schedule's windows,
//! a value none of them, missing), never by random search, and each is checked by evaluating
//! it.

use std::collections::BTreeMap;

use jiff::civil::{Date, DateTime, Time};
use serde_json::{Value as J, json};

use crate::check::model::{
    AgentFilter, CallField, CheckedPolicy, CompareOp, Cond, FactsId, Literal, MapId, NowField,
    ScheduleId, Target, Type, Value,
};
use crate::compile::Policy;
use crate::eval::{Decision, RuleRef};

/// One generated case: a name, the case (`call`, `at`, `facts`, `agents`) and its `expect`.
#[derive(Debug, Clone)]
pub struct Witness {
    pub name: String,
    pub rule: RuleRef,
    pub fallback: usize,
    pub case: J,
    pub expect: J,
}

/// A rule or fallback no generated call reaches, and the rules that took the calls tried.
#[derive(Debug, Clone)]
pub struct NoWitness {
    pub rule: String,
    /// `None`: the rule itself; else the fallback's position and target.
    pub fallback: Option<(usize, String)>,
    /// The target is never available (no agent matches it), rather than never reached.
    pub never_available: bool,
    pub taken_by: Vec<String>,
}

/// Combinations of values tried per rule before giving up.
const MAX_TRIES: usize = 4096;
/// Rounds of adding the values an earlier rule that took the call tests.
const MAX_ROUNDS: usize = 4;

/// What a condition reads: one input of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Var {
    Call(CallField),
    Fact(FactsId, usize),
    /// The call's time: every schedule and `now.` field reads it.
    Time,
}

/// A value to give an input of a call.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Missing,
    Json(J),
    Time(jiff::Timestamp),
}

/// Candidate values per variable, in the order they are tried.
type Candidates = BTreeMap<Var, Vec<Val>>;

/// The Monday of the week times are taken from.
fn base_day() -> Date {
    Date::constant(2026, 11, 23)
}

fn add(cands: &mut Candidates, var: Var, val: Val) {
    let list = cands.entry(var).or_default();
    if !list.contains(&val) {
        list.push(val);
    }
}

fn var_of(value: &Value) -> Option<Var> {
    match value {
        Value::Call(f) => Some(Var::Call(*f)),
        Value::Fact { group, field } => Some(Var::Fact(*group, *field)),
        Value::Now(_) => Some(Var::Time),
        _ => None,
    }
}

fn var_type(policy: &CheckedPolicy, var: Var) -> Type {
    match var {
        Var::Call(f) => CallField::ALL
            .iter()
            .find(|(_, c, _)| *c == f)
            .map_or(Type::String, |(_, _, t)| *t),
        Var::Fact(g, f) => policy.facts[g].fields[f].ty,
        Var::Time => Type::String,
    }
}

/// A JSON value for a literal, as a case writes it.
fn literal_json(policy: &CheckedPolicy, l: &Literal) -> J {
    match l {
        Literal::String(s) | Literal::Phone(s) => json!(s),
        Literal::Number(n) => json!(n),
        Literal::Bool(b) => json!(b),
        Literal::Enum { ty, variant } => json!(policy.enums[*ty].variants[*variant as usize]),
        Literal::Agent(a) => json!(policy.agents[*a].name),
    }
}

/// A phone number starting with `prefix`, as long as a mobile number.
fn extend_number(prefix: &str) -> String {
    extend_with(prefix, '0')
}

fn extend_with(prefix: &str, digit: char) -> String {
    let mut n = prefix.to_string();
    while n.len() < 13 {
        n.push(digit);
    }
    n
}

/// A value of `ty` that no literal of a policy is likely to be (for an agent, the first).
fn other_value(policy: &CheckedPolicy, ty: Type) -> J {
    match ty {
        Type::Number => json!(-987654),
        Type::Bool => json!(false),
        Type::Phone => json!("+15550100123"),
        Type::Agent => policy.agents.first().map_or(J::Null, |a| json!(a.name)),
        Type::Enum(e) => policy.enums[e]
            .variants
            .last()
            .map_or(J::Null, |v| json!(v)),
        _ => json!("zz-none-of-them"),
    }
}

/// The instant `minute` minutes after midnight of `day` in `zone`.
fn at(zone: &jiff::tz::TimeZone, day: Date, minute: u16) -> jiff::Timestamp {
    let time = Time::new((minute / 60 % 24) as i8, (minute % 60) as i8, 0, 0).unwrap_or_default();
    let civil: DateTime = day.to_datetime(time);
    zone.to_timestamp(civil)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

/// The day `d` days after the base Monday.
fn weekday(d: u8) -> Date {
    base_day()
        .checked_add(jiff::Span::new().days(i64::from(d)))
        .unwrap_or(base_day())
}

/// Adds the values `cond` tests, for every variable it reads.
fn collect(policy: &Policy, cond: &Cond, cands: &mut Candidates) {
    let checked = &policy.checked;
    match cond {
        Cond::Const(_) => {}
        Cond::Not(inner) => collect(policy, inner, cands),
        Cond::And(items) | Cond::Or(items) => {
            for item in items {
                collect(policy, item, cands);
            }
        }
        Cond::Test(v) => {
            if let Some(var) = var_of(v) {
                add(cands, var, Val::Json(json!(true)));
                add(cands, var, Val::Json(json!(false)));
            }
        }
        Cond::Exists(v) => {
            if let Some(var) = var_of(v) {
                add(
                    cands,
                    var,
                    Val::Json(other_value(checked, var_type(checked, var))),
                );
            }
        }
        Cond::Schedule(id) => schedule_times(checked, *id, cands),
        Cond::In { value, list } => {
            for l in list {
                compared(policy, value, CompareOp::Eq, l, cands);
            }
        }
        Cond::Compare { left, op, right } => match (left, right) {
            (v, Value::Literal(l)) => compared(policy, v, *op, l, cands),
            // The order of the two sides does not change which values are worth trying.
            (Value::Literal(l), v) => compared(policy, v, *op, l, cands),
            (a, b) => {
                // Two values compared: equal ones and different ones.
                for v in [a, b] {
                    if let Some(var) = var_of(v) {
                        add(cands, var, Val::Json(json!("same")));
                    }
                }
            }
        },
    }
}

/// Adds the values of `value` that make `value op literal` true and false.
fn compared(policy: &Policy, value: &Value, op: CompareOp, l: &Literal, cands: &mut Candidates) {
    let checked = &policy.checked;
    if let Value::Map(m) = value {
        map_values(policy, *m, l, cands);
        return;
    }
    if let Value::Now(field) = value {
        now_times(checked, *field, l, cands);
        return;
    }
    let Some(var) = var_of(value) else { return };
    let ty = var_type(checked, var);
    match (op, l) {
        (CompareOp::StartsWith, Literal::String(p) | Literal::Phone(p)) => {
            if ty == Type::Phone {
                // Padded with zeros and with nines: a longer prefix another test names
                // (`+9180` within `+918`) takes at most one of them.
                add(cands, var, Val::Json(json!(extend_number(p))));
                add(cands, var, Val::Json(json!(extend_with(p, '9'))));
            } else {
                add(cands, var, Val::Json(json!(format!("{p}x"))));
            }
        }
        (CompareOp::Lt | CompareOp::Le | CompareOp::Gt | CompareOp::Ge, Literal::Number(n)) => {
            for x in [*n, n - 1.0, n + 1.0] {
                add(cands, var, Val::Json(json!(x)));
            }
        }
        (
            CompareOp::Lt | CompareOp::Le | CompareOp::Gt | CompareOp::Ge,
            Literal::Enum { ty, .. },
        ) => {
            for v in &checked.enums[*ty].variants {
                add(cands, var, Val::Json(json!(v)));
            }
        }
        (_, l) => {
            add(cands, var, Val::Json(literal_json(checked, l)));
            if let Literal::Bool(b) = l {
                add(cands, var, Val::Json(json!(!b)));
            }
        }
    }
    add(cands, var, Val::Json(other_value(checked, ty)));
}

/// A map's input values: a number under each prefix whose value is `l`, then one under a
/// prefix with another value.
fn map_values(policy: &Policy, m: MapId, l: &Literal, cands: &mut Candidates) {
    let Some(var) = var_of(&policy.checked.maps[m].input) else {
        return;
    };
    let want = match l {
        Literal::String(s) | Literal::Phone(s) => s.as_str(),
        _ => return,
    };
    // The compiled map holds the entries of its data file too.
    let entries = policy.maps[m.index()].entries();
    let matching = entries.iter().filter(|(_, v)| v.as_str() == want);
    // The longest prefix wins: a number under a prefix is the prefix padded with zeros, which
    // a longer prefix of another value may still take; the check by evaluation tells.
    for (prefix, _) in matching.take(8) {
        add(cands, var, Val::Json(json!(extend_number(prefix))));
    }
    if let Some((prefix, _)) = entries.iter().find(|(_, v)| v.as_str() != want) {
        add(cands, var, Val::Json(json!(extend_number(prefix))));
    }
}

/// Times at the edges of a schedule's windows (in its own time zone), and on its closed days.
fn schedule_times(policy: &CheckedPolicy, id: ScheduleId, cands: &mut Candidates) {
    let schedule = &policy.schedules[id];
    let zone = schedule.timezone.as_ref().unwrap_or(&policy.timezone);
    let mut time = |day: Date, minute: u16| add(cands, Var::Time, Val::Time(at(zone, day, minute)));
    let minutes = 24 * 60;
    for w in &schedule.windows {
        // The edges on the window's first day; its opening minute and last minute on every
        // day of the week, in its days or not (a change of days shows there).
        if let Some(d) = (0..7u8).find(|d| w.days & (1 << d) != 0) {
            let day = weekday(d);
            time(day, (w.start + minutes - 1) % minutes);
            time(day, w.end % minutes);
        }
        for d in 0..7u8 {
            time(weekday(d), w.start);
            time(weekday(d), (w.end + minutes - 1) % minutes);
        }
    }
    for date in &schedule.closed {
        time(*date, 12 * 60);
    }
    time(weekday(6), 3 * 60);
}

/// Times that make a `now.` field equal the literal, and its neighbours, on every day of the
/// week (another rule may take the calls of some days).
fn now_times(policy: &CheckedPolicy, field: NowField, l: &Literal, cands: &mut Candidates) {
    let zone = &policy.timezone;
    let mut time = |day: Date, minute: u16| add(cands, Var::Time, Val::Time(at(zone, day, minute)));
    match (field, l) {
        (NowField::Hour, Literal::Number(h)) => {
            for h in [*h, h - 1.0, h + 1.0] {
                if (0.0..24.0).contains(&h) {
                    for d in 0..7 {
                        time(weekday(d), h as u16 * 60);
                    }
                }
            }
        }
        (NowField::Minute, Literal::Number(m)) => {
            for m in [*m, m - 1.0, m + 1.0] {
                if (0.0..60.0).contains(&m) {
                    for d in 0..7 {
                        time(weekday(d), 10 * 60 + m as u16);
                    }
                }
            }
        }
        (NowField::Weekday, Literal::String(w)) => {
            let days = crate::vocabulary::WEEKDAYS;
            if let Some(i) = days.iter().position(|d| d == w) {
                time(weekday(i as u8), 10 * 60);
                time(weekday(i as u8), 3 * 60);
            }
        }
        (NowField::Date, Literal::String(d)) => {
            if let Ok(date) = d.parse::<Date>() {
                time(date, 10 * 60);
            }
        }
        _ => {}
    }
}

/// Adds the values the targets of a rule read: the languages agents speak, for `agents where
/// speaks X`; agents' names, for `agent X`.
fn target_values(policy: &CheckedPolicy, targets: &[Target], cands: &mut Candidates) {
    fn filter(policy: &CheckedPolicy, f: &AgentFilter, cands: &mut Candidates) {
        match f {
            AgentFilter::Speaks(v) => {
                if let Some(var) = var_of(v) {
                    for a in &policy.agents {
                        for l in &a.languages {
                            add(cands, var, Val::Json(json!(l)));
                        }
                    }
                }
            }
            AgentFilter::Not(inner) => filter(policy, inner, cands),
            AgentFilter::And(list) | AgentFilter::Or(list) => {
                for f in list {
                    filter(policy, f, cands);
                }
            }
            AgentFilter::Skill { .. } | AgentFilter::InTeam(_) => {}
        }
    }
    for t in targets {
        match t {
            Target::Agents { filter: f, .. } => filter(policy, f, cands),
            Target::AgentFrom(v) => {
                if let Some(var) = var_of(v) {
                    for a in policy.agents.iter().take(3) {
                        add(cands, var, Val::Json(json!(a.name)));
                    }
                }
            }
            _ => {}
        }
    }
}

/// The Exotel parameter a call field is read from.
pub fn param(field: CallField) -> &'static str {
    match field {
        CallField::Sid => "CallSid",
        CallField::From => "CallFrom",
        CallField::To => "CallTo",
        CallField::Direction => "Direction",
        CallField::Digits => "digits",
        CallField::Custom => "CustomField",
        CallField::FlowId => "flow_id",
    }
}

/// The case for one assignment of values.
fn case(policy: &CheckedPolicy, sid: &str, values: &[(Var, &Val)], busy: &[String]) -> J {
    let names: Vec<String> = values.iter().map(|(v, _)| input_name(policy, *v)).collect();
    let named: Vec<(&str, &Val)> = names
        .iter()
        .zip(values)
        .map(|(n, (_, v))| (n.as_str(), *v))
        .collect();
    case_of(&policy.timezone, sid, &named, busy)
}

/// The decision `policy` makes for a case; `None` when the case does not read.
pub fn decide(policy: &Policy, case: &J) -> Option<Decision> {
    let c = crate::case::read(&policy.checked, case, "", &[]).ok()?;
    let now = c.at?;
    Some(crate::eval::eval(policy, &c.call, &c.facts, now, &c.agents))
}

/// An input's name: `call.digits`, `caller.tier` (a fact), or `time`.
fn input_name(policy: &CheckedPolicy, var: Var) -> String {
    match var {
        Var::Call(f) => format!("call.{}", f.name()),
        Var::Fact(g, f) => format!(
            "{}.{}",
            policy.facts[g].name, policy.facts[g].fields[f].name
        ),
        Var::Time => "time".to_string(),
    }
}

fn by_name(policy: &CheckedPolicy, cands: Candidates) -> BTreeMap<String, Vec<Val>> {
    cands
        .into_iter()
        .map(|(var, vals)| (input_name(policy, var), vals))
        .collect()
}

/// The values every rule of `policy` (and `otherwise`) tests and its targets read, by input
/// name.
pub fn inputs(policy: &Policy) -> BTreeMap<String, Vec<Val>> {
    let mut cands = Candidates::new();
    for rule in &policy.checked.rules {
        collect(policy, &rule.condition, &mut cands);
        target_values(&policy.checked, &rule.targets, &mut cands);
    }
    target_values(
        &policy.checked,
        &policy.checked.otherwise.targets,
        &mut cands,
    );
    by_name(&policy.checked, cands)
}

/// The values rule `rule` tests and its targets read, by input name.
pub fn rule_inputs(policy: &Policy, rule: usize) -> BTreeMap<String, Vec<Val>> {
    let mut cands = Candidates::new();
    let def = &policy.checked.rules[rule];
    collect(policy, &def.condition, &mut cands);
    target_values(&policy.checked, &def.targets, &mut cands);
    by_name(&policy.checked, cands)
}

/// The case giving each named input its value (`call.…` a parameter, `group.field` a fact,
/// `time` the case's `at`, read in `zone`), with `busy` agents.
pub fn case_of(
    zone: &jiff::tz::TimeZone,
    sid: &str,
    values: &[(&str, &Val)],
    busy: &[String],
) -> J {
    let mut call = serde_json::Map::new();
    call.insert("CallSid".into(), json!(sid));
    let mut facts = serde_json::Map::new();
    let mut time = at(zone, base_day(), 10 * 60);
    for (name, val) in values {
        let field = name
            .strip_prefix("call.")
            .and_then(|f| CallField::ALL.iter().find(|(n, _, _)| *n == f));
        match (val, field) {
            (Val::Missing, _) => {}
            (Val::Time(t), _) => time = *t,
            (Val::Json(v), Some((_, f, _))) => {
                let text = match v {
                    J::String(s) => s.clone(),
                    other => other.to_string(),
                };
                // Exotel sends the digits pressed in quotes.
                let text = if *f == CallField::Digits {
                    format!("\"{text}\"")
                } else {
                    text
                };
                call.insert(param(*f).into(), json!(text));
            }
            (Val::Json(v), None) => {
                if let Some((group, field)) = name.split_once('.') {
                    let fields = facts.entry(group.to_string()).or_insert_with(|| json!({}));
                    fields[field] = v.clone();
                }
            }
        }
    }
    let at = time
        .to_zoned_datetime(zone.clone())
        .strftime("%Y-%m-%dT%H:%M:%S%:z")
        .to_string();
    let mut out = json!({"call": call, "at": at});
    if !facts.is_empty() {
        out["facts"] = J::Object(facts);
    }
    if !busy.is_empty() {
        let agents: serde_json::Map<String, J> = busy
            .iter()
            .map(|a| (a.clone(), json!({"status": "busy"})))
            .collect();
        out["agents"] = J::Object(agents);
    }
    out
}

/// What a test expects of a decision: its rule, target and where it goes.
pub fn expectation(policy: &Policy, decision: &Decision) -> J {
    let full = decision.to_json(policy);
    let mut expect = json!({"rule": full["rule"], "target": full["target"]});
    for key in ["numbers", "queue", "priority", "flow"] {
        let v = &full[key];
        let empty = v.is_null() || v.as_array().is_some_and(Vec::is_empty);
        if !empty {
            expect[key] = v.clone();
        }
    }
    expect
}

/// Finds a call that rule `rule` (`None`: `otherwise`) decides (with its first available
/// target): the case, or the rules that took every call tried.
fn find(policy: &Policy, rule: Option<usize>, sid: &str) -> Result<(J, Decision), Vec<usize>> {
    let rules = &policy.checked.rules;
    let mut cands = Candidates::new();
    if let Some(i) = rule {
        collect(policy, &rules[i].condition, &mut cands);
    }
    let def = rule.map_or(&policy.checked.otherwise, |i| &rules[i]);
    target_values(&policy.checked, &def.targets, &mut cands);
    let mut taken_by: Vec<usize> = Vec::new();
    let mut added: Vec<usize> = Vec::new();
    for _ in 0..MAX_ROUNDS {
        let vars: Vec<(Var, Vec<Val>)> = cands
            .iter()
            .map(|(var, vals)| {
                let mut vals = vals.clone();
                if *var != Var::Time {
                    vals.push(Val::Missing);
                }
                (*var, vals)
            })
            .collect();
        let mut counters = vec![0usize; vars.len()];
        let total = vars
            .iter()
            .try_fold(1usize, |acc, (_, v)| acc.checked_mul(v.len()))
            .unwrap_or(usize::MAX);
        let mut blockers: Vec<usize> = Vec::new();
        let mut best: Option<(J, Decision)> = None;
        for _ in 0..total.min(MAX_TRIES) {
            let values: Vec<(Var, &Val)> = vars
                .iter()
                .zip(&counters)
                .map(|((var, vals), &i)| (*var, &vals[i]))
                .collect();
            let case = case(&policy.checked, sid, &values, &[]);
            if let Some(d) = decide(policy, &case) {
                let fired = match d.rule {
                    RuleRef::Rule(r) => Some(r.index()),
                    RuleRef::Otherwise => None,
                };
                if fired == rule {
                    if d.fallback == 0 {
                        return Ok((case, d));
                    }
                    // Another call may find the first target available: keep looking.
                    if best
                        .as_ref()
                        .is_none_or(|(_, b): &(J, Decision)| d.fallback < b.fallback)
                    {
                        best = Some((case, d));
                    }
                }
                if let Some(r) = fired
                    && rule.is_none_or(|i| r < i)
                    && !blockers.contains(&r)
                {
                    blockers.push(r);
                }
            }
            for (i, (_, vals)) in vars.iter().enumerate() {
                counters[i] += 1;
                if counters[i] < vals.len() {
                    break;
                }
                counters[i] = 0;
            }
        }
        if let Some(best) = best {
            return Ok(best);
        }
        for r in &blockers {
            if !taken_by.contains(r) {
                taken_by.push(*r);
            }
        }
        // Try again with the values the rules that took the calls test, to miss them.
        let fresh: Vec<usize> = blockers
            .into_iter()
            .filter(|r| !added.contains(r))
            .take(3)
            .collect();
        if fresh.is_empty() {
            break;
        }
        for r in fresh {
            collect(policy, &rules[r].condition, &mut cands);
            added.push(r);
        }
    }
    taken_by.sort_unstable();
    Err(taken_by)
}

/// The agents a decision rang, and every member of its team: made busy, its target is
/// unavailable.
fn agents_of(policy: &Policy, decision: &Decision) -> Vec<String> {
    let checked = &policy.checked;
    let mut ids = decision.agents.to_vec();
    if let Some(team) = decision.team {
        ids.extend(&checked.teams[team].members);
    }
    ids.iter()
        .map(|&a| checked.agents[a].name.clone())
        .collect()
}

/// Every witness of `policy`, and what has none.
pub fn witnesses(policy: &Policy) -> (Vec<Witness>, Vec<NoWitness>) {
    let checked = &policy.checked;
    let mut found = Vec::new();
    let mut missing = Vec::new();
    let rules = (0..checked.rules.len()).map(Some).chain([None]);
    for (n, rule) in rules.enumerate() {
        let def = rule.map_or(&checked.otherwise, |i| &checked.rules[i]);
        let sid = format!("w{}", n + 1);
        let rule_ref = match rule {
            Some(i) => RuleRef::Rule(crate::check::model::RuleId::new(i)),
            None => RuleRef::Otherwise,
        };
        let label = match rule {
            Some(_) => format!("rule `{}`", def.name),
            None => "otherwise".to_string(),
        };
        let (case, decision) = match find(policy, rule, &sid) {
            Ok(found) => found,
            Err(taken_by) => {
                missing.push(NoWitness {
                    rule: def.name.clone(),
                    fallback: None,
                    never_available: false,
                    taken_by: taken_by
                        .iter()
                        .map(|&r| checked.rules[r].name.clone())
                        .collect(),
                });
                continue;
            }
        };
        let first = decision.fallback;
        let described = |k: usize| crate::eval::describe_target(checked, &def.targets[k]);
        // Targets before the first available one are never available (no agent matches).
        for k in 0..first.min(def.targets.len()) {
            missing.push(NoWitness {
                rule: def.name.clone(),
                fallback: Some((k, described(k))),
                never_available: true,
                taken_by: Vec::new(),
            });
        }
        let name = match first {
            0 => label.clone(),
            k => format!(
                "{label}, or {} (the targets before it unavailable)",
                described(k)
            ),
        };
        found.push(Witness {
            name,
            rule: rule_ref,
            fallback: first,
            expect: expectation(policy, &decision),
            case: case.clone(),
        });
        // Each later `or`: the targets before it made unavailable.
        for k in first + 1..def.targets.len() {
            let target = described(k);
            match fallback(policy, &case, rule_ref, k) {
                Some((case, decision)) => found.push(Witness {
                    name: format!("{label}, or {target} (the targets before it unavailable)"),
                    rule: rule_ref,
                    fallback: k,
                    expect: expectation(policy, &decision),
                    case,
                }),
                None => missing.push(NoWitness {
                    rule: def.name.clone(),
                    fallback: Some((k, target)),
                    never_available: false,
                    taken_by: Vec::new(),
                }),
            }
        }
    }
    (found, missing)
}

/// `case` with agents made busy until rule `rule` falls back to its target `k`.
fn fallback(policy: &Policy, case: &J, rule: RuleRef, k: usize) -> Option<(J, Decision)> {
    let mut busy: Vec<String> = Vec::new();
    let mut case = case.clone();
    // A target of `agents where … ring N` may take a few rounds to run out of agents.
    for _ in 0..k + 8 {
        let decision = decide(policy, &case)?;
        if decision.rule != rule || decision.fallback > k {
            return None;
        }
        if decision.fallback == k {
            return Some((case, decision));
        }
        let more = agents_of(policy, &decision);
        if more.is_empty() {
            return None;
        }
        busy.extend(more);
        busy.sort();
        busy.dedup();
        let agents: serde_json::Map<String, J> = busy
            .iter()
            .map(|a| (a.clone(), json!({"status": "busy"})))
            .collect();
        case["agents"] = J::Object(agents);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_prefixes_become_whole_numbers() {
        assert_eq!(extend_number("+9180"), "+918000000000");
    }
}
