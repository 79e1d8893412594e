//! The audience's unique numbers and, per number, the latest ledger event.
//!
//! An open-addressing table of E.164 numbers (`u64`, never 0) with one
//! atomic event slot beside each key, so both cores can insert audience
//! numbers and record ledger events without locks. The event slot holds
//! `(instant << 1) | opt_out`: the maximum of these is the latest event, and
//! on equal instants the opt-out (1 > 0), which is exactly "the latest event
//! decides; on equal timestamps `opt_out` wins" — `fetch_max` does the rest.
//! 16 bytes per slot, at most 3/4 full: 10 M numbers take 256 MiB.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use super::timestamp::Micros;

struct Slot {
    key: AtomicU64,
    event: AtomicU64,
}

pub struct NumberTable {
    slots: Vec<Slot>,
    /// Per slot, the latest event per scope (marketing, utility,
    /// authentication) — only for a ledger with a `scope` column; empty
    /// otherwise, when `Slot::event` holds the one event of every scope.
    scoped: Vec<[AtomicU64; 3]>,
    shift: u32,
    mask: usize,
}

/// Bias keeping every instant of years 0000–9999 positive.
const BIAS: i64 = 1 << 62;

/// Encodes an event so that `max` = latest, opt-out winning ties.
#[inline]
pub fn encode_event(at: Micros, opt_out: bool) -> u64 {
    (((at.saturating_add(BIAS)).max(0) as u64) << 1) | u64::from(opt_out)
}

/// Decodes an event slot (`None`: no event).
#[inline]
pub fn decode_event(v: u64) -> Option<(Micros, bool)> {
    (v != 0).then(|| (((v >> 1) as i64) - BIAS, v & 1 == 1))
}

impl NumberTable {
    /// A table for at most `n` distinct numbers.
    pub fn with_capacity(n: usize) -> NumberTable {
        let want = (n.saturating_mul(4) / 3).max(16).next_power_of_two();
        let bits = want.trailing_zeros();
        let slots: Vec<Slot> = (0..want)
            .map(|_| Slot {
                key: AtomicU64::new(0),
                event: AtomicU64::new(0),
            })
            .collect();
        // Write every page now, from this one thread. Memory that is only
        // zero-mapped would be read first (a shared zero page) and written
        // later by the workers, and each such first write flushes the other
        // core's TLB (an inter-processor interrupt): that cost 10% of a run.
        for s in slots.iter().step_by(4096 / std::mem::size_of::<Slot>()) {
            s.key.store(0, Relaxed);
        }
        NumberTable {
            slots,
            scoped: Vec::new(),
            shift: 64 - bits,
            mask: want - 1,
        }
    }

