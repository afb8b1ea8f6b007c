//! ECDSA P-256 verification against a signer key that is used again and again.
//!
//! A verifier checks `x(u1·G + u2·Q) ≡ r (mod n)`. A general library computes `u2·Q` with
//! 256 doublings, because it sees each key `Q` once. A gate sees the same few dozen signer
//! keys for years, so this module computes, once per key, the multiples `d·2^(6i)·Q` for
//! every 6-bit window `i` and digit `d` (and the same for `G`), after which both products are
//! sums of table entries: 86 additions and no doubling. That is about three times fewer
//! field multiplications than the general method (docs/BENCHMARKS.md has the figures).
//!
//! Everything here works on public values (the key, the message, the signature), so nothing
//! needs to run in constant time. Field and scalar arithmetic are Montgomery multiplication on
//! four 64-bit limbs, least significant first. The curve and its constants are those of
//! SEC 2 §2.4.2 (FIPS 186-4 §D.1.2.3); the Montgomery constants are derived from them here
//! rather than written out.

use std::sync::{LazyLock, OnceLock};

use sha2::{Digest, Sha256};

/// A 256-bit number, four 64-bit limbs, least significant first.
type Limbs = [u64; 4];

/// The field prime p = 2^256 − 2^224 + 2^192 + 2^96 − 1.
const P: Limbs = [
    0xffff_ffff_ffff_ffff,
    0x0000_0000_ffff_ffff,
    0x0000_0000_0000_0000,
    0xffff_ffff_0000_0001,
];
/// The group order n.
const N: Limbs = [
    0xf3b9_cac2_fc63_2551,
    0xbce6_faad_a717_9e84,
    0xffff_ffff_ffff_ffff,
    0xffff_ffff_0000_0000,
];
/// The base point G, big-endian coordinates.
const G_X: [u8; 32] = hex32("6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296");
const G_Y: [u8; 32] = hex32("4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5");

/// Bits per window of a scalar, and the windows a scalar below n needs once its digits are
/// signed (each digit in −32..=32, so that a table holds 32 multiples, not 63).
const WINDOW: usize = 6;
const WINDOWS: usize = 43;
const ENTRIES: usize = 1 << (WINDOW - 1);

/// Arithmetic modulo an odd 256-bit modulus above 2^255, in Montgomery form (R = 2^256).
struct Modulus {
    m: Limbs,
    /// −m⁻¹ mod 2^64.
    m_inv: u64,
    /// R² mod m, to bring a number into Montgomery form.
    r2: Limbs,
}

impl Modulus {
    /// The constants for `m`, worked out when the program is compiled.
    const fn new(m: Limbs) -> Modulus {
        // Newton's iteration doubles the correct low bits of m⁻¹ mod 2^64 each step.
        let mut inv: u64 = 1;
        let mut step = 0;
        while step < 6 {
            inv = inv.wrapping_mul(2u64.wrapping_sub(m[0].wrapping_mul(inv)));
            step += 1;
        }
        // R mod m is 2^256 − m, as m > 2^255; 256 doublings make it R² mod m.
        let mut r2 = sub_limbs(&[0; 4], &m).0;
        let mut modulus = Modulus {
            m,
            m_inv: inv.wrapping_neg(),
            r2: [0; 4],
        };
        let mut doubling = 0;
        while doubling < 256 {
            r2 = modulus.add(&r2, &r2);
            doubling += 1;
        }
        modulus.r2 = r2;
        modulus
    }

    const fn add(&self, a: &Limbs, b: &Limbs) -> Limbs {
        let (sum, carry) = add_limbs(a, b);
        if carry || !less(&sum, &self.m) {
            sub_limbs(&sum, &self.m).0
        } else {
            sum
        }
    }

    fn sub(&self, a: &Limbs, b: &Limbs) -> Limbs {
        let (difference, borrow) = sub_limbs(a, b);
        if borrow {
            add_limbs(&difference, &self.m).0
        } else {
            difference
        }
    }

