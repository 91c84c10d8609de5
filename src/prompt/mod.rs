//! The guided dialog of `add-auth`: dialoguer prompts on stderr, nothing
//! else. It asks only what the flags and the answers file left open, checks
//! every answer with the same functions that check flags
//! ([`validate`]), pre-fills what [`defaults`] proposes, and returns
//! [`Answers`]: deciding, planning and writing happen elsewhere.
//!
//! Ctrl-C: dialoguer reads keys in raw mode, where Ctrl-C is a byte that
//! console turns into `raise(SIGINT)`; outside a prompt the terminal sends
//! SIGINT itself. Both reach one handler ([`install_interrupt_handler`])
//! that shows the cursor again (prompts hide it), says nothing was changed
//! and exits 130. Nothing is written before the confirmation, so the project
//! is untouched.

pub mod summary;

use std::{
    collections::BTreeMap,
    io::{self, IsTerminal},
    sync::atomic::{AtomicBool, Ordering},
};

use anyhow::Context;
use dialoguer::{
    Confirm, Input, MultiSelect, Select,
    console::Term,
    theme::{ColorfulTheme, Theme},
};

use crate::{
    apply,
    inspect::Project,
    plan::{self, FileAction, Plan, Snapshot},
    providers::{self, AudienceCheck, Location, Provider},
    resolve::{
        Answers, Given, Resolved, Source, defaults,
        hierarchy::{self, Hierarchy},
        propose::assess,
        validate::{self, Invalid},
    },
};

/// The dialog runs only where someone can answer: stdin and stderr (where
/// dialoguer draws) are both terminals.
pub fn is_interactive() -> bool {
    io::stdin().is_terminal() && io::stderr().is_terminal()
}

/// Set once the user confirmed: from then on an interrupt may find files
/// written, and says so.
static CONFIRMED: AtomicBool = AtomicBool::new(false);
/// Set by the first interrupt: a second one (the handler thread and the
/// prompt's error path race) waits for the first to exit.
static EXITING: AtomicBool = AtomicBool::new(false);

/// Restores the cursor, reports the interrupt and exits 130 (128 + SIGINT).
fn interrupted() -> ! {
    if EXITING.swap(true, Ordering::SeqCst) {
        loop {
            std::thread::park();
        }
    }
    let term = Term::stderr();
    let _ = term.show_cursor();
    let message = if CONFIRMED.load(Ordering::SeqCst) {
        "interrupted"
    } else {
        "interrupted: nothing was changed"
    };
    let _ = term.write_line(&format!("\n{message}"));
    std::process::exit(130);
}

/// Set while `apply` writes: an interrupt then waits until every file is
/// written (see [`hold_interrupts`]).
static WRITING: AtomicBool = AtomicBool::new(false);
/// An interrupt arrived while writing.
static PENDING: AtomicBool = AtomicBool::new(false);
static HANDLER: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();

/// Makes SIGINT (Ctrl-C) restore the cursor before the process ends, and
/// wait for a write in progress. Installing it twice is harmless.
pub fn install_interrupt_handler() -> anyhow::Result<()> {
    HANDLER
        .get_or_init(|| {
            ctrlc::set_handler(|| {
                if WRITING.load(Ordering::SeqCst) {
                    PENDING.store(true, Ordering::SeqCst);
                } else {
                    interrupted();
                }
            })
            .map_err(|err| err.to_string())
        })
        .clone()
        .map_err(anyhow::Error::msg)
        .context("cannot install the Ctrl-C handler")
}

/// While the returned guard lives, Ctrl-C waits: the write it protects is
/// all-or-nothing, and an interrupt halfway would break that. Dropping the
/// guard acts on an interrupt that arrived meanwhile.
pub fn hold_interrupts() -> anyhow::Result<WriteGuard> {
    install_interrupt_handler()?;
    WRITING.store(true, Ordering::SeqCst);
    Ok(WriteGuard(()))
}

pub struct WriteGuard(());

impl Drop for WriteGuard {
    fn drop(&mut self) {
        WRITING.store(false, Ordering::SeqCst);
        if PENDING.load(Ordering::SeqCst) {
            CONFIRMED.store(true, Ordering::SeqCst);
            interrupted();
        }
    }
}

