//! The arena's policy, driven by hand (natively it is not the global allocator): its space is
//! reused only when nothing in it is live, so a block kept across hook calls is never
//! overwritten.

use std::alloc::{GlobalAlloc, Layout};

use super::{ARENA_BYTES, CallArena};

fn layout(size: usize, align: usize) -> Layout {
    Layout::from_size_align(size, align).unwrap()
}

/// Allocates `size` bytes filled with `byte`.
fn filled(arena: &CallArena, size: usize, byte: u8) -> *mut u8 {
    // SAFETY: a non-zero size; the block is `size` bytes.
    unsafe {
        let ptr = arena.alloc(layout(size, 1));
        assert!(!ptr.is_null());
        ptr.write_bytes(byte, size);
        ptr
    }
}

fn holds(ptr: *mut u8, size: usize, byte: u8) -> bool {
    // SAFETY: the block is live and `size` bytes long.
    unsafe { std::slice::from_raw_parts(ptr, size) }.iter().all(|&b| b == byte)
}

/// A "hook call": what the host lowers, what the hook builds and returns, all freed at its end.
fn call(arena: &CallArena, round: u8) -> Vec<*mut u8> {
    let blocks: Vec<_> = (1..=12).map(|i| filled(arena, 40 * i, round)).collect();
    for (i, &ptr) in blocks.iter().enumerate() {
        assert!(holds(ptr, 40 * (i + 1), round), "a block of the same call was overwritten");
    }
    blocks
}

fn free_all(arena: &CallArena, blocks: Vec<*mut u8>) {
    for (i, ptr) in blocks.into_iter().enumerate() {
        // SAFETY: each block came from `arena` with this layout.
        unsafe { arena.dealloc(ptr, layout(40 * (i + 1), 1)) };
    }
}

#[test]
fn issue_17_the_arena_is_reused_once_a_call_has_freed_everything() {
    let arena = CallArena::new();
    let first = call(&arena, 1);
    let start = first[0];
    assert!(arena.owns(start));
    free_all(&arena, first);
    assert_eq!(arena.live_blocks(), 0);
    let second = call(&arena, 2);
    assert_eq!(second[0], start, "the next call starts again at the arena's beginning");
    free_all(&arena, second);
}

#[test]
fn issue_17_a_block_kept_across_calls_is_never_overwritten() {
    let arena = CallArena::new();
    // A config keeping a value in a `static`: allocated in a call, never freed.
    let kept = filled(&arena, 100, 0xAB);
    for round in 0..200u8 {
        let blocks = call(&arena, round);
        for (i, &ptr) in blocks.iter().enumerate() {
            let (lo, hi) = (ptr as usize, ptr as usize + 40 * (i + 1));
            assert!(hi <= kept as usize || lo >= kept as usize + 100, "a block overlaps the kept one");
        }
        free_all(&arena, blocks);
        assert!(holds(kept, 100, 0xAB), "the kept block was overwritten in round {round}");
    }
    // The arena filled up long ago (200 calls of 3 KiB) and std's allocator served the rest.
    let late = filled(&arena, 40, 7);
    assert!(!arena.owns(late));
    // SAFETY: `late` came from the arena's `alloc` with this layout.
    unsafe { arena.dealloc(late, layout(40, 1)) };
}

#[test]
fn issue_17_reallocation_keeps_the_contents_in_place_or_moved() {
    let arena = CallArena::new();
    let a = filled(&arena, 16, 1);
    let b = filled(&arena, 16, 2);
    // SAFETY: each pointer came from `arena` with the layout given; contents checked below.
    unsafe {
        // `b` is the last block: it grows in place.
        let b2 = arena.realloc(b, layout(16, 1), 64);
        assert_eq!(b2, b);
        // `a` is not: it moves, keeping its bytes, and `b`'s stay intact.
        let a2 = arena.realloc(a, layout(16, 1), 64);
        assert_ne!(a2, a);
        assert!(holds(a2, 16, 1) && holds(b2, 16, 2));
        assert_eq!(arena.live_blocks(), 2);
        // Growing past the arena moves the block out of it.
        let big = arena.realloc(a2, layout(64, 1), ARENA_BYTES + 1);
        assert!(!arena.owns(big) && holds(big, 16, 1));
        arena.dealloc(big, layout(ARENA_BYTES + 1, 1));
        arena.dealloc(b2, layout(64, 1));
    }
    assert_eq!(arena.live_blocks(), 0);
}

#[test]
fn issue_17_alignment_and_large_blocks() {
    let arena = CallArena::new();
    let _byte = filled(&arena, 1, 0);
    for align in [2, 4, 8, 16] {
        // SAFETY: non-zero sizes; freed with the same layouts.
        unsafe {
            let ptr = arena.alloc(layout(8, align));
            assert_eq!(ptr as usize % align, 0);
            assert!(arena.owns(ptr));
            arena.dealloc(ptr, layout(8, align));
        }
    }
    // SAFETY: as above.
    unsafe {
        let over_aligned = arena.alloc(layout(8, 64));
        assert_eq!(over_aligned as usize % 64, 0);
        assert!(!arena.owns(over_aligned));
        arena.dealloc(over_aligned, layout(8, 64));
        let large = arena.alloc(layout(ARENA_BYTES, 1));
        assert!(!arena.owns(large), "a block larger than what is left goes to std's allocator");
        arena.dealloc(large, layout(ARENA_BYTES, 1));
    }
    assert_eq!(arena.live_blocks(), 1);
}
