//! Generates large, realistic policies for benchmarks: agents, teams, enums, maps, schedules
//! and `rules` rules mixing digit, enum, prefix, range and schedule tests.

use std::fmt::Write;

pub fn policy(rules: usize) -> String {
    let agents = (rules / 20).clamp(8, 500);
    let teams = (agents / 4).max(2);
    let mut s = String::with_capacity(rules * 80);
    s.push_str("policy \"generated\"\ntimezone \"Asia/Kolkata\"\n\n");
    s.push_str("enum Tier { t0, t1, t2, t3, t4, t5, t6, t7, t8, t9 }\n");
    s.push_str("enum Severity { low, normal, high, critical }\n");
    s.push_str("source crm http \"http://127.0.0.1:9000/c?phone={call.from}\" { timeout 800ms cache 5m }\n");
    s.push_str("facts caller from crm {\n  tier: Tier\n  language: string\n  spend: number\n  severity: Severity\n  owner: agent\n  overdue: bool\n}\n");
    for a in 0..agents {
        let _ = writeln!(
            s,
            "agent a{a} \"+9198{a:08}\" skills [tech: {}, billing: {}] languages [en, {}] weight {}",
            a % 4,
            (a + 1) % 3,
            ["hi", "kn", "ta", "es"][a % 4],
            1 + a % 3
        );
    }
    let strategies = routec::vocabulary::Strategy::ALL.map(|(name, _)| name);
    for t in 0..teams {
        let members: Vec<String> = (0..4)
            .map(|i| format!("a{}", (t * 4 + i) % agents))
            .collect();
        let _ = writeln!(
            s,
            "team T{t} [{}] strategy {}",
            members.join(", "),
            strategies[t % strategies.len()]
        );
    }
    s.push_str("map region by prefix(call.from) {\n");
    for p in 0..100 {
        let _ = writeln!(s, "  \"+91{}\" => \"city{p}\"", 100 + p);
    }
    s.push_str("}\n");
    s.push_str(
        "schedule open { mon-fri 09:00-18:00  sat 10:00-14:00  closed 2026-01-26, 2026-08-15 }\n",
    );
    s.push_str("schedule night { mon-sun 22:00-06:00 }\n\n");
    for r in 0..rules {
        let team = format!("T{}", r % teams);
        let condition = match r % 8 {
            0 => format!("call.digits == \"{r}\""),
            1 => format!(
                "caller.tier == t{} and call.digits == \"{}\"",
                r % 10,
                r / 8
            ),
            2 => format!("region == \"city{}\" and caller.severity >= high", r % 100),
            3 => format!(
                "caller.spend >= {} and caller.spend < {}",
                r * 10,
                r * 10 + 10
            ),
            4 => format!("call.from starts_with \"+91{}{}\"", 100 + r % 100, r % 10),
            5 => format!("call.digits in [\"{r}\", \"{}\"] or caller.overdue", r + 1),
            6 => format!("not open and caller.language == \"l{r}\""),
            _ => format!("caller.owner exists and call.custom == \"c{r}\""),
        };
        let target = match r % 5 {
            0 => format!("team {team} or queue q{r} priority {}", r % 10),
            1 => format!("agent caller.owner or team {team}"),
            2 => format!("agents where skill tech >= 2 and speaks \"hi\" or team {team}"),
            3 => format!("flow \"f{r}\""),
            _ => format!("team {team}"),
        };
        let _ = writeln!(s, "rule r{r}: when {condition} -> {target}");
    }
    s.push_str("otherwise -> team T0 or queue general priority 9\n");
    s
}
