//! The compiled policy (dispatch index) decides exactly as the reference interpreter (a plain
//! first-match walk) on random policies, calls, facts and agent states: 100,000 cases a run.

use proptest::prelude::*;
use routec::case::Case;
use routec::check::model::CheckedPolicy;
use routec::eval::{AgentSnapshot, AgentState, Status};
use routec::eval::{Decision, eval, eval_reference};
use routec::policy_files::SourceFiles;

const PREAMBLE: &str = r#"
enum Tier { t0, t1, t2, t3 }
source s csv "x.csv" key phone
facts caller from s {
  tier: Tier
  lang: string
  spend: number
  vip: bool
  owner: agent
  phone2: phone
}
agent a0 "+919800000000" skills [tech: 1, billing: 2] languages [en, hi]
agent a1 "+919800000001" skills [tech: 3]             languages [en]       weight 3
agent a2 "+919800000002" skills [billing: 1]          languages [hi, ta]
agent a3 "+919800000003" skills [tech: 2, api: 1]     languages [en, es]   weight 2
agent a4 "+919800000004"                              languages [es]
agent a5 "+919800000005" skills [api: 3]              languages [en, ta]
team T0 [a0, a1, a2] strategy round_robin
team T1 [a2, a3, a1] strategy weighted
team T2 [a4, a5] strategy least_calls
team T3 [a1, a4, a0] strategy longest_idle ring 2
team T4 [a0, a1, a2, a3, a4, a5] strategy random ring 3
team T5 [a3, a5] strategy ring_all
team T6 [a5] strategy sequential
map region by prefix(call.from) { "+9180" => "blr"  "+91804" => "blr-n"  "+9122" => "bom" }
schedule open { mon-fri 09:00-18:00  sat 10:00-14:00  closed 2026-11-25 }
schedule night { mon-sun 22:00-06:00 }
"#;

/// A small deterministic generator, so a failing seed reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

fn atom(r: &mut Rng) -> String {
    match r.below(20) {
        0 => format!("call.digits == \"{}\"", 1 + r.below(4)),
        1 => format!(
            "call.digits in [\"{}\", \"{}\"]",
            1 + r.below(4),
            1 + r.below(4)
        ),
        2 => format!("caller.tier == t{}", r.below(4)),
        3 => format!(
            "caller.tier {} t{}",
            r.pick(&[">=", "<", ">", "<=", "!="]),
            r.below(4)
        ),
        4 => format!("caller.lang == \"{}\"", r.pick(&["en", "hi", "es"])),
        5 => format!(
            "caller.spend {} {}",
            r.pick(&[">", ">=", "<", "<=", "=="]),
            r.below(5) * 10
        ),
        6 => format!(
            "caller.spend >= {} and caller.spend < {}",
            r.below(3) * 10,
            10 + r.below(3) * 10
        ),
        7 => "caller.vip".into(),
        8 => "not caller.vip".into(),
        9 => format!(
            "caller.owner {}",
            r.pick(&["exists", "== a0", "== a3", "in [a1, a2]"])
        ),
        10 => format!("region == \"{}\"", r.pick(&["blr", "blr-n", "bom", "del"])),
        11 => format!(
            "call.from starts_with \"{}\"",
            r.pick(&["+9180", "+91804", "+9122", "080"])
        ),
        12 => r.pick(&["open", "night", "not open"]).into(),
        13 => format!("now.hour >= {}", r.below(24)),
        14 => format!(
            "call.to == \"{}\"",
            r.pick(&["+918000000000", "08000000001"])
        ),
        15 => "caller.phone2 == call.from".into(),
        16 => format!("call.digits {}", r.pick(&["exists", "!= \"1\""])),
        17 => format!("region {}", r.pick(&["exists", "!= \"blr\""])),
        18 => format!("caller.lang in [\"en\", \"{}\"]", r.pick(&["hi", "ta"])),
        _ => r.pick(&["true", "false", "now.weekday == \"sat\""]).into(),
    }
}

fn condition(r: &mut Rng, depth: usize) -> String {
    if depth == 0 || r.below(3) == 0 {
        return atom(r);
    }
    match r.below(4) {
        0 => format!("not ({})", condition(r, depth - 1)),
        1 => format!(
            "({}) or ({})",
            condition(r, depth - 1),
            condition(r, depth - 1)
        ),
        _ => format!(
            "({}) and ({})",
            condition(r, depth - 1),
            condition(r, depth - 1)
        ),
    }
}

fn target(r: &mut Rng) -> String {
    match r.below(9) {
        0..=2 => format!("team T{}", r.below(7)),
        3 => format!("agent a{}", r.below(6)),
        4 => "agent caller.owner".into(),
        5 => format!(
            "agents where {} using {} ring {}",
            r.pick(&[
                "speaks \"en\"",
                "skill tech >= 2",
                "speaks caller.lang",
                "in team T1 and not speaks \"hi\"",
                "skill api or speaks \"es\""
            ]),
            r.pick(&routec::vocabulary::Strategy::ALL.map(|(name, _)| name)),
            1 + r.below(3)
        ),
        6 => format!("queue q{} priority {}", r.below(3), r.below(9)),
        7 => format!("flow \"f{}\"", r.below(3)),
        _ => "number \"+918000000009\"".into(),
    }
}

