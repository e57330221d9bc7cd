//! swe-swe: drive command-line coding agents from a browser.
//!
//! The layout follows the architecture: `session` holds the per-chat-session
//! actor and its pure state machine, `agent` the adapters that turn turns into
//! command lines and agent output into events, `process` the process-group
//! supervisor, `server` the HTTP/WebSocket edge and `protocol` the wire types.
#![forbid(unsafe_code)]

pub mod agent;
pub mod config;
pub mod files;
pub mod lane;
pub mod log_safe;
pub mod permissions;
pub mod process;
pub mod protocol;
pub mod server;
pub mod session;
pub mod store;
mod swar;
