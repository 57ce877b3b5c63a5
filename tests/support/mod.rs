//! Test support shared by the integration tests and the fuzz targets: the
//! sequential reference model of the broker and the harness that compares it
//! with a real [`Log`](idemlog::Log). It uses only idemlog's public API.
//!
//! Integration tests include it with `mod support;`; the fuzz crate includes
//! these same files with `#[path = "../../tests/support/mod.rs"] mod support;`,
//! so there is one copy of the logic.
//!
//! - [`model`]: the reference model of contract rules 1-5 (`idemlog::contract`);
//! - [`check`]: the operation vocabulary and the [`check::Harness`] that applies
//!   each operation to a real log and to the model and reports the first
//!   disagreement.
// Each test binary (and fuzz target) that includes this module uses only part of
// it; the rest would be reported as dead code there.
#![allow(dead_code)]

pub(crate) mod check;
pub(crate) mod model;
