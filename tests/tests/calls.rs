//! Calls (issue #17): the signalling over real sockets against the real binary (who may ring,
//! answer and hang up, who hears of it, what the transcript says, TURN credentials only for the
//! two parties), on SQLite and PostgreSQL; and the calls themselves in real Chromium
//! (`calls/browser.rs`), through a real coturn with ICE forced to relay.

use std::time::Duration;

use base64::Engine as _;
use beckon_tests::{AcceptedChat, SiteFixture, TestDatabase, WsClient};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};

#[path = "calls/browser.rs"]
mod browser;

const SHOP: &str = "http://127.0.0.1:9";
const WAIT: Duration = Duration::from_secs(10);
const TURN_SECRET: &str = "turn-shared-secret";

/// Server flags with a STUN and a TURN server (nothing listens there: only the credentials are
/// looked at here).
fn ice_args() -> Vec<&'static str> {
    vec![
        "--ice-servers",
        "stun:127.0.0.1:3478,turn:127.0.0.1:3478?transport=udp",
        "--turn-secret",
        TURN_SECRET,
    ]
}

async fn call(ws: &mut WsClient, action: &str, call_id: &str, tab: &str) {
    ws.send(json!({"type": "call", "action": action, "call_id": call_id, "tab": tab}))
        .await;
}

async fn start(ws: &mut WsClient, conversation_id: &str, media: &str, tab: &str) {
    ws.send(json!({"type": "call", "action": "start", "conversation_id": conversation_id, "media": media, "tab": tab}))
        .await;
}

/// The next `call` event in state `state`.
async fn call_in_state(ws: &mut WsClient, state: &str) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let event = ws
            .next_of_type("call", left)
            .await
            .unwrap_or_else(|| panic!("no call event in state {state}"));
        if event["state"] == state {
            return event;
        }
    }
}

/// The next system line whose body contains `text`.
async fn line(ws: &mut WsClient, text: &str) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let m = ws
            .next_of_type("message", left)
            .await
            .unwrap_or_else(|| panic!("no transcript line with {text:?}"));
        if m["kind"] == "system" && m["body"].as_str().is_some_and(|b| b.contains(text)) {
            return m;
        }
    }
}

async fn error_code(ws: &mut WsClient) -> String {
    let e = ws.next_of_type("error", WAIT).await.expect("an error");
    e["code"].as_str().unwrap_or_default().to_owned()
}

/// Checks the TURN entry of `ice_servers`: `EXPIRY:CALL_ID`, in the future, with the credential
/// of the shared-secret scheme.
fn assert_turn_credentials(event: &Value, call_id: &str) {
    let servers = event["ice_servers"].as_array().expect("ice servers");
    assert_eq!(
        servers[0]["urls"],
        json!(["stun:127.0.0.1:3478"]),
        "{event}"
    );
    assert!(servers[0].get("credential").is_none(), "STUN has none");
    let turn = &servers[1];
    assert_eq!(turn["urls"], json!(["turn:127.0.0.1:3478?transport=udp"]));
    let username = turn["username"].as_str().expect("username");
    let (expiry, id) = username.split_once(':').expect("EXPIRY:ID");
    assert_eq!(id, call_id);
    let expiry: i64 = expiry.parse().expect("expiry");
    let now = chrono::Utc::now().timestamp();
    assert!(
        expiry > now && expiry <= now + 3600 + 5,
        "short-lived: {expiry}"
    );
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(TURN_SECRET.as_bytes()).expect("key");
    mac.update(username.as_bytes());
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    assert_eq!(turn["credential"], expected.as_str());
}

async fn allow_guest_calls(fx: &SiteFixture) {
    let path = format!("/console/sites/{}/settings", fx.site.id);
    let csrf = fx.app.csrf_of(&path).await;
    let saved = fx
        .app
        .post_form(&path, &[("csrf", &csrf), ("guest_calls", "1")])
        .await;
    assert_eq!(saved.status(), 303, "settings saved");
}

