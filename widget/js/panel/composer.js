// The composer: the optional name (before the first message), the message box, sending, attaching files,
// and the guest's typing notices (true at most every 2 s while typing, false after 3 s idle or on send;
// with previews on, each true carries the first 200 characters typed, and the last text typed within
// the 2 s follows when they are up).
var MAX_BODY = 4000, MAX_FILE = 10 * 1024 * 1024, MAX_PREVIEW = 200, typingSentAt = 0, typingOn = false;

function buildComposer(panel) {
  var form = (view.form = el("form", "composer", panel));
  // Previews are the site's choice; the guest must know before typing.
  if (PREVIEW) el("p", "notice", form, T.preview);
  var name = (view.name = el("input", "name", form));
  name.type = "text";
  name.maxLength = 80;
  name.autocomplete = "name";
  name.placeholder = T.name;
  name.setAttribute("aria-label", T.name);
  var row = el("div", "row", form);
  // The file picker: a real <input type=file>, visually hidden but focusable (Tab reaches it, Enter or
  // Space opens it), inside a label drawn as the paper-clip button; the label shows its focus ring.
  var clip = (view.clip = el("label", "attach", row));
  clip.title = T.attach;
  icon("clip", clip);
  var file = (view.file = el("input", "visually-hidden", clip));
  file.type = "file";
  file.multiple = true;
  file.setAttribute("aria-label", T.attach);
  file.addEventListener("change", guard(function () {
    Array.prototype.slice.call(file.files || []).forEach(attach);
    file.value = "";
  }));
  var input = (view.input = el("textarea", "input", row));
  input.rows = 1;
  input.maxLength = MAX_BODY;
  input.placeholder = T.message;
  input.setAttribute("aria-label", T.message);
  el("button", "send", row, T.send).type = "submit";
  form.addEventListener("submit", guard(function (event) {
    event.preventDefault();
    submit();
  }));
  // Enter sends, Shift+Enter starts a new line (and an IME's Enter only confirms its composition).
  input.addEventListener("keydown", guard(function (event) {
    if (event.key == "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submit();
    }
  }));
  input.addEventListener("input", guard(typed));
}

function submit() {
  var input = view.input, body = input.value.trim().slice(0, MAX_BODY);
  if (!body || conv.status == "closed") return;
  input.value = "";
  grow();
  if (!conv.id && !messages.length) conv.name = view.name.value.trim().slice(0, 80);
  stopTyping();
  var m = message(
    { client_msg_id: uuid(), body: body, sender: "guest", sender_name: conv.name, created_ms: Date.now() },
    "pending"
  );
  insert(m);
  persist();
  showStatus();
  deliver(m);
}

// Sends a message, first opening the conversation when there is none yet (`conversation` then flushes).
function deliver(m) {
  if (conv.id) transmit(m);
  else startChat();
}

function retryMessage(m) {
  if (conv.status == "closed") return;
  m.status = "pending";
  m.error = null;
  render(m);
  persist();
  showStatus();
  deliver(m);
}

// Takes a failed message off the screen for good.
function dismiss(m) {
  drop(function (other) {
    return other == m;
  });
  persist();
  showStatus();
}

// A file the guest picked: shown at once as a pending attachment, uploaded like a message is sent (after
// the conversation opens, when there is none yet). Too large a file fails here, without uploading.
function attach(file) {
  if (!file || conv.status == "closed") return;
  if (!conv.id && !messages.length) conv.name = view.name.value.trim().slice(0, 80);
  var big = file.size > MAX_FILE;
  var m = message(
    {
      client_msg_id: uuid(),
      kind: "attachment",
      body: JSON.stringify({
        attachment_id: null,
        name: String(file.name || "file"),
        size: +file.size || 0,
        content_type: file.type || "application/octet-stream"
      }),
      sender: "guest",
      sender_name: conv.name,
      created_ms: Date.now()
    },
    big ? "failed" : "pending"
  );
  m.file = file;
  m.error = big ? T.tooLarge : null;
  m.final = big;
  insert(m);
  persist();
  showStatus();
  if (!big) deliver(m);
}

