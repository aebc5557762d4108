//! Checks a `#[differentiable]` function's signature and classifies its
//! arguments into active (differentiated) and constant ones.

use crate::diagnostics::Errors;
use crate::ir::FloatTy;
use syn::spanned::Spanned;

/// What an argument holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamKind {
    /// A float of the function's type.
    Float,
    /// `&Tensor<T>`.
    Tensor,
    /// `&Model` for a struct implementing `Parameters`.
    Model,
    /// Anything else (only as `#[constant]`).
    Data,
}

/// One argument of the function.
#[derive(Clone, Debug)]
pub struct SigParam {
    pub ident: syn::Ident,
    pub ty: syn::Type,
    /// A float argument without `#[constant]`: gets a gradient.
    pub active: bool,
    /// Of the function's float type (active or constant).
    pub float: bool,
    /// Declared `mut` (the body may assign it).
    pub mutable: bool,
    /// What the argument holds.
    pub kind: ParamKind,
    /// `&[T]` with `T` the function's float type (kind `Data`): active
    /// without `#[constant]`, with a `Vec<T>` gradient.
    pub slice: bool,
}

impl SigParam {
    /// The type of this argument's gradient: the float type, the tensor or
    /// model type without the reference.
    pub fn gradient_ty(&self) -> &syn::Type {
        match &self.ty {
            syn::Type::Reference(r) => &r.elem,
            other => other,
        }
    }
}

/// The checked signature.
#[derive(Clone, Debug)]
pub struct Signature {
    pub vis: syn::Visibility,
    pub name: syn::Ident,
    pub float_ty: FloatTy,
    pub params: Vec<SigParam>,
    /// The function returns a tensor (else a float).
    pub returns_tensor: bool,
}

impl Signature {
    /// Whether the function computes with tensors (and uses the tensor
    /// compiler).
    pub fn tensor_mode(&self) -> bool {
        self.returns_tensor
            || self
                .params
                .iter()
                .any(|p| matches!(p.kind, ParamKind::Tensor | ParamKind::Model))
    }
}

impl Signature {
    /// The active arguments, in order.
    pub fn active(&self) -> impl Iterator<Item = &SigParam> {
        self.params.iter().filter(|p| p.active)
    }
}

/// The float type a type names, if it is `f32` or `f64`.
pub fn float_ty_of(ty: &syn::Type) -> Option<FloatTy> {
    match ty {
        syn::Type::Path(p) if p.qself.is_none() => {
            let ident = p.path.get_ident()?;
            if ident == "f64" {
                Some(FloatTy::F64)
            } else if ident == "f32" {
                Some(FloatTy::F32)
            } else {
                None
            }
        }
        syn::Type::Paren(p) => float_ty_of(&p.elem),
        syn::Type::Group(g) => float_ty_of(&g.elem),
        _ => None,
    }
}

/// The element type of `Tensor` or `Tensor<T>` (`f32` when omitted), if `ty`
/// names the tensor type.
pub fn tensor_elem_of(ty: &syn::Type) -> Option<Option<FloatTy>> {
    let syn::Type::Path(p) = ty else {
        return None;
    };
    let last = p.path.segments.last()?;
    if last.ident != "Tensor" {
        return None;
    }
    match &last.arguments {
        syn::PathArguments::None => Some(Some(FloatTy::F32)),
        syn::PathArguments::AngleBracketed(args) => match args.args.first() {
            Some(syn::GenericArgument::Type(t)) => Some(float_ty_of(t)),
            _ => Some(None),
        },
        syn::PathArguments::Parenthesized(_) => None,
    }
}

