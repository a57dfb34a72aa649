//! Connection commands: PING, ECHO, QUIT, RESET, SELECT, AUTH, HELLO and CLIENT (ID,
//! GETNAME, SETNAME, LIST, INFO, KILL, NO-EVICT, HELP), with Redis 7.0's replies and
//! errors. AUTH and HELLO AUTH check the credentials against the ACL users.

use super::table::{CommandSpec, Flags, KeySpec};
use super::{dispatch_subcommand, reply_help, Ctx};
use crate::acl::log::Reason;
use crate::blocking::Unblock;
use crate::client::ClientHandle;
use crate::num::parse_i64;
use crate::resp::Protocol;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;

/// The Redis version tierd reports (HELLO, INFO's `redis_version`).
pub(crate) const REDIS_VERSION: &str = "7.0.15";

const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";
const AUTH_WITHOUT_PASSWORD: &str = "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?";
const HELLO_NOAUTH: &str = "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time";
const BAD_CLIENT_NAME: &str =
    "ERR Client names cannot contain spaces, newlines or special characters.";

/// The read buffer a connection starts with, for CLIENT LIST's `rbs=` and `qbuf-free=`
/// (the connection reads in chunks of this size).
const READ_BUFFER: usize = 16 * 1024;

/// PING and friends run before authentication and while loading (Redis adds NOSCRIPT
/// and ALLOW_BUSY, which tierd does not model).
const HANDSHAKE: Flags = Flags::LOADING
    .union(Flags::STALE)
    .union(Flags::FAST)
    .union(Flags::NO_AUTH);
const CONN_FAST: Flags = Flags::LOADING.union(Flags::STALE).union(Flags::FAST);
const CLIENT_SUB: Flags = Flags::LOADING.union(Flags::STALE);
const CLIENT_ADMIN: Flags = CLIENT_SUB.union(Flags::ADMIN);

pub(super) const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "auth",
        arity: -2,
        flags: HANDSHAKE
            .union(Flags::NO_SLOWLOG_ARGS)
            .union(Flags::NO_SCRIPT),
        keys: KeySpec::NONE,
        group: "connection",
        summary: "Authenticate to the server",
        since: "1.0.0",
        complexity: "O(N) where N is the number of passwords defined for the user",
        syntax: "[username] password",
        handler: auth,
        subcommands: &[],
    },
    CommandSpec {
        name: "client",
        arity: -2,
        flags: Flags::NONE,
        keys: KeySpec::NONE,
        group: "connection",
        summary: "A container for client connection commands",
        since: "2.4.0",
        complexity: "Depends on subcommand.",
        syntax: "",
        handler: dispatch_subcommand,
        subcommands: CLIENT_SUBCOMMANDS,
    },
    CommandSpec {
        name: "echo",
        arity: 2,
        flags: CONN_FAST,
        keys: KeySpec::NONE,
        group: "connection",
        summary: "Echo the given string",
        since: "1.0.0",
        complexity: "O(1)",
        syntax: "message",
        handler: echo,
        subcommands: &[],
    },
    CommandSpec {
        name: "hello",
        arity: -1,
        flags: HANDSHAKE
            .union(Flags::NO_SLOWLOG_ARGS)
            .union(Flags::NO_SCRIPT),
        keys: KeySpec::NONE,
        group: "connection",
        summary: "Handshake with Redis",
        since: "6.0.0",
        complexity: "O(1)",
        syntax: "[protover [AUTH username password] [SETNAME clientname]]",
        handler: hello,
        subcommands: &[],
    },
    CommandSpec {
        name: "ping",
        arity: -1,
        flags: Flags::FAST,
        keys: KeySpec::NONE,
        group: "connection",
        summary: "Ping the server",
        since: "1.0.0",
        complexity: "O(1)",
        syntax: "[message]",
        handler: ping,
        subcommands: &[],
    },
    CommandSpec {
        name: "quit",
        arity: -1,
        flags: HANDSHAKE.union(Flags::NO_SCRIPT),
        keys: KeySpec::NONE,
        group: "connection",
        summary: "Close the connection",
        since: "1.0.0",
        complexity: "O(1)",
        syntax: "",
        handler: quit,
        subcommands: &[],
    },
    CommandSpec {
        name: "reset",
        arity: 1,
        flags: HANDSHAKE.union(Flags::NO_SCRIPT),
        keys: KeySpec::NONE,
        group: "connection",
        summary: "Reset the connection",
        since: "6.2.0",
        complexity: "O(1)",
        syntax: "",
        handler: reset,
        subcommands: &[],
    },
    CommandSpec {
        name: "select",
        arity: 2,
        flags: CONN_FAST,
        keys: KeySpec::NONE,
        group: "connection",
        summary: "Change the selected database for the current connection",
        since: "1.0.0",
        complexity: "O(1)",
        syntax: "index",
        handler: select,
        subcommands: &[],
    },
];

