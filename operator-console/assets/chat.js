// Beckon console: the operator's chat workspace over the console socket (docs/protocol.md, "Chat").
// createChatCore holds the protocol state and touches no DOM, so it can be tested under Node; the
// rest of the file renders it. Every string from the network is inserted with textContent, never as HTML.

const TYPING_SHOWN_MS = 6000; // a lost "typing: false" must not leave the line up forever

/** The server's default `--attachment-max-bytes`: larger files are refused before uploading. */
export const ATTACHMENT_MAX_BYTES = 10 * 1024 * 1024;

/**
 * The body of a `kind: "attachment"` message, `{"attachment_id", "name", "size", "content_type"}`, or null
 * when it is not such JSON. attachment_id is null for an upload still in flight.
 */
export function parseAttachment(body) {
  let v;
  try { v = JSON.parse(body); } catch (e) { return null; }
  if (!v || typeof v !== "object" || Array.isArray(v) || typeof v.name !== "string") return null;
  return {
    attachment_id: typeof v.attachment_id === "string" && v.attachment_id !== "" ? v.attachment_id : null,
    name: v.name,
    size: typeof v.size === "number" && Number.isFinite(v.size) && v.size >= 0 ? v.size : null,
    content_type: typeof v.content_type === "string" ? v.content_type : "",
  };
}

/** Where the console downloads an attachment (the session cookie authenticates). */
export function attachmentUrl(id) {
  return "/api/v1/attachments/" + encodeURIComponent(id);
}

/** "512 B", "1.5 KB", "12 KB", "3.2 MB". */
export function humanSize(bytes) {
  if (typeof bytes !== "number" || !Number.isFinite(bytes) || bytes < 0) return "";
  if (bytes < 1024) return bytes + " B";
  const units = ["KB", "MB", "GB"];
  let n = bytes / 1024;
  let u = 0;
  while (n >= 1024 && u < units.length - 1) { n /= 1024; u += 1; }
  return (n < 10 ? n.toFixed(1).replace(/\.0$/, "") : String(Math.round(n))) + " " + units[u];
}

/** Why a file cannot be uploaded before trying (null when it may be). */
export function uploadProblem(file) {
  if (!file || typeof file.size !== "number") return "Not a file";
  if (file.size === 0) return "The file is empty";
  if (file.size > ATTACHMENT_MAX_BYTES) return "File too large (the limit is " + humanSize(ATTACHMENT_MAX_BYTES) + ")";
  return null;
}

/** The text for a failed upload's HTTP answer; json is its parsed body (or null). */
export function uploadErrorText(status, json) {
  if (status === 413) return "File too large";
  if (status === 415) return "This type of file is not accepted";
  if (json && typeof json.message === "string" && json.message !== "") return json.message;
  if (status === 410) return "This conversation is closed";
  if (status === 401 || status === 403) return "Your session has expired: reload the page";
  return "Upload failed (HTTP " + status + ")";
}

/** Why the attach control is off for a guest whose client cannot take files. */
export const NO_FILES_TEXT = "This guest can't receive files";

/**
 * What the guest's client supports, from the conversation's `capabilities` (docs/protocol.md, "Chat"):
 * {files, read_receipts, typing, sound, calls}. Without the field (an older server) everything is
 * supported; an email, SMS or offline conversation has `[]`.
 */
export function capabilitiesOf(c) {
  const list = c && Array.isArray(c.capabilities) ? c.capabilities : null;
  const has = function (name) { return list === null || list.includes(name); };
  return { files: has("files"), read_receipts: has("read_receipts"), typing: has("typing"), sound: has("sound"), calls: has("calls") };
}

/**
 * Whether this operator may call the conversation's guest (docs/protocol.md, "Calls"): an open live
 * chat assigned to them, whose guest's browser can take calls.
 */
export function canCall(c, me) {
  return !!c && c.status === "open" && c.operator === me && !isInbox(c) && capabilitiesOf(c).calls;
}

/**
 * Whether an `error` event answers one of our call messages rather than the chat: errors carry no
 * request id, so one with a `call_id`, or a refusal within 5 s of our last call message (and with no
 * client_msg_id), is the call's.
 */
export function isCallError(m, lastCallSentMs, nowMs) {
  if (!m || m.type !== "error" || m.client_msg_id) return false;
  if ("call_id" in m) return true;
  return nowMs - lastCallSentMs < 5000 && ["conflict", "forbidden", "not_found", "bad_request"].includes(m.code);
}

/** The call area's texts (the call module's keys; {{name}} is the guest's name). */
export const CALL_TEXTS = {
  title: "Call",
  incomingVoice: "{{name}} is calling you",
  incomingVideo: "{{name}} is calling you (video)",
  calling: "Calling {{name}}…",
  connecting: "Connecting…",
  elsewhere: "This call is going on in another console tab.",
  ended: "Call ended",
  declined: "{{name}} declined the call",
  missed: "No answer",
  cancelled: "Call cancelled",
  accept: "Accept",
  decline: "Decline",
  hangup: "Hang up",
  mute: "Mute",
  unmute: "Unmute",
  cameraOff: "Camera off",
  cameraOn: "Camera on",
  switchCamera: "Switch camera",
  share: "Share screen",
  stopShare: "Stop sharing",
  remoteMuted: "{{name}} is muted",
  remoteCameraOff: "{{name}}'s camera is off",
  remoteSharing: "{{name}} is sharing their screen",
  blocked: "Click here to hear the call.",
  failed: "The call did not work.",
  permission: "The browser did not allow the microphone (or camera) for Beckon: allow it in the address bar and try again.",
  no_device: "No microphone was found.",
  device_busy: "The microphone or camera is in use by another application.",
  media_failed: "The microphone could not be started.",
  no_camera: "No camera available: voice only.",
  camera_failed: "The camera could not be started.",
  screen_failed: "Screen sharing did not start.",
  ice_failed: "The call could not connect, or the connection was lost.",
  conflict: "This conversation already has a call, or the guest's browser cannot take calls.",
  forbidden: "You cannot call in this conversation.",
  offline: "Not connected to Beckon: try again in a moment.",
  unsupported: "This browser cannot make calls.",
};

function contact(c, field) {
  const v = c ? (typeof c["guest_" + field] === "string" ? c["guest_" + field] : c.guest && c.guest[field]) : null;
  return typeof v === "string" ? v.trim() : "";
}

