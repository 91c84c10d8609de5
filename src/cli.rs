//! The command line: clap types only. Commands receive typed options.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "mcp-builder",
    version,
    about = "Adds OAuth 2.1 authorization to Rust MCP servers built on rmcp",
    after_help = "Exit codes: 0 success, 1 failure (or --check found changes), 2 usage error."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

// Parsed once per run: the size of the add-auth arguments does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Protect the project's MCP endpoint with OAuth bearer tokens.
    #[command(after_help = ADD_AUTH_HELP)]
    AddAuth(AddAuthArgs),
    /// Tokens, checks and a development issuer for a project protected by add-auth.
    #[command(subcommand)]
    Auth(AuthCommand),
    /// Print a shell completion script on stdout.
    #[command(after_help = COMPLETIONS_HELP)]
    Completions(CompletionsArgs),
}

const COMPLETIONS_HELP: &str = "\
Save the script where the shell looks for completions, e.g.:

  mcp-builder completions bash > ~/.local/share/bash-completion/completions/mcp-builder
  mcp-builder completions zsh > \"${fpath[1]}/_mcp-builder\"
  mcp-builder completions fish > ~/.config/fish/completions/mcp-builder.fish
  mcp-builder completions powershell >> $PROFILE";

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// Get a client-credentials token, explain it, and check a running server.
    #[command(after_help = AUTH_TEST_HELP)]
    Test(AuthTestArgs),
    /// Take out what add-auth put in: the generated module, its wiring, and the
    /// dependencies, settings and state it added.
    #[command(after_help = AUTH_REMOVE_HELP)]
    Remove(AuthRemoveArgs),
    /// Run a development authorization server on 127.0.0.1 for a project made
    /// with --provider dev: real signed tokens, no account needed.
    #[command(after_help = AUTH_DEV_HELP)]
    Dev(AuthDevArgs),
    /// Print an access token for the project (only the token, on stdout).
    #[command(after_help = AUTH_TOKEN_HELP)]
    Token(AuthTokenArgs),
    /// Check the project against the security checklist: each item PASS, WARN
    /// or FAIL, with the file and line where it applies.
    #[command(after_help = AUTH_DOCTOR_HELP)]
    Doctor(AuthDoctorArgs),
}

const AUTH_DOCTOR_HELP: &str = "\
Reads the project's files only (mcp-builder.json, .env, Cargo.toml, the sources, the generated
module) and asks git whether .env is ignored; it sends no request and changes nothing.

  mcp-builder auth doctor --path .
  mcp-builder auth doctor --path . --json

Exit codes: 0 nothing failed (warnings do not fail), 1 an item failed, 2 usage error.";

#[derive(Debug, Args)]
pub struct AuthDoctorArgs {
    /// The project protected by add-auth (holds mcp-builder.json).
    #[arg(long, default_value = ".", value_name = "DIR")]
    pub path: PathBuf,

    /// Print one JSON document on stdout instead of the table.
    #[arg(long)]
    pub json: bool,
}

const AUTH_DEV_HELP: &str = "\
Serves OAuth 2.1 on 127.0.0.1 only: discovery (RFC 8414 and OpenID), a key set, the
client-credentials grant, the authorization-code grant with PKCE (S256) behind a one-click
consent page, client ID metadata documents and dynamic client registration. Tokens are
issued for the project's resource only (RFC 8707). The signing key and the client secret
are made on first start and kept in the project's git-ignored `.mcp-builder/dev/` folder.

  mcp-builder add-auth --path . --provider dev --yes
  mcp-builder auth dev --path .

Ctrl-C stops it. Exit codes: 0 stopped, 1 failure, 2 usage error.";

#[derive(Debug, Args)]
pub struct AuthDevArgs {
    /// The project protected by add-auth --provider dev (holds mcp-builder.json).
    #[arg(long, default_value = ".", value_name = "DIR")]
    pub path: PathBuf,

    /// Port on 127.0.0.1 [default: the port of the project's MCP_DEV_ISSUER].
    #[arg(long, value_name = "N")]
    pub port: Option<u16>,
}

const AUTH_TOKEN_HELP: &str = "\
With --provider dev the token is signed with the development issuer's key (keep
`mcp-builder auth dev` running so that the server can fetch its key set); with another
provider it comes from the provider's token endpoint by client credentials (the client id
and secret from the environment or `.env`).

  curl -H \"Authorization: Bearer $(mcp-builder auth token)\" http://127.0.0.1:8000/mcp

Exit codes: 0 a token was printed, 1 failure, 2 usage error.";

#[derive(Debug, Args)]
pub struct AuthTokenArgs {
    /// The project protected by add-auth (holds mcp-builder.json).
    #[arg(long, default_value = ".", value_name = "DIR")]
    pub path: PathBuf,

