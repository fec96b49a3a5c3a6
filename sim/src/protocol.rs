//! The protocols compared: a static exchange-style baseline, Ballast with the engine's defaults,
//! the baseline plus one Ballast feature at a time, and Ballast minus one feature (to attribute
//! the effect).
//!
//! Every protocol runs the same risk core (`ballast_risk`) and the same oracle adapter; they
//! differ only in the [`MarketConfig`] they list the market with. The baseline switches the
//! Ballast features off through the configuration, never through other code:
//! - no volatility scaling: both quantiles at the smallest positive value, so the volatility
//!   term is zero to 1e-14 and the tiers alone set the requirement; no size or open-interest
//!   term either (exchange brackets have neither);
//! - no ramps: ramp rates of 100 (10,000 points) per hour, so a change applies at once, and the
//!   opening term's speed limit at its largest valid value (100% an hour; the volatility term
//!   it limits is zero to 1e-14 anyway);
//! - no stressed memory (weight 0);
//! - no breaker: a trip move of 1,000,000x, which no price path reaches;
//! - no throttle (off, as in Ballast's defaults since the clearing-house issue).
//!
//! Liquidation mechanics (chunk size, penalty, liquidator takeover, insurance fund, bad-debt
//! socialization) are the same in every protocol.
//!
//! Depth reports are not configuration but a venue's action: the protocols that include
//! Ballast's liquidity terms ([`Protocol::reports_depth`]) have the market's depth reported to
//! the risk core every hour (and whenever the book moved by more than 10%), which switches on
//! the liquidity charge, the per-account impact cap, the open-interest growth cap, the
//! depth-based open-interest caps and, where a listing has the throttle on
//! (`ballast_throttled`), the depth-sized liquidation throttle (`ballast_risk::liquidity`).
//! `ballast_no_depth` is Ballast without them.

use ballast_math::{Decimals, Fixed};
use ballast_risk::config::LiquidationThrottle;
use ballast_risk::MarketConfig;

/// One protocol variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// Static exchange-style tiers only.
    Baseline,
    /// Ballast defaults (`MarketConfig::default_large_cap`).
    Ballast,
    /// Baseline plus volatility-scaled margin with its ramps (and the size and OI terms).
    MarginOnly,
    /// Baseline plus the velocity breaker.
    BreakerOnly,
    /// Baseline plus the liquidation throttle.
    ThrottleOnly,
    /// Ballast defaults, but depth is never reported (no liquidity terms).
    BallastNoDepth,
    /// Ballast with the options gamma and vega budgets at 1 (the largest valid value).
    BallastNoBudgets,
    /// Ballast defaults with the liquidation throttle switched on (as listed before issue 17).
    BallastThrottled,
    /// Ballast without the stressed memory (weight 0: the margin uses the oracle's forecast).
    BallastNoMemory,
    /// Ballast without the speed limit on the opening term (its largest valid value, 100% an
    /// hour).
    BallastNoSpeedLimit,
}

impl Protocol {
    /// Every protocol, in report order.
    pub const ALL: [Protocol; 8] = [
        Protocol::Baseline,
        Protocol::Ballast,
        Protocol::BallastNoDepth,
        Protocol::BallastThrottled,
        Protocol::MarginOnly,
        Protocol::BreakerOnly,
        Protocol::ThrottleOnly,
        Protocol::BallastNoBudgets,
    ];

    /// Further variants, run only when named (`--protocols`).
    pub const EXTRA: [Protocol; 2] = [Protocol::BallastNoMemory, Protocol::BallastNoSpeedLimit];

    /// Short name used on the command line, in the JSON and in the plots.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Baseline => "baseline",
            Protocol::Ballast => "ballast",
            Protocol::MarginOnly => "margin_only",
            Protocol::BreakerOnly => "breaker_only",
            Protocol::ThrottleOnly => "throttle_only",
            Protocol::BallastNoDepth => "ballast_no_depth",
            Protocol::BallastNoBudgets => "ballast_no_budgets",
            Protocol::BallastThrottled => "ballast_throttled",
            Protocol::BallastNoMemory => "ballast_no_memory",
            Protocol::BallastNoSpeedLimit => "ballast_no_speed_limit",
        }
    }

    /// Whether the market's depth is reported to the risk core (Ballast's liquidity terms).
    pub fn reports_depth(self) -> bool {
        matches!(
            self,
            Protocol::Ballast
                | Protocol::BallastNoBudgets
                | Protocol::BallastThrottled
                | Protocol::BallastNoMemory
                | Protocol::BallastNoSpeedLimit
        )
    }

    /// Parses a name from [`Protocol::name`].
    pub fn parse(name: &str) -> Option<Protocol> {
        Protocol::ALL
            .into_iter()
            .chain(Protocol::EXTRA)
            .find(|p| p.name() == name)
    }

    /// The market configuration this protocol lists the market with.
    pub fn config(self, decimals: Decimals) -> MarketConfig {
        let ballast = MarketConfig::default_large_cap(decimals);
        let mut c = static_tiers(decimals);
        match self {
            Protocol::Baseline => {}
            Protocol::Ballast | Protocol::BallastNoDepth => c = ballast,
            Protocol::BallastNoBudgets => {
                c = ballast;
                c.options.gamma_budget = Fixed::ONE;
                c.options.vega_budget = Fixed::ONE;
            }
            Protocol::BallastThrottled => {
                c = ballast;
                c.liquidation.throttle = LiquidationThrottle::On;
            }
            Protocol::BallastNoMemory => {
                c = ballast;
                c.margin.stressed_weight = Fixed::ZERO;
            }
            Protocol::BallastNoSpeedLimit => {
                c = ballast;
                c.ramps.opening_rise_per_hour = Fixed::ONE;
            }
            Protocol::MarginOnly => {
                c.margin = ballast.margin;
                c.ramps = ballast.ramps;
            }
            Protocol::BreakerOnly => c.breaker = ballast.breaker,
            Protocol::ThrottleOnly => {
                c.liquidation = ballast.liquidation;
                c.liquidation.throttle = LiquidationThrottle::On;
            }
        }
        c
    }
}

