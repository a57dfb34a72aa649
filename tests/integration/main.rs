//! Integration tests: each starts a real `tierd` and talks to it over TCP, with the
//! `redis` crate or a raw RESP connection. One test binary, one module per area.

mod acl;
mod connection;
mod differential;
mod dump;
mod durability;
mod harness;
mod hashes;
mod hostile;
mod keys;
mod lists;
mod patterns;
mod protocol;
mod pubsub;
mod scripting;
mod server;
mod sets;
mod sort;
mod strings;
mod tier;
mod tls;
mod transactions;
mod zsets;
