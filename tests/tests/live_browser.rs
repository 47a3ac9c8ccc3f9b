//! The whole page monitor in real headless Chromium: the widget on a shop served from another
//! origin, the operator console in a second, independent browser.

use std::time::{Duration, Instant};

use beckon_tests::{Browser, HostSite, SiteFixture, TestDatabase};

const TWO_SECONDS: Duration = Duration::from_secs(2);

fn rows_showing(path: &str) -> String {
    format!(
        "const rows = document.querySelectorAll('#visitor-rows tr'); \
         return rows.length === 1 && rows[0].querySelector('.v-page-url').textContent.endsWith({path:?});"
    )
}

#[tokio::test]
async fn the_console_follows_a_visitor_on_another_origin_live() {
    let Some((visitor, operator)) =
        Browser::launch_pair("live_browser::the_console_follows_a_visitor").await
    else {
        return;
    };
    let db = TestDatabase::sqlite();
    let fx = SiteFixture::start(&db, &[], "").await;
    let shop = HostSite::start(&fx.app.address, &fx.site.public_key).await;
    assert_ne!(shop.origin, fx.app.address, "the shop is another origin");
    fx.allow_widget_on(&shop.origin).await;
    let hostile = "<img src=x onerror=alert(1)>";
    shop.add_page("/hostile", shop.page_html(hostile, "<p>Nothing to see</p>"));
    fx.open_console_in(
        &operator,
        &format!("/console/sites/{}/visitors", fx.site.id),
        "live-status",
    )
    .await;

    // Arrival: listed with the current page within 2 s.
    visitor.goto(&shop.url("/products/tent")).await;
    let start = Instant::now();
    assert!(
        operator
            .wait_for(&rows_showing("/products/tent"), TWO_SECONDS)
            .await,
        "visitor listed within 2 s"
    );
    eprintln!("visitor listed after {:?}", start.elapsed());
    let title = operator
        .eval("return document.querySelector('#visitor-rows .v-page-title').textContent")
        .await;
    assert!(
        title.as_str().unwrap_or("").contains("Tent"),
        "title shown: {title}"
    );
    let who = operator
        .eval("return document.querySelector('#visitor-rows .v-who').textContent")
        .await;
    assert!(
        who.as_str().unwrap_or("").contains("guest"),
        "guest badge: {who}"
    );

    // Navigation, by link and by single-page-app pushState.
    visitor
        .eval("document.querySelector('a[href=\"/products/stove\"]').click(); return true;")
        .await;
    assert!(
        operator
            .wait_for(
                &rows_showing("/products/stove"),
                TWO_SECONDS + Duration::from_secs(1)
            )
            .await,
        "navigation followed"
    );
    visitor.goto(&shop.url("/spa")).await;
    assert!(
        operator
            .wait_for(&rows_showing("/spa"), TWO_SECONDS + Duration::from_secs(1))
            .await
    );
    visitor
        .eval("document.getElementById('spa-gear').click(); return true;")
        .await;
    assert!(
        operator
            .wait_for(
                &rows_showing("/spa/gear"),
                TWO_SECONDS + Duration::from_secs(1)
            )
            .await,
        "pushState navigation followed"
    );
    let pages = operator
        .eval("return document.querySelector('#visitor-rows .v-pages').textContent")
        .await;
    assert_eq!(pages, "4", "pages viewed this visit");

    // A hostile page title is shown as text: no element, no dialog.
    visitor.goto(&shop.url("/hostile")).await;
    assert!(
        operator
            .wait_for(
                &rows_showing("/hostile"),
                TWO_SECONDS + Duration::from_secs(1)
            )
            .await
    );
    let shown = operator
        .eval("return document.querySelector('#visitor-rows .v-page-title').textContent")
        .await;
    assert_eq!(shown, hostile);
    let imgs = operator
        .eval("return document.querySelectorAll('#visitor-rows img').length")
        .await;
    assert_eq!(imgs, 0);
    operator
        .assert_no_dialogs("console showing a hostile title")
        .await;

    // Invitation: the bubble shows on the visitor's page within a second; accepting is recorded.
    operator
        .eval("document.querySelector('#visitor-rows button.invite').click(); return true;")
        .await;
    operator
        .eval("document.querySelector('#invite-form input[name=message]').value = 'Hello from <b>Olive</b>'; document.getElementById('invite-send').click(); return true;")
        .await;
    let bubble = "const r = document.getElementById('beckon-root'); const b = r && r.shadowRoot && r.shadowRoot.querySelector('.bubble'); \
                  return !!b && b.offsetParent !== null && b.querySelector('.bubble-message').textContent === 'Hello from <b>Olive</b>';";
    assert!(
        visitor.wait_for(bubble, Duration::from_secs(1)).await,
        "bubble within a second, message as text"
    );
    assert_eq!(
        visitor
            .shadow_query("#beckon-root", ".bubble-operator")
            .await
            .as_deref(),
        Some("Olive Owner")
    );
    assert!(
        operator.wait_for("return document.querySelector('#visitor-rows .v-status').textContent === 'invitation pending'", TWO_SECONDS).await
    );
    visitor
        .eval("document.getElementById('beckon-root').shadowRoot.querySelector('.bubble-accept').click(); return true;")
        .await;
    assert!(
        // Accepting opens the chat with the inviter at once, so the row may already say "chatting".
        operator.wait_for("return ['invitation accepted', 'chatting'].includes(document.querySelector('#visitor-rows .v-status').textContent)", TWO_SECONDS).await,
        "acceptance shown in the console"
    );
    visitor.assert_no_dialogs("shop page with the widget").await;

    // Leaving: closing the page drops the visitor within a few seconds.
    visitor.goto("about:blank").await;
    assert!(
        operator
            .wait_for(
                "return document.querySelectorAll('#visitor-rows tr').length === 0",
                Duration::from_secs(6)
            )
            .await,
        "visitor dropped off"
    );
}

