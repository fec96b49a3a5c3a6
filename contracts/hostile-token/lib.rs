//! Test-only hostile collateral token: a PSP22 token (the psp22 crate's `PSP22Data`) that, once
//! given a target engine, calls that engine's `withdraw` from inside every `transfer` and
//! `transfer_from` (the classic double-withdrawal), then completes the transfer honestly. When
//! the engine itself is making the transfer, that call is a re-entry, which pallet-contracts
//! refuses by trapping the token; when someone else transfers, the call is an ordinary one the
//! engine answers, and the token counts how it ended. Never deployed outside tests.
#![cfg_attr(not(feature = "std"), no_std, no_main)]

#[ink::contract]
mod hostile_token {
    use ballast_interface::CollateralApi;
    use ink::codegen::TraitCallBuilder;
    use ink::prelude::vec::Vec;
    use psp22::{PSP22Data, PSP22Error, PSP22};

    #[ink(storage)]
    pub struct HostileToken {
        data: PSP22Data,
        /// The engine to call from inside transfers, if any.
        target: Option<AccountId>,
        /// Calls made that completed (a refused re-entry traps and leaves no count).
        attempts: u32,
        /// Calls the engine answered with an error.
        engine_refused: u32,
        /// Calls the engine answered with success.
        succeeded: u32,
    }

    impl HostileToken {
        /// Mints `supply` to the deployer.
        #[ink(constructor)]
        pub fn new(supply: u128) -> Self {
            let (data, _) = PSP22Data::new(supply, Self::env().caller());
            Self {
                data,
                target: None,
                attempts: 0,
                engine_refused: 0,
                succeeded: 0,
            }
        }

        /// Sets (or clears) the engine every transfer calls.
        #[ink(message)]
        pub fn set_target(&mut self, engine: Option<AccountId>) {
            self.target = engine;
        }

        /// (completed calls, answered with an error by the engine, answered with success).
        #[ink(message)]
        pub fn calls_made(&self) -> (u32, u32, u32) {
            (self.attempts, self.engine_refused, self.succeeded)
        }

        /// Calls `engine.withdraw(value)` from inside a transfer.
        fn reenter(&mut self, value: u128) {
            let Some(engine) = self.target else {
                return;
            };
            self.attempts = self.attempts.saturating_add(1);
            let mut target: ink::contract_ref!(CollateralApi) = engine.into();
            let outcome = target.call_mut().withdraw(value).try_invoke();
            // A refused re-entry never returns here: the runtime traps this contract.
            match outcome {
                Ok(Ok(Ok(()))) => self.succeeded = self.succeeded.saturating_add(1),
                _ => self.engine_refused = self.engine_refused.saturating_add(1),
            }
        }
    }

    impl PSP22 for HostileToken {
        #[ink(message)]
        fn total_supply(&self) -> u128 {
            self.data.total_supply()
        }

        #[ink(message)]
        fn balance_of(&self, owner: AccountId) -> u128 {
            self.data.balance_of(owner)
        }

        #[ink(message)]
        fn allowance(&self, owner: AccountId, spender: AccountId) -> u128 {
            self.data.allowance(owner, spender)
        }

        #[ink(message)]
        fn transfer(
            &mut self,
            to: AccountId,
            value: u128,
            _data: Vec<u8>,
        ) -> Result<(), PSP22Error> {
            self.reenter(value);
            self.data
                .transfer(self.env().caller(), to, value)
                .map(|_| ())
        }

        #[ink(message)]
        fn transfer_from(
            &mut self,
            from: AccountId,
            to: AccountId,
            value: u128,
            _data: Vec<u8>,
        ) -> Result<(), PSP22Error> {
            self.reenter(value);
            self.data
                .transfer_from(self.env().caller(), from, to, value)
                .map(|_| ())
        }

        #[ink(message)]
        fn approve(&mut self, spender: AccountId, value: u128) -> Result<(), PSP22Error> {
            self.data
                .approve(self.env().caller(), spender, value)
                .map(|_| ())
        }

        #[ink(message)]
        fn increase_allowance(
            &mut self,
            spender: AccountId,
            delta: u128,
        ) -> Result<(), PSP22Error> {
            self.data
                .increase_allowance(self.env().caller(), spender, delta)
                .map(|_| ())
        }

        #[ink(message)]
        fn decrease_allowance(
            &mut self,
            spender: AccountId,
            delta: u128,
        ) -> Result<(), PSP22Error> {
            self.data
                .decrease_allowance(self.env().caller(), spender, delta)
                .map(|_| ())
        }
    }
}
