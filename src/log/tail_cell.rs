//! The 128-bit atomic cell that holds a partition's packed tail (src/log/tail.rs).
//!
//! Every operation is portable-atomic's `AtomicU128` (through `crate::sync`),
//! except the two an append makes: the load that starts a reservation and its
//! compare-and-swap. Without `-C target-feature=+cmpxchg16b` at build time,
//! portable-atomic picks its 128-bit instructions at run time and reaches them
//! through a function pointer: an indirect call per operation, around which the
//! append spills its registers. [`TailCell::reserving`] makes the choice once
//! per reservation (one cached flag) and runs the instructions inline: `vmovdqa`
//! for the load and `lock cmpxchg16b` for the CAS. It does so only on x86_64
//! CPUs that have `cmpxchg16b` and OS-enabled AVX and are made by Intel or AMD,
//! whose manuals document the aligned 16-byte `vmovdqa` of a CPU with AVX as
//! atomic (portable-atomic 1.15 uses `vmovdqa` on any CPU with AVX; this is
//! stricter), and only while portable-atomic's `AtomicU128` is lock-free here.
//! Everywhere else (other makers, other CPUs, other targets, a build with
//! `--cfg portable_atomic_no_outline_atomics`, Miri, loom, ThreadSanitizer) it
//! calls portable-atomic.
//!
//! Mixing the two is sound because every operation either side makes on the
//! cell is then a hardware atomic instruction on the same aligned 16 bytes: the
//! inline path is taken only when `AtomicU128::is_lock_free()` says
//! portable-atomic never takes its lock-based fallback (which a lock-free
//! `cmpxchg16b` from this side would race). The test
//! `the_reservation_ops_and_the_cells_own_rmw_are_atomic_together` checks it,
//! and CI runs it in the lock-based build too (without the `is_lock_free`
//! check it loses updates there).
//!
//! ThreadSanitizer is the one build where `is_lock_free()` is not enough.
//! There portable-atomic uses compiler intrinsics that TSan instruments, and
//! TSan's runtime emulates every 128-bit atomic as a plain read and write under
//! one spin lock of its own (`mutex128` in compiler-rt's
//! tsan_interface_atomic.cpp), which a hardware `cmpxchg16b` never takes. A
//! consumer's `fetch_or(0)` then wrote back the tail it had read over an
//! appender's inline CAS made in between, so two appenders reserved the same
//! batch slot. The soak saw it as reports of a reader's header read racing a
//! later append at the same address and as headers decoded mid-record, and the
//! test above lost 18 of 50 000 updates in 1 run of 2. So `build.rs` sets
//! `idemlog_sanitize_thread` under TSan, and this cell then uses portable-atomic
//! only, whose every operation TSan both serialises and sees.

use crate::sync::{AtomicU128, Ordering};

/// The tail's cell; 16-byte aligned, as `AtomicU128` is.
#[derive(Debug)]
pub(crate) struct TailCell(AtomicU128);

impl TailCell {
    pub(crate) fn new(word: u128) -> Self {
        Self(AtomicU128::new(word))
    }

    #[inline]
    pub(crate) fn load(&self, order: Ordering) -> u128 {
        self.0.load(order)
    }

    #[inline]
    pub(crate) fn fetch_or(&self, bits: u128, order: Ordering) -> u128 {
        self.0.fetch_or(bits, order)
    }

    /// The operations of one reservation: an Acquire load, then AcqRel CASes.
    #[inline]
    pub(crate) fn reserving(&self) -> Reserving<'_> {
        Reserving {
            cell: &self.0,
            inline: inline::available(),
        }
    }
}

/// One reservation's view of the cell, with the instruction choice made.
pub(crate) struct Reserving<'a> {
    cell: &'a AtomicU128,
    /// The CPU is an Intel or AMD one with `cmpxchg16b` and AVX, portable-atomic
    /// is lock-free on it, and the inline instructions are built.
    inline: bool,
}

