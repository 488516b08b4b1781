//! Facts for one call: typed values per facts group, as sources produce them and eval reads them.

use std::sync::Arc;

use crate::call::PhoneValue;
use crate::check::model::{CheckedPolicy, EnumDef, FactsGroup, FactsId, SourceId, Type};
use crate::degraded::Degraded;
use crate::phone::Country;

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

/// One facts group's values, in field order; shared, so a cached answer is not copied.
pub type GroupValues = Arc<[Option<FactValue>]>;

/// The facts of one call: for each facts group, its field values, or `None` when the group
/// was not looked up or the caller is unknown (every fact of it missing).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    /// Inline for the few groups a policy has: a decision allocates nothing for them.
    pub groups: smallvec::SmallVec<[Option<GroupValues>; 4]>,
    /// Why facts are missing that should not be (`source crm: timeout`).
    pub degraded: Vec<Degraded>,
}

impl Facts {
    /// No facts at all: every group missing.
    pub fn none(policy: &CheckedPolicy) -> Facts {
        Facts {
            groups: smallvec::smallvec![None; policy.facts.len()],
            degraded: Vec::new(),
        }
    }

    #[inline]
    pub fn get(&self, group: FactsId, field: usize) -> Option<&FactValue> {
        self.groups
            .get(group.index())?
            .as_ref()?
            .get(field)?
            .as_ref()
    }

    /// Sets a group from a JSON object keyed by field name (dotted names read nested keys).
    /// A value of the wrong type leaves that fact missing and adds a `degraded` reason.
    pub fn set_group_from_json(
        &mut self,
        policy: &CheckedPolicy,
        group: FactsId,
        object: &serde_json::Map<String, serde_json::Value>,
        origin: &str,
    ) {
        let (values, wrong) = read_group(
            &policy.enums,
            policy.country,
            &policy.facts[group],
            object,
            origin,
        );
        self.degraded.extend(wrong);
        self.groups[group.index()] = Some(values);
    }
}

/// Reads one group from a JSON object: its values, and a reason for each value of the wrong
/// type (left missing).
fn read_group(
    enums: &[EnumDef],
    country: &Country,
    def: &FactsGroup,
    object: &serde_json::Map<String, serde_json::Value>,
    origin: &str,
) -> (GroupValues, Vec<Degraded>) {
    let mut wrong = Vec::new();
    let values = def
        .fields
        .iter()
        .map(|field| match lookup(object, &field.name) {
            None | Some(serde_json::Value::Null) => None,
            Some(v) => {
                let read = read_typed(enums, country, field.ty, v);
                if read.is_none() {
                    wrong.push(Degraded::WrongType {
                        origin: origin.to_string(),
                        field: format!("{}.{}", def.name, field.name),
                        expected: noun(enums, field.ty),
                    });
                }
                read
            }
        })
        .collect();
    (values, wrong)
}

/// Reads the JSON answers of one source into the typed facts of every group it feeds, once,
/// when the answer arrives: cached answers are then shared as they are.
#[derive(Debug, Clone)]
pub struct FactReader {
    origin: String,
    enums: Vec<EnumDef>,
    country: &'static Country,
    groups: Vec<(FactsId, FactsGroup)>,
}

/// The facts one answer gives, by group, each with why some of its values are missing.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadFacts {
    pub groups: Vec<(FactsId, GroupValues, Vec<Degraded>)>,
}

impl FactReader {
    pub fn new(policy: &CheckedPolicy, source: SourceId) -> FactReader {
        FactReader {
            origin: format!("source {}", policy.sources[source].name),
            enums: policy.enums.clone(),
            country: policy.country,
            groups: policy
                .facts
                .iter()
                .zip(FactsId::all(policy.facts.len()))
                .filter(|(g, _)| g.source == source)
                .map(|(g, id)| (id, g.clone()))
                .collect(),
        }
    }

    pub fn read(&self, object: &serde_json::Map<String, serde_json::Value>) -> ReadFacts {
        let groups = self
            .groups
            .iter()
            .map(|(id, def)| {
                let (values, wrong) =
                    read_group(&self.enums, self.country, def, object, &self.origin);
                (*id, values, wrong)
            })
            .collect();
        ReadFacts { groups }
    }
}

/// Reads `a.b.c` as nested objects (`{"a": {"b": {"c": …}}}`), as the language says; a flat
/// key `"a.b.c"` only where there is no such nesting (a SQL column or CSV header aliased so).
pub fn lookup<'a>(
    object: &'a serde_json::Map<String, serde_json::Value>,
    name: &str,
) -> Option<&'a serde_json::Value> {
    nested(object, name).or_else(|| object.get(name))
}

fn nested<'a>(
    object: &'a serde_json::Map<String, serde_json::Value>,
    name: &str,
) -> Option<&'a serde_json::Value> {
    let Some((head, rest)) = name.split_once('.') else {
        return object.get(name);
    };
    match object.get(head)? {
        serde_json::Value::Object(inner) => nested(inner, rest),
        _ => None,
    }
}

pub fn type_noun(policy: &CheckedPolicy, ty: Type) -> String {
    noun(&policy.enums, ty)
}

fn noun(enums: &[EnumDef], ty: Type) -> String {
    match ty {
        Type::String => "string".into(),
        Type::Number => "number".into(),
        Type::Bool => "bool".into(),
        Type::Phone => "phone number".into(),
        Type::Agent => "agent".into(),
        Type::Enum(e) => format!("`{}`", enums[e].name),
    }
}

/// Reads a JSON value as a value of `ty`; `None` when it is not one. Text is accepted for
/// numbers and bools too (`"42"`, `"true"`), since CSV files and many CRMs send only text.
pub fn read_value(policy: &CheckedPolicy, ty: Type, v: &serde_json::Value) -> Option<FactValue> {
    read_typed(&policy.enums, policy.country, ty, v)
}

fn read_typed(
    enums: &[EnumDef],
    country: &Country,
    ty: Type,
    v: &serde_json::Value,
) -> Option<FactValue> {
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
        (Type::Enum(e), J::String(s)) => enums[e]
            .variants
            .iter()
            .position(|v| v == s.trim())
            .map(|i| FactValue::Enum(i as u32)),
        (Type::Phone, J::String(s)) => Some(FactValue::Phone(PhoneValue::read(s, country))),
        (Type::Phone, J::Number(n)) => {
            Some(FactValue::Phone(PhoneValue::read(&n.to_string(), country)))
        }
        (Type::Agent, J::String(s)) if !s.trim().is_empty() => {
            Some(FactValue::Agent(s.trim().to_string()))
        }
        (Type::Agent, J::Number(n)) => Some(FactValue::Agent(n.to_string())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::lookup;
    use serde_json::json;

    #[test]
    fn a_dotted_name_reads_the_nested_key_before_a_flat_one() {
        let both = json!({"ticket.severity": "flat", "ticket": {"severity": "nested"}});
        let both = both.as_object().unwrap();
        assert_eq!(lookup(both, "ticket.severity"), Some(&json!("nested")));
        // A flat key only where nothing is nested: a SQL column aliased `"ticket.severity"`.
        let flat = json!({"ticket.severity": "flat"});
        assert_eq!(
            lookup(flat.as_object().unwrap(), "ticket.severity"),
            Some(&json!("flat"))
        );
        let deep = json!({"a": {"b": {"c": 1}}, "b": 2});
        assert_eq!(lookup(deep.as_object().unwrap(), "a.b.c"), Some(&json!(1)));
        assert_eq!(lookup(deep.as_object().unwrap(), "a.x"), None);
    }
}
