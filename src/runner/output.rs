//! The bounded tail of a task's output shown on screen. (Being written.)
