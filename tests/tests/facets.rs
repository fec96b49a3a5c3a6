//! The split engine's routing, through the deployed router and facets: every message of the
//! joined bundle is run by the facet that declares it; a selector no facet owns, or no
//! selector at all, is refused and changes nothing; a facet's code cannot become a contract of its
//! own; and a second router someone deploys over the same facet codes has its own storage,
//! so it cannot reach the real engine's accounts or roles.
#![allow(clippy::arithmetic_side_effects)]

use ballast_drink_tests::interface::{AccountView, EngineError};
use ballast_drink_tests::*;
use ballast_engine_state::{Facet, FacetCodes};
use drink::pallet_contracts::Determinism;
use drink::sandbox_api::prelude::*;
use drink::AccountId32;
use drink::Sandbox;
use parity_scale_codec::{Decode, Encode};

const T0: u64 = 1_667_865_600_000;

fn four(bytes: &[u8]) -> [u8; 4] {
    bytes.try_into().expect("4-byte selector")
}

#[test]
fn every_message_is_declared_by_the_facet_its_selector_names() {
    let joined = load_bundle("ballast_engine");
    let mut routed = 0;
    for message in joined.transcoder.metadata().spec().messages() {
        let selector = four(message.selector().to_bytes());
        let Some(facet) = Facet::of_selector(selector) else {
            // The router's own message, at ink!'s reserved selector.
            assert_eq!(message.label(), "facets");
            continue;
        };
        let facet_bundle = load_bundle(&format!("ballast_engine_{}", facet.name()));
        let declared = facet_bundle
            .transcoder
            .metadata()
            .spec()
            .messages()
            .iter()
            .any(|m| four(m.selector().to_bytes()) == selector && m.label() == message.label());
        assert!(
            declared,
            "{} is routed to {facet:?}, which lacks it",
            message.label()
        );
        routed += 1;
    }
    assert!(routed > 30, "only {routed} messages routed");
}

#[test]
fn the_router_reports_the_facet_codes_it_was_deployed_with() {
    let mut h = Harness::new(T0);
    let codes: FacetCodes = h.query("facets", ());
    for facet in Facet::ALL {
        let bundle = load_bundle(&format!("ballast_engine_{}", facet.name()));
        let mut hash = [0u8; 32];
        ink::env::hash_bytes::<ink::env::hash::Blake2x256>(&bundle.wasm, &mut hash);
        assert_eq!(codes.code_of(facet).as_ref(), &hash[..], "{facet:?}");
    }
}

#[test]
fn a_selector_no_facet_owns_and_an_empty_input_are_refused_and_change_nothing() {
    let mut h = Harness::new(T0);
    let owner = h.owner.clone();
    let engine = h.engine.clone();
    let before: (bool, i128) = (
        h.query("is_venue", (1u32, owner.clone())),
        h.query("net_deposits", ()),
    );
    for input in [
        vec![],
        vec![0x07, 0, 0, 4],
        vec![0, 0, 0, 0],
        vec![0x04, 0, 0],
    ] {
        let result = h.session.sandbox().call_contract(
            engine.clone(),
            0,
            input.clone(),
            owner.clone(),
            GAS_LIMIT,
            None,
            Determinism::Enforced,
        );
        // The router traps on a byte no facet owns; ink!'s own dispatch refuses an input too
        // short for a selector (reverted `LangError`). Either way nothing is written.
        let refused = match &result.result {
            Err(_) => true,
            Ok(answer) => answer.did_revert(),
        };
        assert!(refused, "input {input:?} was accepted: {:?}", result.result);
    }
    // A routed byte with a message its facet does not have: the facet's own dispatch refuses
    // it (ink!'s LangError), reverted.
    let result = h.session.sandbox().call_contract(
        engine.clone(),
        0,
        vec![0x04, 0, 0x7f, 0x7f],
        owner.clone(),
        GAS_LIMIT,
        None,
        Determinism::Enforced,
    );
    let answer = result.result.expect("the facet answers");
    assert!(answer.did_revert());
    let after: (bool, i128) = (
        h.query("is_venue", (1u32, owner.clone())),
        h.query("net_deposits", ()),
    );
    assert_eq!(before, after);
}

#[test]
fn a_facet_code_refuses_to_be_instantiated() {
    let mut h = Harness::new(T0);
    let owner = h.owner.clone();
    for facet in Facet::ALL {
        let bundle = load_bundle(&format!("ballast_engine_{}", facet.name()));
        let input = constructor_input(&bundle, "facet_only", ());
        let result = h.session.sandbox().deploy_contract(
            bundle.wasm.clone(),
            0,
            input,
            vec![0xfa, 0xce],
            owner.clone(),
            GAS_LIMIT,
            None,
        );
        let answer = result.result.expect("the constructor answers");
        assert!(answer.result.did_revert(), "{facet:?} instantiated");
        let refused = <Result<Result<(), EngineError>, u8>>::decode(&mut &answer.result.data[..]);
        assert_eq!(refused, Ok(Ok(Err(EngineError::FacetOnly))), "{facet:?}");
    }
}

