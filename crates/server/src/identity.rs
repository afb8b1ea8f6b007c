//! Identity proofing: the step that binds a registration to a real person. Providers plug in
//! behind [`IdentityProvider`]: an in-person counter, an external eID over OpenID Connect.
//! This crate ships only [`DevelopmentProvider`], which believes what it is told and must never
//! be enabled for a real region; `healthcode serve` enables it only when asked to.

use async_trait::async_trait;

use healthcode_domain::{DocumentNumber, PersonName};

/// What a person claims at enrolment.
#[derive(Debug, Clone)]
pub struct Claim {
    pub document: DocumentNumber,
    pub name: PersonName,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error("identity proofing refused the claim: {0}")]
    Refused(String),
}

#[async_trait]
pub trait IdentityProvider: Send + Sync + 'static {
    /// A short name recorded with the enrolment (`development`, `counter`, `eid-oidc`, …).
    fn name(&self) -> &'static str;

    /// Confirms that the claim is about the person presenting it.
    async fn proof(&self, claim: &Claim) -> Result<(), IdentityError>;
}

/// Accepts every well-formed claim. For the demo and for tests only.
#[derive(Debug, Default)]
pub struct DevelopmentProvider;

#[async_trait]
impl IdentityProvider for DevelopmentProvider {
    fn name(&self) -> &'static str {
        "development"
    }

    async fn proof(&self, _claim: &Claim) -> Result<(), IdentityError> {
        Ok(())
    }
}
