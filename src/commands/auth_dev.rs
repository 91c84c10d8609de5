//! `mcp-builder auth dev`: runs the development issuer for a project made
//! with `--provider dev`, on 127.0.0.1 at the port of the issuer URL the
//! project trusts, until Ctrl-C.

use std::{
    net::{Ipv4Addr, SocketAddr},
    path::{Path, PathBuf},
};

use reqwest::Url;

use crate::{
    dev::{
        config::Config,
        server::{self, Dev},
        store::{self, Store},
    },
    probe::settings::{self, Settings},
    providers,
    resolve::UsageError,
};

/// Options of `auth dev`, as parsed by the CLI.
#[derive(Debug)]
pub struct Options {
    pub path: PathBuf,
    pub port: Option<u16>,
}

/// Runs the issuer until Ctrl-C.
pub fn run(options: Options) -> anyhow::Result<bool> {
    let root = &options.path;
    // Whether this start makes the key (reading the settings makes it too).
    let had_store = matches!(Store::open(root), Ok(Some(_)));
    let settings = settings::read(root, "auth dev")?;
    let port = port(&settings, options.port, root)?;
    let (store, made) = Store::open_or_create(root)?;
    let made = made || !had_store;
    let config = Config {
        issuer: settings.issuer.clone(),
        audience: settings.audience.clone(),
        resource_url: settings.resource_url.clone(),
        scopes: settings.scopes.clone(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let listener = match tokio::net::TcpListener::bind(address).await {
            Ok(listener) => listener,
            Err(err) if err.kind() == std::io::ErrorKind::AddrInUse => {
                anyhow::bail!(
                    "port {port} on 127.0.0.1 is taken: another program (perhaps another `mcp-builder auth dev`) listens there\nhelp: stop it, or move the issuer to a free port: {}",
                    move_issuer(root, "N")
                );
            }
            Err(err) => {
                return Err(anyhow::Error::new(err)
                    .context(format!("cannot listen on 127.0.0.1:{port}")));
            }
        };
        print_banner(root, &settings, &store, made);
        let dev = Dev::new(config, store)?;
        server::serve(dev, listener).await
    })?;
    Ok(true)
}

/// The port to listen on: the one of the project's issuer URL, which must
/// be http on 127.0.0.1 or localhost; `--port` may only repeat it.
fn port(settings: &Settings, asked: Option<u16>, root: &Path) -> anyhow::Result<u16> {
    let dev = &providers::DEV;
    if settings.provider.id != dev.id {
        return Err(UsageError(format!(
            "`{}` trusts {}, not the development issuer: tokens from auth dev would be refused by its server\nhelp: mcp-builder add-auth --path {} --provider dev",
            root.display(),
            settings.provider.name,
            root.display()
        ))
        .into());
    }
    let issuer = &settings.issuer;
    let default_port = providers::DEV_ISSUER.rsplit(':').next().unwrap_or("9417");
    let port = issuer_port(issuer).map_err(|why| {
        UsageError(format!(
            "the project's issuer `{issuer}` {why}: auth dev serves on 127.0.0.1 only, and its tokens must carry the issuer the server trusts\nhelp: {}",
            move_issuer(root, default_port)
        ))
    })?;
    match asked {
        Some(asked) if asked != port => Err(UsageError(format!(
            "--port {asked} differs from the port of the project's issuer `{issuer}`: tokens would carry an `iss` its server does not trust\nhelp: to move the issuer, {}",
            move_issuer(root, &asked.to_string())
        ))
        .into()),
        _ => Ok(port),
    }
}

/// How to move the project's issuer to `port`: the issuer URL is read from
/// `.env` (or the environment) by the server and by `auth dev` alike, and
/// add-auth never changes a value set there.
fn move_issuer(root: &Path, port: &str) -> String {
    let var = providers::DEV.domain_var;
    let env = root.join(".env");
    let mut help = format!(
        "set `{var}=http://127.0.0.1:{port}` in `{}` (the server reads it too: restart it), then run `mcp-builder auth dev --path {}`",
        env.display(),
        root.display()
    );
    for overriding in ["MCP_AUTH_ISSUER", var] {
        if std::env::var_os(overriding).is_some() {
            help.push_str(&format!(
                "; `{overriding}` is set in this shell and overrides `.env`: unset it"
            ));
        }
    }
    help
}

/// The port of an issuer URL `auth dev` can serve, or why it cannot.
fn issuer_port(issuer: &str) -> Result<u16, &'static str> {
    let url = Url::parse(issuer).map_err(|_| "is not a URL")?;
    if url.scheme() != "http" || !matches!(url.host_str(), Some("127.0.0.1" | "localhost")) {
        return Err("is not http://127.0.0.1:PORT or http://localhost:PORT");
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err("has a path, query or fragment");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("has a user name or password");
    }
    url.port_or_known_default().ok_or("has no port")
}

/// What the user needs: the issuer, the client, the scopes and resource,
/// and what to run next (plain lines on stdout).
fn print_banner(root: &Path, settings: &Settings, store: &Store, made: bool) {
    let dir = root.display();
    if made {
        println!(
            "Made a new signing key and client in `{}` (git-ignored).",
            root.join(store::DIR).display()
        );
    }
    println!("Development issuer for `{dir}` (127.0.0.1 only; never use it in production)");
    println!("  issuer:         {}", settings.issuer);
    println!("  client id:      {}", store.client_id);
    println!(
        "  client secret:  {}   (client credentials, by client_secret_basic or client_secret_post)",
        store.client_secret
    );
    println!("  scopes:         {}", settings.scopes.join(" "));
    println!("  resource:       {}", settings.resource_url);
    println!("Next, in another terminal:");
    println!("  start the MCP server (e.g. `cargo run` in `{dir}`)");
    println!("  mcp-builder auth token --path {dir}");
    println!(
        "  mcp-builder auth test --path {dir} --server {}",
        settings.resource_url
    );
    println!("Ctrl-C stops it.");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_http_issuers_with_a_port_are_served() {
        assert_eq!(issuer_port("http://127.0.0.1:9417"), Ok(9417));
        assert_eq!(issuer_port("http://127.0.0.1:9417/"), Ok(9417));
        assert_eq!(issuer_port("http://localhost:8080"), Ok(8080));
        assert!(issuer_port("https://127.0.0.1:9417").is_err());
        assert!(issuer_port("http://192.168.1.2:9417").is_err());
        assert!(issuer_port("http://127.0.0.1:9417/realms/x").is_err());
        assert!(issuer_port("not a url").is_err());
    }
}
