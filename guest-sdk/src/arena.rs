//! [`CallArena`]: the guest's global allocator on `wasm32`, a bump arena for the short-lived
//! allocations of a hook call, in front of std's allocator (`dlmalloc` on `wasm32`).
//!
//! Why (issue 17): a hook call allocates and frees about a dozen blocks: each string and list
//! the host lowers into the guest (one `cabi_realloc` each), the values the hook builds, its
//! result, freed by the call's post-return. With `dlmalloc` these were about 8 k of the 19 k
//! instructions the guest ran per request of the `csrf-token` example. A bump allocation is a
//! handful of instructions, a free one decrement.
//!
//! Policy:
//! - An allocation that fits in what is left of the arena ([`ARENA_BYTES`], taken from std's
//!   allocator at the first allocation) is bumped; anything else (a larger block, a full arena,
//!   an arena that could not be had) goes to std's allocator, and is freed there.
//! - The arena counts its live blocks. **Its space is reused only when that count is zero**,
//!   i.e. when every block ever bumped has been freed: never while anything allocated in it is
//!   live, whatever the guest keeps between calls. The count falls to zero at the end of each
//!   hook call (the host frees the call's arguments, post-return its result) unless something
//!   outlives the call: a config that keeps a value in a `static` keeps its block, and the
//!   arena then only fills, once, after which std's allocator serves the rest (as without the
//!   arena); the kept value is never overwritten.
//! - Within a call, the last block bumped grows or shrinks in place (a `String` or `Vec` being
//!   built); any other reallocation moves the block, and a block freed before others is only
//!   reclaimed with the rest.
//! - Single-threaded: it is installed only on `wasm32` without the `atomics` feature (no
//!   threads), so its counters are never raced; the atomics it uses are plain loads and stores
//!   there.

#![expect(unsafe_code, reason = "a global allocator implements the unsafe `GlobalAlloc` trait")]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// The arena's size: 64 KiB, one wasm page. A request of the `csrf-token` example peaks at
/// about 8 KiB in the arena (its use response body, 2 KiB, and the request's strings); a larger
/// body goes to std's allocator, which is what every block did before the arena.
pub const ARENA_BYTES: usize = 64 * 1024;

/// The arena's alignment, and the largest alignment it serves (larger ones go to std's
/// allocator).
const ARENA_ALIGN: usize = 16;

/// The least alignment of a block, as `dlmalloc`'s: the host reads the strings a hook returns
/// (and checks their UTF-8) a word at a time from an aligned start; byte-aligned strings cost
/// it about 400 instructions more per request of the `csrf-token` example.
const MIN_ALIGN: usize = 8;

/// A bump arena in front of [`System`]. See the module docs for the policy.
#[derive(Debug, Default)]
pub struct CallArena {
    /// The arena's address, 0 until the first allocation takes it.
    base: AtomicUsize,
    /// The address of the arena's first free byte (0 before the arena is taken).
    next: AtomicUsize,
    /// The address past the arena's end (0 before the arena is taken, so that nothing fits).
    end: AtomicUsize,
    /// Blocks bumped and not yet freed.
    live: AtomicUsize,
}

impl CallArena {
    /// An arena that takes its space at its first allocation.
    pub const fn new() -> Self {
        Self {
            base: AtomicUsize::new(0),
            next: AtomicUsize::new(0),
            end: AtomicUsize::new(0),
            live: AtomicUsize::new(0),
        }
    }

    /// Takes the arena from [`System`] (once); whether there is one.
    #[cold]
    fn take_space(&self) -> bool {
        if self.base.load(Relaxed) != 0 {
            return true;
        }
        let Ok(layout) = Layout::from_size_align(ARENA_BYTES, ARENA_ALIGN) else {
            return false;
        };
        // SAFETY: the layout has a non-zero size.
        let base = unsafe { System.alloc(layout) } as usize;
        if base == 0 {
            return false;
        }
        self.base.store(base, Relaxed);
        self.next.store(base, Relaxed);
        self.end.store(base + ARENA_BYTES, Relaxed);
        true
    }

    /// Whether `ptr` is a block of the arena.
    fn owns(&self, ptr: *mut u8) -> bool {
        let base = self.base.load(Relaxed);
        base != 0 && (base..base + ARENA_BYTES).contains(&(ptr as usize))
    }

