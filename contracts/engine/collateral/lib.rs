//! Engine facet `collateral` (selectors `0x05..`): deposits, insurance top-ups, withdrawals,
//! sub-accounts and accounts' approvals of venues: the messages by which an account's owner
//! moves its tokens or collateral, or lets a venue trade it. Runs only
//! through the router's delegate call, on the router's storage.
#![cfg_attr(not(feature = "std"), no_std, no_main)]

#[ink::contract]
mod engine {
    use ballast_engine_state::{
        caller, emit, markets_of, positive_amount, sub_account_of, EngineState, Result, REVOKED,
        TOTAL_OVERFLOW,
    };
    use ballast_interface::events::*;
    use ballast_interface::{Approval, CollateralApi, EngineError, MarginMode};
    use ballast_risk::{ops, Account, MarketId, RiskError};

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

        /// Credits `amount` pulled from the caller to `account` (the caller's own account or
        /// one of its sub-accounts).
        fn deposit_into(&mut self, account: AccountId, amount: u128) -> Result<()> {
            let s = &mut self.state;
            s.not_halted()?;
            let payer = caller();
            let signed = positive_amount(amount)?;
            let before = s.load_account(account);
            let mut after = before.clone();
            ops::deposit(&mut after, signed)?;
            settle_liquidation_flag(s, &mut after)?;
            let net = s.net_deposits.checked_add(signed).ok_or(TOTAL_OVERFLOW)?;
            s.pull_tokens(payer, amount)?;
            s.store_account(account, &before, &after);
            s.net_deposits = net;
            emit(Deposited { account, amount });
            Ok(())
        }

