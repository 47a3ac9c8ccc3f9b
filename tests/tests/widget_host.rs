//! The widget on hostile customer pages, in real headless Chromium, on a host site of another origin:
//! page CSS that resets or hides everything, a cookie banner at the highest z-index, a strict CSP that
//! blocks the presence socket, the keyboard, and the invitation API a polling loader uses. The operator
//! is a console socket (the owner's session), so each test needs one browser.
//!
//! Screenshots: `target/screenshots/widget_host/`.

use std::path::PathBuf;
use std::time::Duration;

use beckon_tests::{Browser, HostSite, SiteFixture, TestDatabase, WsClient};
use fantoccini::actions::{
    InputSource, KeyAction, KeyActions, MouseActions, PointerAction, MOUSE_BUTTON_LEFT,
};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(10);

/// `* { all: unset !important }`: pulled the launcher into the page flow.
const ALL_UNSET: &str = "* { all: unset !important }";
/// Hid the launcher's old `div` host.
const HIDE_DIVS: &str = "div, span { display: none !important }";
/// Shrank the panel's frame and moved the host element into the flow.
const SQUEEZE: &str =
    "iframe { width: 10px !important } body > * { position: relative !important }";
/// A cookie banner over the bottom of the viewport at the highest z-index (its rules are !important
/// with an id, so they hold in the combined page too).
const BANNER: &str = "#cookies { display: block !important; position: fixed !important; inset: auto 0 0 0 !important; \
     z-index: 2147483647 !important; height: 180px !important; background: #1f2937 !important; color: #fff !important; \
     padding: 16px !important }";

fn screenshot_path(name: &str) -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../target/screenshots/widget_host"
    ))
    .join(format!("{name}.png"))
}

/// A visitor's browser, a fresh site whose widget the example shop (another origin) may run, and
/// the owner's console socket watching the site.
struct Stage {
    visitor: Browser,
    fx: SiteFixture,
    shop: HostSite,
    console: WsClient,
    _db: TestDatabase,
}

async fn stage(suite: &str) -> Option<Stage> {
    let visitor = Browser::launch(suite).await?;
    let db = TestDatabase::sqlite();
    let fx = SiteFixture::start(&db, &[], "").await;
    let shop = HostSite::start(&fx.app.address, &fx.site.public_key).await;
    fx.allow_widget_on(&shop.origin).await;
    let mut console = fx.console_socket().await;
    console
        .send(json!({"type": "watch", "site_id": fx.site.id}))
        .await;
    Some(Stage {
        visitor,
        fx,
        shop,
        console,
        _db: db,
    })
}

/// A whole host page: `head` (style sheets, a CSP meta) before the widget tag, then `body`.
fn host_page(shop: &HostSite, head: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Hostile shop</title>{head}\
         <script async src=\"{}\"></script></head><body>\
         <header><div class=\"brand\">Acme Outdoor</div><nav><a href=\"/\">Home</a> <span>Tents</span></nav></header>\
         <main><h1>Tents</h1><div class=\"grid\"><p>Ridge tent, 2 persons.</p><p>Dome tent, 4 persons.</p></div>\
         <iframe title=\"map\" srcdoc=\"map\"></iframe></main>{body}</body></html>",
        shop.widget_url()
    )
}

fn style(css: &str) -> String {
    format!("<style>{css}</style>")
}

const COOKIE_BANNER: &str =
    "<aside id=\"cookies\">We use cookies to run this shop. <button type=\"button\">Accept all</button></aside>";

/// JS: where a shadow-root element of the widget is, and whether a point in its middle hits the
/// widget's host element (nothing of the page covers it): `{found, host, tag, left, top, right,
/// bottom, width, height, hit, vw, vh}`.
fn placement_js(selector: &str) -> String {
    format!(
        "const host = document.getElementById('beckon-root'); \
         const el = host && host.shadowRoot && host.shadowRoot.querySelector({selector:?}); \
         if (!el) return {{found: false}}; \
         const r = el.getBoundingClientRect(); \
         const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2); \
         return {{found: true, tag: host.tagName, left: r.left, top: r.top, right: r.right, bottom: r.bottom, \
                  width: r.width, height: r.height, hit: hit === host, vw: innerWidth, vh: innerHeight, \
                  display: getComputedStyle(el).display}};"
    )
}

