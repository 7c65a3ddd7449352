/*
 * 札幌市 AIアシスタント — the website widget (README "Website widget").
 *
 *   <script src="https://<gateway>/widget.js" data-title="札幌市 AIチャット" data-color="#0058a8" async></script>
 *
 * One tag adds a launcher button and a chat panel to any page, inside a Shadow DOM (the page's CSS does not reach
 * in, the widget's does not reach out). The gateway's origin is taken from this script's own src; the Socket.IO
 * client is loaded from the gateway and connects to it (the page's origin must be in the gateway's CORS_ORIGINS).
 * Options (data attributes): data-title, data-color, data-open ("true": open at start), data-initial-message
 * (sent once when a new chat is first opened; default "/greet": the greeting with the menu), data-privacy-url
 * (a link 「個人情報の取扱い」), data-lang ("ja", default; "en": English labels).
 *
 * Protocol: Rasa's Socket.IO one (session_request → session_confirm, user_uttered → bot_uttered) with the gateway's
 * extras (connectors/webchat.py): the signed session token is kept in localStorage, so reloads, other tabs and later
 * pages go on with the chat; 「会話を終える」 forgets it (on a shared computer the next person must not find the
 * chat). On load the widget asks for the recent messages (last_message_id 0), on a reconnect for what it missed; it
 * shows each message once (message_id) and acknowledges what it showed (the staff console's 「表示済み」).
 * No build step: plain ES5, one file. __MAX_MESSAGE_CHARS__ is replaced by the gateway's limit when served.
 */
