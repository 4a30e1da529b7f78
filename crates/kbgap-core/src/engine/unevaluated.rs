//! Software a machine reports that kbgap does not evaluate (Office, Chrome, 7-Zip …): named in a
//! warning, so an empty answer is never mistaken for "this software is up to date".

use crate::catalog::Catalog;
use crate::engine::MachineState;
use crate::machine::Device;
use crate::product::{normalize_name, parse_facts};

/// At most this many names in the warning; the rest are counted.
const SHOWN: usize = 10;

/// One warning naming the software entries of `device` that resolved to no catalog product of
/// `state` (empty when there are none): every entry except those matching a catalog product by
/// name, the OS itself, and .NET Framework runtimes whose release matched a .NET product.
pub fn unevaluated_software(cat: &Catalog, device: &Device, state: &MachineState) -> Vec<String> {
    let os_name = device.os_name.as_deref().map(normalize_name);
    let dotnet: Vec<&str> = state
        .products
        .iter()
        .filter_map(|&p| {
            cat.product(p)
                .normalized
                .strip_prefix("microsoft .net framework ")
        })
        .collect();
    let mut names: Vec<&str> = Vec::new();
    for sw in &device.software {
        let normalized = normalize_name(&sw.name);
        let evaluated = cat
            .products_named(&sw.name)
            .iter()
            .any(|p| state.products.binary_search(p).is_ok())
            || os_name.as_deref() == Some(normalized.as_str())
            || parse_facts(&sw.name).is_os
            || dotnet_runtime(&normalized).is_some_and(|v| {
                dotnet
                    .iter()
                    .any(|product| release_tokens(product).any(|t| t == v))
            });
        if !evaluated && !sw.name.trim().is_empty() && !names.contains(&sw.name.trim()) {
            names.push(sw.name.trim());
        }
    }
    if names.is_empty() {
        return Vec::new();
    }
    let mut list = names
        .iter()
        .take(SHOWN)
        .map(|n| format!("{n:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        list.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    let what = if names.len() == 1 {
        "1 program in the software inventory is".to_owned()
    } else {
        format!("{} programs in the software inventory are", names.len())
    };
    vec![format!(
        "{what} not evaluated (no MSRC product of that name in the catalog): {list}"
    )]
}

/// The release of a .NET Framework runtime entry ("microsoft .net framework 4.8.1" → `4.8.1`,
/// "4.8.0" → `4.8`); SDKs, targeting and language packs are not the runtime.
fn dotnet_runtime(normalized: &str) -> Option<&str> {
    let rest = normalized.strip_prefix("microsoft .net framework ")?;
    if ["pack", "sdk", "targeting", "language", "multi-targeting"]
        .iter()
        .any(|w| rest.contains(w))
    {
        return None;
    }
    let v = rest.split(' ').next().filter(|v| is_version(v))?;
    Some(
        v.strip_suffix(".0")
            .filter(|s| s.contains('.'))
            .unwrap_or(v),
    )
}

/// The releases a .NET product names ("3.5 and 4.8.1 on windows 11 …" → `3.5`, `4.8.1`).
fn release_tokens(product: &str) -> impl Iterator<Item = &str> {
    let subject = product.split(" on ").next().unwrap_or(product);
    subject.split([' ', '/']).filter(|t| is_version(t))
}

fn is_version(t: &str) -> bool {
    t.contains('.') && t.bytes().all(|b| b.is_ascii_digit() || b == b'.')
}