const CLIENT_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "getname",
        arity: 2,
        flags: CLIENT_SUB.union(Flags::NO_SCRIPT),
        keys: KeySpec::NONE,
        group: "connection",
        summary: "Get the current connection name",
        since: "2.6.9",
        complexity: "O(1)",
        syntax: "",
        handler: client_getname,
        subcommands: &[],
    },
    CommandSpec::help("connection", "5.0.0", client_help),
    CommandSpec {
        name: "id",
        arity: 2,
        flags: CLIENT_SUB.union(Flags::NO_SCRIPT),
        keys: KeySpec::NONE,
        group: "connection",
        summary: "Returns the client ID for the current connection",
        since: "5.0.0",
        complexity: "O(1)",
        syntax: "",
        handler: client_id,
        subcommands: &[],
    },
    CommandSpec {
        name: "info",
        arity: 2,
        flags: CLIENT_SUB.union(Flags::NONDETERMINISTIC).union(Flags::NO_SCRIPT),
        keys: KeySpec::NONE,
        group: "connection",
        summary: "Returns information about the current client connection.",
        since: "6.2.0",
        complexity: "O(1)",
        syntax: "",
        handler: client_info_command,
        subcommands: &[],
    },
    CommandSpec {
        name: "kill",
        arity: -3,
        flags: CLIENT_ADMIN.union(Flags::NO_SCRIPT),
        keys: KeySpec::NONE,
        group: "connection",
        summary: "Kill the connection of a client",
        since: "2.4.0",
        complexity: "O(N) where N is the number of client connections",
        syntax: "<ip:port | <[ID client-id] | [TYPE <NORMAL | MASTER | SLAVE | REPLICA | PUBSUB>] | [USER username] | [ADDR ip:port] | [LADDR ip:port] | [SKIPME yes/no]> [[ID client-id] | [TYPE <NORMAL | MASTER | SLAVE | REPLICA | PUBSUB>] | [USER username] | [ADDR ip:port] | [LADDR ip:port] | [SKIPME yes/no] ...]>",
        handler: client_kill,
        subcommands: &[],
    },
    CommandSpec {
        name: "list",
        arity: -2,
        flags: CLIENT_ADMIN.union(Flags::NONDETERMINISTIC).union(Flags::NO_SCRIPT),
        keys: KeySpec::NONE,
        group: "connection",
        summary: "Get the list of client connections",
        since: "2.4.0",
        complexity: "O(N) where N is the number of client connections",
        syntax: "[TYPE <NORMAL | MASTER | REPLICA | PUBSUB>] [ID client-id [client-id ...]]",
        handler: client_list,
        subcommands: &[],
    },
    CommandSpec {
        name: "no-evict",
        arity: 3,
        flags: CLIENT_ADMIN.union(Flags::NO_SCRIPT),
        keys: KeySpec::NONE,
        group: "connection",
        summary: "Set client eviction mode for the current connection",
        since: "7.0.0",
        complexity: "O(1)",
        syntax: "<ON | OFF>",
        handler: client_no_evict,
        subcommands: &[],
    },
    CommandSpec {
        name: "setname",
        arity: 3,
        flags: CLIENT_SUB.union(Flags::NO_SCRIPT),
        keys: KeySpec::NONE,
        group: "connection",
        summary: "Set the current connection name",
        since: "2.6.9",
        complexity: "O(1)",
        syntax: "connection-name",
        handler: client_setname,
        subcommands: &[],
    },
    CommandSpec {
        name: "unblock",
        arity: -3,
        flags: CLIENT_ADMIN.union(Flags::NO_SCRIPT),
        keys: KeySpec::NONE,
        group: "connection",
        summary: "Unblock a client blocked in a blocking command from a different connection",
        since: "5.0.0",
        complexity: "O(log N) where N is the number of client connections",
        syntax: "client-id [TIMEOUT | ERROR]",
        handler: client_unblock,
        subcommands: &[],
    },
];

