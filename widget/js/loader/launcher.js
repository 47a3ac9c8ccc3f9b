// Launcher button (with the unread badge), invitation bubble and chat panel frame, inside an open shadow
// root on one fixed host element, so the host page's styles do not reach in, ours do not leak out, and
// nothing on the page moves (no web fonts either).
var root = null, shadow = null, bubble = null, invitation = null, badge = null;

// The corner: bottom-right, or bottom-left with `p: "left"` (the only value the server sends).
var SIDE = C.p || "right";

// Compact on purpose: this sheet is a large part of the loader's 3 KB. `#0003` is black at 20 % opacity.
// The bubble and the panel sit above the launcher on its side of the host element; on a phone the panel
// takes the whole screen (it has its own close button).
var STYLE =
  "*{box-sizing:border-box;font:14px/1.4 system-ui,sans-serif}" +
  "button{cursor:pointer;border:0;border-radius:6px}" +
  "button:focus-visible{outline:3px solid #93c5fd;outline-offset:2px}" +
  ".launcher{position:relative;display:grid;place-items:center;width:56px;height:56px;border-radius:50%}" +
  ".launcher,.bubble-accept{background:" + (C.c || "#2563eb") + ";color:#fff}" +
  ".launcher svg{width:28px;fill:#fff}" +
  ".badge{position:absolute;top:-4px;right:-4px;padding:0 6px;border-radius:9px;background:#dc2626}" +
  ".badge:empty{display:none}" +
  ".bubble,.panel{position:absolute;" + SIDE + ":0;bottom:68px;border-radius:12px;background:#fff;box-shadow:0 4px 24px #0003}" +
  ".bubble{width:260px;max-width:calc(100vw - 40px);padding:14px;color:#111}" +
  ".bubble p{margin:0 0 10px;overflow-wrap:anywhere}" +
  ".bubble-operator{font-weight:600}" +
  ".bubble button{margin-right:8px;padding:6px 12px}" +
  ".bubble-decline{background:#e5e7eb}" +
  ".panel{width:370px;height:560px;max-height:calc(100vh - 100px);border:0}" +
  "@media(max-width:480px){.panel{position:fixed;inset:0;width:100vw;height:100vh;max-height:none;border-radius:0}}";

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

function mount() {
  var svgNs = "http://www.w3.org/2000/svg";
  root = D.createElement("div");
  root.id = "beckon-root";
  root.style.cssText = "all:initial;position:fixed;bottom:20px;z-index:2147483000;" + SIDE + ":20px";
  shadow = root.attachShadow({ mode: "open" });
  // A constructed style sheet passes a strict style-src CSP; a <style> element is the fallback.
  try {
    var sheet = new CSSStyleSheet();
    sheet.replaceSync(STYLE);
    shadow.adoptedStyleSheets = [sheet];
  } catch (e) {
    element("style", "", shadow, STYLE);
  }
  var launcher = button("launcher", shadow, null, function () {
    showPanel(!opened);
  });
  launcher.setAttribute("aria-label", "Live help");
  badge = element("span", "badge", launcher, "");
  // The chat icon (a speech bubble), drawn with DOM APIs rather than parsed from markup; the button's
  // label names it.
  var svg = launcher.appendChild(D.createElementNS(svgNs, "svg"));
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.appendChild(D.createElementNS(svgNs, "path")).setAttribute("d", "M20 2H4a2 2 0 0 0-2 2v18l4-4h14a2 2 0 0 0 2-2V4a2 2 0 0 0-2-2z");
  D.body.appendChild(root);
  // The chat was open on the previous page, or a conversation is running: bring the panel back at once
  // (hidden when it was closed) so the chat carries on and unread messages are counted.
  var show = opened || !!store("sessionStorage", OPEN);
  if (show || store("localStorage", CHAT)) showPanel(show);
}

// Some single-page apps swap the whole <body> (Turbo, for one); put the launcher back after they do.
function remount() {
  if (root && !root.isConnected && D.body) D.body.appendChild(root);
}

// Shows an operator's invitation; the operator's name and message are network data, so they go in as text.
function showBubble(message) {
  if (!shadow) return;
  hideBubble();
  invitation = message;
  bubble = element("div", "bubble", shadow);
  bubble.setAttribute("role", "dialog");
  bubble.setAttribute("aria-label", "Chat invitation");
  element("p", "bubble-operator", bubble, message.operator || "");
  element("p", "bubble-message", bubble, message.message || "");
  button("bubble-accept", bubble, "Chat now", function () {
    answer(true);
  });
  button("bubble-decline", bubble, "No thanks", function () {
    answer(false);
  });
}

function hideBubble() {
  if (bubble) bubble.remove();
  bubble = invitation = null;
}

// Answers the invitation over the presence socket (when it is open) and, when accepted, opens the chat.
function answer(accepted) {
  if (!invitation) return;
  try {
    if (socket.readyState == 1)
      socket.send(JSON.stringify({ type: "invite_response", invitation_id: invitation.invitation_id, accepted: accepted }));
  } catch (e) {}
  hideBubble();
  if (accepted) showPanel(true);
}
