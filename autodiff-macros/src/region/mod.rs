//! Fused element-wise regions: a tree of element-wise tensor ops (built by
//! `passes::fusion`) as a small scalar program over its operands, and the
//! walkers that print its forward value, its adjoint and its tangent from
//! the scalar rule table (`rules.rs`, the one source of element-wise math).
//!
//! The walkers print through a [`Printer`]: an expression type that
//! implements the rule algebra ([`Real`]) plus how a named local is bound.
//! [`rust::RustPrinter`] prints Rust closure bodies, [`cuda::CudaPrinter`]
//! CUDA C `__device__` functions from the same walkers.

pub mod cuda;
pub mod rust;

use crate::ir::Op;
use crate::rules;
use crate::sym::Real;

/// Where a step's operand comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ref {
    /// Operand `i` of the region (a tensor or a scalar of the float type).
    Input(usize),
    /// The value of an earlier step.
    Step(usize),
}

/// One scalar op of a region.
#[derive(Clone, Debug)]
pub struct Step {
    pub op: Op,
    pub args: Vec<Ref>,
}

/// A fused region: steps in evaluation order, the last one its value.
#[derive(Clone, Debug)]
pub struct Region {
    pub inputs: usize,
    pub steps: Vec<Step>,
}

/// How a region body is written: expressions in the rule algebra, and
/// statements binding them to named locals.
pub trait Printer {
    /// An expression of the target language.
    type Expr: Real;
    /// Binds `value` to a new local named `name` and returns the expression
    /// reading it.
    fn bind(&mut self, name: &str, value: Self::Expr) -> Self::Expr;
}

impl Region {
    /// The region as the user wrote it, operands named `x0`, `x1`, …
    /// (`relu(x0 + x1)`): how errors name it.
    pub fn describe(&self) -> String {
        let names: Vec<String> = (0..self.inputs).map(|i| format!("x{i}")).collect();
        self.describe_with(&names)
    }

    /// The region with its operands named `names` (graphs and traces).
    pub fn describe_with(&self, names: &[String]) -> String {
        unparenthesised(self.describe_ref(Ref::Step(self.steps.len() - 1), names))
    }

    fn describe_ref(&self, r: Ref, names: &[String]) -> String {
        match r {
            Ref::Input(i) => names[i].clone(),
            Ref::Step(j) => {
                let step = &self.steps[j];
                let args: Vec<String> = step
                    .args
                    .iter()
                    .map(|a| self.describe_ref(*a, names))
                    .collect();
                let infix = |op: &str| format!("({} {op} {})", args[0], args[1]);
                let call = |name: &str| {
                    let args: Vec<String> = args.iter().cloned().map(unparenthesised).collect();
                    format!("{name}({})", args.join(", "))
                };
                match step.op {
                    Op::Add => infix("+"),
                    Op::Sub => infix("-"),
                    Op::Mul if step.args[0] == step.args[1] => call("square"),
                    Op::Mul => infix("*"),
                    Op::Div => infix("/"),
                    ref op => call(&rules::op_name(op)),
                }
            }
        }
    }

    /// Prints the region's value from its operands.
    pub fn print_forward<P: Printer>(&self, p: &mut P, inputs: &[P::Expr]) -> P::Expr {
        let mut values: Vec<P::Expr> = Vec::with_capacity(self.steps.len());
        for (j, step) in self.steps.iter().enumerate() {
            let args: Vec<P::Expr> = step
                .args
                .iter()
                .map(|a| self.operand(*a, inputs, &values))
                .collect();
            let value = rules::forward(&step.op, &args);
            let value = if j + 1 == self.steps.len() {
                value
            } else {
                p.bind(&format!("__s{j}"), value)
            };
            values.push(value);
        }
        values.pop().expect("a region has a step")
    }

