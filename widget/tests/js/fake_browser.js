// A minimal stand-in for the browser APIs the loader and the chat panel touch, so the Rust tests can run
// the minified scripts in Node and watch what they do: requests, beacons, sockets, timers, storage,
// postMessage and the DOM.
"use strict";

// An element's inline style: plain properties, plus `setProperty` that records each property's priority
// (the loader sets its host element's placement as !important).
class FakeStyle {
  constructor() {
    Object.defineProperty(this, "priorities", { value: {} });
  }
  setProperty(name, value, priority) {
    this[name] = String(value);
    this.priorities[name] = priority || "";
  }
  getPropertyPriority(name) {
    return this.priorities[name] || "";
  }
}

class FakeNode {
  constructor(tagName, namespaceURI) {
    this.tagName = String(tagName).toUpperCase();
    this.namespaceURI = namespaceURI || "http://www.w3.org/1999/xhtml";
    this.children = [];
    this.attributes = {};
    this.listeners = {};
    this.parentNode = null;
    this.style = new FakeStyle();
    this.className = "";
    this.id = "";
    this.ownText = "";
    this.shadowRoot = null;
    this.hidden = false;
    this.value = "";
    this.scrollTop = 0;
    this.scrollHeight = 0;
    this.clientHeight = 0;
    this.dataset = {};
    if (this.tagName === "IFRAME") this.contentWindow = new FakeWindow();
  }
  appendChild(child) {
    return this.insertBefore(child, null);
  }
  insertBefore(child, reference) {
    if (child.parentNode) child.remove();
    child.parentNode = this;
    const at = reference ? this.children.indexOf(reference) : -1;
    if (reference && at < 0) throw new Error("insertBefore: the reference is not a child");
    if (at < 0) this.children.push(child);
    else this.children.splice(at, 0, child);
    return child;
  }
  focus() {
    document.activeElement = this;
    // Inside a shadow root, that root's activeElement is this node (the document's is the host).
    let node = this;
    while (node.parentNode) node = node.parentNode;
    if (node.host) {
      node.activeElement = this;
      document.activeElement = node.host;
    }
  }
  contains(other) {
    for (let node = other; node; node = node.parentNode) if (node === this) return true;
    return false;
  }
  remove() {
    const parent = this.parentNode;
    if (parent) parent.children.splice(parent.children.indexOf(this), 1);
    this.parentNode = null;
  }
  setAttribute(name, value) {
    this.attributes[name] = String(value);
  }
  getAttribute(name) {
    return name in this.attributes ? this.attributes[name] : null;
  }
  hasAttribute(name) {
    return name in this.attributes;
  }
  removeAttribute(name) {
    delete this.attributes[name];
  }
  toggleAttribute(name, force) {
    const on = force === undefined ? !(name in this.attributes) : !!force;
    if (on) this.attributes[name] = "";
    else delete this.attributes[name];
    return on;
  }
  get firstChild() {
    return this.children[0] || null;
  }
  get lastChild() {
    return this.children[this.children.length - 1] || null;
  }
  addEventListener(type, listener) {
    (this.listeners[type] = this.listeners[type] || []).push(listener);
  }
  dispatchEvent(event) {
    (this.listeners[event.type] || []).forEach((listener) => listener.call(this, event));
    return true;
  }
  click() {
    this.dispatchEvent({ type: "click", target: this });
  }
  set textContent(value) {
    this.children = [];
    this.ownText = value == null ? "" : String(value);
  }
  get textContent() {
    return this.ownText + this.children.map((child) => child.textContent).join("");
  }
  // Markup sinks are forbidden for our scripts: using one fails the test loudly.
  set innerHTML(_) {
    throw new Error("the widget must not use innerHTML");
  }
  set outerHTML(_) {
    throw new Error("the widget must not use outerHTML");
  }
  insertAdjacentHTML() {
    throw new Error("the widget must not use insertAdjacentHTML");
  }
  get isConnected() {
    let node = this;
    while (node.parentNode) node = node.parentNode;
    return node === document.documentElement || (node.host ? node.host.isConnected : false);
  }
  attachShadow(init) {
    const shadow = new FakeNode("#shadow-root");
    shadow.host = this;
    shadow.mode = init.mode;
    if (init.mode === "open") this.shadowRoot = shadow;
    return shadow;
  }
  // All descendants (not crossing into shadow roots), depth first.
  descendants() {
    return this.children.flatMap((child) => [child, ...child.descendants()]);
  }
  // Supports "tag", ".class", "tag.class" and "#id", which is all the tests need.
  querySelector(selector) {
    if (selector.startsWith("#")) return this.descendants().find((node) => node.id === selector.slice(1)) || null;
    const [tag, cls] = selector.split(".");
    return (
      this.descendants().find(
        (node) =>
          (!tag || node.tagName === tag.toUpperCase()) &&
          (!cls || node.className.split(" ").includes(cls))
      ) || null
    );
  }
}

// A window other than this one (an iframe's, or a parent's): records what is posted to it.
class FakeWindow {
  constructor() {
    this.posted = [];
  }
  postMessage(data, targetOrigin) {
    this.posted.push({ data: JSON.parse(JSON.stringify(data)), targetOrigin });
  }
}

