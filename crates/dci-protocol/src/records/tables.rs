//! The code tables behind the metrics, as users see them (`GET /v1/metrics`,
//! the catalog docs): for each enumerated record field, what may be written
//! and what it means. Built from the tables the readers use, never restated.

use serde::Serialize;

use super::dr::{
    DISABILITY_STATUS_CODES, IMPAIRMENT_LEVEL_CODES, IMPAIRMENT_TYPE_CODES, LimitationType, SEVERITY_CODES,
    SUPPORT_LEVEL_CODES,
};
use super::ibr::EnrolmentStatus;

/// One enumerated field of a registry's records and its closed table. A value
/// outside it (or blank where the field is required) makes the metrics that
/// read it unknown, with cause `unrecognised_value`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CodeTable {
    /// The registry: `crvs`, `ibr` or `dr`.
    pub registry: &'static str,
    /// The record field, as named on the wire.
    pub field: &'static str,
    /// Where the codes come from.
    pub source: &'static str,
    /// Each meaning and what may be written for it (matched ignoring ASCII
    /// case and surrounding or repeated spaces).
    pub codes: Vec<Code>,
}

/// One meaning of a [`CodeTable`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Code {
    /// What may be written: the code first, then labels.
    pub written: Vec<&'static str>,
    /// What it means to the metrics.
    pub means: String,
}

/// Groups a table of (written, value) by value, in the table's order.
fn grouped<T: PartialEq + Clone>(table: &[(&'static str, T)], means: impl Fn(&T) -> String) -> Vec<Code> {
    let mut groups: Vec<(T, Vec<&'static str>)> = Vec::new();
    for (written, value) in table {
        match groups.iter_mut().find(|(seen, _)| seen == value) {
            Some((_, all)) => all.push(written),
            None => groups.push((value.clone(), vec![written])),
        }
    }
    groups.into_iter().map(|(value, written)| Code { written, means: means(&value) }).collect()
}

/// Every code table the metrics read through, registry by registry.
pub fn code_tables() -> Vec<CodeTable> {
    let domain = |kind: &LimitationType| format!("domain {}", kind.as_str());
    vec![
        CodeTable {
            registry: "ibr",
            field: "enrollment_status",
            source: "IBR code directory CD.IBR.02 (standards.spdci.org, Integrated Beneficiary Registry v1.0.0)",
            codes: EnrolmentStatus::TABLE
                .iter()
                .map(|(status, written)| Code {
                    written: written.to_vec(),
                    means: match status.counts_as_enrolled() {
                        Some(true) => format!("{}: enrolled", status.label()),
                        _ => format!("{}: not enrolled", status.label()),
                    },
                })
                .collect(),
        },
        CodeTable {
            registry: "dr",
            field: "disability_limitation_type",
            source: "Washington Group short set: the DCI guide's VIS_SS … COM_SS codes and OpenSPP's names",
            codes: LimitationType::TABLE
                .iter()
                .map(|(kind, written)| Code { written: written.to_vec(), means: domain(kind) })
                .collect(),
        },
        CodeTable {
            registry: "dr",
            field: "functional_severity",
            source: "CD.COM.11; spdci/schemas common/v1/FunctionalSeverityEnum.jsonld",
            codes: grouped(&SEVERITY_CODES, |level| format!("severity {level}")),
        },
        CodeTable {
            registry: "dr",
            field: "impairment_type",
            source: "spdci/schemas extensions/dr/v1/code/ImpairementType.jsonld (or a domain label as above)",
            codes: grouped(&IMPAIRMENT_TYPE_CODES, domain),
        },
        CodeTable {
            registry: "dr",
            field: "impairment_level",
            source: "spdci/schemas extensions/dr/v1/code/ImpairmentLevel.jsonld; also read for disability_level",
            codes: grouped(&IMPAIRMENT_LEVEL_CODES, |level| format!("level {level}")),
        },
        CodeTable {
            registry: "dr",
            field: "disability_status_level",
            source: "spdci/schemas extensions/dr/v1/code/DisabilityLevelEnum.jsonld",
            codes: grouped(&SUPPORT_LEVEL_CODES, |level| format!("level {level}")),
        },
        CodeTable {
            registry: "dr",
            field: "disability_status",
            source: "spdci/schemas extensions/dr/v1/code/DisabilityStatusEnum.jsonld, labels of the spec's examples and OpenSPP",
            codes: grouped(&DISABILITY_STATUS_CODES, |stands| {
                if *stands { "the registration stands".into() } else { "the registration does not stand".into() }
            }),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_lists_each_written_form_once_and_reads_back_its_meaning() {
        for table in code_tables() {
            let mut all: Vec<String> =
                table.codes.iter().flat_map(|c| c.written.iter().map(|w| w.to_ascii_lowercase())).collect();
            let count = all.len();
            all.sort();
            all.dedup();
            assert_eq!(all.len(), count, "{}: a written form twice", table.field);
        }
        let status = code_tables().into_iter().find(|t| t.field == "enrollment_status").expect("table");
        assert_eq!(status.codes.len(), 7);
        assert_eq!(status.codes[0].written[0], "1");
        assert_eq!(status.codes[0].means, "Active: enrolled");
    }
}
