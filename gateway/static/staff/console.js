// Staff console (human handoff): queues on the left, the selected conversation on the right.
// Server text is only ever put into the page with textContent, never innerHTML.
(() => {
  "use strict";

  const ROLE = StaffApi.ROLE;
  const REASON = { user_request: "本人の希望", bot_failed: "自動応答の失敗", engine_down: "システム障害", counseling: "相談", high: "高リスク", emergency: "緊急" };
  const CHANNEL = { web: "Web", line: "LINE", rest: "API" };
  const QUEUE = { general: "一般窓口", counseling: "相談窓口" };
  const OUTCOME = { resolved: "解決", referred: "他窓口を案内", no_response: "応答なし", other: "その他" };
  const FALLBACK_OUTCOMES = Object.keys(OUTCOME); // used when /staff/api/me has no outcomes
  // The queue's priority is the counseling risk (3 emergency, 2 high, 1 normal; general chats 0): the risk
  // pill shows it, so no separate priority tag.
  const PRIORITY = {};
  // Risk of a counseling chat (labels replaced by /staff/api/me risk_levels when present).
  const RISK = { emergency: "緊急", high: "高", normal: "通常", none: "なし" };
  const RISK_RANK = { emergency: 3, high: 2, normal: 1, none: 0 };
  const RISK_ROLES = ["counselor", "supervisor", "admin"];
  const ALERT_TEXT = { risk: "リスクの高い相談があります", long_wait: "長く待っているチャットがあります", clerk_chat: "注意が必要な言葉を含むチャットがあります" };
  const MAX_BANNERS = 5;  // alerts shown at once; older ones stay counted and appear as these are closed
  const MAX_ALERTS = 50;
  const LISTS = ["mine", "waiting", "live"]; // the page's order (Alt+n counts through them in this order)
  const BASE_TITLE = document.title;

  const $ = (id) => document.getElementById(id);
  const state = {
    me: null, waiting: [], mine: [], live: [], canned: [],
    openId: null, open: null, loaded: false, messages: new Map(),
    unread: new Set(), // conversations with messages not yet seen
    unseen: new Set(), // new waiting chats that triggered an alert
    longWait: new Set(), // waiting chats a long-wait alert was raised for (STAFF_LONG_WAIT_SECONDS)
    known: null,       // waiting ids already seen; null until the first queue load (no alert on page load)
    alerts: [],        // unread Socket.IO "alert"s, newest first, until clicked or dismissed
    riskKey: null,     // "<id>|<risk>" the risk <select> was last set from (keeps a pending choice otherwise)
    delivered: new Map(), // message id → delivered_at from "delivery" events of the open chat (may come first)
  };
  let alertSeq = 0;
  let socket = null;
  let openSeq = 0; // a newer openConversation() call wins over a slower older one
  let lastFocus = null;

  const { ApiError } = StaffApi; // api.js, loaded before this file

  function el(tag, cls, text, attrs = {}) {
    const n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text != null) n.textContent = String(text);
    for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
    return n;
  }
  function setStatus(text, kind = "info") {
    $("status").textContent = text;
    $("status").dataset.kind = kind;
  }

  const api = StaffApi.create({ csrfToken: () => (state.me ? state.me.csrf_token : ""), setStatus });

  // Run a user action with its button disabled meanwhile; api() has already shown any error.
  async function act(button, fn) {
    if (button) button.disabled = true;
    try { await fn(); } catch (e) {
      if (!(e instanceof ApiError)) { console.error(e); setStatus("エラーが発生しました。", "error"); }
    }
    if (button) button.disabled = false;
    renderControls();
  }

  const myOwner = () => "staff:" + state.me.username;
  const isPrivileged = () => state.me.role === "supervisor" || state.me.role === "admin";
  const convPath = (id, action) => `/staff/api/conversations/${encodeURIComponent(id)}${action ? "/" + action : ""}`;
  const ownerLabel = (o) => (o === "queued" ? "待機中" : o === "bot" ? "ボット" : o === myOwner() ? "あなた" : String(o || "").replace(/^staff:/, ""));
  const pad = (n) => String(n).padStart(2, "0");
  const hhmm = (iso) => { const d = new Date(iso); return isNaN(d) ? "" : `${pad(d.getHours())}:${pad(d.getMinutes())}`; };

  function waitText(iso) {
    const m = Math.floor((Date.now() - new Date(iso).getTime()) / 60000);
    if (isNaN(m)) return "";
    if (m < 1) return "1分未満待ち";
    if (m >= 1440) return `${Math.floor(m / 1440)}日以上待ち`;
    return m < 60 ? `${m}分待ち` : `${Math.floor(m / 60)}時間${m % 60}分待ち`;
  }

  const SENDER = { user: "市民", bot: "ボット", system: "システム" };
  // The gateway's lines to the citizen (transcript.py system_event), and the channel's notes.
  const EVENT = { queued: "待機列へ", position: "順番のお知らせ", joined: "担当者が参加", handed_back: "ボットに戻す",
    closed: "終了", cancelled: "市民が取り消し", media: "チャネルの通知", info: "自動案内" };
  const BUTTONS_LINE = /\n［ボタン：[^\n]*］$/;
  const TYPING_MS = 5000; // 「入力中…」 stays this long after the last typing event
  const senderLabel = (s) => SENDER[s] || String(s || "").replace(/^staff:/, "") + (s === myOwner() ? "（あなた）" : "");

  // --- alerts -------------------------------------------------------------------------------

  let audio = null;
  // Browsers only allow sound after a user gesture, so the context is also created/resumed on the first one.
  function audioContext() {
    const AC = window.AudioContext || window.webkitAudioContext;
    if (!audio && navigator.userActivation && !navigator.userActivation.hasBeenActive) return null; // would only warn
    if (!audio && AC) audio = new AC();
    if (audio && audio.state === "suspended") audio.resume().catch(() => {});
    return audio;
  }
  for (const type of ["pointerdown", "keydown", "click"]) document.addEventListener(type, () => { try { audioContext(); } catch (e) { /* none */ } }, { once: true });
  // Desktop notifications: asked once, on the first click (browsers ignore or penalise asking on load).
  document.addEventListener("click", askNotificationPermission, { once: true });

  function askNotificationPermission() {
    try {
      if (!("Notification" in window) || Notification.permission !== "default") return showNotifyButton();
      const asked = Notification.requestPermission();
      if (asked && asked.then) asked.then(showNotifyButton, showNotifyButton);
    } catch (e) { /* not supported here */ }
  }
  // 「デスクトップ通知を有効にする」 while the browser has not been asked (a click on it asks, once).
  function showNotifyButton() {
    const b = $("notify-enable");
    if (b) b.hidden = !("Notification" in window) || Notification.permission !== "default";
  }

  // 「市民が入力中…」 under the transcript of the open chat, hidden TYPING_MS after the last typing event.
  let typingTimer = null;
  function showTyping(on) {
    clearTimeout(typingTimer);
    $("typing-indicator").hidden = !on;
    if (on) typingTimer = setTimeout(() => { $("typing-indicator").hidden = true; }, TYPING_MS);
  }

  let beepUntil = 0; // an alert and the queue update for the same chat should not beep on top of each other
  function beep(times = 1) {
    try {
      const ctx = audioContext();
      if (!ctx || Date.now() < beepUntil) return;
      beepUntil = Date.now() + times * 250;
      for (let i = 0; i < times; i++) {
        const t = ctx.currentTime + i * 0.25;
        const osc = ctx.createOscillator(), gain = ctx.createGain();
        osc.frequency.value = 880;
        gain.gain.setValueAtTime(0.15, t);
        gain.gain.exponentialRampToValueAtTime(0.001, t + 0.2);
        osc.connect(gain).connect(ctx.destination);
        osc.start(t); osc.stop(t + 0.2);
      }
    } catch (e) { /* no Web Audio or not allowed yet: the title badge still shows */ }
  }

  // Unread alerts, plus new/unread chats that have no alert of their own.
  const updateTitle = () => {
    const alerted = new Set(state.alerts.map((a) => a.id));
    const others = new Set([...state.unseen, ...state.unread].filter((id) => !alerted.has(id)));
    const n = state.alerts.length + others.size;
    document.title = n ? `(${n}) ${BASE_TITLE}` : BASE_TITLE;
  };

  // Alert for new urgent waiting chats, or for any new one while the tab is in the background.
  function checkNewWaiting() {
    const ids = new Set(state.waiting.map((c) => c.id));
    if (state.known) {
      const fresh = state.waiting.filter((c) => !state.known.has(c.id) && (c.priority >= 1 || document.hidden));
      if (fresh.length) {
        fresh.forEach((c) => state.unseen.add(c.id));
        const top = Math.max(...fresh.map((c) => c.priority || 0));
        beep(top >= 2 ? 2 : 1);
        for (const c of fresh.filter((x) => (x.priority || 0) >= 2)) { // high and emergency: a desktop notice too
          desktopNotice({ id: c.id, kind: "new", level: RISK[c.risk] ? c.risk : "high",
            text: `${RISK[c.risk] || "高"}：${QUEUE[c.queue] || c.queue}に新しいチャットが待機中です。` });
        }
        setStatus(`新しいチャットが待機中です（${top >= 3 ? "緊急" : top === 2 ? "高" : top === 1 ? "相談" : "通常"}、${fresh.length}件）。`);
      }
    }
    for (const id of state.unseen) if (!ids.has(id)) state.unseen.delete(id);
    // a chat that left the queues loses its mark; one not listed yet keeps it (its alert can come before the list)
    for (const id of state.longWait) if (!ids.has(id) && state.known && state.known.has(id)) state.longWait.delete(id);
    state.known = ids;
  }

  // Socket.IO "alert": banner (until clicked or closed), badge, title; sound and desktop notice when urgent.
  function onAlert(data) {
    if (!data || !data.conversation_id) return;
    const level = RISK[data.level] ? data.level : "normal";
    const kind = String(data.kind || "");
    const a = { key: ++alertSeq, id: String(data.conversation_id), level, kind, offer: data.offer_transfer === true,
      text: String(data.text || ALERT_TEXT[kind] || "通知があります"), at: new Date().toISOString() };
    // The same chat raising the same kind again (e.g. high → emergency) replaces its banner.
    state.alerts = [a, ...state.alerts.filter((x) => !(x.id === a.id && x.kind === a.kind))].slice(0, MAX_ALERTS);
    renderAlerts();
    if (kind === "long_wait" && !state.longWait.has(a.id)) { state.longWait.add(a.id); renderQueues(); }
    if (level === "emergency" || level === "high" || kind === "long_wait") {
      beep(level === "emergency" ? 3 : 2);
      desktopNotice(a);
    }
  }

  // A long wait escalated to the supervisors (gateway/counseling/jobs.py): the same banner as the chat's
  // long-wait alert (which it replaces), marked as escalated.
  function onEscalation(data) {
    if (!data || !data.conversation_id) return;
    onAlert({ ...data, kind: "long_wait", text: "【監督者へ】" + String(data.text || ALERT_TEXT.long_wait) });
  }

  function desktopNotice(a) {
    try {
      if (!("Notification" in window) || Notification.permission !== "granted") return;
      const head = a.kind === "long_wait" ? "長い待ち時間" : a.kind === "new" ? "新しいチャット" : RISK[a.level];
      const n = new Notification(`${head}：札幌市 職員コンソール`, {
        body: a.text, tag: `${a.kind}:${a.id}`, requireInteraction: a.level === "emergency",
      });
      n.onclick = () => { window.focus(); n.close(); openFromAlert(a, false); };
    } catch (e) { /* e.g. mobile browsers only notify through a service worker */ }
  }

  function riskPill(level) {
    return el("span", `risk-pill risk-pill--${level}`, RISK[level] || level, { "data-risk": level, title: "リスク: " + (RISK[level] || level) });
  }

  function alertBanner(a) {
    const div = el("div", `alert-banner alert-banner--${a.level}`, null,
      { role: "alert", "aria-live": "assertive", "data-level": a.level, "data-conversation-id": a.id });
    const open = el("button", "alert-banner__open", a.text, { type: "button", title: "この会話を開く" });
    const time = el("time", "alert-banner__time", hhmm(a.at));
    time.dateTime = a.at;
    div.append(riskPill(a.level), open, time);
    if (a.offer) {
      const move = el("button", "btn btn--small btn--primary alert-transfer", "相談員に引き継ぐ", { type: "button" });
      move.addEventListener("click", (e) => { e.stopPropagation(); transferFromAlert(a, move); });
      div.append(move);
    }
    const close = el("button", "alert-banner__dismiss", "×", { type: "button", "aria-label": "この通知を閉じる", title: "閉じる" });
    close.addEventListener("click", (e) => { e.stopPropagation(); dismissAlerts((x) => x.key === a.key); });
    div.append(close);
    div.addEventListener("click", (e) => openFromAlert(a, e.detail === 0));
    return div;
  }

  // Banners are inserted and removed one by one (not rebuilt) so screen readers announce only new ones.
  const alertNodes = new Map(); // alert key → banner element
  function renderAlerts() {
    const box = $("alerts");
    const hadFocus = box.contains(document.activeElement);
    const shown = state.alerts.slice(0, MAX_BANNERS);
    const keep = new Set(shown.map((a) => a.key));
    for (const [key, node] of alertNodes) if (!keep.has(key)) { node.remove(); alertNodes.delete(key); }
    let prev = null;
    for (const a of shown) {
      let node = alertNodes.get(a.key);
      if (!node) alertNodes.set(a.key, (node = alertBanner(a)));
      if ((prev ? prev.nextElementSibling : box.firstElementChild) !== node) (prev ? prev.after(node) : box.prepend(node));
      prev = node;
    }
    const more = state.alerts.length - shown.length;
    Object.assign($("alerts-more-text"), { textContent: more > 0 ? `ほか ${more} 件の通知があります。` : "" });
    $("alerts-clear").hidden = state.alerts.length < 2;
    $("alerts-more").hidden = more <= 0 && state.alerts.length < 2;
    box.append($("alerts-more")); // always after the banners
    box.hidden = !state.alerts.length;
    const n = state.alerts.length;
    Object.assign($("alert-count"), { textContent: n, hidden: !n, title: `未読の通知 ${n} 件` });
    $("alert-count").setAttribute("aria-label", `未読の通知 ${n} 件`);
    if (hadFocus && !box.contains(document.activeElement)) { // the focused banner went away
      const next = box.querySelector(".alert-banner__open");
      if (next) next.focus(); else $("conv").focus();
    }
    updateTitle();
  }

  function dismissAlerts(match) {
    state.alerts = state.alerts.filter((a) => !match(a));
    renderAlerts();
  }

  // Opening the chat answers every alert about it; a chat the user may not see shows the server's error.
  function openFromAlert(a, viaKeyboard) {
    dismissAlerts((x) => x.id === a.id);
    openConversation(a.id, viaKeyboard);
  }

  function transferFromAlert(a, button) {
    return act(button, async () => {
      const data = await api("POST", convPath(a.id, "transfer"), { queue: "counseling" });
      dismissAlerts((x) => x.key === a.key);
      if (data.conversation) applyConv(data.conversation);
      else if (a.id === state.openId) await reloadOpen().catch(() => {});
      setStatus(`${QUEUE.counseling}に引き継ぎました。`);
    });
  }

  // --- queue lists --------------------------------------------------------------------------

  const riskRank = (c) => RISK_RANK[c.risk] || 0;

  function intakeText(intake) {
    if (!intake || typeof intake !== "object") return "";
    return [intake.age, intake.topic].filter((x) => x != null && x !== "").join(" ・ ");
  }

  function etaText(minutes) {
    if (typeof minutes !== "number" || !Number.isFinite(minutes) || minutes < 0) return "";
    return minutes < 1 ? "目安 まもなく" : `目安 約${Math.round(minutes)}分`;
  }

  function queueItem(c, list, n) {
    const li = el("li", "item");
    li.dataset.conversationId = c.id;
    li.tabIndex = 0;
    if (c.id === state.openId) li.setAttribute("aria-current", "true");
    const top = el("div", "item__top");
    if (n <= 9) { // shortcut hint: Alt+n opens the n-th item
      li.setAttribute("aria-keyshortcuts", "Alt+" + n);
      top.append(el("kbd", "item__key", n, { "aria-hidden": "true" }));
    }
    const p = PRIORITY[c.priority];
    // The risk level of counseling chats and of any chat triage raised; a general chat at なし shows none.
    const risk = RISK[c.risk] && (c.risk !== "none" || c.queue === "counseling" || c.counseling) ? c.risk : null;
    if (p) li.classList.add("item--" + p[1]);
    if (p && !(risk && RISK[risk] === p[0])) top.append(el("span", "tag tag--" + p[1], p[0])); // no "緊急 緊急"
    if (risk) { li.classList.add("item--risk-" + risk); li.dataset.risk = risk; top.append(riskPill(risk)); }
    top.append(el("span", "item__channel", CHANNEL[c.channel] || c.channel));
    if (state.unseen.has(c.id)) top.append(el("span", "tag tag--new", "新着"));
    if (state.unread.has(c.id)) { li.classList.add("is-unread"); top.append(el("span", "tag tag--unread", "未読")); }
    if (list === "waiting" && c.waiting_since) {
      const long = state.longWait.has(c.id);
      if (long) top.append(el("span", "tag tag--long", "長時間待ち"));
      top.append(el("span", "item__wait" + (long ? " item__wait--long" : ""), waitText(c.waiting_since), { "data-since": c.waiting_since, title: hhmm(c.waiting_since) + "から" }));
    } else if (c.claimed_at) {
      top.append(el("span", "item__since", hhmm(c.claimed_at) + "から担当", { title: "担当を始めた時刻" }));
    }
    const sub = [REASON[c.reason] || c.reason, QUEUE[c.queue] || c.queue];
    if (list === "live") sub.push("担当: " + ownerLabel(c.owner));
    li.append(top, el("div", "item__sub", sub.filter(Boolean).join(" ・ ")));
    const intake = intakeText(c.intake);
    const eta = list === "waiting" ? etaText(c.wait_minutes) : "";
    if (intake || eta) {
      const extra = el("div", "item__extra");
      if (intake) extra.append(el("span", "item__intake", intake, { title: "事前質問の回答" }));
      if (eta) extra.append(el("span", "item__eta", eta, { title: "推定待ち時間" }));
      li.append(extra);
    }
    li.append(previewLine(c.preview));
    li.append(el("div", "item__id", c.id));
    return li;
  }

  // The chat's latest message; counseling text the server does not send to this user (text null).
  function previewLine(p) {
    if (!p) return el("div", "item__preview item__preview--hidden", "（メッセージはまだありません）");
    if (p.text == null) return el("div", "item__preview item__preview--hidden", "（相談の内容のため表示されません）");
    const div = el("div", "item__preview");
    div.append(el("span", "item__preview-who", (SENDER[p.sender] || (String(p.sender).startsWith("staff:") ? "職員" : "")) + ":"));
    div.append(p.text);
    if (p.at) div.title = hhmm(p.at);
    return div;
  }

  function renderQueues() {
    // The <li>s are rebuilt: remember which one had focus so keyboard users keep their place.
    const active = document.activeElement;
    const focused = active && active.matches && active.matches("li[data-conversation-id]")
      ? [active.parentElement.id, active.dataset.conversationId] : null;
    let n = 0;
    for (const name of LISTS) {
      $(name).replaceChildren(...state[name].map((c) => queueItem(c, name, ++n)));
      $(name + "-count").textContent = state[name].length;
    }
    if (focused) $(focused[0]).querySelector(`li[data-conversation-id="${CSS.escape(focused[1])}"]`)?.focus();
    updateTitle();
  }

  function applyQueue(data) {
    for (const name of LISTS) state[name] = (data && data[name]) || [];
    // Keep the open conversation's header in step too (e.g. someone else claimed it).
    const current = state.loaded && LISTS.map((n) => state[n].find((c) => c.id === state.openId)).find(Boolean);
    if (current) updateOpen(current);
    checkNewWaiting();
    renderQueues();
  }

  // The socket's "queue" events come in order; a GET's answer can overtake one of them on the way back, so an
  // answer is dropped when a socket event came while it was on the way (that event is at least as new).
  let queueEvents = 0;
  const onQueueEvent = (data) => { queueEvents += 1; applyQueue(data); };
  const loadQueue = () => {
    const seen = queueEvents;
    return api("GET", "/staff/api/queue").then((data) => { if (queueEvents === seen) applyQueue(data); });
  };

  // Patch one conversation into the lists; the server's next "queue" event stays authoritative.
  function applyConv(conv) {
    if (!conv || !conv.id) return;
    const open = !conv.outcome;
    const fits = {
      waiting: open && conv.owner === "queued" && (state.me.queues || []).includes(conv.queue),
      mine: open && conv.owner === myOwner(),
      live: open && isPrivileged() && String(conv.owner).startsWith("staff:"),
    };
    for (const name of LISTS) {
      const list = state[name];
      const i = list.findIndex((c) => c.id === conv.id);
      if (i >= 0 && fits[name]) list[i] = conv;
      else if (i >= 0) list.splice(i, 1);
      else if (fits[name]) list.push(conv);
    }
    // Same order as the server: risk (emergency > high > normal), priority, then the longest wait.
    const since = (c) => (c.waiting_since ? new Date(c.waiting_since).getTime() : 0);
    state.waiting.sort((a, b) => riskRank(b) - riskRank(a) || (b.priority || 0) - (a.priority || 0) || since(a) - since(b));
    if (conv.id === state.openId && state.loaded) updateOpen(conv);
    checkNewWaiting();
    renderQueues();
  }

  // --- conversation pane --------------------------------------------------------------------

  // Whether a staff reply reached the citizen: acknowledged by their widget (web) or taken by LINE; sent to an
  // open widget that has not acknowledged (yet); nobody online when it was sent; not shown since (after a reload).
  function deliveryMark(m) {
    const at = m.delivered_at || state.delivered.get(m.id);
    if (at || m.delivery === "delivered") return ["delivered", state.open && state.open.channel !== "web" ? "配信済み" : "表示済み"];
    if (m.delivery === "sent") return ["sent", "送信済み"];
    return ["undelivered", m.delivery === "offline" ? "未達（相手がオフライン）" : "未達（まだ表示されていません）"];
  }

  function markDelivery(li, m) {
    const [kind, label] = deliveryMark(m);
    const mark = li.querySelector(".msg__delivery") || el("span", "msg__delivery");
    mark.dataset.state = kind;
    mark.textContent = label;
    if (!mark.parentNode) li.querySelector(".msg__meta").append(" ", mark);
  }

  function applyDelivery(id, at) {
    state.delivered.set(id, at);
    const m = state.messages.get(id);
    if (!m) return;
    m.delivered_at = m.delivered_at || at;
    const li = document.querySelector(`#transcript li[data-message-id="${Number(id)}"]`);
    if (li) markDelivery(li, m);
  }

  // One transcript line. Bot and system lines show their buttons (without the stored 「［ボタン：…］」 line); a
  // pressed button shows its title (m.pressed, transcript.py), the payload in its tooltip.
  function messageItem(m) {
    const s = String(m.sender || "");
    const who = s === "user" || s === "bot" || s === "system" ? s : "staff";
    const media = m.kind === "media";
    const cls = `msg msg--${who}${m.kind === "note" ? " msg--note" : ""}${media ? " msg--media" : ""}${m.pressed ? " msg--pressed" : ""}`;
    const li = el("li", cls, null, { "data-message-id": m.id, "data-kind": media ? "media" : m.kind === "note" ? "note" : who });
    const time = el("time", "msg__time", hhmm(m.at));
    time.dateTime = m.at || "";
    const buttons = Array.isArray(m.buttons) ? m.buttons.filter((b) => b && b.title) : [];
    const text = buttons.length || BUTTONS_LINE.test(m.text || "") ? String(m.text || "").replace(BUTTONS_LINE, "") : m.text;
    if (who === "system") {
      const event = media ? "media" : EVENT[m.event] ? m.event : "info";
      li.dataset.event = event;
      const body = el("span", "msg__text");
      body.append(el("span", "msg__event", EVENT[event]), text);
      li.append(body, " ", time);
      if (buttons.length) li.append(buttonList(buttons));
      return li;
    }
    const meta = el("div", "msg__meta");
    if (m.kind === "note") meta.append(el("span", "tag tag--note", "メモ（市民には表示されません）"));
    meta.append(el("span", "msg__who", senderLabel(s)), " ", time);
    if (m.pressed) {
      const body = el("div", "msg__text", null, { title: m.text || "" });
      body.append(el("span", "msg__pressed-mark", "ボタン"), m.pressed);
      li.append(meta, body);
    } else {
      li.append(meta, el("div", "msg__text", text));
    }
    if (buttons.length) li.append(buttonList(buttons));
    if (who === "staff" && m.kind !== "note") markDelivery(li, m);
    return li;
  }

  // A button pressed while the chat is open (live, not through transcript.py): its title from the buttons of
  // the last bot or system line before it, that button marked; the payload as it is when none matches.
  function pressedLive(m) {
    const text = String(m.text || "").trim();
    if (m.pressed || m.protected && text.startsWith("（")) return;
    const before = [...state.messages.values()].filter((x) => x.id < m.id && x.kind === "text").sort((a, b) => b.id - a.id)[0];
    if (!before || (before.sender !== "bot" && before.sender !== "system") || !Array.isArray(before.buttons)) return;
    const b = before.buttons.find((x) => x && (x.payload === text || (!x.payload && x.title === text)));
    if (!b) return;
    m.pressed = b.title;
    b.chosen = true;
    const old = document.querySelector(`#transcript li[data-message-id="${Number(before.id)}"]`);
    if (old) old.replaceWith(messageItem(before));
  }

  function buttonList(buttons) {
    const ul = el("ul", "msg__buttons", null, { "aria-label": "表示したボタン" });
    for (const b of buttons) {
      ul.append(el("li", "msg__button" + (b.chosen ? " msg__button--chosen" : ""), b.title, b.chosen ? { title: "市民が押したボタン" } : {}));
    }
    return ul;
  }

  function renderTranscript() {
    // A freshly inserted live region does not announce its initial content, so swapping the
    // element (instead of filling the old one) keeps screen readers from reading the whole history.
    const old = $("transcript");
    const ol = old.cloneNode(false);
    ol.append(...[...state.messages.values()].sort((a, b) => a.id - b.id).map(messageItem));
    old.replaceWith(ol);
    ol.scrollTop = ol.scrollHeight;
  }

  function addMessage(m) {
    if (!m || state.messages.has(m.id)) return; // a reply arrives both as the POST answer and as an event
    state.messages.set(m.id, m);
    if (m.sender === "user") { showTyping(false); pressedLive(m); }
    if (!state.loaded) return; // merged when the transcript arrives
    const ol = $("transcript");
    const atBottom = ol.scrollHeight - ol.scrollTop - ol.clientHeight < 40;
    ol.append(messageItem(m));
    if (atBottom) ol.scrollTop = ol.scrollHeight;
  }

  function renderHeader() {
    const c = state.open;
    $("conv-title").textContent = c.id;
    $("conv-channel").textContent = CHANNEL[c.channel] || c.channel;
    $("conv-owner").textContent = ownerLabel(c.owner) + (c.outcome ? `（終了: ${OUTCOME[c.outcome] || c.outcome}）` : "");
    $("conv-queue").textContent = QUEUE[c.queue] || c.queue;
    $("conv-reason").textContent = REASON[c.reason] || c.reason || "—";
    const p = PRIORITY[c.priority];
    Object.assign($("conv-priority"), { hidden: !p, className: p ? "tag tag--" + p[1] : "tag", textContent: p ? p[0] : "" });
    renderRisk(c);
  }

  function renderRisk(c) {
    const risk = RISK[c.risk] && (c.risk !== "none" || c.queue === "counseling" || c.counseling) ? c.risk : null;
    const pill = $("conv-risk");
    Object.assign(pill, { hidden: !risk, className: "risk-pill" + (risk ? " risk-pill--" + risk : ""), textContent: risk ? RISK[risk] : "" });
    if (risk) pill.dataset.risk = risk; else delete pill.dataset.risk;
    pill.title = risk ? "リスク: " + RISK[risk] : "";
    const rules = Array.isArray(c.risk_rules) ? c.risk_rules.filter((r) => r != null && r !== "") : [];
    $("conv-rules").replaceChildren(el("span", "visually-hidden", "該当ルール: "), ...rules.map((r) => el("span", "rule-tag", r)));
    $("conv-rules").hidden = !rules.length;
    const intake = intakeText(c.intake);
    $("conv-intake").textContent = intake;
    $("conv-intake-row").hidden = !intake;
    const key = `${c.id}|${c.risk}`;
    if (state.riskKey !== key) { // only when the chat or its risk changed, not over a choice being made
      state.riskKey = key;
      $("risk-select").value = risk || "none";
    }
  }

  function renderControls() {
    const c = state.loaded ? state.open : null;
    const active = !!c && !c.outcome;
    const mine = active && c.owner === myOwner();
    // Same rule as the server: the owner, or a supervisor/admin for any chat a person owns.
    const manage = active && (mine || (isPrivileged() && String(c.owner).startsWith("staff:")));
    $("claim").disabled = !(active && c.owner === "queued");
    for (const id of ["release", "close", "transfer"]) $(id).disabled = !manage;
    $("reply-text").disabled = $("reply-send").disabled = !mine;
    $("canned-picker").hidden = !mine;
    $("reply-text").placeholder = mine ? "返信を入力（Ctrl+Enter で送信）"
      : c && c.outcome ? "この会話は終了しています" : "返信するには「担当する」を押してください";
    $("note-text").disabled = $("note-send").disabled = !active || c.owner === "bot";
    $("risk-select").disabled = $("risk-set").disabled = !active || !canSetRisk();

    notifyChange();
  }

  const canSetRisk = () => !!state.me && RISK_ROLES.includes(state.me.role);

  // Close outcomes: counseling chats have their own list (/staff/api/me outcomes), else the general one.
  function outcomeList(c) {
    const all = state.me && state.me.outcomes;
    const counseling = !!c && (c.queue === "counseling" || c.counseling === true);
    const list = all && all[counseling ? "counseling" : "general"];
    const valid = Array.isArray(list) ? list.filter((o) => o && o.id) : [];
    return valid.length ? valid : Object.entries(OUTCOME).filter(([id]) => FALLBACK_OUTCOMES.includes(id)).map(([id, label]) => ({ id, label }));
  }

  function renderOutcomes() {
    const box = $("close-outcomes");
    box.replaceChildren(box.querySelector("legend"), ...outcomeList(state.open).map((o, i) => {
      const label = el("label");
      const input = el("input", null, null, { type: "radio", name: "outcome", value: o.id });
      input.checked = i === 0;
      label.append(input, " ", o.label || OUTCOME[o.id] || o.id);
      return label;
    }));
  }

  function showNotice(text) {
    Object.assign($("conv-notice"), { textContent: text, hidden: !text });
    if (text) setStatus(text);
  }

  function changeNotice(old, c) {
    if (c.outcome && !old.outcome) return `この会話は終了しました（${OUTCOME[c.outcome] || c.outcome}）。`;
    if (old.owner === c.owner && old.queue === c.queue) return "";
    if (c.owner === "bot") return "この会話はボットに戻されました。";
    if (c.owner === myOwner()) return "";
    if (c.owner === "queued") return `この会話は${QUEUE[c.queue] || c.queue}の待機列に移りました。`;
    return `この会話は${ownerLabel(c.owner)}さんが担当しています。`;
  }

  function updateOpen(conv) {
    const old = state.open;
    state.open = conv;
    if (old && old.id === conv.id && changeNotice(old, conv)) showNotice(changeNotice(old, conv));
    renderHeader();
    renderControls();
    if (!old || old.queue !== conv.queue) renderCanned(); // the pick list is per queue
  }

  const WATCH_WAIT_MS = 3000;
  function watch(id) {
    if (!socket || !socket.connected) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, WATCH_WAIT_MS);
      socket.emit("watch", { conversation_id: id }, () => { clearTimeout(timer); resolve(); });
    });
  }

  async function openConversation(id, viaKeyboard) {
    if (id === state.openId && state.loaded) return viaKeyboard && $("conv-title").focus();
    const seq = ++openSeq;
    if (state.openId && socket) socket.emit("unwatch", { conversation_id: state.openId });
    Object.assign(state, { openId: id, open: null, loaded: false, messages: new Map(), delivered: new Map() });
    showTyping(false);
    state.unread.delete(id); state.unseen.delete(id);
    renderQueues();
    renderControls();
    showNotice("");
    // Watch before fetching so a message sent in between is not lost (duplicates are dropped by id), and show the
    // chat only once the gateway has confirmed the watch (or after WATCH_WAIT_MS): the watch travels on the socket,
    // the transcript on HTTP, and a 「入力中…」 sent between the two would otherwise be lost.
    const watched = watch(id);
    const data = await api("GET", convPath(id)).catch(() => null);
    await watched;
    if (seq !== openSeq) return;
    if (!data) { // error already shown; back to the empty pane
      if (socket) socket.emit("unwatch", { conversation_id: id });
      state.openId = null;
      $("conv-view").hidden = true;
      $("empty").hidden = false;
      return renderQueues();
    }
    (data.messages || []).forEach((m) => state.messages.set(m.id, m));
    state.loaded = true;
    $("empty").hidden = true;
    $("conv-view").hidden = false;
    updateOpen(data.conversation);
    renderTranscript();
    const outcome = data.conversation.outcome;
    if (outcome) showNotice(`この会話は終了しています（${OUTCOME[outcome] || outcome}）。`);
    if (viaKeyboard) $("conv-title").focus();
    else if (matchMedia("(max-width: 899px)").matches) $("conv").scrollIntoView({ block: "start" });
  }

  // Re-read the open conversation (after our own actions, or after a reconnect).
  async function reloadOpen() {
    const id = state.openId;
    if (!id || !state.loaded) return;
    const data = await api("GET", convPath(id));
    if (id !== state.openId) return;
    (data.messages || []).sort((a, b) => a.id - b.id).forEach(addMessage);
    (data.messages || []).forEach((m) => { if (m.delivered_at) applyDelivery(m.id, m.delivered_at); });
    applyConv(data.conversation);
  }

  async function post(action, body, button, done) {
    const id = state.openId;
    await act(button, async () => {
      const data = await api("POST", convPath(id, action), body);
      if (id !== state.openId) return;
      if (data.message) addMessage(data.message);
      if (data.conversation) applyConv(data.conversation);
      else if (action !== "reply" && action !== "note") await reloadOpen().catch(() => {});
      if (done) done(data);
    });
  }

  function sendText(kind) {
    const box = $(kind + "-text");
    const text = box.value.trim();
    if (box.disabled || !text) return box.focus();
    post(kind, { text }, $(kind + "-send"), () => {
      if (box.value.trim() === text) box.value = ""; // keep anything typed while sending
      setStatus(kind === "reply" ? "送信しました。" : "メモを残しました。");
      box.focus();
    });
  }

  // --- canned replies -----------------------------------------------------------------------

  const loadCanned = () => api("GET", "/staff/api/canned").then((data) => { state.canned = data.replies || []; renderCanned(); });

  function renderCanned() {
    const q = state.open && state.open.queue;
    $("canned-list").replaceChildren(...state.canned.filter((r) => !q || r.queue === q).map((r) => {
      const li = el("li");
      li.append(el("button", "canned__item", r.text, { type: "button" }));
      li.firstChild.addEventListener("click", () => insertCanned(r.text));
      return li;
    }));
    if (!state.me || !isPrivileged()) return;
    $("canned-admin-list").replaceChildren(...state.canned.map((r) => {
      const li = el("li");
      const del = el("button", "btn btn--small btn--danger", "削除", { type: "button", "aria-label": "削除: " + r.text.slice(0, 30) });
      del.addEventListener("click", () => {
        if (!confirm("この定型文を削除しますか？")) return;
        act(del, async () => { await api("DELETE", `/staff/api/canned/${encodeURIComponent(r.id)}`); await loadCanned(); setStatus("定型文を削除しました。"); });
      });
      li.append(el("span", "tag", QUEUE[r.queue] || r.queue), el("span", "canned-admin__text", r.text), del);
      return li;
    }));
  }

  function insertCanned(text) {
    const box = $("reply-text");
    box.value = box.value.trim() ? box.value.replace(/\s*$/, "\n") + text : text;
    $("canned-picker").open = false;
    box.focus();
    box.setSelectionRange(box.value.length, box.value.length);
  }

  // --- hook for other scripts (console_tools.js) ---------------------------------------------
  // window.staffConsole: currentConversation() → the open chat's id or null; conversation() → its data
  // (as /staff/api/conversations/<id> sends it) or null; open(id) opens a chat as a click on its row does;
  // insertReply(text) appends text to the reply box (as a canned reply does; returns false when the reply
  // box is disabled); onChange(callback) calls callback(id, conversation) whenever the open chat or its state
  // changes (returns a function that unsubscribes); on(event, handler) listens to an event of the console's own
  // live connection (/staff), also one made later or again — no second connection.
  const changeListeners = new Set();
  const socketListeners = [];
  let lastChange = "";
  function notifyChange() {
    const key = JSON.stringify([state.openId, state.loaded && state.open]);
    if (key === lastChange) return;
    lastChange = key;
    for (const cb of [...changeListeners]) {
      try { cb(state.openId, state.loaded ? state.open : null); } catch (e) { console.error(e); }
    }
  }
  window.staffConsole = Object.freeze({
    currentConversation: () => state.openId,
    conversation: () => (state.loaded ? state.open : null),
    open: (id) => openConversation(String(id), false),
    insertReply: (text) => {
      if ($("reply-text").disabled || text == null) return false;
      insertCanned(String(text));
      return true;
    },
    on: (event, handler) => {
      if (typeof handler !== "function") return;
      socketListeners.push([String(event), handler]);
      if (socket) socket.on(String(event), handler);
    },
    onChange: (callback) => {
      if (typeof callback !== "function") return () => {};
      changeListeners.add(callback);
      return () => changeListeners.delete(callback);
    },
  });

  // --- この方の履歴: the open chat's earlier chats and 大型ごみ bookings -----------------------------------
  // /staff/api/conversations/<id>/context (audited; the server leaves out what the role may not know of).
  // Loaded once per opened chat. An earlier chat opens in the history view when console_tools.js offers
  // window.staffConsoleTools.openHistory(entry); otherwise its date and outcome are shown.
  const BOOKING_STATUS = { booked: "予約中", cancelled: "キャンセル" };
  const quietApi = StaffApi.create({ csrfToken: () => (state.me ? state.me.csrf_token : ""), setStatus: () => {} });
  let contextFor = null;
  const when = (iso) => { const d = new Date(iso); return isNaN(d) ? "" : d.toLocaleString("ja-JP", { dateStyle: "short", timeStyle: "short" }); };
  function contextOutcome(c) {
    if (c.outcome === "released") return "ボットに戻した";
    const list = state.me && state.me.outcomes && state.me.outcomes[c.counseling ? "counseling" : "general"];
    const found = Array.isArray(list) && list.find((o) => o && o.id === c.outcome);
    return (found && found.label) || OUTCOME[c.outcome] || c.outcome || "—";
  }
  function contextChat(c) {
    const li = el("li");
    if (c.counseling) li.append(el("span", "context__tag", "相談"));
    const text = [when(c.closed_at), contextOutcome(c) + (c.automatic ? "（自動終了）" : ""),
      c.automatic ? null : c.staff, CHANNEL[c.channel] || c.channel].filter(Boolean).join("・");
    const tools = window.staffConsoleTools;
    if (tools && typeof tools.openHistory === "function") {
      const b = el("button", "context__open", text, { type: "button", title: "この会話を開く" });
      b.addEventListener("click", () => tools.openHistory(c.entry));
      li.append(b);
    } else li.append(el("span", null, text));
    return li;
  }
  function contextBooking(b) {
    const li = el("li", b.status === "cancelled" ? "context__cancelled" : null);
    const q = new URLSearchParams({ day: b.day, ward: b.ward, status: "all" });
    const a = el("a", null, b.receipt_no, { href: "/staff/bookings?" + q, target: "_blank", rel: "noopener", title: "予約の一覧で開く" });
    const day = new Date(b.day + "T00:00:00");
    const dayText = isNaN(day) ? b.day : day.toLocaleDateString("ja-JP", { month: "numeric", day: "numeric", weekday: "short" });
    li.append(a, "・" + [dayText, b.ward, b.items, `${Number(b.total).toLocaleString("ja-JP")}円`, BOOKING_STATUS[b.status] || b.status].join("・"));
    return li;
  }
  async function loadContext(id) {
    contextFor = id;
    const box = $("conv-context");
    const data = await quietApi("GET", convPath(id, "context")).catch(() => null);
    if (contextFor !== id) return; // another chat was opened meanwhile
    if (!data) { box.hidden = true; return; }
    const chats = data.chats || [];
    $("context-chats").replaceChildren(...chats.map(contextChat));
    const bookings = Array.isArray(data.bookings) ? data.bookings : null;
    $("context-bookings-part").hidden = bookings === null && !data.bookings_error;
    $("context-bookings").dataset.empty = data.bookings_error || "予約はありません";
    $("context-bookings").replaceChildren(...(bookings || []).map(contextBooking));
    const counts = [`以前の対応 ${data.total != null ? data.total : chats.length}件`];
    if (bookings) counts.push(`大型ごみの予約 ${bookings.length}件`);
    $("context-counts").textContent = `（${counts.join("・")}）`;
    box.hidden = false;
  }
  changeListeners.add((id, conv) => {
    if (id === contextFor) return;
    contextFor = null; // another chat: nothing of the previous one stays on screen
    $("conv-context").hidden = true;
    if (id && conv) loadContext(id);
  });

  // --- admin --------------------------------------------------------------------------------

  const cell = (c) => el("td", null, c == null ? "" : typeof c === "object" ? JSON.stringify(c) : c);
  const row = (cells) => { const tr = el("tr"); tr.append(...cells.map(cell)); return tr; };

  async function loadAdmin() {
    const [u, a] = await Promise.all([api("GET", "/staff/api/users"), api("GET", "/staff/api/audit")]);
    $("users").replaceChildren(...(u.users || []).map((x) => row([x.username, ROLE[x.role] || x.role, x.active ? "有効" : "無効"])));
    $("audit").replaceChildren(...(a.entries || []).map((x) =>
      row([x.at ? new Date(x.at).toLocaleString("ja-JP") : "", x.username, x.action, x.conversation_id, x.detail])));
  }

  // --- dialogs and wiring -------------------------------------------------------------------

  // Esc closes a modal <dialog> natively; the "close" handler below puts focus back.
  const openDialog = (id) => { lastFocus = document.activeElement; $(id).showModal(); };

  function bindUi() {
    for (const d of document.querySelectorAll("dialog")) {
      // Give focus back to the opener, or to the conversation title if the opener is now disabled.
      d.addEventListener("close", () => {
        if (lastFocus && !lastFocus.disabled && lastFocus.isConnected) lastFocus.focus();
        else if (state.loaded) $("conv-title").focus();
      });
    }
    document.addEventListener("click", (e) => e.target.closest("[data-close]")?.closest("dialog").close());

    for (const name of LISTS) {
      const ul = $(name);
      ul.addEventListener("click", (e) => {
        const li = e.target.closest("li[data-conversation-id]");
        if (li) openConversation(li.dataset.conversationId, false);
      });
      ul.addEventListener("keydown", (e) => {
        const li = e.target.closest("li[data-conversation-id]");
        if (!li) return;
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); openConversation(li.dataset.conversationId, true); }
        const next = e.key === "ArrowDown" ? li.nextElementSibling : e.key === "ArrowUp" ? li.previousElementSibling : null;
        if (next) { e.preventDefault(); next.focus(); }
      });
    }

    document.addEventListener("keydown", (e) => {
      // e.code, not e.key: on macOS Option+digit types a symbol.
      if (!e.altKey || e.ctrlKey || e.metaKey || !/^Digit[1-9]$/.test(e.code) || document.querySelector("dialog[open]")) return;
      const li = document.querySelectorAll("#waiting li, #mine li, #live li")[Number(e.code.slice(5)) - 1];
      if (li) { e.preventDefault(); openConversation(li.dataset.conversationId, true); }
    });

    $("canned-picker").addEventListener("keydown", (e) => { // Esc closes the pick list too
      if (e.key !== "Escape" || !$("canned-picker").open) return;
      e.preventDefault();
      $("canned-picker").open = false;
      $("canned-picker").querySelector("summary").focus();
    });

    for (const kind of ["reply", "note"]) {
      $(kind + "-form").addEventListener("submit", (e) => { e.preventDefault(); sendText(kind); });
      $(kind + "-text").addEventListener("keydown", (e) => {
        if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && !e.isComposing) { e.preventDefault(); sendText(kind); }
      });
    }

    $("claim").addEventListener("click", (e) => post("claim", {}, e.currentTarget, () => { setStatus("担当になりました。"); $("reply-text").focus(); }));
    $("release").addEventListener("click", (e) => post("release", {}, e.currentTarget, () => setStatus("ボットに戻しました。")));
    $("close").addEventListener("click", () => { renderOutcomes(); openDialog("close-dialog"); });
    $("risk-set").addEventListener("click", (e) => {
      const level = $("risk-select").value;
      post("risk", { level }, e.currentTarget, () => setStatus(`リスクを「${RISK[level] || level}」に変更しました。`));
    });
    $("alerts-clear").addEventListener("click", () => { dismissAlerts(() => true); setStatus("通知をすべて閉じました。"); });
    $("alert-count").addEventListener("click", (e) => { // jump to the newest banner
      e.preventDefault();
      const first = $("alerts").querySelector(".alert-banner__open");
      if (first) first.focus();
    });
    $("transfer").addEventListener("click", () => {
      $("transfer-user").value = "";
      const other = Object.keys(QUEUE).find((q) => state.open && q !== state.open.queue);
      if (other) $("transfer-queue").value = other;
      openDialog("transfer-dialog");
    });

    // Close / transfer dialogs: the dialog closes after the update, so focus returns to a control in its final state.
    const onDialogSubmit = (action, makeBody, done) => $(action + "-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const body = makeBody();
      post(action, body, $(action + "-confirm"), () => { $(action + "-dialog").close(); setStatus(done(body)); });
    });
    onDialogSubmit("close", () => ({ outcome: new FormData($("close-form")).get("outcome") }),
      (b) => `会話を終了しました（${OUTCOME[b.outcome]}）。`);
    onDialogSubmit("transfer", () => ($("transfer-user").value.trim() ? { to_user: $("transfer-user").value.trim() } : { queue: $("transfer-queue").value }),
      (b) => (b.to_user ? `${b.to_user}さんに引き継ぎました。` : `${QUEUE[b.queue] || b.queue}に転送しました。`));

    $("notify-enable").addEventListener("click", askNotificationPermission);
    for (const [tab, form, other, otherForm] of [["tab-reply", "reply-form", "tab-note", "note-form"], ["tab-note", "note-form", "tab-reply", "reply-form"]]) {
      $(tab).addEventListener("click", () => {
        $(tab).setAttribute("aria-selected", "true"); $(other).setAttribute("aria-selected", "false");
        $(form).hidden = false; $(otherForm).hidden = true;
        const box = $(form).querySelector("textarea");
        if (!box.disabled) box.focus();
      });
    }

    $("canned-open").addEventListener("click", () => openDialog("canned-dialog"));
    $("canned-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const text = $("canned-text").value.trim();
      if (!text) return;
      act($("canned-add"), async () => {
        await api("POST", "/staff/api/canned", { queue: $("canned-queue").value, text });
        $("canned-text").value = "";
        await loadCanned();
        setStatus("定型文を追加しました。");
      });
    });

    $("admin-open").addEventListener("click", () => { openDialog("admin-dialog"); act(null, loadAdmin); });
    $("user-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const body = { username: $("new-username").value.trim(), password: $("new-password").value, role: $("new-role").value };
      act($("user-add"), async () => {
        await api("POST", "/staff/api/users", body);
        e.target.reset();
        setStatus(`ユーザー ${body.username} を追加しました。`);
        await loadAdmin();
      });
    });

    StaffApi.bindLogout($("logout"), () => (state.me ? state.me.csrf_token : ""), () => socket && socket.disconnect());

    // Refresh the "n分待ち" labels; also poll while the live connection is down.
    setInterval(() => {
      for (const w of document.querySelectorAll(".item__wait")) w.textContent = waitText(w.dataset.since);
      if (socket && !socket.connected) loadQueue().catch(() => {});
    }, 30000);
  }

  function connect() {
    socket = io("/staff", { path: "/socket.io", transports: ["websocket", "polling"], withCredentials: true });
    socket.on("connect", () => {
      // Also on reconnect: events were missed while offline, and the server forgot our watch.
      setStatus("接続しました。");
      loadQueue().catch(() => {});
      if (state.openId) { socket.emit("watch", { conversation_id: state.openId }); reloadOpen().catch(() => {}); }
    });
    // A 401 means the session ended (expired, logged out elsewhere, deactivated): go to login.
    // (Not api(): keep the message shown.)
    const toLoginIfEnded = () => fetch("/staff/api/me", { credentials: "same-origin" })
      .then((r) => { if (r.status === 401) location.href = "/staff/login"; }).catch(() => {});
    socket.on("disconnect", (reason) => {
      setStatus("接続が切れました。再接続しています…", "error");
      // The server closes the sockets of a session that ended, and Socket.IO does not reconnect those.
      if (reason === "io server disconnect") toLoginIfEnded();
    });
    socket.on("connect_error", () => {
      setStatus("リアルタイム接続に失敗しました。再試行しています…", "error");
      toLoginIfEnded();
    });
    for (const [event, handler] of socketListeners) socket.on(event, handler);
    socket.on("queue", onQueueEvent);
    socket.on("alert", onAlert);
    socket.on("escalation", onEscalation);
    socket.on("typing", (data) => { if (data && data.conversation_id === state.openId && state.loaded) showTyping(true); });
    socket.on("conversation", (data) => applyConv(data && data.conversation));
    socket.on("delivery", (data) => {
      if (!data || data.conversation_id !== state.openId || !Array.isArray(data.messages)) return;
      for (const d of data.messages) if (d && d.id != null) applyDelivery(d.id, d.delivered_at);
    });
    socket.on("message", (data) => {
      if (!data || !data.message) return;
      const m = data.message;
      if (data.conversation_id === state.openId) {
        addMessage(m);
        if (document.hidden && m.sender === "user") beep();
      } else if (m.sender !== myOwner() && LISTS.some((n) => state[n].some((c) => c.id === data.conversation_id))) {
        state.unread.add(data.conversation_id);
        renderQueues();
        if (document.hidden) beep();
      }
    });
  }

  // Labels from /staff/api/me (outcomes, risk_levels); older servers send neither.
  function applyMeLists(me) {
    const outcomes = me.outcomes && typeof me.outcomes === "object" ? me.outcomes : {};
    for (const list of Object.values(outcomes)) {
      if (Array.isArray(list)) for (const o of list) if (o && o.id && o.label) OUTCOME[o.id] = o.label;
    }
    const levels = (Array.isArray(me.risk_levels) ? me.risk_levels : []).filter((l) => l && RISK_RANK[l.id] != null);
    for (const l of levels) if (l.label) RISK[l.id] = l.label;
    const options = levels.length ? levels.map((l) => l.id) : Object.keys(RISK_RANK).reverse();
    $("risk-select").replaceChildren(...options.map((id) => el("option", null, RISK[id], { value: id })));
    $("risk-control").hidden = !canSetRisk();
  }

  async function init() {
    bindUi();
    const me = (state.me = await StaffApi.loadMe(api));
    if (!me) return;
    $("admin-open").hidden = me.role !== "admin";
    $("bookings-link").hidden = !["staff", "supervisor", "admin"].includes(me.role); // not counselors (server: 403)
    $("canned-open").hidden = $("reports").hidden = $("live-section").hidden = !isPrivileged();
    applyMeLists(me);
    showNotifyButton();
    renderControls();
    try {
      await Promise.all([loadQueue(), loadCanned()]);
      setStatus("準備ができました。");
    } catch (e) { /* already shown in the status bar */ }
    connect();
  }

  init();
})();
