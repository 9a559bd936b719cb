//! Model-free text embeddings: feature-hashed character 3- and 4-grams, weighted by how rare each
//! bucket is across documents, and scaled to unit length. They need no model, and they catch
//! changes of template, format, language and topic vocabulary.

/// Buckets of the hashed embedding.
pub const DIMS: usize = 256;

const _: () = assert!(
    DIMS.is_power_of_two(),
    "the hash's low bits pick the bucket"
);

/// Odd multiplier of the n-gram hash, with well-mixed bits (the 64-bit golden ratio).
const HASH_MULTIPLIER: u64 = 0x9E37_79B9_7F4A_7C15;
/// Hash bits kept: the bucket's, and one above them for the sign.
const HASH_BITS: u32 = DIMS.trailing_zeros() + 1;
/// Tags the packed n-gram with its length, so that a 3-gram and a 4-gram never share a key.
const GRAM_LENGTH_SHIFT: u32 = 32;

/// What the n-grams see of each byte: ASCII letters lowercased, ASCII whitespace as a space.
const NORMALISED: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut byte = 0;
    while byte < 256 {
        let b = byte as u8;
        table[byte] = if b.is_ascii_whitespace() {
            b' '
        } else {
            b.to_ascii_lowercase()
        };
        byte += 1;
    }
    table
};

/// The n-grams of a normalised byte stream, counted by hash as they complete.
struct GramTally {
    /// The last four bytes kept, newest lowest.
    window: u32,
    kept: usize,
    /// Counts by hash: the low bits are the bucket, the top bit says whether the n-gram counts
    /// +1 or −1 there (the signs halve the bias that collisions add to dot products). Kept
    /// apart, each n-gram costs a single increment.
    by_hash: [u32; 1 << HASH_BITS],
}

impl GramTally {
    /// Starts with the leading space, so that the first word's start forms n-grams.
    fn new() -> Self {
        Self {
            window: u32::from(b' '),
            kept: 1,
            by_hash: [0; 1 << HASH_BITS],
        }
    }

    /// Appends a normalised byte, unless it would make a second space in a row, and counts the
    /// 3- and 4-gram it ends.
    #[inline(always)]
    fn push(&mut self, byte: u8) {
        let shifted = (self.window << 8) | u32::from(byte);
        // One comparison of the last two bytes, a branch rarely taken: testing each byte for a
        // space would branch at every word boundary, unpredictably.
        if shifted as u16 == u16::from_be_bytes([b' ', b' ']) {
            return;
        }
        self.window = shifted;
        self.kept += 1;
        if self.kept >= 3 {
            self.add(u64::from(self.window & 0xFF_FFFF) | (3 << GRAM_LENGTH_SHIFT));
        }
        if self.kept >= 4 {
            self.add(u64::from(self.window) | (4 << GRAM_LENGTH_SHIFT));
        }
    }

    /// Multiply-shift hashing: the product's top bits mix every bit of the key.
    #[inline(always)]
    fn add(&mut self, key: u64) {
        self.by_hash[(key.wrapping_mul(HASH_MULTIPLIER) >> (64 - HASH_BITS)) as usize] += 1;
    }
}

/// Replaces `counts` with signed, feature-hashed counts of the text's character 3- and 4-grams,
/// read as ASCII-lowercased bytes with whitespace runs collapsed to one space and a space at both
/// ends, so that word starts and ends form n-grams of their own.
pub fn hashed_counts(text: &str, counts: &mut [f32; DIMS]) {
    let mut tally = GramTally::new();
    for &byte in text.as_bytes() {
        tally.push(NORMALISED[usize::from(byte)]);
    }
    tally.push(b' ');
    let (positive, negative) = tally.by_hash.split_at(DIMS);
    for ((count, positive), negative) in counts.iter_mut().zip(positive).zip(negative) {
        *count = *positive as f32 - *negative as f32;
    }
}

/// Document frequencies of the buckets, learned from the traffic, and the inverse-document-
/// frequency weights that make a bucket every text shares (a template's boilerplate) count less.
#[derive(Debug, Clone)]
pub struct Idf {
    documents: u64,
    frequencies: [u64; DIMS],
    weights: [f32; DIMS],
}

