//! The chat pages (`/s/`, `/u/`, `/p/`, `/chat/KEY`, a site's own domain), site settings and canned
//! responses, with their authorisation.

use beckon_tests::{html, SiteFixture, TestDatabase};

const SHOP: &str = "http://127.0.0.1:9";

fn anonymous() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn chat_urls_open_the_chat_for_guests_and_the_console_for_operators() {
    let db = TestDatabase::sqlite();
    let fx = SiteFixture::start(&db, &[], SHOP).await;
    let guest = anonymous();
    for path in ["/s/demo-shop", "/s/DEMO-SHOP", "/u/olive"] {
        let res = guest.get(fx.app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        let csp = res.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'nonce-"),
            "{csp}"
        );
        let body = res.text().await.unwrap();
        assert!(
            body.contains("Demo Shop") && body.contains(&fx.site.public_key),
            "{path}"
        );
    }
    let body = guest
        .get(fx.app.url("/u/olive"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        body.contains("\"handle\":\"olive\""),
        "a /u/ chat is addressed to that operator"
    );
    for missing in [
        "/s/nope",
        "/u/nobody",
        "/p/+4915100000000",
        "/p/not-a-number",
        "/chat/unknown",
    ] {
        assert_eq!(
            guest
                .get(fx.app.url(missing))
                .send()
                .await
                .unwrap()
                .status(),
            404,
            "{missing}"
        );
    }
    // The logged-in operator is taken to the console instead.
    let res = fx.app.get("/s/demo-shop").await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/console/chats");
    assert_eq!(fx.app.get("/u/olive").await.status(), 303);
}

#[tokio::test]
async fn the_embedded_panel_may_be_framed_only_by_allowed_origins() {
    let db = TestDatabase::sqlite();
    let fx = SiteFixture::start(&db, &[], SHOP).await;
    let res = anonymous()
        .get(fx.app.url(&format!("/chat/{}?embed=1", fx.site.public_key)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let csp = res.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains(&format!("frame-ancestors {SHOP}")), "{csp}");
}

async fn settings_form(fx: &SiteFixture) -> String {
    let page = fx
        .app
        .get(&format!("/console/sites/{}/settings", fx.site.id))
        .await;
    assert_eq!(page.status(), 200);
    html::input_value(&page.text().await.unwrap(), "csrf").unwrap()
}

#[tokio::test]
async fn owners_change_settings_and_a_new_own_domain_is_pending() {
    let db = TestDatabase::sqlite();
    let fx = SiteFixture::start(&db, &[], SHOP).await;
    let csrf = settings_form(&fx).await;
    let path = format!("/console/sites/{}/settings", fx.site.id);
    let bad = fx
        .app
        .post_form(
            &path,
            &[("csrf", &csrf), ("colour", "red; background:url(x)")],
        )
        .await;
    assert_eq!(bad.status(), 422);
    let forged = fx
        .app
        .post_form(&path, &[("csrf", "forged"), ("colour", "#112233")])
        .await;
    assert_eq!(forged.status(), 403);
    let saved = fx
        .app
        .post_form(
            &path,
            &[
                ("csrf", &csrf),
                ("allowed_origins", SHOP),
                ("custom_domain", "Help.Example.test"),
                ("colour", "#112233"),
                ("position", "left"),
                ("greeting", "Hi from {{site_name}}"),
                ("offline", ""),
                ("auto_assign", "1"),
            ],
        )
        .await;
    assert_eq!(saved.status(), 303);
    let page = fx.app.get(&path).await.text().await.unwrap();
    assert!(
        page.contains("help.example.test")
            && page.contains("#112233")
            && page.contains("Hi from {{site_name}}")
    );

    // A domain is served only once proven (tests/tests/network.rs walks the proof): until then it
    // is pending, not routed by Host and not an origin of the site.
    assert!(page.contains("Pending") && page.contains("beckon-verification="));
    let res = anonymous()
        .get(fx.app.url("/"))
        .header("Host", "help.example.test")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "a pending domain goes to the console");
    let res = anonymous()
        .get(fx.app.url("/"))
        .header("Host", "other.example.test")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "unknown hosts go to the console");
    assert_eq!(
        fx.obtain_guest("http://help.example.test", None).await.0,
        403,
        "a pending domain is no origin of the site"
    );

    // An agent may not manage the site.
    let url = fx.app.database_url().to_owned();
    let site = fx.site.clone();
    tokio::task::spawn_blocking(move || {
        let db = beckon::db::Db::connect(&url, 1).unwrap();
        let mut conn = db.conn().unwrap();
        let new = beckon::services::accounts::NewOperator {
            email: beckon::domain::Email::parse("agent@example.com").unwrap(),
            handle: beckon::domain::Handle::parse("agent").unwrap(),
            display_name: beckon::domain::DisplayName::parse("Agent").unwrap(),
            password: beckon::domain::Password::parse("agent password 1").unwrap(),
            phone: Some("+4915112345678".into()),
        };
        beckon::services::accounts::create_operator(
            &mut conn,
            &new,
            Some((&site, beckon::db::models::Role::Agent)),
        )
        .unwrap();
    })
    .await
    .unwrap();
    let agent = beckon_tests::TestApp::spawn(&db).await;
    assert_eq!(
        agent
            .login("agent@example.com", "agent password 1")
            .await
            .status(),
        303
    );
    assert_eq!(
        agent.get(&path).await.status(),
        404,
        "agents cannot open settings"
    );
    let csrf = agent.csrf_of("/console").await;
    assert_eq!(
        agent
            .post_form(&path, &[("csrf", &csrf), ("colour", "#000000")])
            .await
            .status(),
        404
    );
    // The agent's phone number opens a chat with them.
    let res = anonymous()
        .get(agent.url("/p/+4915112345678"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("\"handle\":\"agent\""));
}

#[tokio::test]
async fn canned_responses_are_per_site_and_reach_the_chat_workspace() {
    let db = TestDatabase::sqlite();
    let fx = SiteFixture::start(&db, &[], SHOP).await;
    let csrf = fx.app.csrf_of("/console").await;
    let path = format!("/console/sites/{}/canned", fx.site.id);
    let res = fx
        .app
        .post_form(
            &path,
            &[
                ("csrf", &csrf),
                ("shortcut", "/Hours"),
                ("body", "We are here 9-5 <b>CET</b>"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let taken = fx
        .app
        .post_form(
            &path,
            &[("csrf", &csrf), ("shortcut", "hours"), ("body", "again")],
        )
        .await;
    assert_eq!(taken.status(), 409);
    let bad = fx
        .app
        .post_form(
            &path,
            &[("csrf", &csrf), ("shortcut", "no spaces"), ("body", "x")],
        )
        .await;
    assert_eq!(bad.status(), 422);
    assert_eq!(
        fx.app
            .post_form(
                &path,
                &[("csrf", "forged"), ("shortcut", "x"), ("body", "x")]
            )
            .await
            .status(),
        403
    );
    let other = fx
        .app
        .post_form(
            "/console/sites/not-mine/canned",
            &[("csrf", &csrf), ("shortcut", "x"), ("body", "x")],
        )
        .await;
    assert_eq!(other.status(), 404);

    let chats = fx.app.get("/console/chats").await;
    assert_eq!(chats.status(), 200);
    let page = chats.text().await.unwrap();
    assert!(
        page.contains("hours") && !page.contains("<b>CET</b>"),
        "listed, and escaped"
    );
    let anon = anonymous()
        .get(fx.app.url("/console/chats"))
        .send()
        .await
        .unwrap();
    assert_eq!(anon.status(), 303);
}

async fn history_search(db: TestDatabase) {
    use serde_json::json;
    let fx = SiteFixture::start(&db, &[], SHOP).await;
    let (mut tab, _) = fx.guest(SHOP).await;
    let wait = std::time::Duration::from_secs(5);
    let id = beckon_tests::start_chat(&mut tab, "Rita").await;
    tab.send(json!({"type": "send", "conversation_id": id, "client_msg_id": "r1", "body": "I want a REFUND, 50%_off was promised <b>"})).await;
    tab.next_of_type("ack", wait).await.unwrap();
    let mut op = fx.console_socket().await;
    op.send(json!({"type": "send", "conversation_id": id, "client_msg_id": "n1", "body": "refund approved internally", "note": true})).await;
    op.next_of_type("ack", wait).await.unwrap();

    let page = fx.app.get("/console/history?q=refund").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("I want a REFUND") && html.contains("refund approved internally"),
        "case-insensitive, notes included"
    );
    assert!(!html.contains("<b>"), "escaped");
    let html = fx
        .app
        .get("/console/history?q=50%25_off")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("I want a REFUND"),
        "wildcards match literally"
    );
    let html = fx
        .app
        .get("/console/history?q=5__off")
        .await
        .text()
        .await
        .unwrap();
    assert!(!html.contains("I want a REFUND"), "_ is not a wildcard");
    let html = fx
        .app
        .get("/console/history?q=promised+refund")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("I want a REFUND") && !html.contains("refund approved internally"),
        "every word, in any order"
    );
    let html = fx
        .app
        .get("/console/history?q=%22promised+refund%22")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        !html.contains("I want a REFUND"),
        "a quoted phrase as written"
    );
    let html = fx
        .app
        .get(&format!("/console/history?c={id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("Rita")
            && html.contains("refund approved internally")
            && html.contains("internal note")
    );

    // An operator of another site finds nothing and cannot open the transcript.
    let url = fx.app.database_url().to_owned();
    tokio::task::spawn_blocking(move || {
        let db = beckon::db::Db::connect(&url, 1).unwrap();
        let mut conn = db.conn().unwrap();
        let new = beckon::services::accounts::NewOperator {
            email: beckon::domain::Email::parse("other@example.com").unwrap(),
            handle: beckon::domain::Handle::parse("other").unwrap(),
            display_name: beckon::domain::DisplayName::parse("Other").unwrap(),
            password: beckon::domain::Password::parse("other password 1").unwrap(),
            phone: None,
        };
        beckon::services::accounts::create_operator(&mut conn, &new, None).unwrap();
    })
    .await
    .unwrap();
    let other = beckon_tests::TestApp::spawn(&db).await;
    assert_eq!(
        other
            .login("other@example.com", "other password 1")
            .await
            .status(),
        303
    );
    let html = other
        .get(&format!("/console/history?q=refund&c={id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        !html.contains("REFUND") && !html.contains("Rita"),
        "nothing of another site"
    );
}

#[tokio::test]
async fn history_search_on_sqlite() {
    history_search(TestDatabase::sqlite()).await;
}

#[tokio::test]
async fn history_search_on_postgres() {
    if let Some(db) = TestDatabase::postgres("chat_pages::history_search_on_postgres") {
        history_search(db).await;
    }
}
