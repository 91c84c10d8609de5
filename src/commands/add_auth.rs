//! `mcp-builder add-auth`: inspect -> resolve -> plan -> diff | check | apply.

use std::io::Write;

use serde_json::json;

use super::{
    Disk,
    report::{self, Diffs, Said},
};
use crate::{
    apply,
    cli::AddAuthArgs,
    inspect::{self, Project},
    plan::{self, FileAction, STATE_FILE, Snapshot, adopt, state},
    prompt,
    resolve::{self, Answers, Inputs, UsageError, answers, dotenv},
    verify,
};

/// Runs the command; `Ok(false)` means `--check` found changes (exit 1).
pub fn run(args: AddAuthArgs) -> anyhow::Result<bool> {
    let interactive = !args.yes && !args.check && prompt::is_interactive();
    let mut said = Said::default();
    let from_file = match &args.answers {
        Some(path) => answers::read(path)?,
        None => Answers::default(),
    };
    let add_http = args.add_http || from_file.add_http.as_ref().is_some_and(|given| given.value);
    let project = inspect_project(&args, add_http, interactive, &mut said)?;
    eprintln!("{}", found(&project));
    let previous = match Disk.read(&project.root.join(STATE_FILE))? {
        Some(text) => state::read_auth_state(&text)?,
        None => None,
    };
    let previous = Answers::from_state(previous.as_ref());

    // Flags win over the answers file, which wins over the previous run.
    let flags = Inputs {
        provider: args.provider,
        domain: args.domain,
        audience: args.audience,
        resource_url: args.resource_url,
        scopes: args.scopes,
        tool_scopes: args.tool_scopes,
        issuer: args.issuer,
        project_ref: args.project_ref,
        supabase_url: args.supabase_url,
        jwks_uri: args.jwks_uri,
        scope_claim: args.scope_claim,
        roles_claim: args.roles_claim,
        client_ids: args.client_ids,
        jwt_secret_env: args.supabase_jwt_secret_env,
        token_format: args.token_format,
        introspection_url: args.introspection_url,
        scope_implies: args.scope_implies,
        challenge_scopes: args.challenge_scopes,
        strict_tools: args.strict_tools,
        scope_source: args.scope_source,
        require_at_jwt: args.require_at_jwt,
        add_http: args.add_http,
    }
    .answers()?;
    let given = flags.or(from_file);

    // The dialog (`interactive`) asks what is still open.
    // Uncommitted changes are said before any question, so that the user
    // can stop and commit first; without questions, just before writing.
    let mut dirty = if args.dry_run || args.check {
        None
    } else {
        apply::uncommitted_changes_warning(&project.root)
    };
    if interactive && let Some(warning) = dirty.take() {
        said.warning(warning);
    }
    let env = if interactive {
        resolve::check_given(&project, &given)?;
        prompt::install_interrupt_handler()?;
        Disk.read(&project.root.join(".env"))?
            .map(|text| dotenv::parse(&text))
            .unwrap_or_default()
    } else {
        Default::default()
    };
    let mut dialog = prompt::Dialog::default();
    let said_before = (said.notes.len(), said.warnings.len());
    // Escape at the final confirmation goes back into the dialog: from the
    // answers to the go-ahead, everything is done again.
    let (proposed, unanswered, resolved, plan, go_ahead) = loop {
        said.notes.truncate(said_before.0);
        said.warnings.truncate(said_before.1);
        let answers = if interactive {
            prompt::ask(&mut dialog, &project, &given, &previous, &env)?
        } else {
            given.clone().or(previous.clone())
        };
        // A preview without a terminal takes the proposals, as --yes does: it
        // must not need answers it could propose. What cannot be proposed
        // (provider, domain, audience) is still required, by its flag.
        let preview_only = args.dry_run && !args.yes && !interactive;
        // `--check` compares with what a run would propose for what has no
        // answer yet (a new tool): that is drift to report (exit 1), not a
        // usage error.
        let resolution =
            resolve::resolve_noted(&project, &answers, args.yes || preview_only || args.check)?;
        for note in &resolution.notes {
            said.note(note);
        }
        if let (true, Some(note)) = (args.dry_run, &resolution.hierarchy_note) {
            said.note(note);
        }
        if preview_only && resolution.proposed {
            said.note(
                "without a terminal to ask, this preview uses the proposed scopes and tool scopes; \
                 run with --yes to apply them, or choose with --scopes and --tool-scope TOOL=SCOPE",
            );
        }
        let unanswered: Vec<&str> = project
            .tools
            .iter()
            .map(|tool| tool.name.as_str())
            .filter(|tool| !answers.tool_scopes.contains_key(*tool))
            .collect();
        let resolved = resolution.resolved;
        let mut plan = plan::plan(&project, &resolved, &Disk)?;
        if let Some(which) = adopt::Which::from_flags(&args.adopt) {
            for note in adopt::adopt(&mut plan, &Disk, &which)? {
                said.note(note);
            }
        }

        for warning in &plan.warnings {
            said.warning(warning);
        }
        // In the dialog, each file the user edited gets its own question, and
        // writing needs the user's go-ahead on the summary.
        if interactive
            && !args.dry_run
            && !args.force
            && !prompt::resolve_conflicts(&mut plan, &Disk, dialog.asked_anything())?
        {
            dialog.back();
            continue;
        }
        let go_ahead = if interactive && !args.dry_run && !plan.is_noop() {
            let can_go_back = dialog.asked_anything();
            match prompt::confirm(&project, &resolved, &plan, args.force, can_go_back)? {
                prompt::GoAhead::Back => {
                    dialog.back();
                    continue;
                }
                answer => Some(answer),
            }
        } else {
            None
        };
        break (resolution.proposed, unanswered, resolved, plan, go_ahead);
    };
    let mut err = std::io::stderr().lock();
    // The document, when --json asked for one; `outcome` names how the run
    // ended.
    let json_out = |outcome: &str, said: Said, diffs: Diffs, verified: bool| {
        if !args.json {
            return Ok(());
        }
        let mode = match (args.dry_run, args.check) {
            (true, _) => "dry-run",
            (_, true) => "check",
            _ => "apply",
        };
        let document = json!({
            "command": "add-auth",
            "package": project.package_name,
            "path": project.root.display().to_string(),
            "mode": mode,
            "outcome": outcome,
            "up_to_date": plan.is_noop(),
            "verified": verified,
        });
        report::print(document, report::files(&plan, args.force, diffs), said)
    };
    if go_ahead == Some(prompt::GoAhead::Cancel) {
        writeln!(err, "nothing was changed")?;
        json_out("declined", said, Diffs::Skipped, false)?;
        return Ok(true);
    }
    let confirmed = go_ahead == Some(prompt::GoAhead::Apply);
    if args.dry_run {
        if !args.json {
            print!("{}", apply::diff_for_stdout(&plan));
        }
        for line in apply::preview_lines(&plan, args.force) {
            writeln!(err, "{line}")?;
        }
        writeln!(err, "--dry-run: no changes were made")?;
        json_out("dry run", said, Diffs::All, false)?;
        return Ok(true);
    }
    if args.check {
        let up_to_date = plan.is_noop();
        if up_to_date {
            writeln!(err, "{}: auth is up to date", project.package_name)?;
        } else {
            for line in apply::preview_lines(&plan, args.force) {
                writeln!(err, "{line}")?;
            }
            if proposed && !unanswered.is_empty() {
                said.note(format!(
                    "no scope is recorded for {} `{}`: the lines above use the proposed one",
                    if unanswered.len() == 1 {
                        "tool"
                    } else {
                        "tools"
                    },
                    unanswered.join("`, `")
                ));
            }
            writeln!(
                err,
                "error: `{}` is not up to date; run `mcp-builder add-auth` without --check",
                project.package_name
            )?;
        }
        let outcome = if up_to_date {
            "up to date"
        } else {
            "not up to date"
        };
        json_out(outcome, said, Diffs::All, false)?;
        return Ok(up_to_date);
    }
    if plan.is_noop() {
        writeln!(
            err,
            "nothing to do: `{}` is already protected as asked",
            project.package_name
        )?;
        json_out("nothing to do", said, Diffs::Skipped, false)?;
        return Ok(true);
    }
    if !args.yes && !confirmed {
        // Without a terminal to confirm on, writing needs an explicit yes.
        return Err(UsageError(
            "add-auth writes files only after a confirmation in a terminal, or with --yes\nhelp: run it with --dry-run to see the changes, then with --yes to apply them".into(),
        )
        .into());
    }

    if let Some(warning) = dirty {
        said.warning(warning);
    }
    let writing = prompt::hold_interrupts()?;
    apply::apply(&plan, args.force)?;
    drop(writing);
    for line in apply::status_lines(&plan, args.force) {
        writeln!(err, "{line}")?;
    }
    if !args.no_verify {
        drop(err);
        verified(&project)?;
        err = std::io::stderr().lock();
    }
    let skipped = plan
        .changes
        .iter()
        .any(|change| matches!(change.action, FileAction::Conflict { .. }) && !args.force);
    let provider = resolved.provider;
    writeln!(
        err,
        "\n`{}` now requires OAuth bearer tokens from {} on {}.",
        project.package_name, provider.name, project.mount.mcp_path
    )?;
    let testing = if provider.local {
        let path = shell_path(&project.root);
        format!(
            "`mcp-builder auth dev --path {path}` runs the issuer; with it and the server running, `mcp-builder auth test --path {path} --server {}` checks it all and `mcp-builder auth token --path {path}` prints a token.",
            resolved.resource()
        )
    } else {
        format!(
            "{} and {} in `.env` are for `mcp-builder auth test` (a client-credentials client).",
            provider.client_id_var, provider.client_secret_var,
        )
    };
    writeln!(
        err,
        "next: tool handlers can take `caller: {module}::Caller` (or call `{module}::Caller::from_context(&ctx)`) to see who is calling;\n      {testing}",
        module = project.mount.module
    )?;
    if let Some(note) = endpoint_tests_note(&project) {
        said.note(note);
    }
    if skipped {
        // What the skipped files would have become, for the user to merge;
        // for a file kept as the user's, what the template changed.
        let mut upstream = false;
        for change in &plan.changes {
            if let FileAction::Conflict { upstream: kept, .. } = &change.action {
                upstream |= kept.is_some();
                if !args.json {
                    print!("{}", apply::change_diff(change));
                }
            }
        }
        said.warning(format!(
            "some generated files were skipped because you changed them; the diffs {} are {}\n\
             help: merge what you want, then `--adopt FILE` keeps your version (or `--force` takes the generated one)",
            if upstream {
                "(from your version to the generated one; for a file you kept, what the template changed since)"
            } else {
                "from your version to the generated one"
            },
            if args.json {
                "in the JSON document (`diff`)"
            } else {
                "on stdout"
            }
        ));
    }
    drop(err);
    json_out("applied", said, Diffs::Skipped, !args.no_verify)?;
    Ok(true)
}