    /// a·b·R⁻¹ mod m, for a and b below m (CIOS Montgomery multiplication).
    fn mul(&self, a: &Limbs, b: &Limbs) -> Limbs {
        let mut t = [0u64; 6];
        for &ai in a {
            let mut carry = 0u64;
            for j in 0..4 {
                let v = u128::from(t[j]) + u128::from(ai) * u128::from(b[j]) + u128::from(carry);
                t[j] = v as u64;
                carry = (v >> 64) as u64;
            }
            let v = u128::from(t[4]) + u128::from(carry);
            t[4] = v as u64;
            t[5] = (v >> 64) as u64;
            let q = t[0].wrapping_mul(self.m_inv);
            let v = u128::from(t[0]) + u128::from(q) * u128::from(self.m[0]);
            let mut carry = (v >> 64) as u64;
            for j in 1..4 {
                let v =
                    u128::from(t[j]) + u128::from(q) * u128::from(self.m[j]) + u128::from(carry);
                t[j - 1] = v as u64;
                carry = (v >> 64) as u64;
            }
            let v = u128::from(t[4]) + u128::from(carry);
            t[3] = v as u64;
            t[4] = t[5] + (v >> 64) as u64;
        }
        let low = [t[0], t[1], t[2], t[3]];
        if t[4] != 0 || !less(&low, &self.m) {
            sub_limbs(&low, &self.m).0
        } else {
            low
        }
    }

    fn sqr(&self, a: &Limbs) -> Limbs {
        self.mul(a, a)
    }

    fn to_mont(&self, a: &Limbs) -> Limbs {
        self.mul(a, &self.r2)
    }

    /// a·R⁻¹ mod m: a number out of Montgomery form.
    fn redc(&self, a: &Limbs) -> Limbs {
        self.mul(a, &[1, 0, 0, 0])
    }

    /// a⁻¹ in Montgomery form, for a non-zero a in Montgomery form: a^(m−2), by 4-bit
    /// windows of the exponent.
    fn invert(&self, a: &Limbs) -> Limbs {
        let exponent = sub_limbs(&self.m, &[2, 0, 0, 0]).0;
        let one = self.to_mont(&[1, 0, 0, 0]);
        let mut powers = [one; 16];
        for k in 1..16 {
            powers[k] = self.mul(&powers[k - 1], a);
        }
        let mut result = one;
        for limb in exponent.iter().rev() {
            for nibble in (0..16).rev() {
                for _ in 0..4 {
                    result = self.sqr(&result);
                }
                let digit = (limb >> (4 * nibble)) & 0xf;
                if digit != 0 {
                    result = self.mul(&result, &powers[digit as usize]);
                }
            }
        }
        result
    }
}

/// Constants, so that the compiler multiplies by the moduli's limbs as known numbers (one
/// of p's is zero) instead of reading them at run time.
const FIELD: Modulus = Modulus::new(P);
const ORDER: Modulus = Modulus::new(N);

const fn add_limbs(a: &Limbs, b: &Limbs) -> (Limbs, bool) {
    let mut out = [0u64; 4];
    let mut carry = false;
    let mut i = 0;
    while i < 4 {
        let (s, c1) = a[i].overflowing_add(b[i]);
        let (s, c2) = s.overflowing_add(carry as u64);
        out[i] = s;
        carry = c1 || c2;
        i += 1;
    }
    (out, carry)
}

const fn sub_limbs(a: &Limbs, b: &Limbs) -> (Limbs, bool) {
    let mut out = [0u64; 4];
    let mut borrow = false;
    let mut i = 0;
    while i < 4 {
        let (d, b1) = a[i].overflowing_sub(b[i]);
        let (d, b2) = d.overflowing_sub(borrow as u64);
        out[i] = d;
        borrow = b1 || b2;
        i += 1;
    }
    (out, borrow)
}

const fn less(a: &Limbs, b: &Limbs) -> bool {
    let mut i = 4;
    while i > 0 {
        i -= 1;
        if a[i] != b[i] {
            return a[i] < b[i];
        }
    }
    false
}

fn is_zero(a: &Limbs) -> bool {
    a.iter().all(|&l| l == 0)
}

fn from_be(bytes: &[u8; 32]) -> Limbs {
    let mut out = [0u64; 4];
    for (i, chunk) in bytes.chunks_exact(8).enumerate() {
        let mut limb = [0u8; 8];
        limb.copy_from_slice(chunk);
        out[3 - i] = u64::from_be_bytes(limb);
    }
    out
}

const fn hex32(s: &str) -> [u8; 32] {
    let s = s.as_bytes();
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        out[i] = (nibble(s[2 * i]) << 4) | nibble(s[2 * i + 1]);
        i += 1;
    }
    out
}

const fn nibble(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => 0,
    }
}

/// A point in affine coordinates, in Montgomery form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Affine {
    x: Limbs,
    y: Limbs,
}

/// A point in Jacobian coordinates (x = X/Z², y = Y/Z³), in Montgomery form; Z = 0 is the
/// point at infinity.
#[derive(Clone, Copy, Debug)]
struct Jacobian {
    x: Limbs,
    y: Limbs,
    z: Limbs,
}

