//! The development issuer behind `mcp-builder auth dev` and `--provider dev`:
//! a local OAuth 2.1 authorization server on 127.0.0.1, so a newcomer sees a
//! real token accepted without a provider account.

pub mod authorize;
pub mod cimd;
pub mod clients;
pub mod config;
pub mod discovery;
pub mod error;
pub mod pages;
pub mod params;
pub mod pkce;
pub mod register;
pub mod server;
pub mod store;
pub mod token;
