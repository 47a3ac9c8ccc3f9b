// Runs the chat panel document (read from stdin, as `panel_page` made it) in the fake browser and checks
// what it does against docs/protocol.md. Usage: node panel_scenarios.js SCENARIO < panel.html (see
// `scenarios` at the end). Exits non-zero on the first failed check.
"use strict";

const assert = require("node:assert/strict");
const fs = require("node:fs");
const vm = require("node:vm");
const fake = require("./fake_browser.js");
const { requests, sockets, storage, session, settle, advance, clock, timers, FakeNode, FakeWindow } = fake;

const html = fs.readFileSync(0, "utf8");
const configText = html.match(/<script type="application\/json" id="beckon-config">([\s\S]*?)<\/script>/)[1];
const script = html.match(/<script nonce="[^"]*">([\s\S]*?)<\/script>/)[1];
const config = JSON.parse(configText);

const GUEST = "beckon:" + config.site_key;
// What the panel supports in this fake browser (FormData, Blob, URL.createObjectURL, AudioContext).
const CAPS = ["files", "read_receipts", "typing", "sound"];
const CONV = "beckon:conv:" + config.site_key;

Date.now = () => clock.now;
globalThis.location = { href: "https://chat.example/s/shop", protocol: "https:", host: "chat.example" };
navigator.language = "en-GB";

// WebAudio stand-in: counts beeps.
let beeps = 0;
class FakeAudioContext {
  constructor() {
    this.state = "running";
    this.currentTime = 0;
    this.destination = {};
  }
  resume() {
    return Promise.resolve();
  }
  createOscillator() {
    return { frequency: {}, connect() {}, start: () => beeps++, stop() {} };
  }
  createGain() {
    const param = { setValueAtTime() {}, exponentialRampToValueAtTime() {} };
    return { gain: param, connect() {} };
  }
}
globalThis.AudioContext = FakeAudioContext;

// Starts the panel as the browser would: the data block in the page, then the script. Then the visitor
// touches the panel, which allows sound.
// `overrides` replace fields of the page's config (what newer servers send, for one scenario).
function load(overrides) {
  const data = new FakeNode("script");
  data.id = "beckon-config";
  data.textContent = overrides ? JSON.stringify(Object.assign({}, config, overrides)) : configText;
  document.documentElement.appendChild(data);
  vm.runInThisContext(script);
  document.dispatchEvent({ type: "pointerdown" });
}

const panel = () => document.body.querySelector("div.panel");
const q = (selector) => panel().querySelector(selector);
const state = () => window.__beckonPanel.state();
const socket = () => sockets[sockets.length - 1];
const rows = () => q("div.log").children.filter((node) => node.className.split(" ").includes("msg"));

// What the panel sent on the current socket since the last call.
function sent(ws = socket()) {
  return ws.sent.splice(0, ws.sent.length);
}

function type(text) {
  const input = q("textarea.input");
  input.value = text;
  input.dispatchEvent({ type: "input" });
}

// The visitor picks files in the attach dialog.
function pick(...files) {
  const input = panel().descendants().find((node) => node.tagName === "INPUT" && node.type === "file");
  assert.ok(input && input.className.split(" ").includes("visually-hidden"), "a visually hidden file input");
  input.files = files;
  input.value = "C:\\fakepath\\" + files[0].name;
  input.dispatchEvent({ type: "change" });
  assert.equal(input.value, "", "the same file can be picked again");
}

const lastRow = () => rows()[rows().length - 1];

// The latest request, which must be an upload into c1 (answered or not).
function uploadRequest() {
  const request = requests[requests.length - 1];
  assert.equal(request.url, "/api/v1/conversations/c1/attachments");
  return request;
}

// Puts text into the message box (as a paste would, without typing notices) and sends the form.
function submit(text) {
  q("textarea.input").value = text;
  let prevented = false;
  q("form.composer").dispatchEvent({ type: "submit", preventDefault: () => (prevented = true) });
  assert.ok(prevented, "the form never navigates");
}

async function answerGuest(status, body) {
  const request = requests[requests.length - 1];
  assert.equal(request.url, "/api/v1/visitors");
  assert.equal(request.init.method, "POST");
  assert.equal(request.init.headers["Content-Type"], "text/plain");
  request.answer(status, body);
  await settle();
  return JSON.parse(request.init.body);
}

function message(seq, sender, body, extra) {
  return Object.assign(
    {
      type: "message",
      conversation_id: "c1",
      seq,
      client_msg_id: sender + "-" + seq,
      kind: "text",
      sender,
      sender_name: sender === "operator" ? "Ann" : "",
      body,
      created_ms: clock.now,
    },
    extra
  );
}

function conversation(status, extra) {
  return Object.assign(
    {
      type: "conversation",
      conversation_id: "c1",
      site_id: "s1",
      status,
      operator: status === "open" ? "Ann" : null,
      guest: { guest_id: "g1", name: null },
      last_seq: 0,
      guest_read_seq: 0,
      operator_read_seq: 0,
    },
    extra
  );
}

function assertNoErrors() {
  assert.deepEqual(state().errors, []);
}

