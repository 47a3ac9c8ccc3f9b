//! The harness's own services for multi-node tests: a private Redis that stops and comes back on
//! the same port, and nginx that spreads requests over its upstreams, skips a dead one, overwrites
//! `X-Forwarded-For` and passes WebSocket upgrades through.

use std::time::Duration;

use beckon_tests::{Nginx, RedisServer};
use futures_util::{SinkExt as _, StreamExt as _};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

#[test]
fn redis_server_answers_ping_and_restarts_on_the_same_port() {
    let Some(mut redis) = RedisServer::start("harness_services") else {
        return;
    };
    let url = redis.url();
    assert_eq!(url, format!("redis://127.0.0.1:{}", redis.port()));
    assert_ne!(redis.port(), 6379, "never the machine's shared Redis");
    assert!(redis.ping(), "a started server answers PING");

    redis.stop();
    assert!(!redis.ping(), "a stopped server no longer answers");

    redis.restart();
    assert_eq!(redis.url(), url, "restarted on the same port");
    assert!(redis.ping(), "the restarted server answers PING");
}

#[tokio::test]
async fn nginx_alternates_between_upstreams_skips_a_dead_one_and_overwrites_forwarded_for() {
    let (port_a, node_a) = http_upstream("node-a").await;
    let (port_b, node_b) = http_upstream("node-b").await;
    let Some(nginx) = Nginx::start("harness_services", &[port_a, port_b]) else {
        return;
    };
    let http = reqwest::Client::new();
    let get = || async {
        let res = http
            .get(nginx.url("/api/v1/anything"))
            .header("X-Forwarded-For", "203.0.113.9")
            .send()
            .await
            .expect("request through nginx");
        assert_eq!(res.status(), 200, "{}", nginx.error_log());
        res.text().await.expect("body")
    };

    let mut answers = Vec::new();
    for _ in 0..4 {
        answers.push(get().await);
    }
    let nodes: Vec<&str> = answers
        .iter()
        .map(|a| a.split(' ').next().unwrap())
        .collect();
    assert!(
        nodes.windows(2).all(|pair| pair[0] != pair[1]) && nodes.contains(&"node-b"),
        "round-robin alternates between the nodes: {nodes:?}"
    );
    assert!(
        answers.iter().all(|a| a.ends_with(" xff=127.0.0.1")),
        "the client's X-Forwarded-For is replaced by its real address: {answers:?}"
    );

    node_b.abort();
    let _ = node_b.await;
    for _ in 0..4 {
        let answer = get().await;
        assert!(
            answer.starts_with("node-a "),
            "a dead node is skipped: {answer}"
        );
    }
    node_a.abort();
}

#[tokio::test]
async fn nginx_passes_websocket_upgrades_on_ws_paths() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("address").port();
    let echo = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let Ok(mut socket) = tokio_tungstenite::accept_async(stream).await else {
                    return;
                };
                while let Some(Ok(message)) = socket.next().await {
                    if message.is_text() && socket.send(message).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    let Some(nginx) = Nginx::start("harness_services", &[port]) else {
        return;
    };

    let (mut socket, response) = tokio_tungstenite::connect_async(nginx.ws_url("/ws/visitor?k=1"))
        .await
        .unwrap_or_else(|e| panic!("upgrade through nginx: {e}; {}", nginx.error_log()));
    assert_eq!(response.status(), 101);
    socket
        .send(Message::Text("hello through nginx".into()))
        .await
        .expect("send");
    let echoed = tokio::time::timeout(Duration::from_secs(10), socket.next())
        .await
        .expect("an echo within 10 s")
        .expect("the socket stays open")
        .expect("a frame");
    assert_eq!(echoed, Message::Text("hello through nginx".into()));
    echo.abort();
}

/// A node stand-in: answers every request with `NAME xff=X-FORWARDED-FOR` and closes the
/// connection. Returns its port and the task that accepts (abort it to kill the node).
async fn http_upstream(name: &'static str) -> (u16, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("address").port();
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let Some(head) = read_head(&mut stream).await else {
                    return;
                };
                let xff = head
                    .lines()
                    .filter_map(|line| line.split_once(':'))
                    .filter(|(key, _)| key.eq_ignore_ascii_case("x-forwarded-for"))
                    .map(|(_, value)| value.trim())
                    .collect::<Vec<_>>()
                    .join("|");
                let body = format!("{name} xff={xff}");
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\
                     Connection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    (port, task)
}

/// Reads a request head (up to the blank line), or `None` when the peer closes first.
async fn read_head(stream: &mut tokio::net::TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 || head.len() > 64 * 1024 {
            return None;
        }
        head.extend_from_slice(&buf[..n]);
    }
    String::from_utf8(head).ok()
}