/// A prompt's result: Ctrl-C ends the process (see the module docs), any
/// other terminal error is reported.
fn answered<T>(result: dialoguer::Result<T>) -> anyhow::Result<T> {
    match result {
        Ok(value) => Ok(value),
        Err(dialoguer::Error::IO(err)) if err.kind() == io::ErrorKind::Interrupted => interrupted(),
        Err(err) => Err(anyhow::Error::new(err).context("the dialog could not read the terminal")),
    }
}

/// Adapts a check to a prompt validator: the reason is shown under the
/// answer and the question is asked again.
fn check<T>(result: Result<T, Invalid>) -> Result<(), String> {
    result.map(|_| ()).map_err(|invalid| invalid.to_string())
}

/// Asks what `given` (flags and answers file) leaves open, pre-filled from
/// `previous` (the state file), `env` (the project's `.env`) and the
/// proposals. Returns `given` completed with the answers, and with the
/// provider options `previous` records when the provider stays the same.
pub fn ask(
    project: &Project,
    given: &Answers,
    previous: &Answers,
    env: &BTreeMap<String, String>,
) -> anyhow::Result<Answers> {
    let term = Term::stderr();
    let theme = ColorfulTheme::default();
    let mut asked = Answers::default();
    let dialog = |value: String| Some(Given::new(value, Source::Dialog));
    let note = |label: &str, value: &str, source: Source, flag: &str, key: &str| {
        let from = source.name(flag, key);
        let _ = term.write_line(&format!("  {label}: {value} (from {from})"));
    };

    // 1. The provider.
    let provider: &Provider = match &given.provider {
        Some(fixed) => {
            let provider = validate::provider(&fixed.value).map_err(|i| anyhow::anyhow!("{i}"))?;
            note(
                "Provider",
                provider.name,
                fixed.source,
                "--provider",
                "provider",
            );
            provider
        }
        None => {
            let items: Vec<String> = providers::ALL
                .iter()
                .map(|provider| format!("{} - {}", provider.name, provider.hint))
                .collect();
            let prompt = "Identity provider";
            let index = answered(
                Select::with_theme(&theme)
                    .with_prompt(prompt)
                    .items(&items)
                    .default(defaults::provider(previous))
                    .report(false)
                    .interact_on(&term),
            )?;
            let provider = providers::ALL[index];
            // The report line names the choice without its (long) hint.
            let mut line = String::new();
            theme.format_select_prompt_selection(&mut line, prompt, provider.name)?;
            term.write_line(&line)?;
            asked.provider = dialog(provider.id.to_string());
            provider
        }
    };

    // 2. The provider's values.
    let (label, question) = match provider.location {
        Location::Host => ("Domain", format!("{} domain (no https://)", provider.name)),
        Location::IssuerUrl if provider.name.ends_with("issuer") => {
            ("Issuer", format!("{} URL", provider.name))
        }
        Location::IssuerUrl => ("Issuer", format!("{} issuer URL", provider.name)),
        Location::SupabaseUrl => ("Project URL", "Supabase project URL".to_string()),
    };
    match &given.domain {
        Some(fixed) => note(
            label,
            &fixed.value,
            fixed.source,
            provider.location_flags(),
            "domain",
        ),
        None => {
            let mut input = Input::<String>::with_theme(&theme)
                .with_prompt(question)
                .validate_with(|value: &String| check(validate::location(value, provider)));
            if let Some(default) = defaults::domain(provider, previous, env) {
                input = input.default(default);
            }
            asked.domain = dialog(answered(input.interact_text_on(&term))?);
        }
    }
    let audience = match &given.audience {
        // Supabase, Cognito: the audience is not the user's choice.
        _ if !provider.takes_audience() => {
            provider.fixed_audience().unwrap_or_default().to_string()
        }
        Some(fixed) => {
            note(
                "Audience",
                &fixed.value,
                fixed.source,
                "--audience",
                "audience",
            );
            fixed.value.clone()
        }
        None => {
            let url = provider.audience == AudienceCheck::Url;
            let mut input = Input::<String>::with_theme(&theme)
                .with_prompt(if url {
                    "API audience (an https URL)"
                } else {
                    "API audience (the `aud` tokens carry)"
                })
                .validate_with(move |value: &String| {
                    check(if url {
                        validate::url(value)
                    } else {
                        validate::identifier(value)
                    })
                });
            if let Some(default) = defaults::audience(project, provider, previous, env) {
                input = input.default(default);
            }
            let value = answered(input.interact_text_on(&term))?;
            asked.audience = dialog(value.clone());
            value
        }
    };
    match &given.resource_url {
        Some(fixed) => note(
            "Resource URL",
            &fixed.value,
            fixed.source,
            "--resource-url",
            "resource_url",
        ),
        None => {
            let audience = validate::url(&audience).unwrap_or(audience);
            let default = defaults::resource_url(previous, env, &audience);
            let mut input = Input::<String>::with_theme(&theme)
                .with_prompt("Public URL of the MCP endpoint")
                .validate_with(|value: &String| check(validate::url(value)));
            // Not every audience is a URL (Supabase's is `authenticated`).
            if validate::url(&default).is_ok() {
                input = input.default(default);
            }
            let value = answered(input.interact_text_on(&term))?;
            asked.resource_url = dialog(value);
        }
    }

    // 3. The scopes.
    let scopes = match &given.scopes {
        Some(fixed) => {
            note(
                "Scopes",
                &fixed.value.join(", "),
                fixed.source,
                "--scopes",
                "scopes",
            );
            validate::scopes(&fixed.value).map_err(|i| anyhow::anyhow!("{i}"))?
        }
        None => {
            let proposal = defaults::scopes(project, previous).join(",");
            let text = answered(
                Input::<String>::with_theme(&theme)
                    .with_prompt("Scopes (comma-separated)")
                    .with_initial_text(proposal)
                    .validate_with(|value: &String| {
                        check(validate::scopes(&validate::split_list(value)))
                    })
                    .interact_text_on(&term),
            )?;
            let scopes = validate::scopes(&validate::split_list(&text))
                .map_err(|i| anyhow::anyhow!("{i}"))?;
            asked.scopes = Some(Given::new(scopes.clone(), Source::Dialog));
            scopes
        }
    };

    // 4. A scope for each tool.
    asked.tool_scopes = ask_tool_scopes(&term, &theme, project, &scopes, given, previous)?;

    // 5. The scope hierarchy.
    asked.scope_implies = ask_hierarchy(&term, &theme, &scopes, given, previous)?;

    // What the dialog does not ask (provider options such as the token
    // format) stays as the last run recorded it, for the same provider.
    let mut answers = asked.or(given.clone());
    let same_provider = previous
        .provider
        .as_ref()
        .is_some_and(|recorded| recorded.value.trim() == provider.id);
    if same_provider {
        answers.options = answers.options.or(previous.options.clone());
    }
    Ok(answers)
}

