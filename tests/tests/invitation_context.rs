//! Invitations keep their context, and the panel looks finished: an operator invites a visitor on a
//! shop of another origin, the visitor clicks "Chat now", and the panel opens on the inviter's name,
//! avatar and text as the first message of a chat assigned to the inviter, who is told; the Live
//! visitors row links to the chat. Also: attachment names readable in the guest's bubble, the German
//! composer placeholder not clipped, and screenshots of the panel (English, German, with an
//! attachment, at 370 px and on a phone-sized viewport) under `target/screenshots/invitation_context/`.

use std::path::PathBuf;
use std::time::Duration;

use beckon_tests::{Browser, HostSite, SiteFixture, TestDatabase, WsClient};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(8);

/// The invitation's text, with markup that must stay text.
const INVITE_TEXT: &str = "Hi, I'm Olive <b>from the shop</b>. Can I help you pick a tent?";

fn screenshot_path(name: &str) -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../target/screenshots/invitation_context"
    ))
    .join(format!("{name}.png"))
}

/// A check on the panel's test hook (`s` is its state).
fn panel_has(condition: &str) -> String {
    format!("const s = window.__beckonPanel && window.__beckonPanel.state(); return !!s && ({condition});")
}

/// A plain responsive page of the shop (the example shop's own pages are wider than a phone), so
/// the screenshots show the panel as a phone shows it.
fn add_narrow_page(shop: &HostSite) -> String {
    shop.add_page(
        "/narrow",
        format!(
            "<!doctype html><html lang=en><head><meta charset=utf-8>\
             <meta name=viewport content='width=device-width, initial-scale=1'><title>Acme Outdoor</title></head>\
             <body style='margin:0;font-family:sans-serif'><h1 style='margin:16px'>Acme Outdoor</h1>\
             <p style='margin:16px'>Tents, stoves and everything for the trail.</p>\
             <script async src='{}'></script></body></html>",
            shop.widget_url()
        ),
    );
    shop.url("/narrow")
}

/// Sets the visitor's viewport (CSS pixels); `mobile` emulates a phone.
async fn viewport(browser: &Browser, width: u32, height: u32, mobile: bool) {
    browser
        .cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}),
        )
        .await
        .expect("viewport set");
}

