//! Command-line interface: every subcommand, flag and environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// kbgap: which security updates each Windows machine misses, and what installing each fixes.
///
/// kbgap reads Microsoft's MSRC security-update documents (a copy is built in, so it works
/// offline) and machine inventories (systeminfo in any language, hotfix lists, osquery results,
/// JSON reports), and answers like Defender for Endpoint's "missing KBs" API.
///
/// Exit codes: 0 success (for `scan`: nothing missing), 1 `scan` found missing KBs, 2 error,
/// 3 `scan` found a machine out of support (an OS MSRC covers no more, such as Windows XP).
/// Over several files an error (2) wins, then out of support (3), then missing KBs (1).
#[derive(Debug, Parser)]
#[command(
    name = "kbgap",
    version,
    propagate_version = true,
    max_term_width = 110
)]
pub struct Cli {
    /// Folder for the SQLite database and the token signing key.
    /// Default: $XDG_DATA_HOME/kbgap, else ~/.local/share/kbgap (or ./.kbgap when there is no home).
    #[arg(long, global = true, env = "KBGAP_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Store URL: `sqlite://PATH`, a bare PATH, or `postgres://user:pass@host/db`.
    /// Default: the SQLite file `kbgap.db` in the data dir.
    #[arg(long, global = true, env = "KBGAP_DB", value_name = "URL")]
    pub db: Option<String>,

    /// Read settings from this TOML file: global flags at the top (`db = "postgres://…"`), each
    /// command's flags in its table (`[serve]`, `[catalog.sync]`), keyed by their long names
    /// (`max-connections = 512`). Flags and environment variables override it.
    #[arg(long, global = true, env = "KBGAP_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Sign and verify kbgap's own tokens with this PKCS#8 PEM P-256 key (`serve` and `token`).
    /// Default: on PostgreSQL, the key every server on the database shares (stored in it by the
    /// first that needed one); on SQLite, `jwt-signing-key.pem` in the data dir.
    #[arg(long, global = true, env = "KBGAP_SIGNING_KEY", value_name = "PEM")]
    pub signing_key: Option<PathBuf>,

    /// Less output: no progress bars and no warnings, only errors and the answer itself.
    #[arg(long, short, global = true)]
    pub quiet: bool,

    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve Defender's missing-KB API (and its neighbours) over HTTP.
    Serve(ServeArgs),
    /// Read inventory files offline and print each machine's missing KBs.
    ///
    /// Exit codes: 0 nothing missing, 1 KBs missing, 2 error, 3 a machine out of support (an OS
    /// MSRC covers no more, such as Windows XP or Server 2003: said in plain words, nothing can be
    /// listed for it). Over several files an error (2) wins, then 3, then 1.
    Scan(ScanArgs),
    /// Import, sync and describe the MSRC catalog.
    #[command(subcommand)]
    Catalog(CatalogCommand),
    /// What a KB is and what it fixes.
    Kb(KbArgs),
    /// Issue a bearer token from this kbgap's own issuer (recorded in the store); list or revoke them.
    Token(TokenArgs),
    /// Load machine inventories into the store, list machines, and retire them.
    #[command(subcommand)]
    Machines(MachinesCommand),
}

/// Output formats for reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns for people.
    Table,
    /// JSON, the same shapes as the HTTP API.
    Json,
    /// Comma-separated values: one row per KB, and one per machine or file without any (why).
    Csv,
}

/// `kbgap catalog …`
#[derive(Debug, Subcommand)]
pub enum CatalogCommand {
    /// Import CVRF documents (.xml, .xml.gz, .xml.zst files, or folders of them), and/or a
    /// CISA KEV catalog file.
    ///
    /// A document replaces an older revision of the same document ID; an older revision than the
    /// stored one changes nothing. Either every document imports or none does. A KEV file
    /// replaces the stored KEV catalog only when it is a later release.
    Import {
        /// Files or folders.
        #[arg(required_unless_present = "kev")]
        paths: Vec<PathBuf>,
        /// A CISA Known Exploited Vulnerabilities JSON file
        /// (known_exploited_vulnerabilities.json).
        #[arg(long, value_name = "FILE")]
        kev: Option<PathBuf>,
    },
    /// Bring the catalog up to date from the MSRC API, and the KEV catalog from CISA's feed.
    ///
    /// Each source is all or nothing: a failed download leaves its stored copy as it was.
    Sync {
        /// MSRC API base URL.
        #[arg(
            long,
            default_value = "https://api.msrc.microsoft.com",
            env = "KBGAP_MSRC_URL"
        )]
        base_url: String,
        /// CISA KEV feed URL.
        #[arg(
            long,
            default_value = kbgap_catalog::kev::DEFAULT_URL,
            env = "KBGAP_KEV_URL"
        )]
        kev_url: String,
    },
    /// Documents, products, KBs, CVEs and fixes in the stored catalog.
    Stats {
        /// Output format.
        #[arg(long, value_enum, default_value_t = StatsFormat::Table)]
        format: StatsFormat,
    },
}

