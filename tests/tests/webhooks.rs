//! Webhooks against the real binary and a local receiver: registration in the console, signed
//! deliveries of chat events, retries with the same delivery id, the refusal of internal addresses,
//! at-least-once delivery across SIGKILL, and who may see the webhook and delivery pages.

use std::time::Duration;

use beckon::db::models::OutboxItem;
use beckon::db::Db;
use beckon_tests::receiver::{self, Received, Reply};
use beckon_tests::{start_chat, SiteFixture, TestApp, TestDatabase, WsClient};
use hmac::{Hmac, Mac};
use serde_json::json;

const SHOP: &str = "http://127.0.0.1:9";
const WAIT: Duration = Duration::from_secs(5);
const DELIVERY_WAIT: Duration = Duration::from_secs(20);

/// Flags for quick retries to local receivers.
const FAST_LOCAL: [&str; 5] = [
    "--webhook-allow-private",
    "--delivery-retry-secs",
    "1",
    "--delivery-timeout-secs",
    "2",
];

/// Registers a hook through the console form as the owner; answers its id and secret.
async fn register(fx: &SiteFixture, url: &str, events: &[&str]) -> (String, String) {
    let path = format!("/console/sites/{}/webhooks", fx.site.id);
    let csrf = fx.app.csrf_of(&path).await;
    let mut form = vec![("csrf", csrf.as_str()), ("url", url)];
    form.extend(events.iter().map(|e| ("event", *e)));
    let res = fx.app.post_form(&path, &form).await;
    assert_eq!(res.status(), 303, "hook added");
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let id = location
        .split("added=")
        .nth(1)
        .and_then(|s| s.split('#').next())
        .expect("added id")
        .to_owned();
    let page = fx.app.get(&path).await.text().await.unwrap();
    assert!(page.contains(url), "the page lists the hook");
    let secret = beckon_tests::html::input_value(&page, "secret").expect("secret shown");
    assert!(
        secret.starts_with("whsec_") && secret.len() > 30,
        "{secret}"
    );
    (id, secret)
}

/// A guest tab that started a chat; the conversation id.
async fn guest_chat(fx: &SiteFixture) -> (WsClient, String) {
    let (mut tab, _) = fx.guest(SHOP).await;
    let id = start_chat(&mut tab, "Gina").await;
    (tab, id)
}

/// Checks `Beckon-Signature: t=…,v1=…` with our own HMAC-SHA256 over "{t}.{body}".
fn signature_ok(secret: &str, request: &receiver::Request) -> bool {
    let header = request
        .header("beckon-signature")
        .expect("signature header");
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", value)) => t = value.parse::<i64>().ok(),
            Some(("v1", value)) => v1 = hex::decode(value).ok(),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    let fresh = (chrono::Utc::now().timestamp() - t).abs() < 300;
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(&request.body);
    fresh && mac.verify_slice(&v1).is_ok()
}

/// Every outbox row, oldest first.
async fn outbox(fx_db_url: &str) -> Vec<OutboxItem> {
    let url = fx_db_url.to_owned();
    tokio::task::spawn_blocking(move || {
        use beckon::db::schema::notification_outbox as o;
        use diesel::prelude::*;
        let db = Db::connect(&url, 1).expect("connect");
        let mut conn = db.conn().expect("conn");
        o::table
            .order(o::created_at.asc())
            .select(OutboxItem::as_select())
            .load(&mut *conn)
            .expect("outbox")
    })
    .await
    .unwrap()
}

/// Waits until the outbox item `id` has `status`; the item.
async fn wait_status(db_url: &str, id: &str, status: &str) -> OutboxItem {
    beckon_tests::eventually_async(
        DELIVERY_WAIT,
        &format!("item {id} to become {status}"),
        || async {
            let item = outbox(db_url).await.into_iter().find(|i| i.id == id);
            match item {
                Some(item) if item.status == status => Ok(item),
                other => Err(other),
            }
        },
    )
    .await
}

