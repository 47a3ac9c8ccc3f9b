//! Offline mode end to end against the real binary: leave-a-message, the inbox, mail through a
//! real SMTP server in the test, replies by email threading back (Beckon's SMTP listener and the
//! inbound-mail webhook), transcripts, the mail outbox directory, availability events, and a
//! restart while mail cannot be delivered.

use std::time::Duration;

use beckon_tests::smtp_sink::{free_port, SmtpSink};
use beckon_tests::{SiteFixture, TestApp, TestDatabase, WsClient};
use serde_json::{json, Value};

const SHOP: &str = "http://127.0.0.1:9";
const WAIT: Duration = Duration::from_secs(10);
const OWNER: &str = "owner@example.com";

fn mail_args(smtp_port: u16, inbound_port: u16) -> Vec<String> {
    [
        "--smtp-host",
        "127.0.0.1",
        "--smtp-tls",
        "none",
        "--mail-from",
        "Demo Shop <help@shop.test>",
        "--reply-domain",
        "shop.test",
        "--inbound-mail-secret",
        "inbound-s3cret",
        "--delivery-retry-secs",
        "1",
        "--delivery-timeout-secs",
        "3",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .chain([
        "--smtp-port".to_owned(),
        smtp_port.to_string(),
        "--inbound-smtp-listen".to_owned(),
        format!("127.0.0.1:{inbound_port}"),
    ])
    .collect()
}

async fn start(db: &TestDatabase, args: &[String]) -> SiteFixture {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    SiteFixture::start(db, &args, SHOP).await
}

async fn guest_token(fx: &SiteFixture) -> String {
    let (status, body) = fx.obtain_guest(SHOP, None).await;
    assert_eq!(status, 201);
    body["token"].as_str().unwrap().to_owned()
}

/// Posts the leave-a-message form as the panel does; status and JSON answer.
async fn leave_message(
    fx: &SiteFixture,
    token: &str,
    fields: &[(&str, &str)],
    file: Option<(&str, &str, Vec<u8>)>,
) -> (u16, Value) {
    let mut form = reqwest::multipart::Form::new()
        .text("site_key", fx.site.public_key.clone())
        .text("token", token.to_owned());
    for (k, v) in fields {
        form = form.text((*k).to_owned(), (*v).to_owned());
    }
    if let Some((name, mime, bytes)) = file {
        form = form.part(
            "file",
            reqwest::multipart::Part::bytes(bytes)
                .file_name(name.to_owned())
                .mime_str(mime)
                .unwrap(),
        );
    }
    let res = reqwest::Client::new()
        .post(fx.app.url("/api/v1/offline-messages"))
        .header("Origin", SHOP)
        .multipart(form)
        .send()
        .await
        .expect("POST offline message");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Reads the reply address out of a mail's Reply-To.
fn reply_address(mail: &beckon_tests::smtp_sink::ReceivedMail) -> String {
    let reply_to = mail.header("Reply-To").expect("Reply-To");
    let start = reply_to.find("reply+").expect("reply address");
    reply_to[start..].trim_end_matches('>').trim().to_owned()
}

/// Posts a mail provider's inbound-mail webhook form with the test's secret.
async fn post_provider_mail(fx: &SiteFixture, form: &[(&str, &str)]) -> reqwest::Response {
    reqwest::Client::new()
        .post(fx.app.url("/api/v1/inbound/email?secret=inbound-s3cret"))
        .form(form)
        .send()
        .await
        .expect("POST inbound email")
}

/// The next message the guest wrote (the console also hears its own messages).
async fn next_guest_message(console: &mut WsClient) -> Value {
    loop {
        let m = console
            .next_of_type("message", WAIT)
            .await
            .expect("a message");
        if m["sender"] == "guest" {
            return m;
        }
    }
}

async fn join(console: &mut WsClient, conversation_id: &str) -> Value {
    console
        .send(json!({"type": "join", "conversation_id": conversation_id, "after_seq": 0}))
        .await;
    console
        .next_of_type("history", WAIT)
        .await
        .expect("history")
}

#[tokio::test]
async fn an_offline_message_is_mailed_answered_and_threaded_back() {
    let db = TestDatabase::sqlite();
    let sink = SmtpSink::start();
    let inbound = free_port();
    let fx = start(&db, &mail_args(sink.addr.port(), inbound)).await;
    let token = guest_token(&fx).await;

    // A line break in the name is refused outright (it could only be a header-injection attempt).
    let (status, answer) = leave_message(
        &fx,
        &token,
        &[
            ("name", "Eve\r\nBcc: victim@evil.test"),
            ("email", "eve@guest.test"),
            ("message", "hi"),
        ],
        None,
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    // Hostile but printable input: an address-like name, markup and template syntax in the text.
    let (status, answer) = leave_message(
        &fx,
        &token,
        &[
            ("name", "Eve <victim@evil.test>, Bcc: victim@evil.test"),
            ("email", "eve@guest.test"),
            (
                "message",
                "Do you ship to Oslo? <script>alert(1)</script> {{7*7}}",
            ),
            ("website", ""),
        ],
        Some(("note.pdf", "application/pdf", b"%PDF-1.4 test".to_vec())),
    )
    .await;
    assert_eq!(status, 201, "{answer}");
    let conversation_id = answer["conversation_id"].as_str().unwrap().to_owned();

    // Forwarded to the site's operator, and a copy to the guest.
    let to_owner = sink.wait_for(OWNER, "New message from", WAIT).await;
    assert!(
        to_owner.text().contains("Do you ship to Oslo?"),
        "{}",
        to_owner.raw
    );
    assert!(to_owner.text().contains(&conversation_id), "console link");
    assert!(
        !to_owner.html().contains("<script>"),
        "HTML escaped: {}",
        to_owner.html()
    );
    assert!(to_owner.html().contains("&lt;script&gt;"));
    assert!(
        to_owner.text().contains("{{7*7}}"),
        "template syntax stays text"
    );
    let copy = sink
        .wait_for("eve@guest.test", "We got your message", WAIT)
        .await;
    for mail in [&to_owner, &copy] {
        assert!(
            !mail.raw.to_ascii_lowercase().contains("\r\nbcc:"),
            "no injected header: {}",
            mail.raw
        );
        assert!(mail.envelope_to.iter().all(|t| !t.contains("victim")));
    }
    let from = copy.header("From").unwrap();
    assert!(
        from.contains("Demo Shop") && from.contains("<help@shop.test>"),
        "{from}"
    );
    let reply_to = reply_address(&copy);
    assert!(reply_to.starts_with("reply+") && reply_to.ends_with("@shop.test"));

    // The inbox: an offline conversation with the message and the file.
    let mut console = fx.console_socket().await;
    console
        .send(json!({"type": "conversations", "site_id": fx.site.id}))
        .await;
    let list = console
        .next_of_type("conversation_list", WAIT)
        .await
        .unwrap();
    let item = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["conversation_id"] == conversation_id.as_str())
        .expect("offline conversation listed")
        .clone();
    assert_eq!(item["channel"], "offline");
    assert_eq!(item["guest_email"], "eve@guest.test");
    assert_eq!(item["capabilities"], json!([]));
    console
        .send(json!({"type": "accept", "conversation_id": conversation_id}))
        .await;
    console.next_of_type("conversation", WAIT).await.unwrap();
    let history = join(&mut console, &conversation_id).await;
    let kinds: Vec<&str> = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"text") && kinds.contains(&"attachment"),
        "{kinds:?}"
    );

    // The operator's reply is emailed to the guest, in the same thread.
    console
        .send(json!({"type": "send", "conversation_id": conversation_id, "client_msg_id": "r1", "body": "Yes, we ship to Oslo in 3 days."}))
        .await;
    console.next_of_type("ack", WAIT).await.expect("ack");
    let reply = sink
        .wait_for("eve@guest.test", "Re: your message", WAIT)
        .await;
    assert!(reply.text().contains("Yes, we ship to Oslo"));
    assert!(reply.text().contains("Olive Owner"));
    assert_eq!(
        reply_address(&reply),
        reply_to,
        "one reply address per conversation"
    );
    assert_eq!(reply.header("References"), copy.header("References"));

    // The guest answers by mail to Beckon's own SMTP listener, quoting the history.
    let message = lettre::Message::builder()
        .from("Eve <eve@guest.test>".parse().unwrap())
        .to(reply_to.parse().unwrap())
        .subject("Re: Re: your message")
        .message_id(Some("<guest-1@guest.test>".to_owned()))
        .body("Great, I'll order today.\n\nOn Mon, Demo Shop wrote:\n> Yes, we ship to Oslo in 3 days.\n".to_owned())
        .unwrap();
    let transport = lettre::SmtpTransport::builder_dangerous("127.0.0.1")
        .port(inbound)
        .build();
    let sent = tokio::task::spawn_blocking(move || {
        use lettre::Transport as _;
        transport.send(&message)
    })
    .await
    .unwrap();
    assert!(sent.is_ok(), "listener took the reply: {sent:?}");
    let threaded = next_guest_message(&mut console).await;
    assert_eq!(threaded["conversation_id"], conversation_id.as_str());
    assert_eq!(threaded["sender"], "guest");
    assert_eq!(threaded["body"], "Great, I'll order today.");

    // Mail for anyone else is refused by the listener (it is not a relay).
    let stranger = lettre::Message::builder()
        .from("x@guest.test".parse().unwrap())
        .to("someone@elsewhere.test".parse().unwrap())
        .subject("relay?")
        .body("x".to_owned())
        .unwrap();
    let transport = lettre::SmtpTransport::builder_dangerous("127.0.0.1")
        .port(inbound)
        .build();
    let refused = tokio::task::spawn_blocking(move || {
        use lettre::Transport as _;
        transport.send(&stranger)
    })
    .await
    .unwrap();
    assert!(refused.is_err(), "not a relay");

    // The provider webhook threads too (Mailgun's form fields), once per Message-Id.
    let form = [
        ("recipient", reply_to.as_str()),
        ("sender", "eve@guest.test"),
        ("subject", "Re: your message"),
        ("stripped-text", "One more question: gift wrap?"),
        ("Message-Id", "<guest-2@guest.test>"),
    ];
    for _ in 0..2 {
        assert_eq!(post_provider_mail(&fx, &form).await.status(), 200);
    }
    let webhook_msg = next_guest_message(&mut console).await;
    assert_eq!(webhook_msg["body"], "One more question: gift wrap?");
    let history = join(&mut console, &conversation_id).await;
    let copies = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["body"] == "One more question: gift wrap?")
        .count();
    assert_eq!(copies, 1, "the same Message-Id stores one message");
    let wrong = reqwest::Client::new()
        .post(fx.app.url("/api/v1/inbound/email?secret=nope"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 403);

    // Replies to one address count against the guest message limit (a burst of 10 by default; three
    // used above: the SMTP reply and the provider's post, sent twice): over it the provider gets 429
    // with Retry-After and tries again later.
    let mut statuses = Vec::new();
    for i in 0..12 {
        let body = format!("flood {i}");
        let message_id = format!("<flood-{i}@guest.test>");
        let form = [
            ("recipient", reply_to.as_str()),
            ("sender", "eve@guest.test"),
            ("subject", "Re: your message"),
            ("stripped-text", body.as_str()),
            ("Message-Id", message_id.as_str()),
        ];
        let res = post_provider_mail(&fx, &form).await;
        if res.status() == 429 {
            assert!(res.headers().contains_key("retry-after"), "{res:?}");
        }
        statuses.push(res.status().as_u16());
    }
    let accepted = statuses.iter().filter(|s| **s == 200).count();
    assert!(
        (7..=8).contains(&accepted) && statuses[accepted..].iter().all(|s| *s == 429),
        "accepted until the burst was spent, then limited: {statuses:?}"
    );

    // A transcript on request.
    console
        .send(json!({"type": "email_transcript", "conversation_id": conversation_id}))
        .await;
    let notice = console.next_of_type("notice", WAIT).await.unwrap();
    assert!(notice["message"]
        .as_str()
        .unwrap()
        .contains("eve@guest.test"));
    let transcript = sink
        .wait_for("eve@guest.test", "Your conversation", WAIT)
        .await;
    let text = transcript.text();
    assert!(
        text.contains("Do you ship to Oslo?") && text.contains("gift wrap?"),
        "{text}"
    );
    assert!(text.contains("[file: note.pdf]"), "{text}");

    // The guest's panel shows the reply on a later visit: resume works for the offline conversation.
    let mut tab = fx.visitor_socket(SHOP, &token).await;
    tab.next_of_type("hello", WAIT).await.unwrap();
    tab.send(json!({"type": "resume", "conversation_id": conversation_id, "after_seq": 0}))
        .await;
    let seen = tab.next_of_type("history", WAIT).await.unwrap();
    assert!(seen["messages"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["body"] == "Yes, we ship to Oslo in 3 days."));
}