/// Shows each open tool's pre-selected scopes and why, then lets the user
/// accept them all or edit any.
fn ask_tool_scopes(
    term: &Term,
    theme: &ColorfulTheme,
    project: &Project,
    scopes: &[String],
    given: &Answers,
    previous: &Answers,
) -> anyhow::Result<BTreeMap<String, Given<Vec<String>>>> {
    let mut picked = defaults::tool_scopes(project, scopes, previous);
    for (tool, fixed) in &given.tool_scopes {
        picked.remove(tool);
        let from = fixed.source.name("--tool-scope", "tool_scopes");
        term.write_line(&format!(
            "  Tool {tool}: {} (from {from})",
            fixed.value.join(", ")
        ))?;
    }
    if picked.is_empty() {
        return Ok(BTreeMap::new());
    }
    let width = picked.keys().map(String::len).max().unwrap_or(0);
    let scope_width = picked
        .values()
        .map(|list| list.join(", ").len())
        .max()
        .unwrap_or(0)
        .max(6);
    term.write_line("  Each tool's scope, proposed from its annotations and name:")?;
    for tool in project
        .tools
        .iter()
        .filter(|tool| picked.contains_key(&tool.name))
    {
        let list = picked[&tool.name].join(", ");
        let list = if list.is_empty() {
            "(none)".to_string()
        } else {
            list
        };
        term.write_line(&format!(
            "    {:width$}  {list:scope_width$}  {}",
            tool.name,
            assess(tool).1
        ))?;
    }

    loop {
        let names: Vec<&String> = picked.keys().collect();
        let mut items = vec!["Accept all".to_string()];
        items.extend(names.iter().map(|tool| {
            let list = picked[*tool].join(", ");
            format!(
                "Edit {tool:width$}  ({})",
                if list.is_empty() { "none yet" } else { &list }
            )
        }));
        let choice = answered(
            Select::with_theme(theme)
                .with_prompt("Tool scopes")
                .items(&items)
                .default(0)
                .interact_on(term),
        )?;
        if choice == 0 {
            let open: Vec<&str> = picked
                .iter()
                .filter(|(_, list)| list.is_empty())
                .map(|(tool, _)| tool.as_str())
                .collect();
            if open.is_empty() {
                break;
            }
            term.write_line(&format!(
                "  no scope fits {}: pick one with Edit",
                open.join(", ")
            ))?;
            continue;
        }
        let tool = names[choice - 1].clone();
        let checked: Vec<bool> = scopes
            .iter()
            .map(|scope| picked[&tool].contains(scope))
            .collect();
        loop {
            let chosen = answered(
                MultiSelect::with_theme(theme)
                    .with_prompt(format!(
                        "Scopes `{tool}` needs (space toggles, enter accepts)"
                    ))
                    .items(scopes)
                    .defaults(&checked)
                    .interact_on(term),
            )?;
            if chosen.is_empty() {
                term.write_line("  pick at least one scope")?;
                continue;
            }
            picked.insert(
                tool.clone(),
                chosen.into_iter().map(|i| scopes[i].clone()).collect(),
            );
            break;
        }
    }
    Ok(picked
        .into_iter()
        .map(|(tool, list)| (tool, Given::new(list, Source::Dialog)))
        .collect())
}

