//! The REST API: routing, body parsing and response shaping (SPEC 2).

pub mod fields;
pub mod response;
pub mod route;

use alloc::vec::Vec;
use base64::Engine as _;

use crate::error::Error;
use crate::ops::{Ctx, Reply, Stop, attr_create, login};
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
    let fields = Fields::parse(&body)?;
    ctx.log.app = fields.app_for_log();
    match route {
        Route::AttrCreate => attr_create::run(ctx, &fields),
        Route::Login => login::run(ctx, &fields, request),
    }
}
