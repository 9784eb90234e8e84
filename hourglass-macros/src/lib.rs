//! Attribute macros that make Hourglass find workflows and activities by their Temporal type
//! name at link time (through `inventory`), so no list of types is needed in any config.
//!
//! Use them through `hourglass_worker` (which re-exports them and hosts the runtime types the
//! generated code refers to):
//!
//! * `#[hourglass_worker::register]` on a struct that carries the official
//!   `#[temporalio_macros::workflow]` attribute (or on its `#[workflow_methods]` impl block)
//!   registers that workflow under its Temporal type name.
//! * `#[hourglass_worker::activities]` replaces the official `#[activities]` on an impl block of
//!   `#[activity]` methods. It generates the same activity definitions (so workflows call them
//!   exactly as with the official SDK: `ctx.execute_activity(MyActs::greet, ..)`), executes them
//!   with `hourglass_worker::activity::ActivityContext`, and registers them at link time.

use proc_macro::TokenStream;
use proc_macro2::TokenStream as TokenStream2;
use quote::quote;
use syn::{Item, parse::Parser, parse_macro_input, spanned::Spanned};

mod activities;
mod macro_utils;

/// Registers a workflow type for link-time discovery by Hourglass workers.
///
/// Put it on the struct that has `#[workflow]` (or on the `#[workflow_methods]` impl block; use
/// exactly one of the two per workflow). The workflow is found by the type name its
/// `WorkflowImplementation::name()` reports (the struct name, or `#[run(name = ..)]`).
/// Takes no arguments.
#[proc_macro_attribute]
pub fn register(attr: TokenStream, item: TokenStream) -> TokenStream {
    let attr2: TokenStream2 = attr.into();
    if !attr2.is_empty() {
        return syn::Error::new(attr2.span(), "#[register] takes no arguments")
            .into_compile_error()
            .into();
    }
    let parsed = parse_macro_input!(item as Item);
    let ty: syn::Type = match &parsed {
        Item::Struct(s) => {
            if !s.generics.params.is_empty() {
                return syn::Error::new(
                    s.generics.span(),
                    "generic workflows cannot be registered",
                )
                .into_compile_error()
                .into();
            }
            let ident = &s.ident;
            syn::parse_quote!(#ident)
        }
        Item::Impl(i) => {
            if !i.generics.params.is_empty() {
                return syn::Error::new(
                    i.generics.span(),
                    "generic workflows cannot be registered",
                )
                .into_compile_error()
                .into();
            }
            (*i.self_ty).clone()
        }
        other => {
            return syn::Error::new(
                other.span(),
                "#[register] goes on a #[workflow] struct or its #[workflow_methods] impl block",
            )
            .into_compile_error()
            .into();
        }
    };
    quote! {
        #parsed

        ::hourglass_worker::__private::inventory::submit! {
            ::hourglass_worker::workflow::WorkflowRegistration::of::<#ty>()
        }
    }
    .into()
}

/// Defines activities (like the official `#[activities]`) and registers them for link-time
/// discovery.
///
/// Arguments (all optional):
/// * `instance = <expr>`: an expression producing `Self`, evaluated once when a registry is
///   built. Required when any activity takes `self: Arc<Self>`.
/// * `register = false`: do not register automatically (use
///   `hourglass_worker::register_activities!(expr)` or build an `ActivityDefinitions` by hand).
#[proc_macro_attribute]
pub fn activities(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut instance: Option<syn::Expr> = None;
    let mut register = true;
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("instance") {
            instance = Some(meta.value()?.parse()?);
            Ok(())
        } else if meta.path.is_ident("register") {
            let lit: syn::LitBool = meta.value()?.parse()?;
            register = lit.value;
            Ok(())
        } else {
            Err(meta.error("supported arguments: `instance = <expr>`, `register = <bool>`"))
        }
    });
    if let Err(e) = parser.parse(attr) {
        return e.into_compile_error().into();
    }
    let def = parse_macro_input!(item with activities::parse_activities);
    let impl_type = def.impl_type().clone();
    let registration = if !register {
        quote! {}
    } else if let Some(expr) = instance {
        quote! {
            ::hourglass_worker::__private::inventory::submit! {
                ::hourglass_worker::activity::ActivityRegistration::new(
                    ::std::stringify!(#impl_type),
                    |defs| <#impl_type as ::hourglass_worker::activity::ActivityImplementer>::register_all(
                        ::std::option::Option::Some(::std::sync::Arc::new(#expr)),
                        defs,
                    ),
                )
            }
        }
    } else if def.needs_instance() {
        return syn::Error::new(
            impl_type.span(),
            "some activities take `self: Arc<Self>`: give an instance with \
             #[activities(instance = <expr>)], or use #[activities(register = false)] and \
             hourglass_worker::register_activities!(<expr>)",
        )
        .into_compile_error()
        .into();
    } else {
        quote! {
            ::hourglass_worker::__private::inventory::submit! {
                ::hourglass_worker::activity::ActivityRegistration::new(
                    ::std::stringify!(#impl_type),
                    |defs| <#impl_type as ::hourglass_worker::activity::ActivityImplementer>::register_all(
                        ::std::option::Option::None,
                        defs,
                    ),
                )
            }
        }
    };
    def.codegen(registration).into()
}

/// Marks a method inside `#[activities]` as an activity; optional `name = "..."` overrides the
/// Temporal type name (default `"Type::method"`, as in the official SDK). Processed by
/// `#[activities]`; on its own it leaves the item unchanged.
#[proc_macro_attribute]
pub fn activity(_attr: TokenStream, item: TokenStream) -> TokenStream {
    item
}
