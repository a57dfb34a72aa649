-- The sandbox every script runs in, as Redis 7.0 builds it: the libraries a script may
-- use, read-only; globals that cannot be created or read when absent; the `redis`
-- table. Run once per Lua state with the Rust primitives as arguments; returns what
-- the runner needs (see vm.rs). The `debug` library is used here and then removed.
local primitives = ...
local dispatch = nil
local getinfo = debug.getinfo
local raw_pcall, raw_error, raw_next, raw_rawset, raw_rawget = pcall, error, next, rawset, rawget
local raw_type, raw_select, raw_unpack, raw_tostring = type, select, unpack, tostring
local raw_setmetatable = setmetatable
local raw_format = string.format
local globals = _G

-- Read-only tables: an empty proxy in front of the real one.
local real_of = {}
local function readonly_error()
    raw_error("Attempt to modify a readonly table", 2)
end
local function readonly(t)
    local proxy = {}
    real_of[proxy] = t
    raw_setmetatable(proxy, { __index = t, __newindex = readonly_error, __metatable = false })
    return proxy
end

local function pack(...)
    return { n = raw_select("#", ...), ... }
end

-- An error table as Redis's luaPushErrorBuff makes it: "-CODE msg" or "msg" (ERR).
local function error_table(text)
    text = raw_tostring(text)
    if text:sub(1, 1) ~= "-" then
        text = "-" .. text
    end
    local space = text:find(" ", 1, true)
    if space then
        return { err = text:sub(2, space - 1) .. " " .. text:sub(space + 1) }
    end
    return { err = "ERR " .. text:sub(2) }
end

-- Each function of `redis` that may fail is written here to return `false, result`
-- or `true, error table`, and handed to Lua as a C function (`primitives.c_function`)
-- that raises the error table: as in Redis, where they are C functions, a script's
-- `return redis.call(...)` keeps the script's frame, so errors say its line.
local function fail(message)
    return true, { err = "ERR " .. message }
end

local redis = {}
local lib = {}
-- The dispatcher runs the command and returns its reply converted, and whether it
-- failed (the reply is then an error table).
-- A command's arguments with numbers written as Redis 7.0 writes them (`%.17g`).
local function command_args(...)
    local args = pack(...)
    for i = 1, args.n do
        if raw_type(args[i]) == "number" then
            args[i] = raw_format("%.17g", args[i])
        end
    end
    return raw_unpack(args, 1, args.n)
end
lib.call = function(...)
    local reply, failed = dispatch(command_args(...))
    return failed, reply
end
lib.pcall = function(...)
    return false, (dispatch(command_args(...)))
end
-- Wrong arguments to error_reply and status_reply give an error table back (as
-- Redis, which returns it rather than raising it).
local wrong_arguments = "ERR wrong number or type of arguments"
lib.error_reply = function(...)
    local text = ...
    if raw_select("#", ...) ~= 1 or raw_type(text) ~= "string" then
        return false, { err = wrong_arguments }
    end
    return false, error_table(text)
end
lib.status_reply = function(...)
    local text = ...
    if raw_select("#", ...) ~= 1 or raw_type(text) ~= "string" then
        return false, { err = wrong_arguments }
    end
    return false, { ok = text }
end
lib.sha1hex = function(...)
    local text = ...
    if raw_select("#", ...) ~= 1 or (raw_type(text) ~= "string" and raw_type(text) ~= "number") then
        return fail("wrong number of arguments")
    end
    return false, primitives.sha1hex(raw_tostring(text))