/// Where `selector` is once it is shown and not covered; panics (with what was seen) otherwise.
async fn shown_and_on_top(visitor: &Browser, selector: &str, what: &str) -> Value {
    let script = placement_js(selector);
    let ok = format!(
        "const p = (function () {{ {script} }})(); \
         return p.found && p.hit && p.width > 0 && p.left >= 0 && p.top >= 0 && p.right <= p.vw && p.bottom <= p.vh;"
    );
    if !visitor.wait_for(&ok, WAIT).await {
        panic!(
            "{what}: not shown on top inside the viewport: {}",
            visitor.eval(&script).await
        );
    }
    visitor.eval(&script).await
}

/// The launcher: in the bottom-right corner, a real size, on top of everything at its centre.
async fn launcher_in_its_corner(visitor: &Browser, page: &str) -> Value {
    let p = shown_and_on_top(visitor, "button.launcher", &format!("{page}: launcher")).await;
    let num = |k: &str| p[k].as_f64().unwrap_or(f64::NAN);
    assert_eq!(
        p["tag"], "BECKON-CHAT",
        "{page}: a custom element hosts the widget"
    );
    assert!(
        (num("width") - 56.0).abs() < 1.0 && (num("height") - 56.0).abs() < 1.0,
        "{page}: launcher keeps its size: {p}"
    );
    assert!(
        num("vw") - num("right") < 40.0 && num("vh") - num("bottom") < 40.0,
        "{page}: launcher in the bottom-right corner: {p}"
    );
    p
}

/// A real left click (WebDriver pointer actions) at the middle of a widget element.
async fn click_at(visitor: &Browser, place: &Value) {
    let x = place["left"].as_f64().unwrap_or(0.0) + place["width"].as_f64().unwrap_or(0.0) / 2.0;
    let y = place["top"].as_f64().unwrap_or(0.0) + place["height"].as_f64().unwrap_or(0.0) / 2.0;
    let mouse = MouseActions::new("mouse".into())
        .then(PointerAction::MoveTo {
            duration: None,
            x: x.round(),
            y: y.round(),
        })
        .then(PointerAction::Down {
            button: MOUSE_BUTTON_LEFT,
        })
        .then(PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        });
    visitor
        .client
        .perform_actions(mouse)
        .await
        .expect("click through WebDriver");
    let _ = visitor.client.release_actions().await;
}

/// A real key press (WebDriver key actions) on whatever has the focus.
async fn press(visitor: &Browser, key: char) {
    let keys = KeyActions::new("keyboard".into())
        .then(KeyAction::Down { value: key })
        .then(KeyAction::Up { value: key });
    visitor
        .client
        .perform_actions(keys)
        .await
        .expect("key press through WebDriver");
    let _ = visitor.client.release_actions().await;
}

const ESCAPE: char = '\u{e00c}';
const ENTER: char = '\u{e007}';
const TAB: char = '\u{e004}';

/// The panel frame: shown, a real size, inside the viewport and on top.
async fn panel_on_screen(visitor: &Browser, page: &str) -> Value {
    let p = shown_and_on_top(visitor, "iframe.panel", &format!("{page}: panel")).await;
    assert!(
        p["width"].as_f64().unwrap_or(0.0) >= 300.0 && p["height"].as_f64().unwrap_or(0.0) >= 300.0,
        "{page}: the panel has a real size: {p}"
    );
    p
}

async fn panel_hidden(visitor: &Browser) -> bool {
    visitor
        .wait_for(
            "const f = document.getElementById('beckon-root').shadowRoot.querySelector('iframe.panel'); \
             return !f || getComputedStyle(f).display === 'none';",
            WAIT,
        )
        .await
}

