//! Evaluating a `$filter` against records.
//!
//! Records expose their properties through [`ODataRecord`]; the filter is first *bound* to the
//! record type, which resolves property names without regard to case (clients write
//! `computerdnsname` as often as `computerDnsName`) and refuses unknown ones even when the
//! collection is empty. String comparisons ignore case too: Defender's backend compares names,
//! platforms and ids case-insensitively, and DNS names are case-insensitive anyway.

use std::borrow::Cow;
use std::cmp::Ordering;

use chrono::{DateTime, Utc};

use super::parse::{CmpOp, Expr, Func, LambdaKind, Literal, parse_datetime};

/// A property value as the filter sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum ODataValue<'a> {
    /// No value.
    Null,
    /// `Edm.Boolean`.
    Bool(bool),
    /// `Edm.Int32`/`Edm.Int64`.
    Int(i64),
    /// `Edm.Double`/`Edm.Single`.
    Double(f64),
    /// `Edm.String` and enum members.
    Str(Cow<'a, str>),
    /// `Edm.DateTimeOffset`.
    DateTime(DateTime<Utc>),
    /// A collection (`machineTags`, `ipAddresses`).
    Collection(Vec<ODataValue<'a>>),
    /// A complex value (an element of `ipAddresses`): named members.
    Object(Vec<(&'static str, ODataValue<'a>)>),
}

impl<'a> ODataValue<'a> {
    /// A borrowed string, or `Null` when absent.
    pub fn opt_str(s: Option<&'a str>) -> Self {
        s.map_or(Self::Null, |s| Self::Str(Cow::Borrowed(s)))
    }
    /// A borrowed string.
    pub fn str(s: &'a str) -> Self {
        Self::Str(Cow::Borrowed(s))
    }
    /// A collection of borrowed strings.
    pub fn strings(items: &'a [String]) -> Self {
        Self::Collection(items.iter().map(|s| Self::str(s)).collect())
    }
}

/// A record `$filter` can be evaluated against.
pub trait ODataRecord {
    /// The entity's name, for error messages (`Machine`).
    const ENTITY: &'static str;
    /// The properties a filter may name, spelled as in `$metadata`.
    const PROPERTIES: &'static [&'static str];
    /// The value of a property named exactly as in [`Self::PROPERTIES`]; `None` for a name that
    /// is not a property.
    fn field(&self, name: &str) -> Option<ODataValue<'_>>;
}

/// Resolves property names in `expr` to the canonical spelling of `properties`.
pub(crate) fn bind(
    expr: &Expr,
    properties: &[&str],
    entity: &str,
    vars: &mut Vec<String>,
) -> Result<Expr, String> {
    let resolve = |path: &[String], vars: &[String]| -> Result<Vec<String>, String> {
        let mut out = path.to_vec();
        let first = path.first().ok_or("an empty property path")?;
        if vars.iter().any(|v| v == first) {
            return Ok(out);
        }
        let canonical = properties
            .iter()
            .find(|p| p.eq_ignore_ascii_case(first))
            .ok_or_else(|| {
                format!("property '{first}' is not a property of {entity} that can be filtered on")
            })?;
        out[0] = (*canonical).to_owned();
        Ok(out)
    };
    Ok(match expr {
        Expr::Or(items) => Expr::Or(
            items
                .iter()
                .map(|e| bind(e, properties, entity, vars))
                .collect::<Result<_, _>>()?,
        ),
        Expr::And(items) => Expr::And(
            items
                .iter()
                .map(|e| bind(e, properties, entity, vars))
                .collect::<Result<_, _>>()?,
        ),
        Expr::Not(e) => Expr::Not(Box::new(bind(e, properties, entity, vars)?)),
        Expr::Compare(op, l, r) => Expr::Compare(
            *op,
            Box::new(bind(l, properties, entity, vars)?),
            Box::new(bind(r, properties, entity, vars)?),
        ),
        Expr::In(e, list) => Expr::In(Box::new(bind(e, properties, entity, vars)?), list.clone()),
        Expr::Call(f, args) => Expr::Call(
            *f,
            args.iter()
                .map(|e| bind(e, properties, entity, vars))
                .collect::<Result<_, _>>()?,
        ),
        Expr::Property(path) => Expr::Property(resolve(path, vars)?),
        Expr::Lambda { path, kind, body } => {
            let path = resolve(path, vars)?;
            let body = match body {
                Some((var, b)) => {
                    vars.push(var.clone());
                    let bound = bind(b, properties, entity, vars);
                    vars.pop();
                    Some((var.clone(), Box::new(bound?)))
                }
                None => None,
            };
            Expr::Lambda {
                path,
                kind: *kind,
                body,
            }
        }
        Expr::Literal(l) => Expr::Literal(l.clone()),
    })
}

