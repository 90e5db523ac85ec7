// A retry of many failures running in the background (templates/portal/_retry_batch.html):
// its notice follows the batch without a reload, to what came of it and a link that reloads
// the log with the retried rows. The server renders each sentence from the partial the page
// renders, so the two say the same; without JavaScript a reload shows the progress.
document.querySelectorAll("[data-retry-batch]").forEach((notice) => {
  pollJobStatus(notice.dataset.retryBatch, {
    onStatus: (data) => {
      const next = document.createElement("template");
      next.innerHTML = data.notice;
      // The notice is a live region: rewritten only when its words change, it is read out
      // once per change, not at every poll.
      if (next.content.textContent !== notice.textContent) notice.replaceChildren(next.content);
      if (data.state === "done") return "over";
      return data.waiting_for_worker ? "waiting" : "running";
    },
    onGone: () => {
      notice.textContent = "This retry is no longer available. Reload the log to see what was retried.";
    },
  });
});
