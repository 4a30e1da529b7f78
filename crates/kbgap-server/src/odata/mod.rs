//! OData query options as Defender supports them: `$filter`, `$top`, `$skip`, `$count`, and
//! server-driven paging with `@odata.nextLink`.
//!
//! Defender documents `$top` up to 10,000 and pages larger results; clients (Microsoft's Python
//! samples, PSMDE) loop on `@odata.nextLink` until it is absent. kbgap treats `$top` as the page
//! size (10,000 when absent) and emits a next link with `$skip` advanced whenever more matches
//! remain, so following links always reaches the end and never loops. Unknown query parameters
//! are ignored, as Defender ignores them. A bad option is a 400 `ODataError` naming the problem.
//!
//! kbgap's one custom option is `kbgapExtended=true` (custom options may not start with `$`),
//! which adds kbgap's extra fields to getmissingkbs answers.

mod cost;
mod eval;
mod parse;
#[cfg(test)]
mod tests;

use axum::extract::{FromRequestParts, OriginalUri};
use axum::http::request::Parts;

pub use cost::{Budget, FILTER_BUDGET, terms};
pub use eval::{ODataRecord, ODataValue};
pub use parse::{CmpOp, Expr, Func, LambdaKind, Literal, MAX_DEPTH, MAX_LEN, SyntaxError};

use crate::dto::ODataCollection;
use crate::error::ApiError;
use crate::extract::BaseUrl;

/// The largest `$top` accepted.
pub const MAX_TOP: usize = 10_000;
/// The page size when `$top` is absent.
pub const DEFAULT_PAGE_SIZE: usize = 10_000;

/// A parsed `$filter`.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    expr: Expr,
    text: String,
}

fn shown(text: &str) -> String {
    if text.chars().count() > 200 {
        format!("{}…", text.chars().take(200).collect::<String>())
    } else {
        text.to_owned()
    }
}

impl Filter {
    /// Parses filter text; the error is the client-facing 400.
    pub fn parse(text: &str) -> Result<Self, ApiError> {
        let expr = parse::parse(text).map_err(|e| {
            ApiError::odata(format!(
                "Invalid filter: syntax error at position {} in '{}': {}.",
                e.position,
                shown(text),
                e.message
            ))
        })?;
        Ok(Self {
            expr,
            text: text.to_owned(),
        })
    }

    /// The syntax tree (for stores that translate filters into queries).
    pub fn expr(&self) -> &Expr {
        &self.expr
    }

    /// The text as the client sent it.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Resolves property names for records of type `R` (without regard to case), refusing
    /// properties `R` does not have.
    pub fn bind<R: ODataRecord>(&self) -> Result<Self, ApiError> {
        let expr = eval::bind(&self.expr, R::PROPERTIES, R::ENTITY, &mut Vec::new())
            .map_err(|m| ApiError::odata(format!("Invalid filter: {m}.")))?;
        Ok(Self {
            expr,
            text: self.text.clone(),
        })
    }

    /// Whether `record` satisfies the filter. Bind first: an unbound filter finds only
    /// properties spelled exactly as in `$metadata`.
    pub fn matches<R: ODataRecord>(&self, record: &R) -> Result<bool, ApiError> {
        self.matches_counted(record).map(|(verdict, _)| verdict)
    }

    /// [`Filter::matches`], with the term evaluations it took beyond [`terms`] (a lambda's
    /// body runs once per element of its collection), for the [`Budget`].
    pub fn matches_counted<R: ODataRecord>(&self, record: &R) -> Result<(bool, u64), ApiError> {
        eval::matches(&self.expr, record)
            .map_err(|m| ApiError::odata(format!("Invalid filter: {m}.")))
    }
}

/// The query options of one request.
#[derive(Debug, Clone, Default)]
pub struct ODataQuery {
    /// `$filter`.
    pub filter: Option<Filter>,
    /// `$top`: the page size, at most [`MAX_TOP`].
    pub top: Option<usize>,
    /// `$skip`.
    pub skip: usize,
    /// `$count=true`.
    pub count: bool,
    /// `kbgapExtended=true`: include kbgap's fields beyond Defender's.
    pub extended: bool,
    /// The raw `key=value` pieces, kept to rebuild the next link as the client wrote it.
    raw: Vec<(String, String)>,
    /// Where the request came in, for links.
    base: Option<BaseUrl>,
    path: String,
}

