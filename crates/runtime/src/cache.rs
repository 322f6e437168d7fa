//! Inline caches: what a property, method or super site found last time.
//!
//! Each site of the code (a `GetProperty`, `SetProperty`, `Method`,
//! `GetSuper` or `SuperMethod` instruction) owns one [`InlineCache`], held in
//! data on its function object ([`ObjFunction::caches`](crate::ObjFunction))
//! rather than patched into code, so the interpreter and machine code can
//! share it. A cache maps a *key* to what the generic lookup found for it:
//!
//! - for instance sites the key is the receiver's shape (`class.rs`), which
//!   fixes its class and field layout, so a hit is a field index, a method,
//!   or (for a set) the shape the instance moves to when the field is new;
//! - for super sites the key is the superclass, and a hit is its method.
//!
//! Both facts stay true for as long as the key exists (classes' methods are
//! fixed once declared), so entries are never invalidated. A cache holds its
//! keys and hits strongly (they are traced with the function), which bounds
//! what it keeps alive to a few objects per site and rules out a freed key's
//! address being reused by a new shape while a stale entry still names it.
//!
//! A cache starts empty, becomes monomorphic with one key, polymorphic with
//! up to [`CACHE_WAYS`], and megamorphic when a further key misses. Its
//! misses then look in the heap's [`MegamorphicCache`] before taking the
//! generic lookup.
//!
//! A site's receivers may change over time, and the cache follows them in
//! two ways:
//!
//! - **A newer version of a class takes its older version's way.** A class
//!   declaration run again (a class declared in a function, a top level run
//!   again by `--iterations`) makes a new class of the same name; its key
//!   (a shape of it, or the class at a super site) replaces a key of a
//!   class of that name made before it, whether or not the cache is full.
//!   So a site keeps the state it had with the first version (monomorphic
//!   stays monomorphic) and holds no class no longer used. Without this,
//!   the lab measured `properties` and `method_call`, whose sites see two
//!   receivers in turn, run 2 to 8 times slower from the third iteration
//!   on: every site full of old versions, every access a miss.
//! - **A key that misses twice in a row** on a full cache replaces one of
//!   the ways, the oldest first: a site whose receivers drift to other
//!   classes catches up with them (the lab measured `nbody` 7 times slower
//!   before this rule). A site whose receivers cycle among more than four
//!   keys keeps the four it has: its misses come from different keys in
//!   turn, and replacing at any miss would make every access miss on a
//!   cycle (first-in-first-out eviction; `zoo` ran 10 to 70% slower with
//!   it).

use std::cell::{Cell, OnceCell};

use crate::class::{ObjClass, ObjShape};
use crate::object::{Gc, Header, ObjClosure, ObjRef, ObjString, Trace};

/// How many keys a polymorphic cache holds. Eight rather than four (V8's
/// number) because a virtual call over a small class hierarchy, five to
/// eight subclasses, is common in the programs Lox is used for, and a
/// site that holds them all is one the JIT can dispatch and inline over
/// its known methods, where a megamorphic one probes the heap's table and
/// makes a general call: `zoo` (eight classes) ran in 0.79 of the time,
/// the VM's in 0.85, the others unchanged (`docs/performance.md`). A
/// monomorphic site probes one way as before; the cost is 96 bytes more
/// per site and longer way probes in code that knows no shapes.
pub const CACHE_WAYS: usize = 8;

/// What a cached lookup found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheHit {
    /// The instance has the field, at this index.
    Field(u32),
    /// The instance has no such field; its class has this method (or, at a
    /// super site, the superclass has it).
    Method(Gc<ObjClosure>),
    /// Setting the field adds it: the instance moves to this shape, whose
    /// last field it is.
    AddField(Gc<ObjShape>),
}

/// What a [`CacheEntry`]'s `kind` says its hit is (the layout machine code
/// reads; `abi.rs` exports the offsets).
pub mod hit_kind {
    /// A field; `index` is its index.
    pub const FIELD: u32 = 0;
    /// A method; `target` is the closure.
    pub const METHOD: u32 = 1;
    /// A new field; `target` is the shape the instance moves to.
    pub const ADD_FIELD: u32 = 2;
}

/// One way of a cache: a key and its hit, in a fixed layout. An empty way
/// has a null key.
#[repr(C)]
pub struct CacheEntry {
    pub(crate) key: Cell<*const Header>,
    pub(crate) kind: Cell<u32>,
    pub(crate) index: Cell<u32>,
    pub(crate) target: Cell<*const Header>,
}

