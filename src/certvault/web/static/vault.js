/* Progressive enhancement, no build: Copy fetches the value (audited as a copy) into the clipboard;
   Generate fills the password field from the server's generator. Without JavaScript both still work. */
document.addEventListener("submit", async (event) => {
  const button = event.submitter;
  if (!button || !button.classList.contains("copy") || !navigator.clipboard) return;
  event.preventDefault();
  const form = event.target, note = button.parentElement.querySelector(".copied");
  const answer = await fetch(form.action, {method: "POST", body: new FormData(form, button),
                                           headers: {"Accept": "application/json"}});
  const body = await answer.json();
  if (answer.ok) { await navigator.clipboard.writeText(body.value); if (note) note.textContent = "copied"; }
  else if (note) { note.textContent = body.detail; }
});
document.querySelectorAll("button.generate").forEach((button) => button.addEventListener("click", async () => {
  const data = new FormData(); data.append("csrf_token", button.dataset.csrf);
  const answer = await fetch("/vault/password/generate", {method: "POST", body: data, headers: {"Accept": "application/json"}});
  if (!answer.ok) return;
  const target = document.getElementById(button.dataset.target);
  target.value = (await answer.json()).password; target.type = "text";
}));
