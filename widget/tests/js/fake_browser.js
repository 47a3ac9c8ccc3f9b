// A minimal stand-in for the browser APIs the loader touches, so the Rust tests can run the minified loader
// in Node and watch what it does: requests, beacons, sockets, timers and the launcher's DOM.
"use strict";

class FakeNode {
  constructor(tagName, namespaceURI) {
    this.tagName = String(tagName).toUpperCase();
    this.namespaceURI = namespaceURI || "http://www.w3.org/1999/xhtml";
    this.children = [];
    this.attributes = {};
    this.listeners = {};
    this.parentNode = null;
    this.style = {};
    this.className = "";
    this.id = "";
    this.ownText = "";
    this.shadowRoot = null;
  }
  appendChild(child) {
    if (child.parentNode) child.remove();
    child.parentNode = this;
    this.children.push(child);
    return child;
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
  // Markup sinks are forbidden for the loader: using one fails the test loudly.
  set innerHTML(_) {
    throw new Error("the loader must not use innerHTML");
  }
  set outerHTML(_) {
    throw new Error("the loader must not use outerHTML");
  }
  insertAdjacentHTML() {
    throw new Error("the loader must not use insertAdjacentHTML");
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
  // Supports "tag", ".class" and "tag.class", which is all the tests need.
  querySelector(selector) {
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

// Timers run only when the test says so, and record their delays.
const timers = [];
let nextTimer = 1;
globalThis.setTimeout = (fn, delay) => {
  timers.push({ id: nextTimer, fn, delay: delay || 0 });
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
        resolve({ ok: status >= 200 && status < 300, status, json: async () => body });
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
}
globalThis.WebSocket = FakeWebSocket;

const storage = new Map();
const localStorage = {
  getItem: (key) => (storage.has(key) ? storage.get(key) : null),
  setItem: (key, value) => storage.set(key, String(value)),
  removeItem: (key) => storage.delete(key),
};
Object.defineProperty(globalThis, "localStorage", { configurable: true, value: localStorage, writable: true });

const windowEvents = new EventTarget();
globalThis.window = globalThis;
globalThis.addEventListener = windowEvents.addEventListener.bind(windowEvents);
globalThis.removeEventListener = windowEvents.removeEventListener.bind(windowEvents);
globalThis.dispatchEvent = windowEvents.dispatchEvent.bind(windowEvents);

globalThis.location = { href: "https://shop.example/a" };
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
  referrer: "https://search.example/?q=shop",
  createElement: (tag) => new FakeNode(tag),
  createElementNS: (ns, tag) => new FakeNode(tag, ns),
  getElementById: (id) => documentElement.descendants().find((node) => node.id === id) || null,
  addEventListener: (type, listener) => documentListeners.addEventListener(type, listener),
  dispatchEvent: (event) => documentListeners.dispatchEvent(event),
};

// Lets promise callbacks (the loader's fetch chains) run.
const settle = () => new Promise((resolve) => setImmediate(resolve));

// Runs the timers due now; returns their delays.
function runTimers() {
  const due = timers.splice(0, timers.length);
  due.forEach((timer) => timer.fn());
  return due.map((timer) => timer.delay);
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

module.exports = { FakeNode, timers, runTimers, requests, beacons, sockets, storage, settle };
