//! What the development issuer keeps on disk, in the project's git-ignored
//! `.mcp-builder/dev/` folder: its P-256 signing key and the confidential
//! client it accepts for the client-credentials grant. Made on first use by
//! `auth dev`, `auth token` or `auth test`, then read by all of them, so a
//! token minted by one is verified with the key set another serves.

use std::{
    fs,
    io::Write,
    path::{Path, PathBuf},
};

use anyhow::{Context, bail};
use aws_lc_rs::{
    rand::{SecureRandom, SystemRandom},
    signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The folder, below the package root.
pub const DIR: &str = ".mcp-builder/dev";
/// The file in [`DIR`] that holds the key and the client.
const FILE: &str = "issuer.json";
/// The client id of the development client-credentials client.
pub const CLIENT_ID: &str = "mcp-builder-dev";

/// The development issuer's key and client.
pub struct Store {
    pub dir: PathBuf,
    /// PKCS#8 DER of the P-256 private key.
    key_pkcs8: Vec<u8>,
    /// The uncompressed public point (`04 || X || Y`).
    public_point: Vec<u8>,
    pub client_id: String,
    pub client_secret: String,
}

/// The file's contents.
#[derive(Serialize, Deserialize)]
struct Stored {
    /// PKCS#8 DER, base64url.
    key_pkcs8: String,
    client_id: String,
    client_secret: String,
}

impl Store {
    /// The store of the project at `root`, made (key, client, `.gitignore`)
    /// if it does not exist yet; `true` when it was just made.
    pub fn open_or_create(root: &Path) -> anyhow::Result<(Self, bool)> {
        if let Some(store) = Self::open(root)? {
            return Ok((store, false));
        }
        let dir = root.join(DIR);
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| anyhow::anyhow!("cannot make a P-256 signing key"))?;
        let stored = Stored {
            key_pkcs8: URL_SAFE_NO_PAD.encode(pkcs8.as_ref()),
            client_id: CLIENT_ID.to_string(),
            client_secret: random_token(32)?,
        };
        fs::create_dir_all(&dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
        write_new(
            &dir.join(".gitignore"),
            "# Made by mcp-builder auth dev: a development issuer's private key.\n*\n",
        )?;
        let text = serde_json::to_string_pretty(&stored)? + "\n";
        write_new(&dir.join(FILE), &text)?;
        let store = Self::from_stored(dir, stored)?;
        Ok((store, true))
    }

    /// The store of the project at `root`, if `auth dev` (or another
    /// command) made one.
    pub fn open(root: &Path) -> anyhow::Result<Option<Self>> {
        let dir = root.join(DIR);
        let path = dir.join(FILE);
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(err) => {
                return Err(err).with_context(|| format!("cannot read `{}`", path.display()));
            }
        };
        let stored: Stored = serde_json::from_str(&text).with_context(|| {
            format!(
                "`{}` is not a development issuer's file\nhelp: delete the folder `{}`; `mcp-builder auth dev` makes a new key (tokens signed with the old one stop working)",
                path.display(),
                dir.display()
            )
        })?;
        Self::from_stored(dir, stored).map(Some)
    }

    fn from_stored(dir: PathBuf, stored: Stored) -> anyhow::Result<Self> {
        let key_pkcs8 = URL_SAFE_NO_PAD
            .decode(stored.key_pkcs8.as_bytes())
            .ok()
            .filter(|der| EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der).is_ok());
        let Some(key_pkcs8) = key_pkcs8 else {
            bail!(
                "the key in `{}` is not a P-256 private key\nhelp: delete the folder; `mcp-builder auth dev` makes a new key",
                dir.join(FILE).display()
            );
        };
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &key_pkcs8)
            .map_err(|_| anyhow::anyhow!("cannot read the development key"))?;
        let public_point = pair.public_key().as_ref().to_vec();
        if stored.client_id.is_empty() || stored.client_secret.len() < 16 {
            bail!(
                "`{}` holds no usable client\nhelp: delete the folder; `mcp-builder auth dev` makes a new one",
                dir.join(FILE).display()
            );
        }
        Ok(Self {
            dir,
            key_pkcs8,
            public_point,
            client_id: stored.client_id,
            client_secret: stored.client_secret,
        })
    }

    /// The public key as a JWK (`kid` is its RFC 7638 thumbprint).
    pub fn public_jwk(&self) -> Value {
        let (x, y) = self.public_point[1..].split_at(32);
        let x = URL_SAFE_NO_PAD.encode(x);
        let y = URL_SAFE_NO_PAD.encode(y);
        // RFC 7638: the required members, in lexicographic order, no spaces.
        let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()));
        json!({ "kty": "EC", "crv": "P-256", "x": x, "y": y, "kid": kid, "use": "sig", "alg": "ES256" })
    }

    /// The key set the issuer serves.
    pub fn jwks(&self) -> Value {
        json!({ "keys": [self.public_jwk()] })
    }

    /// Signs an access token (RFC 9068: `typ` `at+jwt`) with `claims`.
    pub fn sign(&self, claims: &Value) -> anyhow::Result<String> {
        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some("at+jwt".to_string());
        header.kid = self.public_jwk()["kid"].as_str().map(str::to_string);
        let key = EncodingKey::from_ec_der(&self.key_pkcs8);
        jsonwebtoken::encode(&header, claims, &key).context("cannot sign the token")
    }
}

