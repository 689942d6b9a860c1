//! `livecheck verify`: checks the signed evidence in a verdict JSON (as `check --nonce N
//! --key-file K --json` prints it) the way a server would, and prints the record.

use livecheck::evidence::{self, Scheme, SignedEvidence, VerifyKey};
use serde_json::Value;

use crate::Args;

/// Exits 0 and prints the evidence when it verifies; an error (exit 2) with the reason when not.
pub fn run(args: &Args) -> Result<(), String> {
    let path = args.one_input("verify")?;
    let (scheme, key) = args
        .key()?
        .ok_or("verify needs --key-file (the key the evidence was signed with)")?;
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let verdict: Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: not JSON: {e}", path.display()))?;
    let e = &verdict["evidence"];
    let field = |k: &str| {
        e[k].as_str().map(str::to_string).ok_or(format!(
            "{}: no evidence.{k} (run check with --nonce and --key-file)",
            path.display()
        ))
    };
    let signed_with = field("scheme")?;
    let signed = SignedEvidence {
        scheme: Scheme::parse(&signed_with).ok_or(format!("unknown scheme {signed_with}"))?,
        payload: field("payload")?,
        signature: field("signature")?,
    };
    let key = VerifyKey::from_secret(scheme, &key).map_err(|e| e.to_string())?;
    // Without --nonce the signature is checked against the nonce the payload names; a server
    // passes the nonce it issued.
    let nonce = match args.get("nonce") {
        Some(n) => n.as_bytes().to_vec(),
        None => {
            let claimed =
                evidence::Evidence::from_json(&signed.payload).map_err(|e| e.to_string())?;
            evidence::unhex(&claimed.nonce).ok_or("the payload's nonce is not hex")?
        }
    };
    let record = evidence::verify(&signed, &key, &nonce).map_err(|e| e.to_string())?;
    let shown: Value = serde_json::from_str(&record.to_json()).map_err(|e| e.to_string())?;
    println!(
        "{}",
        serde_json::json!({
            "valid": true,
            "nonce_checked": args.get("nonce").is_some(),
            "evidence": shown,
        })
    );
    Ok(())
}
