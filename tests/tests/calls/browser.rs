//! Calls in real headless Chromium with fake cameras and microphones: the guest in the widget's
//! panel on a shop of another origin, the operator in the console's Chats. Media is proven to flow
//! by both sides' `getStats()`, and once through a real coturn with ICE forced to relay.

use std::time::Duration;

use beckon_tests::{Browser, Coturn, HostSite, SiteFixture, TestDatabase};

const WAIT: Duration = Duration::from_secs(15);
/// Fake devices, and permission prompts answered yes (a test may deny one through CDP).
const MEDIA: [&str; 3] = [
    "--auto-select-desktop-capture-source=Entire screen",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
];

/// The guest's browser (inside the panel's frame), the owner's (at Chats with the chat accepted),
/// the database, the server and the shop.
struct Stage {
    visitor: Browser,
    operator: Browser,
    fx: SiteFixture,
    _shop: HostSite,
    _db: TestDatabase,
}

/// Two browsers, Beckon with `args`, a guest who wrote from the shop's panel and the owner who
/// accepted the chat in Chats. `None` when there is no Chromium.
async fn chatting(suite: &str, args: &[&str]) -> Option<Stage> {
    let (visitor, operator) = Browser::launch_pair_with(suite, &MEDIA).await?;
    let db = TestDatabase::sqlite();
    let fx = SiteFixture::start(&db, args, "").await;
    let shop = HostSite::start(&fx.app.address, &fx.site.public_key).await;
    fx.allow_widget_on(&shop.origin).await;
    fx.open_console_in(&operator, "/console/chats", "chat-status")
        .await;
    visitor.open_widget_panel(&shop.url("/products/tent")).await;
    visitor
        .eval("document.querySelector('input.name').value = 'Gina'; document.querySelector('textarea.input').value = 'Can we talk?'; document.querySelector('form.composer').requestSubmit(); return true;")
        .await;
    assert!(
        operator
            .wait_for(
                "return document.querySelectorAll('#queue .conv-item').length === 1",
                WAIT
            )
            .await,
        "the chat waits in the queue"
    );
    operator
        .eval("document.querySelector('#queue .conv-item button.accept').click(); return true;")
        .await;
    assert!(
        visitor
            .wait_for("return window.__beckonPanel.state().messages.some(m => m.body === 'Can we talk?' && m.status !== 'pending')", WAIT)
            .await,
        "the message was stored"
    );
    Some(Stage {
        visitor,
        operator,
        fx,
        _shop: shop,
        _db: db,
    })
}

/// Clicks `selector` once it is there and shown; panics with the page's console log otherwise.
async fn click(browser: &Browser, selector: &str, what: &str) {
    let shown = format!(
        "const e = document.querySelector({selector:?}); return !!e && !e.disabled && e.offsetParent !== null"
    );
    if !browser.wait_for(&shown, WAIT).await {
        panic!(
            "{what}: {selector} not shown; log {:?}",
            browser.console_log().await
        );
    }
    browser
        .eval(&format!(
            "document.querySelector({selector:?}).click(); return true;"
        ))
        .await;
}

/// Whether the current call's peer connection is connected.
async fn connected(browser: &Browser) -> bool {
    browser
        .wait_for(
            "const c = window.beckonCall; return !!(c && c.pc && c.pc.connectionState === 'connected')",
            WAIT,
        )
        .await
}

/// Bytes received so far on the call's inbound `kind` ("audio" or "video") streams.
fn inbound(kind: &str) -> String {
    format!(
        "(async () => {{ const c = window.beckonCall; if (!c || !c.pc) return 0; let n = 0; \
         (await c.pc.getStats()).forEach(s => {{ if (s.type === 'inbound-rtp' && s.kind === {kind:?}) n += s.bytesReceived || 0; }}); return n; }})()"
    )
}

/// Asserts that inbound audio and video bytes keep increasing (two rises in a row) on `browser`.
async fn media_flows(browser: &Browser, who: &str, kinds: &[&str]) {
    for kind in kinds {
        for _ in 0..2 {
            let before = browser.eval(&format!("return {};", inbound(kind))).await;
            let before = before.as_f64().unwrap_or(0.0);
            let rose = browser
                .wait_for(
                    &format!("return {}.then(n => n > {before});", inbound(kind)),
                    WAIT,
                )
                .await;
            assert!(
                rose,
                "{who}: inbound {kind} bytes did not increase past {before}"
            );
        }
    }
}

/// Whether the console's transcript shows a line containing `text`.
async fn console_line(operator: &Browser, text: &str) -> bool {
    operator
        .wait_for(
            &format!("return Array.from(document.querySelectorAll('#messages li')).some(li => li.textContent.includes({text:?}))"),
            WAIT,
        )
        .await
}

/// Whether the panel's transcript shows a line containing `text`.
async fn panel_line(visitor: &Browser, text: &str) -> bool {
    visitor
        .wait_for(
            &format!(
                "return window.__beckonPanel.state().messages.some(m => m.body.includes({text:?}))"
            ),
            WAIT,
        )
        .await
}

