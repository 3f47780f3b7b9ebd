//! The identity binding carried by every certificate, and the bounded DER
//! reading needed to find it.
//!
//! Only the few fields the verifiers need are read: the validity window, the
//! SubjectPublicKeyInfo (as raw DER) and the binding extension. The walker
//! never allocates, checks every length against the bytes present, and
//! refuses certificates above [`MAX_CERT_LEN`].

use tacnode_domain::{
    AdmissionError, IdentityKey, KEY_LEN, MemberCertificate, NodeId, SIGNATURE_LEN, Signature,
};

/// Object identifier of the binding extension: `2.25.5427237553652120654`,
/// an arc under `2.25` (ITU-T X.667 UUID-derived identifiers, which need no
/// registration); the value fits in 64 bits so certificate generators that
/// take `u64` arcs can emit it.
pub const BINDING_OID: &[u64] = &[2, 25, 5_427_237_553_652_120_654];

/// DER content octets of [`BINDING_OID`].
const BINDING_OID_DER: [u8; 10] = [0x69, 0xcb, 0xa8, 0xda, 0xf9, 0xce, 0x88, 0xe0, 0xf8, 0x4e];

/// Object identifier of the member certificate extension (closed
/// networks): `2.25.5427237553652120655`, the arc after [`BINDING_OID`].
/// Its value is an OCTET STRING holding the protobuf `MemberCertificate`.
pub const MEMBER_OID: &[u64] = &[2, 25, 5_427_237_553_652_120_655];

/// DER content octets of [`MEMBER_OID`].
const MEMBER_OID_DER: [u8; 10] = [0x69, 0xcb, 0xa8, 0xda, 0xf9, 0xce, 0x88, 0xe0, 0xf8, 0x4f];

/// Domain separator prefixed to the signed validity window and
/// SubjectPublicKeyInfo. Version 2 added the window: a version 1 binding
/// covered the key only, so whoever held one TLS private key could mint a
/// certificate for the same key valid for decades.
pub const BINDING_CONTEXT: &[u8] = b"tacnode-tls-binding/v2";

/// Largest certificate accepted from a peer, in bytes.
pub const MAX_CERT_LEN: usize = 4096;

/// Length of the binding payload: identity key then signature.
pub const BINDING_LEN: usize = KEY_LEN + SIGNATURE_LEN;

/// Why a peer certificate was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BindingError {
    /// Certificate larger than [`MAX_CERT_LEN`].
    #[error("certificate of {0} bytes exceeds {MAX_CERT_LEN}")]
    TooLarge(usize),
    /// Not the DER shape of an X.509 certificate.
    #[error("malformed certificate: {0}")]
    Malformed(&'static str),
    /// No binding extension.
    #[error("certificate carries no identity binding")]
    Missing,
    /// More than one binding extension.
    #[error("certificate carries more than one identity binding")]
    Duplicate,
    /// The identity key in the binding is not a valid Ed25519 key.
    #[error("identity key in the binding is invalid")]
    InvalidKey,
    /// The binding signature does not verify under the bound identity key.
    #[error("identity binding signature is invalid")]
    BadSignature,
    /// The current time is outside the certificate's validity window.
    #[error("certificate is not valid at this time")]
    Expired,
    /// The certificate is bound to another identity than the one dialled.
    #[error("certificate is bound to {actual}, expected {expected}")]
    UnexpectedPeer {
        /// Node the dialler asked for.
        expected: NodeId,
        /// Node the certificate is bound to.
        actual: NodeId,
    },
    /// Intermediate certificates were sent; the scheme uses exactly one.
    #[error("unexpected intermediate certificates")]
    Intermediates,
    /// More than one member certificate extension.
    #[error("certificate carries more than one member certificate")]
    DuplicateMember,
    /// The member certificate extension does not decode.
    #[error("member certificate: {0}")]
    MemberEncoding(String),
    /// A closed network refused the peer (no, a foreign, an expired or a
    /// revoked member certificate).
    #[error("not admitted: {0}")]
    NotAdmitted(AdmissionError),
}

/// The bytes the identity key signs: context || notBefore || notAfter
/// (Unix seconds, i64 big-endian, as the certificate encodes them) ||
/// SubjectPublicKeyInfo DER. The window the verifier checks is the one the
/// identity signed.
pub(crate) fn binding_message(spki_der: &[u8], not_before: i64, not_after: i64) -> Vec<u8> {
    let mut msg = Vec::with_capacity(BINDING_CONTEXT.len() + 16 + spki_der.len());
    msg.extend_from_slice(BINDING_CONTEXT);
    msg.extend_from_slice(&not_before.to_be_bytes());
    msg.extend_from_slice(&not_after.to_be_bytes());
    msg.extend_from_slice(spki_der);
    msg
}

