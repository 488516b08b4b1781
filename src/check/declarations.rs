//! Names and declarations: enums, sources and their settings, facts groups, agents, teams
//! and maps, checked and declared.

use super::*;

impl<'a> Checker<'a> {
    pub(super) fn enum_def(&mut self, e: &'a ast::EnumDecl) -> EnumDef {
        let mut variants = Names::new(What::Variant);
        for v in &e.variants {
            variants.declare(v, &mut self.diags);
        }
        let mut names: Vec<(usize, String)> = variants
            .index
            .iter()
            .map(|(n, i)| (*i, n.to_string()))
            .collect();
        names.sort();
        EnumDef {
            name: e.name.name.clone(),
            variants: names.into_iter().map(|(_, n)| n).collect(),
        }
    }

    pub(super) fn source_def(&mut self, s: &'a ast::SourceDecl) -> SourceDef {
        let kind = SourceKind::ALL
            .iter()
            .find(|(n, _)| *n == s.kind.name)
            .map(|(_, k)| *k);
        let known_kind = kind.is_some();
        let kind = match kind {
            Some(k) => k,
            None => {
                let suggestion = nearest(&s.kind.name, SourceKind::ALL.iter().map(|(n, _)| *n));
                self.error(
                    Kind::Unknown {
                        what: What::SourceKind,
                        name: s.kind.name.clone(),
                        suggestion,
                        scope: None,
                    },
                    s.kind.span,
                );
                SourceKind::Http
            }
        };
        let mut def = SourceDef {
            name: s.name.name.clone(),
            kind,
            location: s.location.value.clone(),
            key: None,
            timeout: None,
            cache: None,
            cache_max: None,
            headers: Vec::new(),
            query: None,
            span: s.name.span,
        };
        let mut seen: HashMap<&str, Span> = HashMap::new();
        for setting in &s.settings {
            let keyword = setting.keyword();
            let allowed = !known_kind
                || match kind {
                    SourceKind::Http => matches!(keyword, "timeout" | "cache" | "header"),
                    SourceKind::Csv | SourceKind::Json | SourceKind::Yaml => keyword == "key",
                    SourceKind::Sql | SourceKind::Sqlite => {
                        matches!(keyword, "timeout" | "cache" | "query")
                    }
                };
            if !allowed {
                self.error(
                    Kind::SettingNotAllowed {
                        setting: keyword.into(),
                        kind: kind.name().into(),
                    },
                    setting.span(),
                );
                continue;
            }
            if keyword != "header"
                && let Some(first) = seen.insert(keyword, setting.span())
            {
                self.diags.push(
                    Diagnostic::new(
                        Kind::DuplicateSetting {
                            setting: keyword.into(),
                        },
                        setting.span(),
                    )
                    .with_related(first, "first set here"),
                );
            }
            match setting {
                ast::SourceSetting::Key(k) => def.key = Some(k.value.clone()),
                ast::SourceSetting::Query(q) => def.query = Some(q.value.clone()),
                ast::SourceSetting::Timeout(d) => def.timeout = self.duration(d),
                ast::SourceSetting::Cache(d, max) => {
                    def.cache = self.duration(d);
                    def.cache_max = max
                        .as_ref()
                        .and_then(|n| self.count(n, "`cache … max`", 1, 10_000_000));
                }
                ast::SourceSetting::Header { name, value, .. } => {
                    let value = match value {
                        ast::HeaderValue::Literal(s) => HeaderValue::Literal(s.value.clone()),
                        ast::HeaderValue::Env(s) => HeaderValue::Env(s.value.clone()),
                    };
                    def.headers.push((name.value.clone(), value));
                }
            }
        }
        if kind.is_file() && def.key.is_none() {
            self.error(
                Kind::MissingKey {
                    source: def.name.clone(),
                    kind: kind.name().into(),
                },
                s.name.span,
            );
        }
        if matches!(kind, SourceKind::Sql | SourceKind::Sqlite) && def.query.is_none() {
            self.error(
                Kind::MissingQuery {
                    source: def.name.clone(),
                },
                s.name.span,
            );
        }
        if kind == SourceKind::Http {
            self.check_placeholders(&s.location);
        }
        def
    }

