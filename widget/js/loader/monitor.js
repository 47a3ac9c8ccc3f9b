// Page monitor: one beacon per page view, single-page-app navigation included.
var lastUrl = null, lastReferrer = "";

// Sends a beacon when the address changed since the last one (or always, with `again`, after the server
// handed out a new guest). On an in-page navigation the previous address is the referrer.
function pageView(again) {
  var url = location.href;
  if (!guest || (url == lastUrl && !again)) return;
  if (url != lastUrl) {
    lastReferrer = lastUrl == null ? D.referrer : lastUrl;
    lastUrl = url;
  }
  beacon(url, lastReferrer);
}

// Single-page apps change the address with the History API; wrap it so those page views count too. The
// check runs a moment later so that a title the app sets right after navigating is the one reported.
// (Every browser with shadow DOM has both methods.)
function watchNavigation() {
  var hist = W.history, later = guard(function () {
    setTimeout(guard(function () {
      remount();
      pageView();
    }), 0);
  });
  ["pushState", "replaceState"].forEach(function (method) {
    var original = hist[method];
    hist[method] = function () {
      var result = original.apply(this, arguments);
      later();
      return result;
    };
  });
  W.addEventListener("popstate", later);
  W.addEventListener("hashchange", later);
  // A page restored from the back/forward cache is being viewed again.
  W.addEventListener("pageshow", guard(function (event) {
    if (event.persisted) pageView(1);
  }));
}
