//! The map of a collector's zones: a static SVG drawing of the H3 cells each zone of its current
//! policy lists, one `<polygon>` per cell, coloured by zone, with a legend and a scale bar; no
//! script, no external resource. Served at `/collectors/{id}/map.svg` and shown on the
//! collector's page with `<img>`.
//!
//! This is the only place the node uses h3o (for the cells' outlines): decisions never do, they
//! read cells with `consent_proto::h3`'s integer rules.

use std::fmt::Write as _;

use consent_proto::scope::PolicyScope;

/// Width of the drawing, px.
const WIDTH: f64 = 640.0;
/// Height of the map part (the legend goes below it), px.
const HEIGHT: f64 = 420.0;
/// Margin around the cells, px.
const MARGIN: f64 = 10.0;
/// Height of one legend line, px.
const LEGEND_LINE: f64 = 18.0;
/// Zone colours, by zone order (Okabe–Ito: told apart with the common colour-vision
/// deficiencies); a ninth zone takes the first colour again.
const PALETTE: [&str; 8] = [
    "#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#000000",
];

/// Text for an SVG text node or attribute value.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// The SVG map of `scope`'s zones, titled with the collector's `name`.
pub(crate) fn svg(scope: &PolicyScope, name: &str) -> String {
    // Each cell's outline, [lat, lng] in degrees, with its zone's index.
    let mut outlines: Vec<(usize, Vec<(f64, f64)>)> = Vec::new();
    for (zi, zone) in scope.zones.iter().enumerate() {
        for cell in &zone.cells {
            let Ok(index) = h3o::CellIndex::try_from(cell.raw()) else {
                continue;
            };
            let boundary = index.boundary();
            outlines.push((zi, boundary.iter().map(|ll| (ll.lat(), ll.lng())).collect()));
        }
    }
    let legend_height = MARGIN + LEGEND_LINE * scope.zones.len() as f64;
    let total_height = HEIGHT + legend_height;
    let mut out = String::new();
    let cells: usize = scope.zones.iter().map(|z| z.cells.len()).sum();
    let _ = write!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {total_height}" width="{WIDTH}" height="{total_height}" role="img" aria-labelledby="title"><title id="title">Where {} collects data: {} zones, {cells} cells</title><rect x="0" y="0" width="{WIDTH}" height="{total_height}" fill="#ffffff"/>"##,
        escape(name),
        scope.zones.len()
    );

    let points = outlines.iter().flat_map(|(_, o)| o.iter());
    let n = outlines.iter().map(|(_, o)| o.len()).sum::<usize>().max(1) as f64;
    let (lat0, lng0) = points
        .clone()
        .fold((0.0, 0.0), |(a, b), (lat, lng)| (a + lat / n, b + lng / n));
    // Equirectangular around the mean: x = Δlng·cos(lat0), y = −Δlat, in degrees of latitude.
    let cos0 = lat0.to_radians().cos();
    let project = |(lat, lng): (f64, f64)| ((lng - lng0) * cos0, lat0 - lat);
    let (mut min_x, mut min_y, mut max_x, mut max_y) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for p in points {
        let (x, y) = project(*p);
        (min_x, min_y, max_x, max_y) = (min_x.min(x), min_y.min(y), max_x.max(x), max_y.max(y));
    }
    if outlines.is_empty() {
        (min_x, min_y, max_x, max_y) = (0.0, 0.0, 1.0, 1.0);
    }
    let span_x = (max_x - min_x).max(1e-9);
    let span_y = (max_y - min_y).max(1e-9);
    let scale = ((WIDTH - 2.0 * MARGIN) / span_x).min((HEIGHT - 2.0 * MARGIN) / span_y);
    // Centre the drawing in the map part.
    let off_x = MARGIN + (WIDTH - 2.0 * MARGIN - span_x * scale) / 2.0;
    let off_y = MARGIN + (HEIGHT - 2.0 * MARGIN - span_y * scale) / 2.0;
    let to_px = |p: (f64, f64)| {
        let (x, y) = project(p);
        (off_x + (x - min_x) * scale, off_y + (y - min_y) * scale)
    };

    for (zi, outline) in &outlines {
        let zone = &scope.zones[*zi];
        let colour = PALETTE[zi % PALETTE.len()];
        let mut pts = String::new();
        for p in outline {
            let (x, y) = to_px(*p);
            let _ = write!(pts, "{x:.1},{y:.1} ");
        }
        let _ = write!(
            out,
            r#"<polygon points="{}" fill="{colour}" fill-opacity="0.45" stroke="{colour}" stroke-width="1"><title>Zone {}: {}</title></polygon>"#,
            pts.trim_end(),
            zone.id,
            escape(&zone.name)
        );
    }

    // Scale bar: the longest round length that fits in 160 px (one degree of latitude is
    // about 111.32 km).
    let px_per_m = scale / 111_320.0;
    if !outlines.is_empty() && px_per_m.is_finite() && px_per_m > 0.0 {
        let lengths = [
            1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4,
            1e5, 2e5, 5e5, 1e6,
        ];
        if let Some(m) = lengths.iter().rev().find(|m| *m * px_per_m <= 160.0) {
            let bar = m * px_per_m;
            let label = if *m >= 1000.0 {
                format!("{} km", m / 1000.0)
            } else {
                format!("{m} m")
            };
            let y = HEIGHT - MARGIN;
            let _ = write!(
                out,
                r##"<line x1="{x0:.1}" y1="{y:.1}" x2="{x1:.1}" y2="{y:.1}" stroke="#1a1a1a" stroke-width="2"/><text x="{x0:.1}" y="{ty:.1}" font-family="sans-serif" font-size="12" fill="#1a1a1a">{label}</text>"##,
                x0 = WIDTH - MARGIN - bar,
                x1 = WIDTH - MARGIN,
                ty = y - 4.0,
            );
        }
    }

    // Legend: one line per zone, below the map.
    for (zi, zone) in scope.zones.iter().enumerate() {
        let y = HEIGHT + MARGIN / 2.0 + LEGEND_LINE * zi as f64;
        let colour = PALETTE[zi % PALETTE.len()];
        let _ = write!(
            out,
            r##"<rect x="{MARGIN}" y="{y:.1}" width="12" height="12" fill="{colour}" fill-opacity="0.45" stroke="{colour}"/><text x="{tx}" y="{ty:.1}" font-family="sans-serif" font-size="13" fill="#1a1a1a">Zone {}: {} ({} cells)</text>"##,
            zone.id,
            escape(&zone.name),
            zone.cells.len(),
            tx = MARGIN + 18.0,
            ty = y + 11.0,
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use consent_proto::body::Body;
    use consent_proto::fixtures;

    fn street_scope() -> PolicyScope {
        let Body::Policy(p) = fixtures::street_policy() else {
            panic!("a policy");
        };
        p.scope.expect("the street policy has a scope")
    }

    #[test]
    fn one_polygon_per_cell_and_no_script() {
        let scope = street_scope();
        let map = svg(&scope, "Utrecht <street> & \"sensors\"");
        let cells: usize = scope.zones.iter().map(|z| z.cells.len()).sum();
        assert!(cells > 0);
        assert_eq!(map.matches("<polygon ").count(), cells);
        assert!(map.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(map.ends_with("</svg>"));
        assert!(!map.to_ascii_lowercase().contains("<script"));
        assert!(
            map.split(' ')
                .all(|word| !(word.starts_with("on") && word.contains('='))),
            "no event handler attribute: {map}"
        );
        assert!(map.contains("Utrecht &lt;street&gt; &amp; &quot;sensors&quot;"));
        for z in &scope.zones {
            assert!(map.contains(&format!("Zone {}: ", z.id)));
        }
        // Every point lies inside the drawing.
        for pts in map.split("points=\"").skip(1) {
            let pts = pts.split('"').next().unwrap_or_default();
            for p in pts.split(' ') {
                let (x, y) = p.split_once(',').expect("x,y");
                let (x, y): (f64, f64) = (x.parse().expect("x"), y.parse().expect("y"));
                assert!(
                    (0.0..=WIDTH).contains(&x) && (0.0..=HEIGHT).contains(&y),
                    "{p}"
                );
            }
        }
    }

    #[test]
    fn a_scope_without_zones_draws_an_empty_map() {
        let mut scope = street_scope();
        scope.zones.clear();
        scope.sensors.iter_mut().for_each(|s| s.zone = None);
        let map = svg(&scope, "x");
        assert_eq!(map.matches("<polygon").count(), 0);
        assert!(map.ends_with("</svg>"));
    }
}
