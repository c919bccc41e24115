//! What differs from run to run, masked on both sides before comparing:
//! times, ports, the demo's directory, transaction ids; and alignment,
//! which follows the width of those values.

/// `text` with its volatile values replaced by placeholders, each line's
/// runs of spaces shortened to two, and trailing spaces dropped.
pub fn mask(lines: &[String]) -> Vec<String> {
    let mut txid_column = false;
    lines
        .iter()
        .map(|line| {
            let mut line = squeeze(line);
            line = times(&line);
            line = after(&line, "127.0.0.1:", |c| c.is_ascii_digit(), "<PORT>");
            line = after(
                &line,
                "/tmp/softdel-pg-",
                |c| c.is_ascii_alphanumeric() || c == '-',
                "<DIR>",
            );
            line = after(&line, "--txid ", |c| c.is_ascii_digit(), "<TXID>");
            line = after(&line, "transaction: ", |c| c.is_ascii_digit(), "<TXID>");
            line = after(&line, "transaction ", |c| c.is_ascii_digit(), "<TXID>");
            line = after(
                &line,
                "transactions ",
                |c| c.is_ascii_digit() || c == ',' || c == ' ',
                "<TXID>",
            );
            // `softdel log`'s table: TXID is the third column.
            if line.starts_with("ID  TIME (UTC)  TXID") {
                txid_column = true;
            } else if line.is_empty() {
                txid_column = false;
            } else if txid_column {
                let mut fields: Vec<&str> = line.splitn(4, "  ").collect();
                if fields.len() == 4 {
                    fields[2] = "<TXID>";
                }
                line = fields.join("  ");
            }
            line
        })
        .collect()
}

/// Leading spaces kept; runs of spaces inside shortened to two.
fn squeeze(line: &str) -> String {
    let line = line.trim_end();
    let body = line.trim_start();
    let mut out = line[..line.len() - body.len()].to_owned();
    let mut spaces = 0;
    for c in body.chars() {
        if c == ' ' {
            spaces += 1;
            continue;
        }
        out.extend(std::iter::repeat_n(' ', spaces.min(2)));
        spaces = 0;
        out.push(c);
    }
    out
}

/// Replaces the run of `wanted` characters after each `prefix`.
fn after(line: &str, prefix: &str, wanted: impl Fn(char) -> bool, placeholder: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(at) = rest.find(prefix) {
        let start = at + prefix.len();
        let len = rest[start..]
            .find(|c: char| !wanted(c))
            .unwrap_or(rest.len() - start);
        // A list's trailing separator belongs to the text after it.
        let value = rest[start..start + len].trim_end_matches([',', ' ']);
        out.push_str(&rest[..start]);
        if value.is_empty() {
            rest = &rest[start..];
            continue;
        }
        out.push_str(placeholder);
        rest = &rest[start + value.len()..];
    }
    out.push_str(rest);
    out
}

/// `2026-12-04 17:02:30.459`, `2026-12-04T17:04:29.329697Z`,
/// `2026-12-04 17:00` become `<TIME>`.
fn times(line: &str) -> String {
    let bytes = line.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < bytes.len() {
        if let Some(len) = time_at(&bytes[i..]) {
            out.push_str("<TIME>");
            i += len;
        } else {
            let c = line[i..].chars().next().unwrap_or(' ');
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

fn time_at(b: &[u8]) -> Option<usize> {
    let shape = b"dddd-dd-dd?dd:dd";
    if b.len() < shape.len() {
        return None;
    }
    for (&s, &c) in shape.iter().zip(b) {
        let fits = match s {
            b'd' => c.is_ascii_digit(),
            b'?' => c == b' ' || c == b'T',
            _ => c == s,
        };
        if !fits {
            return None;
        }
    }
    let mut len = shape.len();
    let more = |len: usize, c: &dyn Fn(u8) -> bool| b.get(len).is_some_and(|&x| c(x));
    while more(len, &|c| c.is_ascii_digit() || c == b':' || c == b'.') {
        len += 1;
    }
    if more(len, &|c| c == b'Z') {
        len += 1;
    }
    Some(len)
}

#[cfg(test)]
mod tests {
    use super::mask;

    fn one(line: &str) -> String {
        mask(&[line.to_owned()]).remove(0)
    }

    #[test]
    fn volatile_values() {
        assert_eq!(
            one("psql postgres://postgres@127.0.0.1:6432/postgres"),
            "psql postgres://postgres@127.0.0.1:<PORT>/postgres"
        );
        assert_eq!(
            one("operations 4, 5, 6 (transaction 726)"),
            "operations 4, 5, 6 (transaction <TXID>)"
        );
        assert_eq!(
            one("operations 4, 5 (transactions 726, 730)"),
            "operations 4, 5 (transactions <TXID>)"
        );
        assert_eq!(one("transaction: 726"), "transaction: <TXID>");
        assert_eq!(
            one("time (UTC):  2026-12-04 17:02:43.806"),
            "time (UTC):  <TIME>"
        );
        let table = mask(&[
            "ID  TIME (UTC)               TXID  USER".to_owned(),
            "3   2026-12-04 17:02:30.459  730   postgres".to_owned(),
        ]);
        assert_eq!(table[1], "3  <TIME>  <TXID>  postgres");
    }
}