impl Reserving<'_> {
    /// The tail, with (at least) Acquire ordering.
    #[inline]
    pub(crate) fn load(&self) -> u128 {
        if self.inline {
            // SAFETY: `inline` is true only on Intel and AMD CPUs with AVX and
            // cmpxchg16b where portable-atomic's AtomicU128, which makes every
            // other access to the cell, is lock-free (`inline::available`).
            return unsafe { inline::load(self.cell) };
        }
        // Acquire: forwarded from the caller (pairs with the AcqRel CAS of the
        // previous reserver, I2).
        self.cell.load(Ordering::Acquire)
    }

    /// Replaces `current` with `new` if the cell holds `current`, with AcqRel
    /// ordering on success and Acquire on failure; the error is the cell's value.
    #[inline]
    pub(crate) fn compare_exchange(&self, current: u128, new: u128) -> Result<u128, u128> {
        if self.inline {
            // SAFETY: as in `load`.
            return unsafe { inline::compare_exchange(self.cell, current, new) };
        }
        // AcqRel / Acquire: forwarded from the caller (I2, I6).
        self.cell
            .compare_exchange(current, new, Ordering::AcqRel, Ordering::Acquire)
    }
}

#[cfg(all(
    target_arch = "x86_64",
    not(target_env = "sgx"),
    not(miri),
    not(all(loom, feature = "loom")),
    not(idemlog_sanitize_thread)
))]
mod inline {
    use std::arch::asm;
    use std::sync::atomic::{AtomicU8, Ordering};

    use crate::sync::AtomicU128;

    const UNKNOWN: u8 = 0;
    const PRESENT: u8 = 1;
    const ABSENT: u8 = 2;

    /// Whether the inline instructions may run on this CPU, detected once.
    static FEATURES: AtomicU8 = AtomicU8::new(UNKNOWN);

    /// True if the CPU has `cmpxchg16b` and AVX (enabled by the OS) and is an
    /// Intel or AMD one, and portable-atomic's `AtomicU128` is lock-free, so
    /// every other operation on a cell is a hardware atomic too.
    #[inline]
    pub(super) fn available() -> bool {
        // Relaxed: the flag carries no other data; any thread that reads
        // UNKNOWN detects again and stores the same answer.
        match FEATURES.load(Ordering::Relaxed) {
            PRESENT => true,
            ABSENT => false,
            _ => detect(),
        }
    }

    #[cold]
    fn detect() -> bool {
        let present = std::is_x86_feature_detected!("cmpxchg16b")
            && std::is_x86_feature_detected!("avx")
            && vendor_documents_atomic_vmovdqa()
            && AtomicU128::is_lock_free();
        // Relaxed: see `available`.
        FEATURES.store(if present { PRESENT } else { ABSENT }, Ordering::Relaxed);
        present
    }

    /// Whether the CPU's maker documents 16-byte aligned `vmovdqa` as atomic on
    /// CPUs with AVX: Intel (SDM vol. 3A 9.1.1) and AMD (APM vol. 2 7.3.2).
    /// Every other maker gets portable-atomic here.
    fn vendor_documents_atomic_vmovdqa() -> bool {
        // SAFETY: CPUID exists on every x86_64 CPU (SGX enclaves, which fault
        // on it, are excluded by this module's cfg). The block is needed before
        // Rust 1.89, where `__cpuid` is an unsafe fn.
        #[allow(unused_unsafe)]
        let leaf0 = unsafe { std::arch::x86_64::__cpuid(0) };
        let mut vendor = [0u8; 12];
        vendor[..4].copy_from_slice(&leaf0.ebx.to_le_bytes());
        vendor[4..8].copy_from_slice(&leaf0.edx.to_le_bytes());
        vendor[8..].copy_from_slice(&leaf0.ecx.to_le_bytes());
        matches!(&vendor, b"GenuineIntel" | b"AuthenticAMD")
    }

