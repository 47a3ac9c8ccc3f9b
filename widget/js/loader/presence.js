// Presence: one WebSocket per tab, reconnected with exponential backoff (1 s doubling to 30 s, jittered).
// While no socket is open and greeted (`hello`) — a host page's CSP without our ws: origin, a proxy that
// kills WebSockets, or just a reconnect — invitations are polled over plain HTTP instead (`poll`).
var socket = null, backoff = 1e3, timer = 0, greeted = 0;

// Runs `run` again after `delay` ms, or after the current backoff (then doubled) when no delay is given.
function retry(delay) {
  clearTimeout(timer);
  if (delay == null) {
    delay = backoff * (0.5 + Math.random() / 2);
    backoff = Math.min(backoff * 2, 3e4);
  }
  timer = setTimeout(guard(run), delay);
}

// Connects, first obtaining a guest when this page has none (at start, and after the server refused ours);
// a new guest mounts the launcher (the first time), is reported (page view, identity) and handed to the
// panel. A 403 means this page's origin is not allowed: nothing is shown and nothing is asked again.
function run() {
  if (guest) return connect();
  obtainGuest()
    .then(function () {
      mount();
      pageView(1);
      connect();
      init();
      identify();
    })
    .catch(function (code) {
      if (code != 403) retry();
    });
}

function connect() {
  var ws;
  try {
    // http://host -> ws://host, https://host -> wss://host.
    ws = socket = new WebSocket(H.replace("http", "ws") + "/ws/visitor?k=" + encodeURIComponent(K) + "&t=" + encodeURIComponent(guest.t));
  } catch (e) {
    // Some browsers throw at once for a socket the page's CSP forbids.
    return retry();
  }
  ws.onmessage = guard(function (event) {
    var message = JSON.parse(event.data), type = message.type;
    if (type == "hello") backoff = 1e3, greeted = 1;
    else if (type == "invite") showBubble(message);
    else if (type == "invite_cancelled" && message.invitation_id == shown) hideBubble();
  });
  ws.onclose = guard(function (event) {
    if (socket != ws) return;
    socket = null;
    greeted = 0;
    // 4401: the server no longer knows this guest; forget it, and `run` asks for a new one. 1001: the server
    // is going away and another node will take us, so come back soon (spread out). 1008: refused by policy
    // (origin, limits), so trying again soon will not help.
    var code = event.code;
    if (code == 4401) saveGuest(null);
    if (code == 1001) return retry(Math.random() * 1e3);
    if (code == 1008) backoff = 3e4;
    retry();
  });
}

// Every 3 s (15 s while the tab is hidden; started by `mount`) and only while no socket is greeted: asks for
// this guest's pending invitation (docs/protocol.md, "Invitations without the socket"). Like the beacon:
// text/plain, no credentials, so no preflight. No pending invitation takes down a bubble it showed
// (expired, withdrawn).
function poll() {
  setTimeout(guard(poll), D.hidden ? 15e3 : 3e3);
  if (guest && !greeted)
    post("/api/v1/invitations/poll", { k: K, t: guest.t })
      .then(function (res) {
        return res.ok && res.json();
      })
      .then(function (body) {
        var offer = body && body.invitation;
        if (!body || greeted) return;
        if (!offer) hideBubble();
        else if (offer.invitation_id != answered && offer.invitation_id != shown) showBubble(offer);
      })
      .catch(noop);
}
