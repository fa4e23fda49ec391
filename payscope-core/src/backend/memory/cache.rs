//! The in-process answer cache: bounded, with per-entry expiry.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::bank::{BankContext, BankId};
use crate::error::Result;
use crate::store::cache::{AnswerCache, CacheKey};

type Key = (BankId, String);

#[derive(Debug, Default)]
struct State {
    entries: HashMap<Key, (Instant, String)>,
    order: VecDeque<Key>,
}

/// At most `capacity` answers; the oldest is evicted first.
#[derive(Debug)]
pub struct MemoryCache {
    state: Mutex<State>,
    capacity: usize,
}

impl MemoryCache {
    /// A cache of at most `capacity` answers.
    pub fn new(capacity: usize) -> Self {
        MemoryCache { state: Mutex::new(State::default()), capacity }
    }
}

#[async_trait]
impl AnswerCache for MemoryCache {
    async fn get(&self, ctx: &BankContext, key: &CacheKey) -> Result<Option<String>> {
        let k = (ctx.bank_id(), key.digest());
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match s.entries.get(&k) {
            Some((expiry, v)) if *expiry > Instant::now() => Ok(Some(v.clone())),
            Some(_) => {
                s.entries.remove(&k);
                Ok(None)
            }
            None => Ok(None),
        }
    }

    async fn put(&self, ctx: &BankContext, key: &CacheKey, answer: String, ttl: Duration) -> Result<()> {
        if ttl.is_zero() || self.capacity == 0 {
            return Ok(());
        }
        let k = (ctx.bank_id(), key.digest());
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if s.entries.insert(k.clone(), (Instant::now() + ttl, answer)).is_none() {
            s.order.push_back(k);
        }
        while s.entries.len() > self.capacity {
            match s.order.pop_front() {
                Some(old) => {
                    s.entries.remove(&old);
                }
                None => break,
            }
        }
        Ok(())
    }
}
