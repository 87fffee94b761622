//! Stakeholder messages: drafting from the live state (`draft`), copying to the
//! operator's clipboard over any SSH link (`osc52`), and sending through the runbook's
//! `message.send` command (`send`).

pub mod draft;
pub mod files;
pub mod osc52;
pub mod send;

pub use draft::{Draft, phase_now};
