//! End to end against the real binary: first-run setup, login, logout, CSRF, cookies, headers,
//! configuration errors, the CLI and shutdown.

use std::time::Duration;

use beckon_tests::{beckon_binary, html, TestApp, TestDatabase};

fn set_cookie_for<'a>(res: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("{name}=")))
}

async fn setup_login_logout(db: TestDatabase) {
    let app = TestApp::spawn(&db).await;
    assert!(app.setup_link.is_some(), "first start prints a setup link");

    let res = app.complete_setup().await;
    assert_eq!(res.status(), 303, "setup redirects");
    assert_eq!(res.headers()["location"], "/console");

    let home = app.get("/console").await;
    assert_eq!(home.status(), 200);
    let body = home.text().await.unwrap();
    assert!(
        body.contains("Olive Owner"),
        "console shows who is signed in"
    );
    assert!(
        body.contains("Demo Shop") && body.contains("/s/demo-shop"),
        "console lists the new site"
    );

    let csrf = html::input_value(&body, "csrf").expect("logout form csrf");
    let res = app.post_form("/logout", &[("csrf", &csrf)]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/login");
    let res = app.get("/console").await;
    assert_eq!(res.status(), 303, "logged out: console redirects to login");
    assert_eq!(res.headers()["location"], "/login?next=%2Fconsole");

    let res = app
        .login("owner@example.com", "correct horse battery")
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(app.get("/console").await.status(), 200, "logged in again");
}

#[tokio::test]
async fn setup_login_logout_on_sqlite() {
    setup_login_logout(TestDatabase::sqlite()).await;
}

#[tokio::test]
async fn setup_login_logout_on_postgres() {
    if let Some(db) = TestDatabase::postgres("console::setup_login_logout_on_postgres") {
        setup_login_logout(db).await;
    }
}

#[tokio::test]
async fn setup_link_works_once_and_not_after_restart() {
    let db = TestDatabase::sqlite();
    let app = TestApp::spawn(&db).await;
    let link = app.setup_link.clone().unwrap();
    let path = link.strip_prefix(&app.address).unwrap().to_owned();
    assert_eq!(app.complete_setup().await.status(), 303);
    assert_eq!(app.get(&path).await.status(), 410, "used link is gone");
    assert_eq!(app.get("/setup?token=made-up").await.status(), 410);
    drop(app);

    let again = TestApp::spawn(&db).await;
    assert!(
        again.setup_link.is_none(),
        "no setup link once an owner exists"
    );
    assert_eq!(again.get(&path).await.status(), 410);
}

#[tokio::test]
async fn wrong_password_and_unknown_email_get_the_same_answer() {
    let db = TestDatabase::sqlite();
    let app = TestApp::spawn(&db).await;
    app.complete_setup().await;
    let anon = TestApp::spawn(&db).await;

    let wrong = anon.login("owner@example.com", "not the password").await;
    let wrong_status = wrong.status();
    let wrong_body = wrong.text().await.unwrap();
    let unknown = anon.login("nobody@example.com", "not the password").await;
    assert_eq!(wrong_status, 401);
    assert_eq!(unknown.status(), 401);
    assert!(set_cookie_for(&unknown, "beckon_session").is_none());
    let unknown_body = unknown.text().await.unwrap();
    assert!(wrong_body.contains("Email or password is incorrect."));
    assert!(unknown_body.contains("Email or password is incorrect."));
}

#[tokio::test]
async fn forms_without_a_matching_csrf_token_are_refused() {
    let db = TestDatabase::sqlite();
    let app = TestApp::spawn(&db).await;
    app.complete_setup().await;

    // Logged in, but the logout form carries a wrong token: refused, still logged in.
    let res = app.post_form("/logout", &[("csrf", "forged")]).await;
    assert_eq!(res.status(), 403);
    assert_eq!(
        app.get("/console").await.status(),
        200,
        "session survives a forged logout"
    );

    // The right token from another site (by Origin) is refused too.
    let body = app.get("/console").await.text().await.unwrap();
    let csrf = html::input_value(&body, "csrf").unwrap();
    let res = app
        .client
        .post(app.url("/logout"))
        .header("Origin", "https://evil.example")
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(app.get("/console").await.status(), 200);

    // A login post from a browser with no CSRF cookie (a cross-site form) is refused.
    let fresh = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = fresh
        .post(app.url("/login"))
        .form(&[
            ("csrf", "x".repeat(43).as_str()),
            ("email", "owner@example.com"),
            ("password", "correct horse battery"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(set_cookie_for(&res, "beckon_session").is_none());
}

#[tokio::test]
async fn session_cookie_flags_and_rotation_at_login() {
    let db = TestDatabase::sqlite();
    let app = TestApp::spawn(&db).await;
    let res = app.complete_setup().await;
    let first = set_cookie_for(&res, "beckon_session")
        .expect("session cookie")
        .to_owned();
    assert!(first.contains("HttpOnly"), "{first}");
    assert!(first.contains("SameSite=Lax"), "{first}");
    assert!(first.contains("Path=/"), "{first}");
    assert!(
        !first.contains("Secure"),
        "plain http base URL: no Secure flag: {first}"
    );

    let res = app
        .login("owner@example.com", "correct horse battery")
        .await;
    let second = set_cookie_for(&res, "beckon_session")
        .expect("new session cookie")
        .to_owned();
    let value = |c: &str| c.split(';').next().unwrap().to_owned();
    assert_ne!(
        value(&first),
        value(&second),
        "login issues a new session id"
    );

    // The pre-login session no longer works.
    let old = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = old
        .get(app.url("/console"))
        .header("Cookie", value(&first))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "old session id was ended at login");

    // With an https public URL the cookie is Secure.
    let db2 = TestDatabase::sqlite();
    let secure = TestApp::builder(&db2)
        .args(["--base-url", "https://chat.example.test"])
        .spawn()
        .await;
    let link = secure.setup_link.clone().unwrap();
    assert!(
        link.starts_with("https://chat.example.test/setup?token="),
        "{link}"
    );
    let page = secure
        .get(&format!(
            "/setup?token={}",
            link.split("token=").nth(1).unwrap()
        ))
        .await;
    let csrf_cookie = set_cookie_for(&page, "beckon_csrf").unwrap().to_owned();
    assert!(
        csrf_cookie.contains("Secure") && csrf_cookie.contains("SameSite=Strict"),
        "{csrf_cookie}"
    );
}

#[tokio::test]
async fn login_attempts_are_rate_limited() {
    let db = TestDatabase::sqlite();
    let app = TestApp::builder(&db)
        .args(["--login-attempts-per-minute", "3"])
        .spawn()
        .await;
    // Set up first: until an owner exists the login page shows the setup hint, not a form.
    assert_eq!(app.complete_setup().await.status(), 303);
    for _ in 0..3 {
        assert_eq!(
            app.login("owner@example.com", "wrong password")
                .await
                .status(),
            401
        );
    }
    let res = app.login("owner@example.com", "wrong password").await;
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn console_pages_carry_security_headers() {
    let db = TestDatabase::sqlite();
    let app = TestApp::spawn(&db).await;
    let res = app.get("/login").await;
    assert_eq!(res.status(), 200);
    let h = res.headers();
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(csp.contains("script-src 'self' 'nonce-"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "same-origin");
    assert_eq!(h["x-frame-options"], "DENY");
    let nonce_a = csp
        .split("'nonce-")
        .nth(1)
        .unwrap()
        .split('\'')
        .next()
        .unwrap()
        .to_owned();
    let again = app.get("/login").await;
    let csp_b = again.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(!csp_b.contains(&nonce_a), "a fresh nonce per response");
}

#[tokio::test]
async fn health_and_readiness_probes_answer() {
    let db = TestDatabase::sqlite();
    let app = TestApp::spawn(&db).await;
    let res = app.get("/healthz").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "ok");
    assert_eq!(app.get("/readyz").await.status(), 200);
    assert_eq!(app.get("/no-such-page").await.status(), 404);
}

#[tokio::test]
async fn oversized_and_malformed_forms_get_4xx() {
    let db = TestDatabase::sqlite();
    let app = TestApp::spawn(&db).await;
    assert_eq!(app.complete_setup().await.status(), 303);
    let csrf = app.csrf_of("/login").await;
    let huge = "x".repeat(200 * 1024);
    let res = app
        .post_form(
            "/login",
            &[("csrf", &csrf), ("email", &huge), ("password", "x")],
        )
        .await;
    assert_eq!(res.status(), 413);
    let res = app
        .client
        .post(app.url("/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("csrf=")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400, "missing fields");
    assert_eq!(app.get("/healthz").await.status(), 200, "server still up");
}

#[tokio::test]
async fn sigterm_stops_the_server_promptly() {
    let db = TestDatabase::sqlite();
    let mut app = TestApp::spawn(&db).await;
    let status = app
        .terminate(Duration::from_secs(5))
        .expect("exited within 5 s");
    assert!(status.success(), "clean exit: {status:?}");
}

#[test]
fn invalid_settings_stop_start_up_with_one_line() {
    let out = std::process::Command::new(beckon_binary())
        .args([
            "--session-idle-minutes",
            "0",
            "--data-dir",
            "/nonexistent-never-created",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("session-idle-minutes"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("beckon.toml");
    std::fs::write(&cfg, "listen = \"not an address\"\n").unwrap();
    let out = std::process::Command::new(beckon_binary())
        .arg("--config")
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("invalid setting `config`") && err.contains("beckon.toml"),
        "{err}"
    );
}

#[test]
fn help_documents_every_setting() {
    let out = std::process::Command::new(beckon_binary())
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--config",
        "--listen",
        "--base-url",
        "--data-dir",
        "--database-url",
        "--db-pool-size",
        "--trusted-proxies",
        "--session-idle-minutes",
        "--session-max-hours",
        "--setup-link-minutes",
        "--login-attempts-per-minute",
        "--shutdown-timeout-secs",
        "--log",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}");
    }
    assert!(
        help.contains("BECKON_LISTEN"),
        "--help names the environment variables"
    );
}

#[tokio::test]
async fn cli_creates_sites_and_operators_that_can_log_in() {
    let db = TestDatabase::sqlite();
    let data = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(beckon_binary())
            .args(["--database-url", &db.url(), "--data-dir"])
            .arg(data.path())
            .args(args)
            .env("BECKON_OPERATOR_PASSWORD", "scripted password 1")
            .output()
            .unwrap()
    };
    let out = run(&["migrate"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&[
        "operator",
        "add",
        "--email",
        "sam@example.com",
        "--handle",
        "sam",
        "--name",
        "Sam",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&[
        "site",
        "add",
        "--name",
        "Sam's Site",
        "--owner",
        "sam@example.com",
        "--origins",
        "https://sam.example",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(printed.contains("/s/sam-s-site"), "{printed}");
    let out = run(&[
        "operator",
        "add",
        "--email",
        "sam@example.com",
        "--handle",
        "sam2",
        "--name",
        "Sam",
    ]);
    assert!(!out.status.success(), "duplicate email refused");
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));

    let app = TestApp::spawn(&db).await;
    assert!(
        app.setup_link.is_none(),
        "an owner exists, so no setup link"
    );
    assert_eq!(
        app.login("sam@example.com", "scripted password 1")
            .await
            .status(),
        303
    );
    let body = app.get("/console").await.text().await.unwrap();
    assert!(
        body.contains("Sam&#39;s Site") || body.contains("Sam's Site"),
        "{body}"
    );
}
