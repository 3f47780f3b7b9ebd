//! Gossip overlay messages: wire <-> domain.

use tacnode_domain::gossip::{
    Announced, GOSSIP_ID_LEN, GossipId, GossipMessage, MAX_GOSSIP_IDS, MAX_GOSSIP_PAYLOAD,
    MAX_GOSSIP_ROUND, Topic,
};

use crate::error::{DecodeError, DecodeErrorKind};
use crate::fields::{Result, bytes_at_most, fixed, required};
use crate::pb;

pub(crate) fn to_wire(m: &GossipMessage) -> pb::Gossip {
    use pb::gossip::Kind;
    let kind = match m {
        GossipMessage::Push { round, payload, .. } => Kind::Push(pb::GossipPush {
            round: *round,
            payload: payload.clone(),
        }),
        GossipMessage::IHave { ids, .. } => Kind::Ihave(pb::GossipIHave {
            ids: ids.iter().flat_map(|a| a.id.0).collect(),
            rounds: ids.iter().map(|a| a.round).collect(),
        }),
        GossipMessage::Graft { ids, .. } => Kind::Graft(pb::GossipGraft {
            ids: ids.iter().flat_map(|id| id.0).collect(),
        }),
        GossipMessage::Prune { .. } => Kind::Prune(pb::GossipPrune {}),
        GossipMessage::Summary { count, digest, .. } => Kind::Summary(pb::GossipSummary {
            count: *count,
            digest: digest.to_vec(),
        }),
    };
    pb::Gossip {
        topic: m.topic().0.to_vec(),
        kind: Some(kind),
    }
}

pub(crate) fn from_wire(w: pb::Gossip) -> Result<GossipMessage> {
    use pb::gossip::Kind;
    let topic = Topic(fixed(&w.topic, "topic")?);
    Ok(match required(w.kind, "kind")? {
        Kind::Push(p) => {
            bytes_at_most(&p.payload, MAX_GOSSIP_PAYLOAD, "push.payload")?;
            if p.round > MAX_GOSSIP_ROUND {
                return Err(DecodeError::new(
                    "push.round",
                    DecodeErrorKind::Invalid("more hops than the 64 a tree may have"),
                ));
            }
            GossipMessage::Push {
                topic,
                round: p.round,
                payload: p.payload,
            }
        }
        Kind::Ihave(h) => {
            let ids = ids(&h.ids, "ihave.ids")?;
            if h.rounds.len() != ids.len() {
                return Err(DecodeError::new(
                    "ihave.rounds",
                    DecodeErrorKind::Invalid("one round per id"),
                ));
            }
            GossipMessage::IHave {
                topic,
                ids: ids
                    .into_iter()
                    .zip(h.rounds)
                    .map(|(id, round)| Announced { id, round })
                    .collect(),
            }
        }
        Kind::Graft(g) => GossipMessage::Graft {
            topic,
            ids: ids(&g.ids, "graft.ids")?,
        },
        Kind::Prune(_) => GossipMessage::Prune { topic },
        Kind::Summary(m) => GossipMessage::Summary {
            topic,
            count: m.count,
            digest: fixed(&m.digest, "summary.digest")?,
        },
    })
}

/// Concatenated 16-byte ids, at most [`MAX_GOSSIP_IDS`].
fn ids(bytes: &[u8], field: &'static str) -> Result<Vec<GossipId>> {
    if !bytes.len().is_multiple_of(GOSSIP_ID_LEN) {
        return Err(DecodeError::new(
            field,
            DecodeErrorKind::Invalid("a whole number of 16-byte ids"),
        ));
    }
    let count = bytes.len() / GOSSIP_ID_LEN;
    if count > MAX_GOSSIP_IDS {
        return Err(DecodeError::new(
            field,
            DecodeErrorKind::TooMany {
                max: MAX_GOSSIP_IDS,
                actual: count,
            },
        ));
    }
    bytes
        .chunks_exact(GOSSIP_ID_LEN)
        .map(|c| fixed(c, field).map(GossipId))
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::Message;

    fn roundtrip(m: GossipMessage) {
        let bytes = Message::Gossip(m.clone()).encode();
        assert_eq!(Message::decode(&bytes).unwrap(), Message::Gossip(m));
    }

    #[test]
    fn every_gossip_message_survives_the_wire() {
        let topic = Topic([3; 8]);
        roundtrip(GossipMessage::Push {
            topic,
            round: 3,
            payload: vec![9; 300],
        });
        roundtrip(GossipMessage::IHave {
            topic,
            ids: vec![
                Announced {
                    id: GossipId([1; 16]),
                    round: 0,
                },
                Announced {
                    id: GossipId([2; 16]),
                    round: 5,
                },
            ],
        });
        roundtrip(GossipMessage::Graft {
            topic,
            ids: vec![GossipId([4; 16])],
        });
        roundtrip(GossipMessage::Prune { topic });
        roundtrip(GossipMessage::Summary {
            topic,
            count: 12,
            digest: [5; 16],
        });
    }

    #[test]
    fn an_announcement_costs_little_more_than_its_ids() {
        let topic = Topic([3; 8]);
        let ids: Vec<Announced> = (0..10u8)
            .map(|n| Announced {
                id: GossipId([n; 16]),
                round: 2,
            })
            .collect();
        let len = Message::Gossip(GossipMessage::IHave { topic, ids })
            .encode()
            .len();
        // Envelope and topic (~16 bytes), then 17 bytes per id.
        assert!(len <= 16 + 10 * 17 + 8, "{len}");
    }

    #[test]
    fn malformed_gossip_is_refused_with_the_field_named() {
        let bad = |w: pb::Gossip| from_wire(w).unwrap_err().to_string();
        let topic = vec![0u8; 8];
        assert!(
            bad(pb::Gossip {
                topic: vec![0; 7],
                kind: Some(pb::gossip::Kind::Prune(pb::GossipPrune {})),
            })
            .contains("topic")
        );
        assert!(
            bad(pb::Gossip {
                topic: topic.clone(),
                kind: Some(pb::gossip::Kind::Graft(pb::GossipGraft {
                    ids: vec![0; 17]
                })),
            })
            .contains("graft.ids")
        );
        assert!(
            bad(pb::Gossip {
                topic: topic.clone(),
                kind: Some(pb::gossip::Kind::Graft(pb::GossipGraft {
                    ids: vec![0; 16 * (MAX_GOSSIP_IDS + 1)],
                })),
            })
            .contains("graft.ids")
        );
        assert!(
            bad(pb::Gossip {
                topic: topic.clone(),
                kind: Some(pb::gossip::Kind::Ihave(pb::GossipIHave {
                    ids: vec![0; 32],
                    rounds: vec![1],
                })),
            })
            .contains("ihave.rounds")
        );
        assert!(
            bad(pb::Gossip {
                topic,
                kind: Some(pb::gossip::Kind::Push(pb::GossipPush {
                    round: MAX_GOSSIP_ROUND + 1,
                    payload: vec![],
                })),
            })
            .contains("push.round")
        );
    }
}
