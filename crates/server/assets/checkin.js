// Checking in at a venue: read the place code (场所码) from the camera. Where the browser has
// a BarcodeDetector, it reads the code and the typed-code form sends the text; elsewhere a
// frame goes to the server every 700 ms (POST /checkin/frame), which reads it and checks in.
"use strict";

(function () {
  const start = document.getElementById("start-camera");
  if (!start) return;
  const stopButton = document.getElementById("stop-camera");
  const csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  const video = document.getElementById("camera-video");
  const canvas = document.getElementById("camera-frame");
  const viewfinder = document.getElementById("viewfinder");
  const status = document.getElementById("camera-status");
  const result = document.getElementById("checkin-result");
  const form = document.getElementById("checkin-form");
  const input = document.getElementById("place-code");
  const EVERY_MS = 700;
  // Frames are scaled down to this width: enough for a poster's QR, small to send.
  const MAX_WIDTH = 960;
  let stream = null;
  let timer = null;
  let busy = false;

  function say(text) {
    status.textContent = text || "";
  }

  function stop() {
    if (timer) clearInterval(timer);
    timer = null;
    if (stream) stream.getTracks().forEach((t) => t.stop());
    stream = null;
    video.srcObject = null;
    viewfinder.hidden = true;
    stopButton.hidden = true;
    start.hidden = false;
  }

  async function detectorFor() {
    if (!("BarcodeDetector" in window)) return null;
    try {
      const formats = await window.BarcodeDetector.getSupportedFormats();
      return formats.includes("qr_code") ? new window.BarcodeDetector({ formats: ["qr_code"] }) : null;
    } catch (e) {
      return null;
    }
  }

  function frameBlob() {
    const w = video.videoWidth;
    const h = video.videoHeight;
    if (!w || !h) return Promise.resolve(null);
    const scale = Math.min(1, MAX_WIDTH / w);
    canvas.width = Math.round(w * scale);
    canvas.height = Math.round(h * scale);
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    return new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.9));
  }

  async function sendFrame() {
    const blob = await frameBlob();
    if (!blob) return;
    const res = await fetch("/checkin/frame", {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "image/jpeg", "x-csrf-token": csrf },
      body: blob,
    });
    const data = await res.json().catch(() => ({}));
    if (res.ok && data.html) {
      stop();
      result.innerHTML = data.html;
      say("");
      result.scrollIntoView({ block: "start" });
      return;
    }
    if (res.status === 401) stop();
    const error = data.error || {};
    // "No code in view" is the ordinary case while aiming.
    say(error.code && error.code !== "no_place_code" ? error.message : status.dataset.looking);
  }

  async function tick(detector) {
    if (busy || !stream) return;
    busy = true;
    try {
      if (detector) {
        const found = await detector.detect(video);
        if (found.length) {
          stop();
          input.value = found[0].rawValue;
          form.submit();
        }
      } else {
        await sendFrame();
      }
    } catch (e) {
      say(status.dataset.looking);
    } finally {
      busy = false;
    }
  }

  async function begin() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      say(status.dataset.unavailable);
      return;
    }
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        video: { facingMode: "environment" },
        audio: false,
      });
    } catch (e) {
      say(status.dataset.unavailable);
      return;
    }
    video.srcObject = stream;
    viewfinder.hidden = false;
    start.hidden = true;
    stopButton.hidden = false;
    say(status.dataset.looking);
    try {
      await video.play();
    } catch (e) {
      // Muted inline video plays without a gesture; if not, frames still arrive.
    }
    const detector = await detectorFor();
    timer = setInterval(() => tick(detector), EVERY_MS);
  }

  start.addEventListener("click", begin);
  stopButton.addEventListener("click", () => {
    stop();
    say("");
  });
})();
