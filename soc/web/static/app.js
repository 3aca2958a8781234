// Progressive enhancement only: every page works without JavaScript.
document.addEventListener("change", (e) => {
  const box = e.target;
  if (box instanceof HTMLInputElement && box.dataset.selectAll) {
    document.querySelectorAll(`input[name="${box.dataset.selectAll}"]`).forEach((b) => { b.checked = box.checked; });
  }
});
