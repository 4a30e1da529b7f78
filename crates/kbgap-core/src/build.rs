//! Windows build numbers (`10.0.19045.2130`): NT major.minor, build, and update build revision (UBR).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A full Windows build: `major.minor.build.revision`.
///
/// The *branch* of a build is `major.minor.build` (`10.0.19045`); MSRC FixedBuilds are only ever
/// compared with a machine on the same branch, because one KB can carry FixedBuilds for sibling
/// branches (19044 and 19045 share cumulative updates).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Build {
    /// NT major version (10 for Windows 10, 11 and Server 2016+; 6 for Windows 7/8.x).
    pub major: u16,
    /// NT minor version.
    pub minor: u16,
    /// Build number (19045, 26100, 7601 …).
    pub build: u32,
    /// Update build revision: which cumulative update level the machine is at.
    pub revision: u32,
}

/// The `major.minor.build` part of a [`Build`]: what a FixedBuild must share with a machine to be
/// comparable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Branch {
    /// NT major version.
    pub major: u16,
    /// NT minor version.
    pub minor: u16,
    /// Build number.
    pub build: u32,
}

impl Build {
    /// The branch this build is on.
    pub fn branch(self) -> Branch {
        Branch {
            major: self.major,
            minor: self.minor,
            build: self.build,
        }
    }
}

impl Branch {
    /// A build on this branch at the given revision.
    pub fn at(self, revision: u32) -> Build {
        Build {
            major: self.major,
            minor: self.minor,
            build: self.build,
            revision,
        }
    }
}

/// Why a string is not a Windows build.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a Windows build (expected major.minor.build.revision, e.g. 10.0.19045.2130)")]
pub struct BuildError(pub String);

impl FromStr for Build {
    type Err = BuildError;
    /// Parses exactly four dot-separated numbers. A major version of 0 (the `0.0.26200.4652` typo
    /// in KB5062553) is refused: it would compare below every real build.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || BuildError(s.chars().take(60).collect());
        let mut it = s.trim().split('.');
        let mut next = || -> Result<u32, BuildError> {
            let p = it.next().ok_or_else(err)?;
            if p.is_empty() || p.len() > 9 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(err());
            }
            p.parse().map_err(|_| err())
        };
        let major = next()?;
        let minor = next()?;
        let build = next()?;
        let revision = next()?;
        if it.next().is_some()
            || major == 0
            || major > u32::from(u16::MAX)
            || minor > u32::from(u16::MAX)
        {
            return Err(err());
        }
        Ok(Build {
            major: major as u16,
            minor: minor as u16,
            build,
            revision,
        })
    }
}

impl fmt::Display for Build {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{}.{}.{}",
            self.major, self.minor, self.build, self.revision
        )
    }
}

impl fmt::Display for Branch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.build)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_orders_builds() {
        let a: Build = "10.0.19045.2130".parse().unwrap();
        let b: Build = "10.0.19045.10000".parse().unwrap();
        assert!(a < b, "revisions compare numerically, not as text");
        assert_eq!(a.branch().to_string(), "10.0.19045");
        assert_eq!(a.to_string(), "10.0.19045.2130");
    }

    #[test]
    fn refuses_malformed_builds() {
        for bad in [
            "0.0.26200.4652",
            "1.26.4-1",
            "10.0.19045",
            "10.0.19045.1.2",
            "",
            "10.0.x.1",
        ] {
            assert!(bad.parse::<Build>().is_err(), "{bad} should not parse");
        }
    }
}
