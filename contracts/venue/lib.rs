//! A reference perp venue over the Ballast engine, small but honest: traders open, grow, reduce
//! and close positions in one market at the oracle price plus a half-spread, paying a fee to the
//! venue's treasury. Before every order the venue asks the engine for the largest size the
//! trader may take; it then reports the fill with itself as the maker (its own liquidity account
//! in the engine). It charges or pays funding from its skew through the engine's funding index.
//! Every engine refusal reaches the trader as a typed `VenueError`, never a trap: all engine
//! calls use the fallible `try_invoke` form.
//!
//! Trades that grow the trader's exposure pay the base fee times the engine's stress
//! multiplier (bounded by the market's largest fee); reductions pay the base fee. The owner
//! (the venue's operator) reports the venue's book depth and, for an options desk, the Greeks
//! of its accounts' options books to the engine.
#![cfg_attr(not(feature = "std"), no_std, no_main)]

#[ink::contract]
mod venue {
    use ballast_interface::{CollateralApi, EngineError, RiskViews, VenueApi};
    use ballast_math::{Decimals, Fixed, Rounding};
    use ballast_risk::{BreakerState, MarketId, OptionsReport};
    use ink::codegen::TraitCallBuilder;
    use ink::prelude::vec::Vec;
    use psp22::PSP22;

    /// Why the venue refused an order.
    // The SCALE derive casts variant indices; the enum has far fewer than 256 variants.
    #[allow(clippy::cast_possible_truncation)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    #[ink::scale_derive(Encode, Decode, TypeInfo)]
    pub enum VenueError {
        /// Zero size, or a size that does not fit.
        InvalidSize,
        /// Larger than the engine allows this trader now; carries the allowed size.
        TooLarge(i128),
        /// The market only accepts orders that reduce exposure.
        ReduceOnly,
        /// The engine refused (the error says why).
        Engine(EngineError),
        /// The engine could not be called (not a contract, or it trapped).
        EngineUnreachable,
        /// The collateral token refused a transfer.
        TokenTransferFailed,
        /// Only the venue's owner.
        Unauthorized,
    }

    /// A trade went through.
    #[ink(event)]
    pub struct Traded {
        #[ink(topic)]
        trader: AccountId,
        size: i128,
        price: Fixed,
        fee: u128,
    }

    type Result<T> = core::result::Result<T, VenueError>;

    /// What the venue quotes from: price, reduce-only flag, decimals, stress multiplier and the
    /// market's fee bound.
    struct Quote {
        price: Fixed,
        restricted: bool,
        decimals: Decimals,
        stress: Fixed,
        max_fee: Fixed,
    }

    #[ink(storage)]
    pub struct Venue {
        owner: AccountId,
        engine: AccountId,
        token: AccountId,
        market: MarketId,
        /// Half-spread as a fraction of the oracle price (buyers pay more, sellers get less).
        half_spread: Fixed,
        /// Fee as a fraction of the notional, to the treasury.
        fee_rate: Fixed,
        treasury: AccountId,
        /// Funding per hour at full skew, as a fraction of the price.
        funding_per_hour: Fixed,
        /// Skew (base units) at which funding reaches `funding_per_hour`.
        skew_scale: i128,
        last_funding_ms: u64,
    }

    fn engine_error<T>(
        result: core::result::Result<
            ink::MessageResult<core::result::Result<T, EngineError>>,
            ink::env::Error,
        >,
    ) -> Result<T> {
        match result {
            Ok(Ok(Ok(v))) => Ok(v),
            Ok(Ok(Err(EngineError::Risk(ballast_risk::RiskError::ReduceOnly)))) => {
                Err(VenueError::ReduceOnly)
            }
            Ok(Ok(Err(e))) => Err(VenueError::Engine(e)),
            _ => Err(VenueError::EngineUnreachable),
        }
    }

    impl Venue {
        #[ink(constructor)]
        #[allow(clippy::too_many_arguments)]
        pub fn new(
            engine: AccountId,
            token: AccountId,
            market: MarketId,
            half_spread: Fixed,
            fee_rate: Fixed,
            treasury: AccountId,
            funding_per_hour: Fixed,
            skew_scale: i128,
        ) -> Self {
            Self {
                owner: Self::env().caller(),
                engine,
                token,
                market,
                half_spread,
                fee_rate,
                treasury,
                funding_per_hour,
                skew_scale,
                last_funding_ms: Self::env().block_timestamp(),
            }
        }

