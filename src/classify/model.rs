//! The statistical layer: multinomial logistic regression over hashed sparse features.
//!
//! Features are hashed (FNV-1a) into `2^bits` slots; weights are stored feature-major so scoring one message touches a
//! few hundred contiguous rows. Training is plain SGD with a decaying step and L2 shrinkage on touched rows, with a
//! deterministic shuffle, so the bundled model is the same on every start.

/// A sparse feature vector: (slot, value).
pub type Features = Vec<(u32, f32)>;

/// Incremental FNV-1a hasher for feature names built from several parts without allocating.
#[derive(Clone, Copy)]
pub struct FeatHash(u64);

impl FeatHash {
    pub fn new(prefix: &str) -> FeatHash {
        FeatHash(0xcbf2_9ce4_8422_2325).push(prefix.as_bytes())
    }
    pub fn push(mut self, bytes: &[u8]) -> FeatHash {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
        self
    }
    pub fn sep(self) -> FeatHash {
        self.push(&[0x1f])
    }
    pub fn slot(self, bits: u32) -> u32 {
        // fold the high bits in: FNV's low bits are weak for short keys
        let h = self.0 ^ (self.0 >> 29) ^ (self.0 >> 47);
        (h & ((1u64 << bits) - 1)) as u32
    }
}

/// A linear model over hashed features. Clones share the weights until one of them learns (copy on write): every
/// site's classifier is a clone of the shared one with its own vocabulary.
#[derive(Debug, Clone)]
pub struct Linear {
    pub bits: u32,
    pub classes: usize,
    w: std::sync::Arc<Weights>,
}

/// Weights stored by row: only slots some training example or correction touched have a row (a few thousand of the
/// 65,536), the rest score zero. The model trained on the bundled data holds about a tenth of what a dense table
/// would, and scoring reads the same numbers a dense table would give.
#[derive(Debug, Clone)]
struct Weights {
    /// Row index of each slot, or `NO_ROW` (a slot past 65,535 rows gets none and keeps scoring zero).
    slot_row: Vec<u16>,
    /// `classes` weights per row.
    rows: Vec<f32>,
}

const NO_ROW: u16 = u16::MAX;

impl Weights {
    fn row(&self, slot: u32, k: usize) -> Option<&[f32]> {
        let r = *self.slot_row.get(slot as usize)?;
        if r == NO_ROW {
            return None;
        }
        let start = r as usize * k;
        self.rows.get(start..start + k)
    }

    /// The row of `slot`, created (zero) if it has none; `None` only for a slot outside the table.
    fn row_mut(&mut self, slot: u32, k: usize) -> Option<&mut [f32]> {
        let r = self.slot_row.get_mut(slot as usize)?;
        if *r == NO_ROW {
            let next = u16::try_from(self.rows.len() / k)
                .ok()
                .filter(|&n| n != NO_ROW)?;
            *r = next;
            self.rows.resize(self.rows.len() + k, 0.0);
        }
        let start = *r as usize * k;
        self.rows.get_mut(start..start + k)
    }
}

impl Linear {
    pub fn new(bits: u32, classes: usize) -> Linear {
        Linear {
            bits,
            classes,
            w: std::sync::Arc::new(Weights {
                slot_row: vec![NO_ROW; 1usize << bits],
                rows: Vec::new(),
            }),
        }
    }

    /// Raw scores per class.
    pub fn scores(&self, x: &[(u32, f32)], out: &mut [f32]) {
        out.iter_mut().for_each(|o| *o = 0.0);
        let k = self.classes;
        for &(f, v) in x {
            if let Some(row) = self.w.row(f, k) {
                for (o, w) in out.iter_mut().zip(row) {
                    *o += w * v;
                }
            }
        }
    }

    /// Class probabilities (softmax of the scores).
    pub fn probs(&self, x: &[(u32, f32)], out: &mut [f32]) {
        self.scores(x, out);
        softmax(out);
    }

    /// Whether two models still share one set of weights (neither has learned since one was cloned from the other).
    #[cfg(test)]
    pub fn shares_weights_with(&self, other: &Linear) -> bool {
        std::sync::Arc::ptr_eq(&self.w, &other.w)
    }

    /// Number of slots with weights (the rest score zero).
    pub fn rows(&self) -> usize {
        self.w.rows.len() / self.classes.max(1)
    }

