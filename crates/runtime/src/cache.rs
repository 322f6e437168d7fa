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
//! up to [`CACHE_WAYS`], and megamorphic when a further key misses: it then
//! keeps the entries it has but adds no more, and misses take the generic
//! lookup.

use std::cell::Cell;

use crate::class::ObjShape;
use crate::object::{Gc, ObjClosure, ObjRef, ObjString, Trace};

/// How many keys a polymorphic cache holds.
pub const CACHE_WAYS: usize = 4;

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

#[derive(Clone, Copy)]
struct Entry {
    key: ObjRef,
    hit: CacheHit,
}

/// The states a cache moves through, for statistics and teaching tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheState {
    Empty,
    Monomorphic,
    Polymorphic(usize),
    Megamorphic,
}

/// One site's cache: the property name and up to [`CACHE_WAYS`] entries.
pub struct InlineCache {
    /// The name the site looks up.
    pub name: Gc<ObjString>,
    entries: [Cell<Option<Entry>>; CACHE_WAYS],
    megamorphic: Cell<bool>,
}

impl InlineCache {
    pub fn new(name: Gc<ObjString>) -> InlineCache {
        InlineCache { name, entries: Default::default(), megamorphic: Cell::new(false) }
    }

    /// What the generic lookup found for `key`, if the cache remembers it.
    #[inline(always)]
    pub fn get(&self, key: ObjRef) -> Option<CacheHit> {
        for entry in &self.entries {
            match entry.get() {
                Some(entry) if entry.key == key => return Some(entry.hit),
                Some(_) => {}
                None => return None,
            }
        }
        None
    }

    /// Remember that the lookup for `key` found `hit`; a cache that is full
    /// becomes megamorphic instead.
    ///
    /// The caller keeps `key` and `hit` reachable until this returns; from
    /// then on the cache does.
    pub fn insert(&self, key: ObjRef, hit: CacheHit) {
        match self.entries.iter().find(|entry| entry.get().is_none()) {
            Some(free) => free.set(Some(Entry { key, hit })),
            None => self.megamorphic.set(true),
        }
    }

    pub fn state(&self) -> CacheState {
        let used = self.entries.iter().filter(|entry| entry.get().is_some()).count();
        match used {
            _ if self.megamorphic.get() => CacheState::Megamorphic,
            0 => CacheState::Empty,
            1 => CacheState::Monomorphic,
            n => CacheState::Polymorphic(n),
        }
    }
}

impl Trace for InlineCache {
    fn trace(&self, tracer: &mut dyn FnMut(ObjRef)) {
        tracer(self.name.as_obj());
        for entry in self.entries.iter().filter_map(Cell::get) {
            tracer(entry.key);
            match entry.hit {
                CacheHit::Field(_) => {}
                CacheHit::Method(method) => tracer(method.as_obj()),
                CacheHit::AddField(shape) => tracer(shape.as_obj()),
            }
        }
    }
}
