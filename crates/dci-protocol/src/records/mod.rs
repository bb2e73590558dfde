//! Registry records: the CRVS person, the IBR beneficiary and the two
//! disability-registry shapes, each read tolerantly, with the normalised views
//! the engine's metrics are derived from.

mod crvs;
mod dr;
mod ibr;
mod identifier;

pub use crvs::{CrvsPerson, PersonName, Place, Sex};
pub use dr::{
    DISABILITY_STATUS_CODES, DisabilityFacts, DisabilityRecord, FunctionalLimitation, IMPAIRMENT_LEVEL_CODES,
    IMPAIRMENT_TYPE_CODES, LIMITATION_TYPES, LimitationType, PwdDetail, SEVERITY_CODES, SUPPORT_LEVEL_CODES,
};
pub use ibr::{Benefit, BenefitType, Enrolment, EnrolmentStatus, IbrBeneficiary, IbrMember, Programme, Standing};
pub use identifier::{Identified, Identifier, identifier_list};

mod reading;
mod tables;
pub use reading::Reading;
pub use tables::{Code, CodeTable, code_tables};
