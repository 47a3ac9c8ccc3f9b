// Networking: the guest API, signed identification and the page-view beacon.
//
// Requests carry a string body, which the browser sends as text/plain, and no credentials, so it sends them
// cross-origin without a CORS preflight (docs/protocol.md, "Guest API").
function post(path, data, keepalive) {
  return W.fetch(H + path, {
    method: "POST",
    credentials: "omit",
    keepalive: !!keepalive,
    body: JSON.stringify(data)
  });
}

// Asks the server for a guest, presenting the stored token if there is one; the server answers with the
// same guest for a live token and a new one otherwise. Resolves once the guest is stored.
function obtainGuest() {
  var known = readGuest();
  return post("/api/v1/visitors", { site_key: K, token: known && known.t || null })
    .then(function (res) {
      if (!res.ok) throw res.status;
      return res.json();
    })
    .then(function (body) {
      saveGuest({ g: body.guest_id, t: body.token });
    });
}

// What the host page last passed to `Beckon.identify`: {id, name, email, ts, signature}, signed by the
// site's server with the site's identity secret.
var identity = null;

// Vouches for the host page's signed-in user, once this page has a guest: called by `Beckon.identify` and
// for every guest the server hands out (`run`). A refused signature (403) leaves the guest anonymous, and
// any failure is ignored.
var identify = guard(function () {
  var who = identity;
  if (guest && who)
    post("/api/v1/identify", {
      site_key: K,
      token: guest.t,
      id: who.id,
      name: who.name,
      email: who.email,
      ts: who.ts,
      signature: who.signature
    }).catch(noop);
});

// Reports a page view. The server takes at most 8 KiB, so long values are cut.
function beacon(url, referrer) {
  var body = {
    k: K,
    t: guest.t,
    u: url.slice(0, 2048),
    ti: D.title.slice(0, 512),
    r: referrer.slice(0, 2048)
  };
  try {
    // A string body goes out as text/plain; sendBeacon answers false when it could not queue it.
    if (navigator.sendBeacon(H + "/api/v1/beacon", JSON.stringify(body))) return;
  } catch (e) {}
  post("/api/v1/beacon", body, 1).catch(noop);
}
