//! Ephemeral identity-bound certificates and the TLS 1.3 configurations that
//! verify them on both sides.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use quinn::VarInt;
use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use rcgen::{CertificateParams, CustomExtension, DnType, KeyPair, PublicKeyData};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, OtherError, SignatureScheme,
};
use tacnode_crypto::Identity;
use tacnode_domain::{MemberCertificate, NodeId, NodeType, UnixMillis};

use crate::admission_gate::AdmissionGate;
use crate::binding::{
    BINDING_OID, BindingError, MEMBER_OID, binding_message, civil_from_days, encode_binding,
    encode_member, verify_certificate,
};
use crate::config::{CERTIFICATE_CHECK_INTERVAL, MIN_CERTIFICATE_ROTATION_AGE, TransportConfig};
use crate::error::TransportError;

/// ALPN protocol id of the transport.
pub const ALPN: &[u8] = b"tacnode/1";
/// ALPN protocol id of a dial-back: a handshake that proves a node can be
/// dialled, closed at once; the acceptor never uses the connection.
pub const DIAL_BACK_ALPN: &[u8] = b"tacnode-dial-back/1";

/// Server name sent in dials. SNI is disabled, so it never leaves the host;
/// the peer is identified by the expected [`NodeId`] instead.
pub(crate) const SERVER_NAME: &str = "tacnode";

/// The local certificate and key, ready for both TLS roles.
#[derive(Debug, Clone)]
pub(crate) struct LocalTls {
    provider: Arc<CryptoProvider>,
    certified: Arc<CertifiedKey>,
    gate: AdmissionGate,
}

pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn unix_secs(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Builds the certificate parameters for a validity window given as Unix
/// seconds; rcgen takes whole days, so the window is widened to day bounds.
fn params_for_window(not_before: i64, not_after: i64) -> Result<CertificateParams, TransportError> {
    let day = |secs: i64| {
        let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
        match (i32::try_from(y), u8::try_from(m), u8::try_from(d)) {
            (Ok(y), Ok(m), Ok(d)) => Ok(rcgen::date_time_ymd(y, m, d)),
            _ => Err(TransportError::Config("certificate date out of range")),
        }
    };
    let mut params = CertificateParams::default();
    params.not_before = day(not_before)?;
    params.not_after = day(not_after.saturating_add(86_400))?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, "tacnode");
    Ok(params)
}

/// Makes a fresh Ed25519 key and a self-signed certificate bound to `identity`.
///
/// The certificate is valid from one day before `now` (clock skew) for `lifetime`.
/// In a closed network `member` is the node's member certificate, carried
/// in its own extension.
pub(crate) fn make_certificate(
    identity: &Identity,
    now: SystemTime,
    lifetime: Duration,
    member: Option<&MemberCertificate>,
) -> Result<(CertificateDer<'static>, PrivateKeyDer<'static>), TransportError> {
    let key = KeyPair::generate_for(&rcgen::PKCS_ED25519)?;
    let spki = key.subject_public_key_info();
    let now_secs = unix_secs(now);
    let lifetime = i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX / 2);
    let mut params = params_for_window(now_secs - 86_400, now_secs.saturating_add(lifetime))?;
    // The identity signs the window exactly as the certificate encodes it.
    let signature = identity.sign(&binding_message(
        &spki,
        params.not_before.unix_timestamp(),
        params.not_after.unix_timestamp(),
    ));
    params
        .custom_extensions
        .push(CustomExtension::from_oid_content(
            BINDING_OID,
            encode_binding(&identity.identity_key(), &signature),
        ));
    if let Some(member) = member {
        params
            .custom_extensions
            .push(CustomExtension::from_oid_content(
                MEMBER_OID,
                encode_member(member),
            ));
    }
    let cert = params.self_signed(&key)?;
    let der = cert.der().clone();
    // Verify our own certificate as a peer would: catches any mismatch
    // between the SPKI we signed and the one the certificate carries.
    let now_u = u64::try_from(now_secs).unwrap_or(0);
    let bound = verify_certificate(&der, now_u)
        .map_err(|_| TransportError::Config("generated certificate does not verify"))?;
    if bound.node_id != identity.node_id() {
        return Err(TransportError::Config(
            "generated certificate bound to another node",
        ));
    }
    let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    Ok((der, key_der))
}

/// Age at which a certificate of `lifetime` is replaced: halfway through
/// its lifetime, so a replacement failing once still leaves time to retry,
/// but never younger than [`MIN_CERTIFICATE_ROTATION_AGE`].
pub(crate) fn rotation_age(lifetime: Duration) -> Duration {
    (lifetime / 2).max(MIN_CERTIFICATE_ROTATION_AGE)
}

