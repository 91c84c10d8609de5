//! Tests of the existing-auth detector through [`inspect`](crate::inspect::inspect): what refuses a project (each with its `file:line`) and what must not (other routes' auth, headers sent upstream, the generated module, test code).

use crate::inspect::inspect;
use crate::inspect::tests::{RMCP_3, manifest, tree};

/// A server whose router is `/health` plus `/mcp`, then `LAYERS` (replaced),
/// with `EXTRA` (replaced) after `main`. The router chain's `.nest_service`
/// is on line 17; `EXTRA` starts on line 22, one further down per line
/// `LAYERS` adds.
const MAIN: &str = r#"use std::sync::Arc;

use axum::{Router, routing::get};
use rmcp::transport::streamable_http_server::{
    StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let service = StreamableHttpService::new(
        || Ok(Server::new()),
        Arc::new(LocalSessionManager::default()),
        StreamableHttpServerConfig::default(),
    );
    let app = Router::new()
        .route("/health", get(|| async { "ok" }))
        .nest_service("/mcp", service)LAYERS;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
    axum::serve(listener, app).await?;
    Ok(())
}

EXTRA
"#;

/// A middleware that checks a static bearer token.
const CHECK: &str = r#"async fn check(request: Request, next: Next) -> Result<Response, StatusCode> {
    match request.headers().get("authorization") {
        Some(value) if value == "Bearer s3cret" => Ok(next.run(request).await),
        _ => Err(StatusCode::UNAUTHORIZED),
    }
}
"#;

fn main_with(layers: &str, extra: &str) -> String {
    MAIN.replace("LAYERS", layers).replace("EXTRA", extra)
}

/// `inspect`'s verdict on a project: `ok` or the whole error.
fn verdict(files: &[(&str, &str)], extra_deps: &str) -> String {
    let cargo = manifest("guarded", RMCP_3) + extra_deps;
    let mut all = vec![("Cargo.toml", cargo.as_str())];
    all.extend_from_slice(files);
    let dir = tree(&all);
    match inspect(dir.path()) {
        Ok(_) => "ok".into(),
        Err(err) => format!("{err:#}"),
    }
}

const HELP_TAIL: &str =
    "then run add-auth again; to keep your own auth instead, do not use add-auth on this endpoint";

#[test]
fn a_static_bearer_middleware_over_the_router_is_found() {
    let main = main_with("\n        .layer(axum::middleware::from_fn(check))", CHECK);
    assert_eq!(
        verdict(&[("src/main.rs", &main)], ""),
        format!(
            "`guarded` already has auth of its own, and add-auth never stacks a second one on it: \
             `src/main.rs:18` a `from_fn(check)` layer over the MCP endpoint, where `check` (`src/main.rs:24`) \
             reads the `Authorization` header, checks a `Bearer` token, answers 401\n\
             help: remove or disable yours first (`src/main.rs:18`), {HELP_TAIL}"
        )
    );
}

#[test]
fn auth_around_a_router_factory_tower_http_and_layer_types_are_found() {
    // main wraps the router a factory returns; the check takes the typed
    // header.
    let factory = r#"use std::sync::Arc;

use axum::Router;

fn build_router() -> Router {
    let service = StreamableHttpService::new(
        || Ok(Server::new()),
        Arc::new(LocalSessionManager::default()),
        StreamableHttpServerConfig::default(),
    );
    Router::new().nest_service("/mcp", service)
}

#[tokio::main]
async fn main() {
    let app = build_router().layer(from_fn_with_state(state, check));
    serve(app).await;
}

async fn check(TypedHeader(auth): TypedHeader<Authorization<Bearer>>, request: Request, next: Next) -> Response {
    next.run(request).await
}
"#;
    assert!(verdict(&[("src/main.rs", factory)], "").contains(
        "`src/main.rs:16` a `from_fn_with_state(check)` layer over the MCP endpoint, where `check` \
             (`src/main.rs:20`) takes the `Authorization` header (`TypedHeader<Authorization<..>>`)"
    ));

    let tower_http = main_with(
        "\n        .layer(ValidateRequestHeaderLayer::bearer(&token))",
        "",
    );
    assert!(verdict(&[("src/main.rs", &tower_http)], "").contains(
        "`src/main.rs:18` a tower-http `ValidateRequestHeaderLayer::bearer` layer over the MCP endpoint"
    ));

    // A helper builds the layer: the finding is where it does.
    let helper = main_with(
        "\n        .layer(auth_layer())",
        &format!("fn auth_layer() -> FromFnLayer {{\n    from_fn(check)\n}}\n\n{CHECK}"),
    );
    assert!(
        verdict(&[("src/main.rs", &helper)], "")
            .contains("`src/main.rs:25` a `from_fn(check)` layer over the MCP endpoint")
    );

    // A `Layer` of the project's own whose service answers 401.
    let layer_type = main_with(
        "\n        .layer(ApiKeyLayer)",
        r#"struct ApiKeyLayer;

impl<S> Layer<S> for ApiKeyLayer {
    type Service = ApiKey<S>;
    fn layer(&self, inner: S) -> ApiKey<S> {
        ApiKey(inner)
    }
}

impl<S: Service<Request>> Service<Request> for ApiKey<S> {
    fn call(&mut self, request: Request) -> Self::Future {
        if request.headers().contains_key("x-api-key") {
            Either::Left(self.0.call(request))
        } else {
            Either::Right(ready(Ok(StatusCode::UNAUTHORIZED.into_response())))
        }
    }
}
"#,
    );
    assert!(
        verdict(&[("src/main.rs", &layer_type)], "").contains(
            "`src/main.rs:18` a layer `ApiKeyLayer` over the MCP endpoint, where `ApiKeyLayer`'s `Layer` impl \
             (`src/main.rs:26`) uses `ApiKey`, which checks requests"
        ),
        "{}",
        verdict(&[("src/main.rs", &layer_type)], "")
    );
}

