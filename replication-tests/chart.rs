//! A small PNG chart of a failover drill: the latency and errors the client saw
//! over time, so the outage window shows at a glance.
//!
//! Standard library only: a 5×7 bitmap font, a palette canvas and a minimal PNG
//! encoder (zlib, fixed-Huffman deflate with run-length matches) live here.

/// One client request: when it started (ms relative to the failover's start, may be negative),
/// how long it took (ms), and whether it succeeded.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    pub at_ms: f64,
    pub latency_ms: f64,
    pub ok: bool,
}

/// A vertical line with a short label, e.g. "KILL" at 0, "PROMOTED" at 2300.
#[derive(Clone, Debug)]
pub struct Marker {
    pub at_ms: f64,
    pub label: String,
}

const WIDTH: usize = 900;
const HEIGHT: usize = 360;

// Layout in pixels: the panels share LEFT..RIGHT and stack top to bottom.
const LEFT: i64 = 72;
const RIGHT: i64 = 884;
const MAIN_TOP: i64 = 34;
const MAIN_BOTTOM: i64 = 246;
const ERR_TOP: i64 = 252;
const ERR_BOTTOM: i64 = 266;
const TP_TOP: i64 = 272;
const TP_BOTTOM: i64 = 314;
const X_LABELS: i64 = 320;
const LEGEND: i64 = 340;
/// Keeps dots at the ends of the latency scale off the panel's frame.
const INSET: i64 = 4;

// Palette indices. White is 0 so blank rows and the scanline filter bytes (also
// 0) make one long run, which the run-length deflate turns into a few bytes.
const WHITE: u8 = 0;
const INK: u8 = 1;
const GRID: u8 = 2;
const FRAME: u8 = 3;
const OK_DOT: u8 = 4;
const ERROR: u8 = 5;
const MARK: u8 = 6;
const BAR: u8 = 7;
#[rustfmt::skip]
const PALETTE: [[u8; 3]; 8] = [
    [255, 255, 255], [25, 25, 25], [228, 228, 228], [150, 150, 150], // white, ink, grid, frame
    [25, 60, 160], [215, 25, 25], [240, 135, 0], [105, 165, 115],    // ok dot, error, marker, bar
];

/// Times are clamped to ±1e12 ms (~30 years) so tick and bucket arithmetic fits in i64.
const TIME_LIMIT_MS: f64 = 1e12;
/// Bounds of the latency scale in powers of ten of a millisecond (100 ns to ~2.8 h).
const LOG_MIN: i32 = -4;
const LOG_MAX: i32 = 7;

/// Renders the chart as PNG bytes.
pub fn render_png(title: &str, samples: &[Sample], markers: &[Marker]) -> Vec<u8> {
    // NaN and infinite values cannot be placed: skip them everywhere.
    let valid = || samples.iter().filter(|s| s.at_ms.is_finite() && s.latency_ms.is_finite());
    let markers: Vec<&Marker> = markers.iter().filter(|m| m.at_ms.is_finite()).collect();
    let axes = Axes::fit(valid().map(|s| (s.at_ms, s.latency_ms)).chain(markers.iter().map(|m| (m.at_ms, f64::NAN))));

    let mut canvas = Canvas { px: vec![WHITE; WIDTH * HEIGHT] };
    draw_frame_and_ticks(&mut canvas, &axes);
    draw_throughput(&mut canvas, &axes, valid().filter(|s| s.ok).map(|s| s.at_ms));

    for s in valid().filter(|s| s.ok) {
        canvas.fill(axes.x(s.at_ms), axes.y(s.latency_ms), 2, 2, OK_DOT);
    }
    // Errors go on top of the dots (they are rarer and matter more) and into their strip.
    for s in valid().filter(|s| !s.ok) {
        let x = axes.x(s.at_ms);
        canvas.cross(x, axes.y(s.latency_ms), ERROR);
        canvas.fill(x, ERR_TOP + 1, 1, ERR_BOTTOM - ERR_TOP - 1, ERROR);
    }
    let errors = valid().filter(|s| !s.ok).count();

    draw_markers(&mut canvas, &axes, &markers);
    draw_legend(&mut canvas, title, valid().count() - errors, errors);
    encode_png(WIDTH as u32, HEIGHT as u32, &PALETTE, &canvas.px)
}