fn targets(r: &mut Rng) -> String {
    let n = 1 + r.below(3);
    (0..n).map(|_| target(r)).collect::<Vec<_>>().join(" or ")
}

fn policy_text(r: &mut Rng, rules: usize) -> String {
    let mut text = PREAMBLE.to_string();
    for i in 0..rules {
        text.push_str(&format!(
            "rule r{i}: when {} -> {}\n",
            condition(r, 3),
            targets(r)
        ));
    }
    text.push_str(&format!("otherwise -> {}\n", targets(r)));
    text
}

fn random_case(r: &mut Rng, policy: &CheckedPolicy) -> Case {
    let mut call = serde_json::Map::new();
    call.insert("CallSid".into(), format!("sid{}", r.next() % 1000).into());
    if r.below(8) != 0 {
        let from = r.pick(&[
            "08041234567",
            "+918049876543",
            "02212345678",
            "09845012345",
            "sip:desk@pbx",
            "+919800000003",
        ]);
        call.insert("CallFrom".into(), from.into());
    }
    if r.below(3) != 0 {
        call.insert(
            "CallTo".into(),
            r.pick(&["08000000000", "08000000001"]).into(),
        );
    }
    if r.below(4) != 0 {
        call.insert("digits".into(), format!("\"{}\"", 1 + r.below(5)).into());
    }
    let mut facts = serde_json::Map::new();
    if r.below(4) != 0 {
        let mut caller = serde_json::Map::new();
        let mut maybe = |r: &mut Rng, key: &str, v: serde_json::Value| {
            if r.below(4) != 0 {
                caller.insert(key.into(), v);
            }
        };
        let tier = format!("t{}", r.below(4));
        maybe(r, "tier", tier.into());
        let lang = r.pick(&["en", "hi", "es", "fr"]);
        maybe(r, "lang", lang.into());
        let spend = (r.below(50)) as f64;
        maybe(r, "spend", spend.into());
        let vip = r.below(2) == 0;
        maybe(r, "vip", vip.into());
        let owner = r.pick(&[
            "a0",
            "a3",
            "+919800000002",
            "09800000001",
            "+919999999999",
            "nobody",
        ]);
        maybe(r, "owner", owner.into());
        let phone2 = r.pick(&["08041234567", "09845012345"]);
        maybe(r, "phone2", phone2.into());
        facts.insert("caller".into(), caller.into());
    }
    // Any time in a fortnight around a holiday, in UTC.
    let at =
        jiff::Timestamp::from_second(1_763_856_000 + (r.below(14 * 24 * 60) as i64) * 60).unwrap();
    let doc = serde_json::json!({ "call": call, "facts": facts, "at": at.to_string() });
    let mut case = routec::case::read(policy, &doc, "", &[]).expect("generated case reads");
    let statuses = [
        None,
        Some(Status::Available),
        Some(Status::Busy),
        Some(Status::Offline),
        Some(Status::Break),
    ];
    case.agents = AgentSnapshot {
        agents: (0..policy.agents.len())
            .map(|_| AgentState {
                status: statuses[r.below(5)],
                calls_today: r.below(4) as u32,
                last_call_ended: (r.below(3) != 0).then(|| {
                    jiff::Timestamp::from_second(1_763_856_000 + r.below(4) as i64 * 600).unwrap()
                }),
                reserved: r.below(10) == 0,
            })
            .collect(),
        ..AgentSnapshot::default()
    };
    for team in &policy.teams {
        if r.below(2) == 0 {
            let member = team.members[r.below(team.members.len())];
            case.agents.cursors.insert(team.name.clone(), member);
        }
    }
    case
}

/// A decision without its trace: the index tries fewer rules, by design.
fn outcome(d: &Decision) -> Decision {
    Decision {
        trace: Default::default(),
        ..d.clone()
    }
}

/// Policies of up to 25 rules: eval takes the rules to try from a bit set.
fn run_seed(seed: u64, calls: usize) {
    let mut r = Rng(seed);
    let rules = 1 + r.below(25);
    run_policy(seed, &mut r, rules, calls);
}

fn run_policy(seed: u64, r: &mut Rng, rules: usize, calls: usize) {
    let text = policy_text(r, rules);
    let files = SourceFiles::single("random.route", text.clone());
    let (policy, diagnostics) = routec::load(&files);
    let Some(policy) = policy else {
        panic!(
            "seed {seed}: generated policy does not check: {:#?}\n{text}",
            diagnostics.errors
        );
    };
    for i in 0..calls {
        let case = random_case(r, &policy.checked);
        let at = case.at.unwrap();
        let tree = eval(&policy, &case.call, &case.facts, at, &case.agents);
        let reference = eval_reference(&policy, &case.call, &case.facts, at, &case.agents);
        assert_eq!(
            outcome(&tree),
            outcome(&reference),
            "seed {seed}, call {i}: index and reference disagree\n{case:#?}\n{text}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn compiled_index_decides_as_the_reference(seed in any::<u64>()) {
        run_seed(seed, 100);
    }
}

#[test]
fn fixed_seeds_agree() {
    for seed in 0..20 {
        run_seed(seed, 200);
    }
}

/// Policies past 128 rules: eval merges the index's sorted rule lists instead of a bit set.
#[test]
fn large_policies_agree() {
    for seed in 0..10 {
        let mut r = Rng(seed);
        let rules = 129 + r.below(200);
        run_policy(seed, &mut r, rules, 200);
    }
}
