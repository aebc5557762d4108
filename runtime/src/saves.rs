//! Storage for forward values that the reverse sweep of generated adjoint code consumes.
//!
//! The forward sweep pushes every value a later partial derivative needs (loop-carried
//! intermediates, branch decisions, ...); the reverse sweep pops them in the opposite order.
//! [`SaveStack`] serves loops, [`SaveSlot`] serves regions executed at most once and needs no
//! allocation.

/// Message of the panic raised when generated code pops more values than it pushed.
const UNDERFLOW: &str = "adjoint internal error: save stack underflow";

/// A last-in, first-out store of values saved by the forward sweep for the reverse sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct SaveStack<T> {
    items: Vec<T>,
}

impl<T> SaveStack<T> {
    /// An empty stack that does not allocate until the first push.
    #[inline(always)]
    pub fn new() -> Self {
        Self { items: Vec::new() }
    }

    /// An empty stack with room for `n` values, so a loop of known trip count never reallocates.
    #[inline(always)]
    pub fn with_capacity(n: usize) -> Self {
        Self {
            items: Vec::with_capacity(n),
        }
    }

    /// Saves `value` for the reverse sweep.
    #[inline(always)]
    pub fn push(&mut self, value: T) {
        self.items.push(value);
    }

    /// Takes back the most recently saved value.
    ///
    /// # Panics
    /// If the stack is empty, which means the macro generated unbalanced code.
    #[inline(always)]
    pub fn pop(&mut self) -> T {
        self.items.pop().expect(UNDERFLOW)
    }

    /// The number of values currently saved.
    #[inline(always)]
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether no values are currently saved.
    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

impl<T> Default for SaveStack<T> {
    /// An empty stack, as [`SaveStack::new`].
    #[inline(always)]
    fn default() -> Self {
        Self::new()
    }
}

/// A single saved value for a region executed at most once; never allocates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SaveSlot<T> {
    item: Option<T>,
}

impl<T> SaveSlot<T> {
    /// An empty slot.
    #[inline(always)]
    pub fn new() -> Self {
        Self { item: None }
    }

    /// Saves `value` for the reverse sweep, replacing anything already there.
    #[inline(always)]
    pub fn push(&mut self, value: T) {
        self.item = Some(value);
    }

    /// Takes the saved value out, leaving the slot empty.
    ///
    /// # Panics
    /// If the slot is empty, which means the macro generated unbalanced code.
    #[inline(always)]
    pub fn pop(&mut self) -> T {
        self.item.take().expect(UNDERFLOW)
    }
}

impl<T> Default for SaveSlot<T> {
    /// An empty slot, as [`SaveSlot::new`].
    #[inline(always)]
    fn default() -> Self {
        Self::new()
    }
}

/// The adjoint of a non-float (constant) parameter: carries no information, exists so that
/// every parameter of a differentiated function has a corresponding adjoint output.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Inactive;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_is_last_in_first_out() {
        let mut s = SaveStack::with_capacity(3);
        assert!(s.is_empty());
        for v in [1.5_f64, -2.0, 7.25] {
            s.push(v);
        }
        assert_eq!(s.len(), 3);
        assert_eq!(s.pop(), 7.25);
        assert_eq!(s.pop(), -2.0);
        s.push(4.0);
        assert_eq!(s.pop(), 4.0);
        assert_eq!(s.pop(), 1.5);
        assert!(s.is_empty());
        assert_eq!(SaveStack::<u8>::default(), SaveStack::new());
    }

    #[test]
    #[should_panic(expected = "adjoint internal error: save stack underflow")]
    fn stack_underflow_panics_with_internal_error() {
        let mut s: SaveStack<f64> = SaveStack::new();
        s.push(1.0);
        s.pop();
        s.pop();
    }

    #[test]
    fn slot_returns_the_saved_value_once() {
        let mut s = SaveSlot::default();
        s.push(true);
        assert!(s.pop());
        s.push(false);
        s.push(true);
        assert!(s.pop());
    }

    #[test]
    #[should_panic(expected = "adjoint internal error: save stack underflow")]
    fn slot_underflow_panics_with_internal_error() {
        let mut s: SaveSlot<f32> = SaveSlot::new();
        s.push(2.0);
        assert_eq!(s.pop(), 2.0);
        s.pop();
    }

    #[test]
    fn inactive_is_a_unit_value() {
        assert_eq!(Inactive, <Inactive as Default>::default());
        assert_eq!(format!("{Inactive:?}"), "Inactive");
    }
}
