//! A small Okapi BM25 index: compressed postings (one flat array), per-document term lists
//! for evidence, and dense accumulators for scoring.
use std::collections::HashMap;

use crate::text::for_each_token;

pub const K1: f32 = 1.2;
pub const B: f32 = 0.75;

#[derive(Debug, Default)]
pub struct Bm25 {
    vocab: HashMap<String, u32>,
    /// Postings of term t: `post_docs[post_start[t]..post_start[t + 1]]` with their term frequencies.
    post_start: Vec<u32>,
    post_docs: Vec<u32>,
    post_tf: Vec<u16>,
    idf: Vec<f32>,
    /// `K1 * (1 - B + B * len / avg_len)` per document.
    norm: Vec<f32>,
    /// The distinct terms of document d: `doc_terms[doc_start[d]..doc_start[d + 1]]`, sorted.
    doc_start: Vec<u32>,
    doc_terms: Vec<u32>,
}

/// Builds an index from documents given as text; `repeat[i]` > 1 counts the text of
/// document i's leading part several times (a field boost), see [`Bm25Builder::add`].
#[derive(Debug, Default)]
pub struct Bm25Builder {
    vocab: HashMap<String, u32>,
    /// (term, doc, tf)
    triples: Vec<(u32, u32, u16)>,
    lens: Vec<u32>,
    scratch: HashMap<u32, u16>,
}

impl Bm25Builder {
    /// Adds one document made of `(text, weight)` parts (weight: how many times each token
    /// of the part counts); returns its number.
    pub fn add(&mut self, parts: &[(&str, u16)]) -> u32 {
        self.scratch.clear();
        let mut len = 0u32;
        for &(text, weight) in parts {
            for_each_token(text, |t, _, _| len += self.count(t, weight));
        }
        self.finish_doc(len)
    }

    /// Adds one document given as terms already normalised (see
    /// [`crate::text::for_each_token`]) with their frequencies; returns its number.
    pub fn add_terms<'a>(&mut self, terms: impl IntoIterator<Item = (&'a str, u16)>) -> u32 {
        self.scratch.clear();
        let mut len = 0u32;
        for (t, tf) in terms {
            len += self.count(t, tf);
        }
        self.finish_doc(len)
    }

    /// Counts `tf` occurrences of term `t` in the document being added; returns `tf`.
    fn count(&mut self, t: &str, tf: u16) -> u32 {
        let next = self.vocab.len() as u32;
        let id = match self.vocab.get(t) {
            Some(&id) => id,
            None => {
                self.vocab.insert(t.to_string(), next);
                next
            }
        };
        let e = self.scratch.entry(id).or_insert(0);
        *e = e.saturating_add(tf);
        tf as u32
    }

    /// Closes the document being added, of `len` tokens; returns its number.
    fn finish_doc(&mut self, len: u32) -> u32 {
        let doc = self.lens.len() as u32;
        for (&t, &tf) in &self.scratch {
            self.triples.push((t, doc, tf));
        }
        self.lens.push(len);
        doc
    }

    pub fn build(mut self) -> Bm25 {
        let n_terms = self.vocab.len();
        let n_docs = self.lens.len();
        self.triples.sort_unstable();
        let mut post_start = vec![0u32; n_terms + 1];
        for &(t, _, _) in &self.triples {
            post_start[t as usize + 1] += 1;
        }
        for i in 0..n_terms {
            post_start[i + 1] += post_start[i];
        }
        let post_docs: Vec<u32> = self.triples.iter().map(|&(_, d, _)| d).collect();
        let post_tf: Vec<u16> = self.triples.iter().map(|&(_, _, tf)| tf).collect();
        let idf = (0..n_terms)
            .map(|t| {
                let df = (post_start[t + 1] - post_start[t]) as f32;
                (1.0 + (n_docs as f32 - df + 0.5) / (df + 0.5)).ln()
            })
            .collect();
        let avg = (self.lens.iter().map(|&l| l as f64).sum::<f64>() / n_docs.max(1) as f64).max(1.0) as f32;
        let norm = self.lens.iter().map(|&l| K1 * (1.0 - B + B * l as f32 / avg)).collect();
        // per-document term lists, from the postings
        let mut by_doc: Vec<(u32, u32)> = self.triples.iter().map(|&(t, d, _)| (d, t)).collect();
        by_doc.sort_unstable();
        let mut doc_start = vec![0u32; n_docs + 1];
        for &(d, _) in &by_doc {
            doc_start[d as usize + 1] += 1;
        }
        for i in 0..n_docs {
            doc_start[i + 1] += doc_start[i];
        }
        let doc_terms = by_doc.into_iter().map(|(_, t)| t).collect();
        let mut vocab = self.vocab;
        vocab.shrink_to_fit();
        Bm25 { vocab, post_start, post_docs, post_tf, idf, norm, doc_start, doc_terms }
    }
}

