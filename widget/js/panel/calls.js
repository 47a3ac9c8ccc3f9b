// Calls with the operator (docs/protocol.md, "Calls"). The WebRTC code is a script of its own,
// /w/call.VERSION.js on this origin (build.rs fills in the version), loaded with this page's nonce only
// when a call rings or the guest starts one; it draws the call area (its ids are the same in the console)
// with our texts (T.call). Until it is there, events wait for it; a call that is pinned to this tab
// while nothing runs it here (the page was reloaded during the call) is hung up at once.
//
// The guest may start calls only where the site allows it (CFG.guest_calls), in an open conversation,
// in a browser that can take calls (CALLS: "calls" is among the capabilities we report).
var CALL_SRC = "/w/call.%CALL_VERSION%.js", NONCE = (D.currentScript && D.currentScript.nonce) || "";
var CALLS = CAPS.indexOf("calls") >= 0, TAB = tabId();
// The call module's desk and bar once loaded; events and the guest's start waiting for it; when the last
// call message went out (see `callError`); whether the panel already asked the loader to open for a ring.
var callDesk = null, callBar = null, callWaiting = null, lastCallSent = 0, ringShown = null;

// This tab's id for call pinning: random, kept in sessionStorage for the tab's life (reloads included).
function tabId() {
  var id = null;
  try {
    id = W.sessionStorage.getItem("beckon:tab");
  } catch (e) {}
  if (!id) {
    id = uuid();
    try {
      W.sessionStorage.setItem("beckon:tab", id);
    } catch (e) {}
  }
  return id;
}

// The header's "voice call" and "video call" buttons (shown by `showCallButtons`), and under the header
// the place for the call area.
function buildCallButtons(panel, head) {
  view.calls = [
    ["voice", "phone", T.call.voiceCall, "audio"],
    ["video", "video", T.call.videoCall, "video"]
  ].map(function (b) {
    var node = button("call-start", head, null, function () {
      startCall(b[3]);
    });
    node.id = "beckon-call-" + b[0];
    icon(b[1], node);
    node.setAttribute("aria-label", b[2]);
    node.title = b[2];
    node.hidden = true;
    return node;
  });
  view.callSlot = el("div", "call-slot", panel);
}

function showCallButtons() {
  var state = callDesk ? callDesk.view().state : "idle";
  var can = CALLS && CFG.guest_calls === true && conv.status == "open" && mode == "chat" && (state == "idle" || state == "ended");
  view.calls.forEach(function (node) {
    node.hidden = !can;
  });
}

function sendCall(message) {
  lastCallSent = Date.now();
  return send(message);
}

// Loads the call module once, then runs `then` (or only sets it up).
function withCalls(then) {
  if (callDesk) return then && then();
  if (callWaiting) return then && callWaiting.push(then);
  callWaiting = then ? [then] : [];
  var script = D.createElement("script");
  script.src = CALL_SRC;
  script.nonce = NONCE;
  script.onload = guard(function () {
    var waiting = callWaiting;
    callWaiting = null;
    if (!W.BeckonCall) return;
    callDesk = W.BeckonCall.desk({ role: "guest", tab: TAB, send: sendCall, changed: guard(callsChanged) });
    callBar = W.BeckonCall.bar(callDesk, { into: view.callSlot, texts: T.call, name: callPeer });
    waiting.forEach(function (fn) {
      fn();
    });
    callsChanged();
  });
  script.onerror = guard(function () {
    callWaiting = null;
  });
  D.body.appendChild(script);
}

// The operator on the other end: the caller, or the conversation's operator.
function callPeer(call) {
  return call && call.caller == "operator" ? call.caller_name : conv.operator || CFG.operator_name || "";
}

function startCall(media) {
  if (!conv.id) return;
  var id = conv.id;
  withCalls(function () {
    callDesk.start(id, media);
  });
}

// `call` and `call_signal` events of our conversation.
function onCall(event) {
  if (event.conversation_id != conv.id) return;
  if (callDesk) return callDesk.handle(event);
  if (event.type != "call" || event.state == "ended") return;
  if (event.guest_tab == TAB) return sendCall({ type: "call", action: "hangup", call_id: event.call_id, tab: TAB });
  withCalls(function () {
    callDesk.handle(event);
  });
}

// Whether an `error` answers one of our call messages (it carries no client_msg_id; one with a call_id,
// or a refusal within 5 s of our last call message, is the call's) and so is not about the chat.
function callError(event) {
  if (event.client_msg_id || !("call_id" in event || (Date.now() - lastCallSent < 5000 && /^(conflict|forbidden|not_found|bad_request)$/.test(event.code)))) return false;
  if (callDesk) callDesk.handle(event);
  return true;
}

// After any change of a call: the call area, the start buttons, and for a ringing call the panel opened
// (the loader shows it when it was closed) and a ring every 2 s the visitor can hear.
function callsChanged() {
  if (!callBar) return;
  callBar.render();
  showCallButtons();
  var v = callDesk.view(), id = v.state == "incoming" ? v.call.call_id : null;
  if (id && id != ringShown) {
    ringShown = id;
    if (!parentOpen) post({ type: "beckon:open" });
    ring();
  }
  if (!id) {
    ringShown = null;
    cancel("ring");
  }
}

function ring() {
  beep();
  later("ring", ring, 2000);
}
