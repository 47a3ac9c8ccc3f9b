//! The console as a new owner meets it, in real headless Chromium: the login page of a new
//! installation points to the setup link, setup runs from that link, every console page loads with
//! a clean browser console and fits a 1366 px window (a screenshot of each is kept under
//! `target/screenshots/console_pages/`), and a signed-in owner is available to visitors from any
//! console page, with a working Available/Away switch in the header.

use std::path::PathBuf;
use std::time::Duration;

use beckon::db::models::Site;
use beckon::db::Db;
use beckon_tests::{Browser, HostSite, SiteFixture, TestApp, TestDatabase};

const WAIT: Duration = Duration::from_secs(10);

/// Where this suite's screenshots go.
fn screenshot_path(name: &str) -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../target/screenshots/console_pages"
    ))
    .join(format!("{name}.png"))
}

/// Opens the setup link the server printed in `browser`, creates the owner (Olive, `olive`) and the
/// site "Demo Shop" allowed on `allowed_origins` (empty: any), and waits for the console home.
async fn set_up_in_browser(browser: &Browser, app: &TestApp, allowed_origins: &str) {
    let link = app
        .setup_link
        .clone()
        .expect("the server printed a setup link");
    browser.goto(&link).await;
    browser
        .eval(&format!(
            r#"const f = document.querySelector('form[action="/setup"]');
               f.elements.display_name.value = 'Olive Owner';
               f.elements.email.value = 'owner@example.com';
               f.elements.handle.value = 'olive';
               f.elements.password.value = 'correct horse battery';
               f.elements.site_name.value = 'Demo Shop';
               f.elements.allowed_origins.value = {allowed_origins:?};
               if (!f.checkValidity()) return 'invalid: ' + Array.from(f.elements).filter(e => !e.checkValidity()).map(e => e.name).join();
               f.requestSubmit(); return true;"#
        ))
        .await;
    assert!(
        browser
            .wait_for("return location.pathname === '/console'", WAIT)
            .await,
        "setup from the link leads to the console home"
    );
}

/// The site with `slug`, read from the server's database.
async fn load_site(app: &TestApp, slug: &'static str) -> Site {
    let url = app.database_url().to_owned();
    tokio::task::spawn_blocking(move || {
        let db = Db::connect(&url, 1).expect("connect");
        let mut conn = db.conn().expect("conn");
        Site::find_by_slug(&mut conn, slug)
            .expect("query")
            .expect("site")
    })
    .await
    .expect("load site")
}

/// A fixture for the owner signed in in `browser` (its session cookie, for sockets and HTTP).
async fn fixture_of(browser: &Browser, app: TestApp) -> SiteFixture {
    let cookie = browser
        .client
        .get_named_cookie("beckon_session")
        .await
        .expect("session cookie in the browser");
    let session_cookie = format!("beckon_session={}", cookie.value());
    let site = load_site(&app, "demo-shop").await;
    SiteFixture {
        app,
        site,
        session_cookie,
    }
}

/// The header's availability control is shown and says `text`.
fn header_says(text: &str) -> String {
    format!(
        "const box = document.querySelector('[data-availability]'); \
         const t = document.getElementById('availability-text'); \
         return !!box && !box.hidden && box.offsetParent !== null && !!t && t.textContent === {text:?};"
    )
}

/// Chooses `status` (available, away) with the header's switch.
async fn choose(browser: &Browser, status: &str) {
    browser
        .eval(&format!(
            "const s = document.getElementById('beckon-availability'); s.value = {status:?}; \
             s.dispatchEvent(new Event('change', {{bubbles: true}})); return true;"
        ))
        .await;
}

