//! [`TensorTrace`]: what a generated tensor function computed, for
//! debugging: every value with the op that made it, its shape, and what the
//! reverse sweep keeps of it (the save set the compiler chose).

use std::fmt;

/// What the reverse sweep keeps of a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kept {
    /// The whole tensor (its adjoint rule reads the values).
    Value,
    /// Only its shape (the tensor itself is freed in the forward sweep).
    ShapeOnly,
    /// Nothing.
    Nothing,
}

/// One computed value.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorStep {
    /// The value's name in the generated code (`v3`).
    pub name: String,
    /// The op and its operands (`matmul(x, v1)`).
    pub expr: String,
    /// Its shape (`[]` for a scalar).
    pub shape: Vec<usize>,
    /// What the reverse sweep keeps of it.
    pub kept: Kept,
}

/// The forward sweep of a generated tensor function, value by value.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TensorTrace {
    steps: Vec<TensorStep>,
}

impl TensorTrace {
    /// An empty trace.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one computed value.
    pub fn record(&mut self, name: &str, expr: &str, shape: &[usize], kept: Kept) {
        self.steps.push(TensorStep {
            name: name.to_string(),
            expr: expr.to_string(),
            shape: shape.to_vec(),
            kept,
        });
    }

    /// The recorded values, in evaluation order.
    pub fn steps(&self) -> &[TensorStep] {
        &self.steps
    }

    /// The elements the reverse sweep keeps alive (values kept whole).
    pub fn saved_elements(&self) -> usize {
        self.steps
            .iter()
            .filter(|s| s.kept == Kept::Value)
            .map(|s| s.shape.iter().product::<usize>())
            .sum()
    }
}

impl fmt::Display for TensorTrace {
    /// A table: value, op, shape, and what the reverse sweep keeps.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shapes: Vec<String> = self
            .steps
            .iter()
            .map(|s| format!("{:?}", s.shape))
            .collect();
        let name_w = self
            .steps
            .iter()
            .map(|s| s.name.len())
            .max()
            .unwrap_or(0)
            .max(5);
        let expr_w = self
            .steps
            .iter()
            .map(|s| s.expr.chars().count())
            .max()
            .unwrap_or(0)
            .max(2);
        let shape_w = shapes.iter().map(String::len).max().unwrap_or(0).max(5);
        writeln!(
            f,
            "{:name_w$}  {:expr_w$}  {:shape_w$}  kept for the reverse sweep",
            "value", "op", "shape"
        )?;
        for (step, shape) in self.steps.iter().zip(&shapes) {
            let kept = match step.kept {
                Kept::Value => "value",
                Kept::ShapeOnly => "shape only",
                Kept::Nothing => "-",
            };
            let pad = expr_w - step.expr.chars().count();
            writeln!(
                f,
                "{:name_w$}  {}{}  {shape:shape_w$}  {kept}",
                step.name,
                step.expr,
                " ".repeat(pad)
            )?;
        }
        write!(
            f,
            "saved for the reverse sweep: {} elements",
            self.saved_elements()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_and_prints_the_save_set() {
        let mut t = TensorTrace::new();
        t.record("v1", "matmul(x, w)", &[100, 512], Kept::ShapeOnly);
        t.record("v2", "relu(v1)", &[100, 512], Kept::Value);
        t.record("v3", "sum(v2)", &[], Kept::Nothing);
        assert_eq!(t.saved_elements(), 51_200);
        let text = t.to_string();
        assert!(
            text.contains("v2     relu(v1)      [100, 512]  value"),
            "{text}"
        );
        assert!(
            text.contains("shape only") && text.ends_with("51200 elements"),
            "{text}"
        );
    }
}
