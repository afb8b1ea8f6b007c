// The gate's offline verifier of native codes (`HCN1:`), a second implementation of
// docs/FORMAT.md §2–§6 for a page that must decide with no network. It mirrors the Rust
// verifier (crates/credential/src/verify.rs, through healthcode_verify::Trust::verify) and
// trust list reader (crates/credential/src/trust_list.rs) check for check and in the same
// order, so that the first refusal and its code are the same, and the door's rule of
// crates/domain/src/venue.rs; the test crates/e2e/tests/verifier_conformance.rs holds the two
// sides to that on the same codes, trust list files and doors.
//
// It exposes one global, HealthcodeVerify (docs/VERIFY.md, "The gate's offline verifier"):
//
//   const read = await HealthcodeVerify.readTrustList(fileText, pinnedRootHex);
//   // { ok: true, list: {...} } | { ok: false, code: "<TrustListError::code()>" }
//   const verifier = HealthcodeVerify.verifier(lists);
//   const result = await verifier.verify(text, now);
//   // { valid: true, format: "native", claims: {...} }
//   // { valid: false, format: "native" | null, code: "<refusal code of docs/VERIFY.md>" }
//   const { pass, reasons } = HealthcodeVerify.decide(entryPolicy, result.claims);
//
// `readTrustList` reads a trust list file (FORMAT.md §6.2) as TrustList::from_json does,
// root signature included (§6.3). `lists` are trust lists so read, by the page or by the
// server, in the JSON shape of the Rust `TrustList`: { region, sequence, keys: [{ kid,
// public_key, not_before, not_after, usage }] }, kid and public_key in hex, times as RFC 3339
// text or epoch seconds, usage as ["code"] (or wire numbers [1]). `now` is epoch seconds, a
// Date or RFC 3339 text: the caller's clock, never read here. `decide` is the door's rule,
// EntryPolicy::decide, with the reasons in the server's words.
//
// Text of another format (`HC1:`, `shc:/`) is not decided offline: the result is
// { valid: false, format: "eu-dcc" | "shc", code: null } and the page asks the server.
"use strict";

