// The overview (the first page) and People (find a person): their entries in
// dashboard.reports. Each overview figure: its value, the change against the previous
// period, and a sparkline whose numbers are also a table.
"use strict";

(function () {
  const D = window.dashboard;
  const R = D.reports;
  // Figures where a rise is bad news (their change is shown in red when it goes up).
  const UP_IS_BAD = new Set(["api_error_rate", "api_p95_ms"]);

  function format(figure, value) {
    if (value === null || value === undefined) return "–";
    if (figure.unit === "share") return D.pct(value);
    if (figure.unit === "ms") return D.number(value) + " ms";
    return D.number(value);
  }

  // "+12.5%" for counts; for shares the difference in percentage points ("+1.2 pp").
  function change(figure) {
    if (figure.unit === "share") {
      if (figure.value === null || figure.previous === null) return null;
      const points = 100 * (figure.value - figure.previous);
      return { text: (points >= 0 ? "+" : "") + points.toFixed(1) + " pp", sign: Math.sign(points) };
    }
    if (figure.change === null) return null;
    const pct = 100 * figure.change;
    return { text: (pct >= 0 ? "+" : "") + pct.toFixed(1) + "%", sign: Math.sign(pct) };
  }

  function card(figure, index, list) {
    const item = document.createElement("li");
    item.className = "figure";
    item.dataset.key = figure.key;
    const label = document.createElement("h2");
    label.textContent = figure.label;
    const value = document.createElement("p");
    value.className = "figure-value";
    value.textContent = format(figure, figure.value);
    const delta = document.createElement("p");
    delta.className = "figure-change";
    const moved = change(figure);
    if (moved) {
      const bad = UP_IS_BAD.has(figure.key) ? moved.sign > 0 : moved.sign < 0;
      delta.classList.add(moved.sign === 0 ? "flat" : bad ? "down" : "up");
      delta.textContent = (moved.sign > 0 ? "▲ " : moved.sign < 0 ? "▼ " : "") + moved.text;
    } else {
      delta.classList.add("flat");
      delta.textContent = "no previous data";
    }
    const was = document.createElement("span");
    was.className = "muted";
    was.textContent = " vs " + format(figure, figure.previous);
    delta.appendChild(was);
    const box = document.createElement("div");
    box.className = "chart-box spark";
    const canvas = document.createElement("canvas");
    canvas.id = "spark-" + figure.key;
    box.appendChild(canvas);
    item.append(label, value, delta, box);
    list.appendChild(item);
    const labels = figure.points.map((p) => p.start + (p.partial ? " (so far)" : ""));
    D.sparkline(canvas.id, labels, figure.points.map((p) => p.value),
      D.palette[index % D.palette.length],
      figure.label + (figure.key === "day7_completion" ? " per join week" : " per day"));
  }

  R.overview = {
    request: (form) => ({ path: "/insights/overview", params: D.params(form) }),
    async load(form) {
      const data = await D.getJSON("/insights/overview", R.overview.request(form));
      const figures = D.$("#figures");
      const events = D.$("#top-events");
      Object.keys(D.charts).forEach((id) => { D.charts[id].destroy(); delete D.charts[id]; });
      figures.replaceChildren();
      events.replaceChildren();
      data.figures.forEach((f, i) => card(f, i, figures));
      data.top_events.forEach((f, i) => card(f, i + 3, events));
      if (!data.top_events.length) events.textContent = "No events in this period.";
      D.$("#compared").textContent = "Compared with " + data.previous_period.from + " to "
        + data.previous_period.to + " (the same number of days just before).";
      await D.overviewMore(form, data, card);
    },
  };

  // People: a search over email, display name and id, newest first, "More…" for the next
  // page; each person links to their timeline.
  const people = {
    items: [],
    request: (form) => {
      const params = D.params(form);
      params.delete("tz");
      return { path: "/insights/users", params };
    },
    prepare(form) {
      D.$("#more").addEventListener("click", () => people.more(form)
        .catch((error) => D.showMessage(error.message)));
    },
    async load(form) {
      people.items = [];
      people.cursor = null;
      await people.more(form);
    },
    async more(form) {
      const { params } = people.request(form);
      if (people.cursor) params.set("cursor", people.cursor);
      const data = await D.getJSON("/insights/users", { params });
      people.items = people.items.concat(data.items);
      people.cursor = data.next_cursor;
      const zone = form.tz.value.trim() || "UTC";
      // Last seen first: the pages loaded so far, most recent first, never seen last.
      const seen = (p) => (p.last_seen ? Date.parse(p.last_seen) : -Infinity);
      const rows = form.sort.value === "last_seen"
        ? [...people.items].sort((a, b) => seen(b) - seen(a)) : people.items;
      D.table("table-people", ["Name", "Email", "Id", "Last seen", "Joined"],
        rows.map((p) => [
          { text: p.display_name, href: "/admin/user-timeline?user_id=" + p.id },
          p.email + (p.is_internal ? " (internal)" : ""), p.id,
          { text: D.ago(p.last_seen), sub: p.last_seen ? D.formatTime(p.last_seen, zone) : "" },
          D.formatTime(p.created_at, zone)]));
      D.$("#table-people thead th:nth-child(4)").setAttribute("aria-sort",
        form.sort.value === "last_seen" ? "descending" : "none");
      D.$("#people-count").textContent = people.items.length
        ? people.items.length + (people.cursor ? "+" : "") + " found"
        : "Nobody matches.";
      D.$("#more").hidden = !people.cursor;
    },
  };
  R.people = people;
})();
