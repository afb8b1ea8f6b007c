// healthcode pages: passkeys, the live code. No framework; each page's part runs only on it.
"use strict";

(function () {
  const csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  function b64urlToBuf(s) {
    const pad = "=".repeat((4 - (s.length % 4)) % 4);
    const bin = atob((s + pad).replace(/-/g, "+").replace(/_/g, "/"));
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }

  function bufToB64url(buf) {
    const bytes = new Uint8Array(buf);
    let bin = "";
    for (let i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  async function post(url, body) {
    const res = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json", "x-csrf-token": csrf },
      body: JSON.stringify(body || {}),
    });
    const data = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error((data.error && data.error.code) || String(res.status));
    return data;
  }

  function show(id) {
    const el = document.getElementById(id);
    if (el) el.hidden = false;
  }

  function hide(id) {
    const el = document.getElementById(id);
    if (el) el.hidden = true;
  }

  function supported() {
    return !!(window.PublicKeyCredential && navigator.credentials);
  }

  // Creating a passkey.
  async function createPasskey() {
    hide("passkey-failed");
    const start = await post("/passkeys/register/start");
    const pk = start.options.publicKey;
    pk.challenge = b64urlToBuf(pk.challenge);
    pk.user.id = b64urlToBuf(pk.user.id);
    (pk.excludeCredentials || []).forEach((c) => { c.id = b64urlToBuf(c.id); });
    const cred = await navigator.credentials.create({ publicKey: pk });
    await post("/passkeys/register/finish", {
      ceremony: start.ceremony,
      credential: {
        id: cred.id,
        rawId: bufToB64url(cred.rawId),
        type: cred.type,
        response: {
          attestationObject: bufToB64url(cred.response.attestationObject),
          clientDataJSON: bufToB64url(cred.response.clientDataJSON),
          transports: cred.response.getTransports ? cred.response.getTransports() : [],
        },
        extensions: cred.getClientExtensionResults(),
      },
    });
  }

  // Signing in with a passkey.
  async function signIn() {
    hide("signin-failed");
    const start = await post("/passkeys/signin/start");
    const pk = start.options.publicKey;
    pk.challenge = b64urlToBuf(pk.challenge);
    (pk.allowCredentials || []).forEach((c) => { c.id = b64urlToBuf(c.id); });
    const cred = await navigator.credentials.get({ publicKey: pk });
    const r = cred.response;
    const done = await post("/passkeys/signin/finish", {
      ceremony: start.ceremony,
      credential: {
        id: cred.id,
        rawId: bufToB64url(cred.rawId),
        type: cred.type,
        response: {
          authenticatorData: bufToB64url(r.authenticatorData),
          clientDataJSON: bufToB64url(r.clientDataJSON),
          signature: bufToB64url(r.signature),
          userHandle: r.userHandle ? bufToB64url(r.userHandle) : null,
        },
        extensions: cred.getClientExtensionResults(),
      },
    });
    const button = document.getElementById("signin-passkey");
    location.assign((button && button.dataset.next) || done.next || "/code");
  }

  // The live code page.
  function codePage() {
    let expiryTimer = null;
    let fetching = false;
    const first = document.getElementById("card");
    const cardUrl = (first && first.dataset.cardUrl) || "/code/card";
    const eventsUrl = (first && first.dataset.eventsUrl) || "/code/events";

    // The region's time, as every other time on the page ("sv-SE" writes 2026-05-01 12:00:00).
    let format = null;
    function tick() {
      const clock = document.getElementById("clock");
      if (!clock) return;
      if (!format) {
        try {
          format = new Intl.DateTimeFormat("sv-SE", {
            timeZone: clock.dataset.tz, year: "numeric", month: "2-digit", day: "2-digit",
            hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
          });
        } catch (e) {
          format = new Intl.DateTimeFormat("sv-SE", { dateStyle: "short", timeStyle: "medium" });
        }
      }
      clock.textContent = format.format(new Date());
    }

    function scheduleRefresh() {
      if (expiryTimer) clearTimeout(expiryTimer);
      const card = document.getElementById("card");
      const expires = card ? Date.parse(card.dataset.expires) : NaN;
      // A fresh code some seconds before this one expires.
      const wait = isNaN(expires) ? 30000 : Math.max(1000, expires - Date.now() - 15000);
      expiryTimer = setTimeout(refresh, wait);
    }

    async function refresh() {
      if (fetching) return;
      fetching = true;
      try {
        const res = await fetch(cardUrl, { credentials: "same-origin", cache: "no-store" });
        if (res.status === 401) { location.assign("/signin"); return; }
        if (res.ok) {
          const html = await res.text();
          const old = document.getElementById("card");
          if (old) { old.outerHTML = html; tick(); }
        }
      } catch (e) {
        // Offline: the stream's reconnection will ask again.
      } finally {
        fetching = false;
        scheduleRefresh();
      }
    }

    const live = document.getElementById("live");
    const liveText = document.getElementById("live-text");
    function online(on) {
      if (!live || !liveText) return;
      live.classList.toggle("offline", !on);
      liveText.textContent = on ? live.dataset.online : live.dataset.offline;
    }

    if (window.EventSource) {
      const events = new EventSource(eventsUrl);
      events.addEventListener("status", refresh);
      events.onopen = () => online(true);
      events.onerror = () => online(false);
    }

    // Keep the screen on while the code is shown.
    let lock = null;
    async function wake() {
      try {
        if (navigator.wakeLock && document.visibilityState === "visible") {
          lock = await navigator.wakeLock.request("screen");
        }
      } catch (e) {
        lock = null;
      }
    }
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") { wake(); refresh(); }
    });
    wake();

    tick();
    setInterval(tick, 1000);
    scheduleRefresh();
  }

  document.addEventListener("DOMContentLoaded", () => {
    const page = document.body.dataset.page;
    if (page === "passkey") {
      const button = document.getElementById("create-passkey");
      if (!supported()) { show("passkey-unsupported"); if (button) button.disabled = true; return; }
      button.addEventListener("click", async () => {
        button.disabled = true;
        try {
          await createPasskey();
          show("passkey-created");
          setTimeout(() => location.assign("/code"), 600);
        } catch (e) {
          show("passkey-failed");
          button.disabled = false;
        }
      });
    } else if (page === "signin") {
      const button = document.getElementById("signin-passkey");
      if (!supported()) { show("passkey-unsupported"); if (button) button.disabled = true; return; }
      button.addEventListener("click", async () => {
        button.disabled = true;
        try {
          await signIn();
        } catch (e) {
          show("signin-failed");
          button.disabled = false;
        }
      });
    } else if (page === "code") {
      codePage();
    }
  });
})();
