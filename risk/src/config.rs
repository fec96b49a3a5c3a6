//! Market configuration: what governance sets, validated before it is accepted.
//!
//! Units: notional floors and caps in quote base units; fractions are plain [`Fixed`] numbers
//! (0.05 = 5% = 20x); times in milliseconds; volatility annualized.

extern crate alloc;
use alloc::vec;
use alloc::vec::Vec;

use ballast_math::{Decimals, Fixed, MAX_DECIMALS};
use parity_scale_codec::{Decode, Encode};
use scale_info::TypeInfo;

use crate::error::{ConfigRule, RiskError, RiskResult};

/// Most tiers a market may have (bounded storage, bounded gas).
pub const MAX_TIERS: usize = 8;
/// Milliseconds per hour, the unit of ramp rates.
pub const MS_PER_HOUR: u64 = 3_600_000;
/// Shortest governance ramp and announcement delay a market may have, ms.
pub const MIN_GOVERNANCE_MS: u64 = MS_PER_HOUR;
/// Hours per year used to scale annualized volatility to a horizon.
pub const HOURS_PER_YEAR: i64 = 8_760;

/// One notional bracket. Within a bracket the requirement grows at the bracket's rates; the
/// deductions that keep it continuous at the edges are derived, never configured (see
/// [`crate::margin::tier_requirement`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct Tier {
    /// Lower edge of the bracket, quote base units of notional. The first tier starts at 0.
    pub notional_floor: i128,
    /// Initial margin rate in this bracket (1 / max leverage).
    pub initial_fraction: Fixed,
    /// Maintenance margin rate in this bracket.
    pub maintenance_fraction: Fixed,
}

/// Everything that sets margin requirements. Changes to it ramp (see [`crate::ramp`]).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct MarginParams {
    /// Notional brackets, floors strictly increasing from 0.
    pub tiers: Vec<Tier>,
    /// Size term (Drift's IMF factor, on notional): initial fraction >= size_factor *
    /// sqrt(notional in whole quote units).
    pub size_factor: Fixed,
    /// Open interest (quote base units) below which the OI term is 0 (dYdX lower cap).
    pub oi_lower_cap: i128,
    /// Open interest at which the OI term reaches `oi_max_fraction` (dYdX upper cap).
    pub oi_upper_cap: i128,
    /// Initial fraction demanded at the upper OI cap (1.0 = no leverage left).
    pub oi_max_fraction: Fixed,
    /// Liquidation horizon in hours: how long closing a position may take in a crash.
    pub horizon_hours: u32,
    /// Unit-variance quantile the initial margin covers over the horizon (fat-tailed).
    pub initial_quantile: Fixed,
    /// Unit-variance quantile the maintenance margin covers (smaller than the initial one).
    pub maintenance_quantile: Fixed,
    /// Lowest initial fraction: 1 / maximum leverage.
    pub min_initial_fraction: Fixed,
    /// Highest initial fraction: 1 / minimum leverage (1.0 means 1x).
    pub max_initial_fraction: Fixed,
    /// Liquidation-end requirement = maintenance + weight * (initial - maintenance).
    pub liquidation_end_weight: Fixed,
    /// Weight of the stressed memory in the variance of the opening term, in [0, 1], with
    /// `(1 - w) * initial_quantile^2 >= maintenance_quantile^2` so that the blend alone never
    /// takes the opening term below the maintenance term (see [`crate::memory`]; EMIR art. 28(b)
    /// asks at least 25%).
    pub stressed_weight: Fixed,
    /// EWMA decay per volatility interval of the long-horizon estimate the memory keeps.
    pub long_vol_lambda: Fixed,
    /// Decay per volatility interval of the stressed memory.
    pub stressed_decay: Fixed,
}

