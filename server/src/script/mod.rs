//! Lua scripting (EVAL, EVALSHA, SCRIPT), as Redis 7.0: the node's script cache and
//! the one Lua 5.1 state scripts run in ([`Scripts`], in [`Shared`]), the script
//! running now (what `-BUSY` and SCRIPT KILL look at), and [`run`], which runs a
//! script for a command's context, its `redis.call`s going through the command
//! table like a client's commands.
//!
//! Atomicity is the session's business (`Session::eval`): it loads the cold values
//! of the script's KEYS, then holds the keyspace's gate alone while the script runs,
//! off the async runtime; the script's writes are logged inside MULTI ... EXEC.

mod convert;
mod libs;
mod vm;

use crate::cmd::table::{self, Flags};
use crate::cmd::{self, Ctx};
use crate::resp::{decode_frame, Protocol, ReplyWriter, DEFAULT_MAX_DEPTH};
use crate::shared::Shared;
use bytes::Bytes;
use mlua::{Function, HookTriggers, MultiValue, Value, VmState};
use parking_lot::Mutex;
use sha1::{Digest, Sha1};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use vm::Vm;

/// How many Lua instructions run between two looks at a SCRIPT KILL (Redis's).
const HOOK_EVERY: u32 = 100_000;

/// Redis's reply to a command sent while a script runs past `busy-reply-threshold`.
pub const BUSY_ERROR: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";

/// The scripts of the node.
#[derive(Default)]
pub struct Scripts {
    /// Every script loaded or run, by SHA1 (lower-case hex).
    bodies: Mutex<HashMap<String, Bytes>>,
    /// The Lua state, made at the first script (and again after SCRIPT FLUSH).
    vm: Mutex<Option<Vm>>,
    /// The script running now.
    running: Mutex<Option<Arc<Running>>>,
}

/// A script while it runs.
pub struct Running {
    started: Instant,
    /// It ran a write command: SCRIPT KILL may not stop it.
    wrote: AtomicBool,
    /// SCRIPT KILL (or SHUTDOWN NOSAVE) asked it to stop.
    killed: AtomicBool,
    /// The script's line when the kill stopped it.
    killed_at: AtomicI32,
}

impl Running {
    fn new() -> Running {
        Running {
            started: Instant::now(),
            wrote: AtomicBool::new(false),
            killed: AtomicBool::new(false),
            killed_at: AtomicI32::new(0),
        }
    }
}

/// What SCRIPT KILL found.
pub enum Kill {
    Killed,
    NotBusy,
    Unkillable,
}

impl Scripts {
    /// Adds `body` to the cache (compiling it, so that a script that does not compile
    /// is refused) and returns its SHA1.
    pub fn load(&self, body: &Bytes) -> Result<String, String> {
        let sha = sha1hex(body);
        self.with_vm(|vm| vm.function(&sha, body).map(drop))
            .map_err(|e| format!("ERR Error compiling script (new function): {e}"))?;
        self.bodies.lock().insert(sha.clone(), body.clone());
        Ok(sha)
    }

    /// The body of the script `sha` (any case), if cached.
    pub fn body(&self, sha: &[u8]) -> Option<Bytes> {
        let sha = std::str::from_utf8(sha).ok()?.to_ascii_lowercase();
        self.bodies.lock().get(&sha).cloned()
    }

    /// SCRIPT FLUSH: forgets every script, and the Lua state with them.
    pub fn flush(&self) {
        self.bodies.lock().clear();
        *self.vm.lock() = None;
    }

    /// INFO's `number_of_cached_scripts`.
    pub fn count(&self) -> usize {
        self.bodies.lock().len()
    }

    /// INFO's `used_memory_lua`: the Lua state's heap (Redis counts an empty state's,
    /// about 30 KB, before any script).
    pub fn lua_memory(&self) -> usize {
        self.vm
            .try_lock()
            .map_or(0, |vm| vm.as_ref().map_or(0, |vm| vm.lua.used_memory()))
    }

    /// Whether a script has been running for `threshold` or longer; and if one runs
    /// but not that long yet, how long until it has.
    pub fn busy(&self, threshold: Duration) -> Busy {
        match &*self.running.lock() {
            None => Busy::Idle,
            Some(r) => match threshold.checked_sub(r.started.elapsed()) {
                Some(left) if !left.is_zero() => Busy::Running(left),
                _ => Busy::Busy,
            },
        }
    }

    /// SCRIPT KILL.
    pub fn kill(&self) -> Kill {
        match &*self.running.lock() {
            None => Kill::NotBusy,
            Some(r) if r.wrote.load(Ordering::Acquire) => Kill::Unkillable,
            Some(r) => {
                r.killed.store(true, Ordering::Release);
                Kill::Killed
            }
        }
    }