/// Maps time (ms) to x and latency (ms, log scale) to y.
struct Axes {
    t0: f64,
    t1: f64,
    log_lo: i32,
    log_hi: i32,
}

impl Axes {
    /// Fits the axes to (time, latency) points; a NaN latency only widens the time range.
    fn fit(points: impl Iterator<Item = (f64, f64)>) -> Axes {
        let (mut t_lo, mut t_hi) = (f64::INFINITY, f64::NEG_INFINITY);
        let (mut l_min, mut l_max) = (f64::INFINITY, 0.0f64);
        for (t, l) in points {
            let t = clamp_time(t);
            t_lo = t_lo.min(t);
            t_hi = t_hi.max(t);
            if l > 0.0 {
                l_min = l_min.min(l);
                l_max = l_max.max(l);
            }
        }
        if t_lo > t_hi {
            (t_lo, t_hi) = (-1000.0, 1000.0);
        }
        // At least a second wide, plus a 3% margin on each side.
        let span = (t_hi - t_lo).max(1000.0);
        let mid = (t_lo + t_hi) / 2.0;
        let log_lo = if l_min.is_finite() { (l_min.log10().floor() as i32).clamp(LOG_MIN, -2) } else { -2 };
        let log_hi = if l_max > 0.0 { l_max.log10().ceil() as i32 } else { 0 };
        Axes { t0: mid - span * 0.53, t1: mid + span * 0.53, log_lo, log_hi: log_hi.clamp(log_lo + 1, LOG_MAX) }
    }

    fn span(&self) -> f64 {
        self.t1 - self.t0
    }

    /// The pixel column of time `t`, always on the canvas.
    fn x(&self, t: f64) -> i64 {
        let f = ((clamp_time(t) - self.t0) / self.span()).clamp(0.0, 1.0);
        LEFT + (f * (RIGHT - LEFT) as f64).round() as i64
    }

    /// The pixel row of a latency; zero and out-of-scale values go to the scale's ends.
    fn y(&self, latency_ms: f64) -> i64 {
        let (lo, hi) = (f64::from(self.log_lo), f64::from(self.log_hi));
        let l = if latency_ms > 0.0 { latency_ms.log10() } else { lo };
        let f = ((l - lo) / (hi - lo)).clamp(0.0, 1.0);
        MAIN_BOTTOM - INSET - (f * (MAIN_BOTTOM - MAIN_TOP - 2 * INSET) as f64).round() as i64
    }
}

fn clamp_time(t: f64) -> f64 {
    t.clamp(-TIME_LIMIT_MS, TIME_LIMIT_MS)
}

/// Powers of ten from 100 (ms); enough for any span, which is at most ~2e12 ms.
fn decades() -> impl Iterator<Item = i64> {
    std::iter::successors(Some(100i64), |d| d.checked_mul(10))
}

/// The smallest "nice" tick step (100 ms × 1, 2, 5, 10, …) giving at most 12 ticks.
fn time_step(span_ms: f64) -> i64 {
    let mut steps = decades().flat_map(|d| [d, 2 * d, 5 * d]);
    steps.find(|&step| span_ms / step as f64 <= 12.0).unwrap_or(i64::MAX / 8)
}

/// "-2s", "0s", "2.5s": tick steps are multiples of 100 ms, so one decimal is exact.
fn format_seconds(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "" };
    let fraction = match ms.unsigned_abs() % 1000 / 100 {
        0 => String::new(),
        tenths => format!(".{tenths}"),
    };
    format!("{sign}{}{fraction}s", ms.unsigned_abs() / 1000)
}

/// A power-of-ten latency: "0.01ms", "1ms", "100ms", "1s", "10s".
fn format_latency(exponent: i32) -> String {
    match exponent {
        e if e >= 3 => format!("{}s", 10u64.pow((e - 3) as u32)),
        e if e >= 0 => format!("{}ms", 10u64.pow(e as u32)),
        e => format!("0.{}1ms", "0".repeat((-e - 1) as usize)),
    }
}

