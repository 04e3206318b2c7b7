//! IO500 on the IOR and mdtest engines (the io500 app's rules at commit 02091cf): the ini
//! file ([`config`]), the phase table ([`phases`]), the phases' command lines
//! ([`commands`]), the parallel find ([`find`]), the formulas ([`score`]), the app's text
//! ([`output`]), the typed results ([`results`]) and the sequence ([`engine`]).
//!
//! The library call is [`engine::run`]: every rank of a communicator calls it with the same
//! [`engine::Io500Params`]. IOR and mdtest are not re-implemented here: each phase builds
//! the app's command line and runs it on [`crate::ior::engine`] or [`crate::mdtest`].

pub(crate) mod commands;
pub(crate) mod config;
pub(crate) mod engine;
pub(crate) mod find;
pub(crate) mod output;
pub(crate) mod phases;
pub(crate) mod results;
pub(crate) mod score;
pub(crate) mod verify;

pub use config::Config;
pub use engine::{run, Context, Io500Params, Outcome};
pub use results::Io500Run;
