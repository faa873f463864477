#![no_main]

#[path = "../targets.rs"]
#[allow(dead_code)] // each binary uses one of the shared targets
mod targets;

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| targets::object(bytes));
