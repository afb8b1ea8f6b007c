//! The printed poster of a place code (场所码): an A4 page with the venue's signed QR code,
//! what the venue is, and how to check in.
//!
//! [`poster_svg`] draws the page as one self-contained SVG whose user units are millimetres
//! (viewBox 210 × 297, ISO 216 A4); [`poster_html`] wraps it in a print-ready page. Both are
//! pure functions of the venue and the code text. This module does not issue or verify place
//! codes (`healthcode_credential::issue_place_code`, `Verifier::verify_place`), look venues
//! up, or serve anything over HTTP.
//!
//! Every piece of text from the venue is escaped for XML (and so for HTML): venue names come
//! from registries and may contain anything.

use std::fmt::Write as _;

use healthcode_credential::PLACE_PREFIX;
use healthcode_domain::PlaceShortCode;
use qrcode::types::QrError;
use qrcode::{Color, EcLevel, QrCode};
use thiserror::Error;

/// Page size in millimetres (ISO 216 A4).
const PAGE_WIDTH: f64 = 210.0;
const PAGE_HEIGHT: f64 = 297.0;
const CENTRE: f64 = PAGE_WIDTH / 2.0;
/// Widest a line of text may be: the page less 10 mm on each side.
const LINE_WIDTH: f64 = PAGE_WIDTH - 20.0;
/// The QR code's square, quiet zone included: large enough to scan from a step or two away.
const QR_SIZE: f64 = 136.0;
const QR_TOP: f64 = 80.0;
/// The quiet zone around the symbol, in modules (ISO/IEC 18004:2015 §6.3.8 asks for 4).
const QUIET_ZONE: usize = 4;
/// The accent of the header band and the frame around the code.
const ACCENT: &str = "#0b6e4f";
/// Fonts that carry both Chinese and Latin glyphs on common systems; no font is downloaded.
const FONTS: &str = "'Noto Sans CJK SC','Source Han Sans SC','PingFang SC','Microsoft YaHei',\
                     'WenQuanYi Micro Hei',sans-serif";

/// The venue a poster is for, as shown on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PosterVenue<'a> {
    pub id: i64,
    pub name: &'a str,
    /// The kind of venue, e.g. `餐饮 Restaurant`.
    pub kind: &'a str,
    pub district: &'a str,
    pub address: &'a str,
    /// The region whose key signed the place code, e.g. `CN-BJ`.
    pub region: &'a str,
}

/// Why a poster could not be drawn.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PosterError {
    /// The text given is not a place code; a poster never carries anything else.
    #[error("not a place code: it does not start with \"HCP1:\"")]
    NotAPlaceCode,
    /// The code does not fit the largest QR code (version 40) at error correction level M.
    #[error("the place code is too long for a QR code ({0} characters)")]
    TooLong(usize),
    /// The QR encoder refused the code for another reason.
    #[error("the place code cannot be put in a QR code")]
    Qr,
}

impl PosterError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            PosterError::NotAPlaceCode => "not_a_place_code",
            PosterError::TooLong(_) => "place_code_too_long",
            PosterError::Qr => "qr",
        }
    }
}