#[tokio::test]
async fn a_registered_webhook_receives_signed_conversation_and_message_events() {
    let db = TestDatabase::sqlite();
    let sink = receiver::start(&[]).await;
    let fx = SiteFixture::start(&db, &FAST_LOCAL, SHOP).await;
    let (_, secret) = register(
        &fx,
        &format!("{}/hooks/beckon?x=1", sink.uri()),
        &["conversation.started", "message.created"],
    )
    .await;

    let (mut tab, conversation_id) = guest_chat(&fx).await;
    tab.send(json!({"type": "send", "conversation_id": conversation_id, "client_msg_id": "m-1", "body": "Hello <b>there</b>"}))
        .await;
    assert!(tab.next_of_type("ack", WAIT).await.is_some());

    let got = receiver::wait_for(&sink, 2, DELIVERY_WAIT).await;
    assert_eq!(got.len(), 2, "two events: {got:?}");
    for request in &got {
        assert_eq!(request.method, "POST");
        assert_eq!(request.path_and_query(), "/hooks/beckon?x=1");
        assert_eq!(
            request.header("content-type"),
            Some("application/json"),
            "{request:?}"
        );
        assert!(signature_ok(&secret, request), "signature of {request:?}");
        assert!(!signature_ok("whsec_wrong", request));
        let body = request.json();
        assert_eq!(
            Some(body["event"].as_str().unwrap()),
            request.header("beckon-event")
        );
        assert_eq!(
            Some(body["id"].as_str().unwrap()),
            request.header("beckon-delivery")
        );
        assert_eq!(body["data"]["conversation_id"], conversation_id.as_str());
        assert_eq!(body["data"]["site_id"], fx.site.id.as_str());
    }
    let started = got
        .iter()
        .find(|r| r.header("beckon-event") == Some("conversation.started"))
        .expect("conversation.started");
    assert_eq!(started.json()["data"]["guest"]["name"], "Gina");
    let message = got
        .iter()
        .find(|r| r.header("beckon-event") == Some("message.created"))
        .expect("message.created")
        .json();
    assert_eq!(message["data"]["message"]["body"], "Hello <b>there</b>");
    assert_eq!(message["data"]["message"]["sender"], "guest");

    // Both show as sent in the console, once the worker has recorded the receiver's answers (the
    // receiver saw the requests before answering them).
    beckon_tests::eventually_async(DELIVERY_WAIT, "two deliveries shown sent", || async {
        let page = fx
            .app
            .get("/console/deliveries")
            .await
            .text()
            .await
            .unwrap();
        let sent = page.matches(r#"data-status="sent""#).count();
        if sent == 2 {
            Ok(())
        } else {
            Err(format!("{sent} sent: {page}"))
        }
    })
    .await;
}

#[tokio::test]
async fn a_failing_receiver_is_retried_with_the_same_delivery_id() {
    let db = TestDatabase::sqlite();
    let sink = receiver::start(&[Reply::Status(500), Reply::Status(503)]).await;
    let fx = SiteFixture::start(&db, &FAST_LOCAL, SHOP).await;
    let (_, secret) = register(&fx, &format!("{}/h", sink.uri()), &["conversation.started"]).await;

    let _chat = guest_chat(&fx).await;
    let got = receiver::wait_for(&sink, 3, DELIVERY_WAIT).await;
    assert_eq!(got.len(), 3, "500, 503, then 200: {got:?}");
    let ids: Vec<_> = got.iter().map(|r| r.header("beckon-delivery")).collect();
    assert!(
        ids[0].is_some() && ids.iter().all(|id| *id == ids[0]),
        "{ids:?}"
    );
    let bodies: Vec<_> = got.iter().map(|r| r.json()).collect();
    assert!(
        bodies.iter().all(|b| *b == bodies[0]),
        "same payload each time"
    );
    assert!(got.iter().all(|r| signature_ok(&secret, r)));

    let item = wait_status(fx.app.database_url(), ids[0].unwrap(), "sent").await;
    assert_eq!(item.attempts, 3);
    assert!(item.sent_at.is_some());
    // Nothing more comes: the receiver said 200. (Absence can only be watched for a while: the
    // window is longer than the 1 s retry delay, so a wrong retry would have arrived.)
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(receiver::requests(&sink).await.len(), 3);
}

#[tokio::test]
async fn webhooks_to_loopback_are_refused_without_the_flag_and_shown_failed() {
    let db = TestDatabase::sqlite();
    let sink = receiver::start(&[]).await;
    let fx = SiteFixture::start(&db, &["--delivery-retry-secs", "1"], SHOP).await;
    register(
        &fx,
        &format!("{}/internal", sink.uri()),
        &["conversation.started"],
    )
    .await;

    let _chat = guest_chat(&fx).await;
    let page = beckon_tests::eventually_async(DELIVERY_WAIT, "a refused delivery", || async {
        let page = fx
            .app
            .get("/console/deliveries?status=failed")
            .await
            .text()
            .await
            .unwrap();
        if page.contains("refused") {
            Ok(page)
        } else {
            Err(page)
        }
    })
    .await;
    assert!(page.contains(r#"data-status="failed""#), "{page}");
    assert!(
        page.contains("refused: 127.0.0.1 resolves to the internal address 127.0.0.1"),
        "{page}"
    );
    let items = outbox(fx.app.database_url()).await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].status, "failed");
    assert_eq!(items[0].attempts, 1, "a refusal is not retried");
    assert!(page.contains(&format!("/console/deliveries/{}/retry", items[0].id)));
    assert!(
        receiver::requests(&sink).await.is_empty(),
        "nothing reached the address"
    );
}

#[tokio::test]
async fn a_failed_delivery_can_be_retried_from_the_console() {
    let db = TestDatabase::sqlite();
    // 410 is final: the item fails at once, until someone retries it.
    let sink = receiver::start(&[Reply::Status(410)]).await;
    let fx = SiteFixture::start(&db, &FAST_LOCAL, SHOP).await;
    register(&fx, &format!("{}/h", sink.uri()), &["conversation.started"]).await;
    let _chat = guest_chat(&fx).await;
    let first = receiver::wait_for(&sink, 1, DELIVERY_WAIT).await;
    let id = first[0].header("beckon-delivery").unwrap().to_owned();
    let failed = wait_status(fx.app.database_url(), &id, "failed").await;
    assert!(failed.last_error.unwrap().contains("410"));

    // Without the CSRF token nothing happens.
    let res = fx
        .app
        .post_form(
            &format!("/console/deliveries/{id}/retry"),
            &[("csrf", "forged")],
        )
        .await;
    assert_eq!(res.status(), 403);
    // Nothing is sent: absence is watched for a window longer than the 1 s retry delay.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(receiver::requests(&sink).await.len(), 1);

    let csrf = fx.app.csrf_of("/console/deliveries").await;
    let res = fx
        .app
        .post_form(
            &format!("/console/deliveries/{id}/retry"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(res.status(), 303);
    let got = receiver::wait_for(&sink, 2, DELIVERY_WAIT).await;
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].header("beckon-delivery"), Some(id.as_str()));
    wait_status(fx.app.database_url(), &id, "sent").await;
    // A delivered item cannot be retried.
    let res = fx
        .app
        .post_form(
            &format!("/console/deliveries/{id}/retry"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(res.status(), 409);
}

#[tokio::test]
async fn a_delivery_in_flight_when_the_server_is_killed_arrives_after_restart_on_sqlite() {
    in_flight_delivery_survives_sigkill(TestDatabase::sqlite()).await;
}

#[tokio::test]
async fn a_delivery_in_flight_when_the_server_is_killed_arrives_after_restart_on_postgres() {
    if let Some(db) = TestDatabase::postgres(
        "webhooks::a_delivery_in_flight_when_the_server_is_killed_arrives_after_restart_on_postgres",
    ) {
        in_flight_delivery_survives_sigkill(db).await;
    }
}

async fn in_flight_delivery_survives_sigkill(db: TestDatabase) {
    // The first attempt is received but never answered: the server dies while it is in flight.
    let sink = receiver::start(&[Reply::Hang]).await;
    let fx = SiteFixture::start(&db, &FAST_LOCAL, SHOP).await;
    let (_, secret) = register(&fx, &format!("{}/h", sink.uri()), &["conversation.started"]).await;
    let (tab, _) = guest_chat(&fx).await;
    let first = receiver::wait_for(&sink, 1, DELIVERY_WAIT).await;
    assert_eq!(first.len(), 1);
    let SiteFixture { mut app, .. } = fx;
    app.kill_hard();
    drop(tab);
    let id = first[0].header("beckon-delivery").unwrap().to_owned();
    let items = outbox(app.database_url()).await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].status, "sending", "claimed when the server died");
    drop(app);

    let _app = TestApp::builder(&db).args(FAST_LOCAL).spawn().await;
    let got = receiver::wait_for(&sink, 2, DELIVERY_WAIT).await;
    assert_eq!(got.len(), 2, "delivered again after the restart");
    assert_eq!(got[1].header("beckon-delivery"), Some(id.as_str()));
    assert_eq!(got[1].json(), first[0].json(), "the same event");
    assert!(signature_ok(&secret, &got[1]));
    wait_status(&db.url(), &id, "sent").await;
}

/// Adds an agent to the fixture's site and an owner of another site.
async fn more_operators(fx: &SiteFixture) {
    let url = fx.app.database_url().to_owned();
    let site = fx.site.clone();
    tokio::task::spawn_blocking(move || {
        use beckon::domain::{
            AllowedOrigins, DisplayName, Email, Handle, Password, SiteName, SiteSlug,
        };
        use beckon::services::accounts::{create_operator, create_site, NewOperator, NewSite};
        let db = Db::connect(&url, 1).unwrap();
        let mut conn = db.conn().unwrap();
        let person = |email: &str, handle: &str| NewOperator {
            email: Email::parse(email).unwrap(),
            handle: Handle::parse(handle).unwrap(),
            display_name: DisplayName::parse(handle).unwrap(),
            password: Password::parse("a long password").unwrap(),
            phone: None,
        };
        create_operator(
            &mut conn,
            &person("agent@example.com", "agent"),
            Some((&site, beckon::db::models::Role::Agent)),
        )
        .unwrap();
        let other =
            create_operator(&mut conn, &person("other@example.com", "other"), None).unwrap();
        create_site(
            &mut conn,
            &NewSite {
                name: SiteName::parse("Other Shop").unwrap(),
                slug: SiteSlug::parse("other-shop").unwrap(),
                allowed_origins: AllowedOrigins::parse("").unwrap(),
            },
            Some(&other),
        )
        .unwrap();
    })
    .await
    .unwrap();
}

/// Queues one email for the site directly; with no SMTP it lands in the mail outbox directory.
async fn queue_mail(db_url: &str, site_id: &str) -> String {
    let (url, site_id) = (db_url.to_owned(), site_id.to_owned());
    tokio::task::spawn_blocking(move || {
        use beckon::outbound::mail::EmailJob;
        use beckon::outbound::outbox::Enqueue;
        let db = Db::connect(&url, 1).unwrap();
        let mut conn = db.conn().unwrap();
        beckon::outbound::enqueue(
            &mut conn,
            Enqueue {
                site_id: Some(&site_id),
                conversation_id: None,
                summary: "Email to guest@example.com: test".into(),
                job: beckon::outbound::Job::Email(EmailJob {
                    to: "guest@example.com".into(),
                    to_name: None,
                    subject: "Spooled for the console".into(),
                    text: "<script>alert(1)</script>".into(),
                    reply_token: None,
                    thread: None,
                }),
            },
        )
        .unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn webhook_and_delivery_pages_are_only_for_the_right_operators() {
    let db = TestDatabase::sqlite();
    let fx = SiteFixture::start(&db, &[], SHOP).await;
    more_operators(&fx).await;
    let hooks = format!("/console/sites/{}/webhooks", fx.site.id);
    let mail_id = queue_mail(fx.app.database_url(), &fx.site.id).await;
    wait_status(fx.app.database_url(), &mail_id, "spooled").await;
    let mail = format!("/console/deliveries/{mail_id}/mail");
    let retry = format!("/console/deliveries/{mail_id}/retry");

    // Logged out: to the login page, for pages and forms alike.
    let anonymous = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for path in [&hooks, &mail, &"/console/deliveries".to_owned()] {
        let res = anonymous.get(fx.app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 303, "{path}");
        assert!(res.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/login"));
    }
    let res = anonymous
        .post(fx.app.url(&hooks))
        .form(&[
            ("csrf", "x"),
            ("url", "https://example.com/"),
            ("event", "message.created"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);

    // The owner: the page, its forms (CSRF checked, URLs checked), and the spooled mail as text.
    assert_eq!(fx.app.get(&hooks).await.status(), 200);
    let res = fx
        .app
        .post_form(
            &hooks,
            &[
                ("csrf", "forged"),
                ("url", "https://example.com/"),
                ("event", "message.created"),
            ],
        )
        .await;
    assert_eq!(res.status(), 403);
    let csrf = fx.app.csrf_of(&hooks).await;
    let res = fx
        .app
        .post_form(
            &hooks,
            &[
                ("csrf", &csrf),
                ("url", "ftp://example.com/"),
                ("event", "message.created"),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("http:// or https://"));
    let res = fx
        .app
        .post_form(
            &hooks,
            &[
                ("csrf", &csrf),
                ("url", "https://example.com/"),
                ("event", "everything"),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    let (hook_id, _) = register(&fx, "https://example.com/owner-hook", &["message.created"]).await;
    let res = fx.app.get(&mail).await;
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    let text = res.text().await.unwrap();
    assert!(text.contains("Subject: Spooled for the console"), "{text}");
    let listing = fx
        .app
        .get("/console/deliveries")
        .await
        .text()
        .await
        .unwrap();
    assert!(listing.contains(&format!(r#"href="{mail}""#)), "{listing}");

    // An agent of the site: deliveries yes (its site's), webhooks no.
    let agent = fx
        .app
        .signed_in_client("agent@example.com", "a long password")
        .await;
    let res = agent.get(fx.app.url(&hooks)).send().await.unwrap();
    assert_eq!(res.status(), 403);
    assert!(res.text().await.unwrap().contains("owners and admins"));
    let page = agent
        .get(fx.app.url("/console/deliveries"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(&mail_id));
    let agent_csrf = beckon_tests::html::input_value(&page, "csrf").unwrap();
    let res = agent
        .post(fx.app.url(&hooks))
        .form(&[
            ("csrf", agent_csrf.as_str()),
            ("url", "https://example.com/"),
            ("event", "message.created"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let res = agent
        .post(fx.app.url(&format!("{hooks}/{hook_id}/delete")))
        .form(&[("csrf", agent_csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(
        agent.get(fx.app.url(&mail)).send().await.unwrap().status(),
        200
    );

    // The owner of another site sees none of it.
    let other = fx
        .app
        .signed_in_client("other@example.com", "a long password")
        .await;
    assert_eq!(
        other.get(fx.app.url(&hooks)).send().await.unwrap().status(),
        404
    );
    assert_eq!(
        other.get(fx.app.url(&mail)).send().await.unwrap().status(),
        404
    );
    let page = other
        .get(fx.app.url("/console/deliveries"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !page.contains(&mail_id),
        "another site's items are not listed"
    );
    let other_csrf = beckon_tests::html::input_value(&page, "csrf").unwrap();
    let res = other
        .post(fx.app.url(&retry))
        .form(&[("csrf", other_csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let res = other
        .post(fx.app.url(&format!("{hooks}/{hook_id}/delete")))
        .form(&[("csrf", other_csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);

    // The owner deletes the hook.
    let res = fx
        .app
        .post_form(&format!("{hooks}/{hook_id}/delete"), &[("csrf", &csrf)])
        .await;
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let page = fx.app.get(&location).await.text().await.unwrap();
    assert!(!page.contains("owner-hook"));
    assert!(page.contains("Webhook deleted."));
}
