//! Engine facet `views` (selectors `0x06..`): what venues, keepers and front ends read. An
//! account, its health and limits, a market's risk state. Changes nothing. Runs only through
//! the router's delegate call, on the router's storage.
#![cfg_attr(not(feature = "std"), no_std, no_main)]

#[ink::contract]
mod engine {
    use ballast_engine_state::{markets_of, EngineState, Result};
    use ballast_interface::{
        AccountView, EngineError, HealthReport, MarginMode, MarketRisk, RiskViews,
    };
    use ballast_math::Fixed;
    use ballast_risk::health::{
        account_health, initial_health_at_target, liquidation_price, HealthKind,
    };
    use ballast_risk::liquidity::{CloseSide, Use};
    use ballast_risk::{ops, stress_fee, MarketId, StressFee};

    /// The engine's storage (the router's; see `ballast-engine-state`).
    #[ink(storage)]
    pub struct Engine {
        state: EngineState,
    }

    impl Engine {
        /// A facet is not a contract of its own: instantiating its code is refused.
        #[ink(constructor)]
        pub fn facet_only() -> core::result::Result<Self, EngineError> {
            Err(EngineError::FacetOnly)
        }
    }

    impl RiskViews for Engine {
        /// An account's collateral and positions.
        #[ink(message)]
        fn account(&self, who: AccountId) -> AccountView {
            let a = self.state.load_account(who);
            AccountView {
                collateral: a.collateral,
                being_liquidated: a.being_liquidated,
                positions: a.positions,
                margin: if a.isolated {
                    MarginMode::Isolated
                } else {
                    MarginMode::Cross
                },
            }
        }

        /// Health against the three requirements at current prices.
        #[ink(message)]
        fn health(&self, who: AccountId) -> Result<HealthReport> {
            let a = self.state.load_account(who);
            let markets = self.state.load_markets(&markets_of(&[&a], None))?.markets;
            Ok(HealthReport {
                initial: initial_health_at_target(&a, &markets)?,
                maintenance: account_health(&a, &markets, HealthKind::Maintenance, None)?,
                liquidation_end: account_health(&a, &markets, HealthKind::LiquidationEnd, None)?,
            })
        }

        /// The largest size `who` may buy (or sell) now at `price` paying `fee_rate`.
        #[ink(message)]
        fn max_position(
            &self,
            who: AccountId,
            market: MarketId,
            buy: bool,
            price: Fixed,
            fee_rate: Fixed,
        ) -> Result<i128> {
            let a = self.state.load_account(who);
            let markets = self
                .state
                .load_markets(&markets_of(&[&a], Some(market)))?
                .markets;
            Ok(ops::max_position(
                &a, &markets, market, buy, price, fee_rate,
            )?)
        }

        /// The oracle price of `market` at which `who` becomes liquidatable, other prices held.
        #[ink(message)]
        fn liquidation_price(&self, who: AccountId, market: MarketId) -> Result<Option<Fixed>> {
            let a = self.state.load_account(who);
            let markets = self
                .state
                .load_markets(&markets_of(&[&a], Some(market)))?
                .markets;
            Ok(liquidation_price(&a, &markets, market)?)
        }

        /// A market's prices, volatility, applied leverage caps and breaker state.
        #[ink(message)]
        fn market_risk(&self, market: MarketId) -> Result<MarketRisk> {
            let markets = self.state.load_markets(&[market])?.markets;
            let m = markets.first().ok_or(EngineError::UnknownMarket)?;
            let floor = m.config.margin.min_initial_fraction;
            let cap = |fraction: Fixed| Fixed::ONE.checked_div(fraction.max(floor));
            Ok(MarketRisk {
                oracle: m.prices.oracle,
                dampened: m.prices.dampened,
                opening_valid: m.prices.opening_valid,
                liquidation_valid: m.prices.liquidation_valid,
                forecast_vol: m.state.forecast_vol,
                applied_initial_fraction: m.state.applied.initial,
                applied_maintenance_fraction: m.state.applied.maintenance,
                target_initial_fraction: m.state.target.initial,
                applied_leverage_cap: cap(m.state.applied.initial)?,
                new_position_leverage_cap: cap(m
                    .state
                    .applied
                    .initial
                    .max(m.state.target.initial))?,
                breaker: m.state.breaker.state,
                open_interest: m.state.open_interest,
                decimals: m.config.decimals,
                max_fee_fraction: m.config.max_fee_fraction,
                depth: match (
                    m.state
                        .depth
                        .depth(&m.config.liquidity, CloseSide::Bids, Use::Open)?,
                    m.state
                        .depth
                        .depth(&m.config.liquidity, CloseSide::Asks, Use::Open)?,
                ) {
                    (Some(bid), Some(ask)) => Some((bid, ask)),
                    _ => None,
                },
                stress_multiplier: stress_fee(m)?.multiplier,
            })
        }

        /// The recommended fee multiplier for open-interest-raising trades in a market now.
        #[ink(message)]
        fn stress_fee(&self, market: MarketId) -> Result<StressFee> {
            let markets = self.state.load_markets(&[market])?.markets;
            let m = markets.first().ok_or(EngineError::UnknownMarket)?;
            Ok(stress_fee(m)?)
        }
    }
}
