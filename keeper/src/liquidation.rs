//! The liquidator's rule, read from the engine's views: an account is liquidated while it is
//! below maintenance (the engine's own rule: nothing else makes an account liquidatable; each
//! call closes what restores its liquidation-end health, up to half of the position the
//! liquidation began from), market by market, largest position first.

use ballast_interface::{AccountView, HealthReport};
use ballast_risk::MarketId;

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

    #[test]
    fn the_largest_position_goes_first() {
        assert_eq!(
            markets_by_size(&view(&[(1, 5), (2, -9), (3, 7)], false)),
            vec![2, 3, 1]
        );
    }
}
