//! A small, portable PRNG (SplitMix64) so generated data never changes with a dependency
//! upgrade, plus the distributions the generator needs.

/// SplitMix64.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// Seeds the generator.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `[0, n)` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    /// A lognormal sample with parameters `mu`, `sigma` (Box–Muller).
    pub fn lognormal(&mut self, mu: f64, sigma: f64) -> f64 {
        let u1 = self.f64().max(1e-12);
        let u2 = self.f64();
        let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
        (mu + sigma * z).exp()
    }

    /// The cumulative distribution of a Zipf law over `n` ranks with exponent `s`.
    pub fn zipf_table(&mut self, n: usize, s: f64) -> Vec<f64> {
        let mut acc = 0.0;
        let mut cdf: Vec<f64> = (1..=n)
            .map(|k| {
                acc += 1.0 / (k as f64).powf(s);
                acc
            })
            .collect();
        cdf.iter_mut().for_each(|c| *c /= acc);
        cdf
    }

    /// An index drawn from a cumulative distribution.
    pub fn pick_cdf(&mut self, cdf: &[f64]) -> usize {
        let u = self.f64();
        cdf.partition_point(|&c| c < u).min(cdf.len().saturating_sub(1))
    }

    /// A value drawn from `(value, weight)` pairs.
    pub fn pick_weighted<'a, T>(&mut self, items: &'a [(T, f64)]) -> &'a T {
        let total: f64 = items.iter().map(|(_, w)| w).sum();
        let mut u = self.f64() * total;
        for (v, w) in items {
            if u < *w {
                return v;
            }
            u -= w;
        }
        &items[items.len() - 1].0
    }
}
