// Launcher button (with the unread badge), invitation bubble and chat panel frame, inside an open shadow
// root on one fixed host element, so the host page's styles do not reach in, ours do not leak out, and
// nothing on the page moves (no web fonts either).
var root = null, shadow = null, bubble = null, invitation = null, badge = null;

var HOST_STYLE = "all:initial;position:fixed;right:20px;bottom:20px;z-index:2147483000";

// Compact on purpose: this sheet is a large part of the loader's 3 KB. `#0003` is black at 20 % opacity.
var STYLE =
  "*{box-sizing:border-box;font:14px/1.4 system-ui,sans-serif}" +
  "button{cursor:pointer;border:0;border-radius:6px}" +
  "button:focus-visible{outline:3px solid #93c5fd;outline-offset:2px}" +
  ".launcher{position:relative;display:grid;place-items:center;width:56px;height:56px;border-radius:50%}" +
  ".launcher,.bubble-accept{background:#2563eb;color:#fff}" +
  ".launcher svg{width:28px;fill:#fff}" +
  ".badge{position:absolute;top:-4px;right:-4px;padding:0 6px;border-radius:9px;background:#dc2626}" +
  ".badge:empty{display:none}" +
  ".bubble,.panel{position:absolute;right:0;bottom:68px;border-radius:12px;background:#fff;box-shadow:0 4px 24px #0003}" +
  ".bubble{width:260px;max-width:calc(100vw - 40px);padding:14px;color:#111}" +
  ".bubble p{margin:0 0 10px;overflow-wrap:anywhere}" +
  ".bubble-operator{font-weight:600}" +
  ".bubble button{margin-right:8px;padding:6px 12px}" +
  ".bubble-decline{background:#e5e7eb}" +
  // Above the launcher; on a phone, the whole screen (the panel has its own close button).
  ".panel{position:fixed;right:20px;bottom:88px;width:370px;height:560px;max-height:calc(100vh - 100px);border:0}" +
  "@media(max-width:480px){.panel{inset:0;width:100vw;height:100vh;max-height:none;border-radius:0}}";

// The chat icon's outline (a speech bubble), drawn with DOM APIs rather than parsed from markup.
var ICON = "M20 2H4a2 2 0 0 0-2 2v18l4-4h14a2 2 0 0 0 2-2V4a2 2 0 0 0-2-2z";

// Creates an element with a class and, optionally, text (always as text, never as markup).
function element(tag, className, parent, text) {
  var node = D.createElement(tag);
  node.className = className;
  if (text != null) node.textContent = text;
  parent.appendChild(node);
  return node;
}

function button(className, parent, text, onClick) {
  var node = element("button", className, parent, text);
  node.type = "button";
  node.addEventListener("click", guard(onClick));
  return node;
}

function mount() {
  var svgNs = "http://www.w3.org/2000/svg";
  root = D.createElement("div");
  root.id = "beckon-root";
  root.style.cssText = HOST_STYLE;
  shadow = root.attachShadow({ mode: "open" });
  addStyle(STYLE);
  var launcher = button("launcher", shadow, null, function () {
    if (opened) showPanel(false);
    else api.open();
  });
  launcher.setAttribute("aria-label", "Live help");
  badge = element("span", "badge", launcher, "");
  var svg = launcher.appendChild(D.createElementNS(svgNs, "svg"));
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.appendChild(D.createElementNS(svgNs, "path")).setAttribute("d", ICON);
  D.body.appendChild(root);
  // The chat was open on the previous page, or a conversation is running: bring the panel back at once
  // (hidden when it was closed) so the chat carries on and unread messages are counted.
  var open = opened || !!store("sessionStorage", OPEN);
  if (open || store("localStorage", CHAT)) showPanel(open);
}

// Some single-page apps swap the whole <body> (Turbo, for one); put the launcher back after they do.
function remount() {
  if (root && !root.isConnected && D.body) D.body.appendChild(root);
}

// A constructed style sheet passes a strict style-src CSP; a <style> element is the fallback.
function addStyle(css) {
  try {
    var sheet = new CSSStyleSheet();
    sheet.replaceSync(css);
    shadow.adoptedStyleSheets = [sheet];
  } catch (e) {
    element("style", "", shadow, css);
  }
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

function answer(accepted) {
  if (!invitation) return;
  send({ type: "invite_response", invitation_id: invitation.invitation_id, accepted: accepted });
  hideBubble();
  if (accepted) api.open();
}
