// Configuration and guest storage.
//
// `c` is the config object the server appends when it serves /w/SITE_KEY.js: {k: site key, h: base URL
// without a trailing slash, and optionally c: accent colour (`#rgb`/`#rrggbb`) and p: "left" for the
// bottom-left corner}; the server validates `c` and `p` (`loader_script_with` in src/lib.rs). Every file of
// the loader shares this one function scope (build.rs wraps them in a single IIFE), so these names are
// visible to all of them.
var W = window, D = document, C = c || {}, K = C.k, H = C.h, STORE = "beckon:" + K;

// The guest this page has confirmed with the server ({g: guest id, t: token}); null until then.
var guest = null;

// Copy of the stored guest for when localStorage is blocked (private modes, sandboxed frames).
var memo = null;

function noop() {}

// Wraps a callback so nothing it does can throw into the host page (or its error tracker).
function guard(fn) {
  return function () {
    try {
      return fn.apply(this, arguments);
    } catch (e) {}
  };
}

// Reads (`value` undefined), writes, or with a null `value` removes an item of `W[area]` (localStorage or
// sessionStorage); storage may be blocked (private modes, sandboxed frames), which reads as nothing.
function store(area, key, value) {
  try {
    area = W[area];
    if (value === undefined) return area.getItem(key);
    if (value == null) area.removeItem(key);
    else area.setItem(key, value);
  } catch (e) {}
}

// The guest remembered from an earlier page of this site, or null.
function readGuest() {
  try {
    return JSON.parse(store("localStorage", STORE)) || memo;
  } catch (e) {
    return memo;
  }
}

// Remembers (or, with null, forgets) the guest, in storage when allowed and in memory always.
function saveGuest(value) {
  guest = memo = value;
  store("localStorage", STORE, value && JSON.stringify(value));
}
