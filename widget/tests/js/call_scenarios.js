// Runs the call module (call.min.js, read from stdin) in the fake browser with a fake WebRTC, and checks
// its desk and call area against docs/protocol.md, "Calls": who sends what, tab pinning, perfect
// negotiation's roles, errors. Usage: node call_scenarios.js SCENARIO < call.min.js. Real media and
// real peer connections are the browser tests' part.
"use strict";

const assert = require("node:assert/strict");
const fs = require("node:fs");
const vm = require("node:vm");
const fake = require("./fake_browser.js");
const { settle, advance, clock, FakeNode } = fake;

const source = fs.readFileSync(0, "utf8");
Date.now = () => clock.now;

// Media: tracks, streams, devices. `media.deny` makes the next getUserMedia fail with that error name.
class FakeTrack {
  constructor(kind, label) {
    this.kind = kind;
    this.label = label;
    this.enabled = true;
    this.stopped = false;
  }
  stop() {
    this.stopped = true;
  }
  getSettings() {
    return { deviceId: this.label };
  }
}
class FakeStream {
  constructor(tracks) {
    this.tracks = (tracks || []).slice();
  }
  getTracks() {
    return this.tracks.slice();
  }
  getAudioTracks() {
    return this.tracks.filter((t) => t.kind === "audio");
  }
  getVideoTracks() {
    return this.tracks.filter((t) => t.kind === "video");
  }
  addTrack(t) {
    this.tracks.push(t);
  }
  removeTrack(t) {
    this.tracks = this.tracks.filter((x) => x !== t);
  }
}
globalThis.MediaStream = FakeStream;
FakeNode.prototype.play = function () {
  this.playing = true;
  return Promise.resolve();
};

const media = { asked: [], deny: null, noCamera: false, cameras: ["cam-front", "cam-back"], tracks: [] };
navigator.mediaDevices = {
  getUserMedia(constraints) {
    media.asked.push(JSON.parse(JSON.stringify(constraints)));
    if (media.deny) {
      const error = new Error("refused");
      error.name = media.deny;
      media.deny = null;
      return Promise.reject(error);
    }
    if (constraints.video && media.noCamera) {
      const error = new Error("no camera");
      error.name = "NotFoundError";
      return Promise.reject(error);
    }
    const tracks = [];
    if (constraints.audio) tracks.push(new FakeTrack("audio", "mic"));
    if (constraints.video) tracks.push(new FakeTrack("video", (constraints.video.deviceId || {}).exact || "cam-front"));
    media.tracks.push(...tracks);
    return Promise.resolve(new FakeStream(tracks));
  },
  enumerateDevices() {
    return Promise.resolve(media.cameras.map((id) => ({ kind: "videoinput", deviceId: id })).concat([{ kind: "audioinput", deviceId: "mic" }]));
  },
  getDisplayMedia() {
    const track = new FakeTrack("video", "screen");
    media.tracks.push(track);
    return Promise.resolve(new FakeStream([track]));
  },
};

