//! Persistent worker threads released together by a barrier ([`Crew`]), and the
//! [`Runner`] interface every workload implements. No thread is spawned inside
//! the timing: a crew's threads are spawned once and parked on a barrier
//! between rounds. Waking a parked thread takes up to milliseconds on a VM, so
//! a round starts only once every worker is awake (a rendezvous in which the
//! early ones soon yield their core, [`wait_until`]) and ends when the last worker is done; the
//! round's wall time and the process CPU time are read at exactly those two
//! points.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam::utils::CachePadded;
use parking_lot::Mutex;

use super::latency::Histogram;
use super::process::cpu_time;
use super::RETAINED_RECORDS;

/// One worker's body: called once per round with the round's total record count
/// (each worker derives its own share from it).
pub(crate) type Task = Box<dyn FnMut(u64) + Send>;

/// Boxes a worker body with its captured state alone on its cache lines: the
/// bodies of different workers are allocated one after the other, and state they
/// mutate (a sequence number, a counter) must not share a line with a neighbour's
/// (false sharing would slow every workload down, engine and peers unequally).
pub(crate) fn task<F: FnMut(u64) + Send + 'static>(body: F) -> Task {
    let mut padded = CachePadded::new(body);
    Box::new(move |total| (*padded)(total))
}

/// Runs one worker's share of a round. Never inlined, so that
/// `valgrind --tool=callgrind --toggle-collect='*crew::run_task*'` counts the
/// workers' instructions and nothing else (benches/callgrind.sh).
#[inline(never)]
pub(crate) fn run_task(task: &mut Task, records: u64) {
    task(records);
}

/// The time a round took and the CPU time the whole process used meanwhile.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Timing {
    /// Wall time.
    pub wall: Duration,
    /// Process CPU time (all threads) over the same interval.
    pub cpu: Duration,
}

impl Timing {
    /// Times `work` on the calling thread.
    pub(crate) fn of(work: impl FnOnce()) -> Self {
        let (start, cpu) = (Instant::now(), cpu_time());
        work();
        Self {
            wall: start.elapsed(),
            cpu: cpu_time().saturating_sub(cpu),
        }
    }
}

/// Spins a waiter makes before it starts yielding its core (tens of
/// microseconds: a hand-off between two running threads takes well under one).
const SPINS_BEFORE_YIELD: u32 = 1000;

/// Waits until `ready()`: spins briefly, then yields the core between checks,
/// so a waiter never holds a core that the thread it waits for needs (as when
/// the host has taken the other vCPU).
#[inline]
pub(crate) fn wait_until(mut ready: impl FnMut() -> bool) {
    let mut spins = 0;
    while !ready() {
        if spins < SPINS_BEFORE_YIELD {
            spins += 1;
            std::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
    }
}

const STOP: u64 = u64::MAX;

struct Control {
    workers: usize,
    start: Barrier,
    end: Barrier,
    job: AtomicU64,
    /// The round number the last worker to wake sets to let the others go.
    go: CachePadded<AtomicU64>,
    round: AtomicU64,
    arrived: CachePadded<AtomicUsize>,
    finished: CachePadded<AtomicUsize>,
    failed: AtomicBool,
    /// (wall, process CPU) when the round started, then when it ended.
    marks: Mutex<[(Instant, Duration); 2]>,
}

impl Control {
    fn mark(&self, which: usize) {
        self.marks.lock()[which] = (Instant::now(), cpu_time());
    }

    /// One worker's round: the rendezvous, the task, the end mark.
    fn work(&self, task: &mut Task, job: u64) {
        // Relaxed: `round` is stored before the `start` barrier released us.
        let round = self.round.load(Ordering::Relaxed);
        // AcqRel: the last arriver's RMW reads every earlier arriver's (a
        // single total order on `arrived`), so exactly one sees `workers`.
        if self.arrived.fetch_add(1, Ordering::AcqRel) + 1 == self.workers {
            self.mark(0);
            // Release: pairs with the Acquire load below; the start mark is
            // taken before anyone starts.
            self.go.store(round, Ordering::Release);
        } else {
            // Acquire: pairs with the Release store above.
            wait_until(|| self.go.load(Ordering::Acquire) == round);
        }
        // Relaxed: another worker's store is ordered before this load by the
        // `end` barrier of the round it failed in.
        if !self.failed.load(Ordering::Relaxed) {
            let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| run_task(task, job)));
            if outcome.is_err() {
                // Relaxed: read by `Crew::run` after the `end` barrier.
                self.failed.store(true, Ordering::Relaxed);
            }
        }
        // AcqRel: as for `arrived`; the last finisher takes the end mark after
        // every worker's task returned.
        if self.finished.fetch_add(1, Ordering::AcqRel) + 1 == self.workers {
            self.mark(1);
        }
    }
}

/// Persistent threads released together by a barrier for each round.
pub(crate) struct Crew {
    control: Arc<Control>,
    threads: Vec<JoinHandle<()>>,
}

