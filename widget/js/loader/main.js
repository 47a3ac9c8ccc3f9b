// Entry: the public `window.Beckon` API, then start-up. Runs once per page however often it is included.

// Set by `Beckon.identify`. Placeholder: signed identification ({id, name, email, ts, signature}) arrives
// with a later issue; until then the object is only kept here for it.
var identity = null;

var api = {
  // Opens the chat panel (creating it the first time).
  open: guard(function () {
    showPanel(true);
  }),
  // Keeps the visitor's identity for the identify feature (see `identity`). Never throws.
  identify: function (who) {
    identity = who;
  }
};

try {
  if (!W.__beckonLoaded && W.fetch && W.WebSocket && D.documentElement.attachShadow) {
    W.__beckonLoaded = 1;
    // Calls queued before the loader arrived: `Beckon = Beckon || []; Beckon.push(["identify", {...}])`.
    var queued = W.Beckon;
    W.Beckon = api;
    if (queued && queued.length) {
      for (var i = 0; i < queued.length; i++) {
        try {
          api[queued[i][0]].apply(api, [].slice.call(queued[i], 1));
        } catch (e) {}
      }
    }
    if (D.body) mount();
    else D.addEventListener("DOMContentLoaded", guard(mount));
    watchNavigation();
    run();
  }
} catch (e) {}
