// Beckon console: holds the console socket and keeps the live visitor list current, and owns the
// operator's availability control in the header (also used by chat.js, which imports this module).
// Every string from the network is inserted with textContent, never as HTML.

/** At most one `{"type": "activity"}` per this many ms. */
export const ACTIVITY_EVERY_MS = 30000;

/** What the header says for the effective status: away because idle while "available" was chosen is
 * "Away (inactive)". */
export function availabilityText(status, chosen) {
  if (status === "available") return "Available";
  if (status === "away") return chosen === "available" ? "Away (inactive)" : "Away";
  return "Offline";
}

/**
 * The operator's availability over one console socket, without DOM (docs/protocol.md, "Console socket").
 * options: send(message) -> true when written to an open socket, now() -> ms.
 * choose(status) sends `set_availability`; activity() sends `activity` at most every ACTIVITY_EVERY_MS
 * (true when it did); handle(message) takes an `availability` event (true when it was one); state is
 * {status, chosen, text} from the latest event, or null before the first.
 */
export function createAvailability(options) {
  const send = options.send;
  const now = options.now || Date.now;
  let lastActivity = null;
  let current = null;
  return {
    choose: function (status) {
      if (status !== "available" && status !== "away") return false;
      return send({ type: "set_availability", status: status });
    },
    activity: function () {
      const t = now();
      if (lastActivity !== null && t - lastActivity < ACTIVITY_EVERY_MS) return false;
      if (!send({ type: "activity" })) return false;
      lastActivity = t;
      return true;
    },
    handle: function (m) {
      if (!m || m.type !== "availability") return false;
      const status = m.status === "available" || m.status === "away" ? m.status : "offline";
      const chosen = m.chosen === "away" ? "away" : "available";
      current = { status: status, chosen: chosen, text: availabilityText(status, chosen) };
      return true;
    },
    get state() { return current; },
  };
}

/**
 * Binds the header's availability control (`#beckon-availability`, rendered hidden by layout.rs) to a
 * page's console socket: shows it, sends the operator's choice and their activity (keys, mouse, focus),
 * and shows what the server says. Returns {handle(message) -> true when it was an `availability` event}.
 */
export function availabilityControl(send) {
  const select = document.getElementById("beckon-availability");
  const core = createAvailability({ send: send });
  if (!select) return { handle: core.handle, core: core };
  const box = select.closest("[data-availability]");
  const state = document.getElementById("availability-state");
  const text = document.getElementById("availability-text");
  const steps = document.querySelectorAll ? Array.from(document.querySelectorAll("[data-step-online]")) : [];
  if (box) box.hidden = false;
  select.addEventListener("change", function () {
    // Not sent (socket down): show the choice the server knows again.
    if (!core.choose(select.value) && core.state) select.value = core.state.chosen;
  });
  const active = function () { core.activity(); };
  ["keydown", "mousedown", "pointermove", "focus"].forEach(function (type) {
    window.addEventListener(type, active, { capture: true, passive: true });
  });
  return {
    core: core,
    handle: function (m) {
      if (!core.handle(m)) return false;
      select.value = core.state.chosen;
      if (state) state.dataset.status = core.state.status;
      if (text) text.textContent = core.state.text;
      // The home's "Go online" step follows the operator's status.
      const online = core.state.status === "available";
      steps.forEach(function (step) {
        step.dataset.done = String(online);
        const said = step.querySelector(".step-state");
        if (said) said.textContent = online ? "Done" : "Not yet";
      });
      return true;
    },
  };
}

/**
 * The Status cell of a live visitor row: chatting, or "cannot receive invitations" when no invitation
 * can reach the page (reachability `none`: neither a presence socket nor a polling loader), else the
 * latest invitation's status, else browsing.
 */
export function visitorStatus(v) {
  if (v.chatting) return "chatting";
  if (v.reachability === "none") return "cannot receive invitations";
  return v.invitation ? "invitation " + v.invitation : "browsing";
}

const root = typeof document === "undefined" ? null : document.querySelector("[data-live-visitors]");
if (root) liveVisitors(root);
// Every other signed-in page (the layout loads this module on each) keeps the operator present with a
// socket of its own, so an owner is reachable on the home, Embed or Settings page too. The Chats page
// is left to chat.js, which holds its own socket and drives the control through this module.
else if (typeof document !== "undefined" && document.querySelector("[data-availability]") &&
  !document.querySelector("[data-chats]")) presence();

/**
 * A console socket that watches nothing: it makes the operator present, carries the availability
 * control, and reconnects with backoff. 4401 (the session ended) goes to the login page.
 */
