// Tests of console.js's availability control under Node (run by tests/console_js.rs): the protocol core
// (createAvailability) and its binding to the header markup, in a tiny fake DOM.
// Usage: node availability.mjs ./console.mjs
import assert from "node:assert/strict";

const { createAvailability, availabilityControl, availabilityText, ACTIVITY_EVERY_MS } = await import(process.argv[2]);

function harness() {
  const sent = [];
  let open = true;
  let now = 1000000;
  const core = createAvailability({
    send: function (m) { if (open) sent.push(m); return open; },
    now: function () { return now; },
  });
  return {
    core: core, sent: sent,
    setOpen: function (v) { open = v; },
    tick: function (ms) { now += ms; },
    take: function () { return sent.splice(0, sent.length); },
  };
}

// Just enough DOM for availabilityControl: elements by id, `closest`, dataset, listeners.
function fakeDom() {
  const windowListeners = {};
  globalThis.window = {
    addEventListener: function (type, fn, options) { (windowListeners[type] = windowListeners[type] || []).push({ fn, options }); },
  };
  const node = function (id) {
    return { id: id, hidden: false, value: "", textContent: "", dataset: {}, listeners: {},
      addEventListener: function (type, fn) { (this.listeners[type] = this.listeners[type] || []).push(fn); } };
  };
  const box = node("box");
  box.hidden = true;
  const select = node("beckon-availability");
  select.value = "available";
  select.closest = function (selector) { return selector === "[data-availability]" ? box : null; };
  const state = node("availability-state");
  state.dataset.status = "offline";
  const text = node("availability-text");
  text.textContent = "Offline";
  const byId = { "beckon-availability": select, "availability-state": state, "availability-text": text };
  globalThis.document = { getElementById: function (id) { return byId[id] || null; } };
  const fire = function (type) { (windowListeners[type] || []).forEach(function (l) { l.fn({ type: type }); }); };
  return { box, select, state, text, windowListeners, fire };
}

const tests = {
  "the effective status as text"() {
    assert.equal(availabilityText("available", "available"), "Available");
    assert.equal(availabilityText("away", "away"), "Away");
    assert.equal(availabilityText("away", "available"), "Away (inactive)");
    assert.equal(availabilityText("offline", "available"), "Offline");
    assert.equal(availabilityText("bogus", "away"), "Offline");
  },

  "choosing sends set_availability, only with a known status"() {
    const h = harness();
    assert.equal(h.core.choose("away"), true);
    assert.equal(h.core.choose("available"), true);
    assert.equal(h.core.choose("offline"), false);
    assert.equal(h.core.choose("<b>"), false);
    assert.deepEqual(h.take(), [{ type: "set_availability", status: "away" }, { type: "set_availability", status: "available" }]);
    h.setOpen(false);
    assert.equal(h.core.choose("away"), false, "socket down: not sent");
  },

  "activity goes out at most once every 30 s, and again as soon as the socket takes it"() {
    const h = harness();
    assert.equal(ACTIVITY_EVERY_MS, 30000);
    assert.equal(h.core.activity(), true);
    h.tick(1);
    assert.equal(h.core.activity(), false);
    h.tick(29998);
    assert.equal(h.core.activity(), false);
    h.tick(1);
    assert.equal(h.core.activity(), true);
    assert.deepEqual(h.take(), [{ type: "activity" }, { type: "activity" }]);
    h.tick(30000);
    h.setOpen(false);
    assert.equal(h.core.activity(), false);
    h.setOpen(true);
    h.tick(10);
    assert.equal(h.core.activity(), true, "a lost one does not count");
    assert.deepEqual(h.take(), [{ type: "activity" }]);
  },

  "the server's availability event is the state"() {
    const h = harness();
    assert.equal(h.core.state, null);
    assert.equal(h.core.handle({ type: "conversation" }), false);
    assert.equal(h.core.handle({ type: "availability", status: "away", chosen: "available" }), true);
    assert.deepEqual(h.core.state, { status: "away", chosen: "available", text: "Away (inactive)" });
    h.core.handle({ type: "availability", status: "weird", chosen: "weird" });
    assert.deepEqual(h.core.state, { status: "offline", chosen: "available", text: "Offline" });
  },

  "the header control: shown, sends the choice and activity, follows the server"() {
    const dom = fakeDom();
    const sent = [];
    let open = true;
    const control = availabilityControl(function (m) { if (open) sent.push(m); return open; });
    assert.equal(dom.box.hidden, false, "revealed once a socket holds it");
    for (const type of ["keydown", "mousedown", "pointermove", "focus"]) {
      assert.equal(dom.windowListeners[type].length, 1, type);
      assert.equal(dom.windowListeners[type][0].options.capture, true, type + " in the capture phase (focus does not bubble)");
    }
    dom.fire("pointermove");
    dom.fire("keydown");
    assert.deepEqual(sent.splice(0), [{ type: "activity" }], "throttled");

    assert.equal(control.handle({ type: "availability", status: "available", chosen: "available" }), true);
    assert.equal(dom.select.value, "available");
    assert.equal(dom.state.dataset.status, "available");
    assert.equal(dom.text.textContent, "Available");

    dom.select.value = "away";
    dom.select.listeners.change.forEach(function (fn) { fn(); });
    assert.deepEqual(sent.splice(0), [{ type: "set_availability", status: "away" }]);
    control.handle({ type: "availability", status: "away", chosen: "away" });
    assert.equal(dom.text.textContent, "Away");
    assert.equal(dom.state.dataset.status, "away");

    control.handle({ type: "availability", status: "away", chosen: "available" });
    assert.equal(dom.select.value, "available");
    assert.equal(dom.text.textContent, "Away (inactive)");

    // Socket down: the select goes back to what the server knows.
    open = false;
    dom.select.value = "away";
    dom.select.listeners.change.forEach(function (fn) { fn(); });
    assert.equal(dom.select.value, "available");
    assert.equal(control.handle({ type: "snapshot" }), false);
  },

  "without the header control (signed out) it still recognises the event"() {
    globalThis.document = { getElementById: function () { return null; } };
    const control = availabilityControl(function () { return true; });
    assert.equal(control.handle({ type: "availability", status: "away", chosen: "away" }), true);
    assert.equal(control.handle({ type: "visitors" }), false);
  },
};

let failed = 0;
for (const [name, test] of Object.entries(tests)) {
  try {
    test();
    console.log("ok   " + name);
  } catch (e) {
    failed += 1;
    console.log("FAIL " + name + "\n" + e.stack);
  }
}
if (failed > 0) {
  console.log(failed + " failed");
  process.exit(1);
}
