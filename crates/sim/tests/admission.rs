//! A closed network in the whole-node simulator: members only, an outsider
//! refused, and a revocation enforced by every member within one fetch
//! interval.

// Test helpers outside #[test] functions may fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use rand::SeedableRng;
use rand::rngs::StdRng;
use tacnode_crypto::Identity;
use tacnode_crypto::admin::{issue_member_certificate, issue_revocation_list};
use tacnode_domain::{Admission, ClosedNetwork, NodeType, UnixMillis};
use tacnode_sim::LinkModel;
use tacnode_sim::node::harness::{NodeSim, block_on};
use tacnode_usecase::node::AdmissionStatus;

const MINUTE: u64 = 60_000;
const YEAR_MS: u64 = 365 * 24 * 60 * MINUTE;

#[test]
fn a_closed_network_refuses_an_outsider_and_enforces_a_revocation_within_one_fetch_interval() {
    block_on(async {
        let admin = Identity::generate(&mut StdRng::seed_from_u64(71));
        let network = Admission::Closed(ClosedNetwork::new(vec![admin.identity_key()]).unwrap());
        let mut sim = NodeSim::new(71, LinkModel::default(), 0.0).unwrap();
        // Six member servers, two member clients, one outsider (a server
        // of an open network that knows the members' addresses).
        let mut members = Vec::new();
        for i in 0..8 {
            let node_type = if i < 6 {
                NodeType::Server
            } else {
                NodeType::Client
            };
            members.push(sim.add_node(node_type, 0));
        }
        let outsider = sim.add_node(NodeType::Server, 0);
        sim.set_bootstrap(&[0, 1, 2]);
        for &m in &members {
            let key = sim.identity_key(m).unwrap();
            let role = if m < 6 {
                NodeType::Server
            } else {
                NodeType::Client
            };
            let cert = issue_member_certificate(
                &admin,
                key,
                role,
                UnixMillis(tacnode_sim::EPOCH_MS + YEAR_MS),
                "",
            )
            .unwrap();
            let network = network.clone();
            sim.configure(m, move |c| {
                c.admission.admission = network;
                c.admission.certificate = Some(cert);
            });
        }
        for i in 0..=outsider {
            sim.start(i).await.unwrap();
        }
        sim.advance(MINUTE).await;

        // Members talk; the outsider reaches no one and no one reaches it.
        let among = sim.send(6, 7).await.unwrap();
        let from_outsider = sim.send(outsider, 3).await;
        let to_outsider = sim.send(3, outsider).await;
        sim.advance(5 * MINUTE).await;
        assert!(sim.fate(&among).unwrap().received_at.is_some());
        for id in [from_outsider, to_outsider].into_iter().flatten() {
            let fate = sim.fate(&id).unwrap();
            assert!(fate.received_at.is_none(), "{fate:?}");
        }
        let status = sim.status(outsider).await.unwrap();
        assert_eq!(status.routing_table_size, 0, "the outsider joined");
        assert!(sim.net().refused_handshakes() > 0);

        // The admin revokes member 7; the list is imported on member 0 only.
        let revoked = sim.node_id(7).unwrap();
        let list =
            issue_revocation_list(&admin, 1, UnixMillis(tacnode_sim::EPOCH_MS), vec![revoked])
                .unwrap();
        sim.handle(0)
            .unwrap()
            .import_revocations(list)
            .await
            .unwrap();
        let imported_at = sim.elapsed_ms();
        // One fetch interval (600 s) and a lookup later, every member holds it.
        let mut enforced_after = None;
        while sim.elapsed_ms() - imported_at <= 10 * MINUTE + 30_000 {
            sim.advance(10_000).await;
            let mut all = true;
            for &m in &members {
                let status = sim.status(m).await.unwrap();
                match status.admission {
                    AdmissionStatus::Closed {
                        revoked, admins, ..
                    } => {
                        all &= revoked == 1 && admins[0].1 == 1;
                    }
                    AdmissionStatus::Open => panic!("member {m} is open"),
                }
            }
            if all {
                enforced_after = Some(sim.elapsed_ms() - imported_at);
                break;
            }
        }
        let enforced_after = enforced_after.expect("a member still ignores the revocation");
        println!(
            "revocation in force on every member {} s after its import",
            enforced_after / 1000
        );
        // The revoked member's messages reach no one any more.
        let after = sim.send(7, 6).await.unwrap();
        sim.advance(5 * MINUTE).await;
        assert!(sim.fate(&after).unwrap().received_at.is_none());
        sim.finish().await;
    })
    .unwrap();
}