    /// A block for `layout` bumped from the arena, `None` when it does not fit.
    #[inline]
    fn bump(&self, layout: Layout) -> Option<*mut u8> {
        // Alignments are powers of two: rounding up is a mask.
        let align = layout.align().max(MIN_ALIGN);
        let start = (self.next.load(Relaxed) + align - 1) & !(align - 1);
        let room = self.end.load(Relaxed).checked_sub(start)?;
        if layout.size() > room || align > ARENA_ALIGN {
            return None;
        }
        self.next.store(start + layout.size(), Relaxed);
        self.live.store(self.live.load(Relaxed) + 1, Relaxed);
        Some(start as *mut u8)
    }

    /// Frees an arena block: the space is reused once no block is live.
    #[inline]
    fn free(&self) {
        let live = self.live.load(Relaxed) - 1;
        self.live.store(live, Relaxed);
        if live == 0 {
            self.next.store(self.base.load(Relaxed), Relaxed);
        }
    }

    /// Resizes arena block `ptr` in place when it is the last one bumped and the new size fits,
    /// or when it shrinks.
    fn resize_in_place(&self, ptr: *mut u8, old: usize, new: usize) -> bool {
        let start = ptr as usize;
        if start + old == self.next.load(Relaxed) && new <= self.end.load(Relaxed) - start {
            self.next.store(start + new, Relaxed);
            return true;
        }
        new <= old
    }

    /// An allocation the bump did not serve: the arena taken first if it is not yet, else (or
    /// if it still does not fit) std's allocator. Out of line, so that the bump's path stays
    /// a handful of instructions.
    ///
    /// # Safety
    /// `layout` has a non-zero size, as `GlobalAlloc::alloc` requires.
    #[cold]
    #[inline(never)]
    unsafe fn alloc_slow(&self, layout: Layout) -> *mut u8 {
        if self.base.load(Relaxed) == 0
            && self.take_space()
            && let Some(ptr) = self.bump(layout)
        {
            return ptr;
        }
        // SAFETY: the caller guarantees a non-zero size.
        unsafe { System.alloc(layout) }
    }

    /// Live blocks in the arena (for tests).
    pub fn live_blocks(&self) -> usize {
        self.live.load(Relaxed)
    }
}

// SAFETY: every block handed out is `layout.size()` bytes at `layout.align()` (the arena's
// blocks lie within it and never overlap a live block: its space is reused only when no block is
// live), and each block is freed, or resized, by the allocator that made it (`owns`).
unsafe impl GlobalAlloc for CallArena {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match self.bump(layout) {
            Some(ptr) => ptr,
            // SAFETY: the caller's layout has a non-zero size.
            None => unsafe { self.alloc_slow(layout) },
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        match self.owns(ptr) {
            true => self.free(),
            // SAFETY: not the arena's, so `ptr` came from `System` with this layout.
            false => unsafe { system_dealloc(ptr, layout) },
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !self.owns(ptr) {
            // SAFETY: `ptr` came from `System` with this layout; the caller's contract holds.
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        if self.resize_in_place(ptr, layout.size(), new_size) {
            return ptr;
        }
        // SAFETY: the caller guarantees `new_size` with `layout.align()` is a valid layout.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: as for `alloc`; the blocks do not overlap (the old one is still live).
        unsafe {
            let new = self.alloc(new_layout);
            if !new.is_null() {
                std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
            new
        }
    }
}

/// Frees a block of std's allocator, out of line (see [`CallArena::alloc_slow`]).
///
/// # Safety
/// `ptr` came from [`System`] with `layout`.
#[cold]
#[inline(never)]
unsafe fn system_dealloc(ptr: *mut u8, layout: Layout) {
    // SAFETY: the caller guarantees it.
    unsafe { System.dealloc(ptr, layout) }
}

/// The allocator of every `wasm32` config built with this SDK (single-threaded targets only;
/// feature `call-arena`, on by default: a config with its own `#[global_allocator]` turns the
/// SDK's default features off).
#[cfg(all(feature = "call-arena", target_arch = "wasm32", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: CallArena = CallArena::new();

#[cfg(test)]
mod tests;
