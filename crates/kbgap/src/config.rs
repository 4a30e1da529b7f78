//! `--config FILE`: settings from a TOML file, for running kbgap as a service.
//!
//! Keys are the long flag names: global flags at the top (`data-dir`, `db`), each subcommand's
//! in a table named after it (`[serve]`, `[catalog.sync]`). Keys are derived from the clap
//! definitions, so a flag added later has its key without any change here. A key becomes the
//! flag it names, added to the command line before clap parses it, only where neither the
//! command line nor the flag's environment variable gives a value: flags override the
//! environment, which overrides the file, which overrides the defaults. A key the command does
//! not have is an error naming it, anywhere in the file (a typo in `[serve]` is caught by
//! `kbgap token` too).

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;

use clap::{Arg, ArgAction, Command};

/// Why the config file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("{file}: cannot read the config file: {source}")]
    Read {
        /// The file.
        file: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not TOML.
    #[error("{file}: not a valid TOML file: {message}")]
    Syntax {
        /// The file.
        file: String,
        /// The parser's message (with line and column).
        message: String,
    },
    /// A key no flag has.
    #[error("{file}: unknown key `{key}`{hint}")]
    UnknownKey {
        /// The file.
        file: String,
        /// The dotted key (`serve.listn`).
        key: String,
        /// The keys allowed there.
        hint: String,
    },
    /// A value of the wrong shape for its flag.
    #[error("{file}: `{key}`: {message}")]
    Value {
        /// The file.
        file: String,
        /// The dotted key.
        key: String,
        /// What is expected.
        message: String,
    },
}

/// The global flag naming the file, and its environment variable.
pub const FLAG: &str = "config";
/// `KBGAP_CONFIG`.
pub const ENV: &str = "KBGAP_CONFIG";

/// `args` (the whole command line, program name first) with the config file's settings added
/// as flags. Without `--config` or `KBGAP_CONFIG` the arguments are returned unchanged.
/// `env` looks up environment variables (the process's own in `main`).
pub fn apply(
    args: Vec<OsString>,
    root: &Command,
    env: &dyn Fn(&str) -> Option<OsString>,
) -> Result<Vec<OsString>, ConfigError> {
    let Some(file) = config_path(&args).or_else(|| env(ENV).map(PathBuf::from)) else {
        return Ok(args);
    };
    let name = file.display().to_string();
    let text = std::fs::read_to_string(&file).map_err(|source| ConfigError::Read {
        file: name.clone(),
        source,
    })?;
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| ConfigError::Syntax {
            file: name.clone(),
            message: e.to_string().trim_end().to_owned(),
        })?;
    let file = File { name: &name, env };
    file.check(&table, root, "")?;
    // Each level's flags go right after its own name (the root's after the program name), so
    // clap reads them as that command's; inserted from the last level back, positions hold.
    let mut levels = vec![(0, root, Some(&table))];
    for (at, sub) in subcommand_path(&args, root) {
        let (_, cmd, t) = levels[levels.len() - 1];
        let Some(next) = cmd.find_subcommand(&sub) else {
            break;
        };
        let t = t.and_then(|t| t.get(&sub)).and_then(toml::Value::as_table);
        levels.push((at, next, t));
    }
    let mut out = args;
    for (at, cmd, t) in levels.into_iter().rev() {
        if let Some(t) = t {
            let extra = file.flags(t, cmd, &out)?;
            out.splice(at + 1..at + 1, extra);
        }
    }
    Ok(out)
}

/// The value of `--config FILE` / `--config=FILE`, when given.
fn config_path(args: &[OsString]) -> Option<PathBuf> {
    let long = format!("--{FLAG}");
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        let s = a.to_string_lossy();
        if s == "--" {
            return None;
        }
        if s == long {
            return it.next().map(PathBuf::from);
        }
        if let Some(v) = s.strip_prefix(&format!("{long}=")) {
            return Some(PathBuf::from(v));
        }
    }
    None
}

/// The subcommand names on the command line with their positions (`[(1, "catalog"), (2,
/// "sync")]`), skipping flags and the values of flags that take one.
fn subcommand_path(args: &[OsString], root: &Command) -> Vec<(usize, String)> {
    let mut path = Vec::new();
    let mut cmd = root;
    let mut it = args.iter().enumerate().skip(1);
    while let Some((at, a)) = it.next() {
        let s = a.to_string_lossy();
        if s == "--" {
            break;
        }
        if let Some(flag) = s.strip_prefix("--") {
            if !flag.contains('=') && takes_value(cmd, root, |arg| arg.get_long() == Some(flag)) {
                it.next();
            }
            continue;
        }
        if let Some(short) = s.strip_prefix('-').and_then(|f| f.chars().last()) {
            if s.len() == 2 && takes_value(cmd, root, |arg| arg.get_short() == Some(short)) {
                it.next();
            }
            continue;
        }
        match cmd.find_subcommand(s.as_ref()) {
            Some(sub) => {
                path.push((at, s.into_owned()));
                cmd = sub;
            }
            None => break,
        }
    }
    path
}