    /// Stops the running script even if it wrote (SHUTDOWN NOSAVE: the writes are
    /// not kept anyway).
    pub fn abort(&self) {
        if let Some(r) = &*self.running.lock() {
            r.killed.store(true, Ordering::Release);
        }
    }

    fn with_vm<R>(&self, f: impl FnOnce(&mut Vm) -> Result<R, String>) -> Result<R, String> {
        let mut vm = self.vm.lock();
        if vm.is_none() {
            *vm = Some(Vm::new().map_err(|e| format!("cannot start Lua: {e}"))?);
        }
        match vm.as_mut() {
            Some(vm) => f(vm),
            None => Err("cannot start Lua".into()),
        }
    }
}

/// Whether a script holds the node, by `busy-reply-threshold`.
pub enum Busy {
    /// No script runs.
    Idle,
    /// One runs, and will be busy after this long.
    Running(Duration),
    /// One has run past the threshold: other clients get `-BUSY`.
    Busy,
}

/// Runs `f`, one level of a recursion as deep as a script's data (cjson, cmsgpack and
/// the conversions nest a thousand levels, more if a script raises cjson's limits), on
/// a stack grown as it needs.
fn nested<R>(f: impl FnOnce() -> R) -> R {
    stacker::maybe_grow(64 * 1024, 1024 * 1024, f)
}

/// The SHA1 of `body` in lower-case hex, as SCRIPT LOAD returns it.
pub fn sha1hex(body: &[u8]) -> String {
    Sha1::digest(body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether Redis lets this command through while a script is busy (its
/// `allow_busy` commands; SHUTDOWN only with NOSAVE). An unknown command goes through
/// too, to be answered as unknown.
pub fn allowed_while_busy(args: &[Bytes]) -> bool {
    let is = |name: &str| args[0].eq_ignore_ascii_case(name.as_bytes());
    let sub = |name: &str| {
        args.get(1)
            .is_some_and(|a| a.eq_ignore_ascii_case(name.as_bytes()))
    };
    table::lookup(&args[0]).is_none()
        || [
            "auth", "discard", "hello", "multi", "quit", "reset", "unwatch", "watch",
        ]
        .iter()
        .any(|n| is(n))
        || (is("script") && sub("kill"))
        || (is("shutdown") && args[1..].iter().any(|a| a.eq_ignore_ascii_case(b"nosave")))
}

/// Marks the node as running a script until dropped.
struct RunningGuard<'a> {
    scripts: &'a Scripts,
}

impl Drop for RunningGuard<'_> {
    fn drop(&mut self) {
        *self.scripts.running.lock() = None;
    }
}

/// A script to run: its SHA1 and body, its keys and arguments.
pub struct Script<'a> {
    pub sha: &'a str,
    pub body: &'a Bytes,
    pub keys: &'a [Bytes],
    pub argv: &'a [Bytes],
    /// EVAL_RO / EVALSHA_RO: write commands are refused.
    pub read_only: bool,
}

/// Runs `script` for `ctx`'s client and writes its reply. The caller holds the
/// keyspace's gate alone (see the module docs).
pub fn run(ctx: &mut Ctx<'_>, script: Script<'_>) {
    let shared: &Arc<Shared> = ctx.shared;
    let scripts = &shared.scripts;
    let running = Arc::new(Running::new());
    *scripts.running.lock() = Some(running.clone());
    let _running = RunningGuard { scripts };
    let db = ctx.client.db;
    let deny_blocking = std::mem::replace(&mut ctx.client.deny_blocking, true);
    ctx.client.in_script = true;
    let proto = ctx.out.proto;
    let mut reply = ReplyWriter::new(proto);
    let outcome = scripts.with_vm(|vm| {
        let function = vm
            .function(script.sha, script.body)
            .map_err(|e| format!("ERR Error compiling script (new function): {e}"))?;
        vm.resp.store(2, Ordering::Relaxed);
        let hook = running.clone();
        vm.lua.set_hook(
            HookTriggers::new().every_nth_instruction(HOOK_EVERY),
            move |_, debug| {
                if hook.killed.load(Ordering::Acquire) {
                    hook.killed_at.store(debug.curr_line(), Ordering::Relaxed);
                    return Err(mlua::Error::runtime(
                        "Script killed by user with SCRIPT KILL...",
                    ));
                }
                Ok(VmState::Continue)
            },
        );
        let limits = Limits {
            read_only: script.read_only,
            out_of_memory: cmd::over_maxmemory(ctx.config),
        };
        let result = run_in(
            vm,
            &script,
            &running,
            function,
            &mut reply,
            |lua, args, resp3| call_command(ctx, args, lua, &limits, &running, resp3),
        );
        vm.lua.remove_hook();
        result.map_err(|e| format!("ERR {e}"))
    });
    ctx.client.set_db(db);
    ctx.client.deny_blocking = deny_blocking;
    ctx.client.in_script = false;
    match outcome {
        Ok(()) => ctx.out.out.extend_from_slice(&reply.out),
        Err(e) => ctx.out.error(e),
    }
}

