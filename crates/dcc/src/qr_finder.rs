//! A quick first look for one QR code held flat towards the camera: the common case at a gate,
//! read in a fraction of what a general search costs.
//!
//! A QR code's three finder patterns (ISO/IEC 18004 §6.3.3) are squares of 7×7 modules whose
//! every line through the centre crosses dark, light, dark, light and dark in the proportions
//! 1:1:3:1:1, whatever the code's size or turn. [`RowScan`] looks for those proportions along
//! each row of the picture as the row arrives, so a PNG's rows are searched while the rest of
//! the picture is still being inflated. Once the picture is complete, [`RowScan::read`] keeps
//! the places where several rows agree, checks each across its column, takes three that form
//! the right-angled corner of a square, and reads the grid between them. The three centres fix
//! an affine map from modules to pixels; when the grid read through it does not decode, the
//! alignment pattern (versions 2 and up), searched near where that map expects it, corrects
//! the map for perspective. The cells are read against a threshold taken from the finder
//! patterns themselves and the grid is handed to quirc's decoder, whose error correction
//! rejects any grid that was not read right.
//!
//! Anything this does not read (a strongly tilted or curved code, a mirrored one, a crowd of
//! look-alike patterns) is left to the general search in qr_image.rs, which starts afresh.
//! Every step is bounded (4,096 row crossings, 64 places, 8 patterns, 4 threes of them), so a
//! picture made to look like many codes cannot make this search long.

use quircs::{Code, Point};

use crate::qr_image::Grey;

/// The smallest module width, in pixels, worth looking for: narrower modules do not survive
/// a camera's blur and noise as runs of their own.
const MIN_MODULE: u32 = 2;
/// Every `STEP`th row is searched: a finder pattern's middle is three modules high, so at
/// least three rows cross it.
const STEP: u32 = 2;
/// At most this many row crossings are kept: a picture crowded with look-alikes (a page of
/// small print, a pattern made to match) is left to the general search.
const MAX_HITS: usize = 4_096;
/// A picture of at least this many pixels is scanned on two threads when it is whole already
/// (a JPEG): a Full HD frame.
const SPLIT_PIXELS: usize = 1920 * 1080;
/// At most this many places are checked across their columns, the best supported first.
const MAX_CANDIDATES: usize = 64;
/// At most this many checked finder patterns are tried in threes, and at most this many
/// threes, the likeliest first, are read.
const MAX_FINDERS: usize = 8;
const MAX_CORNERS: usize = 4;

/// Where a row crosses dark and light runs in the proportions 1:1:3:1:1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Hit {
    /// Twice the centre of the middle run, in pixels from the row's start.
    centre2: u32,
    y: u32,
    /// The five runs' total width: seven modules.
    width: u32,
}

/// Rows that cross one place in the same proportions, one below another.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Candidate {
    centre2_sum: u64,
    width_sum: u64,
    rows: u32,
    first_y: u32,
    last_y: u32,
    last_centre2: u32,
}

impl Candidate {
    /// The centre, as a pixel index (a run over pixels 4 to 7 has its centre at 5.5).
    fn x(&self) -> f32 {
        self.centre2_sum as f32 / (2 * self.rows) as f32 - 0.5
    }

    /// The row below which the whole pattern has arrived: its centre, half its height (3.5
    /// modules) and a module to spare.
    fn complete_below(&self) -> f32 {
        (self.first_y + self.last_y) as f32 / 2.0 + self.width() * 4.5 / 7.0 + 1.0
    }

    fn width(&self) -> f32 {
        self.width_sum as f32 / self.rows as f32
    }
}

/// A finder pattern checked along its row and its column.
#[derive(Debug, Clone, Copy)]
struct Finder {
    x: f32,
    y: f32,
    /// The mean of the row's and the column's 7-module totals, over 7.
    module: f32,
    /// Between the pattern's dark and its light, in grey levels.
    threshold: f32,
}

/// Searches rows for finder patterns as they arrive, top to bottom.
#[derive(Debug)]
pub(crate) struct RowScan {
    width: usize,
    half_window: usize,
    y: u32,
    sums: Vec<u32>,
    dark: Vec<u8>,
    hits: Vec<Hit>,
    /// Places rows still cross, and places no row has crossed for a while.
    open: Vec<Candidate>,
    closed: Vec<Candidate>,
    /// For reading before the picture is complete: how many closed places have been looked
    /// at and checked across, the finder patterns found among them, and the threes of them
    /// already read or waiting for the rows their code covers (at most [`MAX_CORNERS`]).
    checked: usize,
    confirms: usize,
    finders: Vec<Finder>,
    tried: Vec<[usize; 3]>,
    waiting: Vec<([usize; 3], f32)>,
}

impl RowScan {
    pub(crate) fn new(width: usize) -> RowScan {
        RowScan {
            width,
            // A pixel is dark when it is under 90 % of the mean of the 1/8 of the row around
            // it: wide enough to hold several modules, narrow enough to follow uneven light.
            half_window: (width / 16).max(4),
            y: 0,
            sums: Vec::with_capacity(width + 1),
            dark: Vec::with_capacity(width),
            hits: Vec::new(),
            open: Vec::new(),
            closed: Vec::new(),
            checked: 0,
            confirms: 0,
            finders: Vec::new(),
            tried: Vec::new(),
            waiting: Vec::new(),
        }
    }

