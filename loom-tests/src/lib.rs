//! loom models of idemlog live in tests/.