/// The extension value (`extnValue` contents): a DER OCTET STRING holding
/// identity key (32) || signature (64).
pub(crate) fn encode_binding(identity: &IdentityKey, signature: &Signature) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + BINDING_LEN);
    out.push(TAG_OCTET_STRING);
    // BINDING_LEN (96) fits the short length form.
    out.push(BINDING_LEN as u8);
    out.extend_from_slice(identity.as_bytes());
    out.extend_from_slice(signature.as_bytes());
    out
}

/// How far a peer's clock may be from ours, either way, and its
/// certificate still count as valid, in seconds
/// ([`tacnode_domain::MAX_CLOCK_SKEW_MS`]).
pub const MAX_CLOCK_SKEW_SECS: i64 = (tacnode_domain::MAX_CLOCK_SKEW_MS / 1000) as i64;

/// What a verified certificate says about its holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BoundIdentity {
    pub(crate) identity: IdentityKey,
    pub(crate) node_id: NodeId,
    /// The member certificate it carries (closed networks), decoded but
    /// not yet checked against the network's admins.
    pub(crate) member: Option<MemberCertificate>,
}

/// The member certificate extension's value: an OCTET STRING holding the
/// protobuf encoding.
pub(crate) fn encode_member(certificate: &MemberCertificate) -> Vec<u8> {
    let body = tacnode_messaging::encode_member_certificate(certificate);
    let mut out = Vec::with_capacity(4 + body.len());
    out.push(TAG_OCTET_STRING);
    // Certificates are capped at MAX_CERT_LEN (4 KiB): two length bytes suffice.
    match body.len() {
        n @ 0..0x80 => out.push(n as u8),
        n @ 0x80..0x100 => out.extend_from_slice(&[0x81, n as u8]),
        n => out.extend_from_slice(&[0x82, (n >> 8) as u8, n as u8]),
    }
    out.extend_from_slice(&body);
    out
}

/// Checks a peer certificate: size, shape, validity at `now_secs` (Unix
/// seconds), and the binding signature. Returns the bound identity.
pub(crate) fn verify_certificate(der: &[u8], now_secs: u64) -> Result<BoundIdentity, BindingError> {
    let parsed = parse_certificate(der)?;
    let now = i64::try_from(now_secs).map_err(|_| BindingError::Expired)?;
    // Either clock may be days off (field laptops run without NTP): the
    // window is widened by the skew tolerated on both sides.
    if now.saturating_add(MAX_CLOCK_SKEW_SECS) < parsed.not_before
        || now.saturating_sub(MAX_CLOCK_SKEW_SECS) > parsed.not_after
    {
        return Err(BindingError::Expired);
    }
    let payload = parsed.binding.ok_or(BindingError::Missing)?;
    let (key, sig) = payload.split_at(KEY_LEN);
    let identity = IdentityKey::from_slice(key).map_err(|_| BindingError::InvalidKey)?;
    let signature = Signature::from_slice(sig).map_err(|_| BindingError::Malformed("signature"))?;
    identity
        .verify(
            &binding_message(parsed.spki, parsed.not_before, parsed.not_after),
            &signature,
        )
        .map_err(|_| BindingError::BadSignature)?;
    let member = parsed
        .member
        .map(tacnode_messaging::decode_member_certificate)
        .transpose()
        .map_err(|e| BindingError::MemberEncoding(e.to_string()))?;
    Ok(BoundIdentity {
        identity,
        node_id: NodeId::from_identity(&identity),
        member,
    })
}

/// The identity bound by an already verified certificate, and its
/// SubjectPublicKeyInfo, without re-checking the signature (used after the
/// handshake, when the verifier has done that).
pub(crate) fn bound_identity(der: &[u8]) -> Result<(IdentityKey, &[u8]), BindingError> {
    let parsed = parse_certificate(der)?;
    let payload = parsed.binding.ok_or(BindingError::Missing)?;
    let key = payload
        .get(..KEY_LEN)
        .ok_or(BindingError::Malformed("binding"))?;
    let identity = IdentityKey::from_slice(key).map_err(|_| BindingError::InvalidKey)?;
    Ok((identity, parsed.spki))
}

pub(crate) struct ParsedCertificate<'a> {
    pub(crate) spki: &'a [u8],
    pub(crate) not_before: i64,
    pub(crate) not_after: i64,
    pub(crate) binding: Option<&'a [u8]>,
    pub(crate) member: Option<&'a [u8]>,
}

const TAG_BOOLEAN: u8 = 0x01;
const TAG_INTEGER: u8 = 0x02;
const TAG_OCTET_STRING: u8 = 0x04;
const TAG_OID: u8 = 0x06;
const TAG_UTC_TIME: u8 = 0x17;
const TAG_GENERALIZED_TIME: u8 = 0x18;
const TAG_SEQUENCE: u8 = 0x30;
const TAG_VERSION: u8 = 0xa0;
const TAG_ISSUER_UID: u8 = 0x81;
const TAG_SUBJECT_UID: u8 = 0x82;
const TAG_EXTENSIONS: u8 = 0xa3;

