//! QR codes drawn in the terminal with Unicode half blocks.

use qrcode::QrCode;
use qrcode::render::unicode::Dense1x2;

/// The data does not fit in a QR code.
#[derive(Debug, thiserror::Error)]
#[error("data too large for a QR code")]
pub struct QrCodeError(#[source] qrcode::types::QrError);

/// Renders `data` as a terminal QR code (dark modules on a light background,
/// with the quiet zone, so phone cameras read it from a dark terminal too).
pub fn qr_code(data: &[u8]) -> Result<String, QrCodeError> {
    let code = QrCode::new(data).map_err(QrCodeError)?;
    Ok(code
        .render::<Dense1x2>()
        .dark_color(Dense1x2::Light)
        .light_color(Dense1x2::Dark)
        .quiet_zone(true)
        .build())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    #[test]
    fn renders_an_address() {
        let s = super::qr_code(b"key_4vJ9JU1bJJE96FWSJKvHsmmFADCg4gpZQff4P3bkLKi").unwrap();
        assert!(s.lines().count() > 10);
        assert!(s.chars().any(|c| c == '█' || c == '▀' || c == '▄'));
    }

    #[test]
    fn too_much_data_is_an_error_not_a_panic() {
        assert!(super::qr_code(&[0x55; 8000]).is_err());
    }
}
