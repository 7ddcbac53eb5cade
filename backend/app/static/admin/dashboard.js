// The dashboard's controls and pages: one Apply behaviour, every view's state in the URL,
// loading and error states, and the login page. Sessions and API calls are in api.js,
// drawing in ui.js; each report page registers itself (reports.js, overview.js, people.js)
// as dashboard.reports[slug].
"use strict";

(function () {
  const CONTROLS_KEY = "insights.controls";
  const D = window.dashboard;
  const $ = D.$;

  D.browserZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";

  // The form's controls that make up the view: the shared ones and the report's own.
  const fields = (form) => [...form.elements].filter((el) => el.name &&
    (el.hasAttribute("data-common") || el.hasAttribute("data-param") || el.hasAttribute("data-local")));

  // The view as a query string: what a link needs to reproduce it.
  D.state = (form) => {
    const state = new URLSearchParams();
    fields(form).forEach((el) => {
      if (el.type === "checkbox") {
        if (el.checked) state.set(el.name, el.value);
      } else if (el.multiple) {
        [...el.selectedOptions].forEach((o) => state.append(el.name, o.value));
      } else if (el.value !== "" && !(el.closest("[hidden]"))) {
        state.set(el.name, el.value);
      }
    });
    return state;
  };

  // Put a query string's values into the form (unknown names are ignored).
  function applyState(form, state) {
    fields(form).forEach((el) => {
      if (!state.has(el.name)) {
        if (el.type === "checkbox") el.checked = false;
        // A report's own control the URL leaves out takes its default (Back to a view
        // before a filter clears the filter); the shared ones keep the tab's values.
        else if (!el.hasAttribute("data-common")) resetToDefault(el);
        return;
      }
      const values = state.getAll(el.name);
      if (el.type === "checkbox") el.checked = values.includes(el.value);
      else if (el.multiple) [...el.options].forEach((o) => { o.selected = values.includes(o.value); });
      else el.value = values[0];
    });
  }

  // A hidden input's value is its default too (setting one sets the other): "" for those.
  const defaultOf = (el) => (el.type === "hidden" ? el.dataset.default || "" : el.defaultValue);

  function resetToDefault(el) {
    if (el.tagName === "SELECT") [...el.options].forEach((o) => { o.selected = o.defaultSelected; });
    else el.value = defaultOf(el);
  }

  // The shared controls (range, zone) are also remembered for this tab, for pages opened
  // without them in their URL.
  function saveCommon(form) {
    const saved = {};
    form.querySelectorAll("[data-common]").forEach((el) => { saved[el.name] = el.value; });
    sessionStorage.setItem(CONTROLS_KEY, JSON.stringify(saved));
  }

  function restore(form) {
    const saved = JSON.parse(sessionStorage.getItem(CONTROLS_KEY) || "{}");
    form.querySelectorAll("[data-common]").forEach((el) => {
      if (saved[el.name]) el.value = saved[el.name];
    });
    const url = new URLSearchParams(window.location.search);
    if ([...url].length) {
      // A link names the whole view: what it leaves out takes the page's defaults.
      const withCommon = new URLSearchParams(url);
      form.querySelectorAll("[data-common]").forEach((el) => {
        if (!withCommon.has(el.name) && el.value) withCommon.set(el.name, el.value);
      });
      if (url.has("from") && !url.has("preset")) withCommon.set("preset", "custom");
      keepUnlisted(form, withCommon);
      applyState(form, withCommon);
    }
    if (!form.tz.value) form.tz.value = D.browserZone();
    const list = $("#zones");
    const zones = Intl.supportedValuesOf ? Intl.supportedValuesOf("timeZone") : [];
    ["UTC", ...zones].forEach((zone) => list.appendChild(new Option(zone, zone)));
  }

  // Controls a URL does not mention keep their defaults (checkboxes excepted: absent is
  // off): the page's own, not what the browser restored into the form on Back.
  function keepUnlisted(form, state) {
    fields(form).forEach((el) => {
      if (state.has(el.name) || el.type === "checkbox") return;
      const common = el.hasAttribute("data-common");
      if (el.tagName === "SELECT") {
        [...el.options].filter((o) => (common ? o.selected : o.defaultSelected))
          .forEach((o) => state.append(el.name, o.value));
      } else {
        const value = common ? el.value : defaultOf(el);
        if (value !== "") state.set(el.name, value);
      }
    });
  }

  function toggleCustomRange(form) {
    if (!form.preset) return;
    const custom = form.preset.value === "custom";
    document.querySelectorAll(".custom-range").forEach((el) => { el.hidden = !custom; });
  }

  // The API's query parameters: the range, the zone and the report's [data-param] fields.
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

  // Load the report; on an error clear everything drawn before and say what went wrong.
  async function run(report, form) {
    D.setState("loading");
    D.showMessage("");
    try {
      await report.load(form);
      document.body.dataset.loads = Number(document.body.dataset.loads || 0) + 1;
      D.setState("ready");
    } catch (error) {
      D.clearAll();
      if (error instanceof D.SessionEnded) sessionEnded(error.message);
      else D.showMessage(error.message);
      D.setState("error");
    }
  }

  function sessionEnded(text) {
    D.showMessage(text || "Your session has ended. Log in again.", "error",
      { href: "/admin/", text: "Log in" });
  }

  // Apply (or Enter) is the one way a change takes effect, on every page: the view goes
  // into the URL (a new history entry, so Back returns to the view before) and loads.
  function apply(report, form, { push = true } = {}) {
    saveCommon(form);
    const query = "?" + D.state(form);
    if (query !== window.location.search) {
      history[push ? "pushState" : "replaceState"](null, "", window.location.pathname + query);
    }
    form.dataset.dirty = "false";
    return run(report, form);
  }
  D.apply = apply;

  function initReport() {
    if (!D.hasSession()) {
      D.rememberNext();
      window.location.assign("/admin/");
      return;
    }
    D.onSessionEnded = () => sessionEnded();
    D.startSession();
    $("#logout").addEventListener("click", D.logout);
    const slug = document.body.dataset.page;
    const report = D.reports[slug];
    const form = $("#controls");
    D.reload = () => run(report, form);
    restore(form);
    toggleCustomRange(form);
    if (form.preset) form.preset.addEventListener("change", () => toggleCustomRange(form));
    form.addEventListener("input", () => { form.dataset.dirty = "true"; });
    form.addEventListener("change", () => { form.dataset.dirty = "true"; });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      apply(report, form);
    });
    window.addEventListener("popstate", () => {
      applyState(form, new URLSearchParams(window.location.search));
      toggleCustomRange(form);
      run(report, form);
    });
    if ($("#csv")) $("#csv").addEventListener("click", async () => {
      try {
        const request = report.request(form);
        await D.downloadCsv(request.path, request, slug + ".csv");
      } catch (error) {
        if (error instanceof D.SessionEnded) sessionEnded(error.message);
        else D.showMessage(error.message);
      }
    });
    Promise.resolve(report.prepare ? report.prepare(form) : null)
      .then(() => apply(report, form, { push: false }))
      .catch((error) => {
        D.clearAll();
        if (error instanceof D.SessionEnded) sessionEnded(error.message);
        else D.showMessage(error.message);
        D.setState("error");
      });
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
    if (D.hasSession()) {
      window.location.replace(D.takeNext());
      return;
    }
    const form = $("#login-form");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      D.showMessage("");
      const response = await fetch(D.API + "/auth/login", {
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
        D.showMessage(D.problemText(body, response.status));
        return;
      }
      // The API decides who is an admin: ask it once before showing any page.
      const check = await fetch(D.API + "/insights/realtime", {
        headers: { Authorization: "Bearer " + body.access_token, Accept: "application/json" },
      });
      if (!check.ok) {  // not an admin: end the session the login just started
        fetch(D.API + "/auth/logout", { method: "POST",
          headers: { Authorization: "Bearer " + body.refresh_token } }).catch(() => null);
      }
      if (check.ok) {
        D.storeTokens(body);
        window.location.assign(D.takeNext());
        return;
      }
      const problem = await check.json().catch(() => null);
      D.showMessage(check.status === 403
        ? "Admins only: " + D.problemText(problem, 403) + " Ask an admin for access."
        : D.problemText(problem, check.status));
    });
    D.setState("ready");
  }

  document.addEventListener("DOMContentLoaded", () => {
    if (document.body.dataset.page === "login") initLogin();
    else initReport();
  });
})();
