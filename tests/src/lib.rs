//! A typed harness over the drink sandbox for Ballast's contracts: deploys the token and the
//! engine from their `cargo contract build --release` bundles, calls messages with SCALE-encoded
//! arguments (selectors from the bundles' metadata), and returns typed results, the weight each
//! call consumed and the events it emitted. Shared by the drink tests, the demo and the benchmark.

use std::collections::HashMap;
use std::path::PathBuf;

use ballast_engine_state::{Facet, FacetCodes};
use ballast_interface::EngineError;
use drink::minimal::{MinimalSandbox, RuntimeEvent};
use drink::pallet_contracts::Determinism;
use drink::sandbox_api::prelude::*;
use drink::session::{ContractBundle, Session, NO_ENDOWMENT};
use drink::{pallet_contracts, AccountId32, Sandbox, Weight};
use parity_scale_codec::{Decode, Encode};

pub mod replay;

pub use ballast_interface as interface;
pub use ballast_math::{Decimals, Fixed};
pub use ballast_oracle::OracleConfig;
pub use ballast_risk::MarketConfig;

/// Quote decimals of the collateral token in tests and the demo.
pub const QUOTE_DECIMALS: u8 = 6;
/// One whole collateral unit (1 USD) in base units.
pub const USD: u128 = 1_000_000;
/// One whole BTC in base units (8 decimals).
pub const BTC: i128 = 100_000_000;
/// Gas limit of every call: the contracts-node block's ref_time (2 s) and 5 MiB of proof.
pub const GAS_LIMIT: Weight = Weight::from_parts(2_000_000_000_000, 5 * 1024 * 1024);

/// Where the bundles are: `$BALLAST_CONTRACTS_DIR`, else `target/contracts` of the repository
/// (filled by `scripts/build-contracts.sh`).
pub fn bundle_dir() -> PathBuf {
    std::env::var_os("BALLAST_CONTRACTS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/contracts"))
}

/// Loads a bundle by contract name (`ballast_engine`, `ballast_token`).
pub fn load_bundle(name: &str) -> ContractBundle {
    let path = bundle_dir().join(format!("{name}.contract"));
    ContractBundle::load(&path)
        .unwrap_or_else(|e| panic!("{}: {e:?} (run scripts/build-contracts.sh)", path.display()))
}

/// Uploads the engine's facet codes (no instance: the router delegate-calls them), returning
/// their hashes for the router's constructor.
pub fn upload_facets(session: &mut Session<MinimalSandbox>, owner: &AccountId32) -> FacetCodes {
    let mut upload = |facet: Facet| -> ink::primitives::Hash {
        let wasm = load_bundle(&format!("ballast_engine_{}", facet.name())).wasm;
        let hash = session
            .sandbox()
            .upload_contract(wasm, owner.clone(), None, Determinism::Enforced)
            .expect("facet uploads")
            .code_hash;
        ink::primitives::Hash::from(<[u8; 32]>::from(hash))
    };
    FacetCodes {
        trading: upload(Facet::Trading),
        liquidation: upload(Facet::Liquidation),
        feeds: upload(Facet::Feeds),
        admin: upload(Facet::Admin),
        collateral: upload(Facet::Collateral),
        views: upload(Facet::Views),
    }
}

/// A constructor's input: its selector from the bundle's metadata, then `args` SCALE-encoded.
pub fn constructor_input(bundle: &ContractBundle, constructor: &str, args: impl Encode) -> Vec<u8> {
    let mut data = bundle
        .transcoder
        .metadata()
        .spec()
        .constructors()
        .iter()
        .find(|c| c.label() == constructor)
        .map(|c| c.selector().to_bytes().to_vec())
        .unwrap_or_else(|| panic!("no constructor {constructor}"));
    data.extend(args.encode());
    data
}

/// A test account: 32 copies of `n`.
pub fn account(n: u8) -> AccountId32 {
    AccountId32::new([n; 32])
}

/// Weight a call consumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Gas {
    /// Computation, picoseconds.
    pub ref_time: u64,
    /// Proof size, bytes.
    pub proof_size: u64,
}

/// What a round of feeder reports produced.
#[derive(Default)]
pub struct Reported {
    /// Weight of each report.
    pub gas: Vec<Gas>,
    /// Breaker transitions, in order.
    pub transitions: Vec<ballast_interface::events::BreakerChanged>,
}

/// How a call ended when it did not return a decodable value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallFailure {
    /// The contract trapped or the runtime refused the call (the dispatch error, as text).
    Trapped(String),
    /// The return data did not decode as the expected type.
    Undecodable(Vec<u8>),
    /// ink! could not read the input (wrong selector or arguments).
    LangError,
}

