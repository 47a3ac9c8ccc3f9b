//! Chat end to end in real headless Chromium: the guest in the widget's panel on a shop of another
//! origin, the operator in the console's chat workspace. Send, receive, typing, read receipts,
//! transfer, and the chat carrying on across page navigation (a reconnect).

use std::time::Duration;

use beckon_tests::{Browser, HostSite, SiteFixture, TestDatabase};

const WAIT: Duration = Duration::from_secs(8);

/// Adds a colleague, Agnes (handle `agnes`), to the site, for transfers.
async fn add_colleague(fx: &SiteFixture) {
    let url = fx.app.database_url().to_owned();
    tokio::task::spawn_blocking(move || {
        let db = beckon::db::Db::connect(&url, 1).unwrap();
        let mut conn = db.conn().unwrap();
        let agent = beckon::services::accounts::NewOperator {
            email: beckon::domain::Email::parse("agent@example.com").unwrap(),
            handle: beckon::domain::Handle::parse("agnes").unwrap(),
            display_name: beckon::domain::DisplayName::parse("Agnes Agent").unwrap(),
            password: beckon::domain::Password::parse("agent password 1").unwrap(),
            phone: None,
        };
        let site = beckon::db::models::Site::find_by_slug(&mut conn, "demo-shop")
            .unwrap()
            .unwrap();
        beckon::services::accounts::create_operator(
            &mut conn,
            &agent,
            Some((&site, beckon::db::models::Role::Agent)),
        )
        .unwrap();
    })
    .await
    .unwrap();
}

fn panel_has(condition: &str) -> String {
    format!("const s = window.__beckonPanel.state(); return {condition};")
}

/// What a browser test holds: the guest's browser, the owner's, the database (kept for the
/// server's lifetime), the site and the shop on another origin.
type Stage = (Browser, Browser, TestDatabase, SiteFixture, HostSite);

/// A guest's browser and the owner's, a fresh site whose widget the example shop (another origin)
/// embeds, and the owner's console open at Chats; `None` when there is no Chromium.
async fn shop_and_console(suite: &str) -> Option<Stage> {
    let (visitor, operator) = Browser::launch_pair(suite).await?;
    let db = TestDatabase::sqlite();
    let fx = SiteFixture::start(&db, &[], "").await;
    let shop = HostSite::start(&fx.app.address, &fx.site.public_key).await;
    fx.allow_widget_on(&shop.origin).await;
    fx.open_console_in(&operator, "/console/chats", "chat-status")
        .await;
    Some((visitor, operator, db, fx, shop))
}