/// One page of matches.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The records of this page.
    pub items: Vec<T>,
    /// How many records matched in all (for `@odata.count`).
    pub total: usize,
    /// The `$skip` of the next page, when more remain.
    pub next_skip: Option<usize>,
}

impl<T> Page<T> {
    /// A page from a store that applied filter, skip and top itself.
    pub fn from_parts(items: Vec<T>, total: usize, skip: usize, page_size: usize) -> Self {
        let more = page_size > 0 && skip.saturating_add(items.len()) < total;
        Self {
            items,
            total,
            next_skip: more.then(|| skip.saturating_add(page_size)),
        }
    }
}

fn parse_usize(key: &str, value: &str, max: Option<usize>) -> Result<usize, ApiError> {
    let bad = || {
        let range = max.map_or("a non-negative integer".to_owned(), |m| {
            format!("an integer from 0 to {m}")
        });
        ApiError::odata(format!(
            "Invalid value '{}' for query option '{key}': expected {range}.",
            shown(value)
        ))
    };
    let n: usize = value.trim().parse().map_err(|_| bad())?;
    if max.is_some_and(|m| n > m) {
        return Err(bad());
    }
    Ok(n)
}

impl ODataQuery {
    /// Parses a URL query string (without `?`).
    pub fn parse(query: Option<&str>) -> Result<Self, ApiError> {
        let mut q = Self::default();
        let mut seen: Vec<String> = Vec::new();
        for piece in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let Some((key, value)) = form_urlencoded::parse(piece.as_bytes()).next() else {
                continue;
            };
            let lower = key.to_ascii_lowercase();
            q.raw.push((lower.clone(), piece.to_owned()));
            if !matches!(
                lower.as_str(),
                "$filter" | "$top" | "$skip" | "$count" | "kbgapextended"
            ) {
                continue;
            }
            if seen.contains(&lower) {
                return Err(ApiError::odata(format!(
                    "Query option '{key}' is given more than once."
                )));
            }
            seen.push(lower.clone());
            match lower.as_str() {
                "$filter" if value.trim().is_empty() => {}
                "$filter" => q.filter = Some(Filter::parse(&value)?),
                "$top" => q.top = Some(parse_usize("$top", &value, Some(MAX_TOP))?),
                "$skip" => q.skip = parse_usize("$skip", &value, None)?,
                "$count" => q.count = parse_bool("$count", &value)?,
                _ => q.extended = parse_bool(&key, &value)?,
            }
        }
        Ok(q)
    }

    /// Sets where the request came in (the extractor does this), for `@odata.context` and links.
    pub fn with_origin(mut self, base: BaseUrl, path: impl Into<String>) -> Self {
        self.base = Some(base);
        self.path = path.into();
        self
    }

    /// The page size: `$top`, else [`DEFAULT_PAGE_SIZE`].
    pub fn page_size(&self) -> usize {
        self.top.unwrap_or(DEFAULT_PAGE_SIZE)
    }

    /// Filters `items`, counts the matches and keeps the requested page. Items are visited in
    /// the order given, so callers sort first for deterministic pages. A filter costing more
    /// than [`FILTER_BUDGET`] term evaluations is a 400 naming the budget.
    pub fn apply<R: ODataRecord>(
        &self,
        items: impl IntoIterator<Item = R>,
    ) -> Result<Page<R>, ApiError> {
        self.apply_within(items, FILTER_BUDGET)
    }

    /// Refuses at once a filter that `rows` rows would take over the budget, for a caller
    /// that knows how many rows a collection has before making them (they may cost more to
    /// make than to count).
    pub fn check_cost(&self, rows: u64) -> Result<(), ApiError> {
        self.check_cost_within(rows, FILTER_BUDGET)
    }

    /// [`ODataQuery::check_cost`] with another budget of term evaluations.
    pub fn check_cost_within(&self, rows: u64, budget: u64) -> Result<(), ApiError> {
        match &self.filter {
            Some(f) => Budget::new(terms(f.expr()), budget).fits(rows),
            None => Ok(()),
        }
    }

    /// [`ODataQuery::apply`] with another budget of term evaluations. The rows the iterator
    /// is sure to yield are charged up front ([`Budget::fits`]), so a filter too costly for a
    /// collection of known size is refused before any row is evaluated.
    pub fn apply_within<R: ODataRecord>(
        &self,
        items: impl IntoIterator<Item = R>,
        budget: u64,
    ) -> Result<Page<R>, ApiError> {
        let filter = self.filter.as_ref().map(Filter::bind::<R>).transpose()?;
        let mut budget = filter
            .as_ref()
            .map(|f| Budget::new(terms(f.expr()), budget));
        let items = items.into_iter();
        if let Some(b) = &budget {
            b.fits(u64::try_from(items.size_hint().0).unwrap_or(u64::MAX))?;
        }
        let size = self.page_size();
        let mut page = Vec::new();
        let mut total = 0usize;
        for item in items {
            if let (Some(f), Some(b)) = (&filter, budget.as_mut()) {
                b.charge_row()?;
                let (matched, extra) = f.matches_counted(&item)?;
                b.charge(extra)?;
                if !matched {
                    continue;
                }
            }
            if total >= self.skip && page.len() < size {
                page.push(item);
            }
            total += 1;
        }
        Ok(Page::from_parts(page, total, self.skip, size))
    }

    /// [`ODataQuery::apply`] over sources that `make` turns into records, making only the
    /// records the page holds when there is no filter to decide matches by: a client paging
    /// through a million machines with `$skip` then costs each page its own records, not the
    /// fleet's (the source is counted and skipped, never made).
    pub fn apply_made<S, R: ODataRecord>(
        &self,
        sources: impl ExactSizeIterator<Item = S>,
        make: impl Fn(S) -> R,
    ) -> Result<Page<R>, ApiError> {
        if self.filter.is_some() {
            return self.apply(sources.map(make));
        }
        let total = sources.len();
        let size = self.page_size();
        let items = sources.skip(self.skip).take(size).map(make).collect();
        Ok(Page::from_parts(items, total, self.skip, size))
    }

    /// The base URL of the request (localhost when parsed outside a request).
    pub fn base(&self) -> BaseUrl {
        self.base.clone().unwrap_or(BaseUrl {
            scheme: "http",
            host: "localhost".into(),
        })
    }

    /// The link to the page starting at `skip`: the called URL with `$skip` replaced.
    pub fn next_link(&self, skip: usize) -> String {
        let mut pieces: Vec<&str> = self
            .raw
            .iter()
            .filter(|(k, _)| k != "$skip")
            .map(|(_, p)| p.as_str())
            .collect();
        let skip_piece = format!("$skip={skip}");
        pieces.push(&skip_piece);
        format!("{}{}?{}", self.base().origin(), self.path, pieces.join("&"))
    }

    /// A whole collection of records serialized already (answers kept between requests).
    pub fn raw_collection(
        &self,
        fragment: &str,
        value: std::sync::Arc<crate::dto::JsonArray>,
    ) -> crate::dto::RawCollection {
        crate::dto::RawCollection {
            context: self.base().metadata_context(fragment),
            count: self.count.then_some(value.len as u64),
            value,
        }
    }

    /// Wraps a page as Defender's collection body: `@odata.context` for `fragment` (`Machines`,
    /// `Collection(microsoft.windowsDefenderATP.api.PublicProductFixDto)`), `@odata.count` when
    /// asked for, and `@odata.nextLink` when more remain.
    pub fn collection<T>(&self, fragment: &str, page: Page<T>) -> ODataCollection<T> {
        ODataCollection {
            context: self.base().metadata_context(fragment),
            count: self.count.then_some(page.total as u64),
            value: page.items,
            next_link: page.next_skip.map(|s| self.next_link(s)),
        }
    }
}

fn parse_bool(key: &str, value: &str) -> Result<bool, ApiError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(ApiError::odata(format!(
            "Invalid value '{}' for query option '{key}': expected true or false.",
            shown(value)
        ))),
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ODataQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let path = parts
            .extensions
            .get::<OriginalUri>()
            .map_or_else(|| parts.uri.path().to_owned(), |o| o.0.path().to_owned());
        Ok(Self::parse(parts.uri.query())?.with_origin(BaseUrl::from_parts(parts), path))
    }
}