impl CacheEntry {
    fn empty() -> CacheEntry {
        CacheEntry {
            key: Cell::new(std::ptr::null()),
            kind: Cell::new(0),
            index: Cell::new(0),
            target: Cell::new(std::ptr::null()),
        }
    }

    fn key(&self) -> Option<ObjRef> {
        let key = self.key.get();
        // SAFETY: a non-null key is an object the cache keeps alive (it is
        // traced with the function that owns the cache).
        (!key.is_null()).then(|| unsafe { ObjRef::from_addr(key as usize) })
    }

    /// What the way's key found.
    pub fn hit(&self) -> CacheHit {
        // SAFETY: `target` was stored by `set` from a live object of the
        // kind `kind` names, which the cache keeps alive.
        let target = || unsafe { ObjRef::from_addr(self.target.get() as usize) };
        match self.kind.get() {
            hit_kind::FIELD => CacheHit::Field(self.index.get()),
            hit_kind::METHOD => {
                CacheHit::Method(target().downcast().expect("a method hit holds a closure"))
            }
            _ => CacheHit::AddField(target().downcast().expect("an add-field hit holds a shape")),
        }
    }

    fn set(&self, key: ObjRef, hit: CacheHit) {
        let (kind, index, target) = match hit {
            CacheHit::Field(index) => (hit_kind::FIELD, index, std::ptr::null()),
            CacheHit::Method(method) => {
                (hit_kind::METHOD, 0, method.as_obj().addr() as *const Header)
            }
            CacheHit::AddField(shape) => {
                (hit_kind::ADD_FIELD, 0, shape.as_obj().addr() as *const Header)
            }
        };
        self.kind.set(kind);
        self.index.set(index);
        self.target.set(target);
        // The key last: a way is in use once its key is set.
        self.key.set(key.addr() as *const Header);
    }
}

/// What megamorphic sites found, shared by every site of a heap (V8's
/// megamorphic stub cache): a direct-mapped table from a (shape, property
/// name) pair to what the generic lookup found for it, a field index or a
/// method. It is made at its first use.
///
/// Entries keep nothing alive. The heap empties the table at every
/// collection, before anything is freed, so no entry outlives its key:
/// between collections nothing is freed, and a shape's fields and its
/// class's methods never change, so an entry stays true while it is there.
#[derive(Default)]
pub struct MegamorphicCache {
    entries: OnceCell<Box<[MegamorphicEntry]>>,
}

/// One entry of the table, in a fixed layout (`abi.rs`), which machine
/// code probes as [`MegamorphicCache::index`] does.
#[repr(C)]
pub(crate) struct MegamorphicEntry {
    /// The property name (an `ObjString`), or null.
    pub(crate) name: Cell<*const Header>,
    /// The way it found, keyed by the shape.
    pub(crate) entry: CacheEntry,
}

/// Entries in the megamorphic cache (a power of two).
pub(crate) const MEGAMORPHIC_ENTRIES: usize = 1024;
/// The odd multiplier that spreads a name's address over the table.
pub(crate) const MEGAMORPHIC_MULTIPLIER: u64 = 0x9e37_79b9;

impl MegamorphicCache {
    /// The table, made at its first use. It never moves nor shrinks while
    /// the cache lives, so machine code may keep its address.
    pub fn table(&self) -> *const u8 {
        self.entries().as_ptr().cast()
    }

    fn entries(&self) -> &[MegamorphicEntry] {
        self.entries.get_or_init(|| {
            (0..MEGAMORPHIC_ENTRIES)
                .map(|_| MegamorphicEntry {
                    name: Cell::new(std::ptr::null()),
                    entry: CacheEntry::empty(),
                })
                .collect()
        })
    }

    /// Where (shape `key`, name `name`) is remembered: both addresses over
    /// 8 (objects are 8-aligned, so the low bits say nothing), the name's
    /// multiplied, exclusive-ored and masked.
    #[inline]
    pub fn index(key: usize, name: usize) -> usize {
        let (key, name) = (key as u64 >> 3, name as u64 >> 3);
        ((key ^ name.wrapping_mul(MEGAMORPHIC_MULTIPLIER)) as usize) & (MEGAMORPHIC_ENTRIES - 1)
    }

