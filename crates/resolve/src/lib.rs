//! Strata's front end, part two: resolution, and the front end's one door.
//!
//! [`FrontEnd`] holds what persists across compilations in one session (the
//! symbol interner and the global-slot table, which a REPL keeps between
//! entries) and turns source text into a resolved [`Program`] or the full
//! list of diagnostics. Every compile error and every language limit is
//! decided here, so no two engines can disagree about what compiles
//! (DESIGN.md invariant 1).

mod globals;
mod resolver;
mod size;

pub use globals::GlobalTable;
pub use size::{MAX_JUMP, Size};

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
    /// Returns the resolved program, or every diagnostic in source order.
    /// A program is returned only if it has no errors at all.
    pub fn compile(&mut self, source: &str) -> Result<Program, Vec<Diagnostic>> {
        if u32::try_from(source.len()).is_err() {
            let span = syntax::Span { start: 0, end: 0 };
            return Err(vec![Diagnostic::bare(1, span, "Source file is too large.")]);
        }
        let syntax::Parse { mut program, mut diagnostics, panic_windows } =
            syntax::parse(source, &mut self.interner);
        let resolver = resolver::Resolver::new(
            source,
            &mut self.interner,
            &mut self.globals,
            &mut self.next_function_id,
        );
        // An error inside a stretch the parser spent in panic mode would not
        // be reported by a one-pass compiler: the parser's error stands alone.
        let in_panic = |d: &Diagnostic| panic_windows.iter().any(|w| w.contains(&d.span.start));
        diagnostics
            .extend(resolver.resolve_program(&mut program).into_iter().filter(|d| !in_panic(d)));
        if diagnostics.is_empty() {
            Ok(program)
        } else {
            // Parse and resolve errors interleave by position, as they
            // would in a one-pass compiler.
            diagnostics.sort_by_key(|d| d.span.start);
            Err(diagnostics)
        }
    }
}