impl Jacobian {
    const INFINITY: Jacobian = Jacobian {
        x: [0; 4],
        y: [0; 4],
        z: [0; 4],
    };

    fn from_affine(p: &Affine) -> Jacobian {
        Jacobian {
            x: p.x,
            y: p.y,
            z: FIELD.to_mont(&[1, 0, 0, 0]),
        }
    }

    fn is_infinity(&self) -> bool {
        is_zero(&self.z)
    }

    /// 2·self, for a curve with a = −3 ("dbl-2001-b").
    fn double(&self) -> Jacobian {
        let f = &FIELD;
        if self.is_infinity() || is_zero(&self.y) {
            return Jacobian::INFINITY;
        }
        let delta = f.sqr(&self.z);
        let gamma = f.sqr(&self.y);
        let beta = f.mul(&self.x, &gamma);
        let t = f.mul(&f.sub(&self.x, &delta), &f.add(&self.x, &delta));
        let alpha = f.add(&f.add(&t, &t), &t);
        let beta4 = f.add(&f.add(&beta, &beta), &f.add(&beta, &beta));
        let beta8 = f.add(&beta4, &beta4);
        let x = f.sub(&f.sqr(&alpha), &beta8);
        let yz = f.add(&self.y, &self.z);
        let z = f.sub(&f.sub(&f.sqr(&yz), &gamma), &delta);
        let gamma2 = f.sqr(&gamma);
        let gamma2_8 = {
            let g2 = f.add(&gamma2, &gamma2);
            let g4 = f.add(&g2, &g2);
            f.add(&g4, &g4)
        };
        let y = f.sub(&f.mul(&alpha, &f.sub(&beta4, &x)), &gamma2_8);
        Jacobian { x, y, z }
    }

    /// self + q, for q in affine coordinates (8 multiplications and 3 squarings). Adding a
    /// point to itself is a doubling, and to its negation the point at infinity.
    fn add_affine(&self, q: &Affine) -> Jacobian {
        let f = &FIELD;
        if self.is_infinity() {
            return Jacobian::from_affine(q);
        }
        let z1z1 = f.sqr(&self.z);
        let u2 = f.mul(&q.x, &z1z1);
        let s2 = f.mul(&q.y, &f.mul(&self.z, &z1z1));
        let h = f.sub(&u2, &self.x);
        let r = f.sub(&s2, &self.y);
        if is_zero(&h) {
            return if is_zero(&r) {
                self.double()
            } else {
                Jacobian::INFINITY
            };
        }
        let hh = f.sqr(&h);
        let hhh = f.mul(&h, &hh);
        let v = f.mul(&self.x, &hh);
        let x = f.sub(&f.sub(&f.sqr(&r), &hhh), &f.add(&v, &v));
        let y = f.sub(&f.mul(&r, &f.sub(&v, &x)), &f.mul(&self.y, &hhh));
        let z = f.mul(&self.z, &h);
        Jacobian { x, y, z }
    }
}

/// Turns points to affine coordinates with one inversion for all (Montgomery's trick). No
/// point may be at infinity.
fn normalize(points: &[Jacobian]) -> Vec<Affine> {
    let f = &FIELD;
    let mut prefix = Vec::with_capacity(points.len());
    let mut acc = f.to_mont(&[1, 0, 0, 0]);
    for p in points {
        prefix.push(acc);
        acc = f.mul(&acc, &p.z);
    }
    let mut inv = f.invert(&acc);
    let mut out = vec![
        Affine {
            x: [0; 4],
            y: [0; 4]
        };
        points.len()
    ];
    for (i, p) in points.iter().enumerate().rev() {
        let z_inv = f.mul(&inv, &prefix[i]);
        inv = f.mul(&inv, &p.z);
        let z_inv2 = f.sqr(&z_inv);
        out[i] = Affine {
            x: f.mul(&p.x, &z_inv2),
            y: f.mul(&p.y, &f.mul(&z_inv2, &z_inv)),
        };
    }
    out
}

/// The multiples `d·2^(6i)·P` for `d` in 1..=32 and every window `i`: what makes a scalar
/// multiple of P a sum of [`WINDOWS`] table entries.
struct Table(Vec<[Affine; ENTRIES]>);