// Timers run only when the test says so, and record their delays. `clock.now` is the fake time in ms
// (tests that need it make Date.now read it); `advance` moves it on, running the timers that fall due.
const timers = [];
const clock = { now: 1700000000000 };
let nextTimer = 1;
globalThis.setTimeout = (fn, delay) => {
  timers.push({ id: nextTimer, fn, delay: delay || 0, at: clock.now + (delay || 0) });
  return nextTimer++;
};
globalThis.clearTimeout = (id) => {
  const index = timers.findIndex((timer) => timer.id === id);
  if (index >= 0) timers.splice(index, 1);
};

// Requests wait until the test answers them.
const requests = [];
globalThis.fetch = (url, init) =>
  new Promise((resolve, reject) => {
    requests.push({
      url,
      init,
      answer(status, body) {
        resolve({
          ok: status >= 200 && status < 300,
          status,
          json: async () => body,
          // The body as a Blob stand-in (the chat panel's attachment downloads).
          blob: async () => body,
        });
      },
      fail() {
        reject(new TypeError("network error"));
      },
    });
  });

const beacons = [];
Object.defineProperty(globalThis, "navigator", {
  configurable: true,
  value: {
    beaconAccepts: true,
    sendBeacon(url, body) {
      beacons.push({ url, body });
      return this.beaconAccepts;
    },
  },
});

// A constructed style sheet: keeps the text it was given.
globalThis.CSSStyleSheet = class {
  replaceSync(text) {
    this.text = String(text);
  }
};

const sockets = [];
class FakeWebSocket {
  constructor(url) {
    this.url = url;
    this.sent = [];
    this.readyState = 1;
    sockets.push(this);
  }
  send(text) {
    this.sent.push(JSON.parse(text));
  }
  // What the server does: a message arrives, or the connection closes with a code.
  receive(message) {
    this.onmessage({ data: JSON.stringify(message) });
  }
  serverClose(code) {
    this.readyState = 3;
    this.onclose({ code });
  }
  // The page closing it: as in a browser, the close event follows later (here: on the next settle).
  close() {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.closedByClient = true;
    setImmediate(() => this.onclose && this.onclose({ code: 1005 }));
  }
}
globalThis.WebSocket = FakeWebSocket;

function fakeStorage(map) {
  return {
    getItem: (key) => (map.has(key) ? map.get(key) : null),
    setItem: (key, value) => map.set(key, String(value)),
    removeItem: (key) => map.delete(key),
  };
}
const storage = new Map();
const session = new Map();
Object.defineProperty(globalThis, "localStorage", { configurable: true, value: fakeStorage(storage), writable: true });
Object.defineProperty(globalThis, "sessionStorage", { configurable: true, value: fakeStorage(session), writable: true });

const windowEvents = new EventTarget();
globalThis.window = globalThis;
globalThis.addEventListener = windowEvents.addEventListener.bind(windowEvents);
globalThis.removeEventListener = windowEvents.removeEventListener.bind(windowEvents);
globalThis.dispatchEvent = windowEvents.dispatchEvent.bind(windowEvents);

globalThis.location = { href: "https://shop.example/a", protocol: "https:", host: "shop.example" };
globalThis.history = {
  pushState(_state, _title, url) {
    location.href = new URL(url, location.href).href;
  },
  replaceState(_state, _title, url) {
    location.href = new URL(url, location.href).href;
  },
};

const documentElement = new FakeNode("html");
const body = documentElement.appendChild(new FakeNode("body"));
const documentListeners = new FakeNode("#document");
globalThis.document = {
  documentElement,
  body,
  title: "Shop A",
  visibilityState: "visible",
  activeElement: null,
  referrer: "https://search.example/?q=shop",
  createElement: (tag) => new FakeNode(tag),
  createElementNS: (ns, tag) => new FakeNode(tag, ns),
  getElementById: (id) => documentElement.descendants().find((node) => node.id === id) || null,
  addEventListener: (type, listener) => documentListeners.addEventListener(type, listener),
  dispatchEvent: (event) => documentListeners.dispatchEvent(event),
};

// Lets promise callbacks (the loader's fetch chains) run.
const settle = () => new Promise((resolve) => setImmediate(resolve));

// Runs every pending timer at once, whatever its delay; returns their delays.
function runTimers() {
  const due = timers.splice(0, timers.length);
  due.forEach((timer) => timer.fn());
  return due.map((timer) => timer.delay);
}

// Moves the fake clock on by `ms`, running the timers that fall due, in order.
function advance(ms) {
  const end = clock.now + ms;
  for (;;) {
    const next = timers.filter((timer) => timer.at <= end).sort((a, b) => a.at - b.at || a.id - b.id)[0];
    if (!next) break;
    timers.splice(timers.indexOf(next), 1);
    clock.now = Math.max(clock.now, next.at);
    next.fn();
  }
  clock.now = end;
}

// Anything the loader lets escape fails the test.
process.on("uncaughtException", (error) => {
  console.error("escaped from the loader:", error);
  process.exit(3);
});
process.on("unhandledRejection", (error) => {
  console.error("unhandled rejection from the loader:", error);
  process.exit(3);
});

module.exports = {
  FakeNode,
  FakeWindow,
  timers,
  clock,
  runTimers,
  advance,
  requests,
  beacons,
  sockets,
  storage,
  session,
  settle,
};