/// Grid lines, panel frames, tick labels and the strips' captions.
fn draw_frame_and_ticks(canvas: &mut Canvas, axes: &Axes) {
    let step = time_step(axes.span());
    let first = (axes.t0 / step as f64).ceil() as i64;
    let last = (axes.t1 / step as f64).floor() as i64;
    for k in first..=last {
        let x = axes.x((k * step) as f64);
        for (top, bottom) in [(MAIN_TOP, MAIN_BOTTOM), (ERR_TOP, ERR_BOTTOM), (TP_TOP, TP_BOTTOM)] {
            canvas.fill(x, top, 1, bottom - top, GRID);
        }
        canvas.fill(x, TP_BOTTOM, 1, 3, FRAME);
        let label = format_seconds(k * step);
        canvas.text(x - text_width(&label, 1) / 2, X_LABELS, &label, INK, 1);
    }
    for e in axes.log_lo..=axes.log_hi {
        let y = axes.y(10f64.powi(e));
        canvas.fill(LEFT, y, RIGHT - LEFT, 1, GRID);
        canvas.fill(LEFT - 3, y, 3, 1, FRAME);
        let label = format_latency(e);
        canvas.text(LEFT - 6 - text_width(&label, 1), y - 3, &label, INK, 1);
    }
    for (top, bottom) in [(MAIN_TOP, MAIN_BOTTOM), (ERR_TOP, ERR_BOTTOM), (TP_TOP, TP_BOTTOM)] {
        canvas.outline(LEFT, top, RIGHT, bottom, FRAME);
    }
    canvas.text(6, MAIN_TOP - 11, "latency", INK, 1);
    canvas.text(LEFT - 6 - text_width("errors", 1), ERR_TOP + 4, "errors", ERROR, 1);
}

/// OK writes per bucket (100 ms unless the range is too wide for that) as bars.
fn draw_throughput(canvas: &mut Canvas, axes: &Axes, ok_times: impl Iterator<Item = f64>) {
    let bucket = decades().find(|&b| axes.span() / b as f64 <= (RIGHT - LEFT) as f64 / 2.0).unwrap_or(i64::MAX / 8);
    let width = bucket as f64;
    let base = (axes.t0 / width).floor() * width;
    let last = ((axes.t1 - base) / width).ceil() as usize;
    let mut counts = vec![0u64; last + 1];
    for t in ok_times {
        counts[(((clamp_time(t) - base) / width) as usize).min(last)] += 1;
    }
    let max = counts.iter().copied().max().unwrap_or(0);
    let room = (TP_BOTTOM - TP_TOP - 3) as f64;
    for (i, &count) in counts.iter().enumerate().filter(|(_, &c)| c > 0) {
        let start = base + i as f64 * width;
        let x0 = axes.x(start).max(LEFT + 1);
        let x1 = (axes.x(start + width) - 1).min(RIGHT - 1);
        let h = ((count as f64 / max as f64 * room).round() as i64).max(1);
        canvas.fill(x0, TP_BOTTOM - h, (x1 - x0).max(1), h, BAR);
    }
    let caption = if bucket < 1000 { format!("ok/{bucket}ms") } else { format!("ok/{}s", bucket / 1000) };
    canvas.text(LEFT - 6 - text_width(&caption, 1), TP_TOP + 2, &caption, INK, 1);
    let peak = format!("max {max}");
    canvas.text(LEFT - 6 - text_width(&peak, 1), TP_TOP + 12, &peak, FRAME, 1);
}

/// Dashed vertical lines across all panels, labels near the top; labels that
/// would overlap an earlier one move down a row.
fn draw_markers(canvas: &mut Canvas, axes: &Axes, markers: &[&Marker]) {
    let mut placed: Vec<(i64, &str)> = markers.iter().map(|m| (axes.x(m.at_ms), m.label.as_str())).collect();
    placed.sort_by_key(|&(x, _)| x);
    for &(x, _) in &placed {
        for y in (MAIN_TOP + 1..TP_BOTTOM).step_by(7) {
            canvas.fill(x, y, 2, 4.min(TP_BOTTOM - y), MARK);
        }
    }
    let mut row_ends: Vec<i64> = Vec::new();
    for (x, label) in placed {
        let w = text_width(label, 1);
        let lx = if x + 5 + w < RIGHT - 2 { x + 5 } else { x - 3 - w };
        let row = row_ends.iter().position(|&end| end + 4 < lx).unwrap_or(row_ends.len());
        match row_ends.get_mut(row) {
            Some(end) => *end = lx + w,
            None => row_ends.push(lx + w),
        }
        let y = MAIN_TOP + 4 + row as i64 * 11;
        canvas.fill(lx - 2, y - 2, w + 4, 11, WHITE);
        canvas.text(lx, y, label, INK, 1);
    }
}