/// How applied requirements move toward their targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct RampParams {
    /// Largest change of the applied initial volatility fraction per hour (absolute).
    pub initial_per_hour: Fixed,
    /// Largest change of the applied maintenance volatility fraction per hour; slower than
    /// initial so that a spike first stops new risk and only later tightens existing positions.
    pub maintenance_per_hour: Fixed,
    /// Duration over which a governance change blends existing positions' requirements from
    /// the old config to the new one, ms (at least [`MIN_GOVERNANCE_MS`]).
    pub params_ramp_ms: u64,
    /// Time between a change's announcement and the earliest moment it applies, ms (at least
    /// [`MIN_GOVERNANCE_MS`]): traders see every change coming.
    pub change_delay_ms: u64,
    /// Largest relative rise per hour of the opening term (from at least `min_initial_fraction`),
    /// which new positions face (`MarketState::opening`): the clearing houses' speed limit.
    /// 0.0092 lets the speed limit add at most 24.6% a day (1.0092^24); the opening term may
    /// still jump to 1.5 times the maintenance target when that moves faster. A fall is never
    /// held back. At most 1 (100% an hour).
    pub opening_rise_per_hour: Fixed,
}

/// Velocity breaker and its automatic resume.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct BreakerParams {
    /// Relative price move within `window_ms` that trips ReduceOnly.
    pub trip_move: Fixed,
    /// Window of the velocity measure, ms.
    pub window_ms: u64,
    /// Minimum time in ReduceOnly before an automatic resume, ms.
    pub cooldown_ms: u64,
    /// The move over the window must be below this to resume.
    pub calm_move: Fixed,
    /// A guardian pause lapses after this long unless the owner confirms it, ms.
    pub pause_expiry_ms: u64,
    /// A market whose last price aggregate is older than this (and no longer valid for
    /// liquidation) may be put into settlement by anyone, ms.
    pub settle_after_ms: u64,
}

/// Liquidation, penalty and throttle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct LiquidationParams {
    /// Largest share of a position closed in one call, as a share of the position's size when
    /// its liquidation began (so a liquidation takes at most `1 / chunk_fraction` calls).
    pub chunk_fraction: Fixed,
    /// Positions whose remaining notional (quote base units) is below this are closed whole.
    pub min_position_notional: i128,
    /// Penalty on the closed notional, paid by the liquidated account.
    pub penalty_fraction: Fixed,
    /// Share of the penalty that goes to the liquidator; the rest goes to the insurance fund.
    pub liquidator_share: Fixed,
    /// Most notional (quote base units) liquidated per window in this market, where the
    /// throttle is on.
    pub throttle_notional: i128,
    /// Throttle window, ms.
    pub throttle_window_ms: u64,
    /// Keeper reward for closing a bankrupt account (which pays no penalty), as a fraction of
    /// the notional closed, paid from the insurance fund (what it holds, at most
    /// `bankrupt_reward_max` per call).
    pub bankrupt_reward_fraction: Fixed,
    /// Largest keeper reward per liquidation call of a bankrupt account, quote base units.
    pub bankrupt_reward_max: i128,
    /// Whether liquidations are throttled per window (see [`LiquidationThrottle`]).
    pub throttle: LiquidationThrottle,
}

/// Liquidity-adjusted sizing from reported depth (see [`crate::liquidity`]). A market without
/// depth reports gets none of these terms and the absolute open-interest caps of
/// [`MarginParams`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct LiquidityParams {
    /// Price band the reported depth is measured within: notional within this fraction of
    /// mid (0.01 = 1%). Closing the depth itself moves the price by this much.
    pub depth_band: Fixed,
    /// Share of the measured depth counted on (0.5: half of what the book shows).
    pub haircut: Fixed,
    /// Whether the depth terms apply (governance can switch them off for a market).
    pub terms: DepthTerms,
    /// Distinct reporters with a fresh report needed before a depth counts (at least 3: the
    /// lower median of three or more lies within the others' range whatever one reports).
    pub min_reporters: u8,
    /// A report older than this no longer counts toward the depth, ms; with fewer than
    /// `min_reporters` fresh reports new risk stops (reducing fills still pass).
    pub max_age_ms: u64,
    /// Largest closing impact a position may have when it grows (per-account size cap).
    pub max_impact: Fixed,
    /// Open interest may grow by at most this fraction of effective depth per window.
    pub oi_growth_fraction: Fixed,
    /// Window of the open-interest growth cap, ms.
    pub oi_growth_window_ms: u64,
    /// The open-interest term starts at this multiple of effective depth (if below the
    /// configured `oi_lower_cap`).
    pub oi_lower_depth_multiple: Fixed,
    /// The open-interest term reaches its maximum at this multiple of depth.
    pub oi_upper_depth_multiple: Fixed,
    /// Liquidation throttle per window as a multiple of the haircut depth (replaces the
    /// configured `throttle_notional` once depth is reported): what the book absorbs, not a
    /// fixed sum.
    pub throttle_depth_multiple: Fixed,
    /// The depth-based throttle never lets less than this fraction of the open interest's
    /// notional through per window, however thin reports say the book is.
    pub throttle_floor_oi_fraction: Fixed,
}

