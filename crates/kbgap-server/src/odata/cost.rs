//! A cost budget for `$filter`: terms × rows evaluated.
//!
//! A filter is evaluated against every row of a collection, so its cost is its number of
//! predicates times the rows it meets. 300 `contains(cveId,'…')` terms over the
//! `machinesVulnerabilities` rows of 37 machines took 6 s of one CPU (issue 13, F2); a budget
//! stops such a request early with a 400 that names the budget, instead of letting it run.

use super::parse::Expr;
use crate::error::ApiError;

/// Term evaluations one request may spend (about half a second of one core in a release
/// build: 300 terms over 3,333 rows, or 10 terms over 100,000 rows).
pub const FILTER_BUDGET: u64 = 1_000_000;

/// The predicates of a filter: comparisons, `in` lists (one per listed value), function calls
/// and lambdas (their body counted once: the collections they range over are small).
pub fn terms(expr: &Expr) -> u64 {
    match expr {
        Expr::Or(xs) | Expr::And(xs) => xs.iter().map(terms).sum(),
        Expr::Not(x) => terms(x),
        Expr::Compare(_, a, b) => (terms(a) + terms(b)).max(1),
        Expr::In(x, list) => terms(x) + u64::try_from(list.len()).unwrap_or(u64::MAX),
        Expr::Call(_, args) => 1 + args.iter().map(terms).sum::<u64>(),
        Expr::Lambda { body, .. } => 1 + body.as_ref().map_or(0, |(_, b)| terms(b)),
        Expr::Property(_) | Expr::Literal(_) => 0,
    }
}

/// Counts the work of one request's filter against [`FILTER_BUDGET`].
#[derive(Debug)]
pub struct Budget {
    per_row: u64,
    spent: u64,
    limit: u64,
}

impl Budget {
    /// A budget for a filter of `per_row` terms.
    pub fn new(per_row: u64, limit: u64) -> Self {
        Self {
            per_row: per_row.max(1),
            spent: 0,
            limit,
        }
    }

    /// Charges one row; the 400 once the budget is spent.
    pub fn charge_row(&mut self) -> Result<(), ApiError> {
        self.spent = self.spent.saturating_add(self.per_row);
        if self.spent <= self.limit {
            return Ok(());
        }
        Err(ApiError::odata(format!(
            "The $filter is too costly: its {} terms times the rows it must be evaluated over exceed the budget of {} term evaluations per request. Use fewer terms (an 'in' list instead of many 'or' terms) or a narrower collection.",
            self.per_row, self.limit
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dto::MachineVulnerability;
    use crate::error::ErrorCode;
    use crate::odata::{Filter, ODataQuery};

    fn rows(n: usize) -> Vec<MachineVulnerability> {
        (0..n)
            .map(|i| {
                MachineVulnerability::new(
                    &format!("{i:040x}"),
                    &format!("CVE-2024-{:05}", i % 30_000),
                    "microsoft",
                    "windows_10",
                    "10.0.19045",
                    None,
                    "High",
                )
            })
            .collect()
    }

    fn query(filter: &str) -> ODataQuery {
        ODataQuery {
            filter: Some(Filter::parse(filter).unwrap()),
            ..ODataQuery::default()
        }
    }

    fn or_chain(n: usize) -> String {
        (0..n)
            .map(|i| format!("contains(cveId,'zz{i}')"))
            .collect::<Vec<_>>()
            .join(" or ")
    }

    #[test]
    fn terms_count_predicates() {
        let t = |s: &str| terms(Filter::parse(s).unwrap().expr());
        assert_eq!(t("cveId eq 'a'"), 1);
        assert_eq!(t("cveId eq 'a' and not (severity eq 'High')"), 2);
        assert_eq!(t("cveId in ('a','b','c')"), 3);
        assert_eq!(t(&or_chain(300)), 300);
    }

    #[test]
    fn a_300_term_filter_over_many_rows_is_refused_naming_the_budget() {
        let started = std::time::Instant::now();
        let err = query(&or_chain(300)).apply(rows(10_000)).unwrap_err();
        let took = started.elapsed();
        assert_eq!(err.code, ErrorCode::ODataError);
        assert!(
            err.message.contains("1000000 term evaluations"),
            "{}",
            err.message
        );
        assert!(err.message.contains("300 terms"), "{}", err.message);
        eprintln!("300-term filter over 10,000 rows refused in {took:?}");
    }

    #[test]
    fn the_same_filter_within_the_budget_is_answered() {
        // 300 terms × 3,000 rows = 900,000 ≤ 1,000,000.
        let page = query(&or_chain(300)).apply(rows(3_000)).unwrap();
        assert_eq!(page.total, 0);
        let page = query("contains(cveId,'2024-0000')")
            .apply(rows(100_000))
            .unwrap();
        assert_eq!(page.total, 40); // CVE-2024-00000…00009, each for 4 of the rows
    }

    #[test]
    fn no_filter_costs_nothing() {
        let page = ODataQuery::default().apply_within(rows(5_000), 1).unwrap();
        assert_eq!(page.total, 5_000);
    }
}