/// The title on top and a legend with counts along the bottom.
fn draw_legend(canvas: &mut Canvas, title: &str, oks: usize, errors: usize) {
    let fits = (WIDTH - 12) / 12;
    let title: String = title.chars().take(fits).collect();
    canvas.text(6, 6, &title, INK, 2);

    let mut x = LEFT;
    canvas.fill(x, LEGEND + 2, 3, 3, OK_DOT);
    x = canvas.text(x + 8, LEGEND, &format!("ok write ({oks})"), INK, 1) + 18;
    canvas.cross(x + 1, LEGEND + 3, ERROR);
    x = canvas.text(x + 8, LEGEND, &format!("failed write ({errors})"), INK, 1) + 18;
    canvas.fill(x, LEGEND, 2, 3, MARK);
    canvas.fill(x, LEGEND + 5, 2, 2, MARK);
    x = canvas.text(x + 8, LEGEND, "event", INK, 1) + 18;
    canvas.text(x, LEGEND, "latency on a log scale; time from the failover's start", FRAME, 1);
}

/// A WIDTH×HEIGHT image of palette indices.
struct Canvas {
    px: Vec<u8>,
}

impl Canvas {
    /// Fills a w×h rectangle, clipped to the canvas.
    fn fill(&mut self, x: i64, y: i64, w: i64, h: i64, color: u8) {
        let (x0, x1) = (x.max(0) as usize, (x + w).clamp(0, WIDTH as i64) as usize);
        let (y0, y1) = (y.max(0) as usize, (y + h).clamp(0, HEIGHT as i64) as usize);
        if x0 < x1 {
            for row in self.px.chunks_exact_mut(WIDTH).take(y1).skip(y0) {
                row[x0..x1].fill(color);
            }
        }
    }

    /// A one-pixel rectangle outline with both corners inclusive.
    fn outline(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, color: u8) {
        self.fill(x0, y0, x1 - x0 + 1, 1, color);
        self.fill(x0, y1, x1 - x0 + 1, 1, color);
        self.fill(x0, y0, 1, y1 - y0 + 1, color);
        self.fill(x1, y0, 1, y1 - y0 + 1, color);
    }

    /// A 3×3 "x" centred on (x, y).
    fn cross(&mut self, x: i64, y: i64, color: u8) {
        for (dx, dy) in [(-1, -1), (1, -1), (0, 0), (-1, 1), (1, 1)] {
            self.fill(x + dx, y + dy, 1, 1, color);
        }
    }

    /// Draws `s` with its top-left corner at (x, y); returns the x just past it.
    fn text(&mut self, x: i64, y: i64, s: &str, color: u8, scale: i64) -> i64 {
        let mut cx = x;
        for c in s.chars() {
            let rows = glyph(c);
            for row in 0..7 {
                for col in 0..5 {
                    if rows >> (8 * (6 - row) + 4 - col) & 1 == 1 {
                        self.fill(cx + col * scale, y + row * scale, scale, scale, color);
                    }
                }
            }
            cx += 6 * scale;
        }
        cx
    }
}

/// The width in pixels of `s` drawn at `scale` (glyphs are 5 wide, 1 apart).
fn text_width(s: &str, scale: i64) -> i64 {
    (s.chars().count() as i64 * 6 - 1).max(0) * scale
}

/// A glyph's rows (see FONT); lowercase draws as uppercase, anything unknown as a hollow box.
fn glyph(c: char) -> u64 {
    let c = c.to_ascii_uppercase();
    FONT.iter().find(|(k, _)| *k == c).map_or(0x1F11111111111F, |&(_, rows)| rows)
}

