//! Responses: status, a text body, and the headers every answer carries.

/// What the server answers. Every response closes the connection: a
/// scrape or probe is one request, and not keeping connections alive is
/// what lets the server cap them simply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Response {
    pub(super) status: Status,
    pub(super) content_type: &'static str,
    pub(super) body: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Status {
    Ok,
    BadRequest,
    NotFound,
    MethodNotAllowed,
    RequestTimeout,
    HeaderTooLarge,
    Unavailable,
}

impl Status {
    fn line(self) -> &'static str {
        match self {
            Status::Ok => "200 OK",
            Status::BadRequest => "400 Bad Request",
            Status::NotFound => "404 Not Found",
            Status::MethodNotAllowed => "405 Method Not Allowed",
            Status::RequestTimeout => "408 Request Timeout",
            Status::HeaderTooLarge => "431 Request Header Fields Too Large",
            Status::Unavailable => "503 Service Unavailable",
        }
    }
}

const TEXT: &str = "text/plain; charset=utf-8";

impl Response {
    pub(super) fn text(status: Status, body: impl Into<String>) -> Response {
        Response {
            status,
            content_type: TEXT,
            body: body.into(),
        }
    }

    /// The bytes to send. For HEAD the body is left out but its length is
    /// still announced, as GET would have sent it.
    pub(super) fn encode(&self, head_only: bool) -> Vec<u8> {
        let mut head = format!(
            "HTTP/1.1 {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\nCache-Control: no-store\r\n",
            self.status.line(),
            self.content_type,
            self.body.len(),
        );
        if self.status == Status::MethodNotAllowed {
            head.push_str("Allow: GET, HEAD\r\n");
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        if !head_only {
            bytes.extend_from_slice(self.body.as_bytes());
        }
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_response_announces_its_length_and_closes() {
        let r = Response::text(Status::Ok, "ok\n").encode(false);
        assert_eq!(
            String::from_utf8_lossy(&r),
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 3\r\nConnection: close\r\nCache-Control: no-store\r\n\r\nok\n"
        );
    }

    #[test]
    fn head_keeps_the_length_and_drops_the_body() {
        let r = Response::text(Status::Ok, "ok\n").encode(true);
        let text = String::from_utf8_lossy(&r);
        assert!(text.contains("Content-Length: 3\r\n"));
        assert!(text.ends_with("\r\n\r\n"));
    }

    #[test]
    fn method_not_allowed_says_what_is() {
        let r = Response::text(Status::MethodNotAllowed, "").encode(false);
        assert!(String::from_utf8_lossy(&r).contains("\r\nAllow: GET, HEAD\r\n"));
    }
}