#[test]
fn a_second_router_over_the_same_facets_cannot_reach_the_real_engine() {
    let mut h = Harness::new(T0);
    let attacker = account(66);
    let victim = account(67);
    h.fund_native(&attacker);
    h.fund_native(&victim);
    h.give_tokens(&victim, 1_000 * USD);
    h.approve_engine(&victim, 1_000 * USD);
    h.engine::<()>(&victim, "deposit", (1_000 * USD,)).unwrap();
    let codes: FacetCodes = h.query("facets", ());
    // The attacker deploys the same router code over the same facet codes: the owner of that
    // second engine, with storage of its own.
    let bundle = load_bundle("ballast_engine");
    let token = h.token.clone();
    let rogue = h
        .session
        .sandbox()
        .deploy_contract(
            bundle.wasm.clone(),
            0,
            constructor_input(&bundle, "new", (&token, codes)),
            vec![0x66],
            attacker.clone(),
            GAS_LIMIT,
            None,
        )
        .result
        .expect("a second router deploys")
        .account_id;
    // Everything the attacker does there stays there.
    let as_attacker = |h: &mut Harness, label: &str, args: Vec<u8>| {
        let mut data = bundle
            .transcoder
            .metadata()
            .spec()
            .messages()
            .iter()
            .find(|m| m.label() == label)
            .map(|m| m.selector().to_bytes().to_vec())
            .unwrap();
        data.extend(args);
        h.session
            .sandbox()
            .call_contract(
                rogue.clone(),
                0,
                data,
                attacker.clone(),
                GAS_LIMIT,
                None,
                Determinism::Enforced,
            )
            .result
            .expect("answers")
    };
    let set = as_attacker(&mut h, "set_guardian", (attacker.clone(),).encode());
    assert!(!set.did_revert());
    let seen: AccountView = {
        let answer = as_attacker(&mut h, "RiskViews::account", victim.encode());
        <Result<AccountView, u8>>::decode(&mut &answer.data[..])
            .unwrap()
            .unwrap()
    };
    assert_eq!(
        seen.collateral, 0,
        "the second router sees its own (empty) books"
    );
    // The real engine: the attacker is not its guardian, the victim's collateral and the
    // engine's token balance are untouched.
    let engine = h.engine.clone();
    let roles: (
        AccountId32,
        Option<AccountId32>,
        AccountId32,
        AccountId32,
        bool,
    ) = h.query("roles", ());
    assert_ne!(roles.2, attacker);
    let view: AccountView = h.query("account", (victim.clone(),));
    assert_eq!(view.collateral, i128::try_from(1_000 * USD).unwrap());
    assert_eq!(h.balance(&engine), 1_000 * USD);
    assert_eq!(
        h.engine::<()>(&attacker, "set_guardian", (attacker.clone(),)),
        Err(EngineError::Unauthorized)
    );
}

fn code_hash(hash: ink::primitives::Hash) -> drink::frame_support::sp_runtime::testing::H256 {
    drink::frame_support::sp_runtime::testing::H256(<[u8; 32]>::from(hash))
}

#[test]
fn nobody_can_remove_a_facet_code_while_the_engine_runs_on_it() {
    use drink::minimal::{MinimalSandboxRuntime, RuntimeOrigin};
    let mut h = Harness::new(T0);
    // The harness uploaded the facet codes as the owner: the only account pallet-contracts lets
    // remove a code, and only while no contract depends on it.
    let uploader = h.owner.clone();
    let codes: FacetCodes = h.query("facets", ());
    for facet in Facet::ALL {
        let hash = code_hash(codes.code_of(facet));
        let who = uploader.clone();
        let removed = h.session.sandbox().execute_with(|| {
            drink::pallet_contracts::Pallet::<MinimalSandboxRuntime>::remove_code(
                RuntimeOrigin::signed(who),
                hash,
            )
        });
        assert!(removed.is_err(), "{facet:?} code removed under the engine");
    }
    // Control: a code nothing depends on, uploaded by the same account, can be removed.
    let venue_wasm = load_bundle("ballast_venue").wasm;
    let free = h
        .session
        .sandbox()
        .upload_contract(venue_wasm, uploader.clone(), None, Determinism::Enforced)
        .expect("uploads")
        .code_hash;
    let who = uploader.clone();
    let removed = h.session.sandbox().execute_with(|| {
        drink::pallet_contracts::Pallet::<MinimalSandboxRuntime>::remove_code(
            RuntimeOrigin::signed(who),
            free,
        )
    });
    assert!(
        removed.is_ok(),
        "the control code could not be removed: {removed:?}"
    );
    // And the engine still answers through every facet it was deployed with.
    assert!(!h.query::<bool>("is_venue", (1u32, uploader.clone())));
    assert_eq!(h.query::<i128>("insurance_fund", ()), 0);
}

#[test]
fn a_router_over_a_missing_or_repeated_facet_code_does_not_deploy() {
    let mut h = Harness::new(T0);
    let codes: FacetCodes = h.query("facets", ());
    let token = h.token.clone();
    let owner = h.owner.clone();
    let bundle = load_bundle("ballast_engine");
    let missing = FacetCodes {
        views: ink::primitives::Hash::from([9; 32]),
        ..codes
    };
    let repeated = FacetCodes {
        views: codes.trading,
        ..codes
    };
    for (case, facets) in [
        ("missing", missing),
        ("repeated", repeated),
        ("as deployed", codes),
    ] {
        let deployed = h.session.sandbox().deploy_contract(
            bundle.wasm.clone(),
            0,
            constructor_input(&bundle, "new", (&token, facets)),
            case.as_bytes().to_vec(),
            owner.clone(),
            GAS_LIMIT,
            None,
        );
        let ok = deployed.result.is_ok_and(|r| !r.result.did_revert());
        assert_eq!(ok, case == "as deployed", "{case}");
    }
}
