//! The `cjson` library (lua-cjson 2.1.0 as embedded in Redis 7.0) for the scripting engine, written
//! from scratch: `encode`, `decode`, the configuration functions (`encode_sparse_array`,
//! `encode_max_depth`, `decode_max_depth`, `encode_number_precision`, `encode_keep_buffer`,
//! `encode_invalid_numbers`, `decode_invalid_numbers`), `new` and the fields `null`, `_NAME`,
//! `_VERSION`.
//!
//! Settings live in the library table they belong to (each `new()` table has its own, with the
//! defaults) and are shared by its functions. Behaviour follows the C library: a table is a JSON
//! array when all keys are positive integers (holes become `null`, excessively sparse arrays raise
//! an error or become objects), otherwise an object whose keys must be strings or numbers; strings
//! are escaped exactly like cjson does (`/` as `\/`, control characters as `\u00XX`); numbers use
//! `%.14g` (or the configured precision). Decoding reproduces cjson's tokenizer and its error
//! texts and character positions, `\uXXXX` escapes (with surrogate pairs) become UTF-8, JSON `null`
//! becomes the `cjson.null` light userdata, numbers are read with the C library's `strtod` (so
//! hexadecimal, `NaN` and `Infinity` are accepted unless `decode_invalid_numbers(false)`), and the
//! Lua stack limits of the C code are reproduced for deep nesting. Output grows with checked Rust
//! buffers, so huge strings cannot overflow a length computation (CVE-2022-24834).
//!
//! Deliberate differences: errors carry only the message (no `chunk:line:` prefix);
//! `encode_keep_buffer` is accepted and reported but has no effect on memory use; and `encode`
//! refuses tables nested deeper than `MAX_ENCODE_NESTING` (reported as "excessive nesting") even if
//! `encode_max_depth` is set higher, to bound Rust stack use.

use std::cell::Cell;
use std::rc::Rc;

use mlua::{LightUserData, Lua, MultiValue, Result, Table, Value};

use super::bitop::lauxlib::{
    arg_error, check_integer, check_string, double_to_i32, push_number_g, runtime_error, type_name, SpillStack,
    MAX_C_STACK,
};

/// Deepest table nesting `encode` follows, whatever `encode_max_depth` says: the encoder recurses
/// (roughly 0.5-0.7 KiB of Rust stack per level), so this bounds its stack use.
const MAX_ENCODE_NESTING: i32 = 1000;

/// Per-table settings (the C library's `json_config_t`).
#[derive(Clone, Copy)]
struct Config {
    sparse_convert: bool,
    sparse_ratio: i32,
    sparse_safe: i32,
    encode_max_depth: i32,
    decode_max_depth: i32,
    precision: i32,
    keep_buffer: bool,
    /// 0: error, 1: write `nan`/`inf`, 2: write `null`.
    encode_invalid: usize,
    decode_invalid: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            sparse_convert: false,
            sparse_ratio: 2,
            sparse_safe: 10,
            encode_max_depth: 1000,
            decode_max_depth: 1000,
            precision: 14,
            keep_buffer: true,
            encode_invalid: 0,
            decode_invalid: true,
        }
    }
}

type Shared = Rc<Cell<Config>>;

fn null() -> Value {
    Value::LightUserData(LightUserData(std::ptr::null_mut()))
}

// ---------------------------------------------------------------------------------------------
// Configuration functions
// ---------------------------------------------------------------------------------------------

/// `json_arg_init`: at most `max` arguments, missing ones read as nil.
fn arg_init(lua: &Lua, args: &MultiValue, max: usize) -> Result<()> {
    if args.len() > max {
        return Err(arg_error(lua, max as i64 + 1, "found too many arguments"));
    }
    Ok(())
}

fn is_nil(args: &MultiValue, narg: usize) -> bool {
    matches!(args.get(narg - 1), None | Some(Value::Nil))
}

/// `json_enum_option`: sets `*setting` from a boolean or one of `options`; returns the value to
/// report (a boolean for the first two options, else the option name).
fn enum_option(lua: &Lua, args: &MultiValue, narg: usize, setting: &mut usize, options: &[&str]) -> Result<Value> {
    if !is_nil(args, narg) {
        if let Some(Value::Boolean(b)) = args.get(narg - 1) {
            *setting = usize::from(*b);
        } else {
            let name = check_string(lua, args, narg)?;
            let name = name.as_bytes();
            // C compares NUL-terminated strings.
            let name = name.split(|&b| b == 0).next().unwrap_or(&[]);
            match options.iter().position(|o| o.as_bytes() == name) {
                Some(i) => *setting = i,
                None => {
                    let msg = format!("invalid option '{}'", String::from_utf8_lossy(name));
                    return Err(arg_error(lua, narg as i64, &msg));
                }
            }
        }
    }
    Ok(if *setting <= 1 { Value::Boolean(*setting == 1) } else { Value::String(lua.create_string(options[*setting])?) })
}

const BOOL_OPTIONS: &[&str] = &["off", "on"];

/// `json_enum_option` for an on/off setting.
fn bool_option(lua: &Lua, args: &MultiValue, narg: usize, setting: &mut bool) -> Result<Value> {
    let mut v = usize::from(*setting);
    let ret = enum_option(lua, args, narg, &mut v, BOOL_OPTIONS)?;
    *setting = v == 1;
    Ok(ret)
}

/// `json_integer_option`: sets `*setting` to an integer in `min..=max` (errors name argument 1, as
/// the C code does).
fn integer_option(lua: &Lua, args: &MultiValue, narg: usize, setting: &mut i32, min: i32, max: i32) -> Result<Value> {
    if !is_nil(args, narg) {
        let value = check_integer(lua, args, narg)? as i32;
        if value < min || value > max {
            return Err(arg_error(lua, 1, &format!("expected integer between {min} and {max}")));
        }
        *setting = value;
    }
    Ok(Value::Number(f64::from(*setting)))
}

/// Registers a configuration function that edits the shared settings.
fn config_fn(
    lua: &Lua,
    t: &Table,
    name: &str,
    cfg: &Shared,
    f: fn(&Lua, &MultiValue, &mut Config) -> Result<MultiValue>,
) -> Result<()> {
    let cfg = cfg.clone();
    let func = lua.create_function(move |lua, args: MultiValue| {
        let mut c = cfg.get();
        let ret = f(lua, &args, &mut c);
        cfg.set(c);
        ret
    })?;
    t.set(name, func)
}

fn cfg_encode_sparse_array(lua: &Lua, args: &MultiValue, c: &mut Config) -> Result<MultiValue> {
    arg_init(lua, args, 3)?;
    let convert = bool_option(lua, args, 1, &mut c.sparse_convert)?;
    let ratio = integer_option(lua, args, 2, &mut c.sparse_ratio, 0, i32::MAX)?;
    let safe = integer_option(lua, args, 3, &mut c.sparse_safe, 0, i32::MAX)?;
    Ok(MultiValue::from_iter([convert, ratio, safe]))
}

fn cfg_encode_max_depth(lua: &Lua, args: &MultiValue, c: &mut Config) -> Result<MultiValue> {
    arg_init(lua, args, 1)?;
    Ok(MultiValue::from_iter([integer_option(lua, args, 1, &mut c.encode_max_depth, 1, i32::MAX)?]))
}

fn cfg_decode_max_depth(lua: &Lua, args: &MultiValue, c: &mut Config) -> Result<MultiValue> {
    arg_init(lua, args, 1)?;
    Ok(MultiValue::from_iter([integer_option(lua, args, 1, &mut c.decode_max_depth, 1, i32::MAX)?]))
}

fn cfg_encode_number_precision(lua: &Lua, args: &MultiValue, c: &mut Config) -> Result<MultiValue> {
    arg_init(lua, args, 1)?;
    Ok(MultiValue::from_iter([integer_option(lua, args, 1, &mut c.precision, 1, 14)?]))
}

