-- moonkv's Lua sandbox, run once on every fresh EVAL VM (chunk name "=moonkv").
--
-- Stock Lua 5.1 has no read-only tables, so they are built here: every table a
-- script can reach that must not change (the globals, each library table, the
-- string metatable, the metatables of all of those) is an empty proxy whose
-- metatable refuses new keys; its contents live in a table only this chunk holds.
-- Stock functions that write into a table raw (rawset, setmetatable,
-- table.insert/remove/sort) are replaced by versions that refuse proxies, and the
-- raw readers (rawget, next, pairs, ipairs, getmetatable) see through them.
--
-- `env` carries what Rust provides: the redis API, the libraries, text-only
-- loaders, the deterministic math.random, and `errtext` (the message of an error
-- raised by a Rust function). The chunk returns the script runner and the table
-- the globals live in (KEYS and ARGV are set there for each run).

local env = ...
local G = _G
local type, error, select, tostring, xpcall, pcall = type, error, select, tostring, xpcall, pcall
local raw_set, raw_get, raw_next, raw_ipairs = rawset, rawget, next, ipairs
local raw_setmetatable, raw_getmetatable = setmetatable, getmetatable
local tinsert, tremove, tsort = table.insert, table.remove, table.sort
local dbg_getinfo, dbg_getmetatable = debug.getinfo, debug.getmetatable
local errtext = env.errtext
local RO = 'Attempt to modify a readonly table'
local nondeterministic, find = env.nondeterministic, string.find

-- A memory error depends on the VM's state, not on the script: a run that caught
-- one reaches replicas as its effects, never replayed.
local function is_memory_error(e)
    if type(e) == 'userdata' then
        e = (errtext(e))
    end
    return type(e) == 'string' and find(e, 'not enough memory', 1, true) ~= nil
end

-- proxy -> the table holding its contents
local contents = {}
-- proxy -> what getmetatable() shows for it (nil for library tables)
local shown_meta = {}

local function refuse_write()
    error(RO, 2)
end

local function proxy(content)
    local p = {}
    raw_setmetatable(p, { __index = content, __newindex = refuse_write, __metatable = false })
    contents[p] = content
    return p
end

-- Lua's own argument errors, raised at the caller's position (luaL_argerror).
local function typename(n, ...)
    if select('#', ...) < n then
        return 'no value'
    end
    return type((select(n, ...)))
end

local function check_table(fname, n, ...)
    local t = typename(n, ...)
    if t ~= 'table' then
        error('bad argument #' .. n .. " to '" .. fname .. "' (table expected, got " .. t .. ')', 3)
    end
end

local function check_any(fname, n, ...)
    if select('#', ...) < n then
        error('bad argument #' .. n .. " to '" .. fname .. "' (value expected)", 3)
    end
end

local function w_rawset(...)
    check_table('rawset', 1, ...)
    check_any('rawset', 2, ...)
    check_any('rawset', 3, ...)
    local t, k, v = ...
    if contents[t] then
        error(RO, 0)
    end
    return raw_set(t, k, v)
end

local function w_rawget(...)
    check_table('rawget', 1, ...)
    check_any('rawget', 2, ...)
    local t, k = ...
    return raw_get(contents[t] or t, k)
end

-- Values whose order comes from their address: a script that iterates keys of
-- that kind (next, pairs) may do something else on a replica, so its run
-- reaches replicas as effects (env.tostring does the same for their text).
local by_address = { table = true, ['function'] = true, userdata = true, thread = true }

local function w_next(...)
    check_table('next', 1, ...)
    local t, k = ...
    local nk, nv = raw_next(contents[t] or t, k)
    if by_address[type(nk)] then
        nondeterministic()
    end
    return nk, nv
end

local function w_pairs(...)
    check_table('pairs', 1, ...)
    local t = ...
    return w_next, t, nil
end

local function w_ipairs(...)
    check_table('ipairs', 1, ...)
    local t = ...
    return raw_ipairs(contents[t] or t)
end

local function w_getmetatable(...)
    check_any('getmetatable', 1, ...)
    local v = ...
    if contents[v] then
        return shown_meta[v]
    end
    return raw_getmetatable(v)
end

local function w_setmetatable(...)
    check_table('setmetatable', 1, ...)
    local t, mt = ...
    local mtt = typename(2, ...)
    if mtt ~= 'nil' and mtt ~= 'table' then
        error("bad argument #2 to 'setmetatable' (nil or table expected)", 2)
    end
    if contents[t] then
        error(RO, 0)
    end
    local old = dbg_getmetatable(t)
    if old ~= nil and raw_get(old, '__metatable') ~= nil then
        error('cannot change a protected metatable', 2)
    end
    if mt ~= nil and raw_get(mt, '__mode') ~= nil then
        nondeterministic()
    end
    return raw_setmetatable(t, mt)
end

local function guard_first(f)
    return function(t, ...)
        if contents[t] then
            error(RO, 0)
        end
        return f(t, ...)
    end
end


