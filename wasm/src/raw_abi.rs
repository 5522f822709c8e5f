//! The raw host ABI (version [`sessattr_core::ABI_VERSION`], `docs/abi.md`).
//!
//! This is the only module of the crate with `unsafe`: it turns pointers the
//! host passes into slices of guest memory.
#![allow(unsafe_code)]

use std::alloc::{Layout, alloc, dealloc};
use std::cell::RefCell;

use sessattr_core::Prepared;

thread_local! {
    /// The configuration set by [`sessattr_configure`], used by every step
    /// whose input carries none (an instance serves one host thread at a
    /// time; wasm32 has one thread).
    static CONFIGURED: RefCell<Option<Prepared>> = const { RefCell::new(None) };
}

/// Returns the ABI version; the host refuses a module whose version differs.
#[unsafe(no_mangle)]
pub extern "C" fn sessattr_abi_version() -> i32 {
    sessattr_core::ABI_VERSION as i32
}

/// Allocates `len` bytes for the host to fill; 0 on failure or for `len == 0`.
#[unsafe(no_mangle)]
pub extern "C" fn sessattr_alloc(len: i32) -> i32 {
    let Some(layout) = layout_for(len) else {
        return 0;
    };
    // SAFETY: `layout` has a non-zero size (checked by `layout_for`).
    let ptr = unsafe { alloc(layout) };
    ptr as usize as i32
}

/// Frees a buffer returned by [`sessattr_alloc`] or [`sessattr_step`].
#[unsafe(no_mangle)]
pub extern "C" fn sessattr_free(ptr: i32, len: i32) {
    let Some(layout) = layout_for(len) else {
        return;
    };
    if ptr == 0 {
        return;
    }
    // SAFETY: the host passes back a pointer and length this module handed out
    // (ABI contract), so it was allocated with this very layout.
    unsafe { dealloc(ptr as usize as *mut u8, layout) };
}

/// Sets the configuration of the steps that follow (a JSON `Config`):
/// takes ownership of the input buffer, returns the answer buffer packed as
/// `(ptr << 32) | len` (`{"configured":true}` or `{"rejected":"…"}`; a
/// rejected configuration leaves the instance unconfigured).
#[unsafe(no_mangle)]
pub extern "C" fn sessattr_configure(ptr: i32, len: i32) -> i64 {
    let (prepared, answer) = with_input(ptr, len, sessattr_core::configure_json);
    CONFIGURED.with(|configured| *configured.borrow_mut() = prepared);
    hand_out(answer)
}

/// Runs one step: takes ownership of the input buffer, returns the output
/// buffer packed as `(ptr << 32) | len`.
#[unsafe(no_mangle)]
pub extern "C" fn sessattr_step(ptr: i32, len: i32) -> i64 {
    let output = CONFIGURED.with(|configured| {
        let configured = configured.borrow();
        with_input(ptr, len, |input| {
            // TEST ONLY: the misbehaving module of `host/tests/guest_limits.rs`.
            #[cfg(feature = "hostile-test")]
            if let Some(output) = crate::hostile::before_step(input) {
                return output;
            }
            sessattr_core::step_json_with(input, configured.as_ref())
        })
    });
    hand_out(output)
}

/// Runs `read` on the host's input buffer, then frees it.
fn with_input<T>(ptr: i32, len: i32, read: impl FnOnce(&[u8]) -> T) -> T {
    let result = if ptr == 0 || len <= 0 {
        read(&[])
    } else {
        // SAFETY: the host filled `len` bytes at `ptr`, a buffer obtained from
        // `sessattr_alloc(len)` (ABI contract); it is read in place (no copy:
        // a step input may carry tens of MB of records) and freed only after.
        let input = unsafe { std::slice::from_raw_parts(ptr as usize as *const u8, len as usize) };
        read(input)
    };
    sessattr_free(ptr, len);
    result
}

/// Hands `output` to the host, packed as `(ptr << 32) | len`; the host frees
/// it with [`sessattr_free`].
fn hand_out(output: Vec<u8>) -> i64 {
    let output = output.into_boxed_slice();
    let out_len = output.len();
    let out_ptr = Box::into_raw(output) as *mut u8 as usize;
    ((out_ptr as i64) << 32) | out_len as i64
}

/// The layout of an ABI buffer of `len` bytes (byte-aligned).
fn layout_for(len: i32) -> Option<Layout> {
    let len = usize::try_from(len).ok().filter(|&n| n > 0)?;
    Layout::from_size_align(len, 1).ok()
}
