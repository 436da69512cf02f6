// payoutwatch pages: sortable tables and countdowns (a static file, so the CSP allows no inline script)
document.querySelectorAll("table.sortable th").forEach((th, i) => th.addEventListener("click", () => {
  const body = th.closest("table").tBodies[0], rows = [...body.rows], asc = th.dataset.asc !== "1";
  rows.sort((a, b) => { const x = a.cells[i].dataset.v ?? a.cells[i].innerText, y = b.cells[i].dataset.v ?? b.cells[i].innerText;
    const nx = parseFloat(x), ny = parseFloat(y); const c = !isNaN(nx) && !isNaN(ny) ? nx - ny : x.localeCompare(y); return asc ? c : -c; });
  th.dataset.asc = asc ? "1" : "0"; rows.forEach(r => body.appendChild(r)); }));
// a countdown starts from the seconds the server computed against the page's as-of instant (live pages only)
document.querySelectorAll("[data-countdown]").forEach(el => { const left = parseFloat(el.dataset.countdown), shown = performance.now();
  const tick = () => { let s = Math.max(0, Math.round(left - (performance.now() - shown) / 1000)); const d = Math.floor(s / 86400);
    const h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
    el.textContent = d ? `${d}d ${h}h ${m}m` : h ? `${h}h ${m}m` : `${m}m ${s % 60}s`; }; tick(); setInterval(tick, 1000); });
// the add-silence form: as its matcher is typed, list the firing alerts it would mute (GET /silences/preview)
const silenceForm = document.getElementById("silence-form"), previewBox = document.getElementById("silence-preview");
if (silenceForm && previewBox) {
  const el = (tag, text, cls) => { const e = document.createElement(tag); if (text !== undefined) e.textContent = text; if (cls) e.className = cls; return e; };
  const show = p => {
    const parts = [];
    if (p.refusal) parts.push(el("p", p.refusal, "bad"));
    const n = p.count, head = el("p"), strong = el("strong", `Would mute ${n} firing alert${n === 1 ? "" : "s"}`);
    head.append(strong, (p.withheld ? ` (and ${p.withheld} you may not see)` : "") + (p.alerts.length ? ":" : "."));
    parts.push(head);
    const list = el("ul");
    p.alerts.forEach(a => { const li = el("li"), link = el("a"); link.href = `/alerts/${encodeURIComponent(a.key)}`;
      link.append(el("code", a.key)); li.append(link, ` ${a.severity} · ${a.owner}`); list.append(li); });
    parts.push(list);
    if (n > p.alerts.length) parts.push(el("p", `and ${n - p.alerts.length} more`, "muted"));
    previewBox.replaceChildren(...parts);
  };
  let pending = 0;
  const ask = () => {
    const query = new URLSearchParams(["rule", "key", "owner"].map(f => [f, silenceForm.elements[f].value]));
    const mine = ++pending;
    fetch(`/silences/preview?${query}`, { credentials: "same-origin" }).then(r => r.json())
      .then(p => { if (mine === pending) show(p); });
  };
  ["rule", "key", "owner"].forEach(f => silenceForm.elements[f].addEventListener("input", ask));
  silenceForm.elements["owner"].addEventListener("change", ask);
}
