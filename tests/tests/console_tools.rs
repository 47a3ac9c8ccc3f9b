//! The console's tools for a working operator (issue #15, points 6 and 8): canned responses managed
//! per site, offline messages marked and sorted into the inbox, `beckon site add` printing links on
//! the configured base URL, and the looks of the settings forms, the live visitor filters and the
//! chat (readable attachment names, SVG icons, a styled file picker). HTTP tests where no browser
//! is needed, real headless Chromium for the rest; screenshots go to
//! `target/screenshots/console_tools/`.

use std::time::Duration;

use beckon_tests::{beckon_binary, html, Browser, HostSite, SiteFixture, TestDatabase};

const SHOP: &str = "http://127.0.0.1:9";
const WAIT: Duration = Duration::from_secs(10);
const SHOTS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../target/screenshots/console_tools"
);

/// An HTTP client that keeps cookies and does not follow redirects.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Logs `email` in on a fresh client of `fx`'s server; the client and its session's CSRF token.
async fn signed_in(fx: &SiteFixture, email: &str, password: &str) -> (reqwest::Client, String) {
    let c = fx.app.signed_in_client(email, password).await;
    let console = c.get(fx.app.url("/console")).send().await.unwrap();
    let csrf = html::input_value(&console.text().await.unwrap(), "csrf").expect("session csrf");
    (c, csrf)
}

/// Adds Mallory, the owner of another site ("Other Shop"), who is no member of Demo Shop.
async fn add_other_sites_owner(fx: &SiteFixture) {
    let url = fx.app.database_url().to_owned();
    tokio::task::spawn_blocking(move || {
        use beckon::domain::{
            AllowedOrigins, DisplayName, Email, Handle, Password, SiteName, SiteSlug,
        };
        use beckon::services::accounts;
        let db = beckon::db::Db::connect(&url, 1).unwrap();
        let mut conn = db.conn().unwrap();
        let new = accounts::NewOperator {
            email: Email::parse("mallory@example.com").unwrap(),
            handle: Handle::parse("mallory").unwrap(),
            display_name: DisplayName::parse("Mallory").unwrap(),
            password: Password::parse("mallory password 1").unwrap(),
            phone: None,
        };
        accounts::create_operator(&mut conn, &new, None).unwrap();
        let site = accounts::NewSite {
            name: SiteName::parse("Other Shop").unwrap(),
            slug: SiteSlug::parse("other-shop").unwrap(),
            allowed_origins: AllowedOrigins::parse("").unwrap(),
        };
        accounts::add_site(&mut conn, &site, Some("mallory@example.com")).unwrap();
    })
    .await
    .unwrap();
}

