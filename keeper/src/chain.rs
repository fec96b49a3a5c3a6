//! JSON-RPC client for a Substrate contracts node (subxt 0.38, no metadata codegen): signed
//! `Contracts::call` extrinsics with an explicit nonce, read-only dry runs through the
//! `ContractsApi_call` runtime API, and events of the blocks produced since the last look.

use parity_scale_codec::{Compact, Decode, Encode};
use subxt::backend::legacy::LegacyRpcMethods;
use subxt::backend::rpc::RpcClient;
use subxt::blocks::ExtrinsicEvents;
use subxt::config::DefaultExtrinsicParamsBuilder;
use subxt::error::{RpcError, TransactionError};
use subxt::ext::scale_encode::EncodeAsType;
use subxt::tx::{DefaultPayload, TxStatus};
use subxt::utils::{AccountId32, MultiAddress, H256};
use subxt::{OnlineClient, PolkadotConfig};
use subxt_signer::sr25519::Keypair;
use subxt_signer::SecretUri;

type Cfg = PolkadotConfig;

/// Gas limit of a submitted call when the dry run's estimate is not used: a quarter of a
/// contracts-node block's ref_time, 1 MiB of proof.
pub const GAS_CAP: (u64, u64) = (500_000_000_000, 1024 * 1024);

/// A contract event: emitting contract, SCALE data, topics.
pub type Emitted = ([u8; 32], Vec<u8>, Vec<[u8; 32]>);

/// A signer from a secret URI: `//Alice`, a mnemonic with derivations, or a 0x seed.
pub fn signer(suri: &str) -> Result<Keypair, String> {
    let uri: SecretUri = suri.parse().map_err(|e| format!("bad secret URI: {e:?}"))?;
    Keypair::from_uri(&uri).map_err(|e| format!("bad secret URI: {e:?}"))
}

/// The 32-byte account of a signer.
pub fn account_of(who: &Keypair) -> [u8; 32] {
    who.public_key().0
}

/// An SS58 address (any prefix) as its 32 bytes.
pub fn parse_account(ss58: &str) -> Result<[u8; 32], String> {
    ss58.parse::<AccountId32>()
        .map(|a| a.0)
        .map_err(|e| format!("bad SS58 address {ss58}: {e:?}"))
}

/// An account in SS58 (prefix 42, as the dev chain prints them).
pub fn ss58(account: [u8; 32]) -> String {
    AccountId32(account).to_string()
}

#[derive(EncodeAsType)]
#[encode_as_type(crate_path = "subxt::ext::scale_encode")]
struct WeightArg {
    ref_time: u64,
    proof_size: u64,
}

#[derive(EncodeAsType)]
#[encode_as_type(crate_path = "subxt::ext::scale_encode")]
struct ContractsCall {
    dest: MultiAddress<AccountId32, ()>,
    value: u128,
    gas_limit: WeightArg,
    storage_deposit_limit: Option<Compact<u128>>,
    data: Vec<u8>,
}

/// Weight as pallet-contracts reports it.
#[derive(Encode, Decode, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Weight {
    /// Computation, picoseconds.
    #[codec(compact)]
    pub ref_time: u64,
    /// Proof size, bytes.
    #[codec(compact)]
    pub proof_size: u64,
}

#[derive(Encode)]
struct CallRequest {
    origin: AccountId32,
    dest: AccountId32,
    value: u128,
    gas_limit: Option<Weight>,
    storage_deposit_limit: Option<u128>,
    input_data: Vec<u8>,
}

#[derive(Decode, Debug)]
enum StorageDeposit {
    #[allow(dead_code)]
    Refund(u128),
    #[allow(dead_code)]
    Charge(u128),
}

#[derive(Decode, Debug)]
struct ExecReturnValue {
    flags: u32,
    data: Vec<u8>,
}

#[derive(Decode, Debug)]
struct ContractExecResult {
    _gas_consumed: Weight,
    gas_required: Weight,
    _storage_deposit: StorageDeposit,
    _debug_message: Vec<u8>,
    // `DispatchError` is kept as raw bytes: only "it failed" matters to the keeper.
    result: Result<ExecReturnValue, DispatchErrorBytes>,
}

#[derive(Debug)]
struct DispatchErrorBytes;

impl Decode for DispatchErrorBytes {
    fn decode<I: parity_scale_codec::Input>(
        input: &mut I,
    ) -> Result<Self, parity_scale_codec::Error> {
        // Consume the rest: the trailing `events` field is not read either.
        while input.read_byte().is_ok() {}
        Ok(DispatchErrorBytes)
    }
}

/// What a dry run returned.
#[derive(Debug, Clone)]
pub struct DryRun {
    /// The message's return data (`Result<T, LangError>`), or `None` if the call trapped.
    pub data: Option<Vec<u8>>,
    /// The message returned an error (REVERT flag).
    pub reverted: bool,
    /// Weight the call needs as its limit.
    pub gas_required: Weight,
}

/// What a submitted call did once in a block.
#[derive(Debug, Clone)]
pub struct Included {
    /// Block hash.
    pub block: H256,
    /// `ExtrinsicSuccess` (else `ExtrinsicFailed`).
    pub success: bool,
    /// The actual weight the chain charged (post-dispatch, with the extrinsic base weight).
    pub weight: Weight,
    /// `(contract, data, topics)` of every `ContractEmitted` event.
    pub emitted: Vec<Emitted>,
}

/// A connection to the node.
pub struct Chain {
    api: OnlineClient<Cfg>,
    rpc: LegacyRpcMethods<Cfg>,
    /// Genesis hash at connection: changes when the node restarts on a fresh database.
    pub genesis: H256,
}