/// The claims of an access token from the development issuer.
pub struct Grant<'a> {
    pub issuer: &'a str,
    pub subject: &'a str,
    pub audience: &'a str,
    pub client_id: &'a str,
    pub scopes: &'a [String],
    pub lifetime_secs: u64,
}

impl Grant<'_> {
    /// The JWT claims, issued now.
    pub fn claims(&self) -> anyhow::Result<Value> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .context("the clock is before 1970")?
            .as_secs();
        Ok(json!({
            "iss": self.issuer,
            "sub": self.subject,
            "aud": self.audience,
            "client_id": self.client_id,
            "scope": self.scopes.join(" "),
            "iat": now,
            "nbf": now,
            "exp": now + self.lifetime_secs,
            "jti": random_token(16)?,
        }))
    }
}

/// `bytes` random bytes, base64url: secrets, codes, token ids.
pub fn random_token(bytes: usize) -> anyhow::Result<String> {
    let mut buffer = vec![0u8; bytes];
    SystemRandom::new()
        .fill(&mut buffer)
        .map_err(|_| anyhow::anyhow!("the system's random source failed"))?;
    Ok(URL_SAFE_NO_PAD.encode(buffer))
}

/// Writes a new file readable by its owner only (it may hold a secret).
fn write_new(path: &Path, text: &str) -> anyhow::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create `{}`", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("cannot write `{}`", path.display()))
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{DecodingKey, Validation, jwk::Jwk};

    use super::*;

    #[test]
    fn a_new_store_is_ignored_by_git_and_signs_tokens_its_key_set_verifies() {
        let dir = tempfile::TempDir::new().unwrap();
        let (store, created) = Store::open_or_create(dir.path()).unwrap();
        assert!(created);
        let ignore = fs::read_to_string(dir.path().join(DIR).join(".gitignore")).unwrap();
        assert!(ignore.lines().any(|line| line == "*"), "{ignore}");
        let (again, created) = Store::open_or_create(dir.path()).unwrap();
        assert!(!created);
        assert_eq!(again.client_secret, store.client_secret);
        assert_eq!(again.public_jwk(), store.public_jwk());

        let scopes = vec!["read:tasks".to_string()];
        let grant = Grant {
            issuer: "http://127.0.0.1:9417",
            subject: "dev-user",
            audience: "http://127.0.0.1:8000/mcp",
            client_id: CLIENT_ID,
            scopes: &scopes,
            lifetime_secs: 60,
        };
        let token = store.sign(&grant.claims().unwrap()).unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        assert_eq!(header.kid.as_deref(), store.public_jwk()["kid"].as_str());
        let jwk: Jwk = serde_json::from_value(again.public_jwk()).unwrap();
        let mut validation = Validation::new(Algorithm::ES256);
        validation.set_audience(&["http://127.0.0.1:8000/mcp"]);
        validation.set_issuer(&["http://127.0.0.1:9417"]);
        let data = jsonwebtoken::decode::<Value>(
            &token,
            &DecodingKey::from_jwk(&jwk).unwrap(),
            &validation,
        )
        .unwrap();
        assert_eq!(data.claims["scope"], "read:tasks");
        assert_eq!(data.claims["sub"], "dev-user");
    }

    #[test]
    fn a_damaged_store_is_an_error_that_says_how_to_start_over() {
        let dir = tempfile::TempDir::new().unwrap();
        fs::create_dir_all(dir.path().join(DIR)).unwrap();
        fs::write(dir.path().join(DIR).join(FILE), "{ not json").unwrap();
        let err = Store::open(dir.path()).err().unwrap().to_string();
        assert!(err.contains("delete the folder"), "{err}");
        fs::write(
            dir.path().join(DIR).join(FILE),
            r#"{"key_pkcs8":"AAAA","client_id":"x","client_secret":"0123456789abcdef0"}"#,
        )
        .unwrap();
        let err = Store::open(dir.path()).err().unwrap().to_string();
        assert!(err.contains("not a P-256 private key"), "{err}");
    }
}
