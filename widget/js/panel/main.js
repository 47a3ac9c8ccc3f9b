// Entry: build the panel, take up the stored conversation, then connect. In embed mode the loader hands
// over its guest (`beckon:init`) after our `beckon:ready`; without it within 3 s (no loader, or it has no
// guest yet) we get one ourselves and behave as if open.
function start() {
  buildView();
  restore();
  view.name.value = conv.name;
  showStatus();
  listen();
  W.__beckonPanel = {
    // For browser tests: what the panel holds and shows.
    state: function () {
      return {
        conversationId: conv.id,
        status: conv.status,
        messages: messages.map(function (m) {
          return {
            seq: m.seq || null,
            client_msg_id: m.client_msg_id,
            kind: m.kind,
            body: m.body,
            status: m.status,
            sender: m.sender
          };
        }),
        errors: errors.slice(),
        // Availability and leave-a-message (offline.js): "chat" | "offline" | "sent", and what is typed.
        mode: mode,
        siteOnline: siteOnline,
        composerText: view.input.value,
        formText: view.leaveText.value,
        formError: view.leaveError.textContent
      };
    }
  };
  tellConversation();
  updateUnread();
  if (EMBED) {
    post({ type: "beckon:ready" });
    later("connect", function () {
      if (!heardParent) parentOpen = true;
      run();
    }, 3000);
  } else run();
}

guard(start)();