impl Table {
    fn of(point: &Affine) -> Table {
        let mut windows = Vec::with_capacity(WINDOWS);
        let mut base = *point;
        for _ in 0..WINDOWS {
            let mut multiples = Vec::with_capacity(ENTRIES + 1);
            let mut acc = Jacobian::from_affine(&base);
            multiples.push(acc);
            for _ in 1..ENTRIES {
                acc = acc.add_affine(&base);
                multiples.push(acc);
            }
            // 2^6·base = 2·(32·base), the next window's base.
            multiples.push(acc.double());
            let affine = normalize(&multiples);
            let mut entries = [affine[0]; ENTRIES];
            entries.copy_from_slice(&affine[..ENTRIES]);
            windows.push(entries);
            base = affine[ENTRIES];
        }
        Table(windows)
    }

    /// Adds `d·2^(6i)·P` for each signed digit `d` of window `i` to `acc`.
    fn add_multiple(&self, acc: Jacobian, digits: &[i8; WINDOWS]) -> Jacobian {
        let f = &FIELD;
        let mut acc = acc;
        for (window, &digit) in self.0.iter().zip(digits) {
            if digit == 0 {
                continue;
            }
            let entry = &window[usize::from(digit.unsigned_abs()) - 1];
            acc = if digit > 0 {
                acc.add_affine(entry)
            } else {
                acc.add_affine(&Affine {
                    x: entry.x,
                    y: f.sub(&[0; 4], &entry.y),
                })
            };
        }
        acc
    }
}

/// The signed 6-bit digits of a scalar below n: `k = Σ d_i·2^(6i)`, each `d_i` in −32..=32.
fn digits(k: &Limbs) -> [i8; WINDOWS] {
    let bit = |i: usize| -> u64 {
        if i >= 256 {
            0
        } else {
            (k[i / 64] >> (i % 64)) & 1
        }
    };
    let mut out = [0i8; WINDOWS];
    let mut carry = 0;
    for (w, digit) in out.iter_mut().enumerate() {
        let raw = (0..WINDOW).fold(carry, |sum, b| sum + (bit(w * WINDOW + b) << b));
        // At most 64. Above 32 it is taken as raw − 64 with one carried into the next
        // window; the top window holds bits 252..255 of a scalar below n, at most 16 with
        // its carry, so nothing carries out of it.
        carry = u64::from(raw > 32);
        *digit = (raw as i8).wrapping_sub(64 * carry as i8);
    }
    out
}

static G_TABLE: LazyLock<Table> = LazyLock::new(|| {
    let f = &FIELD;
    Table::of(&Affine {
        x: f.to_mont(&from_be(&G_X)),
        y: f.to_mont(&from_be(&G_Y)),
    })
});

/// A P-256 public key, with its table once it has checked a signature.
pub(crate) struct VerifyingKey {
    point: Affine,
    /// Made on first use: 88 KB and about a millisecond, spent only on keys that sign.
    table: OnceLock<Table>,
}

impl VerifyingKey {
    /// The key from its uncompressed SEC 1 encoding (`04 || x || y`), if it is a point of
    /// the curve other than the point at infinity.
    pub(crate) fn from_sec1(point: &[u8]) -> Option<VerifyingKey> {
        let f = &FIELD;
        let (&tag, xy) = point.split_first()?;
        if tag != 4 || xy.len() != 64 {
            return None;
        }
        let x = from_be(xy[..32].try_into().ok()?);
        let y = from_be(xy[32..].try_into().ok()?);
        if !less(&x, &P) || !less(&y, &P) {
            return None;
        }
        let (x, y) = (f.to_mont(&x), f.to_mont(&y));
        // y² = x³ − 3x + b.
        let b = f.to_mont(&from_be(&hex32(
            "5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b",
        )));
        let x3 = f.mul(&f.sqr(&x), &x);
        let three_x = f.add(&f.add(&x, &x), &x);
        if f.sqr(&y) != f.add(&f.sub(&x3, &three_x), &b) {
            return None;
        }
        Some(VerifyingKey {
            point: Affine { x, y },
            table: OnceLock::new(),
        })
    }

