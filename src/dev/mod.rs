//! The development issuer behind `mcp-builder auth dev` and `--provider dev`:
//! a local OAuth 2.1 authorization server on 127.0.0.1, so a newcomer sees a
//! real token accepted without a provider account.

pub mod store;
