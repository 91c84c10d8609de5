//! Digest: the SHA-256 of a text, as lowercase hex; how every stage (inspect, plan, doctor) recognises a file add-auth wrote.

use sha2::{Digest, Sha256};

/// The SHA-256 of `text`'s UTF-8 bytes, in lowercase hex.
pub(crate) fn sha256(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_digest_is_sha256_in_lowercase_hex() {
        assert_eq!(
            super::sha256("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
