//! Tessera's composition root: configuration, the store and key material, the listener,
//! routing, the one authentication layer, audit, metrics and shutdown. The `tessera` binary
//! (`main.rs`) is a thin command-line front end over this library.

pub mod admin;
pub mod app;
pub mod auth;
pub mod config;
pub mod error;
pub mod metrics;
pub mod pipeline;
mod protocols;
pub mod proxy;
pub mod serve;
pub mod setup;
pub mod start;
pub mod tls;

pub use start::{Running, StartOptions, start};
