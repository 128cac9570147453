//! DUMP / RESTORE payloads (spec §10.11): the value as in an RDB file (type byte and
//! body, compression on), the RDB version as u16 LE, and the CRC-64 of all of that as
//! u64 LE.

use super::crc::crc64;
use super::reader::{read_value, Input};
use super::writer::write_value;
use super::{Limits, DUMP_MAX_VERSION, RDB_VERSION};
use crate::db::Value;

/// Bytes after the value: version (2) and CRC (8).
const FOOTER: usize = 10;

/// Why RESTORE refuses a payload; `Display` is Redis's error text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestoreError {
    /// Too short, newer than version 10, or a CRC mismatch (a zero CRC is not
    /// exempt): `ERR DUMP payload version or checksum are wrong`.
    VersionOrChecksum,
    /// The body is not exactly one valid value: `ERR Bad data format`.
    BadFormat,
}

impl std::fmt::Display for RestoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RestoreError::VersionOrChecksum => "ERR DUMP payload version or checksum are wrong",
            RestoreError::BadFormat => "ERR Bad data format",
        })
    }
}

impl std::error::Error for RestoreError {}

/// The DUMP payload of `value` (a non-empty value: keys never hold empty collections).
pub fn dump(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    write_value(&mut out, value, true);
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Decodes a RESTORE payload into a value built with `limits`' encodings. Checks the
/// footer first (version ≤ 10 and CRC, as Redis's `verifyDumpPayload`), then requires
/// the body to be exactly one non-empty value of a supported type.
pub fn restore(payload: &[u8], limits: &Limits) -> Result<Value, RestoreError> {
    let Some(body_len) = payload.len().checked_sub(FOOTER) else {
        return Err(RestoreError::VersionOrChecksum);
    };
    let version = u16::from_le_bytes([payload[body_len], payload[body_len + 1]]);
    let crc_at = body_len + 2;
    let stored: [u8; 8] = payload[crc_at..].try_into().map_err(|_| RestoreError::VersionOrChecksum)?;
    if version > DUMP_MAX_VERSION || crc64(&payload[..crc_at]) != u64::from_le_bytes(stored) {
        return Err(RestoreError::VersionOrChecksum);
    }
    let mut inp = Input::new(&payload[..body_len]);
    let t = inp.u8().map_err(|_| RestoreError::BadFormat)?;
    let value = match read_value(&mut inp, t, b"", limits) {
        Ok(Some(v)) => v,
        _ => return Err(RestoreError::BadFormat),
    };
    if !inp.r.is_empty() {
        return Err(RestoreError::BadFormat);
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{HashValue, ListValue, SetValue};

    #[test]
    fn dump_of_an_integer_string() {
        let p = dump(&Value::string(b"12345"));
        assert_eq!(&p[..6], &[0x00, 0xc1, 0x39, 0x30, 0x0a, 0x00]);
        assert_eq!(p.len(), 14);
        assert_eq!(crc64(&p), 0, "the CRC covers everything before it");
        let v = restore(&p, &Limits::default()).unwrap();
        assert!(matches!(&v, Value::Str(s) if s.to_bytes().as_ref() == b"12345"));
    }

    #[test]
    fn restore_checks_footer_and_body() {
        let lim = Limits::default();
        let good = dump(&Value::string(b"hello"));
        assert!(restore(&good, &lim).is_ok());
        assert_eq!(restore(&good[..9], &lim).unwrap_err(), RestoreError::VersionOrChecksum);
        let mut bad_crc = good.clone();
        *bad_crc.last_mut().unwrap() ^= 1;
        assert_eq!(restore(&bad_crc, &lim).unwrap_err(), RestoreError::VersionOrChecksum);
        let mut zero_crc = good.clone();
        let n = zero_crc.len();
        zero_crc[n - 8..].fill(0);
        assert_eq!(restore(&zero_crc, &lim).unwrap_err(), RestoreError::VersionOrChecksum);
        // Version 11 is refused even with a valid CRC; version 9 is accepted.
        let reseal = |body: &[u8], version: u16| {
            let mut p = body.to_vec();
            p.extend_from_slice(&version.to_le_bytes());
            let crc = crc64(&p);
            p.extend_from_slice(&crc.to_le_bytes());
            p
        };
        let body = &good[..good.len() - FOOTER];
        assert_eq!(restore(&reseal(body, 11), &lim).unwrap_err(), RestoreError::VersionOrChecksum);
        assert!(restore(&reseal(body, 9), &lim).is_ok());
        // Trailing bytes, truncated bodies, unknown types, empty collections.
        let mut trailing = body.to_vec();
        trailing.push(0);
        assert_eq!(restore(&reseal(&trailing, 10), &lim).unwrap_err(), RestoreError::BadFormat);
        assert_eq!(restore(&reseal(&body[..3], 10), &lim).unwrap_err(), RestoreError::BadFormat);
        assert_eq!(restore(&reseal(&[], 10), &lim).unwrap_err(), RestoreError::BadFormat);
        assert_eq!(restore(&reseal(&[8, 0], 10), &lim).unwrap_err(), RestoreError::BadFormat);
        assert_eq!(restore(&reseal(&[1, 0], 10), &lim).unwrap_err(), RestoreError::BadFormat);
        assert_eq!(restore(&reseal(&[19, 0], 10), &lim).unwrap_err(), RestoreError::BadFormat);
        // Hand-built type 1 (plain list) and type 3 (ASCII scores) bodies are accepted.
        let list = reseal(&[1, 2, 1, b'a', 0xc0, 7], 9);
        let Value::List(l) = restore(&list, &lim).unwrap() else { panic!("not a list") };
        assert_eq!(l.iter().collect::<Vec<_>>(), vec![&b"a"[..], b"7"]);
        let zset = reseal(&[3, 2, 1, b'a', 3, b'1', b'.', b'5', 1, b'b', 254], 9);
        let Value::ZSet(z) = restore(&zset, &lim).unwrap() else { panic!("not a zset") };
        assert_eq!(z.iter().collect::<Vec<_>>(), vec![(&b"a"[..], 1.5), (&b"b"[..], f64::INFINITY)]);
    }

    #[test]
    fn dump_restore_round_trip() {
        let lim = Limits::default();
        let mut list = ListValue::default();
        for i in 0..1000 {
            list.push(crate::db::list::End::Right, format!("element-{i}").as_bytes());
        }
        let mut hash = HashValue::default();
        hash.set(b"f", b"v", 512, 64);
        let mut set = SetValue::default();
        set.add(b"42", 512);
        for v in [Value::list(list), Value::hash(hash), Value::set(set), Value::string(&[b'x'; 1000])] {
            let p = dump(&v);
            let back = restore(&p, &lim).unwrap();
            assert_eq!(dump(&back), p);
        }
    }
}