/// Formats for `catalog stats` and `kb`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatsFormat {
    /// For people.
    Table,
    /// JSON.
    Json,
}

/// `kbgap kb ID`
#[derive(Debug, Args)]
pub struct KbArgs {
    /// KB number (`4540673` or `KB4540673`).
    pub id: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = StatsFormat::Table)]
    pub format: StatsFormat,
}

/// `kbgap scan`
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Inventory files: systeminfo output, wmic qfe / Get-HotFix lists, osquery results, JSON reports;
    /// `-` reads standard input. Hotfix lists carry no OS: give a systeminfo file alongside, or
    /// the OS facts as options.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Output format. The table fits the terminal's width (`COLUMNS`, else 80, when not a
    /// terminal) and is coloured on a terminal unless `NO_COLOR` is set; CSV has one row per KB
    /// and one per machine or file that has none (nothing missing, out of support, error).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Order of the KBs. `priority`: most exploited CVEs first, then highest severity, then
    /// highest CVSS, then most CVEs closed. `release`: newest release first, as the API answers.
    /// Default: priority for the table, release for JSON and CSV.
    #[arg(long, value_enum, value_name = "ORDER")]
    pub sort: Option<SortOrder>,
    /// Only KBs that close a CVE of at least this MSRC severity (KBs of unknown severity are left
    /// out). The exit code counts the KBs shown.
    #[arg(long, value_enum, value_name = "SEVERITY")]
    pub min_severity: Option<SeverityArg>,
    /// Only KBs that close a CVE exploited in the wild (MSRC "Exploited: Yes", or in CISA's KEV).
    /// The exit code counts the KBs shown, so `scan --exploited-only` can gate a pipeline.
    #[arg(long)]
    pub exploited_only: bool,
    /// Show every unsatisfied KB, not only the ones to install.
    #[arg(long)]
    pub all: bool,
    /// List the CVEs each KB closes (in the table: below the KB, exploited and KEV ones first and
    /// marked).
    #[arg(long)]
    pub cves: bool,
    /// Input format, when auto-detection is not wanted.
    #[arg(long, default_value = "auto", value_parser = ["auto", "systeminfo", "hotfixes", "osquery", "report"])]
    pub input_format: String,
    /// OS facts for hotfix lists, or overrides: OS version (`10.0.19045`).
    #[arg(long, value_name = "MAJOR.MINOR.BUILD")]
    pub os_version: Option<String>,
    /// Update build revision (the fourth part of the build).
    #[arg(long)]
    pub ubr: Option<u32>,
    /// Installation type: `Client`, `Server` or `"Server Core"` (systeminfo cannot tell Server Core).
    #[arg(long)]
    pub installation_type: Option<String>,
    /// Architecture: `x64`, `x86`, `arm64`.
    #[arg(long)]
    pub architecture: Option<String>,
    /// Read the catalog from these CVRF files instead of the store (no store is opened).
    #[arg(long, value_name = "PATH")]
    pub catalog: Vec<PathBuf>,
}

/// `scan --sort`
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SortOrder {
    /// What to deploy first: exploited, then severity, then CVSS, then CVEs closed.
    Priority,
    /// Release order, newest first (the API's order).
    Release,
}

/// `scan --min-severity`: MSRC's ratings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SeverityArg {
    /// Low and above.
    Low,
    /// Moderate and above.
    Moderate,
    /// Important and above.
    Important,
    /// Critical only.
    Critical,
}

impl From<SeverityArg> for kbgap_core::Severity {
    fn from(s: SeverityArg) -> Self {
        match s {
            SeverityArg::Low => Self::Low,
            SeverityArg::Moderate => Self::Moderate,
            SeverityArg::Important => Self::Important,
            SeverityArg::Critical => Self::Critical,
        }
    }
}