fn ping(ctx: &mut Ctx<'_>) {
    if ctx.args.len() > 2 {
        return ctx.wrong_arity("ping");
    }
    // In RESP2's subscribed mode a reply must look like a message: `[pong, message]`.
    if ctx.client.in_pubsub_mode() {
        ctx.out.array_len(2);
        ctx.out.bulk(b"pong");
        return ctx.out.bulk(ctx.args.get(1).map_or(&b""[..], |m| &m[..]));
    }
    match ctx.args {
        [_, message] => ctx.out.bulk(message),
        _ => ctx.out.simple("PONG"),
    }
}

fn echo(ctx: &mut Ctx<'_>) {
    ctx.out.bulk(&ctx.args[1]);
}

fn quit(ctx: &mut Ctx<'_>) {
    ctx.out.ok();
    ctx.client.close_after_reply = true;
}

fn reset(ctx: &mut Ctx<'_>) {
    let default = ctx.shared.acl.default_user().clone();
    ctx.client.reset(default.rules().needs_no_auth());
    ctx.client.set_user(default);
    ctx.out.proto = Protocol::Resp2;
    ctx.out.simple("RESET");
}

fn select(ctx: &mut Ctx<'_>) {
    let args = ctx.args;
    if let Some(db) = ctx.parse_db_index(&args[1]) {
        ctx.client.set_db(db);
        ctx.out.ok();
    }
}

fn auth(ctx: &mut Ctx<'_>) {
    ctx.client.hide_from_slowlog = true;
    let (user, password) = match ctx.args {
        [_, password] => {
            if ctx.shared.acl.default_user().rules().nopass {
                return ctx.out.error(AUTH_WITHOUT_PASSWORD);
            }
            (crate::acl::DEFAULT_USER, password)
        }
        [_, user, password] => (&user[..], password),
        _ => return ctx.syntax_error(),
    };
    if authenticate(ctx, user, password) {
        ctx.out.ok();
    } else {
        ctx.out.error(WRONGPASS);
    }
}

/// Checks credentials against the ACL users (the password's SHA-256 compared with
/// each of the user's in constant time). Success makes the client that user's; failure
/// leaves its state as it was and is recorded in the ACL log.
fn authenticate(ctx: &mut Ctx<'_>, user: &[u8], password: &[u8]) -> bool {
    match ctx.shared.acl.authenticate(user, password) {
        Some(found) => {
            ctx.client.authenticated = true;
            ctx.client.set_user(found);
            true
        }
        None => {
            let command = ctx.args[0].to_vec();
            super::acl::record_denial(ctx, Reason::Auth, command, user.to_vec());
            false
        }
    }
}