    /// Whether `signature` (`r || s`, 32 bytes each, RFC 9053 §2.1) is this key's ECDSA
    /// signature over SHA-256 of `message` (FIPS 186-4 §6.4.2).
    pub(crate) fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        let Ok(signature) = <&[u8; 64]>::try_from(signature) else {
            return false;
        };
        let (r, s) = signature.split_at(32);
        let (Ok(r), Ok(s)) = (<&[u8; 32]>::try_from(r), <&[u8; 32]>::try_from(s)) else {
            return false;
        };
        let (r, s) = (from_be(r), from_be(s));
        if is_zero(&r) || is_zero(&s) || !less(&r, &N) || !less(&s, &N) {
            return false;
        }
        let digest: [u8; 32] = Sha256::digest(message).into();
        let mut e = from_be(&digest);
        if !less(&e, &N) {
            e = sub_limbs(&e, &N).0;
        }
        let order = &ORDER;
        // s⁻¹ in Montgomery form; multiplying a plain number by it gives a plain product.
        let w = order.invert(&order.to_mont(&s));
        let u1 = order.mul(&e, &w);
        let u2 = order.mul(&r, &w);
        let sum = G_TABLE.add_multiple(Jacobian::INFINITY, &digits(&u1));
        let table = self.table.get_or_init(|| Table::of(&self.point));
        let sum = table.add_multiple(sum, &digits(&u2));
        if sum.is_infinity() {
            return false;
        }
        // x(sum) = X/Z² ≡ r (mod n): compare X with r·Z², and with (r + n)·Z² when r + n is
        // still a field element (x may lie between n and p).
        let f = &FIELD;
        let z2 = f.sqr(&sum.z);
        let x = f.redc(&sum.x);
        if f.mul(&r, &z2) == x {
            return true;
        }
        let (r_plus_n, carry) = add_limbs(&r, &N);
        !carry && less(&r_plus_n, &P) && f.mul(&r_plus_n, &z2) == x
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{
        ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair,
        UnparsedPublicKey,
    };
    use proptest::prelude::*;

    use super::*;

    fn g() -> Affine {
        Affine {
            x: FIELD.to_mont(&from_be(&G_X)),
            y: FIELD.to_mont(&from_be(&G_Y)),
        }
    }

    fn affine(p: &Jacobian) -> Affine {
        normalize(std::slice::from_ref(p))[0]
    }

    #[test]
    fn montgomery_constants_are_consistent() {
        for m in [&FIELD, &ORDER] {
            assert_eq!(m.m[0].wrapping_mul(m.m_inv), u64::MAX, "m·m' ≡ −1");
            let x = [0x0123_4567_89ab_cdef, 7, 0, 1];
            assert_eq!(m.redc(&m.to_mont(&x)), x);
            let xm = m.to_mont(&x);
            let one = m.to_mont(&[1, 0, 0, 0]);
            assert_eq!(m.mul(&xm, &m.invert(&xm)), one);
        }
        // 2^256 mod p, the Montgomery form of 1, is 2^224 − 2^192 − 2^96 + 1.
        assert_eq!(
            FIELD.to_mont(&[1, 0, 0, 0]),
            [
                1,
                0xffff_ffff_0000_0000,
                0xffff_ffff_ffff_ffff,
                0x0000_0000_ffff_fffe
            ]
        );
    }

    #[test]
    fn the_base_point_is_on_the_curve_and_of_order_n() {
        let mut sec1 = vec![4];
        sec1.extend_from_slice(&G_X);
        sec1.extend_from_slice(&G_Y);
        assert!(VerifyingKey::from_sec1(&sec1).is_some());
        // (n − 1)·G = −G.
        let minus_one = sub_limbs(&N, &[1, 0, 0, 0]).0;
        let p = affine(&G_TABLE.add_multiple(Jacobian::INFINITY, &digits(&minus_one)));
        assert_eq!(p.x, g().x);
        assert_eq!(p.y, FIELD.sub(&[0; 4], &g().y));
        // n·G is the point at infinity: −G + G.
        let sum = G_TABLE
            .add_multiple(Jacobian::INFINITY, &digits(&minus_one))
            .add_affine(&g());
        assert!(sum.is_infinity());
    }

    #[test]
    fn adding_a_point_to_itself_doubles_it() {
        let g = g();
        let doubled = affine(&Jacobian::from_affine(&g).double());
        assert_eq!(affine(&Jacobian::from_affine(&g).add_affine(&g)), doubled);
        // 2·G by the table: digit 2 in the first window.
        let mut two = [0i8; WINDOWS];
        two[0] = 2;
        assert_eq!(
            affine(&G_TABLE.add_multiple(Jacobian::INFINITY, &two)),
            doubled
        );
        // 64·G from the second window equals six doublings.
        let mut p = Jacobian::from_affine(&g);
        for _ in 0..6 {
            p = p.double();
        }
        let mut one_up = [0i8; WINDOWS];
        one_up[1] = 1;
        assert_eq!(
            affine(&G_TABLE.add_multiple(Jacobian::INFINITY, &one_up)),
            affine(&p)
        );
    }

