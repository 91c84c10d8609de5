//! The guided dialog of `add-auth`: dialoguer prompts on stderr, nothing
//! else. It asks only what the flags and the answers file left open, checks
//! every answer with the same functions that check flags
//! ([`validate`]), pre-fills what [`defaults`] proposes, and returns
//! [`Answers`]: deciding, planning and writing happen elsewhere.
//!
//! Escape goes back one question ([`Dialog`]): menus are dialoguer's
//! (`interact_on_opt`), lines of text are [`line`]'s.
//!
//! Ctrl-C: dialoguer reads keys in raw mode, where Ctrl-C is a byte that
//! console turns into `raise(SIGINT)`; outside a prompt the terminal sends
//! SIGINT itself. Both reach one handler ([`install_interrupt_handler`])
//! that clears the question on screen ([`DRAWN`]), shows the cursor again
//! (prompts hide it), says nothing was changed and exits 130. Nothing is
//! written before the confirmation, so the project is untouched.

mod line;
pub mod summary;

use std::{
    collections::BTreeMap,
    io::{self, IsTerminal},
    sync::atomic::{AtomicBool, AtomicUsize, Ordering},
};

use anyhow::Context;
use dialoguer::{
    Confirm, MultiSelect, Select,
    console::{Key, Term, measure_text_width, truncate_str},
    theme::{ColorfulTheme, Theme},
};
use line::{Line, Typed};

