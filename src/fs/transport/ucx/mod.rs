//! The UCX transport's foundation: a small safe wrapper over UCP (crates/ucx-sys) and its
//! tokio integration.
//!
//! A process has one [`Context`]; each thread that talks UCX has its own [`Worker`] (UCX
//! workers are not thread-safe, so the wrapper's types are not `Send`), progressed by a
//! [`Progress`] driver on that thread (event fd plus a bounded poll loop), or by the futures
//! that wait on it ([`InlineWorker`]), or lives on a [`WorkerThread`] whose handle is `Send +
//! Sync`. A worker connects [`Endpoint`]s to a
//! [`WorkerAddress`] or to a [`Listener`]'s socket address, and exchanges active messages:
//! a header plus a payload ([`Endpoint::send_am`]; eager when small, rendezvous when large)
//! received per id through an [`AmReceiver`] into a buffer the receiver chooses
//! ([`IncomingMessage::recv_into`], optionally a [`RegisteredBuffer`]). A peer that dies
//! fails the endpoint's transfers ([`UcxError::EndpointFailed`], mapped to `ECONNRESET`),
//! never hangs them.
//!
//! Owns the wrapper only; the `Connector`/`Listener` transport over it (framing, request ids,
//! pending calls) belongs beside [`super::tcp`], and must not be mixed into these modules.
//! Every `unsafe` block states why it is sound.

pub(crate) mod address;
pub(crate) mod am;
pub(crate) mod buffer;
pub(crate) mod context;
pub(crate) mod endpoint;
pub(crate) mod error;
pub(crate) mod inline;
pub(crate) mod listener;
pub(crate) mod memory;
pub(crate) mod progress;
pub(crate) mod request;
pub(crate) mod thread;
pub(crate) mod worker;

pub use address::WorkerAddress;
pub use am::{AmReceiver, IncomingMessage, Protocol};
pub use buffer::{IoBuf, IoBufMut, Window};
pub use context::{Context, ContextBuilder};
pub use endpoint::{Endpoint, ErrorMode, Failure};
pub use error::{Status, UcxError};
pub use inline::{InlineStats, InlineWorker, Spawner, Waiting};
pub use listener::{ConnRequest, Listener};
pub use memory::{MemoryMap, RegisteredBuffer, Registration};
pub use progress::{Progress, ProgressConfig};
pub use request::{ProgressStats, Transfer};
pub use thread::WorkerThread;
pub use worker::Worker;
