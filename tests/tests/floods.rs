//! Floods in chat against the real binary: a guest's burst of messages is limited (refused sends are
//! answered `rate_limited` and not stored, accepted ones stored once), its webhooks are coalesced so
//! the outbox stays small, typing and upload floods are limited (uploads with 429 and
//! `Retry-After`), and operators have limits of their own, well above the guests'.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use beckon::db::models::OutboxItem;
use beckon::db::Db;
use beckon_tests::receiver::{self, Received};
use beckon_tests::{AcceptedChat, SiteFixture, TestDatabase, WsClient};
use serde_json::{json, Value};

const SHOP: &str = "http://127.0.0.1:9";
const WAIT: Duration = Duration::from_secs(10);

/// Local receivers are allowed, retries are quick.
const LOCAL_HOOKS: [&str; 5] = [
    "--webhook-allow-private",
    "--delivery-retry-secs",
    "1",
    "--delivery-timeout-secs",
    "2",
];

/// Registers a `message.created` hook to `url` through the console form.
async fn register_hook(fx: &SiteFixture, url: &str) {
    let path = format!("/console/sites/{}/webhooks", fx.site.id);
    let csrf = fx.app.csrf_of(&path).await;
    let form = [
        ("csrf", csrf.as_str()),
        ("url", url),
        ("event", "message.created"),
    ];
    let res = fx.app.post_form(&path, &form).await;
    assert_eq!(res.status(), 303, "hook added");
}

/// Sends `n` messages back to back (pipelined), then reads one answer per send: the acks'
/// (client_msg_id, seq) and the refusals' error events.
async fn burst(
    ws: &mut WsClient,
    id: &str,
    prefix: &str,
    n: usize,
) -> (BTreeMap<String, i64>, Vec<Value>) {
    for i in 0..n {
        ws.send(json!({"type": "send", "conversation_id": id, "client_msg_id": format!("{prefix}-{i}"), "body": format!("flood {i}")}))
            .await;
    }
    let mut acked = BTreeMap::new();
    let mut refused = Vec::new();
    while acked.len() + refused.len() < n {
        let event = ws
            .next_event(WAIT)
            .await
            .unwrap_or_else(|| panic!("an answer for every send ({acked:?}, {refused:?})"));
        match event["type"].as_str() {
            Some("ack") => {
                let cid = event["client_msg_id"].as_str().unwrap().to_owned();
                assert!(
                    acked.insert(cid, event["seq"].as_i64().unwrap()).is_none(),
                    "one ack per send"
                );
            }
            Some("error") => refused.push(event),
            _ => {}
        }
    }
    (acked, refused)
}

/// Every outbox row of the conversation on `channel`.
async fn outbox_of(db_url: &str, conversation_id: &str, channel: &str) -> Vec<OutboxItem> {
    let (url, id, channel) = (
        db_url.to_owned(),
        conversation_id.to_owned(),
        channel.to_owned(),
    );
    tokio::task::spawn_blocking(move || {
        use beckon::db::schema::notification_outbox as o;
        use diesel::prelude::*;
        let db = Db::connect(&url, 1).expect("connect");
        let mut conn = db.conn().expect("conn");
        o::table
            .filter(o::conversation_id.eq(&id))
            .filter(o::channel.eq(&channel))
            .order(o::created_at.asc())
            .select(OutboxItem::as_select())
            .load(&mut *conn)
            .expect("outbox")
    })
    .await
    .unwrap()
}

/// The seqs of the messages each webhook row carries.
fn seqs_in(rows: &[OutboxItem]) -> Vec<i64> {
    let mut seqs = Vec::new();
    for row in rows {
        let job: Value = serde_json::from_str(&row.payload).unwrap();
        assert_eq!(job["event"], "message.created");
        let messages = job["data"]["messages"].as_array().expect("messages");
        assert_eq!(job["data"]["message"], messages[0], "message is the first");
        seqs.extend(messages.iter().map(|m| m["seq"].as_i64().unwrap()));
    }
    seqs
}