        /// Pays `amount` of `account`'s collateral (the caller's own account or one of its
        /// sub-accounts) to the caller, margin permitting.
        fn withdraw_out(&mut self, account: AccountId, amount: u128) -> Result<()> {
            let s = &mut self.state;
            let payee = caller();
            let signed = positive_amount(amount)?;
            let before = s.load_account(account);
            if !before.is_flat() {
                s.not_halted()?;
            }
            let mut after = before.clone();
            let loaded = s.load_markets(&markets_of(&[&after], None))?;
            ops::withdraw(&mut after, &loaded.markets, signed)?;
            let net = s.net_deposits.checked_sub(signed).ok_or(TOTAL_OVERFLOW)?;
            // Effects before the external call; a failed transfer reverts them all.
            s.store_account(account, &before, &after);
            s.store_markets(&loaded, &[]);
            s.net_deposits = net;
            s.send_tokens(payee, amount)?;
            emit(Withdrawn { account, amount });
            Ok(())
        }
    }

    /// A deposit may have restored an account under liquidation: let its liquidation state end
    /// if it now meets maintenance.
    fn settle_liquidation_flag(s: &EngineState, account: &mut Account) -> Result<()> {
        if account.being_liquidated {
            let loaded = s.load_markets(&markets_of(&[&*account], None))?;
            ops::note_observed(account, &loaded.markets)?;
        }
        Ok(())
    }

    impl CollateralApi for Engine {
        /// Deposits `amount` of the collateral token (the caller must have approved the engine).
        #[ink(message)]
        fn deposit(&mut self, amount: u128) -> Result<()> {
            self.deposit_into(caller(), amount)
        }

        /// Adds `amount` of the collateral token to the insurance fund (anyone; the caller must
        /// have approved the engine). The fund covers bankruptcies before losses are socialized.
        #[ink(message)]
        fn fund_insurance(&mut self, amount: u128) -> Result<()> {
            let s = &mut self.state;
            let caller = caller();
            let signed = positive_amount(amount)?;
            let fund = s.insurance_fund.checked_add(signed).ok_or(TOTAL_OVERFLOW)?;
            let net = s.net_deposits.checked_add(signed).ok_or(TOTAL_OVERFLOW)?;
            s.pull_tokens(caller, amount)?;
            s.insurance_fund = fund;
            s.net_deposits = net;
            emit(InsuranceFunded {
                from: caller,
                amount,
            });
            Ok(())
        }

        /// Withdraws `amount` while initial health at the target requirement stays
        /// non-negative. An account that holds nothing but collateral may always withdraw, even
        /// during a global halt: it owes nothing and risks nothing.
        #[ink(message)]
        fn withdraw(&mut self, amount: u128) -> Result<()> {
            self.withdraw_out(caller(), amount)
        }

        /// Opens the caller's sub-account `index` (1..=255; 0 is the caller's own account).
        #[ink(message)]
        fn open_sub_account(&mut self, index: u8, mode: MarginMode) -> Result<AccountId> {
            let owner = caller();
            let s = &mut self.state;
            if index == 0 {
                return Err(EngineError::SubAccountExists);
            }
            let account = sub_account_of(owner, index);
            if s.sub_accounts.contains(account) {
                return Err(EngineError::SubAccountExists);
            }
            s.not_halted()?;
            let before = s.load_account(account);
            // A venue may have filled the address, or credited fees to it, before it was
            // opened: the owner takes over what is there, but only an address holding at most
            // one market can be isolated.
            if mode == MarginMode::Isolated && before.markets().nth(1).is_some() {
                return Err(EngineError::Risk(RiskError::IsolatedAccount));
            }
            let mut after = before.clone();
            after.isolated = mode == MarginMode::Isolated;
            s.sub_accounts.insert(account, &(owner, index));
            s.store_account(account, &before, &after);
            emit(SubAccountOpened {
                owner,
                index,
                account,
                mode,
            });
            Ok(account)
        }

        /// Deposits `amount` from the caller into its sub-account `index`.
        #[ink(message)]
        fn deposit_to(&mut self, index: u8, amount: u128) -> Result<()> {
            let account = self.state.own_account(caller(), index)?;
            self.deposit_into(account, amount)
        }

        /// Withdraws `amount` from the caller's sub-account `index` to the caller.
        #[ink(message)]
        fn withdraw_from(&mut self, index: u8, amount: u128) -> Result<()> {
            let account = self.state.own_account(caller(), index)?;
            self.withdraw_out(account, amount)
        }

        /// Moves `amount` of collateral between two of the caller's accounts.
        #[ink(message)]
        fn move_collateral(&mut self, from: u8, to: u8, amount: u128) -> Result<()> {
            let owner = caller();
            let s = &mut self.state;
            if from == to {
                return Err(EngineError::SameAccount);
            }
            // Into an account it is a deposit, which a halt refuses.
            s.not_halted()?;
            let (source, target) = (s.own_account(owner, from)?, s.own_account(owner, to)?);
            if source == target {
                return Err(EngineError::SameAccount);
            }
            let signed = positive_amount(amount)?;
            let (source0, target0) = (s.load_account(source), s.load_account(target));
            let (mut source1, mut target1) = (source0.clone(), target0.clone());
            let loaded = s.load_markets(&markets_of(&[&source1], None))?;
            ops::withdraw(&mut source1, &loaded.markets, signed)?;
            ops::deposit(&mut target1, signed)?;
            settle_liquidation_flag(s, &mut target1)?;
            s.store_account(source, &source0, &source1);
            s.store_account(target, &target0, &target1);
            s.store_markets(&loaded, &[]);
            emit(CollateralMoved {
                owner,
                from: source,
                to: target,
                amount,
            });
            Ok(())
        }

        /// The address of `owner`'s sub-account `index` (`owner` itself for 0), whether opened
        /// or not. Venues fill it as any account.
        #[ink(message)]
        fn sub_account(&self, owner: AccountId, index: u8) -> AccountId {
            sub_account_of(owner, index)
        }

        /// Grants or revokes a venue the right to fill the caller's account `index` in a
        /// listed market. Allowed during halts: revoking is how an account protects itself.
        #[ink(message)]
        fn approve_venue(
            &mut self,
            index: u8,
            market: MarketId,
            venue: AccountId,
            approval: Approval,
        ) -> Result<()> {
            let s = &mut self.state;
            let account = s.own_account(caller(), index)?;
            s.listing(market)?;
            match approval {
                Approval::Granted => {
                    // Only a venue appointed to the market (active or still in its delay), and
                    // only for that appointment.
                    let appointment = s
                        .venues
                        .get((market, venue))
                        .filter(|a| a.active_from_ms != REVOKED)
                        .ok_or(EngineError::Unauthorized)?;
                    s.venue_approvals
                        .insert((account, market, venue), &appointment.generation);
                }
                Approval::Revoked => s.venue_approvals.remove((account, market, venue)),
            }
            emit(VenueApproved {
                account,
                market,
                venue,
                approval,
            });
            Ok(())
        }

        /// Whether `account` has approved `venue` in `market`.
        #[ink(message)]
        fn venue_approval(
            &self,
            account: AccountId,
            market: MarketId,
            venue: AccountId,
        ) -> Approval {
            if self.state.has_approved(account, market, venue) {
                Approval::Granted
            } else {
                Approval::Revoked
            }
        }
    }
}
