//! Running commands so that losing the operator's terminal costs nothing.
//!
//! `task` names the files a run leaves behind; `supervise` is the detached process
//! that runs one command; `sanitize` turns child bytes into text that is safe to draw;
//! `output` keeps the bounded tail shown on screen; `watch` follows running tasks from
//! the screen and reconciles them on resume.

pub mod output;
pub mod sanitize;
pub mod supervise;
pub mod task;
pub mod watch;

pub use task::{ExitRecord, PidRecord, TaskDir, TaskId, TaskKind, TaskSpec};
