//! The access matrix: every engine message called by every role, each call from the same
//! prepared state (the sandbox's storage is restored after each), against the exact
//! allowed/denied table that the README shows. An allowed call must succeed; a denied one must
//! answer with its authorization error, emit no event and leave the roles and balances as they
//! were.
#![allow(
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap
)]

use ballast_drink_tests::interface::{
    AccountView, EngineError, HealthReport, MarginMode, MarketRisk,
};
use ballast_drink_tests::*;
use ballast_risk::{ExpiryGreeks, OptionsReport, StressFee};
use drink::AccountId32;

const MARKET: u32 = 1;
const MARKET2: u32 = 2;
/// Listed and never priced: its oracle counts as dead, so anyone may settle it.
const DEAD_MARKET: u32 = 4;
const T0: u64 = 1_667_865_600_000; // 2022-11-08 00:00 UTC

fn owner() -> AccountId32 {
    account(1)
}
fn guardian() -> AccountId32 {
    account(3)
}
fn heir() -> AccountId32 {
    account(10)
}
fn feeders() -> [AccountId32; 3] {
    [account(11), account(12), account(13)]
}
fn feeders2() -> [AccountId32; 3] {
    [account(15), account(16), account(17)]
}
fn venue() -> AccountId32 {
    account(20)
}
fn old_venue() -> AccountId32 {
    account(21)
}
fn stranger() -> AccountId32 {
    account(9)
}
fn alice() -> AccountId32 {
    account(2)
}
fn bob() -> AccountId32 {
    account(4)
}
/// Below maintenance in the prepared state.
fn victim() -> AccountId32 {
    account(5)
}
fn treasury() -> AccountId32 {
    account(6)
}

/// The roles of the matrix, in column order.
fn roles() -> Vec<(&'static str, AccountId32)> {
    vec![
        ("owner", owner()),
        ("pending owner", heir()),
        ("guardian", guardian()),
        ("feeder", feeders()[0].clone()),
        ("other market's feeder", feeders2()[0].clone()),
        ("venue", venue()),
        ("de-authorized venue", old_venue()),
        ("random account", stranger()),
    ]
}

fn config() -> MarketConfig {
    MarketConfig::default_large_cap(Decimals {
        base: 8,
        quote: QUOTE_DECIMALS,
    })
}

fn px(v: i64) -> Fixed {
    Fixed::from_int(v)
}

fn deposit(h: &mut Harness, who: &AccountId32, amount: u128) {
    h.give_tokens(who, amount);
    h.approve_engine(who, amount);
    h.engine::<()>(who, "deposit", (amount,)).expect("deposit");
}

/// Two markets with their feeders, a guardian, a venue, a de-authorized venue, a pending
/// owner, collateral and token allowance for every role, an account below maintenance in
/// MARKET, MARKET2 paused by the guardian, and DEAD_MARKET listed but never priced.
fn prepared() -> Harness {
    let mut h = Harness::new(T0);
    let mut everyone: Vec<AccountId32> = roles().into_iter().map(|(_, a)| a).collect();
    everyone.extend([alice(), bob(), victim(), treasury()]);
    everyone.extend(feeders());
    everyone.extend(feeders2());
    for a in &everyone {
        h.fund_native(a);
    }
    // A calm prior volatility (30%), so that the tiers rule and 19x is allowed at once.
    let calm = OracleConfig {
        initial_annualized_vol: Fixed::from_ratio(30, 100).unwrap(),
        ..OracleConfig::default()
    };
    h.list_market_with_feeders(MARKET, config(), calm, &feeders());
    h.list_market_with_feeders(MARKET2, config(), OracleConfig::default(), &feeders2());
    h.engine::<()>(
        &owner(),
        "list_market",
        (DEAD_MARKET, config(), OracleConfig::default()),
    )
    .expect("dead market");
    h.report(MARKET, &feeders(), px(20_000));
    h.report(MARKET2, &feeders2(), px(20_000));
    h.engine::<()>(&owner(), "set_guardian", (guardian(),))
        .expect("guardian");
    h.authorize_venue(MARKET, &venue());
    h.authorize_venue(MARKET, &old_venue());
    h.engine::<()>(&owner(), "revoke_venue", (MARKET, old_venue()))
        .expect("revoke");
    h.engine::<()>(&owner(), "transfer_ownership", (heir(),))
        .expect("pending owner");
    for a in roles().into_iter().map(|(_, a)| a).chain([alice(), bob()]) {
        deposit(&mut h, &a, 100_000 * USD);
        // Allowance left for the deposit and insurance cells.
        h.give_tokens(&a, 10_000 * USD);
        h.approve_engine(&a, 10_000 * USD);
    }
    deposit(&mut h, &victim(), 1_000 * USD);
    // Alice, Bob and the victim trade through the venue (the victim revokes once it opened).
    for trader in [alice(), bob(), victim()] {
        h.approve_venue(&trader, MARKET, &venue());
    }
    // The victim goes long at 19x, then the price falls 4%: below maintenance.
    let size = 95_000_000; // 0.95 BTC = 19,000 USD of notional
    h.engine::<()>(
        &venue(),
        "fill",
        (
            MARKET,
            victim(),
            bob(),
            size as i128,
            px(20_000),
            0u128,
            0u128,
            treasury(),
        ),
    )
    .expect("victim opens");
    let revoked = ballast_interface::Approval::Revoked;
    h.engine::<()>(&victim(), "approve_venue", (0u8, MARKET, venue(), revoked))
        .expect("victim revokes");
    h.set_time(T0 + 60_000);
    h.report(MARKET, &feeders(), px(19_200));
    let health: HealthReport = h.read("health", (victim(),)).expect("health");
    assert!(
        health.maintenance.equity < health.maintenance.requirement,
        "the victim must be liquidatable: {health:?}"
    );
    h.engine::<()>(&guardian(), "halt_market", (MARKET2,))
        .expect("MARKET2 paused");
    h
}

