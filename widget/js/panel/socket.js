// The guest and the visitor socket (docs/protocol.md, "Visitor socket" and "Chat (version 1)").
//
// The socket is on this page's own origin (CSP connect-src 'self'), reconnected like the loader's: 1 s
// doubling to 30 s, jittered; soon after 1001; slowly after 1008; a new guest after 4401. Each (re)connect
// ends in `hello`, where `sync` resumes the conversation after conv.seq and re-sends every unacknowledged
// message with its original client_msg_id (the server stores each client_msg_id once).
var guest = null, fromParent = false, socket = null, online = false, backoff = 1000;

// `start_chat` sent, `conversation` not yet back; `resume` sent, last `history` page not yet back.
var starting = false, awaiting = false;

function socketUrl() {
  return (
    (location.protocol == "https:" ? "wss://" : "ws://") +
    location.host +
    "/ws/visitor?k=" +
    encodeURIComponent(KEY) +
    "&t=" +
    encodeURIComponent(guest.t) +
    (CFG.handle ? "&h=" + encodeURIComponent(CFG.handle) : "")
  );
}

// Sends a protocol message; answers whether it went out (false while disconnected).
function send(message) {
  try {
    if (socket && socket.readyState == 1) {
      socket.send(JSON.stringify(message));
      return true;
    }
  } catch (e) {}
  return false;
}

// Runs `run` again after `delay` ms, or after the current backoff (then doubled) when no delay is given.
function retry(delay) {
  if (delay == null) {
    delay = backoff * (0.5 + Math.random() / 2);
    backoff = Math.min(backoff * 2, 30000);
  }
  later("connect", run, delay);
}

// Connects, first obtaining a guest of our own when there is none (and none came from the loader).
function run() {
  if (socket) return;
  if (guest) return connect();
  obtainGuest().then(
    guard(function (found) {
      if (guest) return;
      useGuest(found, false);
      connect();
    }),
    guard(function () {
      if (!guest) retry();
    })
  );
}

// Asks the server for a guest, presenting the stored token (same storage key and shape as the loader's).
function obtainGuest() {
  var known = load(GUEST_KEY);
  return W.fetch("/api/v1/visitors", {
    method: "POST",
    headers: { "Content-Type": "text/plain" },
    body: JSON.stringify({ site_key: KEY, token: (known && known.t) || null })
  })
    .then(function (res) {
      if (!res.ok) throw res.status;
      return res.json();
    })
    .then(function (body) {
      return { g: body.guest_id, t: body.token };
    });
}

function useGuest(value, handedByParent) {
  guest = value;
  fromParent = handedByParent;
  save(GUEST_KEY, value);
  loadThumbs();
}

function connect() {
  cancel("connect");
  var ws;
  try {
    ws = socket = new WebSocket(socketUrl());
  } catch (e) {
    socket = null;
    return retry();
  }
  ws.onmessage = guard(function (event) {
    if (socket == ws) receive(JSON.parse(event.data));
  });
  ws.onclose = guard(function (event) {
    if (socket != ws) return;
    disconnected();
    var code = event.code;
    if (code == 4401) return refused();
    if (code == 1001) return retry(Math.random() * 1000);
    if (code == 1008) backoff = 30000;
    retry();
  });
}

// Closes the current socket on purpose (its close event is then ignored).
function hangUp() {
  var ws = socket;
  disconnected();
  if (ws) {
    try {
      ws.close();
    } catch (e) {}
  }
}

function disconnected() {
  socket = null;
  online = starting = awaiting = false;
  cancel("page");
  showStatus();
}

// The server no longer knows our guest. One handed over by the loader is the loader's to replace: tell
// it, and wait a moment for the new one before getting one ourselves.
function refused() {
  guest = null;
  save(GUEST_KEY, null);
  if (fromParent) {
    fromParent = false;
    post({ type: "beckon:expired" });
    later("connect", run, 3000);
  } else retry();
}

// The loader's guest (`beckon:init`): use it, reconnecting when it is not the one in use.
function adoptParentGuest(data) {
  if (typeof data.token != "string" || !data.token) return;
  if (guest && guest.t == data.token) {
    fromParent = true;
    return;
  }
  useGuest({ g: data.guest_id, t: data.token }, true);
  hangUp();
  backoff = 1000;
  connect();
}

var HANDLERS = {
  hello: function () {
    backoff = 1000;
    online = true;
    sync();
    showStatus();
  },
  conversation: onConversation,
  ack: onAck,
  message: onMessage,
  history: onHistory,
  resync: onResync,
  typing: function (event) {
    if (event.conversation_id == conv.id && event.who == "operator") showTyping(!!event.state, event.name);
  },
  read: onRead,
  site_status: onSiteStatus,
  call: onCall,
  call_signal: onCall,
  error: onError
};

function receive(event) {
  if (event && Object.prototype.hasOwnProperty.call(HANDLERS, event.type)) HANDLERS[event.type](event);
}

