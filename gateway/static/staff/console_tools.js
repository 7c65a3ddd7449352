// Console tools (issue #17): availability and automatic assignment, transfer to a person with their availability,
// canned replies (a filter box, "/" + keyword in the reply box, a manager for supervisors), keyboard shortcuts with
// a help overlay ("?"), and the history of closed chats. Works beside console.js through window.staffConsole and
// the page's element ids; it adds its own elements and never changes console.js's state.
(() => {
  "use strict";

  const $ = (id) => document.getElementById(id);
  const QUEUE = { general: "一般窓口", counseling: "相談窓口" };
  const ROLE = window.StaffApi.ROLE;
  const STATUS = { online: "対応可", away: "離席", offline: "オフライン" };
  const CHANNEL = { web: "ウェブ", line: "LINE", rest: "API" };
  const SENDER = { user: "市民", bot: "ボット", system: "システム" };
  const me = { username: "", role: "", csrf: "", outcomes: {} };
  let canned = [];

  function el(tag, cls, text, attrs = {}) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text != null) node.textContent = text;
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    return node;
  }
  let sayTimer = 0;
  const say = (text) => { // a short note at the top right; it never covers a control and goes after a while
    const s = $("tools-status");
    s.textContent = "";
    requestAnimationFrame(() => { s.textContent = text; });
    clearTimeout(sayTimer);
    sayTimer = setTimeout(() => { s.textContent = ""; }, 8000);
  };
  const api = (method, url, body) => window.StaffApi.create({
    csrfToken: () => me.csrf, setStatus: (text) => say(text),
  })(method, url, body);
  const privileged = () => me.role === "supervisor" || me.role === "admin";
  const hook = () => window.staffConsole || null;
  const openChat = () => (hook() && hook().conversation && hook().conversation()) || null;
  const typing = (t) => t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName));
  const when = (iso) => (iso ? new Date(iso).toLocaleString("ja-JP", { dateStyle: "short", timeStyle: "short" }) : "");

  function dialog(id, title, wide) {
    const d = el("dialog", "tools-dialog" + (wide ? " dialog--wide" : ""), null, { id, "aria-labelledby": id + "-h" });
    const box = el("div", "dialog");
    box.append(el("h2", null, title, { id: id + "-h" }));
    const body = el("div", "tools-dialog__body");
    const buttons = el("div", "dialog__buttons");
    buttons.append(el("button", "btn", "閉じる", { type: "button", "data-close": "" }));
    box.append(body, buttons);
    d.append(box);
    document.body.append(d);
    return { d, body };
  }
  function open(d) {
    const back = document.activeElement;
    d.addEventListener("close", () => { if (back && back.isConnected && !back.disabled) back.focus(); }, { once: true });
    d.showModal();
  }

  // --- availability -----------------------------------------------------------------------------------------------
  function presenceControl() {
    const label = el("label", "tools-presence", "状態 ");
    const select = el("select", null, null, { id: "tools-presence" });
    for (const [value, text] of Object.entries(STATUS)) select.append(el("option", null, text, { value }));
    label.append(select);
    select.addEventListener("change", async () => {
      try { await api("POST", "/staff/api/presence", { status: select.value }); say(`状態を「${STATUS[select.value]}」にしました。`); }
      catch (e) { /* said */ }
    });
    return label;
  }
  async function loadPresence() {
    const data = await api("GET", "/staff/api/presence");
    $("tools-presence").value = data.me.chosen;
  }

  function listen() {
    if (!hook() || typeof hook().on !== "function") return;
    hook().on("assigned", (data) => {
      const c = data && data.conversation;
      if (!c) return;
      say(`${data.text || "チャットが割り当てられました。"}（${QUEUE[c.queue] || c.queue}）`);
      if (hook() && !hook().currentConversation()) hook().open(c.id);
      if ("Notification" in window && Notification.permission === "granted" && document.hidden) {
        try { new Notification("職員コンソール", { body: data.text || "チャットが割り当てられました。" }); } catch (e) { /* none */ }
      }
    });
  }

  // --- transfer: members of the chat's queue with their availability ---------------------------------------------
  function enhanceTransfer() {
    const input = $("transfer-user");
    if (!input) return;
    const label = el("label", null, "職員を選ぶ（状態・担当数）", { for: "tools-transfer-member" });
    const select = el("select", null, null, { id: "tools-transfer-member" });
    input.before(label, select);
    select.addEventListener("change", () => { input.value = select.value; });
    input.addEventListener("input", () => { if (select.value !== input.value) select.value = ""; });
    $("transfer").addEventListener("click", async () => {
      const c = openChat();
      select.replaceChildren(el("option", null, "（窓口へ転送）", { value: "" }));
      if (!c) return;
      try {
        const data = await api("GET", `/staff/api/presence?queue=${encodeURIComponent(c.queue || "general")}`);
        const order = { online: 0, away: 1, offline: 2 };
        for (const m of data.members.filter((x) => x.username !== me.username)
          .sort((a, b) => order[a.status] - order[b.status] || a.username.localeCompare(b.username))) {
          select.append(el("option", null, `${m.username}（${ROLE[m.role] || m.role}・${STATUS[m.status]}・${m.open_chats}件）`,
            { value: m.username, "data-status": m.status }));
        }
      } catch (e) { /* said */ }
    });
  }

  // --- canned replies ---------------------------------------------------------------------------------------------
  async function loadCanned() {
    canned = (await api("GET", "/staff/api/canned")).replies || [];
    renderManager();
  }
  const cannedLabel = (r) => (r.keyword ? `/${r.keyword} ` : "") + (r.title || r.text);

  // The composer's pick list (console.js renders it): a filter box above it.
  function filterBox() {
    const picker = $("canned-picker");
    const list = $("canned-list");
    if (!picker || !list) return;
    const box = el("input", "tools-filter", null, { id: "tools-canned-filter", type: "search", placeholder: "定型文を検索", "aria-label": "定型文を検索" });
    list.before(box);
    const apply = () => {
      const q = box.value.trim().toLowerCase();
      for (const li of list.children) {
        const text = li.textContent.toLowerCase();
        const reply = canned.find((r) => r.text === li.textContent.trim());
        const extra = reply ? `${reply.title} ${reply.keyword}`.toLowerCase() : "";
        li.hidden = Boolean(q) && !text.includes(q) && !extra.includes(q);
      }
    };
    box.addEventListener("input", apply);
    new MutationObserver(apply).observe(list, { childList: true });
  }

  // "/" + keyword at the start of the reply box: a small pop-up list, arrow keys + Enter (or Tab), Esc closes.
  function slashPopup() {
    const box = $("reply-text");
    if (!box) return;
    const pop = el("ul", "tools-slash", null, { id: "tools-slash", role: "listbox", "aria-label": "定型文の候補" });
    pop.hidden = true;
    box.after(pop);
    let items = [];
    let index = 0;
    const close = () => { pop.hidden = true; items = []; box.removeAttribute("aria-activedescendant"); };
    const choose = (r) => {
      box.value = box.value.replace(/^\/\S*\s?/, "");
      close();
      if (!(hook() && hook().insertReply(r.text))) box.value = r.text + box.value;
      say("定型文を入れました。");
    };
    const render = () => {
      pop.replaceChildren(...items.map((r, i) => {
        const li = el("li", "tools-slash__item" + (i === index ? " is-active" : ""), null,
          { id: `tools-slash-${i}`, role: "option", "aria-selected": String(i === index) });
        li.append(el("b", null, r.keyword ? `/${r.keyword}` : QUEUE[r.queue] || ""), " ", el("span", null, r.title || r.text));
        li.addEventListener("mousedown", (e) => { e.preventDefault(); choose(r); });
        return li;
      }));
      pop.hidden = !items.length;
      if (items.length) box.setAttribute("aria-activedescendant", `tools-slash-${index}`);
    };
    const update = () => {
      const m = /^\/(\S*)$/.exec(box.value);
      if (!m) { close(); return; }
      const q = m[1].toLowerCase();
      const queue = (openChat() || {}).queue;
      const pool = canned.filter((r) => !queue || r.queue === queue);
      const first = pool.filter((r) => r.keyword && r.keyword.toLowerCase().startsWith(q));
      const rest = pool.filter((r) => !first.includes(r) && `${r.keyword} ${r.title} ${r.text}`.toLowerCase().includes(q));
      items = first.concat(rest).slice(0, 8);
      index = 0;
      render();
    };
    box.addEventListener("input", update);
    box.addEventListener("keydown", (e) => {
      // Reopened when something closed it meanwhile (a re-render of the console moving focus away and back).
      if (pop.hidden && !e.isComposing && ["ArrowDown", "ArrowUp", "Enter", "Tab"].includes(e.key)) update();
      if (pop.hidden || e.isComposing) return;
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        index = (index + (e.key === "ArrowDown" ? 1 : items.length - 1)) % items.length;
        render();
      } else if ((e.key === "Enter" && !e.ctrlKey && !e.metaKey) || e.key === "Tab") {
        e.preventDefault();
        e.stopImmediatePropagation();
        choose(items[index]);
      } else if (e.key === "Escape") { e.preventDefault(); e.stopPropagation(); close(); }
    }, true);
    box.addEventListener("blur", () => setTimeout(() => { if (document.activeElement !== box) close(); }, 150));
  }

  // The supervisors' manager (replaces console.js's simpler dialog): filter, add, edit, delete; title and keyword.
  let manager = null;
  let editing = null;
  function buildManager() {
    manager = dialog("tools-canned-dialog", "定型文の管理", true);
    const filter = el("input", "tools-filter", null, { id: "tools-canned-search", type: "search", placeholder: "本文・タイトル・キーワードで検索", "aria-label": "定型文を検索" });
    const list = el("ul", "tools-canned-list", null, { id: "tools-canned-list" });
    const form = el("form", "tools-canned-form", null, { id: "tools-canned-form" });
    form.innerHTML = `
      <label>窓口 <select id="tools-canned-queue"><option value="general">一般窓口</option><option value="counseling">相談窓口</option></select></label>
      <label>タイトル <input id="tools-canned-title" maxlength="80" autocomplete="off"></label>
      <label>キーワード（/ のあとに入力） <input id="tools-canned-keyword" maxlength="32" autocomplete="off" autocapitalize="off" spellcheck="false"></label>
      <label class="tools-canned-form__text">本文 <textarea id="tools-canned-text" rows="3" maxlength="2000" required></textarea></label>
      <div><button id="tools-canned-save" type="submit" class="btn btn--primary">追加</button>
      <button id="tools-canned-cancel" type="button" class="btn" hidden>編集をやめる</button></div>`;
    manager.body.append(filter, list, form);
    filter.addEventListener("input", renderManager);
    const reset = () => {
      editing = null;
      form.reset();
      $("tools-canned-save").textContent = "追加";
      $("tools-canned-cancel").hidden = true;
    };
    $("tools-canned-cancel").addEventListener("click", reset);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const body = { queue: $("tools-canned-queue").value, title: $("tools-canned-title").value,
        keyword: $("tools-canned-keyword").value, text: $("tools-canned-text").value };
      try {
        if (editing) await api("PUT", `/staff/api/canned/${editing}`, body);
        else await api("POST", "/staff/api/canned", body);
        say(editing ? "定型文を更新しました。" : "定型文を追加しました。");
        reset();
        await loadCanned();
      } catch (err) { /* said */ }
    });
    manager.startEdit = (r) => {
      editing = r.id;
      $("tools-canned-queue").value = r.queue;
      $("tools-canned-title").value = r.title || "";
      $("tools-canned-keyword").value = r.keyword || "";
      $("tools-canned-text").value = r.text;
      $("tools-canned-save").textContent = "更新";
      $("tools-canned-cancel").hidden = false;
      $("tools-canned-text").focus();
    };
  }
  function renderManager() {
    if (!manager) return;
    const q = $("tools-canned-search").value.trim().toLowerCase();
    const shown = canned.filter((r) => !q || `${r.keyword} ${r.title} ${r.text}`.toLowerCase().includes(q));
    $("tools-canned-list").replaceChildren(...shown.map((r) => {
      const li = el("li", "tools-canned-item");
      li.dataset.id = r.id;
      const head = el("div", "tools-canned-item__head");
      head.append(el("span", "tag", QUEUE[r.queue] || r.queue));
      if (r.keyword) head.append(el("code", null, "/" + r.keyword));
      if (r.title) head.append(el("b", null, r.title));
      const edit = el("button", "btn btn--small", "編集", { type: "button", "aria-label": `「${cannedLabel(r)}」を編集` });
      const del = el("button", "btn btn--small btn--danger", "削除", { type: "button", "aria-label": `「${cannedLabel(r)}」を削除` });
      edit.addEventListener("click", () => manager.startEdit(r));
      del.addEventListener("click", async () => {
        if (!window.confirm("この定型文を削除しますか？")) return;
        try { await api("DELETE", `/staff/api/canned/${r.id}`); say("定型文を削除しました。"); await loadCanned(); } catch (e) { /* said */ }
      });
      head.append(edit, del);
      li.append(head, el("p", "tools-canned-item__text", r.text));
      return li;
    }));
  }

  // --- history of closed chats ------------------------------------------------------------------------------------
  let history = null;
  let historyPage = 1;
  function buildHistory() {
    history = dialog("tools-history-dialog", "対応履歴の検索", true);
    const form = el("form", "tools-history-form", null, { id: "tools-history-form" });
    const outcomes = new Map();
    for (const list of Object.values(me.outcomes || {})) for (const o of list) if (!outcomes.has(o.id)) outcomes.set(o.id, o.label);
    form.innerHTML = `
      <label>開始日 <input id="tools-history-from" type="date"></label>
      <label>終了日 <input id="tools-history-to" type="date"></label>
      <label>チャネル <select id="tools-history-channel"><option value="">すべて</option></select></label>
      <label>対応結果 <select id="tools-history-outcome"><option value="">すべて</option></select></label>
      <label>本文 <input id="tools-history-q" type="search" maxlength="100"></label>
      <button id="tools-history-search" type="submit" class="btn btn--primary">検索</button>`;
    history.body.append(form);
    for (const [k, v] of Object.entries(CHANNEL)) $("tools-history-channel").append(el("option", null, v, { value: k }));
    for (const [k, v] of outcomes) $("tools-history-outcome").append(el("option", null, v, { value: k }));
    $("tools-history-outcome").append(el("option", null, "ボットに戻した", { value: "released" }));
    const summary = el("p", "tools-history-summary", null, { id: "tools-history-summary", role: "status" });
    const table = el("table", "tools-history-table");
    table.innerHTML = "<thead><tr><th scope=\"col\">終了日時</th><th scope=\"col\">チャネル</th><th scope=\"col\">対応結果</th><th scope=\"col\">担当</th><th scope=\"col\">会話</th></tr></thead>";
    const tbody = el("tbody", null, null, { id: "tools-history-results" });
    table.append(tbody);
    const wrap = el("div", "table-wrap");
    wrap.append(table);
    const pager = el("div", "tools-pager");
    const prev = el("button", "btn btn--small", "前へ", { type: "button", id: "tools-history-prev" });
    const next = el("button", "btn btn--small", "次へ", { type: "button", id: "tools-history-next" });
    pager.append(prev, el("span", null, "", { id: "tools-history-page" }), next);
    const transcript = el("section", "tools-history-transcript", null, { id: "tools-history-transcript", "aria-label": "終了した会話", tabindex: "-1" });
    transcript.hidden = true;
    history.body.append(summary, wrap, pager, transcript);
    form.addEventListener("submit", (e) => { e.preventDefault(); historyPage = 1; searchHistory(); });
    prev.addEventListener("click", () => { historyPage -= 1; searchHistory(); });
    next.addEventListener("click", () => { historyPage += 1; searchHistory(); });
  }
  const outcomeLabel = (id) => {
    if (id === "released") return "ボットに戻した";
    for (const list of Object.values(me.outcomes || {})) for (const o of list) if (o.id === id) return o.label;
    return id || "";
  };
  async function searchHistory() {
    const params = new URLSearchParams({ page: String(historyPage) });
    for (const [key, id] of [["from", "from"], ["to", "to"], ["channel", "channel"], ["outcome", "outcome"], ["q", "q"]]) {
      const v = $(`tools-history-${id}`).value.trim();
      if (v) params.set(key, v);
    }
    let data;
    try { data = await api("GET", `/staff/api/history?${params}`); } catch (e) { return; }
    $("tools-history-summary").textContent = data.total ? `${data.total}件見つかりました。${data.partial ? "（相談の本文は一部だけ検索しました）" : ""}` : "該当する会話はありません。";
    $("tools-history-results").replaceChildren(...data.results.map((r) => {
      const tr = el("tr");
      const button = el("button", "btn btn--small", r.conversation_id.length > 24 ? r.conversation_id.slice(0, 22) + "…" : r.conversation_id,
        { type: "button", "data-entry": String(r.entry), title: r.conversation_id });
      button.addEventListener("click", () => openHistory(r.entry));
      const td = el("td");
      td.append(button);
      if (r.counseling) td.append(" ", el("span", "tag", "相談"));
      tr.append(el("td", null, when(r.closed_at)), el("td", null, CHANNEL[r.channel] || r.channel), el("td", null, outcomeLabel(r.outcome)), el("td", null, r.automatic ? "自動終了" : r.staff), td);
      return tr;
    }));
    $("tools-history-page").textContent = data.pages ? `${data.page} / ${data.pages} ページ` : "";
    $("tools-history-prev").disabled = data.page <= 1;
    $("tools-history-next").disabled = data.page >= data.pages;
  }
  async function openHistory(entry) {
    let data;
    try { data = await api("GET", `/staff/api/history/${entry}`); } catch (e) { return; }
    const box = $("tools-history-transcript");
    const list = el("ol", "tools-history-messages");
    for (const m of data.messages) {
      const who = m.kind === "note" ? "職員メモ" : SENDER[m.sender] || (m.sender.startsWith("staff:") ? `担当者（${m.sender.slice(6)}）` : m.sender);
      const li = el("li", `tools-msg tools-msg--${m.kind === "note" ? "note" : m.sender.split(":")[0]}`);
      const text = m.pressed ? `［ボタン］${m.pressed}` : m.buttons ? m.text.replace(/\n［ボタン：.*］$/s, "") : m.text;
      li.append(el("span", "tools-msg__who", `${who}・${when(m.at)}`), el("p", null, text));
      if (m.buttons && m.buttons.length) li.append(el("p", "tools-msg__buttons", `ボタン：${m.buttons.map((b) => b.title).join(" / ")}`));
      list.append(li);
    }
    box.replaceChildren(el("h3", null, `${data.chat.conversation_id}（${outcomeLabel(data.chat.outcome)}・${when(data.chat.closed_at)}）`), list);
    box.hidden = false;
    box.focus();
  }

  // --- keyboard shortcuts and the help overlay ("?") --------------------------------------------------------------
  const SHORTCUTS = [
    ["c", "担当する", () => clickIf("claim")],
    ["x", "終了する", () => clickIf("close")],
    ["t", "転送する", () => clickIf("transfer")],
    ["n", "次のチャットを開く（担当中 → 待機中の順）", () => nextChat()],
    ["r", "返信欄へ移動", () => { const b = $("reply-text"); if (b && !b.disabled) { b.focus(); return true; } return false; }],
    ["h", "対応履歴を検索", () => { open(history.d); $("tools-history-from").focus(); return true; }],
    ["?", "このヘルプを表示", () => { open(help.d); return true; }],
  ];
  const OTHER_KEYS = [["Alt+1〜9", "一覧の n 番目を開く"], ["Ctrl+Enter", "返信・メモを送信"], ["/ + キーワード", "返信欄の先頭で定型文を呼び出す（↑↓で選び Enter）"], ["Esc", "ダイアログやリストを閉じる"]];
  let help = null;
  function clickIf(id) {
    const b = $(id);
    if (!b || b.disabled || b.hidden) { say("いまは使えません。"); return false; }
    b.click();
    return true;
  }
  function nextChat() {
    const rows = [...document.querySelectorAll("#mine li[data-conversation-id], #waiting li[data-conversation-id]")];
    if (!rows.length) { say("次のチャットはありません。"); return false; }
    const current = hook() ? hook().currentConversation() : null;
    const at = rows.findIndex((li) => li.dataset.conversationId === current);
    const next = rows[(at + 1) % rows.length];
    if (hook()) hook().open(next.dataset.conversationId); else next.click();
    return true;
  }
  function buildHelp() {
    help = dialog("tools-help-dialog", "キーボード操作");
    const dl = el("dl", "tools-keys");
    for (const [key, text] of SHORTCUTS.map(([k, t]) => [k, t]).concat(OTHER_KEYS)) {
      const row = el("div");
      const dt = el("dt");
      dt.append(el("kbd", null, key));
      row.append(dt, el("dd", null, text));
      dl.append(row);
    }
    help.body.append(el("p", "hint", "入力欄で文字を入力しているときは、1文字のキー操作は働きません。"), dl);
  }
  function onKey(e) {
    if (e.ctrlKey || e.metaKey || e.altKey || e.isComposing || typing(e.target)) return;
    if (document.querySelector("dialog[open]")) return;
    const found = SHORTCUTS.find(([key]) => key === e.key);
    if (!found) return;
    e.preventDefault();
    found[2]();
  }

  // --- start ------------------------------------------------------------------------------------------------------
  async function start() {
    const status = el("p", "tools-status", null, { id: "tools-status", role: "status", "aria-live": "polite" });
    document.body.append(status);
    try {
      const data = await api("GET", "/staff/api/me");
      Object.assign(me, { username: data.username, role: data.role, csrf: data.csrf_token, outcomes: data.outcomes || {} });
    } catch (e) { return; }
    const nav = document.querySelector(".topbar__nav");
    const historyButton = el("button", "btn", "履歴", { type: "button", id: "tools-history-open", "aria-keyshortcuts": "h" });
    const helpButton = el("button", "btn", "?", { type: "button", id: "tools-help-open", "aria-label": "キーボード操作の説明", "aria-keyshortcuts": "?" });
    if (nav) nav.insertBefore(presenceControl(), nav.firstChild);
    if (nav) nav.insertBefore(historyButton, $("logout"));
    if (nav) nav.insertBefore(helpButton, $("logout"));
    buildHistory();
    buildHelp();
    historyButton.addEventListener("click", () => { open(history.d); $("tools-history-from").focus(); });
    helpButton.addEventListener("click", () => open(help.d));
    // console.js's この方の履歴 opens an earlier chat of the citizen here (its entry from the context API).
    window.staffConsoleTools = Object.freeze({
      openHistory(entry) {
        if (!history.d.open) open(history.d);
        return openHistory(entry);
      },
    });
    if (privileged()) {
      buildManager();
      const opener = $("canned-open");
      if (opener) {
        opener.addEventListener("click", (e) => { // ours instead of console.js's simpler one
          e.preventDefault();
          e.stopImmediatePropagation();
          open(manager.d);
          $("tools-canned-search").focus();
        }, true);
      }
    }
    filterBox();
    slashPopup();
    enhanceTransfer();
    document.addEventListener("keydown", onKey);
    listen();
    await Promise.all([loadCanned(), loadPresence()]).catch(() => null);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
