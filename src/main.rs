//! mcp-builder: adds OAuth 2.1 authorization to Rust MCP servers built on rmcp.
//!
//! `main` only parses the command line, runs the command and maps the result
//! to an exit code: 0 success, 1 failure (or `--check` found changes), 2 usage
//! error.

mod apply;
mod cli;
mod commands;
mod dev;
mod doctor;
mod inspect;
mod plan;
mod probe;
mod prompt;
mod providers;
mod resolve;
mod verify;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let result = match cli.command {
        cli::Command::AddAuth(args) => commands::add_auth::run(args),
        cli::Command::Auth(cli::AuthCommand::Remove(args)) => {
            commands::remove::run(commands::remove::Options {
                path: args.path,
                dry_run: args.dry_run,
                yes: args.yes,
                force: args.force,
            })
        }
        cli::Command::Auth(cli::AuthCommand::Dev(args)) => {
            commands::auth_dev::run(commands::auth_dev::Options {
                path: args.path,
                port: args.port,
            })
        }
        cli::Command::Auth(cli::AuthCommand::Token(args)) => {
            commands::auth_token::run(commands::auth_token::Options {
                path: args.path,
                scopes: args.scopes,
                sub: args.sub,
                timeout: std::time::Duration::from_secs(args.timeout),
            })
        }
        cli::Command::Auth(cli::AuthCommand::Doctor(args)) => {
            commands::auth_doctor::run(commands::auth_doctor::Options {
                path: args.path,
                json: args.json,
            })
        }
        cli::Command::Auth(cli::AuthCommand::Test(args)) => {
            commands::auth_test::run(commands::auth_test::Options {
                path: args.path,
                server: args.server,
                scopes: args.scopes,
                json: args.json,
                timeout: std::time::Duration::from_secs(args.timeout),
                show_token: args.show_token,
            })
        }
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(err) => {
            eprintln!("error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            if err.downcast_ref::<resolve::UsageError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}
