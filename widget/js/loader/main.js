// Entry: the public `window.Beckon` API, then start-up. Runs once per page however often it is included.
// Neither method throws into the host page.
var api = {
  // Opens the chat panel (creating it the first time) and moves the focus into it.
  open: guard(function () {
    showPanel(1, 1);
  }),
  // `Beckon.identify({id, name, email, ts, signature})`: vouches for the site's signed-in user, now or as
  // soon as this page has a guest (see `identify`).
  identify: guard(function (who) {
    identity = who;
    identify();
  })
};

try {
  if (!W.__beckonLoaded && W.fetch && W.WebSocket && D.documentElement.attachShadow) {
    W.__beckonLoaded = 1;
    // Calls queued before the loader arrived: `Beckon = Beckon || []; Beckon.push(["identify", {...}])`.
    var queued = W.Beckon;
    W.Beckon = api;
    [].forEach.call(queued || [], guard(function (call) {
      api[call[0]].apply(api, [].slice.call(call, 1));
    }));
    // Nothing is mounted before the server gave this page a guest (`run`), so a refused origin shows nothing.
    D.addEventListener("DOMContentLoaded", guard(mount));
    watchNavigation();
    run();
  }
} catch (e) {}
