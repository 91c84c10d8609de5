//! Test helpers: projects with chosen names and tools.
//!
//! A project is the bundled example as inspection sees it, with its package
//! name and tools replaced, so these helpers follow `Project` as it grows.

use std::{
    path::{Path, PathBuf},
    sync::OnceLock,
};

use crate::inspect::{self, Project, Tool};

pub fn tool(name: &str, read_only: bool, destructive: bool) -> Tool {
    Tool {
        name: name.into(),
        fn_name: name.replace(['-', '.'], "_"),
        read_only,
        destructive,
        file: PathBuf::from("src/main.rs"),
    }
}

/// The bundled example, inspected once.
fn example() -> &'static Project {
    static EXAMPLE: OnceLock<Project> = OnceLock::new();
    EXAMPLE.get_or_init(|| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/tasks-server");
        inspect::inspect(&path).expect("inspect the bundled example")
    })
}

pub fn project(package: &str, tools: Vec<Tool>) -> Project {
    let mut project = example().clone();
    project.package_name = package.into();
    project.tools = tools;
    project
}

/// The bundled example itself: `tasks-server` with its three tools.
pub fn tasks_project() -> Project {
    let project = example().clone();
    assert_eq!(
        project
            .tools
            .iter()
            .map(|t| (t.name.as_str(), t.read_only, t.destructive))
            .collect::<Vec<_>>(),
        [
            ("create-task", false, false),
            ("delete-task", false, true),
            ("search-tasks", true, false),
        ],
        "the bundled example's tools changed; update the resolve tests"
    );
    project
}
