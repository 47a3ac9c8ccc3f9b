// The panel's DOM, built with DOM APIs only: every text, the server's and the visitor's alike, goes in as
// textContent (newlines kept by `white-space: pre-wrap`). Attachments are fetched with the guest's
// headers and shown through blob: URLs (the CSP's img-src allows them), each fetched once.
var view = {}, rows = new Map(), files = new Map(), thumbs = [];

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

// Inline SVG icons (no emoji: they show as empty boxes without an emoji font), 24×24 outlines drawn in
// the text colour, built with DOM APIs from these fixed path strings only.
var ICONS = {
  clip: ["M21.44 11.05l-9.19 9.19a6 6 0 0 1-8.49-8.49l9.19-9.19a4 4 0 0 1 5.66 5.66l-9.2 9.19a2 2 0 0 1-2.83-2.83l8.49-8.48"],
  close: ["M18 6L6 18", "M6 6l12 12"],
  send: ["M22 2L11 13", "M22 2l-7 20-4-9-9-4 20-7z"],
  // The same shapes as the call module's (js/call/call.js).
  phone: ["M22 16.9v3a2 2 0 0 1-2.2 2 19.8 19.8 0 0 1-8.6-3.1 19.5 19.5 0 0 1-6-6A19.8 19.8 0 0 1 2.1 4.2 2 2 0 0 1 4.1 2h3a2 2 0 0 1 2 1.7c.1 1 .4 1.9.7 2.8a2 2 0 0 1-.5 2.1L8.1 9.9a16 16 0 0 0 6 6l1.3-1.3a2 2 0 0 1 2.1-.4c.9.3 1.8.6 2.8.7a2 2 0 0 1 1.7 2z"],
  video: ["M23 7l-7 5 7 5V7z", "M3 5h11a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H3a2 2 0 0 1-2-2V7a2 2 0 0 1 2-2z"]
};

function icon(name, parent) {
  var NS = "http://www.w3.org/2000/svg", svg = D.createElementNS(NS, "svg");
  svg.setAttribute("class", "icon icon-" + name);
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  ICONS[name].forEach(function (d) {
    var path = D.createElementNS(NS, "path");
    path.setAttribute("d", d);
    svg.appendChild(path);
  });
  if (parent) parent.appendChild(svg);
  return svg;
}

