//! The token endpoint: authenticates the client (HTTP Basic, form secret,
//! or none for public clients), then runs the client-credentials grant or
//! exchanges an authorization code against its PKCE verifier, and answers
//! with a signed access token for the project's resource.

use std::time::Instant;

use aws_lc_rs::constant_time::verify_slices_are_equal;
use axum::{
    Form, Json,
    extract::{State, rejection::FormRejection},
    http::{HeaderMap, header},
    response::{IntoResponse, Response},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use serde_json::json;

use super::{
    clients::{AuthMethod, Client, GrantType},
    error::{OAuthError, no_store, with_outcome},
    params::Params,
    pkce,
    server::Shared,
    store::Grant,
};

/// Lifetime of the access tokens, in seconds.
pub const TOKEN_LIFETIME_SECS: u64 = 3600;

/// `POST /token`.
pub async fn token(
    State(dev): State<Shared>,
    headers: HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let Ok(Form(pairs)) = form else {
        return OAuthError::new(
            "invalid_request",
            "the body must be application/x-www-form-urlencoded",
        )
        .into_response();
    };
    match answer(&dev, &headers, &Params(pairs)).await {
        Ok(response) => response,
        Err(err) => err.into_response(),
    }
}

async fn answer(
    dev: &Shared,
    headers: &HeaderMap,
    params: &Params,
) -> Result<Response, OAuthError> {
    let invalid = |why: String| OAuthError::new("invalid_request", why);
    if let Some(name) = params.repeated() {
        return Err(invalid(format!("`{name}` appears more than once")));
    }
    let grant_type = params.one("grant_type").map_err(invalid)?;
    let grant = match grant_type {
        None => return Err(invalid("grant_type is missing".into())),
        Some(text) => GrantType::parse(text).ok_or_else(|| {
            OAuthError::new(
                "unsupported_grant_type",
                format!("grant_type `{text}` is not supported: use authorization_code or client_credentials"),
            )
        })?,
    };
    let client = authenticate(dev, headers, params).await?;
    if !client.allows(grant) {
        return Err(OAuthError::new(
            "unauthorized_client",
            format!("this client may not use the {} grant", grant.as_str()),
        ));
    }
    let resources = params.all("resource");
    let issued = match grant {
        GrantType::ClientCredentials => {
            let scopes = dev
                .config
                .scopes_for(params.one("scope").map_err(invalid)?)
                .map_err(|why| OAuthError::new("invalid_scope", why))?;
            let audience = dev
                .config
                .audience_for(&resources)
                .map_err(|why| OAuthError::new("invalid_target", why))?;
            Issued {
                subject: client.id.clone(),
                audience,
                scopes,
            }
        }
        GrantType::AuthorizationCode => exchange_code(dev, &client, params, &resources)?,
    };
    let claims = Grant {
        issuer: &dev.config.issuer,
        subject: &issued.subject,
        audience: &issued.audience,
        client_id: &client.id,
        scopes: &issued.scopes,
        lifetime_secs: TOKEN_LIFETIME_SECS,
    }
    .claims()
    .and_then(|claims| dev.store.sign(&claims))
    .map_err(|err| OAuthError {
        status: axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        ..OAuthError::new("server_error", err.to_string())
    })?;
    let body = json!({
        "access_token": claims,
        "token_type": "Bearer",
        "expires_in": TOKEN_LIFETIME_SECS,
        "scope": issued.scopes.join(" "),
    });
    let response = (no_store(), Json(body)).into_response();
    Ok(with_outcome(
        response,
        format!(
            "{} token for client `{}`, sub `{}`, scope `{}`",
            grant.as_str(),
            client.id,
            issued.subject,
            issued.scopes.join(" ")
        ),
    ))
}

/// What the token will say.
struct Issued {
    subject: String,
    audience: String,
    scopes: Vec<String>,
}

/// Exchanges the code in `params` (RFC 6749 4.1.3, RFC 7636 4.6).
fn exchange_code(
    dev: &Shared,
    client: &Client,
    params: &Params,
    resources: &[&str],
) -> Result<Issued, OAuthError> {
    let invalid = |why: String| OAuthError::new("invalid_request", why);
    let grant_error = |why: &str| OAuthError::new("invalid_grant", why);
    let code = params
        .one("code")
        .map_err(invalid)?
        .ok_or_else(|| invalid("code is missing".into()))?;
    let verifier = params
        .one("code_verifier")
        .map_err(invalid)?
        .ok_or_else(|| invalid("code_verifier is missing: PKCE is required".into()))?;
    let redirect_uri = params.one("redirect_uri").map_err(invalid)?;
    // Taken out whatever follows: a code is tried once.
    let Some(issued) = dev.flows.take_code(code) else {
        return Err(grant_error("the code is unknown or was used already"));
    };
    if issued.expires <= Instant::now() {
        return Err(grant_error("the code expired (codes live 60 s)"));
    }
    if issued.client_id != client.id {
        return Err(grant_error("the code was issued to another client"));
    }
    match redirect_uri {
        Some(uri) if uri == issued.redirect_uri => {}
        None if !issued.redirect_uri_given => {}
        Some(_) => {
            return Err(grant_error(
                "redirect_uri is not the one of the authorization request",
            ));
        }
        None => {
            return Err(grant_error(
                "redirect_uri is missing: the authorization request named one",
            ));
        }
    }
    if !pkce::verifies(verifier, &issued.code_challenge) {
        return Err(grant_error(
            "code_verifier does not match the code_challenge",
        ));
    }
    match resources {
        [] => {}
        [resource] if *resource == issued.audience => {}
        _ => {
            return Err(OAuthError::new(
                "invalid_target",
                format!("the code was granted for `{}` only", issued.audience),
            ));
        }
    }
    Ok(Issued {
        subject: issued.subject,
        audience: issued.audience,
        scopes: issued.scopes,
    })
}

/// The client making the request, authenticated as it registered:
/// confidential clients by `client_secret_basic` or `client_secret_post`,
/// public ones by `client_id` alone.
async fn authenticate(
    dev: &Shared,
    headers: &HeaderMap,
    params: &Params,
) -> Result<Client, OAuthError> {
    let invalid = |why: String| OAuthError::new("invalid_request", why);
    let body_id = params.one("client_id").map_err(invalid)?;
    let body_secret = params.one("client_secret").map_err(invalid)?;
    let basic = match headers.get(header::AUTHORIZATION) {
        Some(value) => Some(
            basic_credentials(value.to_str().unwrap_or_default()).ok_or_else(|| {
                OAuthError::invalid_client(
                    "the Authorization header is not HTTP Basic with a client id and secret",
                    true,
                )
            })?,
        ),
        None => None,
    };
    let by_basic = basic.is_some();
    let (id, secret) = match (basic, body_secret) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                "the client authenticated twice (Basic and client_secret): use one method".into(),
            ));
        }
        (Some((id, secret)), None) => {
            if body_id.is_some_and(|body_id| body_id != id) {
                return Err(OAuthError::invalid_client(
                    "client_id differs from the client in the Authorization header",
                    true,
                ));
            }
            (id, Some(secret))
        }
        (None, secret) => {
            let Some(id) = body_id else {
                return Err(OAuthError::invalid_client(
                    "no client: authenticate with HTTP Basic or send client_id",
                    false,
                ));
            };
            (id.to_string(), secret.map(str::to_string))
        }
    };
    let client = dev
        .clients
        .find(&id)
        .await
        .map_err(|why| OAuthError::invalid_client(why, by_basic))?;
    match (&client.secret, secret) {
        (Some(expected), Some(given)) => {
            if verify_slices_are_equal(expected.as_bytes(), given.as_bytes()).is_err() {
                return Err(OAuthError::invalid_client("wrong client secret", by_basic));
            }
        }
        (Some(_), None) => {
            return Err(OAuthError::invalid_client(
                "this client is confidential: authenticate with client_secret_basic or client_secret_post",
                by_basic,
            ));
        }
        (None, Some(_)) => {
            return Err(OAuthError::invalid_client(
                "this client is public (token_endpoint_auth_method none): send no secret",
                by_basic,
            ));
        }
        (None, None) => debug_assert_eq!(client.auth_method, AuthMethod::None),
    }
    Ok(client)
}

