//! The table of interned strings: every string the heap holds, found by
//! its contents.
//!
//! Open addressing with linear probing, over a power-of-two array of
//! string pointers kept at most half full, indexed by the low bits of a
//! string's hash (`string_hash.rs`: uniform below its modulus, so its low
//! bits need no mixing).
//!
//! Why not hashbrown's SwissTable, which `table.rs` uses: a lookup here is
//! on the critical path of every loop that builds strings (`s = s + piece`
//! finds `s + piece` interned, and the next iteration needs it to go on),
//! so what counts is the latency from a hash to the string, not the
//! throughput of many lookups. A SwissTable goes from the hash to a tag,
//! broadcasts it, loads a group of control bytes, matches them and only
//! then loads the entry: about twenty cycles. Here the hash's low bits are
//! the slot, and the slot holds the string: a mask and a load. Whether it
//! is the string (its hash, its length, its bytes) is checked after, off
//! the critical path, as the processor predicts that it is. Measured on
//! `bench/strings.lox`: the SwissTable took 19% longer overall.
//!
//! Removal happens only at collection, when the table is rebuilt from the
//! strings that survive ([`retain`](StringTable::retain)), so there are no
//! tombstones, and a probe ends at the first empty slot.

use crate::object::{Gc, ObjString};

/// The fewest slots a table has.
const MIN_SLOTS: usize = 64;

pub(crate) struct StringTable {
    /// A power of two of slots, at most half of them full.
    slots: Box<[Option<Gc<ObjString>>]>,
    /// How many slots are full.
    len: usize,
}

impl StringTable {
    pub(crate) fn new() -> StringTable {
        StringTable { slots: empty_slots(MIN_SLOTS), len: 0 }
    }

    /// The string whose hash is `hash` and that `is` accepts (`is` sees
    /// only strings of that hash).
    #[inline(always)]
    pub(crate) fn find(&self, hash: u64, is: impl Fn(&ObjString) -> bool) -> Option<Gc<ObjString>> {
        let mask = self.slots.len() - 1;
        let mut slot = hash as usize & mask;
        // Ends: at most half of the slots are full.
        loop {
            let string = self.slots[slot]?;
            if string.hash == hash && is(&string) {
                return Some(string);
            }
            slot = (slot + 1) & mask;
        }
    }

    /// Add `string`, which the table does not hold.
    pub(crate) fn insert(&mut self, string: Gc<ObjString>) {
        if (self.len + 1) * 2 > self.slots.len() {
            self.rebuild(self.slots.len() * 2, |_| true);
        }
        place(&mut self.slots, string);
        self.len += 1;
    }

    /// Keep only the strings `keep` accepts (at a collection: the marked
    /// ones). The table shrinks when few are left.
    pub(crate) fn retain(&mut self, keep: impl Fn(Gc<ObjString>) -> bool) {
        let left = self.slots.iter().flatten().filter(|&&string| keep(string)).count();
        let mut slots = self.slots.len();
        // After a shrink the table is an eighth to a quarter full, so it
        // grows again (at half) only after a quarter of its slots more.
        while slots > MIN_SLOTS && left * 8 < slots {
            slots /= 2;
        }
        if left == self.len && slots == self.slots.len() {
            return;
        }
        self.rebuild(slots, keep);
    }

    /// Move the strings `keep` accepts into `slots` new slots.
    fn rebuild(&mut self, slots: usize, keep: impl Fn(Gc<ObjString>) -> bool) {
        let old = std::mem::replace(&mut self.slots, empty_slots(slots));
        self.len = 0;
        for string in old.iter().flatten().copied().filter(|&string| keep(string)) {
            place(&mut self.slots, string);
            self.len += 1;
        }
        debug_assert!(self.len * 2 <= self.slots.len());
    }
}

fn empty_slots(count: usize) -> Box<[Option<Gc<ObjString>>]> {
    debug_assert!(count.is_power_of_two());
    vec![None; count].into_boxed_slice()
}

