//! Integration tests of the session-host library and binary (one test binary, to keep link
//! time down).

mod cli;
mod clients;
mod configs;
mod conformance;
mod engine;
mod examples;
mod gateway;
mod guests;
mod hostile;
mod run;
mod support;