// A peer connection that records what the desk does with it. Descriptions apply at once; adding a track
// outside an offer being answered asks for negotiation, as a browser would.
const pcs = [];
class FakePC {
  constructor(config) {
    this.config = config;
    this.signalingState = "stable";
    this.iceConnectionState = "new";
    this.transceivers = [];
    this.candidates = [];
    this.closed = false;
    this.localDescription = null;
    pcs.push(this);
  }
  getConfiguration() {
    return this.config;
  }
  addTrack(track) {
    let t = this.transceivers.find((x) => x.receiver.track.kind === track.kind && !x.sender.track);
    if (!t) {
      t = { sender: null, receiver: { track: { kind: track.kind } }, direction: "sendrecv" };
      t.sender = { track: null, replaceTrack: (x) => ((t.sender.track = x), Promise.resolve()), setStreams() {} };
      this.transceivers.push(t);
    }
    t.sender.track = track;
    if (this.signalingState === "stable") Promise.resolve().then(() => this.onnegotiationneeded && this.onnegotiationneeded());
    return t.sender;
  }
  getTransceivers() {
    return this.transceivers;
  }
  setLocalDescription() {
    const type = this.signalingState === "have-remote-offer" ? "answer" : "offer";
    this.localDescription = { type, sdp: "sdp-" + type + "-" + pcs.indexOf(this) };
    this.signalingState = type === "offer" ? "have-local-offer" : "stable";
    return Promise.resolve();
  }
  setRemoteDescription(d) {
    this.remoteDescription = d;
    this.signalingState = d.type === "offer" ? "have-remote-offer" : "stable";
    // The other side's offer opens a transceiver for each kind it sends.
    if (d.type === "offer" && !this.transceivers.length) {
      ["audio", "video"].forEach((kind) => {
        const t = { receiver: { track: { kind } }, direction: "recvonly" };
        t.sender = { track: null, replaceTrack: (x) => ((t.sender.track = x), Promise.resolve()), setStreams() {} };
        this.transceivers.push(t);
      });
    }
    return Promise.resolve();
  }
  addIceCandidate(c) {
    this.candidates.push(c);
    return Promise.resolve();
  }
  close() {
    this.closed = true;
  }
  // Test helper: ICE reaches a state.
  ice(state) {
    this.iceConnectionState = state;
    this.oniceconnectionstatechange();
  }
}
globalThis.RTCPeerConnection = FakePC;

vm.runInThisContext(source);
const B = window.BeckonCall;
assert.ok(B && B.supported(), "supported with RTCPeerConnection and getUserMedia");

const TEXTS = new Proxy({}, { get: (_, key) => String(key) + "({{name}})" });

// A desk for one side with its call area, recording what it sends.
function desk(role, tab, send) {
  const sent = [];
  const into = document.body.appendChild(new FakeNode("div"));
  let bar = null;
  const d = B.desk({
    role,
    tab,
    send: send || ((m) => (sent.push(JSON.parse(JSON.stringify(m))), true)),
    changed: () => bar && bar.render(),
  });
  bar = B.bar(d, { into, texts: TEXTS, name: () => (role === "guest" ? "Ann" : "Zoë") });
  const node = (id) => into.querySelector("#" + id);
  return {
    d,
    sent,
    take: () => sent.splice(0, sent.length),
    node,
    state: () => node("beckon-call").getAttribute("data-call-state"),
    shown: (id) => !node(id).hidden,
  };
}

function call(state, extra) {
  return Object.assign(
    {
      type: "call",
      call_id: "k1",
      conversation_id: "c1",
      media: "video",
      caller: "operator",
      caller_name: "Ann",
      state,
      guest_tab: null,
      operator_tab: "op-tab",
      outcome: null,
      ended_by: null,
      started_ms: 1,
      answered_ms: null,
      ring_secs: 30,
      ice_servers: state === "ended" ? [] : [{ urls: ["turn:turn.example:3478"], username: "9:k1", credential: "c" }],
    },
    extra || {}
  );
}

