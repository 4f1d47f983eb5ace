//! A per-replica cache of live calls, so that a webhook usually needs one
//! store round trip (the write) instead of two (read, then write).
//!
//! It is safe with any number of replicas because it is only a guess: the
//! store's compare-and-swap on `seq` decides. A stale entry (another
//! replica moved the call on) makes the request's `seq` disagree with the
//! cache, and the call is read from the store; or the write comes back
//! `Stale`, and the caller gets the stored TwiML. A call that ended here
//! stays, as ended, until its final status arrives: an ended call never
//! changes (its outcome is final on every replica), so that entry is not a
//! guess, and the status callback needs no read to know there is no
//! hang-up to apply (a confirmation call is still read: its answer is
//! settled against the stored row). The cache is bounded.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;

use crate::store::{CallRow, CallSid};

/// Shards keep lock hold times tiny and contention low under many calls.
const SHARDS: usize = 16;

pub(super) struct CallCache {
    shards: Vec<Mutex<HashMap<CallSid, CallRow>>>,
    per_shard: usize,
    hasher: RandomState,
}

impl CallCache {
    pub(super) fn new(capacity: usize) -> CallCache {
        CallCache {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            per_shard: (capacity / SHARDS).max(1),
            hasher: RandomState::new(),
        }
    }

    fn shard(&self, sid: &CallSid) -> &Mutex<HashMap<CallSid, CallRow>> {
        let i = (self.hasher.hash_one(sid) as usize) % SHARDS;
        &self.shards[i]
    }

    pub(super) fn get(&self, sid: &CallSid) -> Option<CallRow> {
        self.shard(sid).lock().ok()?.get(sid).cloned()
    }

    pub(super) fn put(&self, row: CallRow) {
        let Ok(mut shard) = self.shard(&row.call_sid).lock() else {
            return;
        };
        if shard.len() >= self.per_shard && !shard.contains_key(&row.call_sid) {
            // Full: drop an arbitrary entry; it is only a cache.
            if let Some(k) = shard.keys().next().cloned() {
                shard.remove(&k);
            }
        }
        shard.insert(row.call_sid.clone(), row);
    }

    pub(super) fn remove(&self, sid: &CallSid) {
        if let Ok(mut shard) = self.shard(sid).lock() {
            shard.remove(sid);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{CallStatus, Direction};
    use chrono::Utc;

    fn sid(n: u32) -> CallSid {
        CallSid::parse(&format!("CA{n:032x}")).unwrap()
    }

    fn row(sid: &CallSid, seq: i64) -> CallRow {
        CallRow {
            call_sid: sid.clone(),
            flow: "f".into(),
            flow_hash: "h".into(),
            direction: Direction::Inbound,
            from: "+8613800000000".into(),
            to: "+861000000001".into(),
            status: CallStatus::InProgress,
            outcome: None,
            state: "{}".into(),
            seq,
            response: String::new(),
            started_at: Utc::now(),
            ended_at: None,
            follows: None,
        }
    }

    #[test]
    fn the_latest_row_of_a_call_is_returned_and_removed_on_request() {
        let c = CallCache::new(100);
        c.put(row(&sid(1), 1));
        c.put(row(&sid(1), 2));
        assert_eq!(c.get(&sid(1)).map(|r| r.seq), Some(2));
        c.remove(&sid(1));
        assert!(c.get(&sid(1)).is_none());
    }

    #[test]
    fn the_cache_never_grows_past_its_bound() {
        let c = CallCache::new(32);
        for i in 0..1000 {
            c.put(row(&sid(i), 1));
        }
        let total: usize = c.shards.iter().map(|s| s.lock().unwrap().len()).sum();
        assert!(total <= 32, "{total}");
    }
}
