//! The port the server listens on, when its source says it plainly: a string
//! literal such as `"127.0.0.1:8000"` or `"0.0.0.0:3000"` in the file that
//! mounts the MCP service. The development issuer's audience is the local
//! endpoint, so knowing the port saves a question; when the source names no
//! port, or several, the caller falls back to a default and says so.

use syn::visit::Visit;

use super::sources::SourceFile;

/// Hosts a local server binds to, as they appear before `:PORT`.
const HOSTS: &[&str] = &["127.0.0.1", "0.0.0.0", "localhost", "[::1]", "[::]"];

/// The one port named in `file`'s string literals, if exactly one is.
pub(crate) fn port(file: &SourceFile) -> Option<u16> {
    let mut finder = Finder(Vec::new());
    finder.visit_file(&file.ast);
    let mut ports = finder.0;
    ports.sort_unstable();
    ports.dedup();
    match ports.as_slice() {
        [port] => Some(*port),
        _ => None,
    }
}

struct Finder(Vec<u16>);

impl Visit<'_> for Finder {
    fn visit_lit_str(&mut self, literal: &syn::LitStr) {
        self.0.extend(address_port(&literal.value()));
    }
}

/// `HOST:PORT` (nothing else in the literal) with a local host: the port.
fn address_port(text: &str) -> Option<u16> {
    let (host, port) = text.rsplit_once(':')?;
    if !HOSTS.contains(&host) || port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    port.parse().ok().filter(|port| *port != 0)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn port_of(source: &str) -> Option<u16> {
        let file = SourceFile::parse(PathBuf::from("src/main.rs"), source.to_string()).unwrap();
        port(&file)
    }

    #[test]
    fn one_local_address_names_the_port() {
        assert_eq!(
            port_of(r#"const ADDR: &str = "127.0.0.1:8000"; fn main() { let _ = ADDR; }"#),
            Some(8000)
        );
        assert_eq!(
            port_of(r#"fn main() { bind(std::env::var("A").unwrap_or("0.0.0.0:3000".into())); }"#),
            Some(3000)
        );
        assert_eq!(
            port_of(r#"fn main() { let _ = "[::]:8080"; let _ = "[::]:8080"; }"#),
            Some(8080)
        );
    }

    #[test]
    fn no_port_or_several_is_none() {
        assert_eq!(port_of("fn main() {}"), None);
        assert_eq!(
            port_of(r#"fn main() { let _ = ("127.0.0.1:8000", "127.0.0.1:9000"); }"#),
            None
        );
        // Not an address: a URL, another host, a port of 0.
        assert_eq!(
            port_of(
                r#"fn main() { let _ = ("http://127.0.0.1:8000/mcp", "example.com:80", "127.0.0.1:0"); }"#
            ),
            None
        );
    }
}
