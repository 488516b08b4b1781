//! Rules and their conditions: values read, compared and typed.

use super::*;

impl<'a> Checker<'a> {
    pub(super) fn rule(&mut self, r: &'a ast::RuleDecl) -> Option<RuleDef> {
        let name = match &r.name {
            Some(n) => n.name.clone(),
            None => {
                let file = self.files.get(r.span.file);
                let (line, _) = file.line_col(r.when_span.start as usize);
                // In a policy of several files, a line number alone names no rule.
                if self.files.files.len() > 1 {
                    let name = file
                        .path
                        .strip_prefix(&self.files.base_dir)
                        .unwrap_or(&file.path);
                    format!("{}:{line}", name.display())
                } else {
                    format!("line {line}")
                }
            }
        };
        let condition = self.cond(&r.condition);
        let targets = self.targets(&r.targets);
        Some(RuleDef {
            name,
            span: r.span,
            head: r.name.as_ref().map_or(r.when_span, |n| n.span),
            condition: condition?,
            targets: targets?,
        })
    }

    pub(super) fn cond(&mut self, e: &'a ast::Expr) -> Option<Cond> {
        match e {
            ast::Expr::Not(inner, _) => Some(Cond::Not(Box::new(self.cond(inner)?))),
            ast::Expr::And(items, _) => {
                let items: Vec<Option<Cond>> = items.iter().map(|i| self.cond(i)).collect();
                Some(Cond::And(items.into_iter().collect::<Option<_>>()?))
            }
            ast::Expr::Or(items, _) => {
                let items: Vec<Option<Cond>> = items.iter().map(|i| self.cond(i)).collect();
                Some(Cond::Or(items.into_iter().collect::<Option<_>>()?))
            }
            ast::Expr::Value(o) => match self.term(o) {
                Term::Value(v, Type::Bool) => Some(Cond::Test(v)),
                Term::Schedule(id) => Some(Cond::Schedule(id)),
                Term::Value(Value::Literal(Literal::Bool(b)), _) => Some(Cond::Const(b)),
                Term::Value(_, ty) => {
                    let found = type_name(ty, &self.enum_defs);
                    self.error(Kind::NotCondition { found }, o.span());
                    None
                }
                Term::Text(s) => {
                    self.error(
                        Kind::NotCondition {
                            found: "string".into(),
                        },
                        s.span,
                    );
                    None
                }
                Term::Bare(b) => {
                    self.unknown_value(b);
                    None
                }
                Term::Invalid => None,
            },
            ast::Expr::Exists(o, _) => match self.term(o) {
                Term::Value(Value::Literal(_), ty) => {
                    let ty = type_name(ty, &self.enum_defs);
                    self.error(
                        Kind::OperatorType {
                            op: "exists".into(),
                            ty: format!("{ty} literal"),
                        },
                        o.span(),
                    );
                    None
                }
                Term::Value(v, _) => Some(Cond::Exists(v)),
                Term::Schedule(_) | Term::Text(_) => {
                    self.error(
                        Kind::OperatorType {
                            op: "exists".into(),
                            ty: "literal".into(),
                        },
                        o.span(),
                    );
                    None
                }
                Term::Bare(b) => {
                    self.unknown_value(b);
                    None
                }
                Term::Invalid => None,
            },
            ast::Expr::Compare {
                left,
                op,
                op_span,
                right,
                ..
            } => self.compare(left, *op, op.symbol(), *op_span, right),
            ast::Expr::In { left, list, span } => {
                if list.is_empty() {
                    let test = "in []".to_string();
                    let kind = Kind::Vacuous {
                        test,
                        always: false,
                    };
                    self.diags.push(Diagnostic::new(kind, *span));
                }
                self.in_list(left, list)
            }
        }
    }