-- pcall as Redis 7.0 wraps it: an error table with a string `err` comes back as
-- that string; errors raised by Rust functions come back as their text.
local function pcall_result(ok, ...)
    if ok then
        return true, ...
    end
    local e = ...
    if is_memory_error(e) then
        nondeterministic()
    end
    if type(e) == 'table' then
        local m = raw_get(e, 'err')
        if type(m) == 'string' or type(m) == 'number' then
            return false, m
        end
    elseif type(e) == 'userdata' then
        return false, (errtext(e))
    end
    return false, e
end

local function w_pcall(...)
    return pcall_result(pcall(...))
end

-- What a Lua error handler sees for an error raised by a Rust function: the Redis
-- error table, or the message with luaL_error's position (level 2 is the C
-- function that raised, level 3 its caller).
local function lua_error_value(e)
    local text, is_table, needs_position = errtext(e)
    if is_table then
        return { err = text }
    end
    if needs_position then
        local c, caller = dbg_getinfo(3, 'S'), dbg_getinfo(4, 'Sl')
        if c and c.what == 'C' and caller and caller.what ~= 'C' and caller.currentline > 0 then
            text = caller.short_src .. ':' .. caller.currentline .. ': ' .. text
        end
    end
    return text
end

-- xpcall whose handler sees Redis error tables, not mlua's error objects.
-- (Lua 5.1 calls no handler for an out-of-memory error: its message comes back.)
local function xpcall_result(ok, ...)
    if not ok and is_memory_error((...)) then
        nondeterministic()
    end
    return ok, ...
end

local function w_xpcall(f, h)
    return xpcall_result(xpcall(f, function(e)
        if type(e) == 'userdata' then
            e = lua_error_value(e)
        end
        return h(e)
    end))
end

-- The message handler of every script run (Redis's __redis__err__handler): the
-- error becomes a table {err=..., source=..., line=...}, attributed to the first
-- script frame (not a C function, not this chunk).
local function err_handler(e)
    if type(e) == 'userdata' then
        e = lua_error_value(e)
        if type(e) ~= 'table' then
            e = { err = 'ERR ' .. e }
        end
    elseif type(e) ~= 'table' or contents[e] then
        e = { err = 'ERR ' .. tostring(e) }
    end
    local level = 2
    while true do
        local info = dbg_getinfo(level, 'Sl')
        if not info then
            break
        end
        if info.what ~= 'C' and info.what ~= 'tail' and info.source ~= '=moonkv' then
            raw_set(e, 'source', info.source)
            raw_set(e, 'line', info.currentline)
            break
        end
        level = level + 1
    end
    return e
end

local redis = env.redis

-- The globals a script sees (Redis 7.0's allow list, plus os.clock).
local globals = {}
for _, name in raw_ipairs({
    'assert', 'collectgarbage', 'coroutine', 'error', 'gcinfo', 'ipairs', 'load', 'loadstring',
    'next', 'pairs', 'pcall', 'rawequal', 'rawget', 'rawset', 'select', 'setmetatable',
    'getmetatable', 'tonumber', 'tostring', 'type', 'unpack', 'xpcall', '_VERSION',
}) do
    globals[name] = G[name]
end
globals.rawset, globals.rawget, globals.next, globals.pairs = w_rawset, w_rawget, w_next, w_pairs
globals.ipairs, globals.getmetatable, globals.setmetatable = w_ipairs, w_getmetatable, w_setmetatable
globals.unpack, globals.pcall, globals.xpcall = env.unpack, w_pcall, w_xpcall
globals.loadstring, globals.load = env.loadstring, env.load
globals.tostring, globals.collectgarbage, globals.gcinfo = env.tostring, env.collectgarbage, env.gcinfo
globals.__redis__err__handler = err_handler

local libs = {
    string = string,
    math = math,
    table = table,
    coroutine = coroutine,
    redis = redis,
    cjson = env.cjson,
    cmsgpack = env.cmsgpack,
    struct = env.struct,
    bit = env.bit,
    os = env.os,
}
libs.table.insert, libs.table.remove, libs.table.sort = guard_first(tinsert), guard_first(tremove), guard_first(tsort)
libs.math.random, libs.math.randomseed = env.random, env.randomseed
libs.coroutine.resume = env.resume
for name, lib in raw_next, libs do
    globals[name] = proxy(lib)
end

-- The string metatable: its __index is the string library (as in Redis), and what
-- getmetatable('') shows is a readonly view (CVE-2025-46818).
local string_meta = dbg_getmetatable('')
raw_set(string_meta, '__index', globals.string)
raw_set(string_meta, '__metatable', proxy({ __index = globals.string }))

-- The globals table itself: empty, reads go to `globals` (an unknown name is an
-- error), writes are refused.
for k in raw_next, G do
    G[k] = nil
end
globals._G = G
local globals_meta = {
    __index = function(_, name)
        local v = globals[name]
        if v == nil then
            error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
        end
        return v
    end,
    __newindex = refuse_write,
}
-- What getmetatable(_G) shows: Redis's globals metatable has only __index.
local shown_globals_meta = proxy({ __index = globals_meta.__index })
globals_meta.__metatable = shown_globals_meta
raw_setmetatable(G, globals_meta)
contents[G] = globals
shown_meta[G] = shown_globals_meta

-- Runs a compiled script under the message handler: (true, value) or (false, error).
local function run(f)
    return xpcall(f, err_handler)
end

return run, globals
