// Launcher button and invitation bubble, inside an open shadow root on one fixed host element, so the host
// page's styles do not reach in, ours do not leak out, and nothing on the page moves (no web fonts either).
var root = null, shadow = null, bubble = null, invitation = null;

var HOST_STYLE = "all:initial;position:fixed;right:20px;bottom:20px;z-index:2147483000";

var STYLE =
  "*{box-sizing:border-box;font:14px/1.4 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif}" +
  "button{cursor:pointer;border:0}" +
  ".launcher{display:flex;align-items:center;justify-content:center;width:56px;height:56px;padding:0;" +
  "border-radius:50%;background:#2563eb;color:#fff;box-shadow:0 4px 12px rgba(0,0,0,.25)}" +
  ".launcher svg{width:28px;height:28px;fill:currentColor}" +
  "button:focus-visible{outline:3px solid #93c5fd;outline-offset:2px}" +
  ".bubble{position:absolute;right:0;bottom:68px;width:260px;max-width:calc(100vw - 40px);padding:14px;" +
  "border-radius:12px;background:#fff;color:#111;box-shadow:0 6px 24px rgba(0,0,0,.2)}" +
  ".bubble p{margin:0 0 10px;overflow-wrap:anywhere}" +
  ".bubble-operator{font-weight:600}" +
  ".bubble button{margin-right:8px;padding:6px 12px;border-radius:6px;background:#e5e7eb;color:#111}" +
  ".bubble .bubble-accept{background:#2563eb;color:#fff}";

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
  var launcher = button("launcher", shadow, null, api.open);
  launcher.setAttribute("aria-label", "Live help");
  var svg = launcher.appendChild(D.createElementNS(svgNs, "svg"));
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.appendChild(D.createElementNS(svgNs, "path")).setAttribute("d", ICON);
  D.body.appendChild(root);
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
