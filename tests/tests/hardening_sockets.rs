//! Sockets under attack and under faults (issue 13): frames refused by their declared size before
//! their bytes are buffered, caps on sockets per guest and per address, console sockets that end
//! with their session or their operator's access, a console that stops reading let go, and joins
//! in the middle of a burst that miss nothing.

use std::collections::BTreeSet;
use std::time::Duration;

use beckon::db::Db;
use beckon_tests::{start_chat, AcceptedChat, SiteFixture, TestDatabase, WsClient};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

const SHOP: &str = "http://127.0.0.1:9";
const WAIT: Duration = Duration::from_secs(5);
/// Console sockets check their session on every heartbeat (25 s).
const CHECK_WAIT: Duration = Duration::from_secs(45);

async fn fixture(args: &[&str]) -> (TestDatabase, SiteFixture) {
    let db = TestDatabase::sqlite();
    let fx = SiteFixture::start(&db, args, SHOP).await;
    (db, fx)
}

async fn guest_token(fx: &SiteFixture) -> String {
    let (status, guest) = fx.obtain_guest(SHOP, None).await;
    assert_eq!(status, 201, "{guest}");
    guest["token"].as_str().expect("token").to_owned()
}

fn visitor_path(fx: &SiteFixture, token: &str) -> String {
    format!("/ws/visitor?k={}&t={token}", fx.site.public_key)
}

