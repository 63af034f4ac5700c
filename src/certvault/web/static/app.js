/* certvault's page script: progressive enhancement only, every page works without it.
   - marks <html class="js"> so the narrow-screen menu starts folded (without JavaScript it is a list);
   - the Menu button folds and unfolds the navigation (aria-expanded says which);
   - a button with data-copy="ID" copies the value (or text) of element ID to the clipboard. */
document.documentElement.classList.add("js");
document.addEventListener("DOMContentLoaded", () => {
  const menu = document.querySelector("button.menu"), nav = document.getElementById("site-nav");
  if (menu && nav) {
    menu.addEventListener("click", () => {
      const open = nav.classList.toggle("open");
      menu.setAttribute("aria-expanded", String(open));
      if (open) { const first = nav.querySelector("a"); if (first) first.focus(); }
    });
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && nav.classList.contains("open")) {
        nav.classList.remove("open"); menu.setAttribute("aria-expanded", "false"); menu.focus();
      }
    });
  }
  const scrollable = () => document.querySelectorAll("main table, main .table-wrap, main pre").forEach((box) => {
    if (box.scrollWidth > box.clientWidth + 1) box.setAttribute("tabindex", "0");  // keyboard can scroll it
    else if (box.getAttribute("tabindex") === "0") box.removeAttribute("tabindex");
  });
  scrollable();
  window.addEventListener("resize", scrollable);
  document.querySelectorAll("button[data-copy]").forEach((button) => {
    button.hidden = !navigator.clipboard;
    button.addEventListener("click", async () => {
      const source = document.getElementById(button.dataset.copy);
      if (!source) return;
      await navigator.clipboard.writeText("value" in source ? source.value : source.textContent.trim());
      const note = button.parentElement.querySelector(".copied");
      if (note) note.textContent = "copied";
    });
  });
});