    /// Every `{…}` in an http source's URL must name a call field.
    pub(super) fn check_placeholders(&mut self, url: &ast::Str) {
        let raw = &url.value;
        let mut rest = raw.as_str();
        let mut offset = 0;
        while let Some(open) = rest.find('{') {
            let Some(close) = rest[open..].find('}') else {
                break;
            };
            let inner = &rest[open + 1..open + close];
            let field = inner.strip_prefix("call.");
            let known = field.is_some_and(|f| CallField::ALL.iter().any(|(n, _, _)| *n == f));
            if !known {
                // Spans are only exact when the string has no escapes; else the whole string.
                let span = if url.span.len() == raw.len() + 2 {
                    let start = url.span.start as usize + 1 + offset + open;
                    Span::new(url.span.file, start, start + close + 1)
                } else {
                    url.span
                };
                self.error(
                    Kind::BadPlaceholder {
                        text: format!("{{{inner}}}"),
                    },
                    span,
                );
            }
            offset += open + close + 1;
            rest = &rest[open + close + 1..];
        }
    }

    pub(super) fn duration(&mut self, d: &ast::Duration) -> Option<Duration> {
        let parsed = parse_duration(&d.text);
        if parsed.is_none() {
            self.error(
                Kind::InvalidNumber {
                    what: "duration",
                    text: d.text.clone(),
                    expected: "a duration such as `800ms` or `5m`",
                },
                d.span,
            );
        }
        parsed
    }

    pub(super) fn facts_group(&mut self, f: &'a ast::FactsDecl) -> FactsGroup {
        let source = match self.sources.get(&f.source.name) {
            Some(id) => id,
            None => {
                let suggestion = self.sources.nearest(&f.source.name);
                // Counted as reading the source it most likely names, so it is not unused.
                let meant = suggestion.as_deref().and_then(|s| self.sources.get(s));
                self.error(
                    Kind::Unknown {
                        what: What::Source,
                        name: f.source.name.clone(),
                        suggestion,
                        scope: None,
                    },
                    f.source.span,
                );
                meant.unwrap_or(usize::MAX)
            }
        };
        let mut names = Names::new(What::Field);
        let mut fields = Vec::new();
        for field in &f.fields {
            if names.declare(&field.name, &mut self.diags).is_none() {
                continue;
            }
            let ty = self.field_type(&field.ty);
            fields.push(FactField {
                name: field.name.name.clone(),
                ty,
            });
        }
        FactsGroup {
            name: f.name.name.clone(),
            source: SourceId::new(source),
            fields,
        }
    }

    pub(super) fn field_type(&mut self, ident: &ast::Ident) -> Type {
        if let Some((_, ty)) = BUILTIN_TYPES.iter().find(|(n, _)| *n == ident.name) {
            return *ty;
        }
        if let Some(id) = self.enums.get(&ident.name) {
            self.used.enums[id] = true;
            return Type::Enum(EnumId::new(id));
        }
        let candidates: Vec<&str> = BUILTIN_TYPES
            .iter()
            .map(|(n, _)| *n)
            .chain(self.enums.index.keys().copied())
            .collect();
        let suggestion = nearest(&ident.name, candidates);
        if let Some(id) = suggestion.as_deref().and_then(|s| self.enums.get(s)) {
            self.used.enums[id] = true;
        }
        // Declared enums are capitalised by convention: `Teir` is more likely an enum.
        let what = if ident.name.starts_with(char::is_uppercase) {
            What::Enum
        } else {
            What::Type
        };
        self.error(
            Kind::Unknown {
                what,
                name: ident.name.clone(),
                suggestion,
                scope: None,
            },
            ident.span,
        );
        Type::String
    }

