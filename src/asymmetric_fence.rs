//! Asymmetric fences: a free [`light`] fence for a hot path and a costly
//! [`heavy`] one for a rare path that together order like two `SeqCst` fences.
//!
//! A store-then-load handshake (Dekker's: each side stores its flag, fences,
//! then loads the other's) needs a full fence on both sides, and on x86 that
//! is a locked instruction, the very cost a lease exists to avoid (I12 in
//! `crate::implementation`). Linux's `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)`
//! makes every running thread of the process execute a full memory barrier
//! before it returns, so the hot side needs only a compiler fence: either the
//! hot side's fence comes before the barrier it is made to run, and its store
//! is visible to the heavy side's later load, or after, and its load sees the
//! heavy side's store (membarrier(2); the pattern is liburcu's and folly's
//! `asymmetricLightBarrier` / `asymmetricHeavyBarrier`).
//!
//! [`available`] says whether the heavy fence exists here: Linux with the
//! private expedited command (4.14 or later), registered once per process.
//! Elsewhere, and under Miri (no such syscall), callers keep their locked
//! instructions. Under loom both fences are `SeqCst` fences, which loom models,
//! so the models check the handshake itself.

#[cfg(all(target_os = "linux", not(miri), not(all(loom, feature = "loom"))))]
mod imp {
    use std::sync::atomic::{compiler_fence, Ordering};
    use std::sync::OnceLock;

    /// `MEMBARRIER_CMD_QUERY`, `_PRIVATE_EXPEDITED` and
    /// `_REGISTER_PRIVATE_EXPEDITED` of linux/membarrier.h.
    const QUERY: libc::c_int = 0;
    const PRIVATE_EXPEDITED: libc::c_int = 1 << 3;
    const REGISTER_PRIVATE_EXPEDITED: libc::c_int = 1 << 4;

    /// Whether the heavy fence works in this process, detected once.
    static PRESENT: OnceLock<bool> = OnceLock::new();

    fn membarrier(command: libc::c_int) -> libc::c_long {
        // SAFETY: membarrier takes two integers (a command and flags) and
        // touches no memory of ours; an unknown command is an error return.
        unsafe { libc::syscall(libc::SYS_membarrier, command, 0 as libc::c_int) }
    }

    pub(crate) fn available() -> bool {
        // Asked when a producer state is made and before a revocation, never
        // per batch; registration must happen before the first lease, which
        // `OnceLock` orders (its initialisation happens before every `get`).
        *PRESENT.get_or_init(|| {
            let commands = membarrier(QUERY);
            commands >= 0
                && commands & libc::c_long::from(PRIVATE_EXPEDITED) != 0
                && membarrier(REGISTER_PRIVATE_EXPEDITED) == 0
        })
    }

    #[inline(always)]
    pub(crate) fn light() {
        // SeqCst: the compiler may move no memory access across it; the CPU
        // ordering comes from the barrier `heavy` makes this thread run.
        compiler_fence(Ordering::SeqCst);
    }

    pub(crate) fn heavy() {
        debug_assert!(available(), "only after `available` said yes");
        // Registered in `detect`; membarrier(2) then fails only for an unknown
        // command or flags, and these are fixed.
        let done = membarrier(PRIVATE_EXPEDITED);
        debug_assert_eq!(done, 0, "membarrier after registration");
    }
}

#[cfg(all(loom, feature = "loom"))]
mod imp {
    use crate::sync::{fence, Ordering};

    pub(crate) fn available() -> bool {
        true
    }

    pub(crate) fn light() {
        // SeqCst: the model of the asymmetric pair is two SeqCst fences.
        fence(Ordering::SeqCst);
    }

    pub(crate) fn heavy() {
        // SeqCst: see `light`.
        fence(Ordering::SeqCst);
    }
}

#[cfg(all(
    not(all(target_os = "linux", not(miri))),
    not(all(loom, feature = "loom"))
))]
mod imp {
    pub(crate) fn available() -> bool {
        false
    }

    pub(crate) fn light() {}

    pub(crate) fn heavy() {
        unreachable!("no heavy fence here: `available` said no");
    }
}

/// Whether [`heavy`] exists in this process (detected once).
pub(crate) use imp::available;
/// The rare side's fence: makes every running thread of the process execute a
/// full barrier. Call only after [`available`] said yes.
pub(crate) use imp::heavy;
/// The hot side's fence: a compiler fence (a `SeqCst` fence under loom).
pub(crate) use imp::light;
