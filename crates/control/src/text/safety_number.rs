//! `tacnode contacts verify`: the numbers to compare and what to do next.

use std::fmt::Write as _;

use crate::response::Response;
use crate::text::qr::{QrCodeError, qr_code};

/// The safety number and device code of a [`Response::SafetyNumber`], with
/// its QR code when `qr`, and either that the contact is verified or how to
/// verify it. Empty for any other response.
pub fn safety_number(r: &Response, qr: bool) -> Result<String, QrCodeError> {
    let Response::SafetyNumber {
        name,
        digits,
        device_code,
        qr_payload_hex,
        verified,
    } = r
    else {
        return Ok(String::new());
    };
    let mut out = format!("safety number with {name}:\n  {digits}\n");
    let _ = match device_code {
        Some(code) => writeln!(
            out,
            "device code (compare it too after a key change):\n  {code}"
        ),
        None => writeln!(
            out,
            "device code: not yet known (no session with {name} yet)"
        ),
    };
    if qr {
        let bytes: Vec<u8> = (0..qr_payload_hex.len() / 2)
            .filter_map(|i| {
                let pair = qr_payload_hex.get(2 * i..2 * i + 2)?;
                u8::from_str_radix(pair, 16).ok()
            })
            .collect();
        let _ = writeln!(out, "{}", qr_code(&bytes)?);
    }
    let _ = if *verified {
        writeln!(out, "{name} is verified.")
    } else {
        writeln!(
            out,
            "compare it with {name} in person or over a trusted channel, then run\n  \
             tacnode contacts verify {name} --confirm"
        )
    };
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn answer(device_code: Option<&str>, verified: bool) -> Response {
        Response::SafetyNumber {
            name: "bob".to_owned(),
            digits: "12345 67890".to_owned(),
            device_code: device_code.map(str::to_owned),
            qr_payload_hex: "00ff".to_owned(),
            verified,
        }
    }

    #[test]
    fn the_numbers_then_what_to_do() {
        assert_eq!(
            safety_number(&answer(Some("4242"), false), false).unwrap(),
            "safety number with bob:\n  12345 67890\n\
             device code (compare it too after a key change):\n  4242\n\
             compare it with bob in person or over a trusted channel, then run\n  \
             tacnode contacts verify bob --confirm\n"
        );
        assert_eq!(
            safety_number(&answer(None, true), false).unwrap(),
            "safety number with bob:\n  12345 67890\n\
             device code: not yet known (no session with bob yet)\n\
             bob is verified.\n"
        );
        assert_eq!(safety_number(&Response::Ok, true).unwrap(), "");
    }

    #[test]
    fn the_qr_code_comes_before_the_verdict() {
        let text = safety_number(&answer(None, true), true).unwrap();
        let qr = qr_code(&[0x00, 0xff]).unwrap();
        assert!(
            text.contains(&format!("yet)\n{qr}\nbob is verified.\n")),
            "{text}"
        );
    }
}
