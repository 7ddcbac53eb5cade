// The overview's second half, from other reports: session figures (/insights/sessions,
// this period and the previous one) and app opens by platform and by app version
// (/insights/trends with breakdown_property); a bar opens the trend filtered by its value.
"use strict";

(function () {
  const D = window.dashboard;
  const OPENS = "app_opened";

  const sum = (points, key) => points.reduce((n, p) => n + (p[key] || 0), 0);

  // Session totals of a sessions answer: count, events per session, single-event share.
  function totals(points) {
    const sessions = sum(points, "sessions");
    const events = points.reduce((n, p) => n + (p.mean_events || 0) * p.sessions, 0);
    return {
      sessions,
      mean_events: sessions ? events / sessions : null,
      single_share: sessions ? sum(points, "single_event_sessions") / sessions : null,
    };
  }

  function figure(key, label, unit, now, before, points) {
    const change = now === null || !before ? null : (now - before) / before;
    return { key, label, unit, value: now, previous: before, change, points };
  }

  async function sessionFigures(form, previous) {
    const params = D.params(form);
    const earlier = new URLSearchParams({ from: previous.from, to: previous.to,
      tz: params.get("tz") });
    const [now, then] = await Promise.all([
      D.getJSON("/insights/sessions", { params }),
      D.getJSON("/insights/sessions", { params: earlier }),
    ]);
    const a = totals(now.points);
    const b = totals(then.points);
    const per = (key) => now.points.map((p) => ({ start: p.start, partial: p.partial,
      value: p[key] }));
    const rounded = (v) => (v === null ? null : Math.round(v * 10) / 10);
    return [
      figure("sessions", "Sessions", "count", a.sessions, b.sessions, per("sessions")),
      figure("events_per_session", "Events per session", "count", rounded(a.mean_events),
        rounded(b.mean_events), per("mean_events")),
      figure("single_event_share", "Single-event sessions", "share", a.single_share,
        b.single_share, per("single_event_share")),
    ];
  }

  // One bar per value of a context column (its app opens in the period), largest first.
  async function breakdown(form, property, canvasId, title) {
    const params = D.params(form);
    params.set("event_type", OPENS);
    params.set("breakdown_property", property);
    const data = await D.getJSON("/insights/trends", { params });
    const bars = data.series.filter((s) => !s.other && s.value !== null)
      .map((s) => ({ value: String(s.value), events: sum(s.points, "events") }))
      .filter((b) => b.events > 0).sort((x, y) => y.events - x.events);
    const common = D.params(form);
    common.delete("interval");
    const href = (bar) => {
      const view = new URLSearchParams(common);
      view.set("event_type", OPENS);
      view.set(property, bar.value);
      return "/admin/trends?" + view;
    };
    D.chart(canvasId, {
      type: "bar",
      data: { labels: bars.map((b) => b.value),
        datasets: [D.dataset("app opens", bars.map((b) => b.events), property === "platform" ? 0 : 2)] },
      options: {
        indexAxis: "y", scales: { x: { beginAtZero: true } },
        plugins: { legend: { display: false } },
        onClick: (event, _elements, chart) => {
          const hit = chart.getElementsAtEventForMode(event, "nearest", { intersect: false, axis: "y" }, true);
          if (hit.length) window.location.assign(href(bars[hit[0].index]));
        },
        onHover: (event, elements, chart) => { chart.canvas.style.cursor = "pointer"; },
      },
    }, { title });
    // What a click on a bar does, for the keyboard and screen readers: one link per bar.
    const links = document.getElementById(canvasId.replace("chart-", "links-"));
    links.replaceChildren(bars.length ? "Open the trend of: " : "No app opens with a " + property + ".");
    bars.forEach((bar, i) => {
      const a = document.createElement("a");
      a.href = href(bar);
      a.textContent = bar.value;
      links.append(i ? " · " : "", a);
    });
  }

  D.overviewMore = async (form, overview, card) => {
    const list = D.$("#session-figures");
    list.replaceChildren();
    const [figures] = await Promise.all([
      sessionFigures(form, overview.previous_period),
      breakdown(form, "platform", "chart-platforms", "App opens by platform"),
      breakdown(form, "app_version", "chart-versions", "App opens by app version"),
    ]);
    figures.forEach((f, i) => card(f, i + 6, list));
  };
})();
