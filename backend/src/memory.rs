//! Hands memory the process no longer uses back to the operating system.
//!
//! glibc's allocator keeps freed heap pages mapped: after a reconnect storm, or when many guests
//! leave, the memory their sockets used stays resident even though nothing holds it any more.
//! `malloc_trim` releases free pages anywhere in the heap (not only at its top), so running it now
//! and then brings the resident size back near what live connections need.

use std::time::Duration;

/// How often free heap pages are handed back.
pub const TRIM_INTERVAL: Duration = Duration::from_secs(10);

/// Releases free heap pages every [`TRIM_INTERVAL`], on the blocking pool (a trim walks the
/// whole heap). Runs until aborted; does nothing where the allocator is not glibc's.
pub async fn trim_free_memory_periodically() {
    let mut tick = tokio::time::interval(TRIM_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        let started = std::time::Instant::now();
        match tokio::task::spawn_blocking(trim_free_memory).await {
            Ok(released) => {
                tracing::debug!(released, took = ?started.elapsed(), "free heap pages trimmed");
            }
            Err(e) => tracing::warn!(error = %e, "heap trim failed"),
        }
    }
}

/// Releases free heap pages once; true when some were released.
pub fn trim_free_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim only walks and releases the allocator's own free lists; it takes
        // the arena locks itself and may be called from any thread at any time.
        unsafe { libc::malloc_trim(0) == 1 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn freed_heap_pages_are_handed_back() {
        // Keep every 16th block so the freed ones are holes in the middle of the heap, which
        // free() itself never returns; only a trim of the middle can release their pages.
        let blocks: Vec<Vec<u8>> = (0..20_000).map(|_| vec![1u8; 2048]).collect();
        let kept: Vec<Vec<u8>> = blocks
            .into_iter()
            .enumerate()
            .filter_map(|(i, b)| (i % 16 == 15).then_some(b))
            .collect();
        assert!(
            trim_free_memory(),
            "38 MB of freed blocks were not released"
        );
        assert_eq!(kept.len(), 1250);
    }
}