#[tokio::test]
async fn a_video_call_carries_media_both_ways_and_a_screen_share_then_the_guest_hangs_up() {
    let Some(s) = chatting("calls::browser::video_call", &[]).await else {
        return;
    };
    click(&s.operator, "#beckon-call-video", "start a video call").await;
    click(&s.visitor, "#beckon-call-accept", "accept the call").await;
    assert!(connected(&s.visitor).await, "the guest's side connected");
    assert!(
        connected(&s.operator).await,
        "the operator's side connected"
    );
    media_flows(&s.visitor, "guest", &["audio", "video"]).await;
    media_flows(&s.operator, "operator", &["audio", "video"]).await;

    // The operator shares the screen: the guest is told, and video keeps arriving.
    click(&s.operator, "#beckon-call-screen", "share the screen").await;
    assert!(
        s.visitor
            .wait_for(
                "const c = window.beckonCall; return !!(c && c.remote && c.remote.screen === true)",
                WAIT
            )
            .await,
        "the guest learns the operator shares the screen"
    );
    media_flows(&s.visitor, "guest during the share", &["video"]).await;

    click(&s.visitor, "#beckon-call-hangup", "hang up").await;
    assert!(
        console_line(&s.operator, "Call ended by Gina").await,
        "transcript in the console"
    );
    assert!(
        s.operator
            .wait_for("const e = document.querySelector('[data-call-state]'); return !e || e.dataset.callState === 'idle' || e.dataset.callState === 'ended'", WAIT)
            .await,
        "the console's call ended"
    );
    assert!(panel_line(&s.visitor, "answered the call").await);
    drop(s.fx);
}

#[tokio::test]
async fn declined_missed_and_a_denied_microphone_leave_the_chat_working() {
    let Some(s) = chatting(
        "calls::browser::declined_missed_denied",
        &["--call-ring-secs", "4"],
    )
    .await
    else {
        return;
    };
    // A phone-sized panel rings the same.
    s.visitor
        .cdp(
            "Emulation.setDeviceMetricsOverride",
            serde_json::json!({"width": 390, "height": 800, "deviceScaleFactor": 2, "mobile": true}),
        )
        .await
        .expect("phone viewport");

    click(&s.operator, "#beckon-call-voice", "start a voice call").await;
    click(&s.visitor, "#beckon-call-decline", "decline").await;
    assert!(console_line(&s.operator, "Gina declined the call").await);

    click(&s.operator, "#beckon-call-voice", "call again").await;
    assert!(
        s.visitor
            .wait_for("const e = document.querySelector('#beckon-call-accept'); return !!e && e.offsetParent !== null", WAIT)
            .await,
        "it rings"
    );
    assert!(
        panel_line(&s.visitor, "Missed voice call").await,
        "missed after the ring time"
    );
    assert!(
        s.visitor
            .wait_for("const e = document.querySelector('#beckon-call-accept'); return !e || e.offsetParent === null", WAIT)
            .await,
        "the ringing stopped"
    );

    // The guest's browser refuses the microphone: a clear message, and the chat goes on. With
    // --use-fake-ui-for-media-stream Chromium grants every prompt (a CDP permission override does
    // not change that), so the refusal is the DOMException Chromium raises for a denied prompt.
    s.visitor
        .eval("navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('Permission denied', 'NotAllowedError')); return true;")
        .await;
    click(&s.operator, "#beckon-call-voice", "call once more").await;
    click(&s.visitor, "#beckon-call-accept", "accept").await;
    assert!(
        s.visitor
            .wait_for("const e = document.querySelector('#beckon-call-message'); return !!e && /microphone/i.test(e.textContent)", WAIT)
            .await,
        "the guest is told the microphone was refused; log {:?}",
        s.visitor.console_log().await
    );
    s.visitor
        .eval("document.querySelector('textarea.input').value = 'Text is fine'; document.querySelector('form.composer').requestSubmit(); return true;")
        .await;
    assert!(
        console_line(&s.operator, "Text is fine").await,
        "the chat goes on"
    );
}

#[tokio::test]
async fn a_call_through_a_real_coturn_with_ice_forced_to_relay() {
    let secret = "relay-test-secret";
    let Some(coturn) = Coturn::start("calls::browser::relay", secret) else {
        return;
    };
    let servers = coturn.url();
    let Some(s) = chatting(
        "calls::browser::relay",
        &["--ice-servers", &servers, "--turn-secret", secret],
    )
    .await
    else {
        return;
    };
    for browser in [&s.visitor, &s.operator] {
        browser
            .eval("window.BECKON_ICE_POLICY = 'relay'; return true;")
            .await;
    }
    click(&s.operator, "#beckon-call-video", "start a video call").await;
    click(&s.visitor, "#beckon-call-accept", "accept").await;
    assert!(
        connected(&s.visitor).await,
        "connected through TURN; coturn log {}",
        coturn.log()
    );
    assert!(connected(&s.operator).await, "connected through TURN");
    for (browser, who) in [(&s.visitor, "guest"), (&s.operator, "operator")] {
        let relayed = browser
            .eval(
                "return (async () => { const r = await window.beckonCall.pc.getStats(); let pair = null; \
                 r.forEach(s => { if (s.type === 'transport' && s.selectedCandidatePairId) pair = r.get(s.selectedCandidatePairId); }); \
                 if (!pair) r.forEach(s => { if (s.type === 'candidate-pair' && s.state === 'succeeded' && s.nominated) pair = s; }); \
                 const local = pair && r.get(pair.localCandidateId); return local ? local.candidateType : null; })()",
            )
            .await;
        assert_eq!(
            relayed, "relay",
            "{who}'s selected candidate is a relay one"
        );
        media_flows(browser, who, &["audio", "video"]).await;
    }
}
