//! The sequential reference model of SEMANTICS.md (being written).
