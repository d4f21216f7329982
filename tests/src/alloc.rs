//! A global allocator that measures peak heap use, for tests that bound the memory a piece
//! of hostile input may cost (no timing involved).
//!
//! A test binary opts in with
//! ```ignore
//! #[global_allocator]
//! static ALLOC: gitops_tests::alloc::PeakAlloc = gitops_tests::alloc::PeakAlloc::new();
//! ```
//! and measures with [`PeakAlloc::measure`], which serialises measurements within the binary
//! and, while one runs, refuses any allocation that would take live heap past its cap (the
//! process aborts with an allocation error instead of taking the machine down), so a
//! regression fails the test instead of exhausting memory.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Wraps the system allocator, counting live and peak bytes.
pub struct PeakAlloc {
    live: AtomicUsize,
    peak: AtomicUsize,
    cap: AtomicUsize,
    lock: Mutex<()>,
}

impl Default for PeakAlloc {
    fn default() -> Self {
        Self::new()
    }
}

impl PeakAlloc {
    /// A new allocator with no cap.
    pub const fn new() -> Self {
        PeakAlloc {
            live: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            cap: AtomicUsize::new(usize::MAX),
            lock: Mutex::new(()),
        }
    }

    /// Bytes allocated and not yet freed.
    pub fn live(&self) -> usize {
        self.live.load(Ordering::Relaxed)
    }

    /// Runs `f` and returns its result with the peak heap growth while it ran (peak live bytes
    /// minus live bytes at the start). Allocations that would grow the heap by more than
    /// `cap` bytes over the start abort the process. Measurements in one binary run one at a
    /// time; allocations of other threads in the process count too, so a binary that
    /// measures should measure in every test.
    pub fn measure<T>(&self, cap: usize, f: impl FnOnce() -> T) -> (T, usize) {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let start = self.live();
        self.peak.store(start, Ordering::Relaxed);
        self.cap.store(start.saturating_add(cap), Ordering::Relaxed);
        let out = f();
        self.cap.store(usize::MAX, Ordering::Relaxed);
        let peak = self.peak.load(Ordering::Relaxed);
        (out, peak.saturating_sub(start))
    }

    fn grow(&self, size: usize) -> bool {
        let now = self.live.fetch_add(size, Ordering::Relaxed) + size;
        if now > self.cap.load(Ordering::Relaxed) {
            self.live.fetch_sub(size, Ordering::Relaxed);
            return false;
        }
        self.peak.fetch_max(now, Ordering::Relaxed);
        true
    }
}

// SAFETY: every call forwards to `System` with the caller's layout; the counters only decide
// whether to forward an allocation at all (refusing is returning null, which is allowed).
unsafe impl GlobalAlloc for PeakAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !self.grow(layout.size()) {
            return std::ptr::null_mut();
        }
        // SAFETY: forwarded with the caller's layout.
        let p = unsafe { System.alloc(layout) };
        if p.is_null() {
            self.live.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if !self.grow(layout.size()) {
            return std::ptr::null_mut();
        }
        // SAFETY: forwarded with the caller's layout.
        let p = unsafe { System.alloc_zeroed(layout) };
        if p.is_null() {
            self.live.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` with this layout.
        unsafe { System.dealloc(ptr, layout) };
        self.live.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let old = layout.size();
        if new_size > old && !self.grow(new_size - old) {
            return std::ptr::null_mut();
        }
        // SAFETY: `ptr` came from `System` with `layout`; forwarded unchanged.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if p.is_null() {
            if new_size > old {
                self.live.fetch_sub(new_size - old, Ordering::Relaxed);
            }
        } else if new_size < old {
            self.live.fetch_sub(old - new_size, Ordering::Relaxed);
        }
        p
    }
}