/// Runs `body` with `argv` (and no keys) in a Lua state of its own with no server
/// behind it: `redis.call` fails, saying so. Returns the reply in RESP2. The fuzz
/// target of the libraries' decoders runs scripts so, as the unit tests do.
pub fn run_alone(body: &[u8], argv: &[Bytes]) -> bytes::BytesMut {
    let mut reply = ReplyWriter::new(Protocol::Resp2);
    let sha = sha1hex(body);
    let body = Bytes::copy_from_slice(body);
    let script = Script {
        sha: &sha,
        body: &body,
        keys: &[],
        argv,
        read_only: true,
    };
    let outcome = Vm::new().map_err(|e| e.to_string()).and_then(|mut vm| {
        let function = vm.function(&sha, &body)?;
        let no_server = |_: &mlua::Lua, _: &MultiValue, _: bool| {
            let text = Bytes::from_static(b"ERR no server behind this script");
            (crate::resp::Frame::Error(text), true)
        };
        run_in(
            &vm,
            &script,
            &Running::new(),
            function,
            &mut reply,
            no_server,
        )
        .map_err(|e| e.to_string())
    });
    if let Err(e) = outcome {
        reply.error(format!("ERR {e}"));
    }
    reply.out
}

/// Runs the compiled script in the sandbox, `redis.call` handing its arguments to
/// `call` (which returns the command's reply and whether it failed), and writes its
/// reply (or its error) into `reply`.
fn run_in(
    vm: &Vm,
    script: &Script<'_>,
    running: &Running,
    function: Function,
    reply: &mut ReplyWriter,
    mut call: impl FnMut(&mlua::Lua, &MultiValue, bool) -> (crate::resp::Frame, bool),
) -> mlua::Result<()> {
    let lua = &vm.lua;
    let runner = vm.runner()?;
    let strings = |items: &[Bytes]| {
        let strings = items.iter().map(|item| lua.create_string(item));
        lua.create_sequence_from(strings.collect::<mlua::Result<Vec<_>>>()?)
    };
    runner
        .get::<Function>("set_arguments")?
        .call::<()>((strings(script.keys)?, strings(script.argv)?))?;
    let set_dispatch: Function = runner.get("set_dispatch")?;
    let run: Function = runner.get("run")?;
    let resp = vm.resp.clone();
    lua.scope(|scope| {
        let dispatch = scope.create_function_mut(|lua, args: MultiValue| {
            let resp3 = resp.load(Ordering::Relaxed) == 3;
            let (frame, failed) = call(lua, &args, resp3);
            Ok((convert::reply_to_lua(lua, frame, resp3)?, failed))
        })?;
        set_dispatch.call::<()>(dispatch)?;
        let (ok, result): (bool, mlua::Table) = run.call(function)?;
        let value = vm::exact_get(&result, 1)?;
        set_dispatch.call::<()>(Value::Nil)?;
        let resp3 = resp.load(Ordering::Relaxed) == 3;
        if ok {
            convert::lua_to_reply(lua, reply, &value, resp3);
        } else {
            write_error(reply, script.sha, &value, running);
        }
        Ok(())
    })
}

/// The reply to a script that raised `err` (the sandbox's error table): its message,
/// then where it was raised, as Redis 7.0 words it.
fn write_error(reply: &mut ReplyWriter, sha: &str, err: &Value, running: &Running) {
    let field = |name: &str| match err {
        Value::Table(t) => t.raw_get::<Value>(name).unwrap_or(Value::Nil),
        _ => Value::Nil,
    };
    let line = match field("line") {
        Value::Number(n) => Some(n as i64),
        Value::Integer(n) => Some(n),
        _ => None,
    };
    let message = if running.killed.load(Ordering::Acquire) {
        "ERR Script killed by user with SCRIPT KILL...".to_owned()
    } else {
        match field("err") {
            Value::String(s) => s.to_string_lossy(),
            _ => "ERR the script failed".to_owned(),
        }
    };
    let line = line.or_else(|| {
        let at = running.killed_at.load(Ordering::Relaxed);
        (at > 0).then_some(i64::from(at))
    });
    match (field("source"), line) {
        (Value::String(source), Some(line)) => reply.error(format!(
            "{message} script: {sha}, on {}:{line}.",
            source.to_string_lossy()
        )),
        _ => reply.error(format!("{message} script: {sha}.")),
    }
}

