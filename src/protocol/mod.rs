//! Wire types: what browsers send (`client`) and the frames we send back
//! (`server`). `docs/PROTOCOL.md` documents every message.

pub mod client;
mod json_str;
pub(crate) use json_str::{first_escape_in, plain_prefix};
pub mod server;

pub use client::{decode_client_message, ClientMessage, Decision, DecodeError};
pub use server::Frame;

#[cfg(test)]
mod fuzz_tests;