// The guest's credentials for the HTTP API (docs/protocol.md, "Attachments").
function guestHeaders(headers) {
  headers = headers || {};
  headers["X-Beckon-Site"] = KEY;
  headers["X-Beckon-Guest"] = guest.t;
  return headers;
}

// Uploads an attachment message's file into the current conversation, on this page's own origin (the
// CSP allows no other). Sending again is safe: the server stores each X-Client-Msg-Id once.
function upload(m) {
  if (m.uploading || !m.file || !guest || !conv.id) return;
  var file = m.file, id = conv.id;
  m.uploading = true;
  W.fetch("/api/v1/conversations/" + encodeURIComponent(id) + "/attachments", {
    method: "POST",
    body: file,
    headers: guestHeaders({
      "Content-Type": file.type || "application/octet-stream",
      "X-Filename": encodeURIComponent(file.name),
      "X-Client-Msg-Id": m.client_msg_id
    })
  })
    .then(function (res) {
      if (!res.ok) return [res.status];
      return res.json().then(
        function (body) {
          return [res.status, body];
        },
        function () {
          return [res.status];
        }
      );
    })
    .then(
      guard(function (answer) {
        m.uploading = false;
        uploaded(m, id, answer[0], answer[1]);
      }),
      guard(function () {
        m.uploading = false;
        uploaded(m, id, 0);
      })
    );
}

// The upload's answer: 201 {attachment_id, seq, client_msg_id} (its `message` broadcast may come before
// or after, and is merged with this), or a status that says why not (0: no answer at all).
function uploaded(m, id, status, body) {
  if (messages.indexOf(m) < 0) return;
  if (status >= 200 && status < 300) {
    if (id != conv.id) {
      // Stored in a conversation that has ended since: not part of this one.
      dismiss(m);
      return;
    }
    body = body || {};
    var a = attachmentOf(m.body);
    if (typeof body.attachment_id == "string" && a && !a.id) {
      m.body = JSON.stringify({ attachment_id: body.attachment_id, name: a.name, size: a.size, content_type: a.type });
    }
    if (!m.seq && body.seq > 0) {
      m.seq = +body.seq;
      place(m);
    }
    if (m.status == "pending" || m.status == "failed") m.status = "sent";
    m.file = m.error = null;
    render(m);
    settle();
  } else {
    m.error = status == 413 ? T.tooLarge : status == 415 ? T.badType : T.uploadFailed;
    m.final = status == 413 || status == 415;
    fail(m);
  }
  showStatus();
}

// Fits the message box to its text (scrollHeight leaves out the borders), up to the CSS max-height.
function grow() {
  var input = view.input;
  input.style.height = "auto";
  input.style.height = input.scrollHeight + input.offsetHeight - input.clientHeight + "px";
}

function typed() {
  grow();
  if (!conv.id || conv.status == "closed") return;
  var wait = typingSentAt + 2000 - Date.now();
  if (wait <= 0) typingNotice();
  else if (PREVIEW) later("typingPreview", typingNotice, wait);
  later("typingIdle", stopTyping, 3000);
}

// "Typing": with previews on, what is in the box so far (never anything without).
function typingNotice() {
  if (!conv.id || conv.status == "closed") return;
  var notice = { type: "typing", conversation_id: conv.id, state: true };
  if (PREVIEW) notice.preview = Array.from(view.input.value).slice(0, MAX_PREVIEW).join("");
  if (send(notice)) {
    typingSentAt = Date.now();
    typingOn = true;
  }
}

function stopTyping() {
  cancel("typingIdle");
  cancel("typingPreview");
  if (typingOn && conv.id) send({ type: "typing", conversation_id: conv.id, state: false });
  typingOn = false;
  typingSentAt = 0;
}

// After a chat ended: an empty conversation; the next message starts a new one.
function newChat() {
  clearConversation();
  drop(function () {
    return true;
  });
  view.name.value = conv.name;
  tellConversation();
  showStatus();
  updateUnread();
  view.input.focus();
}
