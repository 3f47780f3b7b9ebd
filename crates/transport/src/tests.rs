//! End-to-end tests over real quinn endpoints on 127.0.0.1.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rand::SeedableRng;
use rcgen::{CertificateParams, CustomExtension, KeyPair, PublicKeyData};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tacnode_crypto::Identity;
use tacnode_domain::NodeId;
use tokio::time::timeout;

use crate::admission_gate::AdmissionGate;
use crate::binding::{
    BINDING_OID, BindingError, binding_message, bound_identity, encode_binding, verify_certificate,
};
use crate::tls::{LocalTls, SERVER_NAME, make_certificate, rotation_age, rotation_wait};
use crate::transport::backoff_delay;
use crate::{
    CERTIFICATE_CHECK_INTERVAL, CODE_NO_RESPONSE, Inbound, InboundEvent,
    MIN_CERTIFICATE_ROTATION_AGE, RequestError, Responder, Transport, TransportConfig,
};

fn identity(seed: u64) -> Identity {
    Identity::generate(&mut rand::rngs::StdRng::seed_from_u64(seed))
}

fn config() -> TransportConfig {
    let mut c = TransportConfig::with_listen(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)));
    c.request_timeout = Duration::from_secs(3);
    c.handshake_timeout = Duration::from_secs(2);
    c.duplicate_grace = Duration::from_millis(100);
    c.backoff_base = Duration::from_secs(5);
    c
}

fn node(seed: u64, cfg: TransportConfig) -> (Transport, Inbound, SocketAddr) {
    let (t, inbound) = Transport::bind(cfg, &identity(seed)).unwrap();
    let addr = t.local_addr().unwrap();
    (t, inbound, addr)
}

/// Answers every request with `b"re:" + body`; forwards pushes to a channel.
fn echo(mut inbound: Inbound) -> tokio::sync::mpsc::UnboundedReceiver<(NodeId, Vec<u8>)> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(ev) = inbound.recv().await {
            match ev {
                InboundEvent::Request {
                    body, reply, peer, ..
                } => {
                    let _ = tx.send((peer, body.clone()));
                    let mut out = b"re:".to_vec();
                    out.extend(body);
                    tokio::spawn(reply.send(out));
                }
                InboundEvent::Push { peer, body, .. } => {
                    let _ = tx.send((peer, body));
                }
            }
        }
    });
    rx
}

fn quiet_for(rx: &mut tokio::sync::mpsc::UnboundedReceiver<(NodeId, Vec<u8>)>) -> bool {
    rx.try_recv().is_err()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_exchange_requests_and_pushes() {
    let (a, a_in, a_addr) = node(1, config());
    let (b, b_in, b_addr) = node(2, config());
    let mut a_seen = echo(a_in);
    let mut b_seen = echo(b_in);

    let resp = a
        .request(b.node_id(), &[b_addr], b"hello".to_vec())
        .await
        .unwrap();
    assert_eq!(resp, b"re:hello");
    assert_eq!(
        b_seen.recv().await.unwrap(),
        (a.node_id(), b"hello".to_vec())
    );

    // The reverse direction reuses the connection: no address needed.
    let resp = b.request(a.node_id(), &[], b"back".to_vec()).await.unwrap();
    assert_eq!(resp, b"re:back");
    assert_eq!(
        a_seen.recv().await.unwrap(),
        (b.node_id(), b"back".to_vec())
    );

    a.push(b.node_id(), &[b_addr], b"one-way".to_vec())
        .await
        .unwrap();
    assert_eq!(
        b_seen.recv().await.unwrap(),
        (a.node_id(), b"one-way".to_vec())
    );
    assert_eq!(a.connection_count(), 1);
    assert_eq!(b.connection_count(), 1);
    assert_eq!(a.connected_peers(), vec![b.node_id()]);
    assert_eq!(b.connected_peers(), vec![a.node_id()]);
    // What the node's `peers` shows: the authenticated peer, where it is,
    // quinn's round-trip estimate, the direct path.
    let [seen] = a.connections().try_into().unwrap();
    assert_eq!(seen.peer, b.node_id());
    assert_eq!(seen.remote, b_addr);
    assert_eq!(
        tacnode_domain::PeerAddress::new(seen.identity).node_id(),
        b.node_id()
    );
    assert!(seen.rtt > std::time::Duration::ZERO && seen.rtt < std::time::Duration::from_secs(1));
    assert_eq!(seen.path, tacnode_domain::ConnectionPath::Direct);
    assert_eq!(b.connections()[0].peer, a.node_id());

    // Empty bodies are fine in both directions.
    assert_eq!(a.request(b.node_id(), &[], vec![]).await.unwrap(), b"re:");
    let _ = a_addr;
    a.close().await;
    b.close().await;
}

/// A connection nothing uses closes after the linger time, keep-alives
/// notwithstanding, and the next request dials again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unused_connection_closes_after_the_linger_time() {
    let mut cfg = config();
    cfg.linger = Duration::from_millis(300);
    cfg.keep_alive = Duration::from_millis(100);
    let (a, a_in, _) = node(3, cfg.clone());
    let (b, b_in, b_addr) = node(4, cfg);
    let _a_seen = echo(a_in);
    let _b_seen = echo(b_in);
    let b_id = b.node_id();
    let addrs = [b_addr];
    let ask = || a.request(b_id, &addrs, b"x".to_vec());
    assert_eq!(ask().await.unwrap(), b"re:x");
    assert_eq!(a.connection_count(), 1);
    // Used again within the linger time: still the same connection.
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(ask().await.unwrap(), b"re:x");
    assert_eq!(a.connection_count(), 1);
    let mut closed = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if a.connection_count() == 0 && b.connection_count() == 0 {
            closed = true;
            break;
        }
    }
    assert!(closed, "the unused connection is still open on one side");
    assert_eq!(ask().await.unwrap(), b"re:x", "a new request dials again");
    a.close().await;
    b.close().await;
}

