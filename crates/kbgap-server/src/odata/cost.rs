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
/// and lambdas (their body counted once here; each further element it runs for is charged as
/// it runs, [`Budget::charge`], so a lambda over a machine's 50 tags pays for 50 bodies).
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

    /// The 400 at once when `rows` rows are known to come: rows × terms is the least this
    /// filter will spend over them, so neither the rows nor the terms need be evaluated to
    /// refuse it (charged rows are counted again as they come).
    pub fn fits(&self, rows: u64) -> Result<(), ApiError> {
        if self.per_row.saturating_mul(rows) <= self.limit {
            return Ok(());
        }
        Err(self.refusal())
    }

    /// Charges one row; the 400 once the budget is spent.
    pub fn charge_row(&mut self) -> Result<(), ApiError> {
        self.charge(self.per_row)
    }

    /// Charges `terms` evaluations more (a lambda's body over its collection's further
    /// elements); the 400 once the budget is spent.
    pub fn charge(&mut self, terms: u64) -> Result<(), ApiError> {
        self.spent = self.spent.saturating_add(terms);
        if self.spent <= self.limit {
            return Ok(());
        }
        Err(self.refusal())
    }

    fn refusal(&self) -> ApiError {
        ApiError::odata(format!(
            "The $filter is too costly: its {} terms times the rows it must be evaluated over exceed the budget of {} term evaluations per request. Use fewer terms (an 'in' list instead of many 'or' terms) or a narrower collection.",
            self.per_row, self.limit
        ))
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
        // Sized rows: refused before the first is evaluated.
        let ahead = ODataQuery::check_cost_within;
        let counted = ahead(&query(&or_chain(300)), 10_000, FILTER_BUDGET).unwrap_err();
        assert_eq!(counted.message, err.message);
        assert!(ahead(&query(&or_chain(300)), 3_000, FILTER_BUDGET).is_ok());
        assert!(
            ahead(&ODataQuery::default(), u64::MAX, 1).is_ok(),
            "no filter"
        );
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

    /// Machines with 50 tags each: the static count sees one lambda body, the budget pays for
    /// every element it runs for.
    #[test]
    fn a_lambda_pays_for_each_element_it_runs_for() {
        use crate::dto::Machine;
        let machines: Vec<Machine> = (0..2_000)
            .map(|i| {
                let mut m = Machine::new(format!("{i:040x}"), format!("pc-{i}"));
                m.machine_tags = (0..50).map(|t| format!("tag-{t}")).collect();
                m
            })
            .collect();
        let body = (0..20)
            .map(|i| format!("t eq 'no-{i}'"))
            .collect::<Vec<_>>()
            .join(" or ");
        let filter = format!("machineTags/any(t: {body})");
        // 21 terms × 2,000 rows = 42,000 statically; 20 × 50 × 2,000 = 2,000,000 evaluated.
        assert_eq!(terms(Filter::parse(&filter).unwrap().expr()), 21);
        let err = query(&filter).apply(machines.clone()).unwrap_err();
        assert!(err.message.contains("budget"), "{}", err.message);
        // The same filter over fewer rows fits, and a matching tag ends the lambda early.
        let page = query(&filter).apply(machines[..500].to_vec()).unwrap();
        assert_eq!(page.total, 0);
        let page = query("machineTags/any(tag: tag eq 'TAG-0')")
            .apply(machines)
            .unwrap();
        assert_eq!(page.total, 2_000);
    }

    #[test]
    fn no_filter_costs_nothing() {
        let page = ODataQuery::default().apply_within(rows(5_000), 1).unwrap();
        assert_eq!(page.total, 5_000);
    }
}
