//! The hash of a string's contents: a polynomial in a fixed base, modulo
//! the Mersenne prime 2^61 - 1, so that the hash of a concatenation is
//! computed from its operands' hashes in constant time (Karp-Rabin).
//!
//! A string of bytes `c[0] .. c[n-1]` hashes to
//! `d[0]·B^(n-1) + d[1]·B^(n-2) + ... + d[n-1]` mod `P`, where each digit
//! `d[i]` is `c[i] + 1` (were it `c[i]`, a string and the same string after
//! a NUL byte would hash alike), so
//! `hash(a + b) = hash(a)·B^len(b) + hash(b)` mod `P`
//! ([`concat`]). Concatenation is the one way a running Lox program makes
//! strings, and every string is interned, so without this every `+` of
//! strings hashed its whole result again: most of the time of a program
//! that builds strings piece by piece (`bench/strings.lox`).
//!
//! Two different strings of at most `n` bytes collide for at most `n` of
//! the `P` possible bases, so for contents not chosen against the base the
//! chance is below `n / 2^61`. The base is fixed, as foldhash's seed was
//! before it: a program's behaviour, and the order of anything hashed, is
//! the same in every run.
//!
//! The value is uniform below `P` but not a good hash for a SwissTable,
//! which takes its tag from the top 7 bits (always 0 here): those tables
//! (`table.rs`) use [`spread`] of it. The table of interned strings
//! (`intern.rs`) indexes by its low bits as they are.

/// The modulus: the Mersenne prime 2^61 - 1, for which reduction is a
/// shift and an add.
const P: u64 = (1 << 61) - 1;
/// The base: fixed, odd, below `P`, with no short period (drawn at random).
const BASE: u64 = 0x0d5a_9e3f_27c1_84b3;
/// `BASE^k` mod `P` for `k` up to this: the lengths a concatenation's
/// right operand has without exponentiation.
const POWERS_KNOWN: usize = 256;
/// `BASE^k` mod `P` for `k` in `0..=POWERS_KNOWN`.
static POWERS: [u64; POWERS_KNOWN + 1] = powers();

const _: () = assert!(BASE < P && BASE % 2 == 1);

/// The hash of `bytes` (see the module doc).
pub(crate) fn hash(bytes: &[u8]) -> u64 {
    let mut chunks = bytes.chunks_exact(8);
    let mut h = 0;
    // Eight bytes a step: `h·B^8 + Σ c[i]·B^(7-i)`, one reduction. The
    // products are independent, so the step is not a chain of eight
    // multiplications. The sum is below 2^122 + 8·2^70.
    for chunk in &mut chunks {
        let mut sum = u128::from(h) * u128::from(POWERS[8]);
        for (i, &byte) in chunk.iter().enumerate() {
            sum += u128::from(digit(byte)) * u128::from(POWERS[7 - i]);
        }
        h = reduce(sum);
    }
    for &byte in chunks.remainder() {
        h = reduce(u128::from(h) * u128::from(BASE) + u128::from(digit(byte)));
    }
    h
}

/// A byte's digit in the polynomial: never 0 (see the module doc).
#[inline(always)]
fn digit(byte: u8) -> u64 {
    u64::from(byte) + 1
}

/// The hash of `a + b`, from `a`'s hash, `b`'s hash and `b`'s length in
/// bytes.
#[inline]
pub(crate) fn concat(a: u64, b: u64, b_len: usize) -> u64 {
    reduce(u128::from(a) * u128::from(power(b_len)) + u128::from(b))
}

/// A hash for a SwissTable from a string's [`hash`]: every bit of the
/// result depends on every bit of the hash (a folded multiply).
#[inline(always)]
pub(crate) fn spread(hash: u64) -> u64 {
    let product = u128::from(hash) * 0x9e37_79b9_7f4a_7c15;
    (product as u64) ^ ((product >> 64) as u64)
}