/// One DER element: its tag, its content, and the whole encoding.
struct Tlv<'a> {
    tag: u8,
    content: &'a [u8],
    raw: &'a [u8],
}

/// Reads elements off the front of a byte slice.
struct DerReader<'a> {
    rest: &'a [u8],
}

impl<'a> DerReader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    fn peek_tag(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    fn next(&mut self) -> Result<Tlv<'a>, BindingError> {
        let bytes = self.rest;
        let (&tag, after_tag) = bytes.split_first().ok_or(BindingError::Malformed("eof"))?;
        if tag & 0x1f == 0x1f {
            return Err(BindingError::Malformed("multi-byte tag"));
        }
        let (&first, after_len) = after_tag
            .split_first()
            .ok_or(BindingError::Malformed("eof in length"))?;
        let (len, body) = if first < 0x80 {
            (usize::from(first), after_len)
        } else {
            let n = usize::from(first & 0x7f);
            // Certificates are capped at 4 KiB: two length bytes are enough.
            if n == 0 || n > 2 {
                return Err(BindingError::Malformed("length form"));
            }
            let (len_bytes, body) = after_len
                .split_at_checked(n)
                .ok_or(BindingError::Malformed("eof in length"))?;
            let len = len_bytes
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            if len < 0x80 || (n == 2 && len < 0x100) {
                return Err(BindingError::Malformed("non-minimal length"));
            }
            (len, body)
        };
        let (content, rest) = body
            .split_at_checked(len)
            .ok_or(BindingError::Malformed("length beyond input"))?;
        let header_len = bytes.len() - body.len();
        let raw = bytes
            .get(..header_len + len)
            .ok_or(BindingError::Malformed("length beyond input"))?;
        self.rest = rest;
        Ok(Tlv { tag, content, raw })
    }

    fn expect(&mut self, tag: u8, what: &'static str) -> Result<Tlv<'a>, BindingError> {
        let tlv = self.next()?;
        if tlv.tag != tag {
            return Err(BindingError::Malformed(what));
        }
        Ok(tlv)
    }
}

/// Extracts validity, SPKI and the binding extension from a DER certificate.
pub(crate) fn parse_certificate(der: &[u8]) -> Result<ParsedCertificate<'_>, BindingError> {
    if der.len() > MAX_CERT_LEN {
        return Err(BindingError::TooLarge(der.len()));
    }
    let mut outer = DerReader::new(der);
    let cert = outer.expect(TAG_SEQUENCE, "certificate")?;
    if !outer.is_empty() {
        return Err(BindingError::Malformed("trailing bytes"));
    }
    let mut cert_fields = DerReader::new(cert.content);
    let tbs = cert_fields.expect(TAG_SEQUENCE, "tbsCertificate")?;
    let mut tbs = DerReader::new(tbs.content);
    if tbs.peek_tag() == Some(TAG_VERSION) {
        tbs.next()?;
    }
    tbs.expect(TAG_INTEGER, "serial")?;
    tbs.expect(TAG_SEQUENCE, "signature algorithm")?;
    tbs.expect(TAG_SEQUENCE, "issuer")?;
    let validity = tbs.expect(TAG_SEQUENCE, "validity")?;
    let mut validity = DerReader::new(validity.content);
    let not_before = parse_time(&validity.next()?)?;
    let not_after = parse_time(&validity.next()?)?;
    tbs.expect(TAG_SEQUENCE, "subject")?;
    let spki = tbs.expect(TAG_SEQUENCE, "subjectPublicKeyInfo")?.raw;
    let mut found = Extensions::default();
    while !tbs.is_empty() {
        let field = tbs.next()?;
        match field.tag {
            TAG_ISSUER_UID | TAG_SUBJECT_UID => {}
            TAG_EXTENSIONS => found = find_extensions(field.content)?,
            _ => return Err(BindingError::Malformed("unknown tbs field")),
        }
    }
    Ok(ParsedCertificate {
        spki,
        not_before,
        not_after,
        binding: found.binding,
        member: found.member,
    })
}

/// The extensions the verifiers read.
#[derive(Default)]
struct Extensions<'a> {
    binding: Option<&'a [u8]>,
    member: Option<&'a [u8]>,
}

