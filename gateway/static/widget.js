// Minimal chat widget speaking Rasa's Socket.IO protocol (the same one rasa-webchat uses).
(function () {
  "use strict";
  var KEY = "sapporo-chat-session";
  var log = document.getElementById("log");
  var quick = document.getElementById("quick");
  var form = document.getElementById("form");
  var input = document.getElementById("input");
  var status = document.getElementById("status");
  var sessionId = sessionStorage.getItem(KEY);
  var socket = io({ path: "/socket.io/", transports: ["websocket", "polling"] });

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
    socket.emit("session_request", { session_id: sessionId });
  });
  socket.on("session_confirm", function (id) {
    sessionId = (id && id.session_id) || id;
    sessionStorage.setItem(KEY, sessionId);
  });
  socket.on("bot_uttered", function (msg) {
    // A person writing from the staff console is shown as such (「担当者」), not as the bot.
    if (msg.text) add(msg.sender === "staff" ? "staff" : "bot", msg.text);
    if (msg.quick_replies) showQuickReplies(msg.quick_replies);
  });
  socket.on("disconnect", function () { status.textContent = "接続が切れました。再接続しています…"; });

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    send(input.value);
    input.value = "";
  });
})();