/// The guest messages stored in the conversation, read through an operator's `join`: client_msg_id
/// → seq, failing on a client_msg_id stored twice.
async fn stored_guest_messages(op: &mut WsClient, id: &str) -> BTreeMap<String, i64> {
    let mut stored = BTreeMap::new();
    let mut after = 0;
    loop {
        op.send(json!({"type": "join", "conversation_id": id, "after_seq": after}))
            .await;
        let page = op.next_of_type("history", WAIT).await.expect("history");
        for m in page["messages"].as_array().unwrap() {
            after = m["seq"].as_i64().unwrap();
            if m["sender"] == "guest" {
                let cid = m["client_msg_id"].as_str().unwrap().to_owned();
                assert!(stored.insert(cid, after).is_none(), "stored once");
            }
        }
        if page["more"] != true {
            return stored;
        }
    }
}

async fn guest_burst_is_limited_and_its_webhooks_coalesced(db: TestDatabase) {
    let sink = receiver::start(&[]).await;
    let fx = SiteFixture::start(&db, &LOCAL_HOOKS, SHOP).await;
    register_hook(&fx, &format!("{}/hook", sink.uri())).await;
    let AcceptedChat {
        mut tab,
        token: _,
        console: mut op,
        conversation_id: id,
    } = fx.accepted_chat(SHOP, "Flo").await;

    let (acked, refused) = burst(&mut tab, &id, "g", 300).await;

    // The default burst (10) goes through, the sustained rate (30 a minute) adds next to nothing
    // while the 300 frames arrive; the rest is refused.
    assert!(
        (10..=20).contains(&acked.len()),
        "accepted {} of 300",
        acked.len()
    );
    assert_eq!(acked.len() + refused.len(), 300);
    for e in &refused {
        assert_eq!(e["code"], "rate_limited", "{e}");
        assert!(e["retry_after"].as_u64().is_some_and(|s| s >= 1), "{e}");
        let cid = e["client_msg_id"].as_str().expect("names the send");
        assert!(!acked.contains_key(cid));
    }
    // Exactly the accepted messages are stored, each once.
    assert_eq!(stored_guest_messages(&mut op, &id).await, acked);

    // The outbox holds a bounded number of webhook jobs for the conversation, which together
    // carry every accepted message exactly once.
    let rows = outbox_of(fx.app.database_url(), &id, "webhook").await;
    assert!(
        (1..=3).contains(&rows.len()),
        "{} webhook jobs for {} messages",
        rows.len(),
        acked.len()
    );
    let mut carried = seqs_in(&rows);
    carried.sort_unstable();
    let expected: Vec<i64> = acked
        .values()
        .copied()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(carried, expected);
}

#[tokio::test]
async fn a_guest_burst_of_300_messages_is_limited_stored_once_and_coalesced_sqlite() {
    guest_burst_is_limited_and_its_webhooks_coalesced(TestDatabase::sqlite()).await;
}

#[tokio::test]
async fn a_guest_burst_of_300_messages_is_limited_stored_once_and_coalesced_postgres() {
    let Some(db) = TestDatabase::postgres("floods::burst") else {
        return;
    };
    guest_burst_is_limited_and_its_webhooks_coalesced(db).await;
}