impl Default for Idf {
    fn default() -> Self {
        Self {
            documents: 0,
            frequencies: [0; DIMS],
            weights: [1.0; DIMS],
        }
    }
}

impl Idf {
    /// Counts a document: each bucket with a non-zero count is present in it.
    pub fn observe(&mut self, counts: &[f32; DIMS]) {
        self.documents += 1;
        for (frequency, count) in self.frequencies.iter_mut().zip(counts) {
            *frequency += u64::from(*count != 0.0);
        }
    }

    /// Recomputes the weights from the documents observed (smooth idf); until the first refresh
    /// every weight is 1.
    pub fn refresh(&mut self) {
        let documents = self.documents as f64;
        for (weight, frequency) in self.weights.iter_mut().zip(&self.frequencies) {
            *weight = (((1.0 + documents) / (1.0 + *frequency as f64)).ln() + 1.0) as f32;
        }
    }

    /// The counts weighted and scaled to unit length; `None` when every count is zero.
    pub fn weigh(&self, counts: &[f32; DIMS]) -> Option<[f32; DIMS]> {
        let mut weighted = [0.0f32; DIMS];
        for ((out, count), weight) in weighted.iter_mut().zip(counts).zip(&self.weights) {
            *out = count * weight;
        }
        let norm = dot(&weighted, &weighted).sqrt();
        if norm == 0.0 || !norm.is_finite() {
            return None;
        }
        for value in &mut weighted {
            *value /= norm;
        }
        Some(weighted)
    }
}

/// An embedding a call carries itself, scaled to unit length; `None` when it is all zeros or has
/// a value that is not finite.
pub fn normalised(vector: &[f32]) -> Option<Vec<f32>> {
    if vector.iter().any(|value| !value.is_finite()) {
        return None;
    }
    // In f64, so that large components cannot overflow the sum of squares.
    let norm = vector
        .iter()
        .map(|value| f64::from(*value).powi(2))
        .sum::<f64>()
        .sqrt();
    if norm == 0.0 {
        return None;
    }
    Some(
        vector
            .iter()
            .map(|value| (f64::from(*value) / norm) as f32)
            .collect(),
    )
}

/// The cosine similarity of two unit-length vectors of the same length.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    dot(a, b)
}

/// The dot product. It runs on every call against every representative, so on x86-64 CPUs with
/// AVX2 (nearly all since 2015) the same loop runs compiled for 256-bit registers, chosen at run
/// time so the binary still runs everywhere.
pub(super) fn dot(a: &[f32], b: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU was just found to support AVX2, all `dot_avx2` is compiled to use.
        return unsafe { dot_avx2(a, b) };
    }
    dot_lanes(a, b)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn dot_avx2(a: &[f32], b: &[f32]) -> f32 {
    dot_lanes(a, b)
}

