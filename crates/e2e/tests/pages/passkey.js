'use strict';
// Creates a passkey (discoverable, user verification required), then signs in with it, and
// writes what happened into the page. The signatures are not checked here.

const show = (id, text) => {
  document.getElementById(id).textContent = text;
};
const random = (n) => crypto.getRandomValues(new Uint8Array(n));

async function createAndSignIn() {
  const name = document.getElementById('name').value;
  const created = await navigator.credentials.create({
    publicKey: {
      rp: { name: 'healthcode' },
      user: { id: random(16), name, displayName: name },
      challenge: random(32),
      pubKeyCredParams: [
        { type: 'public-key', alg: -7 },
        { type: 'public-key', alg: -8 },
      ],
      authenticatorSelection: {
        residentKey: 'required',
        requireResidentKey: true,
        userVerification: 'required',
      },
      timeout: 20000,
    },
  });
  show('created', 'Created ' + created.id);

  const signed = await navigator.credentials.get({
    publicKey: {
      challenge: random(32),
      allowCredentials: [{ type: 'public-key', id: created.rawId }],
      userVerification: 'required',
      timeout: 20000,
    },
  });
  // Authenticator data: the RP ID hash (32 bytes), then the flags: UP 0x01, UV 0x04.
  const flags = new Uint8Array(signed.response.authenticatorData)[32];
  const verified = (flags & 0x05) === 0x05;
  if (signed.id !== created.id) {
    show('outcome', 'Signed in with another passkey');
  } else {
    show('outcome', verified ? 'Signed in, verified' : 'Signed in, not verified');
  }
}

document.getElementById('register').addEventListener('click', () => {
  createAndSignIn().catch((e) => show('outcome', 'Failed: ' + e.name + ': ' + e.message));
});
