//! The rules worth trying for a call, lowest first: the dispatch index's rule lists for the
//! call's values, merged; in a small policy, each table read only once the walk reaches its
//! first rule.

use smallvec::SmallVec;

use super::{AgentStates, Context, Val};
use crate::check::model::Value;
use crate::compile::{DispatchKey, Subject, Table};

/// The sorted rule lists a call's values select, to merge: inline up to 8.
type Candidates<'a> = SmallVec<[&'a [u32]; 8]>;

/// Adds a rule list to merge; an empty one would only take a place.
fn push_nonempty<'a>(lists: &mut Candidates<'a>, list: &'a [u32]) {
    if !list.is_empty() {
        lists.push(list);
    }
}

impl<'a, A: AgentStates + ?Sized> Context<'a, A> {
    /// Gives `add` the rule lists `table` files under this call's value of its subject.
    fn table_lists(&self, table: &'a Table, mut add: impl FnMut(&'a [u32])) {
        let subject = match table.subject {
            Subject::Schedule(id) => {
                return add(&table.truth[usize::from(self.schedule_open(id))]);
            }
            Subject::Call(f) => Value::Call(f),
            Subject::Fact(group, field) => Value::Fact { group, field },
            Subject::Map(m) => Value::Map(m),
            Subject::Now(f) => Value::Now(f),
            Subject::LastAgent => Value::LastAgent,
        };
        let Some(value) = self.read(&subject) else {
            return;
        };
        let text = match &value {
            Val::Str(t) => Some(t.as_ref()),
            Val::Phone(t, true) => Some(*t),
            _ => None,
        };
        if let Some(text) = text {
            if let Some(list) = table.text.get(text) {
                add(list);
            }
            if table.has_prefixes {
                for list in table.prefixes.matches(text) {
                    add(list);
                }
            }
            return;
        }
        let key = match &value {
            Val::Num(n) => {
                if let Some(ranges) = &table.ranges {
                    add(ranges.lookup(*n));
                }
                DispatchKey::number(*n)
            }
            Val::Bool(b) => return add(&table.truth[usize::from(*b)]),
            Val::Enum(v) => {
                if let Some(list) = table.variants.get(*v as usize) {
                    add(list);
                }
                return;
            }
            Val::AgentRef(r) => match self.resolve_agent(r) {
                Some(a) => DispatchKey::Agent(a),
                None => return,
            },
            Val::Agent(a) => DispatchKey::Agent(*a),
            Val::Str(_) | Val::Phone(..) => return,
        };
        if let Some(list) = table.keys.get(&key) {
            add(list);
        }
    }
}

/// The rules to try for a small policy, as a set of bits, taken lowest first: merging the
/// index's lists is a bitwise or. A table's subject is read only once the walk reaches the
/// table's first rule, so a call decided by the first rules does not look up the values
/// only later rules test.
pub(super) struct RuleSet<'c, 'a, A: AgentStates + ?Sized> {
    ctx: &'c Context<'a, A>,
    pending: u128,
    /// The tables not read yet, in the order of their first rule.
    unread: &'a [Table],
}

/// The most rules a [`RuleSet`] holds.
pub(super) const SET_RULES: usize = 128;

impl<'c, 'a, A: AgentStates + ?Sized> RuleSet<'c, 'a, A> {
    pub(super) fn new(ctx: &'c Context<'a, A>, always: &'a [u32], tables: &'a [Table]) -> Self {
        RuleSet {
            ctx,
            pending: set_of(always),
            unread: tables,
        }
    }
}

/// The set of the rules in `list`.
#[inline]
fn set_of(list: &[u32]) -> u128 {
    list.iter()
        .fold(0, |set, &rule| set | 1u128.checked_shl(rule).unwrap_or(0))
}

impl<A: AgentStates + ?Sized> Iterator for RuleSet<'_, '_, A> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        loop {
            // 128 when the set is empty: any unread table comes first.
            let head = self.pending.trailing_zeros();
            match self.unread.split_first() {
                Some((table, unread)) if table.first_rule <= head => {
                    self.unread = unread;
                    let pending = &mut self.pending;
                    self.ctx.table_lists(table, |list| *pending |= set_of(list));
                }
                _ => {
                    if self.pending == 0 {
                        return None;
                    }
                    self.pending &= self.pending - 1;
                    return Some(head);
                }
            }
        }
    }
}

/// Merges the sorted rule lists of the dispatch index without duplicates, for a policy too
/// large for a [`RuleSet`]: every table is read first, and the lists are merged lazily.
/// Evaluation stops at the first rule that fires, so most of a long list is never read.
pub(super) struct Merge<'a> {
    lists: Candidates<'a>,
    last: Option<u32>,
}

impl<'a> Merge<'a> {
    pub(super) fn new(
        ctx: &Context<'a, impl AgentStates + ?Sized>,
        always: &'a [u32],
        tables: &'a [Table],
    ) -> Merge<'a> {
        let mut lists = Candidates::new();
        push_nonempty(&mut lists, always);
        for table in tables {
            ctx.table_lists(table, |list| push_nonempty(&mut lists, list));
        }
        Merge { lists, last: None }
    }
}

impl Iterator for Merge<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        loop {
            let (i, head) = self
                .lists
                .iter()
                .enumerate()
                .filter_map(|(i, l)| l.first().map(|&h| (i, h)))
                .min_by_key(|&(_, h)| h)?;
            self.lists[i] = &self.lists[i][1..];
            if self.last != Some(head) {
                self.last = Some(head);
                return Some(head);
            }
        }
    }
}
