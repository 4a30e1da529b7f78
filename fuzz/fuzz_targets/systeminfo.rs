//! Any bytes through the systeminfo reader and through format detection: an error is fine, a
//! panic is a bug.
#![no_main]

use kbgap_inventory::{Format, read};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = read(data, "fuzz.txt", Format::Systeminfo);
    let _ = read(data, "fuzz.txt", Format::Auto);
    let _ = read(data, "fuzz.txt", Format::Hotfixes);
});
