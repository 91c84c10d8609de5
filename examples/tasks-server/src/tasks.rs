//! The task list and the MCP tools that read and change it.
//!
//! Tasks are kept in memory, one list per owner. Every tool asks
//! [`owner_of`] whose list it works on.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use rmcp::{
    ErrorData, RoleServer, ServerHandler,
    handler::server::{router::tool::ToolRouter, wrapper::Parameters},
    model::{ServerCapabilities, ServerConfig},
    schemars,
    service::RequestContext,
    tool, tool_handler, tool_router,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// The owner of every task while the server cannot tell its callers apart.
const ANONYMOUS: &str = "anonymous";

/// Whose tasks a request works on.
///
/// Without authentication every caller shares one list. Once the server
/// verifies who is calling, return the caller's stable id here (for a
/// bearer token, its `sub` claim).
fn owner_of(_ctx: &RequestContext<RoleServer>) -> String {
    ANONYMOUS.to_string()
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Task {
    pub id: u64,
    pub title: String,
    pub done: bool,
}

/// In-memory tasks, keyed by owner. Cheap to clone: clones share the data.
#[derive(Debug, Clone, Default)]
pub struct TaskStore {
    inner: Arc<Mutex<Store>>,
}

#[derive(Debug, Default)]
struct Store {
    next_id: u64,
    by_owner: HashMap<String, Vec<Task>>,
}

impl TaskStore {
    pub fn search(&self, owner: &str, query: &str) -> Vec<Task> {
        let query = query.to_lowercase();
        let store = self.inner.lock().expect("task store lock poisoned");
        store
            .by_owner
            .get(owner)
            .map(|tasks| {
                tasks
                    .iter()
                    .filter(|task| task.title.to_lowercase().contains(&query))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn create(&self, owner: &str, title: String) -> Task {
        let mut store = self.inner.lock().expect("task store lock poisoned");
        store.next_id += 1;
        let task = Task {
            id: store.next_id,
            title,
            done: false,
        };
        store
            .by_owner
            .entry(owner.to_string())
            .or_default()
            .push(task.clone());
        task
    }

    /// Removes the owner's task `id`; another owner's task is never touched.
    pub fn delete(&self, owner: &str, id: u64) -> Option<Task> {
        let mut store = self.inner.lock().expect("task store lock poisoned");
        let tasks = store.by_owner.get_mut(owner)?;
        let index = tasks.iter().position(|task| task.id == id)?;
        Some(tasks.remove(index))
    }
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct SearchTasks {
    /// Text to look for in task titles; empty lists every task.
    #[serde(default)]
    pub query: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct CreateTask {
    /// What needs doing.
    pub title: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct DeleteTask {
    /// The id `create-task` returned.
    pub id: u64,
}

#[derive(Debug, Clone)]
pub struct TasksServer {
    store: TaskStore,
    tool_router: ToolRouter<Self>,
}

#[tool_router]
impl TasksServer {
    pub fn new(store: TaskStore) -> Self {
        Self {
            store,
            tool_router: Self::tool_router(),
        }
    }

    #[tool(
        name = "search-tasks",
        description = "Search your tasks by title",
        annotations(read_only_hint = true)
    )]
    fn search_tasks(
        &self,
        Parameters(SearchTasks { query }): Parameters<SearchTasks>,
        ctx: RequestContext<RoleServer>,
    ) -> String {
        let owner = owner_of(&ctx);
        let tasks = self.store.search(&owner, &query);
        json!({ "owner": owner, "tasks": tasks }).to_string()
    }

    #[tool(name = "create-task", description = "Add a task to your list")]
    fn create_task(
        &self,
        Parameters(CreateTask { title }): Parameters<CreateTask>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<String, ErrorData> {
        if title.trim().is_empty() {
            return Err(ErrorData::invalid_params("title must not be empty", None));
        }
        let owner = owner_of(&ctx);
        let task = self.store.create(&owner, title);
        Ok(json!({ "owner": owner, "task": task }).to_string())
    }

    #[tool(
        name = "delete-task",
        description = "Delete one of your tasks",
        annotations(destructive_hint = true)
    )]
    fn delete_task(
        &self,
        Parameters(DeleteTask { id }): Parameters<DeleteTask>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<String, ErrorData> {
        let owner = owner_of(&ctx);
        match self.store.delete(&owner, id) {
            Some(task) => Ok(json!({ "owner": owner, "deleted": task }).to_string()),
            None => Err(ErrorData::invalid_params(
                format!("you have no task with id {id}"),
                None,
            )),
        }
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for TasksServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_instructions("Keeps a to-do list for each user.")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_do_not_see_each_others_tasks() {
        let store = TaskStore::default();
        let alices = store.create("alice", "buy milk".into());
        store.create("bob", "buy bread".into());
        assert_eq!(store.search("alice", ""), vec![alices.clone()]);
        assert_eq!(store.delete("bob", alices.id), None);
        assert_eq!(store.delete("alice", alices.id), Some(alices));
    }
}
