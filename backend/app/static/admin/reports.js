// One entry per report page: request(form) builds the API call (also used for CSV),
// load(form) fetches and draws, redraw(form) redraws from the last answer (and, broken
// down, its values in the page's "By …" card: groups.js).
"use strict";

(function () {
  const D = window.dashboard;
  const R = D.reports;

  // A report whose request is a GET built from the controls.
  function getReport(path, draw, extra) {
    const report = Object.assign({
      data: null,
      request: (form) => ({ path, params: D.params(form) }),
      async load(form) {
        const request = report.request(form);
        report.data = await D.getJSON(request.path, request);
        await report.redraw(form);
      },
      async redraw(form) {
        if (!report.data) return;
        await draw(report.data, form);
        D.drawGroups(document.body.dataset.page, report.data, form);
      },
    }, extra || {});
    return report;
  }

  // At most TOP series of a breakdown keep their own line; the rest of each event type is
  // summed into one "other" line. With compare, each line has its previous period as a
  // dashed line of the same colour.
  const TOP = 8;

  function sumPoints(group, measure, length) {
    return Array.from({ length }, (_, i) => group.reduce((n, s) => n + s.points[i][measure], 0));
  }

  // The trend's breakdown: an event_data key (breakdown) or a context column
  // (breakdown_property: platform, ..., identified); null without one.
  const breakdownOf = (data) => data.breakdown || data.breakdown_property || null;

  function trendLines(data, measure, only) {
    const length = (data.series[0] || { points: [] }).points.length;
    const by = breakdownOf(data);
    const name = (s) => s.event_type + (by ? ": " + (s.other ? "other" : s.value) : "");
    const key = (s) => s.event_type + "\u0000" + (s.other ? "\u0001" : s.value);
    const previous = new Map((data.previous || []).map((s) => [key(s), s]));
    const total = (s) => s.points.reduce((n, p) => n + p[measure], 0);
    // A view filtered to one value (a click on its line) keeps that value's lines only.
    const filtered = Boolean(by && only);
    const named = data.series.filter((s) => !s.other && (!filtered || String(s.value) === only));
    const kept = by && !filtered
      ? [...named].sort((a, b) => total(b) - total(a)).slice(0, TOP) : named;
    // A value without events in the previous period has no series there: its line is 0.
    const before = (s) => (previous.has(key(s))
      ? previous.get(key(s)).points.map((p) => p[measure]) : Array(length).fill(0));
    const lines = kept.map((s) => ({ label: name(s), data: s.points.map((p) => p[measure]),
      previous: data.previous ? before(s) : null, value: s.value }));
    if (by && !filtered) {
      const rest = data.series.filter((s) => !kept.includes(s));
      [...new Set(rest.map((s) => s.event_type))].forEach((type) => {
        const group = rest.filter((s) => s.event_type === type);
        const then = group.map((s) => previous.get(key(s))).filter(Boolean);
        lines.push({ label: type + ": other (" + group.length + " values)",
          data: sumPoints(group, measure, length),
          previous: data.previous ? sumPoints(then, measure, length) : null });
      });
    }
    return lines;
  }

  // Filter the view to one breakdown value (null: every value); it goes into the URL.
  function showOnly(form, value) {
    form.only.value = value === null || value === undefined ? "" : String(value);
    D.apply(R.trends, form);
  }

  // "Only the value": the breakdown's values (keyboard and screen-reader access to what a
  // click on a line does).
  function fillOnlySelect(data, form) {
    const select = D.$("#only-select");
    const values = [...new Set(data.series.filter((s) => !s.other).map((s) => String(s.value)))];
    select.replaceChildren(new Option("All values", ""));
    values.forEach((v) => select.add(new Option(breakdownOf(data) + " = " + v, v)));
    select.value = values.includes(form.only.value) ? form.only.value : "";
    select.onchange = () => showOnly(form, select.value || null);
    document.querySelector(".only-value").hidden = !breakdownOf(data);
    D.$("#trends-hint").hidden = !breakdownOf(data);
  }

  R.trends = getReport("/insights/trends", (data, form) => {
    const measure = form.measure.value;
    const first = data.series[0] || { points: [] };
    // A value the answer does not hold (another breakdown's) filters nothing.
    const known = data.series.some((s) => !s.other && String(s.value) === form.only.value);
    const by = breakdownOf(data);
    const only = by && known ? form.only.value : "";
    const datasets = [];
    const values = [];  // the breakdown value of each dataset (undefined: "other")
    trendLines(data, measure, only).forEach((line, i) => {
      datasets.push(D.dataset(line.label, line.data, i));
      values.push(line.value);
      if (line.previous) {
        datasets.push(D.dataset(line.label + " (previous period)", line.previous, i,
          { borderDash: [6, 4], pointRadius: 0, backgroundColor: "transparent" }));
        values.push(line.value);
      }
    });
    fillOnlySelect(data, form);
    const pick = (index) => {
      if (by && values[index] !== undefined && !only) showOnly(form, values[index]);
    };
    D.chart("chart-trends", {
      type: "line",
      data: { labels: first.points.map((p) => p.start + (p.partial ? " (so far)" : "")), datasets },
      options: {
        scales: { y: { beginAtZero: true, title: { display: true, text: measure } } },
        onClick: (event, _elements, chart) => {
          const hit = chart.getElementsAtEventForMode(event, "nearest", { intersect: false }, true);
          if (hit.length) pick(hit[0].datasetIndex);
        },
        onHover: (event, _elements, chart) => {
          chart.canvas.style.cursor = by && !only ? "pointer" : "default";
        },
        plugins: { legend: { onClick: (_event, item) => pick(item.datasetIndex) } },
      },
    }, { title: "Trends: " + measure + " per " + (form.interval ? form.interval.value : "day")
      + (only ? " (" + by + " = " + only + ")" : "") });
  }, {
    // An event_data key and a context column are one breakdown or the other (the API takes
    // one): choosing one clears the other.
    prepare(form) {
      form.breakdown.addEventListener("input", () => {
        if (form.breakdown.value) form.breakdown_property.value = "";
      });
      form.breakdown_property.addEventListener("change", () => {
        if (form.breakdown_property.value) form.breakdown.value = "";
      });
    },
  });

  R["active-users"] = getReport("/insights/active-users", (data) => {
    const labels = data.days.map((d) => d.day);
    D.chart("chart-active", {
      type: "line",
      data: { labels, datasets: ["dau", "wau", "mau"].map((key, i) =>
        D.dataset(key.toUpperCase(), data.days.map((d) => d[key]), i)) },
      options: { scales: { y: { beginAtZero: true } } },
    });
    D.chart("chart-stickiness", {
      type: "bar",
      data: { labels, datasets: [D.dataset("DAU / MAU (%)", data.days.map((d) =>
        d.stickiness === null ? null : +(100 * d.stickiness).toFixed(1)), 4)] },
      options: { scales: { y: { beginAtZero: true, max: 100 } } },
    });
  });

  R["challenge-progress"] = getReport("/insights/challenge-progress", (data, form) => {
    const measure = form.measure.value;
    const days = Array.from({ length: data.duration_days }, (_, i) => i + 1);
    D.table("table-progress", ["Joined week of", "Members", ...days.map((d) => "Day " + d)],
      data.cohorts.map((c) => [c.week_start, c.size, ...c.days.map((cell) =>
        cell[measure] === null ? { text: "–", empty: true }
          : { text: D.pct(cell[measure + "_share"]), share: cell[measure + "_share"],
            sub: cell[measure] + " of " + cell.eligible })]));
  }, {
    async prepare(form) {
      const list = await D.getJSON("/challenges");
      const select = form.challenge_id;
      list.items.forEach((c) => select.add(new Option(c.title, c.id)));
      if (!list.items.length) throw new Error("There is no challenge yet.");
    },
  });

  // "plan_completed day_of_challenge=7" -> {event_type, where: {day_of_challenge: 7}}
  function parseSteps(text) {
    return text.split("\n").map((line) => line.trim()).filter(Boolean).map((line) => {
      const [eventType, ...filters] = line.split(/\s+/);
      const where = {};
      filters.forEach((pair) => {
        const [key, ...rest] = pair.split("=");
        const raw = rest.join("=");
        try { where[key] = JSON.parse(raw); } catch { where[key] = raw; }
      });
      return { event_type: eventType, where };
    });
  }

  // The view with the people who dropped before step k (null: none shown), as a link.
  function droppedHref(form, step) {
    const state = D.state(form);
    if (step) state.set("dropped", step); else state.delete("dropped");
    return "?" + state;
  }

  function showDropped(form, step) {
    form.dropped.value = step ? String(step) : "";
    D.apply(R.funnels, form);
  }

  // The people who reached the step before `step` and not `step`, linked to their timelines.
  async function drawDropped(form, data) {
    const step = Number(form.dropped.value);
    const card = D.$("#dropped-card");
    card.hidden = !(step >= 2 && step <= data.steps.length);
    if (card.hidden) return;
    const request = R.funnels.request(form);
    request.params.delete("breakdown_property");  // the people of the whole funnel
    const people = await D.getJSON("/insights/funnels/people", { method: "POST",
      params: request.params, body: Object.assign({}, request.body, { step }) });
    const target = data.steps[step - 1];
    D.$("#dropped-title").textContent = people.dropped + " dropped before step " + step + " ("
      + target.event_type + ")" + (people.anonymous ? ", " + people.anonymous
      + " of them anonymous visitors (not listed)" : "");
    D.table("table-dropped", ["Name", "Email", "Id"], people.items.map((u) => [
      { text: u.display_name, href: "/admin/user-timeline?user_id=" + u.id }, u.email, u.id]));
    D.$("#dropped-close").onclick = () => showDropped(form, null);
  }

  R.funnels = getReport("/insights/funnels", async (data, form) => {
    const labels = data.steps.map((s) => s.index + ". " + s.event_type +
      Object.entries(s.where).map(([k, v]) => " " + k + "=" + v).join(""));
    D.chart("chart-funnel", {
      type: "bar",
      data: { labels, datasets: [D.dataset("users", data.steps.map((s) => s.users), 0)] },
      options: {
        indexAxis: "y", scales: { x: { beginAtZero: true } },
        onClick: (event, _elements, chart) => {
          const hit = chart.getElementsAtEventForMode(event, "nearest", { intersect: false, axis: "y" }, true);
          if (hit.length && hit[0].index > 0) showDropped(form, hit[0].index + 1);
        },
        onHover: (event, _elements, chart) => { chart.canvas.style.cursor = "pointer"; },
      },
    });
    D.table("table-funnel",
      ["Step", "Users", "From first", "From previous", "Dropped", "Median time from previous"],
      data.steps.map((s, i) => [labels[i], s.users, D.pct(s.conversion_from_first),
        D.pct(s.conversion_from_previous),
        i && s.drop_off ? { text: s.drop_off, href: droppedHref(form, i + 1) } : s.drop_off,
        s.median_seconds_from_previous === null ? "–" : duration(s.median_seconds_from_previous)]));
    await drawDropped(form, data);
  }, {
    request: (form) => ({
      path: "/insights/funnels", method: "POST", params: D.params(form),
      body: { steps: parseSteps(form.steps.value), window_days: Number(form.window_days.value) },
    }),
  });

  function duration(seconds) {
    if (seconds < 120) return seconds.toFixed(0) + " s";
    if (seconds < 7200) return (seconds / 60).toFixed(1) + " min";
    if (seconds < 172800) return (seconds / 3600).toFixed(1) + " h";
    return (seconds / 86400).toFixed(1) + " days";
  }

  // The retention curve (%): retained / size over the cohorts that reached each period.
  D.retentionCurve = (cohorts, periods, measure) => Array.from({ length: periods + 1 }, (_, p) => {
    let kept = 0, size = 0;
    cohorts.forEach((c) => {
      const cell = c.periods.find((x) => x.period === p);
      if (cell && cell[measure] !== null) { kept += cell[measure]; size += c.size; }
    });
    return size ? +(100 * kept / size).toFixed(1) : null;
  });

  R.retention = getReport("/insights/retention", (data, form) => {
    const measure = form.measure.value;
    const periods = Array.from({ length: data.periods + 1 }, (_, i) => i);
    const unit = data.unit === "week" ? "Week " : "Day ";
    D.table("table-retention", ["Cohort", "Size", ...periods.map((p) => unit + p)],
      data.cohorts.map((c) => [c.start, c.size, ...c.periods.map((cell) => cell[measure] === null
        ? { text: "–", empty: true }
        : { text: D.pct(c.size ? cell[measure] / c.size : null),
          share: c.size ? cell[measure] / c.size : 0, sub: cell[measure] + " of " + c.size })]));
    D.chart("chart-retention", {
      type: "line",
      data: { labels: periods.map((p) => unit + p),
        datasets: [D.dataset("retained (%)", D.retentionCurve(data.cohorts, data.periods, measure), 0)] },
      options: { scales: { y: { beginAtZero: true, max: 100 } } },
    });
  });

  R["api-health"] = getReport("/insights/api-health", async (data, form) => {
    const routes = data.routes;
    const labels = routes.map((r) => r.method + " " + r.endpoint);
    D.chart("chart-latency", {
      type: "bar",
      data: { labels, datasets: ["p50_ms", "p95_ms", "p99_ms"].map((key, i) =>
        D.dataset(key.replace("_ms", ""), routes.map((r) => r[key]), i)) },
      options: { indexAxis: "y",
        scales: { x: { beginAtZero: true }, y: { ticks: { autoSkip: false } } } },
    });
    D.table("table-routes", ["Route", "Requests", "4xx", "5xx", "p50 ms", "p95 ms", "p99 ms"],
      routes.map((r, i) => [labels[i], r.requests, D.pct(r.rate_4xx), D.pct(r.rate_5xx),
        fixed(r.p50_ms), fixed(r.p95_ms), fixed(r.p99_ms)]));
    const select = form.route;
    const chosen = select.value;
    select.replaceChildren(...labels.map((label) => new Option(label, label)));
    if (labels.includes(chosen)) select.value = chosen;
    if (!select.value) return;
    const [method, ...rest] = select.value.split(" ");
    const params = D.params(form);
    params.set("method", method);
    params.set("endpoint", rest.join(" "));
    const one = await D.getJSON("/insights/api-health", { params });
    D.$("#series-title").textContent = select.value + " over time";
    D.chart("chart-route-series", {
      type: "line",
      data: { labels: one.series.map((p) => p.start), datasets: [
        D.dataset("requests", one.series.map((p) => p.requests), 0, { yAxisID: "y" }),
        D.dataset("p95 ms", one.series.map((p) => p.p95_ms), 1, { yAxisID: "ms" })] },
      options: { scales: { y: { beginAtZero: true, position: "left" },
        ms: { beginAtZero: true, position: "right", grid: { drawOnChartArea: false } } } },
    });
  });

  function fixed(value) { return value === null ? "–" : value.toFixed(1); }

  // Realtime and the timeline take no zone: it only formats their times here.
  const withoutZone = (path) => (form) => {
    const params = D.params(form);
    params.delete("tz");
    return { path, params };
  };

  R.realtime = getReport("/insights/realtime", (data, form) => {
    D.$("#active-now").textContent = data.active_users_5m;
    const zone = form.tz.value.trim() || "UTC";
    const time = new Intl.DateTimeFormat(undefined, { timeZone: zone, timeStyle: "short" });
    D.chart("chart-realtime", {
      type: "bar",
      data: { labels: data.minutes.map((m) => time.format(new Date(m.start))),
        datasets: [D.dataset("events", data.minutes.map((m) => m.events), 0)] },
      options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
    });
  }, {
    request: withoutZone("/insights/realtime"),
    // Reloads on its own every `every` seconds (a control, so a link keeps it) while the
    // tab is visible; a failed reload shows its error and the next one tries again.
    prepare(form) {
      const tick = () => {
        const seconds = Math.max(2, Number(form.every.value) || 30);
        setTimeout(() => {
          const ended = document.body.dataset.session === "ended";
          if (!ended && document.visibilityState === "visible") D.reload();
          if (!ended) tick();
        }, seconds * 1000);
      };
      tick();
    },
  });

  // The timeline: newest first; "Older…" follows next_cursor and appends.
  const timeline = getReport("/insights/user-timeline", (data, form) => {
    const zone = form.tz.value.trim() || "UTC";
    D.table("table-timeline", ["When", "Kind", "What", "Status", "Latency ms", "Data"],
      timeline.items.map((item) => [D.formatTime(item.at, zone), item.kind,
        item.kind === "event" ? item.event_type : item.method + " " + item.endpoint,
        item.status === null ? "" : item.status,
        item.latency_ms === null ? "" : item.latency_ms.toFixed(1),
        item.event_data ? JSON.stringify(item.event_data) : ""]));
    D.$("#more").hidden = !data.next_cursor;
  }, {
    items: [],
    request: withoutZone("/insights/user-timeline"),
    prepare(form) {
      const fromUrl = new URLSearchParams(window.location.search).get("user_id");
      if (fromUrl) form.user_id.value = fromUrl;
      D.$("#more").addEventListener("click", () => timeline.more(form)
        .catch((error) => D.showMessage(error.message)));
    },
    async load(form) {
      if (!form.user_id.value) {
        throw new Error("Enter a user id to see their timeline (or find them on People).");
      }
      timeline.cursor = null;
      timeline.items = [];
      await timeline.more(form);
    },
    async more(form) {
      const params = timeline.request(form).params;
      if (timeline.cursor) params.set("cursor", timeline.cursor);
      timeline.data = await D.getJSON("/insights/user-timeline", { params });
      timeline.items = timeline.items.concat(timeline.data.items);
      timeline.cursor = timeline.data.next_cursor;
      await timeline.redraw(form);
    },
  });
  R["user-timeline"] = timeline;
})();