    pub(super) fn compare(
        &mut self,
        left: &'a ast::Operand,
        op: CompareOp,
        symbol: &str,
        op_span: Span,
        right: &'a ast::Operand,
    ) -> Option<Cond> {
        let l = self.term(left);
        let r = self.term(right);
        for (t, o) in [(&l, left), (&r, right)] {
            if let Term::Schedule(id) = t {
                let name = self.schedule_name(*id);
                self.error(
                    Kind::NotValue {
                        what: What::Schedule,
                        name,
                    },
                    o.span(),
                );
                return None;
            }
        }
        let (ty, left_anchors) = match (&l, &r) {
            (Term::Invalid, _) | (_, Term::Invalid) => return None,
            (Term::Value(_, t), _) => (*t, true),
            (_, Term::Value(_, t)) => (*t, false),
            (Term::Text(_), Term::Text(_)) => (Type::String, true),
            (Term::Bare(b), _) | (_, Term::Bare(b)) => {
                self.unknown_value(b);
                return None;
            }
            (Term::Schedule(_), _) | (_, Term::Schedule(_)) => return None,
        };
        let allowed = match op {
            CompareOp::Eq | CompareOp::Ne => true,
            CompareOp::Lt | CompareOp::Le | CompareOp::Gt | CompareOp::Ge => {
                matches!(ty, Type::Number | Type::Enum(_))
            }
            CompareOp::StartsWith => matches!(ty, Type::String | Type::Phone),
            CompareOp::Contains => ty == Type::String,
        };
        if !allowed {
            let ty_name = type_name(ty, &self.enum_defs);
            let kind = if matches!(
                op,
                CompareOp::Lt | CompareOp::Le | CompareOp::Gt | CompareOp::Ge
            ) {
                Kind::NotOrdered {
                    ty: ty_name,
                    op: symbol.into(),
                }
            } else {
                Kind::OperatorType {
                    op: symbol.into(),
                    ty: ty_name,
                }
            };
            self.error(kind, op_span);
            return None;
        }
        let prefix = op == CompareOp::StartsWith;
        let (l, r) = if left_anchors {
            let lv = self.coerce(l, ty, false, left.span())?;
            let rv = self.coerce(r, ty, prefix, right.span())?;
            (lv, rv)
        } else {
            let rv = self.coerce(r, ty, false, right.span())?;
            let lv = self.coerce(l, ty, false, left.span())?;
            (lv, rv)
        };
        let domain = match (&l, &r) {
            (_, Value::Literal(lit)) => domain::impossible(&l, op, lit).map(|k| (k, right.span())),
            (Value::Literal(lit), _) => {
                domain::impossible(&r, domain::flipped(op), lit).map(|k| (k, left.span()))
            }
            _ => None,
        };
        if let Some((kind, span)) = domain {
            self.error(kind, span);
            return None;
        }
        if op == CompareOp::StartsWith
            && matches!(&r, Value::Literal(Literal::String(p) | Literal::Phone(p)) if p.is_empty())
        {
            let test = "starts_with \"\"".to_string();
            self.diags.push(Diagnostic::new(
                Kind::Vacuous { test, always: true },
                right.span(),
            ));
        }
        Some(Cond::Compare {
            left: l,
            op,
            right: r,
        })
    }

    pub(super) fn in_list(
        &mut self,
        left: &'a ast::Operand,
        list: &'a [ast::Operand],
    ) -> Option<Cond> {
        let (value, ty) = match self.term(left) {
            Term::Value(v, t) => (v, t),
            Term::Text(s) => (
                Value::Literal(Literal::String(s.value.clone())),
                Type::String,
            ),
            Term::Schedule(id) => {
                let name = self.schedule_name(id);
                self.error(
                    Kind::NotValue {
                        what: What::Schedule,
                        name,
                    },
                    left.span(),
                );
                return None;
            }
            Term::Bare(b) => {
                self.unknown_value(b);
                return None;
            }
            Term::Invalid => return None,
        };
        let mut literals = Vec::new();
        let mut ok = true;
        for item in list {
            let term = self.term(item);
            match self.coerce(term, ty, false, item.span()) {
                Some(Value::Literal(l)) => {
                    if let Some(kind) = domain::impossible(&value, CompareOp::Eq, &l) {
                        self.error(kind, item.span());
                        ok = false;
                    }
                    literals.push(l);
                }
                Some(_) => {
                    self.error(Kind::NotLiteral, item.span());
                    ok = false;
                }
                None => ok = false,
            }
        }
        ok.then_some(Cond::In {
            value,
            list: literals,
        })
    }

    pub(super) fn schedule_name(&self, id: ScheduleId) -> String {
        self.values
            .iter()
            .find(|(_, (v, _))| matches!(v, ValueName::Schedule(s) if *s == id))
            .map_or_else(String::new, |(n, _)| n.to_string())
    }

    /// Matches a term against the type of the other side of a comparison.
    pub(super) fn coerce(
        &mut self,
        term: Term<'a>,
        ty: Type,
        prefix: bool,
        span: Span,
    ) -> Option<Value> {
        match term {
            Term::Invalid | Term::Schedule(_) => None,
            Term::Value(v, t) if t == ty => Some(v),
            Term::Value(_, t) => {
                let left = type_name(ty, &self.enum_defs);
                let right = type_name(t, &self.enum_defs);
                self.error(Kind::Mismatch { left, right }, span);
                None
            }
            Term::Text(s) => self.literal(&s.value, s.span, ty, prefix, false),
            Term::Bare(b) => self.literal(&b.name, b.span, ty, prefix, true),
        }
    }

