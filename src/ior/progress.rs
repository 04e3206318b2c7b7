//! progress (in progress).
