//! mcp-builder: adds OAuth 2.1 authorization to Rust MCP servers built on rmcp.
//!
//! `main` only parses the command line, runs the command and maps the result
//! to an exit code: 0 success, 1 failure (or `--check` found changes), 2 usage
//! error.

mod apply;
mod cli;
mod commands;
mod dev;
mod digest;
mod doctor;
mod inspect;
mod plan;
mod probe;
mod prompt;
mod providers;
mod resolve;
mod slash;
mod verify;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    // A command asked for JSON gets one document on stdout even when it fails.
    let json = match &cli.command {
        cli::Command::AddAuth(args) => args.json,
        cli::Command::Auth(cli::AuthCommand::Remove(args)) => args.json,
        cli::Command::Auth(cli::AuthCommand::Test(args)) => args.json,
        cli::Command::Auth(cli::AuthCommand::Doctor(args)) => args.json,
        _ => false,
    };
    let result = match cli.command {
        cli::Command::Completions(args) => {
            let mut command = <cli::Cli as clap::CommandFactory>::command();
            clap_complete::generate(
                args.shell,
                &mut command,
                "mcp-builder",
                &mut std::io::stdout(),
            );
            Ok(true)
        }
        cli::Command::AddAuth(args) => commands::add_auth::run(args),
        cli::Command::Auth(cli::AuthCommand::Remove(args)) => {
            commands::remove::run(commands::remove::Options {
                path: args.path,
                dry_run: args.dry_run,
                yes: args.yes,
                force: args.force,
                json: args.json,
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
            let code = if err.downcast_ref::<resolve::UsageError>().is_some() {
                2
            } else {
                1
            };
            if json {
                commands::report::print_error(&err, code);
            }
            ExitCode::from(code)
        }
    }
}
