//! Griewank–Walther evaluation and adjoint traces.
//!
//! Generated code can be asked to record what it computes as the numbered three-address
//! listing used in *Evaluating Derivatives* (Griewank & Walther): the `n` inputs are
//! `v_{1-n} ..= v_0`, every elementary operation produces the next `v_1, v_2, ...`, and the
//! reverse sweep records adjoints `v̄_i`. [`Trace`] stores both sweeps and prints them as the
//! familiar two-part table, which makes the compiler's output easy to teach and to debug.

use std::fmt;

/// An operand of a recorded operation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TraceArg {
    /// The numbered intermediate `v_i`.
    Var(i64),
    /// A constant written inline into the expression.
    Const(f64),
}

/// One line of a trace: the index it defines, how it was computed, and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceStep {
    /// The index `i` of the defined quantity `v_i` (or `v̄_i` in the reverse trace).
    pub index: i64,
    /// The right-hand side as text, e.g. `sin(v_1)`; the input name for inputs; `v̄_i` for
    /// adjoints.
    pub expr: String,
    /// The numeric value of the step.
    pub value: f64,
}

/// A recorder of the forward (evaluation) and reverse (adjoint) trace of one evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    next_input: i64,
    next_op: i64,
    forward: Vec<TraceStep>,
    reverse: Vec<TraceStep>,
    tangents: Vec<(i64, f64)>,
}

impl Trace {
    /// An empty trace for a function of `num_inputs` inputs, numbered `v_{1-n} ..= v_0`.
    pub fn new(num_inputs: usize) -> Trace {
        let n = i64::try_from(num_inputs).unwrap_or(i64::MAX - 1);
        Trace {
            next_input: 1 - n,
            next_op: 1,
            forward: Vec::new(),
            reverse: Vec::new(),
            tangents: Vec::new(),
        }
    }

    /// Records the next input under `name` (e.g. `x1`) and returns its index: the first call
    /// gets `1 - n`, the `n`-th gets `0`.
    ///
    /// Calling this more than `n` times keeps counting upwards, and later operations are
    /// numbered after the last input, so indices never collide.
    pub fn input(&mut self, name: &str, value: f64) -> i64 {
        let index = self.next_input;
        self.next_input += 1;
        self.next_op = self.next_op.max(index + 1);
        self.forward.push(TraceStep {
            index,
            expr: name.to_owned(),
            value,
        });
        index
    }

    /// Records an elementary operation and returns its index (`1, 2, 3, ...`).
    ///
    /// In `template`, each placeholder `{k}` is replaced by operand `args[k]`: `v_i` for
    /// [`TraceArg::Var`], the compactly formatted number for [`TraceArg::Const`]. Placeholders
    /// without a matching operand are kept verbatim.
    pub fn op(&mut self, template: &str, args: &[TraceArg], value: f64) -> i64 {
        let index = self.next_op;
        self.next_op += 1;
        self.forward.push(TraceStep {
            index,
            expr: substitute(template, args),
            value,
        });
        index
    }

    /// Records the adjoint `v̄_index` computed by the reverse sweep.
    pub fn adjoint(&mut self, index: i64, value: f64) {
        self.reverse.push(TraceStep {
            index,
            expr: adjoint_label(index),
            value,
        });
    }

    /// Records the tangent `v̇_index` computed by a forward-mode sweep.
    pub fn tangent(&mut self, index: i64, value: f64) {
        self.tangents.push((index, value));
    }

    /// The tangent `v̇_index` (the last one recorded under that index), if any.
    pub fn tangent_of(&self, index: i64) -> Option<f64> {
        self.tangents
            .iter()
            .rev()
            .find(|(i, _)| *i == index)
            .map(|(_, v)| *v)
    }

    /// The forward value of `v_index` (the last one recorded under that index), if any.
    pub fn value(&self, index: i64) -> Option<f64> {
        last_value(&self.forward, index)
    }

    /// The adjoint `v̄_index` (the last one recorded under that index), if any.
    pub fn adjoint_of(&self, index: i64) -> Option<f64> {
        last_value(&self.reverse, index)
    }

    /// The evaluation trace: inputs followed by operations, in recording order.
    pub fn forward_steps(&self) -> &[TraceStep] {
        &self.forward
    }

    /// The adjoint trace, in recording order.
    pub fn reverse_steps(&self) -> &[TraceStep] {
        &self.reverse
    }
}

impl fmt::Display for Trace {
    /// Prints both sweeps as an aligned table with values to four decimals.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let forward_labels: Vec<String> = self.forward.iter().map(|s| var(s.index)).collect();
        let label_width = forward_labels
            .iter()
            .chain(self.reverse.iter().map(|s| &s.expr))
            .map(|l| display_width(l))
            .max()
            .unwrap_or(0);
        let expr_width = self
            .forward
            .iter()
            .map(|s| display_width(&s.expr))
            .max()
            .unwrap_or(0);
        let value_width = self
            .forward
            .iter()
            .chain(&self.reverse)
            .map(|s| format!("{:.4}", s.value).len())
            .max()
            .unwrap_or(0)
            .max(7);

