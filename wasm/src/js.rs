//! The JavaScript face (wasm-bindgen).
#![forbid(unsafe_code)]

use wasm_bindgen::prelude::*;

/// Runs one step of the protocol of `docs/abi.md`: `input` is a `StepInput`
/// as a JSON string; the answer is a `StepOutput` as a JSON string. When the
/// input has no `seed`, one is drawn from `crypto.getRandomValues`.
#[wasm_bindgen]
pub fn step(input: &str) -> Result<String, JsError> {
    let bytes = with_seed(input)?;
    String::from_utf8(sessattr_core::step_json(&bytes))
        .map_err(|_| JsError::new("step output is not UTF-8"))
}

/// The version of the step protocol this module speaks.
#[wasm_bindgen(js_name = abiVersion)]
pub fn abi_version() -> u32 {
    sessattr_core::ABI_VERSION
}

/// Adds a fresh random `seed` to the input when the caller gave none.
fn with_seed(input: &str) -> Result<Vec<u8>, JsError> {
    let mut value: serde_json::Value =
        serde_json::from_str(input).map_err(|_| JsError::new("step input is not JSON"))?;
    let object = value
        .as_object_mut()
        .ok_or_else(|| JsError::new("step input is not a JSON object"))?;
    if !object.contains_key("seed") {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|_| JsError::new("no random source"))?;
        object.insert("seed".into(), sessattr_core::encode_seed(&seed).into());
    }
    serde_json::to_vec(&value).map_err(|_| JsError::new("step input could not be re-encoded"))
}
