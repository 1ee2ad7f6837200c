//! Integration tests of the emulator over real sockets: one binary, one module per concern.
//! Behaviour that needs no socket is unit-tested next to the code.

mod endpoints;
mod faults;
mod python_client;
mod sessions;
mod support;