#[tokio::test]
async fn a_guest_and_an_operator_chat_in_real_browsers() {
    let Some((visitor, operator, _db, fx, shop)) =
        shop_and_console("chat_browser::a_guest_and_an_operator_chat").await
    else {
        return;
    };
    add_colleague(&fx).await;

    // The guest opens the panel from the launcher and writes.
    open_panel(&visitor, &shop, "/products/tent").await;
    let hostile = "Hello <b>there</b> {{7*7}} <img src=x onerror=alert(1)>";
    visitor
        .eval(&format!(
            "document.querySelector('input.name').value = 'Gina'; document.querySelector('textarea.input').value = {hostile:?}; \
             document.querySelector('form.composer').requestSubmit(); return true;"
        ))
        .await;
    assert!(
        visitor.wait_for(&panel_has("s.messages.length === 1 && s.messages[0].status !== 'pending' && !!s.conversationId"), WAIT).await,
        "sent and acknowledged"
    );

    // The operator sees it waiting, accepts, and reads it as text.
    accept_the_one_queued_chat(&operator, "queued").await;
    let shown = "return Array.from(document.querySelectorAll('#messages .msg-body')).map(e => e.textContent)";
    assert!(
        operator
            .wait_for(
                &format!(
                    "return ({}).includes({hostile:?});",
                    shown.trim_start_matches("return ")
                ),
                WAIT
            )
            .await,
        "the guest's message reached the console"
    );
    assert_eq!(
        operator
            .eval("return document.querySelectorAll('#messages img, #messages b').length")
            .await,
        0
    );

    // Typing shows on the guest's side.
    operator
        .eval("const t = document.querySelector('#composer textarea'); t.value = 'Hi Gina'; t.dispatchEvent(new Event('input', {bubbles: true})); return true;")
        .await;
    assert!(
        visitor.wait_for("const t = document.querySelector('.typing'); return !!t && t.textContent.length > 0 && t.offsetParent !== null", WAIT).await,
        "operator typing shown to the guest"
    );
    operator
        .eval("document.getElementById('composer').requestSubmit(); return true;")
        .await;
    assert!(
        visitor
            .wait_for(
                &panel_has("s.messages.some(m => m.sender === 'operator' && m.body === 'Hi Gina')"),
                WAIT
            )
            .await,
        "the reply reached the guest"
    );

    // Read receipts both ways.
    assert!(
        visitor
            .wait_for(
                &panel_has("s.messages.some(m => m.sender === 'guest' && m.status === 'read')"),
                WAIT
            )
            .await,
        "the guest sees the operator read the message"
    );
    assert!(
        operator.wait_for("return Array.from(document.querySelectorAll('#messages li.from-operator')).some(li => li.dataset.status === 'read')", WAIT).await,
        "the operator sees the guest read the reply"
    );

    // Files both ways: the guest's text file reaches the console as a download link; the operator's
    // image reaches the panel with a thumbnail.
    visitor
        .eval(
            "const dt = new DataTransfer(); dt.items.add(new File(['order 1234 details'], 'order <1234>.txt', {type: 'text/plain'})); \
             const input = document.querySelector('form.composer input[type=file]'); input.files = dt.files; \
             input.dispatchEvent(new Event('change')); return true;",
        )
        .await;
    assert!(
        operator
            .wait_for("return Array.from(document.querySelectorAll('#messages a.attachment-link')).some(a => a.textContent.includes('order <1234>.txt'))", WAIT)
            .await,
        "the guest's file is offered to the operator"
    );
    let href = operator
        .eval("return document.querySelector('#messages a.attachment-link').getAttribute('href')")
        .await;
    let text = operator
        .eval(&format!("return fetch({href}).then(r => r.text())"))
        .await;
    assert_eq!(
        text, "order 1234 details",
        "the operator downloads it with the console session"
    );
    operator
        .eval(
            "const png = Uint8Array.from(atob('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII='), c => c.charCodeAt(0)); \
             const dt = new DataTransfer(); dt.items.add(new File([png], 'dot.png', {type: 'image/png'})); \
             const input = document.getElementById('attach-input'); input.files = dt.files; input.dispatchEvent(new Event('change')); return true;",
        )
        .await;
    assert!(
        visitor.wait_for("return Array.from(document.querySelectorAll('img')).some(i => i.src.startsWith('blob:') && i.naturalWidth === 1)", WAIT).await,
        "the operator's image shows as a thumbnail in the panel"
    );

    // Navigation reconnects: the chat is still there on the next page, with its history.
    visitor.enter_top_frame().await;
    visitor.goto(&shop.url("/products/stove")).await;
    visitor.enter_widget_panel().await;
    assert!(
        visitor.wait_for(&panel_has("s.messages.some(m => m.body === 'Hi Gina') && s.messages.some(m => m.sender === 'guest')"), WAIT).await,
        "history restored after navigation"
    );
    operator
        .eval("const t = document.querySelector('#composer textarea'); t.value = 'Still here'; document.getElementById('composer').requestSubmit(); return true;")
        .await;
    assert!(
        visitor
            .wait_for(
                &panel_has("s.messages.some(m => m.body === 'Still here')"),
                WAIT
            )
            .await,
        "live after the reconnect"
    );

    // Transfer to a colleague: the guest is told.
    operator
        .eval("document.getElementById('transfer-chat').click(); return true;")
        .await;
    operator
        .eval("document.querySelector('#transfer-form input[name=operator_handle]').value = 'agnes'; document.querySelector('#transfer-form button[value=transfer]').click(); return true;")
        .await;
    assert!(
        visitor
            .wait_for(
                &panel_has(
                    "s.messages.some(m => m.sender === 'system' && m.body.includes('Agnes Agent'))"
                ),
                WAIT
            )
            .await,
        "transfer announced"
    );

    visitor.enter_top_frame().await;
    visitor.assert_no_dialogs("shop with the chat panel").await;
    operator.assert_no_dialogs("console chat workspace").await;
}

/// Opens the launcher on `path` of the shop and switches into the panel.
async fn open_panel(visitor: &Browser, shop: &HostSite, path: &str) {
    visitor.open_widget_panel(&shop.url(path)).await;
}

/// Waits until the console's queue holds exactly one chat (`what` names it on failure) and accepts it.
async fn accept_the_one_queued_chat(operator: &Browser, what: &str) {
    assert!(
        operator
            .wait_for(
                "return document.querySelectorAll('#queue .conv-item').length === 1",
                WAIT
            )
            .await,
        "{what}"
    );
    operator
        .eval("document.querySelector('#queue .conv-item button.accept').click(); return true;")
        .await;
}

