//! Perceptual hashes for "same photo sent again" checks: computed from a decoded image when evidence is stored, and
//! compared when it is filed. The hash itself ([`PhotoHash`]) is plain data in `crate::message`, so the store can keep
//! it without knowing how it is made.
//!
//! Two 64-bit hashes are computed per photo ([`of`]):
//! * [`phash`]: 32×32 grayscale thumbnail, 2-D DCT, the 8×8 lowest frequencies compared with their median
//!   (DC excluded from the median). **This one decides** ([`is_duplicate`]).
//! * [`dhash`]: 9×8 grayscale thumbnail, one bit per horizontal neighbour comparison. Stored for diagnostics;
//!   too noisy to decide (see below).
//!
//! Threshold choice — measured by `photo_hash::tests::threshold_separates_copies_from_other_photos` on procedurally
//! generated "site photos" (12 scenes at 640×480 and 8 at 800×600: wall/floor gradients, vignetting, doors,
//! windows and pipes as rectangles, a stain, ±12 sensor noise). Copies: resized to 50 %, re-encoded as JPEG
//! quality 40, both, and JPEG 75 then JPEG 40 of the 50 % copy. "Another shot of the same place": the camera
//! moved 5–9 % of the frame; or the light 10 % lower, the camera moved half as much and an object added or
//! removed — both then resized to 50 % and re-compressed at JPEG 40 like a WhatsApp send.
//!
//! | pair | dHash bits | pHash bits |
//! |---|---|---|
//! | copy (resize / JPEG 40 / both / JPEG 75→40) | up to 11 | up to 2 |
//! | another shot of the same place | from 5 | from 8 |
//! | different places | from 7 | from 16 |
//!
//! dHash ranges overlap (a copy can be 11 bits off, a re-shot only 5), pHash ones do not, so duplicates are
//! decided on pHash with [`DUPLICATE_MAX_DISTANCE`] = 5: the middle of the gap between the worst copy (2) and
//! the closest re-shot (8). Caveat, also measured: a re-shot with the camera moved only ~3 % came within 4 pHash
//! bits, so near-identical framings (burst shots) are flagged too — the flag is a hint for the manager
//! (`duplicate_of`), not a rejection. WhatsApp strips EXIF on normal sends, so the receive time of the earlier
//! evidence is what a report shows.

use image::imageops::FilterType;
use image::DynamicImage;

pub use crate::message::PhotoHash;

/// Maximum pHash Hamming distance at which two photos count as the same picture (see the module docs).
pub const DUPLICATE_MAX_DISTANCE: u32 = 5;

/// Both hashes from one grayscale conversion.
pub fn of(img: &DynamicImage) -> PhotoHash {
    let gray = img.grayscale();
    PhotoHash {
        dhash: dhash_gray(&gray),
        phash: phash_gray(&gray),
    }
}

/// `(dHash distance, pHash distance)`.
pub fn distance(a: &PhotoHash, b: &PhotoHash) -> (u32, u32) {
    (hamming(a.dhash, b.dhash), hamming(a.phash, b.phash))
}

/// Difference hash: bit (y*8+x) is set when pixel (x, y) is darker than pixel (x+1, y) of a 9×8 thumbnail.
pub fn dhash(img: &DynamicImage) -> u64 {
    dhash_gray(&img.grayscale())
}

// `DynamicImage` methods (not the generic `imageops` functions) so the resampling runs as compiled in the
// optimised `image` crate.
fn dhash_gray(gray: &DynamicImage) -> u64 {
    let small = gray.resize_exact(9, 8, FilterType::Triangle).to_luma8();
    let mut h = 0u64;
    for y in 0..8 {
        for x in 0..8 {
            let a = small.get_pixel(x, y)[0];
            let b = small.get_pixel(x + 1, y)[0];
            h = (h << 1) | u64::from(a < b);
        }
    }
    h
}

/// DCT-based perceptual hash of a 32×32 thumbnail (8×8 low frequencies vs. their median, DC excluded from the
/// median).
pub fn phash(img: &DynamicImage) -> u64 {
    phash_gray(&img.grayscale())
}