    fn entry(&self, key: ObjRef, name: Gc<ObjString>) -> &MegamorphicEntry {
        &self.entries()[Self::index(key.addr(), name.as_obj().addr())]
    }

    /// What the generic lookup of `name` found for shape `key`, if it is
    /// remembered.
    #[inline]
    pub fn get(&self, key: ObjRef, name: Gc<ObjString>) -> Option<CacheHit> {
        self.find(key, name).map(CacheEntry::hit)
    }

    /// The entry remembering `name` on shape `key`, if there is one: a way
    /// of the layout an inline cache's ways have, which machine code reads
    /// as it reads theirs. It stays true until the next collection.
    #[inline]
    pub fn find(&self, key: ObjRef, name: Gc<ObjString>) -> Option<&CacheEntry> {
        let slot = self.entry(key, name);
        let found = slot.entry.key.get() == key.addr() as *const Header
            && slot.name.get() == name.as_obj().addr() as *const Header;
        found.then_some(&slot.entry)
    }

    /// Remember `hit` (a field or a method) for `name` on shape `key`.
    pub fn insert(&self, key: ObjRef, name: Gc<ObjString>, hit: CacheHit) {
        debug_assert!(!matches!(hit, CacheHit::AddField(_)), "only lookups are remembered");
        let slot = self.entry(key, name);
        slot.name.set(name.as_obj().addr() as *const Header);
        slot.entry.set(key, hit);
    }

    /// Forget everything (at a collection, before anything is freed).
    pub fn clear(&self) {
        if let Some(entries) = self.entries.get() {
            for slot in entries {
                slot.entry.key.set(std::ptr::null());
            }
        }
    }
}

/// How many inline caches are in each state (`strata run --stats`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheCounts {
    /// Sites never run (or whose every lookup failed).
    pub empty: u32,
    pub monomorphic: u32,
    pub polymorphic: u32,
    pub megamorphic: u32,
}

impl CacheCounts {
    /// Count `cache` in its state.
    pub fn add(&mut self, cache: &InlineCache) {
        match cache.state() {
            CacheState::Empty => self.empty += 1,
            CacheState::Monomorphic => self.monomorphic += 1,
            CacheState::Polymorphic(_) => self.polymorphic += 1,
            CacheState::Megamorphic => self.megamorphic += 1,
        }
    }

    /// Every site counted.
    pub fn sites(&self) -> u32 {
        self.empty + self.monomorphic + self.polymorphic + self.megamorphic
    }
}

/// How full a cache is, for `--stats` and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheState {
    Empty,
    Monomorphic,
    /// This many keys (2 to [`CACHE_WAYS`]).
    Polymorphic(usize),
    /// A key missed when every way was taken.
    Megamorphic,
}

/// The cache of one site, in a fixed layout (`abi.rs`): the ways first, so
/// machine code finds way `i` at `i * size_of::<CacheEntry>()`.
#[repr(C)]
pub struct InlineCache {
    pub(crate) entries: [CacheEntry; CACHE_WAYS],
    /// The property the site names.
    pub name: Gc<ObjString>,
    megamorphic: Cell<bool>,
    /// The way a megamorphic cache replaces next.
    next: Cell<u8>,
    /// A megamorphic cache's last missing key, hashed to 16 bits (a false
    /// match only replaces a way early).
    last_miss: Cell<u16>,
    /// The newest class this site has seen a key of (its serial's low 32
    /// bits): only a key of a class as new or newer can replace an older
    /// version of its class, so a site cycling over classes it has seen
    /// before (a megamorphic one) does not look for versions at each miss.
    newest: Cell<u32>,
}

impl InlineCache {
    pub fn new(name: Gc<ObjString>) -> InlineCache {
        InlineCache {
            entries: std::array::from_fn(|_| CacheEntry::empty()),
            name,
            megamorphic: Cell::new(false),
            next: Cell::new(0),
            last_miss: Cell::new(0),
            newest: Cell::new(0),
        }
    }

    /// What the cache remembers for `key`.
    #[inline(always)]
    pub fn get(&self, key: ObjRef) -> Option<CacheHit> {
        let key = key.addr() as *const Header;
        for entry in &self.entries {
            let there = entry.key.get();
            if there == key {
                return Some(entry.hit());
            }
            if there.is_null() {
                return None;
            }
        }
        None
    }

