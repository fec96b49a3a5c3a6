//! Message selectors from a contract's metadata (`.json` or `.contract` bundle written by
//! `cargo contract build`) and SCALE encoding and decoding of calls.

use std::collections::HashMap;
use std::path::Path;

use parity_scale_codec::{Decode, Encode};

/// The callable messages and constructors of one contract.
#[derive(Debug, Clone, Default)]
pub struct Abi {
    selectors: HashMap<String, [u8; 4]>,
}

fn selector(hex: &str) -> Result<[u8; 4], String> {
    let digits = hex.trim_start_matches("0x");
    if digits.len() != 8 {
        return Err(format!("selector {hex} is not 4 bytes"));
    }
    let mut out = [0u8; 4];
    for (i, byte) in out.iter_mut().enumerate() {
        let pair = digits.get(2 * i..2 * i + 2).ok_or("short selector")?;
        *byte = u8::from_str_radix(pair, 16).map_err(|e| format!("selector {hex}: {e}"))?;
    }
    Ok(out)
}

impl Abi {
    /// Reads the `spec` of a metadata document. Trait messages (`VenueApi::fill`) are also
    /// reachable by their short name (`fill`) when it is unique.
    pub fn from_metadata(text: &str) -> Result<Abi, String> {
        let doc: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("metadata is not JSON: {e}"))?;
        let spec = doc.get("spec").ok_or("metadata has no spec")?;
        let mut abi = Abi::default();
        for kind in ["messages", "constructors"] {
            let list = spec
                .get(kind)
                .and_then(|v| v.as_array())
                .ok_or_else(|| format!("metadata has no {kind}"))?;
            for item in list {
                let label = item
                    .get("label")
                    .and_then(|v| v.as_str())
                    .ok_or("no label")?;
                let hex = item
                    .get("selector")
                    .and_then(|v| v.as_str())
                    .ok_or("no selector")?;
                let sel = selector(hex)?;
                if let Some((_, short)) = label.split_once("::") {
                    abi.selectors.entry(short.to_string()).or_insert(sel);
                }
                abi.selectors.insert(label.to_string(), sel);
            }
        }
        Ok(abi)
    }

    /// Reads a metadata file.
    pub fn load(path: impl AsRef<Path>) -> Result<Abi, String> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Abi::from_metadata(&text)
    }

    /// Call data: the selector of `label` followed by the SCALE encoding of `args`.
    pub fn call(&self, label: &str, args: impl Encode) -> Result<Vec<u8>, String> {
        let sel = self
            .selectors
            .get(label)
            .ok_or_else(|| format!("no message or constructor {label}"))?;
        let mut data = sel.to_vec();
        args.encode_to(&mut data);
        Ok(data)
    }
}

/// Decodes what an ink! 5 message returned: `Result<T, LangError>` (`LangError` is one byte).
pub fn decode_return<T: Decode>(data: &[u8]) -> Result<T, String> {
    match <Result<T, u8>>::decode(&mut &data[..]) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(lang)) => Err(format!(
            "ink! LangError {lang} (the call data did not decode)"
        )),
        Err(e) => Err(format!("undecodable return value: {e}")),
    }
}

/// An error of a contract whose Rust types the keeper does not link (the venue's): its SCALE
/// bytes, kept for the log. Decodes whatever is left of the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpaqueError(pub Vec<u8>);

impl Decode for OpaqueError {
    fn decode<I: parity_scale_codec::Input>(
        input: &mut I,
    ) -> Result<Self, parity_scale_codec::Error> {
        let mut bytes = Vec::new();
        while let Ok(b) = input.read_byte() {
            bytes.push(b);
        }
        Ok(OpaqueError(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = include_str!("../tests/fixtures/metadata.json");

    #[test]
    fn selectors_come_from_the_metadata_with_short_trait_names() {
        let abi = Abi::from_metadata(FIXTURE).unwrap();
        assert_eq!(
            abi.call("deposit", 7u128).unwrap()[..4],
            [0x2d, 0x10, 0xc9, 0xbd]
        );
        let fill = abi.call("VenueApi::health", [1u8; 32]).unwrap();
        assert_eq!(fill, abi.call("health", [1u8; 32]).unwrap());
        assert_eq!(fill.len(), 4 + 32);
        assert_eq!(
            abi.call("new", [0u8; 32]).unwrap()[..4],
            [0x9b, 0xae, 0x9d, 0x5e]
        );
        assert!(abi.call("nope", ()).is_err());
    }

    #[test]
    fn return_values_unwrap_the_lang_error_layer() {
        let ok: Result<Result<u32, u8>, u8> = Ok(Ok(5));
        assert_eq!(decode_return::<Result<u32, u8>>(&ok.encode()), Ok(Ok(5)));
        let lang: Result<(), u8> = Err(1);
        assert!(decode_return::<()>(&lang.encode()).is_err());
        // Another contract's error: its bytes after the Err tag.
        let refused: Result<Result<(), (u8, u128)>, u8> = Ok(Err((1, 7)));
        assert_eq!(
            decode_return::<Result<(), OpaqueError>>(&refused.encode()),
            Ok(Err(OpaqueError((1u8, 7u128).encode())))
        );
    }
}