/// The baseline: Ballast's defaults with every Ballast feature switched off (see module docs).
pub fn static_tiers(decimals: Decimals) -> MarketConfig {
    let mut c = MarketConfig::default_large_cap(decimals);
    c.margin.size_factor = Fixed::ZERO;
    c.margin.oi_lower_cap = i128::MAX / 4;
    c.margin.oi_upper_cap = i128::MAX / 2;
    c.margin.initial_quantile = Fixed::from_bits(2);
    c.margin.maintenance_quantile = Fixed::from_bits(1);
    c.ramps.initial_per_hour = Fixed::from_int(100);
    c.ramps.maintenance_per_hour = Fixed::from_int(100);
    c.ramps.opening_rise_per_hour = Fixed::ONE;
    c.margin.stressed_weight = Fixed::ZERO;
    // No governance change happens in a run; the engine's floor on the governance ramp.
    c.ramps.params_ramp_ms = ballast_risk::config::MIN_GOVERNANCE_MS;
    c.breaker.trip_move = Fixed::from_int(1_000_000);
    c.breaker.calm_move = Fixed::from_int(999_999);
    c.liquidation.throttle = LiquidationThrottle::Off;
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use ballast_risk::config::LiquidationParams;

    #[test]
    fn every_variant_is_a_valid_configuration() {
        let d = Decimals { base: 8, quote: 6 };
        for p in Protocol::ALL.into_iter().chain(Protocol::EXTRA) {
            assert_eq!(p.config(d).validate(), Ok(()), "{}", p.name());
            assert_eq!(Protocol::parse(p.name()), Some(p));
        }
        assert_eq!(
            Protocol::Ballast.config(d),
            MarketConfig::default_large_cap(d)
        );
        // Ballast minus one feature: the same listing without depth reports, or with the
        // options budgets at their largest valid value and nothing else changed.
        assert_eq!(
            Protocol::BallastNoDepth.config(d),
            Protocol::Ballast.config(d)
        );
        assert!(Protocol::Ballast.reports_depth() && !Protocol::BallastNoDepth.reports_depth());
        let mut no_budgets = Protocol::BallastNoBudgets.config(d);
        assert!(no_budgets.options.gamma_budget > Protocol::Ballast.config(d).options.gamma_budget);
        no_budgets.options.gamma_budget = Protocol::Ballast.config(d).options.gamma_budget;
        no_budgets.options.vega_budget = Protocol::Ballast.config(d).options.vega_budget;
        assert_eq!(no_budgets, Protocol::Ballast.config(d));
        assert!(Protocol::BallastNoBudgets.reports_depth());
        // The baseline and the single-feature variants never report depth.
        for p in [
            Protocol::Baseline,
            Protocol::MarginOnly,
            Protocol::BreakerOnly,
            Protocol::ThrottleOnly,
        ] {
            assert!(!p.reports_depth(), "{}", p.name());
        }
        // Each single-feature variant is the baseline with exactly that part of Ballast's
        // configuration.
        let base = Protocol::Baseline.config(d);
        let ballast = Protocol::Ballast.config(d);
        let margin = Protocol::MarginOnly.config(d);
        assert_eq!(margin.margin, ballast.margin);
        assert_eq!(margin.ramps, ballast.ramps);
        assert_eq!(
            (margin.breaker, margin.liquidation),
            (base.breaker, base.liquidation)
        );
        let breaker = Protocol::BreakerOnly.config(d);
        assert_eq!(breaker.breaker, ballast.breaker);
        assert_eq!((&breaker.margin, breaker.ramps), (&base.margin, base.ramps));
        assert_eq!(breaker.liquidation, base.liquidation);
        let throttle = Protocol::ThrottleOnly.config(d);
        assert_eq!(throttle.liquidation.throttle, LiquidationThrottle::On);
        assert_eq!(
            LiquidationParams {
                throttle: LiquidationThrottle::Off,
                ..throttle.liquidation
            },
            ballast.liquidation
        );
        // Ballast throttled: the defaults with the throttle on, nothing else changed.
        let mut throttled = Protocol::BallastThrottled.config(d);
        assert_eq!(throttled.liquidation.throttle, LiquidationThrottle::On);
        assert_eq!(ballast.liquidation.throttle, LiquidationThrottle::Off);
        throttled.liquidation.throttle = LiquidationThrottle::Off;
        assert_eq!(throttled, ballast);
        assert_eq!(
            (&throttle.margin, throttle.breaker),
            (&base.margin, base.breaker)
        );
        // The baseline differs from Ballast only in the switched-off features: the tiers, the
        // liquidation mechanics and the price and fee bands are Ballast's.
        assert_eq!(base.margin.tiers, ballast.margin.tiers);
        assert_eq!(
            (
                base.liquidation.chunk_fraction,
                base.liquidation.penalty_fraction
            ),
            (
                ballast.liquidation.chunk_fraction,
                ballast.liquidation.penalty_fraction
            )
        );
        assert_eq!(base.max_fill_deviation, ballast.max_fill_deviation);
        // Its volatility term is negligible even at 1,000% volatility.
        let v =
            ballast_risk::margin::VolFractions::for_vol(&base.margin, Fixed::from_int(10)).unwrap();
        assert!(v.initial < Fixed::from_ratio(1, 1_000_000_000).unwrap());
    }
}