#[tokio::test]
async fn the_launcher_does_not_disturb_the_host_page() {
    let Some(visitor) =
        Browser::launch("live_browser::the_launcher_does_not_disturb_the_host_page").await
    else {
        return;
    };
    let db = TestDatabase::sqlite();
    let fx = SiteFixture::start(&db, &[], "").await;
    let shop = HostSite::start(&fx.app.address, &fx.site.public_key).await;
    // Without the widget, for comparison.
    shop.add_page("/plain", "<!doctype html><html><head><title>Plain</title></head><body><p id=p style='margin:0'>Hi</p></body></html>");
    shop.add_page(
        "/with",
        format!(
            "<!doctype html><html><head><title>With</title><style>button{{background:red!important}} div{{border:5px solid lime}}</style></head>\
             <body><p id=p style='margin:0'>Hi</p><script async src='{}'></script></body></html>",
            shop.widget_url()
        ),
    );
    visitor.goto(&shop.url("/plain")).await;
    let plain = visitor.eval("const r = document.getElementById('p').getBoundingClientRect(); return [r.top, r.left, document.body.scrollHeight]").await;
    visitor.goto(&shop.url("/with")).await;
    assert!(
        visitor.wait_for("return !!document.getElementById('beckon-root') && !!document.getElementById('beckon-root').shadowRoot.querySelector('button.launcher')", Duration::from_secs(5)).await,
        "launcher shown in a shadow root"
    );
    let with = visitor.eval("const r = document.getElementById('p').getBoundingClientRect(); return [r.top, r.left, document.body.scrollHeight]").await;
    assert_eq!(plain, with, "no layout shift on the host page");
    let position = visitor
        .eval("return getComputedStyle(document.getElementById('beckon-root')).position")
        .await;
    assert_eq!(position, "fixed");
    let launcher_bg = visitor
        .eval("return getComputedStyle(document.getElementById('beckon-root').shadowRoot.querySelector('button.launcher')).backgroundColor")
        .await;
    assert_ne!(
        launcher_bg, "rgb(255, 0, 0)",
        "host page styles do not reach the launcher"
    );
}