    /// Scans a whole picture. A large one is searched in two halves side by side, the lower
    /// half on a second thread; the places are then gathered from both halves' rows in order,
    /// as if the rows had come one by one.
    pub(crate) fn over(grey: &Grey) -> RowScan {
        let mut scan = RowScan::new(grey.width);
        if grey.width == 0 {
            return scan;
        }
        if grey.pixels.len() < SPLIT_PIXELS {
            for row in grey.pixels.chunks_exact(grey.width) {
                scan.row(row);
            }
            return scan;
        }
        let half = grey.height / 2 / STEP as usize * STEP as usize;
        let (upper, lower) = grey.pixels.split_at(half * grey.width);
        let lower_hits = std::thread::scope(|scope| {
            let lower = std::thread::Builder::new()
                .name("qr-rows".into())
                .spawn_scoped(scope, || {
                    let mut lower_scan = RowScan::new(grey.width);
                    lower_scan.find_all(lower, half as u32);
                    lower_scan.hits
                });
            scan.find_all(upper, 0);
            lower.ok().and_then(|lower| lower.join().ok())
        });
        // Without a second thread, the lower half after the upper one.
        let lower_hits = lower_hits.unwrap_or_else(|| {
            let mut lower_scan = RowScan::new(grey.width);
            lower_scan.find_all(lower, half as u32);
            lower_scan.hits
        });
        let room = MAX_HITS.saturating_sub(scan.hits.len());
        scan.hits.extend(lower_hits.into_iter().take(room));
        let mut first = 0;
        for y in (0..grey.height as u32).step_by(STEP as usize) {
            let last = first + scan.hits[first..].iter().take_while(|h| h.y == y).count();
            scan.gather(y, first..last);
            first = last;
        }
        scan.y = grey.height as u32;
        scan
    }

    /// Searches the rows of `pixels`, the first of them row `y` of the picture, for hits
    /// only.
    fn find_all(&mut self, pixels: &[u8], y: u32) {
        for (k, row) in pixels.chunks_exact(self.width).enumerate() {
            let y = y + k as u32;
            if y.is_multiple_of(STEP) {
                self.find_hits(row, y);
            }
        }
    }

    /// Scans the next row of the picture.
    pub(crate) fn row(&mut self, row: &[u8]) {
        let y = self.y;
        self.y = self.y.saturating_add(1);
        if !y.is_multiple_of(STEP) {
            return;
        }
        let first_hit = self.hits.len();
        self.find_hits(row, y);
        self.gather(y, first_hit..self.hits.len());
    }

    /// Adds row `y`'s hits to `self.hits`.
    fn find_hits(&mut self, row: &[u8], y: u32) {
        let width = row.len().min(self.width);
        let row = &row[..width];
        self.dark_pixels(row);
        // Runs are measured between changes of colour, so a pixel costs a comparison.
        let mut runs = [0u32; 5];
        let mut changes = 0u32;
        let mut run_start = 0u32;
        let mut last = self.dark.first().copied().unwrap_or(0);
        // The row ends as if light followed it, so that a code printed without its quiet zone
        // has its patterns at the right edge found too.
        let pixels = self.dark.iter().copied().chain(std::iter::once(0));
        for (x, dark) in pixels.enumerate() {
            if dark == last {
                continue;
            }
            let x = x as u32;
            runs = [runs[1], runs[2], runs[3], runs[4], x - run_start];
            run_start = x;
            last = dark;
            changes += 1;
            // A dark run has just ended: the last five runs are dark, light, dark, light,
            // dark.
            if dark == 0 && changes >= 5 && in_proportion(&runs) && self.hits.len() < MAX_HITS {
                let after_middle = x - runs[4] - runs[3];
                self.hits.push(Hit {
                    centre2: 2 * after_middle - runs[2],
                    y,
                    width: runs.iter().sum(),
                });
            }
        }
    }

    /// Closes the places no row has crossed for two modules' height (at least four rows), then adds
    /// the hits of row `y` (`self.hits[row]`) to the places they continue, or as new places.
    fn gather(&mut self, y: u32, row: std::ops::Range<usize>) {
        let closed = &mut self.closed;
        self.open.retain(|c| {
            let gap = STEP * (c.width_sum / u64::from(7 * c.rows)).max(2) as u32;
            let done = c.last_y + gap < y;
            if done {
                closed.push(*c);
            }
            !done
        });
        for hit in self.hits.get(row).unwrap_or_default() {
            let module = (hit.width / 7).max(1);
            let near = self.open.iter_mut().find(|c| {
                c.last_y < hit.y
                    && c.last_centre2.abs_diff(hit.centre2) <= 2 * module
                    && (c.width() - hit.width as f32).abs() <= c.width() / 2.0
            });
            match near {
                Some(c) => {
                    c.centre2_sum += u64::from(hit.centre2);
                    c.width_sum += u64::from(hit.width);
                    c.rows += 1;
                    c.last_y = hit.y;
                    c.last_centre2 = hit.centre2;
                }
                None => self.open.push(Candidate {
                    centre2_sum: u64::from(hit.centre2),
                    width_sum: u64::from(hit.width),
                    rows: 1,
                    first_y: hit.y,
                    last_y: hit.y,
                    last_centre2: hit.centre2,
                }),
            }
        }
    }

    /// Marks the row's dark pixels (1) in `self.dark`: a pixel is dark when it is under 90 %
    /// of the mean of the pixels within `half_window` of it.
    fn dark_pixels(&mut self, row: &[u8]) {
        let width = row.len();
        self.sums.clear();
        self.sums.push(0);
        let mut total = 0u32;
        self.sums.extend(row.iter().map(|&p| {
            total += u32::from(p);
            total
        }));
        self.dark.clear();
        let sums = &self.sums;
        // At most 255 × 8,192 × 10, well inside u32.
        let edge = |x: usize| {
            let (low, high) = (
                x.saturating_sub(self.half_window),
                (x + self.half_window + 1).min(width),
            );
            let sum = sums[high] - sums[low];
            u8::from(u32::from(row[x]) * (high - low) as u32 * 10 < sum * 9)
        };
        let h = self.half_window;
        if width <= 2 * h + 1 {
            self.dark.extend((0..width).map(edge));
            return;
        }
        self.dark.extend((0..h).map(edge));
        // Inside the row every window is full, and this loop is vectorised.
        let full = (2 * h + 1) as u32 * 10;
        self.dark.extend(
            row[h..width - h]
                .iter()
                .zip(&sums[2 * h + 1..])
                .zip(sums)
                .map(|((&p, &high), &low)| u8::from(u32::from(p) * full < (high - low) * 9)),
        );
        self.dark.extend((width - h..width).map(edge));
    }

    /// Reads the code the rows point to, in the complete picture `grey` they came from.
    pub(crate) fn read(&self, grey: &Grey) -> Option<String> {
        if grey.width != self.width || grey.width == 0 {
            return None;
        }
        let finders: Vec<Finder> = self
            .candidates(grey)
            .iter()
            .filter_map(|c| confirm(grey, c))
            .take(MAX_FINDERS)
            .collect();
        corners(&finders)
            .into_iter()
            .find_map(|[a, b, c]| read_grid(grey, &finders[a], &finders[b], &finders[c]))
    }