/// A 5×7 font: one byte per row, top row in the highest byte, bit 4 leftmost.
#[rustfmt::skip]
const FONT: &[(char, u64)] = &[
    ('A', 0x0E11111F111111), ('B', 0x1E11111E11111E), ('C', 0x0E11101010110E), ('D', 0x1C12111111121C),
    ('E', 0x1F10101E10101F), ('F', 0x1F10101E101010), ('G', 0x0E11101711110F), ('H', 0x1111111F111111),
    ('I', 0x0E04040404040E), ('J', 0x0702020202120C), ('K', 0x11121418141211), ('L', 0x1010101010101F),
    ('M', 0x111B1515111111), ('N', 0x11111915131111), ('O', 0x0E11111111110E), ('P', 0x1E11111E101010),
    ('Q', 0x0E11111115120D), ('R', 0x1E11111E141211), ('S', 0x0F10100E01011E), ('T', 0x1F040404040404),
    ('U', 0x1111111111110E), ('V', 0x11111111110A04), ('W', 0x1111111515150A), ('X', 0x11110A040A1111),
    ('Y', 0x11110A04040404), ('Z', 0x1F01020408101F), ('0', 0x0E11131519110E), ('1', 0x040C040404040E),
    ('2', 0x0E11010204081F), ('3', 0x1F02040201110E), ('4', 0x02060A121F0202), ('5', 0x1F101E0101110E),
    ('6', 0x0608101E11110E), ('7', 0x1F010204080808), ('8', 0x0E11110E11110E), ('9', 0x0E11110F01020C),
    (' ', 0x00000000000000), ('.', 0x00000000000C0C), (',', 0x000000000C0408), (':', 0x000C0C000C0C00),
    (';', 0x000C0C000C0408), ('-', 0x0000001F000000), ('/', 0x01010204081010), ('(', 0x02040808080402),
    (')', 0x08040202020408), ('%', 0x18190204081303), ('+', 0x0004041F040400), ('=', 0x00001F001F0000),
    ('_', 0x0000000000001F), ('>', 0x08040201020408), ('<', 0x02040810080402), ('!', 0x04040404040004),
    ('?', 0x0E110102040004), ('\'', 0x04040800000000), ('#', 0x0A0A1F0A1F0A0A), ('*', 0x0004150E150400),
];

/// An 8-bit palette PNG of `pixels` (one index per pixel, rows top first).
fn encode_png(width: u32, height: u32, palette: &[[u8; 3]], pixels: &[u8]) -> Vec<u8> {
    // Filter type 0 (none) on every scanline.
    let mut raw = Vec::with_capacity(pixels.len() + height as usize);
    for row in pixels.chunks_exact(width as usize) {
        raw.push(0);
        raw.extend_from_slice(row);
    }
    let mut zlib = vec![0x78, 0x01];
    zlib.extend(deflate(&raw));
    zlib.extend(adler32(&raw).to_be_bytes());

    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend(width.to_be_bytes());
    ihdr.extend(height.to_be_bytes());
    ihdr.extend([8, 3, 0, 0, 0]); // bit depth, color type (palette), compression, filter, interlace
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    write_chunk(&mut png, b"IHDR", &ihdr);
    write_chunk(&mut png, b"PLTE", palette.as_flattened());
    write_chunk(&mut png, b"IDAT", &zlib);
    write_chunk(&mut png, b"IEND", &[]);
    png
}

/// Appends length, type, data and the CRC of type and data.
fn write_chunk(png: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    png.extend((data.len() as u32).to_be_bytes());
    let start = png.len();
    png.extend_from_slice(kind);
    png.extend_from_slice(data);
    let crc = crc32(&png[start..]);
    png.extend(crc.to_be_bytes());
}

/// The CRC-32 lookup table (polynomial 0xEDB88320), built at compile time.
const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut n = 0;
    while n < 256 {
        let mut c = n as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 == 1 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
            k += 1;
        }
        table[n] = c;
        n += 1;
    }
    table
};