fn takes_value(cmd: &Command, root: &Command, is: impl Fn(&Arg) -> bool) -> bool {
    (cmd.get_arguments().chain(root.get_arguments()))
        .find(|a| is(a))
        .is_some_and(|a| a.get_action().takes_values())
}

/// The flags a config key can set on `cmd`: every named argument but help, version and
/// `--config` itself.
pub fn keyed(cmd: &Command) -> impl Iterator<Item = (&str, &Arg)> {
    cmd.get_arguments().filter_map(|a| {
        let long = a.get_long()?;
        let skip = matches!(a.get_action(), ArgAction::Help | ArgAction::Version) || long == FLAG;
        (!skip).then_some((long, a))
    })
}

struct File<'a> {
    name: &'a str,
    env: &'a dyn Fn(&str) -> Option<OsString>,
}

impl File<'_> {
    /// Every key of `table` names a flag of `cmd` or one of its subcommands (recursively).
    fn check(&self, table: &toml::Table, cmd: &Command, prefix: &str) -> Result<(), ConfigError> {
        for (key, value) in table {
            let dotted = format!("{prefix}{key}");
            if let Some(sub) = cmd.find_subcommand(key) {
                let toml::Value::Table(t) = value else {
                    return Err(self.value(&dotted, "expected a table of its flags"));
                };
                self.check(t, sub, &format!("{dotted}."))?;
            } else if !keyed(cmd).any(|(long, _)| long == key) {
                return Err(self.unknown(&dotted, cmd));
            }
        }
        Ok(())
    }

    fn unknown(&self, key: &str, cmd: &Command) -> ConfigError {
        let mut known: Vec<String> = keyed(cmd).map(|(l, _)| l.to_owned()).collect();
        known.extend(cmd.get_subcommands().map(|s| format!("[{}]", s.get_name())));
        ConfigError::UnknownKey {
            file: self.name.to_owned(),
            key: key.to_owned(),
            hint: if known.is_empty() {
                String::new()
            } else {
                format!(" (known here: {})", known.join(", "))
            },
        }
    }

    fn value(&self, key: &str, message: &str) -> ConfigError {
        ConfigError::Value {
            file: self.name.to_owned(),
            key: key.to_owned(),
            message: message.to_owned(),
        }
    }

    /// The flags `table` sets on `cmd` that neither `args` nor the environment gives.
    fn flags(
        &self,
        table: &toml::Table,
        cmd: &Command,
        args: &[OsString],
    ) -> Result<Vec<OsString>, ConfigError> {
        let mut out = Vec::new();
        for (long, arg) in keyed(cmd) {
            let Some(value) = table.get(long) else {
                continue;
            };
            if given(args, arg) || arg.get_env().is_some_and(|e| env_set(self.env, e)) {
                continue;
            }
            out.extend(self.to_args(long, arg, value)?);
        }
        Ok(out)
    }

    fn to_args(
        &self,
        long: &str,
        arg: &Arg,
        value: &toml::Value,
    ) -> Result<Vec<OsString>, ConfigError> {
        let flag = OsString::from(format!("--{long}"));
        if !arg.get_action().takes_values() {
            return match value {
                toml::Value::Boolean(true) => Ok(vec![flag]),
                toml::Value::Boolean(false) => Ok(vec![]),
                _ => Err(self.value(long, "expected true or false")),
            };
        }
        let items: Vec<&toml::Value> = match value {
            toml::Value::Array(items) => items.iter().collect(),
            one => vec![one],
        };
        let many = matches!(arg.get_action(), ArgAction::Append);
        if items.len() != 1 && !many {
            return Err(self.value(long, "expected one value, not a list"));
        }
        let mut out = Vec::new();
        for item in items {
            let text = match item {
                toml::Value::String(s) => s.clone(),
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Float(f) => f.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                _ => return Err(self.value(long, "expected a string, a number or a list of them")),
            };
            out.push(flag.clone());
            out.push(OsString::from(text));
        }
        Ok(out)
    }
}

fn env_set(env: &dyn Fn(&str) -> Option<OsString>, name: &OsStr) -> bool {
    name.to_str().and_then(env).is_some_and(|v| !v.is_empty())
}