    #[test]
    fn digits_carry_and_stay_in_range() {
        for k in [
            [0u64; 4],
            [1, 0, 0, 0],
            [63, 0, 0, 0],
            [33, 0, 0, 0],
            sub_limbs(&N, &[1, 0, 0, 0]).0,
            [u64::MAX, u64::MAX, u64::MAX, 0x0fff_ffff_ffff_ffff],
        ] {
            let d = digits(&k);
            assert!(d.iter().all(|&x| (-32..=32).contains(&x)), "{d:?}");
            // Σ d_i·2^(6i) = k: from the top window down, acc = 64·acc + d, in five 64-bit
            // limbs of two's complement.
            let mut acc = [0u64; 5];
            for &digit in d.iter().rev() {
                let mut shifted_out = 0;
                for limb in acc.iter_mut() {
                    let next = *limb >> 58;
                    *limb = (*limb << 6) | shifted_out;
                    shifted_out = next;
                }
                let sign = if digit < 0 { u64::MAX } else { 0 };
                let mut carry = false;
                for (i, limb) in acc.iter_mut().enumerate() {
                    let addend = if i == 0 {
                        i64::from(digit) as u64
                    } else {
                        sign
                    };
                    let (s1, c1) = limb.overflowing_add(addend);
                    let (s2, c2) = s1.overflowing_add(u64::from(carry));
                    *limb = s2;
                    carry = c1 || c2;
                }
            }
            assert_eq!(&acc[..4], &k, "digits of {k:x?}: {d:?}");
            assert_eq!(acc[4], 0);
        }
    }

    #[test]
    fn malformed_points_are_refused() {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let good = pair.public_key().as_ref().to_vec();
        assert!(VerifyingKey::from_sec1(&good).is_some());
        let mut off_curve = good.clone();
        off_curve[64] ^= 1;
        assert!(VerifyingKey::from_sec1(&off_curve).is_none());
        let mut wrong_tag = good.clone();
        wrong_tag[0] = 3;
        assert!(VerifyingKey::from_sec1(&wrong_tag).is_none());
        assert!(VerifyingKey::from_sec1(&good[..64]).is_none());
        assert!(VerifyingKey::from_sec1(&[]).is_none());
        // x = p: outside the field even though x mod p would be a valid coordinate.
        let mut too_big = vec![4];
        too_big.extend_from_slice(&hex32(
            "ffffffff00000001000000000000000000000000ffffffffffffffffffffffff",
        ));
        too_big.extend_from_slice(&G_Y);
        assert!(VerifyingKey::from_sec1(&too_big).is_none());
    }

    #[test]
    fn out_of_range_signatures_are_refused() {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let key = VerifyingKey::from_sec1(pair.public_key().as_ref()).unwrap();
        let sig = pair.sign(&SystemRandom::new(), b"m").unwrap();
        let sig = sig.as_ref();
        assert!(key.verify(b"m", sig));
        let n_bytes = hex32("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
        for (r, s) in [
            ([0u8; 32].as_slice(), &sig[32..]),
            (&sig[..32], [0u8; 32].as_slice()),
            (n_bytes.as_slice(), &sig[32..]),
            (&sig[..32], n_bytes.as_slice()),
        ] {
            let forged = [r, s].concat();
            assert!(!key.verify(b"m", &forged));
        }
        assert!(!key.verify(b"m", &sig[..63]));
        assert!(!key.verify(b"m", &[sig, &[0]].concat()));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Agrees with aws-lc-rs on genuine signatures, on other messages, and on signatures
        /// with a bit flipped.
        #[test]
        fn agrees_with_aws_lc(message in proptest::collection::vec(any::<u8>(), 0..200),
                              flip in 0usize..512) {
            let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
            let point = pair.public_key().as_ref();
            let ours = VerifyingKey::from_sec1(point).unwrap();
            let theirs = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point);
            let sig = pair.sign(&SystemRandom::new(), &message).unwrap().as_ref().to_vec();
            prop_assert!(ours.verify(&message, &sig));
            prop_assert!(theirs.verify(&message, &sig).is_ok());
            let mut other = message.clone();
            other.push(1);
            prop_assert!(!ours.verify(&other, &sig));
            let mut bent = sig.clone();
            bent[flip / 8] ^= 1 << (flip % 8);
            prop_assert_eq!(ours.verify(&message, &bent), theirs.verify(&message, &bent).is_ok());
            prop_assert!(!ours.verify(&message, &bent));
        }
    }
}
