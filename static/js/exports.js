// Progress of exports being prepared: poll until ready, then show the download link.
  document.querySelectorAll("tr[data-export]").forEach((row) => {
    const status = row.querySelector(".export-status");
    if (/Ready|Failed|failed/.test(status.textContent)) return;
    const poll = async () => {
      const data = await (await fetch(row.dataset.export, {credentials: "same-origin"})).json();
      if (data.status === "done") {
        status.textContent = `Ready (${data.rows_written} rows)`;
        row.querySelector(".export-link").innerHTML = `<a href="${data.download_url}">Download CSV</a>`;
      } else if (data.status === "failed") {
        status.textContent = data.error || "Failed";
      } else {
        status.textContent = `${data.status === "running" ? "Running" : "Queued"}… ${data.percent}%`;
        setTimeout(poll, 1000);
      }
    };
    poll();
  });
