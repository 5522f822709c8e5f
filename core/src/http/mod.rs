//! The REST API: routing, body and query parsing, response shaping (SPEC 2).

pub mod fields;
pub mod query;
pub mod response;
pub mod route;
pub mod strict;

use alloc::vec::Vec;
use base64::Engine as _;

use crate::error::Error;
use crate::ops::attr::{self, Write};
use crate::ops::{Ctx, Reply, Stop, login, session};
use crate::protocol::HttpRequest;
use fields::Fields;
use route::Route;

/// Decides one HTTP request.
pub fn handle(ctx: &mut Ctx<'_>, request: &HttpRequest) -> Result<Reply, Stop> {
    let route = route::route(&request.method, &request.path)?;
    ctx.log.op = alloc::string::String::from(route.label());
    if request.body_too_large {
        return Err(Error::BodyTooLarge.into());
    }
    let body: Vec<u8> = base64::engine::general_purpose::STANDARD
        .decode(&request.body)
        .map_err(|_| Error::NotJson)?;
    let mut fields = Fields::parse(&body)?;
    if route.reads_query() {
        fields.merge_query(query::parse(&request.query)?)?;
    }
    ctx.log.app = fields.app_for_log(ctx.config);
    match route {
        Route::AttrCreate => attr::write::run(ctx, &fields, Write::Create),
        Route::AttrSet => attr::write::run(ctx, &fields, Write::Set),
        Route::AttrUpdate => attr::write::run(ctx, &fields, Write::Update),
        Route::AttrDelete => attr::delete::run(ctx, &fields),
        Route::AttrGet => attr::read::get(ctx, &fields),
        Route::AttrExists => attr::read::exists(ctx, &fields),
        Route::AttrNames => attr::read::names(ctx, &fields),
        Route::Login => login::run(ctx, &fields, request),
        Route::Logout => session::logout(ctx, &fields),
        Route::SessionRenew => session::renew(ctx, &fields),
        Route::SessionDetails => session::details(ctx, &fields),
        Route::SessionVerify => session::verify(ctx, &fields),
        Route::UserOwner => session::owner(ctx, &fields),
    }
}
