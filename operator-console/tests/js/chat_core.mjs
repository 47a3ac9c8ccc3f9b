// Protocol tests of chat.js's createChatCore under Node (run by tests/chat_js.rs).
// Usage: node chat_core.mjs ./chat.mjs
import assert from "node:assert/strict";

const {
  createChatCore, newClientMsgId, parseAttachment, humanSize, uploadProblem, uploadErrorText, attachmentUrl, ATTACHMENT_MAX_BYTES,
  capabilitiesOf, guestEmail, guestPhone, replyNote, NO_FILES_TEXT, consoleScriptUrl, isInbox, channelMark, inboxOf,
  canCall, isCallError, CALL_TEXTS,
} = await import(process.argv[2]);

function harness(options) {
  const sent = [];
  const alerts = [];
  const problems = [];
  const uploads = [];
  const notices = [];
  let open = true;
  let visible = true;
  let ids = 0;
  const core = createChatCore(Object.assign({
    me: "Ann",
    sites: [{ id: "s1", name: "Shop" }, { id: "s2", name: "Blog" }],
    send: function (m) { if (open) sent.push(m); return open; },
    visible: function () { return visible; },
    alert: function (kind, c, m) { alerts.push({ kind: kind, id: c ? c.conversation_id : m.conversation_id }); },
    problem: function (text) { problems.push(text); },
    newId: function () { ids += 1; return "cmid-" + ids; },
    upload: function (p) { uploads.push(p); },
    notice: function (m) { notices.push(m); },
  }, options || {}));
  return {
    core: core, sent: sent, alerts: alerts, problems: problems, uploads: uploads, notices: notices,
    setOpen: function (v) { open = v; }, setVisible: function (v) { visible = v; },
    take: function () { return sent.splice(0, sent.length); },
  };
}

function conv(id, status, operator, extra) {
  return Object.assign({ type: "conversation", conversation_id: id, site_id: "s1", status: status, operator: operator,
    guest: { guest_id: "G-" + id, name: null }, last_seq: 0, guest_read_seq: 0, operator_read_seq: 0 }, extra || {});
}

function msg(id, seq, sender, body, extra) {
  return Object.assign({ type: "message", conversation_id: id, seq: seq, client_msg_id: "x-" + id + "-" + seq, kind: "text",
    sender: sender, sender_name: sender === "guest" ? "Guest" : "Bob", body: body, created_ms: 1000 + seq }, extra || {});
}