/// Shows the proposed scope hierarchy ([`hierarchy::propose`]) and lets the
/// user accept it (Enter), edit it, or have none. Not asked when the flags
/// or the answers file gave it (`None`), nor on a re-run with the scopes the
/// previous run recorded its hierarchy for (kept, and said).
fn ask_hierarchy(
    term: &Term,
    theme: &ColorfulTheme,
    scopes: &[String],
    given: &Answers,
    previous: &Answers,
) -> anyhow::Result<Option<Given<Hierarchy>>> {
    if let Some(fixed) = &given.scope_implies {
        let from = fixed.source.name("--scope-implies", "scope_implies");
        term.write_line(&format!(
            "  Scope hierarchy: {} (from {from})",
            hierarchy::describe(&fixed.value)
        ))?;
        return Ok(None);
    }
    let dialog = |map: Hierarchy| Ok(Some(Given::new(map, Source::Dialog)));
    if scopes.len() < 2 {
        return dialog(Hierarchy::new());
    }
    if let (Some(recorded), Some(recorded_scopes)) = (&previous.scope_implies, &previous.scopes)
        && recorded_scopes.value == scopes
    {
        term.write_line(&format!(
            "  Scope hierarchy: {} (from {})",
            hierarchy::describe(&hierarchy::fit(&recorded.value, scopes)),
            recorded.source.name("--scope-implies", "scope_implies")
        ))?;
        return Ok(Some(recorded.clone()));
    }
    let mut picked = hierarchy::propose(scopes);
    let width = scopes.iter().map(String::len).max().unwrap_or(0);
    loop {
        term.write_line("  Scope hierarchy (a broader scope grants the narrower ones too):")?;
        if picked.is_empty() {
            term.write_line("    none: each scope grants only itself")?;
        }
        for (scope, implied) in &picked {
            term.write_line(&format!(
                "    {scope:width$}  implies  {}",
                implied.join(", ")
            ))?;
        }
        let choice = answered(
            Select::with_theme(theme)
                .with_prompt("Scope hierarchy")
                .items(["Accept", "Edit", "None (each scope grants only itself)"])
                .default(0)
                .interact_on(term),
        )?;
        match choice {
            0 => return dialog(picked),
            2 => return dialog(Hierarchy::new()),
            _ => {}
        }
        let mut edited = Hierarchy::new();
        for scope in scopes {
            let others: Vec<&String> = scopes.iter().filter(|other| *other != scope).collect();
            let checked: Vec<bool> = others
                .iter()
                .map(|other| picked.get(scope).is_some_and(|list| list.contains(other)))
                .collect();
            let chosen = answered(
                MultiSelect::with_theme(theme)
                    .with_prompt(format!(
                        "Scopes `{scope}` implies (space toggles, enter accepts)"
                    ))
                    .items(&others)
                    .defaults(&checked)
                    .interact_on(term),
            )?;
            if !chosen.is_empty() {
                let list = chosen.into_iter().map(|i| others[i].clone()).collect();
                edited.insert(scope.clone(), list);
            }
        }
        match hierarchy::check(&edited, scopes, "the scopes") {
            Ok(checked) => picked = checked,
            Err(invalid) => term.write_line(&format!("  {invalid}"))?,
        }
    }
}