/// Whether a market throttles liquidations. Off by default: a throttled call leaves a
/// liquidatable account in its position while the price moves, and the simulator found that
/// this turns liquidations into bankruptcies (README, "Cascade simulator": the wick scenario
/// and the whole BTC file, `ballast_throttled` against `ballast`). The close is a takeover at
/// the oracle price, so what moves the book is the liquidator's own selling, which it may pace
/// from its inventory. What the throttle also did, and no longer does by default: cap how much
/// a liquidator can take over per window at a price two feeders spiked (within the oracle's
/// 25% jump guard); listings that fear that more than a cascade turn it on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum LiquidationThrottle {
    /// Every liquidatable account may be liquidated at once.
    Off,
    /// At most the throttle's notional per window (bankrupt accounts exempt); see
    /// [`crate::liquidation::throttle_notional`].
    On,
}

/// Whether a market's depth terms apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum DepthTerms {
    /// Reports are kept and the depth in use follows them, but no term applies.
    Off,
    /// The liquidity terms apply once a depth is in use.
    On,
}

/// Greeks-aware limits for options books reported by venues (see [`crate::greeks`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct OptionsParams {
    /// Relative implied-vol shock of a 30-day expiry at the initial quantile (0.3: a 60% vol
    /// moves 18 points); shorter expiries shock more, longer less, by `(30 / DTE)^p`.
    pub vol_of_vol: Fixed,
    /// Exponent p for expiries up to 30 days (Derive, Deribit: 0.3).
    pub short_dte_exponent: Fixed,
    /// Exponent p beyond 30 days (0.13).
    pub long_dte_exponent: Fixed,
    /// Share of the difference between the gross (bucket by bucket) and the netted scenario
    /// loss credited to offsets between expiries.
    pub offset_credit: Fixed,
    /// Tail scenarios for net short gamma: the price move is this multiple of the horizon move.
    pub tail_multiple: Fixed,
    /// Weight of the tail scenarios' loss.
    pub tail_weight: Fixed,
    /// Loss from net short gamma over the horizon move may use at most this fraction of equity
    /// when a book grows.
    pub gamma_budget: Fixed,
    /// Loss from the vol shock on net vega may use at most this fraction of equity.
    pub vega_budget: Fixed,
    /// Greeks older than this fall back to the conservative charge, ms.
    pub max_age_ms: u64,
    /// A reported P&L further than this fraction of the previous requirement (plus
    /// `explain_floor`) from what the previous Greeks predict falls back to the conservative
    /// charge until a report is explained again.
    pub explain_tolerance: Fixed,
    /// Absolute part of the explanation tolerance, quote base units.
    pub explain_floor: i128,
}

/// Stress fee multiplier recommended to venues for trades that raise open interest (see
/// [`crate::stress`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct StressParams {
    /// EWMA decay per volatility interval of the short-horizon volatility (half-life 6 h:
    /// 0.5^(1/6)); the long horizon is the oracle's forecast.
    pub fast_lambda: Fixed,
    /// Multiplier added per unit of short/long volatility ratio above 1.
    pub vol_weight: Fixed,
    /// Multiplier added per unit of depth thinning (1 - latest / slow depth).
    pub depth_weight: Fixed,
    /// Upper bound of the multiplier.
    pub max_multiplier: Fixed,
}

/// Complete configuration of one market.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct MarketConfig {
    /// Token decimals: base asset (sizes) and quote (collateral).
    pub decimals: Decimals,
    /// Requirement formulas.
    pub margin: MarginParams,
    /// Ramp speeds.
    pub ramps: RampParams,
    /// Circuit breaker.
    pub breaker: BreakerParams,
    /// Liquidation.
    pub liquidation: LiquidationParams,
    /// Largest relative distance of a fill price from the oracle price. Kept below the minimum
    /// initial fraction so that no fill can create equity faster than it adds requirement.
    pub max_fill_deviation: Fixed,
    /// Largest funding index change per hour, as a fraction of the oracle price.
    pub max_funding_per_hour: Fixed,
    /// Largest fee a venue may charge one side of a fill, as a fraction of its notional: what a
    /// hostile or broken venue the account approved can take in fees per fill (on top of the
    /// fill-price band; it may fill again and again).
    pub max_fee_fraction: Fixed,
    /// Liquidity-adjusted sizing.
    pub liquidity: LiquidityParams,
    /// Options books.
    pub options: OptionsParams,
    /// Stress fees.
    pub stress: StressParams,
}

