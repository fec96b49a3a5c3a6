//! The joiner on small synthetic bundles: what it keeps, how it renumbers types, and each
//! refusal.

use serde_json::{json, Value};

use super::join_bundles;
use ballast_engine_state::Facet;

/// A bundle whose registry holds `u32`, `bool` and a struct `Pair { a: u32, b: bool }`, in an
/// order given by `shuffle` (so that two bundles number the same types differently), with
/// `messages` (label, selector, argument type name) and one event.
fn bundle(messages: &[(&str, &str, &str)], shuffle: bool, storage_field: &str) -> Value {
    let order = if shuffle { [2, 0, 1] } else { [0, 1, 2] };
    // order[k] is the id of type k (0: u32, 1: bool, 2: Pair).
    let id = |k: usize| order[k];
    let mut types = vec![Value::Null; 3];
    types[id(0)] = json!({ "id": id(0), "type": { "def": { "primitive": "u32" } } });
    types[id(1)] = json!({ "id": id(1), "type": { "def": { "primitive": "bool" } } });
    types[id(2)] = json!({ "id": id(2), "type": {
        "path": ["demo", "Pair"],
        "def": { "composite": { "fields": [
            { "name": "a", "type": id(0), "typeName": "u32" },
            { "name": "b", "type": id(1), "typeName": "bool" }
        ] } }
    } });
    let type_of = |name: &str| match name {
        "u32" => id(0),
        "bool" => id(1),
        _ => id(2),
    };
    let messages: Vec<Value> = messages
        .iter()
        .map(|(label, selector, arg)| {
            json!({
                "label": label, "selector": selector, "mutates": true, "payable": false,
                "args": [{ "label": "x", "type": { "type": type_of(arg), "displayName": [arg] } }],
                "returnType": { "type": id(1), "displayName": ["bool"] },
                "docs": [], "default": false
            })
        })
        .collect();
    json!({
        "source": { "hash": "0x00", "wasm": "0x00" },
        "contract": { "name": "demo", "version": "0.1.0" },
        "image": null,
        "version": 5,
        "types": types,
        "storage": { "root": {
            "layout": { "struct": { "name": "EngineState", "fields": [
                { "name": storage_field, "layout": { "leaf": { "key": "0x00000000", "ty": id(0) } } }
            ] } },
            "root_key": "0x00000000",
            "ty": id(2)
        } },
        "spec": {
            "constructors": [{ "label": "new", "selector": "0x9bae9d5e", "args": [],
                "returnType": { "type": id(1), "displayName": ["bool"] }, "payable": false,
                "default": false, "docs": [] }],
            "messages": messages,
            "events": [{ "label": "Moved", "signature_topic": "0x01", "module_path": "demo",
                "docs": [], "args": [{ "label": "p", "indexed": false, "docs": [],
                "type": { "type": id(2), "displayName": ["Pair"] } }] }],
            "lang_error": { "type": id(0), "displayName": ["LangError"] },
            "environment": { "accountId": { "type": id(2), "displayName": ["AccountId"] },
                "maxEventTopics": 4 },
            "docs": []
        }
    })
}

fn router() -> Value {
    bundle(
        &[
            ("forward", "0x00000000", "u32"),
            ("facets", "0x9bae9d5e", "bool"),
        ],
        false,
        "owner",
    )
}

/// One message per facet, `m<byte>` at `0x<byte>000001`, taking a `Pair`.
fn facets() -> Vec<(Facet, Value)> {
    Facet::ALL
        .iter()
        .map(|&f| {
            let label = format!("m{}", f.selector_byte());
            let selector = format!("0x{:02x}000001", f.selector_byte());
            let b = bundle(
                &[(&label, &selector, "Pair")],
                f.selector_byte() % 2 == 0,
                "owner",
            );
            (f, b)
        })
        .collect()
}

fn resolve<'a>(joined: &'a Value, id: &Value) -> &'a Value {
    let id = id.as_u64().expect("an id");
    joined["types"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"].as_u64() == Some(id))
        .map(|t| &t["type"])
        .expect("the id is in the joined registry")
}

#[test]
fn every_facet_message_and_one_registry_for_all() {
    let joined = join_bundles(&router(), &facets()).expect("joins");
    let labels: Vec<&str> = joined["spec"]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["facets", "m1", "m2", "m3", "m4", "m5", "m6"]);
    // Three types however each bundle numbered them; every reference lands on the right one.
    assert_eq!(joined["types"].as_array().unwrap().len(), 3);
    for message in joined["spec"]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .skip(1)
    {
        let pair = resolve(&joined, &message["args"][0]["type"]["type"]);
        assert_eq!(pair["path"], json!(["demo", "Pair"]));
        let fields = pair["def"]["composite"]["fields"].as_array().unwrap();
        assert_eq!(
            resolve(&joined, &fields[0]["type"])["def"]["primitive"],
            "u32"
        );
        assert_eq!(
            resolve(&joined, &fields[1]["type"])["def"]["primitive"],
            "bool"
        );
    }
    assert_eq!(joined["spec"]["events"].as_array().unwrap().len(), 1);
    assert_eq!(joined["spec"]["constructors"][0]["label"], "new");
    assert_eq!(joined["contract"]["name"], "ballast_engine");
}

#[test]
fn a_message_outside_its_facet_byte_is_refused() {
    let mut f = facets();
    // The admin facet declares a message with the trading byte.
    f[3].1["spec"]["messages"][0]["selector"] = json!("0x01000009");
    let refused = join_bundles(&router(), &f).unwrap_err();
    assert!(refused.contains("outside facet byte"), "{refused}");
}

#[test]
fn a_label_two_facets_share_is_refused() {
    let mut f = facets();
    f[4].1["spec"]["messages"][0]["label"] = json!("m1");
    let refused = join_bundles(&router(), &f).unwrap_err();
    assert!(refused.contains("taken"), "{refused}");
}

#[test]
fn a_facet_with_another_storage_layout_is_refused() {
    let mut f = facets();
    f[2].1 = bundle(&[("m3", "0x03000001", "Pair")], false, "guardian");
    let refused = join_bundles(&router(), &f).unwrap_err();
    assert!(refused.contains("storage layout"), "{refused}");
}

#[test]
fn an_event_two_facets_describe_differently_is_refused() {
    let mut f = facets();
    f[5].1["spec"]["events"][0]["args"][0]["indexed"] = json!(true);
    let refused = join_bundles(&router(), &f).unwrap_err();
    assert!(refused.contains("event Moved differs"), "{refused}");
}

#[test]
fn a_facet_with_another_environment_is_refused() {
    let mut f = facets();
    f[0].1["spec"]["environment"]["maxEventTopics"] = json!(3);
    let refused = join_bundles(&router(), &f).unwrap_err();
    assert!(refused.contains("environment"), "{refused}");
}
