//! The language's meaning, case by case, as LANGUAGE.md §2–§4 states it.

use routec::policy_files::SourceFiles;
use serde_json::{Value, json};

const AGENTS: &str = r#"
agent asha "+919800000001" skills [tech: 3] languages [en, hi]
agent ravi "+919800000002" skills [tech: 1] languages [en, es] weight 2
agent juan "+919800000008" skills [billing: 2] languages [es]
"#;

/// Decides `case` (the §6 input shape) with a policy of `rules` after a standard preamble.
fn decide(rules: &str, case: Value) -> Value {
    let text = format!(
        "enum Tier {{ standard, premium, enterprise }}\nsource s csv \"x.csv\" key phone\n\
         facts caller from s {{ tier: Tier  lang: string  owner: agent  spend: number  vip: bool }}\n{AGENTS}{rules}"
    );
    let files = SourceFiles::single("semantics.route", text.clone());
    let (policy, diagnostics) = routec::load(&files);
    let policy = policy.unwrap_or_else(|| panic!("{:#?}\n{text}", diagnostics.errors));
    let case = routec::case::read(&policy.checked, &case, "", &[]).expect("case");
    let at = case
        .at
        .unwrap_or_else(|| "2026-11-23T10:15:00+05:30".parse().unwrap());
    let tree = routec::eval::eval_explained(&policy, &case.call, &case.facts, at, &case.agents);
    tree.to_json(&policy)
}

fn rule(d: &Value) -> &str {
    d["rule"].as_str().unwrap()
}

#[test]
fn a_comparison_with_a_missing_value_is_unknown_and_does_not_fire() {
    let rules = "rule a: when not (caller.tier == enterprise) -> queue a\notherwise -> queue z\n";
    assert_eq!(
        rule(&decide(rules, json!({"facts": {"caller": {}}}))),
        "otherwise"
    );
    assert_eq!(rule(&decide(rules, json!({}))), "otherwise");
    assert_eq!(
        rule(&decide(
            rules,
            json!({"facts": {"caller": {"tier": "premium"}}})
        )),
        "a"
    );
}

#[test]
fn and_or_follow_three_valued_logic() {
    let or = "rule a: when caller.tier == enterprise or call.digits == \"1\" -> queue a\notherwise -> queue z\n";
    assert_eq!(
        rule(&decide(or, json!({"call": {"digits": "1"}}))),
        "a",
        "unknown or true"
    );
    assert_eq!(
        rule(&decide(or, json!({"call": {"digits": "2"}}))),
        "otherwise",
        "unknown or false"
    );
    let and = "rule a: when not (caller.tier == enterprise and call.digits == \"1\") -> queue a\notherwise -> queue z\n";
    assert_eq!(
        rule(&decide(and, json!({"call": {"digits": "2"}}))),
        "a",
        "not (unknown and false)"
    );
    assert_eq!(
        rule(&decide(and, json!({"call": {"digits": "1"}}))),
        "otherwise",
        "not (unknown and true)"
    );
}

#[test]
fn exists_is_true_iff_present() {
    let rules = "rule a: when caller.owner exists -> queue a\nrule b: when not caller.owner exists -> queue b\notherwise -> queue z\n";
    assert_eq!(
        rule(&decide(
            rules,
            json!({"facts": {"caller": {"owner": "asha"}}})
        )),
        "a"
    );
    assert_eq!(rule(&decide(rules, json!({}))), "b");
}

#[test]
fn digits_with_and_without_quotes_are_the_same() {
    let rules = "rule a: when call.digits == \"1\" -> queue a\notherwise -> queue z\n";
    for digits in ["1", "\"1\"", "%221%22"] {
        let expected = if digits.starts_with('%') {
            "otherwise"
        } else {
            "a"
        };
        assert_eq!(
            rule(&decide(rules, json!({"call": {"digits": digits}}))),
            expected,
            "{digits}"
        );
    }
}

