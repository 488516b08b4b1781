//! Tree building: the pest pairs of one item in; syntax nodes with absolute spans out.

use std::cell::RefCell;
use std::sync::LazyLock;

use pest::iterators::Pair;
use pest::pratt_parser::{Assoc, Op, PrattParser};

use super::ast::*;
use super::parse::Rule;
use crate::diagnostic::{Diagnostic, Kind};
use crate::policy_files::{FileId, Span};

static CONDITION_PRATT: LazyLock<PrattParser<Rule>> = LazyLock::new(|| {
    PrattParser::new()
        .op(Op::infix(Rule::kw_or, Assoc::Left))
        .op(Op::infix(Rule::kw_and, Assoc::Left))
        .op(Op::prefix(Rule::kw_not))
});

static FILTER_PRATT: LazyLock<PrattParser<Rule>> = LazyLock::new(|| {
    PrattParser::new()
        .op(Op::infix(Rule::filter_or, Assoc::Left))
        .op(Op::infix(Rule::kw_and, Assoc::Left))
        .op(Op::prefix(Rule::kw_not))
});

/// Turns the pairs of one item into syntax nodes with absolute spans.
pub(super) struct Builder {
    pub(super) file: FileId,
    /// Where the parsed slice starts in the file.
    pub(super) base: usize,
    /// Errors found while building (unknown escapes); pest already accepted the input.
    pub(super) errors: RefCell<Vec<Diagnostic>>,
}

