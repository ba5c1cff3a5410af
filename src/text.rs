//! Leaf: how numbers and lists are written in messages, plans and the
//! command line's output.

/// A count with its digits in groups of three: `1000000` → `"1,000,000"`.
///
/// ```
/// use datafusion_rapid7::text::group_digits;
///
/// assert_eq!(group_digits(41_210), "41,210");
/// assert_eq!(group_digits(999), "999");
/// ```
pub fn group_digits(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Items in brackets, the first four and how many more: `[a, b, c, d, … 2
/// more]` (what plan nodes show of the logs and windows they read).
pub(crate) fn short_list(items: &[String]) -> String {
    const SHOWN: usize = 4;
    let mut s = format!(
        "[{}",
        items
            .iter()
            .take(SHOWN)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    );
    if items.len() > SHOWN {
        s.push_str(&format!(", … {} more", items.len() - SHOWN));
    }
    s.push(']');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_are_grouped_by_three() {
        assert_eq!(group_digits(0), "0");
        assert_eq!(group_digits(999), "999");
        assert_eq!(group_digits(1_000), "1,000");
        assert_eq!(group_digits(41_210), "41,210");
        assert_eq!(group_digits(1_000_000), "1,000,000");
        assert_eq!(group_digits(u64::MAX), "18,446,744,073,709,551,615");
    }

    #[test]
    fn long_lists_are_cut_after_four() {
        let items = |n: usize| (0..n).map(|i| i.to_string()).collect::<Vec<_>>();
        assert_eq!(short_list(&[]), "[]");
        assert_eq!(short_list(&items(4)), "[0, 1, 2, 3]");
        assert_eq!(short_list(&items(6)), "[0, 1, 2, 3, … 2 more]");
    }
}