#[test]
fn enums_are_ordered_by_declaration() {
    let rules = "rule a: when caller.tier >= premium -> queue a\notherwise -> queue z\n";
    for (tier, expected) in [
        ("standard", "otherwise"),
        ("premium", "a"),
        ("enterprise", "a"),
    ] {
        assert_eq!(
            rule(&decide(rules, json!({"facts": {"caller": {"tier": tier}}}))),
            expected
        );
    }
    let in_list =
        "rule a: when caller.tier in [premium, enterprise] -> queue a\notherwise -> queue z\n";
    assert_eq!(
        rule(&decide(
            in_list,
            json!({"facts": {"caller": {"tier": "standard"}}})
        )),
        "otherwise"
    );
}

#[test]
fn phone_literals_and_calls_compare_in_e164() {
    let rules = "rule a: when call.from == \"09845012345\" -> queue a\nrule b: when call.from starts_with \"080\" -> queue b\notherwise -> queue z\n";
    for from in [
        "+919845012345",
        "919845012345",
        "09845012345",
        "98450 12345",
    ] {
        assert_eq!(
            rule(&decide(rules, json!({"call": {"From": from}}))),
            "a",
            "{from}"
        );
    }
    assert_eq!(
        rule(&decide(rules, json!({"call": {"CallFrom": "08041234567"}}))),
        "b"
    );
    // Something that is no phone number stays raw and matches no prefix.
    assert_eq!(
        rule(&decide(rules, json!({"call": {"From": "sip:08041234567"}}))),
        "otherwise"
    );
}

#[test]
fn maps_match_the_longest_prefix_and_are_missing_otherwise() {
    let rules = r#"
map region by prefix(call.from) { "+9180" => "bangalore"  "+91804" => "bangalore-north" }
rule north: when region == "bangalore-north" -> queue n
rule blr: when region == "bangalore" -> queue b
rule none: when not region exists -> queue x
otherwise -> queue z
"#;
    assert_eq!(
        rule(&decide(rules, json!({"call": {"From": "08041234567"}}))),
        "north"
    );
    assert_eq!(
        rule(&decide(rules, json!({"call": {"From": "08021234567"}}))),
        "blr"
    );
    assert_eq!(
        rule(&decide(rules, json!({"call": {"From": "09845012345"}}))),
        "none"
    );
    assert_eq!(rule(&decide(rules, json!({}))), "none");
}

#[test]
fn schedules_include_their_start_and_exclude_their_end() {
    let rules = r#"
schedule open { mon-fri 09:00-18:00  closed 2026-12-25 }
schedule night { mon-sun 22:00-06:00 }
rule o: when open -> queue o
rule n: when night -> queue n
otherwise -> queue z
"#;
    let at = |t: &str| json!({"at": t});
    assert_eq!(rule(&decide(rules, at("2026-11-23T09:00:00+05:30"))), "o");
    assert_eq!(
        rule(&decide(rules, at("2026-11-23T18:00:00+05:30"))),
        "otherwise"
    );
    assert_eq!(rule(&decide(rules, at("2026-11-23T23:59:00+05:30"))), "n");
    assert_eq!(rule(&decide(rules, at("2026-11-24T05:59:00+05:30"))), "n");
    assert_eq!(
        rule(&decide(rules, at("2026-11-24T06:00:00+05:30"))),
        "otherwise"
    );
    assert_eq!(
        rule(&decide(rules, at("2026-12-25T10:00:00+05:30"))),
        "otherwise",
        "closed day"
    );
    // Exotel's own format, read in the policy's time zone.
    assert_eq!(rule(&decide(rules, at("2026-11-23 09:00:00"))), "o");
}

