//! The global-variable table: names to slots, for one session.
//!
//! Globals are late bound in Lox, but their *names* are known when code is
//! compiled, so each name gets a slot once and every use indexes it. A slot
//! whose variable was never defined holds the runtime's "undefined" marker,
//! and reading it is the runtime error `Undefined variable 'NAME'.`

use std::collections::HashMap;

use syntax::Symbol;

#[derive(Debug, Default)]
pub struct GlobalTable {
    names: Vec<Symbol>,
    slots: HashMap<Symbol, u32>,
}

impl GlobalTable {
    pub fn new() -> GlobalTable {
        GlobalTable::default()
    }

    /// The slot of the global `name`, assigned on first sight.
    pub fn slot(&mut self, name: Symbol) -> u32 {
        if let Some(&slot) = self.slots.get(&name) {
            return slot;
        }
        let slot = self.names.len() as u32;
        self.names.push(name);
        self.slots.insert(name, slot);
        slot
    }

    /// The name of the global in `slot`.
    pub fn name(&self, slot: u32) -> Symbol {
        self.names[slot as usize]
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}
