//! Moves every span of a syntax tree item: an edited file's untouched items are reused at
//! their new place instead of being parsed again.

use super::ast::*;
use crate::policy_files::{FileId, Span};

/// Puts `item` in file `file`, `delta` bytes later (earlier when negative).
pub fn shift(item: &mut Item, file: FileId, delta: i64) {
    let mut move_span = |span: &mut Span| {
        span.file = file;
        span.start = (i64::from(span.start) + delta) as u32;
        span.end = (i64::from(span.end) + delta) as u32;
    };
    item.spans(&mut move_span);
}

/// Something holding spans, each of which `f` is given to change.
trait Spans {
    fn spans(&mut self, f: &mut dyn FnMut(&mut Span));
}

impl Spans for Span {
    fn spans(&mut self, f: &mut dyn FnMut(&mut Span)) {
        f(self)
    }
}

impl<T: Spans> Spans for Vec<T> {
    fn spans(&mut self, f: &mut dyn FnMut(&mut Span)) {
        for t in self {
            t.spans(f);
        }
    }
}

impl<T: Spans> Spans for Option<T> {
    fn spans(&mut self, f: &mut dyn FnMut(&mut Span)) {
        if let Some(t) = self {
            t.spans(f);
        }
    }
}

impl<T: Spans> Spans for Box<T> {
    fn spans(&mut self, f: &mut dyn FnMut(&mut Span)) {
        (**self).spans(f);
    }
}

impl<A: Spans, B: Spans> Spans for (A, B) {
    fn spans(&mut self, f: &mut dyn FnMut(&mut Span)) {
        self.0.spans(f);
        self.1.spans(f);
    }
}

impl Spans for (&'static str, Span) {
    fn spans(&mut self, f: &mut dyn FnMut(&mut Span)) {
        f(&mut self.1)
    }
}

impl Spans for (CompareOp, Span, Num) {
    fn spans(&mut self, f: &mut dyn FnMut(&mut Span)) {
        f(&mut self.1);
        self.2.spans(f);
    }
}

/// Implements [`Spans`] for a struct from the fields that hold spans.
macro_rules! fields {
    ($($ty:ty { $($field:ident),* })*) => {$(
        impl Spans for $ty {
            fn spans(&mut self, f: &mut dyn FnMut(&mut Span)) {
                $(self.$field.spans(f);)*
            }
        }
    )*};
}

fields! {
    Ident { span }
    Str { span }
    Num { span }
    Duration { span }
    Time { span }
    Date { span }
    Path { segments, span }
    Setting { value, span }
    EnumDecl { name, variants, span }
    SourceDecl { name, kind, location, settings, span }
    FactsDecl { name, source, fields, span }
    FactField { name, ty }
    AgentDecl { name, number, skills, languages, weight, repeated, span }
    Skill { name, level }
    TeamDecl { name, members, members_span, strategy, ring, repeated, span }
    MapDecl { name, input, entries, file, span }
    ScheduleDecl { name, lines, span }
    DaySpec { first, last }
    TimeRange { start, end, span }
    RuleDecl { name, when_span, condition, targets, span }
    OtherwiseDecl { targets, span }
}

impl Spans for Item {
    fn spans(&mut self, f: &mut dyn FnMut(&mut Span)) {
        match self {
            Item::Setting(x) => x.spans(f),
            Item::Enum(x) => x.spans(f),
            Item::Source(x) => x.spans(f),
            Item::Facts(x) => x.spans(f),
            Item::Agent(x) => x.spans(f),
            Item::Team(x) => x.spans(f),
            Item::Map(x) => x.spans(f),
            Item::Schedule(x) => x.spans(f),
            Item::Rule(x) => x.spans(f),
            Item::Otherwise(x) => x.spans(f),
        }
    }
}

impl Spans for SourceSetting {
    fn spans(&mut self, f: &mut dyn FnMut(&mut Span)) {
        match self {
            SourceSetting::Key(s) | SourceSetting::Query(s) => s.spans(f),
            SourceSetting::Timeout(d) => d.spans(f),
            SourceSetting::Cache(d, n) => {
                d.spans(f);
                n.spans(f);
            }
            SourceSetting::Header { name, value, span } => {
                name.spans(f);
                value.spans(f);
                f(span);
            }
        }
    }
}

impl Spans for HeaderValue {
    fn spans(&mut self, f: &mut dyn FnMut(&mut Span)) {
        match self {
            HeaderValue::Literal(s) | HeaderValue::Env(s) => s.spans(f),
        }
    }
}

impl Spans for ScheduleLine {
    fn spans(&mut self, f: &mut dyn FnMut(&mut Span)) {
        match self {
            ScheduleLine::Window { days, times, span } => {
                days.spans(f);
                times.spans(f);
                f(span);
            }
            ScheduleLine::Closed(dates) => dates.spans(f),
            ScheduleLine::ClosedFrom(s) | ScheduleLine::Timezone(s) => s.spans(f),
        }
    }
}

impl Spans for Expr {
    fn spans(&mut self, f: &mut dyn FnMut(&mut Span)) {
        match self {
            Expr::Not(e, s) => {
                e.spans(f);
                f(s);
            }
            Expr::And(es, s) | Expr::Or(es, s) => {
                es.spans(f);
                f(s);
            }
            Expr::Compare {
                left,
                op: _,
                op_span,
                right,
                span,
            } => {
                left.spans(f);
                f(op_span);
                right.spans(f);
                f(span);
            }
            Expr::In { left, list, span } => {
                left.spans(f);
                list.spans(f);
                f(span);
            }
            Expr::Exists(o, s) => {
                o.spans(f);
                f(s);
            }
            Expr::Value(o) => o.spans(f),
        }
    }
}

impl Spans for Operand {
    fn spans(&mut self, f: &mut dyn FnMut(&mut Span)) {
        match self {
            Operand::Path(p) => p.spans(f),
            Operand::Str(s) => s.spans(f),
            Operand::Num(n) => n.spans(f),
            Operand::Bool(_, s) => f(s),
        }
    }
}

impl Spans for Target {
    fn spans(&mut self, f: &mut dyn FnMut(&mut Span)) {
        match self {
            Target::Team(name, s) => {
                name.spans(f);
                f(s);
            }
            Target::Agent(path, s) => {
                path.spans(f);
                f(s);
            }
            Target::Agents {
                filter,
                using,
                ring,
                span,
            } => {
                filter.spans(f);
                using.spans(f);
                ring.spans(f);
                f(span);
            }
            Target::Number(n, s) | Target::Flow(n, s) => {
                n.spans(f);
                f(s);
            }
            Target::Queue {
                name,
                priority,
                span,
            } => {
                name.spans(f);
                priority.spans(f);
                f(span);
            }
        }
    }
}

impl Spans for AgentFilter {
    fn spans(&mut self, f: &mut dyn FnMut(&mut Span)) {
        match self {
            AgentFilter::Not(inner, s) => {
                inner.spans(f);
                f(s);
            }
            AgentFilter::And(list, s) | AgentFilter::Or(list, s) => {
                list.spans(f);
                f(s);
            }
            AgentFilter::Speaks(o, s) => {
                o.spans(f);
                f(s);
            }
            AgentFilter::Skill { skill, test, span } => {
                skill.spans(f);
                test.spans(f);
                f(span);
            }
            AgentFilter::InTeam(name, s) => {
                name.spans(f);
                f(s);
            }
        }
    }
}