impl Crew {
    /// Spawns one parked thread per task.
    pub(crate) fn new(name: &str, tasks: Vec<Task>) -> Self {
        let now = (Instant::now(), Duration::ZERO);
        let control = Arc::new(Control {
            workers: tasks.len(),
            start: Barrier::new(tasks.len() + 1),
            end: Barrier::new(tasks.len() + 1),
            job: AtomicU64::new(0),
            go: CachePadded::new(AtomicU64::new(0)),
            round: AtomicU64::new(0),
            arrived: CachePadded::new(AtomicUsize::new(0)),
            finished: CachePadded::new(AtomicUsize::new(0)),
            failed: AtomicBool::new(false),
            marks: Mutex::new([now; 2]),
        });
        let threads = tasks
            .into_iter()
            .enumerate()
            .map(|(index, mut task)| {
                let control = Arc::clone(&control);
                std::thread::Builder::new()
                    .name(format!("{name}-{index}"))
                    .spawn(move || loop {
                        control.start.wait();
                        // Relaxed: the store in `run`/`drop` happens before the
                        // `start.wait()` that released us (the barrier orders it).
                        let job = control.job.load(Ordering::Relaxed);
                        if job == STOP {
                            return;
                        }
                        control.work(&mut task, job);
                        control.end.wait();
                    })
                    .expect("spawn a benchmark thread")
            })
            .collect();
        Self { control, threads }
    }

    /// Threads in the crew.
    pub(crate) fn threads(&self) -> usize {
        self.threads.len()
    }

    /// Runs one round of `records`: from the moment every worker is awake to
    /// the moment the last one is done.
    ///
    /// # Panics
    /// If a worker panicked (the message was printed by the panic hook).
    pub(crate) fn run(&mut self, records: u64) -> Timing {
        let control = &self.control;
        // Relaxed, all four: the workers load them after the `start` barrier.
        control.job.store(records, Ordering::Relaxed);
        control.round.fetch_add(1, Ordering::Relaxed);
        control.arrived.store(0, Ordering::Relaxed);
        control.finished.store(0, Ordering::Relaxed);
        control.start.wait();
        control.end.wait();
        // Relaxed: a worker's store is ordered before this load by `end`.
        assert!(
            !control.failed.load(Ordering::Relaxed),
            "a benchmark worker panicked"
        );
        let [(start, cpu_start), (end, cpu_end)] = *control.marks.lock();
        Timing {
            wall: end - start,
            cpu: cpu_end.saturating_sub(cpu_start),
        }
    }
}

impl Drop for Crew {
    fn drop(&mut self) {
        // Relaxed: the workers load it after the `start` barrier below.
        self.control.job.store(STOP, Ordering::Relaxed);
        self.control.start.wait();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// A workload ready to run: persistent threads and pre-faulted state.
pub(crate) trait Runner {
    /// `run` must be given a multiple of this many records.
    fn unit(&self) -> u64;
    /// Threads meant to be busy for the whole round (producers, senders,
    /// spinning workers; not a consumer that sleeps when it has caught up). A
    /// round of a runner with two or more is kept only if the process got about
    /// two cores' worth of CPU time during it (`measure`).
    fn busy_threads(&self) -> usize;
    /// Moves `records` records (a multiple of [`Runner::unit`]).
    fn run(&mut self, records: u64) -> Timing;
    /// The producer-to-consumer latencies recorded since the last call (taken,
    /// so the next call returns the next rounds'), for a workload that measures
    /// them; `None` for the others.
    fn take_latency(&mut self) -> Option<Histogram> {
        None
    }
}

/// A [`Crew`] as a [`Runner`], with whatever it keeps alive.
pub(crate) struct CrewRunner {
    crew: Crew,
    unit: u64,
    busy_threads: usize,
    _keep: Box<dyn Send>,
}

impl CrewRunner {
    /// Wraps `crew`, all of whose threads are busy; `keep` is dropped after the
    /// threads stop.
    pub(crate) fn new(crew: Crew, unit: u64, keep: Box<dyn Send>) -> Self {
        let busy_threads = crew.threads();
        Self {
            crew,
            unit,
            busy_threads,
            _keep: keep,
        }
    }

    /// Declares that only `threads` of the crew's threads are busy all round.
    pub(crate) fn busy(mut self, threads: usize) -> Self {
        self.busy_threads = threads;
        self
    }
}

impl Runner for CrewRunner {
    fn unit(&self) -> u64 {
        self.unit
    }
    fn busy_threads(&self) -> usize {
        self.busy_threads
    }
    fn run(&mut self, records: u64) -> Timing {
        debug_assert_eq!(records % self.unit, 0);
        self.crew.run(records)
    }
}

/// Runs `records` (rounded up to a whole number of units) in rounds of about a
/// quarter of [`RETAINED_RECORDS`], so a prefill does not ask one round for
/// everything; returns the runner.
pub(crate) fn prefilled<R: Runner>(mut runner: R, records: u64) -> R {
    let unit = runner.unit();
    let round = (RETAINED_RECORDS / 4).div_ceil(unit).max(1) * unit;
    let mut done = 0;
    while done < records {
        runner.run(round);
        done += round;
    }
    runner
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crew_runs_every_task_each_round_and_stops() {
        let counter = Arc::new(AtomicU64::new(0));
        let tasks = (0..2)
            .map(|_| {
                let counter = Arc::clone(&counter);
                task(move |total: u64| {
                    // Relaxed: read after the crew's threads are joined.
                    counter.fetch_add(total / 2, Ordering::Relaxed);
                })
            })
            .collect();
        let mut crew = Crew::new("test", tasks);
        assert_eq!(crew.threads(), 2);
        crew.run(10);
        crew.run(4);
        drop(crew);
        // Relaxed: the joins ordered the workers' adds before this load.
        assert_eq!(counter.load(Ordering::Relaxed), 14);
    }

    #[test]
    #[should_panic(expected = "a benchmark worker panicked")]
    fn a_panicking_worker_fails_the_round() {
        let mut crew = Crew::new("test", vec![task(|_| panic!("boom"))]);
        crew.run(1);
    }
}
