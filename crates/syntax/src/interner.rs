//! Identifier and string-literal interning for the front end.
//!
//! A [`Symbol`] names one spelling for the life of an [`Interner`], which a
//! REPL session keeps across entries, so symbols from different entries agree.
//! Engines map symbols to runtime strings once, not on every use.

use std::collections::HashMap;

/// An interned spelling: an index into its [`Interner`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Symbol(pub u32);

impl Symbol {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

#[derive(Debug, Default)]
pub struct Interner {
    names: Vec<Box<str>>,
    index: HashMap<Box<str>, Symbol>,
}

impl Interner {
    pub fn new() -> Interner {
        Interner::default()
    }

    pub fn intern(&mut self, text: &str) -> Symbol {
        if let Some(&symbol) = self.index.get(text) {
            return symbol;
        }
        let symbol = Symbol(u32::try_from(self.names.len()).expect("more than 2^32 symbols"));
        self.names.push(text.into());
        self.index.insert(text.into(), symbol);
        symbol
    }

    pub fn lookup(&self, text: &str) -> Option<Symbol> {
        self.index.get(text).copied()
    }

    pub fn resolve(&self, symbol: Symbol) -> &str {
        &self.names[symbol.index()]
    }

    /// How many symbols exist; symbols are `0..len()`.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}
