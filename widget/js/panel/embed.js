// The panel's surroundings: the loader on the host page (embed mode), whether the visitor can see the
// panel, read receipts, the unread count and the sound for a new operator message.
//
// postMessage protocol with the loader (the parent window), which checks our origin and window:
//   panel -> parent: {type: "beckon:ready"}, {type: "beckon:unread", count}, {type: "beckon:close"},
//                    {type: "beckon:conversation", id}, {type: "beckon:expired"}
//   parent -> panel: {type: "beckon:init", token, guest_id}, {type: "beckon:visible", open, focus}
// Escape in the panel asks the loader to close it (`beckon:close`); the loader then puts the focus back on
// its launcher.
// We cannot know the host page's origin, so we post with "*" and never post anything secret; we accept
// messages only from our parent window.
var parentOpen = !EMBED, heardParent = false, lastUnread = -1, toldConversation, audio = null;

function post(message) {
  if (!EMBED) return;
  try {
    W.parent.postMessage(message, "*");
  } catch (e) {}
}

// Whether the visitor can see the conversation now.
function visible() {
  return D.visibilityState == "visible" && parentOpen;
}

// Tells the server what the visitor has seen (the highest seq displayed) while they can see it, then
// updates the unread count.
function markRead() {
  var top = 0;
  messages.forEach(function (m) {
    if (m.seq > top) top = m.seq;
  });
  if (visible() && conv.id && top > conv.read && send({ type: "read", conversation_id: conv.id, seq: top })) {
    conv.read = top;
    persist();
  }
  updateUnread();
}

// Operator messages not yet seen: on the launcher's badge (embed) or in the tab's title (page).
function updateUnread() {
  var count = 0;
  messages.forEach(function (m) {
    if (m.sender == "operator" && m.seq > conv.read) count++;
  });
  if (count == lastUnread) return;
  lastUnread = count;
  if (EMBED) post({ type: "beckon:unread", count: count });
  else D.title = (count ? "(" + count + ") " : "") + (CFG.site_name || "");
}

// Lets the loader know whether a conversation is going on, so that on the next page it brings the panel
// back at once (without waiting for a click) and unread messages still get counted.
function tellConversation() {
  var id = conv.status == "closed" ? null : conv.id;
  if (id === toldConversation) return;
  toldConversation = id;
  post({ type: "beckon:conversation", id: id });
}

// A short beep through WebAudio (no audio file). Browsers allow sound only after the visitor has
// interacted with the panel (`unlockSound` creates the audio context then); before that there is none.
function beep() {
  if (!audio) return;
  try {
    if (audio.state == "suspended") audio.resume().catch(noop);
    var now = audio.currentTime, tone = audio.createOscillator(), volume = audio.createGain();
    tone.frequency.value = 880;
    volume.gain.setValueAtTime(0.0001, now);
    volume.gain.exponentialRampToValueAtTime(0.2, now + 0.02);
    volume.gain.exponentialRampToValueAtTime(0.0001, now + 0.3);
    tone.connect(volume);
    volume.connect(audio.destination);
    tone.start(now);
    tone.stop(now + 0.32);
  } catch (e) {}
}

// A click or key in the panel allows sound from then on: create (or wake) the audio context then.
function unlockSound() {
  try {
    audio = audio || new (W.AudioContext || W.webkitAudioContext)();
    audio.resume().catch(noop);
  } catch (e) {}
}

function listen() {
  W.addEventListener("message", guard(function (event) {
    if (!EMBED || event.source != W.parent) return;
    var data = event.data || {};
    if (data.type == "beckon:init") adoptParentGuest(data);
    else if (data.type == "beckon:visible") {
      heardParent = true;
      parentOpen = !!data.open;
      // The visitor opened the panel (launcher, keyboard, "Chat now"): the caret goes where they write,
      // except on a phone, where a keyboard popping up would cover the conversation.
      if (parentOpen && data.focus && W.screen.width > 480) focusField();
      markRead();
    }
  }));
  D.addEventListener("visibilitychange", guard(markRead));
  D.addEventListener("pointerdown", guard(unlockSound), { once: true });
  D.addEventListener("keydown", guard(unlockSound), { once: true });
  D.addEventListener("keydown", guard(function (event) {
    if (event.key == "Escape" && !event.defaultPrevented) post({ type: "beckon:close" });
  }));
}

// The composer, or the leave-a-message text when no one can answer.
function focusField() {
  (view.leave.hidden ? view.input : view.leaveText).focus();
}
