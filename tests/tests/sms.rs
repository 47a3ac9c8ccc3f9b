//! SMS against the real binary: the inbound webhook (Twilio's form and signature, checked with our
//! own HMAC-SHA1), threading by phone number, idempotency by MessageSid, and the outbound adapter
//! talking to a local stand-in for the provider.

use std::time::Duration;

use base64::Engine as _;
use beckon::db::models::Conversation;
use beckon::db::Db;
use beckon_tests::receiver::{self, Received, Reply};
use beckon_tests::{SiteFixture, TestApp, TestDatabase, WsClient};
use hmac::{Hmac, Mac};
use serde_json::json;

const SHOP: &str = "http://127.0.0.1:9";
const WAIT: Duration = Duration::from_secs(5);
const ACCOUNT: &str = "AC0123456789abcdef";
const TOKEN: &str = "twilio-auth-token";
const OUR_NUMBER: &str = "+15550001111";
const GUEST_PHONE: &str = "+15557654321";

fn sms_args(api_base: &str) -> Vec<String> {
    [
        "--sms-account",
        ACCOUNT,
        "--sms-token",
        TOKEN,
        "--sms-from",
        OUR_NUMBER,
        "--sms-api-base",
        api_base,
    ]
    .map(str::to_owned)
    .to_vec()
}

async fn start(db: &TestDatabase, api_base: &str) -> SiteFixture {
    let args = sms_args(api_base);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    SiteFixture::start(db, &args, SHOP).await
}

/// Twilio's signature, computed here independently: base64(HMAC-SHA1(token, url + sorted name+value)).
fn twilio_signature(token: &str, url: &str, params: &[(&str, &str)]) -> String {
    let mut sorted = params.to_vec();
    sorted.sort();
    let mut data = url.to_owned();
    for (k, v) in sorted {
        data.push_str(k);
        data.push_str(v);
    }
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(token.as_bytes()).unwrap();
    mac.update(data.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The form Twilio posts for an incoming text.
fn inbound_form<'a>(sid: &'a str, body: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("ToCountry", "US"),
        ("SmsMessageSid", sid),
        ("NumMedia", "0"),
        ("SmsSid", sid),
        ("SmsStatus", "received"),
        ("Body", body),
        ("To", OUR_NUMBER),
        ("NumSegments", "1"),
        ("MessageSid", sid),
        ("AccountSid", ACCOUNT),
        ("From", GUEST_PHONE),
        ("ApiVersion", "2010-04-01"),
    ]
}

/// Posts an inbound SMS with `signature` (or none).
async fn post_inbound(
    app: &TestApp,
    form: &[(&str, &str)],
    signature: Option<&str>,
) -> reqwest::Response {
    let mut req = reqwest::Client::new()
        .post(app.url("/api/v1/inbound/sms"))
        .form(form);
    if let Some(signature) = signature {
        req = req.header("X-Twilio-Signature", signature);
    }
    req.send().await.expect("POST inbound SMS")
}

/// Posts an inbound SMS signed as Twilio would for this server's public URL.
async fn post_signed(app: &TestApp, form: &[(&str, &str)]) -> reqwest::Response {
    let url = app.url("/api/v1/inbound/sms");
    let signature = twilio_signature(TOKEN, &url, form);
    post_inbound(app, form, Some(&signature)).await
}

async fn sms_conversations(db_url: &str) -> Vec<Conversation> {
    let url = db_url.to_owned();
    tokio::task::spawn_blocking(move || {
        use beckon::db::schema::conversations as c;
        use diesel::prelude::*;
        let db = Db::connect(&url, 1).unwrap();
        let mut conn = db.conn().unwrap();
        c::table
            .filter(c::channel.eq("sms"))
            .select(Conversation::as_select())
            .load(&mut *conn)
            .unwrap()
    })
    .await
    .unwrap()
}

async fn join(console: &mut WsClient, conversation_id: &str) -> serde_json::Value {
    console
        .send(json!({"type": "join", "conversation_id": conversation_id, "after_seq": 0}))
        .await;
    console
        .next_of_type("history", WAIT)
        .await
        .expect("history")
}

#[tokio::test]
async fn a_signed_inbound_sms_reaches_the_console_once_per_message_sid_on_sqlite() {
    inbound_sms_reaches_the_console_once(TestDatabase::sqlite()).await;
}

#[tokio::test]
async fn a_signed_inbound_sms_reaches_the_console_once_per_message_sid_on_postgres() {
    if let Some(db) = TestDatabase::postgres(
        "sms::a_signed_inbound_sms_reaches_the_console_once_per_message_sid_on_postgres",
    ) {
        inbound_sms_reaches_the_console_once(db).await;
    }
}

