//! The global allocator of the wasm builds: power-of-two size classes, one
//! free list per class, fresh memory from `memory.grow`.
//!
//! Why not Rust's default (dlmalloc): it is ~7 KB of code, and what this
//! crate allocates in wasm memory is small and repetitive. File parts
//! travel as JS `Blob`s and byte arrays, never through wasm memory (except
//! the ≤ 1 MiB buffer that feeds the MD5), so a multi-gigabyte upload makes
//! the same few allocations for every part. This allocator is a few hundred
//! bytes:
//!
//! * a request of `size` bytes aligned to `align` takes a block of the
//!   class `2^k ≥ max(size, align, 16)`; a block of class `2^k` always
//!   starts at a multiple of `2^k`, so every alignment up to the class size
//!   holds;
//! * a freed block goes on its class's free list and is the next block of
//!   that class handed out, so memory is reused: a run that repeats the same
//!   allocations (one upload part after another) stops growing once it has
//!   the blocks of its peak;
//! * a class with an empty list cuts a block from the end of the heap; the
//!   gap left to reach the class's alignment is cut into smaller aligned
//!   blocks that go on their own free lists, so nothing is lost;
//! * blocks are never split or merged otherwise (a request over 1 GiB
//!   fails as out of memory). The cost is up to 2× per
//!   block in the worst case, which the sizes seen here (strings, small
//!   vectors, futures of a few KB) make small in absolute terms.
//!
//! wasm32 without the `atomics` feature has one thread, so the state needs
//! no lock.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::ptr;

/// The smallest block: room for the free-list link, and 16-byte alignment.
const MIN_CLASS: u32 = 4;
/// Classes `2^4` to `2^30` (one block at most 1 GiB; wasm32 memory ends at
/// 4 GiB).
const CLASSES: usize = 31;
/// A wasm memory page.
const PAGE: usize = 64 * 1024;

struct State {
    /// Head of the free list of each class (0 when empty); a free block
    /// holds the address of the next free block of its class.
    free: [usize; CLASSES],
    /// Next unused byte of the heap, and its end (both 0 before the first
    /// growth).
    next: usize,
    end: usize,
}

/// The allocator (`#[global_allocator]` in `lib.rs`).
pub struct Allocator(UnsafeCell<State>);

// SAFETY: wasm32 without threads: no two calls ever run at once.
unsafe impl Sync for Allocator {}

impl Allocator {
    /// An allocator with an empty heap.
    pub const fn new() -> Self {
        Allocator(UnsafeCell::new(State {
            free: [0; CLASSES],
            next: 0,
            end: 0,
        }))
    }
}

impl Default for Allocator {
    fn default() -> Self {
        Self::new()
    }
}

/// The class of `layout`: `k` with `2^k ≥ max(size, align, 16)`, or `None`
/// when that is beyond 1 GiB.
fn class_of(layout: &Layout) -> Option<usize> {
    let need = layout.size().max(layout.align());
    if need > 1 << 30 {
        return None;
    }
    let k = usize::BITS - need.saturating_sub(1).leading_zeros();
    Some(k.max(MIN_CLASS) as usize)
}

impl State {
    /// Puts the block at `at` of class `k` on its free list.
    ///
    /// SAFETY: `at` is a free block of class `k`, owned by the heap.
    unsafe fn push(&mut self, k: usize, at: usize) {
        *(at as *mut usize) = self.free[k];
        self.free[k] = at;
    }

    /// A block of class `k`: from its free list, else from the heap's end.
    unsafe fn take(&mut self, k: usize) -> *mut u8 {
        let head = self.free[k];
        if head != 0 {
            self.free[k] = *(head as *const usize);
            return head as *mut u8;
        }
        let size = 1usize << k;
        loop {
            // Fill the gap up to the class's alignment with smaller blocks:
            // the lowest set bit of `next` is the size of the largest block
            // aligned at `next`, and `next` plus it never passes the next
            // multiple of `size`.
            while self.next & (size - 1) != 0 {
                let step = self.next & self.next.wrapping_neg();
                if self.end - self.next < step {
                    break;
                }
                self.push(step.trailing_zeros() as usize, self.next);
                self.next += step;
            }
            if self.next & (size - 1) == 0 && self.end - self.next >= size {
                self.next += size;
                return (self.next - size) as *mut u8;
            }
            // Grow by twice the block (room for the alignment gap), at least
            // a page. Memory past the old end continues the heap; if
            // something else grew the memory meanwhile, the rest of the old
            // heap is left unused and the heap restarts at the new pages.
            let pages = (2 * size).div_ceil(PAGE);
            let old = core::arch::wasm32::memory_grow(0, pages);
            if old == usize::MAX {
                return ptr::null_mut();
            }
            if old * PAGE != self.end {
                self.next = old * PAGE;
            }
            self.end = (old + pages) * PAGE;
        }
    }
}