/** The guest's email address (`guest_email`, or `guest.email`), or "". */
export function guestEmail(c) { return contact(c, "email"); }

/** The guest's phone number (`guest_phone`, or `guest.phone`), or "". */
export function guestPhone(c) { return contact(c, "phone"); }

/** The line above the composer for a guest who is not in a live chat (channel offline, email, sms), or "". */
export function replyNote(c) {
  const channel = c ? c.channel : null;
  if (channel === "sms") return guestPhone(c) ? "Replies are sent by SMS to " + guestPhone(c) : "";
  if (channel === "offline" || channel === "email") return guestEmail(c) ? "Replies are emailed to " + guestEmail(c) : "";
  return "";
}

/**
 * Whether the conversation came in while nobody was there to chat (a leave-a-message form, an email, an
 * SMS): it belongs in the inbox, not among the live chats, and replies leave by email or SMS.
 */
export function isInbox(c) {
  const channel = c ? c.channel : null;
  return channel === "offline" || channel === "email" || channel === "sms";
}

/** The mark an inbox conversation carries ("Offline message", with how it came when not the form), or "". */
export function channelMark(c) {
  if (!isInbox(c)) return "";
  if (c.channel === "email") return "Offline message · email";
  if (c.channel === "sms") return "Offline message · SMS";
  return "Offline message";
}

/** The inbox: offline conversations still open or waiting, newest first. */
export function inboxOf(list) {
  return list.filter(function (c) { return isInbox(c) && c.status !== "closed"; })
    .sort(function (a, b) { return (b.created_ms || 0) - (a.created_ms || 0); });
}

/** Outline icons drawn inline, so they show without an emoji font: name -> SVG path data (24×24). */
const ICONS = {
  paperclip: "M21.4 11.1l-9.2 9.2a6 6 0 0 1-8.5-8.5l9.2-9.2a4 4 0 0 1 5.7 5.7l-9.2 9.2a2 2 0 0 1-2.8-2.8l8.5-8.5",
  inbox: "M22 12h-6l-2 3h-4l-2-3H2M5.5 5.1L2 12v6a2 2 0 0 0 2 2h16a2 2 0 0 0 2-2v-6l-3.5-6.9A2 2 0 0 0 16.8 4H7.2a2 2 0 0 0-1.7 1.1z",
};

/** An inline SVG icon, hidden from assistive technology (the text next to it is the label). */
export function icon(name) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("class", "icon icon-" + name);
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", "16");
  svg.setAttribute("height", "16");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", ICONS[name] || "");
  path.setAttribute("fill", "none");
  path.setAttribute("stroke", "currentColor");
  path.setAttribute("stroke-width", "2");
  path.setAttribute("stroke-linecap", "round");
  path.setAttribute("stroke-linejoin", "round");
  svg.append(path);
  return svg;
}

/** Where console.js (which owns the header's availability control) is served, given chat.js's own URL:
 * both sit side by side with the same version, `…/chat-V.js` and `…/console-V.js`. Null for any other URL. */
