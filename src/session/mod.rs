//! Sessions: the journal of events and the store that keeps them. Knows nothing of the
//! terminal.

pub mod event;
pub mod fault;
pub mod journal;
pub mod store;
pub mod tail;
pub mod verify;

pub use event::{Event, Outcome, Record, WindowSpec};
pub use journal::{Journal, JournalError};
pub use store::{SessionLock, SessionPaths, Store, StoreError};
pub use tail::{JournalTail, TailError};
pub use verify::{Damage, Prefix, Problem, Severity};