    /// What a cache that is not megamorphic has found: a hit per key, in
    /// the order the keys came (none for a megamorphic cache, whose ways
    /// are only its latest keys). What its site has seen so far, for a
    /// compiler to speculate on.
    pub fn hits(&self) -> impl Iterator<Item = CacheHit> + '_ {
        self.keyed_hits().map(|(_, hit)| hit)
    }

    /// What a cache that is not megamorphic has found, with the key each
    /// hit is for, in the order the keys came (as [`hits`](Self::hits)).
    pub fn keyed_hits(&self) -> impl Iterator<Item = (ObjRef, CacheHit)> + '_ {
        let ways = if self.megamorphic.get() { &self.entries[..0] } else { &self.entries[..] };
        ways.iter().map_while(|entry| Some((entry.key()?, entry.hit())))
    }

    /// Remember `hit` for `key`: in the place of a key of an older version
    /// of its class (a class of the same name made before it), else in the
    /// first free way. With none left the cache is megamorphic, and `key`
    /// replaces the oldest way if it was also the key of the cache's last
    /// miss.
    pub(crate) fn insert(&self, key: ObjRef, hit: CacheHit) {
        let class = class_of(key).filter(|class| {
            let serial = class.serial() as u32;
            let newest = serial >= self.newest.get();
            if newest {
                self.newest.set(serial);
            }
            newest
        });
        let superseded = class.and_then(|class| {
            self.entries.iter().find(|entry| {
                entry.key().and_then(class_of).is_some_and(|old| class.supersedes(&old))
            })
        });
        match superseded.or_else(|| self.entries.iter().find(|entry| entry.key.get().is_null())) {
            Some(way) => way.set(key, hit),
            None => {
                self.megamorphic.set(true);
                let hash = miss_hash(key);
                if self.last_miss.replace(hash) == hash {
                    let way = usize::from(self.next.get()) % CACHE_WAYS;
                    self.entries[way].set(key, hit);
                    self.next.set(((way + 1) % CACHE_WAYS) as u8);
                }
            }
        }
    }

    /// At a miss on shape `key`: what the heap's megamorphic cache
    /// remembers for this site's name on it, if anything, taken into this
    /// cache as every miss's lookup is (`insert`). The VM's misses and
    /// machine code's (`strata_lookup`) both come here first.
    pub(crate) fn recall<'h>(
        &self,
        megamorphic: &'h MegamorphicCache,
        key: ObjRef,
    ) -> Option<&'h CacheEntry> {
        let entry = megamorphic.find(key, self.name)?;
        self.insert(key, entry.hit());
        Some(entry)
    }

    pub fn state(&self) -> CacheState {
        let used = self.entries.iter().filter(|entry| !entry.key.get().is_null()).count();
        match used {
            _ if self.megamorphic.get() => CacheState::Megamorphic,
            0 => CacheState::Empty,
            1 => CacheState::Monomorphic,
            n => CacheState::Polymorphic(n),
        }
    }
}

/// The class a key stands for: a shape's class, or the class itself (the
/// key of a super site).
fn class_of(key: ObjRef) -> Option<Gc<ObjClass>> {
    key.downcast::<ObjShape>().map(|shape| shape.class()).or_else(|| key.downcast::<ObjClass>())
}

/// A key, hashed to 16 bits for [`InlineCache::last_miss`].
fn miss_hash(key: ObjRef) -> u16 {
    (key.addr() >> 3) as u16 ^ (key.addr() >> 19) as u16
}

