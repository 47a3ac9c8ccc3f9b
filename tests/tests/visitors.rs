//! Guests, page views, the pixel, the loader, badges and the visitor and console sockets, end to end
//! against the real binary (browser tests are in `live_browser.rs`).

use std::time::Duration;

use beckon::db::models::{PageView, Visitor};
use beckon::db::Db;
use beckon_tests::{SiteFixture, TestDatabase, WsClient};

const SHOP: &str = "http://127.0.0.1:9";
const EVIL: &str = "https://evil.example";
const SECOND: Duration = Duration::from_secs(1);

async fn fixture(args: &[&str]) -> (TestDatabase, SiteFixture) {
    let db = TestDatabase::sqlite();
    let fx = SiteFixture::start(&db, args, SHOP).await;
    (db, fx)
}

fn count_active_visitors(url: &str) -> i64 {
    let db = Db::connect(url, 1).unwrap();
    let mut conn = db.conn().unwrap();
    Visitor::count_active_for_ip(&mut conn, "127.0.0.1").unwrap()
}

#[tokio::test]
async fn a_guest_keeps_its_id_with_its_token() {
    let (_db, fx) = fixture(&[]).await;
    let (status, first) = fx.obtain_guest(SHOP, None).await;
    assert_eq!(status, 201);
    let token = first["token"].as_str().unwrap();
    assert!(first["guest_id"].as_str().unwrap().starts_with("G-"));
    assert_eq!(first["returning"], false);

    let (status, again) = fx.obtain_guest(SHOP, Some(token)).await;
    assert_eq!(status, 200);
    assert_eq!(
        again["guest_id"], first["guest_id"],
        "same guest across page loads"
    );

    let (status, other) = fx.obtain_guest(SHOP, Some("made-up-token")).await;
    assert_eq!(status, 201);
    assert_ne!(other["guest_id"], first["guest_id"]);
}

