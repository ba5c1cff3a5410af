//! How many malloc arenas the process may use (glibc only).
//!
//! glibc gives a thread its own arena when others are busy, up to eight per
//! core, and an arena keeps what was freed in it. A scan reads its parts on
//! Tokio's blocking threads (the local object store reads files there), so
//! a warm query of a day spreads its buffers over a dozen arenas, each
//! holding its own high-water mark: the peak RSS of a `LIKE` over a cached
//! day was 1.5× what the same query held with one arena, for the same time
//! (docs/benchmarks.md, "Warm, against DuckDB"). Two arenas keep the two
//! Tokio workers apart and cap what the blocking threads can strand.

/// At most this many arenas, unless the environment already says
/// (`MALLOC_ARENA_MAX`, or `GLIBC_TUNABLES` naming `arena_max`).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const ARENAS: i32 = 2;

/// Cap glibc's malloc arenas (see the module docs); called first in `main`,
/// before any thread starts. Elsewhere, nothing.
pub(crate) fn limit() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let set = std::env::var_os("MALLOC_ARENA_MAX").is_some()
            || std::env::var("GLIBC_TUNABLES").is_ok_and(|t| t.contains("arena_max"));
        if !set {
            // SAFETY: `mallopt` only sets a malloc parameter; glibc takes its
            // own lock for it, and no other thread exists yet anyway.
            unsafe {
                nix::libc::mallopt(nix::libc::M_ARENA_MAX, ARENAS);
            }
        }
    }
}
