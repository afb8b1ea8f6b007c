// The gate's scanner page (/gate) and its enrolment page (/gate/enrol#TOKEN).
//
// The scanner decides in the page: a native code is verified by verify.js against the trust
// lists the page keeps (the region's signed list, checked against the root it first received,
// and the lists of regions the server imported), the venue's entry policy is applied by
// HealthcodeVerify.decide, and PASS or STOP fills the screen. Each check-in is queued in
// IndexedDB with its own sequence number before it is sent, and the queue is uploaded through
// POST /gate/checkins (idempotent by sequence number) whenever the server answers, so a
// reload, a closed tab or a day offline loses none. Paper passes and document look-ups need
// the server. Texts come from the page (data-*), in its language.
"use strict";

(function () {
  const page = document.body && document.body.dataset.page;
  const csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  async function postJson(url, body) {
    const res = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json", "x-csrf-token": csrf },
      body: JSON.stringify(body),
    });
    const data = await res.json().catch(() => ({}));
    return { status: res.status, ok: res.ok, data };
  }

  if (page === "gate-enrol") {
    enrol();
    return;
  }
  if (page !== "gate") return;

  // ---- Enrolment: the token is in the fragment, never in a request line --------------------
  async function enrol() {
    const status = document.getElementById("enrol-status");
    const token = location.hash.replace(/^#/, "").replace(/^t=/, "");
    history.replaceState(null, "", location.pathname);
    if (!token) {
      status.textContent = status.dataset.noToken;
      return;
    }
    try {
      const res = await postJson("/gate/enrol", { token });
      if (res.ok) {
        status.textContent = status.dataset.enrolled;
        location.replace(res.data.next || "/gate");
        return;
      }
    } catch (e) {
      // Falls through to the message.
    }
    status.textContent = status.dataset.failed;
  }

  // ---- The scanner ---------------------------------------------------------------------------
  const T = document.body.dataset;
  const lang = T.lang === "en" ? "en" : "zh";
  /// How long a result stays on screen unless the next scan replaces it.
  const SHOW_MS = 2000;
  /// A scanner's keystrokes come within milliseconds; a read with no Enter after this long is
  /// half a code and is dropped.
  const WEDGE_TIMEOUT_MS = 800;
  /// The same person scanned again within this long is one check-in.
  const SAME_PERSON_MS = 10000;
  /// Upload at most this many check-ins per request (the server's limit).
  const UPLOAD_BATCH = 10000;
  const RETRY_MS = 5000;
  const REFRESH_MS = 5 * 60 * 1000;

  const el = (id) => document.getElementById(id);
  const input = el("scan-input");
  const result = el("result");
  const verdict = el("result-verdict");
  const who = el("result-name");
  const reasonsList = el("result-reasons");
  const againNote = el("result-again");
  const warning = el("gate-warning");
  const net = el("gate-net");

  let db = null;
  let config = null; // { config, list, fetchedAt, offsetMs }
  let verifier = null;
  let online = navigator.onLine;
  let revoked = false;
  let rootProblem = false;
  let uploading = false;
  let hideTimer = null;
  let wedgeTimer = null;
  const recent = new Map(); // subject → { at, shown }

  // ---- IndexedDB -------------------------------------------------------------------------
  function openDb() {
    return new Promise((resolve, reject) => {
      const req = indexedDB.open("healthcode-gate", 1);
      req.onupgradeneeded = () => {
        req.result.createObjectStore("kv");
        req.result.createObjectStore("queue", { keyPath: "seq" });
      };
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  }

  /// Runs `work(stores)` in one transaction and resolves with its result once committed.
  function txn(names, mode, work) {
    return new Promise((resolve, reject) => {
      const t = db.transaction(names, mode);
      const stores = names.map((n) => t.objectStore(n));
      let out;
      Promise.resolve(work(...stores)).then((v) => {
        out = v;
      }, reject);
      t.oncomplete = () => resolve(out);
      t.onerror = () => reject(t.error);
      t.onabort = () => reject(t.error);
    });
  }

  const req = (r) =>
    new Promise((resolve, reject) => {
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });

  const kvGet = (key) => txn(["kv"], "readonly", (kv) => req(kv.get(key)));
  const kvPut = (key, value) => txn(["kv"], "readwrite", (kv) => req(kv.put(value, key)));

  // ---- Time: the device's clock corrected by the server's, as of the last configuration -----
  function nowMs() {
    return Date.now() + (config ? config.offsetMs : 0);
  }

  function today() {
    const d = new Date(nowMs());
    return d.getFullYear() + "-" + (d.getMonth() + 1) + "-" + d.getDate();
  }

  // ---- Configuration ---------------------------------------------------------------------
  async function useConfig(kept) {
    config = kept;
    const lists = [kept.list].concat(kept.config.other_regions || []);
    verifier = HealthcodeVerify.verifier(lists);
    el("gate-venue").textContent = kept.config.venue.name;
    el("gate-device").textContent = kept.config.device.name;
    showWarning();
  }

  async function refreshConfig() {
    let res;
    try {
      res = await fetch("/gate/config", { credentials: "same-origin", cache: "no-store" });
    } catch (e) {
      setOnline(false);
      return;
    }
    setOnline(true);
    if (res.status === 401) {
      revoked = true;
      showWarning();
      return;
    }
    if (!res.ok) return;
    const fresh = await res.json();
    revoked = false;
    const pinned = await kvGet("root");
    const read = await HealthcodeVerify.readTrustList(JSON.stringify(fresh.trust_list), pinned || null);
    if (!read.ok) {
      rootProblem = true;
      showWarning();
      return;
    }
    rootProblem = false;
    if (!pinned) await kvPut("root", read.list.root_public_key);
    // The device's clock, corrected by the server's as of now (not at all if unreadable).
    const offset = Date.parse(fresh.server_time) - Date.now();
    const kept = {
      config: fresh,
      list: read.list,
      fetchedAt: Date.now(),
      offsetMs: Number.isFinite(offset) ? offset : 0,
    };
    await kvPut("config", kept);
    await useConfig(kept);
  }

  /// "ok", "stale" (past its next update: warn) or "expired" (past the grace: stop everyone).
  function trustState() {
    if (!config) return "missing";
    const now = nowMs() / 1000;
    const next = Number(config.list.next_update);
    if (now > next + (config.config.trust_list_grace_hours || 0) * 3600) return "expired";
    if (now > next) return "stale";
    return "ok";
  }

  function showWarning() {
    const trust = trustState();
    let text = "";
    if (revoked) text = T.wRevoked;
    else if (trust === "expired") text = T.wExpired;
    else if (rootProblem) text = T.wRoot;
    else if (trust === "stale") text = T.wStale;
    else if (!online) text = T.wOffline;
    warning.textContent = text;
    warning.hidden = !text;
    warning.dataset.state = revoked ? "revoked" : trust;
  }

  function setOnline(now) {
    if (online === now && net.dataset.state) return;
    online = now;
    net.textContent = now ? T.tOnline : T.tOffline;
    net.dataset.state = now ? "online" : "offline";
    showWarning();
  }

  // ---- Counters --------------------------------------------------------------------------
  let counts = { day: "", pass: 0, stop: 0 };

  async function loadCounts() {
    const kept = await kvGet("counts");
    counts = kept && kept.day === today() ? kept : { day: today(), pass: 0, stop: 0 };
    paintCounts();
  }

  function count(pass) {
    if (counts.day !== today()) counts = { day: today(), pass: 0, stop: 0 };
    if (pass) counts.pass += 1;
    else counts.stop += 1;
    paintCounts();
    kvPut("counts", counts).catch(() => {});
  }

  function paintCounts() {
    el("count-pass").textContent = String(counts.pass);
    el("count-stop").textContent = String(counts.stop);
  }

  async function paintQueue() {
    const n = await txn(["queue"], "readonly", (q) => req(q.count()));
    el("count-queue").textContent = String(n);
  }

  // ---- The queue and its upload ----------------------------------------------------------
  /// Queues one check-in under a sequence number never used before on this device: above the
  /// last one, and above the clock in microseconds, so that even a browser whose storage was
  /// cleared does not reuse a number the server already holds.
  async function enqueue(row) {
    await txn(["kv", "queue"], "readwrite", async (kv, q) => {
      const last = (await req(kv.get("seq"))) || 0;
      const seq = Math.max(last + 1, Date.now() * 1000);
      kv.put(seq, "seq");
      q.put(Object.assign({ seq }, row));
    });
    paintQueue();
    upload();
  }

  async function upload() {
    if (uploading || revoked) return;
    uploading = true;
    try {
      for (;;) {
        const rows = await txn(["queue"], "readonly", (q) => req(q.getAll(null, UPLOAD_BATCH)));
        if (!rows.length) break;
        let res;
        try {
          res = await postJson("/gate/checkins", {
            checkins: rows.map((r) => ({
              seq: r.seq,
              subject: r.subject,
              at: r.at,
              passed: r.passed,
              method: r.method,
            })),
          });
        } catch (e) {
          setOnline(false);
          break;
        }
        setOnline(true);
        if (res.status === 401) {
          revoked = true;
          showWarning();
          break;
        }
        if (!res.ok) break;
        // Stored, already stored, or refused for good: none of them is sent again.
        const sent = rows.map((r) => r.seq);
        await txn(["queue"], "readwrite", (q) => sent.forEach((s) => q.delete(s)));
        await paintQueue();
      }
    } finally {
      uploading = false;
    }
  }

  // ---- Showing a decision ----------------------------------------------------------------
  let audio = null;

  function sound(pass) {
    result.dataset.sound = pass ? "pass" : "stop";
    try {
      audio = audio || new AudioContext();
      const start = audio.currentTime;
      // PASS: one short high tone. STOP: two low buzzes.
      const tones = pass ? [[0, 0.12, 1568]] : [[0, 0.18, 330], [0.26, 0.18, 330]];
      for (const [at, length, freq] of tones) {
        const osc = audio.createOscillator();
        const gain = audio.createGain();
        osc.type = pass ? "sine" : "square";
        osc.frequency.value = freq;
        gain.gain.value = 0.2;
        osc.connect(gain).connect(audio.destination);
        osc.start(start + at);
        osc.stop(start + at + length);
      }
    } catch (e) {
      // No audio device: the screen says it.
    }
  }

  /// Fills the screen with `shown` = { pass, name, reasons: [text] } and records how long the
  /// scan took to reach the screen (data-ms, from the Enter key to the frame painted).
  function show(shown, startedAt, again) {
    result.hidden = false;
    result.className = "gate-result " + (shown.pass ? "pass" : "stop");
    result.dataset.verdict = shown.pass ? "PASS" : "STOP";
    verdict.textContent = shown.pass ? T.tPass : T.tStop;
    who.textContent = shown.name || "";
    reasonsList.replaceChildren(
      ...shown.reasons.map((r) => {
        const li = document.createElement("li");
        li.textContent = r;
        return li;
      }),
    );
    againNote.hidden = !again;
    if (!again) sound(shown.pass);
    if (hideTimer) clearTimeout(hideTimer);
    hideTimer = setTimeout(() => {
      result.hidden = true;
      delete result.dataset.verdict;
    }, SHOW_MS);
    requestAnimationFrame(() =>
      requestAnimationFrame(() => {
        result.dataset.ms = (performance.now() - startedAt).toFixed(2);
        result.dataset.shown = String((Number(result.dataset.shown) || 0) + 1);
      }),
    );
  }

  const stop = (text) => ({ pass: false, name: "", reasons: [text] });

  /// The refusal of verify.js as a few words.
  function refusalText(code) {
    if (code === "expired") return T.rExpired;
    if (code === "not_yet_valid") return T.rNotYetValid;
    return T.rInvalid + " (" + code + ")";
  }

  function reasonTexts(reasons) {
    return reasons.map((r) => (lang === "en" ? r.en : r.zh));
  }

  /// A server answer (GateAnswer) or its error, as shown.
  function fromServer(res) {
    if (res.ok) {
      const d = res.data;
      return { pass: !!d.pass, name: d.masked_name || "", reasons: reasonTexts(d.reasons || []) };
    }
    const code = (res.data.error && res.data.error.code) || "";
    if (res.status === 429) return stop(T.rBusy);
    if (code === "not_registered") return stop(T.rNotRegistered);
    if (code === "pass_revoked") return stop(T.rPassRevoked);
    if (code.startsWith("pass_")) return stop(T.rPassInvalid);
    if (code.startsWith("document_") || code === "invalid_document") return stop(T.rDocument);
    return stop(T.rFailed);
  }

  async function online_(url, body, startedAt) {
    let res;
    try {
      res = await postJson(url, body);
    } catch (e) {
      setOnline(false);
      show(stop(T.rNeedsNetwork), startedAt);
      return;
    }
    setOnline(true);
    if (res.status === 401) {
      revoked = true;
      showWarning();
    }
    const shown = fromServer(res);
    count(shown.pass);
    show(shown, startedAt);
  }

  async function decide(raw, startedAt) {
    const text = raw.trim();
    if (!text) return;
    if (text.startsWith("HCZ1:")) {
      await online_("/gate/pass", { pass: text }, startedAt);
      return;
    }
    if (!verifier) {
      show(stop(T.rNotReady), startedAt);
      return;
    }
    const now = nowMs();
    const checked = await verifier.verify(text, new Date(now));
    if (!checked.valid) {
      let shown;
      if (checked.format === "eu-dcc" || checked.format === "shc") shown = stop(T.rForeign);
      else if (checked.format === null) shown = stop(T.rNotCode);
      else shown = stop(refusalText(checked.code));
      count(false);
      show(shown, startedAt);
      return;
    }
    const claims = checked.claims;
    const seen = recent.get(claims.subject);
    if (seen && now - seen.at < SAME_PERSON_MS) {
      show(seen.shown, startedAt, true);
      return;
    }
    let shown;
    let passed;
    if (trustState() === "expired") {
      shown = stop(T.rTrustExpired);
      shown.name = claims.masked_name;
      passed = false;
    } else {
      const d = HealthcodeVerify.decide(config.config.entry_policy, claims);
      shown = { pass: d.pass, name: claims.masked_name, reasons: reasonTexts(d.reasons) };
      passed = d.pass;
    }
    recent.set(claims.subject, { at: now, shown });
    for (const [s, v] of recent) if (now - v.at >= SAME_PERSON_MS) recent.delete(s);
    count(passed);
    show(shown, startedAt);
    // A visitor from another region has no record here to attach a visit to.
    if (claims.region === config.config.region) {
      await enqueue({
        subject: claims.subject,
        at: new Date(Math.floor(now / 1000) * 1000).toISOString(),
        passed,
        method: "gate",
      });
    }
  }

  // ---- Input: a keyboard-wedge scanner types the code and Enter into the focused field -------
  function keepFocus() {
    const form = el("id-form");
    if (form.hidden && document.activeElement !== input) input.focus({ preventScroll: true });
  }

  input.addEventListener("keydown", (e) => {
    if (e.key !== "Enter") return;
    e.preventDefault();
    const startedAt = performance.now();
    const text = input.value;
    input.value = "";
    if (wedgeTimer) clearTimeout(wedgeTimer);
    decide(text, startedAt);
  });
  input.addEventListener("input", () => {
    if (wedgeTimer) clearTimeout(wedgeTimer);
    wedgeTimer = setTimeout(() => {
      input.value = "";
    }, WEDGE_TIMEOUT_MS);
  });
  input.addEventListener("blur", () => setTimeout(keepFocus, 300));
  result.addEventListener("click", () => {
    result.hidden = true;
    keepFocus();
  });

  // ---- The ID-card path (数字哨兵): online ----------------------------------------------------
  const idForm = el("id-form");
  el("id-open").addEventListener("click", () => {
    idForm.hidden = false;
    el("id-number").focus();
  });
  el("id-cancel").addEventListener("click", () => {
    idForm.hidden = true;
    keepFocus();
  });
  idForm.addEventListener("submit", (e) => {
    e.preventDefault();
    const startedAt = performance.now();
    const number = el("id-number");
    const body = { document_type: el("id-type").value, document_number: number.value.trim() };
    number.value = "";
    idForm.hidden = true;
    keepFocus();
    online_("/gate/lookup", body, startedAt);
  });

  // ---- The camera ----------------------------------------------------------------------------
  const video = el("camera-video");
  const canvas = el("camera-frame");
  const cameraStatus = el("camera-status");
  let stream = null;
  let camTimer = null;
  let camBusy = false;
  let camPauseUntil = 0;

  function cameraOff() {
    if (camTimer) clearInterval(camTimer);
    camTimer = null;
    if (stream) stream.getTracks().forEach((t) => t.stop());
    stream = null;
    video.srcObject = null;
    el("viewfinder").hidden = true;
    el("camera-stop").hidden = true;
    el("camera-start").hidden = false;
    keepFocus();
  }

  async function detector() {
    if (!("BarcodeDetector" in window)) return null;
    try {
      const formats = await window.BarcodeDetector.getSupportedFormats();
      return formats.includes("qr_code") ? new window.BarcodeDetector({ formats: ["qr_code"] }) : null;
    } catch (e) {
      return null;
    }
  }

  async function frameCodes() {
    const w = video.videoWidth;
    const h = video.videoHeight;
    if (!w || !h) return [];
    const scale = Math.min(1, 960 / w);
    canvas.width = Math.round(w * scale);
    canvas.height = Math.round(h * scale);
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    const blob = await new Promise((r) => canvas.toBlob(r, "image/jpeg", 0.9));
    if (!blob) return [];
    const res = await fetch("/gate/frame", {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "image/jpeg", "x-csrf-token": csrf },
      body: blob,
    });
    if (!res.ok) return [];
    const data = await res.json().catch(() => ({}));
    return data.codes || [];
  }

  async function cameraTick(found) {
    if (camBusy || !stream || performance.now() < camPauseUntil) return;
    camBusy = true;
    try {
      const codes = found ? (await found.detect(video)).map((c) => c.rawValue) : await frameCodes();
      if (codes.length) {
        const startedAt = performance.now();
        camPauseUntil = startedAt + SHOW_MS;
        await decide(codes[0], startedAt);
      }
    } catch (e) {
      // The next frame is tried.
    } finally {
      camBusy = false;
    }
  }

  el("camera-start").addEventListener("click", async () => {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      cameraStatus.textContent = T.cameraUnavailable;
      return;
    }
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        video: { facingMode: "environment" },
        audio: false,
      });
    } catch (e) {
      cameraStatus.textContent = T.cameraUnavailable;
      return;
    }
    cameraStatus.textContent = "";
    video.srcObject = stream;
    el("viewfinder").hidden = false;
    el("camera-start").hidden = true;
    el("camera-stop").hidden = false;
    try {
      await video.play();
    } catch (e) {
      // A muted inline video plays without a gesture; frames arrive regardless.
    }
    const found = await detector();
    // Without a detector each frame goes to the server: only while it answers.
    camTimer = setInterval(() => {
      if (found || online) cameraTick(found);
    }, found ? 200 : 600);
    keepFocus();
  });
  el("camera-stop").addEventListener("click", cameraOff);

  // ---- Start -------------------------------------------------------------------------------
  window.addEventListener("online", () => {
    setOnline(true);
    refreshConfig();
    upload();
  });
  window.addEventListener("offline", () => setOnline(false));

  async function start() {
    setOnline(navigator.onLine);
    db = await openDb();
    const kept = await kvGet("config");
    if (kept) await useConfig(kept);
    await loadCounts();
    await paintQueue();
    keepFocus();
    document.body.dataset.ready = "1";
    await refreshConfig();
    document.body.dataset.configured = config ? "1" : "0";
    upload();
    setInterval(() => {
      showWarning();
      upload();
    }, RETRY_MS);
    setInterval(refreshConfig, REFRESH_MS);
  }

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/gate/sw.js", { scope: "/gate" }).catch(() => {});
  }
  start();
})();