async fn a_call_reaches_its_two_parties_only(db: TestDatabase) {
    let fx = SiteFixture::start(&db, &ice_args(), SHOP).await;
    let AcceptedChat {
        tab: mut guest,
        console: mut op,
        conversation_id: id,
        ..
    } = fx.accepted_chat(SHOP, "Gus").await;
    // Another guest in a chat of their own, and an agent of the site following Gus's chat.
    let AcceptedChat {
        tab: mut intruder, ..
    } = fx.accepted_chat(SHOP, "Ivy").await;
    let agent = fx
        .add_agent("agnes@example.com", "agnes", "Agnes Agent")
        .await;
    let mut colleague = fx.console_socket_as(&agent).await;
    colleague
        .send(json!({"type": "join", "conversation_id": id, "after_seq": 0}))
        .await;
    colleague
        .next_of_type("history", WAIT)
        .await
        .expect("joined");

    // The guest may not ring until the site allows it.
    start(&mut guest, &id, "audio", "g-1").await;
    assert_eq!(error_code(&mut guest).await, "forbidden");

    start(&mut op, &id, "video", "o-1").await;
    // Each step's transcript line is published just before the call's new state.
    line(&mut guest, "started a video call").await;
    let ringing = call_in_state(&mut guest, "ringing").await;
    let call_id = ringing["call_id"].as_str().expect("call id").to_owned();
    assert_eq!(ringing["media"], "video");
    assert_eq!(ringing["caller"], "operator");
    assert_eq!(ringing["operator_tab"], "o-1");
    assert_turn_credentials(&ringing, &call_id);
    let own = call_in_state(&mut op, "ringing").await;
    assert_eq!(own["call_id"], call_id.as_str());
    // A second call in the same conversation is refused while this one rings.
    start(&mut op, &id, "audio", "o-1").await;
    assert_eq!(error_code(&mut op).await, "conflict");

    // Neither the other guest nor the colleague can answer, end or signal it.
    call(&mut intruder, "accept", &call_id, "i-1").await;
    let refused = intruder.next_of_type("error", WAIT).await.expect("refused");
    assert_eq!(refused["code"], "not_found");
    assert_eq!(
        refused["call_id"],
        call_id.as_str(),
        "told apart from chat errors"
    );
    call(&mut colleague, "hangup", &call_id, "c-1").await;
    assert_eq!(error_code(&mut colleague).await, "not_found");

    call(&mut guest, "accept", &call_id, "g-1").await;
    line(&mut op, "Gus answered the call").await;
    let active = call_in_state(&mut op, "active").await;
    assert_eq!(active["guest_tab"], "g-1");
    assert_turn_credentials(&active, &call_id);
    call_in_state(&mut guest, "active").await;
    // Answered once: a second answer (another tab) is a conflict.
    call(&mut guest, "accept", &call_id, "g-2").await;
    assert_eq!(error_code(&mut guest).await, "conflict");

    // Signalling goes to the other party as sent, and from nobody else.
    guest
        .send(
            json!({"type": "call_signal", "call_id": call_id, "kind": "offer", "sdp": "v=0 offer"}),
        )
        .await;
    let offer = op.next_of_type("call_signal", WAIT).await.expect("offer");
    assert_eq!(
        (offer["from"].as_str(), offer["sdp"].as_str()),
        (Some("guest"), Some("v=0 offer"))
    );
    op.send(json!({"type": "call_signal", "call_id": call_id, "kind": "candidate",
        "candidate": {"candidate": "candidate:1 1 udp 1 127.0.0.1 5000 typ host", "sdpMid": "0", "sdpMLineIndex": 0}}))
        .await;
    let candidate = guest
        .next_of_type("call_signal", WAIT)
        .await
        .expect("candidate");
    assert_eq!(candidate["from"], "operator");
    assert_eq!(candidate["candidate"]["sdpMid"], "0");
    intruder
        .send(
            json!({"type": "call_signal", "call_id": call_id, "kind": "offer", "sdp": "v=0 evil"}),
        )
        .await;
    assert_eq!(error_code(&mut intruder).await, "not_found");
    colleague
        .send(json!({"type": "call_signal", "call_id": call_id, "kind": "media", "media": {"audio": true, "video": false, "screen": false}}))
        .await;
    assert_eq!(error_code(&mut colleague).await, "not_found");
    guest
        .send(json!({"type": "call_signal", "call_id": call_id, "kind": "offer", "sdp": "x".repeat(32_001)}))
        .await;
    assert_eq!(error_code(&mut guest).await, "bad_request");

    call(&mut op, "hangup", &call_id, "o-1").await;
    line(&mut guest, "Call ended by").await;
    let ended = call_in_state(&mut guest, "ended").await;
    assert_eq!(
        (ended["outcome"].as_str(), ended["ended_by"].as_str()),
        (Some("completed"), Some("operator"))
    );
    assert_eq!(ended["ice_servers"], json!([]));
    guest
        .send(json!({"type": "call_signal", "call_id": call_id, "kind": "answer", "sdp": "v=0"}))
        .await;
    assert_eq!(error_code(&mut guest).await, "conflict");

    // Where the site allows it, the guest rings the operator, who may decline.
    allow_guest_calls(&fx).await;
    start(&mut guest, &id, "audio", "g-1").await;
    let ringing = call_in_state(&mut op, "ringing").await;
    assert_eq!(ringing["caller"], "guest");
    assert_eq!(ringing["caller_name"], "Gus");
    let second = ringing["call_id"].as_str().expect("call id").to_owned();
    call(&mut op, "decline", &second, "o-1").await;
    line(&mut guest, "declined the call").await;
    let declined = call_in_state(&mut guest, "ended").await;
    assert_eq!(declined["outcome"], "declined");

    // Nothing about either call reached the other guest or the colleague; the colleague saw
    // only the transcript lines.
    intruder
        .expect_none_of_type("call", Duration::from_millis(300))
        .await;
    intruder
        .expect_none_of_type("call_signal", Duration::from_millis(100))
        .await;
    colleague
        .expect_none_of_type("call", Duration::from_millis(300))
        .await;
    colleague
        .expect_none_of_type("call_signal", Duration::from_millis(100))
        .await;
}

