// payoutwatch charts: every <figure class="pw-chart"> holds its data in a <script type="application/json">
// block (never executed, so the CSP allows it); this file draws it with the vendored uPlot
// (/static/vendor/uPlot.iife.min.js). Dates are written in the configured timezone with Intl.DateTimeFormat,
// values with their unit; a null is a gap (no data, or a period that has not happened) and is shaded.
(() => {
  "use strict";
  const FONT = "12px system-ui, -apple-system, Segoe UI, sans-serif";
  const LABEL_FONT = "600 12px system-ui, -apple-system, Segoe UI, sans-serif";
  const money = new Intl.NumberFormat("en-CA", { style: "currency", currency: "CAD" });
  const moneyShort = new Intl.NumberFormat("en-CA", { style: "currency", currency: "CAD", notation: "compact" });
  const number = new Intl.NumberFormat("en-CA", { maximumFractionDigits: 2 });
  const SHORT = 16;
  const WHOLE = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000]; // ticks of counts

  function valueText(v, unit) {
    if (v == null) return "no data";
    if (unit === "CAD") return money.format(v);
    if (unit === "%") return `${number.format(v)} %`;
    if (unit === "count") return number.format(v);
    return `${number.format(v)} ${unit}`;
  }

  const whole = new Intl.NumberFormat("en-CA", { style: "currency", currency: "CAD", maximumFractionDigits: 0 });

  // the y ticks of one axis, written alike: compact CAD once the axis reaches 10,000
  function ticks(splits, unit) {
    const top = Math.max(...splits.map(Math.abs));
    if (unit === "CAD") return splits.map(v => (top >= 10000 ? moneyShort : top >= 100 ? whole : money).format(v));
    if (unit === "%") return splits.map(v => `${number.format(v)} %`);
    return splits.map(v => number.format(v));
  }

  function dateFormats(zone) {
    const day = new Intl.DateTimeFormat("en-CA", { timeZone: zone, month: "short", day: "numeric" });
    const dayYear = new Intl.DateTimeFormat("en-CA", { timeZone: zone, year: "numeric", month: "short", day: "numeric" });
    const instant = new Intl.DateTimeFormat("en-CA", {
      timeZone: zone, year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
      hour12: false, timeZoneName: "short",
    });
    return { day: s => day.format(new Date(s * 1000)), dayYear: s => dayYear.format(new Date(s * 1000)),
      instant: s => instant.format(new Date(s * 1000)) };
  }

  function seriesOptions(s, unit) {
    const base = { label: s.label, stroke: s.colour, value: (u, v, si, i) => (i == null ? "—" : valueText(v, unit)) };
    if (s.kind === "bars") {
      return { ...base, fill: `${s.colour}cc`, stroke: "#34506e", width: 1,
        paths: uPlot.paths.bars({ size: [0.7, 64], gap: 2 }), points: { show: false } };
    }
    if (s.kind === "threshold") return { ...base, width: 2, dash: [6, 4], points: { show: false } };
    if (s.kind === "trend") return { ...base, width: 1.5, dash: [3, 3], points: { show: false }, spanGaps: true };
    if (s.kind === "points") {
      return { ...base, width: 0, paths: () => null, points: { show: true, size: 9, fill: s.colour, stroke: s.colour } };
    }
    return { ...base, width: 2, points: { show: true, size: 6 } };
  }

  // the slot width in canvas pixels around x[i] (half the distance to each neighbour)
  function slot(u, i) {
    const xs = u.data[0], at = j => u.valToPos(xs[j], "x", true);
    const left = i > 0 ? (at(i) - at(i - 1)) / 2 : (xs.length > 1 ? (at(1) - at(0)) / 2 : 20);
    const right = i < xs.length - 1 ? (at(i + 1) - at(i)) / 2 : left;
    return [at(i) - left * 0.9, at(i) + right * 0.9];
  }

  function shadeGapsAndMarkers(spec) {
    return u => {
      const ctx = u.ctx, { top, height } = u.bbox, px = uPlot.pxRatio;
      ctx.save();
      ctx.font = `${Math.round(11 * px)}px system-ui, sans-serif`;
      ctx.textAlign = "center";
      spec.notes.forEach((note, i) => {
        if (!note) return;
        const [a, b] = slot(u, i);
        ctx.fillStyle = "rgba(102, 102, 119, 0.10)";
        ctx.fillRect(a, top, b - a, height);
        if (ctx.measureText(note).width <= b - a) {
          ctx.fillStyle = "#555";
          ctx.fillText(note, (a + b) / 2, top + 14 * px);
        }
      });
      spec.markers.forEach(m => {
        const x = u.valToPos(m.x, "x", true);
        ctx.strokeStyle = "#b3261e";
        ctx.setLineDash([4 * px, 4 * px]);
        ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, top + height); ctx.stroke();
        ctx.fillStyle = "#b3261e";
        ctx.textAlign = "right";
        ctx.fillText(m.label, x - 4 * px, top + 14 * px);
      });
      ctx.restore();
    };
  }

  function options(spec, width) {
    const time = spec.x_kind === "time", dates = dateFormats(spec.timezone);
    const xs = spec.x, step = xs.length > 1 ? (xs[xs.length - 1] - xs[0]) / (xs.length - 1) : 86400;
    const pad = time ? step / 2 : 0.5;
    const spanDays = time && xs.length > 1 ? (xs[xs.length - 1] - xs[0]) / 86400 : 0;
    const short = l => (l.length > SHORT ? `${l.slice(0, SHORT - 1)}…` : l);
    const xTick = time ? (spanDays > 300 ? dates.dayYear : dates.day) : (v => short(spec.x_labels[v] ?? ""));
    // labels that would touch are turned (and cut to SHORT characters; the legend names the whole)
    const many = !time && spec.x_labels.join("").length * 7.5 > width - 120;
    const longest = Math.min(SHORT, Math.max(0, ...spec.x_labels.map(l => l.length)));
    // ticks on the x values themselves (each cycle, each snapshot): every k-th counting back from the newest,
    // k as small as the width allows
    const fit = u => Math.max(1, Math.floor(u.bbox.width / uPlot.pxRatio / (time ? 64 : 40)));
    const xFilter = (u, splits) => {
      const k = many ? 1 : Math.max(1, Math.ceil(xs.length / fit(u)));
      return splits.map((v, i) => ((xs.length - 1 - i) % k === 0 ? v : null));
    };
    const xValues = (u, splits) => splits.map(v => (v == null ? "" : xTick(v)));
    return {
      width, height: spec.height,
      tzDate: ts => uPlot.tzDate(new Date(ts * 1000), spec.timezone),
      scales: {
        x: { time, range: (u, lo, hi) => [lo - pad, hi + pad] },
        y: { range: spec.y_range ? () => spec.y_range : (u, lo, hi) => {
          const low = Math.min(0, lo ?? 0), high = Math.max(hi ?? 1, low + 1);
          return [low, high + (high - low) * 0.08];
        } },
      },
      axes: [
        { label: spec.x_label, font: FONT, labelFont: LABEL_FONT, labelSize: 22, stroke: "#333",
          splits: () => xs, filter: xFilter, grid: { filter: xFilter }, ticks: { filter: xFilter }, size: many ? 16 + longest * 4.6 : 40, rotate: many ? 35 : 0, values: xValues },
        { label: spec.y_label, font: FONT, labelFont: LABEL_FONT, labelSize: 22, stroke: "#333",
          size: spec.unit === "CAD" ? 84 : 56, values: (u, splits) => ticks(splits, spec.unit),
          incrs: spec.unit === "CAD" || spec.unit === "%" || spec.unit === "min" ? undefined : WHOLE },
      ],
      series: [
        { label: spec.x_label, value: (u, v) => (v == null ? "—" : time ? dates.instant(v) : spec.x_labels[v] ?? "") },
        ...spec.series.map(s => seriesOptions(s, spec.unit)),
      ],
      legend: { live: true },
      cursor: { points: { size: 8 }, drag: { x: false, y: false } },
      hooks: { draw: [shadeGapsAndMarkers(spec)] },
    };
  }

  function draw(figure) {
    const spec = JSON.parse(figure.querySelector("script.pw-chart-data").textContent);
    const data = [spec.x, ...spec.series.map(s => s.values)];
    const width = () => Math.max(260, figure.clientWidth);
    const plot = new uPlot(options(spec, width()), data, figure);
    figure.uplot = plot; // for the browser tests: axes, series and legend as drawn
    let pending = 0;
    window.addEventListener("resize", () => {
      cancelAnimationFrame(pending);
      pending = requestAnimationFrame(() => plot.setSize({ width: width(), height: spec.height }));
    });
  }

  document.querySelectorAll("figure.pw-chart").forEach(draw);
})();