end
redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING = 0, 1, 2, 3
lib.log = function(...)
    local args = pack(...)
    if args.n < 2 then
        return fail("redis.log() requires two arguments or more.")
    end
    local level = args[1]
    if raw_type(level) ~= "number" then
        return fail("First argument must be a number (log level).")
    end
    if level < 0 or level > 3 then
        return fail("Invalid debug level.")
    end
    local words = {}
    for i = 2, args.n do
        words[#words + 1] = raw_tostring(args[i])
    end
    primitives.log(level, table.concat(words, " "))
    return false, nil
end
lib.setresp = function(...)
    if raw_select("#", ...) ~= 1 then
        return fail("redis.setresp() requires one argument.")
    end
    local resp = ...
    if resp ~= 2 and resp ~= 3 then
        return fail("RESP version must be 2 or 3.")
    end
    primitives.setresp(resp)
    return false, nil
end
redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL = 0, 1, 2, 2, 3
-- Tier logs a script's effects whatever is asked (see docs/COMMANDS.md).
lib.set_repl = function(...)
    if raw_select("#", ...) ~= 1 then
        return fail("redis.set_repl() requires one argument.")
    end
    local flags = ...
    if raw_type(flags) ~= "number" or flags < 0 or flags > 3 then
        return fail("Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.")
    end
    return false, nil
end
lib.replicate_commands = function()
    return false, true
end
lib.breakpoint = function()
    return false, false
end
lib.debug = function()
    return false, nil
end
lib.acl_check_cmd = function(name)
    if raw_type(name) ~= "string" or not primitives.command_exists(name) then
        return fail("Invalid command passed to redis.acl_check_cmd()")
    end
    return false, true
end
for name, f in raw_next, lib do
    redis[name] = primitives.c_function(f)
end
redis.REDIS_VERSION = primitives.version
redis.REDIS_VERSION_NUM = primitives.version_num

-- Redis's error handler: where the error happened, and an error table.
-- The frame is the innermost one of the script's own code (not a C function, nor
-- this file's).
local function error_handler(err)
    local level, info = 2, getinfo(2, "nSl")
    while info and (info.what == "C" or info.source == "=[redis]") and level < 8 do
        level = level + 1
        info = getinfo(level, "nSl")
    end
    if raw_type(err) == "userdata" then
        -- Raised by a C function of `redis`, or the kill: the table it raised, if any.
        err = primitives.take_raised() or err
    end
    if raw_type(err) ~= "table" then
        err = { err = "ERR " .. raw_tostring(err) }
    elseif raw_type(err.err) ~= "string" then
        err = { err = "ERR the script raised an error that is not a string or an error table" }
    end
    if info then
        err.source = info.source
        err.line = info.currentline
    end
    return err
end

-- Redis 7.0's pcall: an error table caught comes back as its message.
local function script_pcall(f, ...)
    local result = pack(raw_pcall(f, ...))
    if not result[1] and raw_type(result[2]) == "userdata" then
        result[2] = primitives.take_raised() or result[2]
    end
    if not result[1] and raw_type(result[2]) == "table" and raw_type(result[2].err) == "string" then
        result[2] = result[2].err
    end
    return raw_unpack(result, 1, result.n)
end

local function see_through(t)
    return real_of[t] or t
end

local G = {
    _VERSION = _VERSION,
    assert = assert,
    collectgarbage = collectgarbage,
    coroutine = readonly(coroutine),
    error = error,
    gcinfo = gcinfo,
    getmetatable = getmetatable,
    ipairs = ipairs,
    load = load,
    loadstring = loadstring,
    math = readonly(math),
    next = function(t, k)
        return raw_next(see_through(t), k)
    end,
    pairs = function(t)
        return raw_next, see_through(t), nil
    end,
    pcall = script_pcall,
    rawequal = rawequal,
    rawget = function(t, k)
        return raw_rawget(see_through(t), k)
    end,
    rawset = function(t, k, v)
        if real_of[t] then
            raw_error("Attempt to modify a readonly table", 0)
        end
        return raw_rawset(t, k, v)
    end,
    redis = readonly(redis),
    select = select,
    setmetatable = setmetatable,
    string = readonly(string),
    table = readonly(table),
    tonumber = tonumber,
    tostring = tostring,
    type = type,
    unpack = unpack,
    xpcall = xpcall,
    bit = readonly(primitives.bit),
    cjson = readonly(primitives.cjson),
    cmsgpack = readonly(primitives.cmsgpack),
    struct = readonly(primitives.struct),
    __redis__err__handler = error_handler,
}

-- What scripts see as their globals: reads of absent names and every write fail.
local env = {}
real_of[env] = G
G._G = env
local protected = {
    __index = function(_, name)
        local value = G[name]
        if value == nil then
            raw_error("Script attempted to access nonexistent global variable '" .. raw_tostring(name) .. "'", 2)
        end
        return value
    end,
    __newindex = readonly_error,
    __metatable = false,
}
raw_setmetatable(env, protected)

-- Code a script loads (loadstring) runs in the state's own globals: the same names.
for name in raw_next, globals do
    globals[name] = nil
end
for name, value in raw_next, G do
    globals[name] = value
end
raw_setmetatable(globals, protected)

local runner = {}
-- Sets the function redis.call and redis.pcall hand their commands to (nil after a run).
runner.set_dispatch = function(f)
    dispatch = f
end
-- Sets KEYS and ARGV.
runner.set_arguments = function(keys, argv)
    G.KEYS = keys
    G.ARGV = argv
end
-- Runs a script's function: true and its reply, or false and an error table.
runner.run = function(f)
    local ok, result = xpcall(f, error_handler)
    -- In a table, so that a number comes out exact (see `vm::exact_get`).
    return ok, { result }
end
-- A table's keys and values, in `next`'s order, as two sequences and their length:
-- Rust walks tables through this, never through a `lua_next` of its own (whose key
-- may not survive mlua's conversion).
runner.entries = function(t)
    local keys, values, n = {}, {}, 0
    for k, v in raw_next, t do
        n = n + 1
        keys[n], values[n] = k, v
    end
    return keys, values, n
end
runner.env = env
return runner
