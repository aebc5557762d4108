//! Turning a table entry into Rust code: the names generated code gives an
//! op's operands, value, adjoint and tangents ([`Cx`]), and the generic
//! forward, adjoint and tangent of the table's declarative entries.

use super::{Backward, Forward, Gives, OpDef, Read, Tangent};
use proc_macro2::TokenStream;
use quote::quote;

/// The adjoint of `y = op(x)` given the output's adjoint `g`.
pub enum Adjoint {
    /// One call returning the contributions to the first two operands as a
    /// pair; `swap` when the pair is (second, first).
    Pair { call: TokenStream, swap: bool },
    /// The contribution to one operand.
    Single { operand: usize, expr: TokenStream },
    /// One call taking which operands need a gradient (`[bool; n]`, the
    /// differentiable operands in order) and returning a tuple of `Option`s.
    Needed { call: TokenStream, operands: usize },
}

/// The code names of one op's operands (`x`), their shapes, its value `y`,
/// its forward's extra output, its adjoint `g`, which operands need a
/// gradient, and the operands' tangents `dx` (`None` where an operand does
/// not vary); a sweep fills what it has.
pub struct Cx {
    x: Vec<TokenStream>,
    shapes: Vec<TokenStream>,
    y: TokenStream,
    extra: TokenStream,
    g: TokenStream,
    needs: Vec<bool>,
    dx: Vec<Option<TokenStream>>,
}

impl Cx {
    pub fn forward(x: &[TokenStream]) -> Cx {
        Cx {
            x: x.to_vec(),
            shapes: Vec::new(),
            y: TokenStream::new(),
            extra: TokenStream::new(),
            g: TokenStream::new(),
            needs: Vec::new(),
            dx: Vec::new(),
        }
    }

    pub fn adjoint(
        x: &[TokenStream],
        shapes: &[TokenStream],
        y: &TokenStream,
        extra: &TokenStream,
        g: &TokenStream,
        needs: &[bool],
    ) -> Cx {
        Cx {
            shapes: shapes.to_vec(),
            y: y.clone(),
            extra: extra.clone(),
            g: g.clone(),
            needs: needs.to_vec(),
            ..Cx::forward(x)
        }
    }

    pub fn tangent(
        x: &[TokenStream],
        y: &TokenStream,
        extra: &TokenStream,
        dx: &[Option<TokenStream>],
    ) -> Cx {
        Cx {
            y: y.clone(),
            extra: extra.clone(),
            dx: dx.to_vec(),
            ..Cx::forward(x)
        }
    }

    /// Operand `i`.
    pub fn x(&self, i: usize) -> &TokenStream {
        &self.x[i]
    }

    /// The op's value.
    pub fn y(&self) -> &TokenStream {
        &self.y
    }

    /// The op's adjoint.
    pub fn g(&self) -> &TokenStream {
        &self.g
    }

    /// The forward's extra output.
    pub fn extra(&self) -> &TokenStream {
        &self.extra
    }

    /// Whether operand `i` needs a gradient.
    pub fn needs(&self, i: usize) -> bool {
        self.needs.get(i).copied().unwrap_or(false)
    }

    /// Operand `i`'s tangent, if it varies.
    pub fn d(&self, i: usize) -> Option<&TokenStream> {
        self.dx.get(i).and_then(Option::as_ref)
    }

    /// The runtime's op modules.
    pub fn ops() -> TokenStream {
        quote!(::adjoint::__private::ops)
    }

