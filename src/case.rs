//! Cases for `routec eval` and `routec test`: a JSON (or YAML) value in; a call, facts, time
//! and agent state out, or an error naming the path of the mistake (`agents.ravi.status`).

use serde_json::Value as J;

use crate::call::Call;
use crate::check::model::{AgentId, CheckedPolicy, FactsId, Type};
use crate::check::nearest;
use crate::eval::{AgentSnapshot, Status};
use crate::facts::{self, Facts};

/// One call to decide, read from a case.
#[derive(Debug, Clone)]
pub struct Case {
    pub call: Call,
    /// The case's `at`, else the call's own Exotel time (`CurrentTime`, `StartTime`,
    /// `Created`, Indian time); `None`: neither, so "now" is used.
    pub at: Option<jiff::Timestamp>,
    pub facts: Facts,
    /// Facts groups the case gives; the others are looked up or missing.
    pub given: Vec<bool>,
    pub agents: AgentSnapshot,
}

/// A mistake in a case, at a path such as `agents.ravi.calls_today`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseError {
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for CaseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for CaseError {}

fn error(path: &str, message: impl Into<String>) -> CaseError {
    CaseError {
        path: path.to_string(),
        message: message.into(),
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn kind(v: &J) -> &'static str {
    match v {
        J::Null => "null",
        J::Bool(_) => "a bool",
        J::Number(_) => "a number",
        J::String(_) => "a string",
        J::Array(_) => "a list",
        J::Object(_) => "an object",
    }
}

fn object<'a>(v: &'a J, path: &str) -> Result<&'a serde_json::Map<String, J>, CaseError> {
    v.as_object()
        .ok_or_else(|| error(path, format!("expected an object, found {}", kind(v))))
}

fn unknown_key(path: &str, key: &str, known: &[&str]) -> CaseError {
    let help = match nearest(key, known.iter().copied()) {
        Some(s) => format!(" (did you mean `{s}`?)"),
        None => format!(", expected {}", known.join(", ")),
    };
    error(&join(path, key), format!("unknown field{help}"))
}

/// Reads a time: RFC 3339 with an offset, or Exotel's `YYYY-MM-DD HH:MM:SS` in `tz`.
pub fn read_time(text: &str, tz: &jiff::tz::TimeZone) -> Option<jiff::Timestamp> {
    if let Ok(ts) = text.parse::<jiff::Timestamp>() {
        return Some(ts);
    }
    let civil = text.trim().parse::<jiff::civil::DateTime>().ok()?;
    tz.to_timestamp(civil).ok()
}

/// The keys of a case besides `name` and `expect`, which `routec test` reads.
pub const CASE_KEYS: [&str; 5] = ["call", "at", "facts", "agents", "teams"];

/// Reads a case. `extra` keys are allowed and ignored (`name`, `expect` in tests).
pub fn read(policy: &CheckedPolicy, v: &J, path: &str, extra: &[&str]) -> Result<Case, CaseError> {
    let top = object(v, path)?;
    let known: Vec<&str> = CASE_KEYS.iter().chain(extra).copied().collect();
    for key in top.keys() {
        if !known.contains(&key.as_str()) {
            return Err(unknown_key(path, key, &known));
        }
    }
    let mut case = Case {
        call: Call::default(),
        at: None,
        facts: Facts::none(policy),
        given: vec![false; policy.facts.len()],
        agents: AgentSnapshot::fresh(policy.agents.len()),
    };
    if let Some(call) = top.get("call") {
        let call_path = join(path, "call");
        let mut params: Vec<(String, String)> = Vec::new();
        for (name, value) in object(call, &call_path)? {
            let text = match value {
                J::String(s) => s.clone(),
                J::Number(n) => n.to_string(),
                J::Null => continue,
                other => {
                    return Err(error(
                        &join(&call_path, name),
                        format!("expected a string, found {}", kind(other)),
                    ));
                }
            };
            params.push((name.clone(), text));
        }
        case.call = Call::from_params(
            params.iter().map(|(n, v)| (n.as_str(), v.as_str())),
            policy.country,
        );
        // A case copied from Exotel's log decides at the call's own time, as `serve` does.
        case.at = case.call.instant(&crate::exotel::indian_time());
    }
    if let Some(at) = top.get("at") {
        let at_path = join(path, "at");
        let text = at
            .as_str()
            .ok_or_else(|| error(&at_path, format!("expected a time, found {}", kind(at))))?;
        case.at = Some(read_time(text, &policy.timezone).ok_or_else(|| {
            error(
                &at_path,
                format!("`{text}` is not a time: use `2026-11-23T10:15:00+05:30` or `2026-11-23 10:15:00`"),
            )
        })?);
    }
    if let Some(facts) = top.get("facts") {
        read_facts(policy, facts, &join(path, "facts"), &mut case)?;
    }
    if let Some(agents) = top.get("agents") {
        read_agents(policy, agents, &join(path, "agents"), &mut case.agents)?;
    }
    if let Some(teams) = top.get("teams") {
        read_teams(policy, teams, &join(path, "teams"), &mut case.agents)?;
    }
    Ok(case)
}

