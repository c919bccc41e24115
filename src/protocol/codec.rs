//! Reading and writing the fields of the server messages the proxy looks
//! into (RowDescription, DataRow, CommandComplete, ErrorResponse,
//! ParameterStatus, AuthenticationSASL), and writing the client messages
//! it sends instead of the client's (Query, Parse, Bind, Close). Client
//! messages are read in `frontend`, once.
//!
//! Every reader takes a whole frame (tag and length included) and returns
//! `None` for anything malformed, or for a message of another type: the
//! proxy then forwards the original bytes and lets the other side judge
//! them. Nothing here can panic on input.

use super::frontend::ParseFields;
use super::reader::Reader;

/// A frame with `tag` and `body`.
pub fn encode(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 5);
    out.push(tag);
    // Bodies come from frames that fit the protocol's i32 length.
    let len = i32::try_from(body.len() + 4).unwrap_or(i32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// A Query message.
pub fn query(sql: &str) -> Vec<u8> {
    let mut body = Vec::with_capacity(sql.len() + 1);
    body.extend_from_slice(sql.as_bytes());
    body.push(0);
    encode(b'Q', &body)
}

/// A Parse message with the SQL replaced.
pub fn parse_with_sql(fields: &ParseFields<'_>, sql: &str) -> Vec<u8> {
    let mut body = Vec::with_capacity(fields.name.len() + sql.len() + fields.rest.len() + 2);
    body.extend_from_slice(fields.name);
    body.push(0);
    body.extend_from_slice(sql.as_bytes());
    body.push(0);
    body.extend_from_slice(fields.rest);
    encode(b'P', &body)
}

/// A Bind that asks for `extra` more result columns: when it lists a
/// format per column, text formats are added for the columns the proxy
/// will drop. `None` when the Bind needs no change (or is malformed).
pub fn bind_with_extra_columns(frame: &[u8], extra: usize) -> Option<Vec<u8>> {
    let mut r = Reader::body(frame, b"B")?;
    r.cstr()?;
    r.cstr()?;
    let formats = r.count()?;
    r.bytes(formats * 2)?;
    for _ in 0..r.count()? {
        let len = r.i32()?;
        if len > 0 {
            r.bytes(usize::try_from(len).ok()?)?;
        }
    }
    let before_results = frame.len() - r.remaining();
    let results = r.count()?;
    let codes = r.bytes(results * 2)?;
    if results < 2 || !r.rest().is_empty() {
        return None;
    }
    let mut body = frame[5..before_results].to_vec();
    body.extend_from_slice(&i16::try_from(results + extra).ok()?.to_be_bytes());
    body.extend_from_slice(codes);
    for _ in 0..extra {
        body.extend_from_slice(&0i16.to_be_bytes());
    }
    Some(encode(b'B', &body))
}

/// A Close message for prepared statement `name`.
pub fn close_statement(name: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(name.len() + 2);
    body.push(b'S');
    body.extend_from_slice(name);
    body.push(0);
    encode(b'C', &body)
}

/// The name of a RowDescription's last field.
pub fn last_field_name(frame: &[u8]) -> Option<&[u8]> {
    let mut r = Reader::body(frame, b"T")?;
    let mut last = None;
    for _ in 0..r.count()? {
        last = Some(r.cstr()?);
        r.bytes(18)?;
    }
    last
}

/// A RowDescription without its last `n` fields.
pub fn without_last_fields(frame: &[u8], n: usize) -> Option<Vec<u8>> {
    let mut r = Reader::body(frame, b"T")?;
    let count = r.count()?;
    let kept = count.checked_sub(n)?;
    let mut end = 0;
    for _ in 0..kept {
        r.cstr()?;
        r.bytes(18)?;
        end = frame.len() - r.remaining();
    }
    let mut body = i16::try_from(kept).ok()?.to_be_bytes().to_vec();
    body.extend_from_slice(frame.get(7..end.max(7))?);
    Some(encode(b'T', &body))
}

/// The columns of a DataRow (`None` for SQL NULL).
fn columns(frame: &[u8]) -> Option<Vec<Option<&[u8]>>> {
    let mut r = Reader::body(frame, b"D")?;
    let n = r.count()?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let len = r.i32()?;
        out.push(match usize::try_from(len) {
            Ok(len) => Some(r.bytes(len)?),
            Err(_) => None,
        });
    }
    Some(out)
}