/// The poster as a standalone SVG document, 210 × 297 mm.
///
/// The QR code encodes `place_code` at error correction level M, with its dark modules drawn
/// as one `<path>` of rectangles and a quiet zone of four modules.
pub fn poster_svg(venue: &PosterVenue<'_>, place_code: &str) -> Result<String, PosterError> {
    if !place_code.starts_with(PLACE_PREFIX) {
        return Err(PosterError::NotAPlaceCode);
    }
    let qr = QrCode::with_error_correction_level(place_code.as_bytes(), EcLevel::M).map_err(
        |e| match e {
            QrError::DataTooLong => PosterError::TooLong(place_code.len()),
            _ => PosterError::Qr,
        },
    )?;

    let mut svg = String::with_capacity(16 * 1024);
    let _ = write!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {PAGE_WIDTH} {PAGE_HEIGHT}\" \
         width=\"{PAGE_WIDTH}mm\" height=\"{PAGE_HEIGHT}mm\" role=\"img\" \
         font-family=\"{FONTS}\" text-anchor=\"middle\">"
    );
    let _ = write!(
        svg,
        "<title>场所码 Place code: {}</title>",
        escape(venue.name)
    );
    let _ = write!(
        svg,
        "<rect width=\"{PAGE_WIDTH}\" height=\"{PAGE_HEIGHT}\" fill=\"#fff\"/>\
         <rect width=\"{PAGE_WIDTH}\" height=\"34\" fill=\"{ACCENT}\"/>"
    );
    line(&mut svg, 22.5, 14.0, "bold", "#fff", "场所码 Place code");

    line(&mut svg, 50.0, 10.0, "bold", "#111", venue.name);
    let kind_district = match (venue.kind.is_empty(), venue.district.is_empty()) {
        (false, false) => format!("{} · {}", venue.kind, venue.district),
        (false, true) => venue.kind.to_owned(),
        (true, _) => venue.district.to_owned(),
    };
    line(&mut svg, 60.0, 5.5, "normal", "#333", &kind_district);
    line(&mut svg, 68.5, 4.5, "normal", "#333", venue.address);

    qr_group(&mut svg, &qr);

    line(&mut svg, 234.0, 9.0, "bold", "#111", "请使用健康码扫码登记");
    line(
        &mut svg,
        243.0,
        5.5,
        "normal",
        "#333",
        "Scan with your health code app to check in",
    );
    let _ = write!(
        svg,
        "<line x1=\"10\" y1=\"252\" x2=\"200\" y2=\"252\" stroke=\"#bbb\" stroke-width=\"0.3\"/>"
    );
    line(
        &mut svg,
        262.0,
        4.5,
        "normal",
        "#111",
        &format!(
            "场所编号 Venue ID {} · 手输码 Code to type {} · 地区 Region {}",
            venue.id,
            PlaceShortCode::of(venue.id)
                .map(|c| c.to_string())
                .unwrap_or_default(),
            venue.region
        ),
    );
    line(
        &mut svg,
        271.0,
        3.8,
        "normal",
        "#555",
        &format!("本码由 {} 地区数字签名，扫码时离线核验", venue.region),
    );
    line(
        &mut svg,
        277.0,
        3.8,
        "normal",
        "#555",
        &format!(
            "Signed by region {}; the app checks the signature when you scan",
            venue.region
        ),
    );
    svg.push_str("</svg>");
    Ok(svg)
}

/// The poster as a print-ready HTML page: the SVG inline, one A4 page without margins, no
/// script and nothing fetched from elsewhere (a Content-Security-Policy says so too).
pub fn poster_html(venue: &PosterVenue<'_>, place_code: &str) -> Result<String, PosterError> {
    let svg = poster_svg(venue, place_code)?;
    let mut html = String::with_capacity(svg.len() + 1024);
    html.push_str(
        "<!doctype html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n",
    );
    let _ = writeln!(
        html,
        "<title>场所码 Place code: {}</title>",
        escape(venue.name)
    );
    html.push_str(
        "<style>\n\
         @page { size: A4; margin: 0 }\n\
         html, body { margin: 0; padding: 0; background: #fff }\n\
         .page { width: 210mm; height: 297mm; overflow: hidden; break-inside: avoid; \
         -webkit-print-color-adjust: exact; print-color-adjust: exact }\n\
         .page svg { display: block; width: 210mm; height: 297mm }\n\
         @media screen { body { background: #ddd } \
         .page { margin: 1rem auto; background: #fff; box-shadow: 0 0 0.5rem #0004 } }\n\
         </style>\n</head>\n<body>\n<main class=\"page\">\n",
    );
    html.push_str(&svg);
    html.push_str("\n</main>\n</body>\n</html>\n");
    Ok(html)
}

/// The QR code in its frame: a nested `<svg>` whose units are modules, so that the path holds
/// whole numbers and the symbol scales to [`QR_SIZE`] exactly.
fn qr_group(svg: &mut String, qr: &QrCode) {
    let width = qr.width();
    let side = width + 2 * QUIET_ZONE;
    let left = CENTRE - QR_SIZE / 2.0;
    let _ = write!(
        svg,
        "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"3\" fill=\"none\" \
         stroke=\"{ACCENT}\" stroke-width=\"0.8\"/>",
        left - 2.0,
        QR_TOP - 2.0,
        QR_SIZE + 4.0,
        QR_SIZE + 4.0,
    );
    let _ = write!(
        svg,
        "<svg x=\"{left}\" y=\"{QR_TOP}\" width=\"{QR_SIZE}\" height=\"{QR_SIZE}\" \
         viewBox=\"0 0 {side} {side}\" shape-rendering=\"crispEdges\">\
         <rect width=\"{side}\" height=\"{side}\" fill=\"#fff\"/><path fill=\"#000\" d=\""
    );
    // One rectangle per horizontal run of dark modules: the same picture as one square per
    // module, in a fraction of the bytes.
    let colors = qr.to_colors();
    for (y, row) in colors.chunks(width).enumerate() {
        let mut x = 0;
        while x < width {
            if row[x] != Color::Dark {
                x += 1;
                continue;
            }
            let run = row[x..].iter().take_while(|&&c| c == Color::Dark).count();
            let _ = write!(
                svg,
                "M{} {}h{run}v1h-{run}z",
                x + QUIET_ZONE,
                y + QUIET_ZONE
            );
            x += run;
        }
    }
    svg.push_str("\"/></svg>");
}

