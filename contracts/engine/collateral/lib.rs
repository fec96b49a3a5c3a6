//! Engine facet `collateral` (selectors `0x05..`): deposits, insurance top-ups and
//! withdrawals, the only messages that move tokens. Runs only through the router's delegate
//! call, on the router's storage.
#![cfg_attr(not(feature = "std"), no_std, no_main)]

#[ink::contract]
mod engine {
    use ballast_engine_state::{caller, emit, markets_of, positive_amount, EngineState, Result};
    use ballast_interface::events::*;
    use ballast_interface::{CollateralApi, EngineError};
    use ballast_risk::ops;

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

    impl CollateralApi for Engine {
        /// Deposits `amount` of the collateral token (the caller must have approved the engine).
        #[ink(message)]
        fn deposit(&mut self, amount: u128) -> Result<()> {
            let s = &mut self.state;
            s.not_halted()?;
            let caller = caller();
            let signed = positive_amount(amount)?;
            let before = s.load_account(caller);
            let mut account = before.clone();
            ops::deposit(&mut account, signed)?;
            if account.being_liquidated {
                // The deposit may have restored the account: let its liquidation state end.
                let loaded = s.load_markets(&markets_of(&[&account], None))?;
                ops::note_observed(&mut account, &loaded.markets)?;
            }
            let net = s
                .net_deposits
                .checked_add(signed)
                .ok_or(EngineError::InvalidAmount)?;
            s.pull_tokens(caller, amount)?;
            s.store_account(caller, &before, &account);
            s.net_deposits = net;
            emit(Deposited {
                account: caller,
                amount,
            });
            Ok(())
        }

        /// Adds `amount` of the collateral token to the insurance fund (anyone; the caller must
        /// have approved the engine). The fund covers bankruptcies before losses are socialized.
        #[ink(message)]
        fn fund_insurance(&mut self, amount: u128) -> Result<()> {
            let s = &mut self.state;
            let caller = caller();
            let signed = positive_amount(amount)?;
            let fund = s
                .insurance_fund
                .checked_add(signed)
                .ok_or(EngineError::InvalidAmount)?;
            let net = s
                .net_deposits
                .checked_add(signed)
                .ok_or(EngineError::InvalidAmount)?;
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
            let s = &mut self.state;
            let caller = caller();
            let signed = positive_amount(amount)?;
            let before = s.load_account(caller);
            if !before.is_flat() {
                s.not_halted()?;
            }
            let mut account = before.clone();
            let loaded = s.load_markets(&markets_of(&[&account], None))?;
            ops::withdraw(&mut account, &loaded.markets, signed)?;
            let net = s
                .net_deposits
                .checked_sub(signed)
                .ok_or(EngineError::InvalidAmount)?;
            // Effects before the external call; a failed transfer reverts them all.
            s.store_account(caller, &before, &account);
            s.store_markets(&loaded, &[]);
            s.net_deposits = net;
            s.send_tokens(caller, amount)?;
            emit(Withdrawn {
                account: caller,
                amount,
            });
            Ok(())
        }
    }
}