/// How long to wait at `now` before replacing a certificate issued at
/// `issued` for `lifetime`: zero once it is due. The wait is capped at
/// [`CERTIFICATE_CHECK_INTERVAL`] because it is slept on the monotonic clock,
/// which stands still while the host is suspended and ignores wall-clock
/// steps; the caller re-reads the wall clock after each wait. A wall clock
/// earlier than `issued` counts as no time passed.
pub(crate) fn rotation_wait(issued: SystemTime, now: SystemTime, lifetime: Duration) -> Duration {
    let age = now.duration_since(issued).unwrap_or(Duration::ZERO);
    rotation_age(lifetime)
        .saturating_sub(age)
        .min(CERTIFICATE_CHECK_INTERVAL)
}

impl LocalTls {
    /// Loads a certificate and key for both roles.
    pub(crate) fn new(
        cert: CertificateDer<'static>,
        key: PrivateKeyDer<'static>,
        gate: AdmissionGate,
    ) -> Result<Self, TransportError> {
        let provider = provider();
        let certified = Arc::new(CertifiedKey::from_der(vec![cert], key, &provider)?);
        Ok(Self {
            provider,
            certified,
            gate,
        })
    }

    /// Server side: mandatory client certificates checked by [`PeerVerifier`].
    pub(crate) fn server_config(&self) -> Result<rustls::ServerConfig, TransportError> {
        let verifier = Arc::new(PeerVerifier::new(&self.provider, None, self.gate.clone()));
        let mut cfg = rustls::ServerConfig::builder_with_provider(self.provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_client_cert_verifier(verifier)
            .with_cert_resolver(Arc::new(SingleCertAndKey::from(self.certified.clone())));
        cfg.alpn_protocols = vec![ALPN.to_vec(), DIAL_BACK_ALPN.to_vec()];
        Ok(cfg)
    }

    /// Client side for a dial to `expected`.
    pub(crate) fn client_config(
        &self,
        expected: NodeId,
    ) -> Result<rustls::ClientConfig, TransportError> {
        let verifier = Arc::new(PeerVerifier::new(
            &self.provider,
            Some(expected),
            self.gate.clone(),
        ));
        let mut cfg = rustls::ClientConfig::builder_with_provider(self.provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_client_cert_resolver(Arc::new(SingleCertAndKey::from(self.certified.clone())));
        cfg.alpn_protocols = vec![ALPN.to_vec()];
        cfg.enable_sni = false;
        Ok(cfg)
    }
}

/// Verifies a peer certificate: one certificate, validity window, identity
/// binding, (when dialling) the expected node, and in a closed network the
/// member certificate.
#[derive(Debug)]
pub(crate) struct PeerVerifier {
    algorithms: WebPkiSupportedAlgorithms,
    expected: Option<NodeId>,
    gate: AdmissionGate,
}

/// Only TLS 1.3 is enabled; a TLS 1.2 signature is never acceptable.
fn tls12_refused() -> rustls::Error {
    rustls::Error::PeerIncompatible(rustls::PeerIncompatible::Tls13RequiredForQuic)
}

impl PeerVerifier {
    /// The handshake signature, the same in both roles: proves the peer
    /// holds the certificate key.
    fn tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    pub(crate) fn new(
        provider: &CryptoProvider,
        expected: Option<NodeId>,
        gate: AdmissionGate,
    ) -> Self {
        Self {
            algorithms: provider.signature_verification_algorithms,
            expected,
            gate,
        }
    }

    fn verify(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<(), rustls::Error> {
        if !intermediates.is_empty() {
            return Err(cert_error(BindingError::Intermediates));
        }
        let bound = verify_certificate(end_entity, now.as_secs()).map_err(cert_error)?;
        if let Some(expected) = self.expected
            && bound.node_id != expected
        {
            return Err(cert_error(BindingError::UnexpectedPeer {
                expected,
                actual: bound.node_id,
            }));
        }
        // The node type is not known yet: the handshake admits any member;
        // its peer record is checked against the certified role.
        let now_ms = UnixMillis(now.as_secs().saturating_mul(1_000));
        self.gate
            .current()
            .admit(
                bound.member.as_ref(),
                &bound.identity,
                NodeType::Client,
                now_ms,
            )
            .map_err(|e| cert_error(BindingError::NotAdmitted(e)))?;
        Ok(())
    }
}

fn cert_error(e: BindingError) -> rustls::Error {
    tracing::debug!(error = %e, "peer certificate refused");
    match e {
        BindingError::Expired => rustls::Error::InvalidCertificate(CertificateError::Expired),
        other => {
            rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(other))))
        }
    }
}

