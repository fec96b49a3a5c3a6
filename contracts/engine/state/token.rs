//! The collateral token: the two PSP22 calls the engine makes.

use alloc::vec::Vec;

use ballast_interface::EngineError;
use ink::env::call::{build_call, ExecutionInput, Selector};
use ink::env::DefaultEnvironment;
use ink::primitives::AccountId;

use crate::{EngineState, Result};

impl EngineState {
    /// Pulls `amount` of the collateral token from `from` (who approved the engine).
    pub fn pull_tokens(&self, from: AccountId, amount: u128) -> Result<()> {
        self.call_token(
            ExecutionInput::new(Selector::new(ink::selector_bytes!("PSP22::transfer_from")))
                .push_arg(from)
                .push_arg(ink::env::account_id::<DefaultEnvironment>())
                .push_arg(amount)
                .push_arg(Vec::<u8>::new()),
        )
    }

    /// Sends `amount` of the collateral token to `to`.
    pub fn send_tokens(&self, to: AccountId, amount: u128) -> Result<()> {
        self.call_token(
            ExecutionInput::new(Selector::new(ink::selector_bytes!("PSP22::transfer")))
                .push_arg(to)
                .push_arg(amount)
                .push_arg(Vec::<u8>::new()),
        )
    }

    /// Calls the collateral token and succeeds only on `Ok(())`. The engine needs no more than
    /// that, so it decodes the answer as `Result<(), ()>`: any error, whatever its payload, is
    /// a failure, and the decoder of `PSP22Error` (with its `Custom(String)`) stays out of the
    /// engine's code.
    fn call_token<Args: ink::scale::Encode>(&self, input: ExecutionInput<Args>) -> Result<()> {
        match build_call::<DefaultEnvironment>()
            .call(self.token)
            .exec_input(input)
            .returns::<core::result::Result<(), ()>>()
            .try_invoke()
        {
            Ok(Ok(Ok(()))) => Ok(()),
            _ => Err(EngineError::TokenTransferFailed),
        }
    }
}
