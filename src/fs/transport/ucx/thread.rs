//! A worker confined to a thread of its own (a current-thread tokio runtime and a
//! `LocalSet`, with the worker's progress driver), used from any thread through a `Send +
//! Sync` handle that runs closures on it: how multi-threaded code (the transport traits'
//! `Send` futures) uses a worker that is not thread-safe.
//!
//! Owns [`WorkerThread`]; must not know what the closures do.

use super::address::WorkerAddress;
use super::context::Context;
use super::error::UcxError;
use super::progress::ProgressConfig;
use super::worker::Worker;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Mutex;
use tokio::sync::{mpsc, oneshot};

/// A closure run on the worker's thread.
type Job<S> = Box<dyn FnOnce(Worker, Rc<S>) -> Pin<Box<dyn Future<Output = ()>>> + Send>;

/// A worker on its own thread, with thread-local state `S` (made by the set-up closure,
/// e.g. receivers or tables of pending calls, which need not be `Send`) handed to every
/// closure run there. Dropping the handle stops the thread: tasks still running there are
/// dropped (their endpoints close without waiting long for the peer);
/// [`WorkerThread::shutdown`] also waits for the thread to end.
pub struct WorkerThread<S: 'static = ()> {
    jobs: mpsc::UnboundedSender<Job<S>>,
    address: WorkerAddress,
    name: String,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl<S: 'static> std::fmt::Debug for WorkerThread<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerThread")
            .field("name", &self.name)
            .finish()
    }
}

impl<S: 'static> WorkerThread<S> {
    /// Starts thread `name` with a worker on `context`, progressed with `config`, and runs
    /// `setup` there first: it registers the active-message handlers (before any endpoint
    /// exists), may spawn the tasks that serve them (`tokio::task::spawn_local`), and makes
    /// the thread's state.
    pub fn spawn<F>(
        context: &Context,
        name: &str,
        config: ProgressConfig,
        setup: F,
    ) -> Result<WorkerThread<S>, UcxError>
    where
        F: FnOnce(&Worker) -> Result<S, UcxError> + Send + 'static,
    {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<WorkerAddress, UcxError>>();
        let (jobs_tx, jobs_rx) = mpsc::unbounded_channel::<Job<S>>();
        let ctx = context.clone();
        let thread_name = name.to_string();
        let thread = std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || run_thread(ctx, thread_name, config, setup, ready_tx, jobs_rx))
            .map_err(|e| UcxError::os("spawn worker thread", &e))?;
        let address = match ready_rx.recv() {
            Ok(r) => r?,
            Err(_) => return Err(UcxError::WorkerGone(name.to_string())),
        };
        Ok(WorkerThread {
            jobs: jobs_tx,
            address,
            name: name.to_string(),
            thread: Mutex::new(Some(thread)),
        })
    }

    /// The worker's address.
    pub fn address(&self) -> &WorkerAddress {
        &self.address
    }

    /// The thread's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `f` on the worker's thread (as a local task, given the worker and the thread's
    /// state) and resolves to its output.
    pub fn run<F, Fut, T>(&self, f: F) -> impl Future<Output = Result<T, UcxError>> + Send + 'static
    where
        F: FnOnce(Worker, Rc<S>) -> Fut + Send + 'static,
        Fut: Future<Output = T> + 'static,
        T: Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job<S> = Box::new(move |w, state| {
            Box::pin(async move {
                let _ = tx.send(f(w, state).await);
            })
        });
        let sent = self.jobs.send(job).is_ok();
        let name = self.name.clone();
        async move {
            if !sent {
                return Err(UcxError::WorkerGone(name));
            }
            rx.await.map_err(|_| UcxError::WorkerGone(name))
        }
    }

    /// Runs `f` on the worker's thread without waiting for it (fire and forget); false if
    /// the thread has stopped (`f` is then dropped unrun).
    pub fn post<F, Fut>(&self, f: F) -> bool
    where
        F: FnOnce(Worker, Rc<S>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        let job: Job<S> = Box::new(move |w, state| Box::pin(f(w, state)));
        self.jobs.send(job).is_ok()
    }

    /// Stops the thread and waits for it to end (blocking: call it outside async code, or
    /// through `spawn_blocking`).
    pub fn shutdown(self) {
        let WorkerThread { jobs, thread, .. } = self;
        drop(jobs);
        let handle = thread.lock().ok().and_then(|mut t| t.take());
        if let Some(h) = handle {
            if h.join().is_err() {
                tracing::warn!("a UCX worker thread panicked");
            }
        }
    }
}

/// The body of a worker thread.
fn run_thread<S: 'static, F>(
    context: Context,
    name: String,
    config: ProgressConfig,
    setup: F,
    ready: std::sync::mpsc::Sender<Result<WorkerAddress, UcxError>>,
    mut jobs: mpsc::UnboundedReceiver<Job<S>>,
) where
    F: FnOnce(&Worker) -> Result<S, UcxError>,
{
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = ready.send(Err(UcxError::os("build worker runtime", &e)));
            return;
        }
    };
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async move {
        let started = Worker::new(&context, &name).and_then(|(worker, progress)| {
            let state = Rc::new(setup(&worker)?);
            let address = worker.address()?;
            Ok((worker, progress, address, state))
        });
        let (worker, progress, address, state) = match started {
            Ok(s) => s,
            Err(e) => {
                let _ = ready.send(Err(e));
                return;
            }
        };
        let driver_name = name.clone();
        tokio::task::spawn_local(async move {
            if let Err(e) = progress.with_config(config).run().await {
                tracing::warn!(worker = %driver_name, "UCX progress stopped: {e}");
            }
        });
        if ready.send(Ok(address)).is_err() {
            return;
        }
        while let Some(job) = jobs.recv().await {
            tokio::task::spawn_local(job(worker.clone(), state.clone()));
        }
    });
}