/// Checks the page `browser` shows: no console errors or warnings since the last check, nothing
/// wider than the 1366 px window, and a screenshot named `name`.
async fn check_page(browser: &Browser, name: &str) {
    assert!(
        browser
            .wait_for("return document.readyState === 'complete'", WAIT)
            .await,
        "{name}: loaded"
    );
    let signed_in = browser
        .eval("return !!document.querySelector('[data-availability]')")
        .await;
    if signed_in == serde_json::Value::Bool(true) {
        // The page's console socket is up and the switch shows the server's answer.
        assert!(
            browser
                .wait_for(
                    "const t = document.getElementById('availability-text'); \
                     const box = document.querySelector('[data-availability]'); \
                     return !box.hidden && t.textContent !== 'Offline';",
                    WAIT
                )
                .await,
            "{name}: the availability switch is shown and connected"
        );
    }
    browser.screenshot(screenshot_path(name)).await;
    let widths = browser
        .eval("return [document.documentElement.scrollWidth, window.innerWidth]")
        .await;
    let scroll = widths[0].as_i64().unwrap_or(i64::MAX);
    let inner = widths[1].as_i64().unwrap_or(0);
    assert!(
        scroll <= 1366 && scroll <= inner,
        "{name}: the page is {scroll} px wide in a {inner} px window"
    );
    let problems: Vec<String> = browser
        .console_log()
        .await
        .into_iter()
        .filter(|line| line.starts_with("SEVERE") || line.starts_with("WARNING"))
        .collect();
    assert!(
        problems.is_empty(),
        "{name}: the browser console is not clean: {problems:#?}"
    );
}

/// Like [`check_page`] for a page answered with an error status on purpose (404, 403): Chromium
/// reports the document's own status as a failed resource; anything else must not appear.
async fn check_error_page(browser: &Browser, name: &str, status: u16) {
    let expected = format!("the server responded with a status of {status}");
    let problems: Vec<String> = browser
        .console_log()
        .await
        .into_iter()
        .filter(|line| line.starts_with("SEVERE") || line.starts_with("WARNING"))
        .filter(|line| !line.contains(&expected))
        .collect();
    assert!(problems.is_empty(), "{name}: {problems:#?}");
    check_page(browser, name).await;
}

/// A second site, "Partner Shop", on which the owner is only an agent (its webhooks are forbidden
/// to them); its id.
async fn partner_site_as_agent(fx: &SiteFixture) -> String {
    let url = fx.app.database_url().to_owned();
    tokio::task::spawn_blocking(move || {
        use beckon::services::accounts;
        let db = Db::connect(&url, 1).expect("connect");
        let mut conn = db.conn().expect("conn");
        let new = accounts::NewSite {
            name: beckon::domain::SiteName::parse("Partner Shop").expect("name"),
            slug: beckon::domain::SiteSlug::parse("partner-shop").expect("slug"),
            allowed_origins: beckon::domain::AllowedOrigins::parse("").expect("origins"),
        };
        let site = accounts::create_site(&mut conn, &new, None).expect("site");
        let owner = beckon::db::models::Operator::find_by_email(&mut conn, "owner@example.com")
            .expect("query")
            .expect("owner");
        accounts::add_member(
            &mut conn,
            &site.id,
            &owner.id,
            beckon::db::models::Role::Agent,
        )
        .expect("member");
        site.id.to_string()
    })
    .await
    .expect("partner site")
}

/// A webhook on the demo site whose long URL shows on the Webhooks and Deliveries pages.
async fn add_webhook(fx: &SiteFixture) {
    let url = fx.app.database_url().to_owned();
    let site_id = fx.site.id.clone();
    tokio::task::spawn_blocking(move || {
        use beckon::services::webhooks;
        let db = Db::connect(&url, 1).expect("connect");
        let mut conn = db.conn().expect("conn");
        let all: Vec<String> = beckon::outbound::events::ALL
            .iter()
            .map(|e| (*e).to_owned())
            .collect();
        let new = webhooks::NewWebhook::parse(
            "https://hooks.example.invalid/beckon/a-rather-long-path/that-keeps-going/and-going/for-the-width-check?token=abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz",
            &all,
        )
        .expect("webhook");
        webhooks::create(&mut conn, &site_id, &new).expect("create webhook");
    })
    .await
    .expect("webhook");
}

/// The id of a visitor of the demo site.
async fn a_visitor_of(fx: &SiteFixture) -> String {
    let url = fx.app.database_url().to_owned();
    let site_id = fx.site.id.clone();
    tokio::task::spawn_blocking(move || {
        use beckon::db::schema::visitors;
        use diesel::prelude::*;
        let db = Db::connect(&url, 1).expect("connect");
        let mut conn = db.conn().expect("conn");
        visitors::table
            .filter(visitors::site_id.eq(&site_id))
            .select(visitors::id)
            .first::<String>(&mut *conn)
            .expect("a visitor")
    })
    .await
    .expect("visitor id")
}

