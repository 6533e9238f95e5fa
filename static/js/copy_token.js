// The "Copy" button beside a drone token the admin shows once (ingest/admin.py).
// The clipboard needs a secure context and the browser's consent; where it is
// refused, the token is selected instead, so one Ctrl+C (or a long press) copies it.

export async function copyText(text, clipboard = globalThis.navigator?.clipboard) {
  if (!clipboard || typeof clipboard.writeText !== "function") return false;
  try {
    await clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}

function selectContents(element) {
  const range = document.createRange();
  range.selectNodeContents(element);
  const selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
}

export function wire(root) {
  root.addEventListener("click", async (event) => {
    const button = event.target.closest("button.copy-token[data-copy]");
    if (!button) return;
    event.preventDefault();
    const copied = await copyText(button.dataset.copy);
    if (!copied) {
      const code = button.parentElement.querySelector("code");
      if (code) selectContents(code);
    }
    button.textContent = copied ? "Copied" : "Selected: press Ctrl+C";
    button.setAttribute("aria-live", "polite");
  });
}

if (typeof document !== "undefined") wire(document);