/// The element type of `[T]` or `Vec<T>` (what `&x` of a slice argument
/// points to).
fn slice_elem_of(ty: &syn::Type) -> Option<&syn::Type> {
    match ty {
        syn::Type::Slice(s) => Some(&s.elem),
        syn::Type::Path(p) if p.qself.is_none() => {
            let last = p.path.segments.last()?;
            match &last.arguments {
                syn::PathArguments::AngleBracketed(a)
                    if last.ident == "Vec" && a.args.len() == 1 =>
                {
                    match a.args.first() {
                        Some(syn::GenericArgument::Type(t)) => Some(t),
                        _ => None,
                    }
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// Whether an argument carries `#[constant]`.
pub fn is_constant_attr(attr: &syn::Attribute) -> bool {
    attr.path().is_ident("constant")
}

/// Checks the signature, recording every problem in `errors`.
pub fn check(item: &syn::ItemFn, errors: &mut Errors) -> Option<Signature> {
    let sig = &item.sig;
    let before = errors.len();
    if let Some(c) = &sig.constness {
        errors.push(
            c.span(),
            "`const fn` cannot be #[differentiable]: remove `const`",
        );
    }
    if let Some(a) = &sig.asyncness {
        errors.push(
            a.span(),
            "`async fn` cannot be #[differentiable]: remove `async`",
        );
    }
    if let Some(u) = &sig.unsafety {
        errors.push(
            u.span(),
            "`unsafe fn` cannot be #[differentiable]: the compiler differentiates safe code only",
        );
    }
    if let Some(abi) = &sig.abi {
        errors.push(abi.span(), "`extern` functions cannot be #[differentiable]");
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        errors.push(
            sig.generics.span(),
            "generic functions cannot be #[differentiable]: write the function for `f64` or `f32`",
        );
    }
    if let Some(v) = &sig.variadic {
        errors.push(v.span(), "variadic functions cannot be #[differentiable]");
    }
    let mut returns_tensor = false;
    let float_ty = match &sig.output {
        syn::ReturnType::Type(_, ty) => match (float_ty_of(ty), tensor_elem_of(ty)) {
            (Some(t), _) => Some(t),
            (None, Some(Some(t))) => {
                returns_tensor = true;
                Some(t)
            }
            _ => {
                errors.push_spanned(
                    ty,
                    "a #[differentiable] function must return `f64`, `f32` or a `Tensor` \
                     (the value whose derivative is taken)",
                );
                None
            }
        },
        syn::ReturnType::Default => {
            errors.push(
                sig.ident.span(),
                "a #[differentiable] function must return `f64` or `f32` (the value whose gradient is taken)",
            );
            None
        }
    };
    let mut params = Vec::new();
    for input in &sig.inputs {
        match input {
            syn::FnArg::Receiver(r) => errors.push_spanned(
                r,
                "methods cannot be #[differentiable]: write a free function and pass the receiver's fields as arguments",
            ),
            syn::FnArg::Typed(pt) => {
                if let Some(p) = check_param(pt, float_ty, errors) {
                    params.push(p);
                }
            }
        }
    }
    let has_receiver = sig.receiver().is_some();
    if let Some(span) = self_type_span(item).filter(|_| !has_receiver) {
        errors.push(
            span,
            format!(
                "`Self` here means `{}` is inside an `impl` block: #[differentiable] goes on free \
                 functions (its gradient struct and functions cannot live in an `impl`); move it \
                 out and name the type",
                sig.ident
            ),
        );
    }
    for p in &params {
        if p.ident == "value" {
            errors.push(
                p.ident.span(),
                "an argument named `value` would clash with the `value` field of the generated gradient struct: rename it",
            );
        }
    }
    let float_ty = float_ty?;
    let tensor_mode = returns_tensor
        || params
            .iter()
            .any(|p| matches!(p.kind, ParamKind::Tensor | ParamKind::Model));
    for p in params.iter().filter(|p| p.slice && p.active) {
        if tensor_mode {
            errors.push_spanned(
                &p.ty,
                format!(
                    "argument `{}`: active slices are supported in scalar functions only; in a tensor \
                     function pass a `&Tensor`, or mark the slice `#[constant]`",
                    p.ident
                ),
            );
        }
    }
    if errors.len() > before {
        return None;
    }
    Some(Signature {
        vis: item.vis.clone(),
        name: sig.ident.clone(),
        float_ty,
        params,
        returns_tensor,
    })
}

fn check_param(
    pt: &syn::PatType,
    float_ty: Option<FloatTy>,
    errors: &mut Errors,
) -> Option<SigParam> {
    let constant = pt.attrs.iter().any(is_constant_attr);
    let (ident, mutable) = match &*pt.pat {
        syn::Pat::Ident(pi) if pi.by_ref.is_none() && pi.subpat.is_none() => {
            (pi.ident.clone(), pi.mutability.is_some())
        }
        other => {
            errors.push(
                other.span(),
                "only plain identifiers are supported as #[differentiable] arguments (e.g. `x: f64`)",
            );
            return None;
        }
    };
    let arg_ty = float_ty_of(&pt.ty);
    let float = arg_ty.is_some() && arg_ty == float_ty;
    if let syn::Type::Reference(r) = &*pt.ty {
        if let Some(m) = &r.mutability {
            errors.push(
                m.span(),
                format!(
                    "argument `{ident}` is a `&mut` reference: a #[differentiable] function may not mutate its \
                     arguments; pass `&` (and mark data such as a random generator `#[constant]`)"
                ),
            );
            return None;
        }
        let is_path = matches!(&*r.elem, syn::Type::Path(_));
        if constant && tensor_elem_of(&r.elem).is_some() {
            return Some(SigParam {
                ident,
                ty: (*pt.ty).clone(),
                active: false,
                float: false,
                mutable,
                kind: ParamKind::Tensor,
                slice: false,
            });
        }
        if let Some(elem) = slice_elem_of(&r.elem) {
            let elem = float_ty_of(elem);
            if !constant && elem.is_some() && elem != float_ty {
                errors.push_spanned(&pt.ty, element_mismatch(&ident, elem, float_ty));
                return None;
            }
            if elem.is_some() && elem == float_ty {
                return Some(SigParam {
                    ident,
                    ty: (*pt.ty).clone(),
                    active: !constant,
                    float: false,
                    mutable,
                    kind: ParamKind::Data,
                    slice: true,
                });
            }
        }
        if !constant && is_path {
            let (kind, elem) = match tensor_elem_of(&r.elem) {
                Some(elem) => (ParamKind::Tensor, elem),
                None => (ParamKind::Model, float_ty),
            };
            if kind == ParamKind::Tensor && elem != float_ty {
                errors.push_spanned(&pt.ty, element_mismatch(&ident, elem, float_ty));
                return None;
            }
            return Some(SigParam {
                ident,
                ty: (*pt.ty).clone(),
                active: true,
                float: false,
                mutable,
                kind,
                slice: false,
            });
        }
    }
    if !constant {
        match (arg_ty, float_ty) {
            (None, _) => {
                errors.push(
                    pt.ty.span(),
                    format!(
                        "argument `{ident}` is not a float: differentiable arguments are `f64`/`f32`, \
                         `&Tensor` or `&Model` (a `Parameters` struct); mark non-differentiable data `#[constant]`"
                    ),
                );
                return None;
            }
            (Some(a), Some(r)) if a != r => {
                errors.push(
                    pt.ty.span(),
                    format!(
                        "argument `{ident}` is `{}` but the function returns `{}`: a #[differentiable] \
                         function computes in one float type",
                        a.name(),
                        r.name()
                    ),
                );
                return None;
            }
            _ => {}
        }
    }
    let kind = if float {
        ParamKind::Float
    } else {
        ParamKind::Data
    };
    Some(SigParam {
        ident,
        ty: (*pt.ty).clone(),
        active: !constant,
        float,
        mutable,
        kind,
        slice: false,
    })
}

/// The function with `#[constant]` removed from its arguments, as it is
/// emitted unchanged otherwise.
pub fn strip_constant_attrs(item: &syn::ItemFn) -> syn::ItemFn {
    let mut item = item.clone();
    for input in item.sig.inputs.iter_mut() {
        if let syn::FnArg::Typed(pt) = input {
            pt.attrs.retain(|a| !is_constant_attr(a));
        }
    }
    item
}

/// The first `Self` in the function (its signature or body), which only an
/// associated function inside an `impl` block can mention.
fn self_type_span(item: &syn::ItemFn) -> Option<proc_macro2::Span> {
    struct FindSelf(Option<proc_macro2::Span>);
    impl<'ast> syn::visit::Visit<'ast> for FindSelf {
        fn visit_ident(&mut self, ident: &'ast syn::Ident) {
            if ident == "Self" && self.0.is_none() {
                self.0 = Some(ident.span());
            }
        }
        fn visit_item(&mut self, _: &'ast syn::Item) {}
    }
    let mut finder = FindSelf(None);
    syn::visit::Visit::visit_item_fn(&mut finder, item);
    finder.0
}

/// "argument `x` holds `f32` elements but the function computes in `f64`".
fn element_mismatch(
    ident: &syn::Ident,
    elem: Option<FloatTy>,
    float_ty: Option<FloatTy>,
) -> String {
    let name = |t: Option<FloatTy>| t.map_or("unknown", |t| t.name());
    format!(
        "argument `{ident}` holds `{}` elements but the function computes in `{}`",
        name(elem),
        name(float_ty)
    )
}