type Pairs<'i> = std::iter::Filter<pest::iterators::Pairs<'i, Rule>, fn(&Pair<'i, Rule>) -> bool>;

fn not_punctuation(p: &Pair<'_, Rule>) -> bool {
    !super::wording::is_punctuation(p.as_rule())
}

fn inner(pair: Pair<'_, Rule>) -> Pairs<'_> {
    pair.into_inner()
        .filter(not_punctuation as fn(&Pair<'_, Rule>) -> bool)
}

impl Builder {
    /// The pair's span, ending at its last token: pest counts the whitespace and comments
    /// after a repetition as part of the rule, which would underline them too.
    fn span(&self, pair: &Pair<'_, Rule>) -> Span {
        let start = pair.as_span().start();
        let mut node = pair.clone();
        // A string's last inner pair stops before its closing quote: strings end themselves.
        while node.as_rule() != Rule::string
            && let Some(last) = node.clone().into_inner().last()
        {
            node = last;
        }
        let end = node.as_span().end();
        Span::new(self.file, self.base + start, self.base + end)
    }

    fn ident(&self, pair: Pair<'_, Rule>) -> Ident {
        match pair.as_rule() {
            // A quoted name (a dotted facts field, a queue name with spaces) counts as a name.
            Rule::string => {
                let s = self.string(pair);
                Ident {
                    name: s.value,
                    span: s.span,
                }
            }
            _ => Ident {
                name: pair.as_str().to_string(),
                span: self.span(&pair),
            },
        }
    }

    fn string(&self, pair: Pair<'_, Rule>) -> Str {
        let span = self.span(&pair);
        let raw = pair.as_str();
        let raw = &raw[1..raw.len() - 1];
        let mut value = String::with_capacity(raw.len());
        let mut chars = raw.char_indices();
        while let Some((i, c)) = chars.next() {
            if c != '\\' {
                value.push(c);
                continue;
            }
            match chars.next() {
                Some((_, '"')) => value.push('"'),
                Some((_, '\\')) => value.push('\\'),
                Some((_, 'n')) => value.push('\n'),
                Some((_, 't')) => value.push('\t'),
                Some((j, other)) => {
                    let start = span.start as usize + 1 + i;
                    let end = span.start as usize + 1 + j + other.len_utf8();
                    self.errors.borrow_mut().push(Diagnostic::new(
                        Kind::UnknownEscape {
                            escape: format!("\\{other}"),
                        },
                        Span::new(self.file, start, end),
                    ));
                }
                None => {}
            }
        }
        Str { value, span }
    }

    fn num(&self, pair: Pair<'_, Rule>) -> Num {
        Num {
            text: pair.as_str().to_string(),
            span: self.span(&pair),
        }
    }

    pub(super) fn item(&self, pair: Pair<'_, Rule>) -> Item {
        let span = self.span(&pair);
        match pair.as_rule() {
            Rule::policy_setting | Rule::timezone_setting | Rule::country_setting => {
                let kind = match pair.as_rule() {
                    Rule::policy_setting => SettingKind::Policy,
                    Rule::timezone_setting => SettingKind::Timezone,
                    _ => SettingKind::Country,
                };
                let value = self.string(inner(pair).nth(1).expect("grammar: setting value"));
                Item::Setting(Setting { kind, value, span })
            }
            Rule::enum_decl => {
                let mut it = inner(pair).skip(1);
                let name = self.ident(it.next().expect("grammar: enum name"));
                let variants = it.map(|p| self.ident(p)).collect();
                Item::Enum(EnumDecl {
                    name,
                    variants,
                    span,
                })
            }
            Rule::source_decl => Item::Source(self.source(pair, span)),
            Rule::facts_decl => {
                let mut it = inner(pair);
                it.next();
                let name = self.ident(it.next().expect("grammar: facts name"));
                it.next();
                let source = self.ident(it.next().expect("grammar: facts source"));
                let fields = it
                    .map(|field| {
                        let mut f = inner(field);
                        let name = self.ident(f.next().expect("grammar: field name"));
                        let ty = self.ident(f.next().expect("grammar: field type"));
                        FactField { name, ty }
                    })
                    .collect();
                Item::Facts(FactsDecl {
                    name,
                    source,
                    fields,
                    span,
                })
            }
            Rule::agent_decl => Item::Agent(self.agent(pair, span)),
            Rule::team_decl => Item::Team(self.team(pair, span)),
            Rule::map_decl => {
                let mut it = inner(pair).skip(1);
                let name = self.ident(it.next().expect("grammar: map name"));
                // skip `by prefix`
                let input = self.operand(it.nth(2).expect("grammar: map input"));
                let mut file = None;
                let entries = it
                    .filter(|p| {
                        if p.as_rule() == Rule::data_file {
                            file = inner(p.clone()).nth(1).map(|s| self.string(s));
                            return false;
                        }
                        true
                    })
                    .map(|entry| {
                        let mut e = inner(entry);
                        let prefix = self.string(e.next().expect("grammar: prefix"));
                        let value = self.string(e.next().expect("grammar: value"));
                        (prefix, value)
                    })
                    .collect();
                Item::Map(MapDecl {
                    name,
                    input,
                    entries,
                    file,
                    span,
                })
            }
            Rule::schedule_decl => Item::Schedule(self.schedule(pair, span)),
            Rule::rule_decl => {
                let mut name = None;
                let mut when_span = span;
                let mut condition = None;
                let mut targets = Vec::new();
                for p in inner(pair) {
                    match p.as_rule() {
                        Rule::rule_name => {
                            name = Some(self.ident(inner(p).nth(1).expect("grammar: rule name")))
                        }
                        Rule::kw_when => when_span = self.span(&p),
                        Rule::condition => condition = Some(self.condition(p)),
                        Rule::targets => targets = self.targets(p),
                        _ => {}
                    }
                }
                Item::Rule(RuleDecl {
                    name,
                    when_span,
                    condition: condition.expect("grammar: rule condition"),
                    targets,
                    span,
                })
            }
            Rule::otherwise_decl => {
                let targets = self.targets(inner(pair).nth(1).expect("grammar: targets"));
                Item::Otherwise(OtherwiseDecl { targets, span })
            }
            other => unreachable!("grammar: unexpected item {other:?}"),
        }
    }

    fn source(&self, pair: Pair<'_, Rule>, span: Span) -> SourceDecl {
        let mut it = inner(pair).skip(1);
        let name = self.ident(it.next().expect("grammar: source name"));
        let kind = self.ident(it.next().expect("grammar: source kind"));
        let location = self.string(it.next().expect("grammar: source location"));
        let mut settings = Vec::new();
        for p in it {
            match p.as_rule() {
                Rule::source_block => {
                    for s in inner(p) {
                        settings.push(self.source_setting(s));
                    }
                }
                _ => settings.push(self.source_setting(p)),
            }
        }
        SourceDecl {
            name,
            kind,
            location,
            settings,
            span,
        }
    }

    fn source_setting(&self, pair: Pair<'_, Rule>) -> SourceSetting {
        let span = self.span(&pair);
        let rule = pair.as_rule();
        let mut it = inner(pair).skip(1);
        let value = it.next().expect("grammar: setting value");
        match rule {
            Rule::source_key => {
                let key = self.ident(value);
                SourceSetting::Key(Str {
                    value: key.name,
                    span: key.span,
                })
            }
            Rule::source_timeout => SourceSetting::Timeout(Duration {
                text: value.as_str().into(),
                span: self.span(&value),
            }),
            Rule::source_cache => SourceSetting::Cache(
                Duration {
                    text: value.as_str().into(),
                    span: self.span(&value),
                },
                it.nth(1).map(|n| self.num(n)),
            ),
            Rule::source_query => SourceSetting::Query(self.string(value)),
            Rule::source_header => {
                let name = self.string(value);
                let v = it.next().expect("grammar: header value");
                let value = match v.as_rule() {
                    Rule::env_call => {
                        HeaderValue::Env(self.string(inner(v).nth(1).expect("grammar: env name")))
                    }
                    _ => HeaderValue::Literal(self.string(v)),
                };
                SourceSetting::Header { name, value, span }
            }
            other => unreachable!("grammar: unexpected source setting {other:?}"),
        }
    }

    fn agent(&self, pair: Pair<'_, Rule>, span: Span) -> AgentDecl {
        let mut it = inner(pair).skip(1);
        let name = self.ident(it.next().expect("grammar: agent name"));
        let number = self.string(it.next().expect("grammar: agent number"));
        let mut agent = AgentDecl {
            name,
            number,
            skills: None,
            languages: None,
            weight: None,
            repeated: Vec::new(),
            span,
        };
        for clause in it {
            let clause_span = self.span(&clause);
            let keyword;
            let was_set = match clause.as_rule() {
                Rule::agent_skills => {
                    keyword = "skills";
                    let skills = inner(clause)
                        .skip(1)
                        .map(|s| {
                            let mut s = inner(s);
                            let name = self.ident(s.next().expect("grammar: skill name"));
                            let level = s.next().map(|n| self.num(n));
                            Skill { name, level }
                        })
                        .collect();
                    agent.skills.replace(skills).is_some()
                }
                Rule::agent_languages => {
                    keyword = "languages";
                    let languages = inner(clause).skip(1).map(|l| self.ident(l)).collect();
                    agent.languages.replace(languages).is_some()
                }
                _ => {
                    keyword = "weight";
                    let weight = self.num(inner(clause).nth(1).expect("grammar: weight"));
                    agent.weight.replace(weight).is_some()
                }
            };
            if was_set {
                agent.repeated.push((keyword, clause_span));
            }
        }
        agent
    }

    fn team(&self, pair: Pair<'_, Rule>, span: Span) -> TeamDecl {
        let mut name = None;
        let mut members = Vec::new();
        let mut members_span: Option<Span> = None;
        let mut strategy = None;
        let mut ring = None;
        let mut repeated = Vec::new();
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::ident if name.is_none() => name = Some(self.ident(p)),
                Rule::ident => members.push(self.ident(p)),
                Rule::lbracket | Rule::rbracket => {
                    let s = self.span(&p);
                    members_span = Some(members_span.map_or(s, |m| m.to(s)));
                }
                Rule::team_strategy => {
                    let s = self.ident(inner(p).nth(1).expect("grammar: strategy"));
                    if let Some(old) = strategy.replace(s) {
                        repeated.push(("strategy", old.span));
                    }
                }
                Rule::ring => {
                    let n = self.num(inner(p).nth(1).expect("grammar: ring"));
                    if let Some(old) = ring.replace(n) {
                        repeated.push(("ring", old.span));
                    }
                }
                _ => {}
            }
        }
        TeamDecl {
            name: name.expect("grammar: team name"),
            members,
            members_span: members_span.unwrap_or(span),
            strategy,
            ring,
            repeated,
            span,
        }
    }

    fn schedule(&self, pair: Pair<'_, Rule>, span: Span) -> ScheduleDecl {
        let mut it = inner(pair).skip(1);
        let name = self.ident(it.next().expect("grammar: schedule name"));
        let lines = it
            .map(|line| {
                let line_span = self.span(&line);
                match line.as_rule() {
                    Rule::schedule_closed
                        if inner(line.clone()).nth(1).map(|p| p.as_rule())
                            == Some(Rule::data_file) =>
                    {
                        let file = inner(line).nth(1).expect("grammar: closed from");
                        ScheduleLine::ClosedFrom(
                            self.string(inner(file).nth(1).expect("grammar: file")),
                        )
                    }
                    Rule::schedule_closed => ScheduleLine::Closed(
                        inner(line)
                            .skip(1)
                            .map(|d| Date {
                                text: d.as_str().into(),
                                span: self.span(&d),
                            })
                            .collect(),
                    ),
                    Rule::schedule_timezone => ScheduleLine::Timezone(
                        self.string(inner(line).nth(1).expect("grammar: timezone")),
                    ),
                    _ => {
                        let mut days = Vec::new();
                        let mut times = Vec::new();
                        for p in inner(line) {
                            if p.as_rule() == Rule::day_spec {
                                let mut d = inner(p);
                                let first = self.ident(d.next().expect("grammar: day"));
                                let last = d.next().map(|l| self.ident(l));
                                days.push(DaySpec { first, last });
                            } else {
                                let span = self.span(&p);
                                let mut t = inner(p).map(|t| Time {
                                    text: t.as_str().into(),
                                    span: self.span(&t),
                                });
                                let start = t.next().expect("grammar: start time");
                                let end = t.next().expect("grammar: end time");
                                times.push(TimeRange { start, end, span });
                            }
                        }
                        ScheduleLine::Window {
                            days,
                            times,
                            span: line_span,
                        }
                    }
                }
            })
            .collect();
        ScheduleDecl { name, lines, span }
    }

    fn condition(&self, pair: Pair<'_, Rule>) -> Expr {
        CONDITION_PRATT
            .map_primary(|p| match p.as_rule() {
                Rule::condition => self.condition(p),
                _ => self.comparison(p),
            })
            .map_prefix(|op, e| {
                let span = self.span(&op).to(e.span());
                Expr::Not(Box::new(e), span)
            })
            .map_infix(|l, op, r| {
                let span = l.span().to(r.span());
                match (op.as_rule(), l) {
                    (Rule::kw_and, Expr::And(mut v, _)) => {
                        v.push(r);
                        Expr::And(v, span)
                    }
                    (Rule::kw_and, l) => Expr::And(vec![l, r], span),
                    (_, Expr::Or(mut v, _)) => {
                        v.push(r);
                        Expr::Or(v, span)
                    }
                    (_, l) => Expr::Or(vec![l, r], span),
                }
            })
            .parse(inner(pair))
    }

    fn comparison(&self, pair: Pair<'_, Rule>) -> Expr {
        let span = self.span(&pair);
        let mut it = inner(pair);
        let left = self.operand(it.next().expect("grammar: operand"));
        let Some(op) = it.next() else {
            return Expr::Value(left);
        };
        match op.as_rule() {
            Rule::kw_exists => Expr::Exists(left, span),
            Rule::kw_in => {
                let list = inner(it.next().expect("grammar: list"))
                    .map(|p| self.operand(p))
                    .collect();
                Expr::In { left, list, span }
            }
            _ => {
                let op_span = self.span(&op);
                let op = compare_op(op.as_str());
                let right = self.operand(it.next().expect("grammar: right operand"));
                Expr::Compare {
                    left,
                    op,
                    op_span,
                    right,
                    span,
                }
            }
        }
    }

    fn operand(&self, pair: Pair<'_, Rule>) -> Operand {
        match pair.as_rule() {
            Rule::string => Operand::Str(self.string(pair)),
            Rule::number => Operand::Num(self.num(pair)),
            Rule::kw_true => Operand::Bool(true, self.span(&pair)),
            Rule::kw_false => Operand::Bool(false, self.span(&pair)),
            _ => Operand::Path(self.path(pair)),
        }
    }

    fn path(&self, pair: Pair<'_, Rule>) -> Path {
        let span = self.span(&pair);
        let segments = pair.into_inner().map(|p| self.ident(p)).collect();
        Path { segments, span }
    }

    fn targets(&self, pair: Pair<'_, Rule>) -> Vec<Target> {
        inner(pair)
            .filter(|p| p.as_rule() != Rule::kw_or)
            .map(|p| self.target(p))
            .collect()
    }

    fn target(&self, pair: Pair<'_, Rule>) -> Target {
        let span = self.span(&pair);
        let rule = pair.as_rule();
        let mut it = inner(pair).skip(1);
        match rule {
            Rule::team_target => Target::Team(self.ident(it.next().expect("grammar: team")), span),
            Rule::agent_target => {
                Target::Agent(self.path(it.next().expect("grammar: agent")), span)
            }
            Rule::number_target => {
                Target::Number(self.string(it.next().expect("grammar: number")), span)
            }
            Rule::flow_target => {
                let label = self.ident(it.next().expect("grammar: flow"));
                Target::Flow(
                    Str {
                        value: label.name,
                        span: label.span,
                    },
                    span,
                )
            }
            Rule::queue_target => {
                let name = self.ident(it.next().expect("grammar: queue"));
                let priority = it
                    .next()
                    .map(|p| self.num(inner(p).nth(1).expect("grammar: n")));
                Target::Queue {
                    name,
                    priority,
                    span,
                }
            }
            Rule::agents_target => {
                // skip `where`
                it.next();
                let filter = self.filter(it.next().expect("grammar: filter"));
                let mut using = None;
                let mut ring = None;
                for p in it {
                    match p.as_rule() {
                        Rule::agents_using => {
                            using = Some(self.ident(inner(p).nth(1).expect("grammar: using")))
                        }
                        _ => ring = Some(self.num(inner(p).nth(1).expect("grammar: ring"))),
                    }
                }
                Target::Agents {
                    filter,
                    using,
                    ring,
                    span,
                }
            }
            other => unreachable!("grammar: unexpected target {other:?}"),
        }
    }

    fn filter(&self, pair: Pair<'_, Rule>) -> AgentFilter {
        FILTER_PRATT
            .map_primary(|p| {
                let span = self.span(&p);
                match p.as_rule() {
                    Rule::agent_filter => self.filter(p),
                    Rule::speaks => AgentFilter::Speaks(
                        self.operand(inner(p).nth(1).expect("grammar: speaks")),
                        span,
                    ),
                    Rule::in_team => AgentFilter::InTeam(
                        self.ident(inner(p).nth(2).expect("grammar: in team")),
                        span,
                    ),
                    _ => {
                        let mut it = inner(p).skip(1);
                        let skill = self.ident(it.next().expect("grammar: skill"));
                        let test = it.next().map(|op| {
                            let op_span = self.span(&op);
                            let level = self.num(it.next().expect("grammar: level"));
                            (compare_op(op.as_str()), op_span, level)
                        });
                        AgentFilter::Skill { skill, test, span }
                    }
                }
            })
            .map_prefix(|op, f| {
                let span = self.span(&op).to(f.span());
                AgentFilter::Not(Box::new(f), span)
            })
            .map_infix(|l, op, r| {
                let span = l.span().to(r.span());
                match (op.as_rule(), l) {
                    (Rule::kw_and, AgentFilter::And(mut v, _)) => {
                        v.push(r);
                        AgentFilter::And(v, span)
                    }
                    (Rule::kw_and, l) => AgentFilter::And(vec![l, r], span),
                    (_, AgentFilter::Or(mut v, _)) => {
                        v.push(r);
                        AgentFilter::Or(v, span)
                    }
                    (_, l) => AgentFilter::Or(vec![l, r], span),
                }
            })
            .parse(inner(pair))
    }
}

fn compare_op(text: &str) -> CompareOp {
    match text {
        "==" => CompareOp::Eq,
        "!=" => CompareOp::Ne,
        "<" => CompareOp::Lt,
        "<=" => CompareOp::Le,
        ">" => CompareOp::Gt,
        ">=" => CompareOp::Ge,
        "starts_with" => CompareOp::StartsWith,
        _ => CompareOp::Contains,
    }
}
