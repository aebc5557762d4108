//! `#[derive(Parameters)]`: implements the runtime's `Parameters` visitor
//! for a struct by visiting each field in declaration order.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::spanned::Spanned;

/// The derive's expansion, or a spanned error.
pub fn derive_parameters(input: TokenStream) -> TokenStream {
    match expand(input) {
        Ok(tokens) => tokens,
        Err(e) => e.to_compile_error(),
    }
}

fn expand(input: TokenStream) -> syn::Result<TokenStream> {
    let item: syn::DeriveInput = syn::parse2(input)?;
    let syn::Data::Struct(data) = &item.data else {
        return Err(syn::Error::new(
            item.ident.span(),
            "#[derive(Parameters)] applies to structs whose fields are tensors, other Parameters structs or Vecs of them",
        ));
    };
    let fields: Vec<(TokenStream, String, &syn::Type)> = match &data.fields {
        syn::Fields::Named(named) => named
            .named
            .iter()
            .map(|f| {
                let ident = f.ident.clone().expect("named field");
                (quote!(#ident), ident.to_string(), &f.ty)
            })
            .collect(),
        syn::Fields::Unnamed(unnamed) => unnamed
            .unnamed
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let index = syn::Index::from(i);
                (quote!(#index), i.to_string(), &f.ty)
            })
            .collect(),
        syn::Fields::Unit => Vec::new(),
    };
    let Some((_, _, first_ty)) = fields.first() else {
        return Err(syn::Error::new(
            item.ident.span(),
            "#[derive(Parameters)] needs at least one field holding tensors",
        ));
    };
    let name = &item.ident;
    let (impl_generics, ty_generics, where_clause) = item.generics.split_for_impl();
    let krate = quote!(::adjoint::params);
    let elem = quote!(<#first_ty as #krate::Parameters>::Elem);
    let mut predicates: Vec<TokenStream> = where_clause
        .map(|w| w.predicates.iter().map(|p| quote!(#p)).collect())
        .unwrap_or_default();
    // Bounds are only needed for generic models; concrete field types are
    // checked by the method bodies (a field that is not `Parameters` is an
    // error at that field).
    if !item.generics.params.is_empty() {
        predicates.push(quote!(#first_ty: #krate::Parameters));
        predicates.extend(
            fields
                .iter()
                .skip(1)
                .map(|(_, _, ty)| quote_spanned_ty(ty, &krate, &elem)),
        );
    }
    let accessors: Vec<&TokenStream> = fields.iter().map(|(a, _, _)| a).collect();
    let names: Vec<&String> = fields.iter().map(|(_, n, _)| n).collect();
    let other = format_ident!("__other");
    let constructor = match &data.fields {
        syn::Fields::Named(_) => {
            quote!(#name { #(#accessors: #krate::Parameters::map(&self.#accessors, f)),* })
        }
        _ => quote!(#name ( #(#krate::Parameters::map(&self.#accessors, f)),* )),
    };
    Ok(quote! {
        impl #impl_generics #krate::Parameters for #name #ty_generics
        where #(#predicates,)*
        {
            type Elem = #elem;

            fn visit(&self, path: &mut ::std::string::String, f: &mut dyn FnMut(&str, &::adjoint::Tensor<Self::Elem>)) {
                #(#krate::with_segment(path, #names, |path| #krate::Parameters::visit(&self.#accessors, path, f));)*
            }

            fn visit_mut(&mut self, path: &mut ::std::string::String, f: &mut dyn FnMut(&str, &mut ::adjoint::Tensor<Self::Elem>)) {
                #(#krate::with_segment(path, #names, |path| #krate::Parameters::visit_mut(&mut self.#accessors, path, f));)*
            }

            fn zip_mut(&mut self, #other: &Self, f: &mut #krate::ZipFn<'_, Self::Elem>) {
                #(#krate::Parameters::zip_mut(&mut self.#accessors, &#other.#accessors, f);)*
            }

            fn map(&self, f: &mut #krate::MapFn<'_, Self::Elem>) -> Self {
                #constructor
            }

            fn visit_buffers(&self, path: &mut ::std::string::String, f: &mut dyn FnMut(&str, &::adjoint::Tensor<Self::Elem>)) {
                #(#krate::with_segment(path, #names, |path| #krate::Parameters::visit_buffers(&self.#accessors, path, f));)*
            }

            fn visit_buffers_mut(&mut self, path: &mut ::std::string::String, f: &mut dyn FnMut(&str, &mut ::adjoint::Tensor<Self::Elem>)) {
                #(#krate::with_segment(path, #names, |path| #krate::Parameters::visit_buffers_mut(&mut self.#accessors, path, f));)*
            }
        }
    })
}

fn quote_spanned_ty(ty: &syn::Type, krate: &TokenStream, elem: &TokenStream) -> TokenStream {
    let span = ty.span();
    quote::quote_spanned!(span=> #ty: #krate::Parameters<Elem = #elem>)
}
