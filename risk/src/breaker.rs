//! Circuit breakers per market, as an explicit state machine with timestamps.
//!
//! ```text
//!            velocity move > trip           cooldown since the trip passed and move < calm
//!   Normal ------------------------> ReduceOnly --------------------------------------> Normal
//!     |  price not valid for opening      (any) ---> OracleHalt ---> Normal / ReduceOnly
//!     |                                    (price valid again; ReduceOnly while a trip is open)
//!   (any) -- guardian halt --> Paused -- owner resume, or `pause_expiry_ms` unconfirmed -->
//!                                        Normal / ReduceOnly (while a trip is open)
//!   (any) -- oracle dead `settle_after_ms`, or delisted --> Settled (final)
//! ```
//!
//! A trip stays open (`trip_ms`) until the market leaves ReduceOnly by its own rule, whatever
//! happens in between, so no path through an oracle halt or a pause reaches Normal before the
//! trip's cooldown has passed and the price is calm (a property in `risk/tests/properties.rs`).
//!
//! The velocity measure compares the price with two anchors: the price at the start of the
//! current window and at the start of the previous one, so a move that straddles a window edge
//! is still seen over at least one full window. The anchors are prices seen, never reset by a
//! gap or a pause: after an outage the first price is measured against the anchors from before
//! it (the start of the last window seen becomes the previous anchor), so a move across the
//! outage trips the breaker once it exceeds `trip_move` against them; for `trip_move` below 1/3
//! (the default is 8%), a move of more than three times `trip_move` from the last price seen in
//! Normal always does (that price lies within `trip_move` of the anchors), a smaller one may
//! not.

use ballast_math::Fixed;
use parity_scale_codec::{Decode, Encode};
use scale_info::TypeInfo;

use crate::config::BreakerParams;
use crate::error::RiskResult;

/// What a market allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum BreakerState {
    /// Everything allowed.
    Normal,
    /// Only fills that reduce exposure, and liquidations.
    ReduceOnly,
    /// The price is not valid for opening: reduce-only fills and liquidations with a price that
    /// is still valid for liquidation.
    OracleHalt,
    /// Guardian halt: nothing but queries. The owner resumes it; a pause the owner has not
    /// confirmed lapses after the market's `pause_expiry_ms`.
    Paused,
    /// Final: positions close at the settlement price and nothing else happens in the market.
    Settled,
}

/// Breaker state plus the anchors of the velocity measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct Breaker {
    /// Current state.
    pub state: BreakerState,
    /// When the current state was entered, ms.
    pub since_ms: u64,
    /// Price at the start of the current velocity window (zero before the first price).
    pub anchor_price: Fixed,
    /// Start of the current velocity window, ms.
    pub anchor_ms: u64,
    /// Price at the start of the previous window.
    pub previous_anchor_price: Fixed,
    /// The owner confirmed the current pause: it no longer lapses.
    pub pause_confirmed: bool,
    /// When the open trip tripped, ms (`None`: no trip open). Its cooldown counts from here.
    pub trip_ms: Option<u64>,
}

/// A state change, for the event the contract emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct BreakerTransition {
    /// State before.
    pub from: BreakerState,
    /// State after.
    pub to: BreakerState,
    /// When, ms.
    pub at_ms: u64,
    /// The velocity move that was measured, as a fraction.
    pub move_fraction: Fixed,
}

impl Default for Breaker {
    fn default() -> Self {
        Breaker {
            state: BreakerState::Normal,
            since_ms: 0,
            anchor_price: Fixed::ZERO,
            anchor_ms: 0,
            previous_anchor_price: Fixed::ZERO,
            pause_confirmed: false,
            trip_ms: None,
        }
    }
}

fn relative_move(price: Fixed, anchor: Fixed) -> RiskResult<Fixed> {
    if !anchor.is_positive() {
        return Ok(Fixed::ZERO);
    }
    Ok(price
        .checked_div(anchor)?
        .checked_sub(Fixed::ONE)?
        .checked_abs()?)
}

