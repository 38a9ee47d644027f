//! A read-through cache of committed values, invalidated by the writer.
//!
//! A fill races with commits: a reader may fetch a value just before a commit changes it. The
//! writer bumps a generation and removes the written keys under the cache's lock; a reader fills
//! only if the generation is still the one it saw before its read, checked under the same lock.
//! So a stale value is either removed by the writer or never inserted.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// Most cached keys; the cache empties itself when full.
const LIMIT: usize = 100_000;

type Entry = Option<Arc<[u8]>>;

pub(crate) struct ReadCache {
    inner: RwLock<Inner>,
    /// `Inner::generation`, for readers that only ask whether anything was written since they
    /// last looked (a load, not a lock every other reader's core must give up).
    generation: AtomicU64,
    /// Off while the cache cannot learn of other nodes' writes (see `pg`): nothing is served
    /// from it or put in it.
    enabled: AtomicBool,
}

impl Default for ReadCache {
    fn default() -> Self {
        Self { inner: RwLock::default(), generation: AtomicU64::new(0), enabled: AtomicBool::new(true) }
    }
}

#[derive(Default)]
struct Inner {
    generation: u64,
    map: HashMap<Vec<u8>, Entry>,
}

impl ReadCache {
    /// `Some(entry)` on a hit (the entry itself may record that the key is absent).
    pub(crate) fn get(&self, key: &[u8]) -> Option<Entry> {
        if !self.enabled.load(Ordering::Acquire) {
            return None;
        }
        self.inner.read().ok()?.map.get(key).cloned()
    }

    pub(crate) fn generation(&self) -> u64 {
        self.inner.read().map_or(u64::MAX, |i| i.generation)
    }

    /// Caches `value` unless a commit happened since `generation` was read.
    pub(crate) fn fill(&self, key: &[u8], value: Entry, generation: u64) {
        if let Ok(mut inner) = self.inner.write()
            && inner.generation == generation
            && self.enabled.load(Ordering::Acquire)
        {
            if inner.map.len() >= LIMIT {
                inner.map.clear();
            }
            inner.map.insert(key.to_vec(), value);
        }
    }

    /// The generation while the cache is on: the same number twice means no commit came in
    /// between. `None` while it is off (writes may then go unnoticed).
    pub(crate) fn current(&self) -> Option<u64> {
        self.enabled.load(Ordering::Acquire).then(|| self.generation.load(Ordering::Acquire))
    }

    /// Turns the cache on or off; either forgets everything and starts a new generation (while it
    /// was off, other nodes' writes may have gone unnoticed).
    pub(crate) fn set_enabled(&self, on: bool) {
        self.invalidate(std::iter::empty(), true);
        self.enabled.store(on, Ordering::Release);
    }

    /// Forgets written keys (or everything); a no-op when nothing was written.
    pub(crate) fn invalidate<'a>(&self, keys: impl Iterator<Item = &'a Vec<u8>>, all: bool) {
        let mut keys = keys.peekable();
        if keys.peek().is_none() && !all {
            return;
        }
        if let Ok(mut inner) = self.inner.write() {
            inner.generation = inner.generation.wrapping_add(1);
            self.generation.store(inner.generation, Ordering::Release);
            if all {
                inner.map.clear();
            }
            for k in keys {
                inner.map.remove(k);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generation_moves_with_every_commit_and_is_unknown_while_off() {
        let c = ReadCache::default();
        let g = c.current().expect("on");
        assert_eq!(c.current(), Some(g), "nothing written");
        c.invalidate(std::iter::empty(), false);
        assert_eq!(c.current(), Some(g), "a commit that wrote nothing");
        c.invalidate([b"k".to_vec()].iter(), false);
        let after = c.current().expect("on");
        assert_ne!(after, g);
        c.set_enabled(false);
        assert_eq!(c.current(), None);
        // Back on: whatever went unnoticed while off, the generation is a new one.
        c.set_enabled(true);
        assert!(c.current().is_some_and(|now| now != after));
    }

    #[test]
    fn a_fill_after_an_invalidation_it_raced_with_is_dropped() {
        let c = ReadCache::default();
        let g = c.generation();
        // A commit lands between the reader's look at the generation and its fill.
        c.invalidate([b"k".to_vec()].iter(), false);
        c.fill(b"k", Some(Arc::from(&b"old"[..])), g);
        assert_eq!(c.get(b"k"), None);
        let g = c.generation();
        c.fill(b"k", Some(Arc::from(&b"new"[..])), g);
        assert_eq!(c.get(b"k"), Some(Some(Arc::from(&b"new"[..]))));
        c.invalidate(std::iter::empty(), true);
        assert_eq!(c.get(b"k"), None);
    }
}
