//! Which operation a method and path name.

use crate::error::Error;

/// The operations reachable over HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// POST `/zato/sso/session/attr`.
    AttrCreate,
    /// PUT `/zato/sso/session/attr`.
    AttrSet,
    /// PATCH `/zato/sso/session/attr`.
    AttrUpdate,
    /// DELETE `/zato/sso/session/attr`.
    AttrDelete,
    /// GET `/zato/sso/session/attr`.
    AttrGet,
    /// GET `/zato/sso/session/attr/exists`.
    AttrExists,
    /// GET `/zato/sso/session/attr/names`.
    AttrNames,
    /// POST `/zato/sso/user/login`.
    Login,
}

impl Route {
    /// The label logs use for this operation.
    pub fn label(self) -> &'static str {
        match self {
            Self::AttrCreate => "attr.create",
            Self::AttrSet => "attr.set",
            Self::AttrUpdate => "attr.update",
            Self::AttrDelete => "attr.delete",
            Self::AttrGet => "attr.get",
            Self::AttrExists => "attr.exists",
            Self::AttrNames => "attr.names",
            Self::Login => "user.login",
        }
    }

    /// Whether fields may come from the query string (GET and DELETE).
    pub fn reads_query(self) -> bool {
        matches!(
            self,
            Self::AttrDelete | Self::AttrGet | Self::AttrExists | Self::AttrNames
        )
    }
}

/// Path of the session attribute endpoint.
pub const ATTR_PATH: &str = "/zato/sso/session/attr";
/// Path of the exists endpoint.
pub const EXISTS_PATH: &str = "/zato/sso/session/attr/exists";
/// Path of the names endpoint.
pub const NAMES_PATH: &str = "/zato/sso/session/attr/names";
/// Path of the login endpoint.
pub const LOGIN_PATH: &str = "/zato/sso/user/login";

/// Maps a method and path to a route: unknown paths are 404, known paths
/// with another method 405 (with the methods to allow). Paths match
/// exactly and case-sensitively.
pub fn route(method: &str, path: &str) -> Result<Route, Error> {
    let (allow, route) = match path {
        ATTR_PATH => (
            "GET, POST, PUT, PATCH, DELETE",
            match method {
                "GET" => Some(Route::AttrGet),
                "POST" => Some(Route::AttrCreate),
                "PUT" => Some(Route::AttrSet),
                "PATCH" => Some(Route::AttrUpdate),
                "DELETE" => Some(Route::AttrDelete),
                _ => None,
            },
        ),
        EXISTS_PATH => ("GET", (method == "GET").then_some(Route::AttrExists)),
        NAMES_PATH => ("GET", (method == "GET").then_some(Route::AttrNames)),
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
        assert_eq!(route("PUT", ATTR_PATH), Ok(Route::AttrSet));
        assert_eq!(route("PATCH", ATTR_PATH), Ok(Route::AttrUpdate));
        assert_eq!(route("DELETE", ATTR_PATH), Ok(Route::AttrDelete));
        assert_eq!(route("GET", ATTR_PATH), Ok(Route::AttrGet));
        assert_eq!(route("GET", EXISTS_PATH), Ok(Route::AttrExists));
        assert_eq!(route("GET", NAMES_PATH), Ok(Route::AttrNames));
        assert_eq!(route("POST", LOGIN_PATH), Ok(Route::Login));
    }

    #[test]
    fn other_methods_are_405_and_other_paths_404() {
        assert_eq!(
            route("HEAD", ATTR_PATH),
            Err(Error::MethodNotAllowed {
                allow: "GET, POST, PUT, PATCH, DELETE"
            })
        );
        assert_eq!(
            route("POST", EXISTS_PATH),
            Err(Error::MethodNotAllowed { allow: "GET" })
        );
        assert_eq!(
            route("GET", LOGIN_PATH),
            Err(Error::MethodNotAllowed { allow: "POST" })
        );
        assert_eq!(
            route("POST", "/zato/sso/session/attr/"),
            Err(Error::UnknownPath)
        );
        assert_eq!(
            route("GET", "/ZATO/SSO/SESSION/ATTR"),
            Err(Error::UnknownPath)
        );
        assert_eq!(route("GET", "/"), Err(Error::UnknownPath));
    }

    #[test]
    fn only_get_and_delete_read_the_query() {
        assert!(Route::AttrGet.reads_query() && Route::AttrDelete.reads_query());
        assert!(Route::AttrExists.reads_query() && Route::AttrNames.reads_query());
        assert!(!Route::AttrCreate.reads_query() && !Route::AttrSet.reads_query());
        assert!(!Route::AttrUpdate.reads_query() && !Route::Login.reads_query());
    }
}