const tests = {
  "on connect it asks for every site's conversations"() {
    const h = harness();
    h.core.connected();
    assert.deepEqual(h.take(), [{ type: "conversations", site_id: "s1" }, { type: "conversations", site_id: "s2" }]);
  },

  "the first list rings for nothing, a later waiting conversation rings, my open chats are followed"() {
    const h = harness();
    h.core.handle({ type: "conversation_list", site_id: "s1", items: [conv("c1", "waiting", null), conv("c2", "open", "Ann"), conv("c3", "open", "Bob")] });
    assert.deepEqual(h.alerts, []);
    assert.deepEqual(h.take(), [{ type: "join", conversation_id: "c2", after_seq: 0 }]);
    h.core.handle(conv("c4", "waiting", null));
    assert.deepEqual(h.alerts, [{ kind: "waiting", id: "c4" }]);
    h.core.handle(conv("c4", "waiting", null, { last_seq: 2 }));
    assert.equal(h.alerts.length, 1, "an update of a waiting conversation is not a new one");
    const mine = h.core.state().conversations.filter(function (c) { return c.mine; }).map(function (c) { return c.conversation_id; });
    assert.deepEqual(mine, ["c2"]);
  },

  "a conversation missing from a fresh list is closed"() {
    const h = harness();
    h.core.handle({ type: "conversation_list", site_id: "s1", items: [conv("c1", "waiting", null)] });
    h.core.handle({ type: "conversation_list", site_id: "s1", items: [] });
    assert.equal(h.core.conversation("c1").status, "closed");
  },

  "selecting joins from 0, follows history pages, and dedupes by seq"() {
    const h = harness();
    h.core.handle({ type: "conversation_list", site_id: "s1", items: [conv("c1", "open", "Bob", { last_seq: 3 })] });
    h.take();
    h.core.select("c1");
    assert.deepEqual(h.take(), [{ type: "join", conversation_id: "c1", after_seq: 0 }]);
    h.core.handle({ type: "history", conversation_id: "c1", messages: [msg("c1", 1, "guest", "hi"), msg("c1", 2, "operator", "hello")], more: true });
    assert.deepEqual(h.take(), [{ type: "join", conversation_id: "c1", after_seq: 2 }]);
    h.core.handle({ type: "history", conversation_id: "c1", messages: [msg("c1", 3, "guest", "a\nb")], more: false });
    h.core.handle(msg("c1", 2, "operator", "hello"));
    const s = h.core.state();
    assert.equal(s.current, "c1");
    assert.deepEqual(s.messages.map(function (m) { return m.seq; }), [1, 2, 3]);
    assert.equal(s.messages[2].body, "a\nb");
    h.core.select("c1");
    assert.deepEqual(h.take().filter(function (m) { return m.type === "join"; }), [{ type: "join", conversation_id: "c1", after_seq: 3 }]);
  },

  "a send is pending until acked, the echo makes no second copy, and a guest read marks it read"() {
    const h = harness();
    h.core.select("c1");
    h.core.handle({ type: "history", conversation_id: "c1", messages: [msg("c1", 1, "guest", "hi")], more: false });
    h.take();
    const id = h.core.post("Hello <b>there</b>", false);
    assert.deepEqual(h.take(), [{ type: "send", conversation_id: "c1", client_msg_id: id, body: "Hello <b>there</b>", note: false }]);
    assert.deepEqual(h.core.state().messages[1], { seq: null, body: "Hello <b>there</b>", status: "pending", kind: "text", sender: "operator", client_msg_id: id });
    h.core.handle({ type: "ack", conversation_id: "c1", client_msg_id: id, seq: 2 });
    assert.equal(h.core.state().messages[1].status, "sent");
    assert.equal(h.core.state().messages[1].seq, 2);
    h.core.handle(msg("c1", 2, "operator", "Hello <b>there</b>", { client_msg_id: id, sender_name: "Ann" }));
    assert.equal(h.core.state().messages.length, 2);
    h.core.handle({ type: "read", conversation_id: "c1", who: "guest", seq: 1 });
    assert.equal(h.core.state().messages[1].status, "sent");
    h.core.handle({ type: "read", conversation_id: "c1", who: "guest", seq: 2 });
    assert.equal(h.core.state().messages[1].status, "read");
    assert.equal(h.core.state().messages[0].status, "received");
  },

  "an internal note is a note and never counts as read by the guest"() {
    const h = harness();
    h.core.select("c1");
    const id = h.core.post("VIP customer", true);
    assert.equal(h.take().pop().note, true);
    h.core.handle({ type: "ack", conversation_id: "c1", client_msg_id: id, seq: 1 });
    h.core.handle({ type: "read", conversation_id: "c1", who: "guest", seq: 5 });
    const m = h.core.state().messages[0];
    assert.equal(m.kind, "note");
    assert.equal(m.status, "sent");
  },

  "an unacked send is retried after reconnect with the same client_msg_id, after re-joining"() {
    const h = harness();
    h.core.select("c1");
    h.core.handle({ type: "history", conversation_id: "c1", messages: [msg("c1", 1, "guest", "hi")], more: false });
    h.take();
    h.setOpen(false);
    const id = h.core.post("are you there?", false);
    h.setOpen(true);
    h.core.connected();
    const out = h.take();
    assert.deepEqual(out.slice(2), [
      { type: "join", conversation_id: "c1", after_seq: 1 },
      { type: "send", conversation_id: "c1", client_msg_id: id, body: "are you there?", note: false },
    ]);
  },

  "an error for a send marks it failed and retry resends the same id"() {
    const h = harness();
    h.core.select("c1");
    const id = h.core.post("x", false);
    h.take();
    h.core.handle({ type: "error", code: "rate_limited", message: "Slow down", client_msg_id: id });
    assert.equal(h.core.state().messages[0].status, "failed");
    assert.deepEqual(h.problems, ["Slow down"]);
    h.core.connected();
    assert.equal(h.take().filter(function (m) { return m.type === "send"; }).length, 0, "failed sends wait for Retry");
    h.core.retry(id);
    assert.deepEqual(h.take(), [{ type: "send", conversation_id: "c1", client_msg_id: id, body: "x", note: false }]);
    assert.equal(h.core.state().messages[0].status, "pending");
  },

  "resync drops the copy and joins from 0"() {
    const h = harness();
    h.core.select("c1");
    h.core.handle({ type: "history", conversation_id: "c1", messages: [msg("c1", 1, "guest", "hi")], more: false });
    h.take();
    h.core.handle({ type: "resync", conversation_id: "c1", last_seq: 0 });
    assert.deepEqual(h.core.state().messages, []);
    assert.deepEqual(h.take(), [{ type: "join", conversation_id: "c1", after_seq: 0 }]);
  },

  "a live message after a gap asks for the missing ones"() {
    const h = harness();
    h.core.select("c1");
    h.core.handle({ type: "history", conversation_id: "c1", messages: [msg("c1", 1, "guest", "hi")], more: false });
    h.take();
    h.core.handle(msg("c1", 4, "guest", "later"));
    assert.deepEqual(h.take(), [{ type: "join", conversation_id: "c1", after_seq: 1 }]);
  },

  "reading: sends the highest seq shown while visible, unread counts the rest"() {
    const h = harness();
    h.core.handle({ type: "conversation_list", site_id: "s1", items: [conv("c1", "open", "Bob", { last_seq: 2 }), conv("c2", "waiting", null, { last_seq: 1 })] });
    h.core.select("c1");
    h.core.handle({ type: "history", conversation_id: "c1", messages: [msg("c1", 1, "guest", "a"), msg("c1", 2, "guest", "b")], more: false });
    h.take();
    h.setVisible(false);
    h.core.markRead();
    assert.deepEqual(h.take(), []);
    h.setVisible(true);
    h.core.markRead();
    assert.deepEqual(h.take(), [{ type: "read", conversation_id: "c1", seq: 2 }]);
    h.core.markRead();
    assert.deepEqual(h.take(), [], "the same seq is not sent twice");
    const unread = Object.fromEntries(h.core.list().map(function (c) { return [c.conversation_id, c.unread]; }));
    assert.deepEqual(unread, { c1: 0, c2: 1 });
  },

  "a guest message rings only when its conversation is not on screen or the tab is hidden"() {
    const h = harness();
    h.core.select("c1");
    h.core.handle(msg("c1", 1, "guest", "on screen"));
    assert.deepEqual(h.alerts, []);
    h.core.handle(msg("c2", 1, "guest", "elsewhere"));
    h.core.handle(msg("c2", 1, "guest", "elsewhere"));
    assert.deepEqual(h.alerts, [{ kind: "message", id: "c2" }], "a duplicate does not ring again");
    h.setVisible(false);
    h.core.handle(msg("c1", 2, "guest", "hidden tab"));
    h.core.handle(msg("c1", 3, "operator", "colleague"));
    assert.deepEqual(h.alerts.map(function (a) { return a.id; }), ["c2", "c1"]);
  },

  "typing: the guest's shows, my own other tab's does not"() {
    const h = harness();
    h.core.handle({ type: "typing", conversation_id: "c1", who: "guest", name: "Guest", state: true });
    assert.equal(h.core.typingOf("c1").who, "guest");
    h.core.handle({ type: "typing", conversation_id: "c1", who: "guest", name: "Guest", state: false });
    assert.equal(h.core.typingOf("c1"), null);
    h.core.handle({ type: "typing", conversation_id: "c1", who: "operator", name: "Ann", state: true });
    assert.equal(h.core.typingOf("c1"), null);
  },

  "actions speak the protocol"() {
    const h = harness();
    h.core.accept("c9");
    h.core.close("c9");
    h.core.transfer("c9", "bob");
    h.core.typing(true, "c9");
    assert.deepEqual(h.take(), [
      { type: "accept", conversation_id: "c9" },
      { type: "close_conversation", conversation_id: "c9" },
      { type: "transfer", conversation_id: "c9", operator_handle: "bob" },
      { type: "typing", conversation_id: "c9", state: true },
    ]);
  },

  "an upload is a pending attachment, becomes sent on 201, and the broadcast makes no second copy"() {
    const h = harness();
    h.core.select("c1");
    h.core.handle({ type: "history", conversation_id: "c1", messages: [msg("c1", 1, "guest", "hi")], more: false });
    h.take();
    const file = { name: "<img src=x>.png", size: 2048, type: "image/png" };
    const id = h.core.attach(file);
    assert.deepEqual(h.take(), [], "an upload goes over HTTP, not the socket");
    assert.equal(h.uploads.length, 1);
    assert.equal(h.uploads[0].file, file);
    assert.equal(h.uploads[0].client_msg_id, id);
    assert.equal(h.uploads[0].conversation_id, "c1");
    let m = h.core.state().messages[1];
    assert.deepEqual([m.seq, m.kind, m.status, m.client_msg_id], [null, "attachment", "pending", id]);
    assert.deepEqual(parseAttachment(m.body), { attachment_id: null, name: "<img src=x>.png", size: 2048, content_type: "image/png" });
    h.core.connected();
    assert.equal(h.take().filter(function (x) { return x.type === "send"; }).length, 0, "a reconnect does not resend an upload");
    assert.equal(h.uploads.length, 1);
    h.core.uploaded(id, { attachment_id: "a-9", seq: 2, client_msg_id: id });
    m = h.core.state().messages[1];
    assert.deepEqual([m.seq, m.kind, m.status], [2, "attachment", "sent"]);
    assert.equal(parseAttachment(m.body).attachment_id, "a-9");
    const body = JSON.stringify({ attachment_id: "a-9", name: "<img src=x>.png", size: 2048, content_type: "image/png" });
    h.core.handle(msg("c1", 2, "operator", body, { kind: "attachment", client_msg_id: id, sender_name: "Ann" }));
    assert.equal(h.core.state().messages.length, 2);
    assert.equal(h.core.state().messages[1].body, body, "the server's copy wins");
    assert.equal(h.core.messagesOf("c1")[1].mine, true);
  },

  "when the broadcast beats the upload's answer there is still one copy"() {
    const h = harness();
    h.core.select("c1");
    const id = h.core.attach({ name: "a.pdf", size: 10, type: "application/pdf" });
    const body = JSON.stringify({ attachment_id: "a-1", name: "a.pdf", size: 10, content_type: "application/pdf" });
    h.core.handle(msg("c1", 1, "operator", body, { kind: "attachment", client_msg_id: id, sender_name: "Ann" }));
    assert.deepEqual(h.core.state().messages.map(function (m) { return [m.seq, m.status]; }), [[1, "sent"]]);
    h.core.uploaded(id, { attachment_id: "a-1", seq: 1, client_msg_id: id });
    assert.equal(h.core.state().messages.length, 1);
  },

  "a refused upload is failed with a clear text; retry uploads again with the same id; dismiss drops it"() {
    const h = harness();
    h.core.select("c1");
    const id = h.core.attach({ name: "big.zip", size: 100, type: "application/zip" });
    h.take();
    h.core.uploadFailed(id, uploadErrorText(413, { error: "too_large", message: "payload too large" }));
    const m = h.core.state().messages[0];
    assert.equal(m.status, "failed");
    assert.equal(h.core.messagesOf("c1")[0].error, "File too large");
    assert.deepEqual(h.problems, ["File too large"]);
    h.core.retry(id);
    assert.equal(h.uploads.length, 2);
    assert.equal(h.uploads[1].client_msg_id, id);
    assert.deepEqual(h.take(), []);
    assert.equal(h.core.state().messages[0].status, "pending");
    h.core.discard(id);
    assert.equal(h.core.state().messages.length, 1, "only a failed message can be dismissed");
    h.core.uploadFailed(id, "Upload failed: the connection was lost");
    h.core.discard(id);
    assert.deepEqual(h.core.state().messages, []);
  },

  "files over 10 MiB, empty files and uploads without a conversation are refused up front"() {
    const h = harness();
    assert.equal(h.core.attach({ name: "a.png", size: 1, type: "image/png" }), null, "no conversation selected");
    h.core.select("c1");
    assert.equal(h.core.attach({ name: "huge.pdf", size: ATTACHMENT_MAX_BYTES + 1, type: "application/pdf" }), null);
    assert.equal(h.core.attach({ name: "empty.txt", size: 0, type: "text/plain" }), null);
    assert.equal(h.uploads.length, 0);
    assert.deepEqual(h.core.state().messages, []);
    assert.match(h.problems[0], /^File too large .*: huge\.pdf$/);
    assert.notEqual(h.core.attach({ name: "edge.pdf", size: ATTACHMENT_MAX_BYTES, type: "application/pdf" }), null);
    assert.equal(uploadProblem({ name: "x", size: ATTACHMENT_MAX_BYTES }), null);
  },

  "attachment helpers"() {
    assert.equal(ATTACHMENT_MAX_BYTES, 10485760);
    assert.equal(parseAttachment("not json"), null);
    assert.equal(parseAttachment("[1]"), null);
    assert.equal(parseAttachment("null"), null);
    assert.equal(parseAttachment(JSON.stringify({ attachment_id: "a" })), null);
    assert.deepEqual(parseAttachment(JSON.stringify({ attachment_id: 5, name: "n", size: "big" })),
      { attachment_id: null, name: "n", size: null, content_type: "" });
    assert.equal(humanSize(0), "0 B");
    assert.equal(humanSize(1536), "1.5 KB");
    assert.equal(humanSize(20 * 1024), "20 KB");
    assert.equal(humanSize(10 * 1024 * 1024), "10 MB");
    assert.equal(humanSize(null), "");
    assert.equal(uploadErrorText(415, null), "This type of file is not accepted");
    assert.equal(uploadErrorText(410, { error: "gone", message: "conversation closed" }), "conversation closed");
    assert.equal(uploadErrorText(500, null), "Upload failed (HTTP 500)");
    assert.equal(attachmentUrl("a/../b?c"), "/api/v1/attachments/a%2F..%2Fb%3Fc");
  },

  "capabilities: missing means everything (older servers), an array means exactly what it lists"() {
    const all = { files: true, read_receipts: true, typing: true, sound: true, calls: true };
    assert.deepEqual(capabilitiesOf(null), all);
    assert.deepEqual(capabilitiesOf(conv("c1", "open", "Ann")), all);
    assert.deepEqual(capabilitiesOf(conv("c1", "open", "Ann", { capabilities: "files" })), all, "not an array: as if missing");
    assert.deepEqual(capabilitiesOf(conv("c1", "open", "Ann", { capabilities: [] })),
      { files: false, read_receipts: false, typing: false, sound: false, calls: false });
    assert.deepEqual(capabilitiesOf(conv("c1", "open", "Ann", { capabilities: ["files", "typing", "later"] })),
      { files: true, read_receipts: false, typing: true, sound: false, calls: false });
  },

  "files: no upload into a conversation whose guest cannot receive files"() {
    const h = harness();
    h.core.handle(conv("c1", "open", "Ann", { channel: "email", capabilities: [] }));
    h.core.handle(conv("c2", "open", "Ann", { capabilities: ["files"] }));
    h.core.handle(conv("c3", "open", "Ann"));
    h.take();
    h.core.select("c1");
    assert.equal(h.core.attach({ name: "a.png", size: 10, type: "image/png" }), null);
    assert.deepEqual(h.problems, [NO_FILES_TEXT + ": a.png"]);
    assert.equal(NO_FILES_TEXT, "This guest can't receive files");
    assert.deepEqual(h.uploads, []);
    h.core.select("c2");
    assert.ok(h.core.attach({ name: "a.png", size: 10, type: "image/png" }));
    h.core.select("c3");
    assert.ok(h.core.attach({ name: "b.png", size: 10, type: "image/png" }));
    assert.equal(h.uploads.length, 2);
  },

  "read receipts: never 'read' when the guest's client sends none"() {
    for (const [caps, expected] of [[undefined, "read"], [["read_receipts"], "read"], [["files", "typing"], "sent"], [[], "sent"]]) {
      const h = harness();
      h.core.handle(conv("c1", "open", "Ann", caps === undefined ? {} : { capabilities: caps }));
      h.core.select("c1");
      const id = h.core.post("Hello", false);
      h.core.handle({ type: "ack", conversation_id: "c1", client_msg_id: id, seq: 1 });
      h.core.handle({ type: "read", conversation_id: "c1", who: "guest", seq: 1 });
      assert.equal(h.core.state().messages[0].status, expected, JSON.stringify(caps));
    }
  },

  "typing: no guest typing line without the capability; operators' typing still shows"() {
    const h = harness();
    h.core.handle(conv("c1", "open", "Ann", { capabilities: ["files"] }));
    h.core.handle(conv("c2", "open", "Ann"));
    h.core.handle({ type: "typing", conversation_id: "c1", who: "guest", name: "Guest", state: true });
    assert.equal(h.core.typingOf("c1"), null);
    h.core.handle({ type: "typing", conversation_id: "c1", who: "operator", name: "Bob", state: true });
    assert.equal(h.core.typingOf("c1").name, "Bob");
    h.core.handle({ type: "typing", conversation_id: "c2", who: "guest", name: "Guest", state: true });
    assert.equal(h.core.typingOf("c2").who, "guest");
  },

  "reply note and contact fields for guests outside a live chat, as plain strings"() {
    assert.equal(replyNote(conv("c1", "open", "Ann", { channel: "widget", guest_email: "a@b.c" })), "");
    assert.equal(replyNote(conv("c1", "open", "Ann", { channel: "page" })), "");
    assert.equal(replyNote(conv("c1", "open", "Ann", { channel: "offline", guest_email: "<a@b.c>" })), "Replies are emailed to <a@b.c>");
    assert.equal(replyNote(conv("c1", "open", "Ann", { channel: "email", guest: { guest_id: null, name: "A", email: "a@b.c" } })),
      "Replies are emailed to a@b.c");
    assert.equal(replyNote(conv("c1", "open", "Ann", { channel: "sms", guest_phone: "+491701234567" })), "Replies are sent by SMS to +491701234567");
    assert.equal(replyNote(conv("c1", "open", "Ann", { channel: "sms" })), "");
    assert.equal(replyNote(null), "");
    assert.equal(guestEmail(conv("c1", "open", "Ann", { guest_email: " a@b.c " })), "a@b.c");
    assert.equal(guestEmail(conv("c1", "open", "Ann", { guest_email: null })), "");
    assert.equal(guestPhone(conv("c1", "open", "Ann", { guest_phone: "+1" })), "+1");
  },

  "email transcript: only with an address; the server's notice is passed on"() {
    const h = harness();
    h.core.handle(conv("c1", "closed", "Ann"));
    h.core.handle(conv("c2", "closed", "Ann", { guest_email: "" }));
    h.core.handle(conv("c3", "closed", "Ann", { channel: "offline", guest_email: "a@b.c", capabilities: [] }));
    h.take();
    assert.equal(h.core.emailTranscript("c1"), false);
    assert.equal(h.core.emailTranscript("c2"), false);
    assert.equal(h.core.emailTranscript("nope"), false);
    assert.deepEqual(h.take(), []);
    assert.equal(h.core.emailTranscript("c3"), true);
    assert.deepEqual(h.take(), [{ type: "email_transcript", conversation_id: "c3" }]);
    h.core.handle({ type: "notice", conversation_id: "c3", message: "Transcript queued for a@b.c" });
    assert.deepEqual(h.notices, [{ type: "notice", conversation_id: "c3", message: "Transcript queued for a@b.c" }]);
    h.core.handle({ type: "error", code: "bad_request", message: "the guest left no email address" });
    assert.deepEqual(h.problems, ["the guest left no email address"]);
    h.setOpen(false);
    assert.equal(h.core.emailTranscript("c3"), false, "socket down");
  },

  "chat.js finds console.js next to itself"() {
    assert.equal(consoleScriptUrl("https://beckon.example/console/assets/chat-0.1.0.js"),
      "https://beckon.example/console/assets/console-0.1.0.js");
    assert.equal(consoleScriptUrl("file:///tmp/x/chat.mjs"), null);
  },

  "offline, email and SMS conversations go to the inbox, marked, newest first"() {
    const list = [
      { conversation_id: "live", channel: "widget", status: "waiting", created_ms: 5 },
      { conversation_id: "old", channel: "offline", status: "waiting", created_ms: 1 },
      { conversation_id: "mail", channel: "email", status: "open", created_ms: 3 },
      { conversation_id: "text", channel: "sms", status: "waiting", created_ms: 4 },
      { conversation_id: "done", channel: "offline", status: "closed", created_ms: 9 },
      { conversation_id: "page", channel: "page", status: "open", created_ms: 2 },
    ];
    assert.deepEqual(inboxOf(list).map(function (c) { return c.conversation_id; }), ["text", "mail", "old"]);
    assert.equal(isInbox(list[0]), false);
    assert.equal(isInbox(list[5]), false);
    assert.equal(isInbox(null), false);
    assert.equal(channelMark(list[1]), "Offline message");
    assert.equal(channelMark(list[2]), "Offline message · email");
    assert.equal(channelMark(list[3]), "Offline message · SMS");
    assert.equal(channelMark(list[0]), "");
  },

  "calls: only my open live chats whose guest can take calls, and call errors kept apart"() {
    assert.equal(canCall(conv("c1", "open", "Ann", { capabilities: ["calls"] }), "Ann"), true);
    assert.equal(canCall(conv("c1", "open", "Ann"), "Ann"), true, "no capabilities field: all supported");
    assert.equal(canCall(conv("c1", "open", "Ann", { capabilities: ["files"] }), "Ann"), false);
    assert.equal(canCall(conv("c1", "open", "Bob", { capabilities: ["calls"] }), "Ann"), false, "someone else's chat");
    assert.equal(canCall(conv("c1", "waiting", null, { capabilities: ["calls"] }), "Ann"), false);
    assert.equal(canCall(conv("c1", "closed", "Ann", { capabilities: ["calls"] }), "Ann"), false);
    assert.equal(canCall(conv("c1", "open", "Ann", { channel: "email", capabilities: [] }), "Ann"), false);
    assert.equal(canCall(null, "Ann"), false);
    const error = function (code, extra) { return Object.assign({ type: "error", code: code, message: "x" }, extra || {}); };
    assert.equal(isCallError(error("conflict"), 1000, 3000), true, "a refusal soon after a call message");
    assert.equal(isCallError(error("conflict"), 1000, 7000), false, "long after: the chat's");
    assert.equal(isCallError(error("rate_limited"), 1000, 2000), false);
    assert.equal(isCallError(error("conflict", { client_msg_id: "m1" }), 1000, 2000), false, "a send's error");
    assert.equal(isCallError(error("not_found", { call_id: "k1" }), 0, 1e9), true, "names its call");
    assert.equal(isCallError({ type: "message" }, 1000, 2000), false);
    // Every problem code of the call module has a text.
    for (const code of ["permission", "no_device", "device_busy", "media_failed", "no_camera", "camera_failed",
      "screen_failed", "ice_failed", "conflict", "forbidden", "offline", "unsupported"]) {
      assert.equal(typeof CALL_TEXTS[code], "string", code);
    }
  },

  "client message ids are UUIDs"() {
    assert.match(newClientMsgId(), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  },
};

let failed = 0;
for (const [name, test] of Object.entries(tests)) {
  try {
    test();
    console.log("ok   " + name);
  } catch (e) {
    failed += 1;
    console.log("FAIL " + name + "\n" + e.stack);
  }
}
if (failed > 0) {
  console.log(failed + " failed");
  process.exit(1);
}
