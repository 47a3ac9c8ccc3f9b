//! The harness's own services: for multi-node tests a private Redis that stops and comes back on
//! the same port, and nginx that spreads requests over its upstreams, skips a dead one, overwrites
//! `X-Forwarded-For` and passes WebSocket upgrades through; for calls a TURN server (coturn) that
//! takes credentials minted from its shared secret, refuses others, and relays between loopback
//! peers; and `deploy/coturn.conf`, which must refuse peers in the internal network.

use std::net::UdpSocket;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use beckon_tests::coturn::{TurnCredentials, REALM};
use beckon_tests::turn_client::{Transport, TurnClient, TurnError};
use beckon_tests::{Coturn, Nginx, RedisServer};
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

const TURN_SECRET: &str = "harness-turn-secret";

#[test]
fn coturn_allocates_relays_for_credentials_minted_from_its_secret() {
    let Some(turn) = Coturn::start("harness_services", TURN_SECRET) else {
        return;
    };
    assert_eq!(
        turn.url(),
        format!("turn:127.0.0.1:{}?transport=udp", turn.port())
    );
    assert_eq!(
        turn.tcp_url(),
        format!("turn:127.0.0.1:{}?transport=tcp", turn.port())
    );
    assert_eq!(turn.secret(), TURN_SECRET);
    let credentials = turn.credentials("call-1", Duration::from_secs(3600));

    for transport in [Transport::Udp, Transport::Tcp] {
        let mut client = TurnClient::connect(
            turn.address(),
            transport,
            &credentials.username,
            &credentials.credential,
        )
        .expect("client socket");
        let allocation = client
            .allocate()
            .unwrap_or_else(|e| panic!("{transport:?} allocation: {e}; log: {}", turn.log()));

        assert_eq!(
            client.realm(),
            Some(REALM),
            "the first ALLOCATE was challenged (401) with the configured realm"
        );
        assert_eq!(
            allocation.relayed.ip().to_string(),
            "127.0.0.1",
            "{transport:?}"
        );
        assert!(
            turn.relay_ports().contains(&allocation.relayed.port()),
            "{transport:?}: relayed port {} is in the configured window {:?}",
            allocation.relayed.port(),
            turn.relay_ports()
        );
        assert_eq!(
            allocation.mapped.map(|a| a.ip().to_string()).as_deref(),
            Some("127.0.0.1"),
            "{transport:?}: the server reports the client's address"
        );
    }
}

#[test]
fn coturn_stops_answering_when_stopped() {
    let Some(mut turn) = Coturn::start("harness_services", TURN_SECRET) else {
        return;
    };
    assert!(turn.answers_binding(), "a started server answers BINDING");

    turn.stop();

    assert!(
        !turn.answers_binding(),
        "a stopped server no longer answers"
    );
}

#[test]
fn coturn_refuses_credentials_minted_with_another_secret() {
    let Some(turn) = Coturn::start("harness_services", TURN_SECRET) else {
        return;
    };
    let expiry = unix_now() + 3600;
    let forged = TurnCredentials::mint("not-the-secret", expiry, "call-1");
    let genuine = TurnCredentials::mint(TURN_SECRET, expiry, "call-1");
    assert_eq!(
        forged.username, genuine.username,
        "only the credential differs"
    );

    let refused = allocate(&turn, &forged);
    assert!(
        matches!(refused, Err(TurnError::Refused { code: 401, .. })),
        "a credential from another secret gets 401: {refused:?}; log: {}",
        turn.log()
    );
    let tampered = TurnCredentials {
        username: format!("{expiry}:call-2"),
        credential: genuine.credential.clone(),
    };
    let refused = allocate(&turn, &tampered);
    assert!(
        matches!(refused, Err(TurnError::Refused { code: 401, .. })),
        "a credential for another username gets 401: {refused:?}"
    );
    allocate(&turn, &genuine)
        .unwrap_or_else(|e| panic!("the genuine pair is accepted: {e}; log: {}", turn.log()));
}

#[test]
fn coturn_refuses_credentials_whose_expiry_has_passed() {
    let Some(turn) = Coturn::start("harness_services", TURN_SECRET) else {
        return;
    };
    let expired = TurnCredentials::mint(TURN_SECRET, unix_now() - 60, "call-1");

    let refused = allocate(&turn, &expired);
    assert!(
        matches!(refused, Err(TurnError::Refused { code: 401, .. })),
        "credentials that expired a minute ago get 401: {refused:?}; log: {}",
        turn.log()
    );
    let current = TurnCredentials::mint(TURN_SECRET, unix_now() + 60, "call-1");
    allocate(&turn, &current).unwrap_or_else(|e| {
        panic!(
            "the same id with a future expiry is accepted: {e}; log: {}",
            turn.log()
        )
    });
}