    /// An atomic 16-byte load (`vmovdqa`, atomic on Intel and AMD CPUs with
    /// AVX: Intel SDM vol. 3A 9.1.1, AMD APM vol. 2 7.3.2). On x86 every load is
    /// an acquire.
    ///
    /// # Safety
    /// The CPU is an Intel or AMD one with AVX, and every other access to the
    /// cell is a hardware atomic instruction (`available`).
    #[inline]
    pub(super) unsafe fn load(cell: &AtomicU128) -> u128 {
        let src = cell.as_ptr();
        let (low, high): (u64, u64);
        // SAFETY: the CPU is an Intel or AMD one with AVX, where this load is
        // atomic, and every other access to the cell is a hardware atomic (our
        // contract); `src` points into a live AtomicU128, 16-byte aligned. No
        // `readonly`/`pure` option, so the block is also a compiler barrier.
        unsafe {
            asm!(
                "vmovdqa {word}, xmmword ptr [{src}]",
                "vmovq {low}, {word}",
                "vpextrq {high}, {word}, 1",
                src = in(reg) src,
                word = out(xmm_reg) _,
                low = out(reg) low,
                high = out(reg) high,
                options(nostack, preserves_flags),
            );
        }
        u128::from(high) << 64 | u128::from(low)
    }

    /// `lock cmpxchg16b`: a full barrier, so AcqRel on success and Acquire on
    /// failure; returns the previous value, as `Ok` if it was `current`.
    ///
    /// # Safety
    /// The CPU has `cmpxchg16b`, and every other access to the cell is a
    /// hardware atomic instruction (`available`).
    #[inline]
    pub(super) unsafe fn compare_exchange(
        cell: &AtomicU128,
        current: u128,
        new: u128,
    ) -> Result<u128, u128> {
        let dst = cell.as_ptr();
        let (previous_low, previous_high): (u64, u64);
        let failed: u8;
        // SAFETY: the CPU has cmpxchg16b and every other access to the cell is
        // a hardware atomic (our contract); `dst` points into a live
        // AtomicU128, 16-byte aligned. The instruction reads rbx, which LLVM
        // reserves: it is swapped with r8 around it and restored, and the
        // address is in a fixed register (rsi) so that it is never rbx itself.
        unsafe {
            asm!(
                "xchg r8, rbx",
                "lock cmpxchg16b xmmword ptr [rsi]",
                "setne cl",
                "mov rbx, r8",
                in("rsi") dst,
                inout("r8") new as u64 => _,
                in("rcx") (new >> 64) as u64,
                inout("rax") current as u64 => previous_low,
                inout("rdx") (current >> 64) as u64 => previous_high,
                lateout("cl") failed,
                options(nostack),
            );
        }
        let previous = u128::from(previous_high) << 64 | u128::from(previous_low);
        if failed == 0 {
            Ok(previous)
        } else {
            Err(previous)
        }
    }
}

#[cfg(not(all(
    target_arch = "x86_64",
    not(target_env = "sgx"),
    not(miri),
    not(all(loom, feature = "loom")),
    not(idemlog_sanitize_thread)
)))]
mod inline {
    /// No inline instructions here: portable-atomic (or loom's model) does it all.
    #[inline]
    pub(super) fn available() -> bool {
        false
    }

    use crate::sync::AtomicU128;

    /// Never called: `available` is false.
    pub(super) unsafe fn load(_cell: &AtomicU128) -> u128 {
        unreachable!("no inline 128-bit instructions on this target")
    }

    /// Never called: `available` is false.
    pub(super) unsafe fn compare_exchange(
        _cell: &AtomicU128,
        _current: u128,
        _new: u128,
    ) -> Result<u128, u128> {
        unreachable!("no inline 128-bit instructions on this target")
    }
}

#[cfg(all(test, not(all(loom, feature = "loom"))))]
mod tests {
    use super::*;

