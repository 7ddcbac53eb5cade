// Breakdowns (breakdown_property; docs/REPORTS.md, "Breakdowns"): a report answered with
// `groups` (the report again per value of platform, OS, app version, locale, or per
// identified and anonymous person) is drawn in the page's "By …" card: one line (bars for a
// funnel) per value, and a table of the report's figures for all events and per value.
// Trends break down within their own chart (reports.js).
"use strict";

(function () {
  const D = window.dashboard;
  const NAMES = { os_name: "OS", app_version: "app version",
    identified: "identified / anonymous persons" };

  // A breakdown value as shown: events sent without that context are "(not sent)".
  D.groupName = (value) => (value === null || value === undefined ? "(not sent)" : String(value));

  const sum = (values) => values.reduce((n, v) => n + (v || 0), 0);
  const lastOf = (items) => (items.length ? items[items.length - 1] : {});
  const percent = (value) => (value === null ? "–" : value + "%");

  // Per report: the chart (its title, its type, and the values of one answer, the whole or
  // a group, drawn against the labels of the page's main chart) and the table (its columns,
  // given the answer and those labels, and one answer's row). `data` is the whole answer.
  const VIEWS = {
    "active-users": {
      title: "DAU", type: "line", labelsOf: "chart-active",
      values: (r) => r.days.map((d) => d.dau),
      columns: () => ["Mean DAU", "WAU (last day)", "MAU (last day)"],
      row: (r) => [D.number(r.days.length ? sum(r.days.map((d) => d.dau)) / r.days.length : null),
        lastOf(r.days).wau, lastOf(r.days).mau],
    },
    funnels: {
      title: "Users per step", type: "bar", labelsOf: "chart-funnel",
      values: (r) => r.steps.map((s) => s.users),
      columns: (data) => [...data.steps.map((s) => "Step " + s.index + " users"),
        "Conversion (first to last)"],
      row: (r) => [...r.steps.map((s) => s.users), D.pct(lastOf(r.steps).conversion_from_first)],
    },
    retention: {
      title: "Retained (%)", type: "line", labelsOf: "chart-retention",
      values: (r, form, data) => D.retentionCurve(r.cohorts, data.periods, form.measure.value),
      columns: (data, labels) => ["Persons in cohorts", ...labels.map((p) => p + " retained")],
      row: (r, form, data) => [sum(r.cohorts.map((c) => c.size)),
        ...D.retentionCurve(r.cohorts, data.periods, form.measure.value).map(percent)],
    },
    realtime: {
      title: "Events per minute", type: "line", labelsOf: "chart-realtime",
      values: (r) => r.minutes.map((m) => m.events),
      columns: () => ["Active users (5 min)", "Events (30 min)"],
      row: (r) => [r.active_users_5m, sum(r.minutes.map((m) => m.events))],
    },
  };

  // Draw the page's breakdown card from a report's answer (hidden without a breakdown).
  D.drawGroups = (slug, data, form) => {
    const card = document.getElementById("groups-card");
    const view = VIEWS[slug];
    if (!card || !view) return;
    card.hidden = !data.groups;
    if (!data.groups) {
      if (D.charts["chart-groups"]) D.charts["chart-groups"].destroy();
      delete D.charts["chart-groups"];
      return;
    }
    const by = NAMES[data.breakdown_property] || data.breakdown_property;
    const title = view.title + " by " + by;
    D.$("#groups-title").textContent = title;
    const labels = D.charts[view.labelsOf].data.labels;
    D.chart("chart-groups", {
      type: view.type,
      data: { labels, datasets: data.groups.map((g, i) =>
        D.dataset(D.groupName(g.value), view.values(g, form, data), i)) },
      options: { scales: { y: { beginAtZero: true } } },
    }, { title });
    const table = document.getElementById("table-groups");
    table.dataset.caption = title + ": each value's figures";
    D.table("table-groups", [by, ...view.columns(data, labels)], [
      [{ text: "all (as filtered)" }, ...view.row(data, form, data)],
      ...data.groups.map((g) => [D.groupName(g.value), ...view.row(g, form, data)])]);
  };
})();