/// What a script may not do, fixed when it starts.
struct Limits {
    /// EVAL_RO / EVALSHA_RO: no write command.
    read_only: bool,
    /// RAM was over `maxmemory` (once the tier could not make room): no command that
    /// may grow memory (Redis's `pre_command_oom_state`).
    out_of_memory: bool,
}

/// Runs one `redis.call` / `redis.pcall`: checks it as Redis does for a script, runs
/// it through the command table on the script's client, and returns its reply and
/// whether it failed (an error `redis.call` raises).
fn call_command(
    ctx: &mut Ctx<'_>,
    args: &MultiValue,
    lua: &mlua::Lua,
    limits: &Limits,
    running: &Running,
    resp3: bool,
) -> (crate::resp::Frame, bool) {
    let refuse = |text: &str| {
        (
            crate::resp::Frame::Error(Bytes::from(text.to_owned())),
            true,
        )
    };
    if args.is_empty() {
        return refuse("ERR Please specify at least one argument for this redis lib call");
    }
    let mut argv: Vec<Bytes> = Vec::with_capacity(args.len());
    for arg in args.iter() {
        let text = match vm::is_argument(arg) {
            true => lua.coerce_string(arg.clone()).ok().flatten(),
            false => None,
        };
        match text {
            Some(text) => argv.push(Bytes::copy_from_slice(&text.as_bytes())),
            None => {
                return refuse("ERR Lua redis lib command arguments must be strings or integers")
            }
        }
    }
    let Some(spec) = table::resolve(&argv) else {
        return refuse("ERR Unknown Redis command called from script");
    };
    let container = table::lookup(&argv[0]).is_some_and(|c| !c.subcommands.is_empty());
    let arity_ok = match container {
        true => {
            table::lookup(&argv[0]).is_some_and(|c| c.arity_ok(argv.len()))
                && spec.arity_ok(argv.len())
        }
        false => spec.arity_ok(argv.len()),
    };
    if !arity_ok {
        return refuse("ERR Wrong number of args calling Redis command from script");
    }
    if spec.flags.contains(Flags::NO_SCRIPT) {
        return refuse("ERR This Redis command is not allowed from script");
    }
    let mut out = ReplyWriter::new(if resp3 {
        Protocol::Resp3
    } else {
        Protocol::Resp2
    });
    let mut call = Ctx {
        args: &argv,
        out: &mut out,
        client: &mut *ctx.client,
        shared: ctx.shared,
        config: ctx.config,
        now: ctx.now,
        cold: &mut *ctx.cold,
    };
    // ACL first (the denial is the reply), then what a script may not do.
    if cmd::script_permits(&mut call) {
        let writes = spec.flags.contains(Flags::WRITE);
        if writes && limits.read_only {
            return refuse("ERR Write commands are not allowed from read-only scripts.");
        }
        if limits.out_of_memory && spec.flags.contains(Flags::DENYOOM) {
            return refuse(cmd::OOM_ERROR);
        }
        if writes {
            running.wrote.store(true, Ordering::Release);
        }
        cmd::execute(&mut call);
    }
    if let Some(key) = ctx.cold.take_missed().first() {
        let text = format!(
            "ERR the value of key '{}' is in the cold tier; name it in the script's KEYS so \
             that it is loaded first",
            String::from_utf8_lossy(key)
        );
        return (crate::resp::Frame::Error(Bytes::from(text)), true);
    }
    match decode_frame(&out.out, DEFAULT_MAX_DEPTH) {
        Ok(Some((frame, _))) => {
            let failed = matches!(frame, crate::resp::Frame::Error(_));
            (frame, failed)
        }
        _ => refuse("ERR the command's reply could not be read"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha1_as_redis() {
        assert_eq!(sha1hex(b""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        assert_eq!(
            sha1hex(b"return 1"),
            "e0e1f9fabfc9d4800c877a703b823ac0578ff8db"
        );
    }

    #[test]
    fn busy_allow_list() {
        let args = |a: &[&'static str]| -> Vec<Bytes> {
            a.iter().map(|s| Bytes::from_static(s.as_bytes())).collect()
        };
        assert!(allowed_while_busy(&args(&["SCRIPT", "KILL"])));
        assert!(allowed_while_busy(&args(&["shutdown", "NOSAVE"])));
        assert!(!allowed_while_busy(&args(&["shutdown"])));
        assert!(!allowed_while_busy(&args(&["get", "x"])));
        assert!(!allowed_while_busy(&args(&["script", "load", "x"])));
        assert!(allowed_while_busy(&args(&["nosuchcommand"])));
    }
}