#[tokio::test]
async fn a_call_reaches_its_two_parties_only_on_sqlite() {
    a_call_reaches_its_two_parties_only(TestDatabase::sqlite()).await;
}

#[tokio::test]
async fn a_call_reaches_its_two_parties_only_on_postgres() {
    if let Some(db) =
        TestDatabase::postgres("calls::a_call_reaches_its_two_parties_only_on_postgres")
    {
        a_call_reaches_its_two_parties_only(db).await;
    }
}

#[tokio::test]
async fn an_unanswered_call_is_missed_a_returning_tab_hears_of_a_live_one_and_a_caller_may_cancel()
{
    let db = TestDatabase::sqlite();
    let fx = SiteFixture::start(&db, &["--call-ring-secs", "2"], SHOP).await;
    let AcceptedChat {
        tab: mut guest,
        token,
        console: mut op,
        conversation_id: id,
    } = fx.accepted_chat(SHOP, "").await;

    start(&mut op, &id, "audio", "o-1").await;
    let ringing = call_in_state(&mut guest, "ringing").await;
    assert_eq!(ringing["ring_secs"], 2);
    assert_eq!(ringing["ice_servers"], json!([]), "none configured");
    // A tab opened (or reloaded) while it rings is told on resume, and rings too.
    let mut second = fx.visitor_socket(SHOP, &token).await;
    second
        .send(json!({"type": "resume", "conversation_id": id, "after_seq": 0}))
        .await;
    let told = call_in_state(&mut second, "ringing").await;
    assert_eq!(told["call_id"], ringing["call_id"]);

    let missed = call_in_state(&mut guest, "ended").await;
    assert_eq!(
        (missed["outcome"].as_str(), missed["ended_by"].as_str()),
        (Some("missed"), Some("system"))
    );
    line(&mut op, "Missed voice call (no answer)").await;

    // The caller hangs up before an answer: cancelled.
    start(&mut op, &id, "video", "o-1").await;
    let ringing = call_in_state(&mut guest, "ringing").await;
    call(
        &mut op,
        "hangup",
        ringing["call_id"].as_str().expect("id"),
        "o-1",
    )
    .await;
    line(&mut guest, "cancelled the call").await;
    let cancelled = call_in_state(&mut guest, "ended").await;
    assert_eq!(cancelled["outcome"], "cancelled");

    // A panel that cannot take calls (no "calls" capability) is not rung.
    second
        .send(json!({"type": "resume", "conversation_id": id, "after_seq": 0, "capabilities": ["files", "typing"]}))
        .await;
    // The capabilities are stored before the catch-up is answered.
    second
        .next_of_type("history", WAIT)
        .await
        .expect("caught up");
    start(&mut op, &id, "audio", "o-1").await;
    let refused = op.next_of_type("error", WAIT).await.expect("refused");
    assert_eq!(refused["code"], "conflict");
    assert!(
        refused["message"]
            .as_str()
            .is_some_and(|m| m.contains("cannot take calls")),
        "{refused}"
    );
}

