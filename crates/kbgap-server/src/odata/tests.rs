//! Tables of `$filter` cases, adversarial inputs, and property tests.

use proptest::prelude::*;

use super::*;
use crate::dto::{Machine, MachineIpAddress};

fn machines() -> Vec<Machine> {
    let mut a = Machine::new(
        "1e5bc9d7e413ddd7902c2932e418702b84d0cc07",
        "mymachine1.contoso.com",
    );
    a.os_platform = Some("Windows10".into());
    a.os_build = Some(19045);
    a.last_seen = Some("2024-03-01T10:00:00Z".parse().unwrap());
    a.machine_tags = vec!["prod".into(), "Finance".into()];
    a.ip_addresses = vec![MachineIpAddress {
        ip_address: "10.0.0.5".into(),
        mac_address: None,
        kind: Some("Ethernet".into()),
        operational_status: Some("Up".into()),
    }];
    a.is_aad_joined = Some(true);
    let mut b = Machine::new("2339ad14a01bd0299afb93dfa2550136057bff96", "SRV-01");
    b.os_platform = Some("WindowsServer2019".into());
    b.os_build = Some(17763);
    b.last_seen = Some("2023-12-31T23:59:59Z".parse().unwrap());
    b.rbac_group_name = Some("O'Brien's servers".into());
    let c = Machine::new("ffffffffffffffffffffffffffffffffffffffff", "no-os-yet");
    vec![a, b, c]
}

fn run(filter: &str) -> Result<Vec<String>, ApiError> {
    let f = Filter::parse(filter)?.bind::<Machine>()?;
    let mut out = Vec::new();
    for m in machines() {
        if f.matches(&m)? {
            out.push(m.computer_dns_name.clone());
        }
    }
    Ok(out)
}

#[test]
fn evaluation_table() {
    let cases: &[(&str, &[&str])] = &[
        (
            "computerDnsName eq 'mymachine1.contoso.com'",
            &["mymachine1.contoso.com"],
        ),
        (
            "computerdnsname EQ 'MYMACHINE1.contoso.com'",
            &["mymachine1.contoso.com"],
        ),
        (
            "computerDnsName ne 'SRV-01'",
            &["mymachine1.contoso.com", "no-os-yet"],
        ),
        ("osBuild gt 18000", &["mymachine1.contoso.com"]),
        ("osBuild ge 17763 and osBuild le 17763", &["SRV-01"]),
        ("osBuild lt 20000", &["mymachine1.contoso.com", "SRV-01"]),
        ("osBuild eq null", &["no-os-yet"]),
        ("osBuild ne null", &["mymachine1.contoso.com", "SRV-01"]),
        ("osBuild gt 1.5", &["mymachine1.contoso.com", "SRV-01"]),
        (
            "lastSeen gt 2024-01-01T00:00:00Z",
            &["mymachine1.contoso.com"],
        ),
        ("lastSeen lt 2024-01-01", &["SRV-01"]),
        (
            "lastSeen gt '2024-01-01T00:00:00Z'",
            &["mymachine1.contoso.com"],
        ),
        (
            "lastSeen ge 2023-12-31T23:59:59.000+00:00",
            &["mymachine1.contoso.com", "SRV-01"],
        ),
        (
            "startswith(computerDnsName,'my')",
            &["mymachine1.contoso.com"],
        ),
        (
            "startswith(computerDnsName, 'SRV') or endswith(computerDnsName, '.COM')",
            &["mymachine1.contoso.com", "SRV-01"],
        ),
        ("contains(computerDnsName,'-OS-')", &["no-os-yet"]),
        ("substringof('-os-', computerDnsName)", &["no-os-yet"]),
        (
            "not startswith(computerDnsName,'my')",
            &["SRV-01", "no-os-yet"],
        ),
        (
            "not (osPlatform eq 'Windows10' or osPlatform eq 'WindowsServer2019')",
            &["no-os-yet"],
        ),
        (
            "(osPlatform eq 'windows10') and (healthStatus eq 'Active')",
            &["mymachine1.contoso.com"],
        ),
        (
            "osPlatform in ('Windows10', 'WindowsServer2019')",
            &["mymachine1.contoso.com", "SRV-01"],
        ),
        (
            "machineTags/any(t: t eq 'finance')",
            &["mymachine1.contoso.com"],
        ),
        ("machineTags/any()", &["mymachine1.contoso.com"]),
        (
            "machineTags/all(t: t ne 'x')",
            &["mymachine1.contoso.com", "SRV-01", "no-os-yet"],
        ),
        (
            "ipAddresses/any(ip: ip/ipAddress eq '10.0.0.5' and ip/operationalStatus eq 'Up')",
            &["mymachine1.contoso.com"],
        ),
        ("rbacGroupName eq 'O''Brien''s servers'", &["SRV-01"]),
        ("tolower(computerDnsName) eq 'srv-01'", &["SRV-01"]),
        ("isAadJoined", &["mymachine1.contoso.com"]),
        ("isAadJoined eq true", &["mymachine1.contoso.com"]),
        (
            "riskScore eq 'None' and exposureLevel eq 'None' and rbacGroupId eq 0",
            &["mymachine1.contoso.com", "SRV-01", "no-os-yet"],
        ),
        ("osBuild gt -1", &["mymachine1.contoso.com", "SRV-01"]),
    ];
    for (filter, want) in cases {
        let got = run(filter).unwrap_or_else(|e| panic!("{filter}: {}", e.message));
        assert_eq!(got, *want, "{filter}");
    }
}