function presence() {
  let ws = null;
  let backoff = 1000;
  const availability = availabilityControl(function (message) {
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(message));
    return true;
  });
  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    ws = new WebSocket(scheme + location.host + "/ws/console");
    ws.onopen = function () { backoff = 1000; };
    ws.onmessage = function (event) {
      let message;
      try { message = JSON.parse(event.data); } catch (e) { return; }
      availability.handle(message);
    };
    ws.onclose = function (event) {
      if (event && event.code === 4401) { location.assign("/login"); return; }
      availability.handle({ type: "availability", status: "offline", chosen: availability.core.state ? availability.core.state.chosen : "available" });
      setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, 30000);
    };
  }
  connect();
}

function liveVisitors(root) {
  const siteId = root.dataset.siteId;
  const tbody = document.getElementById("visitor-rows");
  const status = document.getElementById("live-status");
  const info = document.getElementById("page-info");
  const filters = document.getElementById("visitor-filters");
  const dialog = document.getElementById("invite-dialog");
  const inviteForm = document.getElementById("invite-form");
  const limit = 100;
  let offset = 0;
  let total = 0;
  let rows = new Map();
  let ws = null;
  let backoff = 1000;
  let inviteTarget = null;
  const availability = availabilityControl(send);

  function currentFilter() {
    const data = new FormData(filters);
    return { page: data.get("page") || "", referrer: data.get("referrer") || "", kind: data.get("kind") || "all" };
  }

  function send(message) {
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(message));
    return true;
  }

  function watch() {
    send({ type: "watch", site_id: siteId, filter: currentFilter(), offset: offset, limit: limit });
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    ws = new WebSocket(scheme + location.host + "/ws/console");
    ws.onopen = function () {
      backoff = 1000;
      status.textContent = "Live";
      watch();
    };
    ws.onmessage = function (event) {
      let message;
      try { message = JSON.parse(event.data); } catch (e) { return; }
      handle(message);
    };
    ws.onclose = function (event) {
      // 4401: the session ended (signed out, expired, deactivated); reconnecting cannot help.
      if (event && event.code === 4401) { location.assign("/login"); return; }
      status.textContent = "Reconnecting…";
      setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, 30000);
    };
  }

  function handle(m) {
    if (availability.handle(m)) return;
    if (m.type === "snapshot") {
      rows = new Map(m.visitors.map(function (v) { return [v.id, v]; }));
      total = m.total;
      render();
    } else if (m.type === "visitors") {
      m.removed.forEach(function (id) { rows.delete(id); });
      m.upserts.forEach(function (v) { rows.set(v.id, v); });
      total = m.total;
      render();
    } else if (m.type === "invitation") {
      const v = rows.get(m.visitor_id);
      if (v) {
        v.invitation = m.status;
        if (m.conversation_id) v.conversation_id = m.conversation_id;
        render();
      }
    } else if (m.type === "invitation_accepted") {
      acceptedNotice(m);
    } else if (m.type === "error") {
      status.textContent = m.message;
    }
  }

  // "NAME accepted your invitation — Open chat": the chat is already theirs, one click away.
  function acceptedNotice(m) {
    let line = document.getElementById("invite-accepted");
    if (!line) {
      line = document.createElement("p");
      line.id = "invite-accepted";
      line.className = "invite-accepted";
      line.setAttribute("role", "status");
      status.after(line);
    }
    const link = document.createElement("a");
    link.href = "/console/chats#" + encodeURIComponent(String(m.conversation_id || ""));
    link.textContent = "Open chat";
    line.replaceChildren(String(m.guest || "A visitor") + " accepted your invitation. ", link);
  }

  function duration(sinceMs) {
    const s = Math.max(0, Math.floor((Date.now() - sinceMs) / 1000));
    if (s < 60) return s + "s";
    if (s < 3600) return Math.floor(s / 60) + "m " + (s % 60) + "s";
    return Math.floor(s / 3600) + "h " + Math.floor((s % 3600) / 60) + "m";
  }

  function cell(tr, className, text) {
    const td = document.createElement("td");
    td.className = className;
    if (text !== undefined) td.textContent = text;
    tr.appendChild(td);
    return td;
  }

  function safeLink(url, text) {
    const a = document.createElement("a");
    a.textContent = text;
    try {
      const u = new URL(url);
      if (u.protocol === "http:" || u.protocol === "https:") {
        a.href = u.href;
        a.target = "_blank";
        a.rel = "noopener noreferrer";
      }
    } catch (e) { /* not a URL: plain text */ }
    return a;
  }

  function render() {
    const list = Array.from(rows.values()).sort(function (a, b) {
      return b.first_seen_ms - a.first_seen_ms || (a.id < b.id ? -1 : 1);
    });
    const fragment = document.createDocumentFragment();
    list.forEach(function (v) {
      const tr = document.createElement("tr");
      tr.dataset.visitorId = v.id;
      const who = cell(tr, "v-who");
      const name = document.createElement("strong");
      name.textContent = v.display_name || v.guest_id;
      const badge = document.createElement("span");
      badge.className = "badge";
      badge.title = "Not a registered user";
      badge.textContent = "guest";
      const kind = document.createElement("small");
      kind.textContent = v.returning ? " returning" : " new";
      who.append(name, " ", badge, kind);
      const page = cell(tr, "v-page");
      const title = document.createElement("div");
      title.className = "v-page-title";
      title.textContent = v.current_title || "(untitled)";
      const url = document.createElement("small");
      url.className = "v-page-url";
      url.appendChild(safeLink(v.current_url, v.current_url));
      page.append(title, url);
      cell(tr, "v-pages", String(v.pages_viewed));
      cell(tr, "v-referrer", v.referrer || "direct");
      cell(tr, "v-on-site", duration(v.first_seen_ms)).dataset.since = v.first_seen_ms;
      cell(tr, "v-on-page", duration(v.page_since_ms)).dataset.since = v.page_since_ms;
      cell(tr, "v-agent", v.browser + " / " + v.os);
      cell(tr, "v-status", visitorStatus(v));
      const actions = cell(tr, "v-actions");
      const invite = document.createElement("button");
      invite.type = "button";
      invite.className = "invite";
      invite.textContent = "Invite";
      // Nobody can invite a visitor whose page cannot receive it (no socket, no polling loader).
      invite.disabled = v.chatting || v.invitation === "pending" || v.reachability === "none";
      if (v.reachability === "none") invite.title = "This visitor's page has no live connection to Beckon";
      invite.addEventListener("click", function () { openInvite(v); });
      const trail = document.createElement("a");
      trail.className = "trail";
      trail.href = "/console/sites/" + encodeURIComponent(siteId) + "/visitors/" + encodeURIComponent(v.id);
      trail.textContent = "Trail";
      actions.append(invite, " ", trail);
      if (v.conversation_id) {
        // Straight to the chat (an accepted invitation's, or one the visitor started).
        const chat = document.createElement("a");
        chat.className = "open-chat";
        chat.href = "/console/chats#" + encodeURIComponent(v.conversation_id);
        chat.textContent = "Open chat";
        actions.append(" ", chat);
      }
      fragment.appendChild(tr);
    });
    tbody.replaceChildren(fragment);
    const first = total === 0 ? 0 : offset + 1;
    info.textContent = first + "–" + Math.min(offset + limit, total) + " of " + total;
    document.getElementById("page-prev").disabled = offset === 0;
    document.getElementById("page-next").disabled = offset + limit >= total;
  }

  function openInvite(v) {
    inviteTarget = v.id;
    document.getElementById("invite-who").textContent = v.display_name || v.guest_id;
    inviteForm.reset();
    if (dialog.showModal) dialog.showModal();
  }

  dialog.addEventListener("close", function () {
    if (dialog.returnValue === "send" && inviteTarget) {
      send({ type: "invite", visitor_id: inviteTarget, message: inviteForm.elements.message.value });
    }
    inviteTarget = null;
  });

  filters.addEventListener("input", function () { offset = 0; watch(); });
  filters.addEventListener("submit", function (e) { e.preventDefault(); });
  // "Clear filters" resets the form; the fields change only after the event, so watch on the next turn.
  filters.addEventListener("reset", function () { setTimeout(function () { offset = 0; watch(); }, 0); });
  document.getElementById("page-prev").addEventListener("click", function () { offset = Math.max(0, offset - limit); watch(); });
  document.getElementById("page-next").addEventListener("click", function () { offset += limit; watch(); });
  setInterval(function () {
    tbody.querySelectorAll("[data-since]").forEach(function (td) { td.textContent = duration(Number(td.dataset.since)); });
  }, 1000);
  connect();
}

/** A colour as the picker takes it: "#abc" becomes "#aabbcc"; null for anything but #rgb or #rrggbb. */
export function fullHex(text) {
  const t = String(text).trim().toLowerCase();
  if (/^#[0-9a-f]{6}$/.test(t)) return t;
  if (/^#[0-9a-f]{3}$/.test(t)) return "#" + t[1] + t[1] + t[2] + t[2] + t[3] + t[3];
  return null;
}

/** Keeps a `[data-colour-sync]` box's colour picker and hex field on one value (the field is what the
 * form sends; the server checks it). A half-typed hex leaves the picker where it was. */
export function colourSync(box) {
  const picker = box.querySelector("input[type=color]");
  const hex = box.querySelector("input.hex");
  if (!picker || !hex) return;
  picker.addEventListener("input", function () { hex.value = picker.value; });
  hex.addEventListener("input", function () {
    const full = fullHex(hex.value);
    if (full) picker.value = full;
  });
}

if (typeof document !== "undefined") document.querySelectorAll("[data-colour-sync]").forEach(colourSync);
