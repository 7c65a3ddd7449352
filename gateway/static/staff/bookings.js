// Staff page for 大型ごみ bookings: filter by collection day / ward / status, change the date and the items
// or cancel on a citizen's behalf (with the booking's version: a change made meanwhile in chat is not
// overwritten), see each booking's history and obvious duplicates, download the crews' CSV.
// Server text is only ever put into the page with textContent.
(() => {
  "use strict";

  const ALLOWED = ["staff", "supervisor", "admin"]; // same rule as the server
  const WARDS = ["中央区", "北区", "東区", "白石区", "厚別区", "豊平区", "清田区", "南区", "西区", "手稲区"];
  const STATUS = { booked: "予約中", cancelled: "キャンセル済み", all: "すべて" };
  const CHANNEL = { web: "Web", line: "LINE" };
  const WEEKDAY = "日月火水木金土";
  const COLUMNS = 9;

  const $ = (id) => document.getElementById(id);
  const state = { me: null, bookings: [], summary: null, applied: null, catalogue: null, editing: null };
  let loadSeq = 0; // a newer load() wins over a slower older one

  const { ApiError } = StaffApi; // api.js, loaded before this file

  function el(tag, cls, text, attrs = {}) {
    const n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text != null) n.textContent = String(text);
    for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
    return n;
  }
  function setStatus(text, kind = "info") {
    $("statusbar").textContent = text;
    $("statusbar").dataset.kind = kind;
  }

  const api = StaffApi.create({ csrfToken: () => (state.me ? state.me.csrf_token : ""), setStatus, end: "。" });

  // --- formatting ---------------------------------------------------------------------------

  const pad = (n) => String(n).padStart(2, "0");
  const yen = (n) => `${Number(n || 0).toLocaleString("ja-JP")}円`;
  const isDay = (s) => /^\d{4}-\d{2}-\d{2}$/.test(s || "");

  // "2026-12-03" is a calendar date: read it as local time, not UTC.
  function parseDay(s) {
    if (!isDay(s)) return null;
    const [y, m, d] = s.split("-").map(Number);
    const date = new Date(y, m - 1, d);
    return isNaN(date) ? null : date;
  }
  const dayLong = (s) => { const d = parseDay(s); return d ? `${d.getFullYear()}年${d.getMonth() + 1}月${d.getDate()}日（${WEEKDAY[d.getDay()]}）` : String(s || ""); };
  const dayShort = (s) => { const d = parseDay(s); return d ? `${d.getMonth() + 1}/${d.getDate()}（${WEEKDAY[d.getDay()]}）` : String(s || ""); };
  function dateTime(iso) {
    const d = new Date(iso);
    return iso && !isNaN(d) ? `${d.getMonth() + 1}/${d.getDate()} ${pad(d.getHours())}:${pad(d.getMinutes())}` : "";
  }

  function cancelledBy(by) {
    if (!by) return "";
    if (by === "citizen") return "市民が取消";
    const name = String(by).replace(/^staff:/, "");
    if (state.me && name === state.me.username) return "あなたが代理で取消";
    return `${name} さんが代理で取消`;
  }

  const itemText = (i) => `${i.name}\u00a0×\u00a0${i.quantity}`; // keep "× 2" with its name

  // --- filters ------------------------------------------------------------------------------

  function readFilters() {
    return { day: $("day").value, ward: $("ward").value, status: $("status").value || "booked" };
  }

  function query(f, withStatus = true) {
    const q = new URLSearchParams();
    if (f.day) q.set("day", f.day);
    if (f.ward) q.set("ward", f.ward);
    if (withStatus) q.set("status", f.status);
    const s = q.toString();
    return s ? "?" + s : "";
  }

  // The crews' CSV follows the form (day and ward; it has no status filter).
  const updateCsv = () => { $("csv").href = "/staff/api/bookings.csv" + query(readFilters(), false); };

  function describe(f) {
    return [f.day ? dayLong(f.day) : "今日以降", f.ward || "全区", STATUS[f.status] || f.status].join("・");
  }

  // Filters from the page address, so a reload or a shared link shows the same list.
  function filtersFromUrl() {
    const q = new URLSearchParams(location.search);
    if (isDay(q.get("day"))) $("day").value = q.get("day");
    if (WARDS.includes(q.get("ward"))) $("ward").value = q.get("ward");
    if (q.get("status") in STATUS) $("status").value = q.get("status");
  }

  // --- table --------------------------------------------------------------------------------

  function td(cls, ...children) {
    const c = el("td", cls);
    c.append(...children);
    return c;
  }

  function bookingRow(b) {
    const cancelled = b.status === "cancelled";
    const duplicates = b.duplicate_of || [];
    const tr = el("tr", "booking" + (cancelled ? " is-cancelled" : "") + (duplicates.length ? " is-duplicate" : ""));
    tr.dataset.receipt = b.receipt_no;

    const address = String(b.address || "");
    const ward = String(b.ward || "");
    const where = td(null, el("strong", null, ward), " ", address.startsWith(ward) ? address.slice(ward.length) : address);
    if (b.town) where.append(el("span", "cell-sub", "地区: " + b.town));

    const items = el("ul", "items");
    items.append(...(b.items || []).map((i) => el("li", null, itemText(i))));

    const phone = String(b.phone || "");
    const digits = phone.replace(/[^\d+]/g, "");
    const phoneCell = td("nowrap", digits ? el("a", null, phone, { href: "tel:" + digits }) : "—");

    const receipt = td(null, el("span", "receipt", b.receipt_no));
    const via = [CHANNEL[b.channel] || b.channel, dateTime(b.created_at)].filter(Boolean).join("・");
    if (via) receipt.append(el("span", "cell-sub", via + " 受付"));

    // Focus lands here after a cancel, once the button is gone.
    const status = td("booking__status", el("span", "tag tag--" + (cancelled ? "cancelled" : "booked"), cancelled ? "キャンセル済み" : "予約中"));
    status.tabIndex = -1;
    if (cancelled && b.cancelled_by) status.append(el("span", "cell-sub", cancelledBy(b.cancelled_by)));
    if (duplicates.length) {
      status.append(" ", el("span", "tag tag--duplicate", "重複の可能性", { title: "同じ住所・電話番号・収集日の予約があります" }),
        el("span", "cell-sub", "同じ住所・電話・日: " + duplicates.join("、")));
    }
    if (Number(b.version || 1) > 1 && !cancelled) status.append(el("span", "cell-sub", "変更あり"));

    const action = td("booking__action");
    if (b.status === "booked") {
      const edit = el("button", "btn btn--small", "変更",
        { type: "button", "aria-label": `収集日・品目を変更: 受付番号 ${b.receipt_no}`, "data-action": "change" });
      edit.addEventListener("click", () => openChange(b.receipt_no, edit));
      action.append(edit, " ");
      const btn = el("button", "btn btn--small btn--danger", null,
        { type: "button", "aria-label": `代理でキャンセル: 受付番号 ${b.receipt_no}` });
      btn.append("代理で", el("wbr"), "キャンセル"); // on a narrow screen it wraps there
      btn.addEventListener("click", () => cancelBooking(b.receipt_no, btn));
      action.append(btn);
    }

    tr.append(
      td("nowrap", dayShort(b.day)), where, td(null, items), td("num", yen(b.total)), phoneCell,
      td(null, b.name || "—"), receipt, status, action);
    return tr;
  }

  function render() {
    const table = $("bookings");
    for (const body of [...table.tBodies]) body.remove();
    const groups = new Map();
    for (const b of state.bookings) {
      if (!groups.has(b.day)) groups.set(b.day, []);
      groups.get(b.day).push(b);
    }
    if (!groups.size) {
      const body = el("tbody");
      const tr = el("tr", "empty-row");
      tr.append(el("td", null, "条件に合う予約はありません。", { colspan: COLUMNS }));
      body.append(tr);
      table.append(body);
    }
    // One <tbody> per collection day, headed by a row naming the day.
    for (const day of [...groups.keys()].sort()) {
      const rows = groups.get(day);
      const body = el("tbody");
      const head = el("tr", "day-row");
      const booked = rows.filter((b) => b.status === "booked");
      const fee = yen(booked.reduce((sum, b) => sum + Number(b.total || 0), 0));
      const count = booked.length === rows.length ? `${rows.length}件・手数料 ${fee}`
        : booked.length ? `${rows.length}件（うち予約中 ${booked.length}件・手数料 ${fee}）` : `${rows.length}件`;
      head.append(el("th", null, `${dayLong(day)}　${count}`, { colspan: COLUMNS, scope: "rowgroup" }));
      body.append(head, ...rows.map(bookingRow));
      table.append(body);
    }
    renderSummary();
  }

  function renderSummary() {
    const s = state.summary;
    const dup = s && Number(s.duplicates || 0) ? `　重複の可能性 ${Number(s.duplicates)}件` : "";
    $("summary").textContent = s ? `${describe(state.applied)}：${Number(s.count || 0)}件　手数料合計 ${yen(s.total)}${dup}` : "—";
  }

  // --- loading and cancelling ---------------------------------------------------------------

  async function load({ announce = true } = {}) {
    const f = readFilters();
    const seq = ++loadSeq;
    $("search").disabled = true;
    $("bookings").setAttribute("aria-busy", "true");
    if (announce) setStatus("読み込み中…");
    try {
      const data = await api("GET", "/staff/api/bookings" + query(f));
      if (seq !== loadSeq) return;
      Object.assign(state, { bookings: data.bookings || [], summary: data.summary || null, applied: f });
      history.replaceState(null, "", location.pathname + query(f));
      $("bookings-caption").textContent = `大型ごみ収集の予約一覧（${describe(f)}）`;
      render();
      if (announce) {
        const s = state.summary || { count: state.bookings.length, total: 0 };
        setStatus(`${describe(f)}の予約を ${Number(s.count || 0)}件 表示しました（手数料合計 ${yen(s.total)}）。`);
      }
    } catch (e) {
      if (!(e instanceof ApiError)) { console.error(e); setStatus("エラーが発生しました。", "error"); }
    } finally {
      if (seq === loadSeq) {
        $("search").disabled = false;
        $("bookings").setAttribute("aria-busy", "false");
      }
    }
  }

  // After a cancel the row stays on screen (marked cancelled) until the next 「表示」;
  // only the totals are re-read so they match the server.
  async function refreshSummary() {
    const f = state.applied;
    if (!f) return;
    const data = await api("GET", "/staff/api/bookings" + query(f)).catch(() => null);
    if (data && data.summary && f === state.applied) { state.summary = data.summary; renderSummary(); }
  }

  async function cancelBooking(receiptNo, button) {
    const b = state.bookings.find((x) => x.receipt_no === receiptNo);
    if (!b || b.status !== "booked") return;
    const lines = [
      "この予約を市民に代わってキャンセルします。取り消すことはできません。",
      "",
      `受付番号: ${b.receipt_no}`,
      `収集日: ${dayLong(b.day)}`,
      `住所: ${b.address || b.ward || ""}`,
      `品目: ${(b.items || []).map(itemText).join("、")}`,
      `手数料: ${yen(b.total)}`,
      "",
      "キャンセルしてよろしいですか？",
    ];
    if (!confirm(lines.join("\n"))) return button.focus();
    button.disabled = true;
    setStatus(`受付番号 ${receiptNo} をキャンセルしています…`);
    try {
      const data = await api("POST", `/staff/api/bookings/${encodeURIComponent(receiptNo)}/cancel`, { version: b.version });
      const updated = data.booking || { ...b, status: "cancelled", cancelled_by: "staff:" + state.me.username };
      state.bookings = state.bookings.map((x) => (x.receipt_no === receiptNo ? updated : x));
      render();
      focusRow(receiptNo);
      setStatus(`${dayLong(b.day)}収集の予約（受付番号 ${receiptNo}）をキャンセルしました。`);
      refreshSummary();
    } catch (e) {
      if (!(e instanceof ApiError)) { console.error(e); setStatus("エラーが発生しました。", "error"); }
      if (e.status === 404) setStatus(`受付番号 ${receiptNo} の予約が見つかりません。一覧を更新しました。`, "error");
      if (e.status === 404 || e.status === 409) {
        // Someone (or the citizen) changed it meanwhile: show the current list, keep the message.
        await load({ announce: false });
        focusRow(receiptNo);
      } else if (button.isConnected) {
        button.disabled = false;
        button.focus();
      }
    }
  }

  function focusRow(receiptNo) {
    const row = $("bookings").querySelector(`tr[data-receipt="${CSS.escape(receiptNo)}"]`);
    const target = row && (row.querySelector("button:not(:disabled)") || row.querySelector(".booking__status"));
    (target || $("search")).focus();
  }


  // --- changing the date and the items on the citizen's behalf -----------------------------------

  const CHANGE = { day: "収集日", items: "品目", cancel: "キャンセル" };

  function whoChanged(by) {
    if (!by || by === "citizen") return "市民（チャット）";
    const name = String(by).replace(/^staff:/, "");
    return state.me && name === state.me.username ? "あなた（代理）" : `${name} さん（代理）`;
  }

  function historyLine(h) {
    const when = dateTime(h.at);
    if (h.change === "day") return `${when} ${whoChanged(h.by)}：収集日 ${dayLong(h.before)} → ${dayLong(h.after)}`;
    if (h.change === "items") return `${when} ${whoChanged(h.by)}：品目 ${h.before} → ${h.after}`;
    if (h.change === "cancel") return `${when} ${whoChanged(h.by)}：キャンセル`;
    return `${when} ${whoChanged(h.by)}：${CHANGE[h.change] || h.change}`;
  }

  async function catalogue() {
    if (!state.catalogue) {
      state.catalogue = await api("GET", "/staff/api/booking-items");
      const list = $("item-names");
      list.replaceChildren(...state.catalogue.items.map((i) => el("option", null, null, { value: i.name, label: `${i.name}（${yen(i.fee)}）` })));
      const l = state.catalogue.limits || {};
      $("items-hint").textContent = `一覧（手数料表）にある品目だけ選べます。1回の申し込みは合計${l.max_items_per_booking}点・同じ品目${l.max_same_item}点まで。手数料はサーバーが手数料表から計算します。`
        + (state.catalogue.sample ? "（手数料は見本の表によるもので、市の確認前です）" : "");
    }
    return state.catalogue;
  }

  const feeOf = (name) => { const i = ((state.catalogue || {}).items || []).find((x) => x.name === name); return i ? i.fee : null; };

  function itemRow(item = { name: "", quantity: 1 }) {
    const tr = el("tr", "change__item");
    const name = el("input", null, null, { list: "item-names", "aria-label": "品目", autocomplete: "off" });
    name.value = item.name;
    const qty = el("input", null, null, { type: "number", min: "1", max: "10", step: "1", "aria-label": "数量" });
    qty.value = String(item.quantity);
    const fee = el("td", "num");
    const remove = el("button", "btn btn--small", "削除", { type: "button", "aria-label": "この品目を削除" });
    remove.addEventListener("click", () => { tr.remove(); updateTotal(); });
    for (const input of [name, qty]) input.addEventListener("input", updateTotal);
    const cell = (child) => { const c = el("td"); c.append(child); return c; };
    tr.append(cell(name), cell(qty), fee, cell(remove));
    return tr;
  }

  function readItems() {
    return [...$("change-items").rows].map((tr) => {
      const [name, qty] = tr.querySelectorAll("input");
      return { name: name.value.trim(), quantity: Number(qty.value) };
    }).filter((i) => i.name);
  }

  function updateTotal() {
    let total = 0, unknown = false;
    for (const tr of $("change-items").rows) {
      const [name, qty] = tr.querySelectorAll("input");
      const fee = feeOf(name.value.trim());
      const cell = tr.cells[2];
      if (!name.value.trim()) cell.textContent = "";
      else if (fee == null) { cell.textContent = "一覧にありません"; unknown = true; }
      else { cell.textContent = yen(fee * (Number(qty.value) || 0)); total += fee * (Number(qty.value) || 0); }
    }
    $("change-total").textContent = unknown ? `${yen(total)}（一覧にない品目があります）` : yen(total);
  }

  function fillChange(data) {
    const b = data.booking;
    state.editing = { booking: b, dates: data.dates || [] };
    $("change-title").textContent = `予約の変更（市民の代理）受付番号 ${b.receipt_no}`;
    $("change-booking").textContent = `${b.address || b.ward || ""}　電話 ${b.phone || "—"}　今の収集日 ${dayLong(b.day)}　手数料 ${yen(b.total)}`;
    const dup = b.duplicate_of || [];
    $("change-duplicate").hidden = !dup.length;
    $("change-duplicate").textContent = dup.length ? `同じ住所・電話番号・収集日の予約があります（受付番号 ${dup.join("、")}）。重複でないか確認してください。` : "";
    const select = $("change-day");
    select.replaceChildren(el("option", null, `${dayLong(b.day)}（今の収集日・変えない）`, { value: b.day }),
      ...state.editing.dates.map((d) => el("option", null, dayLong(d), { value: d })));
    $("change-day-other").value = "";
    $("change-items").replaceChildren(...(b.items || []).map((i) => itemRow(i)));
    updateTotal();
    const history = data.history || [];
    $("change-history").replaceChildren(...(history.length ? history.map((h) => el("li", null, historyLine(h)))
      : [el("li", "hint", `変更はありません（${dateTime(b.created_at)} ${CHANNEL[b.channel] || b.channel || ""}で受付）。`)]));
    const disabled = b.status !== "booked";
    for (const n of $("change-form").elements) if (n.id !== "change-close") n.disabled = disabled;
  }

  function replaceBooking(b) {
    state.bookings = state.bookings.map((x) => (x.receipt_no === b.receipt_no ? { ...x, ...b } : x));
    render();
  }

  async function openChange(receiptNo, button) {
    $("change-error").textContent = "";
    try {
      await catalogue();
      fillChange(await api("GET", `/staff/api/bookings/${encodeURIComponent(receiptNo)}`));
    } catch (e) {
      if (!(e instanceof ApiError)) { console.error(e); setStatus("エラーが発生しました。", "error"); }
      return;
    }
    $("change-dialog").showModal();
    setStatus(`受付番号 ${receiptNo} の予約を開きました。`);
  }

  const sameItems = (a, b) => JSON.stringify((a || []).map((i) => [i.name, Number(i.quantity)])) === JSON.stringify((b || []).map((i) => [i.name, Number(i.quantity)]));

  async function saveChange(event) {
    event.preventDefault();
    const editing = state.editing;
    if (!editing) return;
    const b = editing.booking;
    const day = $("change-day-other").value || $("change-day").value;
    const items = readItems();
    const body = { version: b.version };
    if (day && day !== b.day) body.day = day;
    if (!sameItems(items, b.items)) body.items = items;
    if (!body.day && !body.items) { $("change-error").textContent = "変更する内容がありません。"; return; }
    $("change-save").disabled = true;
    $("change-error").textContent = "";
    try {
      const data = await api("POST", `/staff/api/bookings/${encodeURIComponent(b.receipt_no)}/change`, body);
      fillChange(data);
      replaceBooking(data.booking);
      const what = [body.day && `収集日を${dayLong(data.booking.day)}に`, body.items && `品目を変更し手数料を${yen(data.booking.total)}に`].filter(Boolean).join("、");
      setStatus(`受付番号 ${b.receipt_no}：${what}しました（受付番号は変わりません）。`);
      $("change-error").textContent = "";
    } catch (e) {
      if (!(e instanceof ApiError)) { console.error(e); setStatus("エラーが発生しました。", "error"); return; }
      $("change-error").textContent = e.message;
      if (e.status === 409 || e.status === 404) {
        // Changed meanwhile (the citizen in chat, other staff) or gone: show it as it is now, keep the message.
        const now = await api("GET", `/staff/api/bookings/${encodeURIComponent(b.receipt_no)}`).catch(() => null);
        if (now) { fillChange(now); replaceBooking(now.booking); $("change-error").textContent = e.message; }
      }
    } finally {
      if (state.editing && state.editing.booking.status === "booked") $("change-save").disabled = false;
    }
  }

  function closeChange() {
    const receipt = state.editing && state.editing.booking.receipt_no;
    $("change-dialog").close();
    if (receipt) focusRow(receipt);
  }

  // --- wiring -------------------------------------------------------------------------------

  function bindUi() {
    $("filters").addEventListener("submit", (e) => { e.preventDefault(); load(); });
    for (const id of ["day", "ward", "status"]) {
      $(id).addEventListener("change", updateCsv);
      $(id).addEventListener("input", updateCsv);
    }
    $("day-clear").addEventListener("click", () => { $("day").value = ""; updateCsv(); load(); });
    $("change-form").addEventListener("submit", saveChange);
    $("change-close").addEventListener("click", closeChange);
    $("change-dialog").addEventListener("close", () => { state.editing = null; });
    $("add-item").addEventListener("click", () => {
      const row = itemRow();
      $("change-items").append(row);
      row.querySelector("input").focus();
      updateTotal();
    });
    StaffApi.bindLogout($("logout"), () => (state.me ? state.me.csrf_token : ""));
  }

  async function init() {
    filtersFromUrl();
    updateCsv();
    bindUi();
    const me = (state.me = await StaffApi.loadMe(api));
    if (!me) return $("bookings").setAttribute("aria-busy", "false");
    if (!ALLOWED.includes(me.role)) {
      for (const n of $("filters").elements) n.disabled = true;
      $("csv").hidden = true;
      $("bookings").setAttribute("aria-busy", "false");
      setStatus("この画面は職員・監督者・管理者のみ使えます。", "error");
      return;
    }
    await load({ announce: false });
    if (state.applied) setStatus(`準備ができました。${describe(state.applied)}の予約は ${Number((state.summary || {}).count || 0)}件です。`);
  }

  init();
})();
