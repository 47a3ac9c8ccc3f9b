//! What Beckon believes about the network: the client's address behind proxies, signed identities
//! across restarts, and custom domains proven before they are served. End to end against the real
//! binary.

use beckon_tests::{SiteFixture, TestApp, TestDatabase};

const SHOP: &str = "http://127.0.0.1:9";

/// Asks for a new guest id with the given `X-Forwarded-For` header lines (each sent as a line of
/// its own, in order); the status.
async fn guest_status_with_lines(fx: &SiteFixture, lines: &[&str]) -> u16 {
    let mut req = fx
        .app
        .client
        .post(fx.app.url("/api/v1/visitors"))
        .header("Origin", SHOP);
    for line in lines {
        req = req.header("X-Forwarded-For", *line);
    }
    req.body(serde_json::json!({"site_key": fx.site.public_key}).to_string())
        .send()
        .await
        .expect("POST visitors")
        .status()
        .as_u16()
}

/// Two `X-Forwarded-For` lines through a trusted proxy: the first written by the client, the second
/// added by the proxy. Only the first line used to be read, so a client picked a new address per
/// request and dodged every per-address limit.
#[tokio::test]
async fn a_client_cannot_choose_its_address_with_a_forwarded_for_line_of_its_own() {
    let db = TestDatabase::sqlite();
    let fx = SiteFixture::start(
        &db,
        &[
            "--max-guests-per-ip",
            "2",
            "--trusted-proxies",
            "127.0.0.1/32",
            "--login-attempts-per-minute",
            "3",
        ],
        SHOP,
    )
    .await;

    // The guest-id cap counts the address the proxy saw, whatever the client's own line says.
    for spoof in ["6.6.6.1", "6.6.6.2"] {
        assert_eq!(
            guest_status_with_lines(&fx, &[spoof, "198.51.100.7"]).await,
            201
        );
    }
    assert_eq!(
        guest_status_with_lines(&fx, &["6.6.6.3", "198.51.100.7"]).await,
        429,
        "a third guest id from 198.51.100.7 is over the cap"
    );
    assert_eq!(
        guest_status_with_lines(&fx, &["6.6.6.4, 6.6.6.5", "198.51.100.7"]).await,
        429,
        "a list in the client's line changes nothing"
    );
    assert_eq!(
        guest_status_with_lines(&fx, &["198.51.100.8"]).await,
        201,
        "another client behind the proxy is counted apart"
    );

    // The login limit likewise: a fresh browser per attempt, a fresh spoofed line per attempt.
    let mut statuses = Vec::new();
    for n in 0..5 {
        let browser = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let spoof = format!("6.6.7.{n}");
        let page = browser
            .get(fx.app.url("/login"))
            .send()
            .await
            .expect("GET /login")
            .text()
            .await
            .expect("body");
        let csrf = beckon_tests::html::input_value(&page, "csrf").expect("csrf field");
        let res = browser
            .post(fx.app.url("/login"))
            .header("X-Forwarded-For", spoof.as_str())
            .header("X-Forwarded-For", "198.51.100.9")
            .form(&[
                ("csrf", csrf.as_str()),
                ("email", "owner@example.com"),
                ("password", "wrong password"),
                ("next", "/console"),
            ])
            .send()
            .await
            .expect("POST /login");
        statuses.push(res.status().as_u16());
    }
    assert!(
        !statuses[..3].contains(&429),
        "the first three attempts are answered: {statuses:?}"
    );
    assert_eq!(
        &statuses[3..],
        &[429, 429],
        "then the address is limited: {statuses:?}"
    );
}

async fn identify(fx: &SiteFixture, token: &str, claim: &serde_json::Value) -> u16 {
    fx.identify(SHOP, token, claim).await
}

/// What a site's server would hand its page for user `id`, signed now.
fn signed_now(secret: &str, id: &str, name: &str) -> serde_json::Value {
    let mut claim = beckon::services::identity::IdentityClaim {
        id: id.into(),
        name: name.into(),
        email: String::new(),
        ts: chrono::Utc::now().timestamp(),
        signature: String::new(),
    };
    claim.signature = beckon::services::identity::sign(secret, &claim);
    serde_json::json!({
        "id": claim.id, "name": claim.name, "email": claim.email, "ts": claim.ts,
        "signature": claim.signature,
    })
}

