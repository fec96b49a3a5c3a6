//! One type registry for types from several bundles. Each bundle numbers its types on its
//! own; a type is imported with the ids it refers to imported first, so two bundles' copies of
//! the same type become one entry, and every reference is rewritten to the joined ids.

use std::collections::HashMap;

use serde_json::Value;

/// The joined registry.
#[derive(Default)]
pub struct Registry {
    types: Vec<Value>,
    by_shape: HashMap<String, u64>,
}

impl Registry {
    /// Imports type `id` of `bundle`, returning its id in the joined registry.
    pub fn import(&mut self, bundle: &Value, id: u64) -> Result<u64, String> {
        self.import_guarded(bundle, id, &mut Vec::new())
    }

    fn import_guarded(
        &mut self,
        bundle: &Value,
        id: u64,
        path: &mut Vec<u64>,
    ) -> Result<u64, String> {
        if path.contains(&id) {
            return Err(format!("recursive type {id}: not supported"));
        }
        let entry = bundle["types"]
            .as_array()
            .and_then(|types| types.iter().find(|t| t["id"].as_u64() == Some(id)))
            .ok_or_else(|| format!("type {id} missing from the registry"))?;
        let mut ty = entry["type"].clone();
        path.push(id);
        self.rewrite_type(bundle, &mut ty, path)?;
        path.pop();
        let shape = ty.to_string();
        if let Some(&joined) = self.by_shape.get(&shape) {
            return Ok(joined);
        }
        let joined = self.types.len() as u64;
        self.types
            .push(serde_json::json!({ "id": joined, "type": ty }));
        self.by_shape.insert(shape, joined);
        Ok(joined)
    }

    /// Rewrites the ids a type definition refers to.
    fn rewrite_type(
        &mut self,
        bundle: &Value,
        ty: &mut Value,
        path: &mut Vec<u64>,
    ) -> Result<(), String> {
        if let Some(params) = ty.get_mut("params").and_then(Value::as_array_mut) {
            for p in params {
                self.rewrite_ref(bundle, &mut p["type"], path)?;
            }
        }
        let def = &mut ty["def"];
        if let Some(fields) = def
            .pointer_mut("/composite/fields")
            .and_then(Value::as_array_mut)
        {
            for f in fields {
                self.rewrite_ref(bundle, &mut f["type"], path)?;
            }
        }
        if let Some(variants) = def
            .pointer_mut("/variant/variants")
            .and_then(Value::as_array_mut)
        {
            for v in variants {
                if let Some(fields) = v.get_mut("fields").and_then(Value::as_array_mut) {
                    for f in fields {
                        self.rewrite_ref(bundle, &mut f["type"], path)?;
                    }
                }
            }
        }
        for kind in ["sequence", "array", "compact"] {
            if let Some(inner) = def.pointer_mut(&format!("/{kind}/type")) {
                self.rewrite_ref(bundle, inner, path)?;
            }
        }
        if let Some(items) = def.get_mut("tuple").and_then(Value::as_array_mut) {
            for item in items {
                self.rewrite_ref(bundle, item, path)?;
            }
        }
        if let Some(bits) = def.get_mut("bitsequence") {
            for key in ["bit_store_type", "bit_order_type"] {
                self.rewrite_ref(bundle, &mut bits[key], path)?;
            }
        }
        Ok(())
    }

    fn rewrite_ref(
        &mut self,
        bundle: &Value,
        reference: &mut Value,
        path: &mut Vec<u64>,
    ) -> Result<(), String> {
        if let Some(id) = reference.as_u64() {
            *reference = Value::from(self.import_guarded(bundle, id, path)?);
        }
        Ok(())
    }

    /// A `{ "type": id, "displayName": .. }` spec with its id imported.
    pub fn import_type_spec(&mut self, bundle: &Value, spec: &Value) -> Result<Value, String> {
        let mut out = spec.clone();
        if let Some(id) = spec["type"].as_u64() {
            out["type"] = Value::from(self.import(bundle, id)?);
        }
        Ok(out)
    }

    /// Constructors, messages or events with their argument and return types imported.
    pub fn import_callables(&mut self, bundle: &Value, list: &Value) -> Result<Value, String> {
        let mut out = list.clone();
        for item in out.as_array_mut().into_iter().flatten() {
            for arg in item["args"].as_array_mut().into_iter().flatten() {
                arg["type"] = self.import_type_spec(bundle, &arg["type"])?;
            }
            if item.get("returnType").is_some_and(|r| !r.is_null()) {
                item["returnType"] = self.import_type_spec(bundle, &item["returnType"])?;
            }
        }
        Ok(out)
    }

    /// A storage layout with every `ty` imported.
    pub fn import_storage(&mut self, bundle: &Value, layout: &Value) -> Result<Value, String> {
        let mut out = layout.clone();
        self.rewrite_layout(bundle, &mut out)?;
        Ok(out)
    }

    fn rewrite_layout(&mut self, bundle: &Value, node: &mut Value) -> Result<(), String> {
        match node {
            Value::Object(map) => {
                for (key, value) in map.iter_mut() {
                    if key == "ty" {
                        if let Some(id) = value.as_u64() {
                            *value = Value::from(self.import(bundle, id)?);
                        }
                    } else {
                        self.rewrite_layout(bundle, value)?;
                    }
                }
            }
            Value::Array(items) => {
                for item in items {
                    self.rewrite_layout(bundle, item)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The joined registry, in id order.
    pub fn into_types(self) -> Vec<Value> {
        self.types
    }
}