fn cfg_encode_keep_buffer(lua: &Lua, args: &MultiValue, c: &mut Config) -> Result<MultiValue> {
    arg_init(lua, args, 1)?;
    Ok(MultiValue::from_iter([bool_option(lua, args, 1, &mut c.keep_buffer)?]))
}

fn cfg_encode_invalid_numbers(lua: &Lua, args: &MultiValue, c: &mut Config) -> Result<MultiValue> {
    arg_init(lua, args, 1)?;
    Ok(MultiValue::from_iter([enum_option(lua, args, 1, &mut c.encode_invalid, &["off", "on", "null"])?]))
}

fn cfg_decode_invalid_numbers(lua: &Lua, args: &MultiValue, c: &mut Config) -> Result<MultiValue> {
    arg_init(lua, args, 1)?;
    Ok(MultiValue::from_iter([bool_option(lua, args, 1, &mut c.decode_invalid)?]))
}

// ---------------------------------------------------------------------------------------------
// Encoder
// ---------------------------------------------------------------------------------------------

/// The error of `json_encode_exception` for a value of type `type_name`.
fn encode_error(type_name: &str, reason: &str) -> mlua::Error {
    runtime_error(format!("Cannot serialise {type_name}: {reason}"))
}

#[inline(never)]
fn append_string(out: &mut Vec<u8>, s: &[u8]) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    for &c in s {
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\x08' => out.extend_from_slice(b"\\b"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\x0c' => out.extend_from_slice(b"\\f"),
            b'\r' => out.extend_from_slice(b"\\r"),
            0..=0x1f | 0x7f => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[usize::from(c >> 4)], HEX[usize::from(c & 15)]]);
            }
            _ => out.push(c),
        }
    }
    out.push(b'"');
}

struct Encoder {
    cfg: Config,
    out: Vec<u8>,
}

impl Encoder {
    #[inline(never)]
    fn number(&mut self, n: f64) -> Result<()> {
        let invalid = n.is_nan() || n.is_infinite();
        match self.cfg.encode_invalid {
            0 if invalid => return Err(encode_error("number", "must not be NaN or Inf")),
            1 if n.is_nan() => {
                self.out.extend_from_slice(b"nan");
                return Ok(());
            }
            2 if invalid => {
                self.out.extend_from_slice(b"null");
                return Ok(());
            }
            _ => {}
        }
        push_number_g(&mut self.out, n, self.cfg.precision);
        Ok(())
    }

    /// `lua_array_length`: `Some(n)` to encode as an array of `n` items, `None` for an object.
    #[inline(never)]
    fn array_length(&self, t: &Table) -> Result<Option<i32>> {
        let (mut max, mut items) = (0i32, 0i32);
        let mut is_array = true;
        // Values are read as booleans so that no Lua reference is created for them.
        let walk = t.for_each::<Value, bool>(|k, _| {
            let k = match k {
                Value::Integer(i) => i as f64,
                Value::Number(n) => n,
                _ => 0.0,
            };
            if k == 0.0 || k.floor() != k || k < 1.0 {
                is_array = false;
                // Stops the walk; the error itself is discarded below.
                return Err(mlua::Error::RuntimeError(String::new()));
            }
            if k > f64::from(max) {
                max = double_to_i32(k);
            }
            items = items.wrapping_add(1);
            Ok(())
        });
        if !is_array {
            return Ok(None);
        }
        walk?;
        let c = &self.cfg;
        if c.sparse_ratio > 0 && max > items.wrapping_mul(c.sparse_ratio) && max > c.sparse_safe {
            if !c.sparse_convert {
                return Err(encode_error("table", "excessively sparse array"));
            }
            return Ok(None);
        }
        Ok((max > 0).then_some(max))
    }

    /// Encodes table `t` found at nesting `depth`. The encoder recurses, so the table, array and
    /// object steps are kept in separate small frames.
    #[inline(never)]
    fn table(&mut self, t: &Table, depth: i32, slots: usize) -> Result<()> {
        if depth > self.cfg.encode_max_depth || slots + 3 > MAX_C_STACK || depth > MAX_ENCODE_NESTING {
            return Err(runtime_error(format!("Cannot serialise, excessive nesting ({depth})")));
        }
        match self.array_length(t)? {
            Some(len) => self.array(t, len, depth, slots),
            None => self.object(t, depth, slots),
        }
    }

    #[inline(never)]
    fn array(&mut self, t: &Table, len: i32, depth: i32, slots: usize) -> Result<()> {
        self.out.push(b'[');
        for i in 1..=len {
            if i > 1 {
                self.out.push(b',');
            }
            let item: Value = t.raw_get(i)?;
            self.value(&item, depth, slots + 1)?;
        }
        self.out.push(b']');
        Ok(())
    }

    #[inline(never)]
    fn object(&mut self, t: &Table, depth: i32, slots: usize) -> Result<()> {
        self.out.push(b'{');
        let mut first = true;
        t.for_each::<Value, Value>(|k, v| {
            if !std::mem::take(&mut first) {
                self.out.push(b',');
            }
            self.key(&k)?;
            self.value(&v, depth, slots + 2)
        })?;
        self.out.push(b'}');
        Ok(())
    }

    /// Writes an object key and its colon.
    #[inline(never)]
    fn key(&mut self, k: &Value) -> Result<()> {
        match k {
            Value::Integer(i) => self.number_key(*i as f64),
            Value::Number(n) => self.number_key(*n),
            Value::String(s) => {
                append_string(&mut self.out, &s.as_bytes());
                self.out.push(b':');
                Ok(())
            }
            other => Err(encode_error(type_name(Some(other)), "table key must be a number or string")),
        }
    }

    fn number_key(&mut self, n: f64) -> Result<()> {
        self.out.push(b'"');
        self.number(n)?;
        self.out.extend_from_slice(b"\":");
        Ok(())
    }

    /// `json_append_data`; `slots` is the Lua stack use of the C code with `v` on top.
    #[inline(never)]
    fn value(&mut self, v: &Value, depth: i32, slots: usize) -> Result<()> {
        match v {
            Value::String(s) => append_string(&mut self.out, &s.as_bytes()),
            Value::Integer(i) => self.number(*i as f64)?,
            Value::Number(n) => self.number(*n)?,
            Value::Boolean(true) => self.out.extend_from_slice(b"true"),
            Value::Boolean(false) => self.out.extend_from_slice(b"false"),
            Value::Nil => self.out.extend_from_slice(b"null"),
            Value::LightUserData(p) if p.0.is_null() => self.out.extend_from_slice(b"null"),
            Value::Table(t) => self.table(t, depth + 1, slots)?,
            other => return Err(encode_error(type_name(Some(other)), "type not supported")),
        }
        Ok(())
    }
}

fn encode(lua: &Lua, args: &MultiValue, cfg: Config) -> Result<mlua::String> {
    if args.len() != 1 {
        return Err(arg_error(lua, 1, "expected 1 argument"));
    }
    let mut enc = Encoder { cfg, out: Vec::new() };
    enc.value(&args[0], 0, 1)?;
    lua.create_string(&enc.out)
}

// ---------------------------------------------------------------------------------------------
// Decoder
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    Str,
    Number(f64),
    Bool(bool),
    Null,
    Colon,
    Comma,
    End,
    Whitespace,
    Error(&'static str),
    /// Needs a closer look (strings, numbers, literals).
    Unknown,
}