use crate::{
    apply,
    inspect::Project,
    plan::{self, FileAction, Plan, Snapshot},
    providers::{self, AudienceCheck, Location, Provider},
    resolve::{
        Answers, Given, Resolved, Source, defaults,
        hierarchy::{self, Hierarchy},
        propose::{self, assess},
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

/// The rows the prompt on screen occupies above the cursor's row (a
/// menu's prompt and items; a line prompt's refusals and wrapped rows), so
/// that an interrupt can clear them; 0 between prompts.
static DRAWN: AtomicUsize = AtomicUsize::new(0);

/// Clears the prompt on screen, restores the cursor, reports the interrupt
/// and exits 130 (128 + SIGINT).
fn interrupted() -> ! {
    if EXITING.swap(true, Ordering::SeqCst) {
        loop {
            std::thread::park();
        }
    }
    let term = Term::stderr();
    let _ = term.clear_line();
    let _ = term.clear_last_lines(DRAWN.swap(0, Ordering::SeqCst));
    let _ = term.show_cursor();
    let message = if CONFIRMED.load(Ordering::SeqCst) {
        "interrupted"
    } else {
        "interrupted: nothing was changed"
    };
    let _ = term.write_line(message);
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

/// The questions of [`ask`], in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Question {
    Provider,
    Domain,
    Audience,
    ResourceUrl,
    Scopes,
    ToolScopes,
    Hierarchy,
}

impl Question {
    fn next(self) -> Option<Question> {
        use Question::*;
        match self {
            Provider => Some(Domain),
            Domain => Some(Audience),
            Audience => Some(ResourceUrl),
            ResourceUrl => Some(Scopes),
            Scopes => Some(ToolScopes),
            ToolScopes => Some(Hierarchy),
            Hierarchy => None,
        }
    }
}

/// Where the dialog is: its answers, the questions asked (for Escape),
/// and what the later questions depend on. Kept across [`ask`] calls, so
/// that Escape at the final confirmation goes back into the dialog.
#[derive(Debug, Default)]
pub struct Dialog {
    asked: Answers,
    /// The questions the user answered, in order.
    history: Vec<Question>,
    /// The given answers already said.
    noted: std::collections::BTreeSet<Question>,
    /// Where the next [`ask`] starts: `None`, the first question.
    resume: Option<Question>,
    provider: Option<&'static Provider>,
    audience: String,
    scopes: Vec<String>,
}

impl Dialog {
    /// Makes the next [`ask`] start again at the last question the user
    /// answered; `false` when the dialog asked nothing.
    pub fn back(&mut self) -> bool {
        self.resume = self.history.pop();
        self.resume.is_some()
    }

    /// Whether the user answered any question (Escape has somewhere to go).
    pub fn asked_anything(&self) -> bool {
        !self.history.is_empty()
    }
}

/// How a question was settled.
enum Reply<T> {
    /// The user answered it.
    Asked(T),
    /// The flags, the answers file or the earlier answers settled it: nothing was asked.
    Given(T),
    /// Escape: back to the question asked before it.
    Back,
}

impl Reply<String> {
    /// What was typed at a line prompt.
    fn typed(typed: Typed) -> Self {
        match typed {
            Typed::Text(text) => Reply::Asked(text),
            Typed::Back => Reply::Back,
        }
    }
}

impl<T> Reply<T> {
    /// Keeps the answer (made into what `slot` holds) in `slot`.
    fn store<S>(self, slot: &mut S, made: impl FnOnce(T) -> S) -> Reply<()> {
        match self {
            Reply::Asked(value) => {
                *slot = made(value);
                Reply::Asked(())
            }
            Reply::Given(value) => {
                *slot = made(value);
                Reply::Given(())
            }
            Reply::Back => Reply::Back,
        }
    }
}

/// A menu; `None` when the user pressed Escape (or `q`). While it is on
/// screen, [`DRAWN`] holds its rows, for Ctrl-C to clear.
fn choose<T: ToString>(
    term: &Term,
    theme: &dyn Theme,
    prompt: &str,
    items: &[T],
    default: usize,
    report: bool,
) -> anyhow::Result<Option<usize>> {
    let items = fitted(term, items, 2);
    DRAWN.store(menu_rows(term, prompt, &items, 2), Ordering::SeqCst);
    let result = Select::with_theme(theme)
        .with_prompt(prompt)
        .items(&items)
        .default(default)
        .report(report)
        .interact_on_opt(term);
    // An interrupt (Ctrl-C) ends the process here, with the menu still counted.
    let answer = answered(result)?;
    DRAWN.store(0, Ordering::SeqCst);
    Ok(answer)
}

/// Several choices; `None` on Escape. See [`choose`].
fn choose_many<T: ToString>(
    term: &Term,
    theme: &dyn Theme,
    prompt: &str,
    items: &[T],
    checked: &[bool],
) -> anyhow::Result<Option<Vec<usize>>> {
    let items = fitted(term, items, 4);
    DRAWN.store(menu_rows(term, prompt, &items, 4), Ordering::SeqCst);
    let result = MultiSelect::with_theme(theme)
        .with_prompt(prompt)
        .items(&items)
        .defaults(checked)
        .interact_on_opt(term);
    // An interrupt (Ctrl-C) ends the process here, with the menu still counted.
    let answer = answered(result)?;
    DRAWN.store(0, Ordering::SeqCst);
    Ok(answer)
}

/// Menu items cut to one row each (`marks`: the columns before an item):
/// dialoguer redraws a menu counting one row per item, so a wrapped item
/// would leave rows behind.
fn fitted<T: ToString>(term: &Term, items: &[T], marks: usize) -> Vec<String> {
    let width = usize::from(term.size().1).saturating_sub(marks + 1).max(8);
    items
        .iter()
        .map(|item| truncate_str(&item.to_string(), width, "…").into_owned())
        .collect()
}

/// The rows a dialoguer menu occupies above the cursor: its prompt and the
/// items of one page (`marks`: the columns before each item), each as many
/// rows as it wraps to.
fn menu_rows(term: &Term, prompt: &str, items: &[String], marks: usize) -> usize {
    let (rows, columns) = term.size();
    let columns = usize::from(columns).max(1);
    let page = usize::from(rows).max(3) - 2;
    let wrapped = |width: usize| width.max(1).div_ceil(columns);
    wrapped(measure_text_width(prompt) + 4)
        + items
            .iter()
            .take(page)
            .map(|item| wrapped(measure_text_width(item) + marks))
            .sum::<usize>()
}

/// Asks what `given` (flags and answers file) leaves open, pre-filled from
/// `previous` (the state file), `env` (the project's `.env`) and the
/// proposals. Escape goes back to the question asked before. Returns
/// `given` completed with the answers, and with the provider options
/// `previous` records when the provider stays the same.
pub fn ask(
    state: &mut Dialog,
    project: &Project,
    given: &Answers,
    previous: &Answers,
    env: &BTreeMap<String, String>,
) -> anyhow::Result<Answers> {
    let term = Term::stderr();
    let theme = ColorfulTheme::default();
    let dialog = |value: String| Some(Given::new(value, Source::Dialog));
    let resume = state.resume.take();
    let asked = &mut state.asked;
    let history = &mut state.history;
    // What the flags gave is said once, the first time the dialog passes it.
    let noted = &mut state.noted;
    let mut note =
        |question: Question, label: &str, value: &str, source: Source, flag: &str, key: &str| {
            if noted.insert(question) {
                let from = source.name(flag, key);
                let _ = term.write_line(&format!("  {label}: {value} (from {from})"));
            }
        };
    if resume.is_none() {
        term.write_line("  (Esc goes back one question; Ctrl-C stops, changing nothing)")?;
    }

    let mut provider: &'static Provider = state
        .provider
        .unwrap_or(providers::ALL[defaults::provider(previous)]);
    let mut audience = std::mem::take(&mut state.audience);
    let mut scopes = std::mem::take(&mut state.scopes);
    let mut question = Some(resume.unwrap_or(Question::Provider));
    while let Some(current) = question {
        let reply: Reply<()> = match current {
            // 1. The provider.
            Question::Provider => match &given.provider {
                Some(fixed) => {
                    provider =
                        validate::provider(&fixed.value).map_err(|i| anyhow::anyhow!("{i}"))?;
                    note(
                        current,
                        "Provider",
                        provider.name,
                        fixed.source,
                        "--provider",
                        "provider",
                    );
                    Reply::Given(())
                }
                None => {
                    let items: Vec<String> = providers::ALL
                        .iter()
                        .map(|provider| format!("{} - {}", provider.name, provider.hint))
                        .collect();
                    let prompt = "Identity provider";
                    let default = providers::ALL
                        .iter()
                        .position(|known| known.id == provider.id)
                        .unwrap_or(0);
                    match choose(&term, &theme, prompt, &items, default, false)? {
                        None => Reply::Back,
                        Some(index) => {
                            let chosen = providers::ALL[index];
                            if asked.provider.is_some() && chosen.id != provider.id {
                                // Another provider's domain and audience are no answers for this one.
                                asked.domain = None;
                                asked.audience = None;
                            }
                            provider = chosen;
                            // The report line names the choice without its (long) hint.
                            let mut line = String::new();
                            theme.format_select_prompt_selection(
                                &mut line,
                                prompt,
                                provider.name,
                            )?;
                            term.write_line(&line)?;
                            asked.provider = dialog(provider.id.to_string());
                            Reply::Asked(())
                        }
                    }
                }
            },

            // 2. The provider's values.
            Question::Domain => {
                let (label, question, why) = match provider.location {
                    Location::Host => (
                        "Domain",
                        format!("{} domain (no https://)", provider.name),
                        "tokens are accepted only from the issuer it names",
                    ),
                    Location::IssuerUrl if provider.name.ends_with("issuer") => (
                        "Issuer",
                        format!("{} URL", provider.name),
                        "tokens are accepted only when their `iss` is this URL",
                    ),
                    Location::IssuerUrl => (
                        "Issuer",
                        format!("{} issuer URL", provider.name),
                        "tokens are accepted only when their `iss` is this URL",
                    ),
                    Location::SupabaseUrl => (
                        "Project URL",
                        "Supabase project URL".to_string(),
                        "tokens are accepted only from this project's issuer",
                    ),
                };
                match &given.domain {
                    Some(fixed) => {
                        note(
                            current,
                            label,
                            &fixed.value,
                            fixed.source,
                            provider.location_flags(),
                            "domain",
                        );
                        Reply::Given(())
                    }
                    None => {
                        let line = Line {
                            prompt: &question,
                            default: asked
                                .domain
                                .as_ref()
                                .map(|given| given.value.clone())
                                .or_else(|| defaults::domain(provider, previous, env)),
                            initial: String::new(),
                            required: format!(
                                "an answer is required: {why} (e.g. {})",
                                provider.example_domain
                            ),
                        };
                        let check = |value: &str| check(validate::location(value, provider));
                        Reply::typed(line::read(&term, &theme, &line, &check)?)
                            .store(&mut asked.domain, dialog)
                    }
                }
            }
            Question::Audience => match &given.audience {
                // Supabase, Cognito: the audience is not the user's choice.
                _ if !provider.takes_audience() => {
                    audience = provider.fixed_audience().unwrap_or_default().to_string();
                    Reply::Given(())
                }
                Some(fixed) => {
                    note(
                        current,
                        "Audience",
                        &fixed.value,
                        fixed.source,
                        "--audience",
                        "audience",
                    );
                    audience = fixed.value.clone();
                    Reply::Given(())
                }
                None => {
                    let url = provider.audience == AudienceCheck::Url;
                    let line = Line {
                        prompt: if url {
                            "API audience (an https URL)"
                        } else {
                            "API audience (the `aud` tokens carry)"
                        },
                        default: asked
                            .audience
                            .as_ref()
                            .map(|given| given.value.clone())
                            .or_else(|| defaults::audience(project, provider, previous, env)),
                        initial: String::new(),
                        required: "an answer is required: tokens are accepted only when their `aud` names it"
                            .to_string(),
                    };
                    let check = |value: &str| {
                        check(if url {
                            validate::url(value)
                        } else {
                            validate::identifier(value)
                        })
                    };
                    let typed = line::read(&term, &theme, &line, &check)?;
                    if let Typed::Text(value) = &typed {
                        audience = value.clone();
                    }
                    Reply::typed(typed).store(&mut asked.audience, dialog)
                }
            },
            Question::ResourceUrl => match &given.resource_url {
                Some(fixed) => {
                    note(
                        current,
                        "Resource URL",
                        &fixed.value,
                        fixed.source,
                        "--resource-url",
                        "resource_url",
                    );
                    Reply::Given(())
                }
                None => {
                    let audience = validate::url(&audience).unwrap_or(audience.clone());
                    let default = asked
                        .resource_url
                        .as_ref()
                        .map(|given| given.value.clone())
                        .unwrap_or_else(|| defaults::resource_url(previous, env, &audience));
                    let line = Line {
                        prompt: "Public URL of the MCP endpoint",
                        // Not every audience is a URL (Supabase's is `authenticated`).
                        default: validate::url(&default).is_ok().then_some(default),
                        initial: String::new(),
                        required:
                            "an answer is required: clients find the server's metadata through it \
                                   (e.g. https://tasks.example.com/mcp)"
                                .to_string(),
                    };
                    let check = |value: &str| check(validate::url(value));
                    Reply::typed(line::read(&term, &theme, &line, &check)?)
                        .store(&mut asked.resource_url, dialog)
                }
            },

            // 3. The scopes.
            Question::Scopes => match &given.scopes {
                Some(fixed) => {
                    note(
                        current,
                        "Scopes",
                        &fixed.value.join(", "),
                        fixed.source,
                        "--scopes",
                        "scopes",
                    );
                    scopes = validate::scopes(&fixed.value).map_err(|i| anyhow::anyhow!("{i}"))?;
                    Reply::Given(())
                }
                None => {
                    let line = Line {
                        prompt: "Scopes (comma-separated)",
                        default: None,
                        initial: asked
                            .scopes
                            .as_ref()
                            .map_or_else(
                                || defaults::scopes(project, previous),
                                |given| given.value.clone(),
                            )
                            .join(","),
                        required:
                            "at least one scope is required: every tool needs one to be called \
                                   (e.g. read:tasks,write:tasks)"
                                .to_string(),
                    };
                    let check = |value: &str| check(validate::scopes(&validate::split_list(value)));
                    match line::read(&term, &theme, &line, &check)? {
                        Typed::Back => Reply::Back,
                        Typed::Text(text) => {
                            scopes = validate::scopes(&validate::split_list(&text))
                                .map_err(|i| anyhow::anyhow!("{i}"))?;
                            asked.scopes = Some(Given::new(scopes.clone(), Source::Dialog));
                            Reply::Asked(())
                        }
                    }
                }
            },

            // 4. A scope for each tool.
            Question::ToolScopes => ask_tool_scopes(
                &term,
                &theme,
                project,
                &scopes,
                given,
                previous,
                &asked.tool_scopes,
            )?
            .store(&mut asked.tool_scopes, |picked| picked),

            // 5. The scope hierarchy.
            Question::Hierarchy => ask_hierarchy(&term, &theme, &scopes, given, previous)?
                .store(&mut asked.scope_implies, |map| map),
        };
        question = match reply {
            Reply::Asked(()) => {
                history.push(current);
                current.next()
            }
            Reply::Given(()) => current.next(),
            // On the first question asked, Escape asks it again.
            Reply::Back => Some(history.pop().unwrap_or(current)),
        };
    }

    // What the dialog does not ask (provider options such as the token
    // format) stays as the last run recorded it, for the same provider.
    let mut answers = asked.clone().or(given.clone());
    (state.provider, state.audience, state.scopes) = (Some(provider), audience, scopes);
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
/// accept them all or edit any. Pre-selected: `earlier` (what the user
/// picked before going back) while it fits `scopes`, else the proposals.
/// A tool no scope is named for takes the fallback `--yes` would give it
/// (see [`propose::propose`]), and Accept all says so.
fn ask_tool_scopes(
    term: &Term,
    theme: &ColorfulTheme,
    project: &Project,
    scopes: &[String],
    given: &Answers,
    previous: &Answers,
    earlier: &BTreeMap<String, Given<Vec<String>>>,
) -> anyhow::Result<Reply<BTreeMap<String, Given<Vec<String>>>>> {
    let mut picked = defaults::tool_scopes(project, scopes, previous);
    for (tool, list) in earlier {
        if picked.contains_key(tool) && list.value.iter().all(|scope| scopes.contains(scope)) {
            picked.insert(tool.clone(), list.value.clone());
        }
    }
    for (tool, fixed) in &given.tool_scopes {
        picked.remove(tool);
        let from = fixed.source.name("--tool-scope", "tool_scopes");
        term.write_line(&format!(
            "  Tool {tool}: {} (from {from})",
            fixed.value.join(", ")
        ))?;
    }
    if picked.is_empty() {
        return Ok(Reply::Given(BTreeMap::new()));
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
        let Some(choice) = choose(term, theme, "Tool scopes", &items, 0, true)? else {
            return Ok(Reply::Back);
        };
        if choice == 0 {
            let open: Vec<&str> = picked
                .iter()
                .filter(|(_, list)| list.is_empty())
                .map(|(tool, _)| tool.as_str())
                .collect();
            if open.is_empty() {
                for note in fallback_notes(project, scopes, &picked) {
                    term.write_line(&format!("  note: {note}"))?;
                }
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
            let prompt = format!("Scopes `{tool}` needs (space toggles, enter accepts)");
            // Escape: back to the menu, the tool's scopes as they were.
            let Some(chosen) = choose_many(term, theme, &prompt, scopes, &checked)? else {
                break;
            };
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
    Ok(Reply::Asked(
        picked
            .into_iter()
            .map(|(tool, list)| (tool, Given::new(list, Source::Dialog)))
            .collect(),
    ))
}

/// What `--yes` says of the same choice: one note per group of tools left
/// on a fallback scope (no scope named for their access).
fn fallback_notes(
    project: &Project,
    scopes: &[String],
    picked: &BTreeMap<String, Vec<String>>,
) -> Vec<String> {
    let mut groups: BTreeMap<_, Vec<&str>> = BTreeMap::new();
    for tool in &project.tools {
        let Some(proposal) = propose::propose(tool, scopes) else {
            continue;
        };
        if let (Some(fallback), Some(list)) = (proposal.fallback, picked.get(&tool.name))
            && list == std::slice::from_ref(&proposal.scope)
        {
            groups
                .entry((propose::access_of(tool), fallback, proposal.scope))
                .or_default()
                .push(tool.name.as_str());
        }
    }
    let scopes_name = Source::Dialog.name("--scopes", "scopes");
    groups
        .iter()
        .map(|((access, fallback, scope), tools)| {
            propose::fallback_note(*access, *fallback, scope, tools, &scopes_name)
        })
        .collect()
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
) -> anyhow::Result<Reply<Option<Given<Hierarchy>>>> {
    if let Some(fixed) = &given.scope_implies {
        let from = fixed.source.name("--scope-implies", "scope_implies");
        term.write_line(&format!(
            "  Scope hierarchy: {} (from {from})",
            hierarchy::describe(&fixed.value)
        ))?;
        return Ok(Reply::Given(None));
    }
    if scopes.len() < 2 {
        return Ok(Reply::Given(Some(Given::new(
            Hierarchy::new(),
            Source::Dialog,
        ))));
    }
    if let (Some(recorded), Some(recorded_scopes)) = (&previous.scope_implies, &previous.scopes)
        && recorded_scopes.value == scopes
    {
        term.write_line(&format!(
            "  Scope hierarchy: {} (from {})",
            hierarchy::describe(&hierarchy::fit(&recorded.value, scopes)),
            recorded.source.name("--scope-implies", "scope_implies")
        ))?;
        return Ok(Reply::Given(Some(recorded.clone())));
    }
    let dialog = |map: Hierarchy| Ok(Reply::Asked(Some(Given::new(map, Source::Dialog))));
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
        let choices = ["Accept", "Edit", "None (each scope grants only itself)"];
        match choose(term, theme, "Scope hierarchy", &choices, 0, true)? {
            None => return Ok(Reply::Back),
            Some(0) => return dialog(picked),
            Some(2) => return dialog(Hierarchy::new()),
            Some(_) => {}
        }
        let mut edited = Hierarchy::new();
        let mut escaped = false;
        for scope in scopes {
            let others: Vec<&String> = scopes.iter().filter(|other| *other != scope).collect();
            let checked: Vec<bool> = others
                .iter()
                .map(|other| picked.get(scope).is_some_and(|list| list.contains(other)))
                .collect();
            let prompt = format!("Scopes `{scope}` implies (space toggles, enter accepts)");
            // Escape: back to the hierarchy as it was.
            let Some(chosen) = choose_many(term, theme, &prompt, &others, &checked)? else {
                escaped = true;
                break;
            };
            if !chosen.is_empty() {
                let list = chosen.into_iter().map(|i| others[i].clone()).collect();
                edited.insert(scope.clone(), list);
            }
        }
        if escaped {
            continue;
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
/// the generated code itself changes. Escape goes back to the file before;
/// at the first, `false` (nothing decided): back to the dialog, when
/// `can_go_back`.
pub fn resolve_conflicts(
    plan: &mut Plan,
    snapshot: &dyn Snapshot,
    can_go_back: bool,
) -> anyhow::Result<bool> {
    let term = Term::stderr();
    let conflicts: Vec<usize> = plan
        .changes
        .iter()
        .enumerate()
        .filter(|(_, change)| matches!(change.action, FileAction::Conflict { .. }))
        .map(|(index, _)| index)
        .collect();
    // For each conflict: true keeps the user's version, false overwrites it.
    let mut keep: Vec<bool> = Vec::new();
    while let Some(&index) = conflicts.get(keep.len()) {
        let change = &plan.changes[index];
        let FileAction::Conflict { upstream, .. } = &change.action else {
            unreachable!("only conflicts are listed");
        };
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
        let items = [
            "keep my version",
            "overwrite it with the generated one",
            show,
        ];
        match choose(&term, &ColorfulTheme::default(), &prompt, &items, 0, true)? {
            None if keep.is_empty() && can_go_back => return Ok(false),
            None => {
                keep.pop();
            }
            Some(0) => keep.push(true),
            Some(1) => keep.push(false),
            Some(_) => term.write_str(&apply::change_diff(change))?,
        }
    }
    let mut kept = Vec::new();
    for (&index, keep) in conflicts.iter().zip(keep) {
        let change = &mut plan.changes[index];
        let FileAction::Conflict {
            current, desired, ..
        } = &change.action
        else {
            continue;
        };
        if keep {
            kept.push(crate::slash::slash_path(&change.path));
        } else {
            change.action = FileAction::Update {
                before: current.clone(),
                after: desired.clone(),
            };
        }
    }
    if !kept.is_empty() {
        plan::adopt::adopt(plan, snapshot, &plan::adopt::Which::Files(kept))?;
    }
    Ok(true)
}

/// Offers a streamable HTTP transport to a server that speaks only stdio
/// (`add-auth --add-http`); `false`: the user declined (`n` or Escape).
pub fn offer_http(site: &crate::inspect::StdioSite) -> anyhow::Result<bool> {
    install_interrupt_handler()?;
    let term = Term::stderr();
    term.write_line(&format!(
        "This server serves MCP over stdio only (`{}`), and OAuth protects HTTP transports.\n\
         add-auth can add a streamable HTTP transport in front of it: with MCP_TRANSPORT=http the \
         server listens on MCP_BIND (default 127.0.0.1:8000) at /mcp; without it, stdio works as before.",
        site.at
    ))?;
    // Escape, like `n`, declines: there is no earlier question to go back to.
    let answer = answered(
        Confirm::with_theme(&ColorfulTheme::default())
            .with_prompt("Add a protected HTTP transport?")
            .default(true)
            .interact_on_opt(&term),
    )?;
    Ok(answer == Some(true))
}

/// The answer to the final confirmation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GoAhead {
    Apply,
    /// `n`: change nothing.
    Cancel,
    /// Escape: back to the dialog's last question ([`Dialog::back`]).
    Back,
}

/// Shows what the run will do and asks for the go-ahead: Enter or `y`
/// applies, `n` changes nothing, `d` shows the diff of every change and
/// asks again; Escape goes back to the dialog when `can_go_back`.
pub fn confirm(
    project: &Project,
    resolved: &Resolved,
    plan: &Plan,
    force: bool,
    can_go_back: bool,
) -> anyhow::Result<GoAhead> {
    let term = Term::stderr();
    let theme = ColorfulTheme::default();
    term.write_str(&summary::render(project, resolved, plan, force))?;
    let prompt = "Apply these changes?";
    let mut question = String::new();
    theme.format_input_prompt(&mut question, prompt, Some("Y/n, d shows the diff"))?;
    let yes = loop {
        term.write_str(&question)?;
        let key = match term.read_key() {
            Ok(key) => key,
            Err(err) => answered(Err(err.into()))?,
        };
        match key {
            Key::Enter | Key::Char('y' | 'Y') => break true,
            Key::Char('n' | 'N') => break false,
            Key::Escape if can_go_back => {
                term.clear_line()?;
                return Ok(GoAhead::Back);
            }
            Key::Char('d' | 'D') => {
                term.clear_line()?;
                term.write_str(&apply::diff_for_stdout(plan))?;
            }
            _ => term.clear_line()?,
        }
    };
    term.clear_line()?;
    let mut answer = String::new();
    theme.format_confirm_prompt_selection(&mut answer, prompt, Some(yes))?;
    term.write_line(&answer)?;
    if !yes {
        return Ok(GoAhead::Cancel);
    }
    CONFIRMED.store(true, Ordering::SeqCst);
    Ok(GoAhead::Apply)
}
