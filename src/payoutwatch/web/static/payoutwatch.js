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
