// "Download failed operations" exports what is selected on screen: the filters' current values
// are copied into the export form as they change (before "Show" is pressed too), and the
// sentence saying what the file holds follows them (same words as the export_scope filter).
const filters = document.getElementById("log-filters");
const exportForm = document.getElementById("export-form");
if (filters && exportForm) {
  const scope = exportForm.querySelector("[data-scope]");
  const sync = () => {
    for (const name of ["operation", "since", "until"]) {
      exportForm.elements[name].value = filters.elements[name].value;
    }
    const {operation, since, until} = Object.fromEntries(
      ["operation", "since", "until"].map((name) => [name, filters.elements[name].value]),
    );
    const what = operation ? `failed ${operation} operations` : "all failed operations";
    let text = `${what}, any date`;
    if (since && until) text = `${what} from ${since} to ${until}`;
    else if (since) text = `${what} since ${since}`;
    else if (until) text = `${what} until ${until}`;
    if (scope) scope.textContent = text;
  };
  filters.addEventListener("input", sync);
  filters.addEventListener("change", sync);
  exportForm.addEventListener("submit", sync);
}

// Progress of exports being prepared: poll until ready, then show the download link. The
// interval grows from 1 s (a small export is ready at once) to 5 s, and to 15 s while no
// worker has started the export: a page left open must not ask every second for hours.
const POLL_FIRST_MS = 1000;
const POLL_MAX_MS = 5000;
const POLL_WAITING_MAX_MS = 15000;
document.querySelectorAll("tr[data-export]").forEach((row) => {
  const status = row.querySelector(".export-status");
  if (/Ready|Failed|failed/.test(status.textContent)) return;
  let delay = POLL_FIRST_MS;
  const poll = async () => {
    let response;
    try {
      response = await fetch(row.dataset.export, {credentials: "same-origin"});
    } catch {
      // The network or the server is away for a moment: ask again later.
      delay = Math.min(delay * 1.5, POLL_WAITING_MAX_MS);
      setTimeout(poll, delay);
      return;
    }
    if (response.status === 404 || response.status === 410) {
      // Expired (410, which says when) or gone: say so and stop, rather than fall silent.
      const data = await response.json().catch(() => ({}));
      status.textContent = data.error || "This export is no longer available.";
      return;
    }
    const data = response.ok ? await response.json().catch(() => null) : null;
    if (data === null) {
      delay = Math.min(delay * 1.5, POLL_WAITING_MAX_MS);
      setTimeout(poll, delay);
      return;
    }
    if (data.status === "done") {
      status.textContent = `Ready (${data.rows_written} rows)`;
      row.querySelector(".export-link").innerHTML = `<a href="${data.download_url}">Download CSV</a>`;
    } else if (data.status === "failed") {
      status.textContent = data.error || "Failed";
    } else {
      if (data.waiting_for_worker) status.textContent = data.waiting_for_worker;
      else status.textContent = `${data.status === "running" ? "Running" : "Queued"}… ${data.percent}%`;
      delay = Math.min(delay * 1.5, data.waiting_for_worker ? POLL_WAITING_MAX_MS : POLL_MAX_MS);
      setTimeout(poll, delay);
    }
  };
  poll();
});
