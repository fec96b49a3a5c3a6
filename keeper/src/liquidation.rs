//! The liquidator's rule, read from the engine's views: an account is liquidated while it is
//! below maintenance (the engine's own rule: nothing else makes an account liquidatable; each
//! call closes what restores its liquidation-end health, up to half of the position the
//! liquidation began from), market by market, largest position first.
//!
//! And the liquidator's inventory rule: what it takes over it unwinds through a venue, so that
//! its capacity in a cascade is the venue's book rather than its own collateral. Every round it
//! sells (or buys back) its inventory in each market, at most `unwind_per_round` of notional
//! per market and at most what the venue allows it; while its inventory is at or above
//! `max_notional` it takes nothing more over (the account waits for the next round, after the
//! unwind).

use ballast_interface::{AccountView, HealthReport};
use ballast_math::{Decimals, Fixed, MathError, Rounding};
use ballast_risk::MarketId;

/// How much the liquidator may carry and unwind, in quote base units of notional at the oracle
/// price.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InventoryBound {
    /// While the inventory's notional (all markets) is at or above this, take nothing over.
    pub max_notional: i128,
    /// Largest notional unwound in one market in one round: the venue's book is finite, and
    /// a keeper dumping a cascade's inventory at once moves the price it is liquidated at.
    pub unwind_per_round: i128,
}

impl InventoryBound {
    /// Whether the liquidator may take more over while it carries `inventory_notional`.
    pub fn may_take_over(&self, inventory_notional: i128) -> bool {
        inventory_notional < self.max_notional
    }
}

/// Notional of a position of `size` base units at `oracle`, quote base units (rounded up: the
/// bound is a limit).
pub fn notional(size: i128, oracle: Fixed, decimals: Decimals) -> Result<i128, MathError> {
    decimals.quote_value(
        size.checked_abs().ok_or(MathError::Overflow)?,
        oracle,
        Rounding::Ceil,
    )
}

/// The trade that unwinds the liquidator's `inventory` (signed base units) this round: the
/// opposite sign, at most the whole inventory, at most `unwind_per_round` of notional at
/// `oracle` (rounded down, but at least one base unit). Zero when there is nothing to unwind
/// or no unwinding is allowed. (A reduction is never refused for size: the engine's
/// `max_position` allows the whole reducing part, in reduce-only too.)
pub fn unwind_trade(
    inventory: i128,
    oracle: Fixed,
    decimals: Decimals,
    bound: &InventoryBound,
) -> Result<i128, MathError> {
    if inventory == 0 || bound.unwind_per_round <= 0 {
        return Ok(0);
    }
    // At least one base unit: a dust inventory worth less than the round's bound still goes.
    let per_round = decimals
        .size_for_value(bound.unwind_per_round, oracle, Rounding::Floor)?
        .max(1);
    let magnitude = inventory
        .checked_abs()
        .ok_or(MathError::Overflow)?
        .min(per_round);
    if inventory > 0 {
        magnitude.checked_neg().ok_or(MathError::Overflow)
    } else {
        Ok(magnitude)
    }
}

/// Whether the engine would accept a liquidation of this account now (price validity and the
/// throttle aside, which the keeper learns from a dry run).
pub fn liquidatable(health: &HealthReport, view: &AccountView) -> bool {
    !view.positions.is_empty() && health.maintenance.equity < health.maintenance.requirement
}

