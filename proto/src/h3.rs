//! H3 cell indexes without an H3 library: which 64-bit values are cells, their resolution, and
//! their parents, by the integer rules of the specification ("Scope and form", *H3*). Decisions
//! need nothing else of H3 (no geometry, no floating point), so every implementation agrees bit
//! for bit; turning a latitude and longitude into a cell is the collector's business (the
//! consent-client crate uses h3o).
//!
//! Bits of an index, from the top: 1 reserved (0), 4 mode (1 = cell), 3 reserved (0), 4
//! resolution `r`, 7 base cell (0..=121), then 15 digits of 3 bits, digit `i` (1..=15) at bits
//! `3·(15−i) .. 3·(15−i)+2`. Digits 1..=r are 0..=6, the others 7. In the 12 pentagon base cells
//! the first non-zero digit may not be 1 (the deleted subsequence).

use std::fmt;
use std::str::FromStr;

/// The 12 base cells that are pentagons.
pub const PENTAGONS: [u64; 12] = [4, 14, 24, 38, 49, 58, 63, 72, 83, 97, 107, 117];

/// The finest H3 resolution.
pub const MAX_RESOLUTION: u8 = 15;

/// Whether `h` is a valid H3 cell index (H3's `isValidCell`).
pub fn is_cell(h: u64) -> bool {
    // High bit 0, mode 1, reserved bits 0.
    if h >> 56 != 0b0000_1000 {
        return false;
    }
    let r = (h >> 52) & 0xF;
    let base = (h >> 45) & 0x7F;
    if base >= 122 {
        return false;
    }
    let mut first_nonzero = 0;
    for i in 1..=15u64 {
        let d = (h >> (3 * (15 - i))) & 7;
        if i <= r {
            if d == 7 {
                return false;
            }
            if first_nonzero == 0 {
                first_nonzero = d;
            }
        } else if d != 7 {
            // Unused digits are all 7.
            return false;
        }
    }
    !(PENTAGONS.contains(&base) && first_nonzero == 1)
}

/// The parent of the valid cell `h` at resolution `p` (`h` itself at its own resolution); `None`
/// when `p` is finer than `h` (H3's `cellToParent`).
fn parent_raw(h: u64, p: u8) -> Option<u64> {
    if u64::from(p) > (h >> 52) & 0xF {
        return None;
    }
    // Digits p+1..=15 become 7.
    let unused = (1u64 << (3 * (15 - u64::from(p)))) - 1;
    Some((h & !(0xF << 52)) | (u64::from(p) << 52) | unused)
}

/// A valid H3 cell index (see [`is_cell`]). Ordered by its 64-bit value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cell(u64);

impl Cell {
    /// The cell `raw`, if it is one.
    pub fn new(raw: u64) -> Option<Cell> {
        is_cell(raw).then_some(Cell(raw))
    }

    /// Its 64-bit index.
    pub fn raw(self) -> u64 {
        self.0
    }

    /// Its resolution, 0..=15.
    pub fn resolution(self) -> u8 {
        ((self.0 >> 52) & 0xF) as u8
    }

    /// The cell containing it at resolution `res` (itself at its own); `None` when `res` is finer
    /// than its resolution.
    pub fn parent(self, res: u8) -> Option<Cell> {
        parent_raw(self.0, res).map(Cell)
    }

    /// Its base cell, 0..=121.
    pub fn base_cell(self) -> u8 {
        ((self.0 >> 45) & 0x7F) as u8
    }
}

impl fmt::Display for Cell {
    /// H3's text form: lower-case hex, no `0x`, no leading zeros (15 digits for every cell).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:x}", self.0)
    }
}

/// Text that is not an H3 cell index.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not an H3 cell index (hex, as 8b1969a8c58cfff)")]
pub struct ParseCellError {
    /// The text given.
    pub text: String,
}

impl FromStr for Cell {
    type Err = ParseCellError;

    /// Hex digits (either case, 1..=16, no `0x`), white space around them ignored.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseCellError {
            text: s.to_string(),
        };
        let t = s.trim();
        if t.is_empty() || t.len() > 16 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(err());
        }
        u64::from_str_radix(t, 16)
            .ok()
            .and_then(Cell::new)
            .ok_or_else(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(hex: &str) -> Cell {
        match hex.parse() {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn parents_follow_the_spec_example() {
        let c = cell("8a754e64992ffff");
        assert_eq!(c.resolution(), 10);
        assert_eq!(c.parent(9), Some(cell("89754e64993ffff")));
        assert_eq!(c.parent(0), Some(cell("8075fffffffffff")));
        assert_eq!(c.parent(10), Some(c));
        assert_eq!(c.parent(11), None);
        assert_eq!(c.to_string(), "8a754e64992ffff");
        assert_eq!(c.base_cell(), 0x3a);
    }

    #[test]
    fn invalid_indexes_are_refused() {
        assert!(is_cell(0x8a754e64992ffff));
        // Mode 2 (a directed edge), reserved bit, high bit.
        assert!(!is_cell((0x8a754e64992ffff & !(0xF << 59)) | (2 << 59)));
        assert!(!is_cell(0x8a754e64992ffff | (1 << 56)));
        assert!(!is_cell(0x8a754e64992ffff | (1 << 63)));
        // A used digit 7; an unused digit not 7.
        assert!(!is_cell(0x8a754e64992ffff | (7 << 15)));
        assert!(!is_cell(0x8a754e64992fffe));
        // Base cell 122.
        assert!(!is_cell((0x08u64 << 56) | (122 << 45) | ((1u64 << 45) - 1)));
        assert!(!is_cell(0));
        assert!(!is_cell(u64::MAX));
        // Base cell 4 is a pentagon: its res-1 child with digit 1 is deleted, digit 2 exists.
        let base4 = (0x08u64 << 56) | (4 << 45) | ((1u64 << 45) - 1);
        assert!(is_cell(base4));
        let child = |d: u64| (base4 & !(0xF << 52) & !(7 << 42)) | (1 << 52) | (d << 42);
        assert!(!is_cell(child(1)));
        assert!(is_cell(child(2)) && is_cell(child(0)));
        assert_eq!(
            Cell::new(child(2)).and_then(|c| c.parent(0)),
            Cell::new(base4)
        );
    }

    #[test]
    fn text_forms_round_trip_and_refuse_garbage() {
        let c = cell(" 8A754E64992FFFF ");
        assert_eq!(c.raw(), 0x8a754e64992ffff);
        for bad in [
            "",
            "0x8a754e64992ffff",
            "8a754e64992fffe",
            "zz",
            "18a754e64992ffff0",
        ] {
            assert!(bad.parse::<Cell>().is_err(), "{bad}");
        }
    }
}
