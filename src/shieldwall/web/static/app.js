// shieldwall web console: small progressive enhancements. Every page works without it.
"use strict";

// Upload forms marked data-upload-progress show the upload's progress, then the report.
function enhanceUpload(form) {
  const box = document.getElementById(form.dataset.uploadProgress);
  if (!box || !window.XMLHttpRequest || !window.FormData) return;
  const bar = box.querySelector("progress");
  const label = box.querySelector(".progress-label");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const request = new XMLHttpRequest();
    request.open(form.method, form.action);
    box.hidden = false;
    form.querySelector("button[type=submit]").disabled = true;
    request.upload.addEventListener("progress", (progress) => {
      if (progress.lengthComputable) {
        bar.value = Math.round((100 * progress.loaded) / progress.total);
      }
    });
    request.upload.addEventListener("load", () => {
      label.textContent = "Importing… (the whole file is one transaction)";
      bar.removeAttribute("value"); // indeterminate while the node imports
    });
    request.addEventListener("load", () => {
      const page = new DOMParser().parseFromString(request.responseText, "text/html");
      document.title = page.title;
      document.body.replaceWith(document.adoptNode(page.body));
      const main = document.getElementById("main");
      if (main) main.focus();
    });
    request.addEventListener("error", () => {
      label.textContent = "The upload failed: the node could not be reached.";
      form.querySelector("button[type=submit]").disabled = false;
    });
    request.send(new FormData(form));
  });
}

function selectOnFocus(input) {
  input.addEventListener("focus", () => input.select());
}

document.querySelectorAll("form[data-upload-progress]").forEach(enhanceUpload);
document.querySelectorAll("[data-select-on-focus]").forEach(selectOnFocus);