/// Put `string` in the first empty slot of its probe sequence.
fn place(slots: &mut [Option<Gc<ObjString>>], string: Gc<ObjString>) {
    let mask = slots.len() - 1;
    let mut slot = string.hash as usize & mask;
    while slots[slot].is_some() {
        slot = (slot + 1) & mask;
    }
    slots[slot] = Some(string);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::heap::{Heap, HeapOptions};

    /// `count` distinct strings, pinned in `heap`.
    fn strings(heap: &Heap, count: usize) -> Vec<Gc<ObjString>> {
        let make = |i: usize| {
            let string = heap.intern(&format!("s{i}")).expect("room");
            heap.pin(string.to_value());
            string
        };
        (0..count).map(make).collect()
    }

    fn find(table: &StringTable, string: Gc<ObjString>) -> Option<Gc<ObjString>> {
        table.find(string.hash, |s| s.as_str() == string.as_str())
    }

    #[test]
    fn finds_every_string_it_holds_as_it_grows() {
        let heap = Heap::new(HeapOptions::default());
        let strings = strings(&heap, 5000);
        let mut table = StringTable::new();
        for (i, &string) in strings.iter().enumerate() {
            assert_eq!(find(&table, string), None);
            table.insert(string);
            assert!(table.len * 2 <= table.slots.len());
            // Every string inserted so far is still found, after each growth.
            if i.is_power_of_two() {
                assert!(strings[..=i].iter().all(|&s| find(&table, s) == Some(s)));
            }
        }
        assert!(strings.iter().all(|&s| find(&table, s) == Some(s)));
        assert_eq!(table.len, strings.len());
    }

    #[test]
    fn retain_keeps_what_it_is_told_and_shrinks() {
        let heap = Heap::new(HeapOptions::default());
        let strings = strings(&heap, 4096);
        let mut table = StringTable::new();
        strings.iter().for_each(|&string| table.insert(string));
        let grown = table.slots.len();
        // Keeping all changes nothing.
        table.retain(|_| true);
        assert_eq!((table.len, table.slots.len()), (strings.len(), grown));
        assert!(strings.iter().all(|&s| find(&table, s) == Some(s)));
        // Keep one in a hundred: every one kept is found, no other is.
        let index = |string: Gc<ObjString>| string.as_str()[1..].parse::<usize>().unwrap();
        let kept = |string: Gc<ObjString>| index(string) % 100 == 0;
        table.retain(kept);
        assert_eq!(table.len, strings.len().div_ceil(100));
        assert!(table.slots.len() < grown && table.len * 4 <= table.slots.len());
        for &string in &strings {
            assert_eq!(find(&table, string).is_some(), kept(string));
        }
        // Nothing kept: the smallest table.
        table.retain(|_| false);
        assert_eq!((table.len, table.slots.len()), (0, MIN_SLOTS));
        assert!(strings.iter().all(|&s| find(&table, s).is_none()));
    }

    #[test]
    fn the_heap_interns_each_contents_once_and_forgets_the_dead() {
        let heap = Heap::new(HeapOptions::default());
        let a = heap.intern("ab").unwrap();
        let b = heap.intern("cd").unwrap();
        heap.pin(a.to_value());
        heap.pin(b.to_value());
        let joined = heap.concat(a, b).unwrap();
        assert_eq!(heap.intern("abcd").unwrap(), joined);
        assert_eq!(heap.concat(a, b).unwrap(), joined);
        // Unreachable, `joined` is collected: "abcd" is made anew, equal.
        let before = heap.stats();
        heap.collect();
        // "abcd" was the one string not pinned.
        assert_eq!(heap.stats().objects_freed, before.objects_freed + 1);
        let again = heap.concat(a, b).unwrap();
        assert_eq!(again.as_str(), "abcd");
        assert_eq!(heap.intern("abcd").unwrap(), again);
        assert_eq!(heap.intern("ab").unwrap(), a);
    }
}
