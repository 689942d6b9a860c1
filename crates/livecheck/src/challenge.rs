//! What to ask of the user: the actions in order, or the digits to read, drawn from a
//! caller-supplied seed so that the same seed always gives the same challenge (a server that
//! issued the seed can recompute and check it).
//!
//! Draws use ChaCha8 (`rand_chacha`), whose output for a seed is fixed across platforms and
//! versions, unlike `StdRng`.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::{Error, Result};
use crate::signals::ActionKind;

/// Turns a server nonce of any length into a seed (64-bit FNV-1a; stable forever).
pub fn seed_from_nonce(nonce: &[u8]) -> u64 {
    nonce.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Draws `count` distinct actions from `pool` in random order (all of them when `count` equals
/// the pool size). The pool must be non-empty, without duplicates, and `count` within 1..=len.
pub fn plan_actions(pool: &[ActionKind], count: usize, seed: u64) -> Result<Vec<ActionKind>> {
    if pool.is_empty() || count == 0 || count > pool.len() {
        return Err(Error::InvalidConfig(format!(
            "cannot draw {count} actions from a pool of {}",
            pool.len()
        )));
    }
    if (1..pool.len()).any(|i| pool[..i].contains(&pool[i])) {
        return Err(Error::InvalidConfig(format!(
            "action pool has duplicates: {pool:?}"
        )));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut plan = pool.to_vec();
    plan.shuffle(&mut rng);
    plan.truncate(count);
    Ok(plan)
}

/// Whether a digit string is too easy to guess or to say by accident: all the same digit,
/// three or more of one digit, a run up or down (1234, 9876, 8901), or a repeated pair (1212).
pub fn is_guessable(digits: &str) -> bool {
    let d: Vec<i32> = digits.bytes().map(|b| (b - b'0') as i32).collect();
    if d.len() < 2 {
        return false;
    }
    let max_same = (0..10)
        .map(|k| d.iter().filter(|&&x| x == k).count())
        .max()
        .unwrap_or(0);
    let step = |s: i32| {
        d.windows(2)
            .all(|w| (w[1] - w[0]).rem_euclid(10) == s.rem_euclid(10))
    };
    let pair_repeat = d.len() == 4 && d[0] == d[2] && d[1] == d[3];
    max_same >= 3 || step(1) || step(-1) || pair_repeat || (d.len() == 2 && d[0] == d[1])
}

/// Draws `len` digits (2..=8) that are not [`is_guessable`].
pub fn plan_digits(len: usize, seed: u64) -> Result<String> {
    if !(2..=8).contains(&len) {
        return Err(Error::InvalidConfig(format!(
            "digit challenge length must be 2..=8, got {len}"
        )));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    loop {
        let s: String = (0..len)
            .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
            .collect();
        if !is_guessable(&s) {
            return Ok(s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ActionKind::*;

    #[test]
    fn same_seed_same_plan_and_both_orders_occur() {
        let a = plan_actions(&[Blink, Nod], 2, 42).unwrap();
        assert_eq!(a, plan_actions(&[Blink, Nod], 2, 42).unwrap());
        let firsts: std::collections::HashSet<_> = (0..64)
            .map(|s| plan_actions(&[Blink, Nod], 2, s).unwrap()[0])
            .collect();
        assert_eq!(firsts.len(), 2, "both orders are drawn");
    }

    #[test]
    fn count_limits_the_plan() {
        let p = plan_actions(&ActionKind::ALL, 3, 7).unwrap();
        assert_eq!(p.len(), 3);
        assert!(plan_actions(&[Blink], 2, 0).is_err());
        assert!(plan_actions(&[], 1, 0).is_err());
        assert!(plan_actions(&[Blink, Blink], 1, 0).is_err());
    }

    #[test]
    fn guessable_digit_strings() {
        for s in [
            "1111", "1234", "4321", "8901", "1212", "7770", "0000", "3210",
        ] {
            assert!(is_guessable(s), "{s}");
        }
        for s in ["4829", "1023", "5081", "9274"] {
            assert!(!is_guessable(s), "{s}");
        }
    }

    #[test]
    fn digits_are_reproducible_and_varied() {
        assert_eq!(plan_digits(4, 9).unwrap(), plan_digits(4, 9).unwrap());
        let all: std::collections::HashSet<_> =
            (0..200).map(|s| plan_digits(4, s).unwrap()).collect();
        assert!(all.len() > 190);
        assert!(all.iter().all(|d| d.len() == 4 && !is_guessable(d)));
        assert!(plan_digits(1, 0).is_err());
    }

    #[test]
    fn nonce_seed_is_stable() {
        assert_eq!(seed_from_nonce(b""), 0xcbf2_9ce4_8422_2325);
        assert_ne!(seed_from_nonce(b"a"), seed_from_nonce(b"b"));
    }
}