/// Runs `cargo check` on the changed package: one line when it passes; the
/// first compiler errors and an error (exit 1) when it does not. The
/// changes stay either way.
fn verified(project: &Project) -> anyhow::Result<()> {
    let outcome = verify::cargo_check(
        &project.root,
        &project.package_name,
        project.http_feature.as_deref(),
    )
    .map_err(|err| {
        anyhow::anyhow!(
            "the changes are written, but they could not be verified: {err:#}\n\
             help: run `cargo check` in `{}` yourself, or pass --no-verify",
            project.root.display()
        )
    })?;
    match outcome {
        verify::Outcome::Passed => {
            eprintln!(
                "{:>12} `{}` (cargo check)",
                "Verified", project.package_name
            );
            Ok(())
        }
        verify::Outcome::NotChecked { cargo_said } => anyhow::bail!(
            "the changes are written, but `cargo check` could not check them; cargo said:\n{cargo_said}\n\
             help: fix that (a toolchain the project pins may need installing), then run `cargo check` in `{}`; \
             --no-verify skips this step",
            project.root.display()
        ),
        verify::Outcome::Failed { errors, total } => {
            for error in &errors {
                eprintln!("{error}\n");
            }
            anyhow::bail!(
                "`cargo check` found {total} error{} in `{}` after add-auth's changes{}\n\
                 help: the changes are kept: fix what the compiler says, or undo them all with \
                 `mcp-builder auth remove --path {} --yes`",
                if total == 1 { "" } else { "s" },
                project.package_name,
                if total > errors.len() {
                    format!(" (the first {} above)", errors.len())
                } else {
                    " (above)".to_string()
                },
                project.root.display()
            )
        }
    }
}