#[tokio::test]
async fn every_console_page_is_clean_and_fits_a_1366_window() {
    let Some(browser) = Browser::launch("console_pages::every_console_page_is_clean").await else {
        return;
    };
    browser
        .client
        .set_window_size(1366, 768)
        .await
        .expect("window size");
    let db = TestDatabase::sqlite();
    let app = TestApp::spawn(&db).await;

    // A new installation: the login page says where the setup link is, and has no login form.
    browser.goto(&app.url("/login")).await;
    let hint = browser
        .eval("return [document.body.innerText, !!document.querySelector('input[type=password]')]")
        .await;
    assert!(
        hint[0].as_str().unwrap_or("").contains("setup link")
            && hint[0].as_str().unwrap_or("").contains("beckon setup-link"),
        "the login page points to the setup link: {hint}"
    );
    assert_eq!(hint[1], false, "no login form before setup");
    check_page(&browser, "01-login-before-setup").await;

    let link = app.setup_link.clone().expect("setup link");
    browser.goto(&link).await;
    let handle_pattern_ok = browser
        .eval(
            "const h = document.querySelector('input[name=handle]'); h.value = 'ol'; \
             const short = h.validity.patternMismatch; h.value = 'olive-o_1'; const ok = !h.validity.patternMismatch; \
             h.value = '-olive'; const bad = h.validity.patternMismatch; h.value = ''; return [short, ok, bad];",
        )
        .await;
    assert_eq!(
        handle_pattern_ok,
        serde_json::json!([false, true, true]),
        "the handle pattern compiles and checks handles"
    );
    check_page(&browser, "02-setup").await;
    set_up_in_browser(&browser, &app, "").await;
    check_page(&browser, "03-home-new").await;

    // Something to show: a visitor with a chat (Trail, Chats, History), a second site as agent.
    let fx = fixture_of(&browser, app).await;
    let origin = "http://shop.example";
    add_webhook(&fx).await;
    let chat = fx.accepted_chat(origin, "Gina").await;
    let mut tab = chat.tab;
    tab.send(serde_json::json!({"type": "send", "conversation_id": chat.conversation_id,
        "client_msg_id": "m1", "body": "Hello, does the tent fit four people? https://shop.example/products/tent-for-four-people-with-a-very-long-address-that-must-wrap-inside-its-card"}))
        .await;
    let _ = tab.next_of_type("message", WAIT).await;
    assert_eq!(
        fx.beacon(
            origin,
            &chat.token,
            "https://shop.example/products/a-very-long-product-path-that-goes-on-and-on-and-on-and-on-and-on-and-on-and-on-and-on-and-on?utm_source=newsletter&utm_campaign=winter",
            "Tent"
        )
        .await,
        202,
        "page view beacon"
    );
    drop(chat.console);
    let partner = partner_site_as_agent(&fx).await;
    let visitor = a_visitor_of(&fx).await;
    let site = fx.site.id.clone();

    let pages: Vec<(String, String)> = vec![
        ("04-home".into(), "/console".into()),
        (
            "05-live-visitors".into(),
            format!("/console/sites/{site}/visitors"),
        ),
        (
            "06-trail".into(),
            format!("/console/sites/{site}/visitors/{visitor}"),
        ),
        ("07-embed".into(), format!("/console/sites/{site}/embed")),
        (
            "08-settings".into(),
            format!("/console/sites/{site}/settings"),
        ),
        (
            "09-webhooks".into(),
            format!("/console/sites/{site}/webhooks"),
        ),
        (
            "10-offline".into(),
            format!("/console/sites/{site}/offline"),
        ),
        ("11-chats".into(), "/console/chats".into()),
        ("12-history".into(), "/console/history?q=tent".into()),
        (
            "13-history-transcript".into(),
            format!("/console/history?q=tent&c={}", chat.conversation_id),
        ),
        ("14-deliveries".into(), "/console/deliveries".into()),
        (
            "15-partner-embed".into(),
            format!("/console/sites/{partner}/embed"),
        ),
    ];
    for (name, path) in &pages {
        browser.goto(&fx.app.url(path)).await;
        if name == "11-chats" {
            assert!(
                browser
                    .wait_for(
                        "return document.querySelectorAll('.conv-item').length >= 1",
                        WAIT
                    )
                    .await,
                "the chat is listed"
            );
        }
        check_page(&browser, name).await;
    }
    browser
        .goto(&fx.app.url("/console/sites/no-such-site/embed"))
        .await;
    check_error_page(&browser, "16-not-found", 404).await;
    browser
        .goto(&fx.app.url(&format!("/console/sites/{partner}/webhooks")))
        .await;
    let forbidden = browser.eval("return document.body.innerText").await;
    assert!(
        forbidden
            .as_str()
            .unwrap_or("")
            .contains("owners and admins"),
        "the agent is told why: {forbidden}"
    );
    check_error_page(&browser, "17-forbidden", 403).await;
    browser.goto(&link).await;
    check_error_page(&browser, "18-setup-link-used", 410).await;

    // Signed out, the login page offers the form again.
    browser.goto(&fx.app.url("/console")).await;
    browser
        .eval("document.querySelector('form.logout').submit(); return true;")
        .await;
    assert!(
        browser
            .wait_for(
                "return !!document.querySelector('input[type=password]')",
                WAIT
            )
            .await,
        "after setup the login page has its form"
    );
    check_page(&browser, "19-login").await;
    browser.close().await;
}

