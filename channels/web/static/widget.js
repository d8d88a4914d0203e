/* Frontdesk website chat widget. Plain JavaScript, no framework, no build step.
 *
 * Embed: <script src="https://bot.example.com/widget.js" async></script>
 * Logged-in users: add data-user-id, data-user-hash (HMAC from your server), data-user-name.
 * Every text from messages is set with textContent; links and media only over http(s).
 */
(function () {
  "use strict";
  var CONFIG = /*FRONTDESK_CONFIG*/null;
  CONFIG = CONFIG || { socket: "/web/socket", strings: {} };
  var S = CONFIG.strings;
  var script = document.currentScript;
  if (!script || window.__frontdeskChat) return;
  window.__frontdeskChat = true;
  var base = new URL(script.src, location.href);
  var data = script.dataset || {};
  var pageMode = data.mode === "page";
  var identity = data.userId ? { user_id: data.userId, user_hash: data.userHash || "",
    user_name: data.userName || "" } : null;
  var tokenKey = "frontdesk:" + base.origin + ":token";
  var URL_RE = /https?:\/\/[^\s<>"']+/g;

  var ws = null, welcomed = false, lastId = null, conversation = null, attempts = 0, stopped = false;
  var open = pageMode, unread = 0, synced = false, typingTimer = null, retryTimer = null;
  var pending = {};  // client id -> {frame, el}
  var rendered = {}; // entry ids already shown
  var ui = {};

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function storage(key, value) {
    try {
      if (value === undefined) return localStorage.getItem(key);
      if (value === null) localStorage.removeItem(key); else localStorage.setItem(key, value);
    } catch (e) { return null; }
    return null;
  }

  function safeHref(url) {
    try {
      var parsed = new URL(url);
      return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
    } catch (e) { return null; }
  }

  function newId() {
    var bytes = new Uint8Array(12);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  // ---------------------------------------------------------------- the view
  function build() {
    var host = el("div", { id: "frontdesk-chat" });
    var root = host.attachShadow({ mode: "open" });
    root.appendChild(el("link", { rel: "stylesheet", href: new URL("widget.css", base).href }));
    var wrap = el("div", { "class": "fd " + (pageMode ? "fd-page" : "fd-widget") });
    if (pageMode) {
      document.body.style.margin = "0";
      document.body.style.background = "#f3f5f8";
    }

    ui.launcher = el("button", { type: "button", "class": "fd-launcher", "aria-label": S.launcher,
      "aria-expanded": "false", "aria-controls": "fd-panel" });
    var svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    var path = document.createElementNS("http://www.w3.org/2000/svg", "path");
    path.setAttribute("d", "M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H8l-5 4V5a2 2 0 0 1 1-2z");
    svg.appendChild(path);
    ui.launcher.appendChild(svg);
    ui.badge = el("span", { "class": "fd-badge", hidden: "" });
    ui.launcher.appendChild(ui.badge);
    ui.launcher.addEventListener("click", function () { setOpen(!open); });

    ui.panel = el("section", { id: "fd-panel", "class": "fd-panel", "aria-label": S.title });
    if (!pageMode) ui.panel.setAttribute("role", "dialog");
    var head = el("div", { "class": "fd-head" });
    head.appendChild(el(pageMode ? "h1" : "h2", {}, S.title));
    ui.status = el("span", { "class": "fd-status", role: "status" });
    head.appendChild(ui.status);
    ui.close = el("button", { type: "button", "class": "fd-close", "aria-label": S.close }, "\u00d7");
    ui.close.addEventListener("click", function () { setOpen(false); ui.launcher.focus(); });
    head.appendChild(ui.close);
    ui.panel.appendChild(head);

    ui.log = el("div", { "class": "fd-log", role: "log", "aria-live": "polite",
      "aria-label": S.title, tabindex: "0" });
    ui.panel.appendChild(ui.log);
    ui.typing = el("div", { "class": "fd-typing", hidden: "", "aria-live": "polite" }, S.typing);
    ui.panel.appendChild(ui.typing);
    ui.alert = el("div", { "class": "fd-alert", role: "alert", hidden: "" });
    ui.panel.appendChild(ui.alert);

    var form = el("form", { "class": "fd-form" });
    var label = el("label", { "for": "fd-input", "class": "fd-sr" }, S.input_label);
    ui.input = el("textarea", { id: "fd-input", rows: "1", placeholder: S.placeholder,
      autocomplete: "off", enterkeyhint: "send" });
    ui.send = el("button", { type: "submit", "class": "fd-send" }, S.send);
    form.appendChild(label);
    form.appendChild(ui.input);
    form.appendChild(ui.send);
    form.addEventListener("submit", function (e) { e.preventDefault(); submit(); });
    ui.input.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); submit(); }
    });
    ui.panel.addEventListener("keydown", function (e) {
      if (e.key === "Escape" && !pageMode) { setOpen(false); ui.launcher.focus(); }
    });
    ui.panel.appendChild(form);

    if (!pageMode) wrap.appendChild(ui.launcher);
    wrap.appendChild(ui.panel);
    root.appendChild(wrap);
    document.body.appendChild(host);
    setOpen(open);
  }

  function setOpen(value) {
    open = value;
    ui.panel.hidden = !open;
    ui.launcher.setAttribute("aria-expanded", String(open));
    if (open) {
      unread = 0;
      showBadge();
      if (!ws) connect();
      ui.input.focus();
      scrollDown();
    }
  }

  function showBadge() {
    ui.badge.hidden = unread === 0;
    ui.badge.textContent = unread > 9 ? "9+" : String(unread);
    var label = S.launcher + (unread ? " (" + S.unread.replace("{n}", unread) + ")" : "");
    ui.launcher.setAttribute("aria-label", label);
  }

  function setStatus(text) { ui.status.textContent = text || ""; }

  function setAlert(text) {
    ui.alert.textContent = text || "";
    ui.alert.hidden = !text;
  }

  function scrollDown() { ui.log.scrollTop = ui.log.scrollHeight; }

  function appendText(parent, text) {
    var last = 0;
    String(text).replace(URL_RE, function (match, offset) {
      var url = match.replace(/[.,;:!?)\]]+$/, "");
      var href = safeHref(url);
      if (!href) return match;
      parent.appendChild(document.createTextNode(text.slice(last, offset)));
      var a = el("a", { href: href, target: "_blank", rel: "noopener noreferrer nofollow" }, url);
      parent.appendChild(a);
      last = offset + url.length;
      return match;
    });
    parent.appendChild(document.createTextNode(text.slice(last)));
  }

  function messageNode(entry) {
    var from = entry.from === "customer" ? "customer" : entry.from === "agent" ? "agent" : "bot";
    var node = el("div", { "class": "fd-msg fd-" + from });
    var who = from === "agent" ? (entry.agent || S.agent) : from === "customer" ? S.you : S.bot;
    node.appendChild(el("span", { "class": from === "agent" ? "fd-who" : "fd-who fd-sr" }, who));
    if (entry.text) {
      var bubble = el("div", { "class": "fd-bubble" });
      appendText(bubble, entry.text);
      node.appendChild(bubble);
    }
    (entry.attachments || []).forEach(function (a) {
      var href = safeHref(a.url);
      if (!href) return;
      var media = el("div", { "class": "fd-bubble fd-media" });
      if (a.kind === "image") {
        var link = el("a", { href: href, target: "_blank", rel: "noopener noreferrer nofollow" });
        link.appendChild(el("img", { src: href, alt: a.name || "image", loading: "lazy" }));
        media.appendChild(link);
      } else {
        media.appendChild(el("a", { href: href, target: "_blank",
          rel: "noopener noreferrer nofollow" }, "\ud83d\udcce " + (a.name || href)));
      }
      node.appendChild(media);
    });
    if (entry.buttons && entry.buttons.length) {
      var group = el("div", { "class": "fd-buttons", role: "group" });
      entry.buttons.forEach(function (b) {
        var button = el("button", { type: "button" }, b.title);
        button.addEventListener("click", function () {
          say(b.title, b.payload);
          ui.input.focus(); // the pressed button goes away with the others
        });
        group.appendChild(button);
      });
      node.appendChild(group);
    }
    return node;
  }

  // ------------------------------------------------------------ the messages
  function show(entry) {
    if (rendered[entry.id]) return;
    rendered[entry.id] = true;
    lastId = entry.id;
    if (entry.from === "customer") {
      ui.log.querySelectorAll(".fd-buttons").forEach(function (g) { g.remove(); });
      var mine = entry.client_id && pending[entry.client_id];
      if (mine && mine.el) { mine.el.dataset.id = entry.id; return; }
      if (entry.client_id && ui.log.querySelector('[data-client="' + entry.client_id + '"]')) return;
    } else {
      hideTyping();
      if (synced && (!open || document.hidden)) { unread += 1; showBadge(); }
    }
    var node = messageNode(entry);
    node.dataset.id = entry.id;
    if (entry.client_id) node.dataset.client = entry.client_id;
    ui.log.appendChild(node);
    scrollDown();
  }

  function say(text, payload) {
    var clientId = newId();
    var frame = { type: "message", client_id: clientId, text: text };
    if (payload) frame.payload = payload;
    var node = messageNode({ from: "customer", text: text });
    node.classList.add("fd-pending");
    node.dataset.client = clientId;
    ui.log.querySelectorAll(".fd-buttons").forEach(function (g) { g.remove(); });
    ui.log.appendChild(node);
    scrollDown();
    pending[clientId] = { frame: frame, el: node };
    transmit(frame);
  }

  function submit() {
    var text = ui.input.value.trim();
    if (!text) return;
    ui.input.value = "";
    say(text, null);
    ui.input.focus();
  }

  function transmit(frame) {
    if (ws && welcomed && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(frame));
  }

  function hideTyping() {
    ui.typing.hidden = true;
    clearTimeout(typingTimer);
  }

  // -------------------------------------------------------------- the socket
  function connect() {
    if (stopped) return;
    var url = new URL(CONFIG.socket, base);
    url.protocol = base.protocol === "https:" ? "wss:" : "ws:";
    welcomed = false;
    setStatus(S.connecting);
    var socket = new WebSocket(url.href);
    ws = socket;
    socket.onopen = function () {
      var hello = { type: "hello", after: lastId };
      if (identity) Object.assign(hello, identity); else hello.token = storage(tokenKey);
      socket.send(JSON.stringify(hello));
    };
    socket.onmessage = function (event) {
      var msg;
      if (socket !== ws) return;
      try { msg = JSON.parse(event.data); } catch (e) { return; }
      receive(msg);
    };
    socket.onclose = function (event) {
      if (socket !== ws) return;
      ws = null;
      welcomed = false;
      if (event.code === 4003) { stopped = true; setStatus(""); setAlert(S.identity_refused); return; }
      setStatus(S.offline);
      var delay = event.code === 4029 ? 30000 : Math.min(10000, 500 * Math.pow(2, attempts));
      attempts += 1;
      clearTimeout(retryTimer);
      retryTimer = setTimeout(connect, delay * (0.5 + Math.random() / 2));
    };
  }

  function receive(msg) {
    if (msg.type === "welcome") {
      if (conversation && msg.conversation !== conversation) {
        // A new conversation (the old token expired, or a gateway without a shared secret
        // restarted): start the view afresh.
        ui.log.textContent = "";
        rendered = {};
        lastId = null;
      }
      conversation = msg.conversation;
      welcomed = true;
      attempts = 0;
      if (msg.token) storage(tokenKey, msg.token);
      setStatus("");
      setAlert("");
    } else if (msg.type === "entry") {
      show(msg);
    } else if (msg.type === "synced") {
      synced = true;
      Object.keys(pending).forEach(function (id) { transmit(pending[id].frame); });
    } else if (msg.type === "ack") {
      var mine = pending[msg.client_id];
      if (mine) { mine.el.classList.remove("fd-pending"); delete pending[msg.client_id]; }
      setAlert("");
    } else if (msg.type === "typing") {
      ui.typing.hidden = false;
      clearTimeout(typingTimer);
      typingTimer = setTimeout(hideTyping, 8000);
    } else if (msg.type === "error") {
      var text = S[msg.code] || S.unavailable;
      if (msg.code === "unavailable" && pending[msg.client_id]) {
        var again = pending[msg.client_id].frame;
        setTimeout(function () { transmit(again); }, 2000);
        return;
      }
      if (msg.client_id && pending[msg.client_id]) {
        pending[msg.client_id].el.remove();
        delete pending[msg.client_id];
      }
      setAlert(text);
    }
  }

  function start() {
    build();
    if (!ws && (pageMode || identity || storage(tokenKey))) connect();
  }

  if (document.body) start(); else document.addEventListener("DOMContentLoaded", start);
})();