ballast_math::impl_leaf_layout!(
    Tier,
    MarginParams,
    RampParams,
    BreakerParams,
    LiquidationParams,
    LiquidityParams,
    OptionsParams,
    StressParams,
    MarketConfig
);

/// 0.5^(1/720): hourly decay with a 30-day half-life (the memory's long-horizon estimate).
pub const HALF_LIFE_30_DAYS: Fixed = Fixed::from_bits(281_204_129_900_805);

/// 0.5^(1/2880): hourly decay with a 120-day half-life (the stressed memory).
pub const HALF_LIFE_120_DAYS: Fixed = Fixed::from_bits(281_407_240_561_349);

/// 0.5^(1/6): hourly EWMA decay with a 6-hour half-life (the short-horizon volatility).
pub const FAST_LAMBDA: Fixed = Fixed::from_bits(250_765_695_940_105);

/// Decimal constant helper for defaults: `num / den`, known to be valid.
fn ratio(num: i128, den: i128) -> Fixed {
    Fixed::from_ratio(num, den).unwrap_or(Fixed::ZERO)
}

/// Student-t quantiles scaled to unit variance, t_nu(p) * sqrt((nu - 2) / nu), for nu = 4.
/// Crypto hourly returns have kurtosis far above the normal's; a t with 4 degrees of freedom
/// matches BTC's tails well enough and a normal quantile would understate them (at 99.5% the
/// normal gives 2.576, the unit-variance t4 3.256). Checked against numerical integration in tests.
pub mod quantiles {
    use ballast_math::Fixed;
    /// t4 at 99.5%, unit variance: 4.604095 * sqrt(1/2).
    pub const T4_995: Fixed = Fixed::from_bits(916_366_217_506_798);
    /// t4 at 97.5%, unit variance: 2.776445 * sqrt(1/2).
    pub const T4_975: Fixed = Fixed::from_bits(552_603_802_216_432);
    /// t4 at 95%, unit variance: 2.131847 * sqrt(1/2).
    pub const T4_95: Fixed = Fixed::from_bits(424_307_615_653_720);
}