#[tokio::test]
async fn a_flood_the_limits_allow_still_makes_few_webhook_deliveries_and_loses_none() {
    let db = TestDatabase::sqlite();
    let sink = receiver::start(&[]).await;
    let mut args = LOCAL_HOOKS.to_vec();
    args.extend([
        "--guest-message-burst",
        "1000",
        "--guest-messages-per-minute",
        "100000",
        "--webhook-coalesce-secs",
        "2",
    ]);
    let fx = SiteFixture::start(&db, &args, SHOP).await;
    register_hook(&fx, &format!("{}/hook", sink.uri())).await;
    let AcceptedChat {
        mut tab,
        token: _,
        console: _op,
        conversation_id: id,
    } = fx.accepted_chat(SHOP, "Flo").await;

    let (acked, refused) = burst(&mut tab, &id, "f", 300).await;
    assert!(refused.is_empty(), "{refused:?}");

    // 300 messages, at most 100 per delivery and about two deliveries per window.
    let rows = outbox_of(fx.app.database_url(), &id, "webhook").await;
    assert!(
        rows.len() <= 8,
        "{} webhook jobs for 300 messages",
        rows.len()
    );
    // Every message reaches the receiver exactly once, however the deliveries were cut.
    let delivered = beckon_tests::eventually_async(
        Duration::from_secs(30),
        "300 messages delivered",
        || async {
            let mut seqs = Vec::new();
            for r in receiver::requests(&sink).await {
                let body = r.json();
                seqs.extend(
                    body["data"]["messages"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|m| m["seq"].as_i64().unwrap()),
                );
            }
            if seqs.len() >= 300 {
                Ok(seqs)
            } else {
                Err(format!("{} messages delivered", seqs.len()))
            }
        },
    )
    .await;
    let mut sorted = delivered.clone();
    sorted.sort_unstable();
    let expected: Vec<i64> = acked
        .values()
        .copied()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(sorted, expected, "each message delivered once");
    let deliveries = receiver::requests(&sink).await.len();
    assert!(deliveries <= 8, "{} deliveries", deliveries);
}

#[tokio::test]
async fn an_operator_is_not_limited_at_the_guests_levels() {
    let db = TestDatabase::sqlite();
    let fx = SiteFixture::start(&db, &[], SHOP).await;
    let AcceptedChat {
        mut tab,
        token: _,
        console: mut op,
        conversation_id: id,
    } = fx.accepted_chat(SHOP, "Flo").await;

    // 50 at once: five times a guest's burst, within an operator's.
    let (acked, refused) = burst(&mut op, &id, "o", 50).await;
    assert!(refused.is_empty(), "{refused:?}");
    assert_eq!(acked.len(), 50);

    // The same from the guest is limited.
    let (acked, refused) = burst(&mut tab, &id, "g", 50).await;
    assert!(acked.len() < 50 && !refused.is_empty());
}

/// Sends 200 typing events from `from`, expects a `rate_limited` refusal, and counts the typing
/// events `to` received before a marker message sent after the flood.
async fn typing_flood(from: &mut WsClient, to: &mut WsClient, id: &str) -> usize {
    for _ in 0..200 {
        from.send(json!({"type": "typing", "conversation_id": id, "state": true}))
            .await;
    }
    let limited = from.next_of_type("error", WAIT).await.expect("refusal");
    assert_eq!(limited["code"], "rate_limited");
    assert!(limited["retry_after"].as_u64().is_some_and(|s| s >= 1));
    // A marker after the flood: everything relayed before it has arrived once it does.
    from.send(
        json!({"type": "send", "conversation_id": id, "client_msg_id": "marker", "body": "done"}),
    )
    .await;
    let mut relayed = 0;
    loop {
        let event = to.next_event(WAIT).await.expect("the marker arrives");
        match event["type"].as_str() {
            Some("typing") => relayed += 1,
            Some("message") if event["client_msg_id"] == "marker" => return relayed,
            _ => {}
        }
    }
}

#[tokio::test]
async fn a_typing_flood_is_limited() {
    let db = TestDatabase::sqlite();
    let fx = SiteFixture::start(&db, &["--guest-typing-per-minute", "20"], SHOP).await;
    let AcceptedChat {
        mut tab,
        token: _,
        console: mut op,
        conversation_id: id,
    } = fx.accepted_chat(SHOP, "Flo").await;
    let relayed = typing_flood(&mut tab, &mut op, &id).await;
    // 20 at once; one more per 3 s while the flood lasts.
    assert!(
        (20..=22).contains(&relayed),
        "{relayed} typing events relayed"
    );
}