/// What the project's own tests of the MCP endpoint need now, if it has any.
fn endpoint_tests_note(project: &Project) -> Option<String> {
    let tests = &project.endpoint_tests;
    if tests.is_empty() {
        return None;
    }
    const LISTED: usize = 8;
    let mut listed: Vec<String> = tests
        .iter()
        .take(LISTED)
        .map(|test| match &test.helper {
            Some(helper) => format!("`{}` ({}, through `{helper}`)", test.name, test.at),
            None => format!("`{}` ({})", test.name, test.at),
        })
        .collect();
    if tests.len() > LISTED {
        listed.push(format!("and {} more", tests.len() - LISTED));
    }
    let module = &project.mount.module;
    let mut note = format!(
        "{} test{} of `{}` send{} requests to {}, which now needs a token: {}\n\
         help: add the header `authorization: crate::{module}::testing::bearer()` to those requests \
         (one line in a shared helper); in test builds the endpoint trusts exactly those tokens \
         (see `{}/testing.rs`)",
        tests.len(),
        if tests.len() == 1 { "" } else { "s" },
        project.package_name,
        if tests.len() == 1 { "s" } else { "" },
        project.mount.mcp_path,
        listed.join(", "),
        crate::inspect::module_dir(&project.mount).display(),
    );
    if tests.iter().any(|test| test.integration) {
        note.push_str(
            "\nhelp: tests under `tests/` build the library without `cfg(test)`, so they cannot use it: \
             move them into the crate (a `#[cfg(test)] mod`), or give them a real token",
        );
    }
    Some(note)
}