async function guestAnswers() {
  const g = desk("guest", "g-tab");
  assert.equal(g.state(), "idle");
  assert.ok(g.node("beckon-call").hidden, "nothing shows without a call");

  g.d.handle(call("ringing"));
  assert.equal(g.state(), "incoming");
  assert.ok(g.shown("beckon-call-accept") && g.shown("beckon-call-decline") && !g.shown("beckon-call-hangup"));
  assert.equal(g.node("beckon-call-status").textContent, "incomingVideo(Ann)");
  assert.equal(g.node("beckon-call").getAttribute("data-call-media"), "video");

  g.node("beckon-call-accept").click();
  await settle();
  assert.deepEqual(media.asked.pop(), { audio: true, video: { facingMode: "user" } });
  assert.deepEqual(g.take(), [{ type: "call", action: "accept", call_id: "k1", tab: "g-tab" }]);
  assert.equal(g.state(), "connecting");
  assert.equal(pcs.length, 0, "no peer connection before the call is active");
  assert.equal(window.beckonCall.pc, null);

  // Active on our tab: the connection, with the call's ICE servers; the operator (impolite) offers.
  g.d.handle(call("active", { guest_tab: "g-tab", answered_ms: 2 }));
  const pc = pcs[0];
  assert.equal(window.beckonCall.pc, pc, "the test hook is the running call");
  assert.deepEqual(pc.config, { iceServers: call("active").ice_servers, iceTransportPolicy: "all" });
  assert.deepEqual(g.take(), [{ type: "call_signal", call_id: "k1", kind: "media", media: { audio: true, video: true, screen: false } }]);
  assert.equal(pc.transceivers.length, 0, "the callee adds its tracks on the offer's transceivers");

  g.d.handle({ type: "call_signal", call_id: "k1", conversation_id: "c1", from: "operator", kind: "offer", sdp: "their-offer" });
  g.d.handle({ type: "call_signal", call_id: "k1", conversation_id: "c1", from: "operator", kind: "candidate", candidate: { candidate: "candidate:1 1 udp 1 1.2.3.4 5 typ host", sdpMid: "0", sdpMLineIndex: 0 } });
  await settle();
  assert.deepEqual(pc.remoteDescription, { type: "offer", sdp: "their-offer" });
  assert.deepEqual(g.take(), [{ type: "call_signal", call_id: "k1", kind: "answer", sdp: "sdp-answer-0" }]);
  assert.deepEqual(pc.transceivers.map((t) => [t.receiver.track.kind, t.sender.track && t.sender.track.kind]), [["audio", "audio"], ["video", "video"]]);
  assert.equal(pc.candidates[0].candidate, "candidate:1 1 udp 1 1.2.3.4 5 typ host");

  // Our candidates go out; the end of candidates is an empty one.
  pc.onicecandidate({ candidate: { candidate: "candidate:2", sdpMid: "0", sdpMLineIndex: 0 } });
  pc.onicecandidate({ candidate: null });
  assert.deepEqual(g.take(), [
    { kind: "candidate", candidate: { candidate: "candidate:2", sdpMid: "0", sdpMLineIndex: 0 }, type: "call_signal", call_id: "k1" },
    { kind: "candidate", candidate: { candidate: "", sdpMid: null, sdpMLineIndex: null }, type: "call_signal", call_id: "k1" },
  ]);

  pc.ice("connected");
  assert.equal(g.state(), "active");
  assert.ok(g.shown("beckon-call-hangup") && g.shown("beckon-call-mute") && g.shown("beckon-call-camera"));
  assert.ok(g.shown("beckon-call-switch"), "two cameras: switching is offered");
  assert.equal(g.node("beckon-call-status").textContent, "0:00");
  advance(65000);
  assert.equal(g.node("beckon-call-status").textContent, "1:05", "the timer ticks");

  // What the operator sends shows; our own switches go out as `media`.
  g.d.handle({ type: "call_signal", call_id: "k1", conversation_id: "c1", from: "operator", kind: "media", media: { audio: false, video: true, screen: true } });
  assert.equal(g.node("beckon-call-status").textContent, "1:05 · remoteMuted(Ann) · remoteSharing(Ann)");
  g.node("beckon-call-mute").click();
  assert.deepEqual(g.take(), [{ type: "call_signal", call_id: "k1", kind: "media", media: { audio: false, video: true, screen: false } }]);
  assert.equal(g.node("beckon-call-mute").getAttribute("data-state"), "muted");
  assert.equal(g.node("beckon-call-mute").title, "unmute({{name}})");
  assert.equal(pc.transceivers[0].sender.track.enabled, false);

  // Camera off stops it (and sends nothing); switching opens the other camera.
  const front = pc.transceivers[1].sender.track;
  g.node("beckon-call-camera").click();
  await settle();
  assert.ok(front.stopped);
  assert.equal(pc.transceivers[1].sender.track, null);
  assert.equal(g.node("beckon-call-camera").getAttribute("data-state"), "off");
  g.node("beckon-call-camera").click();
  await settle();
  assert.equal(pc.transceivers[1].sender.track.label, "cam-front");
  g.node("beckon-call-switch").click();
  await settle();
  await settle();
  assert.equal(pc.transceivers[1].sender.track.label, "cam-back");
  assert.deepEqual(media.asked.pop(), { video: { deviceId: { exact: "cam-back" } } });

  // Sharing the screen replaces the camera; its end brings the camera back.
  g.take();
  g.node("beckon-call-screen").click();
  await settle();
  const screen = pc.transceivers[1].sender.track;
  assert.equal(screen.label, "screen");
  assert.equal(g.node("beckon-call-screen").getAttribute("data-state"), "sharing");
  assert.deepEqual(g.take().pop().media, { audio: false, video: true, screen: true });
  screen.onended();
  await settle();
  assert.equal(pc.transceivers[1].sender.track.label, "cam-back");

  // Hanging up ends it here at once; the server's `ended` follows.
  g.take();
  g.node("beckon-call-hangup").click();
  assert.deepEqual(g.take(), [{ type: "call", action: "hangup", call_id: "k1", tab: "g-tab" }]);
  assert.ok(pc.closed);
  assert.ok(media.tracks.every((t) => t.stopped), "every track stopped");
  assert.equal(window.beckonCall, null);
  assert.equal(g.state(), "ended");
  g.d.handle(call("ended", { guest_tab: "g-tab", outcome: "completed", ended_by: "guest" }));
  assert.equal(g.node("beckon-call-status").textContent, "ended({{name}})");
  advance(6000);
  assert.equal(g.state(), "idle");
  assert.ok(g.node("beckon-call").hidden);
}