/// The server's resident memory in KiB.
fn rss_kib(fx: &SiteFixture) -> u64 {
    let pid = fx.app.pid().expect("server runs");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// How a raw socket is opened.
enum Path<'a> {
    /// A visitor socket on a connection of its own (the lean path).
    Lean(&'a str),
    /// A visitor socket on a keep-alive connection that served a request first (actix-ws).
    Reused(&'a str),
    /// The console socket with this session cookie.
    Console(&'a str),
}

/// Opens a WebSocket by hand (so frames can be written that no client library would write);
/// the stream after the `101` head.
async fn open_raw(fx: &SiteFixture, path: Path<'_>, receive_buffer: Option<u32>) -> TcpStream {
    let authority = fx.app.address.trim_start_matches("http://").to_owned();
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    if let Some(bytes) = receive_buffer {
        socket.set_recv_buffer_size(bytes).expect("receive buffer");
    }
    let mut tcp = socket
        .connect(authority.parse().expect("address"))
        .await
        .expect("connect");
    let (target, origin, cookie) = match path {
        Path::Lean(p) => (p.to_owned(), SHOP.to_owned(), String::new()),
        Path::Reused(p) => {
            beckon_tests::ws::serve_one_plain_request(&mut tcp, &authority).await;
            (p.to_owned(), SHOP.to_owned(), String::new())
        }
        Path::Console(c) => (
            "/ws/console".to_owned(),
            fx.app.address.clone(),
            format!("Cookie: {c}\r\n"),
        ),
    };
    let request = format!(
        "GET {target} HTTP/1.1\r\nHost: {authority}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: {origin}\r\n{cookie}\r\n"
    );
    tcp.write_all(request.as_bytes()).await.expect("upgrade");
    let head = read_head(&mut tcp).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    tcp
}

/// Reads a response head byte by byte (nothing after it is consumed).
async fn read_head(tcp: &mut TcpStream) -> String {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        tokio::time::timeout(WAIT, tcp.read_exact(&mut byte))
            .await
            .expect("head in time")
            .expect("head");
        head.push(byte[0]);
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// A masked client text frame (the mask is all zeros, which leaves the payload as it is).
fn text_frame(text: &str) -> Vec<u8> {
    let mut frame = vec![0x81u8];
    let len = text.len();
    if len < 126 {
        frame.push(0x80 | len as u8);
    } else {
        frame.push(0x80 | 126);
        frame.extend_from_slice(&(len as u16).to_be_bytes());
    }
    frame.extend_from_slice(&[0, 0, 0, 0]);
    frame.extend_from_slice(text.as_bytes());
    frame
}

/// Reads server frames until a close frame; its code (`None` if the connection ended without one).
async fn close_code_of(read: &mut (impl tokio::io::AsyncRead + Unpin)) -> Option<u16> {
    let mut buf = Vec::new();
    loop {
        // Parse whatever complete frames are buffered.
        loop {
            if buf.len() < 2 {
                break;
            }
            let (len, start) = match buf[1] & 0x7f {
                126 if buf.len() >= 4 => (u16::from_be_bytes([buf[2], buf[3]]) as usize, 4),
                127 if buf.len() >= 10 => (
                    u64::from_be_bytes(buf[2..10].try_into().unwrap()) as usize,
                    10,
                ),
                126 | 127 => break,
                n => (n as usize, 2),
            };
            if buf.len() < start + len {
                break;
            }
            if buf[0] & 0x0f == 8 {
                let payload = &buf[start..start + len];
                return (payload.len() >= 2).then(|| u16::from_be_bytes([payload[0], payload[1]]));
            }
            buf.drain(..start + len);
        }
        let mut chunk = [0u8; 4096];
        match read.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Declares a 2^40-byte frame on `tcp` and streams up to 64 MiB of it while reading what the
/// server answers; the close code, and how many payload bytes the server took.
async fn stream_huge_frame(tcp: TcpStream) -> (Option<u16>, usize) {
    let (mut read, mut write) = tcp.into_split();
    let writer = tokio::spawn(async move {
        let mut header = vec![0x81u8, 0x80 | 127];
        header.extend_from_slice(&(1u64 << 40).to_be_bytes());
        header.extend_from_slice(&[0, 0, 0, 0]);
        if write.write_all(&header).await.is_err() {
            return 0;
        }
        let chunk = vec![b'a'; 1024 * 1024];
        let mut sent = 0;
        while sent < 64 * 1024 * 1024 {
            match tokio::time::timeout(Duration::from_secs(3), write.write_all(&chunk)).await {
                Ok(Ok(())) => sent += chunk.len(),
                // Refused (reset) or no longer read: the server stopped taking it.
                _ => break,
            }
        }
        sent
    });
    let code = tokio::time::timeout(Duration::from_secs(20), close_code_of(&mut read))
        .await
        .expect("the server answers the frame in time");
    let sent = writer.await.expect("writer");
    (code, sent)
}

#[tokio::test]
async fn a_huge_declared_frame_is_refused_at_its_header_on_every_socket() {
    let (_db, fx) = fixture(&[]).await;
    let token = guest_token(&fx).await;
    let path = visitor_path(&fx, &token);
    let cookie = fx.session_cookie.clone();
    for (name, how) in [
        ("lean visitor socket", Path::Lean(&path)),
        ("visitor socket on a reused connection", Path::Reused(&path)),
        ("console socket", Path::Console(&cookie)),
    ] {
        let tcp = open_raw(&fx, how, None).await;
        let before = rss_kib(&fx);
        let (code, sent) = stream_huge_frame(tcp).await;
        let after = rss_kib(&fx);
        eprintln!("{name}: close {code:?}, {sent} bytes streamed, RSS {before} -> {after} KiB");
        assert_eq!(code, Some(1009), "{name}: closed as too large");
        assert!(
            after.saturating_sub(before) < 4 * 1024,
            "{name}: resident memory grew from {before} KiB to {after} KiB"
        );
    }
    // The server is fine afterwards.
    let mut tab = fx.visitor_socket(SHOP, &token).await;
    assert_eq!(tab.next_event(WAIT).await.expect("hello")["type"], "hello");
}

#[tokio::test]
async fn sockets_are_capped_per_guest_and_per_address() {
    let (_db, fx) = fixture(&["--max-sockets-per-guest", "3", "--max-sockets-per-ip", "5"]).await;
    let a = guest_token(&fx).await;
    let b = guest_token(&fx).await;
    let url = |t: &str| fx.ws_url(&visitor_path(&fx, t));
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(
            WsClient::connect(&url(&a), Some(SHOP), None)
                .await
                .expect("under the cap"),
        );
    }
    let refused = WsClient::connect(&url(&a), Some(SHOP), None).await.err();
    assert_eq!(
        refused.map(|r| r.status),
        Some(429),
        "a 4th socket for one guest"
    );
    // The route on a reused connection counts and refuses alike.
    let refused = WsClient::connect_after_request(&url(&a), SHOP).await.err();
    assert_eq!(
        refused.map(|r| r.status),
        Some(429),
        "on the dispatcher path too"
    );

    for _ in 0..2 {
        open.push(
            WsClient::connect(&url(&b), Some(SHOP), None)
                .await
                .expect("under the cap"),
        );
    }
    let refused = WsClient::connect_after_request(&url(&b), SHOP).await.err();
    assert_eq!(
        refused.map(|r| r.status),
        Some(429),
        "a 6th socket from one address"
    );

    // A closed socket gives its place back.
    open.pop().expect("one").close().await;
    beckon_tests::eventually_async(WAIT, "the place given back", || async {
        match WsClient::connect(&url(&b), Some(SHOP), None).await {
            Ok(_) => Ok(()),
            Err(r) => {
                assert_eq!(r.status, 429);
                Err(r)
            }
        }
    })
    .await;
}

#[tokio::test]
async fn a_forwarded_for_line_of_the_clients_own_cannot_dodge_the_socket_cap() {
    let (_db, fx) = fixture(&[
        "--trusted-proxies",
        "127.0.0.1/32",
        "--max-sockets-per-ip",
        "2",
    ])
    .await;
    let token = guest_token(&fx).await;
    let url = fx.ws_url(&visitor_path(&fx, &token));
    // The client writes a line of its own; the trusted proxy adds the client's real address as a
    // second line. Only the real address may count.
    let through_proxy =
        |own: &'static str| [("X-Forwarded-For", own), ("X-Forwarded-For", "203.0.113.9")];
    let mut open = Vec::new();
    for own in ["6.6.6.1", "6.6.6.2"] {
        open.push(
            WsClient::connect_with_header_lines(&url, SHOP, &through_proxy(own))
                .await
                .expect("under the cap"),
        );
    }
    let refused = WsClient::connect_with_header_lines(&url, SHOP, &through_proxy("6.6.6.3"))
        .await
        .err();
    assert_eq!(
        refused.map(|r| r.status),
        Some(429),
        "a third socket from 203.0.113.9, whatever its own line says"
    );
    // Another real client behind the same proxy is counted on its own.
    WsClient::connect_with_header_lines(
        &url,
        SHOP,
        &[
            ("X-Forwarded-For", "6.6.6.1"),
            ("X-Forwarded-For", "198.51.100.4"),
        ],
    )
    .await
    .expect("another address has its own cap");
}

/// Runs `sql` on the server's database.
async fn execute(fx: &SiteFixture, sql: &'static str) {
    let url = fx.app.database_url().to_owned();
    tokio::task::spawn_blocking(move || {
        use diesel::RunQueryDsl as _;
        let db = Db::connect(&url, 1).expect("connect");
        let mut conn = db.conn().expect("conn");
        diesel::sql_query(sql).execute(&mut *conn).expect(sql);
    })
    .await
    .expect("sql");
}

/// A console socket that is up (its greeting arrived).
async fn console(fx: &SiteFixture) -> WsClient {
    let mut console = fx.console_socket().await;
    console.next_event(WAIT).await.expect("greeting");
    console
}

#[tokio::test]
async fn logout_closes_the_sessions_console_sockets_at_once() {
    let (_db, fx) = fixture(&[]).await;
    let mut first = console(&fx).await;
    let mut second = console(&fx).await;
    let page = fx.app.get("/console").await.text().await.expect("page");
    let csrf = beckon_tests::html::input_value(&page, "csrf").expect("csrf");
    let res = fx.app.post_form("/logout", &[("csrf", &csrf)]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(first.close_code(Duration::from_secs(2)).await, Some(4401));
    assert_eq!(second.close_code(Duration::from_secs(2)).await, Some(4401));
    let again = WsClient::connect(
        &fx.ws_url("/ws/console"),
        Some(&fx.app.address),
        Some(&fx.session_cookie),
    )
    .await;
    assert!(again.is_err(), "the ended session opens no new socket");
}

#[tokio::test]
async fn session_expiry_and_deactivation_close_console_sockets() {
    let (_db, fx) = fixture(&[]).await;
    let mut socket = console(&fx).await;
    execute(
        &fx,
        "UPDATE console_sessions SET expires_at = '2000-01-01 00:00:00'",
    )
    .await;
    assert_eq!(socket.close_code(CHECK_WAIT).await, Some(4401), "expired");

    let (_db2, fx) = fixture(&[]).await;
    let mut socket = console(&fx).await;
    execute(
        &fx,
        "UPDATE operators SET disabled_at = '2000-01-01 00:00:00'",
    )
    .await;
    assert_eq!(
        socket.close_code(CHECK_WAIT).await,
        Some(4401),
        "deactivated"
    );
}

#[tokio::test]
async fn removal_from_a_site_closes_the_operators_console_sockets() {
    let (_db, fx) = fixture(&[]).await;
    let mut socket = console(&fx).await;
    socket
        .send(json!({"type": "conversations", "site_id": fx.site.id}))
        .await;
    assert!(socket
        .next_of_type("conversation_list", WAIT)
        .await
        .is_some());
    execute(&fx, "DELETE FROM memberships").await;
    assert_eq!(socket.close_code(CHECK_WAIT).await, Some(4403));
}

/// Whether the server process still holds the TCP connection whose client end is `client_port`
/// (its entry in /proc/net/tcp has a socket inode while a process holds it; once the server
/// closed it, it is gone or orphaned with inode 0).
fn server_holds_connection(server_port: u16, client_port: u16) -> bool {
    let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    let port_of = |addr: &str| {
        addr.split(':')
            .nth(1)
            .and_then(|p| u16::from_str_radix(p, 16).ok())
    };
    table.lines().skip(1).any(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        f.len() > 9
            && port_of(f[1]) == Some(server_port)
            && port_of(f[2]) == Some(client_port)
            && f[9] != "0"
    })
}

#[tokio::test]
async fn a_console_that_stops_reading_is_let_go() {
    let (_db, fx) = fixture(&[]).await;
    // A conversation on the site, so each list answer carries something.
    let (mut tab, _) = fx.guest(SHOP).await;
    start_chat(&mut tab, "Slow").await;

    let stuck = open_raw(&fx, Path::Console(&fx.session_cookie), Some(4096)).await;
    let client_port = stuck.local_addr().expect("local").port();
    let server_port = stuck.peer_addr().expect("peer").port();
    let (_read, mut write) = stuck.into_split();
    // Ask for the list over and over and never read the answers, until the server stops reading
    // our requests too.
    let request = text_frame(&json!({"type": "conversations", "site_id": fx.site.id}).to_string());
    let mut sent = 0;
    for _ in 0..20_000 {
        match tokio::time::timeout(Duration::from_secs(2), write.write_all(&request)).await {
            Ok(Ok(())) => sent += 1,
            _ => break,
        }
    }
    eprintln!("{sent} requests written before the server stopped reading");
    assert!(server_holds_connection(server_port, client_port) || sent < 20_000);
    beckon_tests::eventually(
        Duration::from_secs(60),
        "the server to let go of a console that stopped reading",
        || !server_holds_connection(server_port, client_port),
    )
    .await;
    // The server is fine afterwards.
    let mut other = console(&fx).await;
    other
        .send(json!({"type": "conversations", "site_id": fx.site.id}))
        .await;
    assert!(other
        .next_of_type("conversation_list", WAIT)
        .await
        .is_some());
}

/// Seqs a joiner saw: from the `history` answer and from live `message` events.
fn seqs_of(event: &Value, into: &mut BTreeSet<i64>) {
    match event["type"].as_str() {
        Some("history") => {
            for m in event["messages"].as_array().into_iter().flatten() {
                if let Some(seq) = m["seq"].as_i64() {
                    into.insert(seq);
                }
            }
        }
        Some("message") => {
            if let Some(seq) = event["seq"].as_i64() {
                into.insert(seq);
            }
        }
        _ => {}
    }
}

#[tokio::test]
async fn joins_in_the_middle_of_a_burst_miss_no_message() {
    let (_db, fx) = fixture(&[]).await;
    let AcceptedChat {
        tab: _tab,
        console: mut sender,
        conversation_id: id,
        ..
    } = fx.accepted_chat(SHOP, "Burst").await;

    const BURST: usize = 150;
    const JOINERS: usize = 30;
    let mut joiners = Vec::new();
    for _ in 0..JOINERS {
        joiners.push(console(&fx).await);
    }
    // The burst goes out from one task while the joiners join, spread over it.
    let burst_id = id.clone();
    let burst = tokio::spawn(async move {
        for i in 0..BURST {
            sender.send(json!({"type": "send", "conversation_id": burst_id, "client_msg_id": format!("b-{i}"), "body": format!("burst {i}")})).await;
        }
        // Every send is answered (ack, or an error for one refused): the last seq committed.
        let mut last = 0;
        for _ in 0..BURST {
            let event = sender
                .next_event(Duration::from_secs(20))
                .await
                .expect("each send answered");
            match event["type"].as_str() {
                Some("ack") => last = last.max(event["seq"].as_i64().expect("seq")),
                Some("error") => {}
                // Live copies of the burst and other events.
                _ => continue,
            }
        }
        last
    });
    for joiner in joiners.iter_mut() {
        joiner
            .send(json!({"type": "join", "conversation_id": id, "after_seq": 0}))
            .await;
        // Paces the joins so they land spread over the burst: the spread is what is tested.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let last = burst.await.expect("burst");
    assert!(last > 0, "the burst was stored");
    for (n, joiner) in joiners.iter_mut().enumerate() {
        let mut seen = BTreeSet::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while seen.last().copied().unwrap_or(0) < last {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let Some(event) = joiner.next_event(left).await else {
                break;
            };
            seqs_of(&event, &mut seen);
        }
        let missing: Vec<i64> = (1..=last).filter(|s| !seen.contains(s)).collect();
        assert!(
            missing.is_empty(),
            "joiner {n} missed {missing:?} of 1..={last}"
        );
    }
}
