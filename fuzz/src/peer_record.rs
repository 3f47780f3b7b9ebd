//! A `PeerRecord` from arbitrary wire bytes: prost decode, `try_from`,
//! `verify`.

use prost::Message as _;
use tacnode_domain::PeerRecord;
use tacnode_messaging::pb;

/// Decodes, converts and verifies; a converted record must be within limits
/// and survive a wire round trip with the same verification result.
pub fn run(data: &[u8]) {
    let Ok(wire) = pb::PeerRecord::decode(data) else {
        return;
    };
    let Ok(record) = PeerRecord::try_from(wire) else {
        return;
    };
    assert!(
        record.body.check_limits().is_ok(),
        "try_from accepted a record over the limits"
    );
    let verdict = record.verify();
    let bytes = pb::PeerRecord::from(&record).encode_to_vec();
    let again = PeerRecord::try_from(
        pb::PeerRecord::decode(bytes.as_slice()).expect("re-encoded record must parse"),
    )
    .expect("re-encoded record must convert");
    assert_eq!(again, record, "record changed across a round trip");
    assert_eq!(
        again.verify(),
        verdict,
        "verification changed across a round trip"
    );
}
