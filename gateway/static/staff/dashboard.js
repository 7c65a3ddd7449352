// Staff dashboard: one call to /staff/api/dashboard for the chosen range (Japan days), six charts drawn with
// Chart.js (static/vendor/chart.umd.min.js), a CSV link per chart. Labels come from the API (gateway/texts.py);
// server text is only ever put into the page with textContent or Chart.js's canvas text.
(() => {
  "use strict";

  const ALLOWED = ["supervisor", "admin"]; // same rule as the server
  // Okabe–Ito: told apart with colour-blindness too
  const COLORS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000",
    "#999999", "#8C564B"];
  const OUTCOME_COLORS = { answered: "#009E73", candidates: "#56B4E9", not_understood: "#E69F00",
    out_of_scope: "#999999", handoff: "#0072B2" };
  const KIND_COLORS = { faq_candidates: OUTCOME_COLORS.candidates, other_municipality: OUTCOME_COLORS.out_of_scope,
    other_service: OUTCOME_COLORS.out_of_scope };
  const RISK_COLORS = { none: "#9aa5ae", normal: "#0072B2", high: "#E69F00", emergency: "#c62828" };
  const WEEKDAY = "日月火水木金土";

  const $ = (id) => document.getElementById(id);
  const state = { me: null, data: null };
  const charts = {};
  let loadSeq = 0;

  function setStatus(text, kind = "info") {
    $("statusbar").textContent = text;
    $("statusbar").dataset.kind = kind;
  }
  const api = StaffApi.create({ csrfToken: () => (state.me ? state.me.csrf_token : ""), setStatus, end: "。" });

  function dayLabel(s) {
    const [y, m, d] = s.split("-").map(Number);
    const date = new Date(y, m - 1, d);
    return `${m}/${d}（${WEEKDAY[date.getDay()]}）`;
  }
  function axisDay(s) { // compact, for the charts' axes
    const [y, m, d] = s.split("-").map(Number);
    return `${m}/${d}(${WEEKDAY[new Date(y, m - 1, d).getDay()]})`;
  }
  const short = (s, n = 28) => (s.length > n ? s.slice(0, n - 1) + "…" : s);

  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.animation = false; // figures, not a show; also drawn at once for the screenshot
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.plugins.legend.labels.boxWidth = 12;

  function draw(name, config) {
    if (charts[name]) charts[name].destroy();
    charts[name] = new Chart($(`chart-${name}`), config);
  }
  const countAxis = (title) => ({ beginAtZero: true, ticks: { precision: 0 }, title: { display: !!title, text: title } });

  function drawVolume(d, days) {
    const L = d.labels;
    const datasets = [];
    Object.entries(d.volume.channels).forEach(([ch, s], i) => {
      const name = L.channels[ch] || ch;
      datasets.push({ type: "bar", label: `${name} ${L.volume.turns}`, data: s.turns, backgroundColor: COLORS[i * 2 % COLORS.length], yAxisID: "y" });
      datasets.push({ type: "line", label: `${name} ${L.volume.conversations}`, data: s.conversations, borderColor: COLORS[(i * 2 + 1) % COLORS.length],
        backgroundColor: COLORS[(i * 2 + 1) % COLORS.length], yAxisID: "y" });
    });
    draw("volume", { data: { labels: days, datasets }, options: { scales: { y: countAxis("件") } } });
  }

  function drawOutcomes(d, days) {
    const L = d.labels.outcomes;
    const datasets = Object.entries(d.outcomes.series).map(([k, v]) => ({ label: L[k] || k, data: v, backgroundColor: OUTCOME_COLORS[k] }));
    draw("outcomes", { type: "bar", data: { labels: days, datasets },
      options: { scales: { x: { stacked: true }, y: { ...countAxis("件"), stacked: true } } } });
  }

  function drawUnanswered(d) {
    const u = d.unanswered;
    $("unanswered-week").textContent = `${dayLabel(u.from)}〜${dayLabel(u.to)}`;
    $("unanswered-empty").hidden = u.items.length > 0;
    draw("unanswered", { type: "bar",
      data: { labels: u.items.map((x) => short(x.text)),
        datasets: [{ label: "件数", data: u.items.map((x) => x.count), backgroundColor: u.items.map((x) => KIND_COLORS[x.kind] || "#E69F00") }] },
      options: { indexAxis: "y", plugins: { legend: { display: false },
        tooltip: { callbacks: { title: (items) => u.items[items[0].dataIndex].text,
          afterTitle: (items) => d.labels.kinds[u.items[items[0].dataIndex].kind] || "" } } },
      scales: { x: countAxis("件") } } });
  }

  function drawHandoffs(d) {
    const L = d.labels;
    const rows = d.handoffs.queues;
    draw("handoffs", { type: "bar",
      data: { labels: rows.map((q) => L.queues[q.queue] || q.queue),
        datasets: [{ label: L.handoffs.p50_minutes, data: rows.map((q) => q.p50_minutes), backgroundColor: "#56B4E9" },
          { label: L.handoffs.p90_minutes, data: rows.map((q) => q.p90_minutes), backgroundColor: "#0072B2" }] },
      options: { indexAxis: "y", scales: { x: { beginAtZero: true, title: { display: true, text: "分" } } } } });
    const body = $("handoff-rows");
    body.replaceChildren(...rows.map((q) => {
      const tr = document.createElement("tr");
      const minutes = (v) => (v == null ? "—" : `${v}分`);
      for (const v of [L.queues[q.queue] || q.queue, q.handoffs, q.taken, q.untaken, q.waiting, minutes(q.p50_minutes), minutes(q.p90_minutes)]) {
        const td = document.createElement("td");
        td.textContent = String(v);
        tr.appendChild(td);
      }
      return tr;
    }));
  }

  function drawCounseling(d, days) {
    const L = d.labels.risks;
    const datasets = Object.entries(d.counseling.levels).map(([r, v]) => ({ label: L[r] || r, data: v, backgroundColor: RISK_COLORS[r] }));
    draw("counseling", { type: "bar", data: { labels: days, datasets },
      options: { scales: { x: { stacked: true }, y: { ...countAxis("件"), stacked: true } } } });
  }

  function drawBookings(d, days) {
    const b = d.bookings;
    const datasets = b.wards.map((w, i) => ({ type: "bar", label: w, data: b.booked[w], backgroundColor: COLORS[i % COLORS.length], stack: "booked" }));
    datasets.unshift({ type: "line", label: d.labels.bookings.capacity, data: b.total_capacity, borderColor: "#c62828",
      backgroundColor: "#c62828", borderDash: [6, 4], stepped: "middle", pointRadius: 0 });
    draw("bookings", { data: { labels: days, datasets },
      options: { plugins: { legend: { labels: { boxWidth: 10, font: { size: 11 } } },
        tooltip: { callbacks: { afterLabel: (item) => {
          const w = b.wards[item.datasetIndex - 1];
          return w ? `${d.labels.bookings.capacity} ${b.capacity[w][item.dataIndex]}` : "";
        } } } },
      scales: { x: { stacked: true }, y: { ...countAxis("件"), stacked: true } } } });
  }

  function updateCsv(range) {
    for (const a of document.querySelectorAll("a[data-csv]")) {
      const q = new URLSearchParams({ chart: a.dataset.csv, from: range.from, to: range.to });
      a.href = `/staff/api/dashboard.csv?${q}`;
    }
  }

  async function load(from, to) {
    const seq = ++loadSeq;
    const q = new URLSearchParams();
    if (from) q.set("from", from);
    if (to) q.set("to", to);
    $("charts").setAttribute("aria-busy", "true");
    setStatus("読み込んでいます…");
    let data;
    try {
      data = await api("GET", `/staff/api/dashboard${q.toString() ? "?" + q : ""}`);
    } catch (e) {
      $("charts").setAttribute("aria-busy", "false");
      return; // api() showed the message
    }
    if (seq !== loadSeq) return;
    state.data = data;
    const range = data.range;
    $("from").value = range.from;
    $("to").value = range.to;
    const url = new URL(location.href);
    url.searchParams.set("from", range.from);
    url.searchParams.set("to", range.to);
    history.replaceState(null, "", url);
    updateCsv(range);
    const days = range.days.map(axisDay);
    drawVolume(data, days);
    drawOutcomes(data, days);
    drawUnanswered(data);
    drawHandoffs(data);
    drawCounseling(data, days);
    drawBookings(data, days);
    $("charts").setAttribute("aria-busy", "false");
    const turns = Object.values(data.volume.channels).reduce((n, s) => n + s.turns.reduce((a, b) => a + b, 0), 0);
    setStatus(`${dayLabel(range.from)}〜${dayLabel(range.to)}（${range.days.length}日間）を表示しています。発言 ${turns}件。`
      + (data.handoffs.truncated ? "引き継ぎが多いため、一部だけを集計しています。" : ""));
  }

  function isoDay(date) {
    return `${date.getFullYear()}-${String(date.getMonth() + 1).padStart(2, "0")}-${String(date.getDate()).padStart(2, "0")}`;
  }

  function bindUi() {
    $("range").addEventListener("submit", (e) => {
      e.preventDefault();
      if ($("from").value && $("to").value && $("from").value > $("to").value) {
        setStatus("開始日が終了日より後になっています。", "error");
        return;
      }
      load($("from").value, $("to").value);
    });
    for (const b of document.querySelectorAll("button[data-days]")) {
      b.addEventListener("click", () => {
        const to = $("to").value || (state.data && state.data.range.to);
        if (!to) return;
        const [y, m, d] = to.split("-").map(Number);
        const from = isoDay(new Date(y, m - 1, d - Number(b.dataset.days) + 1));
        load(from, to);
      });
    }
    StaffApi.bindLogout($("logout"), () => (state.me ? state.me.csrf_token : ""));
  }

  async function init() {
    bindUi();
    const me = (state.me = await StaffApi.loadMe(api));
    if (!me) return;
    if (!ALLOWED.includes(me.role)) {
      setStatus("この画面は監督者・管理者のみ使えます。", "error");
      return;
    }
    const params = new URLSearchParams(location.search);
    await load(params.get("from"), params.get("to"));
  }

  init();
})();
