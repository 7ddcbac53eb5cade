// Drawing: the page's state and message, Chart.js charts (each with a table alternative),
// tables, sparklines and number formats. No API calls here (api.js), no controls
// (dashboard.js).
"use strict";

(function () {
  const PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2",
    "#db2777", "#4b5563", "#65a30d", "#9333ea"];
  const D = window.dashboard;
  D.palette = PALETTE;
  const $ = (selector) => document.querySelector(selector);
  D.$ = $;

  D.setState = (state) => {
    document.body.dataset.state = state;
    const busy = state === "loading";
    document.querySelectorAll("main .card").forEach((card) => { card.ariaBusy = String(busy); });
    const status = $("#status");
    if (status) status.textContent = busy ? "Loading…" : "";
  };

  // A message under the controls; kind "error" (the default) or "info". `link` adds one
  // link after the text ({href, text}).
  D.showMessage = (text, kind, link) => {
    const box = $("#message");
    box.replaceChildren(document.createTextNode(text || ""));
    if (link) {
      const a = document.createElement("a");
      a.href = link.href;
      a.textContent = link.text;
      box.append(" ", a);
    }
    box.className = "message " + (kind || "error");
    box.hidden = !text;
  };

  // After an error nothing stale stays on screen: every chart, table and figure is cleared.
  D.clearAll = () => {
    Object.keys(D.charts).forEach((id) => { D.charts[id].destroy(); delete D.charts[id]; });
    document.querySelectorAll("[data-report-table]").forEach((t) => t.replaceChildren());
    document.querySelectorAll(".chart-table").forEach((d) => d.remove());
    document.querySelectorAll("[data-report-text]").forEach((el) => { el.textContent = "–"; });
    document.querySelectorAll("[data-report-list]").forEach((el) => el.replaceChildren());
  };

  // A Chart.js chart on a canvas, replacing the one drawn there before, with its data as
  // a table in a <details> after the canvas (for screen readers and for exact numbers).
  D.chart = (id, config, { title, table = true } = {}) => {
    if (D.charts[id]) D.charts[id].destroy();
    config.options = Object.assign(
      { responsive: true, maintainAspectRatio: false, animation: false,
        interaction: { mode: "index", intersect: false } },
      config.options || {});
    const canvas = document.getElementById(id);
    if (!canvas.parentElement.classList.contains("chart-box")) {
      // Chart.js sizes a chart to its container: one of its own, with a fixed height.
      const box = document.createElement("div");
      box.className = "chart-box" + (canvas.closest(".card.tall") ? " tall" : "");
      canvas.before(box);
      box.appendChild(canvas);
    }
    const heading = canvas.closest("section") && canvas.closest("section").querySelector("h2");
    const name = title || (heading ? heading.textContent : id);
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", name + " (chart; the table below has its numbers)");
    D.charts[id] = new window.Chart(canvas, config);
    if (table) chartTable(canvas, name, config.data);
    return D.charts[id];
  };

  function chartTable(canvas, name, data) {
    const tableId = canvas.id + "-table";
    let details = document.getElementById(tableId + "-details");
    if (!details) {
      details = document.createElement("details");
      details.id = tableId + "-details";
      details.className = "chart-table";
      const summary = document.createElement("summary");
      summary.textContent = "Show as table";
      const wrap = document.createElement("div");
      wrap.className = "scroll-x";
      wrap.tabIndex = 0;
      const table = document.createElement("table");
      table.id = tableId;
      const caption = document.createElement("caption");
      caption.className = "visually-hidden";
      caption.textContent = name;
      wrap.append(table);
      details.append(summary, wrap);
      canvas.parentElement.after(details);
      table.dataset.caption = name;
    }
    const header = ["", ...data.datasets.map((d) => d.label)];
    const rows = data.labels.map((label, i) => [label, ...data.datasets.map((d) => d.data[i])]);
    D.table(tableId, header, rows);
  }

  D.dataset = (label, data, index, extra) => Object.assign(
    { label, data, borderColor: PALETTE[index % PALETTE.length],
      backgroundColor: PALETTE[index % PALETTE.length] + "99", pointRadius: 2, tension: 0.2 },
    extra || {});

  D.pct = (value) => (value === null || value === undefined ? "–" : (100 * value).toFixed(1) + "%");
  D.number = (value) => (value === null || value === undefined ? "–"
    : Number(value).toLocaleString(undefined, { maximumFractionDigits: 1 }));

  // A table from a header row and body rows; a cell is text or {text, share, empty, sub,
  // href}: `share` shades it as a heat map, `sub` adds a second, smaller line (a count).
  D.table = (id, header, rows) => {
    const table = document.getElementById(id);
    table.replaceChildren();
    const scroller = table.closest(".card.scroll, .scroll-x");
    if (scroller && !scroller.hasAttribute("tabindex")) {
      scroller.tabIndex = 0;  // wide tables scroll with the keyboard too
      scroller.setAttribute("aria-label", (table.dataset.caption || "Table") + ", scrollable");
    }
    if (table.dataset.caption) {
      const caption = table.createCaption();
      caption.className = "visually-hidden";
      caption.textContent = table.dataset.caption;
    }
    const head = table.createTHead().insertRow();
    header.forEach((text) => {
      const th = document.createElement("th");
      th.scope = "col";
      th.textContent = text;
      head.appendChild(th);
    });
    const body = table.createTBody();
    rows.forEach((row) => {
      const tr = body.insertRow();
      row.forEach((cell, i) => {
        const td = i === 0 ? document.createElement("th") : tr.insertCell();
        if (i === 0) { td.scope = "row"; tr.appendChild(td); }
        const c = typeof cell === "object" && cell !== null ? cell : { text: cell };
        const text = c.text === null || c.text === undefined ? "–" : String(c.text);
        if (c.href) {
          const a = document.createElement("a");
          a.href = c.href;
          a.textContent = text;
          td.appendChild(a);
        } else {
          td.textContent = text;
        }
        if (c.sub !== undefined) {
          const small = document.createElement("span");
          small.className = "sub";
          small.textContent = c.sub;
          td.appendChild(small);
        }
        if (c.empty) td.className = "unreached";
        if (c.share !== undefined && c.share !== null) {
          td.className = "value";
          td.style.backgroundColor = "rgba(37, 99, 235, " + (0.08 + 0.8 * c.share) + ")";
          if (c.share > 0.45) td.classList.add("dark");
        }
      });
    });
    scrollHint(table, header.length);
  };

  // A table wider than its card says so (overlay scrollbars are easy to miss): "Scroll
  // sideways…", and its first column(s) stay put while it scrolls (CSS).
  function scrollHint(table, columns) {
    const scroller = table.closest(".card.scroll, .scroll-x");
    if (!scroller) return;
    let hint = scroller.querySelector(":scope > .scroll-hint");
    const wide = scroller.scrollWidth > scroller.clientWidth + 1;
    if (!wide) { if (hint) hint.remove(); return; }
    if (!hint) {
      hint = document.createElement("p");
      hint.className = "scroll-hint muted";
      table.before(hint);
    }
    hint.textContent = "All " + columns + " columns: scroll sideways (or focus the table and " +
      "use the arrow keys) →";
  }
  D.scrollHint = scrollHint;

  // A small line without axes (the overview's figures); its numbers are in the table.
  D.sparkline = (id, labels, values, color, title) => D.chart(id, {
    type: "line",
    data: { labels, datasets: [{ label: title, data: values, borderColor: color,
      backgroundColor: color + "22", fill: true, pointRadius: 0, borderWidth: 2, tension: 0.3,
      spanGaps: true }] },
    options: { plugins: { legend: { display: false }, tooltip: { enabled: true } },
      scales: { x: { display: false }, y: { display: false, beginAtZero: true } } },
  }, { title });

  D.formatTime = (iso, zone) => new Intl.DateTimeFormat(undefined, {
    timeZone: zone, dateStyle: "short", timeStyle: "medium" }).format(new Date(iso));

  // "3 min ago", "5 days ago": for last seen.
  D.ago = (iso) => {
    if (!iso) return "never";
    const seconds = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
    const units = [[86400, "day"], [3600, "hour"], [60, "min"]];
    for (const [size, unit] of units) {
      if (seconds >= size) {
        const n = Math.floor(seconds / size);
        return n + " " + unit + (n === 1 || unit === "min" ? "" : "s") + " ago";
      }
    }
    return "just now";
  };
})();