    /// The places several rows agree on, the best supported first.
    fn candidates(&self, grey: &Grey) -> Vec<Candidate> {
        let mut all: Vec<Candidate> = self
            .closed
            .iter()
            .chain(&self.open)
            .filter(|c| plausible(grey.width.min(grey.height), c))
            .copied()
            .collect();
        all.sort_by_key(|c| std::cmp::Reverse(c.rows));
        all.truncate(MAX_CANDIDATES);
        all
    }

    /// Whether [`RowScan::read_early`] has anything to do once `rows` rows are in: a place
    /// has been passed since it last looked, or a code's rows have arrived.
    pub(crate) fn has_news(&self, rows: usize) -> bool {
        let rows = rows as f32;
        self.closed
            .get(self.checked)
            .is_some_and(|c| c.complete_below() < rows)
            || self.waiting.iter().any(|w| w.1 < rows)
    }

    /// Reads the code before the picture is complete, once its three finder patterns have
    /// been passed and the rows its grid covers have arrived: `grey` is the picture so far.
    /// Each three of patterns is read once here; whatever is not read is searched again in
    /// the complete picture.
    pub(crate) fn read_early(&mut self, grey: &Grey) -> Option<String> {
        if grey.width != self.width || grey.width == 0 {
            return None;
        }
        // Places are checked across once all their rows are in, in the order they closed.
        let rows = grey.height as f32;
        let mut fresh = false;
        while let Some(&c) = self.closed.get(self.checked) {
            if c.complete_below() >= rows {
                break;
            }
            self.checked += 1;
            fresh = true;
            // The picture's height is not known yet; its width bounds the code's size.
            if plausible(grey.width, &c)
                && self.confirms < MAX_CANDIDATES
                && self.finders.len() < MAX_FINDERS
            {
                self.confirms += 1;
                self.finders.extend(confirm(grey, &c));
            }
        }
        if fresh {
            for three in corners(&self.finders) {
                let known =
                    self.tried.contains(&three) || self.waiting.iter().any(|w| w.0 == three);
                if !known && self.tried.len() + self.waiting.len() < MAX_CORNERS {
                    let [a, b, c] = three.map(|i| self.finders[i]);
                    self.waiting.push((three, lowest_row(&a, &b, &c)));
                }
            }
        }
        let (ready, waiting): (Vec<_>, Vec<_>) =
            self.waiting.iter().partition(|(_, lowest)| *lowest < rows);
        self.waiting = waiting;
        for (three, _) in ready {
            self.tried.push(three);
            let [a, b, c] = three.map(|i| self.finders[i]);
            if let Some(text) = read_grid(grey, &a, &b, &c) {
                return Some(text);
            }
        }
        None
    }
}

/// Whether a place is worth checking: at least two rows agree (a pattern turned by 45°
/// agrees on few), and a pattern is at most a third of its code.
fn plausible(side: usize, c: &Candidate) -> bool {
    c.rows >= 2 && 2.5 * c.width() <= side as f32
}

/// The lowest row the code with finder patterns `a`, `b` and `c` reaches, with room for
/// perspective: its fourth corner is where b + c − a puts it, give or take a tenth of the
/// code, and each corner is half a pattern beyond a pattern's centre.
fn lowest_row(a: &Finder, b: &Finder, c: &Finder) -> f32 {
    let d = (b.x + c.x - a.x, b.y + c.y - a.y);
    let span = (b.x - a.x)
        .hypot(b.y - a.y)
        .max((c.x - a.x).hypot(c.y - a.y));
    let lowest = [a.y, b.y, c.y, d.1].into_iter().fold(f32::MIN, f32::max);
    lowest + 5.0 * a.module.max(b.module).max(c.module) + span / 10.0
}

/// Whether dark, light, dark, light and dark runs stand 1:1:3:1:1, within three quarters of a
/// module each way, with modules of at least [`MIN_MODULE`] pixels.
fn in_proportion(runs: &[u32; 5]) -> bool {
    let module4 = runs[0] + runs[1] + runs[3] + runs[4];
    if module4 < 4 * MIN_MODULE {
        return false;
    }
    // In quarters of a pixel: each run within 3/4 of a module of its expected width.
    let slack = 3 * module4 / 4;
    [1, 1, 3, 1, 1]
        .iter()
        .zip(runs)
        .all(|(&modules, &run)| (4 * run).abs_diff(modules * module4) <= slack)
}

/// Checks a candidate across its column and again along its row, and returns the pattern's
/// centre, module width and threshold.
fn confirm(grey: &Grey, candidate: &Candidate) -> Option<Finder> {
    let width = candidate.width();
    let (mut x, mut y) = (
        candidate.x(),
        (candidate.first_y + candidate.last_y) as f32 / 2.0,
    );
    let threshold = box_threshold(grey, x, y, width * 9.0 / 7.0)?;
    let limit = (2.0 * width) as u32 + 2;
    let (centre_y, column) = crossing(grey, x, y, (0, 1), threshold, limit)?;
    y = centre_y;
    let (centre_x, row) = crossing(grey, x, y, (1, 0), threshold, limit)?;
    x = centre_x;
    let (centre_y, column) = crossing(grey, x, y, (0, 1), threshold, limit)
        .filter(|(_, c)| (c - column).abs() <= column / 2.0)?;
    Some(Finder {
        x,
        y: centre_y,
        module: (row + column) / 14.0,
        threshold,
    })
}

