//! Fuzzes sequences of tensor ops and backward passes: no input may make the library panic.
#![no_main]

#[path = "../../crates/tensor/tests/opseq/mod.rs"]
mod opseq;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    opseq::run(data);
});