    /// Keeps one event per scope from now on (a ledger with a `scope`
    /// column); call before any event is recorded.
    pub fn enable_scopes(&mut self) {
        self.scoped = (0..self.slots.len())
            .map(|_| [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)])
            .collect();
    }

    pub fn is_scoped(&self) -> bool {
        !self.scoped.is_empty()
    }

    /// Records an event for the scopes in `scopes` (bit per scope); without
    /// scopes enabled, the same as [`record`](Self::record).
    #[inline]
    pub fn record_scoped(&self, slot: usize, event: u64, scopes: u8) {
        match self.scoped.get(slot) {
            Some(per) => {
                for (i, e) in per.iter().enumerate() {
                    if scopes & (1 << i) != 0 {
                        e.fetch_max(event, Relaxed);
                    }
                }
            }
            None => self.record(slot, event),
        }
    }

    /// The raw latest event per scope of the slot.
    #[inline]
    fn events_at(&self, slot: usize) -> [u64; 3] {
        match self.scoped.get(slot) {
            Some(per) => [
                per[0].load(Relaxed),
                per[1].load(Relaxed),
                per[2].load(Relaxed),
            ],
            None => [self.slots[slot].event.load(Relaxed); 3],
        }
    }

    /// The latest event per scope of a number (`None` inside: no event for
    /// that scope; all `None` when the number is not in the table).
    pub fn latest_scoped(&self, key: u64) -> [Option<(Micros, bool)>; 3] {
        match self.find(key) {
            Some(i) => self.events_at(i).map(decode_event),
            None => [None; 3],
        }
    }

    /// Every number with its raw latest event per scope.
    pub fn scoped_entries(&self) -> impl Iterator<Item = (u64, [u64; 3])> + '_ {
        self.slots.iter().enumerate().filter_map(|(i, s)| {
            let k = s.key.load(Relaxed);
            (k != 0).then(|| (k, self.events_at(i)))
        })
    }

    #[inline]
    fn home(&self, key: u64) -> usize {
        (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> self.shift) as usize & self.mask
    }

    /// Inserts a number; `true` when it was not there yet. Safe to call from
    /// several threads at once.
    #[inline]
    pub fn insert(&self, key: u64) -> bool {
        debug_assert!(key != 0);
        let mut i = self.home(key);
        loop {
            let slot = &self.slots[i];
            let cur = slot.key.load(Relaxed);
            if cur == key {
                return false;
            }
            if cur == 0 {
                match slot.key.compare_exchange(0, key, Relaxed, Relaxed) {
                    Ok(_) => return true,
                    Err(other) if other == key => return false,
                    Err(_) => {}
                }
            }
            i = (i + 1) & self.mask;
        }
    }

    /// Loads the cache line a key hashes to, without using it: called for a
    /// batch of keys before the batch is looked up, so the memory accesses
    /// overlap instead of waiting one after the other.
    #[inline]
    pub fn touch(&self, key: u64) {
        std::hint::black_box(self.slots[self.home(key)].key.load(Relaxed));
    }

    /// Where a number is, if it is in the table.
    #[inline]
    pub fn find(&self, key: u64) -> Option<usize> {
        let mut i = self.home(key);
        loop {
            let cur = self.slots[i].key.load(Relaxed);
            if cur == key {
                return Some(i);
            }
            if cur == 0 {
                return None;
            }
            i = (i + 1) & self.mask;
        }
    }

    /// Records an event for the number at `slot` (keeps the latest).
    #[inline]
    pub fn record(&self, slot: usize, event: u64) {
        self.slots[slot].event.fetch_max(event, Relaxed);
    }

    /// The latest event of a number (`None`: not in the table, or no event).
    pub fn latest(&self, key: u64) -> Option<(Micros, bool)> {
        self.find(key)
            .and_then(|i| decode_event(self.slots[i].event.load(Relaxed)))
    }

    /// Every number with its latest event slot (raw).
    pub fn entries(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.slots.iter().filter_map(|s| {
            let k = s.key.load(Relaxed);
            (k != 0).then(|| (k, s.event.load(Relaxed)))
        })
    }

    /// Splits the slots into `n` ranges of entries (for parallel scans).
    pub fn chunks(&self, n: usize) -> Vec<impl Iterator<Item = (u64, u64)> + '_> {
        let size = self.slots.len().div_ceil(n.max(1));
        self.slots
            .chunks(size.max(1))
            .map(|c| {
                c.iter().filter_map(|s| {
                    let k = s.key.load(Relaxed);
                    (k != 0).then(|| (k, s.event.load(Relaxed)))
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latest_event_wins_and_opt_out_wins_ties() {
        let t = NumberTable::with_capacity(4);
        assert!(t.insert(14155550132));
        assert!(!t.insert(14155550132));
        let s = t.find(14155550132).unwrap();
        t.record(s, encode_event(100, false));
        t.record(s, encode_event(50, true));
        assert_eq!(t.latest(14155550132), Some((100, false)));
        t.record(s, encode_event(100, true));
        assert_eq!(t.latest(14155550132), Some((100, true)));
        t.record(s, encode_event(100, false));
        assert_eq!(t.latest(14155550132), Some((100, true)));
        assert_eq!(t.latest(14155550133), None);
    }

    #[test]
    fn scoped_events_are_kept_per_scope() {
        let mut t = NumberTable::with_capacity(4);
        t.enable_scopes();
        t.insert(14155550132);
        let s = t.find(14155550132).unwrap();
        t.record_scoped(s, encode_event(100, false), 0b111);
        t.record_scoped(s, encode_event(200, true), 0b001);
        t.record_scoped(s, encode_event(300, false), 0b010);
        assert_eq!(
            t.latest_scoped(14155550132),
            [Some((200, true)), Some((300, false)), Some((100, false))]
        );
        // Unscoped tables give the one event for every scope.
        let u = NumberTable::with_capacity(4);
        u.insert(7);
        u.record_scoped(u.find(7).unwrap(), encode_event(5, false), 0b001);
        assert_eq!(u.latest_scoped(7), [Some((5, false)); 3]);
    }

    #[test]
    fn negative_instants_order_correctly() {
        assert!(encode_event(-5, false) < encode_event(3, false));
        assert_eq!(decode_event(encode_event(-5, true)), Some((-5, true)));
        assert_eq!(decode_event(0), None);
    }

    #[test]
    fn concurrent_inserts_count_each_number_once() {
        let t = NumberTable::with_capacity(20_000);
        let new: usize = std::thread::scope(|s| {
            let hs: Vec<_> = (0..2)
                .map(|_| s.spawn(|| (1..=20_000u64).filter(|&k| t.insert(k * 7919)).count()))
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(new, 20_000);
        assert_eq!(t.entries().count(), 20_000);
        assert_eq!(
            t.chunks(3).into_iter().map(|c| c.count()).sum::<usize>(),
            20_000
        );
    }
}
