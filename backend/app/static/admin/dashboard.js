// The dashboard's plumbing: the token, the controls, API calls, CSV downloads, charts.
// Each report page registers itself in reports.js (dashboard.reports[slug]).
"use strict";

(function () {
  const TOKEN_KEY = "insights.token";
  const CONTROLS_KEY = "insights.controls";
  const API = "/api/v2";
  const PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2",
    "#db2777", "#4b5563", "#65a30d", "#9333ea"];

  const D = (window.dashboard = { reports: {}, charts: {}, palette: PALETTE });
  const $ = (selector) => document.querySelector(selector);
  D.$ = $;

  D.token = () => sessionStorage.getItem(TOKEN_KEY);
  D.browserZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";

  D.setState = (state) => { document.body.dataset.state = state; };

  D.showMessage = (text, kind) => {
    const box = $("#message");
    box.textContent = text || "";
    box.className = "message " + (kind || "error");
    box.hidden = !text;
  };

  function logout() {
    sessionStorage.removeItem(TOKEN_KEY);
    window.location.assign("/admin/");
  }

  // A problem+json body as one readable line.
  function problemText(problem, status) {
    if (!problem) return "Request failed (" + status + ").";
    const fields = (problem.errors || []).map((e) => e.field + ": " + e.message).join("; ");
    return (problem.detail || problem.title || "Request failed") + (fields ? " — " + fields : "");
  }

  async function call(path, { method = "GET", params, body, accept } = {}) {
    const url = API + path + (params && [...params].length ? "?" + params : "");
    const headers = { Authorization: "Bearer " + D.token(), Accept: accept || "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(url, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status === 401) {
      logout();
      throw new Error("Your session has ended; log in again.");
    }
    if (!response.ok) {
      const problem = await response.json().catch(() => null);
      const prefix = response.status === 403 ? "Admins only: " : "";
      throw new Error(prefix + problemText(problem, response.status));
    }
    return response;
  }

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

  // The shared controls (range, zone), remembered across pages for this tab.
  function saveCommon(form) {
    const saved = {};
    form.querySelectorAll("[data-common]").forEach((el) => { saved[el.name] = el.value; });
    sessionStorage.setItem(CONTROLS_KEY, JSON.stringify(saved));
  }

  function restoreCommon(form) {
    const saved = JSON.parse(sessionStorage.getItem(CONTROLS_KEY) || "{}");
    form.querySelectorAll("[data-common]").forEach((el) => {
      if (saved[el.name]) el.value = saved[el.name];
    });
    if (!form.tz.value) form.tz.value = D.browserZone();
    const zones = Intl.supportedValuesOf ? Intl.supportedValuesOf("timeZone") : [];
    const list = $("#zones");
    ["UTC", ...zones].forEach((zone) => {
      const option = document.createElement("option");
      option.value = zone;
      list.appendChild(option);
    });
  }

  function toggleCustomRange(form) {
    if (!form.preset) return;
    const custom = form.preset.value === "custom";
    document.querySelectorAll(".custom-range").forEach((el) => { el.hidden = !custom; });
  }

  // Query parameters from the shared controls and the report's [data-param] fields.
  D.params = (form) => {
    const params = new URLSearchParams();
    if (form.preset) {
      if (form.preset.value === "custom") {
        if (form.from.value) params.set("from", form.from.value);
        if (form.to.value) params.set("to", form.to.value);
      } else {
        params.set("preset", form.preset.value);
      }
    }
    params.set("tz", form.tz.value.trim() || "UTC");
    form.querySelectorAll("[data-param]").forEach((el) => {
      if (el.type === "checkbox") {
        if (el.checked) params.set(el.name, el.value);
      } else if (el.multiple) {
        [...el.selectedOptions].forEach((o) => params.append(el.name, o.value));
      } else if (el.value !== "") {
        params.set(el.name, el.value);
      }
    });
    return params;
  };

  // A Chart.js chart on a canvas, replacing the one drawn there before.
  D.chart = (id, config) => {
    if (D.charts[id]) D.charts[id].destroy();
    config.options = Object.assign(
      { responsive: true, maintainAspectRatio: false, animation: false,
        interaction: { mode: "index", intersect: false } },
      config.options || {});
    D.charts[id] = new window.Chart(document.getElementById(id), config);
    return D.charts[id];
  };

  D.dataset = (label, data, index, extra) => Object.assign(
    { label, data, borderColor: PALETTE[index % PALETTE.length],
      backgroundColor: PALETTE[index % PALETTE.length] + "99", pointRadius: 2, tension: 0.2 },
    extra || {});

  D.pct = (value) => (value === null || value === undefined ? "–" : (100 * value).toFixed(1) + "%");

  // A table from a header row and body rows; a cell is text or {text, share, empty}.
  D.table = (id, header, rows) => {
    const table = document.getElementById(id);
    table.replaceChildren();
    const head = table.createTHead().insertRow();
    header.forEach((text) => {
      const th = document.createElement("th");
      th.textContent = text;
      head.appendChild(th);
    });
    const body = table.createTBody();
    rows.forEach((row) => {
      const tr = body.insertRow();
      row.forEach((cell) => {
        const td = tr.insertCell();
        const c = typeof cell === "object" && cell !== null ? cell : { text: cell };
        td.textContent = c.text === null || c.text === undefined ? "–" : String(c.text);
        if (c.empty) td.className = "unreached";
        if (c.share !== undefined && c.share !== null) {
          td.className = "value";
          td.style.backgroundColor = "rgba(37, 99, 235, " + (0.08 + 0.8 * c.share) + ")";
          if (c.share > 0.55) td.style.color = "#fff";
        }
      });
    });
  };

  D.formatTime = (iso, zone) => new Intl.DateTimeFormat(undefined, {
    timeZone: zone, dateStyle: "short", timeStyle: "medium" }).format(new Date(iso));

  async function run(report, form) {
    D.setState("loading");
    D.showMessage("");
    try {
      await report.load(form);
      D.setState("ready");
    } catch (error) {
      D.showMessage(error.message);
      D.setState("error");
    }
  }

  // A [data-local] control changed: redraw from the last answer (api-health fetches a series).
  async function redraw(report, form) {
    D.setState("loading");
    try {
      await report.redraw(form);
      D.setState("ready");
    } catch (error) {
      D.showMessage(error.message);
      D.setState("error");
    }
  }

  function initReport() {
    if (!D.token()) {
      window.location.assign("/admin/");
      return;
    }
    $("#logout").addEventListener("click", logout);
    const slug = document.body.dataset.page;
    const report = D.reports[slug];
    const form = $("#controls");
    restoreCommon(form);
    toggleCustomRange(form);
    if (form.preset) form.preset.addEventListener("change", () => toggleCustomRange(form));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      saveCommon(form);
      run(report, form);
    });
    form.querySelectorAll("[data-local]").forEach((el) => {
      if (el.tagName === "SELECT") el.addEventListener("change", () => redraw(report, form));
    });
    $("#csv").addEventListener("click", async () => {
      try {
        const request = report.request(form);
        await D.downloadCsv(request.path, request, slug + ".csv");
      } catch (error) {
        D.showMessage(error.message);
      }
    });
    Promise.resolve(report.prepare ? report.prepare(form) : null)
      .then(() => run(report, form))
      .catch((error) => { D.showMessage(error.message); D.setState("error"); });
  }

  // A wait in words: "45 seconds", "15 minutes".
  function waitText(seconds) {
    if (seconds < 60) return seconds + (seconds === 1 ? " second" : " seconds");
    const minutes = Math.round(seconds / 60);
    return minutes + (minutes === 1 ? " minute" : " minutes");
  }

  // After a 429: say how long to wait (the API's Retry-After), counting down, with the
  // button off until then.
  function holdLogin(form, seconds) {
    const button = form.querySelector("button[type=submit]");
    const until = Date.now() + seconds * 1000;
    button.disabled = true;
    const tick = () => {
      const left = Math.ceil((until - Date.now()) / 1000);
      $("#message").dataset.retryAfter = Math.max(left, 0);
      if (left <= 0) {
        button.disabled = false;
        D.showMessage("");
        return;
      }
      D.showMessage("Too many failed attempts. Try again in " + waitText(left) + ".");
      setTimeout(tick, 1000);
    };
    tick();
  }

  function initLogin() {
    const form = $("#login-form");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      D.showMessage("");
      const response = await fetch(API + "/auth/login", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ email: form.email.value, password: form.password.value }),
      });
      const body = await response.json().catch(() => null);
      if (response.status === 429) {
        holdLogin(form, Number(response.headers.get("Retry-After")) || 60);
        return;
      }
      if (!response.ok) {
        D.showMessage(problemText(body, response.status));
        return;
      }
      sessionStorage.setItem(TOKEN_KEY, body.access_token);
      // The API decides who is an admin: ask it once before showing any page.
      const check = await fetch(API + "/insights/realtime", {
        headers: { Authorization: "Bearer " + body.access_token, Accept: "application/json" },
      });
      if (check.ok) {
        window.location.assign("/admin/trends");
        return;
      }
      sessionStorage.removeItem(TOKEN_KEY);
      const problem = await check.json().catch(() => null);
      D.showMessage(check.status === 403
        ? "Admins only: " + problemText(problem, 403) + " Ask an admin for access."
        : problemText(problem, check.status));
    });
    D.setState("ready");
  }

  document.addEventListener("DOMContentLoaded", () => {
    if (document.body.dataset.page === "login") initLogin();
    else initReport();
  });
})();
