// payoutwatch pages: sortable tables and countdowns (a static file, so the CSP allows no inline script)
document.querySelectorAll("table.sortable th").forEach((th, i) => th.addEventListener("click", () => {
  const body = th.closest("table").tBodies[0], rows = [...body.rows], asc = th.dataset.asc !== "1";
  rows.sort((a, b) => { const x = a.cells[i].dataset.v ?? a.cells[i].innerText, y = b.cells[i].dataset.v ?? b.cells[i].innerText;
    const nx = parseFloat(x), ny = parseFloat(y); const c = !isNaN(nx) && !isNaN(ny) ? nx - ny : x.localeCompare(y); return asc ? c : -c; });
  th.dataset.asc = asc ? "1" : "0"; rows.forEach(r => body.appendChild(r)); }));
document.querySelectorAll("[data-countdown]").forEach(el => { const t = Date.parse(el.dataset.countdown);
  const tick = () => { let s = Math.max(0, Math.round((t - Date.now()) / 1000)); const d = Math.floor(s / 86400); s %= 86400;
    el.textContent = `${d}d ${Math.floor(s / 3600)}h ${Math.floor(s % 3600 / 60)}m`; }; tick(); setInterval(tick, 30000); });