/// `BASE^k` mod `P`.
#[inline]
fn power(k: usize) -> u64 {
    if k <= POWERS_KNOWN {
        return POWERS[k];
    }
    // Square and multiply, from the table's largest power.
    let (mut result, mut factor, mut rest) = (1u64, POWERS[1], k);
    while rest > 0 {
        if rest & 1 == 1 {
            result = multiply(result, factor);
        }
        factor = multiply(factor, factor);
        rest >>= 1;
    }
    result
}

const fn multiply(a: u64, b: u64) -> u64 {
    reduce(a as u128 * b as u128)
}

/// `x` mod `P`, for `x` below 2^123: the canonical residue, below `P`, so
/// equal contents always give equal hashes however they were summed.
#[inline(always)]
const fn reduce(x: u128) -> u64 {
    // 2^61 ≡ 1 (mod P): fold the bits above 61 onto those below, twice.
    let folded = (x as u64 & P) + (x >> 61) as u64; // below 2^61 + 2^62
    let folded = (folded & P) + (folded >> 61); // at most P + 3
    if folded >= P { folded - P } else { folded }
}

const fn powers() -> [u64; POWERS_KNOWN + 1] {
    let mut table = [1u64; POWERS_KNOWN + 1];
    let mut k = 1;
    while k <= POWERS_KNOWN {
        table[k] = multiply(table[k - 1], BASE);
        k += 1;
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition, one byte at a time, to check the fast paths by.
    fn horner(bytes: &[u8]) -> u64 {
        let step = |h: u64, &c: &u8| {
            (u128::from(h) * u128::from(BASE) + u128::from(c) + 1) % u128::from(P)
        };
        bytes.iter().fold(0, |h, c| step(h, c) as u64)
    }

    fn text(len: usize, seed: u64) -> Vec<u8> {
        let mut state = seed;
        (0..len)
            .map(|_| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                (state >> 56) as u8
            })
            .collect()
    }

    #[test]
    fn hash_is_the_polynomial() {
        for len in [0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 300] {
            let bytes = text(len, len as u64);
            assert_eq!(hash(&bytes), horner(&bytes), "length {len}");
        }
        assert_eq!(hash(&[0xff; 100]), horner(&[0xff; 100]));
    }

    #[test]
    fn concatenation_hashes_from_the_operands() {
        let bytes = text(700, 7);
        for split in (0..=bytes.len()).step_by(13).chain([255, 256, 257, 512, 700]) {
            let (a, b) = bytes.split_at(split);
            assert_eq!(concat(hash(a), hash(b), b.len()), hash(&bytes), "split at {split}");
        }
    }

    #[test]
    fn powers_past_the_table_match_it() {
        let mut expected = POWERS[POWERS_KNOWN];
        for k in POWERS_KNOWN + 1..POWERS_KNOWN + 70 {
            expected = multiply(expected, BASE);
            assert_eq!(power(k), expected, "B^{k}");
        }
        assert_eq!(power(0), 1);
    }

    #[test]
    fn reduction_is_canonical() {
        assert_eq!(reduce(u128::from(P)), 0);
        assert_eq!(reduce(u128::from(P) + 5), 5);
        assert_eq!(reduce(u128::from(P - 1)), P - 1);
        let largest = u128::from(P - 1) * u128::from(P - 1) + 8 * 256 * u128::from(P - 1);
        assert_eq!(u128::from(reduce(largest)), largest % u128::from(P));
    }

    #[test]
    fn short_strings_do_not_collide() {
        // Every string of up to two bytes has its own hash and spread hash,
        // with NUL bytes too.
        let mut seen = std::collections::HashSet::new();
        seen.insert(spread(hash(b"")));
        for a in 0..=255u8 {
            assert!(seen.insert(spread(hash(&[a]))));
            for b in 0..=255u8 {
                assert!(seen.insert(spread(hash(&[a, b]))));
            }
        }
    }
}
