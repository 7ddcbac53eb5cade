// The dashboard's session and API calls: tokens for this tab (sessionStorage), a silent
// refresh before the access token expires and on a 401 token-expired (the request is
// retried once), refresh-token rotation, and "session ended" only when a refresh fails.
"use strict";

(function () {
  const ACCESS_KEY = "insights.token";
  const REFRESH_KEY = "insights.refresh";
  const NEXT_KEY = "insights.next";
  const API = "/api/v2";
  // Refresh this long before expiry (a quarter of the lifetime for short-lived tokens).
  const MARGIN_MS = 60000;

  const D = (window.dashboard = window.dashboard || { reports: {}, charts: {} });
  D.API = API;

  D.token = () => sessionStorage.getItem(ACCESS_KEY);
  D.hasSession = () => Boolean(D.token() || sessionStorage.getItem(REFRESH_KEY));

  D.storeTokens = (body) => {
    sessionStorage.setItem(ACCESS_KEY, body.access_token);
    if (body.refresh_token) sessionStorage.setItem(REFRESH_KEY, body.refresh_token);
    scheduleRefresh();
  };

  D.clearTokens = () => {
    sessionStorage.removeItem(ACCESS_KEY);
    sessionStorage.removeItem(REFRESH_KEY);
    clearTimeout(timer);
  };

  // Where to go after logging in: the page a shared link pointed at, else the overview.
  D.rememberNext = () => sessionStorage.setItem(NEXT_KEY, location.pathname + location.search);
  D.takeNext = () => {
    const next = sessionStorage.getItem(NEXT_KEY);
    sessionStorage.removeItem(NEXT_KEY);
    return next && /^\/admin\/[a-z-]+(\?|$)/.test(next) ? next : "/admin/overview";
  };

  // A token's expiry (ms since the epoch) from its payload; the signature is the API's job.
  function expiresAt(token) {
    try {
      const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      const claims = JSON.parse(atob(part));
      return { exp: claims.exp * 1000, iat: (claims.iat || claims.exp) * 1000 };
    } catch {
      return null;
    }
  }

  function refreshDue(token) {
    const times = token && expiresAt(token);
    if (!times) return 0;
    const margin = Math.min(MARGIN_MS, (times.exp - times.iat) / 4);
    return times.exp - margin;
  }

  let timer = null;
  function scheduleRefresh() {
    clearTimeout(timer);
    if (!sessionStorage.getItem(REFRESH_KEY)) return;
    const wait = Math.max(0, refreshDue(D.token()) - Date.now());
    timer = setTimeout(() => D.refresh().catch(() => {}), Math.min(wait, 2 ** 31 - 1));
  }

  class SessionEnded extends Error {}
  D.SessionEnded = SessionEnded;

  // The session is over (the refresh token was refused): say so, once, and offer to log in.
  function endSession(reason) {
    D.clearTokens();
    D.rememberNext();
    document.body.dataset.session = "ended";
    if (D.onSessionEnded) D.onSessionEnded(reason);
    return new SessionEnded("Your session has ended (" + reason + "). Log in again.");
  }

  // One refresh at a time: concurrent callers share it (a second use of the same refresh
  // token would be refused, since each refresh spends it).
  let inFlight = null;
  D.refresh = () => {
    if (!inFlight) {
      inFlight = doRefresh().finally(() => { inFlight = null; });
    }
    return inFlight;
  };

  async function doRefresh() {
    const refresh = sessionStorage.getItem(REFRESH_KEY);
    if (!refresh) throw endSession("it expired");
    const response = await fetch(API + "/auth/refresh", {
      method: "POST",
      headers: { Authorization: "Bearer " + refresh, Accept: "application/json" },
    });
    if (response.status === 401 || response.status === 403 || response.status === 422) {
      const problem = await response.json().catch(() => null);
      const kind = problem && problem.type ? problem.type.split("/").pop() : "refused";
      throw endSession(kind === "token-revoked" ? "logged out" : kind.replace("token-", ""));
    }
    if (!response.ok) throw new Error("Could not renew the session (" + response.status + ").");
    D.storeTokens(await response.json());
    document.body.dataset.refreshes = Number(document.body.dataset.refreshes || 0) + 1;
    document.dispatchEvent(new CustomEvent("dashboard:refreshed"));
  }

  // A problem+json body as one readable line.
  D.problemText = (problem, status) => {
    if (!problem) return "Request failed (" + status + ").";
    const fields = (problem.errors || []).map((e) => e.field + ": " + e.message).join("; ");
    return (problem.detail || problem.title || "Request failed") + (fields ? " — " + fields : "");
  };

  async function send(url, method, headers, body) {
    return fetch(url, { method, headers: Object.assign({}, headers, {
      Authorization: "Bearer " + D.token() }), body });
  }

  async function call(path, { method = "GET", params, body, accept } = {}) {
    if (document.body.dataset.session === "ended") {
      throw new SessionEnded("Your session has ended. Log in again.");
    }
    const url = API + path + (params && [...params].length ? "?" + params : "");
    const headers = { Accept: accept || "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const payload = body === undefined ? undefined : JSON.stringify(body);
    // A token about to expire (a timer throttled in a background tab) is renewed first.
    if (sessionStorage.getItem(REFRESH_KEY) && refreshDue(D.token()) - 5000 < Date.now()) {
      await D.refresh();
    }
    let response = await send(url, method, headers, payload);
    if (response.status === 401) {
      // Expired (or refused for another reason): a refresh decides whether the session
      // is still alive; only a refused refresh ends it.
      await D.refresh();
      response = await send(url, method, headers, payload);
      if (response.status === 401) throw endSession("the token was refused");
    }
    if (!response.ok) {
      const problem = await response.json().catch(() => null);
      const prefix = response.status === 403 ? "Admins only: " : "";
      throw new Error(prefix + D.problemText(problem, response.status));
    }
    return response;
  }
  D.call = call;

  D.getJSON = async (path, options) => (await call(path, options)).json();

  // Fetch the same request as CSV (with the token) and hand it to the browser as a file.
  D.downloadCsv = async (path, { method = "GET", params, body } = {}, filename) => {
    const csvParams = new URLSearchParams(params);
    csvParams.set("format", "csv");
    const response = await call(path, { method, params: csvParams, body, accept: "text/csv" });
    const blob = new Blob([await response.text()], { type: "text/csv" });
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = filename;
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  };

  D.logout = async () => {
    const token = sessionStorage.getItem(REFRESH_KEY) || D.token();
    D.clearTokens();
    if (token) {
      await fetch(API + "/auth/logout", { method: "POST",
        headers: { Authorization: "Bearer " + token } }).catch(() => null);
    }
    window.location.assign("/admin/");
  };

  // A tab coming back from the background renews a token its throttled timer missed.
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") scheduleRefresh();
  });
  D.startSession = scheduleRefresh;
})();