/// The CRC-32 of PNG chunks (and zlib, gzip).
fn crc32(data: &[u8]) -> u32 {
    !data.iter().fold(!0u32, |c, &b| CRC_TABLE[((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8))
}

/// The Adler-32 checksum that ends a zlib stream.
fn adler32(data: &[u8]) -> u32 {
    const MOD: u32 = 65521;
    let (mut a, mut b) = (1u32, 0u32);
    // 5552 bytes is the most that can be summed before b could overflow a u32.
    for chunk in data.chunks(5552) {
        for &x in chunk {
            a += u32::from(x);
            b += a;
        }
        a %= MOD;
        b %= MOD;
    }
    (b << 16) | a
}

/// Deflate length codes 257..=285: base lengths and their extra bits.
const LEN_BASE: [u16; 29] =
    [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
const LEN_EXTRA: [u8; 29] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];

/// One fixed-Huffman deflate block that codes runs of a byte as a literal and
/// then matches at distance 1. Charts are mostly long runs of one color, so
/// this alone shrinks them about tenfold.
fn deflate(data: &[u8]) -> Vec<u8> {
    let mut out = BitWriter::default();
    out.bits(1, 1); // BFINAL
    out.bits(1, 2); // BTYPE 01: fixed Huffman codes
    let mut i = 0;
    while i < data.len() {
        let byte = data[i];
        out.symbol(u16::from(byte));
        i += 1;
        let mut run = data[i..].iter().take_while(|&&b| b == byte).count();
        while run >= 3 {
            let len = run.min(258);
            let code = LEN_BASE.iter().rposition(|&base| usize::from(base) <= len).unwrap_or(0);
            out.symbol(257 + code as u16);
            out.bits((len - usize::from(LEN_BASE[code])) as u32, u32::from(LEN_EXTRA[code]));
            out.bits(0, 5); // distance code 0: distance 1, no extra bits
            i += len;
            run -= len;
        }
    }
    out.symbol(256); // end of block
    out.finish()
}

/// Packs bits least significant first, as deflate wants.
#[derive(Default)]
struct BitWriter {
    out: Vec<u8>,
    acc: u64,
    len: u32,
}

impl BitWriter {
    fn bits(&mut self, value: u32, count: u32) {
        self.acc |= u64::from(value) << self.len;
        self.len += count;
        while self.len >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.len -= 8;
        }
    }

    /// Writes a literal/length symbol with its fixed Huffman code (sent most significant bit first).
    fn symbol(&mut self, sym: u16) {
        let (code, len) = match sym {
            0..=143 => (0x30 + sym, 8),
            144..=255 => (0x190 + sym - 144, 9),
            256..=279 => (sym - 256, 7),
            _ => (0xC0 + sym - 280, 8),
        };
        self.bits(u32::from(code.reverse_bits() >> (16 - len)), len);
    }

    fn finish(mut self) -> Vec<u8> {
        if self.len > 0 {
            self.out.push(self.acc as u8);
        }
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_match_known_values() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
        // Long enough to cross the modulo batches (value from Python's zlib.adler32).
        assert_eq!(adler32(&[0xFF; 100_000]), 0x149A_302C);
    }

    /// Inflates a single fixed-Huffman block, the subset `deflate` writes.
    fn inflate_fixed(data: &[u8]) -> Vec<u8> {
        let mut pos = 0;
        // Values come least significant bit first, Huffman codes most significant first.
        let mut bits = |n: u32, huffman: bool| {
            (0..n).fold(0u32, |acc, i| {
                let bit = u32::from(data[pos / 8] >> (pos % 8) & 1);
                pos += 1;
                if huffman {
                    acc << 1 | bit
                } else {
                    acc | bit << i
                }
            })
        };
        assert_eq!(bits(3, false), 0b011, "one final fixed-Huffman block");
        let mut out = Vec::new();
        loop {
            let sym = match bits(7, true) {
                code @ 0..=23 => 256 + code,
                code => match code << 1 | bits(1, true) {
                    code @ 0x30..=0xBF => code - 0x30,
                    code @ 0xC0..=0xC7 => 280 + code - 0xC0,
                    code => 144 + (code << 1 | bits(1, true)) - 0x190,
                },
            };
            match sym {
                0..=255 => out.push(sym as u8),
                256 => return out,
                _ => {
                    let i = sym as usize - 257;
                    let len = usize::from(LEN_BASE[i]) + bits(u32::from(LEN_EXTRA[i]), false) as usize;
                    assert_eq!(bits(5, true), 0, "only distance 1 is written");
                    for _ in 0..len {
                        out.push(*out.last().expect("a match needs a previous byte"));
                    }
                }
            }
        }
    }

    #[test]
    fn deflate_round_trips() {
        let mut data: Vec<u8> = (0..=255).collect();
        for (n, b) in [(1, 7), (2, 200), (3, 9), (258, 0), (259, 1), (260, 255), (1000, 144), (4, 143)] {
            data.extend(std::iter::repeat_n(b, n));
        }
        data.extend((0..5000u32).map(|i| (i * 7919 % 251) as u8));
        assert_eq!(inflate_fixed(&deflate(&data)), data);
        assert_eq!(inflate_fixed(&deflate(&[])), Vec::<u8>::new());
    }

    /// Checks the signature, every chunk's CRC and the image data; returns the pixels.
    fn decode(png: &[u8]) -> Vec<u8> {
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let (mut pos, mut kinds, mut idat) = (8, Vec::new(), Vec::new());
        while pos < png.len() {
            let len = u32::from_be_bytes(png[pos..pos + 4].try_into().unwrap()) as usize;
            let body = &png[pos + 4..pos + 8 + len];
            let stored = u32::from_be_bytes(png[pos + 8 + len..pos + 12 + len].try_into().unwrap());
            assert_eq!(crc32(body), stored, "chunk CRC");
            kinds.push(String::from_utf8_lossy(&body[..4]).into_owned());
            if &body[..4] == b"IDAT" {
                idat.extend_from_slice(&body[4..]);
            }
            pos += 12 + len;
        }
        assert_eq!(kinds, ["IHDR", "PLTE", "IDAT", "IEND"]);
        assert_eq!(&idat[..2], [0x78, 0x01]);
        let raw = inflate_fixed(&idat[2..idat.len() - 4]);
        assert_eq!(adler32(&raw).to_be_bytes(), idat[idat.len() - 4..]);
        assert_eq!(raw.len(), HEIGHT * (WIDTH + 1));
        assert!(raw.chunks_exact(WIDTH + 1).all(|row| row[0] == 0), "filter byte 0 on every row");
        raw.chunks_exact(WIDTH + 1).flat_map(|row| &row[1..]).copied().collect()
    }

    fn s(at_ms: f64, latency_ms: f64, ok: bool) -> Sample {
        Sample { at_ms, latency_ms, ok }
    }

    fn m(at_ms: f64, label: &str) -> Marker {
        Marker { at_ms, label: label.into() }
    }

    #[test]
    fn renders_a_valid_png_with_errors_in_the_strip() {
        let samples: Vec<Sample> = (0..2000).map(|i| s(f64::from(i) * 5.0 - 5000.0, 0.3, i % 10 != 0)).collect();
        let pixels = decode(&render_png("drill", &samples, &[m(0.0, "kill")]));
        let strip_row = &pixels[(ERR_TOP as usize + 5) * WIDTH..][..WIDTH];
        assert!(strip_row.contains(&ERROR));
        assert!(pixels.contains(&OK_DOT) && pixels.contains(&MARK));
    }

    #[test]
    fn survives_edge_cases() {
        // A million samples must be fast enough for a debug build too.
        let million = (0..1_000_000).map(|i| s(f64::from(i) / 100.0 - 2000.0, f64::from(i % 997) / 10.0, i % 37 != 0));
        let cases: Vec<(Vec<Sample>, Vec<Marker>)> = vec![
            (vec![], vec![]),
            (vec![s(3.0, 1.0, true)], vec![]),
            ((0..100).map(|i| s(f64::from(i), 1000.0, false)).collect(), vec![]),
            (vec![s(f64::NAN, 1.0, true), s(1.0, f64::INFINITY, false), s(2.0, f64::NAN, true)], vec![]),
            (vec![s(1.0, 0.0, true), s(2.0, -5.0, false), s(3.0, 1e-300, true), s(4.0, 1e300, true)], vec![]),
            (vec![s(0.0, 1.0, true)], vec![m(1e300, "far"), m(-60_000.0, "early")]),
            (vec![s(-f64::MAX, 1.0, true), s(f64::MAX, 1.0, false)], vec![m(f64::NAN, ""), m(f64::INFINITY, "inf")]),
            (million.collect(), vec![m(-1e9, "long before")]),
        ];
        for (samples, markers) in cases {
            decode(&render_png("edge case", &samples, &markers));
        }
    }
}
