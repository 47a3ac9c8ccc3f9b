// Runs the served loader script (read from stdin) in the fake browser and checks what it does.
// Usage: node loader_scenarios.js SCENARIO < loader.js (see `scenarios` at the end). Exits non-zero on the
// first failed check.
"use strict";

const assert = require("node:assert/strict");
const fs = require("node:fs");
const vm = require("node:vm");
const fake = require("./fake_browser.js");
const { requests, beacons, sockets, storage, session, settle, runTimers, timers, FakeWindow } = fake;

const BASE = "http://127.0.0.1:8080";
const STORE = "beckon:KEY";
const script = fs.readFileSync(0, "utf8");
const load = () => vm.runInThisContext(script);


const lastBeacon = () => JSON.parse(beacons[beacons.length - 1].body);
const root = () => document.getElementById("beckon-root");
const shadow = () => root().shadowRoot;
const frame = () => shadow().querySelector("iframe.panel");
// The launcher's (constructed) style sheet.
const sheet = () => shadow().adoptedStyleSheets[0].text;
// Runs every pending timer; the delays of those that are not the invitation poll's (3 s, 15 s hidden).
const backoffs = () => runTimers().filter((delay) => delay !== 3e3 && delay !== 15e3);
// The timers pending, the invitation poll's left out.
const otherTimers = () => timers.filter((timer) => timer.delay !== 3e3 && timer.delay !== 15e3);
// The host element's inline style ({property: value}, set through CSSOM).
const hostStyle = () => root().style;
// The requests to the identify endpoint so far.
const identifies = () => requests.filter((r) => r.url === BASE + "/api/v1/identify");

// A postMessage event arriving at the host page.
function messageFrom(source, origin, data) {
  dispatchEvent(Object.assign(new Event("message"), { source, origin, data }));
}

// What the loader posted to the panel since the last call.
function postedToPanel() {
  const win = frame().contentWindow;
  return win.posted.splice(0, win.posted.length);
}

// Answers the pending guest request and lets the loader act on the answer.
async function answerGuest(status, body) {
  const request = requests[requests.length - 1];
  assert.equal(request.url, BASE + "/api/v1/visitors");
  request.answer(status, body);
  await settle();
  return JSON.parse(request.init.body);
}

