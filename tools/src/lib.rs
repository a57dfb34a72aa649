//! Tier's command-line tools. `tierctl` (snapshots) and `tierbench` (load generator)
//! arrive with the durability and benchmark issues; this crate holds their place in
//! the workspace.