#[tokio::test]
async fn bots_and_bad_forms_are_turned_away() {
    let db = TestDatabase::sqlite();
    let fx = start(
        &db,
        &["--offline-messages-per-hour".to_owned(), "4".to_owned()],
    )
    .await;
    let token = guest_token(&fx).await;
    // The honeypot: answered like a success, nothing stored.
    let (status, body) = leave_message(
        &fx,
        &token,
        &[
            ("email", "bot@spam.test"),
            ("message", "buy now"),
            ("website", "http://spam.test"),
        ],
        None,
    )
    .await;
    assert_eq!(status, 201);
    assert!(body["conversation_id"].is_null());
    // A missing email is a clear 400.
    let (status, body) = leave_message(&fx, &token, &[("message", "hi")], None).await;
    assert_eq!(status, 400);
    assert!(
        body["message"].as_str().unwrap().contains("email"),
        "{body}"
    );
    // A file that is not what it claims: 415.
    let (status, _) = leave_message(
        &fx,
        &token,
        &[("email", "a@b.test"), ("message", "hi")],
        Some(("x.png", "image/png", b"<html><script>".to_vec())),
    )
    .await;
    assert_eq!(status, 415);
    // Unknown guest token: 401.
    let (status, _) = leave_message(
        &fx,
        "nope",
        &[("email", "a@b.test"), ("message", "hi")],
        None,
    )
    .await;
    assert_eq!(status, 401);
    // Over the per-address limit (4 per hour here, counted before parsing): 429.
    let (status, _) = leave_message(
        &fx,
        &token,
        &[("email", "a@b.test"), ("message", "hi")],
        None,
    )
    .await;
    assert_eq!(status, 429);
}

