//! Recovery keys: a keystore's master secret (and successor, if any) as one bech32m string with
//! the prefix `recovery`, in format v1 (32 bytes) or v2 (`2 || master || successor`).

use zeroize::Zeroizing;

/// The recovery key: the master secret as a bech32m string with prefix `recovery`.
pub fn recovery_key(master: &[u8; 32]) -> Zeroizing<String> {
    Zeroizing::new(consent_proto::ids::encode_text("recovery", master))
}

/// Parses a recovery key of format v1 (one master secret).
pub fn parse_recovery_key(text: &str) -> Result<Zeroizing<[u8; 32]>, String> {
    let bytes = consent_proto::ids::decode_text(text.trim(), "recovery")
        .map_err(|e| format!("not a recovery key: {e}"))?;
    Ok(Zeroizing::new(bytes))
}

/// Version byte of a format v2 recovery key.
const RECOVERY_V2: u8 = 2;

/// The recovery key of a keystore with a successor master secret (format v2): bech32m, prefix
/// `recovery`, over `2 || master || successor`.
pub fn recovery_key_v2(master: &[u8; 32], successor: &[u8; 32]) -> Zeroizing<String> {
    let mut data = Zeroizing::new(Vec::with_capacity(65));
    data.push(RECOVERY_V2);
    data.extend_from_slice(master);
    data.extend_from_slice(successor);
    let text = bech32::Hrp::parse("recovery")
        .ok()
        .and_then(|hrp| bech32::encode::<bech32::Bech32m>(hrp, &data).ok())
        .unwrap_or_default();
    Zeroizing::new(text)
}

/// What a recovery key restores.
pub struct Recovered {
    /// The master secret.
    pub master: Zeroizing<[u8; 32]>,
    /// The successor master secret (format v2 only).
    pub successor: Option<Zeroizing<[u8; 32]>>,
}

/// Parses a recovery key of either format.
pub fn parse_recovery(text: &str) -> Result<Recovered, String> {
    if let Ok(master) = parse_recovery_key(text) {
        return Ok(Recovered {
            master,
            successor: None,
        });
    }
    let checked = bech32::primitives::decode::CheckedHrpstring::new::<bech32::Bech32m>(text.trim())
        .map_err(|e| format!("not a recovery key: {e}"))?;
    if checked.hrp().to_lowercase() != "recovery" {
        return Err("not a recovery key: it does not start with recovery1".into());
    }
    let data = Zeroizing::new(checked.byte_iter().collect::<Vec<u8>>());
    if data.len() != 65 || data[0] != RECOVERY_V2 {
        return Err(format!(
            "not a recovery key: {} bytes (32, or 65 of format 2)",
            data.len()
        ));
    }
    let mut master = Zeroizing::new([0u8; 32]);
    let mut successor = Zeroizing::new([0u8; 32]);
    master.copy_from_slice(&data[1..33]);
    successor.copy_from_slice(&data[33..65]);
    Ok(Recovered {
        master,
        successor: Some(successor),
    })
}
