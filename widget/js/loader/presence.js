// Presence: one WebSocket per tab, reconnected with exponential backoff (1 s doubling to 30 s, jittered).
var socket = null, backoff = 1000, timer = 0;

// Runs `run` again after `delay` ms, or after the current backoff (then doubled) when no delay is given.
function retry(delay) {
  clearTimeout(timer);
  if (delay == null) {
    delay = backoff * (0.5 + Math.random() / 2);
    backoff = Math.min(backoff * 2, 30000);
  }
  timer = setTimeout(guard(run), delay);
}

// Connects, first obtaining a guest when this page has none (at start, and after the server refused ours);
// a new guest is reported (page view, identity) and handed to the panel.
function run() {
  if (guest) return connect();
  obtainGuest()
    .then(function () {
      pageView(1);
      connect();
      init();
      identify();
    })
    .catch(function () {
      retry();
    });
}

function connect() {
  var ws;
  try {
    // http://host -> ws://host, https://host -> wss://host.
    ws = socket = new WebSocket(H.replace("http", "ws") + "/ws/visitor?k=" + encodeURIComponent(K) + "&t=" + encodeURIComponent(guest.t));
  } catch (e) {
    return retry();
  }
  ws.onmessage = guard(function (event) {
    var message = JSON.parse(event.data), type = message.type;
    if (type == "hello") backoff = 1000;
    else if (type == "invite") showBubble(message);
    else if (type == "invite_cancelled" && invitation && invitation.invitation_id == message.invitation_id) hideBubble();
  });
  ws.onclose = guard(function (event) {
    if (socket != ws) return;
    socket = null;
    // 4401: the server no longer knows this guest; forget it, and `run` asks for a new one. 1001: the server
    // is going away and another node will take us, so come back soon (spread out). 1008: refused by policy
    // (origin, limits), so trying again soon will not help.
    var code = event.code;
    if (code == 4401) saveGuest(null);
    else if (code == 1001) return retry(Math.random() * 1000);
    else if (code == 1008) backoff = 30000;
    retry();
  });
}