export function consoleScriptUrl(chatUrl) {
  const url = String(chatUrl).replace(/\/chat-([^/?#]*)$/, "/console-$1");
  return url === String(chatUrl) ? null : url;
}

/** A UUID v4 for client_msg_id. randomUUID exists only in secure contexts; getRandomValues everywhere. */
export function newClientMsgId() {
  const c = globalThis.crypto;
  if (typeof c.randomUUID === "function") return c.randomUUID();
  const b = c.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, function (x) { return x.toString(16).padStart(2, "0"); }).join("");
  return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
}

/**
 * The chat state of one console tab. options: me (the operator's display name), sites ([{id, name}]),
 * send(message) -> true when written to an open socket, visible() -> is the tab visible, changed(),
 * alert(kind "waiting"|"message", conversation, message), problem(text), newId(),
 * upload(pending) -> starts the HTTP upload of pending.file (to pending.conversation_id with
 * pending.client_msg_id) and later calls uploaded() or uploadFailed() with that client_msg_id,
 * notice(event) -> shows a server `notice` ({conversation_id, message}) for a moment. An
 * `invitation_accepted` event (a visitor said yes to my invitation) shows as a notice, alerts with kind
 * "invitation" and marks the conversation (`invited(id)`: the guest's name).
 */
export function createChatCore(options) {
  const me = options.me;
  const sites = options.sites;
  const send = options.send;
  const visible = options.visible || function () { return true; };
  const changed = options.changed || function () {};
  const alert = options.alert || function () {};
  const problem = options.problem || function () {};
  const newId = options.newId || newClientMsgId;
  const upload = options.upload || function () {};
  const notice = options.notice || function () {};
  const conversations = new Map(); // conversation_id -> latest `conversation` event
  const threads = new Map(); // conversation_id -> messages by seq, read and typing state
  const pending = new Map(); // client_msg_id -> a send or upload not acknowledged yet, in send order
  const ownIds = new Set(); // client_msg_ids sent from this tab
  const listedSites = new Set(); // sites whose first list arrived: what it held is not news
  const invitedChats = new Map(); // conversation_id -> guest name, for chats my accepted invitation opened
  let current = null;

  function thread(id) {
    let t = threads.get(id);
    if (!t) {
      // contiguous: every seq from 1 to it is here, so it is the after_seq to resume from.
      t = { messages: new Map(), contiguous: 0, joined: false, loading: false, seen: 0, readSent: 0, guestRead: 0, typing: null };
      threads.set(id, t);
    }
    return t;
  }

  function join(id) {
    const t = thread(id);
    t.joined = true;
    t.loading = true;
    send({ type: "join", conversation_id: id, after_seq: t.contiguous });
  }

  function bumpLastSeq(id, seq) {
    const c = conversations.get(id);
    if (c && seq > (c.last_seq || 0)) c.last_seq = seq;
  }

  /** Stores a message (the server's copy replaces one made from an ack); true when its seq is new. */
  function addMessage(t, m) {
    if (!Number.isInteger(m.seq) || m.seq < 1) return false;
    const fresh = !t.messages.has(m.seq);
    t.messages.set(m.seq, m);
    while (t.messages.has(t.contiguous + 1)) t.contiguous += 1;
    if (m.client_msg_id) pending.delete(m.client_msg_id);
    bumpLastSeq(m.conversation_id, m.seq);
    return fresh;
  }

  function upsert(c, quiet) {
    const before = conversations.get(c.conversation_id);
    const next = Object.assign({}, c);
    if (before && (before.last_seq || 0) > (next.last_seq || 0)) next.last_seq = before.last_seq;
    conversations.set(c.conversation_id, next);
    const t = thread(c.conversation_id);
    t.guestRead = Math.max(t.guestRead, c.guest_read_seq || 0);
    if (!quiet && c.status === "waiting" && (!before || before.status !== "waiting")) alert("waiting", next, null);
    // Follow my own chats live, so their messages count as unread and can ring.
    if (c.status === "open" && c.operator === me && !t.joined) join(c.conversation_id);
  }

  function handle(m) {
    const id = m.conversation_id;
    if (m.type === "conversation_list") {
      const quiet = !listedSites.has(m.site_id);
      listedSites.add(m.site_id);
      const present = new Set();
      (m.items || []).forEach(function (c) { present.add(c.conversation_id); upsert(c, quiet); });
      // The list holds every open and waiting conversation: one missing from it closed meanwhile.
      conversations.forEach(function (c) {
        if (c.site_id === m.site_id && !present.has(c.conversation_id)) c.status = "closed";
      });
    } else if (m.type === "conversation") {
      upsert(m, false);
    } else if (m.type === "history") {
      const t = thread(id);
      const before = t.contiguous;
      (m.messages || []).forEach(function (msg) { addMessage(t, msg); });
      if (m.more && t.contiguous > before) {
        join(id);
      } else {
        t.loading = false;
        // A live message ran ahead of a gap (or a page did not close it): ask for what is missing.
        if (t.messages.size > t.contiguous && t.contiguous > before) join(id);
      }
    } else if (m.type === "message") {
      const t = thread(id);
      const fresh = addMessage(t, m);
      if (t.joined && !t.loading && t.contiguous < m.seq) join(id); // never a silent gap
      if (fresh && m.sender === "guest") {
        t.typing = null;
        if (id !== current || !visible()) alert("message", conversations.get(id) || null, m);
      }
    } else if (m.type === "ack") {
      const p = pending.get(m.client_msg_id);
      if (p) {
        const t = thread(p.conversation_id);
        if (!t.messages.has(m.seq)) {
          addMessage(t, {
            type: "message", conversation_id: p.conversation_id, seq: m.seq, client_msg_id: p.client_msg_id,
            kind: p.kind, sender: "operator", sender_name: me, body: p.body, created_ms: p.created_ms,
          });
        }
        pending.delete(m.client_msg_id);
      }
    } else if (m.type === "resync") {
      const t = thread(id);
      t.messages.clear();
      t.contiguous = 0;
      join(id);
    } else if (m.type === "typing") {
      if (m.who === "operator" && m.name === me) return; // my own other tab
      thread(id).typing = m.state ? { who: m.who, name: m.name, preview: typeof m.preview === "string" ? m.preview : "", at: Date.now() } : null;
    } else if (m.type === "read") {
      const t = thread(id);
      if (m.who === "guest") {
        t.guestRead = Math.max(t.guestRead, m.seq || 0);
      } else {
        const c = conversations.get(id);
        if (c) c.operator_read_seq = Math.max(c.operator_read_seq || 0, m.seq || 0);
      }
    } else if (m.type === "notice") {
      notice(m);
    } else if (m.type === "invitation_accepted") {
      const guest = String(m.guest || "A visitor");
      invitedChats.set(id, guest);
      notice({ conversation_id: id, message: guest + " accepted your invitation" });
      alert("invitation", conversations.get(id) || null, m);
    } else if (m.type === "error") {
      const p = m.client_msg_id ? pending.get(m.client_msg_id) : null;
      if (p) { p.status = "failed"; p.error = m.message || m.code; }
      problem(m.message || m.code || "Something went wrong");
    } else {
      return; // visitor-list events and anything newer are not ours
    }
    changed();
  }

  /** The socket (re)opened: subscribe to every site, follow the open chat again, resend unacked sends. */
  function connected() {
    threads.forEach(function (t) { t.joined = false; t.loading = false; });
    sites.forEach(function (s) { send({ type: "conversations", site_id: s.id }); });
    if (current !== null) join(current);
    // An upload in flight is HTTP and does not care about the socket.
    pending.forEach(function (p) { if (p.status === "pending" && p.kind !== "attachment") transmit(p); });
  }

  function transmit(p) {
    if (p.kind === "attachment") { upload(p); return; }
    send({ type: "send", conversation_id: p.conversation_id, client_msg_id: p.client_msg_id, body: p.body, note: p.note });
  }

  function select(id) {
    current = id;
    if (id !== null) join(id);
    changed();
  }

  function post(body, note) {
    if (current === null) return null;
    const p = { conversation_id: current, client_msg_id: newId(), kind: note ? "note" : "text", body: body, note: !!note,
      status: "pending", error: null, created_ms: Date.now() };
    pending.set(p.client_msg_id, p);
    ownIds.add(p.client_msg_id);
    transmit(p);
    changed();
    return p.client_msg_id;
  }

  /**
   * Uploads a file ({name, size, type}, e.g. a File) into the open conversation: it shows as a pending
   * attachment message until uploaded() (or the broadcast) replaces it. Null when there is no open
   * conversation or the file is refused up front (problem() says why).
   */
  function attach(file) {
    if (current === null) return null;
    const why = capabilitiesOf(conversations.get(current)).files ? uploadProblem(file) : NO_FILES_TEXT;
    if (why) { problem(why + ": " + String(file && file.name)); return null; }
    const p = {
      conversation_id: current, client_msg_id: newId(), kind: "attachment", note: false, status: "pending", error: null,
      created_ms: Date.now(), file: file,
      body: JSON.stringify({ attachment_id: null, name: String(file.name || "file"), size: file.size, content_type: file.type || "application/octet-stream" }),
    };
    pending.set(p.client_msg_id, p);
    ownIds.add(p.client_msg_id);
    transmit(p);
    changed();
    return p.client_msg_id;
  }

  /** The upload answered 201 `{"attachment_id", "seq", "client_msg_id"}`: the message is stored. */
  function uploaded(clientMsgId, result) {
    const p = pending.get(clientMsgId);
    if (!p) return; // the broadcast came first
    pending.delete(clientMsgId);
    const t = thread(p.conversation_id);
    const r = result || {};
    if (Number.isInteger(r.seq) && !t.messages.has(r.seq)) {
      const a = parseAttachment(p.body) || { name: "file", size: null, content_type: "" };
      addMessage(t, {
        type: "message", conversation_id: p.conversation_id, seq: r.seq, client_msg_id: clientMsgId, kind: "attachment",
        sender: "operator", sender_name: me, created_ms: p.created_ms,
        body: JSON.stringify({ attachment_id: typeof r.attachment_id === "string" ? r.attachment_id : null, name: a.name, size: a.size, content_type: a.content_type }),
      });
    }
    changed();
  }

  function uploadFailed(clientMsgId, text) {
    const p = pending.get(clientMsgId);
    if (!p) return;
    p.status = "failed";
    p.error = text;
    problem(text);
    changed();
  }

  /** Forgets a failed send or upload. */
  function discard(clientMsgId) {
    const p = pending.get(clientMsgId);
    if (!p || p.status !== "failed") return;
    pending.delete(clientMsgId);
    changed();
  }

  function retry(clientMsgId) {
    const p = pending.get(clientMsgId);
    if (!p) return;
    p.status = "pending";
    p.error = null;
    transmit(p);
    changed();
  }

  /** Tells the server what this operator has seen of the conversation on screen. Call before rendering. */
  function markRead() {
    if (current === null || !visible()) return;
    const t = thread(current);
    t.seen = Math.max(t.seen, t.contiguous);
    if (t.contiguous > t.readSent && send({ type: "read", conversation_id: current, seq: t.contiguous })) {
      t.readSent = t.contiguous;
    }
  }

  function unread(c) {
    const t = threads.get(c.conversation_id);
    return Math.max(0, (c.last_seq || 0) - Math.max(t ? t.seen : 0, c.operator_read_seq || 0));
  }

  function isMine(m) {
    return m.sender === "operator" && (ownIds.has(m.client_msg_id) || m.sender_name === me);
  }

  /** The messages of a conversation in order, then its unacknowledged sends (seq null). */
  function messagesOf(id) {
    if (id === null) return [];
    const t = thread(id);
    // No read receipts from this guest's client: nothing of ours ever shows as read.
    const receipts = capabilitiesOf(conversations.get(id)).read_receipts;
    const list = Array.from(t.messages.values()).sort(function (a, b) { return a.seq - b.seq; }).map(function (m) {
      const mine = isMine(m);
      const status = !mine ? "received" : receipts && m.kind !== "note" && m.seq <= t.guestRead ? "read" : "sent";
      return { seq: m.seq, client_msg_id: m.client_msg_id || null, body: m.body, kind: m.kind, sender: m.sender,
        sender_name: m.sender_name, created_ms: m.created_ms, mine: mine, status: status, error: null };
    });
    pending.forEach(function (p) {
      if (p.conversation_id !== id) return;
      list.push({ seq: null, client_msg_id: p.client_msg_id, body: p.body, kind: p.kind, sender: "operator",
        sender_name: me, created_ms: p.created_ms, mine: true, status: p.status, error: p.error });
    });
    return list;
  }

  function list() {
    return Array.from(conversations.values()).map(function (c) {
      return Object.assign({}, c, { unread: unread(c), mine: c.operator === me });
    });
  }

  /** Who is typing in the conversation now, or null; never the guest when their client sends no typing. */
  function typingOf(id) {
    const t = threads.get(id);
    if (!t || !t.typing || Date.now() - t.typing.at >= TYPING_SHOWN_MS) return null;
    return t.typing.who === "guest" && !capabilitiesOf(conversations.get(id)).typing ? null : t.typing;
  }

  function state() {
    return {
      conversations: list(),
      current: current,
      invited: Array.from(invitedChats.keys()),
      messages: messagesOf(current).map(function (m) {
        return { seq: m.seq, body: m.body, status: m.status, kind: m.kind, sender: m.sender, client_msg_id: m.client_msg_id };
      }),
    };
  }

  return {
    handle: handle, connected: connected, select: select, post: post, retry: retry, markRead: markRead,
    attach: attach, uploaded: uploaded, uploadFailed: uploadFailed, discard: discard,
    messagesOf: messagesOf, list: list, typingOf: typingOf, state: state,
    invited: function (id) { return invitedChats.get(id) || null; },
    get current() { return current; },
    conversation: function (id) { return conversations.get(id) || null; },
    accept: function (id) { send({ type: "accept", conversation_id: id }); },
    typing: function (on, id) { send({ type: "typing", conversation_id: id, state: on }); },
    close: function (id) { send({ type: "close_conversation", conversation_id: id }); },
    transfer: function (id, handle) { send({ type: "transfer", conversation_id: id, operator_handle: handle }); },
    /** Asks the server to email the transcript to the guest (→ `notice` or `error`); false when it has no
     * email address or the socket is down. */
    emailTranscript: function (id) {
      if (!guestEmail(conversations.get(id))) return false;
      return send({ type: "email_transcript", conversation_id: id });
    },
  };
}

const root = typeof document === "undefined" ? null : document.querySelector("[data-chats]");
if (root) chatWorkspace(root);

function parseList(text) {
  try {
    const value = JSON.parse(text || "[]");
    return Array.isArray(value) ? value : [];
  } catch (e) {
    return [];
  }
}

function chatWorkspace(root) {
  const el = function (id) { return document.getElementById(id); };
  const sites = parseList(root.dataset.sites);
  const siteNames = new Map(sites.map(function (s) { return [s.id, s.name]; }));
  const canned = new Map(parseList(root.dataset.canned).map(function (c) {
    return [String(c.shortcut).replace(/^\//, ""), String(c.body)];
  }));
  const status = el("chat-status");
  const log = el("messages");
  const composer = el("composer");
  const body = composer.elements.body;
  const noteBox = composer.elements.note;
  const sound = el("enable-sound");
  const transferDialog = el("transfer-dialog");
  const transferForm = el("transfer-form");
  // The file picker: a label styled as a button for a visually hidden (still focusable) file input.
  const attachButton = el("attach-file");
  const attachTitle = attachButton.title;
  const fileInput = el("attach-input");
  const attachChosen = el("attach-chosen");
  // Made here, since the page shell predates them: the reply note above the composer, the transcript
  // button among the conversation's actions, and the line for the server's notices.
  const replyNoteLine = make("p", "reply-note", "reply-note");
  composer.before(replyNoteLine);
  const transcriptButton = make("button", "email-transcript", "email-transcript", "Email transcript");
  transcriptButton.type = "button";
  el("close-chat").before(transcriptButton);
  const noticeLine = make("p", "conv-notice", "conv-notice");
  noticeLine.setAttribute("role", "status");
  el("conv-head").after(noticeLine);
  let noticeTimer = null;
  let availability = null; // the header's availability control, once console.js is loaded
  const logoutCsrf = document.querySelector("form.logout input[name=csrf]");
  const csrf = root.dataset.csrf || (logoutCsrf ? logoutCsrf.value : "");
  const thumbs = new Map(); // attachment_id -> its thumbnail link, reused across renders
  const baseTitle = document.title;
  let ws = null;
  let backoff = 1000;
  let renderQueued = false;
  let shownId = null; // the conversation the log shows, to jump to its end when it changes
  let alertsOn = false;
  let audio = null;
  let typingFor = null; // the conversation our "typing: true" went to
  let typingSentAt = 0;
  let typingIdle = null;

  const core = createChatCore({
    me: root.dataset.operatorName || "",
    sites: sites,
    send: sendMessage,
    visible: function () { return document.visibilityState === "visible"; },
    changed: scheduleRender,
    alert: ring,
    problem: function (text) { setStatus(text, true); },
    upload: upload,
    notice: showNotice,
  });
  // For browser tests: the chat state, and the call area's (the call module's view: state, call, …).
  window.__beckonChats = { state: core.state, call: function () { return callDesk ? callDesk.view() : null; } };

  // Calls: the call module (window.BeckonCall, loaded by the page before this script) holds the WebRTC
  // side and draws the call area into #call-dock; this tab routes the socket's call events to it.
  const callTab = tabId();
  const callApi = window.BeckonCall || null;
  const callsOk = !!callApi && callApi.supported();
  let lastCallSent = 0;
  let ringingCall = null; // the call_id ringing for us, so it rings and notifies once
  let ringTimer = null;
  const callDesk = callApi ? callApi.desk({
    role: "operator",
    tab: callTab,
    send: function (message) { lastCallSent = Date.now(); return sendMessage(message); },
    changed: callsChanged,
  }) : null;
  const callBar = callDesk ? callApi.bar(callDesk, { into: el("call-dock"), texts: CALL_TEXTS, name: callPeer }) : null;
  [["beckon-call-voice", "audio"], ["beckon-call-video", "video"]].forEach(function (b) {
    el(b[0]).addEventListener("click", function () { if (callDesk && core.current !== null) callDesk.start(core.current, b[1]); });
  });

  function sendMessage(message) {
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(message));
    return true;
  }

  /** This tab's id for call pinning, kept in sessionStorage for the tab's life (reloads included). */
  function tabId() {
    let id = null;
    try { id = sessionStorage.getItem("beckon:console-tab"); } catch (e) { id = null; }
    if (!id) {
      id = newClientMsgId();
      try { sessionStorage.setItem("beckon:console-tab", id); } catch (e) { /* kept for this page only */ }
    }
    return id;
  }

  /** The guest on the other end of a call. */
  function callPeer(call) {
    const c = call ? core.conversation(call.conversation_id) : null;
    return c ? guestName(c) : call && call.caller === "guest" ? call.caller_name : "the guest";
  }

  /** A `call` or `call_signal` event. Without the call module, a call pinned to this tab (the page was
   * reloaded during it) is hung up, as the module would. */
  function handleCall(message) {
    if (callDesk) { callDesk.handle(message); return; }
    if (message.type === "call" && message.state !== "ended" && message.operator_tab === callTab) {
      sendMessage({ type: "call", action: "hangup", call_id: message.call_id, tab: callTab });
    }
  }

  /** After any change of a call: the call area, the start buttons and list marks, and a ring (sound and
   * a notification) while a guest calls. */
  function callsChanged() {
    callBar.render();
    scheduleRender();
    const v = callDesk.view();
    const id = v.state === "incoming" ? v.call.call_id : null;
    if (id !== null && id !== ringingCall) {
      ringingCall = id;
      clearInterval(ringTimer);
      beep();
      ringTimer = setInterval(beep, 2000);
      notifyCall(v.call);
    } else if (id === null && ringingCall !== null) {
      ringingCall = null;
      clearInterval(ringTimer);
    }
  }

  function notifyCall(call) {
    if (!alertsOn || !("Notification" in window) || Notification.permission !== "granted") return;
    try {
      const n = new Notification("Incoming " + (call.media === "video" ? "video" : "voice") + " call", {
        body: callPeer(call) + " is calling you", tag: "beckon-call-" + call.call_id,
      });
      n.onclick = function () { window.focus(); choose(call.conversation_id); n.close(); };
    } catch (e) { /* the beep stays */ }
  }

  function make(tag, className, id, text) {
    const node = document.createElement(tag);
    node.className = className;
    node.id = id;
    node.hidden = true;
    if (text) { node.textContent = text; node.hidden = false; }
    return node;
  }

  /** A server notice (e.g. "Transcript queued for …"), shown as text for a few seconds. */
  function showNotice(m) {
    noticeLine.textContent = String(m.message || "");
    noticeLine.hidden = noticeLine.textContent === "";
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(function () { noticeLine.hidden = true; noticeLine.textContent = ""; }, 6000);
  }

  /** console.js, served next to this file, owns the header's availability control; load it for this socket. */
  function loadAvailability() {
    const url = consoleScriptUrl(import.meta.url);
    if (url === null) return Promise.resolve();
    return import(url).then(function (module) {
      availability = module.availabilityControl(function (message) {
        if (!ws || ws.readyState !== WebSocket.OPEN) return false;
        ws.send(JSON.stringify(message));
        return true;
      });
    }).catch(function () { availability = null; });
  }

  /** Sends a pending attachment's file over HTTP; the answer goes back to the core. */
  function upload(p) {
    const file = p.file;
    fetch("/api/v1/conversations/" + encodeURIComponent(p.conversation_id) + "/attachments", {
      method: "POST",
      body: file,
      headers: {
        "Content-Type": file.type || "application/octet-stream",
        "X-Filename": encodeURIComponent(file.name),
        "X-Client-Msg-Id": p.client_msg_id,
        "X-CSRF-Token": csrf,
      },
      credentials: "same-origin",
    }).then(function (res) {
      return res.text().then(function (text) {
        let json = null;
        try { json = JSON.parse(text); } catch (e) { json = null; }
        if (res.ok) core.uploaded(p.client_msg_id, json);
        else core.uploadFailed(p.client_msg_id, uploadErrorText(res.status, json));
      });
    }).catch(function () {
      core.uploadFailed(p.client_msg_id, "Upload failed: the connection was lost");
    });
  }

  function attachFiles(files) {
    if (core.current === null || fileInput.disabled) return;
    Array.from(files || []).forEach(function (file) { core.attach(file); });
  }

  function setStatus(text, isProblem) {
    status.textContent = text;
    status.classList.toggle("problem", !!isProblem);
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    ws = new WebSocket(scheme + location.host + "/ws/console");
    ws.onopen = function () {
      backoff = 1000;
      setStatus("Live", false);
      core.connected();
    };
    ws.onmessage = function (event) {
      let message;
      try { message = JSON.parse(event.data); } catch (e) { return; }
      if (!message || typeof message.type !== "string") return;
      if (message.type === "availability") { if (availability) availability.handle(message); return; }
      if (message.type === "call" || message.type === "call_signal") { handleCall(message); return; }
      if (isCallError(message, lastCallSent, Date.now())) { if (callDesk) callDesk.handle(message); return; }
      core.handle(message);
    };
    ws.onclose = function (event) {
      // 4401: the session ended (signed out, expired, deactivated); reconnecting cannot help.
      if (event.code === 4401) { location.assign("/login"); return; }
      ws = null;
      typingFor = null;
      setStatus("Reconnecting…", false);
      // 1001: this node is going away and another takes over at once; otherwise back off.
      setTimeout(connect, (event.code === 1001 ? 250 : backoff) + Math.random() * 250);
      backoff = Math.min(backoff * 2, 30000);
    };
  }

  function guestName(c) {
    return (c && c.guest && (c.guest.name || c.guest.guest_id)) || "Guest";
  }

  function scheduleRender() {
    if (renderQueued) return;
    renderQueued = true;
    queueMicrotask(render);
  }

  function render() {
    renderQueued = false;
    core.markRead();
    const all = core.list();
    // Live chats only: what came in while nobody was there waits in the inbox instead.
    const live = all.filter(function (c) { return !isInbox(c); });
    renderList(el("queue"), el("queue-empty"), el("queue-count"), live.filter(function (c) { return c.status === "waiting"; }));
    renderList(el("open-chats"), el("open-empty"), el("open-count"), live.filter(function (c) { return c.status === "open"; })
      .sort(function (a, b) { return Number(b.mine) - Number(a.mine); }));
    renderList(el("inbox"), el("inbox-empty"), el("inbox-count"), inboxOf(all));
    renderConversation();
    const unread = all.reduce(function (n, c) { return c.status === "closed" ? n : n + c.unread; }, 0);
    document.title = (unread > 0 ? "(" + unread + ") " : "") + baseTitle;
  }

  function button(text, className, focusKey, onClick) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = className;
    b.dataset.focusKey = focusKey;
    b.textContent = text;
    b.addEventListener("click", onClick);
    return b;
  }

  function renderList(list, empty, count, items) {
    // Lists are rebuilt on every change; keep keyboard focus on the same button.
    const focusKey = list.contains(document.activeElement) ? document.activeElement.dataset.focusKey : null;
    list.replaceChildren.apply(list, items.map(function (c) {
      const id = c.conversation_id;
      const li = document.createElement("li");
      li.className = "conv-item" + (c.mine ? " mine" : "") + (id === core.current ? " current" : "");
      li.dataset.conversationId = id;
      const pick = button("", "conv-pick", "pick:" + id, function () { choose(id); });
      const name = document.createElement("strong");
      name.textContent = guestName(c);
      const who = document.createElement("small");
      who.className = "conv-who";
      who.textContent = c.status === "waiting" ? (isInbox(c) ? "new" : "waiting") : c.mine ? "yours" : c.operator || "unassigned";
      pick.append(name, " ", who);
      const mark = channelMark(c);
      if (mark) {
        const badge = document.createElement("span");
        badge.className = "channel-mark";
        badge.textContent = mark;
        pick.append(" ", badge);
        if (c.created_ms) {
          const when = document.createElement("small");
          when.className = "conv-when";
          when.textContent = new Date(c.created_ms).toLocaleString([], { dateStyle: "short", timeStyle: "short" });
          pick.append(" ", when);
        }
      }
      const call = callDesk ? callDesk.callOf(id) : null;
      if (call) {
        const mark = document.createElement("small");
        mark.className = "conv-call";
        mark.textContent = call.state === "active" ? "in a call" : "calling…";
        pick.append(" ", mark);
      }
      if (core.invited(id) !== null) {
        const invited = document.createElement("small");
        invited.className = "conv-invited";
        invited.textContent = "accepted your invitation";
        pick.append(" ", invited);
      }
      if (sites.length > 1) {
        const site = document.createElement("small");
        site.className = "conv-site";
        site.textContent = siteNames.get(c.site_id) || "";
        pick.append(" ", site);
      }
      if (c.unread > 0) {
        const badge = document.createElement("span");
        badge.className = "unread";
        badge.title = c.unread + " unread";
        badge.textContent = String(c.unread);
        pick.append(badge);
      }
      li.append(pick);
      if (c.status === "waiting") {
        li.append(button("Accept", "accept", "accept:" + id, function () { core.accept(id); choose(id); }));
      }
      return li;
    }));
    empty.hidden = items.length > 0;
    count.textContent = items.length > 0 ? "(" + items.length + ")" : "";
    if (focusKey) {
      const again = Array.from(list.querySelectorAll("button")).find(function (b) { return b.dataset.focusKey === focusKey; });
      if (again) again.focus();
    }
  }

  function stateText(c) {
    if (c.status === "waiting") return "Waiting for an operator";
    if (c.status === "closed") return "Closed";
    return "Open · " + (c.operator === root.dataset.operatorName ? "with you" : c.operator ? "with " + c.operator : "unassigned");
  }

  function renderConversation() {
    const id = core.current;
    const c = id === null ? null : core.conversation(id);
    el("no-conversation").hidden = id !== null;
    el("conv-head").hidden = id === null;
    composer.hidden = id === null;
    if (id === null) replyNoteLine.hidden = true;
    el("conversation").toggleAttribute("data-empty", id === null);
    if (id === null) return;
    el("conv-guest").textContent = c ? guestName(c) : "Loading…";
    el("conv-guest-id").textContent = c && c.guest ? c.guest.guest_id : "";
    el("conv-state").textContent = c ? stateText(c) : "";
    el("accept-chat").hidden = !c || c.status !== "waiting";
    // Start a call: my open chat, a guest who can take calls, no call going on in this tab or this chat.
    const state = callDesk ? callDesk.view().state : "idle";
    const noCall = (state === "idle" || state === "ended" || state === "incoming" || state === "elsewhere") && !(callDesk && callDesk.callOf(id));
    const callable = callsOk && canCall(c, root.dataset.operatorName || "") && noCall;
    el("beckon-call-voice").hidden = !callable;
    el("beckon-call-video").hidden = !callable;
    const mark = channelMark(c);
    el("conv-channel").textContent = mark;
    el("conv-channel").hidden = mark === "";
    const closed = !!c && c.status === "closed";
    const caps = capabilitiesOf(c);
    el("close-chat").disabled = closed;
    el("transfer-chat").disabled = closed;
    body.disabled = closed;
    const noFiles = closed || !caps.files;
    fileInput.disabled = noFiles;
    attachButton.classList.toggle("disabled", noFiles);
    attachButton.setAttribute("aria-disabled", String(noFiles));
    attachButton.title = caps.files ? attachTitle : NO_FILES_TEXT;
    if (id !== shownId) attachChosen.textContent = "";
    const email = guestEmail(c);
    transcriptButton.disabled = email === "";
    transcriptButton.title = email ? "Send the transcript of this conversation to " + email : "This guest left no email address";
    const note = replyNote(c);
    replyNoteLine.textContent = note;
    replyNoteLine.hidden = note === "";
    composer.querySelector("button[type=submit]").disabled = closed;
    renderMessages(id, c);
    const typing = core.typingOf(id);
    el("typing").textContent = !typing ? ""
      : typing.who === "guest" ? (typing.preview ? "Guest is typing: “" + typing.preview + "”" : "Guest is typing…")
      : (typing.name || "An operator") + " is typing…";
  }

  function clock(ms) {
    return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function renderMessages(id, c) {
    const stick = shownId !== id || log.scrollHeight - log.scrollTop - log.clientHeight < 48;
    const messages = core.messagesOf(id);
    let lastMine = -1;
    messages.forEach(function (m, i) { if (m.mine && m.kind !== "note" && m.seq !== null) lastMine = i; });
    log.replaceChildren.apply(log, messages.map(function (m, i) {
      const li = document.createElement("li");
      li.className = "msg from-" + m.sender + (m.kind === "note" ? " note" : "") + (m.mine ? " mine" : "");
      li.dataset.status = m.status;
      if (m.seq !== null) li.dataset.seq = String(m.seq);
      const meta = document.createElement("div");
      meta.className = "msg-meta";
      const who = m.sender === "guest" ? m.sender_name || guestName(c) : m.mine ? "You" : m.sender_name || "System";
      meta.textContent = (m.kind === "note" ? "Internal note · " : "") + who + (m.created_ms ? " · " + clock(m.created_ms) : "");
      const text = document.createElement("div");
      text.className = "msg-body";
      if (m.kind === "attachment") {
        li.classList.add("attachment");
        renderAttachment(text, m.body);
      } else {
        text.textContent = m.body;
      }
      li.append(meta, text);
      const label = document.createElement("small");
      label.className = "msg-status";
      if (m.status === "pending") label.textContent = m.kind === "attachment" ? "Uploading…" : "Sending…";
      else if (m.status === "failed") {
        label.textContent = "Not sent: " + (m.error || "error") + " ";
        label.append(button("Retry", "retry", "retry:" + m.client_msg_id, function () { core.retry(m.client_msg_id); }), " ",
          button("Dismiss", "retry", "dismiss:" + m.client_msg_id, function () { core.discard(m.client_msg_id); }));
      } else if (i === lastMine) label.textContent = m.status === "read" ? "Read" : "Sent";
      if (label.childNodes.length > 0) li.append(label);
      return li;
    }));
    if (stick) log.scrollTop = log.scrollHeight;
    shownId = id;
  }

  /** An attachment message's body: a download link (and a thumbnail for images), or the raw text. */
  function renderAttachment(into, raw) {
    const a = parseAttachment(raw);
    if (!a) { into.textContent = raw; return; }
    const size = humanSize(a.size);
    if (a.attachment_id === null) {
      const pendingName = document.createElement("span");
      pendingName.className = "attachment-name";
      pendingName.textContent = a.name + (size ? " (" + size + ")" : "");
      into.append(icon("paperclip"), " ", pendingName);
      return;
    }
    const url = attachmentUrl(a.attachment_id);
    if (/^image\//i.test(a.content_type)) {
      // The log is rebuilt on every change: reuse the thumbnail so it is not fetched and laid out again.
      let thumbLink = thumbs.get(a.attachment_id);
      if (!thumbLink) {
        thumbLink = document.createElement("a");
        thumbLink.className = "attachment-thumb";
        thumbLink.href = url;
        thumbLink.setAttribute("download", "");
        const img = document.createElement("img");
        img.loading = "lazy";
        img.alt = a.name;
        img.src = url;
        thumbLink.append(img);
        thumbs.set(a.attachment_id, thumbLink);
      }
      into.append(thumbLink);
    }
    const link = document.createElement("a");
    link.className = "attachment-link";
    link.href = url;
    link.setAttribute("download", "");
    const linkName = document.createElement("span");
    linkName.className = "attachment-name";
    linkName.textContent = a.name;
    link.append(icon("paperclip"), linkName);
    into.append(link);
    if (size) {
      const small = document.createElement("small");
      small.className = "attachment-size";
      small.textContent = " " + size;
      into.append(small);
    }
  }

  function choose(id) {
    stopTyping();
    core.select(id);
    history.replaceState(null, "", "#" + encodeURIComponent(id));
    if (!body.disabled) body.focus();
  }

  function stopTyping() {
    clearTimeout(typingIdle);
    typingIdle = null;
    if (typingFor !== null) core.typing(false, typingFor);
    typingFor = null;
  }

  body.addEventListener("input", function () {
    // A note is never shown to the guest, so writing one is not "typing" for them.
    if (core.current === null || noteBox.checked || body.value === "") { stopTyping(); return; }
    const now = Date.now();
    if (typingFor !== core.current || now - typingSentAt >= 2000) {
      if (typingFor !== null && typingFor !== core.current) stopTyping();
      core.typing(true, core.current);
      typingFor = core.current;
      typingSentAt = now;
    }
    clearTimeout(typingIdle);
    typingIdle = setTimeout(stopTyping, 3000);
  });
  noteBox.addEventListener("change", function () { if (noteBox.checked) stopTyping(); });

  body.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      composer.requestSubmit();
    } else if (event.key === "Tab" && !event.shiftKey && expandCanned()) {
      event.preventDefault();
    }
  });

  /** "/shortcut" at the start of the composer becomes the canned body; false when there is none. */
  function expandCanned() {
    const match = /^\/(\S+)/.exec(body.value);
    if (!match || !canned.has(match[1])) return false;
    const text = canned.get(match[1]);
    body.value = text + body.value.slice(match[0].length);
    body.setSelectionRange(text.length, text.length);
    return true;
  }

  composer.addEventListener("submit", function (event) {
    event.preventDefault();
    const text = body.value.trim();
    if (text === "" || core.current === null) return;
    stopTyping();
    core.post(text, noteBox.checked);
    body.value = "";
  });

  fileInput.addEventListener("change", function () {
    const names = Array.from(fileInput.files || []).map(function (f) { return f.name; });
    attachChosen.textContent = names.join(", ");
    attachFiles(fileInput.files);
    fileInput.value = ""; // the same file may be picked again
  });
  // Files dropped on the conversation or pasted into the composer upload the same way.
  const pane = el("conversation");
  pane.addEventListener("dragover", function (event) {
    if (core.current === null || !event.dataTransfer || !Array.from(event.dataTransfer.types).includes("Files")) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
  });
  pane.addEventListener("drop", function (event) {
    if (!event.dataTransfer || event.dataTransfer.files.length === 0) return;
    event.preventDefault();
    attachFiles(event.dataTransfer.files);
  });
  body.addEventListener("paste", function (event) {
    const files = event.clipboardData ? event.clipboardData.files : null;
    if (!files || files.length === 0) return;
    event.preventDefault();
    attachFiles(files);
  });

  el("accept-chat").addEventListener("click", function () { if (core.current !== null) core.accept(core.current); });
  transcriptButton.addEventListener("click", function () {
    if (core.current !== null && !core.emailTranscript(core.current)) setStatus("The transcript could not be requested", true);
  });
  el("close-chat").addEventListener("click", function () { if (core.current !== null) core.close(core.current); });
  el("transfer-chat").addEventListener("click", function () {
    transferForm.reset();
    if (transferDialog.showModal) transferDialog.showModal();
  });
  transferDialog.addEventListener("close", function () {
    const handle = transferForm.elements.operator_handle.value.trim();
    if (transferDialog.returnValue === "transfer" && handle && core.current !== null) core.transfer(core.current, handle);
  });

  // Audio and Notification.requestPermission need a user gesture: nothing rings before this click.
  sound.addEventListener("click", function () {
    const Context = window.AudioContext || window.webkitAudioContext;
    try { if (Context) { audio = audio || new Context(); audio.resume(); } } catch (e) { audio = null; }
    alertsOn = true;
    const done = function () {
      const granted = "Notification" in window && Notification.permission === "granted";
      sound.textContent = granted ? "Sound & notifications on" : "Sound on (notifications not allowed)";
      sound.disabled = true;
    };
    if ("Notification" in window && Notification.permission === "default") Notification.requestPermission().then(done, done);
    else done();
    beep();
  });

  function beep() {
    if (!audio) return;
    const at = audio.currentTime;
    const tone = audio.createOscillator();
    const gain = audio.createGain();
    tone.frequency.value = 880;
    gain.gain.setValueAtTime(0.0001, at);
    gain.gain.exponentialRampToValueAtTime(0.2, at + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.25);
    tone.connect(gain).connect(audio.destination);
    tone.start(at);
    tone.stop(at + 0.3);
  }

  function ring(kind, c, message) {
    if (!alertsOn) return;
    beep();
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    const id = c ? c.conversation_id : message.conversation_id;
    const site = c && sites.length > 1 ? siteNames.get(c.site_id) : "";
    const title = kind === "waiting" ? "New chat waiting" : kind === "invitation" ? "Invitation accepted" : "Message from " + guestName(c);
    const file = kind === "message" && message.kind === "attachment" ? parseAttachment(message.body) : null;
    const text = kind === "waiting" ? guestName(c) + (site ? " on " + site : "")
      : kind === "invitation" ? String(message.guest || guestName(c)) + " accepted your invitation"
      : file ? "Sent a file: " + file.name.slice(0, 120) : message.body.slice(0, 140);
    try {
      const n = new Notification(title, { body: text, tag: "beckon-" + kind + "-" + id });
      n.onclick = function () { window.focus(); choose(id); n.close(); };
    } catch (e) { /* some browsers only allow notifications from a service worker: the beep stays */ }
  }

  document.addEventListener("visibilitychange", scheduleRender);
  window.addEventListener("focus", scheduleRender);
  setInterval(function () { if (el("typing").textContent !== "") scheduleRender(); }, 1000);

  const wanted = location.hash.length > 1 ? decodeURIComponent(location.hash.slice(1)) : null;
  if (wanted) core.select(wanted);
  scheduleRender();
  // Chats work without the availability control: connect anyway should console.js be slow or missing.
  Promise.race([loadAvailability(), new Promise(function (resolve) { setTimeout(resolve, 3000); })]).then(connect);
}
