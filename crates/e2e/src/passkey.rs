//! Passkeys without a person: the DevTools virtual authenticator (CDP `WebAuthn` domain).
//!
//! The authenticator behaves as a phone's platform authenticator does: CTAP2 over the internal
//! transport, discoverable (resident) credentials, user verification that succeeds (its face
//! or fingerprint unlock), and presence given without a touch. `navigator.credentials.create`
//! and `.get` then run the whole WebAuthn ceremony, and the server sees real attestations and
//! assertions.

use anyhow::{Context, Result};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chromiumoxide::cdp::browser_protocol::web_authn::{
    AddVirtualAuthenticatorParams, AuthenticatorProtocol, AuthenticatorTransport,
    ClearCredentialsParams, Credential, EnableParams, GetCredentialsParams,
    RemoveVirtualAuthenticatorParams, SetUserVerifiedParams, VirtualAuthenticatorOptions,
};

pub use chromiumoxide::cdp::browser_protocol::web_authn::AuthenticatorId;

use crate::page::Page;

/// A credential the virtual authenticator holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passkey {
    /// The credential id (`PublicKeyCredential.rawId`).
    pub id: Vec<u8>,
    /// Whether it is discoverable (a resident key).
    pub resident: bool,
    pub rp_id: Option<String>,
    /// The `user.id` it was created for.
    pub user_handle: Option<Vec<u8>>,
    pub user_name: Option<String>,
    /// How many assertions it has signed.
    pub sign_count: i64,
}

impl Page {
    /// Adds a virtual authenticator to this tab (one per tab is enough), which from now on
    /// answers the page's passkey requests.
    pub async fn add_virtual_authenticator(&self) -> Result<AuthenticatorId> {
        let page = self.cdp();
        page.execute(EnableParams::default())
            .await
            .context("enabling WebAuthn in the tab")?;
        let options = VirtualAuthenticatorOptions {
            protocol: AuthenticatorProtocol::Ctap2,
            transport: AuthenticatorTransport::Internal,
            has_resident_key: Some(true),
            has_user_verification: Some(true),
            is_user_verified: Some(true),
            automatic_presence_simulation: Some(true),
            ..VirtualAuthenticatorOptions::new(
                AuthenticatorProtocol::Ctap2,
                AuthenticatorTransport::Internal,
            )
        };
        let added = page
            .execute(AddVirtualAuthenticatorParams::new(options))
            .await
            .context("adding a virtual authenticator")?;
        Ok(added.result.authenticator_id)
    }

    /// The credentials the authenticator holds.
    pub async fn credentials(&self, authenticator: &AuthenticatorId) -> Result<Vec<Passkey>> {
        let listed = self
            .cdp()
            .execute(GetCredentialsParams::new(authenticator.clone()))
            .await
            .context("listing the authenticator's credentials")?;
        listed.result.credentials.iter().map(passkey).collect()
    }

    /// Deletes every credential the authenticator holds, as a person removing their passkeys.
    pub async fn remove_credentials(&self, authenticator: &AuthenticatorId) -> Result<()> {
        self.cdp()
            .execute(ClearCredentialsParams::new(authenticator.clone()))
            .await
            .context("clearing the authenticator's credentials")?;
        Ok(())
    }

    /// Whether user verification (the face or fingerprint) succeeds from now on.
    pub async fn set_user_verified(
        &self,
        authenticator: &AuthenticatorId,
        verified: bool,
    ) -> Result<()> {
        self.cdp()
            .execute(SetUserVerifiedParams::new(authenticator.clone(), verified))
            .await
            .context("setting user verification")?;
        Ok(())
    }

    /// Removes the authenticator and its credentials from the tab.
    pub async fn remove_virtual_authenticator(
        &self,
        authenticator: &AuthenticatorId,
    ) -> Result<()> {
        self.cdp()
            .execute(RemoveVirtualAuthenticatorParams::new(authenticator.clone()))
            .await
            .context("removing the virtual authenticator")?;
        Ok(())
    }
}

fn passkey(credential: &Credential) -> Result<Passkey> {
    let decode = |b64: &str| STANDARD.decode(b64).context("a credential field in base64");
    Ok(Passkey {
        id: decode(credential.credential_id.as_ref())?,
        resident: credential.is_resident_credential,
        rp_id: credential.rp_id.clone(),
        user_handle: credential
            .user_handle
            .as_ref()
            .map(|h| decode(h.as_ref()))
            .transpose()?,
        user_name: credential.user_name.clone(),
        sign_count: credential.sign_count,
    })
}
