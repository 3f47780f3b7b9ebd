//! What a network admin signs: member certificates and revocation lists
//! (the checks live in `tacnode_domain::ClosedNetwork`).

use tacnode_domain::{
    AdmissionError, IdentityKey, MAX_MEMBER_NAME_BYTES, MAX_REVOKED, MemberCertificate, NodeId,
    NodeType, RevocationList, UnixMillis,
};

use crate::identity::Identity;

/// Certifies `member` as a member of the admin's network, acting at most as
/// `role`, until `not_after`, under an optional `name`.
pub fn issue_member_certificate(
    admin: &Identity,
    member: IdentityKey,
    role: NodeType,
    not_after: UnixMillis,
    name: &str,
) -> Result<MemberCertificate, AdmissionError> {
    if name.len() > MAX_MEMBER_NAME_BYTES {
        return Err(AdmissionError::NameTooLong(name.len()));
    }
    let admin_key = admin.identity_key();
    let signature = admin.sign(&MemberCertificate::signing_bytes(
        &admin_key, &member, role, not_after, name,
    ));
    Ok(MemberCertificate {
        admin: admin_key,
        member,
        role,
        not_after,
        name: name.to_owned(),
        signature,
    })
}

/// Signs the admin's revocation list number `sequence`: `revoked` is
/// sorted and deduplicated first.
pub fn issue_revocation_list(
    admin: &Identity,
    sequence: u64,
    issued_at: UnixMillis,
    mut revoked: Vec<NodeId>,
) -> Result<RevocationList, AdmissionError> {
    revoked.sort();
    revoked.dedup();
    if revoked.len() > MAX_REVOKED {
        return Err(AdmissionError::TooManyRevoked(revoked.len()));
    }
    let admin_key = admin.identity_key();
    let signature = admin.sign(&RevocationList::signing_bytes(
        &admin_key, sequence, issued_at, &revoked,
    ));
    Ok(RevocationList {
        admin: admin_key,
        sequence,
        issued_at,
        revoked,
        signature,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use tacnode_domain::{Admission, ClosedNetwork, MAX_CLOCK_SKEW_MS};

    use super::*;

    const DAY: u64 = 86_400_000;
    const NOW: UnixMillis = UnixMillis(1_800_000_000_000);

    fn ids(seed: u64) -> (Identity, Identity, Identity) {
        let mut rng = StdRng::seed_from_u64(seed);
        (
            Identity::generate(&mut rng),
            Identity::generate(&mut rng),
            Identity::generate(&mut rng),
        )
    }

    #[test]
    fn a_member_is_admitted_and_everyone_else_is_refused_with_a_reason() {
        let (admin, member, outsider) = ids(1);
        let net = ClosedNetwork::new(vec![admin.identity_key()]).unwrap();
        let until = UnixMillis(NOW.0 + 30 * DAY);
        let cert = issue_member_certificate(
            &admin,
            member.identity_key(),
            NodeType::Server,
            until,
            "alpha",
        )
        .unwrap();
        let key = member.identity_key();
        assert_eq!(net.admit(Some(&cert), &key, NodeType::Server, NOW), Ok(()));
        assert_eq!(
            net.admit(None, &key, NodeType::Server, NOW),
            Err(AdmissionError::NoCertificate)
        );
        // Someone else's certificate does not admit the outsider.
        assert_eq!(
            net.admit(Some(&cert), &outsider.identity_key(), NodeType::Server, NOW),
            Err(AdmissionError::WrongMember)
        );
        // A certificate the outsider signed itself.
        let forged = issue_member_certificate(
            &outsider,
            outsider.identity_key(),
            NodeType::Server,
            until,
            "",
        )
        .unwrap();
        assert_eq!(
            net.admit(
                Some(&forged),
                &outsider.identity_key(),
                NodeType::Server,
                NOW
            ),
            Err(AdmissionError::UnknownAdmin)
        );
        // An edited certificate: the admin's signature no longer covers it.
        let mut stretched = cert.clone();
        stretched.not_after = UnixMillis(u64::MAX);
        assert!(matches!(
            net.admit(Some(&stretched), &key, NodeType::Server, NOW),
            Err(AdmissionError::Signature(_))
        ));
        let mut promoted =
            issue_member_certificate(&admin, key, NodeType::Client, until, "").unwrap();
        assert_eq!(
            net.admit(Some(&promoted), &key, NodeType::Server, NOW),
            Err(AdmissionError::RoleExceeded)
        );
        assert_eq!(
            net.admit(Some(&promoted), &key, NodeType::Client, NOW),
            Ok(())
        );
        promoted.role = NodeType::Server;
        assert!(
            net.admit(Some(&promoted), &key, NodeType::Server, NOW)
                .is_err()
        );
        // Expiry, with the clock skew tolerated.
        let late = UnixMillis(until.0 + MAX_CLOCK_SKEW_MS);
        assert_eq!(net.admit(Some(&cert), &key, NodeType::Server, late), Ok(()));
        assert_eq!(
            net.admit(Some(&cert), &key, NodeType::Server, UnixMillis(late.0 + 1)),
            Err(AdmissionError::Expired)
        );
        // The open network admits anyone.
        assert_eq!(
            Admission::Open.admit(None, &outsider.identity_key(), NodeType::Server, NOW),
            Ok(())
        );
    }

    #[test]
    fn a_newer_revocation_list_revokes_and_an_older_or_forged_one_is_refused() {
        let (admin, member, other_admin) = ids(2);
        let mut net = ClosedNetwork::new(vec![admin.identity_key()]).unwrap();
        let key = member.identity_key();
        let id = NodeId::from_identity(&key);
        let cert =
            issue_member_certificate(&admin, key, NodeType::Server, UnixMillis(NOW.0 + DAY), "")
                .unwrap();
        let list = issue_revocation_list(&admin, 1, NOW, vec![id, id]).unwrap();
        assert_eq!(list.revoked, vec![id]);
        let update = net.apply(list.clone()).unwrap();
        assert_eq!(update.newly_revoked, vec![id]);
        assert!(net.is_revoked(&id));
        assert_eq!(
            net.admit(Some(&cert), &key, NodeType::Server, NOW),
            Err(AdmissionError::Revoked)
        );
        assert_eq!(
            net.apply(list),
            Err(AdmissionError::StaleRevocations { got: 1, held: 1 })
        );
        let foreign = issue_revocation_list(&other_admin, 5, NOW, vec![]).unwrap();
        assert_eq!(net.apply(foreign), Err(AdmissionError::UnknownAdmin));
        let mut edited = issue_revocation_list(&admin, 2, NOW, vec![]).unwrap();
        edited.revoked.push(NodeId::from_bytes([7; 32]));
        assert!(matches!(
            net.apply(edited),
            Err(AdmissionError::Signature(_))
        ));
        // A newer list without the member reinstates it.
        let update = net
            .apply(issue_revocation_list(&admin, 3, NOW, vec![]).unwrap())
            .unwrap();
        assert!(update.newly_revoked.is_empty());
        assert_eq!(net.admit(Some(&cert), &key, NodeType::Server, NOW), Ok(()));
    }

    #[test]
    fn admins_are_one_to_eight_distinct_keys() {
        let (a, b, _) = ids(3);
        assert!(ClosedNetwork::new(vec![]).is_err());
        assert!(ClosedNetwork::new(vec![a.identity_key(), a.identity_key()]).is_err());
        assert!(ClosedNetwork::new(vec![a.identity_key(), b.identity_key()]).is_ok());
    }
}
