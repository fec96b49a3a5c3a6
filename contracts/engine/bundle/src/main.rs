//! `ballast-engine-bundle <dir>`: joins `ballast_engine_router.contract` and the facets'
//! `ballast_engine_<facet>.contract` in `<dir>` into `ballast_engine.contract`, the one bundle
//! venues, keepers and polkadot.js load: the router's Wasm, hash and constructor, every
//! facet's messages, the events, and one type registry holding what they all refer to.
//!
//! It refuses (exit 1) a facet message whose selector's first byte is not its facet's (the
//! router would send it elsewhere), a selector or label two facets share, a facet whose
//! storage layout, environment or error envelope differs from the router's (a delegate call
//! would read another layout), and an event two facets describe differently.

mod registry;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use ballast_engine_state::Facet;
use serde_json::{json, Value};

use registry::Registry;

fn load(dir: &Path, name: &str) -> Result<Value, String> {
    let path = dir.join(format!("{name}.contract"));
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

fn selector_bytes(message: &Value) -> Result<[u8; 4], String> {
    let text = message["selector"]
        .as_str()
        .ok_or("message without selector")?;
    let hex = text.trim_start_matches("0x");
    let mut out = [0u8; 4];
    if hex.len() != 8 {
        return Err(format!("selector {text} is not 4 bytes"));
    }
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16)
            .map_err(|e| format!("selector {text}: {e}"))?;
    }
    Ok(out)
}

fn join(dir: &Path) -> Result<Value, String> {
    let router = load(dir, "ballast_engine_router")?;
    let mut facets = Vec::new();
    for facet in Facet::ALL {
        facets.push((
            facet,
            load(dir, &format!("ballast_engine_{}", facet.name()))?,
        ));
    }
    join_bundles(&router, &facets)
}

/// Joins the router's bundle and each facet's into the engine's one bundle, or says why not.
fn join_bundles(router: &Value, facets: &[(Facet, Value)]) -> Result<Value, String> {
    let router = router.clone();
    let mut registry = Registry::default();
    let storage = registry.import_storage(&router, &router["storage"])?;
    let mut spec = router["spec"].clone();
    spec["constructors"] = registry.import_callables(&router, &router["spec"]["constructors"])?;
    spec["lang_error"] = registry.import_type_spec(&router, &router["spec"]["lang_error"])?;
    let mut environment = router["spec"]["environment"].clone();
    if let Some(entries) = environment.as_object_mut() {
        for (_, entry) in entries.iter_mut() {
            if entry.get("type").is_some() {
                *entry = registry.import_type_spec(&router, entry)?;
            }
        }
    }
    spec["environment"] = environment;

    // The router's own message (its catch-all `forward` is no message a client calls).
    let mut messages = Vec::new();
    let mut seen_selectors = BTreeSet::new();
    let mut seen_labels = BTreeSet::new();
    let own = registry.import_callables(&router, &router["spec"]["messages"])?;
    for message in own.as_array().into_iter().flatten() {
        let label = message["label"].as_str().unwrap_or_default().to_string();
        if label != "forward" {
            seen_selectors.insert(selector_bytes(message)?);
            seen_labels.insert(label);
            messages.push(message.clone());
        }
    }
    let mut events = Vec::new();
    let mut seen_events = BTreeMap::new();
    for (facet, bundle) in facets {
        let facet = *facet;
        let name = format!("ballast_engine_{}", facet.name());
        // The layout below the root (the root's own type is named after its crate).
        if registry.import_storage(bundle, &bundle["storage"]["root"]["layout"])?
            != storage["root"]["layout"]
        {
            return Err(format!("{name}: storage layout differs from the router's"));
        }
        let facet_messages = registry.import_callables(bundle, &bundle["spec"]["messages"])?;
        for message in facet_messages.as_array().into_iter().flatten() {
            let selector = selector_bytes(message)?;
            let label = message["label"].as_str().unwrap_or_default().to_string();
            if Facet::of_selector(selector) != Some(facet) {
                return Err(format!(
                    "{name}: message {label} has selector {} outside facet byte {:#04x}",
                    message["selector"],
                    facet.selector_byte()
                ));
            }
            if !seen_selectors.insert(selector) || !seen_labels.insert(label.clone()) {
                return Err(format!("{name}: message {label} or its selector is taken"));
            }
            messages.push(message.clone());
        }
        // Every facet emits into the same address: an event two facets list must be the same
        // event, down to its fields' types and topics.
        let facet_events = registry.import_callables(bundle, &bundle["spec"]["events"])?;
        for event in facet_events.as_array().into_iter().flatten() {
            let key = (
                event["label"].as_str().unwrap_or_default().to_string(),
                event["signature_topic"].to_string(),
            );
            match seen_events.get(&key) {
                None => {
                    seen_events.insert(key, event.clone());
                    events.push(event.clone());
                }
                Some(known) if known == event => {}
                Some(_) => return Err(format!("{name}: event {} differs", key.0)),
            }
        }
        // The facet runs in the router's frame: its environment (account, balance, hash
        // types) and ink!'s error envelope must be the router's.
        let mut facet_environment = bundle["spec"]["environment"].clone();
        if let Some(entries) = facet_environment.as_object_mut() {
            for (_, entry) in entries.iter_mut() {
                if entry.get("type").is_some() {
                    *entry = registry.import_type_spec(bundle, entry)?;
                }
            }
        }
        if facet_environment != spec["environment"]
            || registry.import_type_spec(bundle, &bundle["spec"]["lang_error"])?
                != spec["lang_error"]
            || bundle["storage"]["root"]["root_key"] != storage["root"]["root_key"]
        {
            return Err(format!(
                "{name}: environment, error envelope or storage root differs from the router's"
            ));
        }
    }
    spec["messages"] = Value::Array(messages);
    spec["events"] = Value::Array(events);

    let mut contract = router["contract"].clone();
    contract["name"] = json!("ballast_engine");
    Ok(json!({
        "source": router["source"],
        "contract": contract,
        "image": router["image"],
        "version": router["version"],
        "types": registry.into_types(),
        "storage": storage,
        "spec": spec,
    }))
}

fn main() -> ExitCode {
    let dir = match std::env::args_os().nth(1) {
        Some(d) => PathBuf::from(d),
        None => {
            eprintln!("usage: ballast-engine-bundle <dir with the router and facet bundles>");
            return ExitCode::FAILURE;
        }
    };
    match join(&dir) {
        Ok(bundle) => {
            let out = dir.join("ballast_engine.contract");
            let text = serde_json::to_string(&bundle).expect("serializes");
            if let Err(e) = std::fs::write(&out, text) {
                eprintln!("{}: {e}", out.display());
                return ExitCode::FAILURE;
            }
            let count = bundle["spec"]["messages"].as_array().map_or(0, Vec::len);
            println!("[bundle] {}: {count} messages", out.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("[bundle] refused: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests;