/// The id of the one visitor the console lists (re-watching until the list has them).
async fn listed_visitor(console: &mut WsClient, site_id: &str) -> Value {
    for _ in 0..50 {
        console
            .send(json!({"type": "watch", "site_id": site_id}))
            .await;
        if let Some(snapshot) = console.next_of_type("snapshot", WAIT).await {
            if snapshot["total"] == 1 {
                return snapshot["visitors"][0].clone();
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("the visitor was never listed");
}

/// The listed visitor once their row says `reachability`.
async fn listed_with(console: &mut WsClient, site_id: &str, reachability: &str) -> Value {
    for _ in 0..60 {
        let row = listed_visitor(console, site_id).await;
        if row["reachability"] == reachability {
            return row;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!(
        "the visitor never became {reachability}: {}",
        listed_visitor(console, site_id).await
    );
}

/// Invites `visitor_id` from the console socket; panics on an error answer.
async fn invite(console: &mut WsClient, visitor_id: &str, message: &str) {
    console
        .send(json!({"type": "invite", "visitor_id": visitor_id, "message": message}))
        .await;
    let answer = console
        .next_of_type("invitation", WAIT)
        .await
        .expect("the console hears of its invitation");
    assert_eq!(answer["status"], "pending", "{answer}");
}

/// The invitation bubble: its message, on screen and on top.
async fn bubble_on_screen(visitor: &Browser, message: &str, page: &str) -> Value {
    assert!(
        visitor
            .wait_for(
                &format!(
                    "const h = document.getElementById('beckon-root'); \
                     const m = h && h.shadowRoot.querySelector('.bubble .bubble-message'); \
                     return !!m && m.textContent === {message:?};"
                ),
                WAIT
            )
            .await,
        "{page}: the invitation bubble arrived"
    );
    shown_and_on_top(visitor, ".bubble", &format!("{page}: bubble")).await
}

fn panel_has(condition: &str) -> String {
    format!("const s = window.__beckonPanel.state(); return {condition};")
}

/// In the panel: the guest writes `text`; then the operator (console socket) takes the chat and
/// answers `reply`, which the panel shows. Leaves the browser in the top document.
async fn chat_both_ways(stage: &mut Stage, text: &str, reply: &str) {
    let visitor = &stage.visitor;
    visitor.enter_widget_panel().await;
    assert!(
        visitor
            .wait_for(
                "const f = document.querySelector('form.composer'); return !!f && f.offsetParent !== null;",
                WAIT
            )
            .await,
        "the composer is shown (someone can answer)"
    );
    visitor
        .eval(&format!(
            "document.querySelector('textarea.input').value = {text:?}; \
             document.querySelector('form.composer').requestSubmit(); return true;"
        ))
        .await;
    assert!(
        visitor
            .wait_for(
                &panel_has("!!s.conversationId && s.messages.some(m => m.sender === 'guest' && m.status !== 'pending')"),
                WAIT
            )
            .await,
        "the guest's message was acknowledged"
    );
    let conversation = visitor
        .eval(&panel_has("s.conversationId"))
        .await
        .as_str()
        .expect("conversation id")
        .to_owned();
    let console = &mut stage.console;
    // Taken from the queue, or (an accepted invitation) already the inviter's: either way joined.
    console
        .send(json!({"type": "accept", "conversation_id": conversation}))
        .await;
    console
        .send(json!({"type": "join", "conversation_id": conversation, "after_seq": 0}))
        .await;
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let event = console.next_event(left).await;
        let Some(event) = event else {
            panic!("the guest's message never reached the console: {seen:?}");
        };
        if event.to_string().contains(text) {
            break;
        }
        seen.push(event);
    }
    console
        .send(json!({"type": "send", "conversation_id": conversation, "client_msg_id": "op-1", "body": reply}))
        .await;
    assert!(
        visitor
            .wait_for(
                &panel_has(&format!(
                    "s.messages.some(m => m.sender === 'operator' && m.body === {reply:?})"
                )),
                WAIT
            )
            .await,
        "the operator's reply reached the panel"
    );
    visitor.enter_top_frame().await;
}

/// Every hostile page alone: the launcher in its corner and clickable, the panel on screen with a
/// real size, the invitation bubble on screen (declined again, for the next page).
#[tokio::test]
async fn each_hostile_page_keeps_the_launcher_the_panel_and_the_bubble_usable() {
    let Some(mut stage) = stage("widget_host::each_hostile_page").await else {
        return;
    };
    let pages = [
        ("all-unset", style(ALL_UNSET), ""),
        ("hidden-divs", style(HIDE_DIVS), ""),
        ("squeezed-frames", style(SQUEEZE), ""),
        ("cookie-banner", style(BANNER), COOKIE_BANNER),
    ];
    let mut visitor_id = String::new();
    for (i, (name, head, body)) in pages.iter().enumerate() {
        let path = format!("/{name}");
        stage
            .shop
            .add_page(&path, host_page(&stage.shop, head, body));
        stage.visitor.goto(&stage.shop.url(&path)).await;
        let launcher = launcher_in_its_corner(&stage.visitor, name).await;

        click_at(&stage.visitor, &launcher).await;
        panel_on_screen(&stage.visitor, name).await;
        click_at(&stage.visitor, &launcher).await;
        assert!(
            panel_hidden(&stage.visitor).await,
            "{name}: the launcher closes the panel"
        );

        if i == 0 {
            visitor_id = listed_with(&mut stage.console, &stage.fx.site.id, "socket").await["id"]
                .as_str()
                .expect("visitor id")
                .to_owned();
        }
        let message = format!("Need help with {name}?");
        invite(&mut stage.console, &visitor_id, &message).await;
        let bubble = bubble_on_screen(&stage.visitor, &message, name).await;
        assert!(
            bubble["bottom"].as_f64() < launcher["top"].as_f64(),
            "{name}: the bubble sits above the launcher: {bubble} {launcher}"
        );
        stage
            .visitor
            .screenshot(screenshot_path(&format!("{name}-bubble")))
            .await;
        stage
            .visitor
            .eval("document.getElementById('beckon-root').shadowRoot.querySelector('.bubble-decline').click(); return true;")
            .await;
        let declined = stage
            .console
            .next_of_type("invitation", WAIT)
            .await
            .expect("answer");
        assert_eq!(declined["status"], "declined", "{name}");
    }
    stage.visitor.assert_no_dialogs("hostile pages").await;
}

/// All of the hostile rules on one page, with the cookie banner: the launcher on top of the banner,
/// a real click opens the panel, an invitation is accepted with a real click, and the chat works
/// both ways.
#[tokio::test]
async fn all_hostile_rules_together_still_give_a_working_chat() {
    let Some(mut stage) = stage("widget_host::all_hostile_rules_together").await else {
        return;
    };
    let head = style(&format!("{ALL_UNSET} {HIDE_DIVS} {SQUEEZE} {BANNER}"));
    stage
        .shop
        .add_page("/combined", host_page(&stage.shop, &head, COOKIE_BANNER));
    let visitor = &stage.visitor;
    visitor.goto(&stage.shop.url("/combined")).await;
    let launcher = launcher_in_its_corner(visitor, "combined").await;
    // The banner really covers the corner: what is under the launcher's centre, were it not there.
    let banner_under = visitor
        .eval(&format!(
            "const b = document.getElementById('cookies').getBoundingClientRect(); \
             return b.top < {} && b.bottom >= innerHeight && getComputedStyle(document.getElementById('cookies')).zIndex === '2147483647';",
            launcher["top"]
        ))
        .await;
    assert_eq!(banner_under, true, "the banner lies under the launcher");
    // The page's rules did not reach the host element's placement.
    let host = visitor
        .eval("const s = getComputedStyle(document.getElementById('beckon-root')); return [s.position, s.zIndex, s.display];")
        .await;
    assert_eq!(host, json!(["fixed", "2147483647", "block"]));
    visitor
        .screenshot(screenshot_path("combined-launcher"))
        .await;

    click_at(visitor, &launcher).await;
    let panel = panel_on_screen(visitor, "combined").await;
    assert!(
        panel["bottom"].as_f64() < launcher["top"].as_f64(),
        "the panel opens above the launcher: {panel}"
    );
    visitor.screenshot(screenshot_path("combined-panel")).await;
    click_at(visitor, &launcher).await;
    assert!(panel_hidden(visitor).await);

    let row = listed_with(&mut stage.console, &stage.fx.site.id, "socket").await;
    let visitor_id = row["id"].as_str().expect("visitor id").to_owned();
    invite(
        &mut stage.console,
        &visitor_id,
        "Can I help you choose a tent?",
    )
    .await;
    let visitor = &stage.visitor;
    bubble_on_screen(visitor, "Can I help you choose a tent?", "combined").await;
    visitor.screenshot(screenshot_path("combined-bubble")).await;
    let accept = shown_and_on_top(visitor, ".bubble-accept", "combined: Chat now").await;
    click_at(visitor, &accept).await;
    let accepted = stage
        .console
        .next_of_type("invitation", WAIT)
        .await
        .expect("answer");
    assert_eq!(accepted["status"], "accepted");
    panel_on_screen(&stage.visitor, "combined after Chat now").await;

    chat_both_ways(&mut stage, "Hello from a hostile page", "Happy to help!").await;
    stage
        .visitor
        .screenshot(screenshot_path("combined-chat"))
        .await;
    stage
        .visitor
        .assert_no_dialogs("combined hostile page")
        .await;
}

/// A host whose CSP lets the page reach only Beckon's `/api/` paths: the presence socket is blocked,
/// so the loader polls; the console shows the visitor as reachable by polling, an invitation still
/// arrives, "Chat now" opens the panel and the chat works.
#[tokio::test]
async fn with_the_presence_socket_blocked_by_csp_invitations_arrive_by_polling() {
    let Some(mut stage) = stage("widget_host::presence_socket_blocked_by_csp").await else {
        return;
    };
    let csp = format!(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"connect-src {}/api/\">",
        stage.fx.app.address
    );
    stage
        .shop
        .add_page("/strict", host_page(&stage.shop, &csp, ""));
    stage.visitor.goto(&stage.shop.url("/strict")).await;
    launcher_in_its_corner(&stage.visitor, "strict CSP").await;

    let row = listed_with(&mut stage.console, &stage.fx.site.id, "polling").await;
    let visitor_id = row["id"].as_str().expect("visitor id").to_owned();
    let log = stage.visitor.console_log().await;
    assert!(
        log.iter().any(|l| l.contains("Content Security Policy") || l.contains("Content-Security-Policy")),
        "the socket really was blocked by the page's CSP: {log:?}"
    );

    invite(&mut stage.console, &visitor_id, "Shall we talk?").await;
    bubble_on_screen(&stage.visitor, "Shall we talk?", "strict CSP").await;
    stage
        .visitor
        .screenshot(screenshot_path("csp-bubble"))
        .await;
    let accept = shown_and_on_top(&stage.visitor, ".bubble-accept", "strict CSP: Chat now").await;
    click_at(&stage.visitor, &accept).await;
    let accepted = stage
        .console
        .next_of_type("invitation", WAIT)
        .await
        .expect("the answer over HTTP reaches the console");
    assert_eq!(accepted["status"], "accepted");
    panel_on_screen(&stage.visitor, "strict CSP after Chat now").await;
    chat_both_ways(&mut stage, "Hi from behind a strict CSP", "Got you!").await;
}

/// A visitor known only from page views (no presence socket, no polling loader): the console's
/// live list says "cannot receive invitations" and does not offer an invitation; inviting anyway
/// is refused with that reason.
#[tokio::test]
async fn a_visitor_no_invitation_can_reach_is_shown_as_such_in_the_console() {
    let Some(operator) = Browser::launch("widget_host::a_visitor_no_invitation_can_reach").await
    else {
        return;
    };
    let db = TestDatabase::sqlite();
    let shop = "https://shop.example";
    let fx = SiteFixture::start(&db, &[], shop).await;
    fx.open_console_in(
        &operator,
        &format!("/console/sites/{}/visitors", fx.site.id),
        "live-status",
    )
    .await;
    let (status, guest) = fx.obtain_guest(shop, None).await;
    assert_eq!(status, 201);
    let token = guest["token"].as_str().expect("token");
    assert_eq!(
        fx.beacon(shop, token, "https://shop.example/tent", "Tent")
            .await,
        202
    );
    assert!(
        operator
            .wait_for(
                "const s = document.querySelector('#visitor-rows .v-status'); \
                 return !!s && s.textContent === 'cannot receive invitations' \
                   && document.querySelector('#visitor-rows button.invite').disabled;",
                WAIT
            )
            .await,
        "status shown and no invitation offered: {}",
        operator
            .eval("return document.getElementById('visitor-rows').textContent")
            .await
    );
    operator
        .screenshot(screenshot_path("console-cannot-receive"))
        .await;

    let mut console = fx.console_socket().await;
    let row = listed_with(&mut console, &fx.site.id, "none").await;
    console
        .send(json!({"type": "invite", "visitor_id": row["id"]}))
        .await;
    let refused = console
        .next_of_type("error", WAIT)
        .await
        .expect("a clear answer");
    assert_eq!(refused["code"], "unreachable", "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .unwrap_or("")
            .contains("cannot receive invitations"),
        "{refused}"
    );

    // Once the visitor's loader polls, the row says so and invitations are offered again.
    let polled = poll(&fx, shop, token).await;
    assert_eq!(polled.0, 200);
    assert!(
        operator
            .wait_for(
                "const s = document.querySelector('#visitor-rows .v-status'); \
                 return !!s && s.textContent === 'browsing' && !document.querySelector('#visitor-rows button.invite').disabled;",
                WAIT
            )
            .await,
        "reachable again by polling"
    );
}

/// Keyboard: Enter on the focused launcher opens the panel with the focus inside it (on the
/// composer); Escape closes it and the focus is back on the launcher; a hidden panel holds no focus
/// and Tab does not enter it; Escape on the bubble declines it and leaves the focus on the launcher.
#[tokio::test]
async fn the_keyboard_opens_and_closes_the_panel_and_the_focus_follows() {
    let Some(mut stage) = stage("widget_host::keyboard").await else {
        return;
    };
    let visitor = &stage.visitor;
    visitor.goto(&stage.shop.url("/products/tent")).await;
    launcher_in_its_corner(visitor, "keyboard").await;
    let active = "const h = document.getElementById('beckon-root'); \
                  const a = h.shadowRoot.activeElement; \
                  return document.activeElement === h && a ? (a.tagName + '.' + a.className) : (document.activeElement && document.activeElement.tagName);";
    visitor
        .eval("document.getElementById('beckon-root').shadowRoot.querySelector('button.launcher').focus(); return true;")
        .await;
    assert_eq!(visitor.eval(active).await, "BUTTON.launcher");

    press(visitor, ENTER).await;
    panel_on_screen(visitor, "keyboard").await;
    assert!(
        visitor
            .wait_for(
                &format!("return (function () {{ {active} }})() === 'IFRAME.panel';"),
                WAIT
            )
            .await,
        "the focus moved into the panel: {}",
        visitor.eval(active).await
    );
    visitor.enter_widget_panel().await;
    assert!(
        visitor
            .wait_for(
                "return document.hasFocus() && document.activeElement && document.activeElement.matches('textarea.input');",
                WAIT
            )
            .await,
        "the composer has the caret: {}",
        visitor
            .eval("return document.activeElement && document.activeElement.outerHTML.slice(0, 80)")
            .await
    );
    // Typing goes into the composer.
    press(visitor, 'h').await;
    assert_eq!(
        visitor
            .eval("return document.querySelector('textarea.input').value")
            .await,
        "h"
    );

    press(visitor, ESCAPE).await;
    visitor.enter_top_frame().await;
    assert!(panel_hidden(visitor).await, "Escape closed the panel");
    assert!(
        visitor
            .wait_for(
                &format!("return (function () {{ {active} }})() === 'BUTTON.launcher';"),
                WAIT
            )
            .await,
        "the focus is back on the launcher: {}",
        visitor.eval(active).await
    );
    // The keyboard focus is visible on the launcher.
    assert_eq!(
        visitor
            .eval(
                "const l = document.getElementById('beckon-root').shadowRoot.querySelector('button.launcher'); \
                 return l.matches(':focus-visible') && getComputedStyle(l).outlineStyle !== 'none';"
            )
            .await,
        true,
        "a focus ring on the launcher"
    );
    visitor
        .screenshot(screenshot_path("keyboard-launcher-focused"))
        .await;
    // Tab from the launcher leaves the widget (the hidden frame is not a stop).
    press(visitor, TAB).await;
    let after_tab = visitor.eval(active).await;
    assert_ne!(after_tab, "IFRAME.panel", "a hidden panel takes no focus");
    visitor.screenshot(screenshot_path("keyboard-closed")).await;

    // The bubble: Escape declines it and the focus goes to the launcher.
    let row = listed_with(&mut stage.console, &stage.fx.site.id, "socket").await;
    invite(
        &mut stage.console,
        row["id"].as_str().expect("id"),
        "Hello there",
    )
    .await;
    let visitor = &stage.visitor;
    bubble_on_screen(visitor, "Hello there", "keyboard").await;
    visitor
        .eval("document.getElementById('beckon-root').shadowRoot.querySelector('.bubble-accept').focus(); return true;")
        .await;
    press(visitor, ESCAPE).await;
    let declined = stage
        .console
        .next_of_type("invitation", WAIT)
        .await
        .expect("answer");
    assert_eq!(declined["status"], "declined");
    assert_eq!(
        stage
            .visitor
            .eval("return !document.getElementById('beckon-root').shadowRoot.querySelector('.bubble')")
            .await,
        true
    );
    assert_eq!(stage.visitor.eval(active).await, "BUTTON.launcher");
}

/// The loader obtains its guest before it mounts anything: while the guest request fails (here the
/// page's origin is not allowed), nothing is added to the page.
#[tokio::test]
async fn nothing_is_mounted_while_the_page_has_no_guest() {
    let Some(visitor) = Browser::launch("widget_host::nothing_is_mounted").await else {
        return;
    };
    let db = TestDatabase::sqlite();
    // The site allows another origin only.
    let fx = SiteFixture::start(&db, &[], "https://elsewhere.example").await;
    let shop = HostSite::start(&fx.app.address, &fx.site.public_key).await;
    visitor.goto(&shop.url("/products/tent")).await;
    assert!(
        visitor
            .wait_for("return window.__beckonLoaded === 1;", WAIT)
            .await,
        "the loader ran (and asked for a guest)"
    );
    // Give it time to (wrongly) mount: a retry happens within a second or two.
    assert!(
        !visitor
            .wait_for(
                "return !!document.getElementById('beckon-root') || !!document.querySelector('beckon-chat');",
                Duration::from_secs(3)
            )
            .await,
        "nothing mounted on a page without a guest"
    );
}

/// `POST /api/v1/invitations/poll` with `{k, t}` from `origin`: the status and the JSON answer.
async fn poll(fx: &SiteFixture, origin: &str, token: &str) -> (u16, Value) {
    post(
        fx,
        "/api/v1/invitations/poll",
        origin,
        &json!({"k": fx.site.public_key, "t": token}).to_string(),
    )
    .await
}

async fn post(fx: &SiteFixture, path: &str, origin: &str, body: &str) -> (u16, Value) {
    let res = fx
        .app
        .client
        .post(fx.app.url(path))
        .header("Origin", origin)
        .header("Content-Type", "text/plain;charset=UTF-8")
        .body(body.to_owned())
        .send()
        .await
        .expect("POST");
    let status = res.status().as_u16();
    let cors = res
        .headers()
        .get("access-control-allow-origin")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if status < 300 {
        assert_eq!(
            cors.as_deref(),
            Some(origin),
            "{path}: readable by the page"
        );
    }
    (status, res.json().await.unwrap_or(Value::Null))
}

/// The polling API: a guest sees and answers only its own invitation; bad requests get clear
/// errors; the answer reaches the console like the socket's.
#[tokio::test]
async fn a_polling_guest_sees_and_answers_only_its_own_invitations() {
    let shop = "https://shop.example";
    let db = TestDatabase::sqlite();
    let fx = SiteFixture::start(&db, &["--guest-events-per-minute", "6"], shop).await;
    let (_, alice) = fx.obtain_guest(shop, None).await;
    let (_, bob) = fx.obtain_guest(shop, None).await;
    let alice_guest_id = alice["guest_id"].clone();
    let (alice, bob) = (
        alice["token"].as_str().expect("token").to_owned(),
        bob["token"].as_str().expect("token").to_owned(),
    );
    assert_eq!(
        poll(&fx, shop, &alice).await,
        (200, json!({"invitation": null}))
    );
    assert_eq!(poll(&fx, shop, &bob).await.0, 200);

    // Both are listed as reachable by polling.
    let mut console = fx.console_socket().await;
    let mut alice_id = Value::Null;
    for _ in 0..40 {
        console
            .send(json!({"type": "watch", "site_id": fx.site.id}))
            .await;
        let snapshot = console
            .next_of_type("snapshot", WAIT)
            .await
            .expect("snapshot");
        let rows = snapshot["visitors"].as_array().cloned().unwrap_or_default();
        if rows.len() == 2 && rows.iter().all(|r| r["reachability"] == "polling") {
            alice_id = rows
                .iter()
                .find(|r| r["guest_id"] == alice_guest_id)
                .map(|r| r["id"].clone())
                .expect("Alice listed");
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_ne!(
        alice_id,
        Value::Null,
        "both polling guests listed as polling"
    );
    console
        .send(json!({"type": "invite", "visitor_id": alice_id, "message": "Hi Alice"}))
        .await;
    let pending = console
        .next_of_type("invitation", WAIT)
        .await
        .expect("pending");
    assert_eq!(pending["status"], "pending");
    let invitation_id = pending["invitation_id"].as_str().expect("id").to_owned();

    let (status, offer) = poll(&fx, shop, &alice).await;
    assert_eq!(status, 200);
    assert_eq!(
        offer,
        json!({"invitation": {"invitation_id": invitation_id, "operator": "Olive Owner", "message": "Hi Alice"}})
    );
    assert_eq!(
        poll(&fx, shop, &bob).await,
        (200, json!({"invitation": null})),
        "Bob does not see Alice's invitation"
    );

    // Bob answering Alice's invitation changes nothing (and learns nothing: the same 204).
    let answer = |token: &str, accepted: bool| {
        json!({"k": fx.site.public_key, "t": token, "invitation_id": invitation_id, "accepted": accepted})
            .to_string()
    };
    assert_eq!(
        post(
            &fx,
            "/api/v1/invitations/answer",
            shop,
            &answer(&bob, false)
        )
        .await
        .0,
        204
    );
    console
        .expect_none_of_type("invitation", Duration::from_millis(700))
        .await;
    assert_eq!(
        poll(&fx, shop, &alice).await.1["invitation"]["invitation_id"],
        invitation_id.as_str(),
        "still pending for Alice"
    );

    // Alice accepts: the console hears it, and the invitation is no longer offered.
    assert_eq!(
        post(
            &fx,
            "/api/v1/invitations/answer",
            shop,
            &answer(&alice, true)
        )
        .await
        .0,
        204
    );
    let accepted = console
        .next_of_type("invitation", WAIT)
        .await
        .expect("answer");
    assert_eq!(accepted["status"], "accepted");
    assert_eq!(accepted["invitation_id"], invitation_id.as_str());

    // Clear errors.
    let malformed = post(&fx, "/api/v1/invitations/poll", shop, "{not json").await;
    assert_eq!(malformed.0, 400, "{malformed:?}");
    let unknown = poll(&fx, shop, "not-a-token").await;
    assert_eq!(unknown.0, 401, "{unknown:?}");
    assert_eq!(unknown.1["error"], "unknown_guest");
    let foreign = poll(&fx, "https://evil.example", &alice).await;
    assert_eq!(foreign.0, 403, "{foreign:?}");
    let no_id = post(
        &fx,
        "/api/v1/invitations/answer",
        shop,
        &json!({"k": fx.site.public_key, "t": alice, "invitation_id": "", "accepted": true})
            .to_string(),
    )
    .await;
    assert_eq!(no_id.0, 400, "{no_id:?}");
    // Rate-limited per guest (6 a minute here; Bob has used 3).
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(poll(&fx, shop, &bob).await.0);
    }
    assert!(statuses.contains(&429), "{statuses:?}");
}