#[test]
fn error_table() {
    let cases: &[(&str, &str)] = &[
        ("computerDnsName eq", "syntax error at position 18"),
        (
            "computerDnsName eq 'x",
            "at position 19 in 'computerDnsName eq 'x': unterminated string literal.",
        ),
        (
            "computerDnsName eqq 'x'",
            "at position 16 in 'computerDnsName eqq 'x'': expected an operator or the end of the filter, found 'eqq'.",
        ),
        ("(osBuild gt 1", "expected ')'"),
        ("osBuild gt 1)", "position 12"),
        (
            "nosuch eq 1",
            "property 'nosuch' is not a property of Machine",
        ),
        ("startswith(nosuch,'a')", "property 'nosuch'"),
        (
            "frobnicate(computerDnsName)",
            "unknown function 'frobnicate'",
        ),
        (
            "startswith(computerDnsName)",
            "startswith takes 2 argument(s), not 1",
        ),
        (
            "osBuild eq 'abc'",
            "cannot compare Edm.Int64 with Edm.String",
        ),
        ("lastSeen gt 'yesterday'", "'yesterday' is not a date/time"),
        ("lastSeen gt 2024-13-01", "invalid date/time literal"),
        ("osBuild eq 99999999999999999999", "integer out of range"),
        ("computerDnsName", "not a condition"),
        ("", "the filter is empty"),
        ("   ", "the filter is empty"),
        ("a eq 1 #", "unexpected character '#'"),
        ("osBuild eq 1abc", "unexpected character after a number"),
        ("machineTags/any(t: t eq 'x'", "expected ')'"),
        ("computerDnsName eq 'é' and", "position 26"), // characters, not bytes
        ("computerDnsName in (1, osBuild)", "expected a literal"),
        (
            "ipAddresses/any(ip: ip/nope eq 'x')",
            "property 'ip/nope' does not exist",
        ),
        ("computerDnsName/any(x: x eq 'a')", "is not a collection"),
        ("not", "expected a property, literal or function"),
    ];
    for (filter, want) in cases {
        let e = run(filter).expect_err(filter);
        assert_eq!(e.code, crate::error::ErrorCode::ODataError, "{filter}");
        assert!(
            e.message.starts_with("Invalid filter:"),
            "{filter}: {}",
            e.message
        );
        assert!(
            e.message.contains(want),
            "{filter}: {} does not contain {want}",
            e.message
        );
    }
}

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    for (open, close) in [
        ("(", ")"),
        ("not (", ")"),
        ("startswith(", ",'a')"),
        ("machineTags/any(t: ", ")"),
    ] {
        let deep = format!(
            "{}computerDnsName eq 'a'{}",
            open.repeat(300),
            close.repeat(300)
        );
        let e = Filter::parse(&deep).unwrap_err();
        assert!(
            e.message.contains("nesting deeper than 64 levels"),
            "{}",
            e.message
        );
    }
    let nots = format!("{}computerDnsName eq 'a'", "not ".repeat(100_000));
    assert!(Filter::parse(&nots).is_err());
    // Just within the limit is fine, and evaluates.
    let ok = format!("{}osBuild eq 17763{}", "(".repeat(60), ")".repeat(60));
    assert_eq!(run(&ok).unwrap(), vec!["SRV-01"]);
}