/// The visitor's panel offers `mode` ("chat": the composer, "offline": leave a message).
fn panel_mode(mode: &str) -> String {
    format!("return window.__beckonPanel.state().mode === {mode:?};")
}

/// What the site's status badge says.
async fn badge(fx: &SiteFixture) -> String {
    let svg = fx
        .app
        .get("/s/demo-shop/status.svg")
        .await
        .text()
        .await
        .expect("badge");
    if svg.contains("Live help: online") {
        "online".into()
    } else {
        "offline".into()
    }
}

/// Waits until the badge says `want`.
async fn badge_says(fx: &SiteFixture, want: &str) -> bool {
    let deadline = tokio::time::Instant::now() + WAIT;
    while tokio::time::Instant::now() < deadline {
        if badge(fx).await == want {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test]
async fn a_signed_in_owner_is_available_from_every_console_page() {
    let Some((visitor, owner)) =
        Browser::launch_pair("console_pages::a_signed_in_owner_is_available").await
    else {
        return;
    };
    let db = TestDatabase::sqlite();
    let app = TestApp::spawn(&db).await;
    // Right after setup the owner stays on the console home.
    set_up_in_browser(&owner, &app, "").await;
    let fx = fixture_of(&owner, app).await;
    let shop = HostSite::start(&fx.app.address, &fx.site.public_key).await;
    assert_ne!(shop.origin, fx.app.address, "the shop is another origin");
    assert!(
        owner.wait_for(&header_says("Available"), WAIT).await,
        "home: the switch says Available"
    );
    assert!(
        badge_says(&fx, "online").await,
        "the badge says online right after setup"
    );

    // The visitor on the shop opens the panel: a live chat is offered, not leave-a-message.
    visitor.goto(&shop.url("/products/tent")).await;
    assert!(
        visitor
            .wait_for("const r = document.getElementById('beckon-root'); return !!(r && r.shadowRoot && r.shadowRoot.querySelector('button.launcher'))", WAIT)
            .await,
        "launcher shown"
    );
    visitor
        .eval("document.getElementById('beckon-root').shadowRoot.querySelector('button.launcher').click(); return true;")
        .await;
    visitor.enter_widget_panel().await;
    assert!(
        visitor.wait_for(&panel_mode("chat"), WAIT).await,
        "the visitor is offered a live chat while the owner is on the console home"
    );

    let site = fx.site.id.clone();
    let pages = [
        ("home", "/console".to_owned()),
        ("embed", format!("/console/sites/{site}/embed")),
        ("settings", format!("/console/sites/{site}/settings")),
        ("history", "/console/history".to_owned()),
    ];
    for (name, path) in &pages {
        owner.goto(&fx.app.url(path)).await;
        assert!(
            owner.wait_for(&header_says("Available"), WAIT).await,
            "{name}: the switch is shown and says Available"
        );
        assert!(
            visitor.wait_for(&panel_mode("chat"), WAIT).await,
            "{name}: the visitor can chat"
        );
        assert!(badge_says(&fx, "online").await, "{name}: badge online");

        // Away: the visitor is offered leave-a-message within seconds.
        choose(&owner, "away").await;
        assert!(
            owner.wait_for(&header_says("Away"), WAIT).await,
            "{name}: switched to Away"
        );
        assert!(
            visitor
                .wait_for(&panel_mode("offline"), Duration::from_secs(5))
                .await,
            "{name}: the visitor sees leave-a-message once the owner is away"
        );
        assert!(badge_says(&fx, "offline").await, "{name}: badge offline");

        // And back.
        choose(&owner, "available").await;
        assert!(
            owner.wait_for(&header_says("Available"), WAIT).await,
            "{name}: switched back"
        );
        assert!(
            visitor
                .wait_for(&panel_mode("chat"), Duration::from_secs(5))
                .await,
            "{name}: the visitor can chat again"
        );
    }

    // On the home page the "Go online" step follows the switch.
    owner.goto(&fx.app.url("/console")).await;
    assert!(owner.wait_for(&header_says("Available"), WAIT).await);
    let online_step = "return document.querySelector('[data-step-online]').dataset.done";
    assert!(
        owner
            .wait_for(&format!("{online_step} === 'true'"), WAIT)
            .await,
        "the Go online step is done while available"
    );
    choose(&owner, "away").await;
    assert!(
        owner
            .wait_for(&format!("{online_step} === 'false'"), WAIT)
            .await,
        "the Go online step is not done while away"
    );
    choose(&owner, "available").await;

    // Signing out takes the owner offline.
    owner
        .eval("document.querySelector('form.logout').submit(); return true;")
        .await;
    assert!(
        visitor.wait_for(&panel_mode("offline"), WAIT).await,
        "signed out, the owner is not available"
    );
    visitor.close().await;
    owner.close().await;
}

#[tokio::test]
async fn the_setup_link_can_be_printed_again_from_the_command_line() {
    let db = TestDatabase::sqlite();
    let app = TestApp::spawn(&db).await;
    let first = app.setup_link.clone().expect("setup link at start");

    let login = app.get("/login").await.text().await.expect("login page");
    assert!(login.contains("beckon setup-link"), "{login}");
    assert!(
        !login.contains(r#"type="password""#),
        "no login form before setup"
    );

    // The favicon the layout links is served, as SVG, cached for long.
    let icon = login
        .split(r#"rel="icon""#)
        .nth(1)
        .and_then(|rest| rest.split(r#"href=""#).nth(1))
        .and_then(|rest| rest.split('"').next())
        .expect("a favicon link")
        .to_owned();
    let res = app.get(&icon).await;
    assert_eq!(res.status(), 200, "{icon}");
    assert_eq!(res.headers()["content-type"], "image/svg+xml");
    assert!(res.headers()["cache-control"]
        .to_str()
        .unwrap_or("")
        .contains("max-age=31536000"));
    assert!(res.text().await.expect("svg").starts_with("<svg"));

    let run = |args: Vec<String>| {
        std::process::Command::new(beckon_tests::beckon_binary())
            .args(args)
            .env_remove("DATABASE_URL")
            .output()
            .expect("run beckon setup-link")
    };
    let args = vec![
        "--database-url".to_owned(),
        app.database_url().to_owned(),
        "--data-dir".to_owned(),
        app.data_dir.path().display().to_string(),
        "--base-url".to_owned(),
        "https://chat.example.com".to_owned(),
        "setup-link".to_owned(),
    ];
    let out = tokio::task::spawn_blocking({
        let args = args.clone();
        move || run(args)
    })
    .await
    .expect("cli");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let link = stdout
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("https://chat.example.com/setup?token="))
        .unwrap_or_else(|| panic!("a link with the configured base URL: {stdout}"))
        .to_owned();

    // The new link works on the running server; the one printed at start no longer does.
    let old_path = first.strip_prefix(&app.address).expect("on this server");
    assert_eq!(
        app.get(old_path).await.status(),
        410,
        "the old link is replaced"
    );
    let new_path = link
        .strip_prefix("https://chat.example.com")
        .expect("base URL");
    assert_eq!(
        app.get(new_path).await.status(),
        200,
        "the new link opens setup"
    );

    // Once an owner exists the command refuses, and the login page has its form.
    let mut app = app;
    app.setup_link = Some(format!("{}{new_path}", app.address));
    assert_eq!(
        app.complete_setup().await.status(),
        303,
        "setup with the new link"
    );
    let out = tokio::task::spawn_blocking(move || run(args))
        .await
        .expect("cli");
    assert!(!out.status.success(), "no setup link once set up");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("already set up"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let login = app.get("/login").await.text().await.expect("login page");
    assert!(
        login.contains(r#"type="password""#),
        "the login form is back"
    );
}