impl Kind {
    /// What parse errors call the token.
    fn describe(self) -> &'static str {
        match self {
            Kind::ObjBegin => "T_OBJ_BEGIN",
            Kind::ObjEnd => "T_OBJ_END",
            Kind::ArrBegin => "T_ARR_BEGIN",
            Kind::ArrEnd => "T_ARR_END",
            Kind::Str => "T_STRING",
            Kind::Number(_) => "T_NUMBER",
            Kind::Bool(_) => "T_BOOLEAN",
            Kind::Null => "T_NULL",
            Kind::Colon => "T_COLON",
            Kind::Comma => "T_COMMA",
            Kind::End => "T_END",
            Kind::Whitespace => "T_WHITESPACE",
            Kind::Error(what) => what,
            Kind::Unknown => "T_UNKNOWN",
        }
    }
}

#[derive(Clone, Copy)]
struct Token {
    kind: Kind,
    /// 0-based offset where the token (or the error) was found.
    index: usize,
}

/// Token class of a byte before any look-ahead (cjson's `ch2token`).
fn classify(c: u8) -> Kind {
    match c {
        b'{' => Kind::ObjBegin,
        b'}' => Kind::ObjEnd,
        b'[' => Kind::ArrBegin,
        b']' => Kind::ArrEnd,
        b',' => Kind::Comma,
        b':' => Kind::Colon,
        0 => Kind::End,
        b' ' | b'\t' | b'\n' | b'\r' => Kind::Whitespace,
        b'f' | b'i' | b'I' | b'n' | b'N' | b't' | b'"' | b'+' | b'-' | b'0'..=b'9' => Kind::Unknown,
        _ => Kind::Error("invalid token"),
    }
}

/// The byte a single-character escape stands for (`u` starts a unicode escape, 0 is invalid).
fn unescape(c: u8) -> u8 {
    match c {
        b'"' | b'\\' | b'/' | b'u' => c,
        b'b' => b'\x08',
        b't' => b'\t',
        b'n' => b'\n',
        b'f' => b'\x0c',
        b'r' => b'\r',
        _ => 0,
    }
}

fn hex_digit(c: u8) -> Option<u32> {
    (c as char).to_digit(16)
}

/// An open container while decoding.
enum Frame {
    Array { index: i64 },
    Object { key: Vec<u8> },
}

struct Parser<'a> {
    /// The input followed by a NUL, which ends parsing like in C.
    data: &'a [u8],
    pos: usize,
    cfg: Config,
    depth: i32,
    /// Lua stack slots the C decoder would be using.
    slots: usize,
    /// The last string token.
    tmp: Vec<u8>,
}

impl Parser<'_> {
    fn at(&self, i: usize) -> u8 {
        self.data.get(i).copied().unwrap_or(0)
    }

    fn error_token(&self, what: &'static str) -> Token {
        Token { kind: Kind::Error(what), index: self.pos }
    }

    /// `json_is_invalid_number`: hexadecimal, leading zeros, `+`, `inf` and `nan` prefixes.
    fn is_invalid_number(&self) -> bool {
        let mut p = self.pos;
        if self.at(p) == b'+' {
            return true;
        }
        if self.at(p) == b'-' {
            p += 1;
        }
        if self.at(p) == b'0' {
            let c2 = self.at(p + 1);
            return c2 | 0x20 == b'x' || c2.is_ascii_digit();
        }
        // C compares a (signed) char with '9': bytes >= 0x80 count as ordinary numbers too.
        if (self.at(p) as i8) <= b'9' as i8 {
            return false;
        }
        let starts = |word: &[u8]| word.iter().enumerate().all(|(i, &w)| self.at(p + i).to_ascii_lowercase() == w);
        starts(b"inf") || starts(b"nan")
    }

    fn number_token(&mut self) -> Token {
        let start = self.pos;
        let mut end: *mut libc::c_char = std::ptr::null_mut();
        // SAFETY: `data` ends with a NUL byte (see `decode`), so strtod reads a valid C string;
        // `end` receives a pointer into the same buffer.
        let (value, consumed) = unsafe {
            let ptr = self.data.as_ptr().add(start).cast::<libc::c_char>();
            let v = libc::strtod(ptr, &mut end);
            (v, (end as usize).saturating_sub(ptr as usize))
        };
        if consumed == 0 {
            return self.error_token("invalid number");
        }
        self.pos = start + consumed;
        Token { kind: Kind::Number(value), index: start }
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        let mut v = 0;
        for i in 0..4 {
            v = (v << 4) | hex_digit(self.at(at + i))?;
        }
        Some(v)
    }

    /// Decodes the `\uXXXX` escape (or surrogate pair) at `pos` into `tmp`.
    fn unicode_escape(&mut self) -> Option<()> {
        let mut cp = self.hex4(self.pos + 2)?;
        let mut len = 6;
        if cp & 0xF800 == 0xD800 {
            if cp & 0x400 != 0 || self.at(self.pos + 6) != b'\\' || self.at(self.pos + 7) != b'u' {
                return None;
            }
            let low = self.hex4(self.pos + 8)?;
            if low & 0xFC00 != 0xDC00 {
                return None;
            }
            cp = (((cp & 0x3FF) << 10) | (low & 0x3FF)) + 0x10000;
            len = 12;
        }
        let c = char::from_u32(cp)?;
        let mut buf = [0u8; 4];
        self.tmp.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        self.pos += len;
        Some(())
    }

    fn string_token(&mut self) -> Token {
        let index = self.pos;
        self.pos += 1;
        self.tmp.clear();
        loop {
            let mut c = self.at(self.pos);
            if c == b'"' {
                break;
            }
            if c == 0 {
                return self.error_token("unexpected end of string");
            }
            if c == b'\\' {
                c = unescape(self.at(self.pos + 1));
                if c == b'u' {
                    if self.unicode_escape().is_some() {
                        continue;
                    }
                    return self.error_token("invalid unicode escape code");
                }
                if c == 0 {
                    return self.error_token("invalid escape code");
                }
                self.pos += 1;
            }
            self.tmp.push(c);
            self.pos += 1;
        }
        self.pos += 1;
        Token { kind: Kind::Str, index }
    }

    fn next_token(&mut self) -> Token {
        let mut kind = classify(self.at(self.pos));
        while kind == Kind::Whitespace {
            self.pos += 1;
            kind = classify(self.at(self.pos));
        }
        let index = self.pos;
        match kind {
            Kind::Error(_) | Kind::End => Token { kind, index },
            Kind::Unknown => {
                let c = self.at(self.pos);
                let rest = &self.data[self.pos.min(self.data.len())..];
                if c == b'"' {
                    self.string_token()
                } else if c == b'-' || c.is_ascii_digit() {
                    if !self.cfg.decode_invalid && self.is_invalid_number() {
                        return self.error_token("invalid number");
                    }
                    self.number_token()
                } else if rest.starts_with(b"true") {
                    self.pos += 4;
                    Token { kind: Kind::Bool(true), index }
                } else if rest.starts_with(b"false") {
                    self.pos += 5;
                    Token { kind: Kind::Bool(false), index }
                } else if rest.starts_with(b"null") {
                    self.pos += 4;
                    Token { kind: Kind::Null, index }
                } else if self.cfg.decode_invalid && self.is_invalid_number() {
                    self.number_token()
                } else {
                    self.error_token("invalid token")
                }
            }
            _ => {
                self.pos += 1;
                Token { kind, index }
            }
        }
    }

    fn parse_error(&self, expected: &str, token: Token) -> mlua::Error {
        runtime_error(format!(
            "Expected {expected} but found {} at character {}",
            token.kind.describe(),
            token.index + 1
        ))
    }

    /// `json_decode_descend`: enter a container needing `need` more stack slots.
    fn descend(&mut self, need: usize) -> Result<()> {
        self.depth += 1;
        if self.depth > self.cfg.decode_max_depth || self.slots + need > MAX_C_STACK {
            return Err(runtime_error(format!(
                "Found too many nested data structures ({}) at character {}",
                self.depth, self.pos
            )));
        }
        Ok(())
    }

    /// Reads an object key and its colon; returns the token that starts the value.
    fn object_key(&mut self, token: Token) -> Result<(Vec<u8>, Token)> {
        if token.kind != Kind::Str {
            return Err(self.parse_error("object key string", token));
        }
        let key = self.tmp.clone();
        let colon = self.next_token();
        if colon.kind != Kind::Colon {
            return Err(self.parse_error("colon", colon));
        }
        Ok((key, self.next_token()))
    }

    fn parse(&mut self, lua: &Lua) -> Result<Value> {
        let mut frames: Vec<Frame> = Vec::new();
        let mut open = SpillStack::new();
        let mut token = self.next_token();
        loop {
            let mut value = match token.kind {
                Kind::Str => Value::String(lua.create_string(&self.tmp)?),
                Kind::Number(n) => Value::Number(n),
                Kind::Bool(b) => Value::Boolean(b),
                Kind::Null => null(),
                Kind::ObjBegin => {
                    self.descend(3)?;
                    let t = lua.create_table()?;
                    token = self.next_token();
                    if token.kind == Kind::ObjEnd {
                        self.depth -= 1;
                        Value::Table(t)
                    } else {
                        let (key, next) = self.object_key(token)?;
                        open.push(lua, Value::Table(t))?;
                        frames.push(Frame::Object { key });
                        self.slots += 2;
                        token = next;
                        continue;
                    }
                }
                Kind::ArrBegin => {
                    self.descend(2)?;
                    let t = lua.create_table()?;
                    token = self.next_token();
                    if token.kind == Kind::ArrEnd {
                        self.depth -= 1;
                        Value::Table(t)
                    } else {
                        open.push(lua, Value::Table(t))?;
                        frames.push(Frame::Array { index: 1 });
                        self.slots += 1;
                        continue;
                    }
                }
                _ => return Err(self.parse_error("value", token)),
            };
            // Store the finished value in its container, closing containers that end here.
            loop {
                let closed = match frames.last_mut() {
                    None => {
                        let end = self.next_token();
                        if end.kind != Kind::End {
                            return Err(self.parse_error("the end", end));
                        }
                        return Ok(value);
                    }
                    Some(Frame::Array { index }) => {
                        open.set_in_top(Value::Number(*index as f64), value)?;
                        *index += 1;
                        let t = self.next_token();
                        if t.kind == Kind::Comma {
                            token = self.next_token();
                            break;
                        }
                        if t.kind != Kind::ArrEnd {
                            return Err(self.parse_error("comma or array end", t));
                        }
                        1
                    }
                    Some(Frame::Object { key }) => {
                        open.set_in_top(Value::String(lua.create_string(&*key)?), value)?;
                        let t = self.next_token();
                        if t.kind == Kind::Comma {
                            let first = self.next_token();
                            let (next_key, next) = self.object_key(first)?;
                            *key = next_key;
                            token = next;
                            break;
                        }
                        if t.kind != Kind::ObjEnd {
                            return Err(self.parse_error("comma or object end", t));
                        }
                        2
                    }
                };
                frames.pop();
                self.slots -= closed;
                self.depth -= 1;
                value = open.pop()?;
            }
        }
    }
}

