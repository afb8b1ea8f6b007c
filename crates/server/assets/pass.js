// The paper pass page: the print button opens the browser's print dialog. The sheet's paper
// size (A6 or A4) is the page's own (?size=), so what prints is what is shown.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const button = document.getElementById("print-pass");
  if (button) button.addEventListener("click", () => window.print());
});