async function visit() {
  storage.set(STORE, JSON.stringify({ g: "old", t: "tok-old" }));
  window.Beckon = [["identify", { id: "u1" }], ["open"], ["no-such-method"]];

  load();

  // The queue was replayed and replaced by the API.
  assert.equal(typeof window.Beckon.open, "function");
  assert.equal(typeof window.Beckon.identify, "function");
  assert.equal(session.get("beckon:open:KEY"), "1", "queued open() replayed");
  window.Beckon.identify({ id: "u2" });

  // Guest request: a string body (sent as text/plain), no credentials, the stored token.
  assert.equal(requests.length, 1);
  const init = requests[0].init;
  assert.equal(init.method, "POST");
  assert.equal(init.headers, undefined, "no header that would need a preflight");
  assert.equal(typeof init.body, "string");
  assert.equal(init.credentials, "omit");
  assert.deepEqual(await answerGuest(200, { guest_id: "g1", token: "tok1", returning: true }), {
    site_key: "KEY",
    token: "tok-old",
  });
  assert.deepEqual(JSON.parse(storage.get(STORE)), { g: "g1", t: "tok1" });

  // First page view, with the document's referrer.
  assert.equal(beacons.length, 1);
  assert.equal(beacons[0].url, BASE + "/api/v1/beacon");
  assert.deepEqual(lastBeacon(), {
    k: "KEY",
    t: "tok1",
    u: "https://shop.example/a",
    ti: "Shop A",
    r: "https://search.example/?q=shop",
  });

  // Presence socket.
  assert.equal(sockets.length, 1);
  assert.equal(sockets[0].url, "ws://127.0.0.1:8080/ws/visitor?k=KEY&t=tok1");
  sockets[0].receive({ type: "hello", guest_id: "g1" });

  // Launcher: fixed host with an open shadow root and a labelled button that toggles the chat. The queued
  // open() opened the panel, so the first click closes it and the second opens it again.
  assert.ok(root(), "#beckon-root exists");
  assert.equal(root().tagName, "BECKON-CHAT", "a custom element, which no div/span rule matches");
  // Every declaration of the placement is !important, starting from `all: initial`.
  for (const [name, value] of Object.entries({ all: "initial", position: "fixed", "z-index": "2147483647", bottom: "20px" })) {
    assert.equal(hostStyle()[name], value, name);
    assert.equal(hostStyle().getPropertyPriority(name), "important", name);
  }
  // Without a colour or side of the site's own: Beckon's blue, bottom-right.
  assert.equal(hostStyle().right, "20px");
  assert.equal(hostStyle().left, undefined);
  assert.match(sheet(), /\.launcher,\.bubble-accept\{background:#2563eb;/);
  assert.match(sheet(), /\.bubble,\.panel\{position:absolute;right:0;/);
  const launcher = shadow().querySelector("button.launcher");
  assert.equal(launcher.getAttribute("aria-label"), "Live help");
  assert.match(sheet(), /\.launcher:before\{content:''/, "icon drawn in CSS");
  assert.equal(frame().style.display, "", "queued open() shows the panel");
  launcher.click();
  assert.equal(frame().style.display, "none");
  launcher.click();
  assert.equal(frame().style.display, "");

  // Single-page navigation: one beacon per new address, the previous address as referrer.
  history.pushState({}, "", "/b");
  document.title = "Shop B";
  runTimers();
  assert.equal(beacons.length, 2);
  assert.deepEqual(lastBeacon(), { k: "KEY", t: "tok1", u: "https://shop.example/b", ti: "Shop B", r: "https://shop.example/a" });
  history.replaceState({}, "", "/b");
  runTimers();
  assert.equal(beacons.length, 2, "same address, no beacon");
  location.href = "https://shop.example/b#faq";
  dispatchEvent(new Event("hashchange"));
  runTimers();
  assert.equal(lastBeacon().r, "https://shop.example/b");

  // Back from the back/forward cache: the same page is reported again.
  const count = beacons.length;
  dispatchEvent(Object.assign(new Event("pageshow"), { persisted: false }));
  assert.equal(beacons.length, count, "a fresh load is already reported");
  dispatchEvent(Object.assign(new Event("pageshow"), { persisted: true }));
  assert.equal(beacons.length, count + 1);
  assert.equal(lastBeacon().u, "https://shop.example/b#faq");

  // sendBeacon refusing: fetch with keepalive instead.
  navigator.beaconAccepts = false;
  history.pushState({}, "", "/c");
  runTimers();
  const fallback = requests[requests.length - 1];
  assert.equal(fallback.url, BASE + "/api/v1/beacon");
  assert.equal(fallback.init.keepalive, true);
  assert.equal(JSON.parse(fallback.init.body).u, "https://shop.example/c");
  fallback.answer(202, {});
  navigator.beaconAccepts = true;

  // Invitation: network strings as text; accept answers over the socket and opens the chat.
  launcher.click();
  assert.equal(frame().style.display, "none");
  const ws = sockets[0];
  const hostile = "<img src=x onerror=alert(1)>";
  ws.receive({ type: "invite", invitation_id: "i1", operator: hostile, message: "Can I help?" });
  const bubble = shadow().querySelector("div.bubble");
  assert.equal(bubble.getAttribute("role"), "dialog");
  assert.equal(bubble.querySelector(".bubble-operator").textContent, hostile);
  assert.equal(bubble.querySelector(".bubble-operator").children.length, 0);
  assert.equal(bubble.querySelector(".bubble-message").textContent, "Can I help?");
  assert.equal(bubble.querySelector(".bubble-accept").textContent, "Chat now");
  assert.equal(bubble.querySelector(".bubble-decline").textContent, "No thanks");
  bubble.querySelector(".bubble-accept").click();
  assert.deepEqual(ws.sent.pop(), { type: "invite_response", invitation_id: "i1", accepted: true });
  assert.equal(shadow().querySelector("div.bubble"), null);
  assert.equal(frame().style.display, "");

  // Decline answers false; a cancellation hides only its own invitation.
  ws.receive({ type: "invite", invitation_id: "i2", operator: "Ann", message: "Hi" });
  shadow().querySelector(".bubble-decline").click();
  assert.deepEqual(ws.sent.pop(), { type: "invite_response", invitation_id: "i2", accepted: false });
  ws.receive({ type: "invite", invitation_id: "i3", operator: "Ann", message: "Hi" });
  ws.receive({ type: "invite_cancelled", invitation_id: "other" });
  assert.ok(shadow().querySelector("div.bubble"));
  ws.receive({ type: "invite_cancelled", invitation_id: "i3" });
  assert.equal(shadow().querySelector("div.bubble"), null);
  assert.equal(ws.sent.length, 0);

  // Garbage from the server is ignored.
  ws.onmessage({ data: "not json" });

  // 4401: forget the token, ask for a new guest after a backoff, re-report the page, reconnect.
  ws.serverClose(4401);
  assert.equal(storage.has(STORE), false);
  const [delay] = backoffs();
  assert.ok(delay >= 500 && delay <= 1000, "first backoff 0.5-1 s, was " + delay);
  assert.deepEqual(await answerGuest(201, { guest_id: "g2", token: "tok2", returning: false }), {
    site_key: "KEY",
    token: null,
  });
  assert.equal(lastBeacon().t, "tok2");
  assert.equal(lastBeacon().u, "https://shop.example/c");
  assert.equal(sockets.length, 2);
  assert.match(sockets[1].url, /t=tok2$/);

  // No hello yet, so the backoff keeps growing; a hello resets it; 1001 comes back quickly.
  sockets[1].serverClose(1006);
  const [second] = backoffs();
  assert.ok(second >= 1000 && second <= 2000, "second backoff 1-2 s, was " + second);
  assert.equal(sockets.length, 3);
  sockets[2].receive({ type: "hello", guest_id: "g2" });
  sockets[2].serverClose(1001);
  const [quick] = backoffs();
  assert.ok(quick < 1000, "1001 reconnects within 1 s, was " + quick);
  assert.equal(sockets.length, 4);
  for (let i = 0; i < 8; i++) {
    sockets[sockets.length - 1].serverClose(1006);
    const [next] = backoffs();
    assert.ok(next <= 30000, "backoff capped at 30 s, was " + next);
  }

  // Loaded twice: nothing more happens.
  const before = { requests: requests.length, sockets: sockets.length };
  load();
  assert.equal(requests.length, before.requests);
  assert.equal(sockets.length, before.sockets);
  assert.equal(documentElement().descendants().filter((n) => n.id === "beckon-root").length, 1);

  // A single-page app that swaps <body> gets the launcher back.
  document.body.remove();
  document.body = document.documentElement.appendChild(new fake.FakeNode("body"));
  history.pushState({}, "", "/d");
  runTimers();
  assert.equal(root().parentNode, document.body);
}

function documentElement() {
  return document.documentElement;
}

// Blocked storage, no body yet (script in <head>), no constructable style sheets, failing network.
async function hostile() {
  Object.defineProperty(globalThis, "localStorage", {
    configurable: true,
    get() {
      throw new Error("SecurityError: storage is blocked");
    },
  });
  const body = document.body;
  body.remove();
  document.body = null;

  load();
  assert.equal(root(), null, "not mounted before the body exists");

  // The guest request fails: retried with backoff, nothing escapes, and nothing is mounted meanwhile.
  requests[0].fail();
  await settle();
  runTimers();
  assert.equal(requests.length, 2);
  await answerGuest(429, { error: "rate_limited" });
  runTimers();
  assert.equal(requests.length, 3);
  await answerGuest(201, { guest_id: "g1", token: "tok1", returning: false });
  assert.equal(root(), null, "still no body");
  assert.equal(beacons.length, 1);
  assert.match(sockets[0].url, /t=tok1$/);

  // The body arrives; the launcher mounts with its constructed style sheet.
  document.body = document.documentElement.appendChild(body);
  document.dispatchEvent({ type: "DOMContentLoaded" });
  assert.ok(root());
  assert.match(sheet(), /\.launcher\{/);

  // With storage blocked the token lives in memory: after a 4401 the request carries no token.
  sockets[0].serverClose(4401);
  runTimers();
  assert.equal(JSON.parse(requests[3].init.body).token, null);

  // An invite before the socket's replacement exists must not throw when answered.
  sockets[0].receive({ type: "invite", invitation_id: "i1", operator: "Ann", message: "Hi" });
  shadow().querySelector(".bubble-accept").click();
  assert.equal(shadow().querySelector("div.bubble"), null);
  assert.equal(otherTimers().length, 0);
}

// The chat panel's iframe and the postMessage protocol with it.
async function panel() {
  load();
  await answerGuest(201, { guest_id: "g1", token: "tok1", returning: false });
  assert.equal(frame(), null, "no iframe before the chat is wanted");

  // Opening creates the iframe once, on Beckon's origin, and remembers the open state for this tab.
  window.Beckon.open();
  const iframe = frame();
  assert.equal(iframe.src, BASE + "/chat/KEY?embed=1");
  assert.equal(iframe.title, "Live chat");
  // Calls run in the panel: microphone, camera, screen sharing and sound, for the frame's origin only.
  assert.equal(iframe.allow, "camera;microphone;display-capture;autoplay");
  assert.equal(iframe.style.display, "");
  assert.equal(session.get("beckon:open:KEY"), "1");
  window.Beckon.open();
  assert.equal(shadow().descendants().filter((n) => n.tagName === "IFRAME").length, 1);
  assert.deepEqual(postedToPanel(), [], "nothing is posted before the panel is ready");

  // Only the panel's own window, from Beckon's origin, is listened to.
  const panelWindow = iframe.contentWindow;
  messageFrom(panelWindow, "https://evil.example", { type: "beckon:close" });
  messageFrom(new FakeWindow(), BASE, { type: "beckon:close" });
  messageFrom(panelWindow, BASE + "/", { type: "beckon:close" });
  assert.equal(iframe.style.display, "", "foreign messages are ignored");

  // Ready: the panel learns whether it is visible and gets the guest, sent to Beckon's origin only.
  messageFrom(panelWindow, BASE, { type: "beckon:ready" });
  assert.deepEqual(postedToPanel(), [
    { data: { type: "beckon:visible", open: true, focus: true }, targetOrigin: BASE },
    { data: { type: "beckon:init", token: "tok1", guest_id: "g1" }, targetOrigin: BASE },
  ]);

  // The panel's close button.
  messageFrom(panelWindow, BASE, { type: "beckon:close" });
  assert.equal(iframe.style.display, "none");
  assert.equal(session.has("beckon:open:KEY"), false);
  assert.deepEqual(postedToPanel(), [{ data: { type: "beckon:visible", open: false, focus: false }, targetOrigin: BASE }]);

  // A call rings in the closed panel: it shows again, without taking the focus from the page.
  document.activeElement = null;
  messageFrom(panelWindow, BASE, { type: "beckon:open" });
  assert.equal(iframe.style.display, "");
  assert.equal(session.get("beckon:open:KEY"), "1");
  assert.equal(document.activeElement, null);
  assert.deepEqual(postedToPanel(), [{ data: { type: "beckon:visible", open: true, focus: false }, targetOrigin: BASE }]);
  messageFrom(panelWindow, BASE, { type: "beckon:close" });
  postedToPanel();

  // Unread count on the launcher's badge, as text.
  const badge = shadow().querySelector("span.badge");
  assert.equal(badge.textContent, "");
  messageFrom(panelWindow, BASE, { type: "beckon:unread", count: 3 });
  assert.equal(badge.textContent, "3");
  messageFrom(panelWindow, BASE, { type: "beckon:unread", count: 0 });
  assert.equal(badge.textContent, "");

  // A running conversation is remembered, so the next page brings the panel back.
  messageFrom(panelWindow, BASE, { type: "beckon:conversation", id: "c1" });
  assert.equal(storage.get("beckon:chat:KEY"), "1");
  messageFrom(panelWindow, BASE, { type: "beckon:conversation", id: null });
  assert.equal(storage.has("beckon:chat:KEY"), false);

  // An accepted invitation opens the panel.
  sockets[0].receive({ type: "invite", invitation_id: "i1", operator: "Ann", message: "Hi" });
  shadow().querySelector(".bubble-accept").click();
  assert.equal(iframe.style.display, "");
  postedToPanel();

  // The panel's socket refused the token: the loader drops its guest, gets a new one, hands it over.
  messageFrom(panelWindow, BASE, { type: "beckon:expired" });
  assert.equal(storage.has(STORE), false);
  assert.ok(sockets[0].closedByClient);
  runTimers();
  assert.deepEqual(await answerGuest(201, { guest_id: "g2", token: "tok2", returning: false }), {
    site_key: "KEY",
    token: null,
  });
  assert.equal(sockets.length, 2);
  assert.deepEqual(postedToPanel(), [
    { data: { type: "beckon:init", token: "tok2", guest_id: "g2" }, targetOrigin: BASE },
  ]);
  await settle();
  assert.equal(sockets.length, 2, "the old socket's late close event changes nothing");
}

// A page after one with a running conversation: the panel comes back as soon as the guest is known, hidden.
async function continued() {
  storage.set("beckon:chat:KEY", "1");
  load();
  assert.equal(root(), null, "nothing mounted before the guest is known");
  await answerGuest(200, { guest_id: "g1", token: "tok1", returning: true });
  assert.ok(frame(), "iframe created on load");
  assert.equal(frame().style.display, "none");
  assert.equal(session.has("beckon:open:KEY"), false);
}

// A page after one where the panel was open: it is open again at once.
async function reopened() {
  session.set("beckon:open:KEY", "1");
  load();
  await answerGuest(200, { guest_id: "g1", token: "tok1", returning: true });
  assert.equal(frame().style.display, "");
  assert.notEqual(document.activeElement, root(), "a panel brought back does not take the focus");
}

// `Beckon.identify`: posted once the guest is known, again whenever called and for every new guest.
async function identify() {
  const who = { id: "u1", name: "Ann <b>", email: "ann@example.com", ts: 1700000000, signature: "ab12" };
  window.Beckon = [["identify", who]];
  load();

  // Queued before the loader ran: nothing is posted until the guest is known.
  assert.equal(requests.length, 1);
  assert.equal(identifies().length, 0);
  await answerGuest(201, { guest_id: "g1", token: "tok1", returning: false });
  assert.equal(identifies().length, 1);
  const first = identifies()[0];
  assert.equal(first.init.method, "POST");
  assert.equal(first.init.headers, undefined);
  assert.equal(first.init.credentials, "omit");
  assert.deepEqual(JSON.parse(first.init.body), { site_key: "KEY", token: "tok1", ...who });

  // A refused signature (403) or a failed request is ignored: nothing escapes, nothing is retried.
  first.answer(403, { error: "forbidden", message: "the identity signature is not valid or not fresh" });
  await settle();
  assert.equal(otherTimers().length, 0);

  // Called later: posted at once with the current token; only the identity's own fields go out.
  const again = { id: "u1", name: "Ann B", email: "", ts: 1700000100, signature: "cd34", role: "admin" };
  window.Beckon.identify(again);
  assert.equal(identifies().length, 2);
  const sent = { id: "u1", name: "Ann B", email: "", ts: 1700000100, signature: "cd34" };
  assert.deepEqual(JSON.parse(identifies()[1].init.body), { site_key: "KEY", token: "tok1", ...sent });
  identifies()[1].fail();
  await settle();

  // A reconnect with the same guest does not send it again.
  sockets[0].serverClose(1006);
  runTimers();
  assert.equal(sockets.length, 2);
  assert.equal(identifies().length, 2);

  // 4401: the server dropped the guest; the new guest is identified too, with its own token.
  sockets[1].serverClose(4401);
  runTimers();
  await answerGuest(201, { guest_id: "g2", token: "tok2", returning: false });
  assert.equal(identifies().length, 3);
  assert.deepEqual(JSON.parse(identifies()[2].init.body), { site_key: "KEY", token: "tok2", ...sent });

  // So is the new guest after the panel's socket refused the token.
  window.Beckon.open();
  messageFrom(frame().contentWindow, BASE, { type: "beckon:ready" });
  messageFrom(frame().contentWindow, BASE, { type: "beckon:expired" });
  runTimers();
  await answerGuest(201, { guest_id: "g3", token: "tok3", returning: false });
  assert.equal(identifies().length, 4);
  assert.equal(JSON.parse(identifies()[3].init.body).token, "tok3");

  // Odd arguments never throw into the page.
  window.Beckon.identify({
    get id() {
      throw new Error("boom");
    },
  });
  window.Beckon.identify("nonsense");
  window.Beckon.identify();
  assert.equal(identifies().length, 5, "a string is posted as it is and refused by the server");
  await settle();
}

// The site's colour and side (`loader_script_with`): here #0a0 and "left".
async function look() {
  load();
  await answerGuest(201, { guest_id: "g1", token: "tok1", returning: false });
  assert.equal(hostStyle().position, "fixed");
  assert.equal(hostStyle().left, "20px");
  assert.equal(hostStyle().right, undefined, "no right side: " + root().style.cssText);
  assert.equal(hostStyle().bottom, "20px");
  assert.match(sheet(), /\.launcher,\.bubble-accept\{background:#0a0;color:#fff\}/);
  // The bubble and the panel open above the launcher on the left as well.
  assert.match(sheet(), /\.bubble,\.panel\{position:absolute;left:0;/);
  assert.doesNotMatch(sheet(), /[{;]right:0/);
  window.Beckon.open();
  assert.equal(frame().className, "panel");
}

// A page whose origin the site does not allow: the guest request answers 403, so nothing is mounted and
// nothing is asked again; before that, a failing request keeps nothing mounted either.
async function refused() {
  load();
  requests[0].fail();
  await settle();
  assert.equal(root(), null);
  runTimers();
  await answerGuest(403, { error: "origin_not_allowed" });
  assert.equal(root(), null, "never mounted");
  assert.equal(timers.length, 0, "never retried");
  assert.equal(sockets.length, 0);
  assert.equal(beacons.length, 0);
  assert.equal(requests.length, 2);
}

// The presence socket blocked (here the constructor throws, as some browsers do for a socket the page's CSP
// forbids): invitations are polled over HTTP every 3 s and answered there, until a socket says hello.
async function polling() {
  const RealSocket = globalThis.WebSocket;
  globalThis.WebSocket = function () {
    throw new Error("SecurityError: refused by the page's Content-Security-Policy");
  };
  load();
  await answerGuest(201, { guest_id: "g1", token: "tok1", returning: false });
  const polls = () => requests.filter((r) => r.url === BASE + "/api/v1/invitations/poll");
  const answers = () => requests.filter((r) => r.url === BASE + "/api/v1/invitations/answer");
  assert.equal(polls().length, 0, "a socket gets 3 s to say hello first");
  fake.advance(3000);
  assert.equal(polls().length, 1);
  const first = polls()[0];
  assert.equal(first.init.headers, undefined);
  assert.equal(first.init.credentials, "omit");
  assert.deepEqual(JSON.parse(first.init.body), { k: "KEY", t: "tok1" });
  assert.ok(timers.some((t) => t.delay === 3000), "next poll in 3 s");
  first.answer(200, { invitation: { invitation_id: "i1", operator: "Ann <b>", message: "Hi?" } });
  await settle();
  const bubble = shadow().querySelector("div.bubble");
  assert.equal(bubble.querySelector(".bubble-operator").textContent, "Ann <b>");
  // The same invitation again keeps the same bubble.
  fake.advance(3000);
  assert.equal(polls().length, 2);
  polls()[1].answer(200, { invitation: { invitation_id: "i1", operator: "Ann <b>", message: "Hi?" } });
  await settle();
  assert.equal(shadow().querySelector("div.bubble"), bubble);
  // Accepting answers over HTTP (no socket) and opens the panel with the focus in it.
  bubble.querySelector(".bubble-accept").click();
  assert.equal(answers().length, 1);
  assert.deepEqual(JSON.parse(answers()[0].init.body), { k: "KEY", t: "tok1", invitation_id: "i1", accepted: true });
  assert.equal(answers()[0].init.credentials, "omit");
  assert.equal(frame().style.display, "");
  assert.equal(shadow().activeElement, frame(), "focus moved into the panel");
  answers()[0].answer(204, {});
  // A late answer still offering i1 (already answered) shows nothing; no invitation takes a bubble down.
  fake.advance(3000);
  polls()[2].answer(200, { invitation: { invitation_id: "i1", operator: "Ann", message: "Hi?" } });
  await settle();
  assert.equal(shadow().querySelector("div.bubble"), null);
  fake.advance(3000);
  polls()[3].answer(200, { invitation: { invitation_id: "i2", operator: "Ann", message: "Again?" } });
  await settle();
  assert.ok(shadow().querySelector("div.bubble"));
  fake.advance(3000);
  polls()[4].answer(200, { invitation: null });
  await settle();
  assert.equal(shadow().querySelector("div.bubble"), null, "expired: the bubble goes");
  // A failed poll changes nothing.
  fake.advance(3000);
  polls()[5].answer(429, { error: "rate_limited" });
  await settle();
  // A hidden tab polls every 15 s.
  document.hidden = true;
  fake.advance(3000);
  assert.ok(timers.some((t) => t.delay === 15000), "slower while hidden");
  document.hidden = false;
  // The socket is tried again meanwhile; once one says hello, polling stops.
  globalThis.WebSocket = RealSocket;
  fake.advance(31000);
  assert.equal(sockets.length, 1, "the socket was retried");
  sockets[0].receive({ type: "hello", guest_id: "g1" });
  const count = polls().length;
  fake.advance(60000);
  assert.equal(polls().length, count, "no polling once the socket works");
}

// Keyboard: Escape on the bubble declines it, Escape in the panel (its `beckon:close`) closes it, and the
// focus goes back to the launcher rather than staying in a hidden frame.
async function keyboard() {
  load();
  await answerGuest(201, { guest_id: "g1", token: "tok1", returning: false });
  const launcher = shadow().querySelector("button.launcher");
  launcher.focus();
  launcher.click();
  assert.equal(shadow().activeElement, frame(), "opening moves the focus into the panel");
  const panelWindow = frame().contentWindow;
  messageFrom(panelWindow, BASE, { type: "beckon:ready" });
  assert.deepEqual(postedToPanel()[0].data, { type: "beckon:visible", open: true, focus: true });
  messageFrom(panelWindow, BASE, { type: "beckon:close" });
  assert.equal(frame().style.display, "none");
  assert.equal(shadow().activeElement, launcher, "focus back on the launcher");
  assert.deepEqual(postedToPanel()[0].data, { type: "beckon:visible", open: false, focus: false });

  sockets[0].receive({ type: "hello", guest_id: "g1" });
  sockets[0].receive({ type: "invite", invitation_id: "i1", operator: "Ann", message: "Hi" });
  shadow().querySelector(".bubble-accept").focus();
  shadow().dispatchEvent({ type: "keydown", key: "Enter" });
  assert.ok(shadow().querySelector("div.bubble"), "other keys do nothing");
  shadow().dispatchEvent({ type: "keydown", key: "Escape" });
  assert.equal(shadow().querySelector("div.bubble"), null);
  assert.deepEqual(sockets[0].sent.pop(), { type: "invite_response", invitation_id: "i1", accepted: false });
  assert.equal(shadow().activeElement, launcher);
  // Escape on the launcher with the panel open closes it.
  launcher.click();
  shadow().dispatchEvent({ type: "keydown", key: "Escape" });
  assert.equal(frame().style.display, "none");
  assert.equal(shadow().activeElement, launcher);
}

const scenarios = { visit, hostile, panel, continued, reopened, identify, look, refused, polling, keyboard };
const name = process.argv[2];
if (!scenarios[name]) {
  console.error("unknown scenario " + name);
  process.exit(2);
}
scenarios[name]().then(
  () => console.log("scenario " + name + ": ok"),
  (error) => {
    console.error(error);
    process.exit(1);
  }
);
