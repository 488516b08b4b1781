//! Facts for one call: typed values per facts group, as sources produce them and eval reads them.

use crate::check::model::{CheckedPolicy, FactsId, Type};
use crate::exotel::PhoneValue;

/// One looked-up value, of its field's declared type.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(untagged)]
pub enum FactValue {
    Str(String),
    Num(f64),
    Bool(bool),
    /// Variant index of the field's enum.
    Enum(u32),
    Phone(PhoneValue),
    /// An agent's name or number, or a number to dial, as the data gave it.
    Agent(String),
}

/// The facts of one call: for each facts group, its field values, or `None` when the group
/// was not looked up or the caller is unknown (every fact of it missing).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    pub groups: Vec<Option<Vec<Option<FactValue>>>>,
    /// Why facts are missing that should not be (`source crm: timeout`).
    pub degraded: Vec<String>,
}

impl Facts {
    /// No facts at all: every group missing.
    pub fn none(policy: &CheckedPolicy) -> Facts {
        Facts {
            groups: vec![None; policy.facts.len()],
            degraded: Vec::new(),
        }
    }

    pub fn get(&self, group: FactsId, field: usize) -> Option<&FactValue> {
        self.groups.get(group)?.as_ref()?.get(field)?.as_ref()
    }

    /// Sets a group from a JSON object keyed by field name (dotted names read nested keys).
    /// A value of the wrong type leaves that fact missing and adds a `degraded` reason.
    pub fn set_group_from_json(
        &mut self,
        policy: &CheckedPolicy,
        group: FactsId,
        object: &serde_json::Map<String, serde_json::Value>,
        origin: impl Fn() -> String,
    ) {
        let def = &policy.facts[group];
        let mut values = Vec::with_capacity(def.fields.len());
        for field in &def.fields {
            let raw = lookup(object, &field.name);
            let value = match raw {
                None | Some(serde_json::Value::Null) => None,
                Some(v) => {
                    let read = read_value(policy, field.ty, v);
                    if read.is_none() {
                        self.degraded.push(format!(
                            "{}: `{}.{}` is not a {}",
                            origin(),
                            def.name,
                            field.name,
                            type_noun(policy, field.ty)
                        ));
                    }
                    read
                }
            };
            values.push(value);
        }
        self.groups[group] = Some(values);
    }
}

/// Reads `a.b.c`: first as a key of its own, then as nested objects.
fn lookup<'a>(
    object: &'a serde_json::Map<String, serde_json::Value>,
    name: &str,
) -> Option<&'a serde_json::Value> {
    if let Some(v) = object.get(name) {
        return Some(v);
    }
    let (head, rest) = name.split_once('.')?;
    match object.get(head)? {
        serde_json::Value::Object(inner) => lookup(inner, rest),
        _ => None,
    }
}

pub fn type_noun(policy: &CheckedPolicy, ty: Type) -> String {
    match ty {
        Type::String => "string".into(),
        Type::Number => "number".into(),
        Type::Bool => "bool".into(),
        Type::Phone => "phone number".into(),
        Type::Agent => "agent".into(),
        Type::Enum(e) => format!("`{}`", policy.enums[e].name),
    }
}

/// Reads a JSON value as a value of `ty`; `None` when it is not one. Text is accepted for
/// numbers and bools too (`"42"`, `"true"`), since CSV files and many CRMs send only text.
pub fn read_value(policy: &CheckedPolicy, ty: Type, v: &serde_json::Value) -> Option<FactValue> {
    use serde_json::Value as J;
    match (ty, v) {
        (Type::String, J::String(s)) => Some(FactValue::Str(s.clone())),
        (Type::String, J::Number(n)) => Some(FactValue::Str(n.to_string())),
        (Type::Number, J::Number(n)) => n.as_f64().map(FactValue::Num),
        (Type::Number, J::String(s)) => s
            .trim()
            .replace('_', "")
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(FactValue::Num),
        (Type::Bool, J::Bool(b)) => Some(FactValue::Bool(*b)),
        (Type::Bool, J::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" => Some(FactValue::Bool(true)),
            "false" | "no" | "0" => Some(FactValue::Bool(false)),
            _ => None,
        },
        (Type::Enum(e), J::String(s)) => policy.enums[e]
            .variants
            .iter()
            .position(|v| v == s.trim())
            .map(|i| FactValue::Enum(i as u32)),
        (Type::Phone, J::String(s)) => Some(FactValue::Phone(PhoneValue::read(s, policy.country))),
        (Type::Phone, J::Number(n)) => Some(FactValue::Phone(PhoneValue::read(
            &n.to_string(),
            policy.country,
        ))),
        (Type::Agent, J::String(s)) if !s.trim().is_empty() => {
            Some(FactValue::Agent(s.trim().to_string()))
        }
        (Type::Agent, J::Number(n)) => Some(FactValue::Agent(n.to_string())),
        _ => None,
    }
}