/// `kbgap serve`
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080", env = "KBGAP_LISTEN")]
    pub listen: SocketAddr,
    /// Serve Prometheus metrics on this separate address (off by default).
    #[arg(long, env = "KBGAP_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// Trust tokens from this OpenID issuer (Entra ID: `https://sts.windows.net/<tenant>/`).
    #[arg(long, env = "KBGAP_OIDC_ISSUER", requires = "oidc_jwks_url")]
    pub oidc_issuer: Option<String>,
    /// JWKS URL of that issuer.
    #[arg(long, env = "KBGAP_OIDC_JWKS_URL")]
    pub oidc_jwks_url: Option<String>,
    /// Extra accepted audiences (Defender's own are always accepted).
    #[arg(long, env = "KBGAP_OIDC_AUDIENCE", value_delimiter = ',')]
    pub oidc_audience: Vec<String>,
    /// Requests per minute per application and tenant (default: Defender's 100).
    #[arg(long, env = "KBGAP_RATE_PER_MINUTE")]
    pub rate_per_minute: Option<u32>,
    /// Requests per hour per application and tenant (default: Defender's 1500).
    #[arg(long, env = "KBGAP_RATE_PER_HOUR")]
    pub rate_per_hour: Option<u32>,
    /// Seconds a client has to send a complete request header, from the connection's start or
    /// the end of the previous response (so also the idle keep-alive timeout).
    #[arg(long, env = "KBGAP_HEADER_TIMEOUT", default_value_t = 10, value_name = "SECONDS",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub header_timeout: u64,
    /// Longest silence, in seconds, allowed between two chunks of a request body.
    #[arg(long, env = "KBGAP_BODY_TIMEOUT", default_value_t = 10, value_name = "SECONDS",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub body_timeout: u64,
    /// Seconds one request may take from its header to its answer, body included (then 408).
    #[arg(long, env = "KBGAP_REQUEST_TIMEOUT", default_value_t = 60, value_name = "SECONDS",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub request_timeout: u64,
    /// Serve HTTPS with this PEM certificate chain (with --tls-key). Both files are checked every
    /// 10 s and reloaded when they change; answers then carry Strict-Transport-Security.
    #[arg(long, env = "KBGAP_TLS_CERT", value_name = "PEM", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, env = "KBGAP_TLS_KEY", value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Connections served at once; more wait in the listen backlog. At start the open-files
    /// limit is raised to fit (up to the hard limit; a warning says when it cannot be).
    #[arg(long, env = "KBGAP_MAX_CONNECTIONS", default_value_t = 512, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_connections: u64,
    /// Seconds between checks of the store for changes made by other processes: a `catalog
    /// import` or `sync` is loaded and swapped in, and machines written by `machines import`,
    /// `delete`, `purge` or another server are applied, without a restart. On PostgreSQL both
    /// also arrive at once by LISTEN/NOTIFY; this poll is then the fallback.
    #[arg(long, env = "KBGAP_CATALOG_POLL", default_value_t = 10, value_name = "SECONDS",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub catalog_poll: u64,
    /// How often `serve` runs `catalog sync` itself (MSRC and KEV): `24h`, `90m`, `3600s`,
    /// `2d`; `0` or `off` disables it. Failures retry with exponential backoff.
    #[arg(long, env = "KBGAP_SYNC_INTERVAL", default_value = "24h", value_name = "DURATION",
          value_parser = parse_interval)]
    pub sync_interval: SyncInterval,
    /// MSRC API base URL for the scheduled sync.
    #[arg(long, default_value = kbgap_catalog::sync::DEFAULT_BASE, env = "KBGAP_MSRC_URL")]
    pub msrc_url: String,
    /// CISA KEV feed URL for the scheduled sync.
    #[arg(long, default_value = kbgap_catalog::kev::DEFAULT_URL, env = "KBGAP_KEV_URL")]
    pub kev_url: String,
    /// POST signed JSON here when a catalog change brings KBs machines miss, and when a report
    /// exposes a machine to an exploited CVE (see the README's webhook section).
    #[arg(
        long,
        env = "KBGAP_WEBHOOK",
        value_name = "URL",
        requires = "webhook_secret"
    )]
    pub webhook: Option<String>,
    /// The HMAC-SHA256 key deliveries are signed with (prefer the environment variable or the
    /// config file: a flag shows in the process list).
    #[arg(
        long,
        env = "KBGAP_WEBHOOK_SECRET",
        value_name = "SECRET",
        requires = "webhook",
        hide_env_values = true
    )]
    pub webhook_secret: Option<String>,
    /// Seconds `machines.exploited` events are collected into one delivery.
    #[arg(long, env = "KBGAP_WEBHOOK_BATCH", default_value_t = 60, value_name = "SECONDS",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub webhook_batch: u64,
}