/// `facts.caller.last_agent`: the built-in `caller.last_agent` (agent state), unless the
/// policy's own `caller` group declares a `last_agent` field.
fn read_last_agent(
    policy: &CheckedPolicy,
    group: &str,
    value: &J,
    path: &str,
) -> Result<Option<String>, CaseError> {
    let declared = policy
        .facts
        .iter()
        .any(|g| g.name == group && g.fields.iter().any(|f| f.name == "last_agent"));
    if group != "caller" || declared {
        return Ok(None);
    }
    let Some(raw) = value.get("last_agent") else {
        return Ok(None);
    };
    let field_path = join(path, "last_agent");
    let name = raw.as_str().ok_or_else(|| {
        error(
            &field_path,
            format!("expected an agent, found {}", describe_json(raw)),
        )
    })?;
    match policy
        .agents
        .iter()
        .find(|a| a.name == name || a.number == name)
    {
        Some(agent) => Ok(Some(agent.name.clone())),
        None => Err(error(&field_path, format!("unknown agent `{name}`"))),
    }
}

fn read_facts(policy: &CheckedPolicy, v: &J, path: &str, case: &mut Case) -> Result<(), CaseError> {
    let groups: Vec<&str> = policy.facts.iter().map(|g| g.name.as_str()).collect();
    for (name, value) in object(v, path)? {
        let group_path = join(path, name);
        let last_agent = read_last_agent(policy, name, value, &group_path)?;
        let has_last_agent = last_agent.is_some();
        if last_agent.is_some() {
            case.agents.last_agent = last_agent;
        }
        let Some(id) = groups.iter().position(|g| g == name) else {
            // `caller: {last_agent: …}` alone, with no `caller` facts group.
            if name == "caller" && has_last_agent {
                continue;
            }
            let mut known = groups.clone();
            known.push("caller");
            return Err(unknown_key(path, name, &known));
        };
        case.given[id] = true;
        // `null` (or nothing) for a group: an unknown caller, every fact missing.
        if value.is_null() {
            continue;
        }
        let fields = object(value, &group_path)?;
        let def = &policy.facts[id];
        let names: Vec<&str> = def.fields.iter().map(|f| f.name.as_str()).collect();
        for key in fields.keys() {
            let nested = names.iter().any(|n| n.starts_with(&format!("{key}.")));
            let built_in = name == "caller" && key == "last_agent";
            if !names.contains(&key.as_str()) && !nested && !built_in {
                return Err(unknown_key(&group_path, key, &names));
            }
        }
        for field in &def.fields {
            // A dotted field reads nested keys first, {"ticket": {"severity": …}}, as sources do.
            let nested = || {
                let mut v = fields.get(field.name.split('.').next()?)?;
                for part in field.name.split('.').skip(1) {
                    v = v.get(part)?;
                }
                Some(v)
            };
            let raw = if field.name.contains('.') {
                nested().or_else(|| fields.get(&field.name))
            } else {
                fields.get(&field.name)
            };
            // A case says what it means: `"150"` is text, not a number, wherever a source
            // would have converted it.
            if let Some(raw) = raw
                && !raw.is_null()
                && (!json_fits(field.ty, raw) || facts::read_value(policy, field.ty, raw).is_none())
            {
                let expected = match field.ty {
                    Type::Enum(e) => format!("one of {}", policy.enums[e].variants.join(", ")),
                    ty => with_article(&facts::type_noun(policy, ty)),
                };
                return Err(error(
                    &join(&group_path, &field.name),
                    format!("expected {expected}, found {}", describe_json(raw)),
                ));
            }
        }
        case.facts
            .set_group_from_json(policy, FactsId::new(id), fields, "input");
    }
    Ok(())
}

fn with_article(noun: &str) -> String {
    let vowel = noun.starts_with(['a', 'e', 'i', 'o', 'u']);
    format!("{} {noun}", if vowel { "an" } else { "a" })
}

/// Whether `key` names an `agents where` target as its cursor is kept: `RULE#N`, the rule's
/// name (or `otherwise`) and the target's position from 0.
fn agents_target(policy: &CheckedPolicy, key: &str) -> bool {
    let Some((rule, position)) = key.rsplit_once('#') else {
        return false;
    };
    let Ok(position) = position.parse::<usize>() else {
        return false;
    };
    let targets = if rule == "otherwise" {
        Some(&policy.otherwise.targets)
    } else {
        policy
            .rules
            .iter()
            .find(|r| r.name == rule)
            .map(|r| &r.targets)
    };
    targets
        .and_then(|t| t.get(position))
        .is_some_and(|t| matches!(t, crate::check::model::Target::Agents { .. }))
}

