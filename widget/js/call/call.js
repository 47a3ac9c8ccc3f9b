// Beckon calls: voice, video and screen sharing, WebRTC peer to peer (docs/protocol.md, "Calls").
//
// One module for both sides: the chat panel loads it on demand (`/w/call.VERSION.js`, when a call rings
// or the guest starts one) and the console's Chats page loads it with the page. It sets
// `window.BeckonCall = {supported, desk, bar}`:
// - `supported()`: whether this browser can take calls (RTCPeerConnection and getUserMedia exist).
// - `desk(options)`: this tab's calls, from the `call` and `call_signal` events of its socket. options:
//   role ("guest" | "operator": the operator is the impolite peer of perfect negotiation), tab (this
//   tab's id), send(message) -> whether it went out, changed() after every change, and optionally
//   iceTransportPolicy ("relay" forces TURN; `window.BECKON_ICE_POLICY` does the same for tests).
// - `bar(desk, options)`: the call area (status, videos, buttons) drawn into options.into with the
//   page's texts (options.texts) and the other party's name (options.name(call)). No text lives here.
// The tab that runs a call exposes it as `window.beckonCall` (its `pc` is the RTCPeerConnection).
// Every string from the network is inserted as text.
(function () {
  "use strict";
  var W = window, D = document, MD = navigator.mediaDevices;

  function noop() {}

  function supported() {
    return !!(W.RTCPeerConnection && MD && MD.getUserMedia);
  }

  // Why getUserMedia (or getDisplayMedia) failed, as one of our error codes.
  function mediaError(err) {
    var name = err && err.name;
    if (name == "NotAllowedError" || name == "SecurityError" || name == "PermissionDeniedError") return "permission";
    if (name == "NotFoundError" || name == "OverconstrainedError" || name == "DevicesNotFoundError") return "no_device";
    if (name == "NotReadableError" || name == "TrackStartError" || name == "AbortError") return "device_busy";
    return "media_failed";
  }

  // What a `media` signal says the other side sends, each field a boolean.
  function mediaState(m) {
    m = m || {};
    return { audio: m.audio === true, video: m.video === true, screen: m.screen === true };
  }

  function stopTracks(stream) {
    if (stream)
      stream.getTracks().forEach(function (t) {
        t.stop();
      });
  }

  // The calls of one tab (see the file's head). Error codes in view().error: permission, no_device,
  // device_busy, media_failed, no_camera (voice only: no camera), camera_failed, screen_failed,
  // ice_failed, conflict, forbidden, offline, unsupported.
  function desk(o) {
    var role = o.role, polite = role == "guest", TAB = role + "_tab";
    var send = o.send, changed = o.changed || noop;
    var calls = {}; // call_id -> latest `call` event (ringing or active)
    var s = null; // this tab's own call (the session), from the click until it ends
    var last = null; // how the last call ended: {call, error}, shown until the next one
    var remoteVideo = el("video", "call-remote"), localVideo = el("video", "call-local");
    remoteVideo.id = "beckon-call-remote";
    localVideo.id = "beckon-call-local";
    remoteVideo.autoplay = localVideo.autoplay = localVideo.muted = localVideo.hidden = true;
    remoteVideo.playsInline = localVideo.playsInline = true;
    remoteVideo.setAttribute("playsinline", "");
    localVideo.setAttribute("playsinline", "");
    var api;

    function policy() {
      var p = o.iceTransportPolicy || W.BECKON_ICE_POLICY;
      return p == "relay" ? "relay" : "all";
    }

    function action(name, id) {
      return send({ type: "call", action: name, call_id: id, tab: o.tab });
    }

    // A session: this tab's side of one call.
    function session(conversationId, callId, media, caller) {
      var me = {
        id: callId,
        conversation_id: conversationId,
        media: media,
        caller: caller,
        pc: null,
        mic: null,
        camera: null,
        screen: null,
        muted: false,
        remote: { audio: true, video: media == "video", screen: false },
        connected: false,
        since: 0,
        queue: [],
        chain: Promise.resolve(),
        added: false,
        making: false,
        ignoreOffer: false,
        settingAnswer: false,
        cameras: [],
        facing: "user",
        blocked: false,
        note: null,
        timer: 0
      };
      s = W.beckonCall = me;
      last = null;
      return me;
    }

    // Microphone (and camera for video): a voice call when there is no camera, or it is busy.
    function getMedia(me, video) {
      var wanted = { audio: true, video: video ? { facingMode: "user" } : false };
      return MD.getUserMedia(wanted).then(
        function (stream) {
          return stream;
        },
        function (err) {
          var code = mediaError(err);
          if (!video || code == "permission") throw code;
          me.note = "no_camera";
          return MD.getUserMedia({ audio: true }).catch(function (again) {
            throw mediaError(again);
          });
        }
      ).then(function (stream) {
        if (s != me) {
          stopTracks(stream);
          throw "gone";
        }
        me.mic = stream.getAudioTracks()[0] || null;
        me.camera = stream.getVideoTracks()[0] || null;
        countCameras(me);
        showLocal(me);
        return me;
      });
    }

    function countCameras(me) {
      if (!MD.enumerateDevices) return;
      MD.enumerateDevices().then(function (list) {
        me.cameras = list.filter(function (d) {
          return d.kind == "videoinput";
        });
        changed();
      }, noop);
    }

    // The local preview shows what goes out as video: the shared screen, else the camera.
    function showLocal(me) {
      var track = me.screen || me.camera;
      localVideo.srcObject = track ? new MediaStream([track]) : null;
      localVideo.hidden = !track;
      // A front camera shows as in a mirror; a screen or a back camera as it is.
      localVideo.className = "call-local" + (me.camera && !me.screen && me.facing == "user" ? " mirror" : "");
      changed();
    }

    // Starts a call in the conversation: microphone (and camera) first, so a refusal rings nobody.
    function start(conversationId, media) {
      if (s) return;
      if (!supported()) return fail("unsupported");
      var me = session(conversationId, null, media == "video" ? "video" : "audio", true);
      changed();
      getMedia(me, me.media == "video").then(
        function () {
          if (me.camera == null) me.media = "audio";
          me.asked = true;
          if (!send({ type: "call", action: "start", conversation_id: conversationId, media: me.media, tab: o.tab }))
            end(me, "offline");
          changed();
        },
        function (code) {
          end(me, code);
        }
      );
    }

    // Answers a ringing call: microphone (and camera for a video call) first; refused, it declines.
    function accept(callId) {
      var c = calls[callId];
      if (!c || c.state != "ringing" || s) return;
      if (!supported()) return fail("unsupported");
      var me = session(c.conversation_id, callId, c.media, false);
      changed();
      getMedia(me, c.media == "video").then(
        function () {
          me.asked = true;
          if (!action("accept", callId)) end(me, "offline");
        },
        function (code) {
          if (code == "gone") return;
          action("decline", callId);
          end(me, code);
        }
      );
    }

    function decline(callId) {
      if (calls[callId]) action("decline", callId);
    }

    // Ends this tab's call (cancels it while ringing); one never placed (still asking for the
    // microphone) just stops.
    function hangup() {
      if (!s) return;
      if (s.id) action("hangup", s.id);
      end(s, null);
    }

    function fail(code) {
      finished({ call: null, error: code });
    }

    // Keeps how a call ended for the view ("ended" for a few seconds; a problem until the next call).
    function finished(what) {
      what.at = Date.now();
      last = what;
      setTimeout(changed, 5000);
      changed();
    }

    // Forgets this tab's call: stops the tracks, closes the connection, keeps why for the view.
    function end(me, code, call) {
      if (s != me) return;
      clearTimeout(me.timer);
      stopTracks(localVideo.srcObject);
      [me.mic, me.camera, me.screen].forEach(function (t) {
        if (t) t.stop();
      });
      if (me.pc) {
        me.pc.onicecandidate = me.pc.ontrack = me.pc.onnegotiationneeded = me.pc.oniceconnectionstatechange = null;
        me.pc.close();
      }
      remoteVideo.srcObject = localVideo.srcObject = null;
      localVideo.hidden = true;
      s = W.beckonCall = null;
      // Our own call is over for this tab whatever the server says next (its `ended` is then no news).
      if (me.id) delete calls[me.id];
      finished({ id: me.id, call: call || null, error: code || null, note: me.note });
    }

    // The call became active on this tab: the peer connection, our tracks (the caller's at once, so it
    // offers; the callee's when the offer comes, on the transceivers it opened), then queued signals.
    function connect(me, call) {
      var pc = (me.pc = new RTCPeerConnection({ iceServers: call.ice_servers || [], iceTransportPolicy: policy() }));
      var remote = new MediaStream();
      remoteVideo.srcObject = remote;
      pc.onicecandidate = function (e) {
        var c = e.candidate;
        signal(me, {
          kind: "candidate",
          candidate: c && c.candidate ? { candidate: c.candidate, sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex } : { candidate: "", sdpMid: null, sdpMLineIndex: null }
        });
      };
      pc.ontrack = function (e) {
        if (remote.getTracks().indexOf(e.track) < 0) remote.addTrack(e.track);
        play(me);
      };
      pc.onnegotiationneeded = function () {
        me.making = true;
        pc.setLocalDescription()
          .then(function () {
            signal(me, { kind: pc.localDescription.type, sdp: pc.localDescription.sdp });
          })
          .catch(noop)
          .then(function () {
            me.making = false;
          });
      };
      pc.oniceconnectionstatechange = function () {
        var state = pc.iceConnectionState;
        clearTimeout(me.timer);
        if (state == "failed") return lost(me);
        if (state == "connected" || state == "completed") {
          if (!me.connected) me.since = Date.now();
          me.connected = true;
        } else if (state == "disconnected") me.timer = setTimeout(function () {
          lost(me);
        }, 15000);
        changed();
      };
      // Never connected within 30 s (no route, even through TURN): give up.
      me.timer = setTimeout(function () {
        lost(me);
      }, 30000);
      if (me.caller) addTracks(me);
      tellMedia(me);
      me.queue.splice(0).forEach(function (e) {
        receive(me, e);
      });
      changed();
    }

    function lost(me) {
      if (s != me) return;
      action("hangup", me.id);
      end(me, "ice_failed");
    }

    function addTracks(me) {
      if (me.added) return;
      me.added = true;
      var stream = new MediaStream([me.mic, me.screen || me.camera].filter(Boolean));
      stream.getTracks().forEach(function (t) {
        me.pc.addTrack(t, stream);
      });
      me.stream = stream;
    }

    function signal(me, body) {
      body.type = "call_signal";
      body.call_id = me.id;
      send(body);
    }

    // What we send now, for the other side to show ("muted", "camera off", "sharing screen").
    function tellMedia(me) {
      signal(me, { kind: "media", media: { audio: !!me.mic && !me.muted, video: !!me.camera, screen: !!me.screen } });
    }

    // The other side's signalling, in order (perfect negotiation: on an offer collision the polite
    // guest rolls back and answers, the impolite operator ignores the other offer).
    function receive(me, e) {
      if (!me.pc) return me.queue.push(e);
      if (e.kind == "media") {
        me.remote = mediaState(e.media);
        return changed();
      }
      me.chain = me.chain
        .then(function () {
          return apply(me, e);
        })
        .catch(noop);
    }

    function apply(me, e) {
      var pc = me.pc;
      if (s != me) return;
      if (e.kind == "candidate") {
        var c = e.candidate || {};
        return pc.addIceCandidate(c.candidate ? c : null).catch(function (err) {
          if (!me.ignoreOffer) throw err;
        });
      }
      if (e.kind != "offer" && e.kind != "answer") return;
      var offer = e.kind == "offer";
      var ready = !me.making && (pc.signalingState == "stable" || me.settingAnswer);
      me.ignoreOffer = !polite && offer && !ready;
      if (me.ignoreOffer) return;
      me.settingAnswer = !offer;
      return pc.setRemoteDescription({ type: e.kind, sdp: String(e.sdp || "") }).then(function () {
        me.settingAnswer = false;
        if (!offer) return;
        addTracks(me);
        return pc.setLocalDescription().then(function () {
          signal(me, { kind: "answer", sdp: pc.localDescription.sdp });
        });
      });
    }

    // Plays the remote media; a browser that refuses autoplay gets it on the next click (view().blocked).
    function play(me) {
      var p = remoteVideo.play();
      if (p && p.then)
        p.then(
          function () {
            me.blocked = false;
            changed();
          },
          function (err) {
            if (err && err.name == "NotAllowedError") {
              me.blocked = true;
              changed();
            }
          }
        );
    }

    // Our video goes out on the video transceiver the call has (set to send if it only received), or a
    // new one when the call was voice only: that renegotiates.
    function sendVideo(me, track) {
      if (!me.pc || !me.added) return Promise.resolve();
      var tx = me.pc.getTransceivers().filter(function (t) {
        return !t.stopped && t.receiver.track && t.receiver.track.kind == "video";
      })[0];
      if (!tx) {
        if (track) me.pc.addTrack(track, me.stream);
        return Promise.resolve();
      }
      if (track && (tx.direction == "recvonly" || tx.direction == "inactive")) tx.direction = "sendrecv";
      if (track && tx.sender.setStreams) tx.sender.setStreams(me.stream);
      return tx.sender.replaceTrack(track);
    }

    // After the camera or the screen changed: the new video out, the preview, and the other side told.
    function videoChanged(me) {
      var track = me.screen || me.camera;
      if (me.stream) {
        me.stream.getVideoTracks().forEach(function (t) {
          me.stream.removeTrack(t);
        });
        if (track) me.stream.addTrack(track);
      }
      showLocal(me);
      if (!me.pc) return;
      sendVideo(me, track).catch(noop);
      tellMedia(me);
    }

    function mute(on) {
      var me = s;
      if (!me || !me.mic) return;
      me.muted = on == null ? !me.muted : !!on;
      me.mic.enabled = !me.muted;
      if (me.pc) tellMedia(me);
      changed();
    }

    // Camera off stops it (its light goes out); on opens it again, the chosen one.
    function camera(on) {
      var me = s;
      if (!me) return;
      on = on == null ? !me.camera : !!on;
      if (!on) {
        if (me.camera) me.camera.stop();
        me.camera = null;
        return videoChanged(me);
      }
      if (me.camera) return;
      openCamera(me);
    }

    function openCamera(me) {
      var video = me.deviceId ? { deviceId: { exact: me.deviceId } } : { facingMode: me.facing };
      return MD.getUserMedia({ video: video }).then(
        function (stream) {
          if (s != me) return stopTracks(stream);
          me.camera = stream.getVideoTracks()[0];
          countCameras(me);
          videoChanged(me);
        },
        function (err) {
          if (s != me) return;
          me.note = mediaError(err) == "permission" ? "permission" : "camera_failed";
          videoChanged(me);
        }
      );
    }

    // The next camera (front and back on a phone). The old one stops first: phones cannot open both.
    function switchCamera() {
      var me = s;
      if (!me || !me.camera) return;
      var ids = me.cameras.map(function (d) {
        return d.deviceId;
      }), now = me.camera.getSettings ? me.camera.getSettings().deviceId : null;
      // By device where the browser lists them, else by facing (front, back).
      me.deviceId = ids.length > 1 && ids[0] ? ids[(ids.indexOf(now) + 1) % ids.length] : null;
      me.facing = me.facing == "user" ? "environment" : "user";
      me.camera.stop();
      me.camera = null;
      openCamera(me);
    }

    // Shares a screen (a window, a tab) instead of the camera; when the sharing ends (here, or with
    // the browser's own "stop sharing"), the camera comes back.
    function share(on) {
      var me = s;
      if (!me || !MD.getDisplayMedia) return;
      on = on == null ? !me.screen : !!on;
      if (!on) {
        if (me.screen) me.screen.stop();
        me.screen = null;
        return videoChanged(me);
      }
      if (me.screen) return;
      MD.getDisplayMedia({ video: true, audio: false }).then(
        function (stream) {
          var track = stream.getVideoTracks()[0];
          if (s != me || !track) return stopTracks(stream);
          if ("contentHint" in track) track.contentHint = "detail";
          track.onended = function () {
            if (me.screen == track) share(false);
          };
          me.screen = track;
          videoChanged(me);
        },
        function (err) {
          // Cancelled in the browser's picker: nothing to say.
          if (s == me && err && err.name != "NotAllowedError") {
            me.note = "screen_failed";
            changed();
          }
        }
      );
    }

    // A `call` or `call_signal` event, or an `error` answering one of our call messages; false for
    // anything else.
    function handle(e) {
      if (!e) return false;
      if (e.type == "call_signal") {
        if (s && s.id == e.call_id) receive(s, e);
        return true;
      }
      if (e.type == "error") {
        // A refused start or answer (another tab was first, a call is already on, not allowed).
        if (s && s.asked && !s.pc) end(s, e.code == "forbidden" || e.code == "conflict" ? e.code : "failed");
        return true;
      }
      if (e.type != "call" || !e.call_id) return false;
      var id = e.call_id, mine = e[TAB] && e[TAB] == o.tab;
      if (s && !s.id && s.caller && mine && e.conversation_id == s.conversation_id && e.caller == role) s.id = id;
      if (e.state == "ended") {
        delete calls[id];
        if (s && s.id == id) end(s, null, e);
        else {
          if (last && last.id == id) last.call = e;
          changed();
        }
        return true;
      }
      calls[id] = e;
      if (s && s.id == id) {
        if (e.state == "active") {
          if (mine) {
            if (!s.pc) connect(s, e);
          } else {
            // Another of our tabs answered first: the call goes on there.
            end(s, null);
            last = null;
            calls[id] = e;
          }
        }
      } else if (mine) {
        // Pinned to this tab, which has no session for it (the page was reloaded): end it cleanly.
        action("hangup", id);
        delete calls[id];
      }
      changed();
      return true;
    }

    // The call this tab shows: its own, else one ringing for us, else one of ours running elsewhere.
    function shown() {
      if (s) return s.id ? calls[s.id] || null : null;
      var ringing = null, elsewhere = null;
      Object.keys(calls).forEach(function (id) {
        var c = calls[id];
        if (c.state == "ringing" && c.caller != role) ringing = c;
        else elsewhere = c;
      });
      return ringing || elsewhere;
    }

    // What to draw. state: idle | starting (asking for the microphone) | outgoing (ringing the other
    // side) | incoming (ringing for us) | connecting | active | elsewhere (our call in another tab) |
    // ended (for 5 s after a call of this tab ended, `ended` being its last event when the server's).
    function view() {
      var c = shown(), state = "idle";
      if (s) state = !s.id ? "starting" : !s.pc ? (s.caller ? "outgoing" : "connecting") : s.connected ? "active" : "connecting";
      else if (c) state = c.state == "ringing" && c.caller != role ? "incoming" : "elsewhere";
      else if (last && Date.now() - last.at < 5000) state = "ended";
      return {
        state: state,
        call: c,
        media: s ? s.media : c ? c.media : null,
        local: s ? { audio: !!s.mic && !s.muted, video: !!s.camera, screen: !!s.screen } : null,
        remote: s && s.pc ? s.remote : null,
        since: s ? s.since : 0,
        cameras: s ? s.cameras.length : 0,
        canShare: !!(MD && MD.getDisplayMedia),
        blocked: !!(s && s.blocked),
        note: s ? s.note : last && last.note,
        error: last && last.error,
        ended: last && last.call
      };
    }

    // The calls of a conversation that are ringing or active (for start buttons and list marks).
    function callOf(conversationId) {
      var found = null;
      Object.keys(calls).forEach(function (id) {
        if (calls[id].conversation_id == conversationId) found = calls[id];
      });
      return found || (s && s.conversation_id == conversationId ? { state: "starting" } : null);
    }

    api = {
      handle: handle,
      start: start,
      accept: accept,
      decline: decline,
      hangup: hangup,
      mute: mute,
      camera: camera,
      switchCamera: switchCamera,
      share: share,
      view: view,
      callOf: callOf,
      role: role,
      // Forgets how the last call ended (the page stops showing its problem).
      dismiss: function () {
        last = null;
        changed();
      },
      // A click after the browser refused to autoplay the other side.
      play: function () {
        if (s && s.pc) play(s);
      },
      remoteVideo: remoteVideo,
      localVideo: localVideo,
      get session() {
        return s;
      }
    };
    return api;
  }

  function el(tag, className, parent, text) {
    var node = D.createElement(tag);
    node.className = className;
    if (text != null) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }

  // 24×24 outline icons in the text colour (Feather's shapes), from these fixed paths only.
  var ICONS = {
    phone: ["M22 16.9v3a2 2 0 0 1-2.2 2 19.8 19.8 0 0 1-8.6-3.1 19.5 19.5 0 0 1-6-6A19.8 19.8 0 0 1 2.1 4.2 2 2 0 0 1 4.1 2h3a2 2 0 0 1 2 1.7c.1 1 .4 1.9.7 2.8a2 2 0 0 1-.5 2.1L8.1 9.9a16 16 0 0 0 6 6l1.3-1.3a2 2 0 0 1 2.1-.4c.9.3 1.8.6 2.8.7a2 2 0 0 1 1.7 2z"],
    hangup: ["M10.7 13.3a16 16 0 0 0 3.4 2.6l1.3-1.3a2 2 0 0 1 2.1-.4c.9.3 1.8.6 2.8.7a2 2 0 0 1 1.7 2v3a2 2 0 0 1-2.2 2 19.8 19.8 0 0 1-8.6-3.1 19.4 19.4 0 0 1-3.3-2.7m-2.7-3.3a19.8 19.8 0 0 1-3.1-8.6A2 2 0 0 1 4.1 2h3a2 2 0 0 1 2 1.7c.1 1 .4 1.9.7 2.8a2 2 0 0 1-.5 2.1L8.1 9.9", "M23 1L1 23"],
    mic: ["M12 1a3 3 0 0 0-3 3v8a3 3 0 0 0 6 0V4a3 3 0 0 0-3-3z", "M19 10v2a7 7 0 0 1-14 0v-2", "M12 19v4M8 23h8"],
    micOff: ["M1 1l22 22", "M9 9v3a3 3 0 0 0 5.1 2.1M15 9.3V4a3 3 0 0 0-5.9-.6", "M17 17a7 7 0 0 1-12-5v-2m14 0v2a7 7 0 0 1-.1 1.2", "M12 19v4M8 23h8"],
    video: ["M23 7l-7 5 7 5V7z", "M3 5h11a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H3a2 2 0 0 1-2-2V7a2 2 0 0 1 2-2z"],
    videoOff: ["M16 16v1a2 2 0 0 1-2 2H3a2 2 0 0 1-2-2V7a2 2 0 0 1 2-2h2m5.7 0H14a2 2 0 0 1 2 2v3.3l1 1L23 7v10", "M1 1l22 22"],
    screen: ["M4 3h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z", "M8 21h8M12 17v4"],
    flip: ["M23 4v6h-6M1 20v-6h6", "M3.5 9a9 9 0 0 1 14.9-3.4L23 10M1 14l4.6 4.4A9 9 0 0 0 20.5 15"]
  };

  function icon(name, parent) {
    var NS = "http://www.w3.org/2000/svg", svg = D.createElementNS(NS, "svg");
    svg.setAttribute("class", "icon icon-" + name);
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    ICONS[name].forEach(function (d) {
      var path = D.createElementNS(NS, "path");
      path.setAttribute("d", d);
      svg.appendChild(path);
    });
    parent.appendChild(svg);
    return svg;
  }

  // "{{name}}" in a text, replaced as text.
  function fill(text, name) {
    return String(text || "").split("{{name}}").join(name || "");
  }

  // m:ss, or h:mm:ss.
  function duration(ms) {
    var t = Math.max(0, Math.floor(ms / 1000)), h = Math.floor(t / 3600), m = Math.floor(t / 60) % 60, sec = t % 60;
    return (h ? h + ":" + (m < 10 ? "0" : "") : "") + m + ":" + (sec < 10 ? "0" : "") + sec;
  }

  // The call area, in options.into: the other side's video (or their name for a voice call) with our
  // preview, a status line, a message line for problems, and the buttons. The same ids on every page:
  // #beckon-call ([data-call-state]), #beckon-call-remote, #beckon-call-local, #beckon-call-status,
  // #beckon-call-message, #beckon-call-accept, -decline, -mute, -camera, -switch, -screen, -hangup.
  // options.texts holds every text (see the panel's i18n.js for the keys); options.name(call) is the
  // other party's name. Returns {render}: call it from the desk's changed().
  function bar(dk, opts) {
    var T = opts.texts, box = el("section", "call", opts.into);
    box.id = "beckon-call";
    box.hidden = true;
    box.setAttribute("aria-label", T.title);
    var stage = el("div", "call-stage", box);
    stage.appendChild(dk.remoteVideo);
    var peer = el("p", "call-peer", stage);
    stage.appendChild(dk.localVideo);
    var status = el("p", "call-status", box);
    status.id = "beckon-call-status";
    status.setAttribute("role", "status");
    var message = el("p", "call-message", box);
    message.id = "beckon-call-message";
    message.setAttribute("role", "alert");
    var row = el("div", "call-buttons", box), buttons = {};
    [
      ["accept", "phone"],
      ["decline", "hangup"],
      ["mute", "mic"],
      ["camera", "video"],
      ["switch", "flip"],
      ["screen", "screen"],
      ["hangup", "hangup"]
    ].forEach(function (b) {
      var node = el("button", "call-" + b[0], row);
      node.type = "button";
      node.id = "beckon-call-" + b[0];
      // The label, which the page may hide visually (it stays the button's accessible name).
      el("span", "call-label", node);
      buttons[b[0]] = node;
      node.addEventListener("click", function () {
        click(b[0]);
      });
    });
    // Any click in the area plays media the browser did not autoplay.
    box.addEventListener("click", dk.play);
    var ticker = 0, lastCall = null;

    function click(name) {
      var v = dk.view(), c = v.call;
      if (name == "accept" && c) dk.accept(c.call_id);
      else if (name == "decline" && c) dk.decline(c.call_id);
      else if (name == "hangup") dk.hangup();
      else if (name == "mute") dk.mute();
      else if (name == "camera") dk.camera();
      else if (name == "switch") dk.switchCamera();
      else if (name == "screen") dk.share();
    }

    // A button's icon and label (also its tooltip and accessible name), and for the toggles their state
    // as `data-state` (mute: muted | unmuted, camera: on | off, screen: sharing | off).
    function label(name, iconName, text, state) {
      var node = buttons[name];
      if (node.dataset.icon != iconName) {
        node.dataset.icon = iconName;
        var old = node.querySelector("svg");
        if (old) old.remove();
        node.insertBefore(icon(iconName, node), node.firstChild);
      }
      node.lastChild.textContent = text;
      node.title = text;
      if (state) node.setAttribute("data-state", state);
    }

    function show(name, on) {
      buttons[name].hidden = !on;
    }

    function render() {
      var v = dk.view(), c = v.call || v.ended || lastCall, st = v.state, name = opts.name(c) || "";
      var live = st == "connecting" || st == "active", video = v.remote && (v.remote.video || v.remote.screen);
      box.hidden = st == "idle" && !v.error;
      box.setAttribute("data-call-state", st);
      box.setAttribute("data-call-media", v.media || "");
      if (v.call) lastCall = v.call;
      stage.hidden = !(live || st == "outgoing" || st == "starting");
      dk.remoteVideo.hidden = !(live && video);
      // Any picture to show (theirs, or our preview): the page gives the stage its full height then.
      box.toggleAttribute("data-video", !!(live && video) || !dk.localVideo.hidden);
      peer.hidden = !!(live && video);
      peer.textContent = name;
      var text = "";
      if (st == "incoming") text = fill(v.media == "video" ? T.incomingVideo : T.incomingVoice, name);
      else if (st == "starting" || st == "outgoing") text = fill(T.calling, name);
      else if (st == "connecting") text = T.connecting;
      else if (st == "elsewhere") text = T.elsewhere;
      else if (st == "active") {
        var parts = [duration(Date.now() - v.since)], r = v.remote || {};
        if (!r.audio) parts.push(fill(T.remoteMuted, name));
        if (r.screen) parts.push(fill(T.remoteSharing, name));
        else if (v.media == "video" && !r.video) parts.push(fill(T.remoteCameraOff, name));
        text = parts.join(" · ");
      } else if (st == "ended") text = v.ended ? endedText(v.ended, name) : T.ended;
      status.textContent = text;
      var problem = v.error || v.note;
      message.textContent = v.blocked ? T.blocked : problem ? T[problem] || T.failed : "";
      message.hidden = !message.textContent;
      show("accept", st == "incoming");
      show("decline", st == "incoming");
      show("hangup", st == "starting" || st == "outgoing" || live);
      show("mute", st != "incoming" && !!v.local);
      show("camera", st != "incoming" && !!v.local);
      show("switch", !!(v.local && v.local.video && v.cameras > 1));
      show("screen", live && v.canShare);
      label("accept", v.media == "video" ? "video" : "phone", T.accept);
      label("decline", "hangup", T.decline);
      label("hangup", "hangup", T.hangup);
      var l = v.local || {};
      label("mute", l.audio ? "mic" : "micOff", l.audio ? T.mute : T.unmute, l.audio ? "unmuted" : "muted");
      label("camera", l.video ? "video" : "videoOff", l.video ? T.cameraOff : T.cameraOn, l.video ? "on" : "off");
      label("switch", "flip", T.switchCamera);
      label("screen", "screen", l.screen ? T.stopShare : T.share, l.screen ? "sharing" : "off");
      clearTimeout(ticker);
      if (st == "active") ticker = setTimeout(render, 1000);
    }

    function endedText(c, name) {
      var o = c.outcome;
      if (o == "declined") return c.ended_by != dk.role ? fill(T.declined, name) : T.ended;
      if (o == "missed") return T.missed;
      if (o == "cancelled") return T.cancelled;
      return T.ended;
    }

    render();
    return { render: render, node: box };
  }

  W.BeckonCall = { supported: supported, desk: desk, bar: bar, duration: duration };
})();