impl Breaker {
    /// Largest move of `price` against the two anchors.
    pub fn velocity_move(&self, price: Fixed) -> RiskResult<Fixed> {
        Ok(relative_move(price, self.anchor_price)?
            .max(relative_move(price, self.previous_anchor_price)?))
    }

    fn enter(
        &mut self,
        to: BreakerState,
        now_ms: u64,
        move_fraction: Fixed,
    ) -> Option<BreakerTransition> {
        if self.state == to {
            return None;
        }
        let transition = BreakerTransition {
            from: self.state,
            to,
            at_ms: now_ms,
            move_fraction,
        };
        self.state = to;
        self.since_ms = now_ms;
        Some(transition)
    }

    /// Advances the machine with the latest price. `opening_price` is the price when it is valid
    /// for opening risk, `None` when the oracle is stale, too uncertain or too volatile.
    pub fn update(
        &mut self,
        params: &BreakerParams,
        opening_price: Option<Fixed>,
        now_ms: u64,
    ) -> RiskResult<Option<BreakerTransition>> {
        let lapsed = match self.state {
            BreakerState::Settled => return Ok(None),
            BreakerState::Paused
                if !self.pause_confirmed
                    && now_ms.saturating_sub(self.since_ms) >= params.pause_expiry_ms =>
            {
                // An unconfirmed guardian pause lapses: the market resumes as an owner resume
                // would, then meets its price like any other.
                self.resume(now_ms);
                true
            }
            BreakerState::Paused => return Ok(None),
            _ => false,
        };
        let from_pause = |t: Option<BreakerTransition>, state: BreakerState| match t {
            Some(t) if lapsed => Some(BreakerTransition {
                from: BreakerState::Paused,
                ..t
            }),
            None if lapsed => Some(BreakerTransition {
                from: BreakerState::Paused,
                to: state,
                at_ms: now_ms,
                move_fraction: Fixed::ZERO,
            }),
            t => t,
        };
        let Some(price) = opening_price else {
            let t = self.enter(BreakerState::OracleHalt, now_ms, Fixed::ZERO);
            return Ok(from_pause(t, self.state));
        };
        if !self.anchor_price.is_positive() {
            self.anchor_price = price;
            self.previous_anchor_price = price;
            self.anchor_ms = now_ms;
        }
        if now_ms.saturating_sub(self.anchor_ms) >= params.window_ms {
            // The previous anchor becomes the last window's start, however long ago: a gap
            // never hides the move across it.
            self.previous_anchor_price = self.anchor_price;
            self.anchor_price = price;
            self.anchor_ms = now_ms;
        }
        let moved = self.velocity_move(price)?;
        if moved > params.trip_move && self.state != BreakerState::ReduceOnly {
            // A new trip (from Normal, or on the price that ends an oracle halt).
            self.trip_ms = Some(now_ms);
        }
        let next = match self.trip_ms {
            Some(tripped)
                if now_ms.saturating_sub(tripped) >= params.cooldown_ms
                    && moved < params.calm_move =>
            {
                self.trip_ms = None;
                BreakerState::Normal
            }
            Some(_) => BreakerState::ReduceOnly,
            None => BreakerState::Normal,
        };
        let t = self.enter(next, now_ms, moved);
        Ok(from_pause(t, self.state))
    }

    /// Guardian (or owner) halt. A settled market stays settled.
    pub fn pause(&mut self, now_ms: u64) -> Option<BreakerTransition> {
        if self.state == BreakerState::Settled {
            return None;
        }
        let t = self.enter(BreakerState::Paused, now_ms, Fixed::ZERO);
        if t.is_some() {
            self.pause_confirmed = false;
        }
        t
    }

    /// Owner confirmation of a pause, so that it does not lapse. True when it changed anything.
    pub fn confirm_pause(&mut self) -> bool {
        let changed = self.state == BreakerState::Paused && !self.pause_confirmed;
        if changed {
            self.pause_confirmed = true;
        }
        changed
    }

    /// Owner resume from a pause: back to ReduceOnly while a trip is open, else Normal. The
    /// next price is measured against the anchors from before the pause.
    pub fn resume(&mut self, now_ms: u64) -> Option<BreakerTransition> {
        if self.state != BreakerState::Paused {
            return None;
        }
        self.pause_confirmed = false;
        let to = if self.trip_ms.is_some() {
            BreakerState::ReduceOnly
        } else {
            BreakerState::Normal
        };
        self.enter(to, now_ms, Fixed::ZERO)
    }