#[tokio::test]
async fn without_smtp_mail_waits_in_the_outbox_directory() {
    let db = TestDatabase::sqlite();
    let fx = start(&db, &[]).await;
    let token = guest_token(&fx).await;
    let (status, _) = leave_message(
        &fx,
        &token,
        &[
            ("name", "Ada"),
            ("email", "ada@guest.test"),
            ("message", "Call me back"),
        ],
        None,
    )
    .await;
    assert_eq!(status, 201);
    let dir = fx.app.data_dir.path().join("mail-outbox");
    let files = beckon_tests::eventually(WAIT, &format!("two spooled mails in {dir:?}"), || {
        let files: Vec<String> = std::fs::read_dir(&dir)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    // Only finished messages: one being spooled is a `.NAME.tmp` until renamed.
                    .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                    .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
                    .collect()
            })
            .unwrap_or_default();
        if files.len() >= 2 {
            Ok(files)
        } else {
            Err(files.len())
        }
    })
    .await;
    assert!(files.iter().any(|f| f.contains("owner@example.com")));
    assert!(files.iter().any(|f| f.contains("ada@guest.test")));
}

#[tokio::test]
async fn mail_queued_while_smtp_is_down_survives_a_restart() {
    let db = TestDatabase::sqlite();
    let smtp_port = free_port();
    let inbound = free_port();
    let args = mail_args(smtp_port, inbound);
    let fx = start(&db, &args).await;
    let token = guest_token(&fx).await;
    let (status, _) = leave_message(
        &fx,
        &token,
        &[("email", "late@guest.test"), ("message", "Anyone there?")],
        None,
    )
    .await;
    assert_eq!(status, 201);
    // Nobody listens on the SMTP port: attempts fail and are retried. Kill the server meanwhile,
    // once it has logged a failed attempt.
    beckon_tests::eventually(Duration::from_secs(15), "a failed mail delivery", || {
        fx.app.stderr().contains("delivery failed")
    })
    .await;
    let SiteFixture { mut app, site, .. } = fx;
    app.kill_hard();
    let sink = SmtpSink::start_on(smtp_port);
    let restarted = TestApp::builder(&db)
        .args(args.iter().map(String::as_str))
        .spawn()
        .await;
    let _fx = SiteFixture::reattach(restarted, site).await;
    sink.wait_for(OWNER, "New message from", Duration::from_secs(30))
        .await;
    sink.wait_for(
        "late@guest.test",
        "We got your message",
        Duration::from_secs(30),
    )
    .await;
}

