//! What the development issuer serves for one project: its issuer URL, the
//! audience and resource its tokens may be for, and the scopes it grants;
//! and how a request's `scope` and `resource` are judged against them.

/// The project's side of the issuer.
#[derive(Clone, Debug)]
pub struct Config {
    /// The issuer identifier, exactly as the project's server expects `iss`.
    pub issuer: String,
    /// The audience the server checks.
    pub audience: String,
    /// The MCP endpoint's public URL (RFC 8707 resource clients ask for).
    pub resource_url: String,
    /// The project's scopes: the only ones granted.
    pub scopes: Vec<String>,
}

impl Config {
    /// The URL of an endpoint (`path` starts with `/`) below the issuer.
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.issuer.trim_end_matches('/'))
    }

    /// The scopes to grant for a request's `scope` parameter: those asked
    /// for if all are the project's, every project scope if none is asked.
    pub fn scopes_for(&self, requested: Option<&str>) -> Result<Vec<String>, String> {
        let mut granted: Vec<String> = Vec::new();
        for scope in requested
            .unwrap_or_default()
            .split(' ')
            .filter(|s| !s.is_empty())
        {
            if !self.scopes.iter().any(|known| known == scope) {
                return Err(format!(
                    "scope `{scope}` is not one of the project's scopes ({})",
                    self.scopes.join(" ")
                ));
            }
            if !granted.iter().any(|seen| seen == scope) {
                granted.push(scope.to_string());
            }
        }
        if granted.is_empty() {
            granted = self.scopes.clone();
        }
        Ok(granted)
    }

    /// The token's `aud` for a request's RFC 8707 `resource` parameters: the
    /// resource asked for if it is the project's, the audience if none.
    pub fn audience_for(&self, resources: &[&str]) -> Result<String, String> {
        match resources {
            [] => Ok(self.audience.clone()),
            [resource] if *resource == self.resource_url || *resource == self.audience => {
                Ok(resource.to_string())
            }
            [resource] => Err(format!(
                "resource `{resource}` is not this project's (`{}`)",
                self.resource_url
            )),
            _ => Err("one resource per token: send `resource` once".to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config {
            issuer: "http://127.0.0.1:9417".into(),
            audience: "api://tasks".into(),
            resource_url: "http://127.0.0.1:8000/mcp".into(),
            scopes: vec!["read:tasks".into(), "write:tasks".into()],
        }
    }

    #[test]
    fn scopes_are_the_projects_only_and_default_to_all() {
        let config = config();
        assert_eq!(config.scopes_for(None).unwrap(), config.scopes);
        assert_eq!(config.scopes_for(Some("  ")).unwrap(), config.scopes);
        assert_eq!(
            config.scopes_for(Some("write:tasks write:tasks")).unwrap(),
            vec!["write:tasks"]
        );
        let err = config.scopes_for(Some("read:tasks admin")).unwrap_err();
        assert!(err.contains("`admin`"), "{err}");
    }

    #[test]
    fn the_resource_must_be_the_projects() {
        let config = config();
        assert_eq!(config.audience_for(&[]).unwrap(), "api://tasks");
        assert_eq!(
            config.audience_for(&["http://127.0.0.1:8000/mcp"]).unwrap(),
            "http://127.0.0.1:8000/mcp"
        );
        assert_eq!(
            config.audience_for(&["api://tasks"]).unwrap(),
            "api://tasks"
        );
        assert!(
            config
                .audience_for(&["http://127.0.0.1:8000/mcp/"])
                .is_err()
        );
        assert!(config.audience_for(&["https://other.example.com"]).is_err());
        assert!(
            config
                .audience_for(&["api://tasks", "api://tasks"])
                .is_err()
        );
        assert_eq!(config.endpoint("/token"), "http://127.0.0.1:9417/token");
    }
}
