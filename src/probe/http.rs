//! The HTTP client of `auth test`: every request bounded by a timeout, TLS
//! always verified, plain HTTP only to this machine, no retries. A host
//! that let one request time out is sent nothing more, so a run waits on an
//! unresponsive host once (`--timeout` seconds), not once per check.

use std::{collections::BTreeSet, fmt, net::IpAddr, sync::Mutex, time::Duration};

use anyhow::{Context, bail};
use reqwest::{
    IntoUrl, Url,
    blocking::{RequestBuilder, Response},
};

/// reqwest's blocking client, with the run's timeout and the hosts that
/// did not answer within it.
pub struct Client {
    inner: reqwest::blocking::Client,
    timeout: Duration,
    /// Origins (`scheme://host:port`) a request to timed out.
    silent: Mutex<BTreeSet<String>>,
}

pub fn client(timeout: Duration) -> anyhow::Result<Client> {
    let inner = reqwest::blocking::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("mcp-builder/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("cannot build an HTTP client")?;
    Ok(Client {
        inner,
        timeout,
        silent: Mutex::new(BTreeSet::new()),
    })
}

impl Client {
    pub fn get(&self, url: impl IntoUrl) -> RequestBuilder {
        self.inner.get(url)
    }

    pub fn post(&self, url: impl IntoUrl) -> RequestBuilder {
        self.inner.post(url)
    }

    /// Sends `request`: an error that says "timed out after N s" when it
    /// did, and, without sending, when its host timed out before.
    pub fn send(&self, request: RequestBuilder) -> Result<Response, Error> {
        let request = request.build().map_err(|err| self.error(&err))?;
        let origin = request.url().origin().ascii_serialization();
        if self.silent.lock().is_ok_and(|set| set.contains(&origin)) {
            return Err(Error(format!(
                "not sent: {origin} did not answer an earlier request within {} s",
                self.timeout.as_secs()
            )));
        }
        self.inner
            .execute(request)
            .map_err(|err| self.failed(origin, &err))
    }

    /// The body of `response` as text, said like [`Client::send`]'s errors
    /// when it does not arrive in time.
    pub fn text(&self, response: Response) -> Result<String, Error> {
        let origin = response.url().origin().ascii_serialization();
        response.text().map_err(|err| self.failed(origin, &err))
    }

    /// Notes a host that timed out, and says the error.
    fn failed(&self, origin: String, err: &reqwest::Error) -> Error {
        if err.is_timeout()
            && let Ok(mut set) = self.silent.lock()
        {
            set.insert(origin);
        }
        self.error(err)
    }

    /// reqwest's error said plainly: the timeout with its length, else the
    /// error with its causes (reqwest's own text alone hides them).
    fn error(&self, err: &reqwest::Error) -> Error {
        if err.is_timeout() {
            return Error(format!("timed out after {} s", self.timeout.as_secs()));
        }
        // The callers name the URL already.
        let mut text = match err.url() {
            Some(url) => err.to_string().replace(&format!(" for url ({url})"), ""),
            None => err.to_string(),
        };
        let mut source = std::error::Error::source(err);
        while let Some(cause) = source {
            let cause_text = cause.to_string();
            if !text.contains(&cause_text) {
                text.push_str(": ");
                text.push_str(&cause_text);
            }
            source = cause.source();
        }
        Error(text)
    }
}

/// A request that failed, said plainly (see [`Client::send`]).
#[derive(Debug)]
pub struct Error(String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

/// Parses `value`, refusing plain HTTP to anything but loopback.
pub fn url(what: &str, value: &str) -> anyhow::Result<Url> {
    let url = Url::parse(value).with_context(|| format!("{what} `{value}` is not a URL"))?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => {
            bail!("{what} `{value}` uses http:// for a host that is not loopback; use https://")
        }
        scheme => bail!("{what} `{value}` must be https://, not {scheme}://"),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host_str() {
        Some("localhost") => true,
        Some(host) => host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => false,
    }
}