/// `serve --sync-interval`: how often to sync, or never.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncInterval(pub Option<std::time::Duration>);

/// `24h`, `90m`, `30s`, `2d` or a bare number of seconds; `0` and `off` mean never.
fn parse_interval(s: &str) -> Result<SyncInterval, String> {
    parse_duration(s).map(SyncInterval)
}

fn parse_duration(s: &str) -> Result<Option<std::time::Duration>, String> {
    let s = s.trim().to_ascii_lowercase();
    if s == "off" || s == "never" {
        return Ok(None);
    }
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s.as_str(), "s"),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a duration like 24h, 90m, 30s or off"))?;
    let unit_secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("`{s}`: the unit must be s, m, h or d")),
    };
    Ok((n > 0).then(|| std::time::Duration::from_secs(n.saturating_mul(unit_secs))))
}

/// `kbgap token …`: with no subcommand, issue a token (`kbgap token --roles …`).
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct TokenArgs {
    /// List or revoke issued tokens.
    #[command(subcommand)]
    pub command: Option<TokenCommand>,
    /// What to issue.
    #[command(flatten)]
    pub issue: IssueArgs,
}

/// A token to issue. Every token is recorded in the store (`kbgap token list`) so it can be
/// revoked; use the same `--db` as the servers that should honour the revocation.
#[derive(Debug, Args)]
pub struct IssueArgs {
    /// Application roles, comma-separated (`Machine.Read.All,Software.Read.All`). Only roles some
    /// kbgap endpoint checks are accepted: Machine.Read.All, Machine.ReadWrite.All,
    /// Software.Read.All, Vulnerability.Read.All, and kbgap's own `Inventory.Submit`, which
    /// allows `POST /api/inventory` and nothing else.
    #[arg(long, value_delimiter = ',', required = true)]
    pub roles: Vec<String>,
    /// Tenant id (`tid` claim).
    #[arg(long, default_value = "00000000-0000-0000-0000-000000000000")]
    pub tenant: String,
    /// Application id (`appid` claim): also the token's label in `kbgap token list`.
    #[arg(long, default_value = "kbgap-cli")]
    pub app: String,
    /// Lifetime: seconds, or a number with s, m, h or d (`8h`, `90d`). Default and maximum
    /// depend on the roles (the strictest wins): Inventory.Submit 90d (at most 366d);
    /// Machine.Read.All, Software.Read.All, Vulnerability.Read.All 8h (at most 30d);
    /// Machine.ReadWrite.All 1h (at most 7d).
    #[arg(long, value_parser = parse_ttl, value_name = "DURATION")]
    pub ttl: Option<std::time::Duration>,
    /// Bind an `Inventory.Submit` token to this computer: reports for any other are refused
    /// (403). Needs `--roles Inventory.Submit` and no other role.
    #[arg(long, value_name = "NAME")]
    pub machine: Option<String>,
}

/// `1800`, `90s`, `15m`, `8h`, `90d`.
fn parse_ttl(s: &str) -> Result<std::time::Duration, String> {
    let s = s.trim();
    let (digits, unit) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = digits.parse().map_err(|_| {
        format!("{s:?} is not a duration: give seconds, or a number with s, m, h or d")
    })?;
    let per = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        other => return Err(format!("unknown unit {other:?} in {s:?}: use s, m, h or d")),
    };
    n.checked_mul(per)
        .map(std::time::Duration::from_secs)
        .ok_or_else(|| format!("{s:?} is too long"))
}

