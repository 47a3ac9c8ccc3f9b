//! Where the widget may run: a page on an origin the site does not allow is refused in a way the
//! loader can read (no launcher), recorded for the owner (Embed page, console home) and allowed with
//! one click; a sandboxed frame (opaque origin) is explained; and a host page with a strict
//! Content-Security-Policy made of the Embed page's directives runs the widget end to end.

use std::time::Duration;

use beckon::db::models::{Role, Site};
use beckon::db::Db;
use beckon_tests::{eventually_async, Browser, HostSite, SiteFixture, TestApp, TestDatabase};

const WAIT: Duration = Duration::from_secs(10);

/// Where this file's screenshots go (kept as CI artifacts).
const SCREENSHOTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/screenshots/origins");

/// The site's Embed page as the owner sees it.
async fn embed_page(fx: &SiteFixture) -> String {
    fx.app
        .get(&format!("/console/sites/{}/embed", fx.site.id))
        .await
        .text()
        .await
        .expect("embed page")
}

/// The text of `<pre id="csp-directives">` on an Embed page.
fn csp_directives_of(html: &str) -> String {
    let start = html
        .find(r#"<pre id="csp-directives">"#)
        .expect("the Embed page shows the CSP directives")
        + r#"<pre id="csp-directives">"#.len();
    let end = start + html[start..].find("</pre>").expect("end of the directives");
    html[start..end]
        .replace("&#39;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Posts a guest request from `origin` with `referer`; status, `Access-Control-Allow-Origin` and body.
async fn guest_from(
    fx: &SiteFixture,
    origin: &str,
    referer: &str,
) -> (u16, Option<String>, serde_json::Value) {
    let res = reqwest::Client::new()
        .post(fx.app.url("/api/v1/visitors"))
        .header("Origin", origin)
        .header("Referer", referer)
        .header("Content-Type", "text/plain;charset=UTF-8")
        .body(serde_json::json!({"site_key": fx.site.public_key, "token": null}).to_string())
        .send()
        .await
        .expect("POST visitors");
    let status = res.status().as_u16();
    let acao = res
        .headers()
        .get("access-control-allow-origin")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (
        status,
        acao,
        res.json().await.unwrap_or(serde_json::Value::Null),
    )
}

/// The site's allowed origins as stored.
async fn allowed_origins(fx: &SiteFixture) -> Vec<String> {
    let url = fx.app.database_url().to_owned();
    let id = fx.site.id.to_string();
    tokio::task::spawn_blocking(move || {
        let db = Db::connect(&url, 1).expect("connect");
        let mut conn = db.conn().expect("conn");
        Site::get(&mut conn, &id).expect("site").allowed_origins()
    })
    .await
    .expect("read site")
}

/// The CSRF token on a console page, read with `client`.
async fn csrf_with(client: &reqwest::Client, app: &TestApp, path: &str) -> String {
    let body = client
        .get(app.url(path))
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("body");
    beckon_tests::html::input_value(&body, "csrf").expect("csrf")
}

/// Adds Agnes, an agent of the site, and Mallory, the owner of another site.
async fn add_agent_and_stranger(fx: &SiteFixture) {
    let url = fx.app.database_url().to_owned();
    tokio::task::spawn_blocking(move || {
        use beckon::domain::{
            AllowedOrigins, DisplayName, Email, Handle, Password, SiteName, SiteSlug,
        };
        use beckon::services::accounts::{self, NewOperator, NewSite};
        let db = Db::connect(&url, 1).expect("connect");
        let mut conn = db.conn().expect("conn");
        let site = Site::find_by_slug(&mut conn, "demo-shop")
            .expect("query")
            .expect("site");
        let person = |email: &str, handle: &str, name: &str| NewOperator {
            email: Email::parse(email).expect("email"),
            handle: Handle::parse(handle).expect("handle"),
            display_name: DisplayName::parse(name).expect("name"),
            password: Password::parse("a long password 1").expect("password"),
            phone: None,
        };
        accounts::create_operator(
            &mut conn,
            &person("agent@example.com", "agnes", "Agnes Agent"),
            Some((&site, Role::Agent)),
        )
        .expect("agent");
        let mallory = accounts::create_operator(
            &mut conn,
            &person("mallory@example.com", "mallory", "Mallory"),
            None,
        )
        .expect("stranger");
        accounts::create_site(
            &mut conn,
            &NewSite {
                name: SiteName::parse("Other Shop").expect("name"),
                slug: SiteSlug::parse("other-shop").expect("slug"),
                allowed_origins: AllowedOrigins::parse("").expect("origins"),
            },
            Some(&mallory),
        )
        .expect("other site");
    })
    .await
    .expect("add people");
}

#[tokio::test]
async fn a_refused_origin_is_answered_readably_recorded_and_allowed_by_an_owner() {
    let db = TestDatabase::sqlite();
    let fx = SiteFixture::start(&db, &[], "https://shop.example").await;
    let evil = "https://elsewhere.example";

    // The refusal is readable by the page: 403, the code, and CORS for that origin.
    let (status, acao, body) = guest_from(&fx, evil, "https://elsewhere.example/cart?id=1").await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"], "origin_not_allowed");
    assert_eq!(acao.as_deref(), Some(evil));
    let (status, acao, _) = guest_from(&fx, "null", "").await;
    assert_eq!(status, 403);
    assert_eq!(
        acao.as_deref(),
        Some("null"),
        "an opaque origin reads it too"
    );
    // Allowed origins still get their guest.
    let (status, acao, _) = guest_from(&fx, "https://shop.example", "").await;
    assert_eq!(status, 201);
    assert_eq!(acao.as_deref(), Some("https://shop.example"));
    // Beacons from the refused origin are refused the same readable way.
    let res = reqwest::Client::new()
        .post(fx.app.url("/api/v1/beacon"))
        .header("Origin", evil)
        .body(
            serde_json::json!({"k": fx.site.public_key, "t": "x", "u": "https://elsewhere.example/"})
                .to_string(),
        )
        .send()
        .await
        .expect("beacon");
    assert_eq!(res.status(), 403);
    assert_eq!(
        res.headers()
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok()),
        Some(evil)
    );

    // The owner sees it: on the Embed page with the count and example page, and on the home page.
    let page = embed_page(&fx).await;
    assert!(
        page.contains("A page on <code class=\"origin\">https://elsewhere.example</code> tried to load the widget and was refused"),
        "{page}"
    );
    assert!(page.contains("https://elsewhere.example/cart?id=1"));
    assert!(page.contains("Allow this origin"));
    assert!(
        page.contains("allow-same-origin"),
        "the opaque origin is explained"
    );
    let home = fx.app.get("/console").await.text().await.expect("home");
    assert!(
        home.contains("tried to load the widget and was refused"),
        "{home}"
    );

    // Who may press the button: not another site's owner, not an agent, not without a session or
    // a valid CSRF token.
    add_agent_and_stranger(&fx).await;
    let allow_path = format!("/console/sites/{}/refused-origins/allow", fx.site.id);
    let stranger = fx
        .app
        .signed_in_client("mallory@example.com", "a long password 1")
        .await;
    let csrf = csrf_with(&stranger, &fx.app, "/console").await;
    let res = stranger
        .post(fx.app.url(&allow_path))
        .form(&[("csrf", csrf.as_str()), ("origin", evil)])
        .send()
        .await
        .expect("POST");
    assert_eq!(res.status(), 404, "another site's owner");
    let agent = fx
        .app
        .signed_in_client("agent@example.com", "a long password 1")
        .await;
    let csrf = csrf_with(&agent, &fx.app, "/console").await;
    let agent_embed = agent
        .get(fx.app.url(&format!("/console/sites/{}/embed", fx.site.id)))
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("body");
    assert!(
        agent_embed.contains("https://elsewhere.example"),
        "an agent sees it"
    );
    assert!(
        !agent_embed.contains("Allow this origin"),
        "but has no button"
    );
    let res = agent
        .post(fx.app.url(&allow_path))
        .form(&[("csrf", csrf.as_str()), ("origin", evil)])
        .send()
        .await
        .expect("POST");
    assert_eq!(res.status(), 404, "an agent");
    let res = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .post(fx.app.url(&allow_path))
        .form(&[("csrf", "x"), ("origin", evil)])
        .send()
        .await
        .expect("POST");
    assert!(
        res.status() == 303 || res.status() == 403,
        "no session: {}",
        res.status()
    );
    let res = fx
        .app
        .post_form(&allow_path, &[("csrf", "forged"), ("origin", evil)])
        .await;
    assert_eq!(res.status(), 403, "bad CSRF token");
    assert_eq!(allowed_origins(&fx).await, ["https://shop.example"]);

    // An opaque origin cannot be allowed.
    let csrf = fx.app.csrf_of("/console").await;
    let res = fx
        .app
        .post_form(&allow_path, &[("csrf", &csrf), ("origin", "null")])
        .await;
    assert_eq!(res.status(), 422);

    // The owner allows the origin: it is added exactly, the notice goes, the widget works there.
    let res = fx
        .app
        .post_form(&allow_path, &[("csrf", &csrf), ("origin", evil)])
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        allowed_origins(&fx).await,
        ["https://shop.example", "https://elsewhere.example"]
    );
    let page = embed_page(&fx).await;
    assert!(
        !page.contains("https://elsewhere.example/cart"),
        "notice gone"
    );
    let (status, _, _) = guest_from(&fx, evil, "").await;
    assert_eq!(status, 201, "the allowed origin gets a guest");

    // The opaque origin's notice is dismissed.
    let dismiss = format!("/console/sites/{}/refused-origins/dismiss", fx.site.id);
    let res = fx
        .app
        .post_form(&dismiss, &[("csrf", &csrf), ("origin", "null")])
        .await;
    assert_eq!(res.status(), 303);
    let page = embed_page(&fx).await;
    assert!(!page.contains("refused-origin\""), "{page}");
}

#[tokio::test]
async fn refused_origins_are_bounded_and_visitor_text_is_escaped() {
    let db = TestDatabase::sqlite();
    let fx = SiteFixture::start(&db, &[], "https://shop.example").await;
    for i in 0..25 {
        let (status, _, _) = guest_from(
            &fx,
            &format!("https://spam{i}.example"),
            "https://spam.example/<img src=x onerror=alert(1)>\"'",
        )
        .await;
        assert_eq!(status, 403);
    }
    // The same origin again and again is one row, counted.
    for _ in 0..5 {
        guest_from(&fx, "https://spam24.example", "").await;
    }
    let page = embed_page(&fx).await;
    assert_eq!(
        page.matches("class=\"refused-origin\"").count(),
        20,
        "at most 20 kept per site"
    );
    assert!(
        page.contains("https://spam24.example"),
        "the latest are kept"
    );
    assert!(!page.contains("https://spam0.example<"), "the oldest go");
    assert!(!page.contains("<img src=x"), "the Referer is text");
    // A hostile Origin header is not a recordable origin and leaves no trace.
    let (status, _, _) = guest_from(&fx, "https://x\"><script>alert(1)</script>", "").await;
    assert_eq!(status, 403);
    let page = embed_page(&fx).await;
    assert!(!page.contains("<script>alert(1)"));
}

/// Polls the owner's Embed page until it shows `needle`.
async fn until_embed_shows(fx: &SiteFixture, needle: &str) {
    eventually_async(
        WAIT,
        &format!("the Embed page to show {needle}"),
        || async {
            let page = embed_page(fx).await;
            page.contains(needle).then_some(()).ok_or("not yet")
        },
    )
    .await;
}

/// Console lines that are uncaught errors or CSP violations.
fn bad_console_lines(log: &[String]) -> Vec<String> {
    log.iter()
        .filter(|l| l.contains("Uncaught") || l.contains("Content Security Policy"))
        .cloned()
        .collect()
}

const LAUNCHER: &str = "const r = document.getElementById('beckon-root'); return !!(r && r.shadowRoot && r.shadowRoot.querySelector('button.launcher'))";

#[tokio::test]
async fn a_refused_page_shows_no_launcher_until_the_owner_allows_it() {
    let Some((visitor, operator)) =
        Browser::launch_pair("origins::a_refused_page_shows_no_launcher").await
    else {
        return;
    };
    let db = TestDatabase::sqlite();
    let fx = SiteFixture::start(&db, &[], "https://elsewhere.example").await;
    let shop = HostSite::start(&fx.app.address, &fx.site.public_key).await;

    // The shop is not allowed: the guest request is refused, recorded, and nothing is mounted.
    visitor.goto(&shop.url("/products/tent")).await;
    until_embed_shows(&fx, &shop.origin).await;
    assert!(
        !visitor
            .wait_for(
                "return !!document.getElementById('beckon-root')",
                Duration::from_secs(1)
            )
            .await,
        "no launcher on a refused page (needs the loader to obtain the guest before mounting)"
    );
    let log = visitor.console_log().await;
    assert!(bad_console_lines(&log).is_empty(), "host console: {log:?}");

    // The owner sees it on the Embed page and allows it with one click.
    fx.open_console_in(
        &operator,
        &format!("/console/sites/{}/visitors", fx.site.id),
        "live-status",
    )
    .await;
    operator
        .goto(&fx.app.url(&format!("/console/sites/{}/embed", fx.site.id)))
        .await;
    let notice = operator
        .eval(&format!(
            "const d = document.querySelector('.refused-origin[data-origin=\"{}\"]'); return d ? d.textContent : ''",
            shop.origin
        ))
        .await;
    let notice = notice.as_str().unwrap_or("").to_owned();
    assert!(
        notice.contains(&format!(
            "A page on {} tried to load the widget and was refused",
            shop.origin
        )),
        "{notice}"
    );
    // Browsers cut a cross-origin Referer to the origin by default, so that is the usual example.
    assert!(
        notice.contains(&format!("for example on {}/", shop.origin)),
        "example page: {notice}"
    );
    operator
        .eval("document.getElementById('refused-origins').scrollIntoView(); return true;")
        .await;
    operator
        .screenshot(format!("{SCREENSHOTS}/embed_refused_origin.png"))
        .await;
    operator
        .eval("document.querySelector('button.allow-origin').click(); return true;")
        .await;
    assert!(
        operator
            .wait_for(
                "return document.readyState === 'complete' && !document.querySelector('.refused-origin') && !!document.getElementById('csp-directives')",
                WAIT
            )
            .await,
        "the notice is gone after allowing"
    );
    assert_eq!(allowed_origins(&fx).await.last(), Some(&shop.origin));

    // The page works now: launcher, and the panel opens.
    visitor.goto(&shop.url("/products/tent")).await;
    assert!(
        visitor.wait_for(LAUNCHER, WAIT).await,
        "launcher after allowing"
    );
    visitor
        .eval("document.getElementById('beckon-root').shadowRoot.querySelector('button.launcher').click(); return true;")
        .await;
    visitor.enter_widget_panel().await;
    assert!(
        visitor
            .wait_for(
                "return !!document.querySelector('form.composer, form.leave')",
                WAIT
            )
            .await,
        "the panel works"
    );
    visitor.enter_top_frame().await;
    visitor.assert_no_dialogs("allowed shop page").await;
}

#[tokio::test]
async fn a_sandboxed_frame_is_refused_and_explained() {
    let Some((visitor, operator)) =
        Browser::launch_pair("origins::a_sandboxed_frame_is_refused_and_explained").await
    else {
        return;
    };
    let db = TestDatabase::sqlite();
    let fx = SiteFixture::start(&db, &[], "").await;
    let shop = HostSite::start(&fx.app.address, &fx.site.public_key).await;
    fx.allow_widget_on(&shop.origin).await;
    let inner = format!(
        "<!doctype html><html><body><p>Framed</p><script async src=\"{}\"></script></body></html>",
        shop.widget_url()
    );
    let escaped = inner.replace('&', "&amp;").replace('"', "&quot;");
    shop.add_page(
        "/sandboxed",
        format!(
            "<!doctype html><html><head><title>Sandboxed</title></head><body><h1>Host</h1>\
             <iframe id=\"frame\" sandbox=\"allow-scripts\" srcdoc=\"{escaped}\"></iframe></body></html>"
        ),
    );

    visitor.goto(&shop.url("/sandboxed")).await;
    until_embed_shows(&fx, "data-origin=\"null\"").await;
    visitor
        .client
        .enter_frame(0)
        .await
        .expect("enter the sandboxed frame");
    assert!(
        !visitor
            .wait_for(
                "return !!document.getElementById('beckon-root')",
                Duration::from_secs(1)
            )
            .await,
        "no launcher in the sandboxed frame (needs the loader to obtain the guest before mounting)"
    );
    visitor.enter_top_frame().await;
    let log = visitor.console_log().await;
    assert!(bad_console_lines(&log).is_empty(), "host console: {log:?}");

    // The owner gets the explanation and a dismiss button, no allow button for it.
    fx.open_console_in(
        &operator,
        &format!("/console/sites/{}/visitors", fx.site.id),
        "live-status",
    )
    .await;
    operator
        .goto(&fx.app.url(&format!("/console/sites/{}/embed", fx.site.id)))
        .await;
    let text = operator
        .eval("const d = document.querySelector('.refused-origin[data-origin=\"null\"]'); return d ? d.textContent : ''")
        .await;
    let text = text.as_str().unwrap_or("").to_owned();
    assert!(text.contains("without an origin"), "{text}");
    assert!(text.contains("allow-same-origin"), "{text}");
    assert_eq!(
        operator
            .eval("return document.querySelectorAll('.refused-origin[data-origin=\"null\"] button.allow-origin').length")
            .await,
        0
    );
    operator
        .eval("document.getElementById('refused-origins').scrollIntoView(); return true;")
        .await;
    operator
        .screenshot(format!("{SCREENSHOTS}/embed_opaque_origin.png"))
        .await;
    operator
        .eval("document.querySelector('.refused-origin[data-origin=\"null\"] button.dismiss-origin').click(); return true;")
        .await;
    assert!(
        operator
            .wait_for(
                "return document.readyState === 'complete' && !!document.getElementById('csp-directives') && !document.querySelector('.refused-origin')",
                WAIT
            )
            .await,
        "dismissed"
    );
}

#[tokio::test]
async fn a_host_with_a_strict_csp_runs_the_widget_with_the_embed_page_directives() {
    let Some((visitor, operator)) = Browser::launch_pair("origins::a_host_with_a_strict_csp").await
    else {
        return;
    };
    let db = TestDatabase::sqlite();
    let fx = SiteFixture::start(&db, &[], "").await;
    let shop = HostSite::start(&fx.app.address, &fx.site.public_key).await;
    fx.allow_widget_on(&shop.origin).await;

    let directives = csp_directives_of(&embed_page(&fx).await);
    let policy = format!("default-src 'none'; style-src 'self'; {directives}");
    shop.add_page(
        "/strict",
        format!(
            "<!doctype html><html><head><meta charset=\"utf-8\">\
             <meta http-equiv=\"Content-Security-Policy\" content=\"{policy}\">\
             <title>Strict shop</title></head><body><h1>Strict shop</h1><p>Tents.</p>\
             <script async src=\"{}\"></script></body></html>",
            shop.widget_url()
        ),
    );

    fx.open_console_in(
        &operator,
        &format!("/console/sites/{}/visitors", fx.site.id),
        "live-status",
    )
    .await;
    operator
        .screenshot(format!("{SCREENSHOTS}/strict_csp_console.png"))
        .await;

    // The launcher appears, and the visitor is listed.
    visitor.goto(&shop.url("/strict")).await;
    assert!(
        visitor.wait_for(LAUNCHER, WAIT).await,
        "launcher under a strict CSP; console: {:?}",
        visitor.console_log().await
    );
    assert!(
        operator
            .wait_for(
                "return document.querySelectorAll('#visitor-rows tr').length === 1",
                WAIT
            )
            .await,
        "visitor listed"
    );

    // An invitation reaches the page.
    operator
        .eval("document.querySelector('#visitor-rows button.invite').click(); return true;")
        .await;
    operator
        .eval("document.querySelector('#invite-form input[name=message]').value = 'Need a hand?'; document.getElementById('invite-send').click(); return true;")
        .await;
    let bubble = "const r = document.getElementById('beckon-root'); const b = r && r.shadowRoot && r.shadowRoot.querySelector('.bubble'); \
                  return !!b && b.offsetParent !== null && b.textContent.includes('Need a hand?');";
    assert!(
        visitor.wait_for(bubble, WAIT).await,
        "invitation shown under a strict CSP"
    );
    visitor
        .screenshot(format!("{SCREENSHOTS}/strict_csp_invitation.png"))
        .await;

    // The panel opens and a message goes both ways.
    visitor
        .eval("document.getElementById('beckon-root').shadowRoot.querySelector('button.launcher').click(); return true;")
        .await;
    visitor.enter_widget_panel().await;
    visitor
        .eval(
            "const n = document.querySelector('input.name'); if (n) n.value = 'Stella'; \
             document.querySelector('textarea.input').value = 'Hello from a strict page'; \
             document.querySelector('form.composer').requestSubmit(); return true;",
        )
        .await;
    let state = |cond: &str| format!("const s = window.__beckonPanel.state(); return {cond};");
    assert!(
        visitor
            .wait_for(
                &state("s.messages.length >= 1 && !!s.conversationId && s.messages.every(m => m.status !== 'pending')"),
                WAIT
            )
            .await,
        "the guest's message was sent"
    );
    operator.goto(&fx.app.url("/console/chats")).await;
    // An accepted invitation may already have given the chat to the inviter; otherwise it waits.
    assert!(
        operator
            .wait_for(
                "return document.querySelectorAll('.conv-item').length >= 1",
                WAIT
            )
            .await,
        "the chat reached the console"
    );
    operator
        .eval("const b = document.querySelector('#queue .conv-item button.accept'); if (b) b.click(); else document.querySelector('.conv-item a, .conv-item').click(); return true;")
        .await;
    assert!(
        operator
            .wait_for(
                "return Array.from(document.querySelectorAll('#messages .msg-body')).some(e => e.textContent.includes('Hello from a strict page'))",
                WAIT
            )
            .await,
        "the operator reads the guest's message"
    );
    operator
        .eval("const t = document.querySelector('#composer textarea'); t.value = 'Hello Stella'; document.getElementById('composer').requestSubmit(); return true;")
        .await;
    assert!(
        visitor
            .wait_for(
                &state(
                    "s.messages.some(m => m.sender === 'operator' && m.body === 'Hello Stella')"
                ),
                WAIT
            )
            .await,
        "the reply reached the strict page"
    );
    visitor
        .screenshot(format!("{SCREENSHOTS}/strict_csp_chat.png"))
        .await;

    visitor.enter_top_frame().await;
    let log = visitor.console_log().await;
    assert!(
        bad_console_lines(&log).is_empty(),
        "no CSP violation or uncaught error on the strict page: {log:?}"
    );
    visitor.assert_no_dialogs("strict CSP shop").await;
}

/// The upsert, the count and the cap of refused origins, on one real database.
fn refused_origins_are_upserted_counted_and_capped(db: &TestDatabase) {
    use beckon::db::models::RefusedOrigin;
    use beckon::domain::{AllowedOrigins, SiteName, SiteSlug};
    use beckon::services::accounts::{self, NewSite};
    let store = Db::connect(&db.url(), 2).expect("connect");
    store.migrate().expect("migrate");
    let mut conn = store.conn().expect("conn");
    let conn = &mut *conn;
    let site = accounts::create_site(
        conn,
        &NewSite {
            name: SiteName::parse("Shop").expect("name"),
            slug: SiteSlug::parse("shop").expect("slug"),
            allowed_origins: AllowedOrigins::parse("https://shop.example").expect("origins"),
        },
        None,
    )
    .expect("site");
    let t0 = beckon::domain::now();
    let at = |s: i64| t0 + chrono::Duration::seconds(s);
    RefusedOrigin::record(
        conn,
        &site.id,
        "https://a.example",
        "https://a.example/1",
        1,
        at(0),
    )
    .expect("first");
    RefusedOrigin::record(
        conn,
        &site.id,
        "https://a.example",
        "https://a.example/2",
        4,
        at(1),
    )
    .expect("again");
    let rows = RefusedOrigin::for_sites(conn, &[site.id.to_string()]).expect("rows");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].refusals, 5);
    assert_eq!(rows[0].first_seen, at(0));
    assert_eq!(rows[0].last_seen, at(1));
    assert_eq!(rows[0].example_page, "https://a.example/2");

    for i in 0..25 {
        RefusedOrigin::record(
            conn,
            &site.id,
            &format!("https://x{i}.example"),
            "",
            1,
            at(10 + i),
        )
        .expect("spray");
    }
    let dropped = RefusedOrigin::keep_latest(conn, &site.id, 20).expect("cap");
    assert_eq!(dropped, 6);
    let rows = RefusedOrigin::for_sites(conn, &[site.id.to_string()]).expect("rows");
    assert_eq!(rows.len(), 20);
    assert_eq!(rows[0].origin, "https://x24.example", "newest first");
    assert!(
        rows.iter().all(|r| r.origin != "https://a.example"),
        "oldest gone"
    );
    assert!(RefusedOrigin::remove(conn, &site.id, "https://x24.example").expect("remove"));
    assert!(!RefusedOrigin::remove(conn, &site.id, "https://x24.example").expect("again"));
}

#[test]
fn refused_origins_storage_on_sqlite() {
    refused_origins_are_upserted_counted_and_capped(&TestDatabase::sqlite());
}

#[test]
fn refused_origins_storage_on_postgres() {
    if let Some(db) = TestDatabase::postgres("origins::refused_origins_storage_on_postgres") {
        refused_origins_are_upserted_counted_and_capped(&db);
    }
}
