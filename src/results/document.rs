//! The versioned result document (in progress).