/// The ids of the site's canned responses in the list of `page`.
fn listed_ids(page: &str) -> Vec<String> {
    page.split("data-canned-id=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn canned_responses_are_listed_added_edited_and_deleted_with_errors_next_to_the_field() {
    let db = TestDatabase::sqlite();
    let fx = SiteFixture::start(&db, &[], SHOP).await;
    let base = format!("/console/sites/{}/canned", fx.site.id);

    // The site's pages link here, and the page starts empty.
    let home = fx.app.get("/console").await.text().await.unwrap();
    assert!(
        home.contains(&format!("href=\"{base}\"")),
        "home links the page"
    );
    let page = fx.app.get(&base).await;
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("No canned responses yet"));
    let csrf = html::input_value(&page, "csrf").unwrap();

    // Add: hostile text is stored and shown escaped.
    let res = fx
        .app
        .post_form(
            &base,
            &[
                ("csrf", &csrf),
                ("shortcut", "/Hours"),
                ("body", "9-5 <b>CET</b>"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        res.headers()["location"],
        format!("{base}?done=added").as_str()
    );
    let page = fx
        .app
        .get(&format!("{base}?done=added"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Added."));
    assert!(page.contains("/hours") && page.contains("9-5 &lt;b&gt;CET&lt;/b&gt;"));
    assert!(!page.contains("<b>CET</b>"));
    let ids = listed_ids(&page);
    assert_eq!(ids.len(), 1);
    let id = ids[0].clone();

    // A bad shortcut and an empty body: 422, the form again with both problems next to their fields
    // and what was typed kept (escaped).
    let res = fx
        .app
        .post_form(
            &base,
            &[("csrf", &csrf), ("shortcut", "no <spaces>"), ("body", "  ")],
        )
        .await;
    assert_eq!(res.status(), 422);
    let page = res.text().await.unwrap();
    assert!(
        page.contains(r#"id="canned-shortcut-error" role="alert">Shortcut must be"#),
        "{page}"
    );
    assert!(page.contains("value=\"no &lt;spaces&gt;\""));
    // A taken shortcut: 409, said at the shortcut.
    let res = fx
        .app
        .post_form(
            &base,
            &[("csrf", &csrf), ("shortcut", "hours"), ("body", "again")],
        )
        .await;
    assert_eq!(res.status(), 409);
    assert!(res.text().await.unwrap().contains(
        r#"id="canned-shortcut-error" role="alert">Shortcut is taken by another response"#
    ));

    // Edit: the form comes filled in, and saving changes both fields.
    let edit = fx.app.get(&format!("{base}/{id}/edit")).await;
    assert_eq!(edit.status(), 200);
    let edit = edit.text().await.unwrap();
    assert!(edit.contains(&format!("action=\"{base}/{id}\"")) && edit.contains("value=\"hours\""));
    let res = fx
        .app
        .post_form(
            &format!("{base}/{id}"),
            &[("csrf", &csrf), ("shortcut", "open"), ("body", "Open 8-6")],
        )
        .await;
    assert_eq!(res.status(), 303);
    let page = fx.app.get(&base).await.text().await.unwrap();
    assert!(page.contains("/open") && page.contains("Open 8-6") && !page.contains("/hours"));
    // An edit with an empty body is refused next to the text field, and changes nothing.
    let res = fx
        .app
        .post_form(
            &format!("{base}/{id}"),
            &[("csrf", &csrf), ("shortcut", "open"), ("body", "")],
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains(r#"id="canned-body-error" role="alert">Text is empty"#));

    // The chat workspace offers it.
    let chats = fx.app.get("/console/chats").await.text().await.unwrap();
    assert!(chats.contains("Open 8-6"));

    // Delete.
    let res = fx
        .app
        .post_form(&format!("{base}/{id}/delete"), &[("csrf", &csrf)])
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        res.headers()["location"],
        format!("{base}?done=deleted").as_str()
    );
    let page = fx
        .app
        .get(&format!("{base}?done=deleted"))
        .await
        .text()
        .await
        .unwrap();
    assert!(listed_ids(&page).is_empty() && page.contains("Deleted."));
    let chats = fx.app.get("/console/chats").await.text().await.unwrap();
    assert!(!chats.contains("Open 8-6"));
}

#[tokio::test]
async fn canned_routes_refuse_other_sites_operators_anonymous_visitors_and_forged_forms() {
    let db = TestDatabase::sqlite();
    let fx = SiteFixture::start(&db, &[], SHOP).await;
    let base = format!("/console/sites/{}/canned", fx.site.id);
    let csrf = fx.app.csrf_of(&base).await;
    let res = fx
        .app
        .post_form(
            &base,
            &[("csrf", &csrf), ("shortcut", "hi"), ("body", "Hello")],
        )
        .await;
    assert_eq!(res.status(), 303);
    let page = fx.app.get(&base).await.text().await.unwrap();
    let id = listed_ids(&page).pop().expect("one response");
    let edit = format!("{base}/{id}/edit");
    let save = format!("{base}/{id}");
    let delete = format!("{base}/{id}/delete");
    let form = |csrf: &str| {
        vec![
            ("csrf".to_owned(), csrf.to_owned()),
            ("shortcut".to_owned(), "x".to_owned()),
            ("body".to_owned(), "x".to_owned()),
        ]
    };

    // Another site's owner: 404 on every route, nothing changes.
    add_other_sites_owner(&fx).await;
    let (mallory, mallory_csrf) = signed_in(&fx, "mallory@example.com", "mallory password 1").await;
    for path in [&base, &edit] {
        let res = mallory.get(fx.app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 404, "GET {path} as another site's owner");
    }
    for path in [&base, &save, &delete] {
        let res = mallory
            .post(fx.app.url(path))
            .form(&form(&mallory_csrf))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "POST {path} as another site's owner");
    }

    // No session: to the login page, nothing changes.
    let anon = client();
    for path in [&base, &edit] {
        let res = anon.get(fx.app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 303, "GET {path} without a session");
        assert!(res.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/login"));
    }
    for path in [&base, &save, &delete] {
        let res = anon
            .post(fx.app.url(path))
            .form(&form(&csrf))
            .send()
            .await
            .unwrap();
        assert!(
            res.status() == 303 || res.status() == 403,
            "POST {path} without a session: {}",
            res.status()
        );
    }

    // The owner with a forged token: 403.
    for path in [&base, &save, &delete] {
        let res = fx
            .app
            .client
            .post(fx.app.url(path))
            .form(&form("forged"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "POST {path} with a bad CSRF token");
    }
    // An id of no response of this site: 404.
    assert_eq!(fx.app.get(&format!("{base}/nope/edit")).await.status(), 404);

    let page = fx.app.get(&base).await.text().await.unwrap();
    assert_eq!(listed_ids(&page), vec![id], "still the one response");
    assert!(page.contains("/hi") && page.contains("Hello"));
}

#[tokio::test]
async fn the_settings_form_takes_rgb_and_rrggbb_colours_and_refuses_anything_else() {
    let db = TestDatabase::sqlite();
    let fx = SiteFixture::start(&db, &[], SHOP).await;
    let path = format!("/console/sites/{}/settings", fx.site.id);
    let csrf = fx.app.csrf_of(&path).await;
    let save = |colour: &'static str| {
        let (app, path, csrf) = (&fx.app, path.clone(), csrf.clone());
        async move {
            app.post_form(
                &path,
                &[
                    ("csrf", csrf.as_str()),
                    ("colour", colour),
                    ("position", "right"),
                ],
            )
            .await
        }
    };
    for (colour, stored) in [("#A0c", "#AA00cc"), ("#12ab9F", "#12ab9F")] {
        assert_eq!(save(colour).await.status(), 303, "{colour} accepted");
        let page = fx.app.get(&path).await.text().await.unwrap();
        assert!(
            page.contains(&format!(
                r#"id="colour-hex" name="colour" value="{stored}""#
            )),
            "{colour} stored as {stored}"
        );
    }
    for bad in ["red", "#12", "#12345", "#ggg", "12ab9f"] {
        let res = save(bad).await;
        assert_eq!(res.status(), 422, "{bad} refused");
        assert!(
            res.text().await.unwrap().contains("must look like"),
            "{bad}"
        );
    }
}

#[tokio::test]
async fn site_add_prints_every_link_on_the_configured_base_url() {
    let db = TestDatabase::sqlite();
    let data = tempfile::tempdir().unwrap();
    let run = |args: &[&str], env: Option<&str>| {
        let mut cmd = std::process::Command::new(beckon_binary());
        cmd.args(["--database-url", &db.url(), "--data-dir"])
            .arg(data.path())
            .args(args)
            .env_remove("BECKON_BASE_URL");
        if let Some(base) = env {
            cmd.env("BECKON_BASE_URL", base);
        }
        cmd.output().unwrap()
    };
    let out = run(&["migrate"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The flag.
    let out = run(
        &[
            "--base-url",
            "https://help.example.org/",
            "site",
            "add",
            "--name",
            "Tool Shop",
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
    let key = printed
        .lines()
        .find_map(|l| l.strip_prefix("site key: "))
        .expect("site key line")
        .trim()
        .to_owned();
    for expected in [
        format!(r#"embed snippet (before </body>): <script async src="https://help.example.org/w/{key}.js"></script>"#),
        "help-desk link: https://help.example.org/s/tool-shop".to_owned(),
        r#"status badge: <a href="https://help.example.org/s/tool-shop"><img src="https://help.example.org/s/tool-shop/status.svg" alt="Live help" width="132" height="24"></a>"#.to_owned(),
        format!(r#"monitor pixel: <img src="https://help.example.org/m/{key}.gif" alt="" width="1" height="1">"#),
    ] {
        assert!(printed.lines().any(|l| l == expected), "missing {expected:?} in:\n{printed}");
    }
    assert!(
        !printed.contains("127.0.0.1") && !printed.contains("localhost"),
        "{printed}"
    );
    assert!(
        !printed.contains("note:"),
        "an explicit base URL needs no note"
    );

    // The environment variable.
    let out = run(
        &["site", "add", "--name", "Env Shop"],
        Some("https://env.example.net"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        printed.contains("help-desk link: https://env.example.net/s/env-shop"),
        "{printed}"
    );
    assert!(printed.contains("https://env.example.net/w/"), "{printed}");

    // Without one, the links name the listen address and a note says how to fix that.
    let out = run(&["site", "add", "--name", "Local Shop"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        printed.contains("note:") && printed.contains("--base-url"),
        "{printed}"
    );
}

/// Logs the owner in with `browser` (any console page may follow, with or without a socket).
async fn log_in(browser: &Browser, fx: &SiteFixture) {
    browser.goto(&fx.app.url("/login")).await;
    browser
        .eval(
            r#"document.querySelector('input[name=email]').value = 'owner@example.com';
               document.querySelector('input[name=password]').value = 'correct horse battery';
               document.querySelector('form[action="/login"]').submit(); return true;"#,
        )
        .await;
    assert!(
        browser
            .wait_for("return location.pathname === '/console'", WAIT)
            .await,
        "logged in"
    );
}

/// Waits for a page load that leaves `path` as the location's path, after a form was submitted.
async fn wait_path(browser: &Browser, path: &str) {
    assert!(
        browser
            .wait_for(
                &format!(
                    "return location.pathname === {path:?} && document.readyState === 'complete'"
                ),
                WAIT
            )
            .await,
        "at {path}, not {:?}",
        browser.try_eval("return location.href").await
    );
}

/// JavaScript: the contrast ratio (WCAG) between the computed colour of `el` and the first opaque
/// background behind it.
const CONTRAST_JS: &str = r#"
function rgb(s) { const m = s.match(/[\d.]+/g).map(Number); return { r: m[0], g: m[1], b: m[2], a: m.length > 3 ? m[3] : 1 }; }
function lum(c) { const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }; return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b); }
function contrast(el) {
  const fg = rgb(getComputedStyle(el).color);
  let node = el, bg = null;
  while (node && node.nodeType === 1) { const c = rgb(getComputedStyle(node).backgroundColor); if (c.a > 0.5) { bg = c; break; } node = node.parentElement; }
  bg = bg || { r: 255, g: 255, b: 255 };
  const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
  return { ratio: (a + 0.05) / (b + 0.05), color: getComputedStyle(el).color, background: `rgb(${bg.r}, ${bg.g}, ${bg.b})` };
}
"#;

#[tokio::test]
async fn canned_responses_reach_the_composer_and_console_attachments_are_readable() {
    let Some(browser) = Browser::launch("console_tools::canned_and_attachments").await else {
        return;
    };
    let db = TestDatabase::sqlite();
    let fx = SiteFixture::start(&db, &[], SHOP).await;
    // A guest's chat the owner accepted, to reply to.
    let chat = fx.accepted_chat(SHOP, "Rita").await;
    log_in(&browser, &fx).await;
    let base = format!("/console/sites/{}/canned", fx.site.id);

    // Create.
    browser.goto(&fx.app.url(&base)).await;
    assert!(
        browser
            .wait_for("return !!document.getElementById('canned-empty')", WAIT)
            .await
    );
    browser
        .eval(
            "document.getElementById('canned-shortcut').value = 'hours'; \
             document.getElementById('canned-body').value = 'We answer 9-17 <CET> & weekends'; \
             document.querySelector('#canned-form form').requestSubmit(); return true;",
        )
        .await;
    assert!(
        browser
            .wait_for(
                "return document.querySelectorAll('#canned-list tbody tr').length === 1",
                WAIT
            )
            .await,
        "created"
    );
    assert_eq!(
        browser
            .eval("return document.querySelector('#canned-list td.canned-body').textContent")
            .await,
        "We answer 9-17 <CET> & weekends",
        "shown as text"
    );
    // A refused shortcut: the problem next to the field, what was typed kept.
    browser
        .eval(
            "document.getElementById('canned-shortcut').value = 'two words'; \
             document.getElementById('canned-body').value = 'x'; \
             document.querySelector('#canned-form form').requestSubmit(); return true;",
        )
        .await;
    assert!(
        browser
            .wait_for("const e = document.getElementById('canned-shortcut-error'); return !!e && e.offsetParent !== null && document.getElementById('canned-shortcut').value === 'two words'", WAIT)
            .await,
        "error shown at the field"
    );
    let beside = browser
        .eval(
            "const e = document.getElementById('canned-shortcut-error').getBoundingClientRect(); \
             const f = document.getElementById('canned-shortcut').getBoundingClientRect(); \
             return Math.abs(e.left - f.left) < 2 && e.top >= f.bottom && e.top - f.bottom < 60;",
        )
        .await;
    assert_eq!(beside, true, "the error sits right under its field");
    browser
        .screenshot(format!("{SHOTS}/canned-error.png"))
        .await;

    // Edit.
    browser.goto(&fx.app.url(&base)).await;
    browser
        .eval("document.querySelector('#canned-list a.button-link').click(); return true;")
        .await;
    assert!(
        browser
            .wait_for("return location.pathname.endsWith('/edit') && document.getElementById('canned-shortcut').value === 'hours'", WAIT)
            .await,
        "edit form filled in"
    );
    browser
        .eval(
            "document.getElementById('canned-body').value = 'We answer 8-18, Monday to Saturday.'; \
             document.querySelector('#canned-form form').requestSubmit(); return true;",
        )
        .await;
    wait_path(&browser, &base).await;
    assert!(
        browser
            .wait_for("return document.querySelector('#canned-list td.canned-body').textContent === 'We answer 8-18, Monday to Saturday.'", WAIT)
            .await,
        "edited"
    );

    // Delete (a second one, so the first stays for the composer).
    browser
        .eval(
            "document.getElementById('canned-shortcut').value = 'bye'; \
             document.getElementById('canned-body').value = 'Goodbye!'; \
             document.querySelector('#canned-form form').requestSubmit(); return true;",
        )
        .await;
    assert!(
        browser
            .wait_for(
                "return document.querySelectorAll('#canned-list tbody tr').length === 2",
                WAIT
            )
            .await
    );
    browser.screenshot(format!("{SHOTS}/canned.png")).await;
    browser
        .eval("Array.from(document.querySelectorAll('#canned-list tbody tr')).find(r => r.textContent.includes('/bye')).querySelector('button.danger').click(); return true;")
        .await;
    assert!(
        browser
            .wait_for("return location.search === '?done=deleted' && document.querySelectorAll('#canned-list tbody tr').length === 1 && !document.body.textContent.includes('Goodbye!')", WAIT)
            .await,
        "deleted"
    );

    // The composer offers it: "/hours" then Tab inserts the text.
    browser
        .goto(
            &fx.app
                .url(&format!("/console/chats#{}", chat.conversation_id)),
        )
        .await;
    assert!(
        browser
            .wait_for("return document.getElementById('chat-status').textContent === 'Live' && !document.getElementById('composer').hidden", WAIT)
            .await,
        "chat open"
    );
    let textarea = browser
        .client
        .find(fantoccini::Locator::Css("#composer textarea"))
        .await
        .expect("composer textarea");
    textarea.send_keys("/hours\u{E004}").await.expect("type");
    assert!(
        browser
            .wait_for("return document.querySelector('#composer textarea').value === 'We answer 8-18, Monday to Saturday.'", WAIT)
            .await,
        "the canned text replaced the shortcut: {:?}",
        browser.try_eval("return document.querySelector('#composer textarea').value").await
    );
    browser
        .eval("document.getElementById('composer').requestSubmit(); return true;")
        .await;
    assert!(
        browser
            .wait_for("return Array.from(document.querySelectorAll('#messages .msg-body')).some(e => e.textContent === 'We answer 8-18, Monday to Saturday.')", WAIT)
            .await,
        "sent"
    );

    // The file picker: a visible label for an input that is visually hidden yet focusable.
    let picker = browser
        .eval(
            "const i = document.getElementById('attach-input'); const l = document.getElementById('attach-file'); \
             i.focus(); const r = l.getBoundingClientRect(); \
             return [document.activeElement === i, i.tabIndex >= 0, getComputedStyle(i).display !== 'none', \
                     l.tagName, l.htmlFor, r.width > 40 && r.height > 16, !!l.querySelector('svg.icon[aria-hidden=true]'), l.textContent.trim()];",
        )
        .await;
    assert_eq!(
        picker,
        serde_json::json!([
            true,
            true,
            true,
            "LABEL",
            "attach-input",
            true,
            true,
            "Attach file"
        ]),
        "styled, keyboard-reachable file picker"
    );
    // Send a file from the console: its name shows next to the picker and in the log, readable.
    browser
        .eval(
            "const dt = new DataTransfer(); dt.items.add(new File(['order 1234'], 'order-summary.txt', {type: 'text/plain'})); \
             const input = document.getElementById('attach-input'); input.files = dt.files; input.dispatchEvent(new Event('change')); return true;",
        )
        .await;
    assert_eq!(
        browser
            .eval("return document.getElementById('attach-chosen').textContent")
            .await,
        "order-summary.txt",
        "the chosen file's name is shown"
    );
    assert!(
        browser
            .wait_for("const a = document.querySelector('#messages li.from-operator a.attachment-link'); return !!a && a.getAttribute('href').startsWith('/api/v1/attachments/')", WAIT)
            .await,
        "uploaded and linked"
    );
    let link = browser
        .eval(&format!(
            "{CONTRAST_JS} const a = document.querySelector('#messages li.from-operator a.attachment-link'); \
             const name = a.querySelector('.attachment-name'); \
             return Object.assign(contrast(name), {{ text: a.textContent, svg: !!a.querySelector('svg.icon[aria-hidden=true]'), \
               emoji: document.getElementById('messages').textContent.includes('\\u{{1F4CE}}') }});"
        ))
        .await;
    assert_eq!(link["text"], "order-summary.txt", "{link}");
    assert_eq!(link["svg"], true, "an inline SVG icon: {link}");
    assert_eq!(link["emoji"], false, "no emoji icon: {link}");
    assert_ne!(link["color"], link["background"], "{link}");
    assert!(
        link["ratio"].as_f64().unwrap_or(0.0) >= 4.5,
        "the attachment name is readable on its bubble: {link}"
    );
    browser
        .screenshot(format!("{SHOTS}/chat-attachment.png"))
        .await;

    // Settings: aligned labels, a colour picker in sync with the hex field.
    let settings = format!("/console/sites/{}/settings", fx.site.id);
    browser.goto(&fx.app.url(&settings)).await;
    assert!(
        browser
            .wait_for("return !!document.getElementById('colour-picker')", WAIT)
            .await
    );
    let aligned = browser
        .eval(
            "const rows = Array.from(document.querySelectorAll('form.aligned > label:not(.check), form.aligned > .row')); \
             const fields = rows.map(r => r.querySelector('input:not([type=hidden]), textarea, select, .colour-field').getBoundingClientRect().left); \
             const labels = rows.map(r => r.querySelector('.lt').getBoundingClientRect()); \
             return [rows.length, Math.max(...fields) - Math.min(...fields) < 1, labels.every(l => l.right <= Math.min(...fields)), \
                     labels.every(l => Math.abs(l.left - labels[0].left) < 1)];",
        )
        .await;
    assert_eq!(
        aligned,
        serde_json::json!([6, true, true, true]),
        "labels in one column, fields in the next"
    );
    // Picker → hex, hex (short form) → picker.
    let synced = browser
        .eval(
            "const p = document.getElementById('colour-picker'), h = document.getElementById('colour-hex'); \
             p.value = '#ff8800'; p.dispatchEvent(new Event('input', {bubbles: true})); const first = h.value; \
             h.value = '#0a0'; h.dispatchEvent(new Event('input', {bubbles: true})); \
             return [p.type, first, p.value];",
        )
        .await;
    assert_eq!(synced, serde_json::json!(["color", "#ff8800", "#00aa00"]));
    browser
        .eval("document.querySelector('form.aligned').requestSubmit(); return true;")
        .await;
    assert!(
        browser
            .wait_for("return location.search === '?saved=1'", WAIT)
            .await,
        "saved"
    );
    assert_eq!(
        browser.eval("return [document.getElementById('colour-hex').value, document.getElementById('colour-picker').value]").await,
        serde_json::json!(["#00aa00", "#00aa00"]),
        "the short form was stored as the full colour"
    );
    browser.screenshot(format!("{SHOTS}/settings.png")).await;
    // A narrow window: one column, each label above its field.
    browser
        .client
        .set_window_size(600, 900)
        .await
        .expect("resize");
    assert!(
        browser
            .wait_for("const l = document.querySelector('form.aligned > label .lt').getBoundingClientRect(); const f = document.querySelector('form.aligned > label textarea').getBoundingClientRect(); return Math.abs(l.left - f.left) < 1 && f.top >= l.bottom - 1 && document.documentElement.scrollWidth <= 600", WAIT)
            .await,
        "collapses to one column"
    );
    browser
        .screenshot(format!("{SHOTS}/settings-narrow.png"))
        .await;
    browser
        .client
        .set_window_size(1280, 900)
        .await
        .expect("resize");

    // Live visitors: the filters in one row, each labelled, and a clear button.
    browser
        .goto(
            &fx.app
                .url(&format!("/console/sites/{}/visitors", fx.site.id)),
        )
        .await;
    assert!(
        browser
            .wait_for(
                "return document.getElementById('live-status').textContent === 'Live'",
                WAIT
            )
            .await
    );
    let row = browser
        .eval(
            "const f = Array.from(document.querySelectorAll('#visitor-filters input, #visitor-filters select, #visitor-filters button')); \
             const b = f.map(e => e.getBoundingClientRect().bottom); \
             return [f.length, Math.max(...b) - Math.min(...b) < 2, \
                     Array.from(document.querySelectorAll('#visitor-filters input, #visitor-filters select')).every(e => e.labels.length === 1 && e.labels[0].textContent.trim() !== '')];",
        )
        .await;
    assert_eq!(
        row,
        serde_json::json!([4, true, true]),
        "one aligned, labelled row"
    );
    browser
        .eval("const i = document.getElementById('filter-page'); i.value = 'tent'; i.dispatchEvent(new Event('input', {bubbles: true})); document.getElementById('filter-kind').value = 'new'; return true;")
        .await;
    browser
        .screenshot(format!("{SHOTS}/visitors-filters.png"))
        .await;
    browser
        .eval("document.querySelector('#visitor-filters button[type=reset]').click(); return true;")
        .await;
    assert!(
        browser
            .wait_for("return document.getElementById('filter-page').value === '' && document.getElementById('filter-kind').value === 'all'", WAIT)
            .await,
        "cleared"
    );
    browser.assert_no_dialogs("console tools").await;
    drop(chat);
}

#[tokio::test]
async fn an_offline_message_lands_in_the_inbox_marked_and_apart_from_live_chats() {
    let Some((visitor, operator)) = Browser::launch_pair("console_tools::offline_inbox").await
    else {
        return;
    };
    let db = TestDatabase::sqlite();
    let fx = SiteFixture::start(&db, &[], "").await;
    let shop = HostSite::start(&fx.app.address, &fx.site.public_key).await;
    fx.allow_widget_on(&shop.origin).await;

    // Nobody is online: the guest leaves a message from the widget's panel.
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
        visitor
            .wait_for("const s = window.__beckonPanel.state(); const f = document.querySelector('form.leave'); return s.mode === 'offline' && !!f && f.offsetParent !== null", WAIT)
            .await,
        "leave-a-message form"
    );
    visitor
        .eval(
            "document.querySelector('form.leave textarea').value = 'Do you ship tents to Norway?'; \
             document.querySelector('form.leave input[name=email]').value = 'nora@example.com'; \
             document.querySelector('form.leave').requestSubmit(); return true;",
        )
        .await;
    assert!(
        visitor
            .wait_for("return window.__beckonPanel.state().mode === 'sent'", WAIT)
            .await,
        "message left"
    );
    // A second, later offline message, straight through the API the panel uses.
    let (status, body) = fx.obtain_guest(&shop.origin, None).await;
    assert_eq!(status, 201, "{body}");
    let token = body["token"].as_str().unwrap().to_owned();
    let form = reqwest::multipart::Form::new()
        .text("site_key", fx.site.public_key.clone())
        .text("token", token)
        .text("name", "Olaf")
        .text("email", "olaf@example.com")
        .text("message", "Second message, later");
    let res = reqwest::Client::new()
        .post(fx.app.url("/api/v1/offline-messages"))
        .header("Origin", shop.origin.as_str())
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());

    // The operator comes online; a live chat starts next to the offline messages.
    fx.open_console_in(&operator, "/console/chats", "chat-status")
        .await;
    let (mut tab, _) = fx.guest(&shop.origin).await;
    let live_id = beckon_tests::start_chat(&mut tab, "Live Larry").await;

    assert!(
        operator
            .wait_for("return document.querySelectorAll('#inbox .conv-item').length === 2 && document.querySelectorAll('#queue .conv-item').length === 1", WAIT)
            .await,
        "two in the inbox, one live in the queue: {:?}",
        operator.try_eval("return document.querySelector('.chat-lists').innerText").await
    );
    let lists = operator
        .eval(
            "const text = sel => Array.from(document.querySelectorAll(sel + ' .conv-item')).map(li => li.innerText.replace(/\\s+/g, ' ').trim()); \
             return { inbox: text('#inbox'), queue: Array.from(document.querySelectorAll('#queue .conv-item')).map(li => li.dataset.conversationId), \
                      open: text('#open-chats'), marks: Array.from(document.querySelectorAll('#inbox .channel-mark')).map(m => [m.textContent, m.offsetParent !== null]), \
                      liveMarks: document.querySelectorAll('#queue .channel-mark, #open-chats .channel-mark').length };",
        )
        .await;
    assert_eq!(
        lists["queue"],
        serde_json::json!([live_id]),
        "only the live chat waits among live chats: {lists}"
    );
    assert_eq!(lists["open"], serde_json::json!([]), "{lists}");
    assert_eq!(
        lists["marks"],
        serde_json::json!([["Offline message", true], ["Offline message", true]]),
        "each offline message visibly marked: {lists}"
    );
    assert_eq!(lists["liveMarks"], 0, "{lists}");
    let inbox = lists["inbox"].as_array().unwrap();
    assert_eq!(inbox.len(), 2, "{lists}");
    assert!(
        inbox[0].as_str().unwrap().starts_with("Olaf")
            && !inbox[1].as_str().unwrap().starts_with("Olaf"),
        "newest first: {lists}"
    );
    operator.screenshot(format!("{SHOTS}/inbox.png")).await;

    // Open the older one and reply: it goes by email, and the conversation keeps its mark.
    operator
        .eval("document.querySelectorAll('#inbox .conv-item')[1].querySelector('button.accept').click(); return true;")
        .await;
    assert!(
        operator
            .wait_for("return Array.from(document.querySelectorAll('#messages .msg-body')).some(e => e.textContent.includes('Do you ship tents to Norway?'))", WAIT)
            .await,
        "the message opens"
    );
    assert!(
        operator
            .wait_for("const m = document.getElementById('conv-channel'); return !m.hidden && m.textContent === 'Offline message' && document.getElementById('reply-note').textContent === 'Replies are emailed to nora@example.com'", WAIT)
            .await,
        "marked, replies by email: {:?}",
        operator.try_eval("return [document.getElementById('conv-channel').outerHTML, document.getElementById('reply-note').textContent]").await
    );
    operator
        .eval("const t = document.querySelector('#composer textarea'); t.value = 'Yes, we do!'; document.getElementById('composer').requestSubmit(); return true;")
        .await;
    assert!(
        operator
            .wait_for("return Array.from(document.querySelectorAll('#messages li.from-operator')).some(li => li.textContent.includes('Yes, we do!') && li.dataset.status !== 'failed' && li.dataset.seq)", WAIT)
            .await,
        "reply stored"
    );
    assert!(
        operator
            .wait_for("return document.querySelectorAll('#inbox .conv-item').length === 2 && document.querySelectorAll('#open-chats .conv-item').length === 0", WAIT)
            .await,
        "still in the inbox once answered, not among the open live chats"
    );
    operator
        .screenshot(format!("{SHOTS}/inbox-reply.png"))
        .await;
    visitor.enter_top_frame().await;
    operator.assert_no_dialogs("console inbox").await;
}
