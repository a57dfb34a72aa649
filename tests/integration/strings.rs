//! String commands against a real tierd.

use crate::harness::*;

#[test]
fn set_and_get_round_trip() {
    let server = TestServer::start();
    let mut con = server.client();
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut con).unwrap();
    let v: String = redis::cmd("GET").arg("k").query(&mut con).unwrap();
    assert_eq!(v, "v");
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["GET", "missing"]), nil());
    assert_eq!(raw.cmd(&["SET", "k", "v", "EX", "0"]), err("ERR invalid expire time in 'set' command"));
}