/// ink!'s `LangError` (only variant: `CouldNotReadInput`).
#[derive(Debug, Decode)]
enum LangError {
    CouldNotReadInput,
}

/// The token, the engine and a sandbox with a controllable clock.
pub struct Harness {
    /// The drink session (its sandbox is the pallet-contracts runtime).
    pub session: Session<MinimalSandbox>,
    /// Collateral token.
    pub token: AccountId32,
    /// Margin engine.
    pub engine: AccountId32,
    /// Deployer: owner and guardian of the engine, holder of the token supply.
    pub owner: AccountId32,
    /// Current block time, ms.
    pub now_ms: u64,
    /// Weight of the last call.
    pub last_gas: Gas,
    /// Events of the last call: (emitting contract, topics, data).
    pub last_events: Vec<(AccountId32, Vec<[u8; 32]>, Vec<u8>)>,
    selectors: HashMap<(AccountId32, String), [u8; 4]>,
}

fn selectors_of(
    bundle: &ContractBundle,
    address: &AccountId32,
    into: &mut HashMap<(AccountId32, String), [u8; 4]>,
) {
    for message in bundle.transcoder.metadata().spec().messages() {
        let selector: [u8; 4] = message
            .selector()
            .to_bytes()
            .try_into()
            .expect("4-byte selector");
        let label = message.label().to_string();
        // Trait messages are labelled `Trait::message`; the short name works too where unique.
        if let Some((_, short)) = label.split_once("::") {
            into.entry((address.clone(), short.to_string()))
                .or_insert(selector);
        }
        into.insert((address.clone(), label), selector);
    }
}

impl Harness {
    /// Deploys the token (all supply to the owner) and the engine at time `start_ms`.
    pub fn new(start_ms: u64) -> Harness {
        let supply = (1_000_000_000_000u128 * USD).to_string();
        Harness::with_collateral(
            start_ms,
            "ballast_token",
            &[
                supply.as_str(),
                r#"Some("Ballast USD")"#,
                r#"Some("bUSD")"#,
                "6",
            ],
        )
    }

    /// Deploys the collateral token from bundle `token_name` (constructor `new` with
    /// `token_args`, all supply to the owner) and the engine over it at time `start_ms`.
    pub fn with_collateral(start_ms: u64, token_name: &str, token_args: &[&str]) -> Harness {
        let mut session = Session::<MinimalSandbox>::default();
        let owner = account(1);
        session.set_actor(owner.clone());
        session.set_gas_limit(GAS_LIMIT);
        session.sandbox().set_timestamp(start_ms);
        let token_bundle = load_bundle(token_name);
        let engine_bundle = load_bundle("ballast_engine");
        let token = session
            .deploy_bundle(
                token_bundle.clone(),
                "new",
                token_args,
                vec![1],
                NO_ENDOWMENT,
            )
            .expect("token deploys");
        let facets = upload_facets(&mut session, &owner);
        let engine = session
            .sandbox()
            .deploy_contract(
                engine_bundle.wasm.clone(),
                0,
                constructor_input(&engine_bundle, "new", (&token, facets)),
                vec![2],
                owner.clone(),
                GAS_LIMIT,
                None,
            )
            .result
            .expect("engine deploys")
            .account_id;
        let mut selectors = HashMap::new();
        selectors_of(&token_bundle, &token, &mut selectors);
        selectors_of(&engine_bundle, &engine, &mut selectors);
        Harness {
            session,
            token,
            engine,
            owner,
            now_ms: start_ms,
            last_gas: Gas::default(),
            last_events: vec![],
            selectors,
        }
    }

    /// Deploys a contract from a bundle with SCALE-encoded constructor arguments (selector of
    /// `constructor` from the bundle's metadata), as `self.owner`; registers its messages.
    pub fn deploy(
        &mut self,
        name: &str,
        constructor: &str,
        args: impl Encode,
        salt: Vec<u8>,
    ) -> AccountId32 {
        let bundle = load_bundle(name);
        let data = constructor_input(&bundle, constructor, args);
        let owner = self.owner.clone();
        let now = self.now_ms;
        let sandbox = self.session.sandbox();
        sandbox.set_timestamp(now);
        let result =
            sandbox.deploy_contract(bundle.wasm.clone(), 0, data, salt, owner, GAS_LIMIT, None);
        let address = result.result.expect("deploys").account_id;
        selectors_of(&bundle, &address, &mut self.selectors);
        address
    }