#[test]
fn auth_confined_to_other_routes_is_not_auth_of_the_endpoint() {
    // Auth on `/admin` (a method router's layer), on a nested router, on a
    // `route_layer` before the endpoint is added, in a function that never
    // holds the endpoint; plus layers that check nothing.
    let main = MAIN
        .replace(
            "        .route(\"/health\", get(|| async { \"ok\" }))\n",
            "        .route(\"/health\", get(|| async { \"ok\" }))\n        \
             .route(\"/admin\", get(admin).layer(from_fn(check)))\n        \
             .route_layer(from_fn(check))\n        \
             .nest(\"/internal\", internal())\n",
        )
        .replace(
            "LAYERS",
            "\n        .layer(CorsLayer::permissive())\n        .layer(from_fn(log_requests))",
        )
        .replace(
            "EXTRA",
            &format!(
                "fn internal() -> Router {{\n    Router::new().route(\"/x\", get(x)).layer(from_fn(check))\n}}\n\n\
                 fn guard_other(app: Router) -> Router {{\n    app.layer(from_fn(check))\n}}\n\n\
                 async fn log_requests(request: Request, next: Next) -> Response {{\n    \
                 tracing::info!(path = %request.uri().path());\n    next.run(request).await\n}}\n\n{CHECK}"
            ),
        );
    assert_eq!(verdict(&[("src/main.rs", &main)], ""), "ok");
}

#[test]
fn the_mcp_handler_reading_authorization_is_found_but_a_tool_sending_it_upstream_is_not() {
    let handler = |body: &str| {
        format!(
            "pub struct Server;\n\n#[tool_router]\nimpl Server {{\n    #[tool]\n    \
             async fn fetch(&self, ctx: RequestContext<RoleServer>) -> String {{\n{body}\n    }}\n}}\n"
        )
    };
    let reads = handler(
        "        let parts = ctx.extensions.get::<Parts>().unwrap();\n        \
         let token = parts.headers.get(AUTHORIZATION);\n        check(token)",
    );
    let main = main_with("", "");
    assert!(
        verdict(&[("src/main.rs", &main), ("src/server.rs", &reads)], "").contains(
            "`src/server.rs:8` reads the `Authorization` header of MCP requests (`fn fetch`), a check of its own"
        )
    );
    let upstream = handler(
        "        let key = std::env::var(\"UPSTREAM_KEY\").unwrap();\n        \
         reqwest::Client::new().get(URL).header(AUTHORIZATION, format!(\"Bearer {key}\")).send().await;\n        \
         reqwest::Client::new().get(URL).bearer_auth(&key).send().await;\n        String::new()",
    );
    assert_eq!(
        verdict(&[("src/main.rs", &main), ("src/server.rs", &upstream)], ""),
        "ok"
    );
}