/// One line saying what inspection found, before anything else happens.
fn found(project: &Project) -> String {
    let tools: Vec<&str> = project
        .tools
        .iter()
        .map(|tool| tool.name.as_str())
        .collect();
    format!(
        "{:>12} `{}`: rmcp {} ({}) [{}], MCP endpoint `{}` in `{}`, {} tool{} ({})",
        "Found",
        project.package_name,
        project.rmcp.version,
        project.rmcp.version_from,
        project.rmcp.features.join(", "),
        project.mount.mcp_path,
        project.mount.file.display(),
        tools.len(),
        if tools.len() == 1 { "" } else { "s" },
        tools.join(", "),
    )
}

/// `path` as the user would type it: relative to the working directory
/// when it is below it.
fn shell_path(path: &std::path::Path) -> String {
    let relative = std::env::current_dir().ok().and_then(|cwd| {
        path.strip_prefix(cwd)
            .ok()
            .map(std::path::Path::to_path_buf)
    });
    match relative {
        Some(relative) if relative.as_os_str().is_empty() => ".".to_string(),
        Some(relative) => relative.display().to_string(),
        None => path.display().to_string(),
    }
}

/// Inspects the package. A server that speaks only stdio is refused unless
/// `wanted` (`--add-http`, or `add_http` in the answers file) asks for an
/// HTTP transport, or the user accepts it in the dialog: then the package
/// is inspected as it will be with that transport (`plan::transport`).
fn inspect_project(
    args: &AddAuthArgs,
    wanted: bool,
    interactive: bool,
    said: &mut Said,
) -> anyhow::Result<Project> {
    let mut options = inspect::Options {
        package: args.package.clone(),
        module_name: args.module_name.clone(),
        insertion: None,
    };
    let refusal = match inspect::inspect_with(&args.path, &options) {
        Ok(project) => {
            if wanted && !served_by_added_http(&project)? {
                said.note(format!(
                    "--add-http: `{}` already serves MCP over HTTP; no transport was added",
                    project.package_name
                ));
            }
            return Ok(project);
        }
        Err(refusal) => refusal,
    };
    if !wanted && !interactive {
        return Err(refusal);
    }
    let Some(site) = inspect::stdio_site(&args.path, &options)? else {
        if wanted {
            return Err(refusal.context(
                "--add-http: no `.serve(stdio()).await` (or `serve_server(handler, stdio()).await`) \
                 found to add an HTTP transport in front of",
            ));
        }
        return Err(refusal);
    };
    if !wanted && !prompt::offer_http(&site)? {
        return Err(refusal);
    }
    if site.clone == Some(false) {
        let name = site.handler_type.as_deref().unwrap_or("the handler");
        anyhow::bail!(
            "the HTTP transport needs a new handler for each session, made by cloning `{}` (`{}`), but `{name}` is not `Clone`\n\
             help: add `#[derive(Clone)]` to `{name}` (share what must be shared through `Arc`), then run add-auth again with --add-http",
            site.handler,
            site.at
        );
    }
    options.insertion = Some(plan::transport::branch(&site));
    let mut project = inspect::inspect_with(&args.path, &options)?;
    said.note(format!(
        "this run adds a streamable HTTP transport to `{}` in front of the stdio server (`{}`): with \
         MCP_TRANSPORT=http the server listens on MCP_BIND (default 127.0.0.1:8000) and serves MCP at /mcp; \
         without it, stdio as before",
        site.file.display(),
        site.at
    ));
    if site.clone.is_none() {
        project.notes.push(format!(
            "the HTTP transport clones the handler `{}` for each session: its type must be `Clone`",
            site.handler
        ));
    }
    Ok(project)
}

/// Whether the project's HTTP endpoint is one an earlier `--add-http` added.
fn served_by_added_http(project: &Project) -> anyhow::Result<bool> {
    let Some(text) = Disk.read(&project.root.join(STATE_FILE))? else {
        return Ok(false);
    };
    Ok(state::read_added(&text)?.is_some_and(|added| added.pointer("/wiring/transport").is_some()))
}