/// The first column of a DataRow, if it is not NULL.
pub fn first_column(frame: &[u8]) -> Option<&[u8]> {
    columns(frame)?.first().copied().flatten()
}

/// The last column of a DataRow, if it is not NULL.
pub fn last_column(frame: &[u8]) -> Option<&[u8]> {
    columns(frame)?.last().copied().flatten()
}

/// A DataRow without its last `n` columns.
pub fn without_last_columns(frame: &[u8], n: usize) -> Option<Vec<u8>> {
    let mut cols = columns(frame)?;
    cols.truncate(cols.len().checked_sub(n)?);
    let mut body = i16::try_from(cols.len()).ok()?.to_be_bytes().to_vec();
    for col in cols {
        match col {
            Some(v) => {
                body.extend_from_slice(&i32::try_from(v.len()).ok()?.to_be_bytes());
                body.extend_from_slice(v);
            }
            None => body.extend_from_slice(&(-1i32).to_be_bytes()),
        }
    }
    Some(encode(b'D', &body))
}

/// A CommandComplete's tag (`SELECT 3`).
pub fn command_tag(frame: &[u8]) -> Option<&str> {
    std::str::from_utf8(Reader::body(frame, b"C")?.cstr()?).ok()
}

/// `command_tag`, as bytes, for a tag read at every statement: PostgreSQL's
/// tags are ASCII, which is told a word at a time, where a UTF-8 check
/// costs more than all the rest the proxy does with the message.
pub fn command_tag_bytes(frame: &[u8]) -> Option<&[u8]> {
    let tag = Reader::body(frame, b"C")?.cstr()?;
    (tag.is_ascii() || std::str::from_utf8(tag).is_ok()).then_some(tag)
}

/// A CommandComplete with `tag`.
pub fn command_complete(tag: &str) -> Vec<u8> {
    let mut body = tag.as_bytes().to_vec();
    body.push(0);
    encode(b'C', &body)
}

/// NoData: a Describe's answer for a statement that returns no rows.
pub const NO_DATA: [u8; 5] = [b'n', 0, 0, 0, 4];

/// One field of an ErrorResponse or NoticeResponse (`M` message, `C`
/// SQLSTATE, …).
pub fn error_field(frame: &[u8], code: u8) -> Option<&[u8]> {
    let mut r = Reader::body(frame, b"EN")?;
    loop {
        let field = r.byte()?;
        if field == 0 {
            return None;
        }
        let value = r.cstr()?;
        if field == code {
            return Some(value);
        }
    }
}

/// Whether an ErrorResponse ends the session: severity FATAL or PANIC,
/// after which PostgreSQL sends nothing more. The non-localized severity
/// (`V`, PostgreSQL 9.6 and later) is read when it is there.
pub fn ends_session(frame: &[u8]) -> bool {
    if frame.first() != Some(&b'E') {
        return false;
    }
    let severity = error_field(frame, b'V').or_else(|| error_field(frame, b'S'));
    matches!(severity, Some(b"FATAL" | b"PANIC"))
}

/// A ParameterStatus's name and value.
pub fn parameter_status(frame: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut r = Reader::body(frame, b"S")?;
    Some((r.cstr()?, r.cstr()?))
}

