//! `kbgap machines delete` and `kbgap machines purge`: retiring machines, all or nothing.
//!
//! Both resolve everything before writing and then make one store call, which is itself one
//! transaction: a typo in a list, or a machine that vanished meanwhile, deletes nothing.

use std::collections::BTreeSet;

use anyhow::{Context as _, Result, bail};
use chrono::{DateTime, Utc};
use kbgap_core::MachineId;
use kbgap_store::StoredMachine;
use kbgap_store::lifecycle::INACTIVE_AFTER;
use kbgap_store::machines::store_time;

use super::age::Age;
use super::list::{Listed, table};
use crate::context::Context;
use crate::output::count;
use crate::output::term;

/// Deletes the machines named by id or computer name; when any is unknown, deletes nothing and
/// fails naming every unknown one.
pub async fn delete(ctx: &Context, names: &[String]) -> Result<()> {
    let store = ctx.open_store().await?;
    let mut found: Vec<StoredMachine> = Vec::new();
    let mut unknown: Vec<&str> = Vec::new();
    for name in names {
        match store.machine(name).await.context("looking machines up")? {
            Some(m) if !found.iter().any(|f| f.id == m.id) => found.push(m),
            Some(_) => {}
            None => unknown.push(name),
        }
    }
    if !unknown.is_empty() {
        let noun = if unknown.len() == 1 {
            "machine"
        } else {
            "machines"
        };
        bail!(
            "no {noun} {} in {}; nothing was deleted",
            quoted(&unknown),
            store.describe()
        );
    }
    let ids: Vec<MachineId> = found.iter().map(|m| m.id.clone()).collect();
    let n = (store.delete_machines(&ids).await).context("nothing was deleted")?;
    print_machines(&found, Utc::now());
    say(&format!(
        "{} deleted from {}",
        count(n, "machine"),
        store.describe()
    ));
    Ok(())
}

/// Deletes (or with `dry_run` only lists) the machines not seen for `age`. An age inside
/// Defender's 30-day window would delete active machines, so it needs `force`.
pub async fn purge(ctx: &Context, age: &Age, dry_run: bool, force: bool) -> Result<()> {
    if age.delta < INACTIVE_AFTER && !force {
        bail!(
            "--older-than {} is under {} days: it would delete machines that are still active \
             (Defender calls a machine inactive only after {} days unseen). Nothing was \
             deleted; add --force if that is really meant",
            age.text,
            INACTIVE_AFTER.num_days(),
            INACTIVE_AFTER.num_days(),
        );
    }
    let store = ctx.open_store().await?;
    let now = Utc::now();
    let cut = store_time(now - age.delta);
    let all = store.machines().await.context("reading machines")?;
    let candidates: Vec<StoredMachine> = all.into_iter().filter(|m| m.last_seen < cut).collect();
    let since = cut.format("%Y-%m-%d %H:%M UTC");
    if dry_run {
        print_machines(&candidates, now);
        say(&format!(
            "{} not seen since {since} would be deleted (dry run: nothing was deleted)",
            count(candidates.len(), "machine")
        ));
        return Ok(());
    }
    let ids = store
        .purge_machines(cut)
        .await
        .context("nothing was deleted")?;
    print_machines(&purged(candidates, &ids), now);
    say(&format!(
        "{} not seen since {since} deleted from {}",
        count(ids.len(), "machine"),
        store.describe()
    ));
    Ok(())
}

/// The purged machines as read before the purge. A machine that went quiet between the read
/// and the purge is only known by id; one that reported meanwhile was not purged and drops out.
fn purged(candidates: Vec<StoredMachine>, ids: &[MachineId]) -> Vec<StoredMachine> {
    let ids: BTreeSet<&MachineId> = ids.iter().collect();
    let mut out: Vec<StoredMachine> = (candidates.into_iter())
        .filter(|m| ids.contains(&m.id))
        .collect();
    for id in ids {
        if !out.iter().any(|m| &m.id == id) {
            out.push(unread(id));
        }
    }
    out
}

fn unread(id: &MachineId) -> StoredMachine {
    let device = kbgap_core::Device {
        id: Some(id.clone()),
        computer_dns_name: "(not read)".into(),
        ..kbgap_core::Device::default()
    };
    StoredMachine {
        id: id.clone(),
        device,
        first_seen: DateTime::<Utc>::UNIX_EPOCH,
        last_seen: DateTime::<Utc>::UNIX_EPOCH,
    }
}

/// The same table as `machines list`, for the machines acted on.
fn print_machines(machines: &[StoredMachine], now: DateTime<Utc>) {
    if machines.is_empty() {
        return;
    }
    let mut rows: Vec<Listed<'_>> = machines.iter().map(|m| Listed::new(m, now)).collect();
    rows.sort_by_cached_key(|l| l.machine.device.computer_dns_name.to_lowercase());
    print!("{}", table(&rows, term::width(), term::colour()));
}

/// A summary line, wrapped to the table's width.
fn say(text: &str) {
    print!("{}", term::indented(text, term::width(), 0, 4));
}

/// `"a"`, `"a" and "b"`, `"a", "b" and "c"`.
fn quoted(names: &[&str]) -> String {
    let q: Vec<String> = names.iter().map(|n| format!("{n:?}")).collect();
    match q.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => q.concat(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_names_read_as_a_list() {
        assert_eq!(quoted(&["a"]), "\"a\"");
        assert_eq!(quoted(&["a", "b", "c"]), "\"a\", \"b\" and \"c\"");
    }

    #[test]
    fn a_machine_purged_unread_is_listed_by_id() {
        let id: MachineId = "a".repeat(40).parse().unwrap();
        let out = purged(Vec::new(), std::slice::from_ref(&id));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].id, id);
    }
}
