//! Slash: spells a relative path with `/` on every platform, as the state file, messages and reports name files.

use std::path::Path;

/// `path` with its components joined by `/`.
pub(crate) fn slash_path(path: &Path) -> String {
    path.components()
        .map(|part| part.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    #[test]
    fn components_are_joined_by_slashes() {
        let path: std::path::PathBuf = ["src", "auth", "mod.rs"].iter().collect();
        assert_eq!(super::slash_path(&path), "src/auth/mod.rs");
    }
}