/// `HELLO [protover [AUTH username password] [SETNAME clientname]]`. As Redis 7.0:
/// options are handled in order (AUTH authenticates at once, SETNAME is checked at
/// once and applied once the client is authenticated), then the protocol switches and
/// the reply comes in the new protocol.
fn hello(ctx: &mut Ctx<'_>) {
    let args = ctx.args;
    let mut proto = None;
    if let Some(version) = args.get(1) {
        proto = match parse_i64(version) {
            None => {
                return ctx
                    .out
                    .error("ERR Protocol version is not an integer or out of range")
            }
            Some(2) => Some(Protocol::Resp2),
            Some(3) => Some(Protocol::Resp3),
            Some(_) => return ctx.out.error("NOPROTO unsupported protocol version"),
        };
    }
    let mut name = None;
    let mut i = 2;
    while i < args.len() {
        let more = args.len() - 1 - i;
        let option = &args[i];
        if option.eq_ignore_ascii_case(b"AUTH") && more >= 2 {
            ctx.client.hide_from_slowlog = true;
            if !authenticate(ctx, &args[i + 1], &args[i + 2]) {
                return ctx.out.error(WRONGPASS);
            }
            i += 3;
        } else if option.eq_ignore_ascii_case(b"SETNAME") && more >= 1 {
            if !valid_client_name(&args[i + 1]) {
                return ctx.out.error(BAD_CLIENT_NAME);
            }
            name = Some(&args[i + 1]);
            i += 2;
        } else {
            return quoted_error(ctx, "ERR Syntax error in HELLO option ", option);
        }
    }
    if !ctx.client.authenticated {
        return ctx.out.error(HELLO_NOAUTH);
    }
    if let Some(name) = name {
        set_client_name(&ctx.client.handle, name);
    }
    if let Some(proto) = proto {
        ctx.out.proto = proto;
        ctx.client
            .handle
            .resp
            .store(resp_version(proto), Ordering::Relaxed);
    }
    let id = ctx.client.handle.id as i64;
    let proto = resp_version(ctx.out.proto);
    let out = &mut *ctx.out;
    out.map_len(7);
    out.bulk(b"server");
    out.bulk(b"redis");
    out.bulk(b"version");
    out.bulk(REDIS_VERSION.as_bytes());
    out.bulk(b"proto");
    out.integer(i64::from(proto));
    out.bulk(b"id");
    out.integer(id);
    out.bulk(b"mode");
    out.bulk(b"standalone");
    out.bulk(b"role");
    out.bulk(b"master");
    out.bulk(b"modules");
    out.array_len(0);
}

fn resp_version(proto: Protocol) -> u8 {
    match proto {
        Protocol::Resp2 => 2,
        Protocol::Resp3 => 3,
    }
}

/// Writes `prefix'arg'` as an error, with the client's bytes as they came (Redis's
/// `'%s'`).
fn quoted_error(ctx: &mut Ctx<'_>, prefix: &str, arg: &[u8]) {
    let mut msg = Vec::with_capacity(prefix.len() + arg.len() + 2);
    msg.extend_from_slice(prefix.as_bytes());
    msg.push(b'\'');
    msg.extend_from_slice(arg);
    msg.push(b'\'');
    ctx.out.error(msg);
}

/// Redis's rule: a client name is empty (no name) or printable ASCII without spaces,
/// so that CLIENT LIST lines split on spaces.
fn valid_client_name(name: &[u8]) -> bool {
    name.iter().all(|b| (b'!'..=b'~').contains(b))
}

/// Sets a validated name; the empty name removes it.
fn set_client_name(handle: &ClientHandle, name: &[u8]) {
    *handle.name.lock() = (!name.is_empty()).then(|| name.to_vec());
}

fn client_id(ctx: &mut Ctx<'_>) {
    ctx.out.integer(ctx.client.handle.id as i64);
}

fn client_getname(ctx: &mut Ctx<'_>) {
    match ctx.client.handle.name.lock().as_deref() {
        Some(name) => ctx.out.bulk(name),
        None => ctx.out.null(),
    }
}

fn client_setname(ctx: &mut Ctx<'_>) {
    if !valid_client_name(&ctx.args[2]) {
        return ctx.out.error(BAD_CLIENT_NAME);
    }
    set_client_name(&ctx.client.handle, &ctx.args[2]);
    ctx.out.ok();
}

fn client_no_evict(ctx: &mut Ctx<'_>) {
    let arg = &ctx.args[2];
    let on = if arg.eq_ignore_ascii_case(b"on") {
        true
    } else if arg.eq_ignore_ascii_case(b"off") {
        false
    } else {
        return ctx.syntax_error();
    };
    ctx.client.handle.no_evict.store(on, Ordering::Relaxed);
    ctx.out.ok();
}

