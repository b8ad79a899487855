//! The hashing pool: every Argon2 computation runs here, on a fixed number of threads (about
//! the core count), each reusing its own 19 MiB of Argon2 memory.
//!
//! Work waits in two bounded queues. [`Lane::Trusted`] is for work whose caller already proved
//! something (a valid device cookie, a signed-in user, the setup token) and is always served
//! first; [`Lane::Open`] is for anonymous sign-ins. A full queue answers at once with [`Busy`]
//! (the API's fast `429` with `Retry-After`) instead of piling up threads, memory and latency:
//! a flood of anonymous attempts can fill only the open queue, and a user with a device cookie
//! waits at most for the hashes already running.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Condvar, Mutex, OnceLock};

use crate::password::Memory;

/// Which queue a piece of work waits in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lane {
    /// Anonymous sign-ins.
    Open,
    /// Callers that proved something first; served before any open work.
    Trusted,
}

/// The queue for this lane is full; try again shortly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Busy;

type Job = Box<dyn FnOnce(&mut Memory) + Send>;

#[derive(Default)]
struct Queues {
    trusted: VecDeque<Job>,
    open: VecDeque<Job>,
    closed: bool,
}

#[derive(Default)]
struct Shared {
    queues: Mutex<Queues>,
    ready: Condvar,
}

/// A fixed set of hashing threads with two bounded queues.
pub(crate) struct HashPool {
    shared: Arc<Shared>,
    workers: usize,
    open_capacity: usize,
    trusted_capacity: usize,
    started: OnceLock<()>,
}

impl HashPool {
    /// A pool of `workers` threads (started on first use) whose open queue holds
    /// `open_capacity` waiting jobs and trusted queue `trusted_capacity`.
    pub(crate) fn new(workers: usize, open_capacity: usize, trusted_capacity: usize) -> HashPool {
        HashPool {
            shared: Arc::default(),
            workers: workers.max(1),
            open_capacity,
            trusted_capacity,
            started: OnceLock::new(),
        }
    }

    /// The pool sized for this machine: one thread per core (at most 4), an open queue of two
    /// jobs per thread, and a trusted queue of 32.
    pub(crate) fn for_this_machine() -> HashPool {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 4);
        HashPool::new(cores, 2 * cores, 32)
    }

    fn start(&self) {
        self.started.get_or_init(|| {
            for i in 0..self.workers {
                let shared = self.shared.clone();
                std::thread::Builder::new()
                    .name(format!("llmux-hash-{i}"))
                    .spawn(move || work(&shared))
                    .expect("spawn a hashing thread");
            }
        });
    }

    /// Runs `f` on a hashing thread with that thread's Argon2 memory; [`Busy`] at once if the
    /// lane's queue is full.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        lane: Lane,
        f: impl FnOnce(&mut Memory) -> T + Send + 'static,
    ) -> Result<T, Busy> {
        self.start();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |memory| {
            // The caller went away (client disconnected): skip the work.
            if !tx.is_closed() {
                let _ = tx.send(f(memory));
            }
        });
        {
            let mut queues = self.shared.queues.lock().expect("hash queue lock");
            let (queue, capacity) = match lane {
                Lane::Open => (&mut queues.open, self.open_capacity),
                Lane::Trusted => (&mut queues.trusted, self.trusted_capacity),
            };
            if queue.len() >= capacity {
                return Err(Busy);
            }
            queue.push_back(job);
        }
        self.shared.ready.notify_one();
        rx.await.map_err(|_| Busy)
    }
}

impl Drop for HashPool {
    fn drop(&mut self) {
        self.shared.queues.lock().expect("hash queue lock").closed = true;
        self.shared.ready.notify_all();
    }
}

fn work(shared: &Shared) {
    let mut memory = Memory::new();
    loop {
        let job = {
            let mut queues = shared.queues.lock().expect("hash queue lock");
            loop {
                if queues.closed {
                    return;
                }
                if let Some(job) = queues.trusted.pop_front().or_else(|| queues.open.pop_front()) {
                    break job;
                }
                queues = shared.ready.wait(queues).expect("hash queue lock");
            }
        };
        // A panicking job drops its sender (the caller sees Busy); the thread carries on.
        let _ = std::panic::catch_unwind(AssertUnwindSafe(|| job(&mut memory)));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn full_queues_answer_busy_at_once_and_trusted_work_goes_first() {
        let pool = Arc::new(HashPool::new(1, 1, 1));
        let (hold_tx, hold_rx) = std::sync::mpsc::channel::<()>();
        let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
        let order = Arc::new(Mutex::new(Vec::new()));
        // occupy the only worker until told
        let blocker = {
            let pool = pool.clone();
            tokio::spawn(async move {
                let hold = move |_: &mut Memory| {
                    started_tx.send(()).unwrap();
                    hold_rx.recv_timeout(Duration::from_secs(10))
                };
                pool.run(Lane::Open, hold).await
            })
        };
        let running = Arc::new(AtomicUsize::new(0));
        started_rx.await.unwrap();
        let queued = |lane, tag: &'static str| {
            let (pool, order, running) = (pool.clone(), order.clone(), running.clone());
            tokio::spawn(async move {
                running.fetch_add(1, Ordering::SeqCst);
                pool.run(lane, move |_| order.lock().unwrap().push(tag)).await
            })
        };
        let open = queued(Lane::Open, "open");
        while pool.shared.queues.lock().unwrap().open.is_empty() {
            tokio::task::yield_now().await;
        }
        assert_eq!(pool.run(Lane::Open, |_| ()).await, Err(Busy), "the open queue is full");
        let trusted = queued(Lane::Trusted, "trusted");
        while pool.shared.queues.lock().unwrap().trusted.is_empty() {
            tokio::task::yield_now().await;
        }
        assert_eq!(pool.run(Lane::Trusted, |_| ()).await, Err(Busy));
        hold_tx.send(()).unwrap();
        blocker.await.unwrap().unwrap().unwrap();
        open.await.unwrap().unwrap();
        trusted.await.unwrap().unwrap();
        assert_eq!(*order.lock().unwrap(), ["trusted", "open"], "trusted work is served first");
        assert_eq!(running.load(Ordering::SeqCst), 2);
    }
}