// A full-page chat at /u/ann: guest, name, first message, conversation, acks, receipts, typing, closing.
async function page() {
  load();
  assert.equal(document.documentElement.lang, "en");
  assert.equal(q("h1.title").textContent, "Ann Example");
  assert.equal(q("button.close"), null, "no close button on a page of its own");
  assert.equal(q("p.greeting").textContent, "Hi! How can we help you today?");

  // Its own guest, stored like the loader's.
  assert.deepEqual(await answerGuest(201, { guest_id: "g1", token: "t1", returning: false }), {
    site_key: config.site_key,
    token: null,
  });
  assert.deepEqual(JSON.parse(storage.get(GUEST)), { g: "g1", t: "t1" });
  // On /u/ann the availability that counts is Ann's.
  assert.equal(socket().url, "wss://chat.example/ws/visitor?k=" + encodeURIComponent(config.site_key) + "&t=t1&h=ann");
  socket().receive({ type: "hello", guest_id: "g1" });
  assert.deepEqual(sent(), [], "nothing to resume yet");

  // The name field shows before the first message; the first send opens the conversation.
  assert.equal(q("input.name").hidden, false);
  assert.equal(q("input.name").placeholder, "Your name (optional)");
  q("input.name").value = "  Zoë ";
  submit("  Hello\nthere  ");
  assert.equal(q("textarea.input").value, "");
  assert.deepEqual(sent(), [{ type: "start_chat", capabilities: CAPS, name: "Zoë", handle: "ann" }]);
  let [mine] = state().messages;
  assert.equal(mine.body, "Hello\nthere");
  assert.equal(mine.status, "pending");
  assert.match(mine.client_msg_id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(rows()[0].querySelector("p.body").textContent, "Hello\nthere");
  assert.equal(q("input.name").hidden, true);

  socket().receive(conversation("waiting"));
  assert.deepEqual(sent(), [
    { type: "resume", conversation_id: "c1", after_seq: 0, capabilities: CAPS },
    { type: "send", conversation_id: "c1", client_msg_id: mine.client_msg_id, body: "Hello\nthere" },
  ]);
  assert.equal(q("p.status").textContent, "Waiting for an operator…");
  assert.equal(JSON.parse(storage.get(CONV)).out[0].client_msg_id, mine.client_msg_id, "unsent message stored");

  // Ack, then the broadcast copy of our own message: one message, sent.
  socket().receive({ type: "ack", client_msg_id: mine.client_msg_id, seq: 1, conversation_id: "c1" });
  socket().receive({ type: "history", conversation_id: "c1", messages: [], more: false });
  socket().receive(message(1, "guest", "Hello\nthere", { client_msg_id: mine.client_msg_id }));
  assert.equal(state().messages.length, 1);
  assert.equal(state().messages[0].status, "sent");
  assert.equal(state().messages[0].seq, 1);
  assert.deepEqual(sent(), [{ type: "read", conversation_id: "c1", seq: 1 }]);
  const stored = JSON.parse(storage.get(CONV));
  assert.equal(stored.id, "c1");
  assert.equal(stored.seq, 1);
  assert.deepEqual(stored.out, []);

  // An operator joins and answers; markup arrives as text.
  socket().receive(conversation("open", { last_seq: 1 }));
  assert.equal(q("p.status").textContent, "You're chatting with Ann");
  socket().receive({ type: "typing", conversation_id: "c1", who: "operator", name: "Ann", state: true });
  assert.equal(q("p.typing").hidden, false);
  assert.equal(q("p.typing").textContent, "Ann is typing…");
  advance(6000);
  assert.equal(q("p.typing").hidden, true, "hidden 6 s after the last typing notice");
  socket().receive(message(2, "operator", "<b>Hi</b> <img src=x onerror=alert(1)>"));
  const reply = rows()[1];
  assert.equal(reply.className.split(" ").includes("msg-operator"), true);
  assert.equal(reply.querySelector("span.who-name").textContent, "Ann");
  assert.equal(reply.querySelector("span.avatar").textContent, "A", "the operator's initials");
  assert.equal(reply.querySelector("p.body").textContent, "<b>Hi</b> <img src=x onerror=alert(1)>");
  assert.equal(reply.querySelector("p.body").children.length, 0);
  assert.deepEqual(sent(), [{ type: "read", conversation_id: "c1", seq: 2 }]);
  assert.equal(beeps, 0, "no sound while the visitor is looking");

  // Read receipt for our message.
  socket().receive({ type: "read", conversation_id: "c1", who: "operator", seq: 1 });
  assert.equal(state().messages[0].status, "read");
  assert.match(rows()[0].querySelector("p.meta").textContent, /Read$/);

  // Typing notices: true at most every 2 s, false after 3 s idle; previews are off, so nothing typed
  // goes out (and the guest is not told about previews).
  assert.equal(q("p.notice"), null);
  type("H");
  type("He");
  advance(1000);
  type("Hel");
  assert.deepEqual(sent(), [{ type: "typing", conversation_id: "c1", state: true }]);
  advance(2500);
  type("Hell");
  assert.deepEqual(sent(), [{ type: "typing", conversation_id: "c1", state: true }]);
  advance(3000);
  assert.deepEqual(sent(), [{ type: "typing", conversation_id: "c1", state: false }]);
  type("Hello");
  sent();
  // Sending ends typing at once.
  let prevented = false;
  q("textarea.input").dispatchEvent({ type: "keydown", key: "Enter", shiftKey: false, preventDefault: () => (prevented = true) });
  assert.ok(prevented);
  const [typingOff, second] = sent();
  assert.deepEqual(typingOff, { type: "typing", conversation_id: "c1", state: false });
  assert.equal(second.type, "send");
  assert.equal(second.body, "Hello");
  assert.notEqual(second.client_msg_id, mine.client_msg_id);
  socket().receive({ type: "ack", client_msg_id: second.client_msg_id, seq: 3, conversation_id: "c1" });
  sent();

  // Hidden tab: no read receipt, an unread count in the title, a beep; visible again: read.
  document.visibilityState = "hidden";
  socket().receive(message(4, "operator", "Still there?"));
  assert.deepEqual(sent(), []);
  assert.equal(document.title, "(1) " + config.site_name);
  assert.equal(beeps, 1);
  document.visibilityState = "visible";
  document.dispatchEvent({ type: "visibilitychange" });
  assert.deepEqual(sent(), [{ type: "read", conversation_id: "c1", seq: 4 }]);
  assert.equal(document.title, config.site_name);

  // System messages are shown apart; notes never are.
  socket().receive(message(5, "system", "Ann left the chat", { sender_name: "" }));
  socket().receive(message(6, "operator", "internal", { kind: "note" }));
  assert.ok(rows()[4].className.split(" ").includes("msg-system"));
  assert.equal(state().messages.length, 5);

  // The chat ends: the composer gives way to "Start a new chat", which starts from scratch.
  socket().receive(conversation("closed", { last_seq: 5 }));
  assert.equal(q("p.status").textContent, "This chat has ended");
  assert.equal(q("form.composer").hidden, true);
  assert.equal(q("div.ended").hidden, false);
  q("button.again").click();
  assert.equal(state().conversationId, null);
  assert.equal(state().messages.length, 0);
  assert.equal(rows().length, 0);
  assert.equal(q("form.composer").hidden, false);
  assert.equal(q("input.name").hidden, false);
  assert.equal(q("input.name").value, "Zoë");
  sent();
  submit("New question");
  assert.deepEqual(sent(), [{ type: "start_chat", capabilities: CAPS, name: "Zoë", handle: "ann" }]);
  socket().receive(conversation("waiting", { conversation_id: "c2" }));
  assert.equal(state().conversationId, "c2");
  assert.equal(sent()[1].conversation_id, "c2");

  // The test hook's shape.
  assert.deepEqual(Object.keys(state()).sort(), [
    "composerText", "conversationId", "errors", "formError", "formText", "messages", "mode", "siteOnline", "status",
  ]);
  assert.deepEqual(Object.keys(state().messages[0]).sort(), ["body", "client_msg_id", "kind", "sender", "seq", "status"]);
  assertNoErrors();
}

// A reload in the middle of a conversation: stored messages, resume after the stored seq, re-sending of
// unacknowledged messages with their client_msg_id, following history pages, gaps, resync, new guest.
async function resume() {
  storage.set(GUEST, JSON.stringify({ g: "g1", t: "t1" }));
  const guestMsg = { seq: 1, client_msg_id: "u-1", body: "Hi", sender: "guest", sender_name: "", kind: "text", created_ms: 1, status: "sent" };
  const opMsg = { seq: 2, client_msg_id: "o-2", body: "Hello!", sender: "operator", sender_name: "Ann", kind: "text", created_ms: 2, status: "received" };
  const unsent = { seq: 0, client_msg_id: "u-3", body: "unsent", sender: "guest", sender_name: "", kind: "text", created_ms: 3, status: "pending" };
  storage.set(
    CONV,
    JSON.stringify({ id: "c1", seq: 2, status: "open", operator: "Ann", name: "", read: 2, log: [guestMsg, opMsg], out: [unsent] })
  );
  load();

  // Shown before any network answer.
  assert.deepEqual(
    state().messages.map((m) => [m.seq, m.client_msg_id, m.status]),
    [[1, "u-1", "sent"], [2, "o-2", "received"], [null, "u-3", "pending"]]
  );
  assert.equal(q("p.status").textContent, "Connecting…");
  assert.equal(q("input.name").hidden, true);

  assert.deepEqual(await answerGuest(200, { guest_id: "g1", token: "t1", returning: true }), {
    site_key: config.site_key,
    token: "t1",
  });
  socket().receive({ type: "hello", guest_id: "g1" });
  assert.equal(q("p.status").textContent, "You're chatting with Ann");
  assert.deepEqual(sent(), [
    { type: "resume", conversation_id: "c1", after_seq: 2, capabilities: CAPS },
    { type: "send", conversation_id: "c1", client_msg_id: "u-3", body: "unsent" },
  ]);

  // History in pages: our unsent message was stored after all (seq 4), and is not shown twice.
  socket().receive({
    type: "history",
    conversation_id: "c1",
    messages: [message(3, "operator", "Are you there?"), message(4, "guest", "unsent", { client_msg_id: "u-3" })],
    more: true,
  });
  assert.deepEqual(
    state().messages.map((m) => [m.seq, m.client_msg_id]),
    [[1, "u-1"], [2, "o-2"], [3, "operator-3"], [4, "u-3"]]
  );
  assert.equal(state().messages[3].status, "sent");
  assert.deepEqual(sent(), [{ type: "read", conversation_id: "c1", seq: 4 }]);
  // The next page does not come by itself within a second: ask for it.
  advance(1000);
  assert.deepEqual(sent(), [{ type: "resume", conversation_id: "c1", after_seq: 4, capabilities: CAPS }]);
  socket().receive({ type: "history", conversation_id: "c1", messages: [message(5, "operator", "five")], more: false });
  advance(5000);
  assert.deepEqual(sent(), [{ type: "read", conversation_id: "c1", seq: 5 }], "no more page requests");

  // A live message after a gap: fetch the missing part, merge duplicates away.
  socket().receive(message(7, "operator", "seven"));
  assert.deepEqual(sent()[0], { type: "resume", conversation_id: "c1", after_seq: 5, capabilities: CAPS });
  socket().receive({
    type: "history",
    conversation_id: "c1",
    messages: [message(6, "operator", "six"), message(7, "operator", "seven")],
    more: false,
  });
  assert.deepEqual(state().messages.map((m) => m.seq), [1, 2, 3, 4, 5, 6, 7]);
  assert.deepEqual(rows().map((row) => row.querySelector("p.body").textContent), ["Hi", "Hello!", "Are you there?", "unsent", "five", "six", "seven"]);
  assert.equal(JSON.parse(storage.get(CONV)).seq, 7);
  sent();

  // A message sent while the connection dies: re-sent after reconnecting, with the same client_msg_id.
  submit("are you still there?");
  const [first] = sent();
  assert.equal(first.type, "send");
  socket().serverClose(1006);
  assert.equal(q("p.status").textContent, "Connecting…");
  const delay = timers[timers.length - 1].delay;
  assert.ok(delay >= 500 && delay <= 1000, "first backoff 0.5-1 s, was " + delay);
  advance(1000);
  assert.equal(sockets.length, 2);
  socket().receive({ type: "hello", guest_id: "g1" });
  assert.deepEqual(sent(), [
    { type: "resume", conversation_id: "c1", after_seq: 7, capabilities: CAPS },
    { type: "send", conversation_id: "c1", client_msg_id: first.client_msg_id, body: "are you still there?" },
  ]);
  // The server had stored the first copy: the same ack for both, one message.
  socket().receive({ type: "ack", client_msg_id: first.client_msg_id, seq: 8, conversation_id: "c1" });
  socket().receive({ type: "ack", client_msg_id: first.client_msg_id, seq: 8, conversation_id: "c1" });
  socket().receive({ type: "history", conversation_id: "c1", messages: [message(8, "guest", "are you still there?", { client_msg_id: first.client_msg_id })], more: false });
  assert.equal(state().messages.filter((m) => m.client_msg_id === first.client_msg_id).length, 1);
  assert.equal(state().messages.length, 8);

  // A message that is unacknowledged when the page goes away is stored, ready for the next page.
  sent();
  submit("last words");
  const [lastSend] = sent();
  assert.equal(lastSend.type, "send");
  const lastWords = lastSend.client_msg_id;
  assert.deepEqual(JSON.parse(storage.get(CONV)).out.map((m) => m.client_msg_id), [lastWords]);

  // Resync: the server has less than we thought. Drop our copy, start over from 0; unsent stays.
  socket().receive({ type: "resync", conversation_id: "c1", last_seq: 3 });
  assert.deepEqual(state().messages.map((m) => m.client_msg_id), [lastWords]);
  assert.deepEqual(sent(), [
    { type: "resume", conversation_id: "c1", after_seq: 0, capabilities: CAPS },
    { type: "send", conversation_id: "c1", client_msg_id: lastWords, body: "last words" },
  ]);
  socket().receive({
    type: "history",
    conversation_id: "c1",
    messages: [message(1, "guest", "Hi", { client_msg_id: "u-1" }), message(2, "operator", "Hello!", { client_msg_id: "o-2" }), message(3, "operator", "x")],
    more: false,
  });
  assert.deepEqual(state().messages.map((m) => m.seq), [1, 2, 3, null]);
  assert.equal(JSON.parse(storage.get(CONV)).seq, 3);

  // 4401: the guest is gone. A page's own guest: forget it and ask for a new one.
  socket().serverClose(4401);
  assert.equal(storage.has(GUEST), false);
  advance(2000);
  assert.deepEqual(await answerGuest(201, { guest_id: "g2", token: "t2", returning: true }), {
    site_key: config.site_key,
    token: null,
  });
  assert.match(socket().url, /t=t2$/);
  socket().receive({ type: "hello", guest_id: "g2" });
  sent();
  // The old conversation is not this guest's: start a new one with what was not sent.
  socket().receive({ type: "error", code: "not_found", message: "no such conversation" });
  assert.equal(state().conversationId, null);
  assert.deepEqual(state().messages.map((m) => m.client_msg_id), [lastWords]);
  assert.deepEqual(sent(), [{ type: "start_chat", capabilities: CAPS }]);
  assertNoErrors();
}

// Inside the loader's iframe: the guest comes from the parent; visibility, unread count, close, expiry.
async function embed() {
  const parent = new FakeWindow();
  globalThis.parent = parent;
  const fromParent = (data, source = parent) => dispatchEvent(Object.assign(new Event("message"), { source, origin: "https://shop.example", data }));
  const everPosted = [];
  const posted = () => {
    const batch = parent.posted.splice(0, parent.posted.length);
    everPosted.push(...batch);
    return batch.map((p) => p.data);
  };
  load();

  assert.ok(q("button.close"), "a close button for the loader");
  assert.deepEqual(posted(), [
    { type: "beckon:conversation", id: null },
    { type: "beckon:unread", count: 0 },
    { type: "beckon:ready" },
  ]);
  assert.equal(everPosted.every((p) => p.targetOrigin === "*"), true);

  // Only the parent window is listened to.
  fromParent({ type: "beckon:init", token: "evil", guest_id: "gx" }, new FakeWindow());
  assert.equal(sockets.length, 0);
  fromParent({ type: "beckon:visible", open: false });
  fromParent({ type: "beckon:init", token: "t1", guest_id: "g1" });
  assert.equal(sockets.length, 1);
  assert.match(socket().url, /t=t1$/);
  advance(5000);
  assert.equal(requests.length, 0, "no guest of its own when the loader gave one");
  assert.equal(sockets.length, 1);
  fromParent({ type: "beckon:init", token: "t1", guest_id: "g1" });
  assert.equal(sockets.length, 1, "the same guest again changes nothing");

  socket().receive({ type: "hello", guest_id: "g1" });
  submit("Hi");
  socket().receive(conversation("open"));
  assert.deepEqual(posted(), [{ type: "beckon:conversation", id: "c1" }]);
  const [, , send] = sent();
  socket().receive({ type: "ack", client_msg_id: send.client_msg_id, seq: 1, conversation_id: "c1" });

  // Closed panel: operator messages count as unread and beep; no read receipts.
  socket().receive(message(2, "operator", "Hello"));
  socket().receive(message(3, "operator", "Anyone?"));
  assert.deepEqual(sent(), []);
  assert.deepEqual(posted(), [{ type: "beckon:unread", count: 1 }, { type: "beckon:unread", count: 2 }]);
  assert.equal(beeps, 2);
  fromParent({ type: "beckon:visible", open: true });
  assert.deepEqual(sent(), [{ type: "read", conversation_id: "c1", seq: 3 }]);
  assert.deepEqual(posted(), [{ type: "beckon:unread", count: 0 }]);

  q("button.close").click();
  assert.deepEqual(posted(), [{ type: "beckon:close" }]);

  // 4401 on the loader's token: ask the loader for a new guest and take the one it sends.
  socket().serverClose(4401);
  assert.deepEqual(posted(), [{ type: "beckon:expired" }]);
  advance(1000);
  fromParent({ type: "beckon:init", token: "t2", guest_id: "g2" });
  assert.equal(sockets.length, 2);
  assert.match(socket().url, /t=t2$/);
  advance(5000);
  assert.equal(requests.length, 0);

  // Again, and this time the loader does not answer: after 3 s the panel gets a guest itself.
  socket().serverClose(4401);
  assert.deepEqual(posted(), [{ type: "beckon:expired" }]);
  advance(2900);
  assert.equal(requests.length, 0);
  advance(200);
  assert.deepEqual(await answerGuest(201, { guest_id: "g3", token: "t3", returning: false }), {
    site_key: config.site_key,
    token: null,
  });
  assert.match(socket().url, /t=t3$/);

  // Nothing secret ever went to the parent.
  posted();
  assert.ok(everPosted.length > 8);
  assert.equal(/"t[123]"/.test(JSON.stringify(everPosted)), false);
  assertNoErrors();
}

// In an iframe without a loader answering: after 3 s a guest of its own, and it counts as open.
async function alone() {
  globalThis.parent = new FakeWindow();
  const nodeCrypto = require("node:crypto");
  Object.defineProperty(globalThis, "crypto", {
    configurable: true,
    value: { getRandomValues: (array) => nodeCrypto.getRandomValues(array) },
  });
  load();
  advance(2999);
  assert.equal(requests.length, 0);
  advance(1);
  await answerGuest(201, { guest_id: "g1", token: "t1", returning: false });
  socket().receive({ type: "hello", guest_id: "g1" });
  submit("Hi");
  socket().receive(conversation("open"));
  const ids = sent().filter((m) => m.type === "send").map((m) => m.client_msg_id);
  assert.match(ids[0], /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, "fallback UUID");
  socket().receive(message(1, "operator", "Hello"));
  assert.deepEqual(sent(), [{ type: "read", conversation_id: "c1", seq: 1 }]);
  assertNoErrors();
}

// German visitor, owner texts with templates, a hostile site name: all plain text.
async function german() {
  navigator.language = "de-AT";
  globalThis.parent = globalThis;
  load();
  assert.equal(document.documentElement.lang, "de");
  assert.equal(q("h1.title").textContent, config.site_name);
  assert.equal(q("p.greeting").textContent, "Willkommen bei " + config.site_name + ", " + config.site_name + "!");
  assert.equal(q("textarea.input").placeholder, "Ihre Nachricht…");
  assert.equal(q("input.name").placeholder, "Ihr Name (optional)");
  assert.equal(q("form.leave").querySelector("textarea").placeholder, "Ihre Nachricht");
  assert.equal(q("form.leave").querySelector("button.send").textContent, "Nachricht senden");
  q("form.leave").dispatchEvent({ type: "submit", preventDefault() {} });
  assert.equal(state().formError, "Bitte geben Sie eine gültige E-Mail-Adresse ein.");
  await answerGuest(201, { guest_id: "g1", token: "t1", returning: false });
  socket().receive({ type: "hello", guest_id: "g1" });
  submit("Hallo");
  socket().receive(conversation("waiting"));
  assert.equal(q("p.status").textContent, "Warten auf einen Mitarbeiter…");
  socket().receive(conversation("open", { operator: "Jörg" }));
  assert.equal(q("p.status").textContent, "Sie chatten mit Jörg");
  // Upload problems in German.
  assert.equal(q("label.attach").title, "Datei anhängen");
  assert.equal(
    panel().descendants().find((node) => node.tagName === "INPUT" && node.type === "file").getAttribute("aria-label"),
    "Datei anhängen"
  );
  pick({ name: "a.exe", size: 10, type: "application/x-msdownload" });
  uploadRequest().answer(415, { code: "unsupported_type" });
  await settle();
  assert.match(lastRow().querySelector("p.meta").textContent, /Dieser Dateityp wird nicht angenommen$/);
  pick({ name: "b.zip", size: 2048, type: "application/zip" });
  assert.equal(lastRow().querySelector("span.file-size").textContent, " (2 KB)");
  uploadRequest().answer(413, { code: "too_large" });
  await settle();
  assert.match(lastRow().querySelector("p.meta").textContent, /Datei zu groß$/);
  assert.equal(lastRow().querySelector("p.actions").children[1].textContent, "Verwerfen");
  assertNoErrors();
}

// Errors from the server: a failed message can be retried; closed conversations; rate limits.
async function failures() {
  globalThis.parent = globalThis;
  load();
  await answerGuest(201, { guest_id: "g1", token: "t1", returning: false });
  socket().receive({ type: "hello", guest_id: "g1" });
  submit("one");
  socket().receive(conversation("open"));
  const [, , one] = sent();
  socket().receive({ type: "error", code: "bad_request", message: "too long", client_msg_id: one.client_msg_id });
  assert.equal(state().messages[0].status, "failed");
  assert.match(rows()[0].querySelector("p.meta").textContent, /Not sent/);
  rows()[0].querySelector("p.meta").click();
  assert.equal(state().messages[0].status, "pending");
  assert.deepEqual(sent(), [{ type: "send", conversation_id: "c1", client_msg_id: one.client_msg_id, body: "one" }]);
  socket().receive({ type: "error", code: "rate_limited", message: "slow down", client_msg_id: one.client_msg_id });
  assert.equal(state().messages[0].status, "pending");
  advance(5000);
  const again = sent();
  assert.deepEqual(again[again.length - 1], { type: "send", conversation_id: "c1", client_msg_id: one.client_msg_id, body: "one" });
  socket().receive({ type: "error", code: "closed", message: "ended", client_msg_id: one.client_msg_id });
  assert.equal(state().status, "closed");
  assert.equal(state().messages[0].status, "failed");
  assert.equal(q("div.ended").hidden, false);
  // Garbage is ignored.
  socket().onmessage({ data: "not json" });
  socket().receive({ type: "constructor" });
  socket().receive({ type: "message", conversation_id: "other", seq: 1, body: "x" });
  assert.equal(state().messages.length, 1);
}


// Attachments: picking files before the conversation exists, the upload's headers, pending -> sent
// (answer and broadcast in either order), errors with retry/dismiss, the size check, downloads and
// thumbnails through blob: URLs, and attachment bodies (hostile ones included) shown as text.
async function attachments() {
  let blobs = 0;
  URL.createObjectURL = (blob) => "blob:https://chat.example/" + ++blobs + "#" + blob;
  const clicked = [];
  const click = FakeNode.prototype.click;
  FakeNode.prototype.click = function () {
    clicked.push(this);
    return click.call(this);
  };
  load();
  await answerGuest(201, { guest_id: "g1", token: "t1", returning: false });
  socket().receive({ type: "hello", guest_id: "g1" });
  const guestHeaders = { "X-Beckon-Site": config.site_key, "X-Beckon-Guest": "t1" };

  // The paperclip is the label of the (visually hidden, still focusable) file input: clicking it opens
  // the file dialog, and Tab reaches the input itself.
  const attach = q("label.attach");
  const input = panel().descendants().find((node) => node.tagName === "INPUT" && node.type === "file");
  assert.ok(attach.descendants().includes(input), "the input is inside the paper clip's label");
  assert.equal(input.getAttribute("aria-label"), "Attach a file");
  assert.notEqual(input.tabIndex, -1, "reachable by keyboard");
  assert.equal(attach.querySelector("svg").getAttribute("class"), "icon icon-clip", "an SVG icon, not an emoji");

  // No conversation yet: it is started first, the file shows as pending, and uploads once it exists.
  const pdf = { name: "report <b>Q1</b> ü.pdf", size: 1536, type: "application/pdf" };
  const before = requests.length;
  pick(pdf);
  assert.deepEqual(sent(), [{ type: "start_chat", capabilities: CAPS }]);
  assert.equal(requests.length, before, "no upload before the conversation exists");
  let [mine] = state().messages;
  assert.equal(mine.kind, "attachment");
  assert.equal(mine.status, "pending");
  assert.match(mine.client_msg_id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(rows()[0].querySelector("span.file-name").textContent, pdf.name);
  assert.equal(rows()[0].querySelector("span.file-size").textContent, " (1.5 KB)");
  assert.equal(rows()[0].querySelector("button.file"), null, "nothing to download yet");
  assert.match(rows()[0].querySelector("p.meta").textContent, /Uploading…$/);
  assert.equal(rows()[0].querySelector("p.actions").hidden, true);
  assert.equal(q("p.status").textContent, "", "connected, waiting for the conversation");
  assert.equal(storage.has(CONV) ? JSON.parse(storage.get(CONV)).out.length : 0, 0, "a file does not survive the page");

  socket().receive(conversation("waiting"));
  assert.deepEqual(sent(), [{ type: "resume", conversation_id: "c1", after_seq: 0, capabilities: CAPS }], "uploads do not go over the socket");
  let request = uploadRequest();
  assert.equal(request.init.method, "POST");
  assert.equal(request.init.body, pdf, "the file itself is the body");
  assert.deepEqual(request.init.headers, {
    "Content-Type": "application/pdf",
    "X-Filename": encodeURIComponent(pdf.name),
    "X-Client-Msg-Id": mine.client_msg_id,
    ...guestHeaders,
  });
  // A reconnect while uploading does not upload again.
  socket().receive({ type: "hello", guest_id: "g1" });
  sent();
  assert.equal(requests.length, before + 1);

  // 201, then the broadcast of the same message: one message, sent, with its attachment id.
  request.answer(201, { attachment_id: "a1", seq: 1, client_msg_id: mine.client_msg_id });
  await settle();
  [mine] = state().messages;
  assert.equal(mine.status, "sent");
  assert.equal(mine.seq, 1);
  assert.equal(JSON.parse(mine.body).attachment_id, "a1");
  assert.match(rows()[0].querySelector("p.meta").textContent, /Sent$/);
  const pdfBody = JSON.stringify({ attachment_id: "a1", name: pdf.name, size: 1536, content_type: "application/pdf" });
  socket().receive(message(1, "guest", pdfBody, { kind: "attachment", client_msg_id: mine.client_msg_id }));
  assert.equal(state().messages.length, 1);
  assert.equal(rows().length, 1);
  assert.equal(state().messages[0].status, "sent");
  assert.equal(JSON.parse(storage.get(CONV)).log[0].kind, "attachment", "stored with its kind");
  sent();

  // Download: fetched with the guest's headers, saved from a blob: URL under its own name.
  rows()[0].querySelector("button.file").click();
  request = requests[requests.length - 1];
  assert.equal(request.url, "/api/v1/attachments/a1");
  assert.deepEqual(request.init.headers, guestHeaders);
  request.answer(200, "PDF");
  await settle();
  let link = clicked.find((node) => node.tagName === "A");
  assert.equal(link.download, pdf.name);
  assert.equal(link.href, "blob:https://chat.example/1#PDF");
  assert.equal(link.parentNode, null, "the link is gone again");
  // A second download uses the same blob.
  clicked.length = 0;
  rows()[0].querySelector("button.file").click();
  await settle();
  assert.equal(requests.length, before + 2);
  assert.equal(clicked.find((node) => node.tagName === "A").href, "blob:https://chat.example/1#PDF");

  // An image: the broadcast comes before the upload's answer. A thumbnail, fetched once.
  const png = { name: "cat.png", size: 5000, type: "image/png" };
  pick(png);
  request = uploadRequest();
  const pngId = request.init.headers["X-Client-Msg-Id"];
  const pngBody = JSON.stringify({ attachment_id: "a2", name: "cat.png", size: 5000, content_type: "image/png" });
  socket().receive(message(2, "guest", pngBody, { kind: "attachment", client_msg_id: pngId }));
  assert.equal(state().messages.length, 2);
  assert.equal(state().messages[1].status, "sent");
  const thumb = rows()[1].querySelector("img.thumb");
  assert.equal(thumb.alt, "cat.png");
  const thumbRequest = requests[requests.length - 1];
  assert.equal(thumbRequest.url, "/api/v1/attachments/a2");
  assert.deepEqual(thumbRequest.init.headers, guestHeaders);
  request.answer(201, { attachment_id: "a2", seq: 2, client_msg_id: pngId });
  await settle();
  assert.equal(state().messages.length, 2);
  assert.deepEqual(state().messages.map((m) => [m.seq, m.status]), [[1, "sent"], [2, "sent"]]);
  thumbRequest.answer(200, "PNG");
  await settle();
  assert.equal(rows()[1].querySelector("img.thumb").src, "blob:https://chat.example/2#PNG");
  const count = requests.length;
  rows()[1].querySelector("button.file").click();
  await settle();
  assert.equal(requests.length, count, "the thumbnail's blob serves the download");
  assert.equal(clicked.filter((node) => node.tagName === "A").pop().download, "cat.png");

  // Refused: too large (413) and not accepted (415) can only be dismissed; anything else can be retried.
  sent();
  pick({ name: "huge.pdf", size: 5 * 1024 * 1024, type: "application/pdf" });
  uploadRequest().answer(413, { code: "too_large" });
  await settle();
  let row = lastRow();
  assert.equal(state().messages[2].status, "failed");
  assert.match(row.querySelector("p.meta").textContent, /File too large$/);
  const [retry, dismiss] = row.querySelector("p.actions").children;
  assert.equal(row.querySelector("p.actions").hidden, false);
  assert.equal(retry.hidden, true);
  assert.equal(dismiss.textContent, "Dismiss");
  dismiss.click();
  assert.equal(state().messages.length, 2);
  assert.equal(rows().length, 2);

  pick({ name: "page.html", size: 10, type: "text/html" });
  uploadRequest().answer(415, { code: "unsupported_type" });
  await settle();
  assert.match(lastRow().querySelector("p.meta").textContent, /This type of file is not accepted$/);
  lastRow().querySelector("p.actions").children[1].click();

  // Checked before uploading: over 10 MiB never leaves the browser.
  const uploads = requests.length;
  pick({ name: "big.zip", size: 10 * 1024 * 1024 + 1, type: "application/zip" });
  assert.equal(requests.length, uploads);
  assert.equal(state().messages[2].status, "failed");
  assert.match(lastRow().querySelector("p.meta").textContent, /File too large$/);
  lastRow().querySelector("p.actions").children[1].click();
  assert.equal(state().messages.length, 2);

  // A server error and a lost connection: the generic text, and "try again" uploads with the same id.
  const txt = { name: "notes.txt", size: 3, type: "" };
  pick(txt);
  request = uploadRequest();
  assert.equal(request.init.headers["Content-Type"], "application/octet-stream");
  const txtId = request.init.headers["X-Client-Msg-Id"];
  request.answer(500, { code: "internal" });
  await settle();
  assert.match(lastRow().querySelector("p.meta").textContent, /Upload failed$/);
  const again = lastRow().querySelector("p.actions").children[0];
  assert.equal(again.hidden, false);
  assert.equal(again.textContent, "Try again");
  again.click();
  assert.equal(state().messages[2].status, "pending");
  request = uploadRequest();
  assert.equal(request.init.headers["X-Client-Msg-Id"], txtId);
  request.fail();
  await settle();
  assert.equal(state().messages[2].status, "failed");
  assert.match(lastRow().querySelector("p.meta").textContent, /Upload failed$/);
  lastRow().querySelector("p.actions").children[0].click();
  uploadRequest().answer(201, { attachment_id: "a3", seq: 3, client_msg_id: txtId });
  await settle();
  assert.deepEqual(state().messages.map((m) => [m.seq, m.status]), [[1, "sent"], [2, "sent"], [3, "sent"]]);
  assert.equal(lastRow().querySelector("p.actions").hidden, true);

  // Attachments from the team: hostile names are text, ids are encoded; malformed bodies show as text.
  const hostile = "<img src=x onerror=alert(1)>\u202Egpj.exe";
  socket().receive(
    message(4, "operator", JSON.stringify({ attachment_id: "../x?y", name: hostile, size: 2 * 1024 * 1024, content_type: "text/html" }), {
      kind: "attachment",
    })
  );
  row = lastRow();
  assert.equal(row.querySelector("span.file-name").textContent, hostile);
  assert.equal(row.querySelector("span.file-name").children.length, 0);
  assert.equal(row.querySelector("span.file-size").textContent, " (2 MB)");
  assert.equal(row.querySelector("img"), null, "no thumbnail for what is not an image");
  assert.deepEqual(
    [...new Set(row.descendants().map((node) => node.tagName))].sort(),
    ["BUTTON", "DIV", "P", "PATH", "SPAN", "SVG"]
  );
  assert.equal(row.querySelector("p.actions"), null, "nothing to retry on the team's messages");
  clicked.length = 0;
  row.querySelector("button.file").click();
  request = requests[requests.length - 1];
  assert.equal(request.url, "/api/v1/attachments/..%2Fx%3Fy");
  request.answer(200, "X");
  await settle();
  assert.equal(clicked.find((node) => node.tagName === "A").download, hostile);
  for (const [seq, body] of [[5, "not json"], [6, JSON.stringify({ attachment_id: 7, name: 42 })], [7, "null"]]) {
    socket().receive(message(seq, "operator", body, { kind: "attachment" }));
    assert.equal(lastRow().querySelector("div.body").textContent, body);
    assert.equal(lastRow().querySelector("button"), null);
  }
  socket().receive(message(8, "operator", JSON.stringify({ name: "odd.png", content_type: "image/png", size: "big" }), { kind: "attachment" }));
  assert.equal(lastRow().querySelector("span.file-name").textContent, "odd.png");
  assert.equal(lastRow().querySelector("span.file-size"), null);
  assert.equal(lastRow().querySelector("img"), null, "no id, nothing to fetch");
  assert.equal(lastRow().querySelector("button"), null);
  assertNoErrors();
}

// Typing preview on: the guest is told, typing notices carry the text (first 200 characters, at most one
// every 2 s, the latest text following when the 2 s are up), and the final false carries none.
async function preview() {
  load();
  assert.equal(q("p.notice").textContent, "The team can see what you type before you send it.");
  assert.equal(q("form.composer").children[0], q("p.notice"), "above the composer's fields");
  await answerGuest(201, { guest_id: "g1", token: "t1", returning: false });
  socket().receive({ type: "hello", guest_id: "g1" });
  type("no conversation yet");
  assert.deepEqual(sent(), [], "nothing to tell before there is a conversation");
  submit("Hi");
  socket().receive(conversation("open"));
  sent();

  type("H");
  assert.deepEqual(sent(), [{ type: "typing", conversation_id: "c1", state: true, preview: "H" }]);
  type("He");
  advance(1000);
  type("Hel");
  assert.deepEqual(sent(), [], "at most one every 2 s");
  advance(1000);
  assert.deepEqual(sent(), [{ type: "typing", conversation_id: "c1", state: true, preview: "Hel" }], "the latest text follows");
  advance(500);
  const long = "😀".repeat(150) + "x".repeat(100);
  type(long);
  advance(1500);
  const [notice] = sent();
  assert.equal(notice.preview, "😀".repeat(150) + "x".repeat(50), "the first 200 characters");
  advance(3000);
  assert.deepEqual(sent(), [{ type: "typing", conversation_id: "c1", state: false }]);
  type("Bye");
  sent();
  submit("Bye");
  const [off, send] = sent();
  assert.deepEqual(off, { type: "typing", conversation_id: "c1", state: false });
  assert.equal(send.type, "send");
  advance(5000);
  assert.deepEqual(sent(), [], "no preview after sending");
  assertNoErrors();
}

// A field of the leave-a-message form by its name (name, email, message, file, website).
function leaveField(name) {
  return q("form.leave").descendants().find((node) => node.name === name) || null;
}

// Fills the leave-a-message form and sends it; answers whether it was a request (the form never navigates).
function leave(fields) {
  for (const [name, value] of Object.entries(fields)) {
    if (name === "file") leaveField("file").files = [value];
    else leaveField(name).value = value;
  }
  const before = requests.length;
  let prevented = false;
  q("form.leave").dispatchEvent({ type: "submit", preventDefault: () => (prevented = true) });
  assert.ok(prevented, "the form never navigates");
  return requests.length > before ? requests[requests.length - 1] : null;
}

const shown = (selector) => q(selector) && !q(selector).hidden;

// Nobody online (/u/ann): the form instead of the composer, checks in the browser, the honeypot, the
// multipart request, errors with everything kept, the confirmation, and the new conversation taken up
// like one of our own; when Ann is back, the chat.
async function offline() {
  load();
  assert.equal(state().mode, "offline");
  assert.equal(state().siteOnline, false);
  assert.equal(q("p.greeting").textContent, "We're not here right now. Leave a message and we'll get back to you.");
  assert.ok(!shown("form.composer") && shown("form.leave") && !shown("div.thanks"));
  assert.equal(leaveField("email").type, "email");
  assert.equal(leaveField("email").placeholder, "Your email");
  assert.equal(leaveField("message").tagName, "TEXTAREA");
  assert.equal(leaveField("message").maxLength, 4000);
  assert.equal(leaveField("file").type, "file");
  const trap = leaveField("website");
  assert.equal(trap.className, "hp");
  assert.equal(trap.tabIndex, -1);
  assert.equal(trap.autocomplete, "off");
  assert.equal(trap.getAttribute("aria-hidden"), "true");
  assert.equal(trap.value, "");

  await answerGuest(201, { guest_id: "g1", token: "t1", returning: false });
  assert.match(socket().url, /&t=t1&h=ann$/);
  socket().receive({ type: "hello", guest_id: "g1" });
  socket().receive({ type: "site_status", online: false });
  assert.deepEqual(sent(), []);
  assert.equal(state().mode, "offline");

  // Checked before anything goes out, in the visitor's language.
  assert.equal(leave({}), null);
  assert.equal(state().formError, "Please enter a valid email address.");
  assert.ok(shown("p.error"));
  assert.equal(leave({ email: "zoe@example", message: "x" }), null);
  assert.equal(state().formError, "Please enter a valid email address.");
  assert.equal(leave({ email: " zoe@example.com ", message: "  \n " }), null);
  assert.equal(state().formError, "Please write a message.");
  assert.equal(leave({ message: "x".repeat(4001) }), null);
  assert.equal(state().formError, "Your message is too long (at most 4000 characters).");
  assert.equal(leave({ message: "Hi", file: { name: "big.zip", size: 11 * 1024 * 1024 } }), null);
  assert.equal(state().formError, "File too large");
  leaveField("file").files = [];

  // Multipart to our own origin, with the guest's token and the page's operator.
  const text = "<b>Call me</b>\nplease";
  let request = leave({ name: " Zoë ", message: text });
  assert.equal(state().formError, "");
  assert.ok(!shown("p.error"));
  assert.equal(request.url, "/api/v1/offline-messages");
  assert.equal(request.init.method, "POST");
  assert.ok(request.init.body instanceof FormData);
  assert.equal(request.init.headers, undefined, "the browser sets the multipart boundary");
  assert.deepEqual(Array.from(request.init.body.entries()), [
    ["site_key", config.site_key],
    ["token", "t1"],
    ["handle", "ann"],
    ["name", "Zoë"],
    ["email", "zoe@example.com"],
    ["message", text],
    ["website", ""],
  ]);
  assert.equal(q("form.leave").querySelector("button.send").disabled, true);
  assert.equal(leave({}), null, "one request at a time");

  // Refused: the server's words, everything typed kept.
  request.answer(429, { error: "rate_limited", message: "Too many messages, try again <later>." });
  await settle();
  assert.equal(state().formError, "Too many messages, try again <later>.");
  assert.equal(q("p.error").children.length, 0);
  assert.equal(state().mode, "offline");
  assert.equal(state().formText, text);
  assert.equal(leaveField("email").value, " zoe@example.com ");
  assert.equal(q("form.leave").querySelector("button.send").disabled, false);
  request = leave({});
  request.fail();
  await settle();
  assert.equal(state().formError, "Your message could not be sent. Please try again.");
  assert.equal(state().formText, text);

  // With a file, and a bot filling the trap (the server decides what to do with that).
  const file = new File(["hello"], "note.txt", { type: "text/plain" });
  request = leave({ file, website: "spam" });
  assert.equal(request.init.body.get("website"), "spam");
  assert.equal(request.init.body.get("file").name, "note.txt");
  trap.value = "";
  request.answer(201, { conversation_id: "c9" });
  await settle();
  assert.equal(state().mode, "sent");
  assert.ok(!shown("form.leave") && !shown("form.composer") && shown("div.thanks"));
  assert.equal(
    q("div.thanks").querySelector("p").textContent,
    "Thanks! We got your message and will reply to zoe@example.com. If you come back here, you'll see our reply in this chat too."
  );
  assert.equal(state().formText, "");
  assert.equal(state().formError, "");
  assert.equal(q("p.status").textContent, "", "no promise of an operator while offline");

  // Taken up like our own conversation: stored for the next visit, its history fetched now.
  assert.equal(state().conversationId, "c9");
  const stored = JSON.parse(storage.get(CONV));
  assert.equal(stored.id, "c9");
  assert.equal(stored.name, "Zoë");
  assert.deepEqual(sent(), [{ type: "resume", conversation_id: "c9", after_seq: 0, capabilities: CAPS }]);
  socket().receive({
    type: "history",
    conversation_id: "c9",
    messages: [message(1, "guest", text, { conversation_id: "c9" })],
    more: false,
  });
  assert.equal(rows().length, 1);
  assert.equal(rows()[0].querySelector("p.body").textContent, text);
  socket().receive({ type: "site_status", online: false });
  assert.equal(state().mode, "sent", "still sent while offline");

  // Another message: the form again, empty.
  q("button.another").click();
  assert.equal(state().mode, "offline");
  assert.equal(state().formText, "");
  leaveField("message").value = "One more thing";

  // Ann is back: the chat, with what was typed in the form.
  socket().receive({ type: "site_status", online: true });
  assert.equal(state().mode, "chat");
  assert.equal(state().siteOnline, true);
  assert.equal(state().composerText, "One more thing");
  assert.equal(state().formText, "");
  assert.equal(q("p.greeting").textContent, "Hi! How can we help you today?");
  assert.equal(q("p.status").textContent, "Waiting for an operator…");
  assert.ok(shown("form.composer") && !shown("form.leave") && !shown("div.thanks"));
  socket().receive({ type: "site_status" });
  assert.equal(state().siteOnline, true, "a status without `online` changes nothing");
  assertNoErrors();
}

// Going offline and back while typing: the composer's text and the unsent messages go into the form,
// the form's text comes back into the composer; nothing typed is lost. An operator's open chat stays a
// chat; once it ends, the form shows.
async function carryover() {
  load();
  assert.equal(state().mode, "chat");
  assert.ok(shown("form.composer") && !shown("form.leave"));
  await answerGuest(201, { guest_id: "g1", token: "t1", returning: false });
  assert.doesNotMatch(socket().url, /&h=/, "no handle, no &h");
  socket().receive({ type: "hello", guest_id: "g1" });
  socket().receive({ type: "site_status", online: true });

  type("draft one");
  socket().receive({ type: "site_status", online: false });
  assert.equal(state().mode, "offline");
  assert.equal(state().formText, "draft one");
  assert.equal(state().composerText, "");
  assert.equal(q("p.greeting").textContent, "We're not here right now. Leave a message and we'll get back to you.");
  socket().receive({ type: "site_status", online: true });
  assert.equal(state().mode, "chat");
  assert.equal(state().composerText, "draft one");
  assert.equal(state().formText, "");

  // An unacknowledged message and a draft: both into the form, the message off the log (and storage).
  q("input.name").value = "Zoë";
  submit("first");
  assert.equal(sent()[0].type, "start_chat");
  type("second");
  socket().receive({ type: "site_status", online: false });
  assert.equal(state().formText, "first\n\nsecond");
  assert.deepEqual(state().messages, []);
  assert.equal(rows().length, 0);
  assert.equal(leaveField("name").value, "Zoë");
  assert.ok(!storage.has(CONV) || JSON.parse(storage.get(CONV)).out.length === 0);
  leaveField("message").value += " and more";
  // The chat opened meanwhile (waiting: still nobody to answer): nothing to send, the form stays.
  socket().receive(conversation("waiting"));
  assert.deepEqual(sent(), [{ type: "resume", conversation_id: "c1", after_seq: 0, capabilities: CAPS }]);
  assert.equal(state().mode, "offline");
  socket().receive({ type: "site_status", online: true });
  assert.equal(state().composerText, "first\n\nsecond and more");
  assert.equal(state().formText, "");

  // An operator has the chat: it stays a chat when the site goes offline, until it ends.
  submit("hello?");
  const [hello] = sent();
  assert.equal(hello.body, "hello?");
  socket().receive({ type: "ack", client_msg_id: hello.client_msg_id, seq: 1, conversation_id: "c1" });
  socket().receive(conversation("open", { last_seq: 1 }));
  sent();
  type("still typing");
  socket().receive({ type: "site_status", online: false });
  assert.equal(state().mode, "chat");
  assert.equal(state().composerText, "still typing");
  assert.ok(shown("form.composer"));
  socket().receive(conversation("closed"));
  assert.equal(state().mode, "offline");
  assert.ok(!shown("div.ended") && !shown("form.composer") && shown("form.leave"));
  assert.equal(state().formText, "still typing");
  assertNoErrors();
}

// A later visit after leaving a message (still offline): the stored conversation is resumed and the
// operator's reply shows above the form.
async function offlineResume() {
  storage.set(GUEST, JSON.stringify({ g: "g1", t: "t1" }));
  storage.set(CONV, JSON.stringify({ id: "c9", seq: 0, status: "waiting", operator: null, name: "Zoë", read: 0, log: [], out: [] }));
  load();
  assert.equal(state().mode, "offline");
  await answerGuest(200, { guest_id: "g1", token: "t1", returning: true });
  socket().receive({ type: "hello", guest_id: "g1" });
  assert.deepEqual(sent(), [{ type: "resume", conversation_id: "c9", after_seq: 0, capabilities: CAPS }]);
  socket().receive({
    type: "history",
    conversation_id: "c9",
    messages: [message(1, "guest", "Call me", { conversation_id: "c9" }), message(2, "operator", "Sure!", { conversation_id: "c9" })],
    more: false,
  });
  assert.deepEqual(state().messages.map((m) => m.body), ["Call me", "Sure!"]);
  assert.equal(rows()[1].querySelector("p.body").textContent, "Sure!");
  assert.equal(state().mode, "offline");
  assertNoErrors();
}

// Calls in an embedded panel whose browser can take them, on a site that lets guests call: the
// capability, the start buttons, the call module loaded with the page's nonce only when a call rings,
// events handed to it in order, the loader asked to show the panel, a ring, call errors kept away from
// the chat, and a call pinned to this tab after a reload hung up without loading anything.
async function calls() {
  globalThis.RTCPeerConnection = function () {};
  navigator.mediaDevices = { getUserMedia() {} };
  document.currentScript = { nonce: "n0nce" };
  const parent = new FakeWindow();
  globalThis.parent = parent;
  const fromParent = (data) => dispatchEvent(Object.assign(new Event("message"), { source: parent, origin: "https://shop.example", data }));
  const posted = () => parent.posted.splice(0, parent.posted.length).map((p) => p.data);
  load({ guest_calls: true });
  delete document.currentScript;
  const tab = session.get("beckon:tab");
  assert.match(tab, /^[0-9a-f-]{36}$/, "a random tab id for the tab's life");
  fromParent({ type: "beckon:visible", open: false });
  fromParent({ type: "beckon:init", token: "t1", guest_id: "g1" });
  socket().receive({ type: "hello", guest_id: "g1" });
  const voice = q("#beckon-call-voice"), video = q("#beckon-call-video");
  assert.ok(voice.hidden && video.hidden, "no call buttons before an operator has the chat");
  socket().receive(conversation("open"));
  assert.deepEqual(sent(), [{ type: "resume", conversation_id: "c1", after_seq: 0, capabilities: CAPS.concat("calls") }]);
  assert.ok(!voice.hidden && !video.hidden);
  assert.equal(voice.getAttribute("aria-label"), "Voice call");
  const script = () => document.body.descendants().find((node) => node.tagName === "SCRIPT");
  const call = (state, extra) => Object.assign({ type: "call", call_id: "k1", conversation_id: "c1", media: "video", caller: "operator",
    caller_name: "Ann", state, guest_tab: null, operator_tab: "o", ice_servers: [] }, extra);

  // Reloaded during a call: it is pinned to this tab, which runs nothing for it, so it ends at once.
  socket().receive(call("active", { call_id: "k0", guest_tab: tab }));
  assert.deepEqual(sent(), [{ type: "call", action: "hangup", call_id: "k0", tab }]);
  assert.equal(script(), undefined, "nothing loaded for that");
  socket().receive({ type: "error", code: "not_found", message: "no such call" });
  assert.equal(state().conversationId, "c1", "a call's error leaves the chat alone");
  socket().receive(call("ringing", { conversation_id: "c2" }));
  assert.equal(script(), undefined, "another conversation's call is not ours");

  // A call rings: the module is loaded, with this page's nonce (the CSP allows nothing else).
  socket().receive(call("ringing"));
  socket().receive(call("ringing", { caller_name: "Ann B." }));
  const tag = script();
  assert.match(tag.src, /^\/w\/call\.[0-9a-f]{12}\.js$/);
  assert.equal(tag.nonce, "n0nce");
  assert.deepEqual(posted().filter((m) => m.type === "beckon:open"), [], "nothing to show before the module is there");
  const handled = [];
  let options = null, barOptions = null, renders = 0, view = { state: "incoming", call: call("ringing") };
  window.BeckonCall = {
    desk(o) {
      options = o;
      return { handle: (e) => handled.push(e), view: () => view, start: (id, media) => handled.push({ start: id, media }) };
    },
    bar(d, o) {
      barOptions = o;
      return { render: () => renders++ };
    },
  };
  const beepsBefore = beeps;
  tag.onload();
  assert.deepEqual(handled.map((e) => e.caller_name), ["Ann", "Ann B."], "waiting events in order");
  assert.equal(options.role, "guest");
  assert.equal(options.tab, tab);
  assert.equal(barOptions.texts.accept, "Accept");
  assert.equal(barOptions.texts.permission.slice(0, 10), "Calls need");
  assert.equal(barOptions.name(call("ringing")), "Ann");
  assert.equal(barOptions.name(null), "Ann", "the conversation's operator");
  assert.ok(q("div.call-slot") === barOptions.into);
  options.changed();
  assert.ok(renders > 0);
  assert.deepEqual(posted().filter((m) => m.type === "beckon:open"), [{ type: "beckon:open" }], "the loader shows the panel");
  assert.equal(beeps, beepsBefore + 1, "it rings");
  advance(2000);
  assert.equal(beeps, beepsBefore + 2, "and rings again");
  options.changed();
  assert.deepEqual(posted().filter((m) => m.type === "beckon:open"), [], "once per call");
  assert.ok(voice.hidden, "no new call while one rings");

  // From now on the desk gets every event of ours at once, and its messages go out on the socket.
  socket().receive({ type: "call_signal", call_id: "k1", conversation_id: "c1", from: "operator", kind: "media", media: {} });
  assert.equal(handled.pop().type, "call_signal");
  assert.equal(options.send({ type: "call", action: "accept", call_id: "k1", tab }), true);
  assert.deepEqual(sent(), [{ type: "call", action: "accept", call_id: "k1", tab }]);
  socket().receive({ type: "error", code: "conflict", message: "not ringing" });
  assert.equal(handled.pop().code, "conflict", "a refusal right after a call message is the call's");
  view = { state: "idle", call: null };
  options.changed();
  assert.equal(beeps, beepsBefore + 2);
  advance(5000);
  assert.equal(beeps, beepsBefore + 2, "the ring stopped");
  assert.ok(!voice.hidden);
  voice.click();
  assert.deepEqual(handled.pop(), { start: "c1", media: "audio" });
  video.click();
  assert.deepEqual(handled.pop(), { start: "c1", media: "video" });
  // Much later, a conflict is the chat's again (here: nothing to fail).
  advance(10000);
  socket().receive({ type: "error", code: "conflict", message: "x" });
  assert.equal(handled.length, 2);
  assertNoErrors();
}

// Calls need the site's permission for the guest to start one, and a browser that can take them.
async function noGuestCalls() {
  globalThis.RTCPeerConnection = function () {};
  navigator.mediaDevices = { getUserMedia() {} };
  load();
  await answerGuest(200, { guest_id: "g1", token: "t1", returning: false });
  socket().receive({ type: "hello", guest_id: "g1" });
  socket().receive(conversation("open"));
  assert.deepEqual(sent()[0].capabilities, CAPS.concat("calls"), "it can still take the operator's calls");
  assert.ok(q("#beckon-call-voice").hidden && q("#beckon-call-video").hidden);
  assertNoErrors();
}

const scenarios = { page, resume, embed, alone, german, failures, attachments, preview, offline, carryover, offlineResume, calls, noGuestCalls };
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