#[test]
fn a_jwt_library_checking_tokens_is_found_one_signing_them_is_not() {
    let main = main_with("", "");
    let jwt = "jsonwebtoken = \"9\"\n";
    let checks =
        "use jsonwebtoken::{decode, DecodingKey, Validation};\n\npub fn claims(token: &str) {}\n";
    assert_eq!(
        verdict(&[("src/main.rs", &main), ("src/token.rs", checks)], jwt),
        format!(
            "`guarded` already has auth of its own, and add-auth never stacks a second one on it: \
             `src/token.rs:1` checks JWTs of its own with `jsonwebtoken` (`jsonwebtoken::decode`)\n\
             help: remove or disable yours first (`src/token.rs:1`), {HELP_TAIL}"
        )
    );
    // Signing a token for an upstream API checks nothing.
    let signs = "pub fn upstream_token() -> String {\n    \
                 jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims(), &key()).unwrap()\n}\n";
    assert_eq!(
        verdict(&[("src/main.rs", &main), ("src/token.rs", signs)], jwt),
        "ok"
    );
    // Declared but not seen in the code (a macro, a re-export): the
    // manifest line, under any `jwt` name.
    assert!(
        verdict(&[("src/main.rs", &main)], "jwt-simple = \"0.12\"\n")
            .contains("`Cargo.toml:10` depends on `jwt-simple`, a JWT library")
    );
}

#[test]
fn an_oauth_metadata_route_of_its_own_is_found() {
    let main = main_with(
        "\n        .route(METADATA, get(metadata))",
        "const METADATA: &str = \"/.well-known/oauth-authorization-server\";\n",
    );
    assert!(
        verdict(&[("src/main.rs", &main)], "")
            .contains("`src/main.rs:18` serves `/.well-known/oauth-authorization-server` itself")
    );
}

#[test]
fn the_generated_module_and_test_code_are_not_existing_auth() {
    // A wired project without its state file: the generated module (found
    // by its header) checks tokens with jsonwebtoken and serves the
    // metadata route; a test of the project's own does the same.
    let main = MAIN
        .replacen("use std::sync::Arc;\n", "mod auth;\n\nuse std::sync::Arc;\n", 1)
        .replace(
            ".nest_service(\"/mcp\", service)LAYERS",
            ".nest_service(\"/mcp\", mcp_auth.protect(service))\n        .merge(mcp_auth.metadata_router())",
        )
        .replace(
            "EXTRA",
            &format!(
                "#[cfg(test)]\nmod tests {{\n    fn app() -> Router {{\n        \
                 Router::new().nest_service(\"/mcp\", svc()).layer(from_fn(check))\n            \
                 .route(\"/.well-known/oauth-protected-resource\", get(x))\n    }}\n\n{CHECK}}}\n"
            ),
        );
    let files = [
        ("src/main.rs", main.as_str()),
        (
            "src/auth/mod.rs",
            "//! Generated by mcp-builder 0.1.0; this code is yours now.\nmod middleware;\n",
        ),
        (
            "src/auth/middleware.rs",
            &format!(
                "use jsonwebtoken::decode;\n\npub fn layer() {{ from_fn(check) }}\n\n\
                 pub fn metadata_router() -> Router {{\n    \
                 Router::new().route(\"/.well-known/oauth-protected-resource\", get(metadata))\n}}\n\n{CHECK}"
            ),
        ),
    ];
    assert_eq!(
        verdict(
            &files,
            "jsonwebtoken = { version = \"11\", default-features = false }\n"
        ),
        "ok"
    );
}

#[test]
fn every_blocker_is_named_at_once() {
    // Existing auth, and an import that `mod auth;` would clash with.
    let main = main_with("\n        .layer(axum::middleware::from_fn(check))", CHECK).replacen(
        "use std::sync::Arc;\n",
        "use std::sync::Arc;\nuse my_sso::auth;\n",
        1,
    );
    assert_eq!(
        verdict(&[("src/main.rs", &main)], ""),
        format!(
            "`guarded` cannot be protected by add-auth as it is (2 problems):\n\
             - `guarded` already has auth of its own, and add-auth never stacks a second one on it: \
             `src/main.rs:19` a `from_fn(check)` layer over the MCP endpoint, where `check` (`src/main.rs:25`) \
             reads the `Authorization` header, checks a `Bearer` token, answers 401\n  \
             help: remove or disable yours first (`src/main.rs:19`), {HELP_TAIL}\n\
             - `src/main.rs:2` already imports a name `auth` into the crate root, which the generated `mod auth;` \
             would clash with\n  \
             help: pass --module-name NAME to put the generated module under another name (e.g. --module-name mcp_oauth), \
             or rename that import, then run add-auth again"
        )
    );
}

