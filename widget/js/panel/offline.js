// Availability and leave-a-message (docs/protocol.md, "Visitor socket" and "Leave a message").
//
// `siteOnline` starts as CFG.online and follows the socket's `site_status` events (the site's, or on
// /u/HANDLE and /p/PHONE that operator's). The panel is in one of three modes:
//   "chat"    the composer: someone can answer, or an operator already has this conversation;
//   "offline" the leave-a-message form instead of the composer;
//   "sent"    the confirmation after the form went out (until someone is back, or "write another").
// Typed text is never lost in a switch: going offline moves the composer's text and the unsent text
// messages into the form's message field; coming back moves the form's message into the composer.
var siteOnline = CFG.online !== false, mode = "chat", leaving = false;

// What this browser can do, sent with start_chat and resume so the console knows what the guest gets.
var CAPS = [
  W.FormData && W.Blob && W.URL && W.URL.createObjectURL && "files",
  "read_receipts",
  "typing",
  (W.AudioContext || W.webkitAudioContext) && "sound",
  W.RTCPeerConnection && navigator.mediaDevices && navigator.mediaDevices.getUserMedia && "calls"
].filter(Boolean);

// A plain email check; the server has the last word.
var EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

// The form (hidden until needed) and the confirmation, after the composer.
function buildLeave(panel) {
  var form = (view.leave = el("form", "leave", panel));
  form.noValidate = true;
  var error = (view.leaveError = el("p", "error", form));
  error.setAttribute("role", "alert");
  error.hidden = true;
  view.leaveName = field(form, "input", "name", T.name, "name");
  view.leaveName.maxLength = 80;
  var email = (view.leaveEmail = field(form, "input", "email", T.email, "email"));
  email.type = "email";
  email.required = true;
  var text = (view.leaveText = field(form, "textarea", "message", T.leave));
  text.rows = 4;
  text.maxLength = MAX_BODY;
  text.required = true;
  // A styled picker: the real input, visually hidden but focusable, inside a label drawn as a button,
  // and the chosen file's name next to it.
  var pick = el("div", "pick", form), choose = el("label", "pick-button", pick);
  icon("clip", choose);
  el("span", "", choose, T.pickFile);
  var file = (view.leaveFile = el("input", "visually-hidden", choose));
  file.type = "file";
  file.name = "file";
  view.leaveFileName = el("span", "pick-name", pick);
  file.addEventListener("change", guard(showPicked));
  // A trap for bots: people never see or reach it, so it stays empty.
  var trap = (view.trap = el("input", "hp", form));
  trap.type = "text";
  trap.name = "website";
  trap.tabIndex = -1;
  trap.autocomplete = "off";
  trap.setAttribute("aria-hidden", "true");
  var send = (view.leaveSend = el("button", "send", form, T.leaveSend));
  send.type = "submit";
  form.addEventListener("submit", guard(function (event) {
    event.preventDefault();
    leaveMessage();
  }));
  var sent = (view.sent = el("div", "thanks", panel));
  view.sentText = el("p", "", sent);
  view.sentText.setAttribute("role", "status");
  button("another", sent, T.another, function () {
    mode = "offline";
    showStatus();
    view.leaveText.focus();
  });
}

// Shows the name of the file chosen for the message (none: nothing).
function showPicked() {
  var file = (view.leaveFile.files || [])[0];
  view.leaveFileName.textContent = file ? String(file.name) : "";
}

function field(form, tag, name, label, autocomplete) {
  var node = el(tag, "field", form);
  node.name = name;
  node.placeholder = label;
  node.setAttribute("aria-label", label);
  if (autocomplete) node.autocomplete = autocomplete;
  return node;
}

// The non-blank parts, one paragraph each.
function joinText(parts) {
  return parts
    .filter(function (part) {
      return part.trim();
    })
    .join("\n\n");
}

// Picks the mode for the current availability and conversation, carrying text over on a switch.
// Called by showStatus, so every change of either passes here.
function pickMode() {
  var next = siteOnline || conv.status == "open" ? "chat" : mode == "sent" ? "sent" : "offline";
  if (next == mode) return;
  if (next == "offline" && mode == "chat") toForm();
  if (next == "chat" && mode == "offline") toComposer();
  mode = next;
  view.greeting.textContent = greetingText();
}

function toForm() {
  stopTyping();
  var parts = [view.leaveText.value];
  drop(function (m) {
    var carry = m.status == "pending" && m.kind != "attachment";
    if (carry) parts.push(m.body);
    return carry;
  });
  parts.push(view.input.value);
  view.leaveText.value = joinText(parts);
  view.input.value = "";
  if (!view.leaveName.value) view.leaveName.value = view.name.value || conv.name;
  persist();
}

function toComposer() {
  view.input.value = joinText([view.input.value, view.leaveText.value]);
  view.leaveText.value = "";
  if (!view.name.value) view.name.value = view.leaveName.value;
  leaveError("");
  grow();
}

function onSiteStatus(event) {
  if (typeof event.online != "boolean") return;
  siteOnline = event.online;
  view.greeting.textContent = greetingText();
  showStatus();
}

function leaveError(text) {
  view.leaveError.textContent = text;
  view.leaveError.hidden = !text;
}

// Checks the form and posts it as multipart/form-data (same origin: the CSP allows no other).
function leaveMessage() {
  if (leaving) return;
  var email = view.leaveEmail.value.trim(), text = view.leaveText.value, file = (view.leaveFile.files || [])[0];
  var name = view.leaveName.value.trim().slice(0, 80);
  var problem = !EMAIL.test(email)
    ? T.needEmail
    : !text.trim()
      ? T.needMessage
      : text.length > MAX_BODY
        ? T.tooLong
        : file && file.size > MAX_FILE
          ? T.tooLarge
          : "";
  leaveError(problem);
  if (problem) return;
  var body = new FormData();
  body.append("site_key", KEY);
  if (guest) body.append("token", guest.t);
  if (CFG.handle) body.append("handle", CFG.handle);
  body.append("name", name);
  body.append("email", email);
  body.append("message", text.trim());
  body.append("website", view.trap.value);
  if (file) body.append("file", file, file.name);
  leaving = view.leaveSend.disabled = true;
  W.fetch("/api/v1/offline-messages", { method: "POST", body: body })
    .then(function (res) {
      return res.json().then(
        function (json) {
          return [res.status, json];
        },
        function () {
          return [res.status];
        }
      );
    })
    .then(
      guard(function (answer) {
        left(answer[0], answer[1] || {}, email, name);
      }),
      guard(function () {
        left(0, {});
      })
    );
}

// The answer: 201 {conversation_id} (take it up like a conversation of our own, and confirm), or an
// error whose message is shown with everything typed kept.
function left(status, json, email, name) {
  leaving = view.leaveSend.disabled = false;
  if (status < 200 || status > 299) {
    leaveError(typeof json.message == "string" && json.message ? json.message : T.leaveFailed);
    return;
  }
  view.leaveText.value = view.leaveFile.value = "";
  view.leaveFileName.textContent = "";
  leaveError("");
  view.sentText.textContent = fill(T.thanks, null).split("{{email}}").join(email);
  if (json.conversation_id) {
    var id = String(json.conversation_id);
    if (conv.id != id) {
      if (conv.id) clearConversation();
      conv.id = id;
      conv.status = "waiting";
      conv.seq = 0;
    }
    if (name) conv.name = name;
    persist();
    tellConversation();
    // Our message (and later the reply) come in as the conversation's history.
    resume();
  }
  mode = "sent";
  showStatus();
}