/// `PeerNetwork::forget` closes the connection to a peer at once, at both
/// ends, and the next call dials a new one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forgotten_peer_is_dialled_afresh() {
    use tacnode_domain::ports::PeerNetwork;
    let (a, a_in, a_addr) = node(5, config());
    let (b, b_in, b_addr) = node(6, config());
    let _a_seen = echo(a_in);
    let _b_seen = echo(b_in);
    let b_id = b.node_id();
    let net = crate::QuicNetwork::new(a, a_addr);
    let addrs = [b_addr];
    assert_eq!(
        net.call(b_id, &addrs, b"x".to_vec()).await.unwrap(),
        b"re:x"
    );
    assert_eq!(net.connected_peers(), vec![b_id]);
    net.forget(b_id);
    assert!(net.connected_peers().is_empty());
    let mut closed = false;
    for _ in 0..50 {
        if b.connection_count() == 0 {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(closed, "the peer still has the connection");
    assert_eq!(
        net.call(b_id, &addrs, b"y".to_vec()).await.unwrap(),
        b"re:y"
    );
    assert_eq!(net.connected_peers(), vec![b_id]);
    net.close().await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_as_first_message_waits_for_confirmation() {
    let (a, _a_in, _) = node(3, config());
    let (b, b_in, b_addr) = node(4, config());
    let mut b_seen = echo(b_in);
    a.push(b.node_id(), &[b_addr], b"first".to_vec())
        .await
        .unwrap();
    let got = timeout(Duration::from_secs(2), b_seen.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, (a.node_id(), b"first".to_vec()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_nodes_all_pairs() {
    let mut nodes = Vec::new();
    let mut seen = Vec::new();
    let mut cfg = config();
    // Every node shares 127.0.0.1.
    cfg.max_connections_per_ip = 64;
    cfg.request_timeout = Duration::from_secs(20);
    cfg.handshake_timeout = Duration::from_secs(15);
    for i in 0..20 {
        let (t, inbound, addr) = node(100 + i, cfg.clone());
        seen.push(echo(inbound));
        nodes.push((t, addr));
    }
    let nodes = Arc::new(nodes);
    let mut tasks = Vec::new();
    for i in 0..20 {
        for j in 0..20 {
            if i == j {
                continue;
            }
            let nodes = nodes.clone();
            tasks.push(tokio::spawn(async move {
                let (from, _) = &nodes[i];
                let (to, to_addr) = &nodes[j];
                let body = format!("{i}->{j}").into_bytes();
                let resp = from
                    .request(to.node_id(), &[*to_addr], body.clone())
                    .await?;
                let mut want = b"re:".to_vec();
                want.extend(body);
                assert_eq!(resp, want);
                Ok::<_, RequestError>(())
            }));
        }
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    // Simultaneous dials everywhere; once settled, one connection per pair.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    for (t, _) in nodes.iter() {
        assert_eq!(t.connected_peers().len(), 19);
        assert_eq!(t.connection_count(), 19, "one connection per peer");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simultaneous_dial_leaves_one_connection() {
    for round in 0..3u64 {
        let (a, a_in, a_addr) = node(200 + round * 2, config());
        let (b, b_in, b_addr) = node(201 + round * 2, config());
        let _ea = echo(a_in);
        let _eb = echo(b_in);
        let (to_b, to_a) = ([b_addr], [a_addr]);
        let (ra, rb) = tokio::join!(
            a.request(b.node_id(), &to_b, b"x".to_vec()),
            b.request(a.node_id(), &to_a, b"y".to_vec()),
        );
        ra.unwrap();
        rb.unwrap();
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(a.connection_count(), 1);
        assert_eq!(b.connection_count(), 1);
        // The closed duplicate also leaves QUIC once it has drained.
        for _ in 0..30 {
            if a.quic_connection_count() == 1 && b.quic_connection_count() == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(
            (a.quic_connection_count(), b.quic_connection_count()),
            (1, 1)
        );
        // The kept connection still works both ways.
        a.request(b.node_id(), &[], b"z".to_vec()).await.unwrap();
        b.request(a.node_id(), &[], b"w".to_vec()).await.unwrap();
        assert_eq!(a.connection_count(), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dial_back_proves_a_node_can_be_dialled_and_leaves_its_connection_alone() {
    let (a, a_in, _) = node(240, config());
    let (b, b_in, b_addr) = node(241, config());
    let _ea = echo(a_in);
    let _eb = echo(b_in);
    // B's connection to A, over which B would ask for the dial-back.
    b.request(a.node_id(), &[a_addr_of(&a)], b"x".to_vec())
        .await
        .unwrap();
    a.dial_back(b.node_id(), b_addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The dial-back came from another socket and was never used: each end
    // keeps the one connection it had, and it still works both ways.
    assert_eq!((a.connection_count(), b.connection_count()), (1, 1));
    a.request(b.node_id(), &[], b"y".to_vec()).await.unwrap();
    b.request(a.node_id(), &[], b"z".to_vec()).await.unwrap();
    // The wrong node at that address, or nobody: the dial-back fails.
    let wrong = identity(242).node_id();
    assert!(matches!(
        a.dial_back(wrong, b_addr).await,
        Err(RequestError::Handshake(_))
    ));
    let nobody = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let silent = nobody.local_addr().unwrap();
    assert!(matches!(
        a.dial_back(b.node_id(), silent).await,
        Err(RequestError::Handshake(_))
    ));
}

fn a_addr_of(t: &Transport) -> SocketAddr {
    t.local_addr().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expected_node_id_mismatch_is_rejected() {
    let (a, _a_in, _) = node(10, config());
    let (_b, b_in, b_addr) = node(11, config());
    let mut b_seen = echo(b_in);
    let wrong = identity(12).node_id();
    let err = a
        .request(wrong, &[b_addr], b"secret".to_vec())
        .await
        .unwrap_err();
    assert!(matches!(err, RequestError::Handshake(_)), "{err:?}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(quiet_for(&mut b_seen));
    assert!(a.connected_peers().is_empty());
}

/// A closed network of one admin: members 30..=32 hold certificates,
/// 33 does not.
fn closed_config(admin: &Identity, member: Option<u64>) -> TransportConfig {
    use tacnode_domain::{Admission, ClosedNetwork, NodeType, UnixMillis};
    let mut c = config();
    c.admission = Admission::Closed(ClosedNetwork::new(vec![admin.identity_key()]).unwrap());
    c.member_certificate = member.map(|seed| {
        tacnode_crypto::admin::issue_member_certificate(
            admin,
            identity(seed).identity_key(),
            NodeType::Server,
            UnixMillis(4_000_000_000_000),
            "",
        )
        .unwrap()
    });
    c
}

/// A dial the other end's verifier refused: the dialler sees a failed
/// handshake, or the connection closed while it completed.
fn assert_refused_in_handshake(err: &RequestError) {
    assert!(
        matches!(
            err,
            RequestError::Handshake(_) | RequestError::ConnectionLost(_)
        ),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_network_refuses_non_members_both_ways_and_revoked_members_at_once() {
    use tacnode_domain::{Admission, ClosedNetwork, UnixMillis};
    let admin = identity(29);
    let (a, a_in, a_addr) = node(30, closed_config(&admin, Some(30)));
    let (b, b_in, b_addr) = node(31, closed_config(&admin, Some(31)));
    let mut a_seen = echo(a_in);
    let mut b_seen = echo(b_in);
    // Members talk.
    let answer = a
        .request(b.node_id(), &[b_addr], b"hi".to_vec())
        .await
        .unwrap();
    assert_eq!(answer, b"re:hi");
    // A node without a certificate is refused when it dials a member...
    let (outsider, out_in, out_addr) = node(33, closed_config(&admin, None));
    let _out_seen = echo(out_in);
    let err = outsider
        .request(a.node_id(), &[a_addr], b"let me in".to_vec())
        .await
        .unwrap_err();
    // The member's verifier closes the connection during the handshake.
    assert_refused_in_handshake(&err);
    // ...and a member refuses to talk to it when dialling.
    let err = b
        .request(outsider.node_id(), &[out_addr], b"who are you".to_vec())
        .await
        .unwrap_err();
    assert!(matches!(err, RequestError::Handshake(_)), "{err:?}");
    // A certificate from another admin does not help.
    let rogue = identity(28);
    let (forger, forger_in, _) = node(32, closed_config(&rogue, Some(32)));
    let _forger_seen = echo(forger_in);
    let err = forger
        .request(a.node_id(), &[a_addr], b"forged".to_vec())
        .await
        .unwrap_err();
    assert_refused_in_handshake(&err);
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Only the members' exchange reached anyone.
    assert_eq!(b_seen.try_recv().unwrap().1, b"hi");
    assert!(quiet_for(&mut a_seen) && quiet_for(&mut b_seen));

    // The admin revokes b: a closes its connection and refuses b's next dial.
    let mut net = ClosedNetwork::new(vec![admin.identity_key()]).unwrap();
    net.apply(
        tacnode_crypto::admin::issue_revocation_list(&admin, 1, UnixMillis(1), vec![b.node_id()])
            .unwrap(),
    )
    .unwrap();
    a.set_admission(Arc::new(Admission::Closed(net)));
    assert!(!a.connected_peers().contains(&b.node_id()));
    let err = b
        .request(a.node_id(), &[a_addr], b"still here".to_vec())
        .await
        .unwrap_err();
    assert_refused_in_handshake(&err);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(quiet_for(&mut a_seen));
}

/// A certificate whose binding claims `claimed` but is signed by `signer`,
/// over the SPKI of `spki_of` (defaults to the certificate's own key).
fn forged_cert(
    claimed: &Identity,
    signer: &Identity,
    with_binding: bool,
    spki_override: Option<Vec<u8>>,
) -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
    let key = KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let spki = spki_override.unwrap_or_else(|| key.subject_public_key_info());
    let mut params = CertificateParams::default();
    let sig = signer.sign(&binding_message(
        &spki,
        params.not_before.unix_timestamp(),
        params.not_after.unix_timestamp(),
    ));
    if with_binding {
        params
            .custom_extensions
            .push(CustomExtension::from_oid_content(
                BINDING_OID,
                encode_binding(&claimed.identity_key(), &sig),
            ));
    }
    let cert = params.self_signed(&key).unwrap();
    (
        cert.der().clone(),
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    )
}

/// Whoever holds one TLS private key, but not the identity key, cannot
/// re-mint the certificate with another validity window under the same
/// binding (issue #13, finding 2): the identity signs the window too.
#[test]
fn a_binding_does_not_stretch_to_another_validity_window() {
    let id = identity(30);
    let now = SystemTime::now();
    let (der, key_der) = make_certificate(&id, now, Duration::from_secs(3600), None).unwrap();
    let now_secs = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    verify_certificate(&der, now_secs).unwrap();
    let payload = crate::binding::parse_certificate(&der)
        .unwrap()
        .binding
        .unwrap()
        .to_vec();
    let stolen = KeyPair::try_from(&key_der).unwrap();
    let mut params = CertificateParams::default();
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(2049, 12, 31);
    params
        .custom_extensions
        .push(CustomExtension::from_oid_content(BINDING_OID, {
            let mut ext = vec![0x04, u8::try_from(payload.len()).unwrap()];
            ext.extend_from_slice(&payload);
            ext
        }));
    let reminted = params.self_signed(&stolen).unwrap();
    assert_eq!(
        verify_certificate(reminted.der(), now_secs),
        Err(BindingError::BadSignature)
    );
}

/// Dials `addr` from a bare quinn endpoint presenting `cert`, sends one
/// request frame, and returns the outcome of reading a response.
async fn raw_request(
    cert: (CertificateDer<'static>, PrivateKeyDer<'static>),
    expected: NodeId,
    addr: SocketAddr,
) -> Result<Vec<u8>, String> {
    let tls = LocalTls::new(cert.0, cert.1, AdmissionGate::default()).unwrap();
    let quic =
        quinn::crypto::rustls::QuicClientConfig::try_from(tls.client_config(expected).unwrap())
            .unwrap();
    let client = quinn::ClientConfig::new(Arc::new(quic));
    let ep = quinn::Endpoint::client(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).unwrap();
    let conn = ep
        .connect_with(client, addr, SERVER_NAME)
        .unwrap()
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let (mut send, mut recv) = conn.open_bi().await.map_err(|e| e.to_string())?;
    let frame = tacnode_messaging::frame::encode_frame(b"sneaky", 1024).unwrap();
    send.write_all(&frame).await.map_err(|e| e.to_string())?;
    let _ = send.finish();
    let out = timeout(Duration::from_secs(2), recv.read_to_end(1024))
        .await
        .map_err(|_| "timeout".to_string())?
        .map_err(|e| e.to_string())?;
    Ok(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_with_bad_bindings_are_rejected() {
    let (b, b_in, b_addr) = node(20, config());
    let mut b_seen = echo(b_in);
    let eve = identity(21);
    let alice = identity(22);

    // Sanity: a correct binding is accepted by the same client path.
    let good = make_certificate(&eve, SystemTime::now(), Duration::from_secs(3600), None).unwrap();
    assert!(raw_request(good, b.node_id(), b_addr).await.is_ok());
    assert_eq!(b_seen.recv().await.unwrap().0, eve.node_id());

    // No binding extension at all.
    let none = forged_cert(&eve, &eve, false, None);
    assert!(raw_request(none, b.node_id(), b_addr).await.is_err());
    // A binding claiming alice, signed by eve's key.
    let other_key = forged_cert(&alice, &eve, true, None);
    assert!(raw_request(other_key, b.node_id(), b_addr).await.is_err());
    // Wrong identity: alice's genuine signature, but over another
    // certificate key (a binding copied from someone else's certificate).
    let other_spki = KeyPair::generate_for(&rcgen::PKCS_ED25519)
        .unwrap()
        .subject_public_key_info();
    let replayed = forged_cert(&alice, &alice, true, Some(other_spki));
    assert!(raw_request(replayed, b.node_id(), b_addr).await.is_err());

    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(quiet_for(&mut b_seen), "no request reached the application");
}

/// A bare quinn server on loopback presenting `cert`: no transport behind
/// it, so a test decides what it does with each connection.
fn bare_server(cert: CertificateDer<'static>, key: PrivateKeyDer<'static>) -> quinn::Endpoint {
    let tls = LocalTls::new(cert, key, AdmissionGate::default()).unwrap();
    let server = quinn::ServerConfig::with_crypto(Arc::new(
        quinn::crypto::rustls::QuicServerConfig::try_from(tls.server_config().unwrap()).unwrap(),
    ));
    quinn::Endpoint::server(server, SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dialer_rejects_server_with_bad_binding() {
    // A bare quinn server presenting a certificate without a binding.
    let (cert, key) = forged_cert(&identity(30), &identity(30), false, None);
    let ep = bare_server(cert, key);
    let addr = ep.local_addr().unwrap();
    tokio::spawn(async move {
        while let Some(inc) = ep.accept().await {
            let _ = inc.await;
        }
    });
    let (a, _a_in, _) = node(31, config());
    let err = a
        .request(identity(30).node_id(), &[addr], b"x".to_vec())
        .await
        .unwrap_err();
    assert!(matches!(err, RequestError::Handshake(_)), "{err:?}");
}

/// An acceptor that finished its side of the handshake never (on a radio:
/// gave it up after our last flight was lost, and its close was lost too)
/// leaves our end with a connection nobody serves. A request there gives
/// the connection up 1.5 handshake timeouts after the handshake, dials once
/// more, and fails as unconfirmed: not after the whole request timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_its_acceptor_never_confirms_is_given_up_early() {
    let (cert, key) = forged_cert(&identity(32), &identity(32), true, None);
    let ep = bare_server(cert, key);
    let addr = ep.local_addr().unwrap();
    let (held_tx, mut held) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(inc) = ep.accept().await {
            // Kept open, never served: no confirmation, no answer.
            if let Ok(conn) = inc.await {
                let _ = held_tx.send(conn);
            }
        }
    });
    let mut cfg = config();
    cfg.handshake_timeout = Duration::from_millis(400);
    cfg.request_timeout = Duration::from_secs(20);
    let (a, _a_in, _) = node(33, cfg);
    let started = std::time::Instant::now();
    // Two requests on the one connection: whichever gives it up first, the
    // other fails as unconfirmed too (and dials once more), not as lost.
    let silent = identity(32).node_id();
    let addrs = [addr];
    let (first, second) = tokio::join!(
        a.request(silent, &addrs, b"x".to_vec()),
        a.request(silent, &addrs, b"y".to_vec())
    );
    let took = started.elapsed();
    for r in [first, second] {
        assert!(matches!(r, Err(RequestError::Unconfirmed)), "{r:?}");
    }
    assert!(took < Duration::from_secs(5), "gave up after {took:?}");
    // As after a failed dial, the next request backs off.
    let next = a.request(silent, &addrs, b"z".to_vec()).await;
    assert!(
        matches!(next, Err(RequestError::BackingOff { .. })),
        "{next:?}"
    );
    let mut dialled = 0;
    while let Ok(conn) = held.try_recv() {
        dialled += 1;
        let closed = tokio::time::timeout(Duration::from_secs(5), conn.closed())
            .await
            .expect("our end closes the connection it gave up");
        assert!(
            matches!(&closed, quinn::ConnectionError::ApplicationClosed(c)
                if c.error_code == quinn::VarInt::from_u32(crate::transport::CLOSE_UNCONFIRMED)),
            "{closed:?}"
        );
    }
    assert_eq!(dialled, 2, "one dial, then one more");
}

/// With one dial slot, taken by a dial to an address nobody answers, a
/// second dial waits [`crate::DIAL_SLOT_HOLD`] for it; the peer it was for
/// connected to us meanwhile, so it takes that connection and dials
/// nothing: one handshake between the two, not two.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dial_waiting_for_its_slot_takes_the_connection_the_peer_made() {
    let mut cfg = config();
    cfg.max_concurrent_dials = 1;
    cfg.handshake_timeout = Duration::from_secs(10);
    cfg.request_timeout = Duration::from_secs(15);
    let (a, a_in, a_addr) = node(60, cfg);
    let (b, b_in, b_addr) = node(61, config());
    let _a_seen = echo(a_in);
    let _b_seen = echo(b_in);
    let silent = std::net::UdpSocket::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).unwrap();
    let silent_addr = silent.local_addr().unwrap();
    let hung = {
        let a = a.clone();
        tokio::spawn(async move {
            a.request(identity(62).node_id(), &[silent_addr], b"x".to_vec())
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = std::time::Instant::now();
    let to_b = {
        let a = a.clone();
        let b_id = b.node_id();
        tokio::spawn(async move { a.request(b_id, &[b_addr], b"x".to_vec()).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        b.request(a.node_id(), &[a_addr], b"y".to_vec())
            .await
            .unwrap(),
        b"re:y"
    );
    assert_eq!(to_b.await.unwrap().unwrap(), b"re:x");
    let waited = started.elapsed();
    assert!(
        waited >= crate::DIAL_SLOT_HOLD - Duration::from_millis(150),
        "the second dial did not wait for the slot: {waited:?}"
    );
    assert_eq!(
        b.connection_count(),
        1,
        "a dialled b although b had connected"
    );
    hung.abort();
    a.close().await;
    b.close().await;
}

#[test]
fn own_certificate_verifies_and_expires() {
    let id = identity(40);
    let now = SystemTime::now();
    let (cert, _) = make_certificate(&id, now, Duration::from_secs(3600), None).unwrap();
    let secs = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert_eq!(
        verify_certificate(&cert, secs).unwrap().node_id,
        id.node_id()
    );
    // The post-handshake shortcut names the same node.
    assert_eq!(bound_identity(&cert).unwrap().0, id.identity_key());
    // A verifier whose clock is 3 days off either way still accepts it
    // (field laptops run without NTP)...
    for off in [3 * 86_400, -3 * 86_400] {
        assert!(verify_certificate(&cert, secs.saturating_add_signed(off)).is_ok());
    }
    // ...but not beyond the tolerated skew.
    assert_eq!(
        verify_certificate(&cert, secs + 10 * 86_400),
        Err(BindingError::Expired)
    );
    assert_eq!(
        verify_certificate(&cert, secs - 10 * 86_400),
        Err(BindingError::Expired)
    );
    // Flipping any byte of the certificate breaks parsing or the binding.
    for i in (0..cert.len()).step_by(7) {
        let mut bad = cert.to_vec();
        bad[i] ^= 0x01;
        if let Ok(bound) = verify_certificate(&bad, secs) {
            // Only bytes outside the binding and the SPKI may change silently
            // (e.g. the serial number), and then the identity is unchanged.
            assert_eq!(bound.node_id, id.node_id());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_responder_and_oversize_bodies() {
    let mut small = config();
    small.max_frame_len = 64;
    let (a, _a_in, _) = node(50, config());
    let (b, mut b_in, b_addr) = node(51, small);
    tokio::spawn(async move {
        while let Some(ev) = b_in.recv().await {
            drop(ev); // never answers
        }
    });
    let err = a
        .request(b.node_id(), &[b_addr], b"x".to_vec())
        .await
        .unwrap_err();
    assert!(
        matches!(err, RequestError::Rejected(c) if c == u64::from(CODE_NO_RESPONSE)),
        "{err:?}"
    );
    // Over the receiver's limit: refused on the length prefix.
    let err = a.request(b.node_id(), &[], vec![0; 65]).await.unwrap_err();
    assert!(
        matches!(err, RequestError::Rejected(_) | RequestError::Stream(_)),
        "{err:?}"
    );
    // Over our own limit: refused locally.
    let err = b.request(a.node_id(), &[], vec![0; 65]).await.unwrap_err();
    assert!(
        matches!(err, RequestError::TooLarge { len: 65, max: 64 }),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backoff_after_failed_dial() {
    let mut cfg = config();
    cfg.handshake_timeout = Duration::from_millis(200);
    let (a, _a_in, _) = node(60, cfg);
    // A UDP socket that never answers.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    let peer = identity(61).node_id();
    let err = a.request(peer, &[addr], b"x".to_vec()).await.unwrap_err();
    assert!(matches!(err, RequestError::Handshake(_)), "{err:?}");
    let err = a.request(peer, &[addr], b"x".to_vec()).await.unwrap_err();
    match err {
        RequestError::BackingOff { retry_in } => assert!(retry_in <= Duration::from_secs(5)),
        other => panic!("expected backoff, got {other:?}"),
    }
}

#[test]
fn backoff_grows_with_jitter_and_caps() {
    let base = Duration::from_millis(100);
    let max = Duration::from_secs(2);
    for failures in 1..40 {
        let full = (base * 2u32.saturating_pow((failures - 1).min(30))).min(max);
        for _ in 0..20 {
            let d = backoff_delay(failures, base, max);
            assert!(d >= full / 2 && d <= full, "{failures}: {d:?} vs {full:?}");
        }
    }
}

/// A bare, correctly authenticated quinn connection to `addr`, for sending
/// hostile stream contents.
async fn raw_authenticated(seed: u64, expected: NodeId, addr: SocketAddr) -> quinn::Connection {
    let cert = make_certificate(
        &identity(seed),
        SystemTime::now(),
        Duration::from_secs(3600),
        None,
    )
    .unwrap();
    let tls = LocalTls::new(cert.0, cert.1, AdmissionGate::default()).unwrap();
    let quic =
        quinn::crypto::rustls::QuicClientConfig::try_from(tls.client_config(expected).unwrap())
            .unwrap();
    let mut ep = quinn::Endpoint::client(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).unwrap();
    ep.set_default_client_config(quinn::ClientConfig::new(Arc::new(quic)));
    ep.connect(addr, SERVER_NAME).unwrap().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_peers_do_not_disturb_others() {
    let mut cfg = config();
    cfg.request_timeout = Duration::from_millis(800);
    cfg.max_frame_len = 1024;
    let (b, b_in, b_addr) = node(70, cfg);
    let mut b_seen = echo(b_in);
    let (a, _a_in, _) = node(71, config());

    // Garbage datagrams, some shaped like QUIC long headers.
    let junk = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for i in 0..500u32 {
        let mut d = vec![0u8; 1 + (i as usize * 37) % 1400];
        for (j, byte) in d.iter_mut().enumerate() {
            *byte = (i as usize * 31 + j * 7) as u8;
        }
        if i % 2 == 0 {
            d[0] = 0xc0 | (i as u8 & 0x3f);
        }
        junk.send_to(&d, b_addr).unwrap();
    }

    let evil = raw_authenticated(72, b.node_id(), b_addr).await;
    // Oversize length prefix.
    let (mut s1, _r1) = evil.open_bi().await.unwrap();
    s1.write_all(&u32::MAX.to_be_bytes()).await.unwrap();
    // Stall mid-frame: announce 100 bytes, send 10.
    let (mut s2, _r2) = evil.open_bi().await.unwrap();
    s2.write_all(&100u32.to_be_bytes()).await.unwrap();
    s2.write_all(&[7; 10]).await.unwrap();
    // Truncated frame on a push stream.
    let mut s3 = evil.open_uni().await.unwrap();
    s3.write_all(&[0, 0, 0, 9, 1, 2]).await.unwrap();
    s3.finish().unwrap();

    // Meanwhile an honest peer is served normally, several times.
    for i in 0..5u8 {
        let resp = a.request(b.node_id(), &[b_addr], vec![i]).await.unwrap();
        assert_eq!(resp, [b'r', b'e', b':', i]);
    }
    assert_eq!(
        timeout(Duration::from_secs(2), s1.stopped())
            .await
            .unwrap()
            .unwrap(),
        Some(quinn::VarInt::from_u32(crate::CODE_BAD_FRAME))
    );
    assert_eq!(
        timeout(Duration::from_secs(3), s2.stopped())
            .await
            .unwrap()
            .unwrap(),
        Some(quinn::VarInt::from_u32(crate::CODE_TIMEOUT))
    );
    // Only the honest requests reached the application.
    for _ in 0..5 {
        assert_eq!(b_seen.recv().await.unwrap().0, a.node_id());
    }
    assert!(quiet_for(&mut b_seen));
    // The hostile connection itself stays up: framing errors are per stream.
    assert!(evil.close_reason().is_none());
    assert_eq!(
        a.request(b.node_id(), &[], b"ok".to_vec()).await.unwrap(),
        b"re:ok"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_split_anywhere_are_read_and_trailing_bytes_refused() {
    let (b, b_in, b_addr) = node(75, config());
    let mut b_seen = echo(b_in);
    let peer = raw_authenticated(76, b.node_id(), b_addr).await;

    // Header and body arrive in pieces, the header itself split in two.
    let (mut send, mut recv) = peer.open_bi().await.unwrap();
    for piece in [&[0u8, 0][..], &[0, 5, b'h'][..], &b"el"[..], &b"lo"[..]] {
        send.write_all(piece).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    send.finish().unwrap();
    let resp = recv.read_to_end(64).await.unwrap();
    assert_eq!(resp, b"\0\0\0\x08re:hello");
    assert_eq!(b_seen.recv().await.unwrap().1, b"hello");

    // A zero-length body is a frame too.
    let (mut send, mut recv) = peer.open_bi().await.unwrap();
    send.write_all(&[0, 0, 0, 0]).await.unwrap();
    send.finish().unwrap();
    assert_eq!(recv.read_to_end(64).await.unwrap(), b"\0\0\0\x03re:");
    assert_eq!(b_seen.recv().await.unwrap().1, b"");

    // Bytes after the frame: the request is refused, nothing is delivered.
    let (mut send, mut recv) = peer.open_bi().await.unwrap();
    send.write_all(&[0, 0, 0, 1, b'x', b'y']).await.unwrap();
    send.finish().unwrap();
    assert!(matches!(
        recv.read_to_end(64).await,
        Err(quinn::ReadToEndError::Read(quinn::ReadError::Reset(code)))
            if code == quinn::VarInt::from_u32(CODE_NO_RESPONSE)
    ));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(quiet_for(&mut b_seen));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_limits_refuse_cleanly() {
    // Total connections.
    let mut cfg = config();
    cfg.max_connections = 2;
    let (b, b_in, b_addr) = node(80, cfg);
    let _e = echo(b_in);
    let (a1, _i1, _) = node(81, config());
    let (a2, _i2, _) = node(82, config());
    let (a3, _i3, _) = node(83, config());
    a1.request(b.node_id(), &[b_addr], b"1".to_vec())
        .await
        .unwrap();
    a2.request(b.node_id(), &[b_addr], b"2".to_vec())
        .await
        .unwrap();
    let err = a3
        .request(b.node_id(), &[b_addr], b"3".to_vec())
        .await
        .unwrap_err();
    assert!(matches!(err, RequestError::Handshake(_)), "{err:?}");
    assert_eq!(b.connection_count(), 2);
    // The admitted peers are unaffected, and the limit binds outbound dials too.
    a1.request(b.node_id(), &[], b"again".to_vec())
        .await
        .unwrap();
    let err = b
        .request(a3.node_id(), &[a3.local_addr().unwrap()], b"x".to_vec())
        .await;
    assert!(matches!(err, Err(RequestError::ConnectionLimit)), "{err:?}");

    // Connections per remote IP.
    let mut cfg = config();
    cfg.max_connections_per_ip = 1;
    let (c, c_in, c_addr) = node(84, cfg);
    let _e = echo(c_in);
    a1.request(c.node_id(), &[c_addr], b"1".to_vec())
        .await
        .unwrap();
    let err = a2
        .request(c.node_id(), &[c_addr], b"2".to_vec())
        .await
        .unwrap_err();
    assert!(matches!(err, RequestError::Handshake(_)), "{err:?}");
    a1.request(c.node_id(), &[], b"again".to_vec())
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_limit_holds_extra_requests_back() {
    let mut cfg = config();
    cfg.max_streams_per_connection = 2;
    let (b, mut b_in, b_addr) = node(90, cfg);
    let (a, _a_in, _) = node(91, config());
    let peer = b.node_id();
    let mut tasks = Vec::new();
    for i in 0..3u8 {
        let a = a.clone();
        tasks.push(tokio::spawn(async move {
            a.request(peer, &[b_addr], vec![i]).await
        }));
    }
    let mut held = Vec::new();
    for _ in 0..2 {
        match timeout(Duration::from_secs(2), b_in.recv())
            .await
            .unwrap()
            .unwrap()
        {
            InboundEvent::Request { reply, body, .. } => held.push((reply, body)),
            other => panic!("{other:?}"),
        }
    }
    // The third stream cannot even open while two are outstanding.
    assert!(
        timeout(Duration::from_millis(400), b_in.recv())
            .await
            .is_err()
    );
    for (reply, body) in held {
        reply.send(body).await.unwrap();
    }
    match timeout(Duration::from_secs(2), b_in.recv())
        .await
        .unwrap()
        .unwrap()
    {
        InboundEvent::Request { reply, body, .. } => reply.send(body).await.unwrap(),
        other => panic!("{other:?}"),
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
}

/// Accepts any server, after blocking its thread: keeps a handshake open.
#[derive(Debug)]
struct SlowVerifier(crate::tls::PeerVerifier);

impl rustls::client::danger::ServerCertVerifier for SlowVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &rustls::pki_types::ServerName<'_>,
        ocsp: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        std::thread::sleep(Duration::from_millis(1500));
        self.0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::client::danger::ServerCertVerifier::verify_tls12_signature(&self.0, m, c, d)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::client::danger::ServerCertVerifier::verify_tls13_signature(&self.0, m, c, d)
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        rustls::client::danger::ServerCertVerifier::supported_verify_schemes(&self.0)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshake_limit_refuses_extra_handshakes() {
    let mut cfg = config();
    cfg.max_concurrent_handshakes = 1;
    let (b, b_in, b_addr) = node(95, cfg);
    let _e = echo(b_in);
    // A slow client on its own thread holds the only handshake slot.
    let expected = b.node_id();
    let slow = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let (cert, key) = make_certificate(
                &identity(96),
                SystemTime::now(),
                Duration::from_secs(60),
                None,
            )
            .unwrap();
            let provider = crate::tls::provider();
            let mut tls = rustls::ClientConfig::builder_with_provider(provider.clone())
                .with_protocol_versions(&[&rustls::version::TLS13])
                .unwrap()
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(SlowVerifier(
                    crate::tls::PeerVerifier::new(
                        &provider,
                        Some(expected),
                        AdmissionGate::default(),
                    ),
                )))
                .with_client_auth_cert(vec![cert], key)
                .unwrap();
            tls.alpn_protocols = vec![crate::ALPN.to_vec()];
            let quic = quinn::crypto::rustls::QuicClientConfig::try_from(tls).unwrap();
            let ep = quinn::Endpoint::client(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).unwrap();
            let conn = ep
                .connect_with(
                    quinn::ClientConfig::new(Arc::new(quic)),
                    b_addr,
                    SERVER_NAME,
                )
                .unwrap()
                .await;
            conn.is_ok()
        })
    });
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (a, _a_in, _) = node(97, config());
    let err = a
        .request(b.node_id(), &[b_addr], b"x".to_vec())
        .await
        .unwrap_err();
    assert!(matches!(err, RequestError::Handshake(_)), "{err:?}");
    assert!(slow.join().unwrap(), "the slow handshake itself completes");
    // Once the slot is free, handshakes are admitted again (on a loaded
    // machine the freed slot may take a moment: a few tries).
    let mut last = None;
    for attempt in 0..5u64 {
        // A fresh node each time: a failed dial would back off.
        let (a2, _a2_in, _) = node(98 + 100 * attempt, config());
        match a2.request(b.node_id(), &[b_addr], b"y".to_vec()).await {
            Ok(_) => {
                last = None;
                break;
            }
            Err(e) => {
                last = Some(e);
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
    assert!(last.is_none(), "never admitted again: {last:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbound_buffer_budget_is_shared_and_bounded() {
    let mut cfg = config();
    cfg.max_frame_len = 1000;
    cfg.inbound_buffer_bytes = 1000;
    cfg.request_timeout = Duration::from_millis(800);
    let (b, b_in, b_addr) = node(110, cfg);
    let mut b_seen = echo(b_in);
    let (a, _a_in, _) = node(111, config());
    a.request(b.node_id(), &[b_addr], b"warm".to_vec())
        .await
        .unwrap();
    b_seen.recv().await.unwrap();

    // A stalled 1000-byte frame reserves the whole budget...
    let evil = raw_authenticated(112, b.node_id(), b_addr).await;
    let (mut s, _r) = evil.open_bi().await.unwrap();
    s.write_all(&1000u32.to_be_bytes()).await.unwrap();
    s.write_all(&[1; 10]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // ...so the next frame waits for it to be released (when the stalled
    // stream times out) instead of growing memory.
    let start = std::time::Instant::now();
    let resp = a
        .request(b.node_id(), &[], b"later".to_vec())
        .await
        .unwrap();
    assert_eq!(resp, b"re:later");
    assert!(
        start.elapsed() >= Duration::from_millis(400),
        "{:?}",
        start.elapsed()
    );
}

/// SubjectPublicKeyInfo of a certificate's key.
fn spki_of(cert: &CertificateDer<'_>) -> Vec<u8> {
    bound_identity(cert).unwrap().1.to_vec()
}

/// The next inbound request of `inbound`, unanswered.
async fn next_request(inbound: &mut Inbound) -> (Vec<u8>, Responder) {
    match timeout(Duration::from_secs(3), inbound.recv())
        .await
        .unwrap()
        .unwrap()
    {
        InboundEvent::Request { body, reply, .. } => (body, reply),
        other => panic!("expected a request, got {other:?}"),
    }
}

#[test]
fn rotation_is_due_halfway_through_the_lifetime() {
    let issued = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let day = Duration::from_secs(86_400);
    let year = 365 * day;
    assert_eq!(rotation_age(year), year / 2);
    // Long waits are cut into wall-clock checks.
    assert_eq!(
        rotation_wait(issued, issued, year),
        CERTIFICATE_CHECK_INTERVAL
    );
    assert_eq!(
        rotation_wait(issued, issued + year / 2 - Duration::from_secs(10), year),
        Duration::from_secs(10)
    );
    assert_eq!(
        rotation_wait(issued, issued + year / 2, year),
        Duration::ZERO
    );
    assert_eq!(
        rotation_wait(issued, issued + 2 * year, year),
        Duration::ZERO
    );
    // A wall clock set back before the issue counts as no time passed.
    assert_eq!(
        rotation_wait(issued, issued - day, year),
        CERTIFICATE_CHECK_INTERVAL
    );
    let hour = Duration::from_secs(3600);
    assert_eq!(rotation_wait(issued, issued, hour), hour / 2);
    assert_eq!(
        rotation_wait(issued, issued + Duration::from_secs(1700), hour),
        Duration::from_secs(100)
    );
    // Tiny lifetimes are floored, so the timer cannot spin.
    assert_eq!(rotation_age(Duration::ZERO), MIN_CERTIFICATE_ROTATION_AGE);
    assert_eq!(
        rotation_wait(issued, issued, Duration::from_millis(10)),
        MIN_CERTIFICATE_ROTATION_AGE
    );
    assert_eq!(
        rotation_wait(
            issued,
            issued + MIN_CERTIFICATE_ROTATION_AGE,
            Duration::ZERO
        ),
        Duration::ZERO
    );
    // The certificate is still valid when it is replaced, and to the end of
    // its lifetime, for the connections that already use it.
    let id = identity(300);
    let (cert, _) = make_certificate(&id, issued, year, None).unwrap();
    let secs = |t: SystemTime| t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
    assert!(verify_certificate(&cert, secs(issued + rotation_age(year))).is_ok());
    assert!(verify_certificate(&cert, secs(issued + year)).is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotated_certificate_is_presented_to_new_dials() {
    let (a, a_in, a_addr) = node(310, config());
    let _ea = echo(a_in);
    let old = a.certificate();
    a.rotate_certificate().unwrap();
    let new = a.certificate();
    assert_ne!(spki_of(&old), spki_of(&new));
    assert_eq!(
        NodeId::from_identity(&bound_identity(&new).unwrap().0),
        a.node_id()
    );

    let (c, _c_in, _) = node(311, config());
    let resp = c
        .request(a.node_id(), &[a_addr], b"hi".to_vec())
        .await
        .unwrap();
    assert_eq!(resp, b"re:hi");
    // The dialler verified and recorded the new certificate key...
    assert_eq!(
        c.link_sessions(a.node_id()),
        vec![(spki_of(&new), spki_of(&c.certificate()))]
    );
    // ...and the dialled side knows it answered with it.
    let on_a = a.link_sessions(c.node_id());
    assert_eq!(on_a.len(), 1);
    assert_eq!(on_a[0].1, spki_of(&new));
    a.close().await;
    c.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_made_before_rotation_keeps_serving() {
    let (a, a_in, a_addr) = node(320, config());
    let (b, b_in, b_addr) = node(321, config());
    let mut a_seen = echo(a_in);
    let mut b_seen = echo(b_in);
    a.request(b.node_id(), &[b_addr], b"before".to_vec())
        .await
        .unwrap();
    b_seen.recv().await.unwrap();
    let on_a = a.link_sessions(b.node_id());
    let on_b = b.link_sessions(a.node_id());

    a.rotate_certificate().unwrap();
    b.rotate_certificate().unwrap();
    for i in 0..5u8 {
        assert_eq!(
            a.request(b.node_id(), &[b_addr], vec![i]).await.unwrap(),
            [b"re:".as_slice(), &[i]].concat()
        );
        assert_eq!(b_seen.recv().await.unwrap(), (a.node_id(), vec![i]));
        assert_eq!(
            b.request(a.node_id(), &[a_addr], vec![i]).await.unwrap(),
            [b"re:".as_slice(), &[i]].concat()
        );
        assert_eq!(a_seen.recv().await.unwrap(), (b.node_id(), vec![i]));
    }
    a.push(b.node_id(), &[], b"one-way".to_vec()).await.unwrap();
    assert_eq!(
        b_seen.recv().await.unwrap(),
        (a.node_id(), b"one-way".to_vec())
    );
    // Still the one connection made with the old certificates.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(a.link_sessions(b.node_id()), on_a);
    assert_eq!(b.link_sessions(a.node_id()), on_b);
    assert_eq!((a.connection_count(), b.connection_count()), (1, 1));
    assert_eq!(
        (a.quic_connection_count(), b.quic_connection_count()),
        (1, 1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_keep_working_across_rotations() {
    let (a, a_in, a_addr) = node(330, config());
    let (b, b_in, b_addr) = node(331, config());
    let _ea = echo(a_in);
    let _eb = echo(b_in);
    a.request(b.node_id(), &[b_addr], b"start".to_vec())
        .await
        .unwrap();
    let mut seen = vec![spki_of(&a.certificate())];
    for round in 0..4u64 {
        a.rotate_certificate().unwrap();
        if round % 2 == 1 {
            b.rotate_certificate().unwrap();
        }
        let key = spki_of(&a.certificate());
        assert!(!seen.contains(&key), "every rotation makes a fresh key");
        seen.push(key.clone());
        a.request(b.node_id(), &[b_addr], b"ab".to_vec())
            .await
            .unwrap();
        b.request(a.node_id(), &[a_addr], b"ba".to_vec())
            .await
            .unwrap();
        // A newcomer meets the latest certificate.
        let (c, _c_in, _) = node(340 + round, config());
        c.request(a.node_id(), &[a_addr], b"new".to_vec())
            .await
            .unwrap();
        assert_eq!(c.link_sessions(a.node_id())[0].0, key);
        c.close().await;
    }
    assert_eq!((a.connection_count(), b.connection_count()), (1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_is_replaced_when_half_its_lifetime_passed() {
    let mut cfg = config();
    cfg.certificate_lifetime = Duration::from_secs(2);
    let (a, a_in, a_addr) = node(350, cfg);
    let _ea = echo(a_in);
    let first = spki_of(&a.certificate());
    let mut rotated = false;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if spki_of(&a.certificate()) != first {
            rotated = true;
            break;
        }
    }
    assert!(rotated, "the timer replaced the certificate");
    let (c, _c_in, _) = node(351, config());
    c.request(a.node_id(), &[a_addr], b"x".to_vec())
        .await
        .unwrap();
    assert_ne!(c.link_sessions(a.node_id())[0].0, first);
    a.close().await;
    assert!(matches!(
        a.rotate_certificate(),
        Err(crate::TransportError::Closed)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_connection_with_new_certificate_spares_requests_in_flight() {
    let (a, mut a_in, _) = node(360, config());
    let (b, mut b_in, b_addr) = node(361, config());
    let (a_id, b_id) = (a.node_id(), b.node_id());
    // One request each way, both held unanswered on the first connection.
    let to_b = tokio::spawn({
        let a = a.clone();
        async move { a.request(b_id, &[b_addr], b"to-b".to_vec()).await }
    });
    let (body, reply_b) = next_request(&mut b_in).await;
    assert_eq!(body, b"to-b");
    let to_a = tokio::spawn({
        let b = b.clone();
        async move { b.request(a_id, &[], b"to-a".to_vec()).await }
    });
    let (body, reply_a) = next_request(&mut a_in).await;
    assert_eq!(body, b"to-a");
    let first = b.link_sessions(a_id);

    // The same node reaches b again, with a certificate made afterwards.
    a.rotate_certificate().unwrap();
    let again = raw_authenticated(360, b_id, b_addr).await;
    for _ in 0..30 {
        if b.link_sessions(a_id) != first {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let now = b.link_sessions(a_id);
    assert_eq!(now.len(), 1, "new work goes to the new connection only");
    assert_ne!(now, first);
    // Well past the duplicate grace: the old connection still carries both.
    tokio::time::sleep(Duration::from_millis(400)).await;
    reply_b.send(b"from-b".to_vec()).await.unwrap();
    reply_a.send(b"from-a".to_vec()).await.unwrap();
    assert_eq!(to_b.await.unwrap().unwrap(), b"from-b");
    assert_eq!(to_a.await.unwrap().unwrap(), b"from-a");

    // Then the old connection is closed as replaced, and a's next request
    // dials b with a's current certificate.
    for _ in 0..50 {
        if a.connection_count() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(a.connection_count(), 0);
    let served = tokio::spawn(async move {
        let (body, reply) = next_request(&mut b_in).await;
        reply.send(body).await.unwrap();
    });
    assert_eq!(
        a.request(b_id, &[b_addr], b"later".to_vec()).await.unwrap(),
        b"later"
    );
    served.await.unwrap();
    assert_eq!(
        b.link_sessions(a_id),
        vec![(spki_of(&a.certificate()), spki_of(&b.certificate()))]
    );
    drop(again);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_restarted_after_kill_9_resets_the_old_connection_at_once() {
    let cfg = config();
    let request_timeout = cfg.request_timeout;
    // B runs in a runtime of its own, so that it can die without a goodbye.
    let b_id = identity(120).node_id();
    let (b_addr_tx, b_addr_rx) = std::sync::mpsc::channel();
    let (kill_tx, kill_rx) = std::sync::mpsc::channel::<()>();
    let b_cfg = cfg.clone();
    let b_thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let (b, b_in, b_addr) = rt.block_on(async { node(120, b_cfg) });
        let _seen = rt.block_on(async { echo(b_in) });
        b_addr_tx.send(b_addr).unwrap();
        kill_rx.recv().unwrap();
        // Like kill -9: every task and then the socket vanish, and nothing
        // is sent (no runtime is left to send a close).
        rt.shutdown_background();
        drop(b);
    });
    let b_addr = b_addr_rx.recv().unwrap();
    let (a, _a_in, _) = node(121, config());
    a.request(b_id, &[b_addr], b"before".to_vec())
        .await
        .unwrap();
    kill_tx.send(()).unwrap();
    b_thread.join().unwrap();
    // The same identity comes back on the same port.
    let mut again = config();
    again.listen = b_addr;
    // The dead runtime lets go of the socket in the background.
    let mut bound = None;
    for _ in 0..100 {
        match Transport::bind(again.clone(), &identity(120)) {
            Ok(b2) => {
                bound = Some(b2);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    let (_b2, b2_in) = bound.expect("the old socket was never released");
    let _b2_seen = echo(b2_in);
    let started = std::time::Instant::now();
    let first = a.request(b_id, &[b_addr], b"after".to_vec()).await;
    let took = started.elapsed();
    assert!(
        took < request_timeout / 2,
        "the stale connection lingered for {took:?} ({first:?})"
    );
    // Whatever the first request met, the next one reaches the new process.
    let resp = match first {
        Ok(r) => r,
        Err(_) => a.request(b_id, &[b_addr], b"after".to_vec()).await.unwrap(),
    };
    assert_eq!(resp, b"re:after");
}
