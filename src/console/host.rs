//! Which `Host` the console answers to. A page on another site can point
//! its own name at 127.0.0.1 (DNS rebinding) and then read the console as
//! if it were that site's own; its requests still say its name in `Host`.
//! So the console answers only requests addressed to an IP address, to
//! `localhost`, or to a name the operator allowed (`--console-host`).

use std::net::IpAddr;

/// A `--console-host` name as given, checked and lowercased: a bare host
/// name (no scheme, no port, no path).
pub fn name(given: &str) -> Result<String, String> {
    let name = given.trim();
    let valid = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    if valid {
        Ok(name.to_ascii_lowercase())
    } else {
        Err(format!(
            "{given:?} is not a host name (give the bare name, e.g. softdel.internal: no scheme, no port)"
        ))
    }
}

/// Whether a request with this `Host` header is for the console. A request
/// without one (HTTP/1.0, or a bare tool) is not from a browser page.
pub fn allowed(host: Option<&str>, names: &[String]) -> bool {
    let Some(host) = host else {
        return true;
    };
    let name = without_port(host.trim());
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<IpAddr>().is_ok()
        || names
            .iter()
            .any(|allowed| allowed.eq_ignore_ascii_case(name))
}

/// `name` of `name:port`, `::1` of `[::1]:port`.
fn without_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((address, "")) => address,
            Some((address, port))
                if port.len() > 1
                    && port.starts_with(':')
                    && port[1..].bytes().all(|b| b.is_ascii_digit()) =>
            {
                address
            }
            _ => host,
        };
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

/// Whether a request comes from a page of the console itself: a browser
/// says where a request comes from in `Sec-Fetch-Site` and `Origin`, and
/// another site cannot make it lie. A client that sends neither (curl) is
/// let through: it is no browser carrying someone's cookies.
pub fn same_origin(fetch_site: Option<&str>, origin: Option<&str>, host: Option<&str>) -> bool {
    if let Some(site) = fetch_site
        && site != "same-origin"
        && site != "none"
    {
        return false;
    }
    match (origin, host) {
        (None, _) => true,
        (Some(origin), Some(host)) => {
            origin.strip_prefix("http://") == Some(host)
                || origin.strip_prefix("https://") == Some(host)
        }
        (Some(_), None) => false,
    }
}

/// Whether a GET that does work (a preview runs the restoration and rolls
/// it back) may run: from the console's own pages, typed in, or a person
/// following a link to it (a top-level navigation, say from an alert); not
/// an image, a script or a frame another site's page loads behind the
/// operator's back.
pub fn may_work(
    fetch_site: Option<&str>,
    fetch_mode: Option<&str>,
    fetch_dest: Option<&str>,
) -> bool {
    match fetch_site {
        None | Some("same-origin" | "none") => true,
        Some(_) => fetch_mode == Some("navigate") && fetch_dest == Some("document"),
    }
}

#[cfg(test)]
mod tests {
    use super::{allowed, may_work};

    #[test]
    fn another_sites_page_cannot_make_work_behind_the_operators_back() {
        assert!(may_work(None, None, None));
        assert!(may_work(Some("same-origin"), Some("cors"), Some("empty")));
        assert!(may_work(
            Some("cross-site"),
            Some("navigate"),
            Some("document")
        ));
        assert!(!may_work(
            Some("cross-site"),
            Some("no-cors"),
            Some("image")
        ));
        assert!(!may_work(
            Some("same-site"),
            Some("navigate"),
            Some("iframe")
        ));
    }

    #[test]
    fn names_are_bare() {
        assert_eq!(
            super::name(" Softdel.Internal ").unwrap(),
            "softdel.internal"
        );
        for bad in ["", "https://x", "x:443", "x/y"] {
            assert!(super::name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn addresses_localhost_and_allowed_names_only() {
        let names = ["softdel.internal".to_owned()];
        for host in [
            "127.0.0.1:9930",
            "127.0.0.1",
            "[::1]:9930",
            "localhost:9930",
            "LOCALHOST",
            "10.1.2.3:9930",
            "softdel.internal:443",
            "Softdel.Internal",
        ] {
            assert!(allowed(Some(host), &names), "{host}");
        }
        for host in [
            "evil.example:9930",
            "evil.example",
            "localhost.evil.example",
            "",
            "[::1",
        ] {
            assert!(!allowed(Some(host), &names), "{host}");
        }
        assert!(allowed(None, &[]));
    }
}
