//! Accounts: one record per account, one cell per position, one per options book. A load
//! reads what the record lists; a store writes only what changed.

use alloc::vec::Vec;

use ballast_risk::{Account, MarketId};
use ink::primitives::AccountId;

use crate::{AccountRecord, EngineState};

impl EngineState {
    /// An account with its positions and options book (empty if never seen).
    pub fn load_account(&self, who: AccountId) -> Account {
        let record = self.accounts.get(who).unwrap_or_default();
        let positions = record
            .markets
            .iter()
            .filter_map(|&m| self.positions.get((who, m)).map(|p| (m, p)))
            .collect();
        Account {
            collateral: record.collateral,
            isolated: record.isolated,
            being_liquidated: record.being_liquidated,
            positions,
            options: if record.has_options {
                self.options.get(who)
            } else {
                None
            },
        }
    }

    /// Writes what changed between `before` (as loaded) and `after`: positions that moved,
    /// positions that closed, and the account record. Untouched positions cost nothing.
    pub fn store_account(&mut self, who: AccountId, before: &Account, after: &Account) {
        for (m, _) in &before.positions {
            if after.position(*m).is_none() {
                self.positions.remove((who, *m));
            }
        }
        for (m, p) in &after.positions {
            if before.position(*m) != Some(p) {
                self.positions.insert((who, *m), p);
            }
        }
        let same_markets = before.positions.len() == after.positions.len()
            && before
                .positions
                .iter()
                .zip(&after.positions)
                .all(|((a, _), (b, _))| a == b);
        if before.options != after.options {
            match &after.options {
                Some(book) => self.options.insert(who, book),
                None => {
                    self.options.remove(who);
                    None
                }
            };
        }
        if before.collateral != after.collateral
            || before.being_liquidated != after.being_liquidated
            || before.options.is_some() != after.options.is_some()
            || before.isolated != after.isolated
            || !same_markets
        {
            let record = AccountRecord {
                collateral: after.collateral,
                being_liquidated: after.being_liquidated,
                markets: after.positions.iter().map(|(m, _)| *m).collect(),
                has_options: after.options.is_some(),
                isolated: after.isolated,
            };
            self.accounts.insert(who, &record);
        }
    }
}

/// Every market the accounts hold (positions and options books), after `extra`, once each.
pub fn markets_of(accounts: &[&Account], extra: Option<MarketId>) -> Vec<MarketId> {
    let mut ids: Vec<MarketId> = extra.into_iter().collect();
    for a in accounts {
        for m in a.markets() {
            if !ids.contains(&m) {
                ids.push(m);
            }
        }
    }
    ids
}
