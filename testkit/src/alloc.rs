//! A counting global allocator that attributes live heap to a scope, per
//! thread.
//!
//! A test binary installs it:
//!
//! ```ignore
//! #[global_allocator]
//! static ALLOC: mcsctp_testkit::alloc::Counting = mcsctp_testkit::alloc::Counting;
//! ```
//!
//! and marks the code whose allocations count with a [`Scope`] (an
//! [`EpNode`](crate::group::EpNode) with `counted` set wraps every call
//! into its endpoint in one). Every block allocated while a scope is open
//! on a thread is tagged with that thread; [`live`] is the octets of the
//! thread's tagged blocks not yet freed (requested sizes: neither the
//! allocator's own overhead nor this tag counts), wherever they are freed
//! from on that thread, and [`peak`] the most it has been since
//! [`reset_peak`]. So a block the endpoint allocates and hands out (a
//! delivered message) counts until it is dropped; a block allocated
//! outside (an incoming datagram, a payload the application built) does
//! not count even when the endpoint keeps or frees it. The counters are
//! thread-local, so tests running in parallel threads do not disturb each
//! other. Without the allocator installed every figure stays 0.
//!
//! How: each block gets a header of 16 octets (or the block's alignment,
//! if larger) in front of it, whose last word holds the tag: 0, or the
//! address of a thread-local marker of the allocating thread. Freeing a
//! tagged block on another thread leaves the allocating thread's count
//! alone and counts in [`foreign_frees`] instead.

// A global allocator cannot be written without `unsafe`: this module is
// the only unsafe code of the harness, and only test binaries install it.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

thread_local! {
    static IN_SCOPE: Cell<bool> = const { Cell::new(false) };
    static LIVE: Cell<i64> = const { Cell::new(0) };
    static PEAK: Cell<i64> = const { Cell::new(0) };
    static FOREIGN: Cell<u64> = const { Cell::new(0) };
    static MARKER: u8 = const { 0 };
}

/// The allocator (see the module docs).
#[derive(Debug, Clone, Copy, Default)]
pub struct Counting;

/// While a `Scope` lives, allocations on this thread count (scopes nest).
#[derive(Debug)]
pub struct Scope {
    prev: bool,
}

impl Scope {
    /// Opens a scope on this thread.
    pub fn enter() -> Self {
        Self {
            prev: IN_SCOPE.with(|s| s.replace(true)),
        }
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        IN_SCOPE.with(|s| s.set(self.prev));
    }
}

/// Runs `f` inside a [`Scope`].
pub fn scoped<R>(f: impl FnOnce() -> R) -> R {
    let _s = Scope::enter();
    f()
}

/// Octets of this thread's counted blocks still live.
pub fn live() -> i64 {
    LIVE.with(Cell::get)
}

/// The most [`live`] has been since [`reset_peak`].
pub fn peak() -> i64 {
    PEAK.with(Cell::get)
}

/// Starts [`peak`] again from [`live`].
pub fn reset_peak() {
    PEAK.with(|p| p.set(live()));
}

/// Counted blocks of this thread freed on another thread.
pub fn foreign_frees() -> u64 {
    FOREIGN.with(Cell::get)
}

fn marker() -> usize {
    MARKER
        .try_with(|m| std::ptr::from_ref(m) as usize)
        .unwrap_or(0)
}

/// Header size and the layout of the whole block.
fn outer(layout: Layout) -> Option<(usize, Layout)> {
    let off = layout.align().max(16);
    let l = Layout::from_size_align(layout.size().checked_add(off)?, off).ok()?;
    Some((off, l))
}

fn add_live(n: i64) {
    let _ = LIVE.try_with(|l| {
        let v = l.get() + n;
        l.set(v);
        let _ = PEAK.try_with(|p| p.set(p.get().max(v)));
    });
}

// SAFETY (the whole impl): every block handed out is `off` octets into a
// block `System` allocated with `outer(layout)`, `off` >= 16 and a multiple
// of the block's alignment, so the returned pointer keeps the alignment
// asked for and the word before it lies inside the block; `dealloc` gets
// the same layout back (GlobalAlloc's contract) and so finds the same
// `off` and the block's start.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some((off, l)) = outer(layout) else {
            return std::ptr::null_mut();
        };
        // SAFETY: `l` has a non-zero size (off >= 16).
        let base = unsafe { System.alloc(l) };
        if base.is_null() {
            return base;
        }
        let counted = IN_SCOPE.try_with(Cell::get).unwrap_or(false);
        let tag = if counted { marker() } else { 0 };
        if tag != 0 {
            add_live(layout.size() as i64);
        }
        // SAFETY: `off` <= the block's size; the tag word is the last
        // (aligned) word of the header.
        unsafe {
            let p = base.add(off);
            p.cast::<usize>().sub(1).write(tag);
            p
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let Some((off, l)) = outer(layout) else {
            return;
        };
        // SAFETY: `ptr` came from `alloc` with this layout (see above).
        let tag = unsafe { ptr.cast::<usize>().sub(1).read() };
        if tag != 0 {
            if tag == marker() {
                add_live(-(layout.size() as i64));
            } else {
                let _ = FOREIGN.try_with(|f| f.set(f.get() + 1));
            }
        }
        // SAFETY: the block's start and layout, as allocated.
        unsafe { System.dealloc(ptr.sub(off), l) };
    }
}