    pub(super) fn agent_def(&mut self, a: &'a ast::AgentDecl) -> AgentDef {
        for (clause, span) in &a.repeated {
            self.error(
                Kind::DuplicateSetting {
                    setting: (*clause).into(),
                },
                *span,
            );
        }
        let number = match phone::normalize(&a.number.value, self.country) {
            Some(n) => n,
            None => {
                self.error(
                    Kind::InvalidPhone {
                        text: a.number.value.clone(),
                    },
                    a.number.span,
                );
                a.number.value.clone()
            }
        };
        let mut skills = Vec::new();
        let mut skill_names = Names::new(What::Skill);
        for skill in a.skills.iter().flatten() {
            if skill_names.declare(&skill.name, &mut self.diags).is_none() {
                continue;
            }
            let level = match &skill.level {
                Some(n) => self
                    .count(n, "a skill level", 0, 100)
                    .map_or(1.0, f64::from),
                None => 1.0,
            };
            skills.push((skill.name.name.clone(), level));
        }
        let mut languages: Vec<String> = Vec::new();
        for language in a.languages.iter().flatten() {
            if languages.contains(&language.name) {
                self.error(
                    Kind::Duplicate {
                        what: What::Language,
                        name: language.name.clone(),
                    },
                    language.span,
                );
            } else {
                languages.push(language.name.clone());
            }
        }
        let weight = a
            .weight
            .as_ref()
            .and_then(|w| self.count(w, "a weight", 1, 1_000))
            .unwrap_or(1);
        AgentDef {
            name: a.name.name.clone(),
            number,
            skills,
            languages,
            weight,
        }
    }

