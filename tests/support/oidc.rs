//! A real authorization server for tests: the npm package `oidc-provider`
//! run by `tests/oidc/server.mjs` on 127.0.0.1 (see that file for what it
//! issues). Its packages are installed on first use with `npm ci` from the
//! committed lockfile (npm's registry must be reachable, as on CI).

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Command, Stdio},
    sync::{OnceLock, mpsc},
    time::Duration,
};

pub const CLIENT_ID: &str = "mcp-test-client";
pub const CLIENT_SECRET: &str = "mcp-test-secret";

/// A running oidc-provider; killed on drop.
pub struct OidcProvider {
    child: Child,
    issuer: String,
}

impl OidcProvider {
    /// Starts it for `audience` with `scopes` (space-separated);
    /// `token_format` is `jwt` or `opaque`. Its client authenticates with
    /// `client_secret_post`, the only method its metadata lists.
    pub fn start(audience: &str, scopes: &str, token_format: &str) -> Self {
        Self::start_with_client(
            audience,
            scopes,
            token_format,
            "client_secret_post",
            CLIENT_SECRET,
        )
    }

    /// Like [`OidcProvider::start`], with a client that must authenticate
    /// with `auth_method` (`client_secret_basic`: the metadata then lists
    /// Basic, post and others) and has `secret`.
    pub fn start_with_client(
        audience: &str,
        scopes: &str,
        token_format: &str,
        auth_method: &str,
        secret: &str,
    ) -> Self {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc");
        install(&dir);
        let mut child = Command::new("node")
            .arg("server.mjs")
            .current_dir(&dir)
            .env("AUDIENCE", audience)
            .env("SCOPES", scopes)
            .env("TOKEN_FORMAT", token_format)
            .env("CLIENT_ID", CLIENT_ID)
            .env("CLIENT_SECRET", secret)
            .env("CLIENT_AUTH_METHOD", auth_method)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start node (Node.js must be installed)");
        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = sender.send(line);
        });
        let line = match receiver.recv_timeout(Duration::from_secs(20)) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                panic!("oidc-provider did not start within 20 s");
            }
        };
        let started: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|error| panic!("oidc-provider printed `{line}`: {error}"));
        let issuer = started["issuer"].as_str().expect("issuer").to_string();
        Self { child, issuer }
    }

    /// The issuer, exactly as in its tokens (`http://127.0.0.1:PORT/`).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn jwks_url(&self) -> String {
        format!("{}jwks", self.issuer)
    }
}

/// `npm ci` once per test process, unless the packages are there already.
fn install(dir: &Path) {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        if dir.join("node_modules/oidc-provider/package.json").exists() {
            return;
        }
        let output = assert_cmd::Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(dir)
            .timeout(Duration::from_secs(300))
            .output()
            .expect("run npm (Node.js and npm must be installed)");
        assert!(
            output.status.success(),
            "npm ci in {} failed:\n{}",
            dir.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    });
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
