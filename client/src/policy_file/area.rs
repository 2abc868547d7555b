//! A zone's `area` (WGS84 corners) turned into the H3 cells that cover it ([`cover_area`]), and
//! H3's published cell sizes per resolution.

use std::collections::BTreeSet;

use consent_proto::limits::MAX_CELLS_PER_ZONE;

/// Corners of one zone's `area`.
const MAX_AREA_POINTS: usize = 64;

/// Average edge length of an H3 hexagon per resolution, metres (H3's published table).
const EDGE_M: [f64; 16] = [
    1_281_256.011,
    483_056.839,
    182_512.957,
    68_979.222,
    26_071.760,
    9_854.091,
    3_724.533,
    1_406.476,
    531.414,
    200.786,
    75.864,
    28.664,
    10.830,
    4.092,
    1.546,
    0.584,
];

pub use consent_proto::scope::words::CELL_AREA_M2;

/// The H3 cells of `resolution` that cover `area` (corners `[lat, lng]` in degrees, in order):
/// every cell holding a point of the area or of its outline, found by sampling the area at a
/// quarter of the cells' edge length (so a sliver of a cell thinner than that may be left out:
/// the published cells are what counts). Sorted. Refuses an area that would need far more
/// cells than a zone may hold before computing them.
pub fn cover_area(area: &[[f64; 2]], resolution: u8) -> Result<Vec<u64>, String> {
    if area.len() < 3 || area.len() > MAX_AREA_POINTS {
        return Err(format!(
            "an area has 3..={MAX_AREA_POINTS} corners [lat, lng]; this one has {}",
            area.len()
        ));
    }
    for [lat, lng] in area {
        if !lat.is_finite() || !lng.is_finite() || lat.abs() > 85.0 || lng.abs() > 180.0 {
            return Err(format!(
                "[{lat}, {lng}] is not a [latitude, longitude] in degrees (|lat| <= 85)"
            ));
        }
    }
    let res = usize::from(resolution);
    let (Some(edge_m), Some(cell_m2)) = (EDGE_M.get(res), CELL_AREA_M2.get(res)) else {
        return Err(format!("resolution {resolution} is not 0..=15"));
    };
    let h3_res = h3o::Resolution::try_from(resolution)
        .map_err(|_| format!("resolution {resolution} is not 0..=15"))?;
    let lats = area.iter().map(|p| p[0]);
    let lngs = area.iter().map(|p| p[1]);
    let (min_lat, max_lat) = (
        lats.clone().fold(90.0, f64::min),
        lats.fold(-90.0, f64::max),
    );
    let (min_lng, max_lng) = (
        lngs.clone().fold(180.0, f64::min),
        lngs.fold(-180.0, f64::max),
    );
    if max_lng - min_lng > 90.0 || max_lat - min_lat > 45.0 {
        return Err("the area is too large (or crosses the antimeridian)".into());
    }
    // Metres per degree around the area (a plane is close enough for a city's zones).
    let m_lat = 111_320.0;
    let m_lng = 111_320.0 * ((min_lat + max_lat) / 2.0).to_radians().cos();
    let shoelace: f64 = (0..area.len())
        .map(|i| {
            let (a, b) = (area[i], area[(i + 1) % area.len()]);
            (a[1] * m_lng) * (b[0] * m_lat) - (b[1] * m_lng) * (a[0] * m_lat)
        })
        .sum();
    let area_m2 = shoelace.abs() / 2.0;
    let estimate = area_m2 / cell_m2;
    if estimate > (2 * MAX_CELLS_PER_ZONE) as f64 {
        return Err(format!(
            "the area is about {area_m2:.0} m², some {estimate:.0} cells of resolution \
             {resolution}; a zone holds at most {MAX_CELLS_PER_ZONE}: choose a coarser \
             resolution or a smaller area"
        ));
    }
    let step_m = edge_m / 4.0;
    let (dlat, dlng) = (step_m / m_lat, step_m / m_lng);
    let (ny, nx) = (
        ((max_lat - min_lat) / dlat).ceil(),
        ((max_lng - min_lng) / dlng).ceil(),
    );
    if ny * nx > 4_000_000.0 {
        return Err(format!(
            "the area's bounding box is too large for resolution {resolution}: choose a coarser \
             resolution or split the area"
        ));
    }
    let cell_at = |lat: f64, lng: f64| -> Result<u64, String> {
        let ll = h3o::LatLng::new(lat, lng).map_err(|e| e.to_string())?;
        Ok(u64::from(ll.to_cell(h3_res)))
    };
    let mut cells = BTreeSet::new();
    for i in 0..=(ny as u64) {
        let lat = (min_lat + i as f64 * dlat).min(max_lat);
        for j in 0..=(nx as u64) {
            let lng = (min_lng + j as f64 * dlng).min(max_lng);
            if inside(area, lat, lng) {
                cells.insert(cell_at(lat, lng)?);
            }
        }
    }
    // The outline, corners included: the cells it crosses cover the area's edge.
    for i in 0..area.len() {
        let (a, b) = (area[i], area[(i + 1) % area.len()]);
        let length_m = ((b[0] - a[0]) * m_lat).hypot((b[1] - a[1]) * m_lng);
        let n = (length_m / step_m).ceil().max(1.0) as u64;
        for t in 0..=n {
            let f = t as f64 / n as f64;
            cells.insert(cell_at(a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f)?);
        }
    }
    Ok(cells.into_iter().collect())
}

/// Whether (lat, lng) lies inside the polygon (even-odd rule, on the lat/lng plane).
fn inside(poly: &[[f64; 2]], lat: f64, lng: f64) -> bool {
    let mut inside = false;
    let mut j = poly.len() - 1;
    for i in 0..poly.len() {
        let ([yi, xi], [yj, xj]) = (poly[i], poly[j]);
        if (yi > lat) != (yj > lat) && lng < (xj - xi) * (lat - yi) / (yj - yi) + xi {
            inside = !inside;
        }
        j = i;
    }
    inside
}
