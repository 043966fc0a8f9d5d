//! Generated identifiers in AWS's shapes: `AKIA…` access keys, `AROA…` role ids, `AIDA…` user
//! ids, `ANPA…` policy ids, and secret access keys.

use rand::Rng;

const BASE32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const SECRET_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn random_from(alphabet: &[u8], len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| alphabet[rng.random_range(0..alphabet.len())] as char)
        .collect()
}

/// A prefixed 20-character identifier such as `AKIA` + 16 base32 characters.
pub fn prefixed(prefix: &str) -> String {
    let mut s = String::with_capacity(21);
    s.push_str(prefix);
    s.push_str(&random_from(BASE32, 20 - prefix.len().min(20)));
    s
}

pub fn access_key_id() -> String {
    prefixed("AKIA")
}

pub fn role_id() -> String {
    prefixed("AROA")
}

pub fn user_id() -> String {
    prefixed("AIDA")
}

pub fn policy_id() -> String {
    prefixed("ANPA")
}

/// A 40-character secret access key.
pub fn secret_access_key() -> String {
    random_from(SECRET_ALPHABET, 40)
}

#[cfg(test)]
mod tests {
    #[test]
    fn shapes() {
        let k = super::access_key_id();
        assert_eq!(k.len(), 20);
        assert!(k.starts_with("AKIA"));
        assert_eq!(super::secret_access_key().len(), 40);
        assert_ne!(super::role_id(), super::role_id());
    }
}
