//! Connection limits over real sockets (issue 13, F1 and F8): slow or silent clients are cut
//! off within the configured timeouts, the connection cap queues the rest, and refusals hyper
//! makes below the router carry Defender's error body with a request id.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{Options, start};
use kbgap_server::ConnectionLimits;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn limits(header_secs: u64, body_secs: u64, max_connections: usize) -> ConnectionLimits {
    ConnectionLimits {
        header_timeout: Duration::from_secs(header_secs),
        body_idle_timeout: Duration::from_secs(body_secs),
        max_connections,
    }
}

/// Reads until the server closes the connection (or `within` passes); returns what was read
/// and when the connection ended, `None` if it was still open.
async fn read_to_close(tcp: &mut TcpStream, within: Duration) -> (Vec<u8>, Option<Duration>) {
    let start = Instant::now();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = within.saturating_sub(start.elapsed());
        match tokio::time::timeout(left, tcp.read(&mut buf)).await {
            Err(_) => return (out, None),
            Ok(Ok(0) | Err(_)) => return (out, Some(start.elapsed())),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
        }
    }
}

/// `GET /healthz` on a fresh connection, with the time to the answer.
async fn healthz(addr: SocketAddr, within: Duration) -> Option<Duration> {
    let start = Instant::now();
    let attempt = async {
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: k\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut out = Vec::new();
        tcp.read_to_end(&mut out).await.unwrap();
        out
    };
    let out = tokio::time::timeout(within, attempt).await.ok()?;
    assert!(
        out.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&out)
    );
    Some(start.elapsed())
}

#[tokio::test]
async fn half_a_header_is_cut_off_at_the_header_timeout() {
    let s = start(Options {
        connections: limits(1, 10, 64),
        ..Options::default()
    })
    .await;
    let mut tcp = TcpStream::connect(s.addr).await.unwrap();
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: k\r\nX-Slow: ")
        .await
        .unwrap();
    let (_, closed) = read_to_close(&mut tcp, Duration::from_secs(5)).await;
    let closed = closed.expect("a slow-loris connection must be closed");
    assert!(
        closed >= Duration::from_millis(900) && closed < Duration::from_secs(3),
        "closed after {closed:?}, timeout 1 s"
    );
    eprintln!("slow-loris header closed after {closed:?} (header timeout 1 s)");
    s.stop().await;
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_at_the_header_timeout() {
    let s = start(Options {
        connections: limits(1, 10, 64),
        ..Options::default()
    })
    .await;
    let mut tcp = TcpStream::connect(s.addr).await.unwrap();
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: k\r\n\r\n")
        .await
        .unwrap();
    let (out, closed) = read_to_close(&mut tcp, Duration::from_secs(5)).await;
    assert!(
        out.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&out)
    );
    let closed = closed.expect("an idle keep-alive connection must be closed");
    assert!(closed < Duration::from_secs(3), "closed after {closed:?}");
    s.stop().await;
}

