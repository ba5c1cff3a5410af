//! Message templates of the data function (step 6 in `data.rs`).
//!
//! Each message is built from the event's timestamp and a deterministic
//! stream `r1 = splitmix64(e), r2 = splitmix64(r1), …`; every choice below
//! takes the next value of the stream (`pick` = index `r mod len`,
//! `below(n)` = `r mod n`), in the order the code makes them.

use std::fmt::Write as _;

use super::encode::push_json_str;
use super::rng::splitmix64;

/// `status` fields are numbers before this instant (epoch ms) and strings from it on.
pub const TYPE_CHANGE_MS: i64 = 1_772_323_200_000;

/// The text layout of a log's messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageFormat {
    /// A JSON document with nested objects, arrays and optional fields.
    Json,
    /// A firewall-style CSV line; some fields are quoted and hold commas,
    /// doubled quotes or a newline.
    Csv,
    /// `key=value` pairs separated by spaces, some values quoted.
    KeyValue,
    /// Free text with a level, a component and some unicode.
    Plain,
}

const USERS: &[&str] = &[
    "alice",
    "bob",
    "carol",
    "dave",
    "erin",
    "frank",
    "zoë",
    "josé",
    "o'neil",
    "svc-backup",
];
const ACTIONS: &[&str] = &[
    "login",
    "logout",
    "mfa_challenge",
    "password_change",
    "token_refresh",
];
const STATUSES: &[u16] = &[200, 200, 200, 201, 204, 301, 401, 403, 404, 500];
const COUNTRIES: &[(&str, &str)] = &[
    ("US", "Boston"),
    ("DE", "Köln"),
    ("JP", "東京"),
    ("BR", "São Paulo"),
    ("IE", "Dublin"),
];
const WORDS: &[&str] = &[
    "lorem",
    "ipsum",
    "dolor",
    "sit",
    "amet",
    "consectetur",
    "adipiscing",
    "elit",
    "sed",
    "do",
    "eiusmod",
    "tempor",
    "incididunt",
    "labore",
    "magna",
    "aliqua",
    "veniam",
    "nostrud",
    "exercitation",
    "ullamco",
    "laboris",
    "nisi",
    "aliquip",
    "commodo",
    "consequat",
];
const HOSTS: &[&str] = &[
    "example.com",
    "cdn.example.net",
    "api.github.com",
    "updates.vendor.io",
    "intranet.corp.local",
];
const LEVELS: &[&str] = &["INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR"];
const COMPONENTS: &[&str] = &["worker", "scheduler", "http", "db-pool", "cache"];

/// The deterministic choice stream.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = splitmix64(self.0);
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }
    fn chance(&mut self, one_in: u64) -> bool {
        self.below(one_in) == 0
    }
    /// `n` words separated by spaces, `n` = `below(max_words + 1)`.
    fn words(&mut self, max_words: u64) -> String {
        let n = self.below(max_words + 1);
        let mut out = String::new();
        for i in 0..n {
            if i > 0 {
                out.push(' ');
            }
            out.push_str(self.pick(WORDS));
        }
        out
    }
    fn private_ip(&mut self) -> String {
        format!(
            "10.{}.{}.{}",
            self.below(4),
            self.below(256),
            1 + self.below(254)
        )
    }
    fn public_ip(&mut self) -> String {
        format!(
            "{}.{}.{}.{}",
            11 + self.below(180),
            self.below(256),
            self.below(256),
            1 + self.below(254)
        )
    }
}

/// The message of an event at `ts` whose content hash is `e`.
pub(crate) fn message(format: MessageFormat, ts: i64, e: u64) -> String {
    let mut r = Rng(e);
    match format {
        MessageFormat::Json => json(ts, &mut r),
        MessageFormat::Csv => csv(ts, &mut r),
        MessageFormat::KeyValue => key_value(ts, &mut r),
        MessageFormat::Plain => plain(ts, &mut r),
    }
}

fn json(ts: i64, r: &mut Rng) -> String {
    let mut m = String::with_capacity(256);
    m.push_str("{\"time\":");
    push_json_str(&mut m, &rfc3339_ms(ts));
    m.push_str(",\"user\":");
    push_json_str(&mut m, r.pick(USERS));
    let action = r.pick(ACTIONS);
    m.push_str(",\"action\":");
    push_json_str(&mut m, action);
    let status = r.pick(STATUSES);
    if ts < TYPE_CHANGE_MS {
        let _ = write!(m, ",\"status\":{status}");
    } else {
        let _ = write!(m, ",\"status\":\"{status}\"");
    }
    if !r.chance(5) {
        let _ = write!(m, ",\"bytes\":{}", r.below(100_000));
    }
    m.push_str(",\"src\":{\"ip\":");
    push_json_str(&mut m, &r.private_ip());
    if !r.chance(7) {
        let _ = write!(m, ",\"port\":{}", 1024 + r.below(64_000));
    }
    if r.chance(2) {
        let (country, city) = r.pick(COUNTRIES);
        m.push_str(",\"geo\":{\"country\":");
        push_json_str(&mut m, country);
        m.push_str(",\"city\":");
        push_json_str(&mut m, city);
        m.push('}');
    }
    m.push('}');
    if action == "login" {
        let _ = write!(m, ",\"mfa\":{}", r.chance(3));
    }
    let _ = write!(m, ",\"latency_ms\":{}.{}", r.below(900), r.below(10));
    let tags = r.below(4);
    m.push_str(",\"tags\":[");
    for i in 0..tags {
        if i > 0 {
            m.push(',');
        }
        push_json_str(&mut m, r.pick(WORDS));
    }
    m.push(']');
    if !r.chance(3) {
        m.push_str(",\"detail\":");
        push_json_str(&mut m, &r.words(40));
    }
    m.push('}');
    m
}