    /// Scopes the token carries (repeatable or comma-separated) [default: every scope of the project with the development issuer; the client's defaults otherwise].
    #[arg(long = "scope", value_name = "SCOPE", value_delimiter = ',')]
    pub scopes: Vec<String>,

    /// The token's subject (development issuer only) [default: dev-user].
    #[arg(long, value_name = "NAME")]
    pub sub: Option<String>,

    /// Seconds to wait for each answer; a host that did not answer in time
    /// is sent nothing more (its later checks fail at once).
    #[arg(long, default_value_t = 10, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=300))]
    pub timeout: u64,
}

const AUTH_REMOVE_HELP: &str = "\
Only what mcp-builder.json records add-auth added is taken out: dependencies, features
and .env keys that were there before stay. A generated file you changed since is kept
(and reported) unless --force. Wiring you changed is refused, with what to do by hand.

  mcp-builder auth remove --path . --dry-run
  mcp-builder auth remove --path . --yes
  mcp-builder auth remove --path . --yes --json

Exit codes: 0 success (or nothing to do), 1 failure, 2 usage error.";

#[derive(Debug, Args)]
pub struct AuthRemoveArgs {
    /// The package protected by add-auth (holds mcp-builder.json).
    #[arg(long, default_value = ".", value_name = "DIR")]
    pub path: PathBuf,

    /// Show what would change, as unified diffs, and change nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Apply without confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,

    /// Also delete generated files you changed since they were generated.
    #[arg(long)]
    pub force: bool,

    /// Print one JSON document on stdout: each file's action (with its diff
    /// for --dry-run), the warnings and the notes; the human lines stay on
    /// stderr.
    #[arg(long)]
    pub json: bool,
}

const AUTH_TEST_HELP: &str = "\
The client id and secret come from the environment or the project's .env
(AUTH0_CLIENT_ID, AUTH0_CLIENT_SECRET for Auth0), never from flags.

  mcp-builder auth test --path . --server https://tasks.example.com/mcp

Exit codes: 0 every check passed, 1 a check failed, 2 usage error.";

#[derive(Debug, Args)]
pub struct AuthTestArgs {
    /// The project protected by add-auth (holds mcp-builder.json).
    #[arg(long, default_value = ".", value_name = "DIR")]
    pub path: PathBuf,

    /// The MCP endpoint of a running server to check, e.g. http://127.0.0.1:8000/mcp.
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,

    /// Scopes to request (repeatable or comma-separated) [default: none named, so the provider grants the client's defaults].
    #[arg(long = "scope", value_name = "SCOPE", value_delimiter = ',')]
    pub scopes: Vec<String>,

    /// Print one JSON document on stdout instead of the report.
    #[arg(long)]
    pub json: bool,

    /// Seconds to wait for each answer; a host that did not answer in time
    /// is sent nothing more (its later checks fail at once).
    #[arg(long, default_value_t = 10, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=300))]
    pub timeout: u64,

    /// Also print the raw access token (treat the output as a secret).
    #[arg(long)]
    pub show_token: bool,
}

const ADD_AUTH_HELP: &str = "\
In a terminal, add-auth asks for what the flags leave open: the provider, its domain and
audience, the MCP endpoint's public URL, the scopes (proposed from the package and tool
names) and each tool's scope (proposed: read-only annotation or a read verb such as get,
list, search -> the read scope; destructive annotation or delete/remove -> the delete
scope; else the write scope). It then shows the files and dependencies it will change
and asks before writing; answering n changes nothing. Ctrl-C at any question changes
nothing either. Answers default to those of an earlier run (mcp-builder.json), then to
the project's .env.

Without a terminal (CI), or with --yes, nothing is asked: every answer comes from a flag,
the --answers file or an earlier run (in that order of precedence), and --yes accepts the
proposed scopes. A missing answer is an error naming its flag:

  mcp-builder add-auth --path . --provider auth0 --domain your-tenant.auth0.com \\
    --audience https://tasks.example.com/mcp --scopes read:tasks,write:tasks,delete:tasks \\
    --tool-scope search-tasks=read:tasks --tool-scope create-task=write:tasks \\
    --tool-scope delete-task=delete:tasks --yes

