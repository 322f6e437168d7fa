//! Tables keyed by interned strings: class methods, shape transitions and
//! shapes' field indices.
//!
//! Keys are interned, so a key compares by pointer and hashes by the hash the
//! string computed once when it was interned. The table itself is hashbrown's
//! SwissTable.

use std::hash::{BuildHasherDefault, Hash, Hasher};

use crate::object::{Gc, ObjRef, ObjString, Trace};
use crate::string_hash;
use crate::value::Value;

/// A string key: pointer equality, precomputed hash.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Key(Gc<ObjString>);

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(string_hash::spread(self.0.hash));
    }
}

/// Passes a precomputed hash through.
#[derive(Default)]
struct PrehashedHasher(u64);

impl Hasher for PrehashedHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, _: &[u8]) {
        unreachable!("table keys hash with write_u64 only");
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// A map from interned strings to `V`: class methods (`V = Value`), shape
/// transitions and field indices.
pub struct Table<V = Value> {
    map: hashbrown::HashMap<Key, V, BuildHasherDefault<PrehashedHasher>>,
}

impl<V> Default for Table<V> {
    fn default() -> Self {
        Table { map: hashbrown::HashMap::default() }
    }
}

impl<V: Copy> Table<V> {
    pub fn new() -> Table<V> {
        Table::default()
    }

    #[inline]
    pub fn get(&self, key: Gc<ObjString>) -> Option<V> {
        self.map.get(&Key(key)).copied()
    }

    /// Insert or overwrite; returns true if the key is new.
    #[inline]
    pub fn set(&mut self, key: Gc<ObjString>, value: V) -> bool {
        self.map.insert(Key(key), value).is_none()
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (Gc<ObjString>, V)> + '_ {
        self.map.iter().map(|(k, v)| (k.0, *v))
    }

    /// Bytes of the table's own allocation.
    pub fn heap_size(&self) -> usize {
        // A bucket holds a key and a value, plus one control byte.
        self.map.capacity() * (size_of::<Key>() + size_of::<V>() + 1)
    }
}

impl Trace for Table {
    fn trace(&self, tracer: &mut dyn FnMut(ObjRef)) {
        for (key, value) in self.map.iter() {
            tracer(key.0.as_obj());
            if let Some(obj) = value.as_object() {
                tracer(obj);
            }
        }
    }
}
