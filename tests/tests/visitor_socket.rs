//! The two ways a visitor socket is served, end to end against the real binary: on a connection of
//! its own (the lean path, as browsers open WebSockets) and on a keep-alive connection reused for
//! the upgrade (the HTTP route). Both admit and refuse alike; the lean path's own HTTP answers
//! are checked byte for byte.

use std::time::Duration;

use beckon_tests::{SiteFixture, TestDatabase, WsClient};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

const SHOP: &str = "http://127.0.0.1:9";
const EVIL: &str = "https://evil.example";
const WAIT: Duration = Duration::from_secs(5);

async fn fixture() -> (TestDatabase, SiteFixture, String) {
    let db = TestDatabase::sqlite();
    let fx = SiteFixture::start(&db, &[], SHOP).await;
    let (_, guest) = fx.obtain_guest(SHOP, None).await;
    let token = guest["token"].as_str().expect("token").to_owned();
    (db, fx, token)
}

fn socket_path(key: &str, token: &str) -> String {
    format!("/ws/visitor?k={key}&t={token}")
}

/// A new connection on which the pieces given were sent, with a pause after each.
async fn send_in_pieces(fx: &SiteFixture, pieces: &[&[u8]]) -> TcpStream {
    let addr = fx.app.address.trim_start_matches("http://").to_owned();
    let mut tcp = TcpStream::connect(&addr).await.expect("connect");
    for piece in pieces {
        tcp.write_all(piece).await.expect("write");
        // The pause makes each piece arrive on its own: split requests are what is tested.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tcp
}

/// Sends a request in the pieces given and returns everything the server answered until it
/// closed the connection.
async fn exchange(fx: &SiteFixture, pieces: &[&[u8]]) -> String {
    let mut tcp = send_in_pieces(fx, pieces).await;
    let mut answer = Vec::new();
    tokio::time::timeout(WAIT, tcp.read_to_end(&mut answer))
        .await
        .expect("server closes after answering")
        .expect("read");
    String::from_utf8_lossy(&answer).into_owned()
}

fn upgrade_request(path: &str, origin: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: beckon.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: {origin}\r\n\r\n"
    )
}

#[tokio::test]
async fn both_paths_greet_answer_and_close_alike() {
    let (_db, fx, token) = fixture().await;
    let url = fx.ws_url(&socket_path(&fx.site.public_key, &token));
    let own = WsClient::connect(&url, Some(SHOP), None)
        .await
        .expect("socket on its own connection");
    let reused = WsClient::connect_after_request(&url, SHOP)
        .await
        .expect("socket on a reused connection");
    for (name, mut ws) in [("own connection", own), ("reused connection", reused)] {
        let hello = ws.next_event(WAIT).await.expect("hello");
        assert_eq!(hello["type"], "hello", "{name}");
        assert!(hello["guest_id"].as_str().unwrap().starts_with("G-"));
        let status = ws.next_event(WAIT).await.expect("status");
        assert_eq!(status["type"], "site_status", "{name}");
        assert!(ws.ping_answered(WAIT).await, "{name}: ping answered");
        ws.send_binary(b"\x00\x01").await;
        assert_eq!(
            ws.close_code(WAIT).await,
            Some(1003),
            "{name}: binary refused"
        );
    }
}

#[tokio::test]
async fn both_paths_refuse_a_foreign_origin_an_unknown_site_and_a_bad_query() {
    let (_db, fx, token) = fixture().await;
    let good = fx.ws_url(&socket_path(&fx.site.public_key, &token));
    let unknown = fx.ws_url(&socket_path("nosuchkey", &token));
    let no_token = fx.ws_url(&format!("/ws/visitor?k={}", fx.site.public_key));
    for (url, origin, status) in [
        (&good, EVIL, 403),
        (&unknown, SHOP, 404),
        (&no_token, SHOP, 400),
    ] {
        let own = WsClient::connect(url, Some(origin), None).await;
        assert_eq!(own.err().map(|r| r.status), Some(status), "own: {url}");
        let reused = WsClient::connect_after_request(url, origin).await;
        assert_eq!(
            reused.err().map(|r| r.status),
            Some(status),
            "reused: {url}"
        );
    }
}

#[tokio::test]
async fn the_lean_path_answers_refusals_as_complete_http_responses() {
    let (_db, fx, token) = fixture().await;
    let path = socket_path(&fx.site.public_key, &token);

    let foreign = exchange(&fx, &[upgrade_request(&path, EVIL).as_bytes()]).await;
    assert!(
        foreign.starts_with("HTTP/1.1 403 Forbidden\r\n"),
        "{foreign}"
    );
    let (head, body) = foreign.split_once("\r\n\r\n").expect("head and body");
    assert!(head.contains("content-type: application/json"), "{head}");
    assert!(
        head.contains(&format!("content-length: {}", body.len())),
        "{head}"
    );
    let error: serde_json::Value = serde_json::from_str(body).expect("JSON error body");
    assert_eq!(error["error"], "origin_not_allowed");

    let not_upgrade = format!("GET {path} HTTP/1.1\r\nHost: beckon.test\r\nOrigin: {SHOP}\r\n\r\n");
    let answer = exchange(&fx, &[not_upgrade.as_bytes()]).await;
    assert!(
        answer.starts_with("HTTP/1.1 400 "),
        "no upgrade headers: {answer}"
    );

    let huge = format!(
        "GET {path} HTTP/1.1\r\nHost: beckon.test\r\nX-Filler: {}\r\n",
        "a".repeat(20_000)
    );
    let answer = exchange(&fx, &[huge.as_bytes()]).await;
    assert!(
        answer.starts_with("HTTP/1.1 431 "),
        "oversized head: {answer}"
    );

    let garbage = exchange(&fx, &[b"GET /ws/visitor?k=1 HTTP/9\x00\r\n\r\n"]).await;
    assert!(
        garbage.starts_with("HTTP/1.1 400 "),
        "malformed head: {garbage}"
    );
}

#[tokio::test]
async fn a_request_line_split_across_packets_still_opens_the_socket() {
    let (_db, fx, token) = fixture().await;
    let request = upgrade_request(&socket_path(&fx.site.public_key, &token), SHOP);
    let (first, rest) = request.as_bytes().split_at(7);
    let mut tcp = send_in_pieces(&fx, &[first, rest]).await;
    let mut answer = vec![0u8; 512];
    let n = tokio::time::timeout(WAIT, tcp.read(&mut answer))
        .await
        .expect("answer")
        .expect("read");
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(
        answer.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{answer}"
    );
    // RFC 6455's own example key and accept value.
    assert!(
        answer.contains("sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"),
        "{answer}"
    );
}

#[tokio::test]
async fn plain_requests_still_reach_the_http_service() {
    let (_db, fx, _token) = fixture().await;
    // Starts like the visitor socket's path but is another one.
    let res = fx.app.get("/ws/visitorx?k=1").await;
    assert_eq!(res.status(), 404);
    let answer = exchange(
        &fx,
        &[b"GET /healthz HTTP/1.1\r\nHost: beckon.test\r\nConnection: close\r\n\r\n"],
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
}
