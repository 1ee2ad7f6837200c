//! Integration tests of the emulator over real sockets (one binary, one module per concern).
