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
    /// POST `/zato/sso/user/logout`.
    Logout,
    /// PATCH `/zato/sso/user/session`.
    SessionRenew,
    /// GET `/zato/sso/user/session`.
    SessionDetails,
    /// POST `/zato/sso/user/session`.
    SessionVerify,
    /// GET `/zato/sso/user`.
    UserOwner,
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
            Self::Logout => "user.logout",
            Self::SessionRenew => "session.renew",
            Self::SessionDetails => "session.get",
            Self::SessionVerify => "session.verify",
            Self::UserOwner => "user.get",
        }
    }

    /// Whether fields may come from the query string (GET and DELETE).
    pub fn reads_query(self) -> bool {
        matches!(
            self,
            Self::AttrDelete
                | Self::AttrGet
                | Self::AttrExists
                | Self::AttrNames
                | Self::SessionDetails
                | Self::UserOwner
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
/// Path of the logout endpoint.
pub const LOGOUT_PATH: &str = "/zato/sso/user/logout";
/// Path of the session endpoint (renew, details, verify).
pub const SESSION_PATH: &str = "/zato/sso/user/session";
/// Path of the user endpoint (the owner of a session).
pub const USER_PATH: &str = "/zato/sso/user";

/// Whether `path` is one of the API's paths (with any method). Any other
/// path is the client's free text — a UST pasted into a URL, say — which a
/// host must not log.
pub fn is_api_path(path: &str) -> bool {
    !matches!(route("GET", path), Err(Error::UnknownPath))
}

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
        LOGOUT_PATH => ("POST", (method == "POST").then_some(Route::Logout)),
        SESSION_PATH => (
            "GET, POST, PATCH",
            match method {
                "GET" => Some(Route::SessionDetails),
                "POST" => Some(Route::SessionVerify),
                "PATCH" => Some(Route::SessionRenew),
                _ => None,
            },
        ),
        USER_PATH => ("GET", (method == "GET").then_some(Route::UserOwner)),
        _ => return Err(Error::UnknownPath),
    };
    route.ok_or(Error::MethodNotAllowed { allow })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_paths_are_exactly_the_routed_ones() {
        for path in [
            ATTR_PATH,
            EXISTS_PATH,
            NAMES_PATH,
            LOGIN_PATH,
            LOGOUT_PATH,
            SESSION_PATH,
            USER_PATH,
        ] {
            assert!(is_api_path(path), "{path}");
        }
        for path in [
            "/",
            "/zato/sso/session/attr/",
            "/zato/sso/user/x",
            "/ZATO/sso/user",
        ] {
            assert!(!is_api_path(path), "{path}");
        }
    }

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
        assert_eq!(route("POST", LOGOUT_PATH), Ok(Route::Logout));
        assert_eq!(route("PATCH", SESSION_PATH), Ok(Route::SessionRenew));
        assert_eq!(route("GET", SESSION_PATH), Ok(Route::SessionDetails));
        assert_eq!(route("POST", SESSION_PATH), Ok(Route::SessionVerify));
        assert_eq!(route("GET", USER_PATH), Ok(Route::UserOwner));
        assert_eq!(
            route("DELETE", SESSION_PATH),
            Err(Error::MethodNotAllowed {
                allow: "GET, POST, PATCH"
            })
        );
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