async fn inbound_sms_reaches_the_console_once(db: TestDatabase) {
    let fx = start(&db, "http://127.0.0.1:9").await;
    let mut console = fx.console_socket().await;
    console
        .send(json!({"type": "conversations", "site_id": fx.site.id}))
        .await;
    console
        .next_of_type("conversation_list", WAIT)
        .await
        .expect("list");

    let res = post_signed(&fx.app, &inbound_form("SM0001", "Is the shop open today?")).await;
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/xml"));
    assert!(res.text().await.unwrap().ends_with("<Response/>"));

    let started = console
        .next_of_type("conversation", WAIT)
        .await
        .expect("the queue hears of the new conversation");
    assert_eq!(started["channel"], "sms");
    assert_eq!(started["status"], "waiting");
    assert_eq!(started["guest"]["name"], GUEST_PHONE);
    let id = started["conversation_id"].as_str().unwrap().to_owned();
    let history = join(&mut console, &id).await;
    let messages = history["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["body"], "Is the shop open today?");
    assert_eq!(messages[0]["sender"], "guest");
    assert_eq!(messages[0]["client_msg_id"], "SM0001");

    // The next text from the phone threads into the same conversation, live.
    let res = post_signed(&fx.app, &inbound_form("SM0002", "Hello?")).await;
    assert_eq!(res.status(), 200);
    let live = console
        .next_of_type("message", WAIT)
        .await
        .expect("live message");
    assert_eq!(live["conversation_id"], id.as_str());
    assert_eq!(live["body"], "Hello?");

    // The provider retries the same webhook: nothing new.
    let res = post_signed(&fx.app, &inbound_form("SM0002", "Hello?")).await;
    assert_eq!(res.status(), 200);
    assert!(console
        .next_of_type("message", Duration::from_millis(800))
        .await
        .is_none());
    let history = join(&mut console, &id).await;
    assert_eq!(history["messages"].as_array().unwrap().len(), 2);
    let conversations = sms_conversations(fx.app.database_url()).await;
    assert_eq!(conversations.len(), 1);
    assert_eq!(conversations[0].guest_phone.as_deref(), Some(GUEST_PHONE));
    assert_eq!(conversations[0].site_id, fx.site.id);
}

#[tokio::test]
async fn unsigned_or_badly_signed_inbound_sms_is_refused() {
    let db = TestDatabase::sqlite();
    let fx = start(&db, "http://127.0.0.1:9").await;
    let form = inbound_form("SM0001", "let me in");
    let url = fx.app.url("/api/v1/inbound/sms");

    let res = post_inbound(&fx.app, &form, None).await;
    assert_eq!(res.status(), 403);
    assert!(res.text().await.unwrap().contains("X-Twilio-Signature"));
    let wrong_token = twilio_signature("not-the-token", &url, &form);
    assert_eq!(
        post_inbound(&fx.app, &form, Some(&wrong_token))
            .await
            .status(),
        403
    );
    let other_url = twilio_signature(TOKEN, "https://elsewhere.example/api/v1/inbound/sms", &form);
    assert_eq!(
        post_inbound(&fx.app, &form, Some(&other_url))
            .await
            .status(),
        403
    );
    // Signed for one text, carrying another.
    let signed = twilio_signature(TOKEN, &url, &form);
    let tampered = inbound_form("SM0001", "something else");
    assert_eq!(
        post_inbound(&fx.app, &tampered, Some(&signed))
            .await
            .status(),
        403
    );
    assert!(sms_conversations(fx.app.database_url()).await.is_empty());
    // The same request correctly signed goes through.
    assert_eq!(
        post_inbound(&fx.app, &form, Some(&signed)).await.status(),
        200
    );
    assert_eq!(sms_conversations(fx.app.database_url()).await.len(), 1);
}

#[tokio::test]
async fn inbound_sms_is_not_found_when_sms_is_not_configured() {
    let db = TestDatabase::sqlite();
    let app = TestApp::spawn(&db).await;
    let form = inbound_form("SM0001", "hello");
    let url = app.url("/api/v1/inbound/sms");
    let signature = twilio_signature(TOKEN, &url, &form);
    assert_eq!(
        post_inbound(&app, &form, Some(&signature)).await.status(),
        404
    );
}

#[tokio::test]
async fn an_operator_reply_to_an_sms_conversation_goes_out_through_the_provider_api() {
    let db = TestDatabase::sqlite();
    let provider = receiver::start(&[Reply::Status(201)]).await;
    let fx = start(&db, &provider.uri()).await;
    let res = post_signed(&fx.app, &inbound_form("SM0001", "Do you ship to Canada?")).await;
    assert_eq!(res.status(), 200);
    let id = sms_conversations(fx.app.database_url()).await[0].id.clone();

    let mut console = fx.console_socket().await;
    join(&mut console, &id).await;
    console
        .send(json!({"type": "send", "conversation_id": id, "client_msg_id": "op-1", "body": "Yes, we do: 5-7 days & free"}))
        .await;
    assert!(console.next_of_type("ack", WAIT).await.is_some());

    let got = receiver::wait_for(&provider, 1, Duration::from_secs(15)).await;
    assert_eq!(got.len(), 1, "one SMS sent");
    let sms = &got[0];
    assert_eq!(sms.method, "POST");
    assert_eq!(
        sms.path_and_query(),
        format!("/2010-04-01/Accounts/{ACCOUNT}/Messages.json")
    );
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{ACCOUNT}:{TOKEN}"));
    assert_eq!(
        sms.header("authorization"),
        Some(format!("Basic {basic}").as_str())
    );
    assert!(sms
        .header("content-type")
        .unwrap()
        .starts_with("application/x-www-form-urlencoded"));
    assert_eq!(sms.form_value("To").as_deref(), Some(GUEST_PHONE));
    assert_eq!(sms.form_value("From").as_deref(), Some(OUR_NUMBER));
    assert_eq!(
        sms.form_value("Body").as_deref(),
        Some("Yes, we do: 5-7 days & free")
    );
}

#[tokio::test]
async fn the_sms_adapter_retries_server_errors_and_gives_up_on_client_errors() {
    use beckon::config::SmsSettings;
    use beckon::outbound::sms::{deliver, SmsJob};
    use beckon::outbound::{Delivered, DeliveryError};

    let provider = receiver::start(&[Reply::Status(503), Reply::Status(400)]).await;
    let settings = SmsSettings {
        api_base: provider.uri(),
        account: ACCOUNT.into(),
        token: TOKEN.into(),
        from: OUR_NUMBER.into(),
    };
    let http = reqwest::Client::new();
    let job = SmsJob {
        to: "+15557654321\r\nBcc: x".into(),
        body: "x".repeat(2000),
    };
    assert!(matches!(
        deliver(&http, Some(&settings), &job).await,
        Err(DeliveryError::Retry(_))
    ));
    assert!(matches!(
        deliver(&http, Some(&settings), &job).await,
        Err(DeliveryError::Permanent(_))
    ));
    assert!(matches!(
        deliver(&http, Some(&settings), &job).await,
        Ok(Delivered::Sent)
    ));
    assert!(matches!(
        deliver(&http, None, &job).await,
        Err(DeliveryError::Permanent(_))
    ));
    let got = receiver::requests(&provider).await;
    assert_eq!(got.len(), 3);
    assert_eq!(
        got[2].form_value("To").as_deref(),
        Some("+15557654321 Bcc: x"),
        "no line breaks reach the provider"
    );
    assert_eq!(got[2].form_value("Body").unwrap().chars().count(), 1600);
}

#[tokio::test]
async fn an_operator_who_chose_sms_gets_a_text_for_a_new_offline_message() {
    let db = TestDatabase::sqlite();
    let provider = receiver::start(&[]).await;
    let fx = start(&db, &provider.uri()).await;
    let url = fx.app.database_url().to_owned();
    tokio::task::spawn_blocking(move || {
        use beckon::db::schema::operators as o;
        use diesel::prelude::*;
        let db = Db::connect(&url, 1).unwrap();
        let mut conn = db.conn().unwrap();
        diesel::update(o::table.filter(o::email.eq("owner@example.com")))
            .set((o::notify_sms.eq(true), o::phone.eq(Some("+15559990000"))))
            .execute(&mut *conn)
            .unwrap();
    })
    .await
    .unwrap();

    let (status, body) = fx.obtain_guest(SHOP, None).await;
    assert_eq!(status, 201);
    let form = reqwest::multipart::Form::new()
        .text("site_key", fx.site.public_key.clone())
        .text("token", body["token"].as_str().unwrap().to_owned())
        .text("name", "Olga")
        .text("email", "olga@guest.test")
        .text("message", "Please call me back about order 42");
    let res = reqwest::Client::new()
        .post(fx.app.url("/api/v1/offline-messages"))
        .header("Origin", SHOP)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());

    let got = receiver::wait_for(&provider, 1, Duration::from_secs(15)).await;
    assert_eq!(got.len(), 1, "one text to the operator");
    let sms = &got[0];
    assert_eq!(
        sms.path_and_query(),
        format!("/2010-04-01/Accounts/{ACCOUNT}/Messages.json")
    );
    assert_eq!(sms.form_value("To").as_deref(), Some("+15559990000"));
    assert_eq!(sms.form_value("From").as_deref(), Some(OUR_NUMBER));
    let text = sms.form_value("Body").unwrap();
    assert!(text.contains("Demo Shop"), "{text}");
    assert!(text.contains("Olga"), "{text}");
    assert!(text.contains("order 42"), "{text}");
    assert!(text.contains("/console/chats?c="), "{text}");
}
