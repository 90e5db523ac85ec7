// A retry of many failures running in the background (templates/portal/_retry_batch.html):
// its notice follows the batch without a reload, to what came of it and a link that reloads
// the log with the retried rows. The server renders each sentence from the partial the page
// renders, so the two say the same; without JavaScript a reload shows the progress.
const announcer = document.getElementById("announcer");
document.querySelectorAll("[data-retry-batch]").forEach((notice) => {
  let state = notice.dataset.state;
  pollJobStatus(notice.dataset.retryBatch, {
    onStatus: (data) => {
      const next = document.createElement("template");
      next.innerHTML = data.notice;
      if (next.content.textContent !== notice.textContent) notice.replaceChildren(next.content);
      // Read out once per change of state (started, waiting for a worker, done), not at
      // each poll's new counts.
      const now = data.waiting_for_worker ? "waiting" : data.state;
      if (now !== state && announcer) announcer.textContent = notice.textContent;
      state = now;
      if (data.state === "done") return "over";
      return data.waiting_for_worker ? "waiting" : "running";
    },
    onGone: () => {
      notice.textContent = "This retry is no longer available. Reload the log to see what was retried.";
      if (announcer) announcer.textContent = notice.textContent;
    },
  });
});
