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

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Protect the project's MCP endpoint with OAuth bearer tokens.
    #[command(after_help = ADD_AUTH_HELP)]
    AddAuth(AddAuthArgs),
}

const ADD_AUTH_HELP: &str = "\
Without a terminal (CI), every answer comes from a flag:

  mcp-builder add-auth --path . --provider auth0 --domain your-tenant.auth0.com \\
    --audience https://tasks.example.com/mcp --scopes read:tasks,write:tasks,delete:tasks \\
    --tool-scope search-tasks=read:tasks --tool-scope create-task=write:tasks \\
    --tool-scope delete-task=delete:tasks --yes

Values recorded in mcp-builder.json by an earlier run are reused when a flag is absent.
Exit codes: 0 success (or nothing to do), 1 failure or --check found changes, 2 usage error.";

#[derive(Debug, Args)]
pub struct AddAuthArgs {
    /// The project: a package directory or a workspace member.
    #[arg(long, default_value = ".", value_name = "DIR")]
    pub path: PathBuf,

    /// Identity provider that issues the tokens [possible values: auth0].
    #[arg(long, value_name = "NAME")]
    pub provider: Option<String>,

    /// Provider domain, without scheme, e.g. your-tenant.auth0.com.
    #[arg(long, value_name = "HOST")]
    pub domain: Option<String>,

    /// Audience the tokens must be issued for (the Auth0 API identifier).
    #[arg(long, value_name = "URL")]
    pub audience: Option<String>,

    /// Public URL of the MCP endpoint, published as `resource` [default: the audience].
    #[arg(long, value_name = "URL")]
    pub resource_url: Option<String>,

    /// Scopes this server understands, comma-separated.
    #[arg(long, value_name = "SCOPE,...", value_delimiter = ',')]
    pub scopes: Option<Vec<String>>,

    /// Scope(s) a tool needs, e.g. create-task=write:tasks (repeatable).
    #[arg(long = "tool-scope", value_name = "TOOL=SCOPE[,SCOPE]")]
    pub tool_scopes: Vec<String>,

    /// Accept the proposed scope of every tool not given by --tool-scope, and apply without asking.
    #[arg(long, short = 'y')]
    pub yes: bool,

    /// Show what would change, as unified diffs, and change nothing.
    #[arg(long, conflicts_with = "check")]
    pub dry_run: bool,

    /// Change nothing; exit 1 if the project is not up to date.
    #[arg(long)]
    pub check: bool,

    /// Overwrite generated files you changed since they were generated.
    #[arg(long)]
    pub force: bool,
}
