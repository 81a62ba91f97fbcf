// The print button of the digest page (no inline script, so a strict content security policy holds).
document.querySelectorAll("[data-print]").forEach((b) => b.addEventListener("click", () => window.print()));