#[test]
fn coturn_relays_between_loopback_peers() {
    let Some(turn) = Coturn::start("harness_services", TURN_SECRET) else {
        return;
    };
    let credentials = turn.credentials("call-1", Duration::from_secs(600));
    let mut client = TurnClient::connect(
        turn.address(),
        Transport::Udp,
        &credentials.username,
        &credentials.credential,
    )
    .expect("client socket");
    let relayed = client
        .allocate()
        .unwrap_or_else(|e| panic!("allocation: {e}; log: {}", turn.log()))
        .relayed;
    let peer = UdpSocket::bind("127.0.0.1:0").expect("peer socket");
    peer.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let peer_address = peer.local_addr().expect("peer address");

    client.create_permission(peer_address).unwrap_or_else(|e| {
        panic!(
            "a loopback peer is permitted (allow-loopback-peers): {e}; log: {}",
            turn.log()
        )
    });
    client
        .send_to_peer(peer_address, b"to the peer")
        .expect("SEND");
    let mut buf = [0u8; 64];
    let (n, from) = peer
        .recv_from(&mut buf)
        .unwrap_or_else(|e| panic!("the peer hears the client: {e}; log: {}", turn.log()));
    assert_eq!(&buf[..n], b"to the peer");
    assert_eq!(from, relayed, "the data comes from the relayed address");

    peer.send_to(b"to the client", relayed).expect("peer send");
    let (from, data) = client
        .receive_from_peer(Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("the client hears the peer: {e}; log: {}", turn.log()));
    assert_eq!(from, peer_address);
    assert_eq!(data, b"to the client");
}

/// `deploy/coturn.conf`, as the compose file runs it (the secret on the command line).
const DEPLOY_COTURN_CONF: &str = include_str!("../../deploy/coturn.conf");

#[test]
fn deploy_coturn_conf_takes_minted_credentials_and_refuses_internal_peers() {
    let Some(turn) =
        Coturn::start_with_config("harness_services", DEPLOY_COTURN_CONF, Some(TURN_SECRET))
    else {
        return;
    };
    assert_eq!(
        turn.configuration_errors(),
        Vec::<String>::new(),
        "turnserver takes every line of deploy/coturn.conf"
    );
    let credentials = turn.credentials("call-1", Duration::from_secs(600));
    let mut client = TurnClient::connect(
        turn.address(),
        Transport::Udp,
        &credentials.username,
        &credentials.credential,
    )
    .expect("client socket");
    let allocation = client
        .allocate()
        .unwrap_or_else(|e| panic!("allocation: {e}; log: {}", turn.log()));
    assert!(turn.relay_ports().contains(&allocation.relayed.port()));

    // CREATE_PERMISSION only records the address on the server: nothing is sent to these peers.
    for peer in [
        "127.0.0.1:9",
        "10.1.2.3:9",
        "172.16.5.4:9",
        "192.168.1.1:9",
        "100.64.0.1:9",
        "169.254.169.254:80",
    ] {
        let peer = peer.parse().expect("address");
        let refused = client.create_permission(peer);
        assert!(
            matches!(refused, Err(TurnError::Refused { code: 403, .. })),
            "the relay must not reach {peer}: {refused:?}; log: {}",
            turn.log()
        );
    }
}

#[test]
fn deploy_coturn_conf_without_a_secret_refuses_everyone() {
    let Some(turn) = Coturn::start_with_config("harness_services", DEPLOY_COTURN_CONF, None) else {
        return;
    };
    let expiry = unix_now() + 600;

    for secret in ["", "change-me", TURN_SECRET] {
        let refused = allocate(&turn, &TurnCredentials::mint(secret, expiry, "call-1"));
        assert!(
            matches!(refused, Err(TurnError::Refused { code: 401, .. })),
            "the file holds no secret of its own, so none works (tried {secret:?}): {refused:?}"
        );
    }
}

/// One ALLOCATE over UDP with `credentials`.
fn allocate(
    turn: &Coturn,
    credentials: &TurnCredentials,
) -> Result<beckon_tests::turn_client::Allocation, TurnError> {
    TurnClient::connect(
        turn.address(),
        Transport::Udp,
        &credentials.username,
        &credentials.credential,
    )?
    .allocate()
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
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
