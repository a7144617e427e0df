//! What the PDFs tapak writes with pdf-writer share: the standard Helvetica fonts (not embedded, WinAnsi encoding).

use pdf_writer::{Name, Pdf, Ref};

/// Declares Helvetica as `regular` and Helvetica-Bold as `bold`, both WinAnsi-encoded.
pub fn helvetica(pdf: &mut Pdf, regular: Ref, bold: Ref) {
    for (id, name) in [(regular, &b"Helvetica"[..]), (bold, &b"Helvetica-Bold"[..])] {
        pdf.type1_font(id)
            .base_font(Name(name))
            .encoding_predefined(Name(b"WinAnsiEncoding"));
    }
}