fn decode(lua: &Lua, args: &MultiValue, cfg: Config) -> Result<Value> {
    if args.len() != 1 {
        return Err(arg_error(lua, 1, "expected 1 argument"));
    }
    let s = check_string(lua, args, 1)?;
    let bytes = s.as_bytes();
    if bytes.len() >= 2 && (bytes[0] == 0 || bytes[1] == 0) {
        return Err(runtime_error("JSON parser does not support UTF-16 or UTF-32"));
    }
    let mut data = Vec::with_capacity(bytes.len() + 1);
    data.extend_from_slice(&bytes);
    data.push(0);
    let mut p = Parser { data: &data, pos: 0, cfg, depth: 0, slots: 1, tmp: Vec::new() };
    p.parse(lua)
}

// ---------------------------------------------------------------------------------------------
// Library table
// ---------------------------------------------------------------------------------------------

/// Builds a `cjson` library table with its own default settings (also what `cjson.new()` returns).
pub fn open(lua: &Lua) -> Result<Table> {
    let cfg: Shared = Rc::new(Cell::new(Config::default()));
    let t = lua.create_table()?;
    let c = cfg.clone();
    t.set("encode", lua.create_function(move |lua, args: MultiValue| encode(lua, &args, c.get()))?)?;
    let c = cfg.clone();
    t.set("decode", lua.create_function(move |lua, args: MultiValue| decode(lua, &args, c.get()))?)?;
    config_fn(lua, &t, "encode_sparse_array", &cfg, cfg_encode_sparse_array)?;
    config_fn(lua, &t, "encode_max_depth", &cfg, cfg_encode_max_depth)?;
    config_fn(lua, &t, "decode_max_depth", &cfg, cfg_decode_max_depth)?;
    config_fn(lua, &t, "encode_number_precision", &cfg, cfg_encode_number_precision)?;
    config_fn(lua, &t, "encode_keep_buffer", &cfg, cfg_encode_keep_buffer)?;
    config_fn(lua, &t, "encode_invalid_numbers", &cfg, cfg_encode_invalid_numbers)?;
    config_fn(lua, &t, "decode_invalid_numbers", &cfg, cfg_decode_invalid_numbers)?;
    t.set("new", lua.create_function(|lua, _: MultiValue| open(lua))?)?;
    t.set("null", null())?;
    t.set("_NAME", "cjson")?;
    t.set("_VERSION", "2.1.0")?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::super::bitop::lauxlib::testing::check_all;

    // Expected values were produced by redis-server 7.0.15 running the same snippets.
    const CASES: &[(&str, &str)] = &[
        (
            r##"return cjson.encode({1,2,3}), cjson.encode({}), cjson.encode({a=1}), cjson.encode('a/b"c\\d'), cjson.encode(true), cjson.encode(nil), cjson.encode(cjson.null)"##,
            r##"true, "[1,2,3]", "{}", "{\x22a\x22:1}", "\x22a\x5c/b\x5c\x22c\x5c\x5cd\x22", "true", "null", "null""##,
        ),
        (
            r##"return cjson.encode('\0\1\2\3\4\5\6\7\8\9\10\11\12\13\14\15\16\17\18\19\20\21\22\23\24\25\26\27\28\29\30\31\127\128\255')"##,
            r##"true, "\x22\x5cu0000\x5cu0001\x5cu0002\x5cu0003\x5cu0004\x5cu0005\x5cu0006\x5cu0007\x5cb\x5ct\x5cn\x5cu000b\x5cf\x5cr\x5cu000e\x5cu000f\x5cu0010\x5cu0011\x5cu0012\x5cu0013\x5cu0014\x5cu0015\x5cu0016\x5cu0017\x5cu0018\x5cu0019\x5cu001a\x5cu001b\x5cu001c\x5cu001d\x5cu001e\x5cu001f\x5cu007f\x80\xff\x22""##,
        ),
        (
            r##"return cjson.encode(1/3), cjson.encode(-0), cjson.encode(1e20), cjson.encode(123456789012345678), cjson.encode(0.1), cjson.encode(-1.5e-10), cjson.encode(2^53), cjson.encode(100)"##,
            r##"true, "0.33333333333333", "-0", "1e+20", "1.2345678901235e+17", "0.1", "-1.5e-10", "9.007199254741e+15", "100""##,
        ),
        (r##"return cjson.encode(1/0)"##, r##"false, "Cannot serialise number: must not be NaN or Inf""##),
        (r##"return cjson.encode(-1/0)"##, r##"false, "Cannot serialise number: must not be NaN or Inf""##),
        (r##"return cjson.encode(0/0)"##, r##"false, "Cannot serialise number: must not be NaN or Inf""##),
        (r##"return cjson.encode({1/0})"##, r##"false, "Cannot serialise number: must not be NaN or Inf""##),
        (r##"return cjson.encode(type)"##, r##"false, "Cannot serialise function: type not supported""##),
        (r##"return cjson.encode({f = type})"##, r##"false, "Cannot serialise function: type not supported""##),
        (r##"return cjson.encode()"##, r##"false, "bad argument #1 to 'encode' (expected 1 argument)""##),
        (r##"return cjson.encode(1, 2)"##, r##"false, "bad argument #1 to 'encode' (expected 1 argument)""##),
        (
            r##"return cjson.encode({[1]=1, [2]=2, [5]=5}), cjson.encode({[3]=1}), cjson.encode({[10]=1})"##,
            r##"true, "[1,2,null,null,5]", "[null,null,1]", "[null,null,null,null,null,null,null,null,null,1]""##,
        ),
        (r##"return cjson.encode({[11]=1})"##, r##"false, "Cannot serialise table: excessively sparse array""##),
        (r##"return cjson.encode({[1]=1, [0]=2})"##, r##"true, "{\x221\x22:1,\x220\x22:2}""##),
        (
            r##"return cjson.encode({[1.5]=1}), cjson.encode({[-1]=1}), cjson.encode({[2^31]=1}), cjson.encode({[2^32+1]=1})"##,
            r##"true, "{\x221.5\x22:1}", "{\x22-1\x22:1}", "{\x222147483648\x22:1}", "{\x224294967297\x22:1}""##,
        ),
        (
            r##"return cjson.encode({[true]=1})"##,
            r##"false, "Cannot serialise boolean: table key must be a number or string""##,
        ),
        (
            r##"return cjson.encode({[{}]=1})"##,
            r##"false, "Cannot serialise table: table key must be a number or string""##,
        ),
        (r##"return cjson.encode({[1/0]=1})"##, r##"false, "Cannot serialise number: must not be NaN or Inf""##),
        (
            r##"return cjson.encode({1, 2, nil, 4}), cjson.encode({nil, nil, 3}), cjson.encode({{}, {{}}, {a={}}})"##,
            r##"true, "[1,2,null,4]", "[null,null,3]", "[{},[{}],{\x22a\x22:{}}]""##,
        ),
        (
            r##"local t = {} for i = 1, 1000 do t = {t} end return #cjson.encode(t)"##,
            r##"false, "Cannot serialise, excessive nesting (1001)""##,
        ),
        (
            r##"local t = {} for i = 1, 1001 do t = {t} end return cjson.encode(t)"##,
            r##"false, "Cannot serialise, excessive nesting (1001)""##,
        ),
        (
            r##"local t = {} t[1] = t return cjson.encode(t)"##,
            r##"false, "Cannot serialise, excessive nesting (1001)""##,
        ),
        (
            r##"local t = {} for i = 1, 1000 do t = {a=t} end return #cjson.encode(t)"##,
            r##"false, "Cannot serialise, excessive nesting (1001)""##,
        ),
        (
            r##"local t = {} for i = 1, 1001 do t = {a=t} end return cjson.encode(t)"##,
            r##"false, "Cannot serialise, excessive nesting (1001)""##,
        ),
        (
            r##"return cjson.decode('[1,2,3]'), cjson.decode('{"a":1,"b":[true,false,null]}'), cjson.decode('"abc"'), cjson.decode('  12.5  '), cjson.decode('null'), cjson.decode('true')"##,
            r##"true, {[1]=1,[2]=2,[3]=3}, {["a"]=1,["b"]={[1]=true,[2]=false,[3]=null}}, "abc", 12.5, null, true"##,
        ),
        (
            r##"return cjson.decode('[1,null]')[2] == cjson.null, #cjson.decode('[1,null,3]'), cjson.decode('[null]')"##,
            r##"true, true, 3, {[1]=null}"##,
        ),
        (r##"return cjson.decode('')"##, r##"false, "Expected value but found T_END at character 1""##),
        (r##"return cjson.decode('   ')"##, r##"false, "Expected value but found T_END at character 4""##),
        (
            r##"return cjson.decode('[1,2')"##,
            r##"false, "Expected comma or array end but found T_END at character 5""##,
        ),
        (r##"return cjson.decode('[1,2,]')"##, r##"false, "Expected value but found T_ARR_END at character 6""##),
        (
            r##"return cjson.decode('{1:2}')"##,
            r##"false, "Expected object key string but found T_NUMBER at character 2""##,
        ),
        (r##"return cjson.decode('{"a" 1}')"##, r##"false, "Expected colon but found T_NUMBER at character 6""##),
        (
            r##"return cjson.decode('{"a":1,}')"##,
            r##"false, "Expected object key string but found T_OBJ_END at character 8""##,
        ),
        (
            r##"return cjson.decode('{"a":1 "b"}')"##,
            r##"false, "Expected comma or object end but found T_STRING at character 8""##,
        ),
        (r##"return cjson.decode('[1] x')"##, r##"false, "Expected the end but found invalid token at character 5""##),
        (r##"return cjson.decode('[1]\0x')"##, r##"true, {[1]=1}"##),
        (r##"return cjson.decode('\0[1]')"##, r##"false, "JSON parser does not support UTF-16 or UTF-32""##),
        (r##"return cjson.decode('x')"##, r##"false, "Expected value but found invalid token at character 1""##),
        (r##"return cjson.decode('tru')"##, r##"false, "Expected value but found invalid token at character 1""##),
        (r##"return cjson.decode('nul')"##, r##"false, "Expected value but found invalid token at character 1""##),
        (
            r##"return cjson.decode('"abc')"##,
            r##"false, "Expected value but found unexpected end of string at character 5""##,
        ),
        (
            r##"return cjson.decode('"a\\qb"')"##,
            r##"false, "Expected value but found invalid escape code at character 3""##,
        ),
        (
            r##"return cjson.decode('"\\u12"')"##,
            r##"false, "Expected value but found invalid unicode escape code at character 2""##,
        ),
        (
            r##"return cjson.decode('"\\ud800"')"##,
            r##"false, "Expected value but found invalid unicode escape code at character 2""##,
        ),
        (
            r##"return cjson.decode('"\\udc00\\ud800"')"##,
            r##"false, "Expected value but found invalid unicode escape code at character 2""##,
        ),
        (
            r##"return cjson.decode('"\\ud800\\u0041"')"##,
            r##"false, "Expected value but found invalid unicode escape code at character 2""##,
        ),
        (
            r##"return cjson.decode('"\\u0041\\u00e9\\u20ac\\ud83d\\ude00\\u0000x"'), cjson.decode('"\\uABCD\\uabcd"'), cjson.decode('"\\/\\b\\f\\n\\r\\t\\"\\\\"')"##,
            r##"true, "A\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\x00x", "\xea\xaf\x8d\xea\xaf\x8d", "/\x08\x0c\x0a\x0d\x09\x22\x5c""##,
        ),
        (r##"return cjson.decode('"a\1\31b"'), cjson.decode('"\200\255"')"##, r##"true, "a\x01\x1fb", "\xc8\xff""##),
        (
            r##"return cjson.decode('0x10'), cjson.decode('-0x10'), cjson.decode('+5'), cjson.decode('NaN'), cjson.decode('-Infinity'), cjson.decode('inf'), cjson.decode('1e400'), cjson.decode('010'), cjson.decode('1.'), cjson.decode('-.5')"##,
            r##"true, 16, -16, 5, nan, -inf, inf, inf, 10, 1, -0.5"##,
        ),
        (
            r##"return cjson.decode('Infinity'), cjson.decode('nan'), cjson.decode('-inf'), cjson.decode('0x1p4'), cjson.decode('1E2')"##,
            r##"true, inf, nan, -inf, 16, 100"##,
        ),
        (r##"return cjson.decode('-')"##, r##"false, "Expected value but found invalid number at character 1""##),
        (r##"return cjson.decode('.5')"##, r##"false, "Expected value but found invalid token at character 1""##),
        (r##"return cjson.decode('1e')"##, r##"false, "Expected the end but found invalid token at character 2""##),
        (r##"return cjson.decode('i')"##, r##"false, "Expected value but found invalid token at character 1""##),
        (r##"return cjson.decode('+')"##, r##"false, "Expected value but found invalid number at character 1""##),
        (r##"return cjson.decode('--1')"##, r##"false, "Expected value but found invalid number at character 1""##),
        (r##"return cjson.decode('[1,2]]')"##, r##"false, "Expected the end but found T_ARR_END at character 6""##),
        (r##"return cjson.decode(string.rep('[', 1000) .. string.rep(']', 1000)) ~= nil"##, r##"true, true"##),
        (
            r##"return cjson.decode(string.rep('[', 1001) .. string.rep(']', 1001))"##,
            r##"false, "Found too many nested data structures (1001) at character 1001""##,
        ),
        (
            r##"return cjson.decode(string.rep('{"a":', 1001))"##,
            r##"false, "Found too many nested data structures (1001) at character 5001""##,
        ),
        (
            r##"return cjson.decode('   ' .. string.rep('[', 1001))"##,
            r##"false, "Found too many nested data structures (1001) at character 1004""##,
        ),
        (r##"return cjson.decode()"##, r##"false, "bad argument #1 to 'decode' (expected 1 argument)""##),
        (r##"return cjson.decode(nil)"##, r##"false, "bad argument #1 to 'decode' (string expected, got nil)""##),
        (r##"return cjson.decode({})"##, r##"false, "bad argument #1 to 'decode' (string expected, got table)""##),
        (r##"return cjson.decode(123), cjson.decode(1e300)"##, r##"true, 123, 1.0000000000000001e+300"##),
        (r##"return cjson.decode('a', 'b')"##, r##"false, "bad argument #1 to 'decode' (expected 1 argument)""##),
        (
            r##"return cjson.decode('{"a":1,"a":2}'), cjson.decode('{"":1}'), cjson.decode('{}'), cjson.decode('[]')"##,
            r##"true, {["a"]=2}, {[""]=1}, {}, {}"##,
        ),
        (r##"return cjson.decode('\1\2')"##, r##"false, "Expected value but found invalid token at character 1""##),
        (r##"return cjson.decode('a\0')"##, r##"false, "JSON parser does not support UTF-16 or UTF-32""##),
        (
            r##"return cjson.decode('[1\0')"##,
            r##"false, "Expected comma or array end but found T_END at character 3""##,
        ),
        (r##"return cjson.decode('[1,2] ') , cjson.decode('\t\r\n[1]')"##, r##"true, {[1]=1,[2]=2}, {[1]=1}"##),
        (r##"return cjson.decode('[\v1]')"##, r##"false, "Expected value but found invalid token at character 2""##),
        (r##"return cjson.decode('True')"##, r##"false, "Expected value but found invalid token at character 1""##),
        (
            r##"return cjson.decode('"\\u00"')"##,
            r##"false, "Expected value but found invalid unicode escape code at character 2""##,
        ),
        (
            r##"return cjson.decode('"\\u004G"')"##,
            r##"false, "Expected value but found invalid unicode escape code at character 2""##,
        ),
        (
            r##"return cjson.decode('"\\ud83d\\ude0"')"##,
            r##"false, "Expected value but found invalid unicode escape code at character 2""##,
        ),
        (
            r##"return cjson.decode('"\\ud83d"')"##,
            r##"false, "Expected value but found invalid unicode escape code at character 2""##,
        ),
        (
            r##"return cjson.decode('"\\ud83dx"')"##,
            r##"false, "Expected value but found invalid unicode escape code at character 2""##,
        ),
        (
            r##"return cjson.decode('"\\"'), 1"##,
            r##"false, "Expected value but found unexpected end of string at character 4""##,
        ),
        (
            r##"return cjson.decode('{"a":[1,{"b":nul}]}')"##,
            r##"false, "Expected value but found invalid token at character 14""##,
        ),
        (
            r##"return cjson.decode('[1 2]')"##,
            r##"false, "Expected comma or array end but found T_NUMBER at character 4""##,
        ),
        (
            r##"return cjson.decode('{"a":1:')"##,
            r##"false, "Expected comma or object end but found T_COLON at character 7""##,
        ),
        (r##"return cjson.decode('{"a",1}')"##, r##"false, "Expected colon but found T_COMMA at character 5""##),
        (r##"return cjson.decode('{')"##, r##"false, "Expected object key string but found T_END at character 2""##),
        (r##"return cjson.decode('[')"##, r##"false, "Expected value but found T_END at character 2""##),
        (r##"return cjson.decode(']')"##, r##"false, "Expected value but found T_ARR_END at character 1""##),
        (r##"return cjson.decode('}')"##, r##"false, "Expected value but found T_OBJ_END at character 1""##),
        (r##"return cjson.decode(':')"##, r##"false, "Expected value but found T_COLON at character 1""##),
        (r##"return cjson.decode(',')"##, r##"false, "Expected value but found T_COMMA at character 1""##),
        (r##"return cjson._NAME, cjson._VERSION, cjson.null"##, r##"true, "cjson", "2.1.0", null"##),
        (
            r##"local t = {} for k, v in pairs(cjson) do t[#t+1] = k end table.sort(t) return table.concat(t, ",")"##,
            r##"true, "_NAME,_VERSION,decode,decode_invalid_numbers,decode_max_depth,encode,encode_invalid_numbers,encode_keep_buffer,encode_max_depth,encode_number_precision,encode_sparse_array,new,null""##,
        ),
        (
            r##"return cjson.encode(coroutine.create(function() end))"##,
            r##"false, "Cannot serialise thread: type not supported""##,
        ),
        (
            r##"local c = cjson.new() return c.encode_sparse_array(), c.encode_max_depth(), c.decode_max_depth(), c.encode_number_precision(), c.encode_keep_buffer(), c.encode_invalid_numbers(), c.decode_invalid_numbers()"##,
            r##"true, false, 1000, 1000, 14, true, false, true"##,
        ),
        (r##"local c = cjson.new() return c.encode_sparse_array(true, 3, 5)"##, r##"true, true, 3, 5"##),
        (
            r##"local c = cjson.new() return c.encode_sparse_array("on"), c.encode_sparse_array("off"), c.encode_sparse_array(nil, nil, 7)"##,
            r##"true, true, false, false, 2, 7"##,
        ),
        (
            r##"local c = cjson.new() return c.encode_sparse_array("yes")"##,
            r##"false, "bad argument #1 to 'encode_sparse_array' (invalid option 'yes')""##,
        ),
        (
            r##"local c = cjson.new() return c.encode_sparse_array(1)"##,
            r##"false, "bad argument #1 to 'encode_sparse_array' (invalid option '1')""##,
        ),
        (
            r##"local c = cjson.new() return c.encode_sparse_array({})"##,
            r##"false, "bad argument #1 to 'encode_sparse_array' (string expected, got table)""##,
        ),
        (
            r##"local c = cjson.new() return c.encode_sparse_array(true, -1)"##,
            r##"false, "bad argument #1 to 'encode_sparse_array' (expected integer between 0 and 2147483647)""##,
        ),
        (
            r##"local c = cjson.new() return c.encode_sparse_array(true, 1, -1)"##,
            r##"false, "bad argument #1 to 'encode_sparse_array' (expected integer between 0 and 2147483647)""##,
        ),
        (
            r##"local c = cjson.new() return c.encode_sparse_array(true, 'x')"##,
            r##"false, "bad argument #2 to 'encode_sparse_array' (number expected, got string)""##,
        ),
        (
            r##"local c = cjson.new() return c.encode_sparse_array(true, 1, 2, 3)"##,
            r##"false, "bad argument #4 to 'encode_sparse_array' (found too many arguments)""##,
        ),
        (
            r##"local c = cjson.new() c.encode_sparse_array(true) return c.encode({[11]=1}), c.encode({[1]=1,[3]=3})"##,
            r##"true, "{\x2211\x22:1}", "[1,null,3]""##,
        ),
        (
            r##"local c = cjson.new() c.encode_sparse_array(false, 0) return c.encode({[20]=1})"##,
            r##"true, "[null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,1]""##,
        ),
        (
            r##"local c = cjson.new() c.encode_sparse_array(false, 1, 0) return c.encode({[1]=1,[2]=2})"##,
            r##"true, "[1,2]""##,
        ),
        (
            r##"local c = cjson.new() c.encode_sparse_array(false, 1, 0) return c.encode({[1]=1,[3]=3})"##,
            r##"false, "Cannot serialise table: excessively sparse array""##,
        ),
        (r##"local c = cjson.new() return c.encode_max_depth(2), c.encode({{1}})"##, r##"true, 2, "[[1]]""##),
        (
            r##"local c = cjson.new() c.encode_max_depth(2) return c.encode({{{1}}})"##,
            r##"false, "Cannot serialise, excessive nesting (3)""##,
        ),
        (
            r##"local c = cjson.new() return c.encode_max_depth(0)"##,
            r##"false, "bad argument #1 to 'encode_max_depth' (expected integer between 1 and 2147483647)""##,
        ),
        (
            r##"local c = cjson.new() return c.encode_max_depth(2^31)"##,
            r##"false, "bad argument #1 to 'encode_max_depth' (expected integer between 1 and 2147483647)""##,
        ),
        (
            r##"local c = cjson.new() return c.encode_max_depth(2^32 + 5), c.encode_max_depth(3.9), c.encode_max_depth('7')"##,
            r##"true, 5, 3, 7"##,
        ),
        (
            r##"local c = cjson.new() return c.encode_max_depth(1, 2)"##,
            r##"false, "bad argument #2 to 'encode_max_depth' (found too many arguments)""##,
        ),
        (
            r##"local c = cjson.new() return c.encode_max_depth(true)"##,
            r##"false, "bad argument #1 to 'encode_max_depth' (number expected, got boolean)""##,
        ),
        (r##"local c = cjson.new() return c.decode_max_depth(2), c.decode('[[1]]')"##, r##"true, 2, {[1]={[1]=1}}"##),
        (
            r##"local c = cjson.new() c.decode_max_depth(2) return c.decode('[[[1]]]')"##,
            r##"false, "Found too many nested data structures (3) at character 3""##,
        ),
        (
            r##"local c = cjson.new() c.decode_max_depth(2) return c.decode('{"a":{"b":{}}}')"##,
            r##"false, "Found too many nested data structures (3) at character 11""##,
        ),
        (
            r##"local c = cjson.new() return c.encode_number_precision(3), c.encode(1/3), c.encode(12345), c.encode({[1/3]=1})"##,
            r##"true, 3, "0.333", "1.23e+04", "{\x220.333\x22:1}""##,
        ),
        (
            r##"local c = cjson.new() return c.encode_number_precision(15)"##,
            r##"false, "bad argument #1 to 'encode_number_precision' (expected integer between 1 and 14)""##,
        ),
        (
            r##"local c = cjson.new() return c.encode_number_precision(0)"##,
            r##"false, "bad argument #1 to 'encode_number_precision' (expected integer between 1 and 14)""##,
        ),
        (
            r##"local c = cjson.new() return c.encode_number_precision(1), c.encode(0.15), c.encode(123)"##,
            r##"true, 1, "0.1", "1e+02""##,
        ),
        (
            r##"local c = cjson.new() return c.encode_keep_buffer(false), c.encode({1}), c.encode_keep_buffer('on'), c.encode_keep_buffer()"##,
            r##"true, false, "[1]", true, true"##,
        ),
        (
            r##"local c = cjson.new() return c.encode_keep_buffer('null')"##,
            r##"false, "bad argument #1 to 'encode_keep_buffer' (invalid option 'null')""##,
        ),
        (
            r##"local c = cjson.new() return c.encode_invalid_numbers(true), c.encode(1/0), c.encode(-1/0), c.encode(0/0), c.encode({[1/0]=1})"##,
            r##"true, true, "inf", "-inf", "nan", "{\x22inf\x22:1}""##,
        ),
        (
            r##"local c = cjson.new() return c.encode_invalid_numbers('null'), c.encode(1/0), c.encode({0/0}), c.encode({[1/0]=1}), c.encode_invalid_numbers()"##,
            r##"true, "null", "null", "[null]", "{\x22null\x22:1}", "null""##,
        ),
        (
            r##"local c = cjson.new() return c.encode_invalid_numbers('off'), c.encode_invalid_numbers('on'), c.encode_invalid_numbers(false)"##,
            r##"true, false, true, false"##,
        ),
        (
            r##"local c = cjson.new() return c.encode_invalid_numbers('maybe')"##,
            r##"false, "bad argument #1 to 'encode_invalid_numbers' (invalid option 'maybe')""##,
        ),
        (
            r##"local c = cjson.new() return c.decode_invalid_numbers(false), c.decode('1'), c.decode('[1.5e3]')"##,
            r##"true, false, 1, {[1]=1500}"##,
        ),
        (
            r##"local c = cjson.new() c.decode_invalid_numbers(false) return c.decode('0x10')"##,
            r##"false, "Expected value but found invalid number at character 1""##,
        ),
        (
            r##"local c = cjson.new() c.decode_invalid_numbers(false) return c.decode('NaN')"##,
            r##"false, "Expected value but found invalid token at character 1""##,
        ),
        (
            r##"local c = cjson.new() c.decode_invalid_numbers(false) return c.decode('[-Infinity]')"##,
            r##"false, "Expected value but found invalid number at character 2""##,
        ),
        (
            r##"local c = cjson.new() c.decode_invalid_numbers(false) return c.decode('+1')"##,
            r##"false, "Expected value but found invalid token at character 1""##,
        ),
        (
            r##"local c = cjson.new() c.decode_invalid_numbers(false) return c.decode('01')"##,
            r##"false, "Expected value but found invalid number at character 1""##,
        ),
        (
            r##"local c = cjson.new() c.decode_invalid_numbers(false) return c.decode('-01')"##,
            r##"false, "Expected value but found invalid number at character 1""##,
        ),
        (
            r##"local c = cjson.new() c.decode_invalid_numbers(false) return c.decode('0'), c.decode('-0'), c.decode('0.5'), c.decode('-9')"##,
            r##"true, 0, -0, 0.5, -9"##,
        ),
        (
            r##"local c = cjson.new() c.decode_invalid_numbers(false) return c.decode('nan')"##,
            r##"false, "Expected value but found invalid token at character 1""##,
        ),
        (
            r##"local c = cjson.new() c.decode_invalid_numbers(false) return c.decode('-')"##,
            r##"false, "Expected value but found invalid number at character 1""##,
        ),
        (
            r##"local c = cjson.new() c.decode_invalid_numbers(false) return c.decode('-x')"##,
            r##"false, "Expected value but found invalid number at character 1""##,
        ),
        (
            r##"local c = cjson.new() return c.decode_invalid_numbers('on'), c.decode_invalid_numbers('off'), c.decode_invalid_numbers(0)"##,
            r##"false, "bad argument #1 to 'decode_invalid_numbers' (invalid option '0')""##,
        ),
        (
            r##"local c = cjson.new() return c.decode_invalid_numbers('null')"##,
            r##"false, "bad argument #1 to 'decode_invalid_numbers' (invalid option 'null')""##,
        ),
        (
            r##"local c = cjson.new() local d = c.new() c.encode_number_precision(2) return c.encode(1/3), d.encode(1/3), cjson.encode(1/3)"##,
            r##"true, "0.33", "0.33333333333333", "0.33333333333333""##,
        ),
        (
            r##"local c = cjson.new(1, 2, 3) return c._NAME, c.null == cjson.null, c.new ~= cjson.new"##,
            r##"true, "cjson", true, true"##,
        ),
        (
            r##"local c = cjson.new() return c.encode_sparse_array(nil, 2^31)"##,
            r##"false, "bad argument #1 to 'encode_sparse_array' (expected integer between 0 and 2147483647)""##,
        ),
        (
            r##"local c = cjson.new() return c.encode_sparse_array(nil, 2^31-1, 2^31-1)"##,
            r##"true, false, 2147483647, 2147483647"##,
        ),
        (r##"local c = cjson.new() return c.encode_max_depth(nil)"##, r##"true, 1000"##),
        (
            r##"local c = cjson.new() return c.encode_sparse_array(nil, nil, nil, nil)"##,
            r##"false, "bad argument #4 to 'encode_sparse_array' (found too many arguments)""##,
        ),
        (
            r##"local c = cjson.new() c.encode_sparse_array(false, 2147483647, 0) return c.encode({[1]=1,[3]=1})"##,
            r##"false, "Cannot serialise table: excessively sparse array""##,
        ),
        (
            r##"local c = cjson.new() c.encode_sparse_array(false, 3, 0) return c.encode({[1]=1,[2]=1, [7]=1})"##,
            r##"true, "[1,1,null,null,null,null,1]""##,
        ),
        (r##"local c = cjson.new() return c.encode_sparse_array("on\0x")"##, r##"true, true, 2, 10"##),
        (
            r##"return cjson.encode({a={b={c={1,2,{d='e'}}}}}), cjson.encode({['a\0b']='c\0d'})"##,
            r##"true, "{\x22a\x22:{\x22b\x22:{\x22c\x22:[1,2,{\x22d\x22:\x22e\x22}]}}}", "{\x22a\x5cu0000b\x22:\x22c\x5cu0000d\x22}""##,
        ),
        (r##"return cjson.encode({[1]=1, a=2})"##, r##"true, "{\x221\x22:1,\x22a\x22:2}""##),
        (
            r##"local c = cjson.new() c.decode_max_depth(100000) return c.decode(string.rep('[', 10000))"##,
            r##"false, "Found too many nested data structures (7999) at character 7999""##,
        ),
        (
            r##"local c = cjson.new() c.decode_max_depth(100000) return c.decode(string.rep('{"a":', 10000))"##,
            r##"false, "Found too many nested data structures (4000) at character 19996""##,
        ),
        (
            r##"local c = cjson.new() c.decode_max_depth(100000) return c.decode(string.rep('[{"a":', 10000))"##,
            r##"false, "Found too many nested data structures (5333) at character 15997""##,
        ),
        (
            r##"return cjson.encode(12.5), cjson.encode(-7), cjson.encode(1e-5), cjson.encode(123456.789), cjson.encode(1e15), cjson.encode(1e14), cjson.encode(2^63)"##,
            r##"true, "12.5", "-7", "1e-05", "123456.789", "1e+15", "1e+14", "9.2233720368548e+18""##,
        ),
        (r##"local t = {} for i = 1, 999 do t = {a=t} end return #cjson.encode(t)"##, r##"true, 5996"##),
        (r##"local t = {} for i = 1, 999 do t = {t} end return #cjson.encode(t)"##, r##"true, 2000"##),
        (
            r##"local c = cjson.new() c.decode_max_depth(100000) local t = c.decode(string.rep('[', 7000) .. '"x"' .. string.rep(']', 7000)) local d = 0 while type(t) == 'table' do t = t[1] d = d + 1 end return d, t"##,
            r##"true, 7000, "x""##,
        ),
        (
            r##"local c = cjson.new() c.decode_max_depth(100000) local t = c.decode(string.rep('{"k":', 3990) .. '1' .. string.rep('}', 3990)) local d = 0 while type(t) == 'table' do t = t.k d = d + 1 end return d, t"##,
            r##"true, 3990, 1"##,
        ),
        (
            r##"local c = cjson.new() c.decode_max_depth(100000) return c.decode(string.rep('[', 7000) .. string.rep(']', 6999))"##,
            r##"false, "Expected comma or array end but found T_END at character 14000""##,
        ),
        (
            r##"return cjson.decode('[1,2,3,{"a":[4,5,{"b":null}],"c":"d"}]')"##,
            r##"true, {[1]=1,[2]=2,[3]=3,[4]={["a"]={[1]=4,[2]=5,[3]={["b"]=null}},["c"]="d"}}"##,
        ),
        (
            r##"return cjson.decode('{"a":{"b":{"c":[1,[2,[3]]]}},"x":[[],{}]}')"##,
            r##"true, {["a"]={["b"]={["c"]={[1]=1,[2]={[1]=2,[2]={[1]=3}}}}},["x"]={[1]={},[2]={}}}"##,
        ),
        (
            r##"return cjson.encode(cjson.decode('{"a":[1,2.5,"x\\u00e9",true,false,null]}'))"##,
            r##"true, "{\x22a\x22:[1,2.5,\x22x\xc3\xa9\x22,true,false,null]}""##,
        ),
        (
            r##"return cjson.encode({['\226\130\172'] = '\240\159\152\128'})"##,
            r##"true, "{\x22\xe2\x82\xac\x22:\x22\xf0\x9f\x98\x80\x22}""##,
        ),
        (
            r##"return cjson.decode('"\\u0000\\u001f\\u007f\\u0080\\u07ff\\u0800\\uffff"')"##,
            r##"true, "\x00\x1f\x7f\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf""##,
        ),
        (
            r##"return cjson.decode('[1e308, -1e-308, 123456789012345678901234567890, 0.1, -0, 1E+2, 1e-2]')"##,
            r##"true, {[1]=1e+308,[2]=-9.9999999999999991e-309,[3]=1.2345678901234568e+29,[4]=0.10000000000000001,[5]=-0,[6]=100,[7]=0.01}"##,
        ),
        (r##"return cjson.encode({1, 'a', {b = 2}, false})"##, r##"true, "[1,\x22a\x22,{\x22b\x22:2},false]""##),
        (
            r##"return #cjson.encode(string.rep('\1', 1000000)), #cjson.encode(string.rep('/', 1000000)), #cmsgpack.pack(string.rep('x', 1000000))"##,
            r##"true, 6000002, 2000002, 1000005"##,
        ),
        (r##"local s = string.rep('\\u00e9', 100000) return #cjson.decode('"' .. s .. '"')"##, r##"true, 200000"##),
    ];

    /// Where this implementation deliberately differs from redis-server (see the module docs).
    const DEVIATIONS: &[(&str, &str)] = &[
        // C follows a self-referencing table until its Lua stack is full: nesting 7998 (arrays)
        // or 4000 (objects).
        (
            "local c = cjson.new() c.encode_max_depth(100000) local t = {} t[1] = t return c.encode(t)",
            r#"false, "Cannot serialise, excessive nesting (1001)""#,
        ),
        (
            "local c = cjson.new() c.encode_max_depth(100000) local t = {} t.a = t return c.encode(t)",
            r#"false, "Cannot serialise, excessive nesting (1001)""#,
        ),
        // encode_keep_buffer only changes what is reported.
        ("local c = cjson.new() c.encode_keep_buffer(false) return c.encode({1, {2}})", r#"true, "[1,[2]]""#),
    ];

    #[test]
    fn matches_redis() {
        check_all(CASES);
    }

    #[test]
    fn documented_deviations() {
        check_all(DEVIATIONS);
    }
}