/// One centred line of text, shrunk to fit [`LINE_WIDTH`] and squeezed with `textLength` if
/// even the smallest readable size is too wide.
fn line(svg: &mut String, y: f64, size: f64, weight: &str, fill: &str, text: &str) {
    if text.is_empty() {
        return;
    }
    let ems = estimated_ems(text);
    // Below this a poster's small print is no longer readable at arm's length.
    let min = (size * 0.6).max(3.0);
    let fitted = (LINE_WIDTH / ems).clamp(min, size);
    let _ = write!(
        svg,
        "<text x=\"{CENTRE}\" y=\"{y}\" font-size=\"{fitted:.2}\" font-weight=\"{weight}\" \
         fill=\"{fill}\""
    );
    if ems * fitted > LINE_WIDTH + 0.01 {
        let _ = write!(
            svg,
            " textLength=\"{LINE_WIDTH}\" lengthAdjust=\"spacingAndGlyphs\""
        );
    }
    let _ = write!(svg, ">{}</text>", escape(text));
}

/// A generous estimate of a line's width in ems, without the fonts at hand: CJK and other
/// wide characters take a full em, the rest about 0.6.
fn estimated_ems(text: &str) -> f64 {
    text.chars()
        .map(|c| if is_wide(c) { 1.0 } else { 0.6 })
        .sum()
}

/// East Asian wide and fullwidth characters (Unicode Standard Annex #11), roughly: Hangul
/// Jamo, CJK, Hangul syllables, compatibility ideographs, fullwidth forms and the
/// supplementary ideographic planes.
fn is_wide(c: char) -> bool {
    matches!(
        c,
        '\u{1100}'..='\u{115f}'
            | '\u{2e80}'..='\u{a4cf}'
            | '\u{ac00}'..='\u{d7a3}'
            | '\u{f900}'..='\u{faff}'
            | '\u{fe30}'..='\u{fe4f}'
            | '\u{ff00}'..='\u{ff60}'
            | '\u{ffe0}'..='\u{ffe6}'
            | '\u{20000}'..='\u{3fffd}'
    )
}