(function () {
  "use strict";
  if (window.__sapporoChatWidget) return; // the tag twice on a page: one widget
  window.__sapporoChatWidget = true;

  var script = document.currentScript || (function () {
    var all = document.querySelectorAll("script[src*='widget.js']");
    return all[all.length - 1];
  })();
  var data = script.dataset || {};
  var ORIGIN = new URL(script.src, location.href).origin;
  var KEY = "sapporo-chat-session";
  var TIMES = "sapporo-chat-times"; // message id → when this browser first showed it (the gateway sends no time);
                                     // "u:" + a hash of a text → when the citizen sent it (its id comes only with the
                                     // history); never the text itself, and nothing older than two days
  var MAX = parseInt("__MAX_MESSAGE_CHARS__", 10) || 2000;
  var COLOR = /^#[0-9a-fA-F]{3,8}$|^[a-zA-Z]+$|^rgb\([\d\s,.%]+\)$/.test(data.color || "") ? data.color : "#0058a8";
  var INITIAL = data.initialMessage === undefined ? "/greet" : data.initialMessage;

  var LABELS = {
    ja: {
      open: "チャットで質問する", close: "閉じる", end: "会話を終える", send: "送信", message: "メッセージ",
      placeholder: "メッセージを入力", hint: "Shift+Enterで改行", log: "会話", you: "あなた", bot: "AIアシスタント",
      staff: "担当者", counselor: "相談員", typing: "回答を作成しています…", connecting: "接続しています…",
      connected: "接続しました", offline: "接続が切れています。再接続を試みています。入力した内容は接続後に送信します。",
      queued: "未送信（接続後に送信します）", anonymous: "このチャットは匿名です。名前や学校名を書かなくても相談できます。",
      note: "AIが自動で回答します。個人情報は、大型ごみの申込みなど必要なときだけ入力してください。",
      privacy: "個人情報の取扱い", newWindow: "（新しいウィンドウで開きます）", count: "文字数",
      endConfirm: "会話を終えました。この端末から会話の記録は表示されなくなります。", unread: "新しいメッセージがあります",
      tooLong: "文字を超えています", title: "札幌市 AIアシスタント"
    },
    en: {
      open: "Open chat", close: "Close", end: "End chat", send: "Send", message: "Message",
      placeholder: "Type a message", hint: "Shift+Enter: new line", log: "Conversation", you: "You", bot: "Assistant",
      staff: "Staff", counselor: "Counselor", typing: "Writing an answer…", connecting: "Connecting…",
      connected: "Connected", offline: "Offline. Reconnecting… What you type is sent once connected.",
      queued: "Not sent yet (sent when connected)", anonymous: "This chat is anonymous.",
      note: "Answers are automatic. Enter personal data only when needed (e.g. a bulky waste booking).",
      privacy: "Privacy notice", newWindow: " (opens in a new window)", count: "Characters",
      endConfirm: "The chat has ended. It is no longer shown on this device.", unread: "New message",
      tooLong: "characters at most", title: "Sapporo City AI assistant"
    }
  };
  var L = LABELS[data.lang === "en" ? "en" : "ja"];
  var TITLE = data.title || L.title;

  var CSS = [
    ":host { all: initial !important; font-family: inherit !important; }",
    "*, *::before, *::after { box-sizing: border-box; }",
    ".root { --c: " + COLOR + "; line-height: 1.5; font-family: inherit; color: #1d2630; }",
    "button, textarea, a { font: inherit; }",
    "[hidden] { display: none !important; }",
    ".launcher { position: fixed; right: 16px; bottom: 16px; z-index: 2147483000; min-height: 48px; padding: 10px 18px;",
    "  border: 2px solid #fff; border-radius: 24px; background: var(--c); color: #fff; font-weight: bold; cursor: pointer;",
    "  box-shadow: 0 2px 8px rgba(0,0,0,.3); }",
    ".launcher .dot { display: inline-block; width: 10px; height: 10px; margin-left: 6px; border-radius: 50%; background: #ffdd00; }",
    ".panel { position: fixed; right: 16px; bottom: 16px; z-index: 2147483001; display: flex; flex-direction: column;",
    "  width: 24em; max-width: calc(100vw - 16px); height: 38em; max-height: calc(100vh - 32px); background: #fff;",
    "  border: 1px solid #8a949e; border-radius: 12px; overflow: hidden; box-shadow: 0 4px 24px rgba(0,0,0,.3); }",
    "@media (max-width: 480px) { .panel { right: 8px; bottom: 8px; max-height: calc(100vh - 16px); } }",
    ".head { display: flex; align-items: center; gap: 6px; padding: 8px 8px 8px 14px; background: var(--c); color: #fff; }",
    ".head h2 { flex: 1; margin: 0; font-size: 1em; line-height: 1.3; }",
    ".head button { min-height: 36px; padding: 4px 10px; border: 1px solid #fff; border-radius: 6px; background: transparent;",
    "  color: #fff; cursor: pointer; font-size: .85em; white-space: nowrap; }",
    ".head .x { min-width: 36px; font-size: 1.1em; }",
    ".note, .anon, .offline { margin: 0; padding: 6px 14px; font-size: .8em; }",
    ".note { background: #f3f5f7; color: #3b4650; border-radius: 8px; }",
    ".intro, .quick-item { margin: 0; padding: 0; }",
    ".note a { color: #004a8f; }",
    ".anon { background: #fff7e0; color: #5c4400; border-bottom: 1px solid #e8d9a8; font-weight: bold; }",
    ".offline { background: #fdecea; color: #8a1c12; }",
    ".log { position: relative; flex: 1; overflow-y: auto; margin: 0; padding: 8px 12px; list-style: none; }",
    ".msg { width: fit-content; max-width: 88%; margin: 8px 0 0; padding: 8px 12px; border-radius: 12px;",
    "  white-space: pre-wrap; word-break: break-word; overflow-wrap: anywhere; }",
    ".msg--user { margin-left: auto; background: var(--c); color: #fff; }",
    ".msg--user a { color: #fff; }",
    ".msg--bot { background: #eef1f4; }",
    ".msg--staff { background: #e6f4ea; border-left: 4px solid #1e6b30; }",
    ".msg a { color: #004a8f; }",
    ".who { display: block; font-size: .75em; font-weight: bold; color: #1e6b30; }",
    ".time { display: block; font-size: .7em; color: #59636c; text-align: right; }",
    ".msg--user .time { color: #fff; }",
    ".pending { font-size: .7em; display: block; }",
    ".quick { display: flex; flex-wrap: wrap; gap: 6px; margin: 8px 0 0; padding: 0; }",
    ".quick button { min-height: 36px; padding: 4px 12px; border: 1px solid var(--c); border-radius: 20px; background: #fff;",
    "  color: var(--c); cursor: pointer; text-align: left; }",
    ".quick button:disabled { border-color: #aab2ba; color: #59636c; cursor: default; }",
    ".quick button.chosen { background: #e4e9ee; color: #1d2630; }",
    ".typing { margin: 0; padding: 2px 14px 6px; font-size: .8em; color: #3b4650; }",
    ".form { display: flex; align-items: flex-end; gap: 8px; padding: 8px 12px; border-top: 1px solid #dde2e7; }",
    ".field { flex: 1; min-width: 0; }",
    ".form textarea { display: block; width: 100%; min-height: 44px; max-height: 120px; padding: 8px; resize: none;",
    "  border: 1px solid #6b7681; border-radius: 8px; color: #1d2630; background: #fff; }",
    ".meta { display: flex; justify-content: space-between; gap: 8px; margin-top: 6px; font-size: .7em; color: #59636c; }",
    ".count.over { color: #b3261e; font-weight: bold; }",
    ".meta .count { margin-left: auto; }",
    ".form .send { min-height: 44px; padding: 8px 14px; border: 0; border-radius: 8px; background: var(--c); color: #fff; cursor: pointer; }",
    ".status { margin: 0; padding: 0 12px 6px; font-size: .7em; color: #59636c; }",
    ".sr { position: absolute !important; width: 1px; height: 1px; margin: -1px; padding: 0; overflow: hidden;",
    "  clip: rect(0 0 0 0); white-space: nowrap; border: 0; }",
    ":focus { outline: none; }",
    ":focus-visible { outline: 3px solid #1d2630; outline-offset: 2px; box-shadow: 0 0 0 2px #fff; }",
    ".head :focus-visible, .launcher:focus-visible { outline-color: #fff; box-shadow: 0 0 0 5px #1d2630; }",
    ".form textarea:focus-visible, .form textarea:focus { outline: 3px solid var(--c); outline-offset: 1px; }"
  ].join("\n");

  // ------------------------------------------------------------------ DOM
  var host = document.createElement("div");
  host.setAttribute("data-sapporo-chat", "");
  var shadow = host.attachShadow({ mode: "open" });
  var style = document.createElement("style");
  style.textContent = CSS;
  shadow.appendChild(style);

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "class") node.className = attrs[k]; else node.setAttribute(k, attrs[k]);
    });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  var root = el("div", { "class": "root", lang: data.lang === "en" ? "en" : "ja" });
  var launcher = el("button", { type: "button", "class": "launcher", "aria-expanded": "false",
                                "aria-controls": "sapporo-chat-panel" }, L.open);
  var dot = el("span", { "class": "dot", hidden: "" });
  var dotText = el("span", { "class": "sr" }, "");
  launcher.appendChild(dot);
  launcher.appendChild(dotText);
  var panel = el("section", { "class": "panel", id: "sapporo-chat-panel", role: "dialog", "aria-labelledby": "sapporo-chat-title",
                              hidden: "" });
  var head = el("div", { "class": "head" });
  var h2 = el("h2", { id: "sapporo-chat-title" }, TITLE);
  var endButton = el("button", { type: "button", "class": "end" }, L.end);
  var closeButton = el("button", { type: "button", "class": "x", "aria-label": L.close, title: L.close }, "×");
  head.appendChild(h2); head.appendChild(endButton); head.appendChild(closeButton);
  var note = el("p", { "class": "note" }, L.note);
  if (data.privacyUrl && /^https?:\/\//.test(new URL(data.privacyUrl, location.href).href)) {
    note.appendChild(document.createTextNode(" "));
    var privacy = el("a", { href: new URL(data.privacyUrl, location.href).href, target: "_blank", rel: "noopener" }, L.privacy);
    privacy.appendChild(el("span", { "class": "sr" }, L.newWindow));
    note.appendChild(privacy);
  }
  var anon = el("p", { "class": "anon", hidden: "" }, L.anonymous);
  var offline = el("p", { "class": "offline", role: "alert", hidden: "" }, L.offline);
  var log = el("ol", { "class": "log", "aria-label": L.log, tabindex: "0" });
  var live = el("div", { "class": "sr", "aria-live": "polite", "aria-atomic": "false" });
  var typing = el("p", { "class": "typing", hidden: "" }, L.typing);
  var form = el("form", { "class": "form", autocomplete: "off" });
  var field = el("div", { "class": "field" });
  var label = el("label", { "for": "sapporo-chat-input", "class": "sr" }, L.message);
  var input = el("textarea", { id: "sapporo-chat-input", name: "message", rows: "1", placeholder: L.placeholder,
                               "aria-describedby": "sapporo-chat-hint sapporo-chat-count" });
  var meta = el("div", { "class": "meta" });
  meta.appendChild(el("span", { id: "sapporo-chat-hint", "class": "hint" }, L.hint));
  var count = el("span", { id: "sapporo-chat-count", "class": "count", "aria-live": "off" }, "0 / " + MAX);
  var sendButton = el("button", { type: "submit", "class": "send" }, L.send);
  meta.appendChild(count);
  field.appendChild(label); field.appendChild(input); field.appendChild(meta);
  form.appendChild(field); form.appendChild(sendButton);
  var status = el("p", { "class": "sr", role: "status" }, L.connecting); // the offline notice is what is seen
  log.appendChild(el("li", { "class": "intro" }, "")).appendChild(note); // scrolls away with the chat (small screens)
  [head, anon, offline, log, typing, form, status, live].forEach(function (n) { panel.appendChild(n); });
  root.appendChild(launcher);
  root.appendChild(panel);
  shadow.appendChild(root);

  // ------------------------------------------------------------------ state
  var token = read(KEY);
  var socket = null;
  var connected = false;
  var seen = {};          // message ids shown
  var lastId = 0;         // the highest of them
  var shownAny = false;   // anything in the log (a new chat gets the greeting when first opened)
  var greeted = false;
  var outbox = [];        // [{message, node}] typed while offline
  var times = readTimes();
  var typingTimer = null;
  var counseling = false;

  function read(key) {
    try { return window.localStorage.getItem(key); } catch (e) { return null; } // storage blocked: a chat per page
  }
  function write(key, value) {
    try {
      if (value === null) window.localStorage.removeItem(key); else window.localStorage.setItem(key, value);
    } catch (e) { /* blocked or full */ }
  }
  function readTimes() {
    var kept = {}, old = Date.now() - 2 * 86400000;
    try { kept = JSON.parse(read(TIMES) || "{}") || {}; } catch (e) { /* unreadable: start again */ }
    Object.keys(kept).forEach(function (k) { if (!(kept[k] > old)) delete kept[k]; });
    return kept;
  }
  function hash(text) { // FNV-1a, 32 bits
    var h = 0x811c9dc5;
    for (var i = 0; i < text.length; i++) { h ^= text.charCodeAt(i); h = Math.imul(h, 16777619) >>> 0; }
    return h.toString(16);
  }
  function keepTime(id, when) {
    if (id && !times[id]) times[id] = when;
    var keys = Object.keys(times).sort(function (a, b) { return times[a] - times[b]; });
    while (keys.length > 300) delete times[keys.shift()];
    write(TIMES, JSON.stringify(times));
  }
  function clock(ms) {
    var d = new Date(ms);
    return d.getHours() + ":" + ("0" + d.getMinutes()).slice(-2);
  }

  // ------------------------------------------------------------------ rendering
  // http(s) addresses (without a sentence's closing punctuation) and phone numbers with hyphens (011-222-4894,
  // 0120-0-78310); a number that goes on with more digits is not one
  var LINK = /(https?:\/\/[^\s（）「」『』<>"'、。]+?)(?=[.,;:!?)]*(?:[\s（）「」『』<>"'、。]|$))|((?:\+81-?|0)\d{1,4}-\d{1,4}-\d{3,5})(?!\d)/;
  function linkify(node, text) {
    var rest = text, m;
    while ((m = LINK.exec(rest))) {
      if (m.index) node.appendChild(document.createTextNode(rest.slice(0, m.index)));
      var a;
      if (m[1]) {
        a = el("a", { href: m[1], target: "_blank", rel: "noopener noreferrer" }, m[1]);
      } else {
        a = el("a", { href: "tel:" + m[2].replace(/-/g, "") }, m[2]);
      }
      node.appendChild(a);
      rest = rest.slice(m.index + m[0].length);
    }
    if (rest) node.appendChild(document.createTextNode(rest));
  }

  function announce(text) {
    var p = el("p", {}, text);
    live.appendChild(p);
    while (live.childNodes.length > 5) live.removeChild(live.firstChild);
  }

  function whoLabel(who) {
    return who === "user" ? L.you : who === "staff" ? (counseling ? L.counselor : L.staff) : L.bot;
  }

  function add(who, text, id, when, quiet) {
    var li = el("li", { "class": "msg msg--" + who });
    if (who === "staff") li.appendChild(el("span", { "class": "who" }, whoLabel(who)));
    else li.appendChild(el("span", { "class": "sr" }, whoLabel(who) + "："));
    var body = el("span", { "class": "text" });
    linkify(body, text);
    li.appendChild(body);
    if (when) li.appendChild(el("time", { "class": "time", datetime: new Date(when).toISOString() }, clock(when)));
    log.appendChild(li);
    shownAny = true;
    if (who !== "user" && !quiet) announce(whoLabel(who) + "：" + text); // a reload's history is not read out again
    log.scrollTop = log.scrollHeight;
    return li;
  }

  function clearLog() {
    while (log.lastChild && log.lastChild !== log.firstChild) log.removeChild(log.lastChild); // the notice stays
  }

  function disableOldButtons() {
    var all = log.querySelectorAll(".quick button");
    for (var i = 0; i < all.length; i++) all[i].disabled = true;
  }

  // The buttons go right under their question; the log is scrolled so the question and the buttons are both in
  // view (the question's top wins when both do not fit).
  function showQuickReplies(question, replies) {
    disableOldButtons();
    if (!replies || !replies.length) return;
    var item = el("li", { "class": "quick-item" });
    var box = el("div", { "class": "quick", role: "group", "aria-label": question ? question.querySelector(".text").textContent.slice(0, 60) : L.log });
    replies.forEach(function (r) {
      var b = el("button", { type: "button" }, r.title);
      b.addEventListener("click", function () {
        if (b.disabled) return;
        var buttons = box.querySelectorAll("button");
        for (var i = 0; i < buttons.length; i++) buttons[i].disabled = true;
        b.className = "chosen";
        send(r.payload || r.title, r.title);
        input.focus(); // focus stays in the panel
      });
      box.appendChild(b);
    });
    item.appendChild(box);
    log.appendChild(item);
    reveal(question || box, box);
  }

  function reveal(top, bottom) {
    var wanted = bottom.offsetTop + bottom.offsetHeight + 8 - log.clientHeight;
    log.scrollTop = Math.max(0, Math.min(wanted, top.offsetTop - 8));
  }

  function setTyping(on) {
    typing.hidden = !on;
    clearTimeout(typingTimer);
    if (on) typingTimer = setTimeout(function () { typing.hidden = true; }, 30000);
  }

  function setCounseling(on) {
    if (on && !counseling) {
      counseling = true;
      anon.hidden = false;
    }
  }

  // ------------------------------------------------------------------ socket
  function loadClient(done) {
    if (window.__sapporoChatIo) return done(window.__sapporoChatIo);
    var previous = window.io; // the page's own socket.io client (if any) is left as it was
    var s = document.createElement("script");
    s.src = ORIGIN + "/static/vendor/socket.io.min.js";
    s.async = true;
    s.onload = function () {
      window.__sapporoChatIo = window.io;
      if (previous) window.io = previous;
      done(window.__sapporoChatIo);
    };
    s.onerror = function () { status.textContent = L.offline; offline.hidden = false; };
    (document.head || document.documentElement).appendChild(s);
  }

  function connect() {
    if (socket) return;
    var placeholder = socket = { pending: true };
    loadClient(function (io) {
      if (socket !== placeholder) return; // the chat was ended before the client loaded
      socket = io(ORIGIN, { path: "/socket.io/", transports: ["websocket", "polling"],
                            reconnectionDelay: 1000, reconnectionDelayMax: 10000 });
      socket.on("connect", function () {
        socket.emit("session_request", { session_id: token, last_message_id: lastId });
      });
      socket.on("session_confirm", onConfirm);
      socket.on("bot_uttered", onBotUttered);
      socket.on("disconnect", function () {
        connected = false;
        status.textContent = L.connecting;
        offline.hidden = false;
        setTyping(false);
      });
      socket.on("connect_error", function () {
        connected = false;
        offline.hidden = false;
      });
    });
  }

  function onConfirm(id) {
    var confirmed = (id && id.session_id) || id;
    if (confirmed !== token) { // a new session: ids of another chat mean nothing
      seen = {}; lastId = 0;
      if (token) { clearLog(); shownAny = false; greeted = false; } // the old one is gone (e.g. the secret changed)
    }
    token = confirmed;
    write(KEY, token);
    connected = true;
    offline.hidden = true;
    status.textContent = L.connected;
    // what was typed while offline goes now, in order
    var queued = outbox; outbox = [];
    queued.forEach(function (q) {
      var mark = q.node && q.node.querySelector(".pending");
      if (mark) mark.parentNode.removeChild(mark);
      emit(q.message);
    });
    // a new chat opened: the greeting with the menu (once; the replayed history comes before a confirm's timers)
    setTimeout(greetIfNew, 300);
  }

  function greetIfNew() {
    if (!greeted && !shownAny && !panel.hidden && INITIAL && connected) {
      greeted = true;
      emit(INITIAL);
    }
  }

  function onBotUttered(msg, ack) {
    msg = msg || {};
    var id = msg.message_id;
    if (msg.counseling) setCounseling(true);
    if (!id || !seen[id]) {
      if (id) { seen[id] = true; lastId = Math.max(lastId, id); }
      var who = msg.sender === "staff" || msg.sender === "user" ? msg.sender : "bot";
      if (who === "user" && msg.text && msg.text.charAt(0) === "/") {
        // a button's payload or the greeting's /greet: not what the citizen typed
      } else if (msg.text) {
        if (who !== "user") setTyping(false);
        var unseen = !id || !times[id]; // never shown by this browser (a reload's history is not new)
        keepTime(id, (who === "user" && times["u:" + hash(msg.text)]) || Date.now());
        var li = add(who, msg.text, id, id ? times[id] : Date.now(), !unseen);
        if (msg.quick_replies) showQuickReplies(li, msg.quick_replies);
        // a message never shown before while the panel is closed (a person's reply)
        if (panel.hidden && who !== "user" && unseen) { dot.hidden = false; dotText.textContent = L.unread; }
      } else if (msg.quick_replies) {
        showQuickReplies(null, msg.quick_replies);
      }
      if (msg.attachment && msg.attachment.type === "image" && msg.attachment.payload &&
          /^https?:\/\//.test(msg.attachment.payload.src || "")) {
        var item = el("li", { "class": "msg msg--bot" });
        item.appendChild(el("img", { src: msg.attachment.payload.src, alt: "", style: "max-width:100%" }));
        log.appendChild(item);
      }
    }
    if (typeof ack === "function") ack(); // shown (now or before)
  }

  function emit(message) {
    setTyping(true);
    typedAt = 0; // the next keystroke after sending says "typing" again at once
    socket.emit("user_uttered", { message: message, session_id: token });
  }

  function send(message, shown) {
    if (!message || !message.replace(/\s/g, "")) return false;
    disableOldButtons();
    var now = Date.now();
    var li = add("user", shown || message, null, now);
    if (!shown) { times["u:" + hash(message)] = now; keepTime(null, 0); }
    if (connected) {
      emit(message);
    } else {
      li.appendChild(el("span", { "class": "pending" }, L.queued));
      outbox.push({ message: message, node: li });
      connect();
    }
    return true;
  }

  // ------------------------------------------------------------------ controls
  function open() {
    panel.hidden = false;
    launcher.hidden = true;
    launcher.setAttribute("aria-expanded", "true");
    dot.hidden = true; dotText.textContent = "";
    connect();
    log.scrollTop = log.scrollHeight;
    var last = log.lastChild; // a question with its buttons at the end (shown while the panel was closed)
    if (last && last.className === "quick-item" && last.previousSibling) reveal(last.previousSibling, last.firstChild);
    input.focus();
    if (connected) setTimeout(greetIfNew, 300);
  }
  function close() {
    panel.hidden = true;
    launcher.hidden = false;
    launcher.setAttribute("aria-expanded", "false");
    launcher.focus();
  }
  function forget() {
    // 「会話を終える」: the token and the times are removed, the socket closes, the next open starts a new chat
    write(KEY, null); write(TIMES, null);
    token = null; times = {}; seen = {}; lastId = 0; shownAny = false; greeted = false; outbox = [];
    counseling = false; anon.hidden = true;
    if (socket && socket.disconnect) { socket.off(); socket.disconnect(); }
    socket = null; connected = false;
    clearLog();
    setTyping(false);
    announce(L.endConfirm);
    close();
  }

  launcher.addEventListener("click", open);
  closeButton.addEventListener("click", close);
  endButton.addEventListener("click", forget);
  panel.addEventListener("keydown", function (e) {
    if (e.key === "Escape" || e.key === "Esc") { e.preventDefault(); close(); }
  });

  var composing = false;
  input.addEventListener("compositionstart", function () { composing = true; });
  input.addEventListener("compositionend", function () { composing = false; });
  input.addEventListener("keydown", function (e) {
    if (e.key !== "Enter") return;
    if (e.isComposing || composing || e.keyCode === 229) return; // Enter confirms the IME's conversion: never sends
    if (e.shiftKey) return; // a new line
    e.preventDefault();
    submit();
  });
  function updateCount() {
    var n = Array.from ? Array.from(input.value).length : input.value.length;
    count.textContent = n + " / " + MAX;
    count.className = n > MAX ? "count over" : "count";
    sendButton.disabled = n > MAX;
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight + 2, 120) + "px";
  }
  input.addEventListener("input", updateCount);
  // "The citizen is typing" for a person at the staff console: no text, at most one event per TYPING_MS; the
  // gateway passes it on only while a person owns or watches the chat (connectors/webchat.py on_user_typing).
  var TYPING_MS = 2000, typedAt = 0;
  input.addEventListener("input", function () {
    var now = Date.now();
    if (!connected || !token || !socket || !socket.emit || !input.value.trim() || now - typedAt < TYPING_MS) return;
    typedAt = now;
    socket.emit("user_typing", { session_id: token });
  });
  function submit() {
    var n = Array.from ? Array.from(input.value).length : input.value.length;
    if (n > MAX) return;
    if (send(input.value)) { input.value = ""; updateCount(); }
    input.focus();
  }
  form.addEventListener("submit", function (e) { e.preventDefault(); submit(); });

  // Another tab ended the chat (or started a new one): this tab follows.
  window.addEventListener("storage", function (e) {
    if (e.key !== KEY || e.newValue === token) return;
    if (e.newValue === null) { var wasOpen = !panel.hidden; forget(); if (!wasOpen) launcher.blur(); return; }
    token = e.newValue;
    if (socket && socket.emit && connected) {
      seen = {}; lastId = 0; shownAny = false;
      clearLog();
      socket.emit("session_request", { session_id: token, last_message_id: 0 });
    }
  });

  function mount() {
    document.body.appendChild(host);
    if (token) connect(); // a chat goes on: its history and replies are shown (a new visitor connects on open)
    if (data.open === "true" || data.open === "") open();
  }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
})();