/// Whether an error means the connection is gone (rebuild the client) rather than an answer.
pub fn connection_lost(e: &subxt::Error) -> bool {
    use jsonrpsee::core::ClientError;
    match e {
        subxt::Error::Rpc(RpcError::ClientError(inner)) => !matches!(
            inner.downcast_ref::<ClientError>(),
            Some(ClientError::Call(_))
        ),
        subxt::Error::Rpc(RpcError::SubscriptionDropped) => true,
        subxt::Error::Io(_) => true,
        _ => false,
    }
}

impl Chain {
    /// Connects to `url` (ws://127.0.0.1:9944) and reads metadata, runtime version, genesis.
    pub async fn connect(url: &str) -> Result<Chain, subxt::Error> {
        let client = RpcClient::from_insecure_url(url).await?;
        let api = OnlineClient::<Cfg>::from_rpc_client(client.clone()).await?;
        let genesis = api.genesis_hash();
        Ok(Chain {
            api,
            rpc: LegacyRpcMethods::new(client),
            genesis,
        })
    }

    /// Dry-runs a call of `dest` with `data` from `origin` at the best block.
    pub async fn dry_run(
        &self,
        origin: [u8; 32],
        dest: [u8; 32],
        data: Vec<u8>,
    ) -> Result<DryRun, subxt::Error> {
        let request = CallRequest {
            origin: AccountId32(origin),
            dest: AccountId32(dest),
            value: 0,
            gas_limit: None,
            storage_deposit_limit: None,
            input_data: data,
        };
        let bytes = self
            .rpc
            .state_call("ContractsApi_call", Some(&request.encode()), None)
            .await?;
        let result = ContractExecResult::decode(&mut &bytes[..])?;
        let (data, reverted) = match result.result {
            Ok(ret) => (Some(ret.data), ret.flags & 1 == 1),
            Err(_) => (None, true),
        };
        Ok(DryRun {
            data,
            reverted,
            gas_required: result.gas_required,
        })
    }

    /// Signs and submits a call of `dest`, waits until it is in a best block and reads its
    /// events. `gas` is the call's limit (use a dry run's `gas_required` with a margin).
    pub async fn submit(
        &self,
        who: &Keypair,
        dest: [u8; 32],
        data: Vec<u8>,
        gas: Weight,
    ) -> Result<Included, subxt::Error> {
        let call = DefaultPayload::new(
            "Contracts",
            "call",
            ContractsCall {
                dest: MultiAddress::Id(AccountId32(dest)),
                value: 0,
                gas_limit: WeightArg {
                    ref_time: gas.ref_time,
                    proof_size: gas.proof_size,
                },
                storage_deposit_limit: None,
                data,
            },
        );
        // subxt would read the nonce at the finalized block, which lags the best block on a
        // dev node: ask the node for the next index (best block plus pool) instead.
        let nonce = self
            .rpc
            .system_account_next_index(&AccountId32(account_of(who)))
            .await?;
        let params = DefaultExtrinsicParamsBuilder::<Cfg>::new()
            .nonce(nonce)
            .build();
        let mut progress = self
            .api
            .tx()
            .create_signed(&call, who, params)
            .await?
            .submit_and_watch()
            .await?;
        while let Some(status) = progress.next().await {
            match status? {
                TxStatus::InBestBlock(b) | TxStatus::InFinalizedBlock(b) => {
                    let events = b.fetch_events().await?;
                    return included(b.block_hash(), &events);
                }
                TxStatus::Error { message } => return Err(TransactionError::Error(message).into()),
                TxStatus::Invalid { message } => {
                    return Err(TransactionError::Invalid(message).into())
                }
                TxStatus::Dropped { message } => {
                    return Err(TransactionError::Dropped(message).into())
                }
                _ => {}
            }
        }
        Err(RpcError::SubscriptionDropped.into())
    }

    /// Number of the best block.
    pub async fn best_number(&self) -> Result<u64, subxt::Error> {
        let header = self
            .rpc
            .chain_get_header(None)
            .await?
            .ok_or_else(|| subxt::Error::Other("no best header".into()))?;
        Ok(u64::from(header.number))
    }

    /// `(contract, data, topics)` of the `ContractEmitted` events in block `number`.
    pub async fn emitted_in(&self, number: u64) -> Result<Vec<Emitted>, subxt::Error> {
        let Some(hash) = self.rpc.chain_get_block_hash(Some(number.into())).await? else {
            return Ok(vec![]);
        };
        let events = self.api.events().at(hash).await?;
        let mut out = Vec::new();
        for ev in events.iter() {
            let ev = ev?;
            if ev.pallet_name() == "Contracts" && ev.variant_name() == "ContractEmitted" {
                let (contract, data) = <([u8; 32], Vec<u8>)>::decode(&mut ev.field_bytes())?;
                out.push((contract, data, ev.topics().iter().map(|t| t.0).collect()));
            }
        }
        Ok(out)
    }
}

fn included(block: H256, events: &ExtrinsicEvents<Cfg>) -> Result<Included, subxt::Error> {
    let mut out = Included {
        block,
        success: false,
        weight: Weight::default(),
        emitted: Vec::new(),
    };
    for ev in events.iter() {
        let ev = ev?;
        match (ev.pallet_name(), ev.variant_name()) {
            ("Contracts", "ContractEmitted") => {
                let (contract, data) = <([u8; 32], Vec<u8>)>::decode(&mut ev.field_bytes())?;
                out.emitted
                    .push((contract, data, ev.topics().iter().map(|t| t.0).collect()));
            }
            ("System", "ExtrinsicSuccess") => {
                // DispatchInfo starts with its Weight (two compact u64).
                out.weight = Weight::decode(&mut ev.field_bytes())?;
                out.success = true;
            }
            ("System", "ExtrinsicFailed") => {
                out.success = false;
            }
            _ => {}
        }
    }
    Ok(out)
}