/// One message of the matrix: its name and how to call it as `who`.
type Call = fn(&mut Harness, &AccountId32) -> Result<(), EngineError>;

fn calls() -> Vec<(&'static str, Call)> {
    fn unit<T>(r: Result<T, EngineError>) -> Result<(), EngineError> {
        r.map(|_| ())
    }
    vec![
        ("transfer_ownership", |h, w| {
            h.engine(w, "transfer_ownership", (stranger(),))
        }),
        ("accept_ownership", |h, w| {
            h.engine(w, "accept_ownership", ())
        }),
        ("set_guardian", |h, w| {
            h.engine(w, "set_guardian", (stranger(),))
        }),
        ("authorize_venue", |h, w| {
            h.engine(w, "authorize_venue", (MARKET, stranger()))
        }),
        ("revoke_venue", |h, w| {
            h.engine(w, "revoke_venue", (MARKET, venue()))
        }),
        ("set_feeder", |h, w| {
            h.engine(w, "set_feeder", (MARKET, stranger(), Some(3u8)))
        }),
        ("list_market", |h, w| {
            h.engine(w, "list_market", (3u32, config(), OracleConfig::default()))
        }),
        ("announce_market_change", |h, w| {
            h.engine(
                w,
                "announce_market_change",
                (MARKET, config(), OracleConfig::default()),
            )
        }),
        ("apply_market_change", |h, w| {
            // The owner announced a day ago.
            let owner = owner();
            h.engine::<()>(
                &owner,
                "announce_market_change",
                (MARKET, config(), OracleConfig::default()),
            )?;
            h.set_time(h.now_ms + 24 * 3_600_000);
            h.engine(w, "apply_market_change", (MARKET,))
        }),
        ("cancel_market_change", |h, w| {
            let owner = owner();
            h.engine::<()>(
                &owner,
                "announce_market_change",
                (MARKET, config(), OracleConfig::default()),
            )?;
            h.engine(w, "cancel_market_change", (MARKET,))
        }),
        ("approve_venue", |h, w| {
            let granted = ballast_interface::Approval::Granted;
            h.engine(w, "approve_venue", (0u8, MARKET, venue(), granted))
        }),
        ("halt_market", |h, w| h.engine(w, "halt_market", (MARKET,))),
        ("resume_market", |h, w| {
            h.engine(w, "resume_market", (MARKET2,))
        }),
        ("halt_all", |h, w| h.engine(w, "halt_all", ())),
        ("resume_all", |h, w| h.engine(w, "resume_all", ())),
        ("submit_report", |h, w| {
            let now = h.now_ms;
            h.engine(w, "submit_report", (MARKET, px(19_210), px(1), now))
        }),
        ("refresh_market", |h, w| {
            h.engine(w, "refresh_market", (MARKET,))
        }),
        ("deposit", |h, w| h.engine(w, "deposit", (1_000 * USD,))),
        ("fund_insurance", |h, w| {
            h.engine(w, "fund_insurance", (1_000 * USD,))
        }),
        ("withdraw", |h, w| h.engine(w, "withdraw", (1_000 * USD,))),
        ("open_sub_account", |h, w| {
            unit(h.engine::<AccountId32>(w, "open_sub_account", (1u8, MarginMode::Cross)))
        }),
        ("deposit_to", |h, w| {
            unit(h.engine::<AccountId32>(w, "open_sub_account", (1u8, MarginMode::Cross)))?;
            h.engine(w, "deposit_to", (1u8, 1_000 * USD))
        }),
        ("withdraw_from", |h, w| {
            unit(h.engine::<AccountId32>(w, "open_sub_account", (1u8, MarginMode::Cross)))?;
            h.engine::<()>(w, "move_collateral", (0u8, 1u8, 1_000 * USD))?;
            h.engine(w, "withdraw_from", (1u8, 1_000 * USD))
        }),
        ("move_collateral", |h, w| {
            unit(h.engine::<AccountId32>(w, "open_sub_account", (1u8, MarginMode::Isolated)))?;
            h.engine(w, "move_collateral", (0u8, 1u8, 1_000 * USD))
        }),
        ("liquidate", |h, w| {
            h.engine(w, "liquidate", (victim(), MARKET))
        }),
        ("fill (VenueApi)", |h, w| {
            let args = (
                MARKET,
                alice(),
                bob(),
                1_000_000i128,
                px(19_200),
                0u128,
                0u128,
                treasury(),
            );
            h.engine(w, "fill", args)
        }),
        (
            "fill (VenueApi) of an account that revoked the venue",
            |h, w| {
                let args = (
                    MARKET,
                    alice(),
                    victim(),
                    1_000_000i128,
                    px(19_200),
                    0u128,
                    0u128,
                    treasury(),
                );
                h.engine(w, "fill", args)
            },
        ),
        ("update_funding (VenueApi)", |h, w| {
            h.engine(w, "update_funding", (MARKET, Fixed::ZERO))
        }),
        ("health (query)", |h, w| {
            unit(h.engine::<HealthReport>(w, "health", (alice(),)))
        }),
        ("market_risk (query)", |h, w| {
            unit(h.engine::<MarketRisk>(w, "market_risk", (MARKET,)))
        }),
        ("report_depth (VenueApi)", |h, w| {
            h.engine(
                w,
                "report_depth",
                (MARKET, 1_000_000 * USD, 1_000_000 * USD),
            )
        }),
        ("report_options (VenueApi)", |h, w| {
            let now = h.now_ms;
            let report = OptionsReport {
                market: MARKET,
                buckets: vec![ExpiryGreeks {
                    expiry_ms: now + 7 * 86_400_000,
                    delta: 0,
                    gamma: -1_000 * USD as i128,
                    vega: -10 * USD as i128,
                    implied_vol: Fixed::from_ratio(5, 10).unwrap(),
                }],
                venue_initial: 0,
                venue_maintenance: 0,
                mark_value: 0,
                pnl: 0,
                timestamp_ms: now,
                trade: true,
            };
            h.engine(w, "report_options", (alice(), report))
        }),
        ("stress_fee (query)", |h, w| {
            unit(h.engine::<StressFee>(w, "stress_fee", (MARKET,)))
        }),
        ("confirm_halt", |h, w| {
            h.engine(w, "confirm_halt", (Some(MARKET2),))
        }),
        ("settle_market", |h, w| {
            h.engine(w, "settle_market", (DEAD_MARKET,))
        }),
        ("close_settled", |h, w| {
            // The owner delists MARKET first; then anyone closes the victim's losing position.
            h.engine::<()>(&owner(), "settle_market", (MARKET,))?;
            h.engine(w, "close_settled", (victim(), MARKET))
        }),
        ("resolve_bankruptcy", |h, w| {
            h.engine(w, "resolve_bankruptcy", (alice(),))
        }),
    ]
}

