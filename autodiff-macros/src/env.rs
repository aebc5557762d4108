//! The lowering environment: which SSA value each Rust variable holds at the
//! current point, with block scoping and shadowing.

use crate::ir::ValueId;

/// One variable binding.
#[derive(Clone, Debug)]
pub struct Binding {
    pub name: String,
    pub value: ValueId,
    pub mutable: bool,
}

/// Scoped variable bindings; cloned when lowering a nested region so that
/// the region's assignments can be compared with the state before it.
#[derive(Clone, Debug, Default)]
pub struct Env {
    scopes: Vec<Vec<Binding>>,
}

/// Position of a binding: (scope depth, slot in that scope).
pub type Slot = (usize, usize);

impl Env {
    /// An environment with one (the function's) scope.
    pub fn new() -> Env {
        Env {
            scopes: vec![Vec::new()],
        }
    }

    /// Opens a block scope.
    pub fn push_scope(&mut self) {
        self.scopes.push(Vec::new());
    }

    /// Closes the innermost block scope.
    pub fn pop_scope(&mut self) {
        self.scopes.pop();
    }

    /// Declares a variable in the innermost scope (shadowing outer ones).
    pub fn declare(&mut self, name: String, value: ValueId, mutable: bool) {
        if let Some(scope) = self.scopes.last_mut() {
            scope.push(Binding {
                name,
                value,
                mutable,
            });
        }
    }

    /// The slot of the visible binding called `name`.
    pub fn find(&self, name: &str) -> Option<Slot> {
        for (depth, scope) in self.scopes.iter().enumerate().rev() {
            if let Some(i) = scope.iter().rposition(|b| b.name == name) {
                return Some((depth, i));
            }
        }
        None
    }

    /// The binding at a slot.
    pub fn get(&self, slot: Slot) -> &Binding {
        &self.scopes[slot.0][slot.1]
    }

    /// Rebinds the variable at `slot` to a new value.
    pub fn set(&mut self, slot: Slot, value: ValueId) {
        self.scopes[slot.0][slot.1].value = value;
    }

    /// The bindings visible in `self` (the state before a nested region) whose
    /// value differs in `after` (the state at its end, with the region's own
    /// scope popped): the variables the region assigns.
    pub fn changed_in(&self, after: &Env) -> Vec<(Slot, ValueId, ValueId)> {
        let mut changed = Vec::new();
        for (depth, scope) in self.scopes.iter().enumerate() {
            for (i, before) in scope.iter().enumerate() {
                let now = after.scopes[depth][i].value;
                if now != before.value {
                    changed.push(((depth, i), before.value, now));
                }
            }
        }
        changed
    }
}