impl MarketConfig {
    /// Defaults for a large-cap perp (BTC-like) with the given decimals. The values and their
    /// sources are listed in the README ("Default market configuration").
    pub fn default_large_cap(decimals: Decimals) -> MarketConfig {
        let unit = ballast_math::pow10(decimals.quote).unwrap_or(1);
        let notional = |whole: i128| whole.saturating_mul(unit);
        MarketConfig {
            decimals,
            margin: MarginParams {
                // Bracket table in the shape of exchange brackets (Binance/Hyperliquid): 20x to
                // 1M notional, then 10x, 5x, 2x; maintenance half of initial (Hyperliquid).
                tiers: vec![
                    Tier {
                        notional_floor: 0,
                        initial_fraction: ratio(5, 100),
                        maintenance_fraction: ratio(25, 1000),
                    },
                    Tier {
                        notional_floor: notional(1_000_000),
                        initial_fraction: ratio(10, 100),
                        maintenance_fraction: ratio(5, 100),
                    },
                    Tier {
                        notional_floor: notional(5_000_000),
                        initial_fraction: ratio(20, 100),
                        maintenance_fraction: ratio(10, 100),
                    },
                    Tier {
                        notional_floor: notional(20_000_000),
                        initial_fraction: ratio(50, 100),
                        maintenance_fraction: ratio(25, 100),
                    },
                ],
                // 2% extra at 1M notional, 6.3% at 10M.
                size_factor: ratio(2, 100_000),
                oi_lower_cap: notional(200_000_000),
                oi_upper_cap: notional(1_000_000_000),
                oi_max_fraction: Fixed::ONE,
                horizon_hours: 8,
                initial_quantile: quantiles::T4_995,
                maintenance_quantile: quantiles::T4_95,
                min_initial_fraction: ratio(5, 100),
                max_initial_fraction: Fixed::ONE,
                liquidation_end_weight: ratio(1, 2),
                // Three quarters of the initial term's variance from the stressed memory: a
                // 30-day EWMA whose worst value fades with a 120-day half-life (see
                // `crate::memory`; chosen on the simulator's yardstick, docs/simulator.md).
                stressed_weight: ratio(3, 4),
                long_vol_lambda: HALF_LIFE_30_DAYS,
                stressed_decay: HALF_LIFE_120_DAYS,
            },
            ramps: RampParams {
                initial_per_hour: ratio(2, 100),
                maintenance_per_hour: ratio(5, 1000),
                params_ramp_ms: MS_PER_HOUR.saturating_mul(24),
                change_delay_ms: MS_PER_HOUR.saturating_mul(24),
                opening_rise_per_hour: ratio(92, 10_000),
            },
            breaker: BreakerParams {
                trip_move: ratio(8, 100),
                window_ms: MS_PER_HOUR,
                cooldown_ms: MS_PER_HOUR / 2,
                calm_move: ratio(4, 100),
                pause_expiry_ms: MS_PER_HOUR.saturating_mul(24),
                settle_after_ms: MS_PER_HOUR.saturating_mul(12),
            },
            liquidation: LiquidationParams {
                // Half of the position the liquidation started from: restoring liquidation-end
                // health from just below maintenance needs about half (one call), a bankrupt
                // account two.
                chunk_fraction: ratio(1, 2),
                min_position_notional: notional(1_000),
                penalty_fraction: ratio(1, 100),
                liquidator_share: ratio(1, 2),
                throttle_notional: notional(5_000_000),
                throttle_window_ms: 600_000,
                // Half of what a liquidator earns from a solvent account (half of the 1%
                // penalty), capped so that a large bankruptcy cannot empty the fund into rewards.
                bankrupt_reward_fraction: ratio(25, 10_000),
                bankrupt_reward_max: notional(2_500),
                throttle: LiquidationThrottle::Off,
            },
            max_fill_deviation: ratio(2, 100),
            max_funding_per_hour: ratio(1, 100),
            max_fee_fraction: ratio(1, 100),
            liquidity: LiquidityParams {
                depth_band: ratio(1, 100),
                haircut: ratio(1, 2),
                terms: DepthTerms::On,
                // A venue and two feeders: no single one of them sets the depth.
                min_reporters: 3,
                max_age_ms: MS_PER_HOUR,
                // A position may need at most 2% of impact to close: 4x the (haircut) depth.
                max_impact: ratio(2, 100),
                oi_growth_fraction: ratio(1, 2),
                oi_growth_window_ms: MS_PER_HOUR,
                // BTC perps carry open interest of roughly 100 to 300 times the depth within 1%
                // of a large venue's mid: the open-interest term starts at 100 and peaks at 400
                // times the (haircut) depth, so it bites only on a market crowded for its book.
                oi_lower_depth_multiple: Fixed::from_int(100),
                oi_upper_depth_multiple: Fixed::from_int(400),
                // Five times the haircut depth (two and a half books) per 10-minute window: the
                // simulator found one haircut depth (half a book) queued liquidations through
                // their bankruptcy prices in the FTX crash (bad debt 43,812 against 1,102).
                throttle_depth_multiple: Fixed::from_int(5),
                // However thin the reports say the book is, 2% of the open interest may be
                // liquidated per 10-minute window (12% per hour).
                throttle_floor_oi_fraction: ratio(2, 100),
            },
            options: OptionsParams {
                vol_of_vol: ratio(30, 100),
                short_dte_exponent: ratio(30, 100),
                long_dte_exponent: ratio(13, 100),
                offset_credit: ratio(1, 2),
                tail_multiple: Fixed::from_int(2),
                tail_weight: ratio(1, 2),
                gamma_budget: ratio(1, 4),
                vega_budget: ratio(1, 4),
                max_age_ms: MS_PER_HOUR,
                explain_tolerance: ratio(25, 100),
                explain_floor: notional(10),
            },
            stress: StressParams {
                fast_lambda: FAST_LAMBDA,
                vol_weight: Fixed::ONE,
                depth_weight: Fixed::from_int(2),
                max_multiplier: Fixed::from_int(4),
            },
        }
    }

