//! The Ballast engine's address. It holds the storage and runs no rule: each message goes, by
//! the first byte of its selector, to the facet code that runs it, through a delegate call
//! that forwards the input and returns the facet's output as the router's own (tail call). A
//! call therefore loads the router's few kilobytes and one facet, not the whole engine.
//!
//! The facet codes are fixed at deployment and locked as delegate dependencies; there is no
//! upgrade message. A facet's code hash
//! cannot be called on its own: it has no address, and a facet instantiated at one refuses
//! its constructor.
#![cfg_attr(not(feature = "std"), no_std, no_main)]

#[ink::contract]
mod engine {
    use ballast_engine_state::{caller, EngineState, Facet, FacetCodes};
    use ink::env::call::build_call;
    use ink::env::CallFlags;

    /// The engine's storage: the layout every facet shares.
    #[ink(storage)]
    pub struct Engine {
        state: EngineState,
    }

    impl Engine {
        /// Deploys the engine for a PSP22 collateral token, running `facets` (uploaded codes);
        /// the deployer is owner and guardian.
        ///
        /// Each facet code is locked as a delegate dependency: while the engine exists nobody,
        /// not even the account that uploaded the code, can remove it (an unlocked code's
        /// uploader could delete the liquidation facet in a crash and stop every liquidation).
        /// The lock also refuses, and so fails the deployment on, a code that is not on chain,
        /// the same code given for two facets, or the router's own code.
        #[ink(constructor)]
        pub fn new(token: AccountId, facets: FacetCodes) -> Self {
            for facet in Facet::ALL {
                ink::env::lock_delegate_dependency::<Environment>(&facets.code_of(facet));
            }
            Self {
                state: EngineState::new(caller(), token, facets),
            }
        }

        /// The code hash each facet runs (fixed at deployment), so that anyone can check the
        /// engine runs the audited code. (ink! lets a contract with a catch-all message have
        /// exactly one other, at the reserved selector `@`.)
        #[ink(message, selector = @)]
        pub fn facets(&self) -> FacetCodes {
            self.state.facets
        }

        /// Every engine message: forwarded to its facet. A selector no facet owns traps.
        #[ink(message, selector = _)]
        pub fn forward(&self) {
            let selector: [u8; 4] = match ink::env::decode_input() {
                Ok(s) => s,
                Err(_) => panic!("no selector"),
            };
            let facet = match Facet::of_selector(selector) {
                Some(f) => f,
                None => panic!("no facet runs this selector"),
            };
            // On success the tail call ends this frame with the facet's output (and its revert
            // flag, so a refused message still changes nothing); it returns only if the facet
            // trapped. This message takes `&self` and never returns normally: the router's copy
            // of the root cell, loaded before the facet ran, is never written back over what the
            // facet stored. Keep both (no `&mut self`, no plain call without TAIL_CALL).
            let _ = build_call::<ink::env::DefaultEnvironment>()
                .delegate(self.state.facets.code_of(facet))
                .call_flags(CallFlags::CLONE_INPUT | CallFlags::TAIL_CALL)
                .try_invoke();
            panic!("facet trapped");
        }
    }
}