    /// Lists `market` as the owner and gives `feeders` the report slots 0, 1, ... in order.
    pub fn list_market_with_feeders(
        &mut self,
        market: u32,
        config: MarketConfig,
        oracle: OracleConfig,
        feeders: &[AccountId32],
    ) {
        let owner = self.owner.clone();
        self.engine::<()>(&owner, "list_market", (market, config, oracle))
            .expect("list market");
        for (slot, f) in feeders.iter().enumerate() {
            let slot = u8::try_from(slot).expect("slot");
            self.engine::<()>(&owner, "set_feeder", (market, f.clone(), Some(slot)))
                .expect("set feeder");
        }
    }

    /// The owner authorizes `venue` in `market` (at once in a market nobody holds a position
    /// in; after the market's announcement delay otherwise).
    pub fn authorize_venue(&mut self, market: u32, venue: &AccountId32) {
        let owner = self.owner.clone();
        self.engine::<()>(&owner, "authorize_venue", (market, venue.clone()))
            .expect("authorize venue");
    }

    /// `account` (its own account, index 0) approves `venue` to fill it in `market`.
    pub fn approve_venue(&mut self, account: &AccountId32, market: u32, venue: &AccountId32) {
        let granted = ballast_interface::Approval::Granted;
        self.engine::<()>(
            account,
            "approve_venue",
            (0u8, market, venue.clone(), granted),
        )
        .expect("approve venue");
    }

    /// Every feeder reports `price` (confidence 1 bp of it) stamped now. Returns the weight of
    /// each report and the breaker transitions they emitted, in order.
    pub fn report(&mut self, market: u32, feeders: &[AccountId32], price: Fixed) -> Reported {
        let now = self.now_ms;
        let confidence = price
            .checked_mul(Fixed::from_ratio(1, 10_000).expect("ratio"))
            .expect("confidence");
        let mut reported = Reported::default();
        for f in feeders {
            self.engine::<()>(f, "submit_report", (market, price, confidence, now))
                .expect("report accepted");
            reported.gas.push(self.last_gas);
            reported
                .transitions
                .extend(self.engine_events::<ballast_interface::events::BreakerChanged>());
        }
        reported
    }

    /// Runs `action` and then restores the sandbox's whole storage and the clock to what they
    /// were before: each call of a test matrix starts from the same state.
    pub fn isolated<T>(&mut self, action: impl FnOnce(&mut Harness) -> T) -> T {
        let snapshot = self.session.sandbox().take_snapshot();
        let now = self.now_ms;
        let result = action(self);
        self.session.sandbox().restore_snapshot(snapshot);
        self.set_time(now);
        result
    }

    /// Sets the block time (ms). drink would otherwise use the wall clock for new blocks.
    pub fn set_time(&mut self, ms: u64) {
        self.now_ms = ms;
        self.session.sandbox().set_timestamp(ms);
    }

    /// Gives an account native balance for storage deposits.
    pub fn fund_native(&mut self, who: &AccountId32) {
        self.session
            .sandbox()
            .mint_into(who, 1_000_000_000_000_000)
            .expect("mint native");
    }

    /// Calls `label` on `contract` as `who` with SCALE-encoded `args`; returns the raw return
    /// data (also on revert) or how it failed. Records weight and events.
    pub fn call_raw(
        &mut self,
        who: &AccountId32,
        contract: &AccountId32,
        label: &str,
        args: Vec<u8>,
    ) -> Result<Vec<u8>, CallFailure> {
        let selector = self
            .selectors
            .get(&(contract.clone(), label.to_string()))
            .unwrap_or_else(|| panic!("no message {label}"));
        let mut data = selector.to_vec();
        data.extend(args);
        let now = self.now_ms;
        let sandbox = self.session.sandbox();
        sandbox.set_timestamp(now);
        // bare_call returns every event of the block so far: start from none.
        sandbox.reset_events();
        let result = sandbox.call_contract(
            contract.clone(),
            0,
            data,
            who.clone(),
            GAS_LIMIT,
            None,
            Determinism::Enforced,
        );
        self.last_gas = Gas {
            ref_time: result.gas_consumed.ref_time(),
            proof_size: result.gas_consumed.proof_size(),
        };
        self.last_events = result
            .events
            .unwrap_or_default()
            .into_iter()
            .filter_map(|record| match record.event {
                RuntimeEvent::Contracts(pallet_contracts::Event::ContractEmitted {
                    contract,
                    data,
                }) => Some((contract, record.topics.iter().map(|t| t.0).collect(), data)),
                _ => None,
            })
            .collect();
        match result.result {
            Ok(ret) => Ok(ret.data),
            Err(e) => Err(CallFailure::Trapped(format!("{e:?}"))),
        }
    }

