//! Helpers for the QEMU system tests in `tests/tests/`.