    /// A quoted text or a bare word read as a literal of type `ty`.
    pub(super) fn literal(
        &mut self,
        text: &str,
        span: Span,
        ty: Type,
        prefix: bool,
        bare: bool,
    ) -> Option<Value> {
        let literal = match ty {
            Type::Enum(e) => {
                let def = &self.enum_defs[e];
                match def.variants.iter().position(|v| v == text) {
                    Some(i) => Literal::Enum {
                        ty: e,
                        variant: i as u32,
                    },
                    None => {
                        let suggestion = nearest(text, def.variants.iter().map(String::as_str));
                        let scope = Some(def.name.clone());
                        self.error(
                            Kind::Unknown {
                                what: What::Variant,
                                name: text.into(),
                                suggestion,
                                scope,
                            },
                            span,
                        );
                        return None;
                    }
                }
            }
            Type::Agent => {
                let ident = ast::Ident {
                    name: text.into(),
                    span,
                };
                Literal::Agent(self.agent(&ident)?)
            }
            _ if bare => {
                self.error(Kind::BareWord { name: text.into() }, span);
                return None;
            }
            Type::String => Literal::String(text.into()),
            Type::Phone if prefix => match phone::normalize_prefix(text, self.country) {
                Some(p) => Literal::String(p),
                None => {
                    self.error(Kind::InvalidPrefix { text: text.into() }, span);
                    return None;
                }
            },
            Type::Phone => match phone::normalize(text, self.country) {
                Some(p) => Literal::Phone(p),
                None => {
                    self.error(Kind::InvalidPhone { text: text.into() }, span);
                    return None;
                }
            },
            Type::Number | Type::Bool => {
                let left = type_name(ty, &self.enum_defs);
                self.error(
                    Kind::Mismatch {
                        left,
                        right: "string".into(),
                    },
                    span,
                );
                return None;
            }
        };
        Some(Value::Literal(literal))
    }

    /// Reports a bare word that names nothing, as the kind of thing it most likely misspells.
    pub(super) fn unknown_value(&mut self, ident: &ast::Ident) {
        let candidates: Vec<&str> = self.values.keys().copied().collect();
        match nearest(&ident.name, candidates) {
            Some(s) => {
                let what = match self.values.get(s.as_str()) {
                    Some((ValueName::Map(_), _)) => What::Map,
                    Some((ValueName::Schedule(_), _)) => What::Schedule,
                    Some((ValueName::Facts(_), _)) => What::Facts,
                    None => What::Name,
                };
                self.error(
                    Kind::Unknown {
                        what,
                        name: ident.name.clone(),
                        suggestion: Some(s),
                        scope: None,
                    },
                    ident.span,
                )
            }
            None => self.error(
                Kind::BareWord {
                    name: ident.name.clone(),
                },
                ident.span,
            ),
        }
    }