/// The client id and secret of an HTTP Basic `Authorization` header, each
/// form-urlencoded (RFC 6749 2.3.1).
fn basic_credentials(header: &str) -> Option<(String, String)> {
    let (scheme, encoded) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let id = form_decode(id)?;
    let secret = form_decode(secret)?;
    (!id.is_empty()).then_some((id, secret))
}

/// Decodes `application/x-www-form-urlencoded` text (`+` is a space).
fn form_decode(text: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut input = text.bytes();
    while let Some(byte) = input.next() {
        match byte {
            b'+' => bytes.push(b' '),
            b'%' => {
                let high = (input.next()? as char).to_digit(16)?;
                let low = (input.next()? as char).to_digit(16)?;
                bytes.push((high * 16 + low) as u8);
            }
            other => bytes.push(other),
        }
    }
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dev::{authorize::IssuedCode, config::Config, server::Dev, store::Store};

    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn public_client() -> Client {
        Client {
            id: "app".into(),
            name: None,
            redirect_uris: vec!["http://127.0.0.1/cb".into()],
            secret: None,
            auth_method: AuthMethod::None,
            grant_types: vec![GrantType::AuthorizationCode],
        }
    }

    #[test]
    fn a_code_is_exchanged_once_before_it_expires_with_its_redirect_uri() {
        let dir = tempfile::TempDir::new().unwrap();
        let (store, _) = Store::open_or_create(dir.path()).unwrap();
        let config = Config {
            issuer: "http://127.0.0.1:9417".into(),
            audience: "http://127.0.0.1:8000/mcp".into(),
            resource_url: "http://127.0.0.1:8000/mcp".into(),
            scopes: vec!["read:tasks".into()],
        };
        let dev = Dev::new(config, store).unwrap();
        let issue = |given: bool, expires: Instant| {
            dev.flows
                .issue(IssuedCode {
                    client_id: "app".into(),
                    redirect_uri: "http://127.0.0.1:5000/cb".into(),
                    redirect_uri_given: given,
                    scopes: vec!["read:tasks".into()],
                    audience: "http://127.0.0.1:8000/mcp".into(),
                    subject: "dev-user".into(),
                    code_challenge: CHALLENGE.into(),
                    expires,
                })
                .unwrap()
        };
        let params = |code: &str, redirect: Option<&str>| {
            let mut pairs = vec![
                ("code".to_string(), code.to_string()),
                ("code_verifier".to_string(), VERIFIER.to_string()),
            ];
            pairs.extend(redirect.map(|uri| ("redirect_uri".to_string(), uri.to_string())));
            Params(pairs)
        };
        let later = Instant::now() + std::time::Duration::from_secs(60);
        let client = public_client();
        let describe = |result: Result<Issued, OAuthError>| match result {
            Ok(issued) => format!("ok {}", issued.subject),
            Err(err) => format!("{} {}", err.error, err.description),
        };

        let expired = issue(true, Instant::now());
        let answer = describe(exchange_code(
            &dev,
            &client,
            &params(&expired, Some("http://127.0.0.1:5000/cb")),
            &[],
        ));
        assert!(
            answer.starts_with("invalid_grant the code expired"),
            "{answer}"
        );

        // Named in the request: required at the exchange.
        let code = issue(true, later);
        let answer = describe(exchange_code(&dev, &client, &params(&code, None), &[]));
        assert!(
            answer.starts_with("invalid_grant redirect_uri is missing"),
            "{answer}"
        );
        // Not named: may be left out.
        let code = issue(false, later);
        let answer = describe(exchange_code(&dev, &client, &params(&code, None), &[]));
        assert_eq!(answer, "ok dev-user");
        let answer = describe(exchange_code(&dev, &client, &params(&code, None), &[]));
        assert!(
            answer.starts_with("invalid_grant the code is unknown"),
            "{answer}"
        );
        // Another resource than the one granted.
        let code = issue(false, later);
        let answer = describe(exchange_code(
            &dev,
            &client,
            &params(&code, None),
            &["api://other"],
        ));
        assert!(answer.starts_with("invalid_target"), "{answer}");
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let header = format!("Basic {}", STANDARD.encode("my%20app:s%3Acret+x"));
        assert_eq!(
            basic_credentials(&header),
            Some(("my app".to_string(), "s:cret x".to_string()))
        );
        let lower = format!("basic {}", STANDARD.encode("id:secret"));
        assert_eq!(
            basic_credentials(&lower),
            Some(("id".to_string(), "secret".to_string()))
        );
        assert_eq!(basic_credentials("Bearer abc"), None);
        assert_eq!(basic_credentials("Basic !!!"), None);
        assert_eq!(
            basic_credentials(&format!("Basic {}", STANDARD.encode("nocolon"))),
            None
        );
        assert_eq!(form_decode("%zz"), None);
    }
}