/// The markets to liquidate, largest absolute size first.
pub fn markets_by_size(view: &AccountView) -> Vec<MarketId> {
    let mut positions: Vec<_> = view
        .positions
        .iter()
        .map(|(m, p)| (*m, p.size.unsigned_abs()))
        .collect();
    positions.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    positions.into_iter().map(|(m, _)| m).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ballast_interface::MarginMode;
    use ballast_risk::{Health, Position};

    fn health(m: (i128, i128), le: (i128, i128)) -> HealthReport {
        let h = |(equity, requirement)| Health {
            equity,
            requirement,
        };
        HealthReport {
            initial: h((m.0, m.1 * 2)),
            maintenance: h(m),
            liquidation_end: h(le),
        }
    }

    fn view(sizes: &[(MarketId, i128)], being: bool) -> AccountView {
        AccountView {
            collateral: 100,
            being_liquidated: being,
            positions: sizes
                .iter()
                .map(|(m, s)| {
                    (
                        *m,
                        Position {
                            size: *s,
                            ..Position::default()
                        },
                    )
                })
                .collect(),
            margin: MarginMode::Cross,
        }
    }

    #[test]
    fn only_an_account_below_maintenance_is_liquidatable() {
        let v = view(&[(1, 5)], false);
        assert!(liquidatable(&health((90, 100), (90, 120)), &v));
        assert!(!liquidatable(&health((110, 100), (110, 120)), &v));
        // Above maintenance with a liquidation flag from an earlier chunk: not liquidatable,
        // whatever its liquidation-end health says.
        assert!(!liquidatable(
            &health((110, 100), (110, 120)),
            &view(&[(1, 5)], true)
        ));
        assert!(liquidatable(
            &health((90, 100), (90, 120)),
            &view(&[(1, 5)], true)
        ));
        // No positions: nothing to take over (a deficit is resolved by the engine itself).
        assert!(!liquidatable(&health((-5, 0), (-5, 0)), &view(&[], true)));
    }

    const BTC: Decimals = Decimals { base: 8, quote: 6 };

    fn usd(v: i128) -> i128 {
        v * 1_000_000
    }

    fn btc(v: i128) -> i128 {
        v * 100_000_000
    }

    #[test]
    fn an_unwind_closes_toward_flat_and_never_past_it() {
        let price = Fixed::from_int(20_000);
        let bound = InventoryBound {
            max_notional: usd(100_000),
            unwind_per_round: usd(50_000),
        };
        // 1 BTC long (20,000 USD): sold whole.
        assert_eq!(unwind_trade(btc(1), price, BTC, &bound), Ok(-btc(1)));
        // 5 BTC short (100,000 USD): bought back 2.5 BTC (50,000 USD) this round.
        assert_eq!(unwind_trade(-btc(5), price, BTC, &bound), Ok(btc(5) / 2));
        // 3 base units worth less than a unit of the bound: still unwound, one unit a round.
        let tiny = InventoryBound {
            unwind_per_round: 1,
            ..bound
        };
        assert_eq!(unwind_trade(3, price, BTC, &tiny), Ok(-1));
        // Flat, or unwinding switched off: no trade.
        assert_eq!(unwind_trade(0, price, BTC, &bound), Ok(0));
        let off = InventoryBound {
            unwind_per_round: 0,
            ..bound
        };
        assert_eq!(unwind_trade(btc(1), price, BTC, &off), Ok(0));
    }

    #[test]
    fn repeated_unwinds_reach_flat_in_the_rounds_the_bound_implies() {
        // Whatever the inventory and price: each round's trade has the opposite sign, never
        // crosses zero, and a 10-round budget at 1/10 of the inventory's notional gets flat.
        for (inventory, price) in [
            (btc(7), 20_000),
            (-btc(3) - 17, 31_337),
            (123_456_789, 1_000),
            (-1, 65_000),
        ] {
            let oracle = Fixed::from_int(price);
            let total = notional(inventory, oracle, BTC).unwrap();
            let bound = InventoryBound {
                max_notional: total,
                unwind_per_round: total / 10 + 1,
            };
            let mut left = inventory;
            let mut rounds = 0;
            while left != 0 {
                let trade = unwind_trade(left, oracle, BTC, &bound).unwrap();
                assert!(
                    trade != 0 && trade.signum() == -left.signum(),
                    "{inventory}"
                );
                assert!(trade.abs() <= left.abs());
                left += trade;
                rounds += 1;
                assert!(rounds <= 12, "{inventory} at {price}: {rounds} rounds");
            }
        }
    }

    #[test]
    fn nothing_is_taken_over_at_the_inventory_bound() {
        let bound = InventoryBound {
            max_notional: usd(100_000),
            unwind_per_round: usd(10_000),
        };
        assert!(bound.may_take_over(usd(99_999)));
        assert!(!bound.may_take_over(usd(100_000)));
        assert!(!bound.may_take_over(usd(250_000)));
    }

    #[test]
    fn the_largest_position_goes_first() {
        assert_eq!(
            markets_by_size(&view(&[(1, 5), (2, -9), (3, 7)], false)),
            vec![2, 3, 1]
        );
    }
}