#[test]
fn long_flat_chains_stay_flat() {
    let chain = vec!["osBuild eq 1"; 500].join(" or ") + " or osBuild eq 17763";
    assert_eq!(run(&chain).unwrap(), vec!["SRV-01"]);
    let too_long = "a".repeat(MAX_LEN + 1);
    assert!(
        Filter::parse(&too_long)
            .unwrap_err()
            .message
            .contains("longer than")
    );
}

#[test]
fn query_options() {
    let q = ODataQuery::parse(Some(
        "$filter=osBuild%20gt%2018000&$top=2&$skip=1&$count=true&foo=bar&kbgapExtended=true",
    ))
    .unwrap();
    assert!(q.filter.is_some());
    assert_eq!(
        (q.top, q.skip, q.count, q.extended),
        (Some(2), 1, true, true)
    );
    // `+` is a space in query strings, `$` may be encoded, names ignore case.
    let q = ODataQuery::parse(Some("%24FILTER=osBuild+gt+1&$Top=5")).unwrap();
    assert_eq!(q.filter.unwrap().text(), "osBuild gt 1");
    assert_eq!(q.top, Some(5));
    for (bad, want) in [
        (
            "$top=10001",
            "Invalid value '10001' for query option '$top': expected an integer from 0 to 10000.",
        ),
        ("$top=-1", "'$top'"),
        ("$top=abc", "'$top'"),
        ("$skip=-5", "'$skip': expected a non-negative integer"),
        ("$count=yes", "expected true or false"),
        ("$top=1&$top=2", "given more than once"),
        ("$filter=a eq", "Invalid filter"),
    ] {
        let e = ODataQuery::parse(Some(bad)).unwrap_err();
        assert_eq!(e.code, crate::error::ErrorCode::ODataError);
        assert!(e.message.contains(want), "{bad}: {}", e.message);
    }
    assert!(
        ODataQuery::parse(Some("$filter=&unknown=1&&=x"))
            .unwrap()
            .filter
            .is_none()
    );
}

