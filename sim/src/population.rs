//! The trader population: who trades, how much leverage they ask for, when they stop out.
//!
//! Distributions (drawn once per trader from the run's seed, so every protocol faces the same
//! population; a trader's later draws come from its own stream, seeded by run seed and id):
//! - collateral: log-normal, median 3,000 USD, sigma 1.0 (mean about 4,950), clipped to
//!   [100, 500,000] USD. Topped back up to that amount on re-entry when below half of it.
//! - direction: long with probability 0.6 (perp books lean long in bull phases; the crashes
//!   studied are long-side cascades). A trader keeps its direction.
//! - leverage demand: 50% moderate, uniform 2-5x; 35% aggressive, uniform 5-15x; 15% take the
//!   most the protocol allows. Every demand is capped by the protocol's initial requirement.
//! - stop behaviour: half the traders place a stop-loss at a loss of 30-70% (uniform) of the
//!   equity they entered with; the stop is a market order against the finite depth.
//! - holding time: exponential, mean 48 h (at least 1 h); time between positions: exponential,
//!   mean 24 h; the first entry is uniform over the first 48 h.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp, LogNormal};

/// Hours to milliseconds.
pub const HOUR_MS: f64 = 3_600_000.0;

/// Leverage a trader asks for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Demand {
    /// A fixed leverage (notional / equity).
    Fixed(f64),
    /// The protocol's maximum.
    Max,
}

/// What a trader is like: fixed for the run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Profile {
    /// Trades long (else short).
    pub long: bool,
    /// Leverage demand.
    pub demand: Demand,
    /// Stop-loss as a fraction of entry equity lost, if the trader uses one.
    pub stop: Option<f64>,
    /// Collateral the trader brings, quote whole units.
    pub collateral: f64,
}

/// The population parameters (see the module docs for the defaults' reasons).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PopulationParams {
    /// Median collateral, quote whole units.
    pub median_collateral: f64,
    /// Log-normal sigma of collateral.
    pub collateral_sigma: f64,
    /// Probability a trader is long.
    pub long_share: f64,
    /// Mean holding time, hours.
    pub mean_hold_hours: f64,
    /// Mean time between positions, hours.
    pub mean_wait_hours: f64,
}

impl Default for PopulationParams {
    fn default() -> Self {
        PopulationParams {
            median_collateral: 3_000.0,
            collateral_sigma: 1.0,
            long_share: 0.6,
            mean_hold_hours: 48.0,
            mean_wait_hours: 24.0,
        }
    }
}

/// Draws `n` profiles from `seed`.
pub fn draw_profiles(params: &PopulationParams, n: usize, seed: u64) -> Vec<Profile> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let collateral = LogNormal::new(params.median_collateral.ln(), params.collateral_sigma)
        .expect("valid log-normal");
    (0..n)
        .map(|_| {
            let long = rng.gen_bool(params.long_share);
            let u: f64 = rng.gen();
            let demand = if u < 0.5 {
                Demand::Fixed(rng.gen_range(2.0..5.0))
            } else if u < 0.85 {
                Demand::Fixed(rng.gen_range(5.0..15.0))
            } else {
                Demand::Max
            };
            let stop = rng.gen_bool(0.5).then(|| rng.gen_range(0.3..0.7));
            let collateral = collateral.sample(&mut rng).clamp(100.0, 500_000.0);
            Profile {
                long,
                demand,
                stop,
                collateral: collateral.round(),
            }
        })
        .collect()
}

/// A trader's own random stream: holding and waiting times.
#[derive(Debug, Clone)]
pub struct Clock {
    rng: ChaCha8Rng,
    hold: Exp<f64>,
    wait: Exp<f64>,
}

impl Clock {
    /// The stream of trader `id` in a run with `seed`.
    pub fn new(params: &PopulationParams, seed: u64, id: u32) -> Clock {
        let stream = seed
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(u64::from(id));
        Clock {
            rng: ChaCha8Rng::seed_from_u64(stream),
            hold: Exp::new(1.0 / params.mean_hold_hours).expect("positive mean"),
            wait: Exp::new(1.0 / params.mean_wait_hours).expect("positive mean"),
        }
    }

    /// Delay before the first entry, ms.
    pub fn first_entry_ms(&mut self) -> u64 {
        (self.rng.gen_range(0.0..48.0) * HOUR_MS) as u64
    }

    /// Holding time of a new position, ms.
    pub fn hold_ms(&mut self) -> u64 {
        (self.hold.sample(&mut self.rng).max(1.0) * HOUR_MS) as u64
    }

    /// Time until the next position, ms.
    pub fn wait_ms(&mut self) -> u64 {
        (self.wait.sample(&mut self.rng) * HOUR_MS) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_follow_the_stated_distributions() {
        let p = PopulationParams::default();
        let profiles = draw_profiles(&p, 20_000, 7);
        assert_eq!(profiles, draw_profiles(&p, 20_000, 7));
        let n = profiles.len() as f64;
        let longs = profiles.iter().filter(|t| t.long).count() as f64 / n;
        assert!((longs - 0.6).abs() < 0.02, "{longs}");
        let max = profiles.iter().filter(|t| t.demand == Demand::Max).count() as f64 / n;
        assert!((max - 0.15).abs() < 0.02, "{max}");
        let stops = profiles.iter().filter(|t| t.stop.is_some()).count() as f64 / n;
        assert!((stops - 0.5).abs() < 0.02, "{stops}");
        let mut c: Vec<f64> = profiles.iter().map(|t| t.collateral).collect();
        c.sort_by(f64::total_cmp);
        let median = c[c.len() / 2];
        assert!((median / 3_000.0 - 1.0).abs() < 0.05, "{median}");
        assert!(c[0] >= 100.0 && c[c.len() - 1] <= 500_000.0);
        let fixed: Vec<f64> = profiles
            .iter()
            .filter_map(|t| match t.demand {
                Demand::Fixed(l) => Some(l),
                Demand::Max => None,
            })
            .collect();
        let moderate = fixed.iter().filter(|l| **l < 5.0).count() as f64 / n;
        assert!((moderate - 0.5).abs() < 0.02, "{moderate}");
        assert!(fixed.iter().all(|l| (2.0..15.0).contains(l)));
        assert!(profiles
            .iter()
            .filter_map(|t| t.stop)
            .all(|s| (0.3..0.7).contains(&s)));
        let mut clock = Clock::new(&p, 7, 3);
        let mean = (0..20_000).map(|_| clock.hold_ms() as f64).sum::<f64>() / 20_000.0;
        assert!((mean / (48.0 * HOUR_MS) - 1.0).abs() < 0.05, "{mean}");
        let mean = (0..20_000).map(|_| clock.wait_ms() as f64).sum::<f64>() / 20_000.0;
        assert!((mean / (24.0 * HOUR_MS) - 1.0).abs() < 0.05, "{mean}");
    }
}
