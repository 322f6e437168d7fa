//! The native stack, for the engines that recurse as Lox calls nest: the
//! tree-walker, and compiled code calling through the VM's helpers. Each
//! keeps a *floor* (an address on the stack it runs on); a call that finds
//! the stack pointer below it goes on on a fresh segment ([`grow`]). So the
//! native stack never decides when a program overflows: only the frame
//! limit does, the same in every engine.

/// Native stack kept free below a floor. A function body nests at most
/// `syntax::MAX_NESTING` levels (chains included), and a helper's slow path
/// runs no deeper Rust code without a call back into Lox, so one call's
/// work between two floor checks stays well under this.
pub const RED_ZONE: usize = 1 << 20;

/// The size of each extra segment (reserved lazily: only the pages a
/// program touches cost memory).
pub const SEGMENT: usize = 64 << 20;

/// The native stack pointer. Read from the register (`psm`, which `stacker`
/// uses too), not as the address of a local: a sanitizer's "fake stack"
/// puts locals on the heap, where their address says nothing.
#[inline(always)]
pub fn pointer() -> usize {
    psm::stack_pointer() as usize
}

/// The lowest address a call may start at on the stack running now, so
/// that [`RED_ZONE`] bytes stay free below it.
pub fn floor() -> usize {
    let here = pointer();
    // Without a known limit (never on the platforms Strata runs on), assume
    // the smallest stack a Rust thread gets.
    let remaining = stacker::remaining_stack().unwrap_or(2 << 20);
    (here - remaining) + RED_ZONE.min(remaining / 2)
}

/// Run `f` on a fresh segment of [`SEGMENT`] bytes, passing it the floor
/// there. The caller restores its own floor afterwards.
#[cold]
#[inline(never)]
pub fn grow<T>(f: impl FnOnce(usize) -> T) -> T {
    stacker::grow(SEGMENT, || f(floor()))
}
