//! keys tests against a real tierd.

#[allow(unused_imports)]
use crate::harness::*;
