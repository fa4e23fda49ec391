//! A set of `u64` keys kept as a few sorted runs (a tiny log-structured merge): 8 bytes per key,
//! batch inserts in O(n log n), lookups by binary search in each run.

/// Sorted runs of unique keys; no key appears in two runs.
#[derive(Debug, Default, Clone)]
pub(crate) struct KeySet {
    runs: Vec<Vec<u64>>,
}

impl KeySet {
    /// True when `key` is in the set.
    pub(crate) fn contains(&self, key: u64) -> bool {
        self.runs.iter().any(|r| r.binary_search(&key).is_ok())
    }

    /// Adds keys that are sorted, unique and not yet in the set.
    pub(crate) fn insert_new_sorted(&mut self, keys: Vec<u64>) {
        if keys.is_empty() {
            return;
        }
        self.runs.push(keys);
        // Merge while the newest run is at least half the size of the one before it, which keeps
        // the number of runs logarithmic in the number of keys.
        while self.runs.len() >= 2 {
            let n = self.runs.len();
            if self.runs[n - 1].len() * 2 < self.runs[n - 2].len() {
                break;
            }
            let (b, a) = (
                self.runs.pop().unwrap_or_default(),
                self.runs.pop().unwrap_or_default(),
            );
            self.runs.push(merge(&a, &b));
        }
    }

    /// Number of keys.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.runs.iter().map(Vec::len).sum()
    }

    /// Heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.runs.iter().map(|r| r.capacity() * 8).sum::<usize>() + self.runs.capacity() * 24
    }
}

fn merge(a: &[u64], b: &[u64]) -> Vec<u64> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i] <= b[j] {
            out.push(a[i]);
            i += 1;
        } else {
            out.push(b[j]);
            j += 1;
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_batches_stay_findable_and_few_runs() {
        let mut set = KeySet::default();
        let mut next = 0u64;
        for batch in 0..200 {
            let keys: Vec<u64> = (0..(batch % 7 + 1) * 10)
                .map(|_| {
                    next += 3;
                    next
                })
                .collect();
            set.insert_new_sorted(keys);
        }
        assert!(set.runs.len() <= 16, "{} runs", set.runs.len());
        assert!(set.contains(3) && set.contains(next) && !set.contains(4));
        assert_eq!(set.len() as u64, next / 3);
    }
}