// An operator's avatar: their initials on a colour picked from the name (the same name always gets the
// same colour; Beckon has no avatar images). Decorative: the name is always shown next to it.
function avatar(name, parent) {
  var words = String(name || "").trim().split(/\s+/).filter(Boolean), initials = "", hash = 0, text = String(name || "");
  if (words.length) initials = Array.from(words[0])[0] || "";
  if (words.length > 1) initials += Array.from(words[words.length - 1])[0] || "";
  for (var i = 0; i < text.length; i++) hash = (hash * 31 + text.charCodeAt(i)) | 0;
  var node = el("span", "avatar", parent, initials.toUpperCase() || "?");
  node.setAttribute("aria-hidden", "true");
  // Dark enough for white initials on every hue.
  node.style.backgroundColor = "hsl(" + (Math.abs(hash) % 360) + ", 55%, 38%)";
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
  var head = el("header", "head", panel);
  view.face = el("span", "face", head);
  view.face.hidden = true;
  var titles = el("div", "titles", head);
  view.title = el("h1", "title", titles, CFG.operator_name || CFG.site_name || "");
  view.status = el("p", "status", titles);
  view.status.setAttribute("role", "status");
  buildCallButtons(panel, head);
  if (EMBED) {
    var close = button("close", head, null, function () {
      post({ type: "beckon:close" });
    });
    icon("close", close);
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
  view.greeting = el("p", "greeting", log, greetingText());
  view.typing = el("p", "typing", panel);
  view.typing.hidden = true;
  buildComposer(panel);
  view.ended = el("div", "ended", panel);
  view.ended.hidden = true;
  el("p", "", view.ended, T.closed);
  button("again", view.ended, T.again, newChat);
  buildLeave(panel);
  // On a person's own chat page (/u/HANDLE), that person can sign in right here.
  if (!EMBED && CFG.sign_in_url && CFG.sign_in_url.charAt(0) == "/") {
    var foot = el("p", "sign-in", panel), link = el("a", "", foot, fill(T.signIn, CFG.operator_name || ""));
    link.href = CFG.sign_in_url;
  }
}

// Puts a message's row before the row of `next` (or last), creating it the first time.
function mountMessage(m, next) {
  var row = render(m), after = next && rows.get(next);
  view.log.insertBefore(row.node, after ? after.node : null);
  showGreeting();
  if (pinned || m.sender == "guest") scrollToEnd();
}

// The built-in greeting stands in for the team until someone speaks; when the chat opens with an
// operator's own words (an accepted invitation's text), those greet the guest instead.
function showGreeting() {
  var first = messages[0];
  view.greeting.hidden = !!(first && first.seq == 1 && first.sender == "operator");
}

// Creates or updates a message's row: sender, body, time and (for the guest's own) delivery status; a
// failed upload gets "try again" (unless that cannot help) and "dismiss".
function render(m) {
  var row = rows.get(m), file = m.kind == "attachment";
  if (!row) {
    var node = el("div", "");
    row = { node: node };
    if (m.sender == "operator") {
      // Who wrote it, with their avatar: an accepted invitation's text opens the chat this way.
      var name = m.sender_name || fill("{{operator_name}}", conv.operator), who = el("p", "who", node);
      avatar(name, who);
      el("span", "who-name", who, name);
    }
    row.body = el(file ? "div" : "p", "body", node);
    row.meta = el("p", "meta", node);
    row.meta.addEventListener("click", guard(function () {
      if (m.status == "failed" && m.kind != "attachment") retryMessage(m);
    }));
    if (file && m.sender == "guest") {
      row.actions = el("p", "actions", node);
      row.retry = button("", row.actions, T.retry, function () {
        retryMessage(m);
      });
      button("", row.actions, T.dismiss, function () {
        dismiss(m);
      });
    }
    rows.set(m, row);
  }
  if (row.shown !== m.body) {
    row.shown = m.body;
    if (file) showAttachment(row.body, m.body);
    else row.body.textContent = m.body;
  }
  row.node.className = "msg msg-" + m.sender + " " + m.status + (file ? " attachment" : "");
  var time = clock(m.created_ms), state = "";
  if (m.sender == "guest") {
    state = T[m.status] || "";
    if (file && m.status == "pending") state = T.uploading;
    if (file && m.status == "failed") state = m.error || T.uploadFailed;
  }
  row.meta.textContent = time && state ? time + " · " + state : time || state;
  if (row.actions) {
    row.actions.hidden = m.status != "failed";
    row.retry.hidden = !m.file || !!m.final;
  }
  return row;
}

// An attachment message's body {attachment_id, name, size, content_type}, or null when it is not such
// JSON. Missing or odd fields become null/"" (id null: still uploading).
function attachmentOf(body) {
  var v;
  try {
    v = JSON.parse(body);
  } catch (e) {
    return null;
  }
  if (!v || typeof v != "object" || typeof v.name != "string") return null;
  return {
    id: typeof v.attachment_id == "string" && v.attachment_id ? v.attachment_id : null,
    name: v.name,
    size: typeof v.size == "number" ? v.size : null,
    type: typeof v.content_type == "string" ? v.content_type.toLowerCase() : ""
  };
}

// Fills an attachment's body: a download control with its name and size, and for an image a thumbnail;
// a body that is not an attachment's shows as the text it is.
function showAttachment(box, body) {
  var a = attachmentOf(body);
  box.textContent = a ? "" : body;
  if (!a) return;
  if (a.id && a.type.indexOf("image/") == 0) {
    var img = el("img", "thumb", box);
    img.alt = a.name;
    img.addEventListener("load", guard(function () {
      if (pinned) scrollToEnd();
    }));
    img.addEventListener("click", guard(function () {
      download(a);
    }));
    thumbs.push([img, a.id]);
    loadThumbs();
  }
  var control = a.id
    ? button("file", box, null, function () {
        download(a);
      })
    : el("span", "file", box);
  if (a.id) control.title = T.download;
  // Not "name"/"size": the composer's name field owns `.name` (a white box), which made the file's
  // name white on white in the guest's bubble.
  icon("clip", control);
  var label = el("span", "file-label", control);
  el("span", "file-name", label, a.name);
  var size = humanSize(a.size);
  if (size) el("span", "file-size", label, " (" + size + ")");
}

// Fetches the thumbnails waiting for a guest (restored messages show before there is one).
function loadThumbs() {
  if (!guest) return;
  thumbs.splice(0).forEach(function (thumb) {
    fetchFile(thumb[1]).then(guard(function (url) {
      thumb[0].src = url;
    }), noop);
  });
}

// A blob: URL for an attachment, fetched once per page with the guest's headers (a failed fetch is
// tried again next time).
function fetchFile(id) {
  var url = files.get(id);
  if (!url) {
    url = guest
      ? W.fetch("/api/v1/attachments/" + encodeURIComponent(id), { headers: guestHeaders() })
          .then(function (res) {
            if (!res.ok) throw res.status;
            return res.blob();
          })
          .then(function (blob) {
            return URL.createObjectURL(blob);
          })
      : Promise.reject(0);
    url.catch(function () {
      files.delete(id);
    });
    files.set(id, url);
  }
  return url;
}

// Saves an attachment under its own name (the browser cleans the name up for the file system).
function download(a) {
  fetchFile(a.id).then(guard(function (url) {
    var link = el("a", "", D.body);
    link.href = url;
    link.download = a.name || "file";
    link.click();
    link.remove();
  }), noop);
}

function hideMessage(m) {
  var row = rows.get(m);
  if (row) row.node.remove();
  rows.delete(m);
  showGreeting();
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

// The header's status line, and which of composer / "start a new chat" / leave-a-message form /
// confirmation shows.
function showStatus() {
  pickMode();
  var status = conv.status, text = "", chat = mode == "chat";
  // Without anyone to answer, "waiting for an operator" would promise too much: the form says it all.
  if (!chat) text = "";
  else if (!online && (conv.id || hasPending())) text = T.connecting;
  else if (status == "waiting") text = T.waiting;
  else if (status == "open") text = fill(T.open, conv.operator);
  else if (status == "closed") text = T.closed;
  view.status.textContent = text;
  showFace(chat && status == "open" ? conv.operator : null);
  view.form.hidden = !chat || status == "closed";
  view.ended.hidden = !chat || status != "closed";
  view.leave.hidden = mode != "offline";
  view.sent.hidden = mode != "sent";
  view.name.hidden = !!(conv.id || messages.length);
  if (status == "closed") showTyping(false);
  showCallButtons();
}

// The header shows who the guest is chatting with: their avatar and name (otherwise the site's name).
var faceShown = "";

function showFace(operator) {
  if ((operator || "") != faceShown) {
    faceShown = operator || "";
    view.face.textContent = "";
    if (operator) avatar(operator, view.face);
  }
  view.face.hidden = !operator;
  view.title.textContent = operator || CFG.operator_name || CFG.site_name || "";
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