/// Whether a JSON value is of the kind a field of `ty` is written as in a case: numbers and
/// bools as themselves, everything else as a string.
fn json_fits(ty: Type, v: &J) -> bool {
    match ty {
        Type::Number => v.is_number(),
        Type::Bool => v.is_boolean(),
        Type::String | Type::Phone | Type::Agent | Type::Enum(_) => v.is_string(),
    }
}

fn describe_json(v: &J) -> String {
    match v {
        J::String(s) => format!("`{s}`"),
        other => kind(other).to_string(),
    }
}

fn read_agents(
    policy: &CheckedPolicy,
    v: &J,
    path: &str,
    snapshot: &mut AgentSnapshot,
) -> Result<(), CaseError> {
    let names: Vec<&str> = policy.agents.iter().map(|a| a.name.as_str()).collect();
    for (name, state) in object(v, path)? {
        let agent_path = join(path, name);
        let Some(id) = names.iter().position(|n| n == name) else {
            let help = nearest(name, names.iter().copied())
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default();
            return Err(error(&agent_path, format!("unknown agent{help}")));
        };
        let agent = &mut snapshot.agents[id];
        for (key, value) in object(state, &agent_path)? {
            let field_path = join(&agent_path, key);
            match key.as_str() {
                "status" => {
                    let text = value.as_str().unwrap_or("");
                    agent.status = Some(Status::from_name(text).ok_or_else(|| {
                        error(
                            &field_path,
                            format!(
                                "expected available, busy, offline or break, found {}",
                                describe_json(value)
                            ),
                        )
                    })?);
                }
                "calls_today" => {
                    agent.calls_today = value
                        .as_u64()
                        .and_then(|n| u32::try_from(n).ok())
                        .ok_or_else(|| {
                            let message = if value.is_number() {
                                format!("expected a non-negative number, found `{value}`")
                            } else {
                                format!("expected a number, found {}", describe_json(value))
                            };
                            error(&field_path, message)
                        })?;
                }
                "last_call_ended" => {
                    agent.last_call_ended = match value {
                        J::Null => None,
                        J::String(s) => {
                            Some(read_time(s, &policy.timezone).ok_or_else(|| {
                                error(&field_path, format!("`{s}` is not a time"))
                            })?)
                        }
                        other => {
                            return Err(error(
                                &field_path,
                                format!("expected a time, found {}", kind(other)),
                            ));
                        }
                    };
                }
                "reserved" => {
                    agent.reserved = value
                        .as_bool()
                        .ok_or_else(|| error(&field_path, "expected a bool"))?;
                }
                other => {
                    return Err(unknown_key(
                        &agent_path,
                        other,
                        &["status", "calls_today", "last_call_ended", "reserved"],
                    ));
                }
            }
        }
    }
    Ok(())
}

fn read_teams(
    policy: &CheckedPolicy,
    v: &J,
    path: &str,
    snapshot: &mut AgentSnapshot,
) -> Result<(), CaseError> {
    let teams: Vec<&str> = policy.teams.iter().map(|t| t.name.as_str()).collect();
    for (name, state) in object(v, path)? {
        let team_path = join(path, name);
        // A team by its name, or an `agents where` target by `RULE#N`, as cursors are kept.
        let members: Option<Vec<crate::check::model::AgentId>> =
            match teams.iter().position(|t| t == name) {
                Some(id) => Some(policy.teams[id].members.clone()),
                None if agents_target(policy, name) => None,
                None => {
                    let mut known = teams.clone();
                    known.push("RULE#N");
                    return Err(unknown_key(path, name, &known));
                }
            };
        for (key, value) in object(state, &team_path)? {
            let field_path = join(&team_path, key);
            match key.as_str() {
                "last" => {
                    let agent = value.as_str().unwrap_or("");
                    let found = match &members {
                        Some(members) => members
                            .iter()
                            .copied()
                            .find(|&m| policy.agents[m].name == agent),
                        None => policy
                            .agents
                            .iter()
                            .position(|a| a.name == agent)
                            .map(AgentId::new),
                    };
                    let member = found.ok_or_else(|| {
                        error(
                            &field_path,
                            format!("{} is no member of `{name}`", describe_json(value)),
                        )
                    })?;
                    snapshot.cursors.insert(name.clone(), member);
                }
                "weights" => {
                    let list = value
                        .as_array()
                        .and_then(|a| a.iter().map(J::as_i64).collect::<Option<Vec<i64>>>())
                        .filter(|w| members.as_ref().is_none_or(|m| w.len() == m.len()))
                        .ok_or_else(|| {
                            error(&field_path, "expected one whole number per team member")
                        })?;
                    snapshot.weights.insert(name.clone(), list);
                }
                other => return Err(unknown_key(&team_path, other, &["last", "weights"])),
            }
        }
    }
    Ok(())
}
