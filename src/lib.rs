//! cutover: a full-screen terminal runbook executor for maintenance windows.
//!
//! Folders follow the data: `runbook` (the file), `session` (the journal and store),
//! `run` (state folded from the journal), `app` (update and runtime), `ui` (drawing),
//! `report` (the after-action record), `cmd` (one module per command), `config` (the
//! operator's settings and keymap).

pub mod app;
pub mod cli;
pub mod cmd;
pub mod config;
pub mod message;
pub mod report;
pub mod run;
pub mod runbook;
pub mod runner;
pub mod session;
pub mod ui;