/// The record of used signatures used to live in memory only: a restart forgot it, and a signature
/// captured from one guest's page could be replayed by another guest for the rest of the window.
async fn a_used_signature_is_refused_to_another_guest_after_a_restart(db: TestDatabase) {
    let fx = SiteFixture::start(&db, &[], SHOP).await;
    let (_, first) = fx.obtain_guest(SHOP, None).await;
    let (_, second) = fx.obtain_guest(SHOP, None).await;
    let first = first["token"].as_str().expect("token").to_owned();
    let second = second["token"].as_str().expect("token").to_owned();
    let claim = signed_now(&fx.site.identity_secret, "u-42", "Ann Shopper");
    assert_eq!(identify(&fx, &first, &claim).await, 200);

    let site = fx.site.clone();
    drop(fx);
    let app = TestApp::builder(&db).spawn().await;
    let fx = SiteFixture::reattach(app, site).await;

    assert_eq!(
        identify(&fx, &second, &claim).await,
        403,
        "the same signature from another guest is a replay, restart or not"
    );
    assert_eq!(
        identify(&fx, &first, &claim).await,
        200,
        "the guest that used it may present it again (a page reload)"
    );

    // Records outlive their window only until pruned: expire this one and prune.
    let url = fx.app.database_url().to_owned();
    let left = tokio::task::spawn_blocking(move || {
        use diesel::prelude::*;
        let store = beckon::db::Db::connect(&url, 1).expect("connect");
        let mut conn = store.conn().expect("conn");
        let past = chrono::NaiveDate::from_ymd_opt(2000, 1, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .expect("date");
        diesel::update(beckon::db::schema::used_signatures::table)
            .set(beckon::db::schema::used_signatures::expires_at.eq(past))
            .execute(&mut conn)
            .expect("expire");
        let pruned = beckon::services::identity::prune_used_signatures(&mut conn).expect("prune");
        let left: i64 = beckon::db::schema::used_signatures::table
            .count()
            .get_result(&mut conn)
            .expect("count");
        (pruned, left)
    })
    .await
    .expect("prune task");
    assert_eq!(left, (1, 0));
}

#[tokio::test]
async fn identify_replay_after_restart_is_refused_on_sqlite() {
    a_used_signature_is_refused_to_another_guest_after_a_restart(TestDatabase::sqlite()).await;
}

#[tokio::test]
async fn identify_replay_after_restart_is_refused_on_postgres() {
    if let Some(db) = TestDatabase::postgres("network::identify_replay_after_restart") {
        a_used_signature_is_refused_to_another_guest_after_a_restart(db).await;
    }
}

/// A stand-in for the claimed domain's web server: answers every request with `body` (404 while
/// it is `None`) and records the `Host` and path it was asked for.
struct ProofServer {
    addr: std::net::SocketAddr,
    body: std::sync::Arc<std::sync::Mutex<Option<String>>>,
    seen: std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>,
}

impl ProofServer {
    async fn start() -> ProofServer {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let body = std::sync::Arc::new(std::sync::Mutex::new(None::<String>));
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (served, log) = (body.clone(), seen.clone());
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let (served, log) = (served.clone(), log.clone());
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                    }
                    let text = String::from_utf8_lossy(&request).into_owned();
                    let path = text.split(' ').nth(1).unwrap_or("").to_owned();
                    let host = text
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("host").then(|| v.trim().to_owned())
                        })
                        .unwrap_or_default();
                    log.lock().unwrap().push((host, path));
                    let body = served.lock().unwrap().clone();
                    let response = match body {
                        Some(b) => format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{b}",
                            b.len()
                        ),
                        None => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_owned(),
                    };
                    let _ = stream.write_all(response.as_bytes()).await;
                });
            }
        });
        ProofServer { addr, body, seen }
    }

    fn serve(&self, body: &str) {
        *self.body.lock().unwrap() = Some(body.to_owned());
    }
}