unsafe impl GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match class_of(&layout) {
            Some(k) => (*self.0.get()).take(k),
            None => ptr::null_mut(),
        }
    }

    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        if let Some(k) = class_of(&layout) {
            (*self.0.get()).push(k, p as usize);
        }
    }

    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = Layout::from_size_align_unchecked(new_size, layout.align());
        if class_of(&layout) == class_of(&new) {
            return p;
        }
        let q = self.alloc(new);
        if !q.is_null() {
            ptr::copy_nonoverlapping(p, q, layout.size().min(new_size));
            self.dealloc(p, layout);
        }
        q
    }
}

#[cfg(all(test, target_arch = "wasm32"))]
mod tests {
    use std::alloc::{alloc, dealloc, realloc, Layout};

    use wasm_bindgen_test::wasm_bindgen_test;

    fn pages() -> usize {
        core::arch::wasm32::memory_size(0)
    }

    #[wasm_bindgen_test]
    fn blocks_are_aligned_and_disjoint() {
        let mut blocks = Vec::new();
        for (i, size) in [1usize, 7, 16, 17, 100, 4096, 5000, 70_000, 1 << 20]
            .into_iter()
            .enumerate()
        {
            for align in [1usize, 8, 16, 64, 4096, 65_536] {
                let layout = Layout::from_size_align(size, align).unwrap();
                let p = unsafe { alloc(layout) };
                assert!(!p.is_null());
                assert_eq!(p as usize % align, 0, "size {size} align {align}");
                let fill = (i * 7 + align.trailing_zeros() as usize) as u8;
                unsafe { p.write_bytes(fill, size) };
                blocks.push((p, layout, fill));
            }
        }
        for &(p, layout, fill) in &blocks {
            let bytes = unsafe { std::slice::from_raw_parts(p, layout.size()) };
            assert!(bytes.iter().all(|&b| b == fill), "a block was overwritten");
        }
        for (p, layout, _) in blocks {
            unsafe { dealloc(p, layout) };
        }
    }

    #[wasm_bindgen_test]
    fn realloc_keeps_the_contents() {
        let layout = Layout::from_size_align(10, 1).unwrap();
        let mut p = unsafe { alloc(layout) };
        let mut size = 10;
        unsafe { p.copy_from(b"0123456789".as_ptr(), 10) };
        for new_size in [12, 16, 17, 300, 100_000, 20] {
            p = unsafe { realloc(p, Layout::from_size_align(size, 1).unwrap(), new_size) };
            assert!(!p.is_null());
            size = new_size;
            let head = unsafe { std::slice::from_raw_parts(p, 10) };
            assert_eq!(head, b"0123456789");
        }
        unsafe { dealloc(p, Layout::from_size_align(size, 1).unwrap()) };
        let v: Vec<u32> = (0..200_000).collect();
        assert!(v.iter().enumerate().all(|(i, &x)| x as usize == i));
    }

    /// What a long upload does: the same allocations, part after part,
    /// must not grow the memory once the first rounds have run.
    #[wasm_bindgen_test]
    fn repeated_work_reuses_freed_memory() {
        let round = |n: usize| {
            let buf = vec![n as u8; 1024 * 1024];
            let names: Vec<String> = (0..50).map(|i| format!("part {i} of {n}")).collect();
            let boxed: Box<[u64]> = vec![n as u64; 700].into_boxed_slice();
            let mut grown = Vec::new();
            for i in 0..5000u32 {
                grown.push(i);
            }
            buf[n % buf.len()] as usize + names.len() + boxed.len() + grown.len()
        };
        for n in 0..3 {
            round(n);
        }
        let before = pages();
        for n in 0..2000 {
            round(n);
        }
        assert_eq!(pages(), before, "memory grew while repeating the same work");
    }
}