impl ServerCertVerifier for PeerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.verify(end_entity, intermediates, now)?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(tls12_refused())
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

impl ClientCertVerifier for PeerVerifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.verify(end_entity, intermediates, now)?;
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(tls12_refused())
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// QUIC transport parameters shared by every connection.
fn quic_transport_config(
    config: &TransportConfig,
) -> Result<quinn::TransportConfig, TransportError> {
    let mut t = quinn::TransportConfig::default();
    if !config.mtu_discovery {
        t.mtu_discovery_config(None);
    }
    let streams = VarInt::from_u32(config.max_streams_per_connection);
    t.max_concurrent_bidi_streams(streams)
        .max_concurrent_uni_streams(streams)
        .keep_alive_interval((!config.keep_alive.is_zero()).then_some(config.keep_alive))
        .max_idle_timeout(Some(
            quinn::IdleTimeout::try_from(config.idle_timeout)
                .map_err(|_| TransportError::Config("idle_timeout out of range"))?,
        ))
        .receive_window(VarInt::from_u32(config.connection_receive_window))
        .datagram_receive_buffer_size(None);
    Ok(t)
}

/// The TLS and QUIC settings of a node: a fresh identity-bound certificate,
/// the verifiers, and the QUIC transport parameters. [`crate::Transport`]
/// uses it internally; tools that talk to a transport with plain quinn (or
/// compare against it) can use it directly.
#[derive(Debug, Clone)]
pub struct QuicSetup {
    tls: LocalTls,
    quic: Arc<quinn::TransportConfig>,
}

impl QuicSetup {
    /// Makes a fresh certificate bound to `identity` and the settings of `config`.
    pub fn new(config: &TransportConfig, identity: &Identity) -> Result<Self, TransportError> {
        Self::issued_at(
            config,
            identity,
            SystemTime::now(),
            AdmissionGate::new(config.admission.clone()),
        )
    }

    /// Like [`QuicSetup::new`], with a certificate valid from `now`, whose
    /// verifiers admit what `gate` holds.
    pub(crate) fn issued_at(
        config: &TransportConfig,
        identity: &Identity,
        now: SystemTime,
        gate: AdmissionGate,
    ) -> Result<Self, TransportError> {
        let (cert, key) = make_certificate(
            identity,
            now,
            config.certificate_lifetime,
            config.member_certificate.as_ref(),
        )?;
        Ok(Self {
            tls: LocalTls::new(cert, key, gate)?,
            quic: Arc::new(quic_transport_config(config)?),
        })
    }

    /// The certificate this setup presents.
    pub(crate) fn certificate(&self) -> Option<&CertificateDer<'static>> {
        self.tls.certified.cert.first()
    }

    /// Accepting side: mandatory, verified client certificates.
    pub fn server_config(&self) -> Result<quinn::ServerConfig, TransportError> {
        let tls = QuicServerConfig::try_from(self.tls.server_config()?)
            .map_err(|_| TransportError::Config("TLS config unusable for QUIC"))?;
        let mut server = quinn::ServerConfig::with_crypto(Arc::new(tls));
        server.transport_config(self.quic.clone());
        Ok(server)
    }

    /// Dialling side, accepting only the node `expected`.
    pub fn client_config(&self, expected: NodeId) -> Result<quinn::ClientConfig, TransportError> {
        self.client_config_for(expected, ALPN)
    }

    /// Client side of a dial-back to `expected` ([`DIAL_BACK_ALPN`]).
    pub fn dial_back_client_config(
        &self,
        expected: NodeId,
    ) -> Result<quinn::ClientConfig, TransportError> {
        self.client_config_for(expected, DIAL_BACK_ALPN)
    }

    fn client_config_for(
        &self,
        expected: NodeId,
        alpn: &[u8],
    ) -> Result<quinn::ClientConfig, TransportError> {
        let mut tls = self.tls.client_config(expected)?;
        tls.alpn_protocols = vec![alpn.to_vec()];
        let tls = QuicClientConfig::try_from(tls)
            .map_err(|_| TransportError::Config("TLS config unusable for QUIC"))?;
        let mut client = quinn::ClientConfig::new(Arc::new(tls));
        client.transport_config(self.quic.clone());
        Ok(client)
    }

    /// The server name to pass to `quinn::Endpoint::connect_with` (SNI is
    /// off; the name is never sent).
    pub fn server_name() -> &'static str {
        SERVER_NAME
    }
}
