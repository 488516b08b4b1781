//! The Redis keys of one shared state (`{PREFIX}:NAME`): those every script names, built once
//! when the store connects; those named by a call, a caller or an event, built when asked.

/// The keys, each with the prefix's hash tag, so that all of them live on one slot of a cluster.
pub(super) struct Keys {
    /// `{PREFIX}`, hash tag and all.
    prefix: String,
    pub(super) version: String,
    pub(super) cursors: String,
    pub(super) weights: String,
    pub(super) reserved: String,
    pub(super) status: String,
    pub(super) calls: String,
    pub(super) day: String,
    pub(super) ended: String,
    pub(super) missed: String,
    pub(super) steps: String,
    pub(super) replicas: String,
}

impl Keys {
    pub(super) fn new(key_prefix: &str) -> Keys {
        let prefix = format!("{{{key_prefix}}}");
        let key = |name: &str| format!("{prefix}:{name}");
        Keys {
            version: key("version"),
            cursors: key("cursors"),
            weights: key("weights"),
            reserved: key("reserved"),
            status: key("status"),
            calls: key("calls"),
            day: key("day"),
            ended: key("ended"),
            missed: key("missed"),
            steps: key("steps"),
            replicas: key("replicas"),
            prefix,
        }
    }

    /// `{PREFIX}:` and the parts, in one allocation.
    pub(super) fn named(&self, parts: &[&str]) -> String {
        let len = parts.iter().map(|p| p.len()).sum::<usize>();
        let mut key = String::with_capacity(self.prefix.len() + 1 + len);
        key.push_str(&self.prefix);
        key.push(':');
        for part in parts {
            key.push_str(part);
        }
        key
    }

    /// A call's record.
    pub(super) fn record(&self, call_sid: &str) -> String {
        self.named(&["record:", call_sid])
    }

    /// The agent who last answered a caller (`agent|ms`).
    pub(super) fn last(&self, caller: &str) -> String {
        self.named(&["last:", caller])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_carry_the_prefix_as_a_hash_tag() {
        let keys = Keys::new("acme");
        assert_eq!(keys.version, "{acme}:version");
        assert_eq!(keys.steps, "{acme}:steps");
        assert_eq!(keys.record("CA1"), "{acme}:record:CA1");
        assert_eq!(keys.last(""), "{acme}:last:");
        assert_eq!(
            keys.named(&["event:", "CA1", "/missed/", "asha"]),
            "{acme}:event:CA1/missed/asha"
        );
    }
}