The --answers file (TOML, or JSON with a .json name) takes any of the keys of `auth` in
mcp-builder.json:

  provider = \"auth0\"
  domain = \"your-tenant.auth0.com\"
  audience = \"https://tasks.example.com/mcp\"
  resource_url = \"https://tasks.example.com/mcp\"
  scopes = [\"read:tasks\", \"write:tasks\", \"delete:tasks\"]
  [tool_scopes]
  search-tasks = \"read:tasks\"
  create-task = [\"write:tasks\"]
  [scope_implies]          # {} turns the hierarchy off
  \"delete:tasks\" = [\"write:tasks\", \"read:tasks\"]

After writing, add-auth runs `cargo check` on the package (--no-verify skips it); when the
project no longer compiles it shows the first errors and exits 1, keeping the changes
(`mcp-builder auth remove` undoes them).

Exit codes: 0 success (or nothing to do, or n at the confirmation), 1 failure, `cargo check`
failed after writing, or --check found changes, 2 usage error, 130 interrupted (Ctrl-C).";

// add-auth's help in groups; the flags without a heading are the common ones.
const PROVIDER: &str = "Provider-specific options";
const TOKENS: &str = "Token and scope options";
const BEHAVIOUR: &str = "Behaviour";

#[derive(Debug, Args)]
pub struct AddAuthArgs {
    /// The project: a package directory, a workspace member, or a workspace root.
    #[arg(long, default_value = ".", value_name = "DIR")]
    pub path: PathBuf,

    /// The package to protect, when --path is a workspace root with several MCP servers.
    #[arg(long, short = 'p', value_name = "NAME")]
    pub package: Option<String>,

    /// Name of the generated module, when `auth` is taken [default: auth, or an earlier run's].
    #[arg(long, value_name = "NAME", value_parser = module_name)]
    pub module_name: Option<String>,

    /// Identity provider that issues the tokens [possible values: dev, auth0, oidc, supabase, keycloak, okta, entra, cognito, workos].
    #[arg(long, value_name = "NAME")]
    pub provider: Option<String>,

    /// Provider domain, without scheme, e.g. your-tenant.auth0.com (auth0).
    #[arg(long, value_name = "HOST", help_heading = PROVIDER)]
    pub domain: Option<String>,

    /// Issuer URL, exactly as tokens carry it in `iss` (oidc, keycloak, okta, entra, cognito, workos;
    /// dev: where `auth dev` listens [default: http://127.0.0.1:9417]).
    #[arg(long, value_name = "URL", help_heading = PROVIDER)]
    pub issuer: Option<String>,

    /// Supabase project ref: the project is https://REF.supabase.co (supabase).
    #[arg(long, value_name = "REF", help_heading = PROVIDER)]
    pub project_ref: Option<String>,

    /// Supabase project URL, for self-hosted projects or custom domains (supabase).
    #[arg(long, value_name = "URL", help_heading = PROVIDER)]
    pub supabase_url: Option<String>,

    /// Legacy Supabase project: verify HS256 tokens with the JWT secret held in
    /// environment variable VAR (read at start-up, never written) (supabase).
    #[arg(long, value_name = "VAR", help_heading = PROVIDER)]
    pub supabase_jwt_secret_env: Option<String>,

    /// How tokens are checked: jwt (verified with the issuer's keys) or introspection
    /// (opaque tokens, each checked at the issuer's RFC 7662 endpoint; needs
    /// --introspection-url) (oidc, keycloak, okta, workos) [default: jwt].
    #[arg(long, value_name = "FORMAT", help_heading = PROVIDER)]
    pub token_format: Option<String>,

    /// The issuer's token introspection endpoint (RFC 7662), for --token-format introspection.
    /// The server's credentials there come from its environment
    /// (MCP_AUTH_INTROSPECTION_CLIENT_ID, MCP_AUTH_INTROSPECTION_CLIENT_SECRET), never from flags.
    #[arg(long, value_name = "URL", help_heading = PROVIDER)]
    pub introspection_url: Option<String>,

    /// Audience the tokens must be issued for (Auth0 API identifier, OIDC audience, Entra app id).
    #[arg(long, value_name = "AUD")]
    pub audience: Option<String>,

    /// Key set URL, instead of the provider's or the discovered one.
    #[arg(long, value_name = "URL", help_heading = PROVIDER)]
    pub jwks_uri: Option<String>,

    /// Claim holding the scopes, instead of the provider's (a string or an array).
    #[arg(long, value_name = "NAME", help_heading = TOKENS)]
    pub scope_claim: Option<String>,

    /// Claim holding roles that count as scopes (dots for nested claims: realm_access.roles).
    #[arg(long, value_name = "NAME", help_heading = TOKENS)]
    pub roles_claim: Option<String>,

    /// Client id allowed to call (repeatable or comma-separated); required for cognito.
    #[arg(long = "client-id", value_name = "ID", help_heading = PROVIDER)]
    pub client_ids: Vec<String>,

    /// Public URL of the MCP endpoint, published as `resource` [default: the audience].
    #[arg(long, value_name = "URL")]
    pub resource_url: Option<String>,

    /// Scopes this server understands, comma-separated [proposed: read:/write:/delete: + package name].
    #[arg(long, value_name = "SCOPE,...", value_delimiter = ',')]
    pub scopes: Option<Vec<String>>,

    /// Scope(s) a tool needs, e.g. create-task=write:tasks (repeatable).
    #[arg(long = "tool-scope", value_name = "TOOL=SCOPE[,SCOPE]")]
    pub tool_scopes: Vec<String>,

    /// Scope hierarchy: SCOPE grants the scopes after `=` too, e.g.
    /// delete:tasks=write:tasks,read:tasks (repeatable); `none` turns it off
    /// [proposed with --yes: delete > write > read of a resource, admin > all].
    #[arg(long = "scope-implies", value_name = "SCOPE=SCOPE[,SCOPE]|none", help_heading = TOKENS)]
    pub scope_implies: Vec<String>,

    /// Scopes a 401 challenge asks for, comma-separated [default: those of
    /// the read-only tools; the metadata still lists every scope].
    #[arg(long, value_name = "SCOPE,...", value_delimiter = ',', help_heading = TOKENS)]
    pub challenge_scopes: Option<Vec<String>>,

    /// A served tool missing from the scope map stops the generated server
    /// at start-up [default: it is logged and needs every scope].
    #[arg(long, help_heading = TOKENS)]
    pub strict_tools: bool,

    /// Which scopes count when a token carries both the client's requested
    /// scopes (`scope`/`scp`) and permissions or roles: requested (the
    /// intersection), permissions (those alone) or union [default: union
    /// for keycloak, else requested].
    #[arg(long, value_name = "SOURCE", help_heading = TOKENS)]
    pub scope_source: Option<String>,

    /// Accept only RFC 9068 access tokens (`typ` `at+jwt`); `false` also
    /// accepts `JWT` and no `typ` [default: true for dev, else false]. ID,
    /// logout and other `+jwt` tokens are always refused.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", help_heading = TOKENS)]
    pub require_at_jwt: Option<bool>,

    /// Answers from a TOML or JSON file (any subset; flags win over it).
    #[arg(long, value_name = "FILE", help_heading = BEHAVIOUR)]
    pub answers: Option<PathBuf>,

    /// On a server that speaks only stdio: add a streamable HTTP transport
    /// (used when `MCP_TRANSPORT=http`, on `MCP_BIND`, default
    /// 127.0.0.1:8000, at /mcp; stdio stays the default) and protect it.
    #[arg(long, help_heading = BEHAVIOUR)]
    pub add_http: bool,

    /// Ask nothing: accept the proposed scopes and tool scopes, and apply without confirmation.
    #[arg(long, short = 'y', help_heading = BEHAVIOUR)]
    pub yes: bool,

    /// Show what would change, as unified diffs, and change nothing.
    #[arg(long, conflicts_with = "check", help_heading = BEHAVIOUR)]
    pub dry_run: bool,

    /// Change nothing; exit 1 if the project is not up to date.
    #[arg(long, help_heading = BEHAVIOUR)]
    pub check: bool,

    /// Print one JSON document on stdout: each file's action (with its diff
    /// for --dry-run and --check), the warnings and the notes; the human
    /// lines stay on stderr.
    #[arg(long, help_heading = BEHAVIOUR)]
    pub json: bool,

    /// Overwrite generated files you changed since they were generated.
    #[arg(long, help_heading = BEHAVIOUR)]
    pub force: bool,

    /// Keep your version of a generated file you changed (its path as
    /// add-auth prints it, e.g. src/auth/policy.rs), recorded in
    /// mcp-builder.json: re-runs and --check leave it alone until the
    /// generated code itself changes. Repeatable; --adopt alone keeps every
    /// generated file you changed.
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "", conflicts_with = "check", help_heading = BEHAVIOUR)]
    pub adopt: Vec<String>,

    /// Do not run `cargo check` on the package after writing.
    #[arg(long, help_heading = BEHAVIOUR)]
    pub no_verify: bool,
}

/// A `--module-name`: a plain Rust identifier, not a keyword, that can be a
/// module's file name (lowercase ASCII letters, digits, `_`).
fn module_name(value: &str) -> Result<String, String> {
    const KEYWORDS: &[&str] = &[
        "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum",
        "extern", "false", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod",
        "move", "mut", "pub", "ref", "return", "self", "static", "struct", "super", "trait",
        "true", "try", "type", "unsafe", "use", "where", "while", "abstract", "become", "box",
        "do", "final", "macro", "override", "priv", "typeof", "unsized", "virtual", "yield",
    ];
    let well_formed = value
        .chars()
        .next()
        .is_some_and(|first| first.is_ascii_lowercase() || first == '_')
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && value != "_";
    if !well_formed {
        return Err(format!(
            "`{value}` is not a module name: use lowercase letters, digits and `_`, starting with a letter (e.g. mcp_oauth)"
        ));
    }
    if KEYWORDS.contains(&value) || value == "main" || value == "lib" {
        return Err(format!(
            "`{value}` cannot name the module (a Rust keyword or a crate root's name)"
        ));
    }
    Ok(value.to_string())
}
