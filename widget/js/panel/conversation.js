// The conversation as this tab knows it, and what of it survives navigation and reloads.
//
// `conv.seq` is the highest sequence number up to which this tab holds every message: `resume` asks for
// what comes after it. `conv.read` is the highest seq the guest has seen (sent as `read`, or learned from
// the server). `messages` is kept in display order: by seq, then the unsent ones (seq 0) as written.
// Message = {seq, client_msg_id, body, sender: "guest"|"operator"|"system", sender_name, kind,
// created_ms, status}, status being "pending" | "sent" | "read" | "failed" for the guest's own messages
// and "received" for the others. `kind: "attachment"` messages have a JSON body {attachment_id, name,
// size, content_type} (attachment_id null while uploading); the guest's own uploads also hold, in this
// tab only, `file` (the File), `uploading`, `error` (the text for a failed upload) and `final` (retrying
// cannot help).
//
// Stored under CONV_KEY: {id, seq, status, operator, name, read, log: [last messages], out: [unsent]}.
// Unsent uploads are not stored: their file does not survive the page.
var conv = {}, messages = [], operatorRead = 0;

// How many of the latest messages are kept in storage; resume fetches anything newer.
var LOG_LIMIT = 200;

function emptyConversation(name) {
  return { id: null, seq: 0, status: null, operator: null, name: name || "", read: 0 };
}

// Takes up the conversation stored by an earlier page, with its messages and unsent messages.
function restore() {
  var kept = load(CONV_KEY) || {};
  conv = emptyConversation(kept.name);
  if (kept.id) {
    conv.id = String(kept.id);
    conv.seq = +kept.seq || 0;
    conv.status = kept.status || null;
    conv.operator = kept.operator || null;
    conv.read = +kept.read || 0;
  }
  var log = kept.id ? kept.log || [] : [];
  log.concat(kept.out || []).forEach(function (m) {
    if (m && m.client_msg_id && typeof m.body == "string" && !find(m.seq, m.client_msg_id)) {
      if (!m.seq && (m.status != "pending" || m.kind == "attachment")) return;
      insert(message(m, m.status));
      if (m.status == "read" && m.seq > operatorRead) operatorRead = m.seq;
    }
  });
}

function persist() {
  var log = [], out = [];
  messages.forEach(function (m) {
    if (m.seq) log.push(strip(m));
    else if (m.status == "pending" && m.kind != "attachment") out.push(strip(m));
  });
  save(
    CONV_KEY,
    conv.id || out.length || conv.name
      ? {
          id: conv.id,
          seq: conv.seq,
          status: conv.status,
          operator: conv.operator,
          name: conv.name,
          read: conv.read,
          log: log.slice(-LOG_LIMIT),
          out: out
        }
      : null
  );
}

// A message record from a server event or a stored copy, keeping only the known fields.
function message(source, status) {
  return {
    seq: +source.seq || 0,
    client_msg_id: source.client_msg_id || null,
    body: String(source.body),
    sender: source.sender == "guest" || source.sender == "operator" ? source.sender : "system",
    sender_name: source.sender_name || "",
    kind: source.kind || "text",
    created_ms: +source.created_ms || 0,
    status: status
  };
}

function strip(m) {
  return message(m, m.status);
}

// The message with this seq or this client_msg_id (either may be 0/null), or null.
function find(seq, id) {
  for (var i = 0; i < messages.length; i++) {
    var m = messages[i];
    if ((seq && m.seq == seq) || (id && m.client_msg_id == id)) return m;
  }
  return null;
}

// Puts a message into its place in `messages` and on screen.
function insert(m) {
  var at = messages.length;
  if (m.seq) while (at > 0 && (!messages[at - 1].seq || messages[at - 1].seq > m.seq)) at--;
  messages.splice(at, 0, m);
  mountMessage(m, messages[at + 1]);
}

// Moves a message whose seq just became known (our own, acknowledged) to its place.
function place(m) {
  messages.splice(messages.indexOf(m), 1);
  insert(m);
}

// Removes messages (those for which `test` holds) from the list and the screen.
function drop(test) {
  messages = messages.filter(function (m) {
    if (!test(m)) return true;
    hideMessage(m);
    return false;
  });
  showGreeting();
}

// Takes in a message from the server (live or history). Our own messages come back with the
// client_msg_id we gave them, and any message may arrive twice (several tabs, resume after a live copy):
// a known one only updates the local copy. Answers the message when it is new to this tab.
function merge(event) {
  if (event.kind == "note" || !(event.seq > 0) || typeof event.body != "string") return null;
  var m = find(event.seq, event.client_msg_id);
  if (m) {
    if (m.seq != event.seq) {
      m.seq = +event.seq;
      place(m);
    }
    if (m.status == "pending" || m.status == "failed") m.status = "sent";
    // Our upload, stored: the server's body has the attachment's id.
    if (event.kind == "attachment") {
      m.kind = event.kind;
      m.body = event.body;
    }
    m.created_ms = +event.created_ms || m.created_ms;
    render(m);
    return null;
  }
  m = message(event, event.sender == "guest" ? "sent" : "received");
  insert(m);
  return m;
}

// Advances conv.seq over the messages now held without a gap.
function advance() {
  var held = {};
  messages.forEach(function (m) {
    if (m.seq) held[m.seq] = 1;
  });
  while (held[conv.seq + 1]) conv.seq++;
}

// Marks the guest's messages the operator has read.
function receipts() {
  messages.forEach(function (m) {
    if (m.sender == "guest" && m.seq && m.seq <= operatorRead && m.status != "read") {
      m.status = "read";
      render(m);
    }
  });
}

function hasPending() {
  return messages.some(function (m) {
    return m.status == "pending";
  });
}

// Forgets the conversation (it ended, or the server no longer knows it for this guest); unsent messages
// stay, to go into the next one.
function clearConversation() {
  drop(function (m) {
    return m.status != "pending";
  });
  conv = emptyConversation(conv.name);
  operatorRead = 0;
  starting = awaiting = false;
  cancel("page");
  persist();
}