struct Ctx<'a, R> {
    record: &'a R,
    vars: Vec<(&'a str, ODataValue<'a>)>,
    /// Term evaluations beyond those [`super::cost::terms`] counts: it counts a lambda's body
    /// once, and the body runs once per element of the collection.
    extra: u64,
}

/// Whether `record` satisfies `expr`, and how many term evaluations it took beyond the
/// filter's [`super::cost::terms`] (lambda bodies run for a second element and on). Errors
/// name the problem (unknown property, types that cannot be compared, a filter that is not a
/// condition).
pub(crate) fn matches<R: ODataRecord>(expr: &Expr, record: &R) -> Result<(bool, u64), String> {
    let mut ctx = Ctx {
        record,
        vars: Vec::new(),
        extra: 0,
    };
    let verdict = match ctx.eval(expr)? {
        ODataValue::Bool(b) => b,
        ODataValue::Null => false,
        _ => {
            return Err(
                "the filter is not a condition (it yields a value, not true or false)".into(),
            );
        }
    };
    Ok((verdict, ctx.extra))
}

fn literal(l: &Literal) -> ODataValue<'_> {
    match l {
        Literal::Null => ODataValue::Null,
        Literal::Bool(b) => ODataValue::Bool(*b),
        Literal::Int(i) => ODataValue::Int(*i),
        Literal::Decimal(d) => ODataValue::Double(*d),
        Literal::String(s) => ODataValue::Str(Cow::Borrowed(s)),
        Literal::DateTime(d) => ODataValue::DateTime(*d),
    }
}

