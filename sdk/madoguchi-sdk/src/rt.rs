//! Runtime support for `#![no_std]` plugins on wasm32 (feature `rt`).

#[cfg(all(feature = "rt", target_arch = "wasm32"))]
mod imp {
    use core::sync::atomic::{AtomicBool, Ordering};

    #[global_allocator]
    static ALLOC: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

    static PANICKING: AtomicBool = AtomicBool::new(false);

    /// Log the panic through the host (once: a panic while formatting, e.g.
    /// out of memory, goes straight to the trap), then trap.
    #[panic_handler]
    fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
        if !PANICKING.swap(true, Ordering::Relaxed) {
            let msg = alloc::format!("panic: {info}");
            crate::host::log(crate::host::Level::Error, &msg);
        }
        core::arch::wasm32::unreachable()
    }
}