    #[test]
    #[cfg(all(target_arch = "x86_64", target_os = "linux", not(miri)))]
    fn the_inline_instructions_run_where_the_cpu_has_them() {
        // The maker as the kernel read it, independently of our CPUID code.
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").expect("/proc/cpuinfo");
        let vendor = cpuinfo
            .lines()
            .find_map(|line| line.strip_prefix("vendor_id"))
            .and_then(|rest| rest.split(':').nth(1))
            .map(str::trim);
        // Under ThreadSanitizer the inline path is off (see the module docs).
        let present = !cfg!(idemlog_sanitize_thread)
            && matches!(vendor, Some("GenuineIntel" | "AuthenticAMD"))
            && std::is_x86_feature_detected!("cmpxchg16b")
            && std::is_x86_feature_detected!("avx")
            && AtomicU128::is_lock_free();
        assert_eq!(
            TailCell::new(0).reserving().inline,
            present,
            "vendor {vendor:?}"
        );
    }

    #[test]
    fn the_reservation_ops_agree_with_the_cell() {
        let high = 0xDEAD_BEEF_u128 << 64;
        let cell = TailCell::new(high | 7);
        let reserving = cell.reserving();
        assert_eq!(reserving.load(), high | 7);
        assert_eq!(reserving.compare_exchange(high | 6, 9), Err(high | 7));
        assert_eq!(
            cell.load(Ordering::Acquire),
            high | 7,
            "a failed CAS writes nothing"
        );
        assert_eq!(
            reserving.compare_exchange(high | 7, high << 1 | 9),
            Ok(high | 7)
        );
        assert_eq!(cell.fetch_or(0, Ordering::AcqRel), high << 1 | 9);
        assert_eq!(reserving.load(), high << 1 | 9);
    }

    #[test]
    fn the_reservation_ops_are_atomic_across_threads() {
        // Two threads add 1 to both halves with load + CAS loops: a torn load or
        // a lost update would leave the halves unequal or short.
        const ROUNDS: u64 = if cfg!(miri) { 200 } else { 20_000 };
        let cell = TailCell::new(0);
        std::thread::scope(|scope| {
            for _ in 0..2 {
                scope.spawn(|| {
                    let reserving = cell.reserving();
                    for _ in 0..ROUNDS {
                        let mut word = reserving.load();
                        loop {
                            let (low, high) = (word as u64, (word >> 64) as u64);
                            assert_eq!(low, high, "the load saw both halves of one value");
                            let next = u128::from(high + 1) << 64 | u128::from(low + 1);
                            match reserving.compare_exchange(word, next) {
                                Ok(_) => break,
                                Err(actual) => word = actual,
                            }
                        }
                    }
                });
            }
        });
        let total = 2 * u128::from(ROUNDS);
        assert_eq!(cell.load(Ordering::Acquire), total << 64 | total);
    }

    #[test]
    fn the_reservation_ops_and_the_cells_own_rmw_are_atomic_together() {
        // One thread adds 1 with reservation load + CAS (inline where
        // available); the other makes no-op RMWs through the cell itself
        // (`fetch_or(0)`, portable-atomic, as a consumer's I6 RMW does). If the
        // RMW were a lock-based read-then-write while the CAS were a hardware
        // instruction, a CAS landing in between would be overwritten and the
        // count would come out short. The threads start together, so their
        // loops overlap even where spawning is slow (under TSan, the second
        // thread used to start after the first had finished in 1 run of 2).
        const ROUNDS: u64 = if cfg!(miri) { 200 } else { 50_000 };
        let cell = TailCell::new(0);
        let start = std::sync::Barrier::new(2);
        std::thread::scope(|scope| {
            scope.spawn(|| {
                let reserving = cell.reserving();
                start.wait();
                for _ in 0..ROUNDS {
                    let mut word = reserving.load();
                    while let Err(actual) = reserving.compare_exchange(word, word + 1) {
                        word = actual;
                    }
                }
            });
            scope.spawn(|| {
                start.wait();
                for _ in 0..ROUNDS {
                    cell.fetch_or(0, Ordering::AcqRel);
                }
            });
        });
        assert_eq!(cell.load(Ordering::Acquire), u128::from(ROUNDS));
    }
}