    /// What `read` passes.
    fn arg(&self, read: Read) -> TokenStream {
        let (y, extra, g) = (&self.y, &self.extra, &self.g);
        match read {
            Read::Input(i) => {
                let x = &self.x[i];
                quote!(&#x)
            }
            Read::Value(i) => self.x[i].clone(),
            Read::F64(i) => {
                let x = &self.x[i];
                quote!(::core::convert::Into::<f64>::into(#x))
            }
            Read::Cloned(i) => {
                let x = &self.x[i];
                quote!(::core::clone::Clone::clone(&#x))
            }
            Read::Shape(i) => self.shapes[i].clone(),
            Read::Output => quote!(&#y),
            Read::Extra => quote!(&#extra),
            Read::Grad => quote!(&#g),
            Read::GradValue => g.clone(),
            Read::Needs(n) => {
                let needs = (0..n).map(|i| self.needs(i));
                quote!([#(#needs),*])
            }
        }
    }

    /// `ops::<path>(reads..)`.
    pub fn kernel(&self, path: &str, reads: &[Read]) -> TokenStream {
        let ops = Cx::ops();
        let path: TokenStream = path
            .parse()
            .unwrap_or_else(|_| unreachable!("adjoint-macros internal error: bad kernel path"));
        let args = reads.iter().map(|r| self.arg(*r));
        quote!(#ops::#path(#(#args),*))
    }

    /// The op's forward expression.
    pub fn forward_of(&self, def: &OpDef) -> TokenStream {
        match def.forward {
            Forward::Method(name, reads) => {
                let a = &self.x[0];
                let name = proc_macro2::Ident::new(name, proc_macro2::Span::call_site());
                let args = reads.iter().map(|r| self.arg(*r));
                quote!(#a.#name(#(#args),*))
            }
            Forward::Kernel(path, reads) => self.kernel(path, reads),
            Forward::Custom(f) => f(self),
        }
    }

    /// The op's adjoint.
    pub fn adjoint_of(&self, def: &OpDef) -> Adjoint {
        match def.backward {
            Backward::Kernel(path, reads, gives) => {
                let call = self.kernel(path, reads);
                match gives {
                    Gives::Single(operand) => Adjoint::Single {
                        operand,
                        expr: call,
                    },
                    Gives::Pair => Adjoint::Pair { call, swap: false },
                    Gives::PairSwapped => Adjoint::Pair { call, swap: true },
                    Gives::Needed(operands) => Adjoint::Needed { call, operands },
                }
            }
            Backward::Custom(f) => f(self),
        }
    }

    /// The op's tangent.
    pub fn tangent_of(&self, def: &OpDef) -> TokenStream {
        match (def.tangent, self.d(0)) {
            (Tangent::Custom(f), _) => f(self),
            (_, None) if def.scalar_result => quote!(0.0),
            (_, None) => self.zeros(),
            (Tangent::Linear, Some(d)) => {
                let mut x = self.x.clone();
                x[0] = d.clone();
                Cx::forward(&x).forward_of(def)
            }
            (Tangent::Symmetric, Some(d)) => {
                let with_g = Cx {
                    g: d.clone(),
                    ..Cx::adjoint(&self.x, &[], &self.y, &self.extra, &TokenStream::new(), &[])
                };
                match with_g.adjoint_of(def) {
                    Adjoint::Single { operand: 0, expr } => expr,
                    _ => unreachable!(
                        "adjoint-macros internal error: a symmetric tangent needs a single-operand adjoint kernel"
                    ),
                }
            }
        }
    }

    /// A zero tensor shaped like the value.
    pub fn zeros(&self) -> TokenStream {
        let y = &self.y;
        quote!(::adjoint::Tensor::zeros_like(&#y))
    }

    /// The sum of tensor terms, zero if none.
    pub fn sum(&self, terms: Vec<TokenStream>) -> TokenStream {
        let mut it = terms.into_iter();
        let first = it.next().unwrap_or_else(|| self.zeros());
        it.fold(first, |acc, t| quote!(&(#acc) + &(#t)))
    }

    /// The sum of scalar terms, zero if none.
    pub fn scalar_sum(terms: Vec<TokenStream>) -> TokenStream {
        let mut it = terms.into_iter();
        let first = it.next().unwrap_or_else(|| quote!(0.0));
        it.fold(first, |acc, t| quote!((#acc) + (#t)))
    }

    /// A term broadcast to the value's shape.
    pub fn spread(&self, t: TokenStream) -> TokenStream {
        let y = &self.y;
        quote!((#t).broadcast_to(#y.shape()))
    }

    /// `-t` for a tensor.
    pub fn neg(t: TokenStream) -> TokenStream {
        let ops = Cx::ops();
        quote!(#ops::unary::neg(&(#t)))
    }
}