    /// Prints every operand's adjoint contribution (`None` where not
    /// `needed`) from the operands, the region's value `y` and its adjoint
    /// `g`. Every step but the last (that is `y`) is bound to a local; the
    /// printer or the compiler drops those no rule reads.
    pub fn print_adjoint<P: Printer>(
        &self,
        p: &mut P,
        inputs: &[P::Expr],
        y: &P::Expr,
        g: &P::Expr,
        needed: &[bool],
    ) -> Vec<Option<P::Expr>> {
        let last = self.steps.len() - 1;
        let mut values: Vec<P::Expr> = Vec::with_capacity(self.steps.len());
        for (j, step) in self.steps.iter().enumerate() {
            let value = if j == last {
                y.clone()
            } else {
                let args: Vec<P::Expr> = step
                    .args
                    .iter()
                    .map(|a| self.operand(*a, inputs, &values))
                    .collect();
                p.bind(&format!("__s{j}"), rules::forward(&step.op, &args))
            };
            values.push(value);
        }
        let flows = self.flows_to(needed);
        let mut step_adjoints: Vec<Option<P::Expr>> = vec![None; self.steps.len()];
        step_adjoints[last] = Some(g.clone());
        let mut input_adjoints: Vec<Option<P::Expr>> = vec![None; self.inputs];
        for j in (0..self.steps.len()).rev() {
            let Some(a) = step_adjoints[j].take() else {
                continue;
            };
            let a = if j == last {
                a
            } else {
                p.bind(&format!("__a{j}"), a)
            };
            let step = &self.steps[j];
            let args: Vec<P::Expr> = step
                .args
                .iter()
                .map(|r| self.operand(*r, inputs, &values))
                .collect();
            for (k, r) in step.args.iter().enumerate() {
                let target = match r {
                    Ref::Input(i) if needed[*i] => &mut input_adjoints[*i],
                    Ref::Step(s) if flows[*s] => &mut step_adjoints[*s],
                    _ => continue,
                };
                let c = rules::adjoint(&step.op, &args, &values[j], &a, k);
                *target = Some(match target.take() {
                    Some(t) => t + c,
                    None => c,
                });
            }
        }
        input_adjoints
            .into_iter()
            .zip(needed)
            .map(|(a, n)| n.then(|| a.unwrap_or_else(|| P::Expr::lit(0.0))))
            .collect()
    }

    /// Prints the region's tangent from its operands and their tangents
    /// (`None` for operands that do not vary).
    pub fn print_tangent<P: Printer>(
        &self,
        p: &mut P,
        inputs: &[P::Expr],
        tangents: &[Option<P::Expr>],
    ) -> P::Expr {
        let mut values: Vec<P::Expr> = Vec::with_capacity(self.steps.len());
        let mut dots: Vec<Option<P::Expr>> = Vec::with_capacity(self.steps.len());
        for (j, step) in self.steps.iter().enumerate() {
            let args: Vec<P::Expr> = step
                .args
                .iter()
                .map(|a| self.operand(*a, inputs, &values))
                .collect();
            let darg: Vec<Option<P::Expr>> = step
                .args
                .iter()
                .map(|a| match a {
                    Ref::Input(i) => tangents[*i].clone(),
                    Ref::Step(s) => dots[*s].clone(),
                })
                .collect();
            let value = p.bind(&format!("__s{j}"), rules::forward(&step.op, &args));
            let dot = darg
                .iter()
                .any(Option::is_some)
                .then(|| rules::tangent(&step.op, &args, &value, &darg));
            let dot = dot.map(|d| p.bind(&format!("__d{j}"), d));
            values.push(value);
            dots.push(dot);
        }
        dots.pop().flatten().unwrap_or_else(|| P::Expr::lit(0.0))
    }

    fn operand<E: Clone>(&self, r: Ref, inputs: &[E], values: &[E]) -> E {
        match r {
            Ref::Input(i) => inputs[i].clone(),
            Ref::Step(j) => values[j].clone(),
        }
    }

    /// For each step, whether its adjoint reaches a needed operand.
    fn flows_to(&self, needed: &[bool]) -> Vec<bool> {
        let mut flows = vec![false; self.steps.len()];
        for (j, step) in self.steps.iter().enumerate() {
            flows[j] = step.args.iter().any(|a| match a {
                Ref::Input(i) => needed[*i],
                Ref::Step(s) => flows[*s],
            });
        }
        flows
    }
}

/// `text` without one pair of enclosing parentheses.
fn unparenthesised(text: String) -> String {
    match text.strip_prefix('(').and_then(|t| t.strip_suffix(')')) {
        Some(inner) if balanced(inner) => inner.to_string(),
        _ => text,
    }
}

fn balanced(text: &str) -> bool {
    let mut depth = 0i32;
    for c in text.chars() {
        depth += match c {
            '(' => 1,
            ')' => -1,
            _ => 0,
        };
        if depth < 0 {
            return false;
        }
    }
    depth == 0
}