impl Bm25 {
    pub fn n_docs(&self) -> usize {
        self.norm.len()
    }

    pub fn term(&self, t: &str) -> Option<u32> {
        self.vocab.get(t).copied()
    }

    pub fn idf(&self, t: u32) -> f32 {
        self.idf[t as usize]
    }

    /// Adds the BM25 score of every document for the (distinct) query terms to `acc` (one
    /// slot per document, zero on entry) and lists the documents it touched in `touched`.
    pub fn score(&self, terms: &[u32], acc: &mut [f32], touched: &mut Vec<u32>) {
        for &t in terms {
            let idf = self.idf[t as usize];
            let (a, b) = (self.post_start[t as usize] as usize, self.post_start[t as usize + 1] as usize);
            for k in a..b {
                let d = self.post_docs[k] as usize;
                let tf = self.post_tf[k] as f32;
                if acc[d] == 0.0 {
                    touched.push(d as u32);
                }
                acc[d] += idf * tf * (K1 + 1.0) / (tf + self.norm[d]);
            }
        }
    }

    /// The query terms that document `d` contains, most informative first.
    pub fn shared_terms(&self, d: u32, terms: &[u32]) -> Vec<u32> {
        let dt = &self.doc_terms[self.doc_start[d as usize] as usize..self.doc_start[d as usize + 1] as usize];
        let mut out: Vec<u32> = terms.iter().copied().filter(|t| dt.binary_search(t).is_ok()).collect();
        out.sort_by(|a, b| self.idf(*b).total_cmp(&self.idf(*a)).then(a.cmp(b)));
        out
    }

    /// Heap bytes, roughly.
    pub fn heap_bytes(&self) -> usize {
        self.vocab.keys().map(|k| k.capacity() + 24 + 8).sum::<usize>()
            + self.post_start.capacity() * 4
            + self.post_docs.capacity() * 4
            + self.post_tf.capacity() * 2
            + self.idf.capacity() * 4
            + self.norm.capacity() * 4
            + self.doc_start.capacity() * 4
            + self.doc_terms.capacity() * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_by_rare_shared_terms() {
        let mut b = Bm25Builder::default();
        b.add(&[("dump lsass memory with procdump", 1)]);
        b.add(&[("scheduled task created for persistence", 1)]);
        b.add(&[("memory of a process read", 1)]);
        let ix = b.build();
        let q: Vec<u32> = ["lsass", "memory", "unknown"].iter().filter_map(|t| ix.term(t)).collect();
        let mut acc = vec![0.0; ix.n_docs()];
        let mut touched = Vec::new();
        ix.score(&q, &mut acc, &mut touched);
        assert!(acc[0] > acc[2] && acc[2] > 0.0 && acc[1] == 0.0);
        assert_eq!(touched.len(), 2);
        let shared = ix.shared_terms(0, &q);
        assert_eq!(shared.len(), 2);
        assert_eq!(shared[0], ix.term("lsass").unwrap());
    }
}
