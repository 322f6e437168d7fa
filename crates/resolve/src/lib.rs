//! Strata's front end, part two: resolution, and the front end's one door.
//!
//! [`FrontEnd`] holds what persists across compilations in one session (the
//! symbol interner and the global-slot table, which a REPL keeps between
//! entries) and turns source text into a resolved [`Program`] or the full
//! list of diagnostics. Every compile error and every language limit is
//! decided here or in the parser it drives, so no two engines can disagree
//! about what compiles (DESIGN.md invariant 1).
//!
//! Resolution happens during parsing, as in the book's one-pass compiler:
//! the resolver implements the parser's [`syntax::Semantics`], so its errors
//! take part in the parser's panic mode and the front end reports exactly
//! the errors clox reports.

mod captures;
mod globals;
mod resolver;
mod size;
mod stack;

pub use globals::GlobalTable;
pub use size::MAX_JUMP;
pub use stack::MAX_FRAME_SLOTS;

use syntax::ast::Program;
use syntax::{Diagnostic, Interner};

/// The front end of one session.
#[derive(Debug, Default)]
pub struct FrontEnd {
    pub interner: Interner,
    pub globals: GlobalTable,
    /// The id the next resolved function gets.
    next_function_id: u32,
}

impl FrontEnd {
    pub fn new() -> FrontEnd {
        FrontEnd::default()
    }

    /// The global slot named `name`, assigned on first sight (how engines
    /// place natives, and how loaded bytecode finds its globals).
    pub fn global_slot(&mut self, name: &str) -> u32 {
        let symbol = self.interner.intern(name);
        self.globals.slot(symbol)
    }

    /// The name of every global slot, in slot order.
    pub fn global_names(&self) -> Vec<String> {
        (0..self.globals.len() as u32)
            .map(|slot| self.interner.resolve(self.globals.name(slot)).to_string())
            .collect()
    }

    /// How many functions this session has resolved; ids are `0..count`.
    pub fn function_count(&self) -> u32 {
        self.next_function_id
    }

    /// Scan, parse and resolve `source`.
    ///
    /// Returns the resolved program, or every diagnostic in the order found
    /// (the order clox reports them). A program is returned only if it has
    /// no errors at all.
    pub fn compile(&mut self, source: &str) -> Result<Program, Vec<Diagnostic>> {
        if u32::try_from(source.len()).is_err() {
            let span = syntax::Span { start: 0, end: 0 };
            return Err(vec![Diagnostic::bare(1, span, "Source file is too large.")]);
        }
        let mut resolver = resolver::Resolver::new(
            &mut self.interner,
            &mut self.globals,
            &mut self.next_function_id,
        );
        let syntax::Parse { mut program, diagnostics } =
            syntax::parse(source, &mut self.interner, &mut resolver);
        if !diagnostics.is_empty() {
            return Err(diagnostics);
        }
        captures::settle(&mut program.stmts, &|id, index| resolver.by_value(id, index));
        Ok(program)
    }
}
