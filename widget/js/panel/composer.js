// The composer: the optional name (before the first message), the message box, sending, and the guest's
// typing notices (true at most every 2 s while typing, false after 3 s idle or on send).
var MAX_BODY = 4000, typingSentAt = 0, typingOn = false;

function buildComposer(panel) {
  var form = (view.form = el("form", "composer", panel));
  var name = (view.name = el("input", "name", form));
  name.type = "text";
  name.maxLength = 80;
  name.autocomplete = "name";
  name.placeholder = T.name;
  name.setAttribute("aria-label", T.name);
  var row = el("div", "row", form);
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
  render(m);
  persist();
  deliver(m);
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
  var now = Date.now();
  if (now - typingSentAt >= 2000 && send({ type: "typing", conversation_id: conv.id, state: true })) {
    typingSentAt = now;
    typingOn = true;
  }
  later("typingIdle", stopTyping, 3000);
}

function stopTyping() {
  cancel("typingIdle");
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