#[test]
fn the_rmcp_release_is_named_with_the_other_blockers() {
    // rmcp 0.5 has the streamable HTTP server but not `FromContextPart`; the
    // server also serves stdio only and checks JWTs itself.
    let main = "use jsonwebtoken::decode;\n\n#[tokio::main]\nasync fn main() {\n    \
                Server.serve(rmcp::transport::stdio()).await;\n}\n";
    let cargo = manifest(
        "old",
        "rmcp = { version = \"0.5\", features = [\"server\"] }",
    ) + "jsonwebtoken = \"9\"\n";
    let dir = tree(&[("Cargo.toml", &cargo), ("src/main.rs", main)]);
    let message = format!("{:#}", inspect(dir.path()).unwrap_err());
    let bullets: Vec<&str> = message
        .lines()
        .filter_map(|line| line.strip_prefix("- "))
        .collect();
    assert!(
        message.starts_with("`old` cannot be protected by add-auth as it is (3 problems):\n"),
        "{message}"
    );
    assert_eq!(bullets.len(), 3, "{message}");
    assert!(bullets[0].starts_with("`old` uses rmcp 0.5.0"), "{message}");
    assert!(
        bullets[1].starts_with("`old` serves MCP over stdio only (`src/main.rs:5`)"),
        "{message}"
    );
    assert!(
        bullets[2].ends_with(
            "`src/main.rs:1` checks JWTs of its own with `jsonwebtoken` (`jsonwebtoken::decode`)"
        ),
        "{message}"
    );
    assert_eq!(message.matches("\n  help: ").count(), 3, "{message}");
}

#[test]
fn auth_the_router_is_handed_to_or_built_by_a_helper_is_found() {
    // The router holding `/mcp` is handed to a function that wraps it.
    let handed = MAIN
        .replace("LAYERS;", ";\n    let app = guard(app);")
        .replace(
            "EXTRA",
            &format!("fn guard(router: Router) -> Router {{\n    router.layer(from_fn(check))\n}}\n\n{CHECK}"),
        );
    assert!(
        verdict(&[("src/main.rs", &handed)], "")
            .contains("`src/main.rs:25` a `from_fn(check)` layer over the MCP endpoint"),
        "{}",
        verdict(&[("src/main.rs", &handed)], "")
    );

    // A layer from another crate, named like auth, built by a helper and
    // bound before it is applied; and metadata routes under the endpoint's
    // path.
    let external = main_with(
        "\n        .route(\"/mcp/.well-known/oauth-protected-resource\", get(metadata))",
        "fn auth_layer(token: &str) -> Option<sso::AuthLayer> {\n    Some(sso::AuthLayer::bearer(token))\n}\n",
    )
    .replace(
        "    let listener",
        "    let guard = auth_layer(\"t\");\n    let app = if let Some(layer) = guard { app.layer(layer) } else { app };\n    let listener",
    );
    assert_eq!(
        verdict(&[("src/main.rs", &external)], ""),
        format!(
            "`guarded` already has auth of its own, and add-auth never stacks a second one on it: \
             `src/main.rs:18` serves `/mcp/.well-known/oauth-protected-resource` itself (add-auth serves its own \
             OAuth metadata there, and two answers cannot share a route); \
             `src/main.rs:20` a layer `AuthLayer` over the MCP endpoint (auth, by its name), built by \
             `fn auth_layer` (`src/main.rs:26`)\n\
             help: remove or disable yours first (`src/main.rs:18`, `src/main.rs:20`), {HELP_TAIL}"
        )
    );

    // Helper code reading the header of MCP requests from rmcp's context.
    let identify = "pub fn caller(ctx: &RequestContext<RoleServer>) -> Option<String> {\n    \
                    owner(ctx.extensions.get::<Parts>()?)\n}\n\n\
                    fn owner(parts: &Parts) -> Option<String> {\n    \
                    parts.headers.get(\"Authorization\")?.to_str().ok().map(str::to_string)\n}\n";
    assert!(
        verdict(&[("src/main.rs", &main_with("", "")), ("src/identity.rs", identify)], "").contains(
            "`src/identity.rs:6` reads the `Authorization` header of MCP requests (`fn owner`), a check of its own"
        )
    );
}

#[test]
fn a_helper_guarding_a_router_of_its_own_is_not_auth_of_the_endpoint() {
    // `admin()` builds and guards its own router, merged beside `/mcp`.
    let main = main_with(
        "\n        .merge(admin())",
        &format!(
            "fn admin() -> Router {{\n    let admin = Router::new().route(\"/admin\", get(panel));\n    \
             admin.layer(from_fn(check))\n}}\n\n{CHECK}"
        ),
    )
    .replace(
        "    let listener",
        "    let extra = admin();\n    let app = app.merge(extra);\n    let listener",
    );
    assert_eq!(verdict(&[("src/main.rs", &main)], ""), "ok");
}