/// The settings page's CSRF token and, when a domain is pending, its token.
async fn settings_page(fx: &SiteFixture) -> (String, String, Option<String>) {
    let page = fx
        .app
        .get(&format!("/console/sites/{}/settings", fx.site.id))
        .await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("body");
    let csrf = beckon_tests::html::input_value(&html, "csrf").expect("csrf");
    let token = beckon_tests::html::input_value(&html, "domain_token");
    (html, csrf, token)
}

async fn host_status(fx: &SiteFixture, host: &str) -> u16 {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .get(fx.app.url("/"))
        .header("Host", host)
        .send()
        .await
        .expect("GET /")
        .status()
        .as_u16()
}

const DOMAIN: &str = "help.shop.test";

/// A custom domain is pending until the domain serves the console's token; then it is routed.
async fn a_custom_domain_is_routed_only_once_proven(db: TestDatabase) {
    let proof = ProofServer::start().await;
    let connect_to = proof.addr.to_string();
    let fx = SiteFixture::start(
        &db,
        &[
            "--webhook-allow-private",
            "--domain-check-connect-to",
            &connect_to,
        ],
        SHOP,
    )
    .await;
    let settings = format!("/console/sites/{}/settings", fx.site.id);
    let verify = format!("{settings}/domain/verify");

    let (_, csrf, token) = settings_page(&fx).await;
    assert_eq!(token, None, "no domain yet");
    let saved = fx
        .app
        .post_form(&settings, &[("csrf", &csrf), ("custom_domain", DOMAIN)])
        .await;
    assert_eq!(saved.status(), 303);
    let (html, csrf, token) = settings_page(&fx).await;
    let token = token.expect("a pending domain shows its token");
    assert!(html.contains("Pending") && html.contains("/.well-known/beckon-verification.txt"));
    assert_eq!(host_status(&fx, DOMAIN).await, 303, "pending: not routed");

    // The file is not there yet: still pending, and the page says why.
    let res = fx.app.post_form(&verify, &[("csrf", &csrf)]).await;
    assert_eq!(res.status(), 303);
    let (html, csrf, again) = settings_page(&fx).await;
    assert_eq!(again.as_deref(), Some(token.as_str()), "same token");
    assert!(html.contains("404"), "the failed check is shown");
    assert_eq!(host_status(&fx, DOMAIN).await, 303);

    // A file with another token proves nothing.
    proof.serve("beckon-verification=someone-elses-token\n");
    fx.app.post_form(&verify, &[("csrf", &csrf)]).await;
    let (html, csrf, _) = settings_page(&fx).await;
    assert!(html.contains("does not contain the token"));
    assert_eq!(host_status(&fx, DOMAIN).await, 303);

    // The right token: verified, and served by Host.
    proof.serve(&format!("{token}\n"));
    let res = fx.app.post_form(&verify, &[("csrf", &csrf)]).await;
    assert_eq!(res.status(), 303);
    let (html, _, pending) = settings_page(&fx).await;
    assert_eq!(pending, None, "no longer pending");
    assert!(html.contains("Verified"));
    assert_eq!(host_status(&fx, DOMAIN).await, 200, "proven: routed");
    assert_eq!(
        fx.obtain_guest(&format!("http://{DOMAIN}"), None).await.0,
        201,
        "the chat on the proven domain may get a guest"
    );
    let seen = proof.seen.lock().unwrap().clone();
    assert!(
        seen.iter()
            .all(|(host, path)| host == DOMAIN && path == "/.well-known/beckon-verification.txt"),
        "{seen:?}"
    );
}

#[tokio::test]
async fn a_custom_domain_is_routed_only_once_proven_on_sqlite() {
    a_custom_domain_is_routed_only_once_proven(TestDatabase::sqlite()).await;
}

#[tokio::test]
async fn a_custom_domain_is_routed_only_once_proven_on_postgres() {
    if let Some(db) = TestDatabase::postgres("network::custom_domain") {
        a_custom_domain_is_routed_only_once_proven(db).await;
    }
}