/// Whether the command line gives `arg` (as `--long`, `--long=…` or `-s`).
fn given(args: &[OsString], arg: &Arg) -> bool {
    let long = arg.get_long().map(|l| format!("--{l}"));
    let short = arg.get_short();
    args.iter().skip(1).take_while(|a| *a != "--").any(|a| {
        let s = a.to_string_lossy();
        let by_long = long
            .as_ref()
            .is_some_and(|l| s == *l || s.starts_with(&format!("{l}=")));
        let by_short = short
            .is_some_and(|c| s.starts_with('-') && !s.starts_with("--") && s[1..].starts_with(c));
        by_long || by_short
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use clap::{CommandFactory, Parser};

    use super::*;
    use crate::cli::{Cli, Command as Sub};

    /// `apply` on `args` with a config file holding `toml` and a fake environment.
    fn run(toml: &str, args: &[&str], env: &[(&str, &str)]) -> Result<Vec<String>, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("kbgap.toml");
        std::fs::write(&file, toml).unwrap();
        let mut all: Vec<OsString> = vec!["kbgap".into(), "--config".into(), file.into()];
        all.extend(args.iter().map(OsString::from));
        let env: HashMap<String, OsString> = (env.iter())
            .map(|(k, v)| ((*k).to_owned(), OsString::from(v)))
            .collect();
        let out = apply(all, &Cli::command(), &|k| env.get(k).cloned())?;
        Ok(out.into_iter().map(|a| a.into_string().unwrap()).collect())
    }

    fn serve(args: &[String]) -> crate::cli::ServeArgs {
        match Cli::try_parse_from(args).unwrap().command {
            Sub::Serve(s) => s,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_serve_flag_and_every_global_flag_has_a_key() {
        let root = Cli::command();
        let serve_cmd = root.find_subcommand("serve").unwrap();
        let flags: Vec<(&str, bool)> = keyed(serve_cmd)
            .map(|(l, a)| (l, a.get_action().takes_values()))
            .collect();
        assert!(flags.len() >= 20, "{flags:?}");
        let sample = |takes: bool| if takes { "\"x\"" } else { "true" };
        let mut text = String::new();
        for (long, arg) in keyed(&root) {
            text.push_str(&format!(
                "{long} = {}\n",
                sample(arg.get_action().takes_values())
            ));
        }
        text.push_str("[serve]\n");
        for (long, takes) in &flags {
            text.push_str(&format!("{long} = {}\n", sample(*takes)));
        }
        let out = run(&text, &["serve"], &[]).unwrap();
        for (long, _) in keyed(&root).chain(keyed(serve_cmd)) {
            assert!(
                out.contains(&format!("--{long}")),
                "--{long} not set by its key: {out:?}"
            );
        }
    }

    #[test]
    fn flags_override_the_environment_which_overrides_the_file() {
        let text =
            "[serve]\nlisten = \"127.0.0.1:9000\"\nmax-connections = 7\nheader-timeout = 5\n";
        let out = run(
            text,
            &["serve", "--max-connections", "9"],
            &[("KBGAP_HEADER_TIMEOUT", "3")],
        )
        .unwrap();
        assert!(
            !out.contains(&"--header-timeout".to_owned()),
            "the environment wins: {out:?}"
        );
        let s = serve(&out);
        assert_eq!(s.listen.to_string(), "127.0.0.1:9000", "from the file");
        assert_eq!(s.max_connections, 9, "the flag wins");
        let out = run(text, &["serve", "--max-connections=11"], &[]).unwrap();
        assert_eq!(serve(&out).max_connections, 11);
        assert_eq!(serve(&out).header_timeout, 5, "from the file");
    }

    #[test]
    fn nested_tables_lists_and_booleans_reach_their_flags() {
        let text = "quiet = true\ndb = \"sqlite:///tmp/x.db\"\n[catalog.sync]\nbase-url = \"http://127.0.0.1:1\"\n[serve]\noidc-audience = [\"a\", \"b\"]\n";
        let out = run(text, &["catalog", "sync"], &[]).unwrap();
        let cli = Cli::try_parse_from(&out).unwrap();
        assert!(cli.quiet);
        assert_eq!(cli.db.as_deref(), Some("sqlite:///tmp/x.db"));
        match cli.command {
            Sub::Catalog(crate::cli::CatalogCommand::Sync { base_url, .. }) => {
                assert_eq!(base_url, "http://127.0.0.1:1")
            }
            other => panic!("{other:?}"),
        }
        let out = run(text, &["--db", "sqlite:///tmp/y.db", "serve"], &[]).unwrap();
        let cli = Cli::try_parse_from(&out).unwrap();
        assert_eq!(
            cli.db.as_deref(),
            Some("sqlite:///tmp/y.db"),
            "the flag wins"
        );
        match cli.command {
            Sub::Serve(s) => assert_eq!(s.oidc_audience, ["a", "b"]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_unknown_key_is_an_error_naming_it() {
        let e = run("[serve]\nlistn = \"x\"\n", &["serve"], &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown key `serve.listn`"), "{e}");
        assert!(e.contains("listen"), "the known keys are listed: {e}");
        let e = run("[serv]\nlisten = \"x\"\n", &["token"], &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown key `serv`"), "{e}");
        let e = run("colour = true\n", &["serve"], &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown key `colour`"), "{e}");
        let e = run("[serve]\nmax-connections = [1, 2]\n", &["serve"], &[]).unwrap_err();
        assert!(
            e.to_string()
                .contains("`max-connections`: expected one value"),
            "{e}"
        );
        let e = run("[serve\n", &["serve"], &[]).unwrap_err().to_string();
        assert!(
            e.contains("not a valid TOML file") && e.contains("line 1"),
            "{e}"
        );
    }
}
