//! Finds the known name nearest to a misspelt one, for "did you mean" help.

/// The candidate closest to `name`, if one is close enough to be a likely typo.
pub fn nearest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let lower = name.to_lowercase();
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
        if candidate == name {
            continue;
        }
        let distance = if candidate.to_lowercase() == lower {
            0
        } else {
            edit_distance(&lower, &candidate.to_lowercase())
        };
        let limit = (name.chars().count().max(candidate.chars().count()) / 3).max(1);
        // Ties go to the longer name (a letter left out is the likeliest slip: `callr` is
        // `caller` rather than `call`), then to the first in alphabetical order: candidates
        // may come from a hash map, and the same policy must always get the same help.
        let rank = |d: usize, c: &str| (d, std::cmp::Reverse(c.chars().count()), c.to_string());
        if distance <= limit && best.is_none_or(|(d, c)| rank(distance, candidate) < rank(d, c)) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, c)| c.to_string())
}

/// Levenshtein distance, counting an adjacent transposition as one edit.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // Long names are never typos of each other worth suggesting; keep this cheap on 1 MB input.
    if a.len().abs_diff(b.len()) > 3 || a.len() > 64 || b.len() > 64 {
        return usize::MAX;
    }
    let mut prev2 = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                cur[j] = cur[j].min(prev2[j - 2] + 1);
            }
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_go_the_same_way_whatever_the_order() {
        // Found by `routec fmt`'s self-check: a hash map's order decided the help.
        assert_eq!(nearest("b", ["bb", "a"]).as_deref(), Some("bb"));
        assert_eq!(nearest("b", ["a", "bb"]).as_deref(), Some("bb"));
        assert_eq!(
            nearest("callr", ["call", "caller"]).as_deref(),
            Some("caller")
        );
        assert_eq!(
            nearest("callr", ["caller", "call"]).as_deref(),
            Some("caller")
        );
    }

    #[test]
    fn suggests_typos() {
        assert_eq!(nearest("rvi", ["ravi", "asha"]).as_deref(), Some("ravi"));
        assert_eq!(
            nearest("teir", ["tier", "language"]).as_deref(),
            Some("tier")
        );
        assert_eq!(nearest("TECH_l1", ["TECH_L1"]).as_deref(), Some("TECH_L1"));
        assert_eq!(nearest("gold", ["standard", "premium", "enterprise"]), None);
    }
}