impl<'a, R: ODataRecord> Ctx<'a, R> {
    fn eval(&mut self, e: &'a Expr) -> Result<ODataValue<'a>, String> {
        Ok(match e {
            Expr::Or(items) => {
                for i in items {
                    if self.truth(i)? {
                        return Ok(ODataValue::Bool(true));
                    }
                }
                ODataValue::Bool(false)
            }
            Expr::And(items) => {
                for i in items {
                    if !self.truth(i)? {
                        return Ok(ODataValue::Bool(false));
                    }
                }
                ODataValue::Bool(true)
            }
            Expr::Not(e) => ODataValue::Bool(!self.truth(e)?),
            Expr::Compare(op, l, r) => {
                let (l, r) = (self.eval(l)?, self.eval(r)?);
                ODataValue::Bool(compare(*op, &l, &r)?)
            }
            Expr::In(e, list) => {
                let v = self.eval(e)?;
                for l in list {
                    if compare(CmpOp::Eq, &v, &literal(l))? {
                        return Ok(ODataValue::Bool(true));
                    }
                }
                ODataValue::Bool(false)
            }
            Expr::Call(f, args) => {
                let vals = args
                    .iter()
                    .map(|a| self.eval(a))
                    .collect::<Result<Vec<_>, _>>()?;
                call(*f, &vals)?
            }
            Expr::Property(path) => self.property(path)?,
            Expr::Literal(l) => literal(l),
            Expr::Lambda { path, kind, body } => {
                let items = match self.property(path)? {
                    ODataValue::Collection(items) => items,
                    ODataValue::Null => Vec::new(),
                    _ => return Err(format!("'{}' is not a collection", path.join("/"))),
                };
                let Some((var, body)) = body else {
                    return Ok(ODataValue::Bool(!items.is_empty()));
                };
                let want = *kind == LambdaKind::Any;
                let per_item = super::cost::terms(body);
                for (i, item) in items.into_iter().enumerate() {
                    if i > 0 {
                        self.extra = self.extra.saturating_add(per_item);
                    }
                    self.vars.push((var.as_str(), item));
                    let t = self.truth(body);
                    self.vars.pop();
                    if t? == want {
                        return Ok(ODataValue::Bool(want));
                    }
                }
                ODataValue::Bool(!want)
            }
        })
    }

    fn truth(&mut self, e: &'a Expr) -> Result<bool, String> {
        match self.eval(e)? {
            ODataValue::Bool(b) => Ok(b),
            ODataValue::Null => Ok(false),
            _ => Err("'and', 'or', 'not' and lambdas need conditions, not values".into()),
        }
    }

    fn property(&self, path: &'a [String]) -> Result<ODataValue<'a>, String> {
        let (first, rest) = path.split_first().ok_or("an empty property path")?;
        let mut v = match self.vars.iter().rev().find(|(n, _)| *n == first.as_str()) {
            Some((_, v)) => v.clone(),
            None => self.record.field(first).ok_or_else(|| {
                format!(
                    "property '{first}' is not a property of {} that can be filtered on",
                    R::ENTITY
                )
            })?,
        };
        for seg in rest {
            v = match v {
                ODataValue::Null => ODataValue::Null,
                ODataValue::Object(members) => members
                    .into_iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(seg))
                    .map(|(_, v)| v)
                    .ok_or_else(|| format!("property '{}' does not exist", path.join("/")))?,
                _ => return Err(format!("property '{}' does not exist", path.join("/"))),
            };
        }
        Ok(v)
    }
}

fn type_name(v: &ODataValue<'_>) -> &'static str {
    match v {
        ODataValue::Null => "null",
        ODataValue::Bool(_) => "Edm.Boolean",
        ODataValue::Int(_) => "Edm.Int64",
        ODataValue::Double(_) => "Edm.Double",
        ODataValue::Str(_) => "Edm.String",
        ODataValue::DateTime(_) => "Edm.DateTimeOffset",
        ODataValue::Collection(_) => "a collection",
        ODataValue::Object(_) => "a complex value",
    }
}

/// Compares without regard to case, without allocating.
fn cmp_ci(a: &str, b: &str) -> Ordering {
    a.chars()
        .flat_map(char::to_lowercase)
        .cmp(b.chars().flat_map(char::to_lowercase))
}

fn compare(op: CmpOp, l: &ODataValue<'_>, r: &ODataValue<'_>) -> Result<bool, String> {
    use ODataValue as V;
    let ord = match (l, r) {
        (V::Null, V::Null) => Some(Ordering::Equal),
        (V::Null, _) | (_, V::Null) => None,
        (V::Str(a), V::Str(b)) => Some(cmp_ci(a, b)),
        (V::Int(a), V::Int(b)) => Some(a.cmp(b)),
        (V::Int(a), V::Double(b)) => (*a as f64).partial_cmp(b),
        (V::Double(a), V::Int(b)) => a.partial_cmp(&(*b as f64)),
        (V::Double(a), V::Double(b)) => a.partial_cmp(b),
        (V::Bool(a), V::Bool(b)) => Some(a.cmp(b)),
        (V::DateTime(a), V::DateTime(b)) => Some(a.cmp(b)),
        (V::DateTime(a), V::Str(s)) => {
            Some(a.cmp(&parse_datetime(s).ok_or_else(|| format!("'{s}' is not a date/time"))?))
        }
        (V::Str(s), V::DateTime(b)) => Some(
            parse_datetime(s)
                .ok_or_else(|| format!("'{s}' is not a date/time"))?
                .cmp(b),
        ),
        _ => {
            return Err(format!(
                "cannot compare {} with {}",
                type_name(l),
                type_name(r)
            ));
        }
    };
    Ok(match (op, ord) {
        (CmpOp::Eq, o) => o == Some(Ordering::Equal),
        (CmpOp::Ne, o) => o != Some(Ordering::Equal),
        (_, None) => false,
        (CmpOp::Gt, Some(o)) => o == Ordering::Greater,
        (CmpOp::Ge, Some(o)) => o != Ordering::Less,
        (CmpOp::Lt, Some(o)) => o == Ordering::Less,
        (CmpOp::Le, Some(o)) => o != Ordering::Greater,
    })
}

fn ci_find(hay: &str, needle: &str, f: fn(&str, &str) -> bool) -> bool {
    if hay.is_ascii() && needle.is_ascii() {
        f(&hay.to_ascii_lowercase(), &needle.to_ascii_lowercase())
    } else {
        f(&hay.to_lowercase(), &needle.to_lowercase())
    }
}

fn call<'r>(f: Func, args: &[ODataValue<'r>]) -> Result<ODataValue<'r>, String> {
    use ODataValue as V;
    let s = |i: usize| -> Result<Option<&str>, String> {
        match &args[i] {
            V::Str(s) => Ok(Some(s)),
            V::Null => Ok(None),
            other => Err(format!("{f:?} expects strings, not {}", type_name(other)).to_lowercase()),
        }
    };
    let pred = |a: Option<&str>, b: Option<&str>, p: fn(&str, &str) -> bool| match (a, b) {
        (Some(a), Some(b)) => V::Bool(ci_find(a, b, p)),
        _ => V::Bool(false),
    };
    Ok(match f {
        Func::StartsWith => pred(s(0)?, s(1)?, |a, b| a.starts_with(b)),
        Func::EndsWith => pred(s(0)?, s(1)?, |a, b| a.ends_with(b)),
        Func::Contains => pred(s(0)?, s(1)?, |a, b| a.contains(b)),
        Func::SubstringOf => pred(s(1)?, s(0)?, |a, b| a.contains(b)),
        Func::ToLower => s(0)?.map_or(V::Null, |a| V::Str(Cow::Owned(a.to_lowercase()))),
        Func::ToUpper => s(0)?.map_or(V::Null, |a| V::Str(Cow::Owned(a.to_uppercase()))),
        Func::Trim => s(0)?.map_or(V::Null, |a| V::Str(Cow::Owned(a.trim().to_owned()))),
    })
}