        writeln!(f, "forward (evaluation) trace")?;
        for (label, step) in forward_labels.iter().zip(&self.forward) {
            write!(
                f,
                "  {} = {} = {:>w$.4}",
                pad(label, label_width),
                pad(&step.expr, expr_width),
                step.value + 0.0,
                w = value_width
            )?;
            match self.tangent_of(step.index) {
                Some(t) => writeln!(f, "    v̇ = {:>w$.4}", t + 0.0, w = value_width)?,
                _ => writeln!(f)?,
            }
        }
        if self.reverse.is_empty() {
            return Ok(());
        }
        writeln!(f, "reverse (adjoint) trace")?;
        for step in &self.reverse {
            writeln!(
                f,
                "  {} = {:>w$.4}",
                pad(&step.expr, label_width),
                step.value,
                w = value_width
            )?;
        }
        Ok(())
    }
}

/// The name of the intermediate `v_index`.
fn var(index: i64) -> String {
    format!("v_{index}")
}

/// The name of the adjoint `v̄_index` (a `v` with a combining macron).
fn adjoint_label(index: i64) -> String {
    format!("v\u{304}_{index}")
}

/// The value of the last step recorded under `index`.
fn last_value(steps: &[TraceStep], index: i64) -> Option<f64> {
    steps
        .iter()
        .rev()
        .find(|s| s.index == index)
        .map(|s| s.value)
}

/// Formats a constant compactly: `2`, `0.5`, `-3.25`, and scientific notation for very large
/// or very small magnitudes.
fn format_const(c: f64) -> String {
    let magnitude = c.abs();
    if c.is_finite() && magnitude != 0.0 && !(1e-4..1e6).contains(&magnitude) {
        format!("{c:e}")
    } else {
        format!("{c}")
    }
}