fn csv(ts: i64, r: &mut Rng) -> String {
    let mut m = String::with_capacity(160);
    let _ = write!(
        m,
        "{},{},{},{},{},{},{},",
        rfc3339_ms(ts),
        r.pick(&["ALLOW", "ALLOW", "DENY", "DROP"]),
        r.pick(&["TCP", "TCP", "UDP", "ICMP"]),
        r.private_ip(),
        1024 + r.below(64_000),
        r.public_ip(),
        r.pick(&[22u16, 53, 80, 443, 443, 3389, 8080]),
    );
    if !r.chance(10) {
        let _ = write!(m, "{}", r.below(2_000_000));
    }
    let _ = write!(m, ",fw-rule-{},", r.below(120));
    match r.below(8) {
        0 => {}
        1 => {
            let _ = write!(m, "\"allowed by policy, ticket INC-{}\"", r.below(100_000));
        }
        2 => {
            let _ = write!(m, "\"multi-line note\nsecond line: {}\"", r.words(20));
        }
        3 => {
            let _ = write!(m, "\"user said \"\"blocked\"\" twice, {}\"", r.words(10));
        }
        _ => m.push_str(&r.words(55)),
    }
    m
}

fn key_value(ts: i64, r: &mut Rng) -> String {
    let mut m = String::with_capacity(200);
    let _ = write!(m, "time={} user={}", rfc3339_ms(ts), r.pick(USERS));
    let _ = write!(
        m,
        " action={} url=https://{}/{}/{}?q={}",
        r.pick(&["GET", "GET", "POST", "CONNECT"]),
        r.pick(HOSTS),
        r.pick(WORDS),
        r.below(1000),
        r.pick(WORDS)
    );
    let status = r.pick(STATUSES);
    if ts < TYPE_CHANGE_MS {
        let _ = write!(m, " status={status}");
    } else {
        let _ = write!(m, " status=\"{status}\"");
    }
    let _ = write!(m, " latency_ms={}.{}", r.below(2000), r.below(10));
    if !r.chance(4) {
        let _ = write!(m, " bytes={}", r.below(5_000_000));
    }
    let _ = write!(m, " ok={}", status < 400);
    if !r.chance(3) {
        let _ = write!(
            m,
            " ua=\"Mozilla/5.0 ({}) Gecko/2010 Firefox/{}\"",
            r.pick(&[
                "X11; Linux x86_64",
                "Windows NT 10.0; Win64; x64",
                "Macintosh"
            ]),
            100 + r.below(40)
        );
    }
    if r.chance(2) {
        let _ = write!(m, " note=\"{}\"", r.words(40));
    }
    m
}

fn plain(ts: i64, r: &mut Rng) -> String {
    let mut m = String::with_capacity(160);
    let _ = write!(
        m,
        "{} {} [{}-{}] ",
        rfc3339_ms(ts),
        r.pick(LEVELS),
        r.pick(COMPONENTS),
        r.below(8)
    );
    match r.below(4) {
        0 => {
            let _ = write!(
                m,
                "request handled path=/api/v1/items/{} in {} ms ✓",
                r.below(10_000),
                r.below(900)
            );
        }
        1 => {
            let _ = write!(
                m,
                "user “{}” saved résumé draft #{}",
                r.pick(USERS),
                r.below(500)
            );
        }
        2 => {
            let _ = write!(
                m,
                "retrying upstream {} (attempt {}/5) — backoff {}s",
                r.pick(HOSTS),
                1 + r.below(5),
                r.below(30)
            );
        }
        _ => {
            let _ = write!(
                m,
                "cache stats: hits={} misses={} evictions={}",
                r.below(100_000),
                r.below(5000),
                r.below(100)
            );
        }
    }
    let tail = r.words(60);
    if !tail.is_empty() {
        m.push_str(" | ");
        m.push_str(&tail);
    }
    m
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` for epoch milliseconds (proleptic Gregorian, UTC).
pub(crate) fn rfc3339_ms(ts: i64) -> String {
    let secs = ts.div_euclid(1000);
    let ms = ts.rem_euclid(1000);
    let (y, mo, d) = crate::time::civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_timestamps() {
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_ms(1_770_681_600_123), "2026-02-10T00:00:00.123Z");
        assert_eq!(rfc3339_ms(TYPE_CHANGE_MS), "2026-03-01T00:00:00.000Z");
        assert_eq!(rfc3339_ms(951_782_400_000 - 1), "2000-02-28T23:59:59.999Z");
        assert_eq!(rfc3339_ms(951_868_800_000), "2000-03-01T00:00:00.000Z");
    }

    #[test]
    fn csv_quotes_are_balanced_and_some_fields_hold_commas_or_newlines() {
        let (mut comma, mut newline) = (false, false);
        for e in 0..2000u64 {
            let m = message(MessageFormat::Csv, 1_770_681_600_000, e);
            assert_eq!(m.matches('"').count() % 2, 0, "{m}");
            comma |= m.contains(", ticket");
            newline |= m.contains('\n');
        }
        assert!(comma && newline);
    }

    #[test]
    fn json_messages_parse_and_some_fields_are_missing() {
        let mut missing_bytes = 0;
        for e in 0..500u64 {
            let m = message(MessageFormat::Json, 1_770_681_600_000, e);
            let v: serde_json::Value =
                serde_json::from_str(&m).unwrap_or_else(|err| panic!("{err}: {m}"));
            assert!(v["src"]["ip"].is_string());
            missing_bytes += usize::from(v.get("bytes").is_none());
        }
        assert!(missing_bytes > 50 && missing_bytes < 200, "{missing_bytes}");
    }
}
