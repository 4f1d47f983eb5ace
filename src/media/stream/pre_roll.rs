//! The last few hundred milliseconds of a caller's audio, kept so that the
//! recogniser hears the first syllable of an answer the VAD noticed only
//! once it had lasted a while.
//!
//! A ring of fixed capacity written with slice copies. Why not a
//! `VecDeque` extended sample by sample and drained to its length: this
//! runs on every caller frame while a question plays or waits, 50 times a
//! second per call, and two slice copies are a fraction of that.

/// The most recent `capacity` samples.
#[derive(Debug, Clone)]
pub(super) struct PreRoll {
    ring: Vec<i16>,
    /// Where the next sample goes (the oldest one once the ring is full).
    next: usize,
    full: bool,
}

impl PreRoll {
    pub(super) fn new(capacity: usize) -> PreRoll {
        PreRoll {
            ring: vec![0; capacity],
            next: 0,
            full: false,
        }
    }

    /// Appends `samples`, forgetting the oldest beyond the capacity.
    pub(super) fn push(&mut self, samples: &[i16]) {
        let capacity = self.ring.len();
        if capacity == 0 {
            return;
        }
        // Only the last `capacity` samples can survive.
        let samples = &samples[samples.len().saturating_sub(capacity)..];
        let first = samples.len().min(capacity - self.next);
        self.ring[self.next..self.next + first].copy_from_slice(&samples[..first]);
        let rest = &samples[first..];
        self.ring[..rest.len()].copy_from_slice(rest);
        let end = self.next + samples.len();
        self.full |= end >= capacity;
        self.next = end % capacity;
    }

    /// Moves the samples kept, oldest first, to the end of `out`, and
    /// empties the ring.
    pub(super) fn drain_into(&mut self, out: &mut Vec<i16>) {
        if self.full {
            out.extend_from_slice(&self.ring[self.next..]);
        }
        out.extend_from_slice(&self.ring[..self.next]);
        self.next = 0;
        self.full = false;
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use proptest::prelude::*;

    use super::PreRoll;

    proptest! {
        #[test]
        fn it_keeps_what_a_queue_trimmed_to_the_capacity_keeps(
            capacity in 0usize..500,
            pushes in prop::collection::vec(prop::collection::vec(any::<i16>(), 0..700), 0..12),
            drain_after in 0usize..12,
        ) {
            let mut ring = PreRoll::new(capacity);
            let mut queue: VecDeque<i16> = VecDeque::new();
            for (i, samples) in pushes.iter().enumerate() {
                ring.push(samples);
                queue.extend(samples.iter().copied());
                let excess = queue.len().saturating_sub(capacity);
                queue.drain(..excess);
                if i == drain_after {
                    let mut out = vec![1, 2];
                    ring.drain_into(&mut out);
                    let mut want = vec![1, 2];
                    want.extend(queue.drain(..));
                    prop_assert_eq!(out, want);
                }
            }
            let mut out = Vec::new();
            ring.drain_into(&mut out);
            prop_assert_eq!(out, queue.into_iter().collect::<Vec<_>>());
        }
    }
}
