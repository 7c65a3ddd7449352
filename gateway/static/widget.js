// Minimal chat widget speaking Rasa's Socket.IO protocol (the same one rasa-webchat uses), with the gateway's
// extras (connectors/webchat.py): the signed session is kept in this tab's sessionStorage only (a reload goes on;
// a closed tab forgets it — on a school's or library's shared computer the next person must not find a child's
// counseling chat; a chat that follows the citizen to other tabs needs the 「会話を終える」 button of issue #14); on load the widget asks for the recent messages
// (last_message_id 0), on a reconnect for what it missed (the last id it showed); it shows each message once
// (message_id) and acknowledges what it showed (the staff console's 「表示済み」).
(function () {
  "use strict";
  var KEY = "sapporo-chat-session";
  var log = document.getElementById("log");
  var quick = document.getElementById("quick");
  var form = document.getElementById("form");
  var input = document.getElementById("input");
  var status = document.getElementById("status");
  var sessionId = read("sessionStorage");
  var seen = {}; // message ids on the page
  var lastId = 0; // the highest of them
  var socket = io({ path: "/socket.io/", transports: ["websocket", "polling"] });

  function read(storage) {
    try { return window[storage].getItem(KEY); } catch (e) { return null; } // storage blocked: a session per page
  }
  function keep(id) {
    try { window.sessionStorage.setItem(KEY, id); } catch (e) { /* blocked or full */ }
  }

  function linkify(node, text) {
    text.split(/(https?:\/\/[^\s（）「」]+)/).forEach(function (part, i) {
      if (i % 2) {
        var a = document.createElement("a");
        a.href = part; a.textContent = part; a.target = "_blank"; a.rel = "noopener";
        node.appendChild(a);
      } else if (part) {
        node.appendChild(document.createTextNode(part));
      }
    });
  }

  function add(who, text) {
    var li = document.createElement("li");
    li.className = "msg msg--" + who;
    linkify(li, text);
    log.appendChild(li);
    log.scrollTop = log.scrollHeight;
  }

  function showQuickReplies(replies) {
    quick.innerHTML = "";
    (replies || []).forEach(function (r) {
      var b = document.createElement("button");
      b.type = "button";
      b.textContent = r.title;
      b.addEventListener("click", function () { send(r.payload, r.title); });
      quick.appendChild(b);
    });
  }

  function send(message, shown) {
    if (!message || !message.trim()) return;
    add("user", shown || message);
    showQuickReplies([]);
    socket.emit("user_uttered", { message: message, session_id: sessionId });
  }

  socket.on("connect", function () {
    status.textContent = "接続しました";
    socket.emit("session_request", { session_id: sessionId, last_message_id: lastId });
  });
  socket.on("session_confirm", function (id) {
    var confirmed = (id && id.session_id) || id;
    if (confirmed !== sessionId) { seen = {}; lastId = 0; } // a new session: ids of another chat mean nothing
    sessionId = confirmed;
    keep(sessionId);
  });
  socket.on("bot_uttered", function (msg, ack) {
    var id = msg.message_id;
    if (!id || !seen[id]) {
      if (id) { seen[id] = true; lastId = Math.max(lastId, id); }
      // A person writing from the staff console is shown as such (「担当者」), not as the bot; the citizen's
      // own messages come back only in the history.
      if (msg.text) add(msg.sender === "staff" || msg.sender === "user" ? msg.sender : "bot", msg.text);
      if (msg.quick_replies) showQuickReplies(msg.quick_replies);
    }
    if (ack) ack(); // shown (now or before)
  });
  socket.on("disconnect", function () { status.textContent = "接続が切れました。再接続しています…"; });

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    send(input.value);
    input.value = "";
  });
})();