/// CLIENT UNBLOCK id [TIMEOUT|ERROR]: ends the wait of a client blocked on keys, as
/// if its timeout expired (or with an error). Replies 1 if it was blocked, else 0.
fn client_unblock(ctx: &mut Ctx<'_>) {
    let args = ctx.args;
    if args.len() > 4 {
        return ctx.subcommand_syntax_error();
    }
    let reason = match args.get(3) {
        None => Unblock::Timeout,
        Some(r) if r.eq_ignore_ascii_case(b"timeout") => Unblock::Timeout,
        Some(r) if r.eq_ignore_ascii_case(b"error") => Unblock::Error,
        Some(_) => {
            return ctx
                .out
                .error("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
        }
    };
    let Some(id) = parse_i64(&args[2]) else {
        return ctx.not_integer();
    };
    let target = u64::try_from(id)
        .ok()
        .and_then(|id| ctx.shared.clients.get(id));
    let unblocked = target.is_some_and(|t| t.request_unblock(reason));
    ctx.out.integer(i64::from(unblocked));
}

/// Redis's client types (`TYPE` of CLIENT LIST and CLIENT KILL). Every tierd connection
/// is a normal one until pub/sub and replication exist.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ClientType {
    Normal,
    Replica,
    PubSub,
    Master,
}

impl ClientType {
    /// Redis's `getClientTypeByName`.
    fn parse(name: &[u8]) -> Option<ClientType> {
        const NAMES: [(&[u8], ClientType); 5] = [
            (b"normal", ClientType::Normal),
            (b"slave", ClientType::Replica),
            (b"replica", ClientType::Replica),
            (b"pubsub", ClientType::PubSub),
            (b"master", ClientType::Master),
        ];
        NAMES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|&(_, t)| t)
    }

    fn of(_client: &ClientHandle) -> ClientType {
        ClientType::Normal
    }
}

/// Parses a `TYPE` argument, writing Redis's error when it names no type.
fn parse_client_type(ctx: &mut Ctx<'_>, name: &[u8]) -> Option<ClientType> {
    let parsed = ClientType::parse(name);
    if parsed.is_none() {
        quoted_error(ctx, "ERR Unknown client type ", name);
    }
    parsed
}

/// What only the connection running CLIENT LIST / INFO knows about itself.
struct Current {
    id: u64,
    /// Bytes of the arguments of the command running now (`argv-mem=`).
    argv_mem: usize,
    /// Bytes of replies not yet written (`obl=`).
    output: usize,
    closing: bool,
    command: &'static str,
}

impl Current {
    fn of(ctx: &Ctx<'_>) -> Current {
        Current {
            id: ctx.client.handle.id,
            argv_mem: ctx.args.iter().map(|a| a.len()).sum(),
            output: ctx.out.out.len(),
            closing: ctx.client.close_after_reply,
            command: ctx.client.last_command,
        }
    }
}

/// Appends one CLIENT LIST line (without its newline) in Redis 7.0's format. Buffer
/// sizes are tierd's where it knows them, approximations where it does not.
fn client_line(text: &mut String, client: &ClientHandle, current: &Current, now: u64) {
    let me = client.id == current.id;
    let mut flags = String::new();
    let [sub, psub, ssub] = [0, 1, 2].map(|i| client.subscribed[i].load(Ordering::Relaxed));
    if sub + psub + ssub > 0 {
        flags.push('P');
    }
    let multi = client.multi.load(Ordering::Relaxed);
    if multi >= 0 {
        flags.push('x');
    }
    if client.blocked.load(Ordering::Relaxed) {
        flags.push('b');
    }
    if client.watch_flag.load(Ordering::Relaxed) {
        flags.push('d');
    }
    if me && current.closing {
        flags.push('c');
    }
    if client.no_evict.load(Ordering::Relaxed) {
        flags.push('e');
    }
    if flags.is_empty() {
        flags.push('N');
    }
    let idle = if me {
        0
    } else {
        now.saturating_sub(client.last_interaction.load(Ordering::Relaxed)) / 1000
    };
    let (argv_mem, output, command) = if me {
        (current.argv_mem, current.output, current.command)
    } else {
        (0, 0, *client.last_command.lock())
    };
    let qbuf = client.query_buffer.load(Ordering::Relaxed);
    let rbs = READ_BUFFER.max(qbuf);
    let tot_mem = rbs + argv_mem + output + std::mem::size_of::<ClientHandle>();
    let name = client.name.lock();
    let name = String::from_utf8_lossy(name.as_deref().unwrap_or_default());
    let user = client.user.lock().clone();
    let user = String::from_utf8_lossy(&user.name);
    // Writing to a String cannot fail.
    let _ = write!(
        text,
        "id={} addr={} laddr={} fd={} name={name} age={} idle={idle} flags={flags} db={} \
         sub={sub} psub={psub} ssub={ssub} multi={multi} qbuf={qbuf} qbuf-free={} argv-mem={argv_mem} \
         multi-mem=0 rbs={rbs} rbp={rbs} obl={output} oll=0 omem=0 tot-mem={tot_mem} \
         events=r cmd={command} user={user} redir=-1 resp={}",
        client.id,
        client.addr,
        client.laddr,
        client.fd.load(Ordering::Relaxed),
        client.created.elapsed().as_secs(),
        client.db.load(Ordering::Relaxed),
        rbs - qbuf,
        client.resp.load(Ordering::Relaxed),
    );
}