#[tokio::test]
async fn widgets_hear_when_the_last_operator_leaves_and_returns() {
    let db = TestDatabase::sqlite();
    let fx = start(&db, &[]).await;
    let token = guest_token(&fx).await;
    let mut tab = fx.visitor_socket(SHOP, &token).await;
    tab.next_of_type("hello", WAIT).await.unwrap();
    let first = tab.next_of_type("site_status", WAIT).await.unwrap();
    assert_eq!(first["online"], false, "nobody has the console open");
    let badge = fx
        .app
        .get("/s/demo-shop/status.svg")
        .await
        .text()
        .await
        .unwrap();
    assert!(badge.contains("offline"));

    let mut console = fx.console_socket().await;
    let mine = console.next_of_type("availability", WAIT).await.unwrap();
    assert_eq!(mine["status"], "available");
    let online = tab
        .next_of_type("site_status", Duration::from_secs(2))
        .await;
    assert_eq!(online.unwrap()["online"], true, "within a second or so");
    let badge = fx
        .app
        .get("/s/demo-shop/status.svg")
        .await
        .text()
        .await
        .unwrap();
    assert!(badge.contains("online"));

    // Away is not available.
    console
        .send(json!({"type": "set_availability", "status": "away"}))
        .await;
    let mine = console.next_of_type("availability", WAIT).await.unwrap();
    assert_eq!(mine["status"], "away");
    assert_eq!(mine["chosen"], "away");
    let away = tab
        .next_of_type("site_status", Duration::from_secs(2))
        .await;
    assert_eq!(away.unwrap()["online"], false);
    console
        .send(json!({"type": "set_availability", "status": "available"}))
        .await;
    let back = tab
        .next_of_type("site_status", Duration::from_secs(2))
        .await;
    assert_eq!(back.unwrap()["online"], true);

    // The last console closes: offline at once.
    console.close().await;
    let gone = tab
        .next_of_type("site_status", Duration::from_secs(2))
        .await;
    assert_eq!(gone.unwrap()["online"], false);
}

