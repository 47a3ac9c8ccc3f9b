// Configuration, storage and small helpers.
//
// The server embeds the config as JSON in <script type="application/json" id="beckon-config"> (see
// `panel_page` in src/panel.rs): {site_key, base_url, mode: "embed"|"page", handle, site_name,
// operator_name, colour, position, typing_preview, sign_in_url, online, guest_calls, texts: {greeting,
// offline}}. With typing_preview true (the site's choice) the guest is told so, and `typing` notices
// carry what the guest has typed so far. `online` false opens the panel on leave-a-message (offline.js).
// guest_calls true lets the guest start calls (calls.js); operators can always call.
// Every file of the panel shares this one function scope (build.rs wraps them in a single function), so
// these names are visible to all of them.
var W = window, D = document;
var CFG = JSON.parse(D.getElementById("beckon-config").textContent);
var KEY = CFG.site_key;
// In the loader's iframe, and with a parent page to talk to.
var EMBED = CFG.mode == "embed" && W.parent != W;
var GUEST_KEY = "beckon:" + KEY, CONV_KEY = "beckon:conv:" + KEY;
var PREVIEW = CFG.typing_preview === true;

// Copies of what was stored, for when localStorage is blocked (third-party frames in some browsers).
var memory = {};

// The last few errors a guarded callback swallowed, for the test hook (`__beckonPanel.state().errors`).
var errors = [];

function noop() {}

// Wraps a callback so that nothing it does escapes as an uncaught error.
function guard(fn) {
  return function () {
    try {
      return fn.apply(this, arguments);
    } catch (e) {
      errors.push(String((e && e.stack) || e));
      errors.splice(0, errors.length - 5);
    }
  };
}

// The stored value of `key` (parsed JSON), or null.
function load(key) {
  try {
    var text = W.localStorage.getItem(key);
    if (text != null) return JSON.parse(text);
  } catch (e) {}
  return key in memory ? JSON.parse(memory[key]) : null;
}

// Stores `value` as JSON under `key`, or with null removes it; in memory always, in storage when allowed.
function save(key, value) {
  var text = value == null ? null : JSON.stringify(value);
  try {
    if (text == null) W.localStorage.removeItem(key);
    else W.localStorage.setItem(key, text);
  } catch (e) {}
  if (text == null) delete memory[key];
  else memory[key] = text;
}

// A random RFC 4122 version 4 id. crypto.randomUUID needs a secure context, so plain-http installs use
// getRandomValues, and only a browser without either falls back to Math.random.
function uuid() {
  try {
    return W.crypto.randomUUID();
  } catch (e) {}
  var bytes = [], hex = "";
  try {
    bytes = Array.prototype.slice.call(W.crypto.getRandomValues(new Uint8Array(16)));
  } catch (e) {
    for (var i = 0; i < 16; i++) bytes.push(Math.floor(Math.random() * 256));
  }
  bytes[6] = (bytes[6] & 15) | 64;
  bytes[8] = (bytes[8] & 63) | 128;
  for (var j = 0; j < 16; j++) {
    hex += (bytes[j] + 256).toString(16).slice(1);
    if (j == 3 || j == 5 || j == 7 || j == 9) hex += "-";
  }
  return hex;
}

// Named timers: `later(name, fn, ms)` replaces any pending timer of that name, `cancel(name)` drops it.
var timers = {};

function later(name, fn, delay) {
  clearTimeout(timers[name]);
  timers[name] = setTimeout(guard(fn), delay);
}

function cancel(name) {
  clearTimeout(timers[name]);
}
