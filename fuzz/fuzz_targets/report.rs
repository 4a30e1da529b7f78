//! Any bytes through the JSON readers (kbgap machine report and osquery results): an error is
//! fine, a panic is a bug.
#![no_main]

use kbgap_inventory::{Format, read};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = read(data, "fuzz.json", Format::Report);
    let _ = read(data, "fuzz.json", Format::Osquery);
});
