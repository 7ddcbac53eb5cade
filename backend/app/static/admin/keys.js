// Write keys of /v1: list, create (the key is shown once), revoke. /api/v2/admin/write-keys.
"use strict";

(function () {
  const D = window.dashboard;
  const PATH = "/admin/write-keys";
  const $ = (selector) => document.querySelector(selector);

  function revokeButton(key, form) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "danger";
    button.textContent = "Revoke";
    button.setAttribute("aria-label", "Revoke the key " + key.name);
    button.addEventListener("click", async () => {
      if (!window.confirm("Revoke “" + key.name + "”? Apps sending with it are refused from now on.")) return;
      try {
        await D.call(PATH + "/" + key.id, { method: "DELETE" });
        await D.reports["write-keys"].load(form);
      } catch (error) {
        D.showMessage(error.message);
      }
    });
    return button;
  }

  D.reports["write-keys"] = {
    request: (form) => ({ path: PATH, params: D.params(form) }),
    prepare(form) {
      $("#key-form").addEventListener("submit", async (event) => {
        event.preventDefault();
        const create = event.target;
        try {
          const response = await D.call(PATH, { method: "POST",
            body: { source: create.source.value, name: create.name.value } });
          const key = await response.json();
          $("#new-key-name").textContent = key.name;
          $("#new-key-value").textContent = key.key;
          $("#new-key").hidden = false;
          create.reset();
          await D.reports["write-keys"].load(form);
        } catch (error) {
          D.showMessage(error.message);
        }
      });
      $("#copy-key").addEventListener("click", () => {
        navigator.clipboard.writeText($("#new-key-value").textContent).catch(() => null);
      });
    },
    async load(form) {
      const data = await D.getJSON(PATH);
      const zone = form.tz.value.trim() || "UTC";
      D.table("table-keys", ["Name", "Source", "Kind", "Key starts with", "Created", "State", ""],
        data.items.map((k) => [k.name, k.source, k.is_secret ? "secret" : "public",
          k.key_prefix + "…", D.formatTime(k.created_at, zone),
          k.revoked_at ? "revoked " + D.formatTime(k.revoked_at, zone) : "active", ""]));
      const rows = document.querySelectorAll("#table-keys tbody tr");
      data.items.forEach((k, i) => {
        if (!k.revoked_at) rows[i].lastElementChild.appendChild(revokeButton(k, form));
      });
      if (!data.items.length) D.table("table-keys", ["Name"], [["No write key yet."]]);
    },
  };
})();