/// Replaces each `{k}` in `template` by the text of `args[k]`.
fn substitute(template: &str, args: &[TraceArg]) -> String {
    let mut out = String::with_capacity(template.len() + 8 * args.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        let arg = (digits > 0 && after[digits..].starts_with('}'))
            .then(|| after[..digits].parse::<usize>().ok())
            .flatten()
            .and_then(|k| args.get(k));
        match arg {
            Some(TraceArg::Var(i)) => {
                out.push_str(&var(*i));
                rest = &after[digits + 1..];
            }
            Some(TraceArg::Const(c)) => {
                out.push_str(&format_const(*c));
                rest = &after[digits + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The number of terminal columns `s` occupies, not counting combining diacritics.
fn display_width(s: &str) -> usize {
    s.chars()
        .filter(|c| !('\u{300}'..='\u{36f}').contains(c))
        .count()
}

/// `s` followed by enough spaces to occupy `width` columns.
fn pad(s: &str, width: usize) -> String {
    let fill = width.saturating_sub(display_width(s));
    format!("{s}{}", " ".repeat(fill))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The textbook example `y = sin(x1 / x2) + x1 / x2 - exp(x2)` recorded by hand.
    fn textbook() -> (Trace, [i64; 7]) {
        let (x1, x2) = (1.5_f64, 0.5_f64);
        let mut t = Trace::new(2);
        let a = t.input("x1", x1);
        let b = t.input("x2", x2);
        let v1 = t.op("{0} / {1}", &[TraceArg::Var(a), TraceArg::Var(b)], x1 / x2);
        let v2 = t.op("sin({0})", &[TraceArg::Var(v1)], (x1 / x2).sin());
        let v3 = t.op("exp({0})", &[TraceArg::Var(b)], x2.exp());
        let v4 = t.op(
            "{0} - {1}",
            &[TraceArg::Var(v1), TraceArg::Var(v3)],
            3.0 - x2.exp(),
        );
        let v5 = t.op(
            "{0} + {1}",
            &[TraceArg::Var(v2), TraceArg::Var(v4)],
            (x1 / x2).sin() + 3.0 - x2.exp(),
        );
        (t, [a, b, v1, v2, v3, v4, v5])
    }

    #[test]
    fn inputs_are_numbered_up_to_zero_and_operations_from_one() {
        let (t, idx) = textbook();
        assert_eq!(idx, [-1, 0, 1, 2, 3, 4, 5]);
        let mut single = Trace::new(1);
        assert_eq!(single.input("x", 2.0), 0);
        assert_eq!(single.op("2 * {0}", &[TraceArg::Var(0)], 4.0), 1);
        assert_eq!(t.forward_steps().len(), 7);
        assert_eq!(t.forward_steps()[0].expr, "x1");
    }

    #[test]
    fn extra_inputs_never_collide_with_operations() {
        let mut t = Trace::new(1);
        assert_eq!(t.input("x", 1.0), 0);
        assert_eq!(t.input("y", 2.0), 1);
        assert_eq!(
            t.op("{0} + {1}", &[TraceArg::Var(0), TraceArg::Var(1)], 3.0),
            2
        );
    }

    #[test]
    fn templates_substitute_variables_and_compact_constants() {
        let mut t = Trace::new(1);
        let x = t.input("x", 0.25);
        t.op("{0} * {1}", &[TraceArg::Const(2.0), TraceArg::Var(x)], 0.5);
        t.op(
            "{1} ^ {0} + {2}",
            &[
                TraceArg::Const(0.5),
                TraceArg::Var(1),
                TraceArg::Const(-3.25),
            ],
            0.0,
        );
        t.op(
            "{0} + {1}",
            &[TraceArg::Const(1e9), TraceArg::Const(2.5e-7)],
            0.0,
        );
        t.op("f({3}, {x}, {}, {0}", &[TraceArg::Var(-7)], 0.0);
        let exprs: Vec<&str> = t.forward_steps().iter().map(|s| s.expr.as_str()).collect();
        assert_eq!(
            exprs,
            [
                "x",
                "2 * v_0",
                "v_1 ^ 0.5 + -3.25",
                "1e9 + 2.5e-7",
                "f({3}, {x}, {}, v_-7"
            ]
        );
    }

    #[test]
    fn lookup_returns_the_last_recorded_value() {
        let (mut t, [a, b, v1, .., v5]) = textbook();
        assert_eq!(t.value(a), Some(1.5));
        assert_eq!(t.value(b), Some(0.5));
        assert_eq!(t.value(v1), Some(3.0));
        assert!(
            (t.value(v5).unwrap_or(f64::NAN) - (3.0_f64.sin() + 3.0 - 0.5_f64.exp())).abs() < 1e-15
        );
        assert_eq!(t.value(6), None);
        assert_eq!(t.adjoint_of(v5), None);
        t.adjoint(v5, 1.0);
        t.adjoint(v1, 0.25);
        t.adjoint(v1, 0.75);
        assert_eq!(t.adjoint_of(v5), Some(1.0));
        assert_eq!(t.adjoint_of(v1), Some(0.75));
        assert_eq!(t.reverse_steps().len(), 3);
        assert_eq!(t.reverse_steps()[0].expr, "v\u{304}_5");
    }

    #[test]
    fn display_prints_an_aligned_table() {
        let (x1, x2) = (1.5_f64, 0.5_f64);
        let (mut t, [a, b, v1, v2, v3, v4, v5]) = textbook();
        // Reverse sweep of the textbook example, by hand.
        let bar5 = 1.0;
        let bar4 = bar5;
        let bar2 = bar5;
        let bar3 = -bar4;
        let bar1 = bar4 + bar2 * (x1 / x2).cos();
        let bar0 = bar3 * x2.exp() - bar1 * x1 / (x2 * x2);
        let bar_1 = bar1 / x2;
        for (i, v) in [
            (v5, bar5),
            (v4, bar4),
            (v3, bar3),
            (v2, bar2),
            (v1, bar1),
            (b, bar0),
            (a, bar_1),
        ] {
            t.adjoint(i, v);
        }
        assert!((bar0 - (-1.5 / 0.25 * (1.0 + 3.0_f64.cos()) - 0.5_f64.exp())).abs() < 1e-15);
        let expected = "\
forward (evaluation) trace
  v_-1 = x1         =  1.5000
  v_0  = x2         =  0.5000
  v_1  = v_-1 / v_0 =  3.0000
  v_2  = sin(v_1)   =  0.1411
  v_3  = exp(v_0)   =  1.6487
  v_4  = v_1 - v_3  =  1.3513
  v_5  = v_2 + v_4  =  1.4924
reverse (adjoint) trace
  v\u{304}_5  =  1.0000
  v\u{304}_4  =  1.0000
  v\u{304}_3  = -1.0000
  v\u{304}_2  =  1.0000
  v\u{304}_1  =  0.0100
  v\u{304}_0  = -1.7088
  v\u{304}_-1 =  0.0200
";
        assert_eq!(t.to_string(), expected);
    }

    #[test]
    fn display_widens_the_value_column_for_long_numbers() {
        let mut t = Trace::new(1);
        let x = t.input("x", -12.0);
        t.op("{0} * {0}", &[TraceArg::Var(x)], 144.0);
        t.adjoint(1, 1.0);
        let expected = "\
forward (evaluation) trace
  v_0 = x         = -12.0000
  v_1 = v_0 * v_0 = 144.0000
reverse (adjoint) trace
  v\u{304}_1 =   1.0000
";
        assert_eq!(t.to_string(), expected);
    }
}