#[tokio::test]
async fn owners_set_hours_templates_and_a_forced_status() {
    let db = TestDatabase::sqlite();
    let fx = start(&db, &[]).await;
    let path = format!("/console/sites/{}/offline", fx.site.id);
    let page = fx.app.get(&path).await;
    assert_eq!(page.status(), 200);
    let body = page.text().await.unwrap();
    assert!(body.contains("Preview with sample values") && body.contains("Example Shop"));
    let csrf = beckon_tests::html::input_value(&body, "csrf").unwrap();

    let token = guest_token(&fx).await;
    let mut tab = fx.visitor_socket(SHOP, &token).await;
    tab.next_of_type("site_status", WAIT).await.unwrap();
    let _console = fx.console_socket().await;
    assert_eq!(
        tab.next_of_type("site_status", WAIT).await.unwrap()["online"],
        true
    );

    // A broken template or zone is refused with the reason, nothing saved.
    let bad = fx
        .app
        .post_form(
            &path,
            &[("csrf", &csrf), ("forced", "auto"), ("tz", "Mars/Base")],
        )
        .await;
    assert_eq!(bad.status(), 422);
    assert!(bad.text().await.unwrap().contains("time zone"));
    let bad = fx
        .app
        .post_form(
            &path,
            &[
                ("csrf", &csrf),
                ("forced", "auto"),
                ("subject_transcript", "x"),
                ("body_transcript", "{{#each}"),
            ],
        )
        .await;
    assert_eq!(bad.status(), 422);

    // Forced offline reaches the open widget at once; the custom template shows in the preview.
    let saved = fx
        .app
        .post_form(
            &path,
            &[
                ("csrf", &csrf),
                ("forced", "offline"),
                ("tz", "UTC"),
                ("mon", "09:00-17:00"),
                ("subject_reply_to_guest", "Answer from {{site_name}}"),
                ("body_reply_to_guest", "Hi {{guest_name}}: {{message}}"),
            ],
        )
        .await;
    assert_eq!(saved.status(), 303);
    assert_eq!(
        tab.next_of_type("site_status", Duration::from_secs(2))
            .await
            .unwrap()["online"],
        false
    );
    let body = fx.app.get(&path).await.text().await.unwrap();
    assert!(
        body.contains("Answer from Example Shop"),
        "preview rendered"
    );
    assert!(body.contains("09:00-17:00"));

    // No CSRF token: refused. Logged out: sent to the login page.
    let forged = fx.app.post_form(&path, &[("forced", "online")]).await;
    assert_eq!(forged.status(), 403);
    let anonymous = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(fx.app.url(&path))
        .send()
        .await
        .unwrap();
    assert!(
        matches!(anonymous.status().as_u16(), 303 | 401),
        "{}",
        anonymous.status()
    );
}