/// For each generated file the user changed since it was generated, asks
/// whether to keep their version, overwrite it, or first see the diff.
/// Overwritten files become plain updates; kept ones are recorded as the
/// user's (see [`plan::adopt`]), so that later runs leave them alone until
/// the generated code itself changes.
pub fn resolve_conflicts(plan: &mut Plan, snapshot: &dyn Snapshot) -> anyhow::Result<()> {
    let term = Term::stderr();
    let mut kept = Vec::new();
    for change in &mut plan.changes {
        let FileAction::Conflict {
            current,
            desired,
            upstream,
        } = &change.action
        else {
            continue;
        };
        let (current, desired) = (current.clone(), desired.clone());
        let (prompt, show) = match upstream {
            Some(_) => (
                format!(
                    "The generated code of `{}` changed since you kept your version",
                    change.path.display()
                ),
                "show what the template changed",
            ),
            None => (
                format!(
                    "You changed `{}` since add-auth generated it",
                    change.path.display()
                ),
                "show the diff",
            ),
        };
        loop {
            let choice = answered(
                Select::with_theme(&ColorfulTheme::default())
                    .with_prompt(&prompt)
                    .items([
                        "keep my version",
                        "overwrite it with the generated one",
                        show,
                    ])
                    .default(0)
                    .interact_on(&term),
            )?;
            match choice {
                0 => {
                    kept.push(plan::slash_path(&change.path));
                    break;
                }
                1 => {
                    change.action = FileAction::Update {
                        before: current,
                        after: desired,
                    };
                    break;
                }
                _ => term.write_str(&apply::change_diff(change))?,
            }
        }
    }
    if !kept.is_empty() {
        plan::adopt::adopt(plan, snapshot, &plan::adopt::Which::Files(kept))?;
    }
    Ok(())
}

/// Offers a streamable HTTP transport to a server that speaks only stdio
/// (`add-auth --add-http`); `false`: the user declined.
pub fn offer_http(site: &crate::inspect::StdioSite) -> anyhow::Result<bool> {
    install_interrupt_handler()?;
    let term = Term::stderr();
    term.write_line(&format!(
        "This server serves MCP over stdio only (`{}`), and OAuth protects HTTP transports.\n\
         add-auth can add a streamable HTTP transport in front of it: with MCP_TRANSPORT=http the \
         server listens on MCP_BIND (default 127.0.0.1:8000) at /mcp; without it, stdio works as before.",
        site.at
    ))?;
    answered(
        Confirm::with_theme(&ColorfulTheme::default())
            .with_prompt("Add a protected HTTP transport?")
            .default(true)
            .interact_on(&term),
    )
}

/// Shows what the run will do and asks for the go-ahead; `false` means the
/// user said no.
pub fn confirm(
    project: &Project,
    resolved: &Resolved,
    plan: &Plan,
    force: bool,
) -> anyhow::Result<bool> {
    let term = Term::stderr();
    term.write_str(&summary::render(project, resolved, plan, force))?;
    let yes = answered(
        Confirm::with_theme(&ColorfulTheme::default())
            .with_prompt("Apply these changes?")
            .default(true)
            .interact_on(&term),
    )?;
    if yes {
        CONFIRMED.store(true, Ordering::SeqCst);
    }
    Ok(yes)
}
