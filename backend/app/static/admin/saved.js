// Saved dashboards: the "Save to a dashboard…" dialog of every report page, and the
// Dashboards page (the list; one dashboard's views, each a link that reproduces it).
// The data is /api/v2/insights/dashboards, shared by every admin.
"use strict";

(function () {
  const D = window.dashboard;
  const R = D.reports;
  const PATH = "/insights/dashboards";
  const $ = (selector) => document.querySelector(selector);

  // A view's parameters in words: "event_type app_opened · breakdown platform".
  function describe(query) {
    const parts = [];
    new URLSearchParams(query).forEach((value, name) => {
      parts.push(name + " " + value.replace(/\n/g, " → "));
    });
    return parts.join(" · ") || "defaults";
  }

  function viewHref(view) {
    return "/admin/" + view.report + (view.query ? "?" + view.query : "");
  }

  // The Dashboards page.
  R.dashboards = {
    request: (form) => ({ path: PATH, params: D.params(form) }),
    async load(form) {
      const id = form.id.value;
      $("#dashboard-list").hidden = Boolean(id);
      $("#dashboard-one").hidden = !id;
      if (id) return R.dashboards.one(Number(id));
      const data = await D.getJSON(PATH);
      const zone = form.tz.value.trim() || "UTC";
      D.table("table-dashboards", ["Name", "Views", "Reports", "Changed"],
        data.items.map((d) => [
          { text: d.name, href: "/admin/dashboards?id=" + d.id },
          d.items.length,
          [...new Set(d.items.map((v) => v.report))].join(", "),
          D.formatTime(d.updated_at, zone)]));
      if (!data.items.length) {
        D.table("table-dashboards", ["Name"], [["No dashboard saved yet."]]);
      }
    },
    async one(id) {
      const dashboard = await D.getJSON(PATH + "/" + id);
      $("#dashboard-name").textContent = dashboard.name;
      document.title = dashboard.name + " · Insights";
      const list = $("#dashboard-views");
      list.replaceChildren();
      dashboard.items.forEach((view, index) => {
        const item = document.createElement("li");
        const link = document.createElement("a");
        link.href = viewHref(view);
        link.textContent = view.title || view.report;
        const report = document.createElement("span");
        report.className = "muted";
        report.textContent = view.report;
        const params = document.createElement("span");
        params.className = "params";
        params.textContent = describe(view.query);
        const remove = document.createElement("button");
        remove.type = "button";
        remove.className = "link";
        remove.textContent = "Remove";
        remove.setAttribute("aria-label", "Remove the view " + link.textContent);
        remove.addEventListener("click", () => R.dashboards.change(dashboard, index));
        item.append(link, report, params, remove);
        list.appendChild(item);
      });
      $("#delete-dashboard").onclick = () => R.dashboards.remove(dashboard);
    },
    async change(dashboard, index) {
      const items = dashboard.items.filter((_, i) => i !== index);
      try {
        if (!items.length) {
          await R.dashboards.remove(dashboard);
          return;
        }
        await D.call(PATH + "/" + dashboard.id, { method: "PATCH", body: { items } });
        await R.dashboards.one(dashboard.id);
      } catch (error) {
        D.showMessage(error.message);
      }
    },
    async remove(dashboard) {
      if (!window.confirm("Delete the dashboard “" + dashboard.name + "” for everyone?")) return;
      try {
        await D.call(PATH + "/" + dashboard.id, { method: "DELETE" });
        window.location.assign("/admin/dashboards");
      } catch (error) {
        D.showMessage(error.message);
      }
    },
  };

  // The dialog of report pages: add the view in the address bar (what Apply last loaded)
  // to a dashboard, or start a new one with it.
  function initSaveDialog() {
    const dialog = $("#save-dialog");
    const form = $("#save-form");
    const say = (text) => {
      const box = $("#save-message");
      box.textContent = text;
      box.hidden = !text;
    };
    const toggleName = () => { form.querySelector(".new-name").hidden = form.dashboard.value !== ""; };
    let known = [];
    form.dashboard.addEventListener("change", toggleName);
    $("#save-cancel").addEventListener("click", () => dialog.close());
    $("#save-view").addEventListener("click", async () => {
      say("");
      try {
        known = (await D.getJSON(PATH)).items;
      } catch (error) {
        D.showMessage(error.message);
        return;
      }
      form.dashboard.replaceChildren(new Option("New dashboard…", ""));
      known.forEach((d) => form.dashboard.appendChild(new Option(d.name, String(d.id))));
      toggleName();
      dialog.showModal();
      (form.dashboard.value ? form.title : form.name).focus();
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      say("");
      const view = { report: document.body.dataset.page, title: form.title.value.trim(),
        query: window.location.search.replace(/^\?/, "") };
      try {
        let saved;
        if (form.dashboard.value) {
          const current = known.find((d) => String(d.id) === form.dashboard.value);
          saved = await (await D.call(PATH + "/" + current.id, { method: "PATCH",
            body: { items: current.items.concat([view]) } })).json();
        } else {
          saved = await (await D.call(PATH, { method: "POST",
            body: { name: form.name.value, items: [view] } })).json();
        }
        dialog.close();
        D.showMessage("Saved to “" + saved.name + "”.", "info",
          { href: "/admin/dashboards?id=" + saved.id, text: "Open the dashboard" });
      } catch (error) {
        say(error.message);
      }
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    if ($("#save-dialog") && D.hasSession()) initSaveDialog();
  });
})();
