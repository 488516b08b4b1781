//! A prefix trie over phone-number text: longest-prefix match and every matching prefix.

/// Maps prefixes (`+9180`) to values. Numbers are short, so children are a small sorted list.
#[derive(Debug, Clone)]
pub struct PrefixTrie<T> {
    nodes: Vec<Node<T>>,
}

#[derive(Debug, Clone)]
struct Node<T> {
    children: Vec<(u8, u32)>,
    value: Option<T>,
}

impl<T> Default for PrefixTrie<T> {
    fn default() -> Self {
        PrefixTrie {
            nodes: vec![Node {
                children: Vec::new(),
                value: None,
            }],
        }
    }
}

impl<T> PrefixTrie<T> {
    /// The node for `prefix`, created with its path if absent.
    fn node(&mut self, prefix: &str) -> usize {
        let mut node = 0usize;
        for b in prefix.bytes() {
            node = match self.nodes[node]
                .children
                .binary_search_by_key(&b, |(c, _)| *c)
            {
                Ok(i) => self.nodes[node].children[i].1 as usize,
                Err(i) => {
                    let id = self.nodes.len();
                    self.nodes.push(Node {
                        children: Vec::new(),
                        value: None,
                    });
                    self.nodes[node].children.insert(i, (b, id as u32));
                    id
                }
            };
        }
        node
    }

    /// The value at `prefix`, created with `make` if absent.
    pub fn entry(&mut self, prefix: &str, make: impl FnOnce() -> T) -> &mut T {
        let node = self.node(prefix);
        self.nodes[node].value.get_or_insert_with(make)
    }

    /// Every prefix with its value, in byte order of the prefixes.
    pub fn entries(&self) -> Vec<(String, &T)> {
        let mut out = Vec::new();
        let mut stack: Vec<(usize, Vec<u8>)> = vec![(0, Vec::new())];
        while let Some((node, prefix)) = stack.pop() {
            if let Some(v) = &self.nodes[node].value {
                out.push((String::from_utf8_lossy(&prefix).into_owned(), v));
            }
            for &(b, child) in self.nodes[node].children.iter().rev() {
                let mut longer = prefix.clone();
                longer.push(b);
                stack.push((child as usize, longer));
            }
        }
        out
    }

    pub fn insert(&mut self, prefix: &str, value: T) {
        let node = self.node(prefix);
        self.nodes[node].value = Some(value);
    }

    /// Values of every prefix of `text` that is in the trie, shortest first.
    pub fn matches<'a>(&'a self, text: &str) -> impl Iterator<Item = &'a T> + 'a {
        let bytes: Vec<u8> = text.bytes().collect();
        let mut node = Some(0usize);
        let mut i = 0;
        std::iter::from_fn(move || {
            loop {
                let n = node?;
                let value = self.nodes[n].value.as_ref();
                node = bytes.get(i).and_then(|b| {
                    let children = &self.nodes[n].children;
                    children
                        .binary_search_by_key(b, |(c, _)| *c)
                        .ok()
                        .map(|j| children[j].1 as usize)
                });
                i += 1;
                if value.is_some() {
                    return value;
                }
            }
        })
    }

    /// The value of the longest prefix of `text` in the trie.
    pub fn longest(&self, text: &str) -> Option<&T> {
        let mut node = 0usize;
        let mut best = self.nodes[0].value.as_ref();
        for b in text.bytes() {
            let children = &self.nodes[node].children;
            match children.binary_search_by_key(&b, |(c, _)| *c) {
                Ok(j) => node = children[j].1 as usize,
                Err(_) => break,
            }
            if let Some(v) = self.nodes[node].value.as_ref() {
                best = Some(v);
            }
        }
        best
    }

    /// Bytes held, for memory reports.
    pub fn heap_size(&self) -> usize {
        self.nodes.capacity() * std::mem::size_of::<Node<T>>()
            + self
                .nodes
                .iter()
                .map(|n| n.children.capacity() * 8)
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_its_entries_in_order() {
        let mut t = PrefixTrie::default();
        t.insert("+9180", 1);
        t.insert("+91", 0);
        t.insert("+9122", 2);
        let entries: Vec<(String, i32)> = t.entries().into_iter().map(|(p, v)| (p, *v)).collect();
        assert_eq!(
            entries,
            [("+91".into(), 0), ("+9122".into(), 2), ("+9180".into(), 1)]
        );
    }

    #[test]
    fn longest_prefix_wins() {
        let mut t = PrefixTrie::default();
        t.insert("+9180", "bangalore");
        t.insert("+91804", "bangalore-north");
        t.insert("+9122", "mumbai");
        assert_eq!(t.longest("+918041234567"), Some(&"bangalore-north"));
        assert_eq!(t.longest("+918012345678"), Some(&"bangalore"));
        assert_eq!(t.longest("+919812345678"), None);
        let all: Vec<_> = t.matches("+918041234567").collect();
        assert_eq!(all, [&"bangalore", &"bangalore-north"]);
    }
}
