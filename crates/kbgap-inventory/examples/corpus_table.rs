//! Prints what kbgap reads from every file of a folder (default: the systeminfo corpus in
//! `fixtures/systeminfo`) as a Markdown table: file → product, build, KB count, warnings.
//!
//! `cargo run -p kbgap-inventory --example corpus_table [FOLDER]`

use std::path::PathBuf;

use kbgap_inventory::{Format, Inventory, read};

fn main() {
    let dir = std::env::args().nth(1).map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/systeminfo"),
        PathBuf::from,
    );
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(e) => {
            eprintln!("{}: {e}", dir.display());
            std::process::exit(2);
        }
    };
    files.sort();
    println!("| file | result | product | build | KBs | warnings |");
    println!("|---|---|---|---|---|---|");
    for path in files
        .iter()
        .filter(|p| p.file_name().is_some_and(|n| n != "LICENSE.txt"))
    {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let bytes = std::fs::read(path).unwrap_or_default();
        println!("{}", row(&name, read(&bytes, &name, Format::Auto)));
    }
}

fn row(name: &str, result: Result<Inventory, kbgap_inventory::InventoryError>) -> String {
    let esc = |s: &str| s.replace('|', "\\|");
    match result {
        Ok(Inventory::Device(d)) => {
            let build = d.os_version.map(|v| v.to_string()).unwrap_or_default();
            format!(
                "| {name} | device | {} | {build} | {} | {} |",
                esc(&d.products.join(", ")),
                d.installed_kbs.len(),
                esc(&d.warnings.join("; "))
            )
        }
        Ok(Inventory::Hotfixes(l)) => {
            format!(
                "| {name} | hotfix list | — | — | {} | {} |",
                l.kbs.len(),
                esc(&l.warnings.join("; "))
            )
        }
        Err(e) => format!(
            "| {name} | error: {:?} | — | — | — | {} |",
            e.kind(),
            esc(&e.to_string())
        ),
    }
}
