// Launcher button (with the unread badge), invitation bubble and chat panel frame, inside an open shadow
// root on one fixed host element, so the host page's styles do not reach in, ours do not leak out, and
// nothing on the page moves (no web fonts either).
// `shown`: the id of the invitation in the bubble; `answered`: the last one the visitor answered.
var root = null, shadow = null, bubble = null, shown = null, badge = null, launcher = null, answered;

// The corner: bottom-right, or bottom-left with `p: "left"` (the only value the server sends).
var SIDE = C.p || "right";

// Compact on purpose: this sheet is a large part of the loader's 3 KB, so it is three long literals (the
// site's colour and side go between them). The launcher's icon is a white speech bubble drawn in CSS (no
// markup, no icon font, no emoji). `#0003` is black at 20 % opacity. The bubble and the panel sit above the
// launcher on its side of the host element; on a phone the panel takes the whole screen (it has its own
// close button).
var STYLE =
  "*{box-sizing:border-box;font:14px/1.4 system-ui,sans-serif}button{cursor:pointer;border:0;border-radius:6px}.launcher{position:relative;display:grid;place-items:center;width:56px;height:56px;border-radius:50%}.launcher:before{content:'';width:26px;height:22px;background:#fff;border-radius:13px 13px 13px 2px}.badge{position:absolute;top:-4px;right:-4px;padding:0 6px;border-radius:9px;background:#dc2626}.badge:empty{display:none}.bubble{width:260px;max-width:80vw;padding:14px}p{margin:0 0 10px;overflow-wrap:anywhere}.bubble-operator{font-weight:600}.bubble button{margin-right:8px;padding:6px 12px}.bubble-decline{background:#eee}.panel{width:370px;height:min(560px,80vh);border:0}" +
  ".launcher,.bubble-accept{background:" + (C.c || "#2563eb") + ";color:#fff}.bubble,.panel{position:absolute;" + SIDE +
  ":0;bottom:68px;border-radius:12px;background:#fff;box-shadow:0 4px 24px #0003}@media(max-width:480px){.panel{position:fixed;inset:0;width:100vw;height:100vh;border-radius:0}}";

// Creates an element with a class and, optionally, text (always as text, never as markup).
function element(tag, className, into, text) {
  var node = D.createElement(tag);
  node.className = className;
  if (text != null) node.textContent = text;
  into.appendChild(node);
  return node;
}

// A button in the shadow root (which no form reaches, so its type does not matter).
function button(className, into, text, onClick) {
  var node = element("button", className, into, text);
  node.addEventListener("click", guard(onClick));
  return node;
}

// Mounts once this page has both a guest (called by `run`; a refused origin never gets one) and a <body>
// (called at DOMContentLoaded too).
function mount() {
  if (root || !guest || !D.body) return;
  var css;
  // A custom element, which no page rule for div/span/section matches. Its placement is set through CSSOM
  // (a strict style-src blocks a style attribute, not this) and !important, which beats the page's rules,
  // `* {all: unset !important}` included: `all:initial` first, so nothing of the page applies or is
  // inherited, then our own corner at the highest z-index.
  root = D.createElement("beckon-chat");
  root.id = "beckon-root";
  css = root.style;
  ("all:initial;position:fixed;bottom:20px;z-index:2147483647;" + SIDE + ":20px").split(";").forEach(function (d) {
    d = d.split(":");
    css.setProperty(d[0], d[1], "important");
  });
  shadow = root.attachShadow({ mode: "open" });
  // A constructed style sheet passes a strict style-src CSP (a <style> element would not; browsers without
  // them, Safari before 16.4, get no launcher: the page is still monitored).
  var sheet = new CSSStyleSheet();
  sheet.replaceSync(STYLE);
  shadow.adoptedStyleSheets = [sheet];
  launcher = button("launcher", shadow, null, function () {
    showPanel(!opened, 1);
  });
  launcher.setAttribute("aria-label", "Live help");
  badge = element("span", "badge", launcher, "");
  // Escape closes the bubble (declining) or the panel, and leaves the focus on the launcher.
  shadow.addEventListener("keydown", guard(function (event) {
    if (event.key == "Escape") bubble ? answer(0) : opened && showPanel(0);
  }));
  remount(1);
  setTimeout(guard(poll), 3e3);
  // The chat was open on the previous page, or a conversation is running: bring the panel back at once
  // (hidden when it was closed) so the chat carries on and unread messages are counted.
  var show = opened || !!store("sessionStorage", OPEN);
  if (show || store("localStorage", CHAT)) showPanel(show);
}

// Appends the launcher (at mount, and again after a single-page app swapped the whole <body>, as Turbo
// does) and lifts it into the top layer where the browser has popovers, above anything of the page
// whatever its z-index (the inline !important placement overrides the browser's popover styles).
function remount(first) {
  if (root && (first || !root.isConnected) && D.body) {
    D.body.appendChild(root);
    try {
      root.popover = "manual";
      root.showPopover();
    } catch (e) {}
  }
}

// Shows an operator's invitation; the operator's name and message are network data, so they go in as text.
// (Before the launcher is mounted there is nowhere to show it: `element` throws, and the caller's guard
// drops it.)
function showBubble(message) {
  hideBubble();
  bubble = element("div", "bubble", shadow);
  shown = message.invitation_id;
  bubble.setAttribute("role", "dialog");
  bubble.setAttribute("aria-label", "Chat invitation");
  element("p", "bubble-operator", bubble, message.operator || "");
  element("p", "bubble-message", bubble, message.message || "");
  button("bubble-accept", bubble, "Chat now", function () {
    answer(1);
  });
  button("bubble-decline", bubble, "No thanks", function () {
    answer(0);
  });
}

function hideBubble() {
  if (bubble) bubble.remove();
  bubble = shown = null;
}

// Answers the invitation over the presence socket when it is open, else over HTTP (see `poll`), and, when
// accepted, opens the chat. The focus, maybe on a button of the bubble, goes to the launcher (or the panel).
function answer(accepted) {
  var id = (answered = shown);
  if (!id) return;
  try {
    if (socket && socket.readyState == 1)
      socket.send(JSON.stringify({ type: "invite_response", invitation_id: id, accepted: !!accepted }));
    else post("/api/v1/invitations/answer", { k: K, t: guest.t, invitation_id: id, accepted: !!accepted }).catch(noop);
  } catch (e) {}
  launcher.focus();
  hideBubble();
  if (accepted) showPanel(1, 1);
}
