//! A set of `u64` keys kept as a few sorted runs (a tiny log-structured merge). Each run is
//! delta-encoded in blocks of 64 keys (the block's first key raw, then varint gaps), so
//! transaction ids — which arrive nearly sequential — cost one or two bytes each. Lookups
//! binary-search the block starts and decode one block.

const BLOCK: usize = 64;

/// One sorted run of unique keys, block-compressed.
#[derive(Debug, Default, Clone)]
struct Run {
    firsts: Vec<u64>,
    starts: Vec<u32>,
    bytes: Vec<u8>,
    len: usize,
}

impl Run {
    fn encode(keys: &[u64]) -> Run {
        let mut run = Run { len: keys.len(), ..Default::default() };
        for block in keys.chunks(BLOCK) {
            run.firsts.push(block[0]);
            run.starts.push(run.bytes.len() as u32);
            for w in block.windows(2) {
                let mut gap = w[1] - w[0];
                while gap >= 0x80 {
                    run.bytes.push((gap as u8) | 0x80);
                    gap >>= 7;
                }
                run.bytes.push(gap as u8);
            }
        }
        run.firsts.shrink_to_fit();
        run.starts.shrink_to_fit();
        run.bytes.shrink_to_fit();
        run
    }

    /// The keys of block `b`, in order.
    fn block(&self, b: usize) -> impl Iterator<Item = u64> + '_ {
        let end = self.starts.get(b + 1).map_or(self.bytes.len(), |s| *s as usize);
        let mut pos = self.starts[b] as usize;
        let mut cur = self.firsts[b];
        std::iter::once(cur).chain(std::iter::from_fn(move || {
            if pos >= end {
                return None;
            }
            let (mut gap, mut shift) = (0u64, 0);
            loop {
                let byte = self.bytes[pos];
                pos += 1;
                gap |= ((byte & 0x7F) as u64) << shift;
                shift += 7;
                if byte & 0x80 == 0 {
                    break;
                }
            }
            cur += gap;
            Some(cur)
        }))
    }

    fn contains(&self, key: u64) -> bool {
        let b = self.firsts.partition_point(|&f| f <= key);
        b > 0 && self.block(b - 1).take_while(|&k| k <= key).any(|k| k == key)
    }

    fn keys(&self) -> impl Iterator<Item = u64> + '_ {
        (0..self.firsts.len()).flat_map(|b| self.block(b))
    }

    fn heap_bytes(&self) -> usize {
        self.firsts.capacity() * 8 + self.starts.capacity() * 4 + self.bytes.capacity()
    }
}

/// Sorted runs of unique keys; no key appears in two runs.
#[derive(Debug, Default, Clone)]
pub(crate) struct KeySet {
    runs: Vec<Run>,
}

impl KeySet {
    /// True when `key` is in the set.
    pub(crate) fn contains(&self, key: u64) -> bool {
        self.runs.iter().any(|r| r.contains(key))
    }

    /// Adds keys that are sorted, unique and not yet in the set.
    pub(crate) fn insert_new_sorted(&mut self, keys: Vec<u64>) {
        if keys.is_empty() {
            return;
        }
        self.runs.push(Run::encode(&keys));
        // Merge while the newest run is at least half the size of the one before it, which keeps
        // the number of runs logarithmic in the number of keys.
        while self.runs.len() >= 2 {
            let n = self.runs.len();
            if self.runs[n - 1].len * 2 < self.runs[n - 2].len {
                break;
            }
            let (b, a) = (self.runs.pop().unwrap_or_default(), self.runs.pop().unwrap_or_default());
            self.runs.push(Run::encode(&merge(a.keys(), b.keys())));
        }
    }

    /// Number of keys.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.runs.iter().map(|r| r.len).sum()
    }

    /// Heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.runs.iter().map(Run::heap_bytes).sum::<usize>()
            + self.runs.capacity() * std::mem::size_of::<Run>()
    }
}

fn merge(a: impl Iterator<Item = u64>, b: impl Iterator<Item = u64>) -> Vec<u64> {
    let (mut a, mut b) = (a.peekable(), b.peekable());
    let mut out = Vec::new();
    loop {
        let next = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) if x <= y => a.next(),
            (_, Some(_)) => b.next(),
            (Some(_), None) => a.next(),
            (None, None) => break,
        };
        out.extend(next);
    }
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
        assert!(set.contains(3) && set.contains(next) && !set.contains(4) && !set.contains(0));
        assert_eq!(set.len() as u64, next / 3);
        assert!(set.heap_bytes() < set.len() * 3, "{} bytes for {} keys", set.heap_bytes(), set.len());
    }

    #[test]
    fn sparse_and_huge_gaps() {
        let keys: Vec<u64> = vec![1, 2, 1 << 40, (1 << 62) | 5, u64::MAX - 1];
        let mut set = KeySet::default();
        set.insert_new_sorted(keys.clone());
        for k in &keys {
            assert!(set.contains(*k));
        }
        assert!(!set.contains(3) && !set.contains(u64::MAX) && !set.contains((1 << 62) | 4));
    }
}