impl Trace for InlineCache {
    fn trace(&self, tracer: &mut dyn FnMut(ObjRef)) {
        tracer(self.name.as_obj());
        for entry in &self.entries {
            let Some(key) = entry.key() else { continue };
            tracer(key);
            match entry.hit() {
                CacheHit::Field(_) => {}
                CacheHit::Method(method) => tracer(method.as_obj()),
                CacheHit::AddField(shape) => tracer(shape.as_obj()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::heap::{Heap, HeapOptions};

    /// Two keys more than a cache holds (any objects will do: interned
    /// names), whose 16-bit hashes differ, so that no false match replaces
    /// a way.
    fn keys(heap: &Heap) -> Vec<ObjRef> {
        let mut keys: Vec<ObjRef> = Vec::new();
        for i in 0.. {
            let key = heap.intern_code(&format!("key{i}")).as_obj();
            // Not 0 either: an empty cache's last miss reads as 0.
            if miss_hash(key) != 0 && keys.iter().all(|&k| miss_hash(k) != miss_hash(key)) {
                keys.push(key);
            }
            if keys.len() == CACHE_WAYS + 2 {
                break;
            }
        }
        keys
    }

    /// A cache holding `keys[..CACHE_WAYS]`, each hit its index.
    fn full_cache(heap: &Heap, keys: &[ObjRef]) -> InlineCache {
        let cache = InlineCache::new(heap.intern_code("x"));
        for (i, &key) in keys[..CACHE_WAYS].iter().enumerate() {
            cache.insert(key, CacheHit::Field(i as u32));
        }
        cache
    }

    fn cached(cache: &InlineCache, keys: &[ObjRef]) -> Vec<usize> {
        (0..keys.len()).filter(|&i| cache.get(keys[i]).is_some()).collect()
    }

    #[test]
    fn a_full_cache_takes_a_key_that_misses_twice_in_a_row() {
        let heap = Heap::new(HeapOptions::default());
        let keys = keys(&heap);
        let cache = full_cache(&heap, &keys);
        let (next, after) = (CACHE_WAYS, CACHE_WAYS + 1);
        assert_eq!(cache.state(), CacheState::Polymorphic(CACHE_WAYS));
        cache.insert(keys[next], CacheHit::Field(next as u32));
        assert_eq!(cache.state(), CacheState::Megamorphic);
        let held: Vec<usize> = (0..CACHE_WAYS).collect();
        assert_eq!(cached(&cache, &keys), held, "one miss changes nothing");
        cache.insert(keys[next], CacheHit::Field(next as u32));
        let held: Vec<usize> = (1..=next).collect();
        assert_eq!(cached(&cache, &keys), held, "the second replaces the oldest");
        assert_eq!(cache.get(keys[next]), Some(CacheHit::Field(next as u32)));
        cache.insert(keys[after], CacheHit::Field(after as u32));
        cache.insert(keys[after], CacheHit::Field(after as u32));
        let held: Vec<usize> = (2..=after).collect();
        assert_eq!(cached(&cache, &keys), held, "then the next oldest");
    }

    #[test]
    fn keys_that_miss_in_turn_leave_a_full_cache_as_it_is() {
        let heap = Heap::new(HeapOptions::default());
        let keys = keys(&heap);
        let cache = full_cache(&heap, &keys);
        // A cycle over two receivers more than it holds misses on those
        // two, one after the other: the ones it holds stay.
        for _ in 0..100 {
            for i in [CACHE_WAYS, CACHE_WAYS + 1] {
                cache.insert(keys[i], CacheHit::Field(i as u32));
            }
        }
        let held: Vec<usize> = (0..CACHE_WAYS).collect();
        assert_eq!(cached(&cache, &keys), held);
    }

    #[test]
    fn a_class_declared_again_takes_the_ways_of_its_older_version() {
        let heap = Heap::new(HeapOptions::default());
        let class = |name: &str| heap.alloc(ObjClass::new(heap.intern_code(name))).unwrap();
        let shape = |class| heap.alloc(ObjShape::root(class)).unwrap().as_obj();
        let (cell, other) = (shape(class("Cell")), shape(class("Other")));
        let cache = InlineCache::new(heap.intern_code("x"));
        cache.insert(cell, CacheHit::Field(0));
        cache.insert(other, CacheHit::Field(1));
        // `class Cell` run again: its shapes take the old Cell's ways, so a
        // site keeps what it had (here polymorphic over two classes) and
        // holds no class no longer used.
        let newer = shape(class("Cell"));
        cache.insert(newer, CacheHit::Field(2));
        assert_eq!(cache.state(), CacheState::Polymorphic(2));
        assert_eq!(cached(&cache, &[cell, other, newer]), [1, 2]);
        // The older class again is a class of its own: it takes a free way
        // and leaves the newer one where it is.
        cache.insert(cell, CacheHit::Field(0));
        assert_eq!(cached(&cache, &[cell, other, newer]), [0, 1, 2]);
        // Super sites' keys are classes, and are replaced the same way.
        let (base, base_again) = (class("Base"), class("Base"));
        let supers = InlineCache::new(heap.intern_code("m"));
        supers.insert(base.as_obj(), CacheHit::Field(0));
        supers.insert(base_again.as_obj(), CacheHit::Field(0));
        assert_eq!(supers.state(), CacheState::Monomorphic);
        assert_eq!(cached(&supers, &[base.as_obj(), base_again.as_obj()]), [1]);
    }
}
