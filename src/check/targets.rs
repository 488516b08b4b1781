//! Targets: teams, agents, `agents where` filters, numbers, queues and flows.

use super::*;

impl<'a> Checker<'a> {
    pub(super) fn targets(&mut self, targets: &'a [ast::Target]) -> Option<Vec<Target>> {
        let checked: Vec<Option<Target>> = targets.iter().map(|t| self.target(t)).collect();
        checked.into_iter().collect()
    }

    pub(super) fn target(&mut self, t: &'a ast::Target) -> Option<Target> {
        match t {
            ast::Target::Team(ident, _) => self.team(ident).map(Target::Team),
            ast::Target::Agent(path, _) => {
                if let [ident] = path.segments.as_slice()
                    && !self.values.contains_key(ident.name.as_str())
                {
                    return self.agent(ident).map(Target::Agent);
                }
                match self.path(path) {
                    Term::Value(v, Type::Agent | Type::Phone | Type::String) => {
                        self.used.any_agent = true;
                        Some(Target::AgentFrom(v))
                    }
                    Term::Value(_, ty) => {
                        let found = type_name(ty, &self.enum_defs);
                        self.error(Kind::NotAgentValue { found }, path.span);
                        None
                    }
                    Term::Schedule(_) => {
                        self.error(
                            Kind::NotAgentValue {
                                found: "schedule".into(),
                            },
                            path.span,
                        );
                        None
                    }
                    _ => None,
                }
            }
            ast::Target::Agents {
                filter,
                using,
                ring,
                ..
            } => {
                self.used.any_agent = true;
                let filter = self.filter(filter);
                let strategy = using
                    .as_ref()
                    .map_or(Strategy::LongestIdle, |s| self.strategy(s));
                let ring = match ring {
                    Some(r) => Some(self.count(r, "`ring`", 1, 100)?),
                    None => None,
                };
                Some(Target::Agents {
                    filter: filter?,
                    strategy,
                    ring,
                })
            }
            ast::Target::Number(s, _) => match phone::normalize(&s.value, self.country) {
                Some(n) => Some(Target::Number(n.into())),
                None => {
                    self.error(
                        Kind::InvalidPhone {
                            text: s.value.clone(),
                        },
                        s.span,
                    );
                    None
                }
            },
            ast::Target::Queue { name, priority, .. } => {
                let priority = match priority {
                    Some(p) => Some(i64::from(self.count(p, "`priority`", 0, 1_000_000)?)),
                    None => None,
                };
                Some(Target::Queue {
                    name: name.name.as_str().into(),
                    priority,
                })
            }
            ast::Target::Flow(label, _) => Some(Target::Flow(label.value.as_str().into())),
        }
    }

    pub(super) fn filter(&mut self, f: &'a ast::AgentFilter) -> Option<AgentFilter> {
        match f {
            ast::AgentFilter::Not(inner, _) => {
                Some(AgentFilter::Not(Box::new(self.filter(inner)?)))
            }
            ast::AgentFilter::And(items, _) => {
                let items: Vec<Option<AgentFilter>> =
                    items.iter().map(|i| self.filter(i)).collect();
                Some(AgentFilter::And(items.into_iter().collect::<Option<_>>()?))
            }
            ast::AgentFilter::Or(items, _) => {
                let items: Vec<Option<AgentFilter>> =
                    items.iter().map(|i| self.filter(i)).collect();
                Some(AgentFilter::Or(items.into_iter().collect::<Option<_>>()?))
            }
            ast::AgentFilter::InTeam(ident, _) => self.team(ident).map(AgentFilter::InTeam),
            ast::AgentFilter::Speaks(o, _) => {
                let language = |this: &mut Self, name: &str, span: Span| {
                    if this.languages.iter().any(|l| l == name) {
                        return Some(AgentFilter::Speaks(Value::Literal(Literal::String(
                            name.into(),
                        ))));
                    }
                    let suggestion = nearest(name, this.languages.iter().map(String::as_str));
                    this.error(
                        Kind::Unknown {
                            what: What::Language,
                            name: name.into(),
                            suggestion,
                            scope: None,
                        },
                        span,
                    );
                    None
                };
                match self.term(o) {
                    Term::Value(v @ Value::Literal(_), Type::String) => {
                        let Value::Literal(Literal::String(s)) = &v else {
                            return None;
                        };
                        language(self, &s.clone(), o.span())
                    }
                    Term::Value(v, Type::String) => Some(AgentFilter::Speaks(v)),
                    Term::Value(_, ty) => {
                        let found = type_name(ty, &self.enum_defs);
                        self.error(Kind::NotText { found }, o.span());
                        None
                    }
                    Term::Text(s) => language(self, &s.value, s.span),
                    Term::Bare(b) => language(self, &b.name, b.span),
                    Term::Schedule(_) => {
                        self.error(
                            Kind::NotText {
                                found: "schedule".into(),
                            },
                            o.span(),
                        );
                        None
                    }
                    Term::Invalid => None,
                }
            }
            ast::AgentFilter::Skill { skill, test, .. } => {
                if !self.skills.contains(&skill.name) {
                    let suggestion = nearest(&skill.name, self.skills.iter().map(String::as_str));
                    self.error(
                        Kind::Unknown {
                            what: What::Skill,
                            name: skill.name.clone(),
                            suggestion,
                            scope: None,
                        },
                        skill.span,
                    );
                    return None;
                }
                let (op, level) = match test {
                    None => (CompareOp::Ge, 1.0),
                    Some((op, op_span, level)) => {
                        let op = *op;
                        if matches!(op, CompareOp::StartsWith | CompareOp::Contains) {
                            self.error(
                                Kind::OperatorType {
                                    op: match op {
                                        CompareOp::StartsWith => "starts_with".into(),
                                        _ => "contains".into(),
                                    },
                                    ty: "skill level".into(),
                                },
                                *op_span,
                            );
                            return None;
                        }
                        (op, f64::from(self.count(level, "a skill level", 0, 100)?))
                    }
                };
                Some(AgentFilter::Skill {
                    skill: skill.name.clone(),
                    op,
                    level,
                })
            }
        }
    }
}