/// The grey level halfway between a finder pattern's dark and light: the mean over a square
/// of `side` pixels around it, the pattern and its light border, is close to it. At most
/// 48 × 48 pixels of the square are averaged, evenly spread.
fn box_threshold(grey: &Grey, x: f32, y: f32, side: f32) -> Option<f32> {
    let half = (side / 2.0).max(1.0);
    let left = (x - half).max(0.0) as usize;
    let top = (y - half).max(0.0) as usize;
    let right = ((x + half) as usize).min(grey.width.saturating_sub(1));
    let bottom = ((y + half) as usize).min(grey.height.saturating_sub(1));
    if right <= left || bottom <= top {
        return None;
    }
    let stride = ((side / 48.0) as usize).max(1);
    let (mut sum, mut count) = (0u64, 0u64);
    for row in grey
        .pixels
        .chunks_exact(grey.width)
        .take(bottom + 1)
        .skip(top)
        .step_by(stride)
    {
        for &p in row.get(left..=right)?.iter().step_by(stride) {
            sum += u64::from(p);
            count += 1;
        }
    }
    Some(sum as f32 / count as f32)
}

/// Follows the line through (`x`, `y`) along `step` both ways, and if it crosses dark,
/// light, dark, light and dark in finder proportions with the start in the middle run,
/// returns the middle run's centre (in the line's own coordinate) and the five runs' total.
/// No run is followed for more than `limit` pixels.
fn crossing(
    grey: &Grey,
    x: f32,
    y: f32,
    step: (isize, isize),
    threshold: f32,
    limit: u32,
) -> Option<(f32, f32)> {
    let (x0, y0) = (x.round() as isize, y.round() as isize);
    let dark = |i: isize| -> Option<bool> {
        let px = usize::try_from(x0 + i * step.0).ok()?;
        let py = usize::try_from(y0 + i * step.1).ok()?;
        if px >= grey.width {
            return None;
        }
        let &pixel = grey.pixels.get(py.checked_mul(grey.width)? + px)?;
        Some(f32::from(pixel) < threshold)
    };
    if !dark(0)? {
        return None;
    }
    // From the start outwards each way: the rest of the middle run, a light run, a dark run.
    let mut runs = [[0u32; 3]; 2];
    for (way, sign) in [-1isize, 1].into_iter().enumerate() {
        let mut i = 0isize;
        for (k, want_dark) in [true, false, true].into_iter().enumerate() {
            let mut length = 0u32;
            loop {
                match dark(i + sign) {
                    Some(d) if d == want_dark => {
                        i += sign;
                        length += 1;
                        if length >= limit {
                            return None;
                        }
                    }
                    Some(_) => break,
                    // A code printed without its quiet zone may end at the picture's edge
                    // right after the pattern's outer ring.
                    None if k == 2 => break,
                    None => return None,
                }
            }
            runs[way][k] = length;
        }
    }
    let middle = runs[0][0] + runs[1][0] + 1;
    let five = [runs[0][2], runs[0][1], middle, runs[1][1], runs[1][2]];
    if !in_proportion(&five) {
        return None;
    }
    // The middle run covers pixels start - before ..= start + after.
    let centre = (runs[1][0] as f32 - runs[0][0] as f32) / 2.0;
    let along = if step.0 != 0 { x0 } else { y0 };
    Some((along as f32 + centre, five.iter().sum::<u32>() as f32))
}

/// Threes of finder patterns that could be one code's, as [top left, top right, bottom left]:
/// at most [`MAX_CORNERS`], the nearest to the right-angled, isosceles corner of a square
/// first.
fn corners(finders: &[Finder]) -> Vec<[usize; 3]> {
    let mut found = Vec::new();
    for (a, fa) in finders.iter().enumerate() {
        for (b, fb) in finders.iter().enumerate() {
            for (c, fc) in finders.iter().enumerate().skip(b + 1) {
                if a == b || a == c {
                    continue;
                }
                let modules = [fa.module, fb.module, fc.module];
                let largest = modules.iter().copied().fold(0.0, f32::max);
                let smallest = modules.iter().copied().fold(f32::MAX, f32::min);
                if largest > 1.5 * smallest {
                    continue;
                }
                let (ab, ac) = ((fb.x - fa.x, fb.y - fa.y), (fc.x - fa.x, fc.y - fa.y));
                let (lab, lac) = (ab.0.hypot(ab.1), ac.0.hypot(ac.1));
                // The smallest code has 14 modules between finder centres.
                if lab < 10.0 * smallest || lac < 10.0 * smallest {
                    continue;
                }
                let cosine = (ab.0 * ac.0 + ab.1 * ac.1) / (lab * lac);
                let ratio = (lab - lac).abs() / lab.max(lac);
                if cosine.abs() > 0.25 || ratio > 0.25 {
                    continue;
                }
                // With y downwards, top right follows top left clockwise.
                let cross = ab.0 * ac.1 - ab.1 * ac.0;
                let order = if cross > 0.0 { [a, b, c] } else { [a, c, b] };
                found.push((cosine.abs() + ratio, order));
            }
        }
    }
    found.sort_by(|a, b| a.0.total_cmp(&b.0));
    found
        .into_iter()
        .take(MAX_CORNERS)
        .map(|(_, order)| order)
        .collect()
}

/// Where a code's modules are in the picture: module coordinates (u, v), from the code's top
/// left corner, to pixels.
#[derive(Debug, Clone, Copy)]
enum Map {
    /// origin + u·du + v·dv.
    Affine {
        origin: (f32, f32),
        du: (f32, f32),
        dv: (f32, f32),
    },
    /// ((h0·u + h1·v + h2) / w, (h3·u + h4·v + h5) / w) with w = h6·u + h7·v + 1.
    Perspective([f64; 8]),
}

impl Map {
    fn at(&self, u: f32, v: f32) -> (f32, f32) {
        match *self {
            Map::Affine { origin, du, dv } => (
                origin.0 + u * du.0 + v * dv.0,
                origin.1 + u * du.1 + v * dv.1,
            ),
            Map::Perspective(h) => {
                let (u, v) = (f64::from(u), f64::from(v));
                let w = h[6] * u + h[7] * v + 1.0;
                (
                    ((h[0] * u + h[1] * v + h[2]) / w) as f32,
                    ((h[3] * u + h[4] * v + h[5]) / w) as f32,
                )
            }
        }
    }

