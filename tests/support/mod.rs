//! Shared helpers for the integration tests: a test authorization server,
//! raw HTTP and MCP-client helpers, and project/process helpers.
//!
//! Each test crate uses only some of them.
#![allow(dead_code)]

pub mod dev;
pub mod http;
pub mod introspection;
pub mod issuer;
pub mod mcp;
pub mod oidc;
pub mod project;