    /// Rejects inconsistent configurations with the rule they break.
    pub fn validate(&self) -> RiskResult<()> {
        let bad = |rule| Err(RiskError::InvalidConfig(rule));
        if self.decimals.base > MAX_DECIMALS || self.decimals.quote > MAX_DECIMALS {
            return bad(ConfigRule::Decimals);
        }
        self.margin.validate()?;
        let r = &self.ramps;
        if !r.initial_per_hour.is_positive()
            || !r.maintenance_per_hour.is_positive()
            || r.maintenance_per_hour > r.initial_per_hour
            || !r.opening_rise_per_hour.is_positive()
            || r.opening_rise_per_hour > Fixed::ONE
            || r.params_ramp_ms < MIN_GOVERNANCE_MS
            || r.change_delay_ms < MIN_GOVERNANCE_MS
        {
            return bad(ConfigRule::Ramps);
        }
        let b = &self.breaker;
        if !b.trip_move.is_positive()
            || !b.calm_move.is_positive()
            || b.calm_move >= b.trip_move
            || b.window_ms == 0
            || b.pause_expiry_ms == 0
            || b.settle_after_ms == 0
        {
            return bad(ConfigRule::Breaker);
        }
        let l = &self.liquidation;
        let fraction = |f: Fixed| !f.is_negative() && f <= Fixed::ONE;
        if !l.chunk_fraction.is_positive()
            || l.chunk_fraction > Fixed::ONE
            || !fraction(l.penalty_fraction)
            || l.penalty_fraction >= self.margin.min_maintenance_fraction()
            || !fraction(l.liquidator_share)
            || l.min_position_notional < 0
            || l.throttle_notional <= 0
            || l.throttle_window_ms == 0
            || l.bankrupt_reward_fraction.is_negative()
            || l.bankrupt_reward_fraction > l.penalty_fraction
            || l.bankrupt_reward_max < 0
        {
            return bad(ConfigRule::Liquidation);
        }
        if !self.max_fill_deviation.is_positive()
            || self.max_fill_deviation >= self.margin.min_initial_fraction
            || self.max_funding_per_hour.is_negative()
            || self.max_fee_fraction.is_negative()
            || self.max_fee_fraction >= self.margin.min_maintenance_fraction()
        {
            return bad(ConfigRule::PriceBand);
        }
        let unit = |f: Fixed| f.is_positive() && f <= Fixed::ONE;
        let q = &self.liquidity;
        if !unit(q.depth_band)
            || !unit(q.haircut)
            || q.min_reporters < 3
            || usize::from(q.min_reporters) > crate::liquidity::MAX_DEPTH_REPORTERS
            || q.max_age_ms == 0
            || !q.max_impact.is_positive()
            || !q.oi_growth_fraction.is_positive()
            || q.oi_growth_window_ms == 0
            || q.oi_lower_depth_multiple.is_negative()
            || q.oi_upper_depth_multiple <= q.oi_lower_depth_multiple
            || !q.throttle_depth_multiple.is_positive()
            || !unit(q.throttle_floor_oi_fraction)
        {
            return bad(ConfigRule::Depth);
        }
        let o = &self.options;
        if !o.vol_of_vol.is_positive()
            || !unit(o.short_dte_exponent)
            || !unit(o.long_dte_exponent)
            || !fraction(o.offset_credit)
            || o.tail_multiple < Fixed::ONE
            || !fraction(o.tail_weight)
            || !unit(o.gamma_budget)
            || !unit(o.vega_budget)
            || o.max_age_ms == 0
            || o.explain_tolerance.is_negative()
            || o.explain_floor < 0
        {
            return bad(ConfigRule::Options);
        }
        let f = &self.stress;
        if !f.fast_lambda.is_positive()
            || f.fast_lambda >= Fixed::ONE
            || f.vol_weight.is_negative()
            || f.depth_weight.is_negative()
            || f.max_multiplier < Fixed::ONE
        {
            return bad(ConfigRule::Stress);
        }
        Ok(())
    }
}