/// The expected table: for each message, which roles (in `roles()` order) may call it.
/// o = owner, p = pending owner, g = guardian, f = feeder, x = other market's feeder,
/// v = venue, d = de-authorized venue, r = random account.
const EXPECTED: &[(&str, &str)] = &[
    ("transfer_ownership", "o"),
    ("accept_ownership", "p"),
    ("set_guardian", "o"),
    ("authorize_venue", "o"),
    ("revoke_venue", "og"),
    ("set_feeder", "o"),
    ("list_market", "o"),
    ("announce_market_change", "o"),
    ("apply_market_change", "opgfxvdr"),
    ("cancel_market_change", "og"),
    ("approve_venue", "opgfxvdr"),
    ("halt_market", "og"),
    ("resume_market", "o"),
    ("halt_all", "og"),
    ("resume_all", "o"),
    ("submit_report", "f"),
    ("refresh_market", "opgfxvdr"),
    ("deposit", "opgfxvdr"),
    ("fund_insurance", "opgfxvdr"),
    ("withdraw", "opgfxvdr"),
    ("open_sub_account", "opgfxvdr"),
    ("deposit_to", "opgfxvdr"),
    ("withdraw_from", "opgfxvdr"),
    ("move_collateral", "opgfxvdr"),
    ("liquidate", "opgfxvdr"),
    ("fill (VenueApi)", "v"),
    ("fill (VenueApi) of an account that revoked the venue", ""),
    ("update_funding (VenueApi)", "v"),
    ("health (query)", "opgfxvdr"),
    ("market_risk (query)", "opgfxvdr"),
    ("report_depth (VenueApi)", "fv"),
    ("report_options (VenueApi)", "v"),
    ("stress_fee (query)", "opgfxvdr"),
    ("confirm_halt", "o"),
    ("settle_market", "opgfxvdr"),
    ("close_settled", "opgfxvdr"),
    ("resolve_bankruptcy", "opgfxvdr"),
];

