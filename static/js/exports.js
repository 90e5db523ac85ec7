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

// Progress of exports being prepared (static/js/job_status.js polls): until ready, then the
// download link.
document.querySelectorAll("tr[data-export]").forEach((row) => {
  const status = row.querySelector(".export-status");
  if (/Ready|Failed|failed/.test(status.textContent)) return;
  pollJobStatus(row.dataset.export, {
    onStatus: (data) => {
      if (data.status === "done") {
        status.textContent = `Ready (${data.rows_written} rows)`;
        const link = document.createElement("a");
        link.href = data.download_url;
        link.textContent = "Download CSV";
        row.querySelector(".export-link").replaceChildren(link);
        return "over";
      }
      if (data.status === "failed") {
        status.textContent = data.error || "Failed";
        return "over";
      }
      if (data.waiting_for_worker) status.textContent = data.waiting_for_worker;
      else status.textContent = `${data.status === "running" ? "Running" : "Queued"}… ${data.percent}%`;
      return data.waiting_for_worker ? "waiting" : "running";
    },
    // Expired (410, which says when) or gone.
    onGone: (data) => {
      status.textContent = data.error || "This export is no longer available.";
    },
  });
});