    /// Calls a message returning `V` (decodes ink!'s `MessageResult<V>`).
    pub fn call<V: Decode>(
        &mut self,
        who: &AccountId32,
        contract: &AccountId32,
        label: &str,
        args: impl Encode,
    ) -> Result<V, CallFailure> {
        let data = self.call_raw(who, contract, label, args.encode())?;
        match <Result<V, LangError>>::decode(&mut &data[..]) {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(LangError::CouldNotReadInput)) => Err(CallFailure::LangError),
            Err(_) => Err(CallFailure::Undecodable(data)),
        }
    }

    /// Calls an engine message returning `Result<T, EngineError>`. A trap or an undecodable
    /// answer fails the test: every engine message must answer with a typed result.
    pub fn engine<T: Decode>(
        &mut self,
        who: &AccountId32,
        label: &str,
        args: impl Encode,
    ) -> Result<T, EngineError> {
        let engine = self.engine.clone();
        match self.call::<Result<T, EngineError>>(who, &engine, label, args) {
            Ok(result) => result,
            Err(failure) => {
                panic!("engine {label} did not answer with a typed result: {failure:?}")
            }
        }
    }

    /// Calls an engine query returning `Result<T, EngineError>` (as the owner; queries do not
    /// depend on the caller).
    pub fn read<T: Decode>(&mut self, label: &str, args: impl Encode) -> Result<T, EngineError> {
        let owner = self.owner.clone();
        self.engine(&owner, label, args)
    }

    /// Calls an engine query returning a plain value.
    pub fn query<T: Decode>(&mut self, label: &str, args: impl Encode) -> T {
        let engine = self.engine.clone();
        let owner = self.owner.clone();
        self.call::<T>(&owner, &engine, label, args)
            .unwrap_or_else(|f| panic!("query {label}: {f:?}"))
    }

    /// Asserts the books against the token: the engine holds exactly its net deposits, and the
    /// collateral and position quotes of `accounts`, the insurance fund and the settlement
    /// pools of `markets` add up to them to the unit.
    pub fn assert_reconciled(&mut self, accounts: &[AccountId32], markets: &[u32]) {
        let engine = self.engine.clone();
        let net: i128 = self.query("net_deposits", ());
        let held = i128::try_from(self.balance(&engine)).expect("balance fits i128");
        assert_eq!(held, net, "token balance against net deposits");
        let mut books: i128 = self.query("insurance_fund", ());
        for market in markets {
            books += self
                .read::<i128>("settlement_pool", (*market,))
                .expect("pool");
        }
        for a in accounts {
            let v: ballast_interface::AccountView = self.query("account", (a.clone(),));
            books += v.collateral + v.positions.iter().map(|(_, p)| p.quote).sum::<i128>();
        }
        assert_eq!(books, net, "books against net deposits");
    }

    /// Token balance.
    pub fn balance(&mut self, who: &AccountId32) -> u128 {
        let (token, owner) = (self.token.clone(), self.owner.clone());
        self.call::<u128>(&owner, &token, "PSP22::balance_of", (who.clone(),))
            .expect("balance_of")
    }

    /// Token transfer from the owner (faucet).
    pub fn give_tokens(&mut self, to: &AccountId32, amount: u128) {
        let (token, owner) = (self.token.clone(), self.owner.clone());
        let r: Result<(), psp22::PSP22Error> = self
            .call(
                &owner,
                &token,
                "PSP22::transfer",
                (to.clone(), amount, Vec::<u8>::new()),
            )
            .expect("transfer answers");
        r.expect("faucet transfer");
    }

    /// Approves the engine to pull `amount` from `who`.
    pub fn approve_engine(&mut self, who: &AccountId32, amount: u128) {
        let (token, engine) = (self.token.clone(), self.engine.clone());
        let r: Result<(), psp22::PSP22Error> = self
            .call(who, &token, "PSP22::approve", (engine, amount))
            .expect("approve answers");
        r.expect("approve");
    }

    /// Events of type `E` the engine emitted in the last call (matched by signature topic).
    pub fn engine_events<E: Decode + ink::env::Event>(&self) -> Vec<E> {
        self.last_events
            .iter()
            .filter(|(c, topics, _)| {
                *c == self.engine && topics.first().copied() == E::SIGNATURE_TOPIC
            })
            .map(|(_, _, data)| E::decode(&mut &data[..]).expect("event decodes"))
            .collect()
    }

    /// Number of events the engine emitted in the last call.
    pub fn engine_event_count(&self) -> usize {
        self.last_events
            .iter()
            .filter(|(c, _, _)| *c == self.engine)
            .count()
    }
}
