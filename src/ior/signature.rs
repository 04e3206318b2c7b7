//! signature (in progress).
