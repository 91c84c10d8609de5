//! The parameters of a query string or form body, where each may appear
//! once (RFC 6749 section 3.1) and only `resource` may repeat (RFC 8707).

/// Parameters in the order they came.
pub struct Params(pub Vec<(String, String)>);

impl Params {
    /// The value of `name`, if present; an error if it appears twice.
    pub fn one(&self, name: &str) -> Result<Option<&str>, String> {
        let mut values = self.all(name).into_iter();
        let first = values.next();
        if values.next().is_some() {
            return Err(format!("`{name}` appears more than once"));
        }
        Ok(first.filter(|value| !value.is_empty()))
    }

    /// Every value of `name`.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .collect()
    }

    /// The first parameter other than `resource` that appears twice.
    pub fn repeated(&self) -> Option<&str> {
        self.0.iter().enumerate().find_map(|(index, (key, _))| {
            (key != "resource" && self.0[..index].iter().any(|(seen, _)| seen == key))
                .then_some(key.as_str())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parameter_may_appear_once_except_resource() {
        let params = Params(vec![
            ("a".into(), "1".into()),
            ("resource".into(), "x".into()),
            ("resource".into(), "y".into()),
            ("empty".into(), String::new()),
        ]);
        assert_eq!(params.one("a").unwrap(), Some("1"));
        assert_eq!(params.one("empty").unwrap(), None);
        assert!(params.one("resource").is_err());
        assert_eq!(params.repeated(), None);
        let twice = Params(vec![("a".into(), "1".into()), ("a".into(), "2".into())]);
        assert_eq!(twice.repeated(), Some("a"));
    }
}
