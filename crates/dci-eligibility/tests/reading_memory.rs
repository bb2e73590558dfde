//! Reading a beneficiary's line takes memory near the line's size, whatever
//! it holds: lists of members inside members, refused, are not built first.
//!
//! One test, so that no other test of this binary allocates beside it.

mod common;

use common::peak_growth;
use dci_eligibility::{Beneficiary, MemberReading};

#[test]
fn members_inside_members_are_refused_before_anything_inside_them_is_built() {
    // 300 members, each listing 10,000 members of its own: 9 MB of text, 3 million
    // objects inside members (about 1.3 GB had they been built before the refusal).
    let inner = vec!["{}"; 10_000].join(",");
    let member = format!(r#"{{"members":[{inner}]}}"#);
    let line = format!(r#"{{"id":"A","members":[{}]}}"#, vec![member.as_str(); 300].join(","));
    for reading in [MemberReading::Eager, MemberReading::OnDemand] {
        let mut read = None;
        let growth = peak_growth(|| read = Some(Beneficiary::from_json_str_reading(&line, reading)));
        let error = read.expect("read").expect_err("refused");
        assert_eq!(error.to_string(), "members[0].members: a member cannot have members", "{reading:?}");
        if let Some(growth) = growth {
            assert!(growth < 64 << 20, "{reading:?}: the peak rose by {} MiB", growth >> 20);
        }
    }
}
