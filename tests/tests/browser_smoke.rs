//! The browser harness itself, end to end, without Beckon's widget: headless Chromium opens the
//! example shop on its own origin, sees the widget tag, and follows single-page-app navigation.

use std::time::{Duration, Instant};

use beckon_tests::{Browser, HostSite};

/// Nothing listens here (the discard port), so the widget script fails fast and the page still
/// loads: the harness is tested without the widget.
const ABSENT_BECKON: &str = "http://127.0.0.1:9";

#[tokio::test]
async fn shop_on_another_origin_carries_the_widget_tag_and_spa_links_push_state() {
    let started = Instant::now();
    let site = HostSite::start(ABSENT_BECKON, "SMOKE_KEY").await;
    assert_ne!(
        site.origin, ABSENT_BECKON,
        "the shop has an origin of its own"
    );
    let Some(browser) = Browser::launch("browser_smoke::shop_on_another_origin").await else {
        return;
    };

    browser.goto(&site.url("/")).await;
    assert_eq!(
        browser.client.title().await.expect("title"),
        "Acme Outdoor — Gear for every trail"
    );
    let widget_scripts = browser
        .eval(
            "return Array.from(document.querySelectorAll('script[src]'))
                .map(s => ({ src: s.src, async: s.async }));",
        )
        .await;
    assert_eq!(
        widget_scripts,
        serde_json::json!([{ "src": "http://127.0.0.1:9/w/SMOKE_KEY.js", "async": true }])
    );
    assert_eq!(site.widget_url(), "http://127.0.0.1:9/w/SMOKE_KEY.js");

    browser.goto(&site.url("/spa")).await;
    assert_eq!(browser.eval("location.pathname").await, "/spa");
    let history_before = browser.eval("history.length").await;
    browser
        .client
        .find(fantoccini::Locator::Css("a[data-spa][href='/spa/gear']"))
        .await
        .expect("the gear link")
        .click()
        .await
        .expect("click the gear link");
    assert!(
        browser
            .wait_for("location.pathname === '/spa/gear'", Duration::from_secs(5))
            .await,
        "pathname after the click: {}",
        browser.eval("location.pathname").await
    );
    assert_eq!(
        browser.eval("history.length").await.as_u64(),
        history_before.as_u64().map(|n| n + 1),
        "pushState added one history entry"
    );
    assert_eq!(
        browser.eval("document.title").await,
        "Trip planner: Gear list — Acme Outdoor"
    );
    assert_eq!(
        browser
            .eval("performance.getEntriesByType('navigation').length")
            .await,
        1,
        "no new document was loaded"
    );

    browser.assert_no_dialogs("shop pages").await;
    browser.close().await;
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn dialogs_are_recorded_in_every_frame_and_extra_pages_are_served() {
    let site = HostSite::start(ABSENT_BECKON, "SMOKE_KEY").await;
    let frame = site.page_html(
        "Inner frame",
        "<script>alert('from the frame')</script><p>inner</p>",
    );
    let page = site.page_html(
        "<img src=x onerror=alert(1)>",
        "<div id='host'></div>\
         <script>document.getElementById('host').attachShadow({mode:'open'}).innerHTML='<b>shadow text</b>';</script>\
         <iframe src='/frame'></iframe>",
    );
    let site = site.with_page("/frame", frame).with_page("/hostile", page);
    let Some(browser) = Browser::launch("browser_smoke::dialogs_are_recorded").await else {
        return;
    };

    browser.goto(&site.url("/hostile")).await;
    assert_eq!(
        browser.client.title().await.expect("title"),
        "<img src=x onerror=alert(1)>",
        "title text is raw text"
    );
    assert_eq!(
        browser.shadow_query("#host", "b").await.as_deref(),
        Some("shadow text")
    );
    assert_eq!(browser.shadow_query("#host", "i").await, None);
    assert_eq!(browser.shadow_query("#nothing", "b").await, None);
    assert!(
        browser
            .wait_for(
                "document.querySelector('iframe').contentDocument.readyState === 'complete'",
                Duration::from_secs(5)
            )
            .await
    );
    assert_eq!(
        browser.open_dialog().await,
        None,
        "the recorder kept it from opening"
    );
    assert_eq!(
        browser.recorded_dialogs().await,
        vec!["alert: from the frame".to_owned()]
    );

    browser.eval("alert('top')").await;
    assert_eq!(
        browser.recorded_dialogs().await,
        vec!["alert: top".to_owned(), "alert: from the frame".to_owned()]
    );

    // A script in an isolated world sees the browser's own `alert`, not the recorder: a real
    // dialog, which the session leaves open for the check to find.
    let tree = browser
        .cdp("Page.getFrameTree", serde_json::json!({}))
        .await
        .expect("frame tree");
    let world = browser
        .cdp(
            "Page.createIsolatedWorld",
            serde_json::json!({ "frameId": tree["frameTree"]["frame"]["id"], "worldName": "probe" }),
        )
        .await
        .expect("isolated world");
    browser
        .cdp(
            "Runtime.evaluate",
            serde_json::json!({
                "expression": "setTimeout(() => alert('real dialog'), 0)",
                "contextId": world["executionContextId"],
            }),
        )
        .await
        .expect("evaluate in the isolated world");
    let open =
        beckon_tests::eventually_async(Duration::from_millis(2500), "the dialog to open", || {
            browser.open_dialog()
        })
        .await;
    assert_eq!(open.as_str(), "real dialog");
    let failure = tokio::spawn(async move {
        browser.assert_no_dialogs("after the real dialog").await;
    })
    .await
    .expect_err("an open dialog fails the check");
    assert!(failure.is_panic());
}