/// The credentials Beckon mints for a call's parties allocate a relay on a real coturn sharing its
/// secret; the same credential under another call's username is refused.
#[tokio::test]
async fn a_calls_turn_credentials_allocate_on_a_real_coturn() {
    use beckon_tests::turn_client::{Transport, TurnClient, TurnError};
    let Some(coturn) = beckon_tests::Coturn::start(
        "calls::a_calls_turn_credentials_allocate_on_a_real_coturn",
        TURN_SECRET,
    ) else {
        return;
    };
    let db = TestDatabase::sqlite();
    let servers = format!("stun:127.0.0.1:{},{}", coturn.port(), coturn.url());
    let fx = SiteFixture::start(
        &db,
        &["--ice-servers", &servers, "--turn-secret", TURN_SECRET],
        SHOP,
    )
    .await;
    let AcceptedChat {
        tab: mut guest,
        console: mut op,
        conversation_id: id,
        ..
    } = fx.accepted_chat(SHOP, "").await;
    start(&mut op, &id, "audio", "o-1").await;
    let ringing = call_in_state(&mut guest, "ringing").await;
    let turn = ringing["ice_servers"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s.get("credential").is_some()))
        .cloned()
        .expect("a TURN server with credentials");
    let username = turn["username"].as_str().expect("username").to_owned();
    let credential = turn["credential"].as_str().expect("credential").to_owned();
    let server = coturn.address();
    let (allocated, forged) = tokio::task::spawn_blocking(move || {
        let allocated = TurnClient::connect(server, Transport::Udp, &username, &credential)
            .and_then(|mut c| c.allocate());
        let (expiry, _) = username.split_once(':').expect("EXPIRY:ID");
        let forged = TurnClient::connect(
            server,
            Transport::Udp,
            &format!("{expiry}:other"),
            &credential,
        )
        .and_then(|mut c| c.allocate());
        (allocated, forged)
    })
    .await
    .expect("TURN exchanges");
    let allocation =
        allocated.unwrap_or_else(|e| panic!("allocation refused: {e:?}; {}", coturn.log()));
    assert!(coturn.relay_ports().contains(&allocation.relayed.port()));
    assert!(
        matches!(forged, Err(TurnError::Refused { code: 401, .. })),
        "another call's username: {forged:?}"
    );
}