async function operatorCalls() {
  window.BECKON_ICE_POLICY = "relay";
  const o = desk("operator", "op-tab");
  o.d.start("c1", "audio");
  assert.equal(o.state(), "starting");
  await settle();
  assert.deepEqual(media.asked.pop(), { audio: true, video: false });
  assert.deepEqual(o.take(), [{ type: "call", action: "start", conversation_id: "c1", media: "audio", tab: "op-tab" }]);
  assert.equal(o.d.callOf("c1").state, "starting");

  o.d.handle(call("ringing", { media: "audio" }));
  assert.equal(o.state(), "outgoing");
  assert.equal(o.node("beckon-call-status").textContent, "calling(Zoë)");
  assert.ok(o.shown("beckon-call-hangup") && !o.shown("beckon-call-accept"));

  // Active: the caller adds its tracks at once, which makes the offer.
  o.d.handle(call("active", { media: "audio", guest_tab: "g-tab" }));
  const pc = pcs[pcs.length - 1];
  assert.equal(pc.config.iceTransportPolicy, "relay", "window.BECKON_ICE_POLICY forces TURN");
  await settle();
  const out = o.take();
  assert.equal(out[0].kind, "media");
  assert.deepEqual(out[1], { type: "call_signal", call_id: "k1", kind: "offer", sdp: "sdp-offer-" + pcs.indexOf(pc) });
  o.d.handle({ type: "call_signal", call_id: "k1", conversation_id: "c1", from: "guest", kind: "answer", sdp: "their-answer" });
  await settle();
  assert.equal(pc.signalingState, "stable");

  // Impolite: an offer from the guest in the middle of our own is ignored.
  pc.signalingState = "have-local-offer";
  o.d.handle({ type: "call_signal", call_id: "k1", conversation_id: "c1", from: "guest", kind: "offer", sdp: "glare" });
  await settle();
  assert.deepEqual(pc.remoteDescription, { type: "answer", sdp: "their-answer" });
  assert.deepEqual(o.take(), []);
  pc.signalingState = "stable";

  // Sharing the screen in a voice call adds a video track (a new negotiation).
  o.d.share(true);
  await settle();
  await settle();
  assert.equal(pc.transceivers.filter((t) => t.receiver.track.kind === "video").length, 1);
  assert.ok(o.take().some((m) => m.kind === "offer"));

  // ICE fails: hung up, with the reason for the page.
  pc.ice("failed");
  assert.deepEqual(o.take(), [{ type: "call", action: "hangup", call_id: "k1", tab: "op-tab" }]);
  assert.equal(o.d.view().error, "ice_failed");
  assert.equal(o.node("beckon-call-message").textContent, "ice_failed({{name}})");
  assert.ok(!o.node("beckon-call").hidden, "the problem stays in sight");
  delete window.BECKON_ICE_POLICY;
}

