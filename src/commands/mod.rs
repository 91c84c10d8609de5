//! One module per subcommand.

pub mod add_auth;
pub mod auth_test;