#[test]
fn unavailable_alternatives_fall_through_to_otherwise() {
    let rules = "team T [asha, ravi]\nrule a: when call.digits == \"1\" -> agent asha or team T\notherwise -> agent juan or queue z\n";
    let d = decide(
        rules,
        json!({"call": {"digits": "1"}, "agents": {"asha": {"status": "busy"}}}),
    );
    assert_eq!(rule(&d), "a");
    assert_eq!(d["agents"], json!(["ravi"]));
    let d = decide(
        rules,
        json!({"call": {"digits": "1"}, "agents": {"asha": {"status": "busy"}, "ravi": {"status": "offline"}}}),
    );
    assert_eq!(rule(&d), "otherwise");
    assert_eq!(d["agents"], json!(["juan"]));
    let trace = d["trace"].as_array().unwrap();
    assert_eq!(trace[0], json!({"rule": "a", "result": "unavailable"}));
    assert_eq!(trace[1], json!({"rule": "otherwise", "result": "fired"}));
}

#[test]
fn with_nobody_available_the_last_team_of_otherwise_is_offered() {
    let rules = "team A [asha]\nteam B [ravi, juan, asha]\notherwise -> team A or team B\n";
    let busy = json!({"agents": {"asha": {"status": "busy"}, "ravi": {"status": "busy"}, "juan": {"status": "offline"}}});
    let d = decide(rules, busy);
    assert_eq!(rule(&d), "otherwise");
    assert_eq!(d["team"], "B");
    assert_eq!(d["agents"], json!(["ravi", "juan", "asha"]));
    assert_eq!(d["degraded"], json!(["no_available_agent"]));
}

#[test]
fn agent_facts_resolve_by_name_then_number_else_dial() {
    let rules = "rule a: when caller.owner exists -> agent caller.owner\notherwise -> queue z\n";
    let owner = |o: &str| json!({"facts": {"caller": {"owner": o}}});
    assert_eq!(decide(rules, owner("ravi"))["agents"], json!(["ravi"]));
    assert_eq!(
        decide(rules, owner("09800000008"))["agents"],
        json!(["juan"])
    );
    let d = decide(rules, owner("+919812345678"));
    assert_eq!(
        (rule(&d), d["numbers"].clone()),
        ("a", json!(["+919812345678"]))
    );
    // Neither an agent nor a number: unavailable.
    assert_eq!(rule(&decide(rules, owner("nobody"))), "otherwise");
}

#[test]
fn agents_where_splits_or_at_target_keywords() {
    let rules = "team T [juan]\nrule a: when true -> agents where speaks \"es\" and skill tech or skill billing >= 2 using sequential or team T\notherwise -> queue z\n";
    let d = decide(rules, json!({}));
    assert_eq!(d["agents"], json!(["ravi", "juan"]));
    let d = decide(
        rules,
        json!({"agents": {"ravi": {"status": "busy"}, "juan": {"status": "busy"}}}),
    );
    assert_eq!(rule(&d), "otherwise");
}

#[test]
fn ring_cuts_the_list_and_ring_all_rings_in_parallel() {
    let rules = "team T [asha, ravi, juan] strategy ring_all ring 2\notherwise -> team T\n";
    let d = decide(rules, json!({}));
    assert_eq!(d["agents"], json!(["asha", "ravi"]));
    assert_eq!(d["parallel_ringing"], true);
}

#[test]
fn queue_flow_and_rule_names_may_be_keywords() {
    let rules = "rule closed: when call.digits == \"9\" -> queue closed priority 2\nrule team: when call.digits == \"8\" -> flow \"team\"\notherwise -> queue agent\n";
    let d = decide(rules, json!({"call": {"digits": "9"}}));
    assert_eq!(
        (rule(&d), d["queue"].clone(), d["priority"].clone()),
        ("closed", json!("closed"), json!(2))
    );
    let d = decide(rules, json!({"call": {"digits": "8"}}));
    assert_eq!(
        (d["flow"].clone(), d["numbers"].clone()),
        (json!("team"), json!([]))
    );
}

#[test]
fn round_robin_continues_from_the_teams_cursor() {
    let rules = "team RR [asha, ravi, juan] strategy round_robin\notherwise -> team RR\n";
    let d = decide(rules, json!({"teams": {"RR": {"last": "ravi"}}}));
    assert_eq!(d["agents"], json!(["juan", "asha", "ravi"]));
}
