//! One module per subcommand.

pub mod add_auth;
