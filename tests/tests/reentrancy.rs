//! Re-entrancy through a hostile collateral token (`contracts/hostile-token`): from inside the
//! transfers the engine makes in `deposit` and `withdraw`, the token calls the engine's
//! `withdraw` again. pallet-contracts refuses the re-entrant call (ink! 5 contracts are not
//! re-entrant unless a call sets `ALLOW_REENTRY`, and the engine never does) by trapping the
//! token; the engine answers `TokenTransferFailed` and nothing changes. A hostile token can
//! therefore block deposits and withdrawals, never take value: the collateral token is a trust
//! assumption for liveness, not for safety (SECURITY.md).

use ballast_drink_tests::interface::{AccountView, EngineError};
use ballast_drink_tests::*;
use drink::AccountId32;

const T0: u64 = 1_667_865_600_000;

fn alice() -> AccountId32 {
    account(2)
}

fn calls_made(h: &mut Harness) -> (u32, u32, u32) {
    let (token, owner) = (h.token.clone(), h.owner.clone());
    h.call(&owner, &token, "calls_made", ()).expect("calls")
}

/// Alice's collateral, the engine's and Alice's token balances, and the net deposits.
fn books(h: &mut Harness) -> (i128, u128, u128, i128) {
    let view: AccountView = h.query("account", (alice(),));
    let engine = h.engine.clone();
    (
        view.collateral,
        h.balance(&engine),
        h.balance(&alice()),
        h.query("net_deposits", ()),
    )
}

#[test]
fn a_token_that_reenters_the_engine_is_refused_and_changes_nothing() {
    let supply = (1_000_000_000u128 * USD).to_string();
    let mut h = Harness::with_collateral(T0, "ballast_hostile_token", &[supply.as_str()]);
    h.fund_native(&alice());
    h.give_tokens(&alice(), 10_000 * USD);
    h.approve_engine(&alice(), 10_000 * USD);
    h.engine::<()>(&alice(), "deposit", (5_000 * USD,))
        .expect("deposit with an honest token");

    let (token, owner, engine) = (h.token.clone(), h.owner.clone(), h.engine.clone());
    h.call::<()>(&owner, &token, "set_target", (Some(engine.clone()),))
        .expect("arm");
    // Control: a transfer the engine is not making calls the engine as an ordinary caller,
    // which answers (the token holds no collateral): the hook works and reaches the engine.
    h.give_tokens(&alice(), 1);
    assert_eq!(calls_made(&mut h), (1, 1, 0));
    let before = books(&mut h);

    // From inside the engine's own transfers the same call is a re-entry: refused.
    assert_eq!(
        h.engine::<()>(&alice(), "deposit", (1_000 * USD,)),
        Err(EngineError::TokenTransferFailed)
    );
    assert_eq!(
        h.engine::<()>(&alice(), "withdraw", (2_000 * USD,)),
        Err(EngineError::TokenTransferFailed)
    );
    assert_eq!(
        books(&mut h),
        before,
        "a refused re-entry changed the books"
    );
    assert_eq!(
        calls_made(&mut h),
        (1, 1, 0),
        "no re-entrant call completed"
    );

    // Disarmed, the same operations go through, each once.
    h.call::<()>(&owner, &token, "set_target", (None::<AccountId32>,))
        .expect("disarm");
    h.engine::<()>(&alice(), "deposit", (1_000 * USD,))
        .expect("deposit");
    h.engine::<()>(&alice(), "withdraw", (2_000 * USD,))
        .expect("withdraw");
    let (collateral, engine_tokens, alice_tokens, net) = books(&mut h);
    assert_eq!(collateral, (4_000 * USD) as i128);
    assert_eq!(net, collateral);
    assert_eq!(engine_tokens, 4_000 * USD);
    assert_eq!(alice_tokens, 6_000 * USD + 1);
}
