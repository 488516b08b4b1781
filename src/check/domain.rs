//! The values a field can take: a comparison with one it never takes is an error
//! (`now.weekday == "Sunday"`, `now.hour == 24`, `call.direction == "inbound"`), and a test
//! that decides nothing is a warning (`in []`, `starts_with ""`).

use super::model::{CallField, CompareOp, Literal, NowField, Value};
use crate::diagnostic::Kind;

pub use crate::vocabulary::WEEKDAYS;

/// What Exotel sends as `Direction`: `incoming` to an ExoPhone, `outbound-dial` and
/// `outbound-api` for calls it places.
pub const DIRECTIONS: [&str; 3] = ["incoming", "outbound-dial", "outbound-api"];

/// The error for `value OP literal` when `value` never takes a value that makes the
/// comparison mean anything; `op` as written with the value on the left.
pub fn impossible(value: &Value, op: CompareOp, literal: &Literal) -> Option<Kind> {
    // Only equality and order say which values are meant; `contains "x"` may be anything.
    let exact = matches!(op, CompareOp::Eq | CompareOp::Ne);
    match (value, literal) {
        (Value::Now(NowField::Weekday), Literal::String(s)) if exact => one_of(value, s, &WEEKDAYS),
        (Value::Call(CallField::Direction), Literal::String(s)) if exact => {
            one_of(value, s, &DIRECTIONS)
        }
        (Value::Call(CallField::Digits), Literal::String(s))
            if exact
                && !s
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == '*' || c == '#') =>
        {
            Some(Kind::ImpossibleValue {
                field: "call.digits".into(),
                value: s.clone(),
                expected: "keys a caller can press: `0`-`9`, `*` and `#`".into(),
            })
        }
        (Value::Now(field @ (NowField::Hour | NowField::Minute)), Literal::Number(n)) => {
            let (name, last) = match field {
                NowField::Hour => ("now.hour", 23.0),
                _ => ("now.minute", 59.0),
            };
            // `< 24` and `>= 24` are bounds, not values: one past the last is fine there.
            let top = if matches!(op, CompareOp::Lt | CompareOp::Ge) {
                last + 1.0
            } else {
                last
            };
            // `== 9.5` names no hour; `< 9.5` is still a bound.
            let fraction = exact && n.fract() != 0.0;
            (fraction || *n < 0.0 || *n > top).then(|| Kind::ImpossibleValue {
                field: name.into(),
                value: n.to_string(),
                expected: format!("a whole number from 0 to {last}"),
            })
        }
        _ => None,
    }
}

fn one_of(value: &Value, text: &str, allowed: &[&str]) -> Option<Kind> {
    if allowed.contains(&text) {
        return None;
    }
    let field = match value {
        Value::Now(_) => "now.weekday",
        _ => "call.direction",
    };
    let list: Vec<String> = allowed.iter().map(|a| format!("`{a}`")).collect();
    Some(Kind::ImpossibleValue {
        field: field.into(),
        value: text.to_string(),
        expected: format!("one of {}", list.join(", ")),
    })
}

/// The comparison with its sides swapped: `3 < now.hour` is `now.hour > 3`.
pub fn flipped(op: CompareOp) -> CompareOp {
    match op {
        CompareOp::Lt => CompareOp::Gt,
        CompareOp::Le => CompareOp::Ge,
        CompareOp::Gt => CompareOp::Lt,
        CompareOp::Ge => CompareOp::Le,
        other => other,
    }
}
