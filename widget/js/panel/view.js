// The panel's DOM, built with DOM APIs only: every text, the server's and the visitor's alike, goes in as
// textContent (newlines kept by `white-space: pre-wrap`).
var view = {}, rows = new Map();

// Whether the log is scrolled to (near) its end, so new messages should keep it there.
var pinned = true;

// Creates an element with a class and, optionally, text, appended to `parent`.
function el(tag, className, parent, text) {
  var node = D.createElement(tag);
  node.className = className;
  if (text != null) node.textContent = text;
  if (parent) parent.appendChild(node);
  return node;
}

function button(className, parent, text, onClick) {
  var node = el("button", className, parent, text);
  node.type = "button";
  node.addEventListener("click", guard(onClick));
  return node;
}

function buildView() {
  D.documentElement.lang = LANG;
  var panel = el("div", "panel", D.body);
  var head = el("header", "head", panel), titles = el("div", "titles", head);
  view.title = el("h1", "title", titles, CFG.operator_name || CFG.site_name || "");
  view.status = el("p", "status", titles);
  view.status.setAttribute("role", "status");
  if (EMBED) {
    var close = button("close", head, "×", function () {
      post({ type: "beckon:close" });
    });
    close.setAttribute("aria-label", T.close);
    close.title = T.close;
  }
  var log = (view.log = el("div", "log", panel));
  log.setAttribute("role", "log");
  log.setAttribute("aria-live", "polite");
  log.setAttribute("aria-label", T.log);
  log.addEventListener("scroll", guard(function () {
    pinned = log.scrollHeight - log.scrollTop - log.clientHeight < 80;
  }));
  el("p", "greeting", log, greetingText());
  view.typing = el("p", "typing", panel);
  view.typing.hidden = true;
  buildComposer(panel);
  view.ended = el("div", "ended", panel);
  view.ended.hidden = true;
  el("p", "", view.ended, T.closed);
  button("again", view.ended, T.again, newChat);
}

// Puts a message's row before the row of `next` (or last), creating it the first time.
function mountMessage(m, next) {
  var row = render(m), after = next && rows.get(next);
  view.log.insertBefore(row.node, after ? after.node : null);
  if (pinned || m.sender == "guest") scrollToEnd();
}

// Creates or updates a message's row: sender, body, time and (for the guest's own) delivery status.
function render(m) {
  var row = rows.get(m);
  if (!row) {
    var node = el("div", "");
    row = { node: node };
    if (m.sender == "operator") el("p", "who", node, m.sender_name || fill("{{operator_name}}", conv.operator));
    el("p", "body", node, m.body);
    row.meta = el("p", "meta", node);
    row.meta.addEventListener("click", guard(function () {
      if (m.status == "failed") retryMessage(m);
    }));
    rows.set(m, row);
  }
  row.node.className = "msg msg-" + m.sender + " " + m.status;
  var time = clock(m.created_ms), state = m.sender == "guest" ? T[m.status] || "" : "";
  row.meta.textContent = time && state ? time + " · " + state : time || state;
  return row;
}

function hideMessage(m) {
  var row = rows.get(m);
  if (row) row.node.remove();
  rows.delete(m);
}

function scrollToEnd() {
  view.log.scrollTop = view.log.scrollHeight;
  pinned = true;
}

// "14:05" (or "2:05 PM") as the browser's locale writes it, or "" without a time.
function clock(ms) {
  if (!ms) return "";
  try {
    return new Date(ms).toLocaleTimeString([], { hour: "numeric", minute: "2-digit" });
  } catch (e) {
    return "";
  }
}

// The header's status line, and which of composer / "start a new chat" shows.
function showStatus() {
  var status = conv.status, text = "";
  if (!online && (conv.id || hasPending())) text = T.connecting;
  else if (status == "waiting") text = T.waiting;
  else if (status == "open") text = fill(T.open, conv.operator);
  else if (status == "closed") text = T.closed;
  view.status.textContent = text;
  view.form.hidden = status == "closed";
  view.ended.hidden = status != "closed";
  view.name.hidden = !!(conv.id || messages.length);
  if (status == "closed") showTyping(false);
}

// Shows "NAME is typing…" for at most 6 s unless refreshed; hides it with `on` false.
function showTyping(on, name) {
  cancel("typingShown");
  view.typing.hidden = !on;
  if (!on) return;
  view.typing.textContent = fill(T.typing, name || conv.operator);
  later("typingShown", function () {
    showTyping(false);
  }, 6000);
}
