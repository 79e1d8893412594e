//! Generation stamps: a reusable "seen" set over slots `0..n` that is
//! emptied in O(1) per round (a slot is in the set when its stamp equals the
//! current generation). Per-thread scratch of the prefilter and the model.

#[derive(Debug)]
pub(crate) struct Stamps {
    generation: u32,
    marks: Vec<u32>,
}

impl Stamps {
    pub(crate) const fn new() -> Stamps {
        Stamps {
            generation: 0,
            marks: Vec::new(),
        }
    }

    /// Starts a new round over at least `len` slots, all of them unmarked.
    pub(crate) fn next_round(&mut self, len: usize) {
        if self.marks.len() < len {
            self.marks.resize(len, 0);
        }
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.marks.fill(0);
            self.generation = 1;
        }
    }

    /// Marks slot `i`; true if it was not marked in this round yet.
    pub(crate) fn mark(&mut self, i: usize) -> bool {
        let fresh = self.marks[i] != self.generation;
        self.marks[i] = self.generation;
        fresh
    }

    pub(crate) fn is_marked(&self, i: usize) -> bool {
        self.marks[i] == self.generation
    }
}

#[cfg(test)]
mod tests {
    use super::Stamps;

    #[test]
    fn a_new_round_forgets_every_mark_even_across_wraparound() {
        let mut s = Stamps::new();
        s.next_round(3);
        assert!(s.mark(1));
        assert!(!s.mark(1));
        assert!(s.is_marked(1) && !s.is_marked(0));
        s.next_round(5);
        assert!(!s.is_marked(1) && !s.is_marked(4));
        s.generation = u32::MAX;
        s.mark(2);
        s.next_round(5);
        assert!(!s.is_marked(2), "wrapped generation must clear old marks");
        assert!(s.mark(2));
    }
}