#[tokio::test]
async fn a_stalled_body_is_cut_off_at_the_body_idle_timeout() {
    let s = start(Options {
        connections: limits(10, 1, 64),
        ..Options::default()
    })
    .await;
    let mut tcp = TcpStream::connect(s.addr).await.unwrap();
    tcp.write_all(b"POST /api/test/json HTTP/1.1\r\nHost: k\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
        .await
        .unwrap();
    let (out, closed) = read_to_close(&mut tcp, Duration::from_secs(6)).await;
    let closed = closed.expect("a stalled body must end the request");
    assert!(closed < Duration::from_secs(4), "ended after {closed:?}");
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 4"), "{text}");
    assert!(text.contains("\"error\""), "{text}");
    s.stop().await;
}

#[tokio::test]
async fn a_trickled_body_meets_the_request_deadline_with_a_408() {
    let s = start(Options {
        // Each byte arrives well within the body idle timeout; only the deadline stops it.
        connections: limits(10, 5, 64),
        request_timeout: Duration::from_secs(2),
        ..Options::default()
    })
    .await;
    let mut tcp = TcpStream::connect(s.addr).await.unwrap();
    tcp.write_all(b"POST /api/test/json HTTP/1.1\r\nHost: k\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n")
        .await
        .unwrap();
    let start_at = Instant::now();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while start_at.elapsed() < Duration::from_secs(8) {
        let _ = tcp.write_all(b" ").await;
        if let Ok(Ok(n)) =
            tokio::time::timeout(Duration::from_millis(300), tcp.read(&mut buf)).await
        {
            out.extend_from_slice(&buf[..n]);
            if n == 0 || out.windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
    }
    let took = start_at.elapsed();
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 408"), "after {took:?}: {text}");
    assert!(took < Duration::from_secs(4), "408 after {took:?}");
    s.stop().await;
}

#[tokio::test]
async fn the_connection_cap_queues_extra_connections_until_one_ends() {
    let s = start(Options {
        connections: limits(2, 10, 3),
        ..Options::default()
    })
    .await;
    // Under the cap, /healthz answers at once beside two silent connections.
    let mut silent = Vec::new();
    for _ in 0..2 {
        let mut tcp = TcpStream::connect(s.addr).await.unwrap();
        tcp.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
        silent.push(tcp);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let fast = healthz(s.addr, Duration::from_millis(500))
        .await
        .expect("/healthz answers while under the cap");
    assert!(fast < Duration::from_millis(500));
    // At the cap, a new connection waits in the backlog...
    let mut third = TcpStream::connect(s.addr).await.unwrap();
    third.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
    silent.push(third);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let queued = tokio::spawn(healthz(s.addr, Duration::from_secs(6)));
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(
        !queued.is_finished(),
        "a connection beyond the cap must wait"
    );
    // ...and is served once the header timeout frees a slot.
    let waited = queued
        .await
        .unwrap()
        .expect("/healthz answers once a slot is free");
    assert!(waited < Duration::from_secs(4), "served after {waited:?}");
    drop(silent);
    s.stop().await;
}

/// Sends `request` raw and returns the status and the parsed error body, checking that
/// `target` is the `request-id` header.
async fn raw_refusal(addr: SocketAddr, request: &[u8]) -> (u16, serde_json::Value) {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    // The server may answer and close before reading it all.
    let _ = tcp.write_all(request).await;
    let (out, _) = read_to_close(&mut tcp, Duration::from_secs(5)).await;
    let text = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("a full response");
    let status: u16 = head[9..12].parse().unwrap();
    let lower = head.to_ascii_lowercase();
    assert!(lower.contains("content-type: application/json"), "{head}");
    let v: serde_json::Value = serde_json::from_str(body).expect(body);
    let id = v["error"]["target"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 36, "{body}");
    assert!(lower.contains(&format!("request-id: {id}")), "{head}");
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    (status, v)
}

#[tokio::test]
async fn refusals_below_the_router_have_defenders_body() {
    let s = start(Options::default()).await;

    let long = format!(
        "GET /api/machines?x={} HTTP/1.1\r\nHost: k\r\n\r\n",
        "a".repeat(70_000)
    );
    let (status, v) = raw_refusal(s.addr, long.as_bytes()).await;
    assert_eq!(status, 414);
    assert!(v["error"]["message"].as_str().unwrap().contains("URI"));

    let mut many = String::from("GET /healthz HTTP/1.1\r\nHost: k\r\n");
    for i in 0..120 {
        many.push_str(&format!("X-H{i}: v\r\n"));
    }
    many.push_str("\r\n");
    let (status, v) = raw_refusal(s.addr, many.as_bytes()).await;
    assert_eq!(status, 431);
    assert!(v["error"]["message"].as_str().unwrap().contains("headers"));

    let bad = b"POST /api/test/json HTTP/1.1\r\nHost: k\r\nContent-Length: abc\r\n\r\n{}";
    let (status, v) = raw_refusal(s.addr, bad).await;
    assert_eq!(status, 400);
    assert_eq!(v["error"]["code"], "BadRequest");

    // The server still answers normally afterwards.
    assert!(healthz(s.addr, Duration::from_secs(2)).await.is_some());
    s.stop().await;
}