    /// Bytes held by the weights.
    pub fn weight_bytes(&self) -> usize {
        self.w.slot_row.capacity() * 2 + self.w.rows.capacity() * 4
    }

    /// Contribution of one feature slot to one class.
    pub fn weight(&self, slot: u32, class: usize) -> f32 {
        self.w
            .row(slot, self.classes)
            .and_then(|r| r.get(class).copied())
            .unwrap_or(0.0)
    }

    /// One SGD step on one example; returns the probability the model gave the true class before the step.
    pub fn step(&mut self, x: &[(u32, f32)], y: usize, lr: f32, l2: f32, buf: &mut [f32]) -> f32 {
        self.probs(x, buf);
        let p_true = buf[y];
        let k = self.classes;
        let weights = std::sync::Arc::make_mut(&mut self.w);
        for &(f, v) in x {
            let Some(row) = weights.row_mut(f, k) else {
                continue;
            };
            for (c, w) in row.iter_mut().enumerate() {
                let target = if c == y { 1.0 } else { 0.0 };
                let g = (buf[c] - target) * v + l2 * *w;
                *w -= lr * g;
            }
        }
        p_true
    }

    /// Trains on `data` for `epochs` passes with a deterministic shuffle.
    pub fn train(&mut self, data: &[(Features, usize, f32)], epochs: usize, lr0: f32, l2: f32) {
        let mut order: Vec<usize> = (0..data.len()).collect();
        let mut rng: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut buf = vec![0.0f32; self.classes];
        for epoch in 0..epochs {
            for i in (1..order.len()).rev() {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let j = (rng % (i as u64 + 1)) as usize;
                order.swap(i, j);
            }
            let lr = lr0 / (1.0 + epoch as f32 * 0.3);
            for &i in &order {
                let (x, y, weight) = &data[i];
                self.step(x, *y, lr * weight, l2, &mut buf);
            }
        }
        std::sync::Arc::make_mut(&mut self.w).rows.shrink_to_fit();
    }
}

pub fn softmax(v: &mut [f32]) {
    let m = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut s = 0.0;
    for x in v.iter_mut() {
        *x = (*x - m).exp();
        s += *x;
    }
    if s > 0.0 {
        for x in v.iter_mut() {
            *x /= s;
        }
    }
}

pub fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learns_a_separable_problem() {
        let f = |s: &str| {
            vec![
                (FeatHash::new("w").push(s.as_bytes()).slot(12), 1.0f32),
                (FeatHash::new("bias").slot(12), 1.0),
            ]
        };
        let data = vec![
            (f("bocor"), 0, 1.0),
            (f("siap"), 1, 1.0),
            (f("rosak"), 0, 1.0),
            (f("done"), 1, 1.0),
        ];
        let mut m = Linear::new(12, 2);
        m.train(&data, 20, 0.5, 1e-4);
        let mut p = [0.0; 2];
        m.probs(&f("bocor"), &mut p);
        assert!(p[0] > 0.8, "{p:?}");
        m.probs(&f("done"), &mut p);
        assert!(p[1] > 0.8, "{p:?}");
    }

    #[test]
    fn only_touched_slots_hold_weights() {
        let x = |s: &str| vec![(FeatHash::new("w").push(s.as_bytes()).slot(12), 1.0f32)];
        let mut m = Linear::new(12, 3);
        let mut buf = [0.0; 3];
        assert_eq!(m.rows(), 0);
        m.step(&x("bocor"), 0, 0.5, 0.0, &mut buf);
        m.step(&x("bocor"), 0, 0.5, 0.0, &mut buf);
        m.step(&x("siap"), 1, 0.5, 0.0, &mut buf);
        assert_eq!(m.rows(), 2, "one row per distinct slot");
        let slot = x("bocor")[0].0;
        assert!(m.weight(slot, 0) > 0.0 && m.weight(slot, 1) < 0.0);
        // A slot nobody touched scores zero; a slot outside the table (another model's features) is ignored.
        let untouched = x("lain")[0].0;
        assert_eq!(m.weight(untouched, 0), 0.0);
        m.scores(&[(untouched, 1.0), (1 << 20, 1.0)], &mut buf);
        assert_eq!(buf, [0.0; 3]);
        m.step(&[(1 << 20, 1.0)], 2, 0.5, 0.0, &mut buf);
        assert_eq!(m.rows(), 2);
    }
}
