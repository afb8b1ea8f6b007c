//! The domain's errors. Each variant is one thing a person can correct.

use thiserror::Error;

/// Why a line of text (a name, district or address of a place) was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum LabelError {
    #[error("the text is shorter than allowed")]
    TooShort,
    #[error("the text is longer than allowed")]
    TooLong,
    #[error("the text holds a control or invisible character")]
    Invisible,
}

/// Why a document number was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum DocumentError {
    #[error("unknown document type")]
    UnknownType,
    #[error("the document number is empty")]
    Empty,
    #[error("the document number has the wrong length for its document type")]
    Length,
    #[error("the document number contains characters its document type does not use")]
    Characters,
    #[error("the document number does not start the way its document type requires")]
    Prefix,
    #[error("the document number's region code is not a province of China")]
    Region,
    #[error("the document number's birth date is not a real date")]
    BirthDate,
    #[error("the document number's check character is wrong (mistyped?)")]
    CheckDigit,
}

impl DocumentError {
    /// A stable machine-readable code.
    pub fn code(self) -> &'static str {
        match self {
            DocumentError::UnknownType => "document_type_unknown",
            DocumentError::Empty => "document_number_empty",
            DocumentError::Length => "document_number_length",
            DocumentError::Characters => "document_number_characters",
            DocumentError::Prefix => "document_number_prefix",
            DocumentError::Region => "document_number_region",
            DocumentError::BirthDate => "document_number_birth_date",
            DocumentError::CheckDigit => "document_number_check_digit",
        }
    }
}

/// Why a name or phone number was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum PersonError {
    #[error("the name is empty")]
    NameEmpty,
    #[error("the name is longer than 100 characters")]
    NameTooLong,
    #[error("the name may contain only letters, spaces and · - ' , .")]
    NameCharacters,
    #[error(
        "the phone number must be a mainland mobile number (11 digits) or +country code and number"
    )]
    Phone,
}

impl PersonError {
    pub fn code(self) -> &'static str {
        match self {
            PersonError::NameEmpty | PersonError::NameTooLong | PersonError::NameCharacters => {
                "name_invalid"
            }
            PersonError::Phone => "phone_invalid",
        }
    }
}

/// Why an item of evidence was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum EvidenceError {
    #[error("the result time is before the sample time")]
    ResultBeforeSample,
    #[error("the time is in the future")]
    InFuture,
    #[error("the end time is before the start time")]
    EndBeforeStart,
    #[error("the dose number must be between 1 and 10")]
    DoseNumber,
    #[error("the vaccine product code is not in the policy's vaccine table")]
    UnknownProduct,
    #[error("record_id must be 1 to 128 characters of letters, digits and . - _ :")]
    RecordId,
}

impl EvidenceError {
    pub fn code(self) -> &'static str {
        match self {
            EvidenceError::ResultBeforeSample => "result_before_sample",
            EvidenceError::InFuture => "time_in_future",
            EvidenceError::EndBeforeStart => "end_before_start",
            EvidenceError::DoseNumber => "dose_number_invalid",
            EvidenceError::UnknownProduct => "vaccine_product_unknown",
            EvidenceError::RecordId => "record_id_invalid",
        }
    }
}

/// Why a declaration (自主申报) was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum DeclarationError {
    #[error("name at least one symptom")]
    SymptomsEmpty,
    #[error(
        "a symptom must be one of fever, cough, sore_throat, loss_of_taste_or_smell, fatigue, shortness_of_breath, diarrhoea"
    )]
    SymptomUnknown,
    #[error("where you arrived from must be 1 to 40 visible characters")]
    From(LabelError),
    #[error("a time must be between 2019-12-01 and 2099-12-31")]
    TimeInvalid,
    #[error("the time is in the future")]
    InFuture,
}

impl DeclarationError {
    pub fn code(self) -> &'static str {
        match self {
            DeclarationError::SymptomsEmpty => "symptoms_empty",
            DeclarationError::SymptomUnknown => "symptom_unknown",
            DeclarationError::From(_) => "declaration_from_invalid",
            DeclarationError::TimeInvalid => "time_invalid",
            DeclarationError::InFuture => "time_in_future",
        }
    }
}

/// Why a policy document was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PolicyError {
    #[error("policy document is not valid TOML for a policy: {0}")]
    Syntax(String),
    #[error("policy document is inconsistent: {0}")]
    Invalid(String),
}
