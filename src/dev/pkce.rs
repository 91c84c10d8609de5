//! PKCE (RFC 7636), S256 only: the challenge a client sends to the
//! authorization endpoint, and the verifier it later proves it holds.

use aws_lc_rs::constant_time::verify_slices_are_equal;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};

/// The challenge of an authorization request, if it is an S256 one; else
/// why not (said to the client as `invalid_request`).
pub fn check_challenge(challenge: Option<&str>, method: Option<&str>) -> Result<String, String> {
    let Some(challenge) = challenge.filter(|challenge| !challenge.is_empty()) else {
        return Err("PKCE is required: send code_challenge and code_challenge_method=S256".into());
    };
    match method {
        Some("S256") => {}
        // RFC 7636 4.3: a missing method means `plain`.
        None | Some("plain") => {
            return Err(
                "code_challenge_method must be S256: the plain method is not accepted".into(),
            );
        }
        Some(other) => {
            return Err(format!(
                "code_challenge_method `{other}` is not supported: use S256"
            ));
        }
    }
    // BASE64URL(SHA-256(verifier)) is 43 characters without padding.
    let decodes_to_digest = URL_SAFE_NO_PAD
        .decode(challenge.as_bytes())
        .is_ok_and(|digest| digest.len() == 32);
    if challenge.len() != 43 || !decodes_to_digest {
        return Err("code_challenge is not an S256 challenge (43 base64url characters)".into());
    }
    Ok(challenge.to_string())
}

/// Whether `verifier` (RFC 7636 4.1: 43 to 128 unreserved characters)
/// hashes to `challenge`.
pub fn verifies(verifier: &str, challenge: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-._~".contains(&byte));
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    well_formed && verify_slices_are_equal(computed.as_bytes(), challenge.as_bytes()).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7636 appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn the_rfc_example_verifies_and_anything_else_does_not() {
        assert!(verifies(VERIFIER, CHALLENGE));
        assert!(!verifies(&VERIFIER.replace('d', "e"), CHALLENGE));
        assert!(!verifies(VERIFIER, &CHALLENGE.replace('E', "F")));
        // Too short to be a verifier, even if it hashed right.
        let short = "abc";
        let short_challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(short.as_bytes()));
        assert!(!verifies(short, &short_challenge));
    }

    #[test]
    fn only_s256_challenges_are_accepted() {
        assert_eq!(
            check_challenge(Some(CHALLENGE), Some("S256")).unwrap(),
            CHALLENGE
        );
        let plain = check_challenge(Some(CHALLENGE), Some("plain")).unwrap_err();
        assert!(plain.contains("plain"), "{plain}");
        let defaulted = check_challenge(Some(CHALLENGE), None).unwrap_err();
        assert!(defaulted.contains("S256"), "{defaulted}");
        let missing = check_challenge(None, Some("S256")).unwrap_err();
        assert!(missing.contains("required"), "{missing}");
        assert!(check_challenge(Some("short"), Some("S256")).is_err());
        assert!(check_challenge(Some(&format!("{CHALLENGE}A")), Some("S256")).is_err());
    }
}
