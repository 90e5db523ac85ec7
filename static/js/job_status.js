// Following a background job (an export, a retry of many failures) by polling its JSON status
// view. The interval grows from 1 s (a small job is over at once) to 5 s, and to 15 s while no
// worker has started the job or the server does not answer: a page left open must not ask
// every second for hours. Loaded before the scripts that use it (classic scripts share these
// names; a second declaration of them would be an error).
const POLL_FIRST_MS = 1000;
const POLL_MAX_MS = 5000;
const POLL_WAITING_MAX_MS = 15000;

// Ask `url` until `onStatus(data)` answers "over"; it answers "waiting" while no worker has
// started the job, anything else while it runs. A 404 or 410 calls `onGone(data)` (the JSON
// body, or {} when there is none) and stops: the job is not coming back, and the page must
// say so rather than fall silent. Network errors and answers that are not JSON (a sign-in page
// after the session expired) are asked again later.
function pollJobStatus(url, {onStatus, onGone}) {
  let delay = POLL_FIRST_MS;
  const later = (ceiling) => {
    delay = Math.min(delay * 1.5, ceiling);
    setTimeout(poll, delay);
  };
  const poll = async () => {
    let response;
    try {
      response = await fetch(url, {credentials: "same-origin"});
    } catch {
      later(POLL_WAITING_MAX_MS);
      return;
    }
    if (response.status === 404 || response.status === 410) {
      onGone(await response.json().catch(() => ({})));
      return;
    }
    const data = response.ok ? await response.json().catch(() => null) : null;
    if (data === null) {
      later(POLL_WAITING_MAX_MS);
      return;
    }
    const next = onStatus(data);
    if (next === "over") return;
    later(next === "waiting" ? POLL_WAITING_MAX_MS : POLL_MAX_MS);
  };
  poll();
}