#[tokio::test]
async fn guest_ids_per_address_are_capped_and_the_cap_survives_a_restart() {
    let db = TestDatabase::sqlite();
    let fx = SiteFixture::start(&db, &["--max-guests-per-ip", "3"], SHOP).await;
    for _ in 0..3 {
        assert_eq!(fx.obtain_guest(SHOP, None).await.0, 201);
    }
    let (status, body) = fx.obtain_guest(SHOP, None).await;
    assert_eq!(status, 429);
    assert_eq!(body["error"], "rate_limited");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    let url = fx.app.database_url().to_owned();
    assert_eq!(count_active_visitors(&url), 3, "nothing else changed");
    drop(fx);

    let app = beckon_tests::TestApp::builder(&db)
        .args(["--max-guests-per-ip", "3"])
        .spawn()
        .await;
    let site_key = {
        let db = Db::connect(&url, 1).unwrap();
        let mut conn = db.conn().unwrap();
        beckon::db::models::Site::find_by_slug(&mut conn, "demo-shop")
            .unwrap()
            .unwrap()
            .public_key
    };
    let res = app
        .client
        .post(app.url("/api/v1/visitors"))
        .header("Origin", SHOP)
        .body(serde_json::json!({"site_key": site_key}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429, "the cap is kept in the database");
}

#[tokio::test]
async fn new_guest_ids_are_rate_limited() {
    let (_db, fx) = fixture(&["--guests-per-minute", "2"]).await;
    assert_eq!(fx.obtain_guest(SHOP, None).await.0, 201);
    assert_eq!(fx.obtain_guest(SHOP, None).await.0, 201);
    let res_status = fx.obtain_guest(SHOP, None).await.0;
    assert_eq!(res_status, 429);
}

#[tokio::test]
async fn other_origins_are_refused_and_allowed_ones_get_cors() {
    let (_db, fx) = fixture(&[]).await;
    let (status, body) = fx.obtain_guest(EVIL, None).await;
    assert_eq!(status, 403);
    assert_eq!(body["error"], "origin_not_allowed");
    // A look-alike is not the same origin.
    assert_eq!(fx.obtain_guest("http://127.0.0.1:90", None).await.0, 403);

    let res = fx
        .app
        .client
        .post(fx.app.url("/api/v1/visitors"))
        .header("Origin", SHOP)
        .body(serde_json::json!({"site_key": fx.site.public_key}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()["access-control-allow-origin"], SHOP);
    let token = res.json::<serde_json::Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(fx.beacon(EVIL, &token, "https://shop/", "x").await, 403);
    let refused = WsClient::connect(
        &fx.ws_url(&format!("/ws/visitor?k={}&t={token}", fx.site.public_key)),
        Some(EVIL),
        None,
    )
    .await;
    assert_eq!(
        refused.err().map(|r| r.status),
        Some(403),
        "foreign origin refused before the upgrade"
    );
}

#[tokio::test]
async fn a_token_of_one_site_reaches_nothing_of_another() {
    let db = TestDatabase::sqlite();
    let fx = SiteFixture::start(&db, &[], "").await;
    let (_, guest) = fx.obtain_guest(SHOP, None).await;
    let token = guest["token"].as_str().unwrap().to_owned();

    let url = fx.app.database_url().to_owned();
    let other_key = tokio::task::spawn_blocking(move || {
        let db = Db::connect(&url, 1).unwrap();
        let mut conn = db.conn().unwrap();
        let name = beckon::domain::SiteName::parse("Other").unwrap();
        let new = beckon::services::accounts::NewSite {
            slug: beckon::domain::SiteSlug::from_name(&name).unwrap(),
            name,
            allowed_origins: Default::default(),
        };
        beckon::services::accounts::create_site(&mut conn, &new, None)
            .unwrap()
            .public_key
    })
    .await
    .unwrap();

    let body =
        serde_json::json!({"k": other_key, "t": token, "u": "https://other/", "ti": "", "r": ""});
    assert_eq!(
        fx.raw_beacon(SHOP, &body.to_string()).await,
        401,
        "site A's token is unknown on site B"
    );
    let mut ws = WsClient::connect(
        &fx.ws_url(&format!("/ws/visitor?k={other_key}&t={token}")),
        Some(SHOP),
        None,
    )
    .await
    .expect("upgrade");
    assert_eq!(ws.close_code(5 * SECOND).await, Some(4401));
    let res = fx
        .app
        .client
        .post(fx.app.url("/api/v1/visitors"))
        .body(serde_json::json!({"site_key": other_key, "token": token}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "a new guest of site B, not site A's");
    let b: serde_json::Value = res.json().await.unwrap();
    assert_ne!(b["guest_id"], guest["guest_id"]);
    assert_eq!(b["returning"], false);
}

#[tokio::test]
async fn malformed_and_oversized_beacons_get_4xx() {
    let (_db, fx) = fixture(&[]).await;
    let (_, guest) = fx.obtain_guest(SHOP, None).await;
    let token = guest["token"].as_str().unwrap();
    assert_eq!(
        fx.beacon(SHOP, token, "https://shop.example/tent", "Tent")
            .await,
        202
    );
    assert_eq!(fx.raw_beacon(SHOP, "{not json").await, 400);
    assert_eq!(fx.raw_beacon(SHOP, "").await, 400);
    assert_eq!(
        fx.beacon(SHOP, token, "javascript:alert(1)", "x").await,
        400
    );
    assert_eq!(
        fx.beacon(SHOP, "wrong", "https://shop.example/", "x").await,
        401
    );
    let huge = "x".repeat(20 * 1024);
    assert_eq!(
        fx.beacon(SHOP, token, "https://shop.example/", &huge).await,
        413
    );
    let body = serde_json::json!({"k": "nope", "t": token, "u": "https://shop.example/"});
    assert_eq!(fx.raw_beacon(SHOP, &body.to_string()).await, 404);
}

#[tokio::test]
async fn page_views_are_written_in_batches_and_listed_live() {
    let (_db, fx) = fixture(&[]).await;
    let mut console = fx.console_socket().await;
    console
        .send(serde_json::json!({"type": "watch", "site_id": fx.site.id}))
        .await;
    let snapshot = console
        .next_of_type("snapshot", 5 * SECOND)
        .await
        .expect("snapshot");
    assert_eq!(snapshot["total"], 0);

    let (_, guest) = fx.obtain_guest(SHOP, None).await;
    let token = guest["token"].as_str().unwrap();
    let hostile = "<img src=x onerror=alert(1)>";
    assert_eq!(
        fx.beacon(SHOP, token, "https://shop.example/tent", hostile)
            .await,
        202
    );
    let delta = console
        .next_of_type("visitors", 3 * SECOND)
        .await
        .expect("live update");
    let row = &delta["upserts"][0];
    assert_eq!(row["current_url"], "https://shop.example/tent");
    assert_eq!(
        row["current_title"], hostile,
        "sent as data; the console inserts it as text"
    );
    assert_eq!(row["pages_viewed"], 1);
    assert_eq!(row["guest_id"], guest["guest_id"]);

    assert_eq!(
        fx.beacon(SHOP, token, "https://shop.example/stove", "Stove")
            .await,
        202
    );
    let delta = console
        .next_of_type("visitors", 3 * SECOND)
        .await
        .expect("navigation update");
    assert_eq!(
        delta["upserts"][0]["current_url"],
        "https://shop.example/stove"
    );
    assert_eq!(delta["upserts"][0]["pages_viewed"], 2);

    // Page views reach the database when the writer flushes its batch.
    let trail = beckon_tests::eventually_async(5 * SECOND, "two page views stored", || async {
        let url = fx.app.database_url().to_owned();
        let visitor_id = row["id"].as_str().unwrap().to_owned();
        let trail = tokio::task::spawn_blocking(move || {
            let db = Db::connect(&url, 1).unwrap();
            let mut conn = db.conn().unwrap();
            PageView::trail(&mut conn, &visitor_id, 10).unwrap()
        })
        .await
        .unwrap();
        if trail.len() >= 2 {
            Ok(trail)
        } else {
            Err(trail.len())
        }
    })
    .await;
    let urls: Vec<&str> = trail.iter().map(|p| p.url.as_str()).collect();
    assert_eq!(
        urls,
        ["https://shop.example/stove", "https://shop.example/tent"]
    );

    let page = fx
        .app
        .get(&format!(
            "/console/sites/{}/visitors/{}",
            fx.site.id,
            row["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("&lt;img src=x onerror=alert(1)&gt;") && !html.contains(hostile),
        "trail escapes titles"
    );
}

#[tokio::test]
async fn a_full_page_view_buffer_answers_503_quickly() {
    let (_db, fx) = fixture(&["--pageview-buffer", "2", "--pageview-flush-ms", "60000"]).await;
    let (_, guest) = fx.obtain_guest(SHOP, None).await;
    let token = guest["token"].as_str().unwrap();
    let mut statuses = Vec::new();
    for i in 0..4 {
        statuses.push(
            fx.beacon(SHOP, token, &format!("https://shop.example/{i}"), "p")
                .await,
        );
    }
    assert_eq!(statuses, [202, 202, 503, 503]);
}

#[tokio::test]
async fn the_visitor_drops_off_when_the_last_tab_closes() {
    let (_db, fx) = fixture(&[]).await;
    let (_, guest) = fx.obtain_guest(SHOP, None).await;
    let token = guest["token"].as_str().unwrap();
    let mut tab = fx.visitor_socket(SHOP, token).await;
    let hello = tab.next_event(5 * SECOND).await.expect("hello");
    assert_eq!(hello["type"], "hello");
    assert_eq!(hello["guest_id"], guest["guest_id"]);
    fx.beacon(SHOP, token, "https://shop.example/", "Home")
        .await;

    let mut console = fx.console_socket().await;
    console
        .send(serde_json::json!({"type": "watch", "site_id": fx.site.id}))
        .await;
    let snapshot = console.next_of_type("snapshot", 5 * SECOND).await.unwrap();
    assert_eq!(snapshot["total"], 1);
    let id = snapshot["visitors"][0]["id"].clone();

    tab.close().await;
    let gone = console
        .next_of_type("visitors", 8 * SECOND)
        .await
        .expect("removal");
    assert_eq!(gone["removed"][0], id);
    assert_eq!(gone["total"], 0);
}

#[tokio::test]
async fn invitations_reach_the_page_and_answers_reach_the_console() {
    let (_db, fx) = fixture(&[]).await;
    let (_, guest) = fx.obtain_guest(SHOP, None).await;
    let token = guest["token"].as_str().unwrap();
    let mut tab = fx.visitor_socket(SHOP, token).await;
    tab.next_event(5 * SECOND).await.expect("hello");
    fx.beacon(SHOP, token, "https://shop.example/", "Home")
        .await;

    let mut console = fx.console_socket().await;
    console
        .send(serde_json::json!({"type": "watch", "site_id": fx.site.id}))
        .await;
    let snapshot = console.next_of_type("snapshot", 5 * SECOND).await.unwrap();
    let visitor_id = snapshot["visitors"][0]["id"].as_str().unwrap().to_owned();

    console.send(serde_json::json!({"type": "invite", "visitor_id": visitor_id, "message": "Need a hand? {{7*7}}"})).await;
    let invite = tab
        .next_of_type("invite", SECOND)
        .await
        .expect("bubble within a second");
    assert_eq!(invite["operator"], "Olive Owner");
    assert_eq!(invite["message"], "Need a hand? {{7*7}}");
    let pending = console
        .next_of_type("invitation", 2 * SECOND)
        .await
        .unwrap();
    assert_eq!(pending["status"], "pending");

    tab.send(serde_json::json!({"type": "invite_response", "invitation_id": invite["invitation_id"], "accepted": true}))
        .await;
    let answer = console
        .next_of_type("invitation", 3 * SECOND)
        .await
        .expect("answer");
    assert_eq!(answer["status"], "accepted");
    assert_eq!(answer["visitor_id"], visitor_id.as_str());

    // Answering twice, or someone else's invitation, changes nothing.
    tab.send(serde_json::json!({"type": "invite_response", "invitation_id": invite["invitation_id"], "accepted": false}))
        .await;
    console
        .expect_none_of_type("invitation", Duration::from_millis(700))
        .await;

    console
        .send(serde_json::json!({"type": "invite", "visitor_id": visitor_id}))
        .await;
    let second = tab.next_of_type("invite", SECOND).await.unwrap();
    tab.send(serde_json::json!({"type": "invite_response", "invitation_id": second["invitation_id"], "accepted": false}))
        .await;
    let declined = console
        .next_of_type("invitation", 3 * SECOND)
        .await
        .unwrap();
    let declined = if declined["status"] == "pending" {
        console
            .next_of_type("invitation", 3 * SECOND)
            .await
            .unwrap()
    } else {
        declined
    };
    assert_eq!(declined["status"], "declined");
}

#[tokio::test]
async fn malformed_visitor_messages_close_with_4400() {
    let (_db, fx) = fixture(&[]).await;
    let (_, guest) = fx.obtain_guest(SHOP, None).await;
    let mut tab = fx
        .visitor_socket(SHOP, guest["token"].as_str().unwrap())
        .await;
    tab.next_event(5 * SECOND).await.expect("hello");
    tab.send_text("{not json").await;
    assert_eq!(tab.close_code(5 * SECOND).await, Some(4400));

    let mut tab = fx
        .visitor_socket(SHOP, guest["token"].as_str().unwrap())
        .await;
    tab.next_event(5 * SECOND).await.expect("hello");
    tab.send_text(&"x".repeat(64 * 1024)).await;
    assert_eq!(
        tab.close_code(5 * SECOND).await,
        Some(1009),
        "frame larger than the limit"
    );
}

#[tokio::test]
async fn the_console_socket_needs_a_session_and_our_origin_and_a_membership() {
    let (_db, fx) = fixture(&[]).await;
    let refused = WsClient::connect(&fx.ws_url("/ws/console"), Some(&fx.app.address), None).await;
    assert_eq!(
        refused.err().map(|r| r.status),
        Some(303),
        "no session: sent to log in"
    );
    let refused = WsClient::connect(
        &fx.ws_url("/ws/console"),
        Some(EVIL),
        Some(&fx.session_cookie),
    )
    .await;
    assert_eq!(
        refused.err().map(|r| r.status),
        Some(403),
        "cross-site socket hijacking refused"
    );

    let mut console = fx.console_socket().await;
    console
        .send(serde_json::json!({"type": "watch", "site_id": "someone-elses-site"}))
        .await;
    let error = console.next_of_type("error", 3 * SECOND).await.unwrap();
    assert_eq!(error["code"], "not_found");
    console
        .send(serde_json::json!({"type": "invite", "visitor_id": "not-a-visitor"}))
        .await;
    let error = console.next_of_type("error", 3 * SECOND).await.unwrap();
    assert_eq!(error["code"], "not_found");
}

#[tokio::test]
async fn site_pages_are_for_members_only() {
    let (_db, fx) = fixture(&[]).await;
    for path in ["visitors", "embed"] {
        let own = fx
            .app
            .get(&format!("/console/sites/{}/{path}", fx.site.id))
            .await;
        assert_eq!(own.status(), 200, "{path}");
        let other = fx.app.get(&format!("/console/sites/not-mine/{path}")).await;
        assert_eq!(other.status(), 404, "{path}");
        let anon = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let res = anon
            .get(fx.app.url(&format!("/console/sites/{}/{path}", fx.site.id)))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303, "{path} needs a login");
    }
    let embed = fx
        .app
        .get(&format!("/console/sites/{}/embed", fx.site.id))
        .await
        .text()
        .await
        .unwrap();
    for needle in [
        format!("/w/{}.js", fx.site.public_key),
        "/s/demo-shop/status.svg".to_owned(),
        format!("/m/{}.gif", fx.site.public_key),
        "/u/olive".to_owned(),
    ] {
        assert!(embed.contains(&needle), "embed page lacks {needle}");
    }
}

#[tokio::test]
async fn the_loader_is_served_per_site() {
    let (_db, fx) = fixture(&[]).await;
    let res = fx.app.get(&format!("/w/{}.js", fx.site.public_key)).await;
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/javascript"));
    let js = res.text().await.unwrap();
    assert!(js.contains(&fx.site.public_key) && js.contains(&fx.app.address));
    assert_eq!(fx.app.get("/w/unknown.js").await.status(), 404);
}

#[tokio::test]
async fn the_monitor_pixel_records_a_page_view_without_javascript() {
    let (_db, fx) = fixture(&[]).await;
    let mut console = fx.console_socket().await;
    console
        .send(serde_json::json!({"type": "watch", "site_id": fx.site.id}))
        .await;
    console.next_of_type("snapshot", 5 * SECOND).await.unwrap();

    let res = fx
        .app
        .client
        .get(fx.app.url(&format!("/m/{}.gif", fx.site.public_key)))
        .header("Referer", "https://docs.example/manual.pdf")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/gif");
    assert!(
        res.headers().get("set-cookie").is_some(),
        "the guest is kept in a cookie"
    );
    assert!(res.bytes().await.unwrap().starts_with(b"GIF89a"));
    let delta = console
        .next_of_type("visitors", 3 * SECOND)
        .await
        .expect("listed");
    assert_eq!(
        delta["upserts"][0]["current_url"],
        "https://docs.example/manual.pdf"
    );

    let res = fx
        .app
        .get(&format!(
            "/m/{}.gif?u=https://docs.example/page2",
            fx.site.public_key
        ))
        .await;
    assert_eq!(res.status(), 200);
    let delta = console
        .next_of_type("visitors", 3 * SECOND)
        .await
        .expect("same guest, next page");
    assert_eq!(delta["upserts"][0]["pages_viewed"], 2);
    assert_eq!(fx.app.get("/m/unknown.gif").await.status(), 404);
}

#[tokio::test]
async fn badges_show_whether_an_operator_is_there() {
    let (_db, fx) = fixture(&[]).await;
    let badge = |path: &'static str| {
        let app = &fx.app;
        async move {
            let res = app.get(path).await;
            assert_eq!(res.status(), 200);
            assert_eq!(res.headers()["content-type"], "image/svg+xml");
            // Revalidated on every view, so a badge follows availability at once.
            assert!(res.headers()["cache-control"]
                .to_str()
                .unwrap()
                .contains("no-cache"));
            res.text().await.unwrap()
        }
    };
    assert!(badge("/s/demo-shop/status.svg").await.contains("offline"));
    assert!(badge("/u/olive/status.svg").await.contains("offline"));
    let console = fx.console_socket().await;
    beckon_tests::eventually_async(5 * SECOND, "the badge to say online", || async {
        badge("/s/demo-shop/status.svg").await.contains(">online<")
    })
    .await;
    assert!(badge("/s/demo-shop/status.svg").await.contains(">online<"));
    assert!(badge("/u/olive/status.svg").await.contains(">online<"));
    console.close().await;
    assert_eq!(fx.app.get("/s/nope/status.svg").await.status(), 404);
    assert_eq!(fx.app.get("/u/nobody/status.svg").await.status(), 404);
}

async fn guest_status_from(fx: &SiteFixture, forwarded_for: &str) -> u16 {
    fx.app
        .client
        .post(fx.app.url("/api/v1/visitors"))
        .header("Origin", SHOP)
        .header("X-Forwarded-For", forwarded_for)
        .body(serde_json::json!({"site_key": fx.site.public_key}).to_string())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn forwarded_for_counts_only_behind_a_trusted_proxy() {
    // Untrusted peer: X-Forwarded-For is ignored, so every request counts against 127.0.0.1.
    let (_db, fx) = fixture(&["--max-guests-per-ip", "1"]).await;
    assert_eq!(guest_status_from(&fx, "198.51.100.1").await, 201);
    assert_eq!(
        guest_status_from(&fx, "198.51.100.2").await,
        429,
        "spoofed header does not dodge the cap"
    );

    // Behind a trusted proxy, each client is counted by its own address, IPv6 per /64.
    let (_db, fx) = fixture(&[
        "--max-guests-per-ip",
        "1",
        "--trusted-proxies",
        "127.0.0.1/32",
    ])
    .await;
    assert_eq!(guest_status_from(&fx, "198.51.100.1").await, 201);
    assert_eq!(guest_status_from(&fx, "198.51.100.2").await, 201);
    assert_eq!(guest_status_from(&fx, "198.51.100.1").await, 429);
    assert_eq!(guest_status_from(&fx, "2001:db8:1:2::1").await, 201);
    assert_eq!(
        guest_status_from(&fx, "2001:db8:1:2:ffff::9").await,
        429,
        "same /64"
    );
    assert_eq!(
        guest_status_from(&fx, "2001:db8:1:3::1").await,
        201,
        "another /64"
    );
}

async fn identify(fx: &SiteFixture, token: &str, claim: &serde_json::Value) -> u16 {
    fx.identify(SHOP, token, claim).await
}

fn signed(secret: &str, id: &str, name: &str, ts: i64) -> serde_json::Value {
    let claim = beckon::services::identity::IdentityClaim {
        id: id.into(),
        name: name.into(),
        email: "ann@shop.example".into(),
        ts,
        signature: String::new(),
    };
    let signature = beckon::services::identity::sign(secret, &claim);
    serde_json::json!({"id": id, "name": name, "email": "ann@shop.example", "ts": ts, "signature": signature})
}

#[tokio::test]
async fn a_signed_identity_names_the_guest_and_a_bad_or_stale_one_is_refused() {
    let (_db, fx) = fixture(&[]).await;
    let (_, guest) = fx.obtain_guest(SHOP, None).await;
    let token = guest["token"].as_str().unwrap();
    let now = chrono::Utc::now().timestamp();
    let secret = fx.site.identity_secret.clone();

    assert_eq!(
        identify(
            &fx,
            token,
            &signed("wrong secret", "u1", "Ann Shopper", now)
        )
        .await,
        403
    );
    assert_eq!(
        identify(
            &fx,
            token,
            &signed(&secret, "u1", "Ann Shopper", now - 3600)
        )
        .await,
        403,
        "stale"
    );
    let mut tampered = signed(&secret, "u1", "Ann Shopper", now);
    tampered["name"] = "Admin".into();
    assert_eq!(
        identify(&fx, token, &tampered).await,
        403,
        "fields are covered by the signature"
    );

    let good = signed(&secret, "u1", "Ann Shopper", now);
    assert_eq!(identify(&fx, token, &good).await, 200);
    let (_, other) = fx.obtain_guest(SHOP, None).await;
    assert_eq!(
        identify(&fx, other["token"].as_str().unwrap(), &good).await,
        403,
        "a replay by another guest"
    );

    let mut console = fx.console_socket().await;
    fx.beacon(SHOP, token, "https://shop.example/", "Home")
        .await;
    console
        .send(serde_json::json!({"type": "watch", "site_id": fx.site.id}))
        .await;
    let snapshot = console.next_of_type("snapshot", 5 * SECOND).await.unwrap();
    let names: Vec<&str> = snapshot["visitors"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v["display_name"].as_str())
        .collect();
    assert_eq!(names, ["Ann Shopper"]);
}

/// Many guests arriving at once while page views are being written: on SQLite a transaction that
/// counts before it inserts used to fail with `database is locked` (500) when another writer
/// committed in between.
#[tokio::test]
async fn guests_arriving_at_once_all_get_ids_while_page_views_are_written() {
    let (_db, fx) = fixture(&[
        "--max-guests-per-ip",
        "10000",
        "--guests-per-minute",
        "100000",
        "--pageview-flush-ms",
        "5",
    ])
    .await;
    let (_, first) = fx.obtain_guest(SHOP, None).await;
    let token = first["token"].as_str().unwrap().to_owned();
    let fx = &fx;
    let beacons = async {
        let mut statuses = Vec::new();
        for i in 0..200 {
            let page = format!("https://shop.example/p/{i}");
            statuses.push(fx.beacon(SHOP, &token, &page, "Page").await);
        }
        statuses
    };
    let guests = futures_util::future::join_all((0..120).map(|_| fx.obtain_guest(SHOP, None)));
    let (beacons, guests) = tokio::join!(beacons, guests);
    assert!(beacons.iter().all(|s| *s == 202), "beacons: {beacons:?}");
    let statuses: Vec<u16> = guests.iter().map(|(s, _)| *s).collect();
    assert!(
        statuses.iter().all(|s| *s == 201),
        "every guest got an id: {statuses:?}"
    );
    let url = fx.app.database_url().to_owned();
    assert_eq!(count_active_visitors(&url), 121);
}