    /// Enters settlement (final).
    pub fn settle(&mut self, now_ms: u64) -> Option<BreakerTransition> {
        self.enter(BreakerState::Settled, now_ms, Fixed::ZERO)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MarketConfig;
    use ballast_math::Decimals;

    fn params() -> BreakerParams {
        MarketConfig::default_large_cap(Decimals { base: 8, quote: 6 }).breaker
    }
    fn px(v: i64) -> Option<Fixed> {
        Some(Fixed::from_int(v))
    }
    const MIN: u64 = 60_000;

    #[test]
    fn velocity_trips_reduce_only_and_resumes_after_cooldown_when_calm() {
        let p = params(); // trip 8% per 1 h window, cooldown 30 min, calm 4%
        let mut b = Breaker::default();
        assert_eq!(b.update(&p, px(100), 0).unwrap(), None);
        assert_eq!(b.update(&p, px(95), 10 * MIN).unwrap(), None); // 5%: below trip
        let t = b
            .update(&p, px(91), 20 * MIN)
            .unwrap()
            .expect("9% move trips");
        assert_eq!(
            (t.from, t.to, t.at_ms),
            (BreakerState::Normal, BreakerState::ReduceOnly, 20 * MIN)
        );
        // Calm but inside the cooldown: stays.
        assert_eq!(b.update(&p, px(91), 40 * MIN).unwrap(), None);
        // After the window rolls (anchor 91 at 60 min, previous 100): move vs previous is 9%, stays.
        assert_eq!(b.update(&p, px(91), 60 * MIN).unwrap(), None);
        // Next window: anchors 91 and 91, price 92: 1.1% < calm, cooldown passed: resume.
        let t = b.update(&p, px(92), 120 * MIN).unwrap().expect("resumes");
        assert_eq!(
            (t.from, t.to),
            (BreakerState::ReduceOnly, BreakerState::Normal)
        );
    }

    #[test]
    fn a_move_straddling_a_window_edge_is_caught() {
        let p = params();
        let mut b = Breaker::default();
        b.update(&p, px(100), 0).unwrap();
        b.update(&p, px(96), 59 * MIN).unwrap(); // 4% in the first window
                                                 // New window anchors at 96 but the previous anchor 100 still counts: 91 is 9% below it.
        let t = b.update(&p, px(91), 61 * MIN).unwrap();
        assert_eq!(t.map(|t| t.to), Some(BreakerState::ReduceOnly));
    }

    #[test]
    fn oracle_halt_enters_and_leaves_with_validity() {
        let p = params();
        let mut b = Breaker::default();
        b.update(&p, px(100), 0).unwrap();
        assert_eq!(
            b.update(&p, None, MIN).unwrap().map(|t| t.to),
            Some(BreakerState::OracleHalt)
        );
        assert_eq!(
            b.update(&p, px(101), 2 * MIN).unwrap().map(|t| t.to),
            Some(BreakerState::Normal)
        );
        b.update(&p, None, 3 * MIN).unwrap();
        // Back with a 10% move: straight to ReduceOnly.
        assert_eq!(
            b.update(&p, px(110), 4 * MIN).unwrap().map(|t| t.to),
            Some(BreakerState::ReduceOnly)
        );
    }

    #[test]
    fn pause_holds_until_resume() {
        let p = params();
        let mut b = Breaker::default();
        b.update(&p, px(100), 0).unwrap();
        assert_eq!(b.pause(MIN).map(|t| t.to), Some(BreakerState::Paused));
        assert_eq!(b.update(&p, None, 2 * MIN).unwrap(), None);
        assert_eq!(b.update(&p, px(50), 3 * MIN).unwrap(), None);
        assert_eq!(b.state, BreakerState::Paused);
        assert_eq!(b.resume(4 * MIN).map(|t| t.to), Some(BreakerState::Normal));
        assert_eq!(b.resume(5 * MIN), None);
        // The anchors survive the pause: the 50% drop that happened during it trips the breaker.
        assert_eq!(
            b.update(&p, px(50), 6 * MIN).unwrap().map(|t| t.to),
            Some(BreakerState::ReduceOnly)
        );
    }

    #[test]
    fn no_path_through_a_halt_or_a_pause_skips_the_cooldown() {
        let p = params(); // trip 8%, cooldown 30 min, calm 4%, window 1 h
        let mut b = Breaker::default();
        b.update(&p, px(100), 0).unwrap();
        b.update(&p, px(90), MIN).unwrap();
        assert_eq!(b.state, BreakerState::ReduceOnly);
        // A feed gap, then a valid price: back to ReduceOnly, not Normal.
        b.update(&p, None, 2 * MIN).unwrap();
        assert_eq!(b.state, BreakerState::OracleHalt);
        assert_eq!(
            b.update(&p, px(90), 3 * MIN).unwrap().map(|t| t.to),
            Some(BreakerState::ReduceOnly)
        );
        // A pause and an owner resume: still ReduceOnly.
        b.pause(4 * MIN);
        assert_eq!(
            b.resume(5 * MIN).map(|t| t.to),
            Some(BreakerState::ReduceOnly)
        );
        // Cooldown from the trip passed but the price is not calm against the anchors: stays.
        assert_eq!(b.update(&p, px(90), 40 * MIN).unwrap(), None);
        // Two windows on, the anchors are 90 and the price calm: resumes.
        b.update(&p, px(90), 61 * MIN).unwrap();
        assert_eq!(
            b.update(&p, px(90), 122 * MIN).unwrap().map(|t| t.to),
            Some(BreakerState::Normal)
        );
    }

    #[test]
    fn a_move_across_an_outage_trips_the_breaker() {
        let p = params();
        let mut b = Breaker::default();
        b.update(&p, px(100), 0).unwrap();
        b.update(&p, None, MIN).unwrap();
        // Ten windows of silence, then 20% lower: measured against the last price before.
        assert_eq!(
            b.update(&p, px(80), 600 * MIN).unwrap().map(|t| t.to),
            Some(BreakerState::ReduceOnly)
        );
    }

    #[test]
    fn an_unconfirmed_pause_lapses_and_a_confirmed_one_holds() {
        let p = params(); // pause expiry 24 h
        let hour = 60 * MIN;
        let mut b = Breaker::default();
        b.update(&p, px(100), 0).unwrap();
        b.pause(hour);
        assert_eq!(b.update(&p, px(100), 24 * hour).unwrap(), None);
        let t = b.update(&p, px(100), 25 * hour).unwrap().expect("lapses");
        assert_eq!((t.from, t.to), (BreakerState::Paused, BreakerState::Normal));
        // Lapsing into a dead oracle lands in OracleHalt, still reported as leaving the pause.
        b.pause(26 * hour);
        let t = b.update(&p, None, 50 * hour).unwrap().expect("lapses");
        assert_eq!(
            (t.from, t.to),
            (BreakerState::Paused, BreakerState::OracleHalt)
        );
        b.pause(51 * hour);
        assert!(b.confirm_pause());
        assert!(!b.confirm_pause());
        assert_eq!(b.update(&p, px(100), 500 * hour).unwrap(), None);
        assert_eq!(b.state, BreakerState::Paused);
        assert_eq!(
            b.resume(501 * hour).map(|t| t.to),
            Some(BreakerState::Normal)
        );
        assert!(!b.pause_confirmed);
    }

    #[test]
    fn settlement_is_final() {
        let p = params();
        let mut b = Breaker::default();
        b.update(&p, px(100), 0).unwrap();
        assert_eq!(b.settle(MIN).map(|t| t.to), Some(BreakerState::Settled));
        assert_eq!(b.pause(2 * MIN), None);
        assert_eq!(b.resume(3 * MIN), None);
        assert_eq!(b.update(&p, px(200), 4 * MIN).unwrap(), None);
        assert_eq!(b.update(&p, None, 5 * MIN).unwrap(), None);
        assert_eq!(b.state, BreakerState::Settled);
    }
}
