// Runs the served loader script (read from stdin) in the fake browser and checks what it does.
// Usage: node loader_scenarios.js visit|hostile < loader.js. Exits non-zero on the first failed check.
"use strict";

const assert = require("node:assert/strict");
const fs = require("node:fs");
const vm = require("node:vm");
const fake = require("./fake_browser.js");
const { requests, beacons, sockets, storage, settle, runTimers, timers } = fake;

const BASE = "http://127.0.0.1:8080";
const STORE = "beckon:KEY";
const script = fs.readFileSync(0, "utf8");
const load = () => vm.runInThisContext(script);

let opened = 0;
addEventListener("beckon:open", () => opened++);

const lastBeacon = () => JSON.parse(beacons[beacons.length - 1].body);
const root = () => document.getElementById("beckon-root");
const shadow = () => root().shadowRoot;

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
  assert.equal(opened, 1, "queued open() replayed");
  window.Beckon.identify({ id: "u2" });

  // Guest request: text/plain, no credentials, the stored token.
  assert.equal(requests.length, 1);
  const init = requests[0].init;
  assert.equal(init.method, "POST");
  assert.equal(init.headers["Content-Type"], "text/plain");
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

  // Launcher: fixed host with an open shadow root and a labelled button that opens the chat.
  assert.ok(root(), "#beckon-root exists");
  assert.match(root().style.cssText, /position:fixed/);
  const launcher = shadow().querySelector("button.launcher");
  assert.equal(launcher.getAttribute("aria-label"), "Live help");
  assert.ok(launcher.querySelector("path"), "icon drawn");
  launcher.click();
  assert.equal(opened, 2);

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
  assert.equal(opened, 3);

  // Decline answers false; a cancellation hides only its own invitation.
  ws.receive({ type: "invite", invitation_id: "i2", operator: "Ann", message: "Hi" });
  shadow().querySelector(".bubble-decline").click();
  assert.deepEqual(ws.sent.pop(), { type: "invite_response", invitation_id: "i2", accepted: false });
  assert.equal(opened, 3);
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
  const [delay] = runTimers();
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
  const [second] = runTimers();
  assert.ok(second >= 1000 && second <= 2000, "second backoff 1-2 s, was " + second);
  assert.equal(sockets.length, 3);
  sockets[2].receive({ type: "hello", guest_id: "g2" });
  sockets[2].serverClose(1001);
  const [quick] = runTimers();
  assert.ok(quick < 1000, "1001 reconnects within 1 s, was " + quick);
  assert.equal(sockets.length, 4);
  for (let i = 0; i < 8; i++) {
    sockets[sockets.length - 1].serverClose(1006);
    const [next] = runTimers();
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

  // The guest request fails: retried with backoff, nothing escapes.
  requests[0].fail();
  await settle();
  runTimers();
  assert.equal(requests.length, 2);
  await answerGuest(429, { error: "rate_limited" });
  runTimers();
  assert.equal(requests.length, 3);
  await answerGuest(201, { guest_id: "g1", token: "tok1", returning: false });
  assert.equal(beacons.length, 1);
  assert.match(sockets[0].url, /t=tok1$/);

  // With storage blocked the token lives in memory: after a 4401 the request carries no token.
  sockets[0].serverClose(4401);
  runTimers();
  assert.equal(JSON.parse(requests[3].init.body).token, null);

  // The body arrives; the launcher mounts with a <style> element in the shadow root.
  document.body = document.documentElement.appendChild(body);
  document.dispatchEvent({ type: "DOMContentLoaded" });
  assert.ok(root());
  assert.match(shadow().querySelector("style").textContent, /\.launcher\{/);

  // An invite before the socket's replacement exists must not throw when answered.
  sockets[0].receive({ type: "invite", invitation_id: "i1", operator: "Ann", message: "Hi" });
  shadow().querySelector(".bubble-accept").click();
  assert.equal(shadow().querySelector("div.bubble"), null);
  assert.equal(timers.length, 0);
}

const scenarios = { visit, hostile };
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