/// The client running the command, as a CLIENT LIST line without its newline (CLIENT
/// INFO, the ACL log).
pub(super) fn client_info(ctx: &Ctx<'_>) -> String {
    let mut text = String::new();
    client_line(&mut text, &ctx.client.handle, &Current::of(ctx), ctx.now);
    text
}

fn client_info_command(ctx: &mut Ctx<'_>) {
    let mut text = client_info(ctx);
    text.push('\n');
    ctx.out.verbatim(b"txt", text.as_bytes());
}

/// `CLIENT LIST [TYPE type | ID id ...]`.
fn client_list(ctx: &mut Ctx<'_>) {
    let args = ctx.args;
    let clients = match args.get(2) {
        None => ctx.shared.clients.all(),
        Some(opt) if args.len() == 4 && opt.eq_ignore_ascii_case(b"TYPE") => {
            let Some(wanted) = parse_client_type(ctx, &args[3]) else {
                return;
            };
            let mut all = ctx.shared.clients.all();
            all.retain(|c| ClientType::of(c) == wanted);
            all
        }
        Some(opt) if args.len() > 3 && opt.eq_ignore_ascii_case(b"ID") => {
            let mut found = Vec::new();
            for arg in &args[3..] {
                let Some(id) = parse_i64(arg) else {
                    return ctx.out.error("ERR Invalid client ID");
                };
                found.extend(
                    u64::try_from(id)
                        .ok()
                        .and_then(|id| ctx.shared.clients.get(id)),
                );
            }
            found
        }
        Some(_) => return ctx.syntax_error(),
    };
    let current = Current::of(ctx);
    let mut text = String::new();
    for client in &clients {
        client_line(&mut text, client, &current, ctx.now);
        text.push('\n');
    }
    ctx.out.verbatim(b"txt", text.as_bytes());
}

/// Which clients CLIENT KILL closes.
struct KillFilter<'a> {
    addr: Option<&'a [u8]>,
    laddr: Option<&'a [u8]>,
    user: Option<&'a [u8]>,
    id: Option<u64>,
    client_type: Option<ClientType>,
    skip_me: bool,
}

impl KillFilter<'_> {
    /// Whether `client` matches every given filter (SKIPME aside).
    fn matches(&self, client: &ClientHandle) -> bool {
        self.addr
            .is_none_or(|a| client.addr.to_string().as_bytes() == a)
            && self
                .laddr
                .is_none_or(|a| client.laddr.to_string().as_bytes() == a)
            && self.id.is_none_or(|id| client.id == id)
            && self.user.is_none_or(|u| client.user.lock().name == u)
            && self.client_type.is_none_or(|t| ClientType::of(client) == t)
    }
}

