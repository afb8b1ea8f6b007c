//! Arbitrary JSON rules and data to the CertLogic evaluator and validator. Any panic,
//! overflow or hang is a bug: every rule either evaluates or is refused with an error.
//! The input is split at the first NUL byte into the rule and the data.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let (rule, data) = match input.iter().position(|&b| b == 0) {
        Some(i) => (&input[..i], &input[i + 1..]),
        None => (input, &b"{}"[..]),
    };
    let Ok(rule) = serde_json::from_slice::<serde_json::Value>(rule) else {
        return;
    };
    let data = serde_json::from_slice::<serde_json::Value>(data).unwrap_or_default();
    let _ = healthcode_certlogic::validate(&rule);
    let _ = healthcode_certlogic::evaluate(&rule, &data);
});