fn phash_gray(gray: &DynamicImage) -> u64 {
    const N: usize = 32;
    let small = gray
        .resize_exact(N as u32, N as u32, FilterType::Triangle)
        .to_luma8();
    let px: Vec<f64> = small.pixels().map(|p| f64::from(p[0])).collect();
    // cos table: c[k][n] = cos(pi * (2n+1) k / 2N)
    let mut c = [[0f64; N]; 8];
    for (k, row) in c.iter_mut().enumerate() {
        for (n, v) in row.iter_mut().enumerate() {
            *v = (std::f64::consts::PI * (2 * n + 1) as f64 * k as f64 / (2 * N) as f64).cos();
        }
    }
    // Rows first (8 frequencies per row), then columns.
    let mut rows = vec![[0f64; 8]; N];
    for y in 0..N {
        for (k, ck) in c.iter().enumerate() {
            rows[y][k] = (0..N).map(|x| px[y * N + x] * ck[x]).sum();
        }
    }
    let mut coef = [0f64; 64];
    for v in 0..8 {
        for u in 0..8 {
            coef[v * 8 + u] = (0..N).map(|y| rows[y][u] * c[v][y]).sum();
        }
    }
    let mut ac: Vec<f64> = coef[1..].to_vec();
    ac.sort_by(f64::total_cmp);
    let median = (ac[31] + ac[32]) / 2.0;
    coef.iter()
        .fold(0u64, |h, &x| (h << 1) | u64::from(x > median))
}

pub fn hamming(a: u64, b: u64) -> u32 {
    (a ^ b).count_ones()
}

/// Same picture (resent, resized, re-compressed): pHash within [`DUPLICATE_MAX_DISTANCE`] bits.
pub fn is_duplicate(a: &PhotoHash, b: &PhotoHash) -> bool {
    hamming(a.phash, b.phash) <= DUPLICATE_MAX_DISTANCE
}

