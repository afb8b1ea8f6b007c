//! Secrets the server hands out: provider API keys, gate device keys, resident session tokens
//! and metrics tokens. Each is 32 random bytes, base64url, behind a prefix that says what it
//! is; only its hash is stored.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;

pub const PROVIDER_KEY_PREFIX: &str = "hcp_";
pub const SESSION_TOKEN_PREFIX: &str = "hcs_";
pub const DEVICE_KEY_PREFIX: &str = "hcd_";
/// The prefix of a generated metrics token (`healthcode demo` makes one).
pub const METRICS_TOKEN_PREFIX: &str = "hcm_";

fn random_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

pub fn new_provider_key() -> String {
    random_secret(PROVIDER_KEY_PREFIX)
}

pub fn new_session_token() -> String {
    random_secret(SESSION_TOKEN_PREFIX)
}

pub fn new_device_key() -> String {
    random_secret(DEVICE_KEY_PREFIX)
}

/// A token for `GET /metrics` on the main listener.
pub fn new_metrics_token() -> String {
    random_secret(METRICS_TOKEN_PREFIX)
}
