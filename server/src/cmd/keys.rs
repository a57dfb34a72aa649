//! keys commands.

use super::table::CommandSpec;

pub(super) const COMMANDS: &[CommandSpec] = &[];