/// The dot product in sixteen independent sums, so that the compiler vectorises it and the adds
/// of two registers overlap.
#[inline(always)]
fn dot_lanes(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    const LANES: usize = 16;
    let mut sums = [0.0f32; LANES];
    let (a_chunks, b_chunks) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f32 = a_chunks
        .remainder()
        .iter()
        .zip(b_chunks.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in a_chunks.zip(b_chunks) {
        for lane in 0..LANES {
            sums[lane] += x[lane] * y[lane];
        }
    }
    sums.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(text: &str) -> [f32; DIMS] {
        let mut counts = [0.0; DIMS];
        hashed_counts(text, &mut counts);
        counts
    }

    fn embed(text: &str) -> Option<[f32; DIMS]> {
        Idf::default().weigh(&counts(text))
    }

    #[test]
    fn case_and_spacing_do_not_change_the_embedding() {
        assert_eq!(
            counts("Where is my ORDER?\n\n  Tracking\tshows nothing"),
            counts("  where is my order? tracking shows nothing ")
        );
        assert_ne!(counts("where is my order"), counts("whereis my order"));
    }

    /// The n-grams the plain way: normalise the whole text, then hash every window.
    fn plain_counts(text: &str) -> [f32; DIMS] {
        let words: Vec<String> = text
            .split_ascii_whitespace()
            .map(|word| word.to_ascii_lowercase())
            .collect();
        let padded = format!(" {} ", words.join(" "));
        let padded = if words.is_empty() {
            " ".to_string()
        } else {
            padded
        };
        let mut counts = [0.0; DIMS];
        for n in [3, 4] {
            for gram in padded.as_bytes().windows(n) {
                let packed = gram.iter().fold(0u64, |key, b| (key << 8) | u64::from(*b));
                let hash = (packed | ((n as u64) << 32)).wrapping_mul(HASH_MULTIPLIER) >> 55;
                counts[hash as usize % DIMS] += if hash >= DIMS as u64 { -1.0 } else { 1.0 };
            }
        }
        counts
    }

    #[test]
    fn the_streaming_tally_matches_the_plain_way() {
        for text in [
            "",
            " ",
            "a",
            "ab",
            "abc",
            " a ",
            "a  b",
            "\t  Crème BRÛLÉE,\n\n  s'il vous plaît  ",
            "where is my order, tracking shows nothing",
        ] {
            assert_eq!(counts(text), plain_counts(text), "{text:?}");
        }
    }

    #[test]
    fn counts_are_replaced_not_added_to() {
        let mut reused = counts("an entirely different text");
        hashed_counts("where is my order", &mut reused);
        assert_eq!(reused, counts("where is my order"));
    }

    #[test]
    fn related_texts_are_more_similar_than_unrelated_ones() {
        let order = embed("where is my order, tracking shows nothing").unwrap();
        let related = embed("my order tracking has not updated").unwrap();
        let unrelated = embed("how do I reset my password").unwrap();
        let (near, far) = (cosine(&order, &related), cosine(&order, &unrelated));
        assert!(near > far + 0.1, "{near} vs {far}");
        assert!((cosine(&order, &order) - 1.0).abs() < 1e-5);
    }

    #[test]
    fn an_empty_text_has_no_embedding() {
        assert_eq!(embed(""), None);
        assert_eq!(embed(" \n\t "), None);
        assert!(embed("a").is_some());
    }

    #[test]
    fn idf_down_weights_a_bucket_present_in_every_document() {
        let mut idf = Idf::default();
        for rare in 1..10 {
            let mut document = [0.0; DIMS];
            document[0] = 1.0;
            document[rare] = 1.0;
            idf.observe(&document);
        }
        let mut both = [0.0; DIMS];
        both[0] = 1.0;
        both[5] = 1.0;
        let unweighted = idf.weigh(&both).unwrap();
        assert_eq!(
            unweighted[0], unweighted[5],
            "weights are 1 until a refresh"
        );
        idf.refresh();
        let weighted = idf.weigh(&both).unwrap();
        assert!(weighted[0] < weighted[5] / 2.0, "{weighted:?}");
        assert!((cosine(&weighted, &weighted) - 1.0).abs() < 1e-5);
    }

    #[test]
    fn a_carried_embedding_is_scaled_to_unit_length_unless_it_cannot_be() {
        let unit = normalised(&[3.0, 4.0]).unwrap();
        assert_eq!(unit, vec![0.6, 0.8]);
        assert_eq!(normalised(&[0.0, 0.0]), None);
        assert_eq!(normalised(&[]), None);
        assert_eq!(normalised(&[1.0, f32::NAN]), None);
        assert_eq!(normalised(&[f32::INFINITY]), None);
        let huge = normalised(&[f32::MAX, f32::MAX]).unwrap();
        assert!((cosine(&huge, &huge) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn cosine_matches_a_plain_dot_product_at_any_length() {
        for len in [0, 1, 7, 8, 9, 23, 256] {
            let a: Vec<f32> = (0..len).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..len).map(|i| (i as f32 * 0.11).cos()).collect();
            let plain: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert!((cosine(&a, &b) - plain).abs() < 1e-4, "{len}");
        }
    }
}
