//! What the service's tests share.

use kbgap_core::{Device, OsVersion};

/// A Windows 10 machine named `name` on build `build` (10.0.`build`), with nothing installed.
pub fn device(name: &str, build: u32) -> Device {
    Device {
        computer_dns_name: name.into(),
        os_name: Some("Microsoft Windows 10 Enterprise".into()),
        os_version: Some(OsVersion {
            major: 10,
            minor: 0,
            build,
        }),
        ..Device::default()
    }
}
