// The staff pages' JSON calls (console.js, bookings.js): same-origin fetch, JSON in and out, the session's
// CSRF token on every change; 401 → the login page; any other failure is shown in the page's status line
// and thrown as an ApiError (with the HTTP status, 0 when the server could not be reached).
// Each page loads it before its own script and makes its api() with StaffApi.create().
window.StaffApi = (() => {
  "use strict";

  class ApiError extends Error {
    constructor(message, status) { super(message); this.status = status; }
  }

  // csrfToken(): the session's token ("" before /staff/api/me answered); setStatus(text, kind): the page's
  // status line; end: what ends the page's own error messages ("。" on the bookings page, none on the console).
  function create({ csrfToken, setStatus, end = "" }) {
    return async function api(method, url, body) {
      const opts = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
      if (method !== "GET") {
        opts.headers["Content-Type"] = "application/json";
        opts.headers["X-CSRF-Token"] = csrfToken();
        opts.body = JSON.stringify(body || {});
      }
      const res = await fetch(url, opts).catch(() => null);
      if (!res) { setStatus("サーバーに接続できません。", "error"); throw new ApiError("network", 0); }
      if (res.status === 401) { location.href = "/staff/login"; throw new ApiError("unauthorized", 401); }
      let data = {};
      try { data = await res.json(); } catch (e) { /* empty or non-JSON body */ }
      if (res.ok) return data || {};
      const msg = res.status === 403 ? `権限がありません${end}` : (data && data.error) || `エラーが発生しました（${res.status}）${end}`;
      setStatus(msg, "error");
      throw new ApiError(msg, res.status);
    };
  }

  // Role names as the pages show them (one place for the four pages).
  const ROLE = Object.freeze({ staff: "職員", counselor: "相談員", supervisor: "監督者", admin: "管理者" });

  // The header's ログアウト button: ends the session (csrfToken(): the session's token) and goes to the login
  // page even when the server could not be reached. beforeLeave(): what the page closes first (its live socket).
  function bindLogout(button, csrfToken, beforeLeave) {
    button.addEventListener("click", async () => {
      if (beforeLeave) beforeLeave();
      await fetch("/staff/logout", {
        method: "POST", credentials: "same-origin", body: "{}",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
      }).catch(() => {});
      location.href = "/staff/login";
    });
  }

  // The start of every page: who is logged in (/staff/api/me; null when that failed, the status line says why),
  // shown in the header's #me-name and #me-role.
  async function loadMe(api) {
    const me = await api("GET", "/staff/api/me").catch(() => null);
    if (me) {
      document.getElementById("me-name").textContent = me.username;
      document.getElementById("me-role").textContent = ROLE[me.role] || me.role;
    }
    return me;
  }

  return Object.freeze({ ApiError, ROLE, create, bindLogout, loadMe });
})();
