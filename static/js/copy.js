// Copy buttons: <button data-copy="#element-id">Copy</button>. The result is also announced to
// screen readers through the page's live region (#announcer in base.html). Without JavaScript
// the value is still on the page to select by hand.
const announce = (message) => {
  const region = document.getElementById("announcer");
  if (!region) return;
  // Clearing first makes a repeated message ("Copied" twice) announced again.
  region.textContent = "";
  setTimeout(() => { region.textContent = message; }, 50);
};

document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const source = document.querySelector(button.dataset.copy);
  if (!source) return;
  const text = ("value" in source ? source.value : source.textContent).trim();
  try {
    await navigator.clipboard.writeText(text);
    button.textContent = "Copied";
    announce("Copied");
  } catch (error) {
    const range = document.createRange();
    range.selectNodeContents(source);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    button.textContent = "Press Ctrl+C to copy";
    announce("Selected: press Ctrl+C to copy");
  }
  setTimeout(() => { button.textContent = button.dataset.label || "Copy"; }, 2500);
});
