//! Voting power for committees of unequal power, drawn per seed so that the
//! quorum (more than 2/3 of the total power) sits exactly at or just around
//! what the honest validators hold. With equal power and n = 3f + 1 the
//! honest validators always hold exactly a quorum and 2/3 of the total is
//! never a whole number, so an off-by-one at exactly 2/3, or power counted
//! per validator instead of per unit, could not show. Every shape keeps the
//! Byzantine validators strictly below 1/3 of the total.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// How a seed's powers relate the honest validators to the quorum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// Every validator holds power 1.
    Equal,
    /// The Byzantine validators hold the largest power below 1/3 of the
    /// total, so the honest ones hold exactly a quorum: every QC and TC
    /// after healing needs every honest validator.
    ExactF,
    /// The honest validators without the largest of them hold one unit less
    /// than a quorum, so that one validator is in every honest quorum; half
    /// the time the total is a multiple of 3 (2/3 of it is whole, and not a
    /// quorum).
    Pivotal,
    /// The Byzantine validators hold a little less than they could, leaving
    /// the honest ones a unit or two above a quorum.
    Near,
}

/// The smallest power that is more than 2/3 of `total` (as `ValidatorSet`).
fn quorum(total: u64) -> u64 {
    total * 2 / 3 + 1
}

/// Splits `sum` into `parts` powers, each in `1..=max` (`parts <= sum <= parts * max`).
fn split(rng: &mut ChaCha8Rng, sum: u64, parts: usize, max: u64) -> Vec<u64> {
    assert!(
        parts as u64 <= sum && sum <= parts as u64 * max,
        "cannot split {sum}"
    );
    let mut out = vec![1; parts];
    let mut left = sum - parts as u64;
    while left > 0 {
        let k = rng.gen_range(0..parts);
        if out[k] < max {
            out[k] += 1;
            left -= 1;
        }
    }
    out
}

/// Powers for a committee where `byzantine[v]` marks the Byzantine
/// validators; `unequal` false gives everyone power 1.
pub fn draw(rng: &mut ChaCha8Rng, byzantine: &[bool], unequal: bool) -> (Vec<u64>, Shape) {
    let nb = byzantine.iter().filter(|b| **b).count();
    let nh = byzantine.len() - nb;
    if !unequal || nb == 0 {
        return (vec![1; byzantine.len()], Shape::Equal);
    }
    let mut shape = [Shape::ExactF, Shape::Pivotal, Shape::Near][rng.gen_range(0..3)];
    let pivotal = (shape == Shape::Pivotal)
        .then(|| pivotal(rng, nh, nb))
        .flatten();
    if shape == Shape::Pivotal && pivotal.is_none() {
        shape = Shape::ExactF; // too few honest validators for the shape
    }
    let (honest, byz) = match pivotal {
        Some(p) => p,
        None => {
            let mut honest: Vec<u64> = (0..nh).map(|_| rng.gen_range(1..=5)).collect();
            // Room for every Byzantine validator's unit below 1/3 (n = 6
            // with two Byzantine has fewer than 2f + 1 honest validators).
            while honest.iter().sum::<u64>() < 2 * nb as u64 + 1 {
                honest[rng.gen_range(0..nh)] += 1;
            }
            let h: u64 = honest.iter().sum();
            // The largest B with 3B < h + B, less a unit or two for `Near`.
            let slack = if shape == Shape::Near {
                rng.gen_range(1..=2)
            } else {
                0
            };
            let b = ((h - 1) / 2).saturating_sub(slack).max(nb as u64);
            (honest, split(rng, b, nb, b))
        }
    };
    let (mut honest, mut byz) = (honest.into_iter(), byz.into_iter());
    let powers: Vec<u64> = byzantine
        .iter()
        .map(|b| if *b { byz.next() } else { honest.next() })
        .map(|p| p.unwrap_or(1))
        .collect();
    let total: u64 = powers.iter().sum();
    let b: u64 = powers
        .iter()
        .zip(byzantine)
        .filter(|(_, b)| **b)
        .map(|(p, _)| p)
        .sum();
    assert!(
        3 * b < total,
        "Byzantine power {b} of {total} is not below 1/3"
    );
    if shape == Shape::ExactF {
        assert_eq!(
            total - b,
            quorum(total),
            "honest power is not exactly a quorum"
        );
    }
    (powers, shape)
}

/// Honest powers (the largest one, the pivot, at a random place) and
/// Byzantine powers such that honest minus the pivot is a quorum less one;
/// `None` if `nh` honest validators cannot hold the shape.
fn pivotal(rng: &mut ChaCha8Rng, nh: usize, nb: usize) -> Option<(Vec<u64>, Vec<u64>)> {
    let others = nh.checked_sub(1)? as u64;
    let pivot = rng.gen_range(2..=5u64);
    // quorum(R + pivot + b) - 1 == R  <=>  2 (pivot + b) - 2 <= R <= 2 (pivot + b),
    // and the others (each at most the pivot) can hold R only if
    // 2 (pivot + b) - 2 <= others * pivot.
    let b_max = (2 * nb as u64).min(((others * pivot + 2) / 2).checked_sub(pivot)?);
    if b_max < nb as u64 {
        return None;
    }
    let b = rng.gen_range(nb as u64..=b_max);
    let lo = 2 * (pivot + b) - 2;
    let candidates: Vec<u64> = (lo..=lo + 2)
        .filter(|r| *r >= others && *r <= others * pivot)
        .collect();
    if candidates.is_empty() {
        return None;
    }
    // Half the time the one R that makes the total a multiple of 3, if the
    // others can hold it; else any.
    let third = candidates
        .iter()
        .copied()
        .find(|r| (r + pivot + b) % 3 == 0);
    let r = match third {
        Some(t) if rng.gen_bool(0.5) => t,
        _ => candidates[rng.gen_range(0..candidates.len())],
    };
    let mut honest = split(rng, r, others as usize, pivot);
    honest.insert(rng.gen_range(0..=others as usize), pivot);
    assert_eq!(
        quorum(r + pivot + b) - 1,
        r,
        "pivot is not in every honest quorum"
    );
    Some((honest, split(rng, b, nb, b)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// Every shape, over many seeds and the scenarios' committee sizes, keeps
    /// the Byzantine power below 1/3 and puts the quorum where it claims.
    #[test]
    fn shapes_hold_their_promises() {
        let mut seen = Vec::new();
        for (n, nb) in [(5, 1), (6, 2), (10, 3)] {
            for seed in 0..300 {
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                let byz: Vec<bool> = (0..n).map(|v| v >= n - nb).collect();
                let (powers, shape) = draw(&mut rng, &byz, true);
                let total: u64 = powers.iter().sum();
                let honest: Vec<u64> = powers[..n - nb].to_vec();
                let h: u64 = honest.iter().sum();
                assert!(3 * (total - h) < total, "{powers:?}");
                match shape {
                    Shape::ExactF => assert_eq!(h, quorum(total), "{powers:?}"),
                    Shape::Pivotal => {
                        let max = honest.iter().max().copied().unwrap_or(0);
                        assert_eq!(h - max, quorum(total) - 1, "{powers:?}");
                    }
                    Shape::Near => assert!(h >= quorum(total), "{powers:?}"),
                    Shape::Equal => panic!("unequal committee drew equal powers"),
                }
                seen.push((shape, total % 3 == 0));
            }
        }
        for want in [
            (Shape::ExactF, false),
            (Shape::Pivotal, true),
            (Shape::Pivotal, false),
            (Shape::Near, false),
        ] {
            assert!(seen.contains(&want), "never drew {want:?}");
        }
    }
}