impl MarginParams {
    /// The smallest maintenance rate of any tier.
    pub fn min_maintenance_fraction(&self) -> Fixed {
        self.tiers
            .first()
            .map(|t| t.maintenance_fraction)
            .unwrap_or(Fixed::ZERO)
    }

    /// Rejects non-monotone brackets and inconsistent bounds.
    pub fn validate(&self) -> RiskResult<()> {
        let bad = |rule| Err(RiskError::InvalidConfig(rule));
        if self.tiers.is_empty() || self.tiers.len() > MAX_TIERS {
            return bad(ConfigRule::TierCount);
        }
        let mut previous: Option<&Tier> = None;
        for tier in &self.tiers {
            let fractions_ok = tier.maintenance_fraction.is_positive()
                && tier.maintenance_fraction < tier.initial_fraction
                && tier.initial_fraction <= Fixed::ONE;
            if !fractions_ok {
                return bad(ConfigRule::TierFractions);
            }
            match previous {
                None if tier.notional_floor != 0 => return bad(ConfigRule::TierFloors),
                Some(p) if tier.notional_floor <= p.notional_floor => {
                    return bad(ConfigRule::TierFloors)
                }
                Some(p)
                    if tier.initial_fraction < p.initial_fraction
                        || tier.maintenance_fraction < p.maintenance_fraction =>
                {
                    return bad(ConfigRule::TierFractions)
                }
                _ => {}
            }
            previous = Some(tier);
        }
        if !self.min_initial_fraction.is_positive()
            || self.min_initial_fraction > self.max_initial_fraction
            || self.max_initial_fraction > Fixed::ONE
        {
            return bad(ConfigRule::LeverageBounds);
        }
        let open_unit = |f: Fixed| f.is_positive() && f < Fixed::ONE;
        if self.horizon_hours == 0
            || !self.maintenance_quantile.is_positive()
            || self.maintenance_quantile >= self.initial_quantile
            || self.size_factor.is_negative()
            || self.stressed_weight.is_negative()
            || self.stressed_weight > Fixed::ONE
            || !open_unit(self.long_vol_lambda)
            || !open_unit(self.stressed_decay)
            || Fixed::ONE
                .checked_sub(self.stressed_weight)?
                .checked_mul(self.initial_quantile.checked_mul(self.initial_quantile)?)?
                < self
                    .maintenance_quantile
                    .checked_mul(self.maintenance_quantile)?
        {
            return bad(ConfigRule::Volatility);
        }
        if self.oi_lower_cap < 0
            || self.oi_upper_cap <= self.oi_lower_cap
            || self.oi_max_fraction.is_negative()
            || self.oi_max_fraction > Fixed::ONE
        {
            return bad(ConfigRule::OpenInterest);
        }
        if self.liquidation_end_weight.is_negative() || self.liquidation_end_weight > Fixed::ONE {
            return bad(ConfigRule::LeverageBounds);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> MarketConfig {
        MarketConfig::default_large_cap(Decimals { base: 8, quote: 6 })
    }

    #[test]
    fn defaults_are_valid() {
        assert_eq!(cfg().validate(), Ok(()));
    }

    #[test]
    fn the_memory_and_the_speed_limit_are_validated() {
        let volatility = Err(RiskError::InvalidConfig(ConfigRule::Volatility));
        let mut c = cfg();
        c.margin.stressed_weight = Fixed::ONE.checked_add(Fixed::from_bits(1)).unwrap();
        assert_eq!(c.validate(), volatility);
        // A weight that could take the initial term below the maintenance term in a fresh
        // storm: (1 - 0.8) * 3.256^2 = 2.12 < 1.507^2 = 2.27.
        c.margin.stressed_weight = ratio(8, 10);
        assert_eq!(c.validate(), volatility);
        c.margin.stressed_weight = ratio(78, 100);
        assert_eq!(c.validate(), Ok(()));
        for decay in [Fixed::ZERO, Fixed::ONE] {
            let mut c = cfg();
            c.margin.long_vol_lambda = decay;
            assert_eq!(c.validate(), volatility);
            let mut c = cfg();
            c.margin.stressed_decay = decay;
            assert_eq!(c.validate(), volatility);
        }
        for rise in [Fixed::ZERO, Fixed::from_int(2)] {
            let mut c = cfg();
            c.ramps.opening_rise_per_hour = rise;
            assert_eq!(
                c.validate(),
                Err(RiskError::InvalidConfig(ConfigRule::Ramps))
            );
        }
        // The half-life constants: 720 and 2,880 hours to a half.
        let half = |x: Fixed, hours: u32| {
            let h = x.powi(hours).unwrap().to_bits() as f64 / 281_474_976_710_656.0;
            (h - 0.5).abs() < 1e-9
        };
        assert!(half(HALF_LIFE_30_DAYS, 720) && half(HALF_LIFE_120_DAYS, 2_880));
    }

    #[test]
    fn non_monotone_brackets_are_rejected() {
        let mut c = cfg();
        c.margin.tiers[2].notional_floor = c.margin.tiers[1].notional_floor;
        assert_eq!(
            c.validate(),
            Err(RiskError::InvalidConfig(ConfigRule::TierFloors))
        );
        let mut c = cfg();
        c.margin.tiers[2].initial_fraction = Fixed::from_ratio(6, 100).unwrap();
        assert_eq!(
            c.validate(),
            Err(RiskError::InvalidConfig(ConfigRule::TierFractions))
        );
        let mut c = cfg();
        c.margin.tiers[0].notional_floor = 5;
        assert_eq!(
            c.validate(),
            Err(RiskError::InvalidConfig(ConfigRule::TierFloors))
        );
        let mut c = cfg();
        c.margin.tiers[1].maintenance_fraction = c.margin.tiers[1].initial_fraction;
        assert_eq!(
            c.validate(),
            Err(RiskError::InvalidConfig(ConfigRule::TierFractions))
        );
        let mut c = cfg();
        c.margin.tiers.clear();
        assert_eq!(
            c.validate(),
            Err(RiskError::InvalidConfig(ConfigRule::TierCount))
        );
    }

    #[test]
    fn other_rules_are_enforced() {
        let mut c = cfg();
        c.ramps.maintenance_per_hour = Fixed::ONE;
        assert_eq!(
            c.validate(),
            Err(RiskError::InvalidConfig(ConfigRule::Ramps))
        );
        let mut c = cfg();
        c.breaker.calm_move = c.breaker.trip_move;
        assert_eq!(
            c.validate(),
            Err(RiskError::InvalidConfig(ConfigRule::Breaker))
        );
        let mut c = cfg();
        c.liquidation.penalty_fraction = Fixed::from_ratio(3, 100).unwrap();
        assert_eq!(
            c.validate(),
            Err(RiskError::InvalidConfig(ConfigRule::Liquidation))
        );
        let mut c = cfg();
        c.max_fill_deviation = Fixed::from_ratio(5, 100).unwrap();
        assert_eq!(
            c.validate(),
            Err(RiskError::InvalidConfig(ConfigRule::PriceBand))
        );
        let mut c = cfg();
        c.margin.maintenance_quantile = c.margin.initial_quantile;
        assert_eq!(
            c.validate(),
            Err(RiskError::InvalidConfig(ConfigRule::Volatility))
        );
        let mut c = cfg();
        c.margin.oi_upper_cap = c.margin.oi_lower_cap;
        assert_eq!(
            c.validate(),
            Err(RiskError::InvalidConfig(ConfigRule::OpenInterest))
        );
    }

    /// The Student-t(4) CDF has a closed form, so the quantile constants are checked against it.
    #[test]
    #[allow(clippy::float_arithmetic, clippy::cast_precision_loss)]
    fn quantile_constants_match_the_t4_distribution() {
        fn t4_cdf(t: f64) -> f64 {
            // For nu = 4: F(t) = 1/2 + (3/8) x (1 - x^2/3) sign(t), x = t / sqrt(t^2 + 4).
            let x = t / (t * t + 4.0).sqrt();
            0.5 + 0.375 * x * (1.0 - x * x / 3.0) * 2.0
        }
        let unscale = |q: Fixed| q.to_bits() as f64 / 2f64.powi(48) / 0.5f64.sqrt();
        for (q, p) in [
            (quantiles::T4_995, 0.995),
            (quantiles::T4_975, 0.975),
            (quantiles::T4_95, 0.95),
        ] {
            let cdf = t4_cdf(unscale(q));
            assert!((cdf - p).abs() < 1e-6, "quantile for {p}: cdf {cdf}");
        }
    }
}