(() => {
  const PREFIX = "HCN1:";
  /// healthcode_verify::trust::MAX_TEXT_LEN, in UTF-8 bytes.
  const MAX_TEXT_LEN = 64 * 1024;
  /// verify.rs CLOCK_SKEW and claims.rs MAX_LIFETIME, in milliseconds.
  const CLOCK_SKEW_MS = 60n * 1000n;
  const MAX_LIFETIME_MS = 24n * 3600n * 1000n;
  /// The last second chrono (the Rust side) can represent: +262142-12-31T23:59:59Z. A CBOR
  /// time beyond it is not "a time in range" and so a claims error there.
  const MAX_EPOCH_SECONDS = 8210266876799n;
  const I64_MAX = (1n << 63n) - 1n;
  /// The order of the Ed25519 group (RFC 8032 §5.1); a signature's S must be below it
  /// (§5.1.7 step 1).
  const GROUP_ORDER = (1n << 252n) + 27742317777372353535851937790883648493n;
  const SIGNATURE_LEN = 64;
  const KID_LEN = 8;
  const TAG_SIGN1 = 18n;
  const ALG_EDDSA = -8n;

  /// A refusal: stops the checks with a code of docs/VERIFY.md.
  class Refusal {
    constructor(code) {
      this.code = code;
    }
  }
  const refuse = (code) => {
    throw new Refusal(code);
  };

  // ---- base45, RFC 9285 §4.2 (FORMAT.md §2): strict ----

  const BASE45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

  function base45Decode(text) {
    const digit = (i) => {
      const c = text.charCodeAt(i);
      const v = c < 128 ? BASE45.indexOf(text[i]) : -1;
      if (v < 0) refuse("base45");
      return v;
    };
    const out = [];
    let i = 0;
    while (i < text.length) {
      const left = text.length - i;
      if (left === 1) {
        digit(i);
        refuse("base45"); // a dangling character
      } else if (left === 2) {
        const n = digit(i) + digit(i + 1) * 45;
        if (n > 0xff) refuse("base45");
        out.push(n);
        i += 2;
      } else {
        const n = digit(i) + digit(i + 1) * 45 + digit(i + 2) * 2025;
        if (n > 0xffff) refuse("base45");
        out.push(n >> 8, n & 0xff);
        i += 3;
      }
    }
    return Uint8Array.from(out);
  }

  // ---- CBOR, RFC 8949, the strict profile of FORMAT.md §3.1 ----
  // As the Rust Decoder (crates/credential/src/cbor.rs): a head is consumed before its major
  // type is compared, so after an "unexpected" item the reader stands where Rust's does.

  /// Not well-formed in the profile (Rust: CborError::Malformed).
  class Malformed {}
  /// Well-formed, but not the item expected here (Rust: CborError::Unexpected).
  class Unexpected {}

  const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

  class Decoder {
    constructor(bytes) {
      this.bytes = bytes;
      this.at = 0;
    }
    remaining() {
      return this.bytes.length - this.at;
    }
    isEmpty() {
      return this.at === this.bytes.length;
    }
    take(n) {
      if (n > this.remaining()) throw new Malformed();
      const out = this.bytes.subarray(this.at, this.at + n);
      this.at += n;
      return out;
    }
    argument(n) {
      let v = 0n;
      for (const b of this.take(n)) v = (v << 8n) | BigInt(b);
      return v;
    }
    /// [major, argument]: shortest forms only, no indefinite lengths, no reserved values.
    head() {
      const initial = this.take(1)[0];
      const major = initial >> 5;
      const info = initial & 0x1f;
      let arg;
      if (info < 24) {
        arg = BigInt(info);
      } else if (info <= 27) {
        const width = 1 << (info - 24);
        arg = this.argument(width);
        const floor = width === 1 ? 24n : 1n << BigInt(4 * width);
        if (arg < floor) throw new Malformed(); // not in shortest form
      } else {
        throw new Malformed(); // 28–30 reserved, 31 indefinite length
      }
      if (major === 7 && info === 24 && arg < 32n) throw new Malformed();
      return [major, arg];
    }
    expect(major) {
      const [m, arg] = this.head();
      if (m !== major) throw new Unexpected();
      return arg;
    }
    uint() {
      return this.expect(0);
    }
    int() {
      const [m, arg] = this.head();
      if (m === 0) return arg;
      if (m === 1) return -1n - arg;
      throw new Unexpected();
    }
    length(major) {
      const len = this.expect(major);
      if (len > BigInt(this.remaining())) throw new Malformed(); // truncated
      return Number(len);
    }
    byteString() {
      return this.take(this.length(2));
    }
    byteStringOf(n) {
      const b = this.byteString();
      if (b.length !== n) throw new Unexpected();
      return b;
    }
    text() {
      const raw = this.take(this.length(3));
      try {
        return UTF8.decode(raw);
      } catch (_) {
        throw new Malformed();
      }
    }
    array() {
      return this.length(4);
    }
    map() {
      return this.length(5);
    }
    tag() {
      return this.expect(6);
    }
    /// Consumes a `null` (0xf6) if one is next.
    null() {
      if (this.bytes[this.at] === 0xf6) {
        this.at += 1;
        return true;
      }
      return false;
    }
    /// A NumericDate without fractions (FORMAT.md §3.1), in milliseconds.
    epochTime() {
      const secs = this.uint();
      if (secs > I64_MAX || secs > MAX_EPOCH_SECONDS) throw new Unexpected();
      return secs * 1000n;
    }
  }

  /// Runs `read`, turning CBOR faults into refusals: malformed → `malformed`, unexpected →
  /// `unexpected` (as CoseError::structure does).
  function reading(read, malformed, unexpected) {
    try {
      return read();
    } catch (e) {
      if (e instanceof Malformed) refuse(malformed);
      if (e instanceof Unexpected) refuse(unexpected);
      throw e;
    }
  }

  // ---- COSE_Sign1, FORMAT.md §3.2 (crates/credential/src/cose.rs, native profile) ----

  function parseSign1(bytes) {
    const d = new Decoder(bytes);
    const tag = reading(() => d.tag(), "cbor", "tag");
    if (tag !== TAG_SIGN1) refuse("tag");
    const read = (f) => reading(f, "cbor", "cose");
    if (read(() => d.array()) !== 4) refuse("cose");
    const protectedBytes = read(() => d.byteString());
    if (read(() => d.map()) !== 0) refuse("cose"); // the unprotected header must be empty
    const payload = read(() => d.byteString());
    const signature = read(() => d.byteString());
    if (signature.length !== SIGNATURE_LEN) refuse("cose");
    if (!d.isEmpty()) refuse("trailing_bytes");
    const kid = parseProtected(protectedBytes);
    return { protectedBytes, payload, signature, kid };
  }

  /// `{1: -8, 4: kid}` in any order, each once, nothing else (FORMAT.md §3.2).
  function parseProtected(bytes) {
    if (bytes.length === 0) refuse("algorithm"); // an empty map: no alg
    const d = new Decoder(bytes);
    const read = (f) => reading(f, "cbor", "cose");
    const pairs = read(() => d.map());
    let alg = null;
    let kid = null;
    for (let i = 0; i < pairs; i++) {
      const label = read(() => d.int());
      if (label === 1n && alg === null) {
        // Any value but the integer -8, a text name included, is not EdDSA.
        try {
          alg = d.int() === ALG_EDDSA;
        } catch (e) {
          if (!(e instanceof Malformed || e instanceof Unexpected)) throw e;
          alg = false;
        }
      } else if (label === 4n && kid === null) {
        kid = read(() => d.byteStringOf(KID_LEN));
      } else {
        refuse("cose"); // a repeated label, or one the format does not use
      }
    }
    if (!d.isEmpty()) refuse("cose");
    if (alg === true && kid !== null) return kid;
    if (alg === true) refuse("missing_kid");
    return refuse("algorithm");
  }

  /// The Sig_structure of RFC 9052 §4.4 (FORMAT.md §3.3).
  function sigStructure(protectedBytes, payload) {
    const out = [0x84, 0x6a, ...new TextEncoder().encode("Signature1")];
    const bstr = (b) => {
      const n = b.length;
      if (n < 24) out.push(0x40 | n);
      else if (n < 0x100) out.push(0x58, n);
      else if (n < 0x10000) out.push(0x59, n >> 8, n & 0xff);
      else out.push(0x5a, n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff);
      out.push(...b);
    };
    bstr(protectedBytes);
    bstr(new Uint8Array(0));
    bstr(payload);
    return Uint8Array.from(out);
  }

  // ---- Claims, FORMAT.md §4 (crates/credential/src/claims.rs) ----

  function decodeClaims(payload) {
    const d = new Decoder(payload);
    const bad = () => refuse("claims");
    const once = (claims, name, value) => {
      if (name in claims) bad(); // a map key appears twice
      claims[name] = value;
    };
    const c = {};
    const s = {};
    try {
      const pairs = d.map();
      for (let i = 0; i < pairs; i++) {
        const key = d.int();
        if (key === 1n) once(c, "region", d.text());
        else if (key === 2n) once(c, "subject", hex(d.byteStringOf(16)));
        else if (key === 4n) once(c, "expires", d.epochTime());
        else if (key === 6n) once(c, "issued", d.epochTime());
        else if (key === -65537n) once(c, "status", decodeStatus(d, s, once, bad));
        else bad(); // unknown claim
      }
      if (!d.isEmpty()) bad();
    } catch (e) {
      if (e instanceof Malformed || e instanceof Unexpected) bad();
      throw e;
    }
    for (const name of ["status", "region", "subject", "issued", "expires"]) {
      if (!(name in c)) bad();
    }
    return {
      region: c.region,
      subject: c.subject,
      issuedMs: c.issued,
      expiresMs: c.expires,
      status: c.status,
    };
  }

  function decodeStatus(d, s, once, bad) {
    const pairs = d.map();
    const st = {};
    for (let i = 0; i < pairs; i++) {
      const key = d.uint();
      if (key === 1n) {
        const v = d.uint();
        if (v > 2n) bad(); // colours 0 green, 1 yellow, 2 red
        once(st, "colour", Number(v));
      } else if (key === 2n) {
        once(st, "reminders", decodeReminders(d, bad));
      } else if (key === 3n) {
        let v = null;
        if (!d.null()) {
          const days = d.uint();
          if (days > 0xffffffffn) bad();
          v = Number(days);
        }
        once(st, "test_recency_days", v);
      } else if (key === 4n) {
        const v = d.uint();
        if (v > 4n) bad();
        once(st, "vaccination", Number(v));
      } else if (key === 5n) {
        once(st, "masked_name", d.text());
      } else if (key === 6n) {
        once(st, "masked_document", d.text());
      } else if (key === 7n) {
        const v = d.uint();
        if (v < 1n || v > 5n) bad();
        once(st, "document_type", Number(v));
      } else if (key === 8n) {
        once(st, "valid_until", d.epochTime());
      } else {
        bad(); // unknown status key
      }
    }
    for (const name of [
      "colour",
      "reminders",
      "test_recency_days",
      "vaccination",
      "masked_name",
      "masked_document",
      "document_type",
      "valid_until",
    ]) {
      if (!(name in st)) bad();
    }
    return st;
  }

  /// Reminders 1–6, strictly ascending (FORMAT.md §4).
  function decodeReminders(d, bad) {
    const len = d.array();
    if (len > 6) bad();
    const out = [];
    for (let i = 0; i < len; i++) {
      const n = d.uint();
      if (n < 1n || n > 6n) bad();
      out.push(Number(n));
    }
    for (let i = 1; i < out.length; i++) if (out[i - 1] >= out[i]) bad();
    return out;
  }

  // ---- Keys and trust lists ----

  function hex(bytes) {
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function unhex(text) {
    if (typeof text !== "string" || !/^([0-9a-fA-F]{2})*$/.test(text)) return null;
    const out = new Uint8Array(text.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(text.substr(2 * i, 2), 16);
    return out;
  }

  /// Milliseconds since the epoch as a BigInt, from epoch seconds, a Date or RFC 3339 text.
  function instant(value) {
    if (typeof value === "bigint") return value * 1000n;
    if (typeof value === "number") return BigInt(Math.round(value * 1000));
    const ms = value instanceof Date ? value.getTime() : Date.parse(value);
    if (!Number.isFinite(ms)) throw new TypeError("not a time: " + value);
    return BigInt(ms);
  }

  /// The keys of the newest list of each region (highest sequence; the first given on a
  /// tie), by kid, as verify.rs Verifier::new builds them.
  function keysByKid(lists) {
    const newest = new Map();
    for (const list of Array.isArray(lists) ? lists : [lists]) {
      const seen = newest.get(list.region);
      if (!seen || BigInt(list.sequence || 0) > BigInt(seen.sequence || 0)) {
        newest.set(list.region, list);
      }
    }
    const byKid = new Map();
    for (const list of newest.values()) {
      for (const key of list.keys || []) {
        const kid = String(key.kid).toLowerCase();
        const entry = {
          region: list.region,
          notBeforeMs: instant(key.not_before),
          notAfterMs: instant(key.not_after),
          forCodes: (key.usage || []).some((u) => u === "code" || u === 1),
          publicKey: unhex(key.public_key),
          cryptoKey: undefined, // imported when first needed
        };
        if (!byKid.has(kid)) byKid.set(kid, []);
        byKid.get(kid).push(entry);
      }
    }
    return byKid;
  }

  // Ed25519 public keys (RFC 8032 §5.1.3): the verifier refuses, as the Rust one does
  // (ed25519-dalek's decompression and is_weak), bytes that are no point of the curve and
  // points of small order (FORMAT.md §3.3). WebCrypto need not refuse either on import.
  const P = (1n << 255n) - 19n;
  const mod = (a) => ((a % P) + P) % P;
  const pow = (b, e) => {
    let r = 1n;
    b = mod(b);
    for (; e > 0n; e >>= 1n, b = (b * b) % P) if (e & 1n) r = (r * b) % P;
    return r;
  };
  const inv = (a) => pow(a, P - 2n);
  const D = mod(-121665n * inv(121666n));
  const SQRT_M1 = pow(2n, (P - 1n) / 4n);

  /// The point 32 bytes encode, as [x, y] up to the sign of x (which small order does not
  /// depend on), or null when they are no point of the curve: what ed25519-dalek's
  /// VerifyingKey::from_bytes (CompressedEdwardsY::decompress) accepts.
  function decompress(bytes) {
    let y = 0n;
    for (let i = 31; i >= 0; i--) y = (y << 8n) | BigInt(i === 31 ? bytes[i] & 0x7f : bytes[i]);
    y = mod(y); // decompression reduces a y of p or more, as ed25519-dalek does
    const yy = (y * y) % P;
    const w = mod((yy - 1n) * inv(D * yy + 1n)); // x² = (y² − 1) / (d·y² + 1)
    let x = pow(w, (P + 3n) / 8n);
    if ((x * x) % P !== w) x = (x * SQRT_M1) % P;
    if ((x * x) % P !== w) return null; // no square root: not on the curve
    return [x, y];
  }

  /// Whether 32 bytes decode to a point not of small order (trust_list.rs usable_public_key).
  function usablePoint(bytes) {
    const point = decompress(bytes);
    if (point === null) return false;
    let [x, y] = point;
    // Small order: [8]P is the identity. Doubling with the complete addition law of
    // −x² + y² = 1 + d·x²·y².
    for (let i = 0; i < 3; i++) {
      const t = (D * x * x * y * y) % P;
      [x, y] = [mod(2n * x * y * inv(1n + t)), mod((y * y + x * x) * inv(1n - t))];
    }
    return !(x === 0n && y === 1n);
  }

  /// The WebCrypto key of an entry, or null when the bytes are no usable Ed25519 key.
  async function cryptoKeyOf(entry) {
    if (entry.cryptoKey === undefined) {
      entry.cryptoKey = null;
      if (entry.publicKey && entry.publicKey.length === 32 && usablePoint(entry.publicKey)) {
        try {
          entry.cryptoKey = await crypto.subtle.importKey(
            "raw",
            entry.publicKey,
            { name: "Ed25519" },
            false,
            ["verify"],
          );
        } catch (_) {
          entry.cryptoKey = null;
        }
      }
    }
    return entry.cryptoKey;
  }

  /// S of an Ed25519 signature (its second half, little-endian) is below the group order.
  function canonicalS(signature) {
    let s = 0n;
    for (let i = SIGNATURE_LEN - 1; i >= 32; i--) s = (s << 8n) | BigInt(signature[i]);
    return s < GROUP_ORDER;
  }

  // ---- Verification, FORMAT.md §5, in the order of verify.rs ----

  async function verifyWith(sign1, entry, nowMs) {
    const key = await cryptoKeyOf(entry);
    if (!key) refuse("key_not_valid");
    const message = sigStructure(sign1.protectedBytes, sign1.payload);
    const good =
      canonicalS(sign1.signature) &&
      (await crypto.subtle.verify({ name: "Ed25519" }, key, sign1.signature, message));
    if (!good) refuse("signature");
    const claims = decodeClaims(sign1.payload);
    // check_issue: the key may sign codes at iat, the region is the key's, iat not ahead.
    if (!entry.forCodes) refuse("key_not_valid");
    if (claims.issuedMs < entry.notBeforeMs || claims.issuedMs > entry.notAfterMs) {
      refuse("key_not_valid");
    }
    if (claims.region !== entry.region) refuse("region");
    if (claims.issuedMs - nowMs > CLOCK_SKEW_MS) refuse("not_yet_valid");
    if (claims.expiresMs <= nowMs) refuse("expired");
    // check_rules
    if (claims.expiresMs < claims.issuedMs) refuse("expires_before_issued");
    if (claims.expiresMs - claims.issuedMs > MAX_LIFETIME_MS) refuse("lifetime");
    if (claims.expiresMs > claims.status.valid_until) refuse("outlives_status");
    const st = claims.status;
    return {
      region: claims.region,
      subject: claims.subject,
      kid: hex(sign1.kid),
      issued_at: Number(claims.issuedMs / 1000n),
      expires_at: Number(claims.expiresMs / 1000n),
      colour: st.colour,
      reminders: st.reminders,
      test_recency_days: st.test_recency_days,
      vaccination: st.vaccination,
      masked_name: st.masked_name,
      masked_document: st.masked_document,
      document_type: st.document_type,
      status_valid_until: Number(st.valid_until / 1000n),
    };
  }

  /// White space as Rust's str::trim sees it (Unicode White_Space).
  const EDGE_SPACE =
    /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+|[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/g;

  /// The format of a trimmed text, as healthcode_verify::detect.
  function detect(text) {
    if (text.startsWith(PREFIX)) return "native";
    if (text.startsWith("HC1:")) return "eu-dcc";
    if (text.startsWith("shc:/")) return "shc";
    if (text.startsWith("{") && text.includes('"verifiableCredential"')) return "shc";
    return null;
  }

  function verifier(lists) {
    const byKid = keysByKid(lists);
    return {
      async verify(input, now) {
        const nowMs = instant(now);
        if (new TextEncoder().encode(input).length > MAX_TEXT_LEN) {
          return { valid: false, format: null, code: "too_long" };
        }
        const text = input.replace(EDGE_SPACE, "");
        const format = detect(text);
        if (format === null) return { valid: false, format: null, code: "unknown_format" };
        if (format !== "native") return { valid: false, format, code: null };
        try {
          const sign1 = parseSign1(base45Decode(text.slice(PREFIX.length)));
          const candidates = byKid.get(hex(sign1.kid));
          if (!candidates) refuse("unknown_key");
          // Each key listed under the kid in turn; the last refusal if none verifies.
          let refusal = null;
          for (const entry of candidates) {
            try {
              const claims = await verifyWith(sign1, entry, nowMs);
              return { valid: true, format, claims };
            } catch (e) {
              if (!(e instanceof Refusal)) throw e;
              refusal = e;
            }
          }
          throw refusal;
        } catch (e) {
          if (e instanceof Refusal) return { valid: false, format, code: e.code };
          throw e;
        }
      },
    };
  }

  // ---- Reading a trust list file, FORMAT.md §6 (crates/credential/src/trust_list.rs) ----
  // TrustList::from_json, step for step in the order of §6.3, with TrustListError::code()'s
  // codes. The page gets the same answer from the same file as `healthcode trust import`.

  const TRUST_LIST_FORMAT = "healthcode-trust-list";
  const TRUST_LIST_VERSION = 1n;
  const U64_MAX = (1n << 64n) - 1n;
  /// The members of the Rust `TrustListFile`, in the order of its fields.
  const FILE_MEMBERS = ["format", "version", "region", "cose"];

  /// Not the JSON the file must be (Rust: TrustListError::Json).
  class BadJson {}

  /// The file's four members, read as serde_json reads the Rust `TrustListFile`
  /// (`#[serde(deny_unknown_fields)]`): white space is space, tab, CR and LF; every member
  /// exactly once and no other; `format`, `region` and `cose` strings, `version` an integer of
  /// 0 to 2⁶⁴ − 1 written without fraction or exponent (serde_json reads `1.0`, `1e0`, `-0` or
  /// a larger integer as a float, and a float is no u64); strings without raw control
  /// characters, with paired surrogates only; nothing after the value; an object, never an
  /// array of the members (which serde alone would accept).
  function readFileMembers(text) {
    let at = 0;
    const bad = () => {
      throw new BadJson();
    };
    const ws = () => {
      while (at < text.length && " \t\n\r".includes(text[at])) at++;
    };
    const peek = () => {
      ws();
      return text[at];
    };
    const eat = (c) => {
      if (peek() !== c) bad();
      at++;
    };
    const ESCAPES = new Map([
      ['"', '"'],
      ["\\", "\\"],
      ["/", "/"],
      ["b", "\b"],
      ["f", "\f"],
      ["n", "\n"],
      ["r", "\r"],
      ["t", "\t"],
    ]);
    const hex4 = () => {
      const digits = text.substr(at, 4);
      if (!/^[0-9a-fA-F]{4}$/.test(digits)) bad();
      at += 4;
      return parseInt(digits, 16);
    };
    const string = () => {
      eat('"');
      let out = "";
      for (;;) {
        if (at >= text.length) bad(); // unterminated
        const c = text.charCodeAt(at++);
        if (c === 0x22) return out;
        if (c < 0x20) bad(); // a control character
        if (c >= 0xd800 && c <= 0xdfff) {
          // A Rust &str holds no lone surrogate: only a pair is text.
          const next = text.charCodeAt(at);
          if (c > 0xdbff || !(next >= 0xdc00 && next <= 0xdfff)) bad();
          out += String.fromCharCode(c, next);
          at++;
        } else if (c !== 0x5c) {
          out += String.fromCharCode(c);
        } else {
          const e = text[at++];
          if (ESCAPES.has(e)) {
            out += ESCAPES.get(e);
            continue;
          }
          if (e !== "u") bad();
          const n = hex4();
          if (n >= 0xdc00 && n <= 0xdfff) bad(); // a trailing surrogate first
          if (n >= 0xd800 && n <= 0xdbff) {
            if (text[at] !== "\\" || text[at + 1] !== "u") bad(); // a lone leading surrogate
            at += 2;
            const low = hex4();
            if (low < 0xdc00 || low > 0xdfff) bad();
            out += String.fromCharCode(n, low);
          } else {
            out += String.fromCharCode(n);
          }
        }
      }
    };
    const u64 = () => {
      ws();
      const first = at;
      while (at < text.length && text[at] >= "0" && text[at] <= "9") at++;
      const digits = text.slice(first, at);
      if (digits === "") bad(); // not a number, or a negative one
      if (digits.length > 1 && digits[0] === "0") bad(); // a leading zero
      if (at < text.length && ".eE".includes(text[at])) bad(); // a float
      const value = BigInt(digits);
      if (value > U64_MAX) bad(); // read as a float
      return value;
    };
    const value = (name) => (name === "version" ? u64() : string());
    const members = Object.create(null);
    const first = peek();
    at++;
    if (first === "{") {
      if (peek() !== "}") {
        for (;;) {
          const name = string();
          if (!FILE_MEMBERS.includes(name)) bad(); // unknown field
          if (name in members) bad(); // duplicate field
          eat(":");
          members[name] = value(name);
          const next = peek();
          at++;
          if (next === "}") break;
          if (next !== ",") bad();
        }
      } else {
        at++;
      }
      for (const name of FILE_MEMBERS) if (!(name in members)) bad(); // missing field
    } else {
      // FORMAT.md §6.3 step 1: a JSON object (an array of the members is refused, as the
      // Rust reader refuses it before serde would fill the struct from one).
      bad();
    }
    ws();
    if (at !== text.length) bad(); // trailing characters
    return members;
  }

  const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

  /// Standard base64 with canonical padding (RFC 4648 §4), as the base64 crate's STANDARD
  /// engine decodes it: length a multiple of four, `=` only as the last one or two
  /// characters, unused bits of the last symbol zero. Null when it is not.
  function base64Decode(text) {
    if (text.length % 4 !== 0) return null;
    const pad = text.endsWith("==") ? 2 : text.endsWith("=") ? 1 : 0;
    const out = [];
    let bits = 0;
    let count = 0;
    for (let i = 0; i < text.length - pad; i++) {
      const v = text.charCodeAt(i) < 128 ? BASE64.indexOf(text[i]) : -1;
      if (v < 0) return null; // outside the alphabet, `=` inside included
      bits = (bits << 6) | v;
      count += 6;
      if (count >= 8) {
        count -= 8;
        out.push((bits >> count) & 0xff);
        bits &= (1 << count) - 1;
      }
    }
    if (bits !== 0) return null; // the last symbol's unused bits
    return Uint8Array.from(out);
  }

  /// keys.rs kid_of: the first 8 bytes of SHA-256 over the public key.
  async function kidOf(publicKey) {
    return new Uint8Array(await crypto.subtle.digest("SHA-256", publicKey)).subarray(0, KID_LEN);
  }

  /// TrustList::from_cbor (and decode_keys): the signed map of §6.1, every member exactly once,
  /// no unknown keys, any order, nothing after it. Any fault is `payload`.
  function decodeTrustList(payload) {
    const d = new Decoder(payload);
    const bad = () => refuse("payload");
    const once = (into, name, value) => {
      if (name in into) bad(); // a map key appears twice
      into[name] = value;
    };
    const list = Object.create(null);
    try {
      const pairs = d.map();
      for (let i = 0; i < pairs; i++) {
        const key = d.uint();
        if (key === 1n) once(list, "version", d.uint());
        else if (key === 2n) once(list, "region", d.text());
        else if (key === 3n) once(list, "sequence", d.uint());
        else if (key === 4n) once(list, "issuedMs", d.epochTime());
        else if (key === 5n) once(list, "nextUpdateMs", d.epochTime());
        else if (key === 6n) once(list, "root", d.byteStringOf(32));
        else if (key === 7n) once(list, "keys", decodeKeys(d, once, bad));
        else if (key === 8n) once(list, "log", d.text()); // the log's verifier key
        else bad(); // unknown list key
      }
      if (!d.isEmpty()) bad();
    } catch (e) {
      if (e instanceof Malformed || e instanceof Unexpected) bad();
      throw e;
    }
    if (!("version" in list) || list.version !== TRUST_LIST_VERSION) bad();
    for (const name of ["region", "sequence", "issuedMs", "nextUpdateMs", "root", "keys"]) {
      if (!(name in list)) bad();
    }
    // trust_list.rs check: a note verifier key, <origin>+<key id>+<key>.
    if ("log" in list) {
      const log = list.log;
      const bytes = new TextEncoder().encode(log).length;
      const parts = log.split("+");
      const shaped =
        parts.length >= 3 &&
        parts[0] !== "" &&
        /^[0-9a-fA-F]{8}$/.test(parts[1]) &&
        parts.slice(2).join("+") !== "";
      if (bytes > 512 || !shaped || /[\s\p{Cc}]/u.test(log)) bad();
    }
    return list;
  }

  /// trust_list.rs decode_keys.
  function decodeKeys(d, once, bad) {
    const count = d.array();
    const keys = [];
    for (let i = 0; i < count; i++) {
      const pairs = d.map();
      const key = Object.create(null);
      for (let j = 0; j < pairs; j++) {
        const member = d.uint();
        if (member === 1n) once(key, "kid", d.byteStringOf(KID_LEN));
        else if (member === 2n) once(key, "publicKey", d.byteStringOf(32));
        else if (member === 3n) once(key, "notBeforeMs", d.epochTime());
        else if (member === 4n) once(key, "notAfterMs", d.epochTime());
        else if (member === 5n) {
          const n = d.array();
          const usage = [];
          for (let u = 0; u < n; u++) {
            const number = d.uint();
            if (number !== 1n && number !== 2n) bad(); // KeyUsage::from_number
            usage.push(Number(number));
          }
          once(key, "usage", usage);
        } else {
          bad(); // unknown key entry member
        }
      }
      for (const name of ["kid", "publicKey", "notBeforeMs", "notAfterMs", "usage"]) {
        if (!(name in key)) bad();
      }
      keys.push(key);
    }
    return keys;
  }

  /// TrustList::check: the rules every list obeys, checked once its signature verified.
  async function checkTrustList(list) {
    const bad = () => refuse("payload");
    if (list.region === "") bad();
    if (list.nextUpdateMs <= list.issuedMs) bad();
    if (!usablePoint(list.root)) bad();
    const root = hex(list.root);
    const kids = new Set();
    for (const key of list.keys) {
      const kid = hex(key.kid);
      if (kid !== hex(await kidOf(key.publicKey))) bad(); // kid not derived from the key
      if (kids.has(kid)) bad(); // a kid appears twice
      kids.add(kid);
      if (hex(key.publicKey) === root) bad(); // the root listed as a signing key
      if (!usablePoint(key.publicKey)) bad();
      if (key.notAfterMs < key.notBeforeMs) bad();
      if (key.usage.length === 0) bad();
      for (let i = 1; i < key.usage.length; i++) {
        if (key.usage[i - 1] >= key.usage[i]) bad(); // usages in order, without repeats
      }
    }
  }

  /// The codes TrustList::from_json gives the faults Sign1::parse reports.
  const LIST_ENVELOPE_CODES = {
    cbor: "cbor",
    tag: "cose",
    cose: "cose",
    trailing_bytes: "cose",
    algorithm: "algorithm",
    missing_kid: "kid",
  };

  const USAGE_NAMES = { 1: "code", 2: "trust_list" };

  /// TrustList::from_json: the trust list file of §6.2 read as in §6.3, its signature
  /// verified with the root key in the signed map and, when `pinnedRootHex` is given (64 hex
  /// digits), that root compared with it first. Resolves to { ok: true, list } with `list`
  /// in the shape `verifier` takes, or { ok: false, code } with a code of
  /// TrustListError::code().
  async function readTrustList(fileText, pinnedRootHex) {
    if (typeof fileText !== "string") throw new TypeError("the trust list file must be text");
    let pinned = null;
    if (pinnedRootHex !== null && pinnedRootHex !== undefined) {
      pinned = unhex(pinnedRootHex);
      if (!pinned || pinned.length !== 32) {
        throw new TypeError("the pinned root must be 64 hex digits");
      }
    }
    try {
      // 1. The JSON object of §6.2.
      let file;
      try {
        file = readFileMembers(fileText);
      } catch (e) {
        if (e instanceof BadJson) refuse("json");
        throw e;
      }
      // 2. Format and version.
      if (file.format !== TRUST_LIST_FORMAT || file.version !== TRUST_LIST_VERSION) {
        refuse("format");
      }
      // 3. Base64.
      const bytes = base64Decode(file.cose);
      if (bytes === null) refuse("base64");
      // 4. The COSE_Sign1 (Sign1::parse), with the list's codes for its faults.
      let sign1;
      try {
        sign1 = parseSign1(bytes);
      } catch (e) {
        if (e instanceof Refusal) refuse(LIST_ENVELOPE_CODES[e.code]);
        throw e;
      }
      // 5. The signed map, read before the signature is checked: the root key travels
      // inside it. Nothing else of it is used until then.
      const list = decodeTrustList(sign1.payload);
      // 6. The kid is the embedded root's.
      if (hex(sign1.kid) !== hex(await kidOf(list.root))) refuse("kid");
      // 7. The pinned root.
      if (pinned && hex(pinned) !== hex(list.root)) refuse("root_mismatch");
      // 8. The signature, with the embedded root (VerifyingKey::from_bytes, then
      // Sign1::verify as verifyWith does for codes).
      if (decompress(list.root) === null) refuse("payload");
      let good = false;
      if (canonicalS(sign1.signature)) {
        const key = await crypto.subtle.importKey(
          "raw",
          list.root,
          { name: "Ed25519" },
          false,
          ["verify"],
        );
        const message = sigStructure(sign1.protectedBytes, sign1.payload);
        good = await crypto.subtle.verify({ name: "Ed25519" }, key, sign1.signature, message);
      }
      if (!good) refuse("signature");
      // 9. The rules of §6.1.
      await checkTrustList(list);
      // 10. The file's region is the signed one.
      if (file.region !== list.region) refuse("region");
      const seconds = (ms) => Number(ms / 1000n);
      return {
        ok: true,
        list: {
          region: list.region,
          // A number, or decimal text beyond what a number holds exactly.
          sequence:
            list.sequence <= BigInt(Number.MAX_SAFE_INTEGER)
              ? Number(list.sequence)
              : String(list.sequence),
          issued_at: seconds(list.issuedMs),
          next_update: seconds(list.nextUpdateMs),
          root_public_key: hex(list.root),
          keys: list.keys.map((key) => ({
            kid: hex(key.kid),
            public_key: hex(key.publicKey),
            not_before: seconds(key.notBeforeMs),
            not_after: seconds(key.notAfterMs),
            usage: key.usage.map((u) => USAGE_NAMES[u]),
          })),
        },
      };
    } catch (e) {
      if (e instanceof Refusal) return { ok: false, code: e.code };
      throw e;
    }
  }

  // ---- The door's rule: EntryPolicy::decide (crates/domain/src/venue.rs) ----
  // With each StopReason as the server shows it (crates/server/src/api/gate.rs,
  // Reason::from(&StopReason)): a code and the texts of StopReason::text_zh and text_en,
  // which read the labels below.

  /// Colour (crates/domain/src/status.rs) by wire code (FORMAT.md §4), in order of severity:
  /// serde name (and Colour::as_str), label_zh, label_en.
  const COLOURS = [
    { name: "green", zh: "未见异常", en: "No abnormality found" },
    { name: "yellow", zh: "居家观察", en: "Home observation" },
    { name: "red", zh: "集中观察", en: "Centralised observation" },
  ];
  /// ReminderKind by number; index 0 is no reminder.
  const REMINDERS = [
    null,
    {
      name: "case_county_stay",
      zh: "14天内有本土疫情县(市、区、旗)旅居史",
      en: "Stayed in a county with local cases within 14 days",
    },
    {
      name: "inbound_quarantine",
      zh: "入境人员集中隔离期满未满21天",
      en: "Inbound quarantine ended less than 21 days ago",
    },
    {
      name: "risk_link",
      zh: "与风险区域、场所或病例存在时空关联",
      en: "Time-and-place link to a risk area, venue or case",
    },
    {
      name: "arrival_untested",
      zh: "抵达后72小时内未进行核酸检测",
      en: "No test within 72 hours of arrival",
    },
    {
      name: "border_port_stay",
      zh: "14天内有陆地边境口岸城市旅居史",
      en: "Stayed near a land border port within 14 days",
    },
    {
      name: "symptoms_declared",
      zh: "自主申报有发热等症状，尚未进行核酸检测",
      en: "Declared symptoms, no PCR test since",
    },
  ];
  /// VaccinationState by wire code.
  const VACCINATION = [
    { name: "booster_complete", zh: "完成加强免疫", en: "Booster complete" },
    { name: "primary_complete", zh: "完成基础免疫", en: "Primary series complete" },
    { name: "primary_incomplete", zh: "未完成基础免疫", en: "Primary series incomplete" },
    { name: "not_suitable", zh: "不适宜接种", en: "Not suitable for vaccination" },
    { name: "no_record", zh: "未查询到接种信息", en: "No vaccination record found" },
  ];
  /// VaccinationRequirement by serde name: the states that meet it (met_by) and its texts.
  const REQUIREMENTS = new Map([
    [
      "primary_complete",
      { meets: [0, 1, 3], zh: "需完成基础免疫", en: "A complete primary vaccination" },
    ],
    ["booster_complete", { meets: [0, 3], zh: "需完成加强免疫", en: "A booster vaccination" }],
  ]);

  /// The index in `table` of a value given by wire code (as `verify` returns claims) or by
  /// serde name (as the server serialises an EntryPolicy). Anything else is a TypeError: a
  /// door never decides on a value it does not know.
  function indexIn(table, value, what) {
    if (typeof value === "number" && Number.isInteger(value) && table[value]) return value;
    if (typeof value === "string") {
      const i = table.findIndex((entry) => entry && entry.name === value);
      if (i >= 0) return i;
    }
    throw new TypeError(`not a ${what}: ${value}`);
  }

  /// A u32 or null (an Option<u32>; serde reads a missing member as None).
  function optionalCount(value, what) {
    if (value === null || value === undefined) return null;
    if (Number.isInteger(value) && value >= 0 && value <= 0xffffffff) return value;
    throw new TypeError(`not a ${what}: ${value}`);
  }

  /// EntryPolicy::decide. `entryPolicy` is the JSON of an EntryPolicy (GET
  /// /api/v1/gate/config's `entry_policy`), `claims` what `verify` returned as `claims` (or
  /// the same fields with serde names). Returns { pass, reasons: [{ code, zh, en }] }: every
  /// reason that applies, in the Rust order (colour, reminders, test, vaccination).
  function decide(entryPolicy, claims) {
    const maxColour = indexIn(COLOURS, entryPolicy.max_colour, "colour");
    const hours = optionalCount(entryPolicy.test_within_hours, "number of hours");
    let required = null;
    if (entryPolicy.vaccination !== null && entryPolicy.vaccination !== undefined) {
      required = REQUIREMENTS.get(entryPolicy.vaccination);
      if (!required) throw new TypeError(`not a requirement: ${entryPolicy.vaccination}`);
    }
    if (typeof entryPolicy.reminders_block !== "boolean") {
      throw new TypeError("reminders_block must be true or false");
    }
    const colour = indexIn(COLOURS, claims.colour, "colour");
    const reminders = Array.from(claims.reminders, (r) => indexIn(REMINDERS, r, "reminder"));
    const days = optionalCount(claims.test_recency_days, "test recency");
    const state = indexIn(VACCINATION, claims.vaccination, "vaccination state");

    const reasons = [];
    if (colour > maxColour) {
      const c = COLOURS[colour];
      reasons.push({
        code: "colour",
        zh: `健康码为${c.zh}`,
        en: `The code is ${c.name} (${c.en}); this venue admits ${COLOURS[maxColour].name} only`,
      });
    }
    if (entryPolicy.reminders_block) {
      for (const r of reminders) {
        reasons.push({
          code: "reminder",
          zh: `弹窗:${REMINDERS[r].zh}`,
          en: `A reminder is in force: ${REMINDERS[r].en}`,
        });
      }
    }
    if (hours !== null) {
      // Policy::recency_hours: d days stand for a test within (d + 1) × 24 hours (computed
      // exactly here, for any d a code may show).
      const recent = days !== null && (days + 1) * 24 <= hours;
      if (!recent) {
        reasons.push({
          code: "no_recent_test",
          zh:
            days !== null
              ? `需${hours}小时内核酸阴性证明(最近一次为${days}天前)`
              : `需${hours}小时内核酸阴性证明(无记录)`,
          en:
            days !== null
              ? `A negative test within ${hours} hours is required; the last was ${days} day(s) ago`
              : `A negative test within ${hours} hours is required; the code shows none`,
        });
      }
    }
    if (required && !required.meets.includes(state)) {
      reasons.push({
        code: "vaccination",
        zh: required.zh,
        en: `${required.en} is required; the code shows: ${VACCINATION[state].en}`,
      });
    }
    return { pass: reasons.length === 0, reasons };
  }

  window.HealthcodeVerify = Object.freeze({
    verifier,
    /// One-off: builds a verifier for `lists` and verifies `text` at `now`.
    verify: (text, lists, now) => verifier(lists).verify(text, now),
    readTrustList,
    decide,
  });
})();