fn find_extensions(explicit: &[u8]) -> Result<Extensions<'_>, BindingError> {
    let mut wrapper = DerReader::new(explicit);
    let list = wrapper.expect(TAG_SEQUENCE, "extensions")?;
    let mut list = DerReader::new(list.content);
    let mut found = Extensions::default();
    while !list.is_empty() {
        let ext = list.expect(TAG_SEQUENCE, "extension")?;
        let mut ext = DerReader::new(ext.content);
        let oid = ext.expect(TAG_OID, "extension id")?;
        if ext.peek_tag() == Some(TAG_BOOLEAN) {
            ext.next()?;
        }
        let value = ext.expect(TAG_OCTET_STRING, "extension value")?;
        if oid.content == MEMBER_OID_DER {
            if found.member.is_some() {
                return Err(BindingError::DuplicateMember);
            }
            let mut inner = DerReader::new(value.content);
            let payload = inner.expect(TAG_OCTET_STRING, "member certificate")?;
            if !inner.is_empty() {
                return Err(BindingError::Malformed("member certificate length"));
            }
            found.member = Some(payload.content);
            continue;
        }
        if oid.content != BINDING_OID_DER {
            continue;
        }
        if found.binding.is_some() {
            return Err(BindingError::Duplicate);
        }
        let mut inner = DerReader::new(value.content);
        let payload = inner.expect(TAG_OCTET_STRING, "binding")?;
        if !inner.is_empty() || payload.content.len() != BINDING_LEN {
            return Err(BindingError::Malformed("binding length"));
        }
        found.binding = Some(payload.content);
    }
    Ok(found)
}

/// UTCTime `YYMMDDHHMMSSZ` or GeneralizedTime `YYYYMMDDHHMMSSZ` to Unix seconds.
fn parse_time(tlv: &Tlv<'_>) -> Result<i64, BindingError> {
    let bad = BindingError::Malformed("time");
    let (year, rest) = match (tlv.tag, tlv.content.len()) {
        (TAG_UTC_TIME, 13) => {
            let (yy, rest) = tlv.content.split_at(2);
            let yy = digits(yy).ok_or(bad.clone())?;
            // RFC 5280: two-digit years 50..99 are 19xx, 00..49 are 20xx.
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, rest)
        }
        (TAG_GENERALIZED_TIME, 15) => {
            let (yyyy, rest) = tlv.content.split_at(4);
            (digits(yyyy).ok_or(bad.clone())?, rest)
        }
        _ => return Err(bad),
    };
    let field = |i: usize| rest.get(i..i + 2).and_then(digits);
    let (Some(month), Some(day), Some(hour), Some(min), Some(sec)) =
        (field(0), field(2), field(4), field(6), field(8))
    else {
        return Err(bad);
    };
    if rest.get(10) != Some(&b'Z')
        || !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || min > 59
        || sec > 60
    {
        return Err(bad);
    }
    let days = days_from_civil(year, month, day);
    Ok(days * 86_400 + hour * 3600 + min * 60 + sec)
}

fn digits(bytes: &[u8]) -> Option<i64> {
    bytes.iter().try_fold(0i64, |acc, b| {
        b.is_ascii_digit().then(|| acc * 10 + i64::from(b - b'0'))
    })
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub(crate) fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Proleptic Gregorian date of a day count since 1970-01-01.
pub(crate) fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn oid_constant_matches_arcs() {
        // Re-encode the arcs to make sure the two constants agree.
        let mut der = vec![40 * 2 + 25];
        for &arc in BINDING_OID.iter().skip(2) {
            let mut groups = vec![(arc & 0x7f) as u8];
            let mut v = arc >> 7;
            while v > 0 {
                groups.push(((v & 0x7f) as u8) | 0x80);
                v >>= 7;
            }
            groups.reverse();
            der.extend(groups);
        }
        assert_eq!(der, BINDING_OID_DER);
    }

    #[test]
    fn civil_round_trip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        for d in [-1000, 0, 59, 60, 10_957, 20_000, 1_000_000] {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), d);
        }
    }

    #[test]
    fn parses_both_time_forms() {
        let utc = Tlv {
            tag: TAG_UTC_TIME,
            content: b"700101000010Z",
            raw: &[],
        };
        assert_eq!(parse_time(&utc).unwrap(), 10);
        let gen_time = Tlv {
            tag: TAG_GENERALIZED_TIME,
            content: b"20000301000000Z",
            raw: &[],
        };
        assert_eq!(parse_time(&gen_time).unwrap(), 11_017 * 86_400);
        let bad = Tlv {
            tag: TAG_UTC_TIME,
            content: b"70010100001xZ",
            raw: &[],
        };
        assert!(parse_time(&bad).is_err());
    }

    #[test]
    fn oversize_certificate_is_refused() {
        let big = vec![0u8; MAX_CERT_LEN + 1];
        assert_eq!(
            parse_certificate(&big).err(),
            Some(BindingError::TooLarge(MAX_CERT_LEN + 1))
        );
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = parse_certificate(&bytes);
            let _ = verify_certificate(&bytes, 0);
        }
    }
}
