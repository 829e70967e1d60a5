//! Detection metrics: confusion counts, rates, ROC AUC and threshold sweeps.

use serde::Serialize;

/// One scored, labelled text.
#[derive(Debug, Clone)]
pub(crate) struct Scored {
    pub(crate) score: f32,
    pub(crate) attack: bool,
}

/// Metrics at one threshold.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Metrics {
    pub(crate) threshold: f32,
    pub(crate) n: usize,
    pub(crate) attacks: usize,
    pub(crate) benign: usize,
    /// Share of attacks flagged (recall); null without attacks.
    pub(crate) tpr: Option<f64>,
    /// Share of benign texts flagged; null without benign texts.
    pub(crate) fpr: Option<f64>,
    pub(crate) precision: Option<f64>,
    pub(crate) f1: Option<f64>,
    /// Mean of TPR and TNR; null unless both classes are present.
    pub(crate) balanced_accuracy: Option<f64>,
    /// Area under the ROC curve; null unless both classes are present.
    pub(crate) auc: Option<f64>,
}

fn ratio(a: usize, b: usize) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

/// Metrics of `scored` at `threshold` (flagged when `score >= threshold`).
pub(crate) fn metrics(scored: &[Scored], threshold: f32) -> Metrics {
    let (mut tp, mut fp, mut tn, mut fneg) = (0, 0, 0, 0);
    for s in scored {
        match (s.attack, s.score >= threshold) {
            (true, true) => tp += 1,
            (true, false) => fneg += 1,
            (false, true) => fp += 1,
            (false, false) => tn += 1,
        }
    }
    let tpr = ratio(tp, tp + fneg);
    let fpr = ratio(fp, fp + tn);
    let precision = ratio(tp, tp + fp);
    let f1 = match (precision, tpr) {
        (Some(p), Some(r)) if p + r > 0.0 => Some(2.0 * p * r / (p + r)),
        (Some(_), Some(_)) => Some(0.0),
        _ => None,
    };
    let balanced_accuracy = match (tpr, fpr) {
        (Some(t), Some(f)) => Some((t + 1.0 - f) / 2.0),
        _ => None,
    };
    Metrics {
        threshold,
        n: scored.len(),
        attacks: tp + fneg,
        benign: fp + tn,
        tpr,
        fpr,
        precision,
        f1,
        balanced_accuracy,
        auc: auc(scored),
    }
}

/// ROC AUC by the rank-sum (Mann-Whitney) formula, ties counted half.
pub(crate) fn auc(scored: &[Scored]) -> Option<f64> {
    let mut v: Vec<(f32, bool)> = scored.iter().map(|s| (s.score, s.attack)).collect();
    let pos = v.iter().filter(|x| x.1).count();
    let neg = v.len() - pos;
    if pos == 0 || neg == 0 {
        return None;
    }
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut rank_sum = 0.0f64;
    let mut i = 0;
    while i < v.len() {
        let mut j = i;
        while j < v.len() && v[j].0 == v[i].0 {
            j += 1;
        }
        let avg_rank = (i + j + 1) as f64 / 2.0;
        rank_sum += avg_rank * v[i..j].iter().filter(|x| x.1).count() as f64;
        i = j;
    }
    Some((rank_sum - (pos * (pos + 1)) as f64 / 2.0) / (pos * neg) as f64)
}

/// The lowest threshold whose false-positive rate on the benign texts is at most `max_fpr`.
pub(crate) fn threshold_for_fpr(scored: &[Scored], max_fpr: f64) -> Option<f32> {
    let mut benign: Vec<f32> = scored
        .iter()
        .filter(|s| !s.attack)
        .map(|s| s.score)
        .collect();
    if benign.is_empty() {
        return None;
    }
    benign.sort_by(|a, b| b.total_cmp(a));
    let allowed = (max_fpr * benign.len() as f64).floor() as usize;
    // Flag strictly above the (allowed+1)-th highest benign score.
    let t = benign.get(allowed).copied().unwrap_or(0.0);
    Some(next_up(t))
}

fn next_up(x: f32) -> f32 {
    if x >= 1.0 {
        1.0
    } else {
        f32::from_bits(x.to_bits() + 1)
    }
}

/// Thresholds swept by reports.
pub(crate) const SWEEP: [f32; 11] = [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95];

#[cfg(test)]
mod tests {
    use super::*;

    fn s(score: f32, attack: bool) -> Scored {
        Scored { score, attack }
    }

    #[test]
    fn counts_rates_and_auc() {
        let data = [
            s(0.9, true),
            s(0.6, true),
            s(0.4, false),
            s(0.1, false),
            s(0.7, false),
        ];
        let m = metrics(&data, 0.5);
        assert_eq!((m.attacks, m.benign), (2, 3));
        assert_eq!(m.tpr, Some(1.0));
        assert!((m.fpr.unwrap() - 1.0 / 3.0).abs() < 1e-9);
        assert!((m.balanced_accuracy.unwrap() - (1.0 + 2.0 / 3.0) / 2.0).abs() < 1e-9);
        assert!((auc(&data).unwrap() - 5.0 / 6.0).abs() < 1e-9);
        assert_eq!(auc(&[s(0.1, true)]), None);
        let t = threshold_for_fpr(&data, 0.0).unwrap();
        assert!(t > 0.7 && metrics(&data, t).fpr == Some(0.0));
    }
}
