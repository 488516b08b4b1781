//! Warnings for what nothing uses.

use super::*;

impl<'a> Checker<'a> {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn warn_unused(
        &mut self,
        enums: &[&ast::EnumDecl],
        sources: &[&ast::SourceDecl],
        facts: &[&ast::FactsDecl],
        agents: &[&ast::AgentDecl],
        teams: &[&ast::TeamDecl],
        maps: &[&ast::MapDecl],
        schedules: &[&ast::ScheduleDecl],
    ) {
        let warn = |this: &mut Self, what: What, ident: &ast::Ident| {
            this.diags.push(Diagnostic::new(
                Kind::Unused {
                    what,
                    name: ident.name.clone(),
                },
                ident.span,
            ));
        };
        for (i, e) in enums.iter().enumerate() {
            if !self.used.enums[i] {
                warn(self, What::Enum, &e.name);
            }
        }
        for (i, f) in facts.iter().enumerate() {
            if !self.used.facts[i] {
                warn(self, What::Facts, &f.name);
            }
        }
        for (i, s) in sources.iter().enumerate() {
            let groups: Vec<usize> = (0..self.facts_groups.len())
                .filter(|g| self.facts_groups[*g].source.index() == i)
                .collect();
            if groups.is_empty() {
                if !self.rejected_facts_sources.contains(&s.name.name) {
                    warn(self, What::Source, &s.name);
                }
            } else if !groups.iter().any(|g| self.used.facts[*g]) {
                self.diags.push(Diagnostic::new(
                    Kind::UnreadSource {
                        source: s.name.name.clone(),
                    },
                    s.name.span,
                ));
            }
        }
        if !self.used.any_agent {
            for (i, a) in agents.iter().enumerate() {
                if !self.used.agents[i] {
                    warn(self, What::Agent, &a.name);
                }
            }
        }
        for (i, t) in teams.iter().enumerate() {
            if !self.used.teams[i] {
                warn(self, What::Team, &t.name);
            }
        }
        for (i, m) in maps.iter().enumerate() {
            if !self.used.maps[i] {
                warn(self, What::Map, &m.name);
            }
        }
        for (i, s) in schedules.iter().enumerate() {
            if !self.used.schedules[i] {
                warn(self, What::Schedule, &s.name);
            }
        }
    }
}