/// Without `--webhook-allow-private` the check refuses a domain that resolves to loopback, so it
/// cannot be pointed at Beckon's own host or the internal network.
#[tokio::test]
async fn the_domain_check_does_not_reach_internal_addresses() {
    let proof = ProofServer::start().await;
    let connect_to = proof.addr.to_string();
    let db = TestDatabase::sqlite();
    let fx = SiteFixture::start(&db, &["--domain-check-connect-to", &connect_to], SHOP).await;
    let settings = format!("/console/sites/{}/settings", fx.site.id);
    let (_, csrf, _) = settings_page(&fx).await;
    fx.app
        .post_form(&settings, &[("csrf", &csrf), ("custom_domain", DOMAIN)])
        .await;
    let (_, csrf, token) = settings_page(&fx).await;
    proof.serve(&token.expect("token"));
    fx.app
        .post_form(&format!("{settings}/domain/verify"), &[("csrf", &csrf)])
        .await;
    let (html, _, pending) = settings_page(&fx).await;
    assert!(pending.is_some(), "still pending");
    assert!(html.contains("loopback"), "the reason is shown");
    assert!(proof.seen.lock().unwrap().is_empty(), "nothing was fetched");
    assert_eq!(host_status(&fx, DOMAIN).await, 303);
}

/// "Verify now" is for the site's owners and admins: not for agents, other sites' owners, anonymous
/// visitors or a forged form.
#[tokio::test]
async fn only_a_sites_managers_may_verify_its_domain() {
    let db = TestDatabase::sqlite();
    let fx = SiteFixture::start(&db, &[], SHOP).await;
    let settings = format!("/console/sites/{}/settings", fx.site.id);
    let verify = format!("{settings}/domain/verify");
    let (_, csrf, _) = settings_page(&fx).await;
    fx.app
        .post_form(&settings, &[("csrf", &csrf), ("custom_domain", DOMAIN)])
        .await;

    let url = fx.app.database_url().to_owned();
    let site = fx.site.clone();
    tokio::task::spawn_blocking(move || {
        use beckon::domain::{DisplayName, Email, Handle, Password};
        let store = beckon::db::Db::connect(&url, 1).expect("connect");
        let mut conn = store.conn().expect("conn");
        let operator = |email: &str, handle: &str| beckon::services::accounts::NewOperator {
            email: Email::parse(email).expect("email"),
            handle: Handle::parse(handle).expect("handle"),
            display_name: DisplayName::parse("Someone").expect("name"),
            password: Password::parse("a long password 1").expect("password"),
            phone: None,
        };
        beckon::services::accounts::create_operator(
            &mut conn,
            &operator("agent@example.com", "agent"),
            Some((&site, beckon::db::models::Role::Agent)),
        )
        .expect("agent");
        beckon::services::accounts::create_operator(
            &mut conn,
            &operator("stranger@example.com", "stranger"),
            None,
        )
        .expect("stranger");
    })
    .await
    .expect("operators");

    for email in ["agent@example.com", "stranger@example.com"] {
        let client = fx.app.signed_in_client(email, "a long password 1").await;
        let page = client
            .get(fx.app.url("/console"))
            .send()
            .await
            .expect("console")
            .text()
            .await
            .expect("body");
        let csrf = beckon_tests::html::input_value(&page, "csrf").expect("csrf");
        let res = client
            .post(fx.app.url(&verify))
            .form(&[("csrf", csrf.as_str())])
            .send()
            .await
            .expect("POST verify");
        assert_eq!(res.status(), 404, "{email} may not verify the domain");
    }

    let anonymous = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let res = anonymous
        .post(fx.app.url(&verify))
        .form(&[("csrf", "x")])
        .send()
        .await
        .expect("POST verify");
    assert!(
        res.status() == 303 || res.status() == 401,
        "anonymous: {}",
        res.status()
    );
    let res = fx.app.post_form(&verify, &[("csrf", "forged")]).await;
    assert_eq!(res.status(), 403, "a forged form");
    let (_, _, token) = settings_page(&fx).await;
    assert!(token.is_some(), "still pending after all of that");
}
