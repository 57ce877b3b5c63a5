//! The producer client (see issue 3).