/// Waits until the console's inbox (offline messages) holds exactly one conversation, and none waits
/// among the live chats; accepts it.
async fn accept_the_one_inbox_chat(operator: &Browser, what: &str) {
    assert!(
        operator
            .wait_for(
                "return document.querySelectorAll('#inbox .conv-item').length === 1 && document.querySelectorAll('#queue .conv-item').length === 0",
                WAIT
            )
            .await,
        "{what}"
    );
    operator
        .eval("document.querySelector('#inbox .conv-item button.accept').click(); return true;")
        .await;
}

/// Whether `selector` is in the panel and shown.
fn panel_shows(selector: &str) -> String {
    format!(
        "const n = document.querySelector({selector:?}); return !!n && n.offsetParent !== null;"
    )
}

/// What the panel offers: the composer while someone can answer, else the leave-a-message form.
#[derive(Debug, Clone, Copy)]
enum PanelMode {
    Chat,
    Offline,
}

/// Waits until the panel is in `mode`, by its state and by what it shows.
async fn expect_panel(visitor: &Browser, mode: PanelMode) {
    let (state, shown) = match mode {
        PanelMode::Chat => ("s.siteOnline && s.mode === 'chat'", "form.composer"),
        PanelMode::Offline => ("!s.siteOnline && s.mode === 'offline'", "form.leave"),
    };
    assert!(
        visitor.wait_for(&panel_has(state), WAIT).await,
        "panel in {mode:?} mode"
    );
    assert!(
        visitor.wait_for(&panel_shows(shown), WAIT).await,
        "{shown} shown"
    );
}

#[tokio::test]
async fn the_widget_turns_into_leave_a_message_when_the_last_operator_leaves_and_back() {
    let Some((visitor, operator, _db, fx, shop)) =
        shop_and_console("chat_browser::the_widget_turns_into_leave_a_message").await
    else {
        return;
    };

    // Someone is there: the guest gets the composer and starts typing, without sending.
    open_panel(&visitor, &shop, "/products/tent").await;
    expect_panel(&visitor, PanelMode::Chat).await;
    let typed = "Do you ship to <Norway>? {{7*7}}";
    visitor
        .eval(&format!(
            "const t = document.querySelector('textarea.input'); t.value = {typed:?}; \
             t.dispatchEvent(new Event('input', {{bubbles: true}})); return true;"
        ))
        .await;

    // The last operator closes the console: the panel becomes leave-a-message, keeping the text.
    operator.goto("about:blank").await;
    expect_panel(&visitor, PanelMode::Offline).await;
    assert!(
        !visitor
            .wait_for(&panel_shows("form.composer"), Duration::from_millis(300))
            .await
    );
    assert_eq!(
        visitor
            .eval("return document.querySelector('form.leave textarea').value")
            .await,
        typed,
        "the typed text moved into the form"
    );

    // An operator returns: back to the composer, with the text (edited meanwhile) still there.
    visitor
        .eval(
            "const t = document.querySelector('form.leave textarea'); t.value += ' Thanks'; \
             t.dispatchEvent(new Event('input', {bubbles: true})); return true;",
        )
        .await;
    fx.open_console_in(&operator, "/console/chats", "chat-status")
        .await;
    expect_panel(&visitor, PanelMode::Chat).await;
    assert_eq!(
        visitor
            .eval("return document.querySelector('textarea.input').value")
            .await,
        format!("{typed} Thanks")
    );

    // Offline once more, the guest leaves the message; it waits in the console's inbox.
    operator.goto("about:blank").await;
    expect_panel(&visitor, PanelMode::Offline).await;
    visitor
        .eval(
            "document.querySelector('form.leave input[name=email]').value = 'norway@example.com'; \
             document.querySelector('form.leave').requestSubmit(); return true;",
        )
        .await;
    assert!(
        visitor
            .wait_for(&panel_has("s.mode === 'sent'"), WAIT)
            .await,
        "confirmation shown: {:?}",
        visitor.try_eval(&panel_has("s")).await
    );
    assert!(visitor.wait_for(&panel_shows("div.thanks"), WAIT).await);
    fx.open_console_in(&operator, "/console/chats", "chat-status")
        .await;
    accept_the_one_inbox_chat(&operator, "the offline message is in the inbox").await;
    assert!(
        operator
            .wait_for(
                &format!("return Array.from(document.querySelectorAll('#messages .msg-body')).some(e => e.textContent.includes({typed:?}))"),
                WAIT
            )
            .await,
        "the message reached the console as text"
    );

    visitor.enter_top_frame().await;
    visitor
        .assert_no_dialogs("shop with the leave-a-message panel")
        .await;
    operator.assert_no_dialogs("console chat workspace").await;
}
