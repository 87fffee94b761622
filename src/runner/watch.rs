//! Following running tasks from the screen. (Being written.)