/// The earliest of `earlier` (evidence id, hash) that `h` duplicates.
pub fn find_duplicate(h: &PhotoHash, earlier: &[(i64, PhotoHash)]) -> Option<i64> {
    earlier
        .iter()
        .find(|(_, e)| is_duplicate(h, e))
        .map(|(id, _)| *id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::codecs::jpeg::JpegEncoder;
    use image::{Rgb, RgbImage};

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn f(&mut self) -> f64 {
            (self.next() >> 11) as f64 / (1u64 << 53) as f64
        }
        fn range(&mut self, a: f64, b: f64) -> f64 {
            a + (b - a) * self.f()
        }
    }

    /// A place: wall and floor colours, horizon, objects (rectangles) in world coordinates 0..1.
    #[derive(Clone)]
    struct Place {
        wall: [f64; 3],
        floor: [f64; 3],
        horizon: f64,
        objects: Vec<([f64; 4], [f64; 3])>,
        stain: (f64, f64, f64),
    }

    fn place(seed: u64) -> Place {
        let mut r = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let col = |r: &mut Rng| {
            [
                r.range(40.0, 220.0),
                r.range(40.0, 220.0),
                r.range(40.0, 220.0),
            ]
        };
        let wall = col(&mut r);
        let floor = col(&mut r);
        let horizon = r.range(0.45, 0.75);
        let n = 3 + (r.next() % 4) as usize;
        let objects = (0..n)
            .map(|_| {
                let x = r.range(0.0, 0.8);
                let y = r.range(0.05, 0.7);
                (
                    [x, y, x + r.range(0.05, 0.3), y + r.range(0.1, 0.4)],
                    col(&mut r),
                )
            })
            .collect();
        let stain = (r.range(0.2, 0.8), r.range(0.1, 0.5), r.range(0.03, 0.1));
        Place {
            wall,
            floor,
            horizon,
            objects,
            stain,
        }
    }

    /// Renders a photo of `p` with the camera shifted by (dx, dy), lighting factor, and sensor noise.
    fn render(
        p: &Place,
        w: u32,
        h: u32,
        dx: f64,
        dy: f64,
        light: f64,
        noise_seed: u64,
    ) -> DynamicImage {
        let mut r = Rng(noise_seed | 1);
        let mut img = RgbImage::new(w, h);
        for (x, y, px) in img.enumerate_pixels_mut() {
            let u = x as f64 / w as f64 * 0.9 + dx;
            let v = y as f64 / h as f64 * 0.9 + dy;
            let mut c = if v < p.horizon {
                let g = 0.85 + 0.3 * (v / p.horizon);
                [p.wall[0] * g, p.wall[1] * g, p.wall[2] * g]
            } else {
                let g = 1.1 - 0.4 * ((v - p.horizon) / (1.0 - p.horizon));
                [p.floor[0] * g, p.floor[1] * g, p.floor[2] * g]
            };
            for (rect, col) in &p.objects {
                if u >= rect[0] && u <= rect[2] && v >= rect[1] && v <= rect[3] {
                    c = *col;
                }
            }
            let (sx, sy, sr) = p.stain;
            let d = ((u - sx).powi(2) + (v - sy).powi(2)).sqrt();
            if d < sr {
                let k = 0.6 + 0.4 * d / sr;
                c = [c[0] * k, c[1] * k, c[2] * k];
            }
            let n = r.range(-12.0, 12.0);
            let vign = 1.0 - 0.25 * ((u - 0.5).powi(2) + (v - 0.5).powi(2));
            *px = Rgb(c.map(|ch| (ch * light * vign + n).clamp(0.0, 255.0) as u8));
        }
        DynamicImage::ImageRgb8(img)
    }

    fn jpeg(img: &DynamicImage, quality: u8) -> DynamicImage {
        let mut buf = Vec::new();
        img.write_with_encoder(JpegEncoder::new_with_quality(&mut buf, quality))
            .unwrap();
        image::load_from_memory(&buf).unwrap()
    }

    fn half(img: &DynamicImage) -> DynamicImage {
        img.resize(img.width() / 2, img.height() / 2, FilterType::Triangle)
    }

    #[test]
    fn hamming_counts_bits() {
        assert_eq!(hamming(0, 0), 0);
        assert_eq!(hamming(0b1011, 0b0001), 2);
        assert_eq!(hamming(u64::MAX, 0), 64);
    }

    #[test]
    fn threshold_separates_copies_from_other_photos() {
        let mut copy_max = (0u32, 0u32); // (dHash, pHash) of the worst copy
        let mut reshot_min = (u32::MAX, u32::MAX); // closest other shot of the same place
        let mut other_min = (u32::MAX, u32::MAX);
        let widen = |acc: &mut (u32, u32), a: &PhotoHash, b: &PhotoHash, max: bool| {
            let (d, p) = distance(a, b);
            *acc = if max {
                (acc.0.max(d), acc.1.max(p))
            } else {
                (acc.0.min(d), acc.1.min(p))
            };
        };
        for (w, h, seeds) in [(640u32, 480u32, 1..=12u64), (800, 600, 13..=20)] {
            let mut originals = Vec::new();
            for seed in seeds {
                let p = place(seed);
                let orig = render(&p, w, h, 0.05, 0.05, 1.0, seed * 7);
                let ho = of(&orig);
                let copies = [
                    half(&orig),
                    jpeg(&orig, 40),
                    jpeg(&half(&orig), 40),
                    jpeg(&jpeg(&half(&orig), 75), 40),
                ];
                for copy in copies {
                    let hc = of(&copy);
                    widen(&mut copy_max, &ho, &hc, true);
                    assert!(
                        is_duplicate(&ho, &hc),
                        "seed {seed}: copy at {:?}",
                        distance(&ho, &hc)
                    );
                }
                // Another shot of the same place: camera moved, light changed, an object added or removed.
                let mut moved = p.clone();
                if seed % 2 == 0 {
                    moved.objects.pop();
                } else {
                    moved
                        .objects
                        .push(([0.4, 0.55, 0.55, 0.8], [30.0, 30.0, 160.0]));
                }
                let dx = 0.05 + 0.002 * seed as f64; // 5.2 % … 9 % of the frame
                for other in [
                    render(&p, w, h, 0.05 + dx, 0.05, 1.0, seed * 11),
                    render(&moved, w, h, 0.05, 0.05 - dx / 2.0, 0.9, seed * 13),
                ] {
                    let other = of(&jpeg(&half(&other), 40));
                    widen(&mut reshot_min, &ho, &other, false);
                    assert!(
                        !is_duplicate(&ho, &other),
                        "seed {seed}: re-shot at {:?}",
                        distance(&ho, &other)
                    );
                }
                originals.push(ho);
            }
            for i in 0..originals.len() {
                for j in 0..i {
                    widen(&mut other_min, &originals[i], &originals[j], false);
                    assert!(!is_duplicate(&originals[i], &originals[j]));
                }
            }
        }
        println!("worst copy (dhash, phash) = {copy_max:?}");
        println!("closest re-shot of the same place = {reshot_min:?}");
        println!("closest different place = {other_min:?}");
        // The gap the threshold was chosen from (module docs): copies ≤ 2 < 5 < 8 ≤ re-shots.
        assert!(
            copy_max.1 + 3 <= DUPLICATE_MAX_DISTANCE && reshot_min.1 >= DUPLICATE_MAX_DISTANCE + 3
        );
        // dHash alone could not separate them.
        assert!(
            copy_max.0 >= reshot_min.0,
            "dHash separates after all: {copy_max:?} vs {reshot_min:?}"
        );
    }

    #[test]
    fn find_duplicate_returns_earliest_match() {
        let a = render(&place(3), 640, 480, 0.05, 0.05, 1.0, 5);
        let b = render(&place(4), 640, 480, 0.05, 0.05, 1.0, 6);
        let earlier = vec![(10, of(&b)), (11, of(&a)), (12, of(&half(&a)))];
        assert_eq!(find_duplicate(&of(&jpeg(&a, 40)), &earlier), Some(11));
        let c = render(&place(5), 640, 480, 0.05, 0.05, 1.0, 7);
        assert_eq!(find_duplicate(&of(&c), &earlier), None);
    }
}