    /// The map taking four module coordinates to four pixels, if they are in general
    /// position: eight linear equations in h, solved by elimination.
    fn through(points: [((f32, f32), (f32, f32)); 4]) -> Option<Map> {
        let mut rows = [[0f64; 9]; 8];
        for (k, ((u, v), (x, y))) in points.into_iter().enumerate() {
            let (u, v, x, y) = (f64::from(u), f64::from(v), f64::from(x), f64::from(y));
            rows[2 * k] = [u, v, 1.0, 0.0, 0.0, 0.0, -u * x, -v * x, x];
            rows[2 * k + 1] = [0.0, 0.0, 0.0, u, v, 1.0, -u * y, -v * y, y];
        }
        for column in 0..8 {
            let pivot = (column..8)
                .max_by(|&i, &j| rows[i][column].abs().total_cmp(&rows[j][column].abs()))?;
            if rows[pivot][column].abs() < 1e-9 {
                return None;
            }
            rows.swap(column, pivot);
            let lead = rows[column];
            for (i, row) in rows.iter_mut().enumerate() {
                if i != column {
                    let factor = row[column] / lead[column];
                    for (value, &l) in row.iter_mut().zip(&lead) {
                        *value -= factor * l;
                    }
                }
            }
        }
        let mut h = [0f64; 8];
        for (k, value) in h.iter_mut().enumerate() {
            *value = rows[k][8] / rows[k][k];
        }
        h.iter()
            .all(|v| v.is_finite())
            .then_some(Map::Perspective(h))
    }
}

/// Reads the grid of the code whose finder patterns are `a` (top left), `b` (top right) and
/// `c` (bottom left), trying the versions its size suggests, nearest first.
fn read_grid(grey: &Grey, a: &Finder, b: &Finder, c: &Finder) -> Option<String> {
    let ab = (b.x - a.x, b.y - a.y);
    let ac = (c.x - a.x, c.y - a.y);
    let distance = (ab.0.hypot(ab.1) + ac.0.hypot(ac.1)) / 2.0;
    // A row or a column through a turned pattern is longer than its 7 modules by 1/cos of the
    // turn, folded into ±45°.
    let turn = ab.1.atan2(ab.0);
    let fold = turn.cos().abs().max(turn.sin().abs());
    let module = (a.module + b.module + c.module) / 3.0 * fold;
    // Finder centres are size − 7 modules apart, and size = 17 + 4 × version.
    let estimate = ((distance / module - 10.0) / 4.0).round() as i32;
    let affine = |version: i32| {
        let size = 17 + 4 * version;
        let span = (size - 7) as f32;
        // Module coordinates start at the code's top left corner; finder centres are 3.5
        // modules in.
        let du = (ab.0 / span, ab.1 / span);
        let dv = (ac.0 / span, ac.1 / span);
        let origin = (a.x - 3.5 * (du.0 + dv.0), a.y - 3.5 * (du.1 + dv.1));
        (size, Map::Affine { origin, du, dv })
    };
    // Seen at a slant, the far corner is away from where the three centres put it: the map
    // is corrected for perspective by the alignment pattern.
    let corrected = |size: i32, affine: &Map, reach: f32| {
        let far = size as f32 - 3.5;
        let (x, y) = alignment(grey, affine, size, [a, b, c], reach)?;
        Map::through([
            ((3.5, 3.5), (a.x, a.y)),
            ((far, 3.5), (b.x, b.y)),
            ((3.5, far), (c.x, c.y)),
            ((far - 3.0, far - 3.0), (x, y)),
        ])
    };
    let versions = [0, 1, -1, 2, -2]
        .map(|offset| estimate.saturating_add(offset))
        .into_iter()
        .filter(|version| (1..=40).contains(version));
    for version in versions {
        let (size, affine) = affine(version);
        let text = sample(grey, &affine, size, [a, b, c]).or_else(|| {
            corrected(size, &affine, 4.0).and_then(|map| sample(grey, &map, size, [a, b, c]))
        });
        if text.is_some() {
            return text;
        }
    }
    // A steeper slant, for the likeliest version only: searched farther.
    let version = estimate.clamp(1, 40);
    let (size, affine) = affine(version);
    corrected(size, &affine, 12.0).and_then(|map| sample(grey, &map, size, [a, b, c]))
}

/// The threshold at module (u, v) of a `size`-module code: the finder patterns' thresholds,
/// interpolated between their centres.
fn threshold_at(u: f32, v: f32, size: i32, [a, b, c]: [&Finder; 3]) -> f32 {
    let span = (size - 7) as f32;
    let (s, t) = ((u - 3.5) / span, (v - 3.5) / span);
    a.threshold + s * (b.threshold - a.threshold) + t * (c.threshold - a.threshold)
}

/// The alignment pattern nearest the bottom right corner (§6.3.6: versions 2 and up have
/// one, its centre 6.5 modules in from both far edges), searched within `reach` modules of
/// where `affine` puts it: the place where a 5×5-module template of dark centre, light ring
/// and dark ring fits best, if it fits at least 23 of its 25 modules. Places are tried a
/// third of a module apart; of those that fit best, the one nearest where it was expected
/// is taken, averaged with those that fit as well within a module of it.
fn alignment(
    grey: &Grey,
    affine: &Map,
    size: i32,
    finders: [&Finder; 3],
    reach: f32,
) -> Option<(f32, f32)> {
    let Map::Affine { du, dv, .. } = *affine else {
        return None;
    };
    if size < 25 {
        return None;
    }
    let centre = size as f32 - 6.5;
    let (px, py) = affine.at(centre, centre);
    let threshold = threshold_at(centre, centre, size, finders);
    let module = (du.0.hypot(du.1) + dv.0.hypot(dv.1)) / 2.0;
    let step = (module / 3.0).max(1.0);
    let steps = ((reach * module / step).ceil() as i32).min(64);
    let mut fitting = Vec::new();
    for sy in -steps..=steps {
        for sx in -steps..=steps {
            let (cx, cy) = (px + sx as f32 * step, py + sy as f32 * step);
            let mut fits = 0u32;
            for j in -2i32..=2 {
                for i in -2i32..=2 {
                    let want_dark = i.abs().max(j.abs()) != 1;
                    let (fi, fj) = (i as f32, j as f32);
                    let x = cx + fi * du.0 + fj * dv.0;
                    let y = cy + fi * du.1 + fj * dv.1;
                    if pixel(grey, x, y).is_some_and(|p| (f32::from(p) < threshold) == want_dark) {
                        fits += 1;
                    }
                }
            }
            if fits >= 23 {
                fitting.push((fits, cx, cy));
            }
        }
    }
    let best = fitting.iter().map(|f| f.0).max()?;
    let distance = |x: f32, y: f32| (x - px).hypot(y - py);
    let &(_, nx, ny) = fitting
        .iter()
        .filter(|f| f.0 == best)
        .min_by(|a, b| distance(a.1, a.2).total_cmp(&distance(b.1, b.2)))?;
    let (mut sum, mut count) = ((0.0, 0.0), 0.0);
    for &(_, x, y) in fitting
        .iter()
        .filter(|f| f.0 == best && (f.1 - nx).hypot(f.2 - ny) <= module)
    {
        sum = (sum.0 + x, sum.1 + y);
        count += 1.0;
    }
    Some((sum.0 / count, sum.1 / count))
}

