// The password-reset page: ask for a link (POST /auth/password-reset), or, opened from the
// link (#token=...), set the new password (POST /auth/password-reset/confirm). The token is
// in the fragment, which browsers never send to a server, and is taken out of the address
// bar at once.
"use strict";

(function () {
  const API = "/api/v2/auth";
  const $ = (selector) => document.querySelector(selector);

  function say(text, kind) {
    const box = $("#message");
    box.textContent = text;
    box.hidden = !text;
    box.className = "message " + (kind || "error");
  }

  function problemText(problem, status) {
    if (!problem) return "Request failed (" + status + ").";
    const fields = (problem.errors || []).map((e) => e.message).join(" ");
    return (problem.detail || problem.title) + (fields && !problem.detail.includes(fields) ? " " + fields : "");
  }

  async function post(path, body) {
    const response = await fetch(API + path, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body),
    });
    const answer = response.status === 204 ? null : await response.json().catch(() => null);
    return { response, answer };
  }

  function initRequest() {
    const form = $("#request-form");
    form.hidden = false;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      say("");
      const { response, answer } = await post("/password-reset", { email: form.email.value });
      if (response.status === 202) {
        say(answer.message + " Check your inbox; the link works once, for an hour.", "info");
        form.hidden = true;
        document.body.dataset.state = "sent";
      } else if (response.status === 429) {
        const wait = Number(response.headers.get("Retry-After")) || 60;
        say("Too many requests for this address. Try again in " + Math.ceil(wait / 60) + " minutes.");
      } else {
        say(problemText(answer, response.status));
      }
    });
  }

  function initConfirm(token) {
    history.replaceState(null, "", location.pathname);  // the token leaves the address bar
    const form = $("#confirm-form");
    form.hidden = false;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      say("");
      if (form.new_password.value !== form.repeat.value) {
        say("The two passwords differ.");
        return;
      }
      const { response, answer } = await post("/password-reset/confirm",
        { token, new_password: form.new_password.value });
      if (response.status === 204) {
        form.hidden = true;
        say("Your password is set. Log in with it.", "info");
        document.body.dataset.state = "done";
      } else {
        say(problemText(answer, response.status));
        if (answer && answer.type && answer.type.endsWith("/reset-token-invalid")) {
          form.hidden = true;
          initRequest();
        }
      }
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    const token = new URLSearchParams(location.hash.slice(1)).get("token");
    if (token) initConfirm(token);
    else initRequest();
    document.body.dataset.state = "ready";
  });
  // The link pasted into the tab that asked for it changes only the fragment: start over.
  window.addEventListener("hashchange", () => location.reload());
})();
