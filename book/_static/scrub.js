// The book's movable figures: frames rendered when the book is built (lib.plots.Scrubber), one
// shown at a time, chosen with a range input. No network, no kernel: everything is in the page.
// Keyboard: the slider takes focus with Tab; the arrow keys, Home and End move it.
(function () {
  function wire(box) {
    const frames = Array.from(box.querySelectorAll("img.tp-frame"));
    const input = box.querySelector("input.tp-slider");
    const out = box.querySelector("output.tp-value");
    const values = JSON.parse(box.dataset.values);
    const label = box.dataset.label;
    function show(i) {
      frames.forEach(function (f, k) { f.hidden = k !== i; });
      out.textContent = values[i];
      input.setAttribute("aria-valuetext", label + " = " + values[i]);
      box.dataset.shown = String(i);
    }
    input.addEventListener("input", function () { show(Number(input.value)); });
    input.disabled = false;
    show(Number(input.value));
  }
  function init() { document.querySelectorAll(".tp-scrub").forEach(wire); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