        fn engine_ref(&self) -> ink::contract_ref!(VenueApi) {
            self.engine.into()
        }

        fn views_ref(&self) -> ink::contract_ref!(RiskViews) {
            self.engine.into()
        }

        /// `who`'s size in the venue's market, as the engine holds it.
        fn size_of(&self, who: AccountId) -> Result<i128> {
            match self.views_ref().call().account(who).try_invoke() {
                Ok(Ok(view)) => Ok(view
                    .positions
                    .iter()
                    .find(|(m, _)| *m == self.market)
                    .map(|(_, p)| p.size)
                    .unwrap_or(0)),
                _ => Err(VenueError::EngineUnreachable),
            }
        }

        fn only_owner(&self) -> Result<()> {
            if self.env().caller() != self.owner {
                return Err(VenueError::Unauthorized);
            }
            Ok(())
        }

        /// Reports the venue's book depth within the market's band of mid (quote base units
        /// per side) to the engine. Owner only.
        #[ink(message)]
        pub fn report_depth(&mut self, bid: u128, ask: u128) -> Result<()> {
            self.only_owner()?;
            engine_error(
                self.engine_ref()
                    .call_mut()
                    .report_depth(self.market, bid, ask)
                    .try_invoke(),
            )
        }

        /// Reports an account's options book to the engine before an options trade is
        /// executed; the trade may go ahead only on `Ok`. Owner only.
        #[ink(message)]
        pub fn report_options(&mut self, account: AccountId, report: OptionsReport) -> Result<()> {
            self.only_owner()?;
            engine_error(
                self.engine_ref()
                    .call_mut()
                    .report_options(account, report)
                    .try_invoke(),
            )
        }

        /// Moves `amount` of the owner's tokens into the venue's own engine account, the
        /// liquidity it makes markets with (the owner must have approved the venue).
        #[ink(message)]
        pub fn provide_liquidity(&mut self, amount: u128) -> Result<()> {
            self.only_owner()?;
            let caller = self.env().caller();
            let me = self.env().account_id();
            let mut token: ink::contract_ref!(PSP22) = self.token.into();
            match token
                .call_mut()
                .transfer_from(caller, me, amount, Vec::new())
                .try_invoke()
            {
                Ok(Ok(Ok(()))) => {}
                _ => return Err(VenueError::TokenTransferFailed),
            }
            match token.call_mut().approve(self.engine, amount).try_invoke() {
                Ok(Ok(Ok(()))) => {}
                _ => return Err(VenueError::TokenTransferFailed),
            }
            let mut engine: ink::contract_ref!(CollateralApi) = self.engine.into();
            let deposit = engine.call_mut().deposit(amount).try_invoke();
            engine_error(deposit)
        }

        /// The price a trader pays (buy) or gets (sell) now, and whether the market only
        /// accepts reductions.
        #[ink(message)]
        pub fn quote(&self, buy: bool) -> Result<(Fixed, bool)> {
            let q = self.quote_with_risk(buy)?;
            Ok((q.price, q.restricted))
        }

        fn quote_with_risk(&self, buy: bool) -> Result<Quote> {
            let risk = engine_error(
                self.views_ref()
                    .call()
                    .market_risk(self.market)
                    .try_invoke(),
            )?;
            let factor = if buy {
                Fixed::ONE.saturating_add(self.half_spread)
            } else {
                Fixed::ONE.saturating_sub(self.half_spread)
            };
            let price = risk
                .oracle
                .checked_mul(factor)
                .map_err(|_| VenueError::InvalidSize)?;
            Ok(Quote {
                price,
                restricted: risk.breaker != BreakerState::Normal,
                decimals: risk.decimals,
                stress: risk.stress_multiplier,
                max_fee: risk.max_fee_fraction,
            })
        }

