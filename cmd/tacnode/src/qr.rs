//! QR codes drawn in the terminal with Unicode half blocks.

use anyhow::{Context, Result};
use qrcode::QrCode;
use qrcode::render::unicode::Dense1x2;

/// Renders `data` as a terminal QR code (dark modules on a light background,
/// with the quiet zone, so phone cameras read it from a dark terminal too).
pub(crate) fn render(data: &[u8]) -> Result<String> {
    let code = QrCode::new(data).context("data too large for a QR code")?;
    Ok(code
        .render::<Dense1x2>()
        .dark_color(Dense1x2::Light)
        .light_color(Dense1x2::Dark)
        .quiet_zone(true)
        .build())
}

#[cfg(test)]
mod tests {
    #[test]
    fn renders_an_address() {
        let s = super::render(b"key_4vJ9JU1bJJE96FWSJKvHsmmFADCg4gpZQff4P3bkLKi").unwrap();
        assert!(s.lines().count() > 10);
        assert!(s.chars().any(|c| c == '█' || c == '▀' || c == '▄'));
    }
}