/// The WCAG contrast ratio between an element's text colour and the background it is drawn on (the
/// nearest own-or-ancestor background that is not transparent), computed in the page.
const CONTRAST_OF: &str = r#"
function contrastOf(node) {
  const rgb = (c) => (c.match(/[\d.]+/g) || []).map(Number);
  const lum = (c) => {
    const [r, g, b] = rgb(c).map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  let bg = null;
  for (let n = node; n && n.nodeType === 1; n = n.parentElement) {
    const c = getComputedStyle(n).backgroundColor, parts = rgb(c);
    if (parts.length >= 3 && (parts.length < 4 || parts[3] > 0)) { bg = c; break; }
  }
  const fg = getComputedStyle(node).color;
  const [a, b] = [lum(fg), lum(bg || "rgb(255, 255, 255)")];
  return { fg: fg, bg: bg, ratio: (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05) };
}
"#;

#[tokio::test]
async fn chat_now_opens_the_inviters_chat_with_their_name_avatar_and_text() {
    let Some((visitor, operator)) =
        Browser::launch_pair("invitation_context::chat_now_opens_the_inviters_chat").await
    else {
        return;
    };
    let db = TestDatabase::sqlite();
    let fx = SiteFixture::start(&db, &[], "").await;
    let shop = HostSite::start(&fx.app.address, &fx.site.public_key).await;
    assert_ne!(shop.origin, fx.app.address, "the shop is another origin");
    fx.allow_widget_on(&shop.origin).await;
    fx.open_console_in(
        &operator,
        &format!("/console/sites/{}/visitors", fx.site.id),
        "live-status",
    )
    .await;
    // The inviter's other console tab (the chat workspace, here a socket) is told too.
    let mut inviter_tab = fx.console_socket().await;

    // The operator invites the visitor from Live visitors.
    visitor.goto(&shop.url("/products/tent")).await;
    assert!(
        operator
            .wait_for(
                "return document.querySelectorAll('#visitor-rows tr').length === 1",
                WAIT
            )
            .await,
        "visitor listed"
    );
    operator
        .eval("document.querySelector('#visitor-rows button.invite').click(); return true;")
        .await;
    operator
        .eval(&format!(
            "document.querySelector('#invite-form input[name=message]').value = {INVITE_TEXT:?}; \
             document.getElementById('invite-send').click(); return true;"
        ))
        .await;
    let bubble = "const r = document.getElementById('beckon-root'); const b = r && r.shadowRoot && r.shadowRoot.querySelector('.bubble'); return !!b && b.offsetParent !== null;";
    assert!(
        visitor.wait_for(bubble, WAIT).await,
        "invitation bubble shown"
    );

    // "Chat now": the panel opens on the inviter's message, with their name and avatar.
    visitor
        .eval("document.getElementById('beckon-root').shadowRoot.querySelector('.bubble-accept').click(); return true;")
        .await;
    visitor.enter_widget_panel().await;
    assert!(
        visitor
            .wait_for(
                &panel_has(&format!(
                    "s.messages.length >= 1 && s.messages[0].sender === 'operator' && s.messages[0].seq === 1 && s.messages[0].body === {INVITE_TEXT:?} && s.status === 'open'"
                )),
                WAIT
            )
            .await,
        "the invitation's text is the chat's first message: {:?}",
        visitor.try_eval(&panel_has("s")).await
    );
    let first = visitor
        .eval(
            "const m = document.querySelector('.log .msg'); const a = m.querySelector('.who .avatar'); \
             return {cls: m.className, name: m.querySelector('.who-name').textContent, avatar: a.textContent, \
                     avatarBg: getComputedStyle(a).backgroundColor, avatarShown: a.offsetWidth > 0, \
                     body: m.querySelector('.body').textContent, markup: m.querySelectorAll('b').length, \
                     face: document.querySelector('.head .face .avatar') ? document.querySelector('.head .face .avatar').textContent : null, \
                     greeting: document.querySelector('.greeting').offsetParent !== null, \
                     title: document.querySelector('h1.title').textContent};",
        )
        .await;
    assert!(
        first["cls"].as_str().unwrap_or("").contains("msg-operator"),
        "{first}"
    );
    assert_eq!(first["name"], "Olive Owner", "{first}");
    assert_eq!(first["avatar"], "OO", "initials: {first}");
    assert_eq!(first["avatarShown"], true, "{first}");
    let avatar_bg = first["avatarBg"].as_str().unwrap_or("");
    assert!(
        avatar_bg.starts_with("rgb(") && avatar_bg != "rgb(75, 85, 99)",
        "a colour from the name, not the fallback: {first}"
    );
    assert_eq!(first["body"], INVITE_TEXT, "{first}");
    assert_eq!(first["markup"], 0, "the text stays text");
    assert_eq!(first["face"], "OO", "the header shows the inviter: {first}");
    assert_eq!(first["title"], "Olive Owner", "{first}");
    assert_eq!(
        first["greeting"], false,
        "the inviter's words greet the guest, not the built-in greeting: {first}"
    );
    let conversation_id = visitor
        .eval("return window.__beckonPanel.state().conversationId")
        .await
        .as_str()
        .expect("conversation id")
        .to_owned();
    visitor.enter_top_frame().await;
    visitor
        .screenshot(screenshot_path("invitation_first_message_en_1280"))
        .await;

    // The inviter is told (on each of their console tabs) which chat it opened ...
    let told = inviter_tab
        .next_of_type("invitation_accepted", WAIT)
        .await
        .expect("the inviter is notified");
    assert_eq!(told["conversation_id"], conversation_id.as_str(), "{told}");
    // ... the Live visitors page says so with a link, and the row links straight to the chat.
    let link = format!("/console/chats#{conversation_id}");
    assert!(
        operator
            .wait_for(
                &format!("const a = document.querySelector('#invite-accepted a'); return !!a && a.getAttribute('href') === {link:?} && document.getElementById('invite-accepted').textContent.includes('accepted your invitation');"),
                WAIT
            )
            .await,
        "the inviter sees the acceptance"
    );
    assert!(
        operator
            .wait_for(
                &format!("const a = document.querySelector('#visitor-rows a.open-chat'); return !!a && a.getAttribute('href') === {link:?};"),
                WAIT
            )
            .await,
        "the Live visitors row links to the chat"
    );
    operator
        .screenshot(screenshot_path("console_live_visitors_accepted"))
        .await;
    operator
        .eval("document.querySelector('#visitor-rows a.open-chat').click(); return true;")
        .await;
    // The chat is the inviter's: open, with them, the invitation's text first.
    assert!(
        operator
            .wait_for(
                &format!(
                    "const s = window.__beckonChats && window.__beckonChats.state(); if (!s) return false; \
                     const c = s.conversations.find(c => c.conversation_id === {conversation_id:?}); \
                     return s.current === {conversation_id:?} && !!c && c.status === 'open' && c.operator === 'Olive Owner' \
                       && s.messages.length >= 1 && s.messages[0].body === {INVITE_TEXT:?} && s.messages[0].sender === 'operator';"
                ),
                WAIT
            )
            .await,
        "the console opens the chat, assigned to the inviter: {:?}",
        operator
            .try_eval("return window.__beckonChats && window.__beckonChats.state()")
            .await
    );
    assert!(
        operator
            .wait_for(
                "return (document.getElementById('conv-state') || {}).textContent === 'Open · with you';",
                WAIT
            )
            .await
    );

    // Looks: at 370 px and on a phone, in English (on a responsive page, where the chat goes on).
    let narrow = add_narrow_page(&shop);
    viewport(&visitor, 370, 740, false).await;
    visitor.goto(&narrow).await;
    visitor.enter_widget_panel().await;
    assert!(
        visitor
            .wait_for(
                &panel_has(&format!("s.messages.some(m => m.body === {INVITE_TEXT:?})")),
                WAIT
            )
            .await,
        "the chat goes on on the next page"
    );
    visitor.enter_top_frame().await;
    visitor
        .screenshot(screenshot_path("invitation_first_message_en_370"))
        .await;

    // The guest sends a file: its name is readable in the guest's bubble.
    visitor.enter_widget_panel().await;
    visitor
        .eval(
            "const dt = new DataTransfer(); dt.items.add(new File(['tent sizes'], 'tent-sizes.txt', {type: 'text/plain'})); \
             const input = document.querySelector('form.composer input[type=file]'); input.files = dt.files; \
             input.dispatchEvent(new Event('change')); return true;",
        )
        .await;
    assert!(
        visitor
            .wait_for(
                "const n = document.querySelector('.msg-guest.attachment button.file .file-name'); return !!n && n.textContent === 'tent-sizes.txt';",
                WAIT
            )
            .await,
        "the guest's file is shown, uploaded"
    );
    let contrast = visitor
        .eval(&format!(
            "{CONTRAST_OF} return contrastOf(document.querySelector('.msg-guest.attachment .file-name'));"
        ))
        .await;
    assert!(
        contrast["ratio"].as_f64().unwrap_or(0.0) >= 4.5,
        "the attachment's name contrasts with the guest's bubble: {contrast}"
    );
    // Its icon is an inline SVG, not an emoji (no emoji font needed).
    let icons = visitor
        .eval(
            "return {svg: document.querySelectorAll('.msg-guest.attachment button.file svg path').length, \
                     clip: document.querySelectorAll('label.attach svg').length, \
                     emoji: /[\\u{1F300}-\\u{1FAFF}\\u2600-\\u27BF]/u.test(document.body.innerText)};",
        )
        .await;
    assert!(icons["svg"].as_u64().unwrap_or(0) >= 1, "{icons}");
    assert_eq!(icons["clip"], 1, "{icons}");
    assert_eq!(icons["emoji"], false, "no emoji in the panel: {icons}");
    // The file picker is reachable by keyboard: the real input is focusable, inside its label.
    let picker = visitor
        .eval(
            "const i = document.querySelector('form.composer input[type=file]'); i.focus(); \
             return {focused: document.activeElement === i, inLabel: !!i.closest('label.attach'), \
                     tab: i.tabIndex, ring: getComputedStyle(i.closest('label.attach')).outlineStyle};",
        )
        .await;
    assert_eq!(picker["focused"], true, "{picker}");
    assert_eq!(picker["inLabel"], true, "{picker}");
    assert!(picker["tab"].as_i64().unwrap_or(-1) >= 0, "{picker}");
    assert_eq!(
        picker["ring"], "solid",
        "focus shows on the paper clip: {picker}"
    );
    visitor.enter_top_frame().await;
    visitor
        .screenshot(screenshot_path("attachment_en_370"))
        .await;
    viewport(&visitor, 390, 844, true).await;
    visitor
        .screenshot(screenshot_path("invitation_attachment_en_phone_390x844"))
        .await;

    // In German (the browser's language), the composer's placeholder fits, at 370 px and on a phone.
    let agent = visitor.eval("return navigator.userAgent").await;
    visitor
        .cdp(
            "Network.setUserAgentOverride",
            json!({"userAgent": agent, "acceptLanguage": "de-DE", "platform": "Linux"}),
        )
        .await
        .expect("language set");
    for (name, width, height, mobile) in [
        ("german_370", 370, 740, false),
        ("german_phone_390x844", 390, 844, true),
    ] {
        viewport(&visitor, width, height, mobile).await;
        visitor.goto(&narrow).await;
        // The chat goes on: the loader brings the panel back by itself on the next page.
        visitor.enter_widget_panel().await;
        assert!(
            visitor
                .wait_for(
                    &panel_has(&format!("s.messages.some(m => m.body === {INVITE_TEXT:?})")),
                    WAIT
                )
                .await,
            "the chat is still there"
        );
        let fit = visitor
            .eval(
                "const t = document.querySelector('textarea.input'), cs = getComputedStyle(t); \
                 const ctx = document.createElement('canvas').getContext('2d'); ctx.font = cs.font; \
                 const room = t.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight); \
                 return {lang: document.documentElement.lang, placeholder: t.placeholder, \
                         text: ctx.measureText(t.placeholder).width, room: room, \
                         send: document.querySelector('form.composer button.send').textContent};",
            )
            .await;
        assert_eq!(fit["lang"], "de", "{fit}");
        assert!(
            fit["text"].as_f64().unwrap_or(f64::MAX) <= fit["room"].as_f64().unwrap_or(0.0),
            "the German placeholder fits in the composer at {width} px: {fit}"
        );
        visitor.enter_top_frame().await;
        visitor.screenshot(screenshot_path(name)).await;
    }

    visitor
        .assert_no_dialogs("shop with the invited chat")
        .await;
    operator.assert_no_dialogs("console").await;
}

#[tokio::test]
async fn the_german_panel_offers_a_styled_file_picker_when_nobody_is_there() {
    let Some(visitor) =
        Browser::launch("invitation_context::the_german_panel_offers_a_styled_file_picker").await
    else {
        return;
    };
    let db = TestDatabase::sqlite();
    let fx = SiteFixture::start(&db, &[], "").await;
    let shop = HostSite::start(&fx.app.address, &fx.site.public_key).await;
    fx.allow_widget_on(&shop.origin).await;
    visitor.goto(&shop.url("/products/tent")).await;
    let agent = visitor.eval("return navigator.userAgent").await;
    visitor
        .cdp(
            "Network.setUserAgentOverride",
            json!({"userAgent": agent, "acceptLanguage": "de-DE", "platform": "Linux"}),
        )
        .await
        .expect("language set");
    viewport(&visitor, 370, 740, false).await;
    visitor.goto(&add_narrow_page(&shop)).await;
    assert!(
        visitor
            .wait_for("const r = document.getElementById('beckon-root'); return !!(r && r.shadowRoot && r.shadowRoot.querySelector('button.launcher'))", WAIT)
            .await,
        "launcher shown"
    );
    visitor.eval("document.getElementById('beckon-root').shadowRoot.querySelector('button.launcher').click(); return true;").await;
    visitor.enter_widget_panel().await;
    // Nobody is signed in: leave-a-message, with its file picker.
    assert!(
        visitor
            .wait_for(&panel_has("s.mode === 'offline'"), WAIT)
            .await
    );
    let picker = visitor
        .eval(
            "const i = document.querySelector('form.leave input[type=file]'); \
             const dt = new DataTransfer(); dt.items.add(new File(['x'], 'Foto vom Zelt.jpg', {type: 'image/jpeg'})); \
             i.files = dt.files; i.dispatchEvent(new Event('change')); i.focus(); \
             const label = i.closest('label.pick-button'); \
             return {focused: document.activeElement === i, label: label ? label.textContent : null, \
                     svg: label ? label.querySelectorAll('svg').length : 0, width: i.getBoundingClientRect().width, \
                     chosen: document.querySelector('form.leave .pick-name').textContent};",
        )
        .await;
    assert_eq!(picker["focused"], true, "keyboard reachable: {picker}");
    assert_eq!(picker["label"], "Datei anhängen (optional)", "{picker}");
    assert_eq!(picker["svg"], 1, "{picker}");
    assert!(
        picker["width"].as_f64().unwrap_or(99.0) <= 1.0,
        "the native control is hidden: {picker}"
    );
    assert_eq!(
        picker["chosen"], "Foto vom Zelt.jpg",
        "the chosen name shows: {picker}"
    );
    visitor.enter_top_frame().await;
    visitor
        .screenshot(screenshot_path("leave_a_message_de_370"))
        .await;
}

/// The owner's console socket watching the site's live visitors; the snapshot's only visitor id.
async fn watch_and_find_visitor(fx: &SiteFixture, console: &mut WsClient) -> String {
    console
        .send(json!({"type": "watch", "site_id": fx.site.id.to_string(), "filter": {"page": "", "referrer": "", "kind": "all"}, "offset": 0, "limit": 100}))
        .await;
    for _ in 0..20 {
        let event = console.next_event(WAIT).await.expect("console event");
        let listed = match event["type"].as_str() {
            Some("snapshot") => event["visitors"].clone(),
            Some("visitors") => event["upserts"].clone(),
            _ => continue,
        };
        if let Some(id) = listed
            .as_array()
            .and_then(|v| v.first())
            .and_then(|v| v["id"].as_str())
        {
            return id.to_owned();
        }
    }
    panic!("the visitor was never listed");
}

/// Rows stored for the site: (conversations, messages in them, invitations with a conversation).
async fn stored(fx: &SiteFixture) -> (i64, i64, Vec<Option<String>>) {
    let url = fx.app.database_url().to_owned();
    let site_id = fx.site.id.to_string();
    tokio::task::spawn_blocking(move || {
        use beckon::db::schema::{conversations, invitations, messages};
        use diesel::prelude::*;
        let db = beckon::db::Db::connect(&url, 1).expect("connect");
        let mut conn = db.conn().expect("conn");
        let ids: Vec<String> = conversations::table
            .filter(conversations::site_id.eq(&site_id))
            .select(conversations::id)
            .load(&mut *conn)
            .expect("conversations");
        let count: i64 = messages::table
            .filter(messages::conversation_id.eq_any(&ids))
            .count()
            .get_result(&mut *conn)
            .expect("messages");
        let linked: Vec<Option<String>> = invitations::table
            .filter(invitations::site_id.eq(&site_id))
            .select(invitations::conversation_id)
            .load(&mut *conn)
            .expect("invitations");
        (ids.len() as i64, count, linked)
    })
    .await
    .expect("read the database")
}

#[tokio::test]
async fn accepting_an_invitation_twice_opens_one_chat_assigned_to_the_inviter_on_sqlite() {
    accepting_twice_opens_one_chat(TestDatabase::sqlite()).await;
}

#[tokio::test]
async fn accepting_an_invitation_twice_opens_one_chat_assigned_to_the_inviter_on_postgres() {
    if let Some(db) = TestDatabase::postgres("invitation_context::accepting_twice_on_postgres") {
        accepting_twice_opens_one_chat(db).await;
    }
}

#[tokio::test]
async fn an_invitation_accepted_while_waiting_joins_that_chat_on_sqlite() {
    accepted_while_waiting_joins_that_chat(TestDatabase::sqlite()).await;
}

#[tokio::test]
async fn an_invitation_accepted_while_waiting_joins_that_chat_on_postgres() {
    if let Some(db) =
        TestDatabase::postgres("invitation_context::accepted_while_waiting_on_postgres")
    {
        accepted_while_waiting_joins_that_chat(db).await;
    }
}

async fn accepting_twice_opens_one_chat(db: TestDatabase) {
    let origin = "https://shop.example";
    let fx = SiteFixture::start(&db, &[], origin).await;
    let (mut tab, token) = fx.guest(origin).await;
    let mut console = fx.console_socket().await;
    let visitor_id = watch_and_find_visitor(&fx, &mut console).await;

    console
        .send(json!({"type": "invite", "visitor_id": visitor_id, "message": "Need a hand?"}))
        .await;
    let invite = tab
        .next_of_type("invite", WAIT)
        .await
        .expect("invitation shown");
    let invitation_id = invite["invitation_id"].as_str().expect("id").to_owned();
    let accept =
        json!({"type": "invite_response", "invitation_id": invitation_id, "accepted": true});

    // Accepted (twice, from two tabs, as a double click or a retry would).
    let mut other_tab = fx.visitor_socket(origin, &token).await;
    tab.send(accept.clone()).await;
    other_tab.send(accept.clone()).await;
    let conversation = tab
        .next_of_type("conversation", WAIT)
        .await
        .expect("the guest's tab follows the new chat");
    assert_eq!(conversation["status"], "open", "{conversation}");
    assert_eq!(conversation["operator"], "Olive Owner", "{conversation}");
    let conversation_id = conversation["conversation_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let message = tab
        .next_of_type("message", WAIT)
        .await
        .expect("the inviter's message");
    assert_eq!(message["seq"], 1, "{message}");
    assert_eq!(message["sender"], "operator", "{message}");
    assert_eq!(message["sender_name"], "Olive Owner", "{message}");
    assert_eq!(message["body"], "Need a hand?", "{message}");
    let told = console
        .next_of_type("invitation_accepted", WAIT)
        .await
        .expect("the inviter is told");
    assert_eq!(told["conversation_id"], conversation_id.as_str(), "{told}");
    assert_eq!(told["visitor_id"], visitor_id.as_str(), "{told}");

    // Once more, later: nothing new.
    tab.send(accept).await;
    tab.expect_none_of_type("message", Duration::from_millis(800))
        .await;
    let (conversations, messages, linked) = stored(&fx).await;
    assert_eq!(conversations, 1, "one chat");
    assert_eq!(messages, 1, "the invitation's text once");
    assert_eq!(linked, vec![Some(conversation_id.clone())]);

    // A tab opened now (the chat panel after "Chat now") is handed the chat at once.
    let mut panel = fx.visitor_socket(origin, &token).await;
    let handed = panel
        .next_of_type("conversation", WAIT)
        .await
        .expect("a new tab is told the open chat");
    assert_eq!(handed["conversation_id"], conversation_id.as_str());
    assert_eq!(handed["last_seq"], 1);
}

async fn accepted_while_waiting_joins_that_chat(db: TestDatabase) {
    let origin = "https://shop.example";
    let fx = SiteFixture::start(&db, &[], origin).await;
    let (mut tab, _token) = fx.guest(origin).await;
    let waiting = beckon_tests::start_chat(&mut tab, "Wanda").await;
    let mut console = fx.console_socket().await;
    let visitor_id = watch_and_find_visitor(&fx, &mut console).await;
    console
        .send(json!({"type": "invite", "visitor_id": visitor_id, "message": ""}))
        .await;
    let invite = tab.next_of_type("invite", WAIT).await.expect("invite");
    tab.send(json!({"type": "invite_response", "invitation_id": invite["invitation_id"], "accepted": true}))
        .await;
    let conversation = tab
        .next_of_type("conversation", WAIT)
        .await
        .expect("update");
    assert_eq!(
        conversation["conversation_id"],
        waiting.as_str(),
        "no second chat"
    );
    assert_eq!(conversation["status"], "open");
    assert_eq!(conversation["operator"], "Olive Owner");
    let message = tab.next_of_type("message", WAIT).await.expect("message");
    assert_eq!(message["body"], "Hi! Can I help you with anything?");
    assert_eq!(message["sender"], "operator");
    let (conversations, _, linked) = stored(&fx).await;
    assert_eq!(conversations, 1);
    assert_eq!(linked, vec![Some(waiting)]);
}