    pub(super) fn check_agent_numbers(&mut self, agents: &[&'a ast::AgentDecl]) {
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (i, def) in self.agent_defs.iter().enumerate() {
            if let Some(&first) = seen.get(&def.number) {
                self.diags.push(
                    Diagnostic::new(
                        Kind::SameNumber {
                            agent: def.name.clone(),
                            other: self.agent_defs[first].name.clone(),
                        },
                        agents[i].number.span,
                    )
                    .with_related(agents[first].number.span, "first used here"),
                );
            } else {
                seen.insert(def.number.clone(), i);
            }
        }
    }

    /// A whole number in `min..=max`.
    pub(super) fn count(
        &mut self,
        n: &ast::Num,
        what: &'static str,
        min: u32,
        max: u32,
    ) -> Option<u32> {
        let value = n.text.replace('_', "").parse::<u32>().ok();
        match value {
            Some(v) if (min..=max).contains(&v) => Some(v),
            _ => {
                let expected = match (what, min) {
                    ("a weight", _) => "a whole number from 1 to 1000",
                    ("a skill level", _) => "a whole number from 0 to 100",
                    ("`ring`", _) => "a whole number from 1 to 100",
                    ("`cache … max`", _) => "a whole number from 1 to 10000000",
                    _ => "a whole number from 0 to 1000000",
                };
                self.error(
                    Kind::InvalidNumber {
                        what,
                        text: n.text.clone(),
                        expected,
                    },
                    n.span,
                );
                None
            }
        }
    }

    pub(super) fn strategy(&mut self, ident: &ast::Ident) -> Strategy {
        Strategy::from_name(&ident.name).unwrap_or_else(|| {
            let suggestion = nearest(&ident.name, crate::vocabulary::Strategy::names());
            self.error(
                Kind::Unknown {
                    what: What::Strategy,
                    name: ident.name.clone(),
                    suggestion,
                    scope: None,
                },
                ident.span,
            );
            Strategy::Sequential
        })
    }

    pub(super) fn team_def(&mut self, t: &'a ast::TeamDecl) -> TeamDef {
        for (clause, span) in &t.repeated {
            self.error(
                Kind::DuplicateSetting {
                    setting: (*clause).into(),
                },
                *span,
            );
        }
        if t.members.is_empty() {
            self.error(
                Kind::EmptyTeam {
                    team: t.name.name.clone(),
                },
                t.members_span,
            );
        }
        let mut members = Vec::new();
        for m in &t.members {
            let Some(id) = self.agent(m) else { continue };
            if members.contains(&id) {
                self.error(
                    Kind::DuplicateMember {
                        agent: m.name.clone(),
                        team: t.name.name.clone(),
                    },
                    m.span,
                );
            } else {
                members.push(id);
            }
        }
        let strategy = t
            .strategy
            .as_ref()
            .map_or(Strategy::Sequential, |s| self.strategy(s));
        let ring = t
            .ring
            .as_ref()
            .and_then(|r| self.count(r, "`ring`", 1, 100));
        TeamDef {
            name: t.name.name.clone(),
            members,
            strategy,
            ring,
        }
    }

    /// Resolves a declared agent by name, marking it used.
    pub(super) fn agent(&mut self, ident: &ast::Ident) -> Option<AgentId> {
        match self.agents.get(&ident.name) {
            Some(id) => {
                self.used.agents[id] = true;
                Some(AgentId::new(id))
            }
            None => {
                let suggestion = self.agents.nearest(&ident.name);
                // A misspelt reference still means to use what it most likely names.
                if let Some(id) = suggestion.as_deref().and_then(|s| self.agents.get(s)) {
                    self.used.agents[id] = true;
                }
                self.error(
                    Kind::Unknown {
                        what: What::Agent,
                        name: ident.name.clone(),
                        suggestion,
                        scope: None,
                    },
                    ident.span,
                );
                None
            }
        }
    }

    pub(super) fn team(&mut self, ident: &ast::Ident) -> Option<TeamId> {
        match self.teams.get(&ident.name) {
            Some(id) => {
                self.used.teams[id] = true;
                Some(TeamId::new(id))
            }
            None => {
                let suggestion = self.teams.nearest(&ident.name);
                // A misspelt reference still means to use what it most likely names.
                if let Some(id) = suggestion.as_deref().and_then(|s| self.teams.get(s)) {
                    self.used.teams[id] = true;
                }
                self.error(
                    Kind::Unknown {
                        what: What::Team,
                        name: ident.name.clone(),
                        suggestion,
                        scope: None,
                    },
                    ident.span,
                );
                None
            }
        }
    }

    pub(super) fn map_def(&mut self, m: &'a ast::MapDecl) -> MapDef {
        let input = match self.term(&m.input) {
            Term::Value(v, Type::Phone | Type::String) => v,
            Term::Value(_, ty) => {
                let found = type_name(ty, &self.enum_defs);
                self.error(Kind::NotText { found }, m.input.span());
                Value::Call(CallField::From)
            }
            Term::Text(_) | Term::Schedule(_) => {
                self.error(
                    Kind::NotText {
                        found: "literal".into(),
                    },
                    m.input.span(),
                );
                Value::Call(CallField::From)
            }
            Term::Bare(b) => {
                self.unknown_value(b);
                Value::Call(CallField::From)
            }
            Term::Invalid => Value::Call(CallField::From),
        };
        let mut entries: Vec<(String, String)> = Vec::new();
        let mut spans: HashMap<String, Span> = HashMap::new();
        for (prefix, value) in &m.entries {
            let Some(normal) = phone::normalize_prefix(&prefix.value, self.country) else {
                self.error(
                    Kind::InvalidPrefix {
                        text: prefix.value.clone(),
                    },
                    prefix.span,
                );
                continue;
            };
            if let Some(first) = spans.get(&normal) {
                self.diags.push(
                    Diagnostic::new(
                        Kind::DuplicatePrefix {
                            prefix: normal.clone(),
                        },
                        prefix.span,
                    )
                    .with_related(*first, "first listed here"),
                );
                continue;
            }
            spans.insert(normal.clone(), prefix.span);
            entries.push((normal, value.value.clone()));
        }
        MapDef {
            name: m.name.name.clone(),
            input,
            entries,
            file: m.file.as_ref().map(|f| DataFileRef {
                path: f.value.clone(),
                span: f.span,
            }),
        }
    }
}