// After (re)connecting: catch up on the conversation and re-send what was not acknowledged.
function sync() {
  if (conv.id) {
    resume();
    flush();
  } else if (hasPending()) startChat();
  markRead();
}

function resume() {
  if (conv.id) awaiting = send({ type: "resume", conversation_id: conv.id, after_seq: conv.seq, capabilities: CAPS });
}

function flush() {
  messages.forEach(function (m) {
    if (m.status == "pending") transmit(m);
  });
}

// Sends a message, or uploads an attachment (over HTTP, never twice at once, whatever the socket does).
function transmit(m) {
  if (m.kind == "attachment") upload(m);
  else send({ type: "send", conversation_id: conv.id, client_msg_id: m.client_msg_id, body: m.body });
}

function startChat() {
  if (starting || conv.id) return;
  var request = { type: "start_chat", capabilities: CAPS };
  if (conv.name) request.name = conv.name;
  if (CFG.handle) request.handle = CFG.handle;
  starting = send(request);
}

function onConversation(event) {
  var id = event.conversation_id, status = event.status;
  if (!id) return;
  if (conv.id && id != conv.id) {
    // Another conversation of this guest (a new chat from another tab, an accepted invitation): follow
    // it only once ours has ended.
    if (conv.status != "closed" || status == "closed") return;
    clearConversation();
  }
  if (!conv.id && status == "closed" && !starting) return;
  var fresh = !conv.id;
  conv.id = String(id);
  conv.status = status;
  conv.operator = event.operator || null;
  starting = false;
  if (event.operator_read_seq > operatorRead) operatorRead = +event.operator_read_seq;
  if (event.guest_read_seq > conv.read) conv.read = +event.guest_read_seq;
  if (fresh) {
    // Maybe already holding messages (opened in another tab): fetch them, then send what waited.
    resume();
    flush();
  } else if (event.last_seq > conv.seq && !awaiting) resume();
  settle();
  showStatus();
  tellConversation();
}

function onAck(event) {
  var m = find(0, event.client_msg_id);
  if (!m || event.conversation_id != conv.id || !(event.seq > 0)) return;
  if (m.seq != event.seq) {
    m.seq = +event.seq;
    place(m);
  }
  if (m.status != "read") m.status = "sent";
  render(m);
  settle();
}

function onMessage(event) {
  if (event.conversation_id != conv.id) return;
  // A gap (something was lost on the way): fetch the missing part; duplicates are merged away.
  if (event.seq > conv.seq + 1 && !awaiting) resume();
  var m = merge(event);
  if (m && m.sender == "operator") {
    showTyping(false);
    if (!visible()) beep();
  }
  settle();
}

// A page of missed messages. The server sends further pages by itself; should the next not come within
// a second, ask for it (resume after what we now hold), which is harmless if it was merely slow.
function onHistory(event) {
  if (event.conversation_id != conv.id) return;
  (event.messages || []).forEach(merge);
  awaiting = !!event.more;
  if (event.more) later("page", resume, 1000);
  else cancel("page");
  settle();
}

// The server has fewer messages than we thought: drop our copy and take its version from the start.
// Unsent messages stay and are re-sent.
function onResync(event) {
  if (event.conversation_id != conv.id) return;
  drop(function (m) {
    return m.seq > 0;
  });
  conv.seq = 0;
  cancel("page");
  resume();
  flush();
  settle();
}

function onRead(event) {
  if (event.conversation_id != conv.id || !(event.seq > 0)) return;
  if (event.who == "operator") operatorRead = Math.max(operatorRead, +event.seq);
  else conv.read = Math.max(conv.read, +event.seq);
  settle();
}

function onError(event) {
  if (callError(event)) return;
  var m = event.client_msg_id ? find(0, event.client_msg_id) : null, code = event.code;
  if (code == "closed") {
    conv.status = "closed";
    if (m) fail(m);
    persist();
    showStatus();
    tellConversation();
  } else if (code == "not_found") {
    if (conv.id) {
      // Not (or no longer) this guest's conversation, e.g. after a new guest: start afresh with what
      // was not sent yet.
      clearConversation();
      tellConversation();
      showStatus();
      if (hasPending()) startChat();
    } else {
      starting = false;
      failPending();
    }
  } else if (code == "rate_limited" || code == "internal" || code == "unavailable") {
    // Try again later; re-sending is safe, the server stores each client_msg_id once.
    starting = false;
    later("again", sync, 5000);
  } else if (m) fail(m);
  else if (starting) {
    starting = false;
    failPending();
  }
}

function fail(m) {
  m.status = "failed";
  render(m);
  persist();
}

function failPending() {
  messages.forEach(function (m) {
    if (m.status == "pending") fail(m);
  });
  showStatus();
}

// After messages changed: advance conv.seq, update receipts, store, and count/mark what was read.
function settle() {
  advance();
  receipts();
  markRead();
  persist();
}
