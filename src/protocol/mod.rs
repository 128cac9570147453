//! The wire: RESP2/RESP3 reply values (`Reply`), the request decoder (multibulk and
//! inline commands, with Redis's limits and error texts) and the encoder. Knows nothing
//! about commands or the keyspace.

pub mod decoder;
pub mod encoder;
pub mod reply;

pub use decoder::{DecodeLimits, ProtocolError, RequestDecoder};
pub use encoder::{encode, encode_bulk_array};
pub use reply::Reply;