/// `kbgap token list|revoke`
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// List the tokens this store has recorded: jti, application, roles (and bound machine),
    /// issued, expires, status (active, revoked or expired). Expired tokens are left out unless
    /// --all.
    List {
        /// Output format. The table fits the terminal's width (`COLUMNS`, else 80); jtis are
        /// shortened to 12 digits when they do not fit, which `revoke` accepts.
        #[arg(long, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
        /// Include expired tokens.
        #[arg(long)]
        all: bool,
    },
    /// Revoke one token by its jti (or a unique prefix of at least 8 digits), or every token
    /// issued before a date. Running servers on the same store refuse it within about a second.
    ///
    /// Exit codes: 0 revoked (also when it already was), 2 no such token, an ambiguous prefix,
    /// or a date in the future.
    #[command(group(clap::ArgGroup::new("which").required(true).args(["jti", "issued_before"])))]
    Revoke {
        /// The token's jti (`kbgap token list`).
        jti: Option<String>,
        /// Revoke every token kbgap issued before this instant, recorded or not:
        /// `2026-12-01` (midnight UTC), `2026-12-01T08:00:00Z`, or `now`.
        #[arg(long, value_name = "DATE", value_parser = parse_instant)]
        issued_before: Option<chrono::DateTime<chrono::Utc>>,
    },
}

/// `now`, an RFC 3339 instant, or a date (midnight UTC).
fn parse_instant(s: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("now") {
        return Ok(chrono::Utc::now());
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&chrono::Utc));
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map(|d| d.and_time(chrono::NaiveTime::MIN).and_utc())
        .map_err(|_| format!("{s:?} is not a date: give 2026-12-01, 2026-12-01T08:00:00Z or now"))
}

/// `kbgap machines …`
#[derive(Debug, Subcommand)]
pub enum MachinesCommand {
    /// Read inventory files and store them as machines (updating machines already known).
    Import {
        /// Inventory files (any format `scan` reads; NDJSON files of JSON reports too).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// List the stored machines: id, computer name, OS build, when last seen, status, tags.
    ///
    /// Like Defender for Endpoint, a machine not seen for more than 30 days is inactive: it is
    /// left out by default (and out of fleet counts), and listed with --inactive or --all.
    /// Status is active, inactive or end of support (an OS MSRC covers no more).
    List {
        /// Output format. The table fits the terminal's width (`COLUMNS`, else 80, when not a
        /// terminal; ids are shortened when they do not fit). JSON is `{"value": [...]}` with
        /// Defender's field names (`healthStatus`: Active or Inactive); CSV has the same fields.
        #[arg(long, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
        /// Only inactive machines: not seen for more than 30 days.
        #[arg(long, conflicts_with = "all")]
        inactive: bool,
        /// Active and inactive machines.
        #[arg(long)]
        all: bool,
        /// Only machines carrying this tag (the report's `machineTags`; any case). Repeat it
        /// for machines carrying every one of several tags.
        #[arg(long = "tag", value_name = "TAG")]
        tags: Vec<String>,
    },
    /// Delete machines by id (40 hex digits) or computer name (any case).
    ///
    /// All or nothing: when any is unknown, nothing is deleted and the command fails (exit 2)
    /// naming it. Prints what was deleted. A machine that reports again comes back.
    Delete {
        /// Machine ids or computer names.
        #[arg(required = true, value_name = "ID|NAME")]
        machines: Vec<String>,
    },
    /// Delete every machine not seen for a while, and print them.
    ///
    /// An age under 30 days (Defender's inactivity window) would delete active machines, so it
    /// is refused without --force: a typo must not wipe a fleet.
    Purge {
        /// How long unseen: a whole number and a unit, `90d` (days), `12w` (weeks) or `2160h`
        /// (hours).
        #[arg(long, value_name = "DURATION", value_parser = crate::commands::machines::age::parse)]
        older_than: crate::commands::machines::age::Age,
        /// List what would be deleted; delete nothing.
        #[arg(long)]
        dry_run: bool,
        /// Allow an age under 30 days.
        #[arg(long)]
        force: bool,
    },
}

/// Formats for `machines list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    /// Aligned columns for people.
    Table,
    /// JSON: `{"value": [machine, …]}`.
    Json,
    /// Comma-separated values, one row per machine.
    Csv,
}

/// Which machines `machines list` shows, by Defender's 30-day rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// Seen within 30 days (the default).
    Active,
    /// Not seen for more than 30 days.
    Inactive,
    /// Both.
    All,
}

impl Which {
    /// From `--inactive` and `--all` (which clap keeps apart).
    pub fn from_flags(inactive: bool, all: bool) -> Self {
        match (inactive, all) {
            (_, true) => Self::All,
            (true, false) => Self::Inactive,
            (false, false) => Self::Active,
        }
    }
}
