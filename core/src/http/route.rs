//! Which operation a method and path name.

use crate::error::Error;

/// The operations reachable over HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// POST `/zato/sso/session/attr`.
    AttrCreate,
    /// POST `/zato/sso/user/login`.
    Login,
}

impl Route {
    /// The label logs use for this operation.
    pub fn label(self) -> &'static str {
        match self {
            Self::AttrCreate => "attr.create",
            Self::Login => "user.login",
        }
    }
}

/// Path of the session attribute endpoint.
pub const ATTR_PATH: &str = "/zato/sso/session/attr";
/// Path of the login endpoint.
pub const LOGIN_PATH: &str = "/zato/sso/user/login";

/// Maps a method and path to a route: unknown paths are 404, known paths
/// with another method 405 (with the methods to allow).
pub fn route(method: &str, path: &str) -> Result<Route, Error> {
    let (allow, route) = match path {
        ATTR_PATH => ("POST", (method == "POST").then_some(Route::AttrCreate)),
        LOGIN_PATH => ("POST", (method == "POST").then_some(Route::Login)),
        _ => return Err(Error::UnknownPath),
    };
    route.ok_or(Error::MethodNotAllowed { allow })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_known_paths_and_methods() {
        assert_eq!(route("POST", ATTR_PATH), Ok(Route::AttrCreate));
        assert_eq!(route("POST", LOGIN_PATH), Ok(Route::Login));
    }

    #[test]
    fn other_methods_are_405_and_other_paths_404() {
        assert_eq!(
            route("HEAD", ATTR_PATH),
            Err(Error::MethodNotAllowed { allow: "POST" })
        );
        assert_eq!(
            route("POST", "/zato/sso/session/attr/"),
            Err(Error::UnknownPath)
        );
        assert_eq!(route("GET", "/"), Err(Error::UnknownPath));
    }
}