#[tokio::test]
async fn an_operators_typing_flood_is_limited_at_its_own_level() {
    let db = TestDatabase::sqlite();
    let fx = SiteFixture::start(&db, &["--operator-typing-per-minute", "30"], SHOP).await;
    let AcceptedChat {
        mut tab,
        token: _,
        console: mut op,
        conversation_id: id,
    } = fx.accepted_chat(SHOP, "Flo").await;
    let relayed = typing_flood(&mut op, &mut tab, &id).await;
    // 30 at once; one more per 2 s while the flood lasts.
    assert!(
        (30..=32).contains(&relayed),
        "{relayed} typing events relayed"
    );
}

/// An upload request of the guest (`token`) or, without one, of the operator.
fn upload(
    fx: &SiteFixture,
    id: &str,
    token: Option<&str>,
    csrf: &str,
    n: usize,
) -> reqwest::RequestBuilder {
    let url = fx
        .app
        .url(&format!("/api/v1/conversations/{id}/attachments"));
    let request = match token {
        Some(token) => reqwest::Client::new()
            .post(url)
            .header("X-Beckon-Site", &fx.site.public_key)
            .header("X-Beckon-Guest", token),
        None => fx.app.client.post(url).header("X-CSRF-Token", csrf),
    };
    request
        .header("X-Client-Msg-Id", format!("u-{}-{n}", token.is_some()))
        .header("X-Filename", format!("note-{n}.txt"))
        .header("Content-Type", "text/plain")
        .body(format!("file {n}"))
}

/// Statuses of `n` uploads in a row; the first 429 answer's `Retry-After` and body.
async fn uploads(
    fx: &SiteFixture,
    id: &str,
    token: Option<&str>,
    n: usize,
) -> (Vec<u16>, Option<(String, Value)>) {
    let csrf = fx.app.csrf_of("/console").await;
    let mut statuses = Vec::new();
    let mut first_429 = None;
    for i in 0..n {
        let res = upload(fx, id, token, &csrf, i).send().await.unwrap();
        let status = res.status().as_u16();
        statuses.push(status);
        if status == 429 && first_429.is_none() {
            let retry_after = res
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default();
            first_429 = Some((retry_after, res.json().await.unwrap()));
        }
    }
    (statuses, first_429)
}

#[tokio::test]
async fn an_upload_flood_gets_429_with_retry_after_per_guest_and_per_conversation() {
    let db = TestDatabase::sqlite();
    let fx = SiteFixture::start(&db, &[], SHOP).await;
    let AcceptedChat {
        tab: _tab,
        token,
        console: _op,
        conversation_id: id,
    } = fx.accepted_chat(SHOP, "Flo").await;

    // Per guest: 10 a minute by default.
    let (statuses, first_429) = uploads(&fx, &id, Some(&token), 14).await;
    assert_eq!(statuses[..10], [201; 10], "{statuses:?}");
    assert_eq!(statuses[10..], [429; 4], "{statuses:?}");
    let (retry_after, body) = first_429.unwrap();
    assert!(
        retry_after.parse::<u64>().is_ok_and(|s| s >= 1),
        "{retry_after:?}"
    );
    assert_eq!(body["error"], "rate_limited");

    // The operator has a limit of their own: the guest's flood does not stop them, and 20
    // uploads in a row (twice the guest's) go through.
    let (statuses, _) = uploads(&fx, &id, None, 20).await;
    assert_eq!(statuses, vec![201; 20]);

    // Per conversation: with room per guest, the conversation's own cap still holds.
    let db = TestDatabase::sqlite();
    let fx = SiteFixture::start(
        &db,
        &[
            "--guest-uploads-per-minute",
            "100",
            "--conversation-uploads-per-hour",
            "3",
        ],
        SHOP,
    )
    .await;
    let AcceptedChat {
        tab: _tab,
        token,
        console: _op,
        conversation_id: id,
    } = fx.accepted_chat(SHOP, "Flo").await;
    let (statuses, first_429) = uploads(&fx, &id, Some(&token), 5).await;
    assert_eq!(statuses, [201, 201, 201, 429, 429]);
    let (retry_after, _) = first_429.unwrap();
    assert!(
        retry_after.parse::<u64>().is_ok_and(|s| s > 60),
        "{retry_after}"
    );
}
