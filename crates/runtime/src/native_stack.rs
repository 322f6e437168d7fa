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
    let remaining = remaining();
    (pointer() - remaining) + RED_ZONE.min(remaining / 2)
}

/// Bytes of native stack left below the stack pointer.
pub fn remaining() -> usize {
    if let Some(limit) = main_thread_limit() {
        return pointer() - limit;
    }
    // Without a known limit (never on the platforms Strata runs on), assume
    // the smallest stack a Rust thread gets.
    stacker::remaining_stack().unwrap_or(2 << 20)
}

/// On the process's main thread, running on its own stack: the lowest
/// address that stack may grow to, from the stack's start and its size
/// limit. `None` elsewhere (other threads, `grow`'s segments), where the
/// thread library knows the bounds.
///
/// The thread library knows the main thread's bounds too, but to find them
/// glibc reads and parses `/proc/self/maps`, which costs a start-up more
/// time and memory (the pages of its parsing code) than running `hello`.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn main_thread_limit() -> Option<usize> {
    unsafe extern "C" {
        /// Where the main thread's stack started (glibc's dynamic loader
        /// sets it at start-up).
        static __libc_stack_end: *const std::ffi::c_void;
    }
    // SAFETY: system calls with no arguments to get wrong.
    if unsafe { libc::gettid() != libc::getpid() } {
        return None;
    }
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: `limit` is a valid `rlimit` to write.
    if unsafe { libc::getrlimit(libc::RLIMIT_STACK, &mut limit) } != 0
        || limit.rlim_cur == libc::RLIM_INFINITY
        || limit.rlim_cur > 1 << 30
    {
        return None;
    }
    // SAFETY: a word glibc writes once, before `main`.
    let start = unsafe { __libc_stack_end } as usize;
    let size = limit.rlim_cur as usize;
    // The limit counts the arguments and environment above `start` too,
    // which the kernel holds to a quarter of it.
    let lowest = start.checked_sub(size - size / 4)?;
    let here = pointer();
    (lowest < here && here <= start).then_some(lowest)
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn main_thread_limit() -> Option<usize> {
    None
}

/// Run `f` on a fresh segment of [`SEGMENT`] bytes, passing it the floor
/// there. The caller restores its own floor afterwards.
#[cold]
#[inline(never)]
pub fn grow<T>(f: impl FnOnce(usize) -> T) -> T {
    stacker::grow(SEGMENT, || f(floor()))
}
