// Presence: one WebSocket per tab, reconnected with exponential backoff (1 s doubling to 30 s, jittered).
var socket = null, backoff = 1000, timer = 0;

function socketUrl() {
  // http://host -> ws://host, https://host -> wss://host.
  return H.replace("http", "ws") + "/ws/visitor?k=" + encodeURIComponent(K) + "&t=" + encodeURIComponent(guest.t);
}

// Runs `run` again after `delay` ms, or after the current backoff (then doubled) when no delay is given.
function retry(delay) {
  clearTimeout(timer);
  if (delay == null) {
    delay = backoff * (0.5 + Math.random() / 2);
    backoff = Math.min(backoff * 2, 30000);
  }
  timer = setTimeout(guard(run), delay);
}

// Connects, first obtaining a guest when this page has none (at start, and after the server refused ours).
function run() {
  if (guest) return connect();
  obtainGuest()
    .then(function () {
      pageView(1);
      connect();
      init();
    })
    .catch(function () {
      retry();
    });
}

function connect() {
  var ws;
  try {
    ws = socket = new WebSocket(socketUrl());
  } catch (e) {
    return retry();
  }
  ws.onmessage = guard(function (event) {
    receive(JSON.parse(event.data));
  });
  ws.onclose = guard(function (event) {
    if (socket != ws) return;
    socket = null;
    var code = event.code;
    if (code == 4401) {
      // The server no longer knows this guest: forget it, and `run` asks for a new one.
      saveGuest(null);
    } else if (code == 1001) {
      // The server is going away; another node will take us, so come back soon (spread out).
      return retry(Math.random() * 1000);
    } else if (code == 1008) {
      // Refused by policy (origin, limits): trying again soon will not help.
      backoff = 30000;
    }
    retry();
  });
}

function receive(message) {
  var type = message.type;
  if (type == "hello") backoff = 1000;
  else if (type == "invite") showBubble(message);
  else if (type == "invite_cancelled" && invitation && invitation.invitation_id == message.invitation_id) hideBubble();
}

function send(message) {
  try {
    if (socket && socket.readyState == 1) socket.send(JSON.stringify(message));
  } catch (e) {}
}