    /// Looks up the names in an operand.
    pub(super) fn term(&mut self, o: &'a ast::Operand) -> Term<'a> {
        match o {
            ast::Operand::Str(s) => Term::Text(s),
            ast::Operand::Bool(b, _) => Term::Value(Value::Literal(Literal::Bool(*b)), Type::Bool),
            ast::Operand::Num(n) => match n.text.replace('_', "").parse::<f64>() {
                Ok(v) if v.is_finite() => {
                    Term::Value(Value::Literal(Literal::Number(v)), Type::Number)
                }
                _ => {
                    self.error(
                        Kind::InvalidNumber {
                            what: "number",
                            text: n.text.clone(),
                            expected: "a finite number",
                        },
                        n.span,
                    );
                    Term::Invalid
                }
            },
            ast::Operand::Path(p) => self.path(p),
        }
    }

    pub(super) fn path(&mut self, p: &'a ast::Path) -> Term<'a> {
        let first = &p.segments[0];
        let rest = &p.segments[1..];
        if let Some((value, _)) = self.values.get(first.name.as_str()).copied() {
            return match (value, rest) {
                (ValueName::Map(id), []) => {
                    self.used.maps[id] = true;
                    Term::Value(Value::Map(id), Type::String)
                }
                (ValueName::Schedule(id), []) => {
                    self.used.schedules[id] = true;
                    Term::Schedule(id)
                }
                (ValueName::Facts(id), []) => {
                    let fields = self.facts_groups[id]
                        .fields
                        .iter()
                        .map(|f| f.name.clone())
                        .collect();
                    self.error(
                        Kind::NeedsField {
                            name: first.name.clone(),
                            what: What::Facts,
                            fields,
                        },
                        p.span,
                    );
                    Term::Invalid
                }
                (ValueName::Facts(id), rest) => {
                    let field: Vec<&str> = rest.iter().map(|s| s.name.as_str()).collect();
                    let field = field.join(".");
                    let group = &self.facts_groups[id];
                    let declared = group.fields.iter().position(|f| f.name == field);
                    if declared.is_none() && first.name == "caller" && field == "last_agent" {
                        return Term::Value(Value::LastAgent, Type::Agent);
                    }
                    match declared {
                        Some(i) => {
                            self.used.facts[id] = true;
                            Term::Value(
                                Value::Fact {
                                    group: id,
                                    field: i,
                                },
                                group.fields[i].ty,
                            )
                        }
                        None => {
                            // The group was meant, only the field is wrong: it is used.
                            self.used.facts[id] = true;
                            let group = &self.facts_groups[id];
                            let suggestion =
                                nearest(&field, group.fields.iter().map(|f| f.name.as_str()));
                            let span = rest[0].span.to(rest[rest.len() - 1].span);
                            let scope = Some(group.name.clone());
                            self.error(
                                Kind::Unknown {
                                    what: What::Field,
                                    name: field,
                                    suggestion,
                                    scope,
                                },
                                span,
                            );
                            Term::Invalid
                        }
                    }
                }
                (ValueName::Map(_) | ValueName::Schedule(_), _) => {
                    let what = if matches!(value, ValueName::Map(_)) {
                        What::Map
                    } else {
                        What::Schedule
                    };
                    self.error(
                        Kind::HasNoFields {
                            what,
                            name: first.name.clone(),
                        },
                        p.span,
                    );
                    Term::Invalid
                }
            };
        }
        match (first.name.as_str(), rest) {
            ("call" | "now", []) => {
                let fields = if first.name == "call" {
                    CallField::ALL
                        .iter()
                        .map(|(n, _, _)| n.to_string())
                        .collect()
                } else {
                    NowField::ALL
                        .iter()
                        .map(|(n, _, _)| n.to_string())
                        .collect()
                };
                self.error(
                    Kind::NeedsField {
                        name: first.name.clone(),
                        what: What::Name,
                        fields,
                    },
                    p.span,
                );
                Term::Invalid
            }
            ("call", [field]) => match CallField::ALL.iter().find(|(n, _, _)| *n == field.name) {
                Some((_, f, ty)) => Term::Value(Value::Call(*f), *ty),
                None => {
                    let suggestion =
                        nearest(&field.name, CallField::ALL.iter().map(|(n, _, _)| *n));
                    self.error(
                        Kind::Unknown {
                            what: What::CallField,
                            name: field.name.clone(),
                            suggestion,
                            scope: None,
                        },
                        field.span,
                    );
                    Term::Invalid
                }
            },
            ("now", [field]) => match NowField::ALL.iter().find(|(n, _, _)| *n == field.name) {
                Some((_, f, ty)) => Term::Value(Value::Now(*f), *ty),
                None => {
                    let suggestion = nearest(&field.name, NowField::ALL.iter().map(|(n, _, _)| *n));
                    self.error(
                        Kind::Unknown {
                            what: What::NowField,
                            name: field.name.clone(),
                            suggestion,
                            scope: None,
                        },
                        field.span,
                    );
                    Term::Invalid
                }
            },
            ("call" | "now", more) => {
                let span = more[0].span.to(more[more.len() - 1].span);
                let name: Vec<&str> = more.iter().map(|s| s.name.as_str()).collect();
                let what = if first.name == "call" {
                    What::CallField
                } else {
                    What::NowField
                };
                self.error(
                    Kind::Unknown {
                        what,
                        name: name.join("."),
                        suggestion: None,
                        scope: None,
                    },
                    span,
                );
                Term::Invalid
            }
            (_, []) => Term::Bare(first),
            // Built in, from agent state: the agent who last spoke with this caller.
            ("caller", [field]) if field.name == "last_agent" => {
                Term::Value(Value::LastAgent, Type::Agent)
            }
            (_, _) => {
                let candidates: Vec<&str> = self
                    .values
                    .iter()
                    .filter(|(_, (v, _))| matches!(v, ValueName::Facts(_)))
                    .map(|(n, _)| *n)
                    .chain(["call", "now"])
                    .collect();
                let suggestion = nearest(&first.name, candidates);
                self.error(
                    Kind::Unknown {
                        what: What::Facts,
                        name: first.name.clone(),
                        suggestion,
                        scope: None,
                    },
                    first.span,
                );
                Term::Invalid
            }
        }
    }
}