#[test]
fn paging_and_next_links() {
    let base = BaseUrl {
        scheme: "http",
        host: "127.0.0.1:8080".into(),
    };
    let q = ODataQuery::parse(Some("$top=2&$filter=osBuild%20ne%20null&$count=true"))
        .unwrap()
        .with_origin(base.clone(), "/api/Machines");
    let all: Vec<Machine> = (0..5).flat_map(|_| machines()).collect();
    let page = q.apply(all.clone()).unwrap();
    assert_eq!(page.total, 10);
    assert_eq!(page.items.len(), 2);
    assert_eq!(page.next_skip, Some(2));
    let body = q.collection(crate::dto::context::MACHINES, page);
    assert_eq!(body.context, "http://127.0.0.1:8080/api/$metadata#Machines");
    assert_eq!(body.count, Some(10));
    assert_eq!(
        body.next_link.as_deref(),
        Some(
            "http://127.0.0.1:8080/api/Machines?$top=2&$filter=osBuild%20ne%20null&$count=true&$skip=2"
        )
    );

    // Following links visits every match exactly once and ends.
    let mut seen = 0;
    let mut query = Some("$top=3&$filter=osBuild%20ne%20null".to_owned());
    let mut pages = 0;
    while let Some(qs) = query {
        let q = ODataQuery::parse(Some(&qs))
            .unwrap()
            .with_origin(base.clone(), "/api/machines");
        let page = q.apply(all.clone()).unwrap();
        seen += page.items.len();
        query = q
            .collection("Machines", page)
            .next_link
            .map(|l| l.split_once('?').unwrap().1.to_owned());
        pages += 1;
        assert!(pages < 10);
    }
    assert_eq!((seen, pages), (10, 4));

    // $top=0 never produces a link (it would loop).
    let q = ODataQuery::parse(Some("$top=0")).unwrap();
    assert_eq!(q.apply(all.clone()).unwrap().next_skip, None);
    // Without $top, the page is 10,000 and no link appears for small collections.
    let q = ODataQuery::parse(None).unwrap();
    let page = q.apply(all).unwrap();
    assert_eq!((page.items.len(), page.next_skip), (15, None));
}

/// Making records lazily pages exactly as making them all does, and without a filter makes
/// only the page's records.
#[test]
fn made_records_page_like_made_ones() {
    use std::cell::Cell;
    let all: Vec<Machine> = (0..7).flat_map(|_| machines()).collect();
    for qs in [
        "",
        "$top=4",
        "$top=4&$skip=4",
        "$skip=19",
        "$skip=30",
        "$top=0",
        "$top=5&$skip=2&$count=true",
        "$top=2&$skip=1&$filter=osBuild%20ne%20null",
        "$filter=computerDnsName%20eq%20%27SRV-01%27",
    ] {
        let q = ODataQuery::parse(Some(qs)).unwrap();
        let made = Cell::new(0usize);
        let lazy = q
            .apply_made(all.iter(), |m| {
                made.set(made.get() + 1);
                m.clone()
            })
            .unwrap();
        assert_eq!(lazy, q.apply(all.clone()).unwrap(), "{qs}");
        if q.filter.is_none() {
            assert_eq!(made.get(), lazy.items.len(), "{qs}: made beyond the page");
        } else {
            assert_eq!(made.get(), all.len(), "{qs}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Any input either parses or fails with a positioned message; nothing panics.
    #[test]
    fn arbitrary_text_never_panics(s in "\\PC{0,200}") {
        if let Err(e) = Filter::parse(&s) {
            prop_assert!(e.message.starts_with("Invalid filter:"));
        }
    }

    /// Token soup from the grammar's own vocabulary never panics in parsing or evaluation.
    #[test]
    fn grammar_soup_never_panics(tokens in prop::collection::vec(prop::sample::select(vec![
        "(", ")", ",", "/", ":", "and", "or", "not", "eq", "ne", "gt", "in", "any", "all",
        "computerDnsName", "osBuild", "machineTags", "t", "'x'", "''''", "1", "-2", "3.5", "true", "null",
        "2024-01-01", "2024-01-01T00:00:00Z", "startswith", "tolower",
    ]), 0..40)) {
        let text = tokens.join(" ");
        if let Ok(f) = Filter::parse(&text)
            && let Ok(f) = f.bind::<Machine>()
        {
            for m in machines() {
                let _ = f.matches(&m);
            }
        }
    }

    /// String literals round-trip through quoting with '' escapes.
    #[test]
    fn quoted_strings_round_trip(s in "\\PC{0,40}") {
        let filter = format!("computerDnsName eq '{}'", s.replace('\'', "''"));
        let f = Filter::parse(&filter).unwrap();
        match f.expr() {
            Expr::Compare(CmpOp::Eq, _, r) => prop_assert_eq!(&**r, &Expr::Literal(Literal::String(s.clone()))),
            other => prop_assert!(false, "unexpected tree {:?}", other),
        }
    }
}