/// An ErrorResponse or NoticeResponse with its hint (`H`) replaced by
/// `hint`; `None` when `frame` is malformed.
pub fn with_hint(frame: &[u8], hint: &str) -> Option<Vec<u8>> {
    let mut r = Reader::body(frame, b"EN")?;
    let mut body = Vec::with_capacity(frame.len() + hint.len());
    loop {
        let field = r.byte()?;
        if field == 0 {
            break;
        }
        let value = r.cstr()?;
        if field != b'H' {
            body.push(field);
            body.extend_from_slice(value);
            body.push(0);
        }
    }
    body.push(b'H');
    body.extend(hint.bytes().filter(|&b| b != 0));
    body.extend_from_slice(&[0, 0]);
    Some(encode(frame[0], &body))
}

/// An ErrorResponse or NoticeResponse without its `code` field; `None`
/// when `frame` is malformed or has no such field.
pub fn without_field(frame: &[u8], code: u8) -> Option<Vec<u8>> {
    let mut r = Reader::body(frame, b"EN")?;
    let mut body = Vec::with_capacity(frame.len());
    let mut found = false;
    loop {
        let field = r.byte()?;
        if field == 0 {
            break;
        }
        let value = r.cstr()?;
        if field == code {
            found = true;
        } else {
            body.push(field);
            body.extend_from_slice(value);
            body.push(0);
        }
    }
    body.push(0);
    found.then(|| encode(frame[0], &body))
}

/// The AuthenticationSASL code (an `R` message's first field).
const AUTH_SASL: i32 = 10;
/// The mechanism that binds SCRAM to the TLS channel.
const SCRAM_PLUS: &[u8] = b"SCRAM-SHA-256-PLUS";