/// Escapes text for XML content and attribute values (XML 1.0 §2.4) and so for HTML. Control
/// characters that XML 1.0 does not allow (§2.2) would make the document ill-formed; line
/// breaks and tabs become spaces and the rest U+FFFD.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(' '),
            '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => out.push('\u{fffd}'),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use chrono::DateTime;
    use healthcode_credential::{PlaceClaims, SigningKey, issue_place_code};

    use super::*;

    fn venue() -> PosterVenue<'static> {
        PosterVenue {
            id: 110_105_000_123,
            name: "朝阳大悦城 Joy City Chaoyang",
            kind: "商场 Shopping centre",
            district: "朝阳区 Chaoyang",
            address: "北京市朝阳区朝阳北路101号",
            region: "CN-BJ",
        }
    }

    fn place_code() -> String {
        let claims = PlaceClaims {
            region: "CN-BJ".into(),
            venue_id: 110_105_000_123,
            issued_at: DateTime::from_timestamp(1_777_622_400, 0).expect("in range"),
        };
        issue_place_code(&claims, &SigningKey::from_seed(&[7u8; 32])).expect("issues")
    }

    /// The value of attribute `name` in the first tag that starts with `tag_start`.
    fn attribute<'a>(doc: &'a str, tag_start: &str, name: &str) -> &'a str {
        let at = doc.find(tag_start).expect("tag present");
        let tag = &doc[at..at + doc[at..].find('>').expect("tag closed")];
        let key = format!(" {name}=\"");
        let start = tag.find(&key).expect("attribute present") + key.len();
        &tag[start..start + tag[start..].find('"').expect("value closed")]
    }

    /// The module matrix drawn in the SVG, quiet zone included, `true` for dark.
    fn drawn_modules(svg: &str) -> Vec<Vec<bool>> {
        let qr_svg = &svg[svg.find("<svg x=").expect("nested svg")..];
        let view_box = attribute(qr_svg, "<svg", "viewBox");
        let side: usize = view_box
            .split(' ')
            .nth(2)
            .expect("width")
            .parse()
            .expect("integer");
        assert_eq!(qr_svg.matches("<path").count(), 1, "one path");
        let d = attribute(qr_svg, "<path", "d");
        let mut grid = vec![vec![false; side]; side];
        for rect in d.split('M').filter(|r| !r.is_empty()) {
            // "x yhNv1h-Nz"
            let (x, rest) = rect.split_once(' ').expect("x");
            let (y, rest) = rest.split_once('h').expect("y");
            let (run, rest) = rest.split_once('v').expect("run");
            assert_eq!(rest, format!("1h-{run}z"), "a one-module-high rectangle");
            let (x, y, run): (usize, usize, usize) = (
                x.parse().expect("x"),
                y.parse().expect("y"),
                run.parse().expect("run"),
            );
            for cell in &mut grid[y][x..x + run] {
                assert!(!*cell, "rectangles do not overlap");
                *cell = true;
            }
        }
        grid
    }

    #[test]
    fn the_drawn_modules_are_those_of_the_place_code() {
        let code = place_code();
        let svg = poster_svg(&venue(), &code).expect("draws");
        let grid = drawn_modules(&svg);
        let expected = QrCode::new(code.as_bytes()).expect("encodes");
        let width = expected.width();
        assert_eq!(grid.len(), width + 2 * QUIET_ZONE);
        let colors = expected.to_colors();
        for (y, row) in grid.iter().enumerate() {
            for (x, &dark) in row.iter().enumerate() {
                let inside = (QUIET_ZONE..QUIET_ZONE + width).contains(&x)
                    && (QUIET_ZONE..QUIET_ZONE + width).contains(&y);
                let want =
                    inside && colors[(y - QUIET_ZONE) * width + (x - QUIET_ZONE)] == Color::Dark;
                assert_eq!(dark, want, "module ({x}, {y})");
            }
        }
    }

    #[test]
    fn the_drawn_qr_code_scans_back_to_the_place_code() {
        let code = place_code();
        let grid = drawn_modules(&poster_svg(&venue(), &code).expect("draws"));
        // Rasterise at 6 pixels a module and read it with an independent decoder.
        const SCALE: usize = 6;
        let side = grid.len() * SCALE;
        let mut image =
            rqrr::PreparedImage::prepare_from_bitmap(side, side, |x, y| grid[y / SCALE][x / SCALE]);
        let grids = image.detect_grids();
        assert_eq!(grids.len(), 1);
        let (_, text) = grids[0].decode().expect("decodes");
        assert_eq!(text, code);
    }

    #[test]
    fn the_qr_code_is_large_and_on_the_page() {
        let svg = poster_svg(&venue(), &place_code()).expect("draws");
        let qr_svg = &svg[svg.find("<svg x=").expect("nested svg")..];
        let number = |name| {
            attribute(qr_svg, "<svg", name)
                .parse::<f64>()
                .expect("number")
        };
        let (x, y, w, h) = (number("x"), number("y"), number("width"), number("height"));
        assert_eq!(w, h);
        assert!(w >= 120.0, "at least 12 cm across");
        assert!(x >= 0.0 && x + w <= PAGE_WIDTH && y >= 0.0 && y + h <= PAGE_HEIGHT);
    }

    /// Checks that tags nest and close, that every `&` starts an entity and that no text
    /// holds a raw `<`: enough of well-formedness to catch a broken escape.
    fn assert_balanced(doc: &str) {
        let mut open = Vec::new();
        let mut rest = doc;
        while let Some(lt) = rest.find('<') {
            assert_entities(&rest[..lt]);
            let gt = rest[lt..].find('>').expect("tag closed") + lt;
            let tag = &rest[lt + 1..gt];
            assert!(!tag.contains('<'), "'<' inside a tag: {tag}");
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(open.pop(), Some(name), "closing tag matches");
            } else if !tag.ends_with('/') && !tag.starts_with('!') {
                let name = tag.split([' ', '\n']).next().expect("name");
                if !["meta"].contains(&name) {
                    open.push(name);
                }
            }
            assert_entities(tag);
            rest = &rest[gt + 1..];
        }
        assert_entities(rest);
        assert!(open.is_empty(), "unclosed: {open:?}");
    }

    fn assert_entities(text: &str) {
        for (i, _) in text.match_indices('&') {
            let entity = &text[i..];
            assert!(
                ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"]
                    .iter()
                    .any(|e| entity.starts_with(e)),
                "bare '&' at {entity:.20}"
            );
        }
    }

    #[test]
    fn svg_is_well_formed_and_says_what_it_should() {
        let svg = poster_svg(&venue(), &place_code()).expect("draws");
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.ends_with("</svg>"));
        assert_balanced(&svg);
        assert!(svg.contains("viewBox=\"0 0 210 297\""));
        for text in [
            "场所码 Place code",
            "朝阳大悦城 Joy City Chaoyang",
            "商场 Shopping centre · 朝阳区 Chaoyang",
            "北京市朝阳区朝阳北路101号",
            "请使用健康码扫码登记",
            "Scan with your health code app to check in",
            "110105000123",
            "Region CN-BJ",
            "Signed by region CN-BJ",
        ] {
            assert!(svg.contains(text), "{text}");
        }
        assert!(!svg.contains("href"), "nothing linked or fetched");
    }

    #[test]
    fn venue_text_is_escaped() {
        let hostile = PosterVenue {
            name: "<script>alert(1)</script> A&B \"Q\" 'q'",
            kind: "<&\">'",
            district: "x</text><text>",
            address: "line\nbreak\u{0}nul",
            region: "CN-<BJ>",
            ..venue()
        };
        let svg = poster_svg(&hostile, &place_code()).expect("draws");
        assert_balanced(&svg);
        assert!(!svg.contains("<script"));
        assert!(
            svg.contains(
                "&lt;script&gt;alert(1)&lt;/script&gt; A&amp;B &quot;Q&quot; &apos;q&apos;"
            )
        );
        assert!(svg.contains("&lt;&amp;&quot;&gt;&apos;"));
        assert!(svg.contains("line break\u{fffd}nul"));
        assert!(!svg.contains('\u{0}'));
        let html = poster_html(&hostile, &place_code()).expect("draws");
        assert!(!html.contains("<script"));
        assert_balanced(html.strip_prefix("<!doctype html>").expect("doctype"));
    }

    #[test]
    fn html_is_one_self_contained_a4_page() {
        let html = poster_html(&venue(), &place_code()).expect("draws");
        assert!(html.starts_with("<!doctype html>"));
        assert!(html.contains("<meta charset=\"utf-8\">"));
        assert!(html.contains("@page { size: A4; margin: 0 }"));
        assert!(html.contains("<title>场所码 Place code: 朝阳大悦城 Joy City Chaoyang</title>"));
        assert!(html.contains(&poster_svg(&venue(), &place_code()).expect("draws")));
        assert_balanced(html.strip_prefix("<!doctype html>").expect("doctype"));
        for banned in ["<script", "src=", "href=", "url(", "@import", "<link"] {
            assert!(!html.contains(banned), "{banned}");
        }
        // The only URL is the SVG namespace name, which is never fetched.
        assert_eq!(html.matches("http").count(), 2, "xmlns and http-equiv");
    }

    #[test]
    fn long_lines_shrink_and_then_squeeze() {
        let mut svg = String::new();
        line(&mut svg, 10.0, 10.0, "normal", "#000", "short");
        assert!(svg.contains("font-size=\"10.00\""));
        assert!(!svg.contains("textLength"));

        let mut svg = String::new();
        let long = "很".repeat(25); // 25 em: 7.6 mm a character
        line(&mut svg, 10.0, 10.0, "normal", "#000", &long);
        assert!(svg.contains("font-size=\"7.60\""));
        assert!(!svg.contains("textLength"));

        let mut svg = String::new();
        let very_long = "很".repeat(200);
        line(&mut svg, 10.0, 10.0, "normal", "#000", &very_long);
        assert!(svg.contains("font-size=\"6.00\""));
        assert!(svg.contains("textLength=\"190\""));
    }

    #[test]
    fn refusals() {
        assert_eq!(
            poster_svg(&venue(), "HCN1:ABC"),
            Err(PosterError::NotAPlaceCode)
        );
        let huge = format!("{PLACE_PREFIX}{}", "A".repeat(5000));
        assert_eq!(
            poster_html(&venue(), &huge),
            Err(PosterError::TooLong(huge.len()))
        );
        assert_eq!(PosterError::TooLong(0).code(), "place_code_too_long");
    }
}