        /// The fee rate of a trade of `size` for `trader`: the base rate, times the stress
        /// multiplier when the trade grows the trader's exposure, at most the market's bound.
        fn fee_rate_for(&self, trader: AccountId, size: i128, q: &Quote) -> Result<Fixed> {
            if q.stress <= Fixed::ONE {
                return Ok(self.fee_rate);
            }
            let held = self.size_of(trader)?;
            if ballast_risk::ops::is_reducing(held, size) {
                return Ok(self.fee_rate);
            }
            Ok(self
                .fee_rate
                .checked_mul(q.stress)
                .map_err(|_| VenueError::InvalidSize)?
                .min(q.max_fee)
                .max(self.fee_rate.min(q.max_fee)))
        }

        /// Trades `size` (signed: + buys) for the caller against the venue's liquidity.
        #[ink(message)]
        pub fn trade(&mut self, size: i128) -> Result<()> {
            if size == 0 {
                return Err(VenueError::InvalidSize);
            }
            let trader = self.env().caller();
            let buy = size > 0;
            let q = self.quote_with_risk(buy)?;
            let (price, restricted, decimals) = (q.price, q.restricted, q.decimals);
            let fee_rate = self.fee_rate_for(trader, size, &q)?;
            let allowed = engine_error(
                self.views_ref()
                    .call()
                    .max_position(trader, self.market, buy, price, fee_rate)
                    .try_invoke(),
            )?;
            let magnitude = size.checked_abs().ok_or(VenueError::InvalidSize)?;
            if magnitude > allowed {
                // In reduce-only the engine allows only the reducing part: say why.
                return Err(if restricted {
                    VenueError::ReduceOnly
                } else {
                    VenueError::TooLarge(allowed)
                });
            }
            // Notional in quote base units with the market's decimals, as the engine prices it;
            // the fee is charged on the same amount.
            let notional = decimals
                .quote_value(magnitude, price, Rounding::Ceil)
                .map_err(|_| VenueError::InvalidSize)?;
            let fee = fee_rate
                .mul_amount(notional, Rounding::Floor)
                .map_err(|_| VenueError::InvalidSize)?;
            let fee = u128::try_from(fee).map_err(|_| VenueError::InvalidSize)?;
            let me = self.env().account_id();
            let treasury = self.treasury;
            engine_error(
                self.engine_ref()
                    .call_mut()
                    .fill(self.market, trader, me, size, price, fee, 0, treasury)
                    .try_invoke(),
            )?;
            self.env().emit_event(Traded {
                trader,
                size,
                price,
                fee,
            });
            Ok(())
        }

        /// Charges funding from the venue's skew since the last update: longs pay when traders
        /// are net long (the venue short), rate = funding_per_hour * skew / skew_scale, clamped
        /// to +-funding_per_hour. Anyone may call it.
        #[ink(message)]
        pub fn update_funding(&mut self) -> Result<()> {
            let now = self.env().block_timestamp();
            let me = self.env().account_id();
            let venue_size = self.size_of(me)?;
            let risk = engine_error(
                self.views_ref()
                    .call()
                    .market_risk(self.market)
                    .try_invoke(),
            )?;
            // Traders' net = -venue size.
            let skew = Fixed::from_ratio(venue_size.saturating_neg(), self.skew_scale.max(1))
                .map_err(|_| VenueError::InvalidSize)?
                .clamp(Fixed::from_int(-1), Fixed::ONE)
                .map_err(|_| VenueError::InvalidSize)?;
            let hours = Fixed::from_ratio(
                i128::from(now.saturating_sub(self.last_funding_ms)),
                3_600_000,
            )
            .map_err(|_| VenueError::InvalidSize)?;
            let delta = self
                .funding_per_hour
                .checked_mul(skew)
                .and_then(|r| r.checked_mul(hours))
                .and_then(|r| r.checked_mul(risk.oracle))
                .map_err(|_| VenueError::InvalidSize)?;
            engine_error(
                self.engine_ref()
                    .call_mut()
                    .update_funding(self.market, delta)
                    .try_invoke(),
            )?;
            self.last_funding_ms = now;
            Ok(())
        }

        /// The venue's market and engine.
        #[ink(message)]
        pub fn market(&self) -> (MarketId, AccountId) {
            (self.market, self.engine)
        }
    }
}
