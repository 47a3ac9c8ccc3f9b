// The chat panel: an iframe on Beckon's origin (`/chat/SITE_KEY?embed=1`) inside the shadow root, created on
// first use. It talks to this page only with postMessage, and only through `tell` and the listener below,
// which accepts nothing but the panel's own window from Beckon's origin.
var frame = null, opened = 0, ready = 0, focusing = 0, OPEN = "beckon:open:" + K, CHAT = "beckon:chat:" + K;

// Opens or closes (hides) the panel, creating the iframe the first time; remembered for this tab's next page.
// With `focus` (the visitor opened it) the keyboard focus moves into the panel, and the panel puts it in its
// first field; a closed panel never keeps the focus: it goes back to the launcher before the frame hides.
function showPanel(visible, focus) {
  opened = visible;
  focusing = !!(visible && focus);
  store("sessionStorage", OPEN, visible ? 1 : null);
  // Not mounted yet (no guest or no <body>): `mount` shows the panel.
  if (!shadow) return;
  if (!frame) {
    frame = element("iframe", "panel", shadow);
    frame.title = "Live chat";
    // Calls (microphone, camera, screen sharing, and their sound) run in the panel; each feature is
    // delegated to the frame's own origin only (the default allowlist of `allow`).
    frame.allow = "camera;microphone;display-capture;autoplay";
    frame.src = H + "/chat/" + encodeURIComponent(K) + "?embed=1";
  }
  if (!visible && shadow.activeElement == frame) launcher.focus();
  frame.style.display = visible ? "" : "none";
  if (focusing) frame.focus();
  tell({ type: "beckon:visible", open: !!visible, focus: focusing });
}

// Posts to the panel once it is ready (before, the frame holds about:blank and the browser would log an
// origin mismatch); the target origin keeps the guest's token from reaching any other page the frame might
// have been navigated to.
function tell(message) {
  try {
    if (ready) frame.contentWindow.postMessage(message, H);
  } catch (e) {}
}

// Hands the panel this page's guest, so one visitor is one guest whether browsing or chatting.
function init() {
  if (guest) tell({ type: "beckon:init", token: guest.t, guest_id: guest.g });
}

W.addEventListener("message", guard(function (event) {
  var data = event.data || {}, type = data.type;
  if (!frame || event.source != frame.contentWindow || event.origin != new URL(H).origin) return;
  if (type == "beckon:ready") {
    ready = 1;
    showPanel(opened, focusing);
    init();
  } else if (type == "beckon:close") showPanel(0);
  // A call rings for the visitor: show the panel (the focus stays where it is).
  else if (type == "beckon:open") showPanel(1);
  else if (type == "beckon:unread") badge.textContent = data.count || "";
  else if (type == "beckon:conversation") store("localStorage", CHAT, data.id ? 1 : null);
  else if (type == "beckon:expired") {
    // The panel's socket refused our token: forget the guest and reconnect, which obtains a new one and
    // hands it to the panel (see `run`).
    saveGuest(null);
    if (socket) socket.close();
    socket = null;
    retry(0);
  }
}));
