//! CRC-64 as Redis computes it (Jones polynomial, reflected, init 0: the catalogue's
//! `CRC_64_REDIS`, spec §10.10) for RDB trailers and DUMP payloads, and the `Write` /
//! `Read` wrappers that hash every byte passing through them.

use crc::{Crc, Digest, Table, CRC_64_REDIS};
use std::io::{self, Read, Write};

/// The CRC-64 engine (16-lane tables: several GB/s, the checksum never dominates).
pub static CRC64: Crc<u64, Table<16>> = Crc::<u64, Table<16>>::new(&CRC_64_REDIS);

/// CRC-64 of `data`.
pub fn crc64(data: &[u8]) -> u64 {
    CRC64.checksum(data)
}

/// A writer that hashes everything written through it.
pub struct CrcWriter<W: Write> {
    inner: W,
    digest: Digest<'static, u64, Table<16>>,
}

impl<W: Write> CrcWriter<W> {
    /// Wraps `inner` with a fresh checksum.
    pub fn new(inner: W) -> Self {
        CrcWriter { inner, digest: CRC64.digest() }
    }

    /// The CRC of everything written so far.
    pub fn crc(&self) -> u64 {
        self.digest.clone().finalize()
    }

    /// The wrapped writer.
    pub fn into_inner(self) -> W {
        self.inner
    }
}

impl<W: Write> Write for CrcWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.digest.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A reader that hashes everything read through it, so a loader can compare the
/// running CRC with a trailer before reading the trailer itself.
pub struct CrcReader<R: Read> {
    inner: R,
    digest: Digest<'static, u64, Table<16>>,
}

impl<R: Read> CrcReader<R> {
    /// Wraps `inner` with a fresh checksum.
    pub fn new(inner: R) -> Self {
        CrcReader { inner, digest: CRC64.digest() }
    }

    /// The CRC of everything read so far.
    pub fn crc(&self) -> u64 {
        self.digest.clone().finalize()
    }

    /// The wrapped reader.
    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: Read> Read for CrcReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.digest.update(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_value() {
        assert_eq!(crc64(b"123456789"), 0xe9c6d914c4b8d9ca);
        assert_eq!(crc64(b""), 0);
    }

    #[test]
    fn wrappers_hash_what_passes() {
        let mut w = CrcWriter::new(Vec::new());
        w.write_all(b"1234").unwrap();
        w.write_all(b"56789").unwrap();
        assert_eq!(w.crc(), 0xe9c6d914c4b8d9ca);
        let mut bytes = w.into_inner();
        let mut r = CrcReader::new(&bytes[..]);
        let mut buf = [0u8; 9];
        r.read_exact(&mut buf).unwrap();
        assert_eq!(r.crc(), 0xe9c6d914c4b8d9ca);
        // The CRC over data plus its little-endian CRC is zero.
        bytes.extend_from_slice(&crc64(&bytes).to_le_bytes());
        assert_eq!(crc64(&bytes), 0);
    }
}
