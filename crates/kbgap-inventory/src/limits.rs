//! Per-field limits on what one machine report may carry.
//!
//! The request body limit alone let a report through with a 19 MB `osName`, a million KBs or
//! 100,000 software entries; the server keeps every machine in memory, and 15 such reports took
//! it from 151 MB to 1 GB (issue 13, F5). Every inventory format ends as a [`Device`], so the
//! limits are checked there, whatever the format, and an excess is an error that names the
//! field and the limit. They are far above any real Windows machine (a long-lived server has a
//! few hundred KBs and a few hundred programs) and are documented in
//! `schemas/machine-report.schema.json` as `maxLength` / `maxItems`.

use kbgap_core::Device;

use crate::error::InventoryError;

/// `computerDnsName`: a DNS name is at most 253 characters.
pub const MAX_COMPUTER_NAME: usize = 255;
/// `osName`, the OS caption.
pub const MAX_OS_NAME: usize = 256;
/// `displayVersion` (`22H2`), `lastSeen` (RFC 3339).
pub const MAX_SHORT_TEXT: usize = 64;
/// `installedKbs`: distinct KBs.
pub const MAX_INSTALLED_KBS: usize = 10_000;
/// `software`: entries.
pub const MAX_SOFTWARE: usize = 5_000;
/// `software[].vendor` and `software[].name`.
pub const MAX_SOFTWARE_TEXT: usize = 512;
/// `software[].version`.
pub const MAX_SOFTWARE_VERSION: usize = 128;
/// `machineTags`: distinct tags. Tags label machines for filters (a site, a role, an owner); a
/// machine with more than a few dozen is a mistake in whatever sets them.
pub const MAX_MACHINE_TAGS: usize = 50;
/// `machineTags[]`: one tag, as long as Defender's portal accepts.
pub const MAX_MACHINE_TAG: usize = 200;

/// Refuses a device over any limit, naming the first field found over it.
pub fn check(device: &Device, file: &str) -> Result<(), InventoryError> {
    let err = |field: String, limit: usize, actual: usize, unit: &'static str| {
        Err(InventoryError::Limit {
            file: file.to_owned(),
            field,
            limit,
            actual,
            unit,
        })
    };
    let text = |field: &str, value: Option<&str>, limit: usize| {
        let n = value.map_or(0, |v| v.chars().count());
        if n > limit {
            return err(field.to_owned(), limit, n, "characters");
        }
        Ok(())
    };
    text(
        "computerDnsName",
        Some(&device.computer_dns_name),
        MAX_COMPUTER_NAME,
    )?;
    text("osName", device.os_name.as_deref(), MAX_OS_NAME)?;
    text(
        "displayVersion",
        device.display_version.as_deref(),
        MAX_SHORT_TEXT,
    )?;
    text("lastSeen", device.last_seen.as_deref(), MAX_SHORT_TEXT)?;
    if device.installed_kbs.len() > MAX_INSTALLED_KBS {
        return err(
            "installedKbs".into(),
            MAX_INSTALLED_KBS,
            device.installed_kbs.len(),
            "items",
        );
    }
    if device.software.len() > MAX_SOFTWARE {
        return err(
            "software".into(),
            MAX_SOFTWARE,
            device.software.len(),
            "items",
        );
    }
    if device.machine_tags.len() > MAX_MACHINE_TAGS {
        return err(
            "machineTags".into(),
            MAX_MACHINE_TAGS,
            device.machine_tags.len(),
            "items",
        );
    }
    for (i, tag) in device.machine_tags.iter().enumerate() {
        text(&format!("machineTags[{i}]"), Some(tag), MAX_MACHINE_TAG)?;
    }
    for (i, s) in device.software.iter().enumerate() {
        text(
            &format!("software[{i}].vendor"),
            Some(&s.vendor),
            MAX_SOFTWARE_TEXT,
        )?;
        text(
            &format!("software[{i}].name"),
            Some(&s.name),
            MAX_SOFTWARE_TEXT,
        )?;
        text(
            &format!("software[{i}].version"),
            s.version.as_deref(),
            MAX_SOFTWARE_VERSION,
        )?;
    }
    Ok(())
}