async function problems() {
  // Refused microphone: the ringing call is declined and the reason shown; the chat is not touched.
  const g = desk("guest", "g-tab");
  g.d.handle(call("ringing"));
  media.deny = "NotAllowedError";
  g.d.accept("k1");
  await settle();
  assert.deepEqual(g.take(), [{ type: "call", action: "decline", call_id: "k1", tab: "g-tab" }]);
  assert.equal(g.d.view().error, "permission");
  assert.equal(g.node("beckon-call-message").textContent, "permission({{name}})");
  assert.equal(pcs.length, 0);

  // No camera for a video call: voice only, with a note.
  g.d.handle(call("ended", { outcome: "declined", ended_by: "guest" }));
  g.d.handle(call("ringing", { call_id: "k2" }));
  media.noCamera = true;
  g.d.accept("k2");
  await settle();
  await settle();
  assert.deepEqual(g.take(), [{ type: "call", action: "accept", call_id: "k2", tab: "g-tab" }]);
  assert.equal(g.d.view().note, "no_camera");
  assert.deepEqual(g.d.view().local, { audio: true, video: false, screen: false });
  media.noCamera = false;

  // Another of the guest's tabs answered first: this one stops and shows where the call is.
  assert.ok(window.beckonCall);
  g.d.handle(call("active", { call_id: "k2", guest_tab: "other-tab" }));
  assert.equal(g.state(), "elsewhere");
  assert.equal(window.beckonCall, null);
  assert.ok(!g.shown("beckon-call-hangup") && !g.shown("beckon-call-accept"));

  // A reloaded tab: the call is pinned to it but it runs no connection, so it hangs up.
  const again = desk("guest", "other-tab");
  again.d.handle(call("active", { call_id: "k2", guest_tab: "other-tab" }));
  assert.deepEqual(again.take(), [{ type: "call", action: "hangup", call_id: "k2", tab: "other-tab" }]);
  assert.equal(again.state(), "idle");

  // The server refuses our answer (no longer ringing).
  const late = desk("guest", "g4");
  late.d.handle(call("ringing", { call_id: "k3" }));
  late.d.accept("k3");
  await settle();
  late.d.handle({ type: "error", code: "conflict", message: "not ringing" });
  assert.equal(late.d.view().error, "conflict");
  assert.equal(window.beckonCall, null);

  // A refused start (the site does not let guests call).
  const caller = desk("guest", "g3");
  caller.d.start("c1", "audio");
  await settle();
  assert.equal(caller.take()[0].action, "start");
  caller.d.handle({ type: "error", code: "forbidden", message: "no" });
  assert.equal(caller.d.view().error, "forbidden");
  assert.equal(caller.state(), "ended");

  // Socket down: nothing is rung.
  const offline = desk("operator", "o2", () => false);
  offline.d.start("c1", "video");
  await settle();
  assert.equal(offline.d.view().error, "offline");
  assert.ok(media.tracks.every((t) => t.stopped));
}

const scenarios = { guestAnswers, operatorCalls, problems };
const name = process.argv[2];
if (!scenarios[name]) {
  console.error("unknown scenario " + name);
  process.exit(2);
}
scenarios[name]().then(
  () => console.log("scenario " + name + ": ok"),
  (error) => {
    console.error(error);
    process.exit(1);
  }
);
