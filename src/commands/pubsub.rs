//! pubsub commands (family file: table rows next to handlers).

use super::table::CommandSpec;

/// Table rows of this family.
#[rustfmt::skip]
pub fn commands() -> Vec<CommandSpec> {
    vec![]
}
