//! The run: journaled facts folded into a state (`state`), and what follows from them
//! and the clock (`plan`).

pub mod context;
pub mod plan;
pub mod report;
pub mod state;
pub mod timeline;
pub mod window;

pub use state::{
    Attempt, BackupState, BackupStatus, Extension, MessageRecord, Override, RunState, StepState,
    StepStatus,
};
pub use window::{Verdict, WindowStatus};
