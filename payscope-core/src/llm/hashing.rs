//! The default embedder: words and adjacent word pairs hashed into a fixed-size vector
//! (signed feature hashing), L2-normalized. Similar texts share words, so their vectors are close.

use super::HASHING_DIMS;

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ *b as u64).wrapping_mul(0x0100_0000_01b3))
}

/// The hashing embedding of a text.
pub fn hashing_embedding(text: &str) -> Vec<f32> {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric() && c != '.')
        .map(|w| w.trim_matches('.').to_lowercase())
        .filter(|w| !w.is_empty())
        .collect();
    let mut v = vec![0f32; HASHING_DIMS];
    let mut add = |feature: &str, weight: f32| {
        let h = fnv1a(feature.as_bytes());
        let sign = if h >> 63 == 0 { 1.0 } else { -1.0 };
        v[(h % HASHING_DIMS as u64) as usize] += sign * weight;
    };
    for w in &words {
        add(w, 1.0);
    }
    for pair in words.windows(2) {
        add(&format!("{} {}", pair[0], pair[1]), 0.5);
    }
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::vector::cosine;

    #[test]
    fn similar_texts_are_close() {
        let a = hashing_embedding("Response code 51: Insufficient funds.");
        let b = hashing_embedding("what does response code 51 mean");
        let c = hashing_embedding("MCC 5812: Eating places and restaurants.");
        assert!(cosine(&a, &b) > cosine(&c, &b));
        assert_eq!(a.len(), HASHING_DIMS);
    }
}