/// Parses CLIENT KILL's `option value` pairs, writing Redis's error when they are wrong.
fn parse_kill_filter<'a>(ctx: &mut Ctx<'_>, pairs: &'a [bytes::Bytes]) -> Option<KillFilter<'a>> {
    let mut filter = KillFilter {
        addr: None,
        laddr: None,
        user: None,
        id: None,
        client_type: None,
        skip_me: true,
    };
    for pair in pairs.chunks(2) {
        let [option, value] = pair else {
            ctx.syntax_error();
            return None;
        };
        let option = option.to_ascii_lowercase();
        match option.as_slice() {
            b"id" => match parse_i64(value).filter(|&id| id > 0) {
                Some(id) => filter.id = Some(id as u64),
                None => {
                    ctx.out.error("ERR client-id should be greater than 0");
                    return None;
                }
            },
            b"type" => filter.client_type = Some(parse_client_type(ctx, value)?),
            b"addr" => filter.addr = Some(value),
            b"laddr" => filter.laddr = Some(value),
            b"user" if ctx.shared.acl.user(value).is_none() => {
                quoted_error(ctx, "ERR No such user ", value);
                return None;
            }
            b"user" => filter.user = Some(value),
            b"skipme" if value.eq_ignore_ascii_case(b"yes") => filter.skip_me = true,
            b"skipme" if value.eq_ignore_ascii_case(b"no") => filter.skip_me = false,
            _ => {
                ctx.syntax_error();
                return None;
            }
        }
    }
    Some(filter)
}

/// `CLIENT KILL ip:port` (may kill the caller; +OK or an error) or `CLIENT KILL option
/// value ...` (the number killed). The caller itself is closed after its reply.
fn client_kill(ctx: &mut Ctx<'_>) {
    let args = ctx.args;
    let old_form = args.len() == 3;
    let filter = if old_form {
        KillFilter {
            addr: Some(&args[2]),
            laddr: None,
            user: None,
            id: None,
            client_type: None,
            skip_me: false,
        }
    } else {
        match parse_kill_filter(ctx, &args[2..]) {
            Some(filter) => filter,
            None => return,
        }
    };
    let me = ctx.client.handle.id;
    let mut killed = 0;
    for client in ctx.shared.clients.all() {
        if !filter.matches(&client) || (client.id == me && filter.skip_me) {
            continue;
        }
        if client.id == me {
            ctx.client.close_after_reply = true;
        } else {
            client.kill();
        }
        killed += 1;
    }
    match (old_form, killed) {
        (true, 0) => ctx.out.error("ERR No such client"),
        (true, _) => ctx.out.ok(),
        (false, n) => ctx.out.integer(n),
    }
}

fn client_help(ctx: &mut Ctx<'_>) {
    reply_help(
        ctx,
        &[
            "GETNAME",
            "    Return the name of the current connection.",
            "ID",
            "    Return the ID of the current connection.",
            "INFO",
            "    Return information about the current client connection.",
            "KILL <ip:port>",
            "    Kill connection made from <ip:port>.",
            "KILL <option> <value> [<option> <value> [...]]",
            "    Kill connections. Options are:",
            "    * ADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made from the specified address",
            "    * LADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made to specified local address",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Kill connections by type.",
            "    * USER <username>",
            "      Kill connections authenticated by <username>.",
            "    * SKIPME (YES|NO)",
            "      Skip killing current connection (default: yes).",
            "LIST [options ...]",
            "    Return information about client connections. Options:",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Return clients of specified type.",
            "SETNAME <name>",
            "    Assign the name <name> to the current connection.",
            "UNBLOCK <clientid> [TIMEOUT|ERROR]",
            "    Unblock the specified blocked client.",
            "NO-EVICT (ON|OFF)",
            "    Protect current client connection from eviction.",
        ],
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_names() {
        assert!(valid_client_name(b""));
        assert!(valid_client_name(b"a-b_c!~"));
        assert!(!valid_client_name(b"a b"));
        assert!(!valid_client_name(b"a\nb"));
        assert!(!valid_client_name("é".as_bytes()));
    }

    #[test]
    fn client_types() {
        assert!(ClientType::parse(b"SLAVE") == Some(ClientType::Replica));
        assert!(ClientType::parse(b"Normal") == Some(ClientType::Normal));
        assert!(ClientType::parse(b"other").is_none());
    }
}
