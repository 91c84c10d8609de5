//! The HTTP client of `auth test`: every request bounded by a timeout, TLS
//! always verified, plain HTTP only to this machine, no retries.

use std::{net::IpAddr, time::Duration};

use anyhow::{Context, bail};
use reqwest::{Url, blocking::Client};

pub fn client(timeout: Duration) -> anyhow::Result<Client> {
    Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("mcp-builder/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("cannot build an HTTP client")
}

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