/// The pixel nearest (`x`, `y`), if it is in the picture.
fn pixel(grey: &Grey, x: f32, y: f32) -> Option<u8> {
    // Also false for NaN.
    if !(x >= 0.0 && y >= 0.0 && x < grey.width as f32 - 0.5 && y < grey.height as f32 - 0.5) {
        return None;
    }
    // Non-negative, so adding a half and truncating rounds (and costs no call to round).
    let (x, y) = ((x + 0.5) as usize, (y + 0.5) as usize);
    grey.pixels.get(y * grey.width + x).copied()
}

/// Reads every cell of a `size`-module grid through `map` and decodes it.
fn sample(grey: &Grey, map: &Map, size: i32, finders: [&Finder; 3]) -> Option<String> {
    let mut code = Code {
        size,
        ..Code::default()
    };
    let cells = usize::try_from(size * size).ok()?;
    if cells > code.cell_bitmap.len() * 8 {
        return None;
    }
    // The cell's centre and, where modules are wide enough to hold them, four pixels
    // around it, against noise.
    let (x0, y0) = map.at(0.0, 0.0);
    let (x1, y1) = map.at(size as f32, 0.0);
    let around = if (x1 - x0).hypot(y1 - y0) >= 5.0 * size as f32 {
        1.0
    } else {
        0.0
    };
    let points = [
        (0.0, 0.0),
        (-around, 0.0),
        (around, 0.0),
        (0.0, -around),
        (0.0, around),
    ];
    let mut cell = 0usize;
    for v in 0..size {
        for u in 0..size {
            let (cu, cv) = (u as f32 + 0.5, v as f32 + 0.5);
            let (x, y) = map.at(cu, cv);
            let mut level = 0u32;
            for (ox, oy) in points {
                level += u32::from(pixel(grey, x + ox, y + oy)?);
            }
            if (level as f32) < 5.0 * threshold_at(cu, cv, size, finders) {
                code.cell_bitmap[cell >> 3] |= 1 << (cell & 7);
            }
            cell += 1;
        }
    }
    let size_f = size as f32;
    let corners = [(0.0, 0.0), (size_f, 0.0), (size_f, size_f), (0.0, size_f)];
    for (corner, (u, v)) in code.corners.iter_mut().zip(corners) {
        let (x, y) = map.at(u, v);
        *corner = Point {
            x: x as i32,
            y: y as i32,
        };
    }
    let data = code.decode().ok()?;
    String::from_utf8(data.payload).ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use proptest::prelude::*;
    use qrcode::{EcLevel, QrCode, Version};

    use super::*;
    use crate::qr_png::Reading;

    /// A small deterministic generator for sensor-like noise.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    /// A `width`×`height` picture of `code` on a sheet with its quiet zone, the sheet on a
    /// darker, grainy desk. `to_module` takes a pixel to the code's module coordinates (0 to
    /// the code's width across the symbol). Each pixel averages four samples, as a lens
    /// blurs edges, and gets noise of up to ±`noise` grey levels.
    fn picture(
        code: &QrCode,
        width: usize,
        height: usize,
        noise: u8,
        to_module: impl Fn(f32, f32) -> (f32, f32),
    ) -> Grey {
        let size = code.width() as f32;
        let colours = code.to_colors();
        let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
        let mut pixels = Vec::with_capacity(width * height);
        for y in 0..height {
            for x in 0..width {
                let mut level = 0u32;
                for (ox, oy) in [(0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)] {
                    let (u, v) = to_module(x as f32 + ox, y as f32 + oy);
                    level += if (0.0..size).contains(&u) && (0.0..size).contains(&v) {
                        let index = v as usize * code.width() + u as usize;
                        if colours[index] == qrcode::Color::Dark {
                            35
                        } else {
                            215
                        }
                    } else if (-4.0..size + 4.0).contains(&u) && (-4.0..size + 4.0).contains(&v) {
                        215
                    } else {
                        110
                    };
                }
                let grain = (rng.next() % (2 * u64::from(noise) + 1)) as i32 - i32::from(noise);
                pixels.push((level as i32 / 4 + grain).clamp(0, 255) as u8);
            }
        }
        Grey {
            width,
            height,
            pixels,
        }
    }

    /// The code turned by `degrees` about the picture's centre, `module` pixels a module.
    fn turned(code: &QrCode, width: usize, height: usize, module: f32, degrees: f32) -> Grey {
        let (sin, cos) = degrees.to_radians().sin_cos();
        let half = code.width() as f32 / 2.0;
        let (cx, cy) = (width as f32 / 2.0, height as f32 / 2.0);
        picture(code, width, height, 12, |x, y| {
            let (dx, dy) = (x - cx, y - cy);
            (
                (cos * dx + sin * dy) / module + half,
                (-sin * dx + cos * dy) / module + half,
            )
        })
    }

    fn text(length: usize) -> String {
        let alphabet = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        let body: String = (0..length)
            .map(|_| char::from(alphabet[(rng.next() % alphabet.len() as u64) as usize]))
            .collect();
        format!("HC1:{body}")
    }

    fn quick(grey: &Grey) -> Option<String> {
        RowScan::over(grey).read(grey)
    }

    #[test]
    fn reads_a_code_turned_any_way() {
        let text = text(600);
        let code = QrCode::new(text.as_bytes()).unwrap();
        for degrees in [
            0.0, 5.0, 17.0, 30.0, 45.0, 62.0, 90.0, 135.0, 180.0, 211.0, 270.0, 333.0,
        ] {
            let grey = turned(&code, 900, 900, 5.0, degrees);
            assert_eq!(quick(&grey).as_deref(), Some(text.as_str()), "{degrees}°");
        }
    }

    #[test]
    fn reads_every_size_of_code_from_small_to_large_modules() {
        for (version, module) in [
            (1, 6.0),
            (2, 4.0),
            (5, 3.0),
            (7, 4.5),
            (10, 3.5),
            (15, 8.0),
            (25, 3.0),
        ] {
            let capacity = [
                0, 20, 38, 61, 90, 122, 154, 178, 221, 262, 311, 366, 419, 483, 528, 600, 656, 734,
                816, 909, 970, 1035, 1134, 1248, 1326, 1451,
            ][version];
            let text = text(capacity - 4);
            let code =
                QrCode::with_version(text.as_bytes(), Version::Normal(version as i16), EcLevel::M)
                    .unwrap();
            let side = ((code.width() as f32 + 16.0) * module) as usize;
            let grey = turned(&code, side + 100, side + 60, module, 8.0);
            assert_eq!(
                quick(&grey).as_deref(),
                Some(text.as_str()),
                "version {version} at {module} px"
            );
        }
    }

    #[test]
    fn reads_a_tilted_code_through_its_alignment_pattern() {
        let text = text(600);
        let code = QrCode::new(text.as_bytes()).unwrap();
        let size = code.width() as f32;
        // The sheet seen from below and to the left: its far edges are shorter.
        let sheet = [
            (-4.0, -4.0),
            (size + 4.0, -4.0),
            (size + 4.0, size + 4.0),
            (-4.0, size + 4.0),
        ];
        let quad = [
            (250.0, 150.0),
            (800.0, 175.0),
            (830.0, 760.0),
            (220.0, 735.0),
        ];
        let pairs: [((f32, f32), (f32, f32)); 4] = std::array::from_fn(|i| (sheet[i], quad[i]));
        let forward = Map::through(pairs).unwrap();
        let map = Map::through(pairs.map(|(module, pixel)| (pixel, module))).unwrap();
        let grey = picture(&code, 1024, 900, 12, |x, y| map.at(x, y));
        // The affine map alone misreads it: the alignment pattern is what corrects it.
        let scan = RowScan::over(&grey);
        let finders: Vec<Finder> = scan
            .candidates(&grey)
            .iter()
            .filter_map(|c| confirm(&grey, c))
            .collect();
        assert_eq!(finders.len(), 3, "{finders:?}");
        let [[a, b, c]] = corners(&finders)[..] else {
            panic!("one corner");
        };
        let [a, b, c] = [&finders[a], &finders[b], &finders[c]];
        let span = size - 7.0;
        let du = ((b.x - a.x) / span, (b.y - a.y) / span);
        let dv = ((c.x - a.x) / span, (c.y - a.y) / span);
        let origin = (a.x - 3.5 * (du.0 + dv.0), a.y - 3.5 * (du.1 + dv.1));
        let affine = Map::Affine { origin, du, dv };
        assert_eq!(sample(&grey, &affine, code.width() as i32, [a, b, c]), None);
        let (x, y) = alignment(&grey, &affine, code.width() as i32, [a, b, c], 12.0).unwrap();
        let (true_x, true_y) = forward.at(size - 6.5, size - 6.5);
        assert!(
            (x - true_x).hypot(y - true_y) < 3.0,
            "{x},{y} for {true_x},{true_y}"
        );
        assert_eq!(quick(&grey).as_deref(), Some(text.as_str()));
    }

    fn png_of(grey: &Grey) -> Vec<u8> {
        let picture =
            image::GrayImage::from_raw(grey.width as u32, grey.height as u32, grey.pixels.clone())
                .expect("the right size");
        let mut png = std::io::Cursor::new(Vec::new());
        picture.write_to(&mut png, image::ImageFormat::Png).unwrap();
        png.into_inner()
    }

    #[test]
    fn a_png_s_code_is_read_as_soon_as_its_rows_are_in() {
        let text = text(600);
        let code = QrCode::new(text.as_bytes()).unwrap();
        let grey = turned(&code, 700, 600, 4.0, 12.0);
        let Some(Reading::Code(early)) =
            crate::qr_png::read(&png_of(&grey), 8_192, 1 << 28).unwrap()
        else {
            panic!("read before the end");
        };
        assert_eq!(early, text);
        // Row by row as the rows came: the same places, and the code read from the rows down
        // to just below it, not from the whole picture.
        let mut scan = RowScan::new(grey.width);
        let mut rows = 0;
        let read_at = loop {
            let row = &grey.pixels[rows * grey.width..(rows + 1) * grey.width];
            scan.row(row);
            rows += 1;
            if scan.has_news(rows) {
                let so_far = Grey {
                    width: grey.width,
                    height: rows,
                    pixels: grey.pixels[..rows * grey.width].to_vec(),
                };
                if let Some(read) = scan.read_early(&so_far) {
                    assert_eq!(read, text);
                    break rows;
                }
            }
            assert!(rows < grey.height, "never read early");
        };
        assert!(
            read_at < grey.height - 40,
            "read at row {read_at} of {}",
            grey.height
        );
        let whole = RowScan::over(&grey);
        assert_eq!(scan.hits[..], whole.hits[..scan.hits.len()]);
    }

    #[test]
    fn a_large_picture_scanned_in_two_halves_finds_what_one_pass_finds() {
        let text = text(600);
        let code = QrCode::new(text.as_bytes()).unwrap();
        // The code across the line between the halves, as a camera frame centres it.
        let grey = turned(&code, 1920, 1080, 6.0, 7.0);
        let mut one_pass = RowScan::new(grey.width);
        for row in grey.pixels.chunks_exact(grey.width) {
            one_pass.row(row);
        }
        let halves = RowScan::over(&grey);
        assert!(!halves.hits.is_empty());
        assert_eq!(halves.hits, one_pass.hits);
        assert_eq!(halves.open, one_pass.open);
        assert_eq!(halves.closed, one_pass.closed);
        assert_eq!(halves.read(&grey).as_deref(), Some(text.as_str()));
    }

    #[test]
    fn a_png_without_a_readable_code_is_read_whole() {
        let text = text(600);
        let code = QrCode::new(text.as_bytes()).unwrap();
        let mut grey = turned(&code, 700, 600, 4.0, 12.0);
        // A stripe across the code's middle that no error correction can mend.
        for row in grey.pixels.chunks_exact_mut(700).skip(280).take(40) {
            row[150..550].fill(35);
        }
        let Some(Reading::Picture(read, streamed)) =
            crate::qr_png::read(&png_of(&grey), 8_192, 1 << 28).unwrap()
        else {
            panic!("no code to read");
        };
        assert_eq!(read, grey);
        let whole = RowScan::over(&grey);
        assert!(!whole.hits.is_empty());
        assert_eq!(streamed.hits, whole.hits);
        assert_eq!(streamed.read(&read), None);
    }

    #[test]
    fn reads_a_code_printed_without_its_quiet_zone() {
        // The finder patterns touch the picture's edges, as in some screenshots.
        let text = text(300);
        let code = QrCode::new(text.as_bytes()).unwrap();
        let module = 4.0;
        let side = (code.width() as f32 * module) as usize;
        let grey = picture(&code, side, side, 6, |x, y| (x / module, y / module));
        assert_eq!(quick(&grey).as_deref(), Some(text.as_str()));
    }

    #[test]
    fn finds_nothing_where_there_is_no_code() {
        let blank = Grey {
            width: 640,
            height: 480,
            pixels: vec![200; 640 * 480],
        };
        assert_eq!(quick(&blank), None);
        let mut rng = XorShift(7);
        let noise = Grey {
            width: 640,
            height: 480,
            pixels: (0..640 * 480).map(|_| rng.next() as u8).collect(),
        };
        assert_eq!(quick(&noise), None);
    }

    #[test]
    fn a_damaged_code_is_not_misread() {
        // Three true finder patterns around a grid no error correction can mend: the grid
        // is found and refused.
        let text = text(600);
        let code = QrCode::new(text.as_bytes()).unwrap();
        let mut grey = turned(&code, 900, 900, 5.0, 0.0);
        let (centre, half) = (450, 100);
        for y in centre - half..centre + half {
            for x in centre - half..centre + half {
                let p = &mut grey.pixels[y * 900 + x];
                *p = if (x / 5 + y / 7) % 2 == 0 { 35 } else { 215 };
            }
        }
        let scan = RowScan::over(&grey);
        let finders = scan
            .candidates(&grey)
            .iter()
            .filter_map(|c| confirm(&grey, c))
            .count();
        assert!(finders >= 3);
        assert_eq!(scan.read(&grey), None);
    }

    #[test]
    fn a_row_crossing_finds_the_middle_of_the_pattern() {
        // Light, then dark 4, light 4, dark 12, light 4, dark 4, then light: the middle run
        // is pixels 28 to 39.
        let mut row = vec![220u8; 20];
        for (run, level) in [(4, 30), (4, 220), (12, 30), (4, 220), (4, 30)] {
            row.extend(std::iter::repeat_n(level, run));
        }
        row.extend(std::iter::repeat_n(220, 352));
        let mut scan = RowScan::new(row.len());
        scan.row(&row);
        let [hit] = scan.hits[..] else {
            panic!("{:?}", scan.hits);
        };
        assert_eq!((hit.centre2, hit.y, hit.width), (2 * 28 + 12, 0, 28));
        let grey = Grey {
            width: row.len(),
            height: 1,
            pixels: row,
        };
        let (centre, total) = crossing(&grey, 30.0, 0.0, (1, 0), 125.0, 100).unwrap();
        assert_eq!((centre, total), (33.5, 28.0));
    }

    #[test]
    fn in_proportion_takes_finder_runs_only() {
        assert!(in_proportion(&[2, 2, 6, 2, 2]));
        assert!(in_proportion(&[5, 4, 14, 5, 4]));
        assert!(!in_proportion(&[1, 1, 3, 1, 1]), "modules under two pixels");
        assert!(!in_proportion(&[4, 4, 4, 4, 4]));
        assert!(!in_proportion(&[4, 12, 4, 4, 4]));
    }

    #[test]
    fn the_perspective_map_goes_through_its_four_points() {
        let points = [
            ((3.5, 3.5), (120.0, 80.0)),
            ((40.5, 3.5), (410.0, 95.0)),
            ((3.5, 40.5), (100.0, 390.0)),
            ((37.5, 37.5), (380.0, 350.0)),
        ];
        let map = Map::through(points).unwrap();
        for ((u, v), (x, y)) in points {
            let (mx, my) = map.at(u, v);
            assert!((mx - x).abs() < 1e-3 && (my - y).abs() < 1e-3, "{mx},{my}");
        }
        // Three points on a line leave it undetermined.
        let line = [
            ((0.0, 0.0), (0.0, 0.0)),
            ((1.0, 1.0), (1.0, 1.0)),
            ((2.0, 2.0), (2.0, 2.0)),
            ((3.0, 0.0), (3.0, 0.0)),
        ];
        assert!(Map::through(line).is_none());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Odd sizes and pictures of stripes made to look like finder patterns end without
        /// a panic and without a text.
        #[test]
        fn look_alikes_and_odd_sizes_read_nothing(
            width in 0usize..300,
            height in 0usize..300,
            runs in proptest::collection::vec(1u8..12, 1..40),
            seed in any::<u64>(),
        ) {
            let mut rng = XorShift(seed | 1);
            let mut pixels = Vec::with_capacity(width * height);
            for y in 0..height {
                let mut dark = y % 3 == 0;
                let mut run = runs.iter().cycle().skip(y % runs.len());
                let mut left = 0u8;
                for _ in 0..width {
                    if left == 0 {
                        left = *run.next().unwrap();
                        dark = !dark;
                    }
                    left -= 1;
                    let grain = (rng.next() % 9) as u8;
                    pixels.push(if dark { 30 + grain } else { 210 + grain });
                }
            }
            let grey = Grey { width, height, pixels };
            prop_assert_eq!(quick(&grey), None);
        }
    }
}