/// An AuthenticationSASL without SCRAM-SHA-256-PLUS, or `None` when `frame`
/// is not one that offers it. Channel binding ties the authentication to
/// the client's TLS connection, which ends at the proxy: the server would
/// check it against its own connection and refuse. Without the mechanism
/// on offer, the client uses plain SCRAM-SHA-256.
pub fn without_scram_plus(frame: &[u8]) -> Option<Vec<u8>> {
    if frame.first() != Some(&b'R') {
        return None;
    }
    let mut r = Reader::body(frame, b"R")?;
    if r.i32()? != AUTH_SASL {
        return None;
    }
    let mut kept = AUTH_SASL.to_be_bytes().to_vec();
    let mut stripped = false;
    loop {
        let name = r.cstr()?;
        if name.is_empty() {
            break;
        }
        if name == SCRAM_PLUS {
            stripped = true;
        } else {
            kept.extend_from_slice(name);
            kept.push(0);
        }
    }
    // Nothing else on offer: leave it to the server to explain.
    if !stripped || kept.len() == 4 || !r.rest().is_empty() {
        return None;
    }
    kept.push(0);
    Some(encode(b'R', &kept))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row_description(names: &[&str]) -> Vec<u8> {
        let mut body = (names.len() as i16).to_be_bytes().to_vec();
        for (i, name) in names.iter().enumerate() {
            body.extend_from_slice(name.as_bytes());
            body.push(0);
            body.extend_from_slice(&[
                0, 0, 0, 1, 0, i as u8, 0, 0, 0, 23, 0, 4, 255, 255, 255, 255, 0, 0,
            ]);
        }
        encode(b'T', &body)
    }

    fn data_row(cols: &[Option<&str>]) -> Vec<u8> {
        let mut body = (cols.len() as i16).to_be_bytes().to_vec();
        for col in cols {
            match col {
                Some(v) => {
                    body.extend_from_slice(&(v.len() as i32).to_be_bytes());
                    body.extend_from_slice(v.as_bytes());
                }
                None => body.extend_from_slice(&(-1i32).to_be_bytes()),
            }
        }
        encode(b'D', &body)
    }

    fn sasl(mechanisms: &[&str]) -> Vec<u8> {
        let mut body = 10i32.to_be_bytes().to_vec();
        for m in mechanisms {
            body.extend_from_slice(m.as_bytes());
            body.push(0);
        }
        body.push(0);
        encode(b'R', &body)
    }

    #[test]
    fn hints_are_replaced() {
        let error = encode(b'E', b"SFATAL\0C08P01\0Mbad\0Hold\0\0");
        let hinted = with_hint(&error, "new").unwrap();
        assert_eq!(hinted, encode(b'E', b"SFATAL\0C08P01\0Mbad\0Hnew\0\0"));
        assert_eq!(error_field(&hinted, b'M'), Some(&b"bad"[..]));
        assert_eq!(with_hint(&encode(b'E', b"SFATAL\0"), "x"), None);
    }

    #[test]
    fn a_field_is_left_out() {
        let error = encode(
            b'E',
            b"SERROR\0CSD001\0Mrefused\0WPL/pgSQL function f()\0Hh\0\0",
        );
        assert_eq!(
            without_field(&error, b'W'),
            Some(encode(b'E', b"SERROR\0CSD001\0Mrefused\0Hh\0\0"))
        );
        assert_eq!(without_field(&error, b'D'), None, "no such field");
        assert_eq!(without_field(&encode(b'E', b"SERROR\0Mx"), b'W'), None);
    }

    #[test]
    fn scram_plus_is_taken_off_the_offer() {
        let offered = sasl(&["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"]);
        assert_eq!(without_scram_plus(&offered), Some(sasl(&["SCRAM-SHA-256"])));
        // Nothing to strip, another auth request, or nothing left: untouched.
        assert_eq!(without_scram_plus(&sasl(&["SCRAM-SHA-256"])), None);
        assert_eq!(without_scram_plus(&sasl(&["SCRAM-SHA-256-PLUS"])), None);
        assert_eq!(without_scram_plus(&encode(b'R', &0i32.to_be_bytes())), None);
        assert_eq!(
            without_scram_plus(&encode(b'R', &[0, 0, 0, 10, b'S'])),
            None
        );
        assert_eq!(without_scram_plus(&encode(b'E', &[])), None);
    }

    #[test]
    fn row_descriptions_lose_their_last_fields() {
        let full = row_description(&["id", "name", "img"]);
        assert_eq!(last_field_name(&full), Some(&b"img"[..]));
        assert_eq!(
            without_last_fields(&full, 2),
            Some(row_description(&["id"]))
        );
        assert_eq!(
            without_last_fields(&row_description(&["img", "op"]), 2),
            Some(row_description(&[]))
        );
        assert_eq!(without_last_fields(&row_description(&["op"]), 2), None);
    }

    #[test]
    fn data_rows_lose_their_last_columns() {
        let full = data_row(&[Some("1"), None, Some("{}")]);
        assert_eq!(without_last_columns(&full, 2), Some(data_row(&[Some("1")])));
        assert_eq!(without_last_columns(&data_row(&[None]), 2), None);
        assert_eq!(last_column(&full), Some(&b"{}"[..]));
        assert_eq!(last_column(&data_row(&[Some("1"), None])), None);
        assert_eq!(first_column(&data_row(&[Some("42")])), Some(&b"42"[..]));
        assert_eq!(first_column(&data_row(&[None])), None);
    }

    #[test]
    fn bind_gets_formats_for_the_extra_columns() {
        // portal "", statement "s", no parameter formats, one parameter
        // "7", two result formats (binary, binary).
        let bind = encode(b'B', b"\0s\0\0\0\0\x01\0\0\0\x017\0\x02\0\x01\0\x01");
        let extended = bind_with_extra_columns(&bind, 2).unwrap();
        assert_eq!(
            extended,
            encode(
                b'B',
                b"\0s\0\0\0\0\x01\0\0\0\x017\0\x04\0\x01\0\x01\0\0\0\0"
            )
        );
        // One format for all columns: nothing to change.
        assert_eq!(
            bind_with_extra_columns(&encode(b'B', b"\0s\0\0\0\0\0\0\x01\0\x01"), 2),
            None
        );
    }

    #[test]
    fn close_statement_is_written() {
        assert_eq!(close_statement(b"s1"), encode(b'C', b"Ss1\0"));
    }

    #[test]
    fn fatal_and_panic_end_the_session() {
        let error = |body: &[u8]| encode(b'E', body);
        assert!(ends_session(&error(b"SFATAL\0VFATAL\0C57P01\0Mbye\0\0")));
        assert!(ends_session(&error(b"SPANIC\0VPANIC\0C XX000\0\0")));
        // The localized severity is read only without the other.
        assert!(ends_session(&error(b"SFATAL\0C57P01\0\0")));
        assert!(ends_session(&error(b"SSCHWER\0VFATAL\0\0")));
        assert!(!ends_session(&error(b"SERROR\0VERROR\0C42P01\0\0")));
        assert!(!ends_session(&encode(b'N', b"SFATAL\0VFATAL\0\0")));
        assert!(!ends_session(&error(b"SFATAL")));
    }

    #[test]
    fn error_fields() {
        let error = encode(b'E', b"SERROR\0C22P02\0Mbad\0\0");
        assert_eq!(error_field(&error, b'C'), Some(&b"22P02"[..]));
        assert_eq!(error_field(&error, b'M'), Some(&b"bad"[..]));
        assert_eq!(error_field(&error, b'H'), None);
    }

    #[test]
    fn malformed_frames_are_none_never_a_panic() {
        for bytes in [
            &b""[..],
            b"T",
            b"T\0\0\0\x06\0\x05",
            b"D\0\0\0\x0a\0\x01\0\0\0\x09",
            b"E\0\0\0\x05X",
            b"B\0\0\0\x06a",
            b"P\0\0\0\x06s\0",
            b"C\0\0\0\x05x",
        ] {
            assert_eq!(last_field_name(bytes), None, "{bytes:?}");
            assert_eq!(without_last_fields(bytes, 2), None, "{bytes:?}");
            assert_eq!(without_last_columns(bytes, 2), None, "{bytes:?}");
            assert_eq!(last_column(bytes), None, "{bytes:?}");
            assert_eq!(first_column(bytes), None, "{bytes:?}");
            assert_eq!(error_field(bytes, b'M'), None, "{bytes:?}");
            assert_eq!(bind_with_extra_columns(bytes, 2), None, "{bytes:?}");
            assert_eq!(command_tag(bytes), None, "{bytes:?}");
            assert_eq!(command_tag_bytes(bytes), None, "{bytes:?}");
        }
    }

    #[test]
    fn readers_read_only_their_own_message_type() {
        let complete = command_complete("DELETE 1");
        let query = query("SELECT 1");
        assert_eq!(command_tag(&complete), Some("DELETE 1"));
        assert_eq!(command_tag_bytes(&complete), Some(&b"DELETE 1"[..]));
        let accented = command_complete("SÉLECT 1");
        assert_eq!(command_tag_bytes(&accented), Some("SÉLECT 1".as_bytes()));
        let not_utf8 = encode(b'C', b"ROLLBACK\xff\0");
        assert_eq!(
            (command_tag(&not_utf8), command_tag_bytes(&not_utf8)),
            (None, None)
        );
        assert_eq!(command_tag_bytes(&query), None);
        // Well-formed messages of another type.
        assert_eq!(command_tag(&query), None);
        assert_eq!(bind_with_extra_columns(&query, 2), None);
        assert_eq!(last_field_name(&complete), None);
        assert_eq!(first_column(&complete), None);
        assert_eq!(parameter_status(&complete), None);
        assert_eq!(error_field(&query, b'M'), None);
        assert_eq!(with_hint(&complete, "hint"), None);
        assert_eq!(without_scram_plus(&complete), None);
    }
}
