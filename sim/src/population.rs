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
//! - with two markets ([`Portfolio`], its own stream per trader): half the traders hold both
//!   (40% of the notional in the second), a quarter of those pairs as a hedge (the second leg
//!   against the first); the rest hold one market, 40% of them the second. A pair opens and
//!   closes both legs together and its stop-loss watches the account's equity.

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

/// How the population spreads over the markets of a run with more than one (a one-market run
/// ignores it: every trader holds that market). Drawn per trader from its own stream (run seed
/// and id), after and apart from [`draw_profiles`], so that adding a market changes no one's
/// profile.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Portfolio {
    /// Share of the perp traders that hold the first and the second market together.
    pub pair_share: f64,
    /// Of those pairs, the share whose second leg is against the first (a hedge: long BTC and
    /// short ETH); the rest hold both in the profile's direction.
    pub hedged_share: f64,
    /// Share of a pair's notional in the second market.
    pub second_leg_weight: f64,
    /// Share of the one-market traders that hold the second market instead of the first.
    pub second_market_share: f64,
}

impl Portfolio {
    /// Everybody in the first market alone: a several-market run with this is the one-market
    /// run of the first market (the others listed, fed, and flat).
    pub const FIRST_MARKET_ONLY: Portfolio = Portfolio {
        pair_share: 0.0,
        hedged_share: 0.0,
        second_leg_weight: 0.0,
        second_market_share: 0.0,
    };
}

impl Default for Portfolio {
    /// Half the traders hold BTC and ETH together (cross-margin venues report most active
    /// accounts in more than one market); a quarter of those pairs hedge; 40% of a pair's
    /// notional is ETH; of the rest, 40% trade ETH alone (ETH's perp volume is about 0.6 of
    /// BTC's on the large venues). Assumptions, stated: the field notes have no distribution.
    fn default() -> Self {
        Portfolio {
            pair_share: 0.5,
            hedged_share: 0.25,
            second_leg_weight: 0.4,
            second_market_share: 0.4,
        }
    }
}

/// Which way a leg of a trader's portfolio points, relative to the profile's direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegDirection {
    /// The profile's direction.
    WithProfile,
    /// Against it (the leg hedges the other).
    Against,
}

/// One market of a trader's portfolio.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LegPlan {
    /// Index of the market in the run.
    pub market: usize,
    /// Which way it points.
    pub direction: LegDirection,
    /// Share of the trader's notional in this market.
    pub weight: f64,
}

/// The markets trader `id` holds in a run of `markets` markets (one or two legs; see
/// [`Portfolio`]).
pub fn draw_legs(portfolio: &Portfolio, markets: usize, seed: u64, id: u32) -> Vec<LegPlan> {
    let only = |market| {
        vec![LegPlan {
            market,
            direction: LegDirection::WithProfile,
            weight: 1.0,
        }]
    };
    if markets < 2 {
        return only(0);
    }
    // A stream apart from the clock's (which is seeded the same way without the offset).
    let stream = seed
        .wrapping_mul(0xD1B5_4A32_D192_ED03)
        .wrapping_add(u64::from(id));
    let mut rng = ChaCha8Rng::seed_from_u64(stream);
    let pair = rng.gen_bool(portfolio.pair_share.clamp(0.0, 1.0));
    let hedged = rng.gen_bool(portfolio.hedged_share.clamp(0.0, 1.0));
    let second = rng.gen_bool(portfolio.second_market_share.clamp(0.0, 1.0));
    if !pair {
        return only(usize::from(second));
    }
    let weight = portfolio.second_leg_weight.clamp(0.0, 1.0);
    vec![
        LegPlan {
            market: 0,
            direction: LegDirection::WithProfile,
            weight: 1.0 - weight,
        },
        LegPlan {
            market: 1,
            direction: if hedged {
                LegDirection::Against
            } else {
                LegDirection::WithProfile
            },
            weight,
        },
    ]
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
        let legs: Vec<Vec<LegPlan>> = (0..20_000)
            .map(|id| draw_legs(&Portfolio::default(), 2, 7, id))
            .collect();
        let pairs: Vec<&Vec<LegPlan>> = legs.iter().filter(|l| l.len() == 2).collect();
        let share = pairs.len() as f64 / n;
        assert!((share - 0.5).abs() < 0.02, "{share}");
        let hedged = pairs
            .iter()
            .filter(|l| l[1].direction == LegDirection::Against)
            .count() as f64
            / pairs.len() as f64;
        assert!((hedged - 0.25).abs() < 0.02, "{hedged}");
        assert!(pairs
            .iter()
            .all(|l| l[0].market == 0 && l[1].market == 1 && (l[1].weight - 0.4).abs() < 1e-12));
        let singles: Vec<&Vec<LegPlan>> = legs.iter().filter(|l| l.len() == 1).collect();
        let second =
            singles.iter().filter(|l| l[0].market == 1).count() as f64 / singles.len() as f64;
        assert!((second - 0.4).abs() < 0.02, "{second}");
        assert!((0..100).all(|id| draw_legs(&Portfolio::default(), 1, 7, id).len() == 1));
        assert!(
            (0..100).all(|id| draw_legs(&Portfolio::FIRST_MARKET_ONLY, 2, 7, id)[0].market == 0)
        );
        let mut clock = Clock::new(&p, 7, 3);
        let mean = (0..20_000).map(|_| clock.hold_ms() as f64).sum::<f64>() / 20_000.0;
        assert!((mean / (48.0 * HOUR_MS) - 1.0).abs() < 0.05, "{mean}");
        let mean = (0..20_000).map(|_| clock.wait_ms() as f64).sum::<f64>() / 20_000.0;
        assert!((mean / (24.0 * HOUR_MS) - 1.0).abs() < 0.05, "{mean}");
    }
}
