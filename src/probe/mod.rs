//! Probing a provider and a server from the outside, for `auth test`.
//!
//! Read-only toward the project: nothing here writes a file. Every network
//! request is bounded by the configured timeout and never retried.

pub mod challenge;
pub mod discovery;
pub mod explain;
pub mod http;
pub mod issuer;
pub mod report;
pub mod server;
pub mod settings;
pub mod token;