/// Permissionless messages whose precondition the engine never lets arise (an account holding
/// nothing but negative collateral): every role must get this same answer, never an
/// authorization error.
const UNREACHABLE: &[(&str, EngineError)] = &[(
    "resolve_bankruptcy",
    EngineError::Risk(ballast_risk::RiskError::NotBankrupt),
)];

const CODES: [char; 8] = ['o', 'p', 'g', 'f', 'x', 'v', 'd', 'r'];

/// What a denied call must answer.
fn is_authorization_error(message: &str, e: &EngineError) -> bool {
    match message {
        "accept_ownership" => *e == EngineError::NotPendingOwner,
        "submit_report" => *e == EngineError::UnknownFeeder,
        // The venue itself is told why; everyone else is not a venue.
        "fill (VenueApi) of an account that revoked the venue" => {
            *e == EngineError::VenueNotApproved || *e == EngineError::Unauthorized
        }
        _ => *e == EngineError::Unauthorized,
    }
}

#[test]
fn every_message_as_every_role_matches_the_access_table() {
    let mut h = prepared();
    let roles = roles();
    let mut table = String::from("| message |");
    for (name, _) in &roles {
        table.push_str(&format!(" {name} |"));
    }
    table.push_str("\n| --- |");
    table.push_str(&" :---: |".repeat(roles.len()));
    table.push('\n');
    let mut mismatches = Vec::new();
    for (message, call) in calls() {
        let expected = EXPECTED
            .iter()
            .find(|(m, _)| *m == message)
            .map(|(_, who)| *who)
            .unwrap_or_else(|| panic!("{message} missing from EXPECTED"));
        table.push_str(&format!("| `{message}` |"));
        for (k, (role, who)) in roles.iter().enumerate() {
            let allowed = expected.contains(CODES[k]);
            let (result, events, before, after) = h.isolated(|h| {
                let before: (u128, AccountView) =
                    (h.balance(who), h.query("account", (who.clone(),)));
                let result = call(h, who);
                let events = h.engine_event_count();
                let after: (u128, AccountView) =
                    (h.balance(who), h.query("account", (who.clone(),)));
                (result, events, before, after)
            });
            let unreachable = UNREACHABLE.iter().find(|(m, _)| *m == message);
            match (&result, allowed) {
                (Ok(()), true) => {}
                (Err(e), true) if unreachable.is_some_and(|(_, want)| want == e) => {}
                (Err(e), false) if is_authorization_error(message, e) => {
                    if events != 0 || before != after {
                        mismatches.push(format!("{message} as {role}: denied but changed state"));
                    }
                }
                _ => mismatches.push(format!(
                    "{message} as {role}: expected {}, got {result:?}",
                    if allowed { "allowed" } else { "denied" }
                )),
            }
            let answered = result.is_ok()
                || unreachable.is_some_and(|(_, want)| result.as_ref().err() == Some(want));
            table.push_str(if answered { " yes |" } else { " - |" });
        }
        table.push('\n');
    }
    println!("{table}");
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

/// Every message that can change state (the bundle's `mutates` flag) is in the table, so a
/// message added to any facet cannot skip the matrix.
#[test]
fn the_table_covers_every_state_changing_message_of_every_facet() {
    let bundle = load_bundle("ballast_engine");
    let listed: Vec<&str> = EXPECTED
        .iter()
        .map(|(m, _)| m.split(' ').next().unwrap_or(m))
        .collect();
    let missing: Vec<String> = bundle
        .transcoder
        .metadata()
        .spec()
        .messages()
        .iter()
        .filter(|m| m.mutates())
        .map(|m| {
            m.label()
                .rsplit("::")
                .next()
                .unwrap_or(m.label())
                .to_string()
        })
        .filter(|short| !listed.contains(&short.as_str()))
        .collect();
    assert!(missing.is_empty(), "not in the access table: {missing:?}");
}
