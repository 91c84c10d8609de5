//! mcp-builder: adds OAuth 2.1 authorization to Rust MCP servers built on rmcp.

#![allow(dead_code)] // removed once the pipeline is wired

mod inspect;
mod plan;

fn main() {}
