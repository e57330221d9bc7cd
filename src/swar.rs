//! Words of eight bytes tested at once (SIMD within a register): the
//! constants the JSON escaper and the `@` search's in-order check share.

/// 0x01 in every byte: times a byte, that byte in every byte.
pub(crate) const ONES: u64 = 0x0101_0101_0101_0101;
/// The top bit of every byte, where the tests leave their flags.
pub(crate) const HIGH: u64 = 0x8080_8080_8080_8080;
