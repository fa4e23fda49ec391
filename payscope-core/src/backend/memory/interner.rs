//! Dictionary encoding: each distinct value is stored once and referred to by a `u32` code.

use std::hash::{BuildHasher, Hash};

use hashbrown::HashTable;
use rustc_hash::FxBuildHasher;

/// Values stored once in a vector, found again through a hash table of indices into it.
#[derive(Debug, Clone)]
pub(crate) struct Interner<T> {
    values: Vec<T>,
    index: HashTable<u32>,
}

impl<T> Default for Interner<T> {
    fn default() -> Self {
        Self { values: Vec::new(), index: HashTable::new() }
    }
}

impl<T: Hash + Eq> Interner<T> {
    fn hash_of<Q: Hash + ?Sized>(v: &Q) -> u64 {
        FxBuildHasher.hash_one(v)
    }

    /// The code of `value`, adding it when new.
    pub(crate) fn intern(&mut self, value: T) -> u32 {
        let h = Self::hash_of(&value);
        let values = &self.values;
        if let Some(&i) = self.index.find(h, |&i| values[i as usize] == value) {
            return i;
        }
        let i = self.values.len() as u32;
        self.values.push(value);
        let values = &self.values;
        self.index.insert_unique(h, i, |&j| Self::hash_of(&values[j as usize]));
        i
    }

    /// The code of a value equal to `value`, if present.
    pub(crate) fn find<Q>(&self, value: &Q) -> Option<u32>
    where
        T: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let h = Self::hash_of(value);
        self.index.find(h, |&i| self.values[i as usize].borrow() == value).copied()
    }

    /// The value with `code`.
    pub(crate) fn get(&self, code: u32) -> Option<&T> {
        self.values.get(code as usize)
    }

    /// All values, by code.
    pub(crate) fn values(&self) -> &[T] {
        &self.values
    }

    /// Heap bytes of the vector and table (not of heap data the values own).
    pub(crate) fn heap_bytes(&self) -> usize {
        self.values.capacity() * std::mem::size_of::<T>() + self.index.capacity() * 5
    }
}

impl Interner<Box<str>> {
    /// The code of `s`, adding it when new, without allocating for known strings.
    pub(crate) fn intern_str(&mut self, s: &str) -> u32 {
        match self.find(s) {
            Some(i) => i,
            None => self.intern(s.into()),
        }
    }

    /// Heap bytes including the strings themselves.
    pub(crate) fn heap_bytes_deep(&self) -> usize {
        self.heap_bytes() + self.values.iter().map(|s| s.len()).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable_and_dense() {
        let mut i: Interner<Box<str>> = Interner::default();
        assert_eq!(i.intern_str("visa"), 0);
        assert_eq!(i.intern_str("mastercard"), 1);
        assert_eq!(i.intern_str("visa"), 0);
        assert_eq!(i.find("mastercard"), Some(1));
        assert_eq!(i.find("amex"), None);
        assert_eq!(i.get(1).map(|s| &**s), Some("mastercard"));
        for n in 0..10_000 {
            i.intern_str(&format!("m{n}"));
        }
        assert_eq!(i.find("m9999"), Some(10_001));
    }
}
