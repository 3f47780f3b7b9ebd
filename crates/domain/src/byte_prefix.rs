use std::fmt;

/// Writes `Name(0a1b2c…)`: the first `shown` bytes of `bytes` in hex, how
/// keys, signatures and ids print in logs and test failures (enough to tell
/// them apart, never the whole value).
pub(crate) fn write_byte_prefix(
    f: &mut fmt::Formatter<'_>,
    name: &str,
    bytes: &[u8],
    shown: usize,
) -> fmt::Result {
    write!(f, "{name}(")?;
    for b in bytes.iter().take(shown) {
        write!(f, "{b:02x}")?;
    }
    write!(f, "…)")
}

#[cfg(test)]
mod tests {
    use crate::gossip::{GossipId, Topic};
    use crate::keys::Signature;

    #[test]
    fn a_prefix_prints_as_name_and_leading_hex() {
        assert_eq!(
            format!("{:?}", Signature([0xab; 64])),
            "Signature(abababababababab…)"
        );
        assert_eq!(format!("{:?}", GossipId([1; 16])), "GossipId(01010101…)");
        assert_eq!(format!("{:?}", Topic(*b"announce")), "Topic(616e6e6f…)");
    }
}
